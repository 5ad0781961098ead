"""Honest numbers: the estimate of a 40-file run against what the run really took.

The Batch emulator's node speed is fixed (20 media seconds per second per slot), so a
file takes its media / 20 s on a node whatever this machine does meanwhile; real ffmpeg
still converts every file on the node, and the MP3s come back through Azurite. One
earlier run on the same account (20 mixed files) is all the estimator has learned from:
its pool start, upload and download rates, the per-file overhead and speed from the
files' own times, the allocation of its nodes and the run's wrap-up. Then a 40-file run
of other mixed lengths is estimated before it starts and measured after it ends (as the
command line does both: tests/estimate_world.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from batchgui import planning
from batchgui.core.journal import Journal
from batchgui.targets.azure.config import AzureAccount, PoolSettings
from batchgui.targets.azure.target import AzureBatchTarget
from tests.azure_world import Azurite, BatchEmulator
from tests.estimate_world import HEADER, make_clips, mixed_files, run_and_compare

NODE_SPEED = 20.0  # media seconds per second per slot


@pytest.mark.batch_emulator_knobs(node_speed=NODE_SPEED)
def test_a_40_file_run_is_estimated_within_20_percent_and_its_node_minutes_within_10(
    azurite: Azurite, batch_emulator: BatchEmulator, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATCHGUI_AZURE_POLL", "0.1,0.5")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    clips = make_clips(tmp_path / "clips")
    account = AzureAccount(name="emulator", batch_url=batch_emulator.url,
                           batch_account=batch_emulator.account, batch_key=batch_emulator.key,
                           storage_connection_string=azurite.connection_string)
    journal = Journal(tmp_path / "journal.sqlite3")

    def target() -> AzureBatchTarget:
        return AzureBatchTarget(account, PoolSettings(dedicated_nodes=2, slots_per_node=2,
                                                      start_task="ffmpeg -version"))

    first = run_and_compare("earlier run", mixed_files(clips, tmp_path / "in-1", 20, seed=1),
                            tmp_path / "out-1", target(), journal)
    assert first.result.all_converted
    learned = planning.learned(journal)
    # the files' own times gave the speed the emulator was told: 2 slots x 20 per node
    assert learned.vm_speed("standard_d2s_v3").value == pytest.approx(2 * NODE_SPEED, rel=0.1)
    assert learned.vm_task_overhead("standard_d2s_v3").runs == 1

    second = run_and_compare("40 files", mixed_files(clips, tmp_path / "in-2", 40, seed=2),
                             tmp_path / "out-2", target(), journal)
    print(f"\n{HEADER}\n{first.row()}\n{first.parts()}\n{second.row()}\n{second.parts()}")
    assert second.result.all_converted and second.files == 40
    assert abs(second.time_error) <= 0.20, second.row() + second.parts()
    assert second.node_minutes_error is not None
    assert abs(second.node_minutes_error) <= 0.10, second.row() + second.parts()
    # what was measured is what the pool really had: 2 nodes, each there for most of the run
    assert second.actual_node_minutes is not None
    assert 0.8 * 2 * second.actual_s / 60 <= second.actual_node_minutes <= 2 * second.actual_s / 60
    # the estimate is kept beside the outcome, for `batchgui runs` and the next estimate
    stats = journal.run(second.result.run_id).stats  # type: ignore[union-attr]
    assert stats["estimate"]["seconds"] == pytest.approx(second.estimated_s, abs=0.1)
    assert stats["outcome"]["node_minutes"] == pytest.approx(second.actual_node_minutes)
