"""Cancel on Azure at each stage (upload, conversion, download), and the run's threads.

A cancel must leave no part file, no blob, no job and no pool, however far the run got;
and however big the pool, the process keeps to a bounded number of threads.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from batchgui.cli import MAX_RUN_THREADS
from batchgui.core import media as core_media
from batchgui.core.journal import Journal
from batchgui.core.models import FileStatus, RunResult, RunSnapshot, RunSpec, Stage
from batchgui.core.run import Run
from batchgui.core.target import CancelToken
from batchgui.targets.azure.target import AzureBatchTarget
from tests.azure_world import Azurite, BatchEmulator
from tests.integration.test_azure_target import account_for, run_blobs, small_pool
from tests.media import MediaCache

#: the most threads the app may have, whatever the pool size (issue: at most 32)
THREAD_LIMIT = 32


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _run(paths: list[Path], output: Path, target: AzureBatchTarget, cancel: CancelToken,
         when: object, journal_dir: Path) -> tuple[RunResult, int]:
    """The run as the CLI drives it, cancelled when `when(snapshot)` says so; also returns
    the most threads the process had while it ran."""
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.01):
            peak[0] = max(peak[0], _threads())

    def watch(snapshot: RunSnapshot) -> None:
        if when(snapshot):  # type: ignore[operator]
            cancel.cancel()

    async def go() -> RunResult:
        loop = asyncio.get_running_loop()
        threads = min(MAX_RUN_THREADS, target.threads_needed)
        with ThreadPoolExecutor(max_workers=threads) as executor:
            found = await loop.run_in_executor(executor, core_media.find_inputs, paths)
            inputs = [core_media.probe(p, root) for p, root in found]
            spec = RunSpec(inputs=tuple(inputs), output_dir=output, target_name="azure")
            run = Run(spec, target, executor, cancel=cancel, on_snapshot=watch,
                      snapshot_interval=0.0, journal=Journal(journal_dir / "j.sqlite3"))
            return await run.execute()

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        return asyncio.run(go()), peak[0]
    finally:
        stop.set()
        sampler.join()


def _nothing_left(azurite: Azurite, emu: BatchEmulator, out: Path) -> None:
    assert run_blobs(azurite) == []
    state = emu.state()
    assert all(j["state"] == "deleting" for j in state["jobs"].values()), state
    assert all(p["state"] == "deleting" for p in state["pools"].values()), state
    assert not out.exists() or not [p for p in out.iterdir() if p.name.endswith(".part")]


def _uploading(s: RunSnapshot) -> bool:
    return any(t.status is FileStatus.UPLOADING and 0 < t.progress < 1 for t in s.tasks)


def _converting(s: RunSnapshot) -> bool:
    return s.files_converting > 0


def _downloading(s: RunSnapshot) -> bool:
    return any(t.status is FileStatus.DOWNLOADING for t in s.tasks)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("stage,when", [
    ("upload", _uploading), ("conversion", _converting), ("download", _downloading),
])
def test_cancel_at_each_stage_leaves_nothing(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path,
    stage: str, when: object,
) -> None:
    src = tmp_path / "in"
    for i in range(3):
        media.good(src / f"clip{i}.mp4", seconds=20.0)
    if stage == "upload":  # a large file, so the cancel finds it half-way up
        (src / "big.mp4").write_bytes(media.good(tmp_path / "b.mp4", 20.0).read_bytes()
                                      + os.urandom(40 * 1024 * 1024))
    target = AzureBatchTarget(account_for(azurite, batch_emulator),
                              small_pool(slots_per_node=3), poll_bounds=(0.05, 0.2))
    cancel = CancelToken()
    out = tmp_path / "out"
    result, _ = _run([src], out, target, cancel, when, tmp_path)
    assert cancel.cancelled, f"the run never reached its {stage}"
    assert result.cancelled
    for o in result.outcomes:  # converted before the cancel, or cancelled: nothing between
        assert o.status in (FileStatus.DONE, FileStatus.CANCELLED, FileStatus.REJECTED), o
    _nothing_left(azurite, batch_emulator, out)


@pytest.mark.timeout(180)
def test_a_big_pool_does_not_mean_many_threads(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    src = tmp_path / "in"
    for i in range(6):
        media.good(src / f"clip{i}.mp4", seconds=2.0)
    # 50 nodes of 8 slots (400 files at once) that never finish starting
    target = AzureBatchTarget(account_for(azurite, batch_emulator),
                              small_pool(dedicated_nodes=50, slots_per_node=8,
                                         start_task="sleep 60"), poll_bounds=(0.05, 0.2))
    assert target.parallelism == 400
    started = time.monotonic()

    def late(s: RunSnapshot) -> bool:  # let it poll a while at full tilt, then stop
        return s.stage is Stage.MONITORING and time.monotonic() - started > 3

    result, peak = _run([src], tmp_path / "out", target, CancelToken(), late, tmp_path)
    assert result.cancelled
    print(f"peak threads with a 400-slot pool: {peak}")
    assert 0 < peak <= THREAD_LIMIT, peak
