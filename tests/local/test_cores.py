"""Each slot keeps its ffmpeg on cores of its own (Linux), so a file's ffmpeg threads don't
spread over the cores the other slots convert on (batchgui/targets/children.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batchgui.targets.children import popen_child, slot_cores
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
    for name in ("a.mp4", "b.mp4"):
        media.good(src / name, 300.0)
    proc = subprocess.Popen([sys.executable, "-m", "batchgui", "convert", str(src), "-o",
                             str(out), "--parallel", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        seen: set[frozenset[int]] = set()
        while len(seen) < 2:  # both slots' ffmpegs seen at work (bounded by the timeout)
            assert proc.poll() is None, "the run ended before both slots were seen"
            for pid in ffmpeg_pids(out):
                try:
                    seen.add(frozenset(os.sched_getaffinity(pid)))
                except OSError:  # just ended
                    pass
            time.sleep(0.01)
        assert seen == {slot_cores(i, 2) or ALLOWED for i in range(2)}
    finally:
        proc.terminate()
        proc.wait()
