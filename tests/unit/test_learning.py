"""Learned figures move toward measured ones; nonsense and cancelled runs teach nothing."""

from __future__ import annotations

import json

import pytest

from batchgui.core.estimate import AzurePlan, FileWork, Workload, estimate
from batchgui.core.learning import (
    DEFAULT_POOL_READY_S,
    DEFAULT_UPLOAD_BPS,
    Learned,
    Measure,
    RunOutcome,
    learn,
)


def upload_run(rate: float) -> RunOutcome:
    return RunOutcome("azure", account="acct", bytes_uploaded=100_000_000,
                      upload_seconds=100_000_000 / rate)


def test_the_first_measurement_replaces_the_default_then_a_running_mean_then_ewma() -> None:
    learned = Learned()
    assert learned.upload_bps == Measure(DEFAULT_UPLOAD_BPS, 0)
    learned = learn(learned, upload_run(10e6))
    assert learned.upload_bps.value == pytest.approx(10e6) and learned.upload_bps.runs == 1
    learned = learn(learned, upload_run(20e6))  # weight 1/2
    assert learned.upload_bps.value == pytest.approx(15e6)
    learned = learn(learned, upload_run(30e6))  # weight 1/3
    assert learned.upload_bps.value == pytest.approx(20e6)
    learned = learn(learned, upload_run(30e6))  # weight floors at 0.3 (1/4 would be less)
    assert learned.upload_bps.value == pytest.approx(23e6)
    assert learned.upload_bps.runs == 4


def test_a_new_speed_is_followed_not_averaged_away() -> None:
    learned = Learned()
    for _ in range(20):
        learned = learn(learned, upload_run(10e6))
    for _ in range(10):  # a faster line from now on
        learned = learn(learned, upload_run(25e6))
    # a plain mean of the 30 runs would say 15 MB/s; 10 runs at weight 0.3 leave 0.7^10 of
    # the old figure's distance: 24.6 MB/s
    assert learned.upload_bps.value == pytest.approx(25e6 - 15e6 * 0.7**10)


def test_conversion_speed_per_vm_size_from_the_files_own_times() -> None:
    # 10 files of 600 s at 50x per file: 12 s each, + 3 s per file on the node, + 20 s
    # fetching 1 GB onto the nodes at 50 MB/s; 2 files at once on 2 vCPUs -> 100 per node
    outcome = RunOutcome("azure", account="acct", vm_size="Standard_D2s_v3",
                         slots_per_node=2, dedicated_nodes=3, files_converted=10,
                         media_seconds=6000.0, conversion_seconds=10 * 12 + 30 + 20,
                         bytes_uploaded=1_000_000_000, upload_seconds=1.0)
    learned = learn(Learned(), outcome)
    assert learned.vm_speed("standard_d2s_v3") == Measure(pytest.approx(100.0), 1)
    assert learned.vm_speed("standard_d4s_v3") == Measure(200.0, 0)  # the default, 4 vCPUs
    # 4 files at once on the same 2 vCPUs: each file half as fast, the node as fast
    crowded = learn(Learned(), RunOutcome(
        "azure", account="acct", vm_size="standard_d2s_v3", slots_per_node=4,
        files_converted=10, media_seconds=6000.0, conversion_seconds=10 * 24 + 30))
    assert crowded.vm_speed("standard_d2s_v3").value == pytest.approx(100.0)


def test_this_computers_speed() -> None:
    outcome = RunOutcome("local", slots_per_node=4, cores_per_node=4, files_converted=4,
                         media_seconds=1200.0, conversion_seconds=4 * (300 / 75 + 0.3))
    learned = learn(Learned(), outcome)
    assert learned.computer_speed(4) == Measure(pytest.approx(300.0), 1)
    assert learned.node_speed == {}  # local runs teach nothing about Azure


def test_pool_start_per_account_only_when_the_run_made_the_pool() -> None:
    made = RunOutcome("azure", account="acct", pool_created=True, pool_ready_seconds=240.0)
    learned = learn(Learned(), made)
    assert learned.pool_ready("acct") == Measure(240.0, 1)
    assert learned.pool_ready("other") == Measure(DEFAULT_POOL_READY_S, 0)
    reused = RunOutcome("azure", account="acct", pool_created=False, pool_ready_seconds=1.0)
    assert learn(learned, reused).pool_ready("acct") == Measure(240.0, 1)


