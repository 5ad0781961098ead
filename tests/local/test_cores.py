"""Each slot keeps its ffmpeg on cores of its own (Linux), so a file's ffmpeg threads don't
spread over the cores the other slots convert on (batchgui/targets/children.py)."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from batchgui.core import media as core_media
from batchgui.core.models import RunSnapshot, RunSpec
from batchgui.core.run import Run
from batchgui.core.target import CancelToken
from batchgui.targets.children import popen_child, slot_cores
from batchgui.targets.local import LocalTarget
from tests.processes import ffmpeg_pids

ALLOWED = frozenset(os.sched_getaffinity(0))


def test_slots_share_out_the_cores_without_overlap() -> None:
    for slots in (1, 2, 3, len(ALLOWED), len(ALLOWED) + 1, 2 * len(ALLOWED)):
        sets = [slot_cores(i, slots) or ALLOWED for i in range(slots)]
        assert frozenset().union(*sets) == ALLOWED, slots  # no core left out
        if slots >= len(ALLOWED) >= 2:
            assert all(len(s) == 1 for s in sets), slots
        elif len(ALLOWED) >= 2:
            assert sum(len(s) for s in sets) == len(ALLOWED), slots  # none shared


def test_a_child_starts_on_its_cores_and_the_caller_stays_where_it_was() -> None:
    core = frozenset({max(ALLOWED)})
    child = popen_child(["sleep", "30"], cores=core)
    try:
        assert os.sched_getaffinity(child.pid) == core
        assert os.sched_getaffinity(0) == ALLOWED
    finally:
        child.kill()
        child.wait()


@pytest.mark.timeout(300)
def test_two_slots_convert_on_cores_of_their_own(media, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    for name in ("a.mp4", "b.mp4", "c.mp4", "d.mp4"):  # each new snapshot: another look
        media.good(src / name, 300.0)
    seen: set[frozenset[int]] = set()

    async def go() -> None:
        both_running = asyncio.Event()
        cancel = CancelToken()

        def on_snapshot(snapshot: RunSnapshot) -> None:
            # Look in /proc at every snapshot until both slots' ffmpegs are there at once.
            # A snapshot alone can't say so: a one-second conversion it calls running may
            # have ended by the time the callback reads /proc (seen on a loaded machine).
            if both_running.is_set():
                return
            pids = ffmpeg_pids(out)
            try:
                cores = {frozenset(os.sched_getaffinity(pid)) for pid in pids}
            except OSError:  # one has ended in between: the next snapshot looks again
                return
            if len(pids) == 2:
                seen.update(cores)
                both_running.set()

        with ThreadPoolExecutor(8) as executor:
            found = core_media.find_inputs([src])
            spec = RunSpec(inputs=tuple(core_media.probe(p, root) for p, root in found),
                           output_dir=out, target_name="local")
            run = Run(spec, LocalTarget(slots=2), executor, cancel=cancel,
                      on_snapshot=on_snapshot, snapshot_interval=0.0)
            execution = asyncio.ensure_future(run.execute())
            await asyncio.wait([execution, asyncio.ensure_future(both_running.wait())],
                               return_when=asyncio.FIRST_COMPLETED)
            cancel.cancel()
            await execution

    asyncio.run(go())
    assert seen == {slot_cores(i, 2) or ALLOWED for i in range(2)}, seen
