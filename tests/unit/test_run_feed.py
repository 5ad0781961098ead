"""What the window is shown of a run: at most ten times a second, no file's change lost, the
log never ahead of the table. The feed runs on a plain asyncio loop (no Qt needed)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from batchgui.core.models import FileStatus, RunSnapshot, Stage, TaskView, merged
from batchgui.ui.run_feed import SHOW_EVERY_S, RunFeed


def view(i: int, status: FileStatus) -> TaskView:
    return TaskView(task_id=f"t{i:03d}", input_path=Path(f"/v/clip{i:03d}.mp4"), status=status)


def snap(views: list[TaskView], done: int, complete: bool = False) -> RunSnapshot:
    return RunSnapshot(run_id="run-1", stage=Stage.MONITORING, message="", tasks=tuple(views),
                       nodes=(), files_total=100, files_done=done, files_failed=0,
                       fraction=done / 100, elapsed_s=1.0, eta_s=None, complete=complete)


def test_merged_keeps_every_files_latest_word_and_the_newest_totals() -> None:
    first = snap([view(i, FileStatus.QUEUED) for i in range(3)], 0, complete=True)
    then = snap([view(1, FileStatus.CONVERTING)], 0)
    last = snap([view(1, FileStatus.DONE), view(2, FileStatus.FAILED)], 1)
    both = merged(merged(first, then), last)
    assert [(t.task_id, t.status) for t in both.tasks] == [
        ("t000", FileStatus.QUEUED), ("t001", FileStatus.DONE), ("t002", FileStatus.FAILED)]
    assert both.complete and both.files_done == 1
    other_run = replace(last, run_id="run-2")
    assert merged(first, other_run) is other_run


def test_a_burst_is_shown_once_with_every_change_and_the_lines_after_it() -> None:
    shown: list[object] = []
    snapshot_times: list[float] = []  # the loop's clock at each showing of a snapshot
    showings: list[asyncio.Event] = []  # set at each showing of a snapshot

    def show_snapshot(snapshot: RunSnapshot) -> None:
        snapshot_times.append(asyncio.get_running_loop().time())
        shown.append(snapshot)
        if len(snapshot_times) <= len(showings):  # more than three fails the count below
            showings[len(snapshot_times) - 1].set()

    async def go() -> None:
        showings.extend(asyncio.Event() for _ in range(3))
        feed = RunFeed(show_snapshot, shown.append, lambda: snap([], 100))
        feed.snapshot(snap([view(i, FileStatus.QUEUED) for i in range(100)], 0, complete=True))
        await showings[0].wait()  # the first showing comes at once
        for i in range(100):  # a few hundred events in one moment
            feed.snapshot(snap([view(i, FileStatus.DONE)], i + 1))
            feed.line(f"clip{i:03d}.mp4 done")
        await showings[1].wait()
        feed.line("the end")
        feed.flush()

    asyncio.run(go())
    snapshots = [s for s in shown if isinstance(s, RunSnapshot)]
    lines = [s for s in shown if isinstance(s, str)]
    assert len(snapshots) == 3  # the first, the burst, the one taken for "the end"
    # however loaded the machine, the burst waited its tenth of a second (a load only
    # makes the gap longer; without the pacing it would be ~0)
    assert snapshot_times[1] - snapshot_times[0] >= SHOW_EVERY_S - 0.001
    burst = snapshots[1]
    assert {t.task_id for t in burst.tasks} == {f"t{i:03d}" for i in range(100)}
    assert all(t.status is FileStatus.DONE for t in burst.tasks)
    assert shown.index(burst) < shown.index("clip000.mp4 done")  # the table, then the log
    assert lines == [f"clip{i:03d}.mp4 done" for i in range(100)] + ["the end"]
    assert shown[-1] == "the end" and shown[-2] is snapshots[2]
