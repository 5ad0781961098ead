"""The run's own, mutable view of each input, and the snapshots made from them.

A `Board` keeps the run's totals as files change (counts by status, media seconds
done, which files are at work, which changed since the last snapshot), so a change
costs the same whether the run has ten files or ten thousand: a snapshot carries
only the files that changed since the previous one (the first carries them all).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchgui.core.models import (
    FileStatus,
    InputFile,
    NodeView,
    RunSnapshot,
    Stage,
    TaskStatus,
    TaskView,
)
from batchgui.core.target import WorkItem
from batchgui.i18n import Reason, tr

#: statuses whose whole media counts as converted for the overall progress
_MEDIA_DONE = frozenset((FileStatus.DONE, FileStatus.FAILED, FileStatus.SKIPPED,
                         FileStatus.CANCELLED, FileStatus.DOWNLOADING))
#: statuses of a file at work (shown on the status line, partly converted)
_ACTIVE = frozenset((FileStatus.UPLOADING, FileStatus.CONVERTING, FileStatus.DOWNLOADING))


class Board:
    """Running totals of a run's files, updated by RunFile.set and RunFile.touch."""

    def __init__(self) -> None:
        self.counts: Counter[FileStatus] = Counter()
        self.dirty: dict[str, RunFile] = {}
        self.active: dict[str, RunFile] = {}
        self.total_media = 0.0  # seconds of media of the files this run converts
        self.done_media = 0.0  # of those, seconds in a finished (or downloading) file
        self.bytes_done = 0  # uploaded so far, and to upload in all
        self.bytes_total = 0

    def add(self, f: RunFile) -> None:
        self.counts[f.status] += 1
        self.dirty[f.task_id] = f

    def moved(self, f: RunFile, old: FileStatus) -> None:
        new = f.status
        if old is not new:
            self.counts[old] -= 1
            self.counts[new] += 1
            if f.item is not None:
                duration = f.input.duration_s or 0.0
                self.done_media += duration * ((new in _MEDIA_DONE) - (old in _MEDIA_DONE))
        if new in _ACTIVE:
            self.active[f.task_id] = f
        else:
            self.active.pop(f.task_id, None)
        self.dirty[f.task_id] = f

    def planned(self, f: RunFile) -> None:
        """`f` got its work item: its media counts in the run's total from now on."""
        duration = f.input.duration_s or 0.0
        self.total_media += duration
        if f.status in _MEDIA_DONE:
            self.done_media += duration

    @property
    def unfinished(self) -> int:
        return sum(n for status, n in self.counts.items() if not status.is_final)

    def take_dirty(self) -> list[RunFile]:
        changed = list(self.dirty.values())
        self.dirty.clear()
        return changed


@dataclass
class RunFile:
    """One input during a run: its state, its task, where its MP3 goes."""

    input: InputFile
    task_id: str
    status: FileStatus
    board: Board = field(repr=False)
    reason: Reason | None = None
    item: WorkItem | None = None
    output: Path | None = None
    task: TaskStatus | None = None
    transfer: tuple[int, int] = (0, 0)
    output_duration: float | None = None
    finishing: bool = False
    journaled_final: bool = False  # the journal already has this file's end
    remote: dict[str, Any] = field(default_factory=dict)  # the target's facts (blob, md5 ...)
    view: TaskView | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.board.add(self)

    def set(self, status: FileStatus, reason: Reason | None = None) -> None:
        old = self.status
        self.status = status
        self.reason = reason
        self.view = None
        self.board.moved(self, old)

    def touch(self) -> None:
        """Something shown about the file changed (its task's progress, a transfer)."""
        self.view = None
        self.board.dirty[self.task_id] = self

    def plan(self, item: WorkItem) -> None:
        self.item = item
        self.board.planned(self)

    def media_done(self) -> float:
        """Seconds of this file's media that are converted, for the overall progress."""
        duration = self.input.duration_s or 0.0
        if self.status in _MEDIA_DONE:
            return duration
        if self.status is FileStatus.CONVERTING and self.task and self.task.progress:
            return duration * min(1.0, self.task.progress)
        return 0.0

    def to_view(self) -> TaskView:
        if self.view is None:
            t = self.task
            run_time = None
            if t and t.started_at:
                run_time = (t.ended_at or time.time()) - t.started_at
            progress = 0.0
            if self.status is FileStatus.DONE:
                progress = 1.0
            elif self.status is FileStatus.UPLOADING and self.transfer[1]:
                progress = self.transfer[0] / self.transfer[1]
            elif t and t.progress is not None:
                progress = t.progress
            self.view = TaskView(
                task_id=self.task_id,
                input_path=self.input.path,
                status=self.status,
                state=t.state if t else None,
                node_id=t.node_id if t else None,
                progress=progress,
                run_time_s=run_time,
                exit_code=t.exit_code if t else None,
                result=t.result if t else None,
                reason=self.reason,
                stderr_tail=t.stderr_tail if t else "",
                output_path=self.output,
            )
        return self.view


def snapshot_of(
    run_id: str,
    stage: Stage,
    message: str,
    board: Board,
    changed: list[RunFile],
    nodes: tuple[NodeView, ...],
    *,
    files_total: int,
    complete: bool,
    started: float,
    convert_started: float | None,
    paused: bool = False,
) -> RunSnapshot:
    """The visible state of a run now: totals, the files at work, the files that changed."""
    active = list(board.active.values())
    partial = sum(f.media_done() for f in active if f.status is FileStatus.CONVERTING
                  and f.item is not None)
    done_media = board.done_media + partial
    total_media = board.total_media
    elapsed = time.monotonic() - started
    fraction = done_media / total_media if total_media else 0.0
    eta: float | None = None
    rate = ""
    if stage is Stage.UPLOADING:
        done_b = board.bytes_done
        if done_b and elapsed > 0:
            speed = done_b / elapsed
            rate = tr("{mb_per_s:.1f} MB/s", mb_per_s=speed / 1e6)
            eta = (board.bytes_total - done_b) / speed if speed else None
    elif convert_started is not None and done_media > 0:
        spent = time.monotonic() - convert_started
        if spent > 0.5:
            speed = done_media / spent
            rate = tr("{speed:.1f}× realtime", speed=speed)
            eta = (total_media - done_media) / speed
    counts = board.counts
    return RunSnapshot(
        run_id=run_id,
        stage=stage,
        message=message,
        tasks=tuple(f.to_view() for f in changed),
        complete=complete,
        running=tuple(f.to_view() for f in active if f.status is FileStatus.CONVERTING),
        nodes=nodes,
        files_total=files_total,
        files_done=counts[FileStatus.DONE],
        files_failed=counts[FileStatus.FAILED] + counts[FileStatus.REJECTED],
        files_converting=counts[FileStatus.CONVERTING],
        fraction=min(1.0, fraction),
        elapsed_s=elapsed,
        eta_s=None if paused else eta,
        rate=rate,
        paused=paused,
    )
