"""Learned figures move toward measured ones; nonsense and cancelled runs teach nothing."""

from __future__ import annotations

import json
from dataclasses import replace

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


# -- what runs measure beyond rates: per-file overhead, wrap-up, nodes ------------------------

MIX = [5.0, 10.0, 20.0, 40.0, 60.0] * 4  # 20 files, 540 media seconds


def azure_run(overhead: float, per_file: float, **extra: object) -> RunOutcome:
    """20 mixed files on 2 vCPU nodes, 2 at once: each took overhead + media / per_file."""
    samples = tuple((m, 0, overhead + m / per_file) for m in MIX)
    values: dict[str, object] = dict(
        account="acct", vm_size="Standard_D2s_v3", slots_per_node=2, dedicated_nodes=2,
        files_converted=len(MIX), media_seconds=sum(MIX),
        conversion_seconds=sum(s for _, _, s in samples), file_samples=samples)
    values.update(extra)
    return RunOutcome("azure", **values)  # type: ignore[arg-type]


def test_files_of_different_lengths_teach_overhead_and_speed_per_vm_size() -> None:
    learned = learn(Learned(), azure_run(0.5, 20.0, slot_gap_s=0.1))
    # 20x per file with 2 files on 2 vCPUs: 40 media seconds per node-second
    assert learned.vm_speed("standard_d2s_v3") == Measure(pytest.approx(40.0), 1)
    # the line's 0.5 s plus the slot's 0.1 s wait between files
    assert learned.vm_task_overhead("standard_d2s_v3") == Measure(pytest.approx(0.6), 1)
    assert learned.vm_task_overhead("standard_d4s_v3") == Measure(3.0, 0)  # the default
    # without the files' own times, the default 3 s per file is more than these files took
    # in all: their time is split at the default speed (100 per node, 50 per file), the
    # rest is the overhead, and the two together give the run's own total
    totals = azure_run(0.5, 20.0, file_samples=())
    no_line = learn(Learned(), totals)
    assert no_line.vm_speed("standard_d2s_v3") == Measure(pytest.approx(100.0), 1)
    overhead = no_line.vm_task_overhead("standard_d2s_v3").value
    assert overhead < 3.0
    assert len(MIX) * overhead + sum(MIX) / 50 == pytest.approx(totals.conversion_seconds)


def test_the_estimate_of_a_mixed_run_matches_what_the_files_took() -> None:
    learned = learn(Learned(), azure_run(0.5, 20.0))
    work = Workload(tuple(FileWork(m, 0) for m in MIX))
    est = estimate(work, AzurePlan("acct", "standard_d2s_v3", 1, 0, 1), learned)
    # one slot: every file one after the other, as measured
    assert est.conversion_s == pytest.approx(sum(0.5 + m / 20 for m in MIX))


def test_files_all_of_one_length_teach_the_speed_with_the_overhead_learned_so_far() -> None:
    known = Learned(task_overhead_s={"standard_d2s_v3": Measure(0.5, 3)})
    samples = tuple((30.0, 0, 0.5 + 30 / 20) for _ in range(20))
    same = azure_run(0.5, 20.0, file_samples=samples, media_seconds=600.0,
                     conversion_seconds=20 * 2.0)
    learned = learn(known, same)
    assert learned.vm_speed("standard_d2s_v3").value == pytest.approx(40.0)
    assert learned.vm_task_overhead("standard_d2s_v3") == Measure(0.5, 3)  # untouched


def test_a_run_of_two_files_moves_a_learned_figure_little() -> None:
    known = Learned(node_speed={"standard_d2s_v3": Measure(40.0, 5)})
    tiny = RunOutcome("azure", account="acct", vm_size="standard_d2s_v3", slots_per_node=2,
                      files_converted=2, media_seconds=120.0,
                      conversion_seconds=2 * (3.0 + 60 / 40))  # 40x per file: 80 per node
    moved = learn(known, tiny).vm_speed("standard_d2s_v3")
    # weight 0.3 x 2/20 of the way from 40 to 80
    assert moved == Measure(pytest.approx(40 + 0.03 * 40), 6)


def test_one_odd_run_is_clipped_before_it_counts() -> None:
    known = Learned(node_speed={"standard_d2s_v3": Measure(40.0, 5)})
    odd = learn(known, azure_run(0.5, 2000.0))  # 100x faster than ever: 4000 per node
    # clipped to 3 x 40 = 120, then weight 0.3: 64
    assert odd.vm_speed("standard_d2s_v3").value == pytest.approx(64.0)


