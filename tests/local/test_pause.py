"""Pause on this computer: files being converted finish, no new one starts until Continue;
the pause is journaled, so a run killed while paused comes back paused."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from batchgui.core import media as core_media
from batchgui.core.journal import Journal
from batchgui.core.models import FileStatus, RunSnapshot, RunSpec, Stage
from batchgui.core.resume import latest_resumable, resume_spec
from batchgui.core.run import Run
from batchgui.targets.local import LocalTarget
from tests.media import MediaCache


def _spec(src: Path, out: Path) -> RunSpec:
    found = core_media.find_inputs([src])
    return RunSpec(inputs=tuple(core_media.probe(p, r) for p, r in found), output_dir=out)


def test_paused_run_starts_nothing_new_until_continue(media: MediaCache, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(3):
        media.good(src / f"clip{i}.mp4", 8.0 - i)  # clip0 goes first (longest first)
    seen: list[RunSnapshot] = []
    after_pause: list[RunSnapshot] = []

    async def go() -> list[FileStatus]:
        with ThreadPoolExecutor(4) as executor:
            run = Run(_spec(src, out), LocalTarget(slots=1), executor,
                      journal=Journal(tmp_path / "j.sqlite3"), snapshot_interval=0.0)
            state = {"paused": False, "continued": False}

            def watch(snapshot: RunSnapshot) -> None:
                seen.append(snapshot)
                if not state["paused"] and snapshot.files_converting:
                    state["paused"] = True
                    asyncio.ensure_future(run.set_paused(True))
                elif state["paused"] and not state["continued"] and snapshot.files_done:
                    after_pause.append(snapshot)
                    if len(after_pause) >= 5:  # several looks while paused: still nothing
                        state["continued"] = True
                        asyncio.ensure_future(run.set_paused(False))

            run._on_snapshot = watch
            result = await run.execute()
            return [o.status for o in result.outcomes]

    statuses = asyncio.run(go())
    assert statuses == [FileStatus.DONE] * 3
    assert len(after_pause) >= 5
    for snapshot in after_pause:  # the first finished while paused; no other had started
        assert snapshot.paused and snapshot.files_done == 1 and snapshot.files_converting == 0
        assert snapshot.eta_s is None  # no time left is promised while nothing moves


KILLED_WHILE_PAUSED = """
import asyncio, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from batchgui.core import media
from batchgui.core.journal import Journal
from batchgui.core.models import RunSpec
from batchgui.core.run import Run
from batchgui.targets.local import LocalTarget

src, out, journal = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
inputs = tuple(media.probe(p, r) for p, r in media.find_inputs([src]))

async def go():
    with ThreadPoolExecutor(4) as executor:
        run = Run(RunSpec(inputs=inputs, output_dir=out), LocalTarget(slots=1), executor,
                  journal=Journal(journal), snapshot_interval=0.0)
        def watch(snapshot):
            if snapshot.files_converting and not run.paused:
                asyncio.ensure_future(run.set_paused(True))  # kill point "paused" fires
        run._on_snapshot = watch
        await run.execute()

asyncio.run(go())
"""


def test_a_run_killed_while_paused_comes_back_paused(media: MediaCache, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(2):
        media.good(src / f"clip{i}.mp4", 3.0)
    journal_path = tmp_path / "j.sqlite3"
    proc = subprocess.run([sys.executable, "-c", KILLED_WHILE_PAUSED, str(src), str(out),
                           str(journal_path)], env=dict(os.environ, BATCHGUI_KILL_AT="paused"),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    journal = Journal(journal_path)
    found = latest_resumable(journal)
    assert found is not None and found.paused

    stages: list[RunSnapshot] = []

    async def go() -> list[FileStatus]:
        with ThreadPoolExecutor(4) as executor:
            run = Run(resume_spec(journal, found.run_id, core_media.probe), LocalTarget(slots=1),
                      executor, journal=journal, run_id=found.run_id, resuming=True,
                      snapshot_interval=0.0)

            def watch(snapshot: RunSnapshot) -> None:
                stages.append(snapshot)
                if snapshot.stage is Stage.MONITORING and len(stages) > 6 and run.paused:
                    asyncio.ensure_future(run.set_paused(False))

            run._on_snapshot = watch
            result = await run.execute()
            return [o.status for o in result.outcomes]

    assert asyncio.run(go()) == [FileStatus.DONE] * 2
    monitoring = [s for s in stages if s.stage is Stage.MONITORING]
    assert monitoring and monitoring[0].paused and monitoring[0].files_converting == 0
    assert sorted(p.name for p in out.iterdir()) == ["clip0.mp3", "clip1.mp3"]