@pytest.mark.parametrize("outcome", [
    RunOutcome("azure", account="acct", cancelled=True, pool_created=True,
               pool_ready_seconds=100.0, bytes_uploaded=10**9, upload_seconds=10.0,
               vm_size="standard_d2s_v3", files_converted=5, media_seconds=600.0,
               conversion_seconds=10.0),
    RunOutcome("azure", account="acct", pool_created=True, pool_ready_seconds=0.0),
    RunOutcome("azure", account="acct", pool_created=True, pool_ready_seconds=-5.0),
    RunOutcome("azure", account="acct", bytes_uploaded=10**9, upload_seconds=0.0),
    RunOutcome("azure", account="acct", bytes_uploaded=1000, upload_seconds=2.0),
    RunOutcome("azure", account="acct", bytes_downloaded=10**9, download_seconds=0.0),
    RunOutcome("azure", account="acct", vm_size="standard_d2s_v3", files_converted=5,
               media_seconds=600.0, conversion_seconds=0.0),
    RunOutcome("azure", account="acct", vm_size="standard_d2s_v3", files_converted=0,
               media_seconds=0.0, conversion_seconds=50.0),
    RunOutcome("azure", account="acct", vm_size="standard_d2s_v3", files_converted=1,
               media_seconds=600.0, conversion_seconds=0.0001),  # 6 million x: nonsense
    RunOutcome("local", cores_per_node=4, slots_per_node=4, files_converted=2,
               media_seconds=600.0, conversion_seconds=-3.0),
], ids=["cancelled", "zero-pool", "negative-pool", "zero-upload-time", "tiny-upload",
        "zero-download-time", "zero-conversion", "no-files", "absurd-speed", "negative-local"])
def test_nonsense_teaches_nothing(outcome: RunOutcome) -> None:
    start = Learned(pool_ready_s={"acct": Measure(300.0, 2)})
    assert learn(start, outcome) == start


def test_learned_round_trips_through_json() -> None:
    learned = Learned()
    learned = learn(learned, upload_run(10e6))
    learned = learn(learned, RunOutcome("azure", account="acct", pool_created=True,
                                        pool_ready_seconds=200.0, vm_size="Standard_F4s_v2",
                                        slots_per_node=4, files_converted=4,
                                        media_seconds=2400.0, conversion_seconds=60.0))
    learned = learn(learned, RunOutcome("local", cores_per_node=2, slots_per_node=2,
                                        files_converted=2, media_seconds=120.0,
                                        conversion_seconds=3.0))
    again = Learned.from_dict(json.loads(json.dumps(learned.to_dict())))
    assert again == learned
    assert again.to_dict()["node_speed"]["standard_f4s_v2"]["runs"] == 1


@pytest.mark.parametrize("stored", [None, [], "x", {"upload_bps": {"value": "fast"}},
                                    {"pool_ready_s": {"a": {"value": -1, "runs": 1}}},
                                    {"node_speed": {"standard_d2s_v3": {"value": 5,
                                                                        "runs": -2}}}])
def test_a_damaged_record_falls_back_to_the_defaults(stored: object) -> None:
    assert Learned.from_dict(stored) == Learned()


def test_outcomes_round_trip_for_the_journal() -> None:
    outcome = RunOutcome("azure", account="acct", vm_size="standard_d2s_v3", node_minutes=12.5,
                         cost=0.02)
    assert RunOutcome.from_dict(json.loads(json.dumps(outcome.to_dict()))) == outcome
    assert RunOutcome.from_dict({**outcome.to_dict(), "added_later": 1}) == outcome


def test_estimates_follow_what_was_learned() -> None:
    work = Workload((FileWork(600.0, 100_000_000),) * 12)
    plan = AzurePlan("acct", "standard_d2s_v3", 3, 0, 2)
    before = estimate(work, plan, Learned())
    after = estimate(work, plan, learn(Learned(), RunOutcome(
        "azure", account="acct", pool_created=True, pool_ready_seconds=200.0,
        bytes_uploaded=10**9, upload_seconds=100.0)))
    assert before.pool_ready_s == 480 and after.pool_ready_s == 200
    assert before.upload_s == 480 and after.upload_s == 120
    assert after.seconds < before.seconds
    assert any("learned from 1 run" in note for note in after.notes)