def test_the_account_learns_its_nodes_allocation_release_and_wrap_up() -> None:
    outcome = azure_run(0.5, 20.0, pool_created=True, pool_ready_seconds=200.0,
                        auto_pool=True, nodes_allocated_s=90.0, release_seconds=40.0,
                        run_seconds=900.0, last_end_s=880.0, last_mp3_bytes=5_000_000,
                        bytes_downloaded=50_000_000, download_seconds=10.0,
                        bytes_uploaded=100_000_000, upload_seconds=150.0, first_start_s=206.0)
    learned = learn(Learned(), outcome)
    # the pool (200 s) was ready after the files were up (150 s): the first file 6 s later
    assert learned.dispatch("acct") == Measure(6.0, 1)
    assert learned.node_allocated("acct") == Measure(90.0, 1)
    assert learned.release("acct") == Measure(40.0, 1)
    # 20 s after the last file, less its MP3's 1 s download at the run's 5 MB/s
    assert learned.wrap_up("acct") == Measure(pytest.approx(19.0), 1)
    assert learned.node_allocated("other") == Measure(0.0, 0)
    # a kept pool says nothing about how an auto pool goes; a reused one nothing about
    # allocation
    kept = learn(Learned(), replace(outcome, auto_pool=False, pool_created=False))
    assert kept.release_s == {} and kept.allocated_s == {}


def test_this_computer_learns_its_overhead_and_the_time_outside_converting() -> None:
    samples = tuple((m, 0, 0.1 + m / 150) for m in MIX)
    outcome = RunOutcome("local", slots_per_node=2, cores_per_node=2,
                         files_converted=len(MIX), media_seconds=sum(MIX),
                         conversion_seconds=sum(s for *_, s in samples),
                         file_samples=samples, slot_gap_s=0.02, first_start_s=0.2,
                         last_end_s=5.2, run_seconds=5.5)
    learned = learn(Learned(), outcome)
    assert learned.computer_speed(2) == Measure(pytest.approx(300.0), 1)
    assert learned.computer_task_overhead() == Measure(pytest.approx(0.12), 1)
    assert learned.computer_wrap_up() == Measure(pytest.approx(0.5), 1)
    assert learned.node_speed == {} and learned.task_overhead_s == {}


def test_everything_learned_round_trips_and_old_records_still_load() -> None:
    learned = learn(Learned(), azure_run(
        0.5, 20.0, pool_created=True, pool_ready_seconds=30.0, auto_pool=True,
        nodes_allocated_s=5.0, release_seconds=0.0, run_seconds=100.0, last_end_s=98.0))
    learned = learn(learned, RunOutcome(
        "local", slots_per_node=2, cores_per_node=2, files_converted=20,
        media_seconds=sum(MIX), conversion_seconds=10.0,
        file_samples=tuple((m, 0, 0.1 + m / 150) for m in MIX), first_start_s=0.1,
        last_end_s=5.0, run_seconds=5.2))
    assert learned.release("acct").value == 0.0  # a figure of 0 s is a figure
    again = Learned.from_dict(json.loads(json.dumps(learned.to_dict())))
    assert again == learned
    version_1 = {"version": 1, "pool_ready_s": {"acct": {"value": 300.0, "runs": 2}},
                 "upload_bps": {"value": 5e6, "runs": 3}, "download_bps": {"value": 9e6,
                                                                            "runs": 3},
                 "node_speed": {"standard_d2s_v3": {"value": 80.0, "runs": 4}},
                 "local_speed": {"value": 200.0, "runs": 1}}
    old = Learned.from_dict(version_1)
    assert old.pool_ready("acct") == Measure(300.0, 2)
    assert old.vm_speed("standard_d2s_v3") == Measure(80.0, 4)
    assert old.vm_task_overhead("standard_d2s_v3") == Measure(3.0, 0)
    assert old.release("acct") == Measure(60.0, 0) and old.computer_wrap_up().runs == 0


def test_outcomes_keep_their_file_samples_through_the_journal() -> None:
    outcome = azure_run(0.5, 20.0, slot_gap_s=0.1, first_start_s=1.0, last_end_s=9.0)
    data = json.loads(json.dumps(outcome.to_dict()))
    assert RunOutcome.from_dict(data) == outcome
    data["file_samples"] = [[1, 2, 3], "broken", [1, 2], None, [4.5, 1000, 0.75]]
    assert RunOutcome.from_dict(data).file_samples == ((1.0, 2, 3.0), (4.5, 1000, 0.75))


def test_many_short_files_of_one_length_correct_a_default_overhead_too_long() -> None:
    """300 one-second files took 0.033 s each: the default 0.3 s per file can't be right,
    and the next estimate of the same files must not say ten times what they took."""
    from batchgui.core.estimate import LocalPlan

    task_s, gap_s = 0.033, 0.004
    samples = tuple((1.0, 0, task_s) for _ in range(200))
    outcome = RunOutcome("local", slots_per_node=2, cores_per_node=2, files_converted=300,
                         media_seconds=300.0, conversion_seconds=300 * task_s,
                         file_samples=samples, slot_gap_s=gap_s, first_start_s=0.2,
                         last_end_s=0.2 + 150 * (task_s + gap_s), run_seconds=5.8)
    work = Workload(tuple(FileWork(1.0, 0) for _ in range(300)))
    took = 150 * (task_s + gap_s)
    before = estimate(work, LocalPlan(2, 2), Learned()).conversion_s
    assert before > 5 * took  # the defaults: 0.3 s a file
    learned = Learned()
    for _ in range(3):
        learned = learn(learned, outcome)
        after = estimate(work, LocalPlan(2, 2), learned).conversion_s
    assert after == pytest.approx(took, rel=0.3)
    assert learned.computer_task_overhead().value < 0.05
