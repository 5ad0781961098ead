"""Pause on Azure: the job is disabled (running tasks finish, no new one starts) and
enabled again on Continue; the window is told the paused pool still costs money."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from batchgui.core import media as core_media
from batchgui.core.journal import Journal
from batchgui.core.models import FileStatus, RunSnapshot, RunSpec, Stage
from batchgui.core.run import Run
from batchgui.targets.azure.target import AzureBatchTarget
from tests.azure_world import Azurite, BatchEmulator
from tests.integration.test_azure_target import account_for, run_blobs, small_pool
from tests.media import MediaCache


@pytest.mark.timeout(180)
def test_pause_disables_the_job_and_continue_enables_it(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    src = tmp_path / "in"
    for i in range(4):
        media.good(src / f"clip{i}.mp4", seconds=3.0)
    target = AzureBatchTarget(account_for(azurite, batch_emulator),
                              small_pool(slots_per_node=1), poll_bounds=(0.05, 0.2))
    logs: list[str] = []
    seen_disabled: list[dict[str, Any]] = []

    async def go() -> list[FileStatus]:
        with ThreadPoolExecutor(12) as executor:
            inputs = [core_media.probe(p, r) for p, r in core_media.find_inputs([src])]
            run = Run(RunSpec(inputs=tuple(inputs), output_dir=tmp_path / "out"), target,
                      executor, journal=Journal(tmp_path / "j.sqlite3"), on_log=logs.append,
                      snapshot_interval=0.0)
            state = {"paused": False, "continued": False}

            def watch(snapshot: RunSnapshot) -> None:
                if snapshot.stage is not Stage.MONITORING:
                    return
                if not state["paused"]:
                    state["paused"] = True
                    asyncio.ensure_future(run.set_paused(True))
                elif not state["continued"]:
                    job = batch_emulator.state()["jobs"].get(run.run_id, {})
                    if job.get("state") == "disabled":  # the service took the pause
                        seen_disabled.append(job)
                        state["continued"] = True
                        asyncio.ensure_future(run.set_paused(False))

            run._on_snapshot = watch
            result = await run.execute()
            return [o.status for o in result.outcomes]

    assert asyncio.run(go()) == [FileStatus.DONE] * 4
    assert seen_disabled, "the job was never seen disabled"
    requests = batch_emulator.requests()
    disables = [r for r in requests if r["method"] == "POST" and r["path"].endswith("/disable")]
    enables = [r for r in requests if r["method"] == "POST" and r["path"].endswith("/enable")]
    assert len(disables) == 1 and len(enables) == 1
    assert requests.index(disables[0]) < requests.index(enables[0])
    assert any("still cost money" in line for line in logs)
    assert run_blobs(azurite) == []
