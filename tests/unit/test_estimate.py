"""Time and money before any work: known workloads give known estimates (numbers here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from batchgui.core.billing import NodeRecord, node_minutes, run_cost, usage_text
from batchgui.core.estimate import (
    AzurePlan,
    FileWork,
    LocalPlan,
    VmPrice,
    Workload,
    about_money,
    estimate,
    format_duration,
    format_money,
    mp3_kbps,
    simulate_queue,
)
from batchgui.core.learning import Learned, Measure, Overheads
from batchgui.core.models import InputFile, Quality
from batchgui.core.vm_sizes import arm_sku_name, vm_cores

FETCHED = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)
PRICE = VmPrice("standard_d2s_v3", "westeurope", "USD", 0.111, 0.0222, fetched_at=FETCHED)
NO_OVERHEADS = Overheads(azure_task_s=0, local_task_s=0, node_fetch_bps=float("inf"),
                         azure_notice_s=0, local_wrap_up_s=0, azure_dispatch_s=0)


def learned_azure() -> Learned:
    return Learned(pool_ready_s={"acct": Measure(300.0, 2)}, upload_bps=Measure(5e6, 3),
                   download_bps=Measure(10e6, 3),
                   node_speed={"standard_d2s_v3": Measure(200.0, 4)})


# -- the queue -------------------------------------------------------------------------------


def test_one_long_file_and_sixteen_short_ones_on_two_slots() -> None:
    times = [480.0] + [30.0] * 16
    assert max(simulate_queue(times, 2)) == 480  # the long one on one slot, the rest beside it
    # the same files in the order given, long one last: it starts only after the short ones
    assert max(simulate_queue(times[1:] + times[:1], 2, longest_first=False)) == 720


def test_the_queue_sees_what_dividing_totals_misses() -> None:
    times = [480.0] + [30.0] * 16
    assert sum(times) / 4 == 240
    finish = simulate_queue(times, 4)
    assert max(finish) == 480  # nothing finishes before the 8-minute file does
    # the short ones share the other three slots: 6 rounds of 30 s
    assert finish[0] == 480 and max(finish[1:]) == 180


def test_local_estimate_simulates_the_actual_files() -> None:
    work = Workload((FileWork(480.0, 10**8),) + (FileWork(30.0, 10**7),) * 16)
    # this computer converts 2 media seconds per second with both cores busy: 1x per file
    learned = Learned(local_speed=Measure(2.0, 3))
    est = estimate(work, LocalPlan(slots=2, cores=2), learned, overheads=NO_OVERHEADS)
    assert est.seconds == 480
    assert est.text == "about 8 min on this computer (2 files at once)"
    assert est.cost is None and est.node_minutes == 0
    assert any("learned from 3 runs" in note for note in est.notes)


def test_more_files_at_once_than_cores_share_the_cores() -> None:
    work = Workload((FileWork(60.0, 10**6),) * 4)
    learned = Learned(local_speed=Measure(2.0, 1))  # 2 cores: 1x realtime per file
    two = estimate(work, LocalPlan(slots=2, cores=2), learned, overheads=NO_OVERHEADS)
    four = estimate(work, LocalPlan(slots=4, cores=2), learned, overheads=NO_OVERHEADS)
    assert two.seconds == 120 and four.seconds == 120  # four at half speed: no faster
    assert any("share the cores" in note for note in four.notes)


# -- Azure ------------------------------------------------------------------------------------


def test_known_azure_workload_gives_known_time_and_money() -> None:
    work = Workload((FileWork(600.0, 100_000_000),) * 12, mp3_kbps=190)
    plan = AzurePlan("acct", "standard_d2s_v3", dedicated_nodes=3, slots_per_node=2)
    est = estimate(work, plan, learned_azure(), PRICE)
    # upload 1.2 GB at 5 MB/s = 240 s while the pool takes 300 s; then 1 s adding tasks;
    # each file: 3 s overhead + 2 s fetch (100 MB at 50 MB/s) + 600 s at 100x = 11 s;
    # 12 files on 6 slots: 2 rounds = 22 s; the last MP3 (14.25 MB) comes down at 10 MB/s
    # in 1.425 s, and the run's wrap-up (noticing, placing, cleaning up) takes 5 s
    assert est.pool_ready_s == 300 and est.upload_s == 240
    assert est.conversion_s == pytest.approx(22)
    assert est.download_tail_s == pytest.approx(6.425)
    assert est.seconds == pytest.approx(329.425)
    # each node from its allocation (not measured yet: from pressing Convert) until the run
    # deletes its job at its end, 6.425 s after the last file is converted (Azure would end
    # the job itself about a minute after the last file): 329.425 s per node
    assert est.node_minutes_dedicated == pytest.approx(3 * 329.425 / 60)
    assert est.cost == pytest.approx(3 * 329.425 / 3600 * 0.111)
    assert est.text == ("about 5 min, about $0.03 at list price (Standard_D2s_v3, "
                        "3 nodes × 2 files at once, prices of 2026-11-29)")
    assert "Storage and data transfer cost a little extra and are not included." in est.notes
    assert est.to_dict()["cost"] == pytest.approx(0.0304, abs=1e-4)
    # a kept pool is counted to the end of the run, and costs on afterwards
    kept = estimate(work, AzurePlan("acct", "standard_d2s_v3", 3, 0, 2, keep_pool=True),
                    learned_azure(), PRICE)
    assert kept.node_minutes_dedicated == pytest.approx(3 * 329.425 / 60)


def test_slow_uploads_hold_the_conversions_back() -> None:
    learned = learned_azure()
    slow = Learned(pool_ready_s=learned.pool_ready_s, upload_bps=Measure(1e6, 1),
                   download_bps=learned.download_bps, node_speed=learned.node_speed)
    work = Workload((FileWork(600.0, 100_000_000),) * 12)
    plan = AzurePlan("acct", "standard_d2s_v3", 3, 0, 2)
    # 1.2 GB at 1 MB/s: 1200 s of uploading, the pool long ready by then
    assert estimate(work, plan, slow, PRICE).seconds == pytest.approx(1201 + 22 + 6.425)


def test_spot_nodes_are_priced_at_the_spot_price_and_said_so() -> None:
    work = Workload((FileWork(600.0, 100_000_000),) * 12)
    plan = AzurePlan("acct", "standard_d2s_v3", dedicated_nodes=1, spot_nodes=2,
                     slots_per_node=2, keep_pool=True)
    est = estimate(work, plan, learned_azure(), PRICE)
    hours = 329.425 / 3600  # a kept pool: counted to the end of the run
    assert est.cost == pytest.approx(hours * (0.111 + 2 * 0.0222))
    assert "1 dedicated + 2 Spot nodes × 2 files at once" in est.text
    assert any("take them back" in note for note in est.notes)
    # kept pool: what it costs per hour afterwards
    assert any("about $0.16 per hour" in note for note in est.notes)


def test_a_running_pool_starts_at_once() -> None:
    work = Workload((FileWork(600.0, 100_000_000),) * 12)
    plan = AzurePlan("acct", "standard_d2s_v3", 3, 0, 2, pool_exists=True)
    est = estimate(work, plan, learned_azure(), PRICE)
    assert est.pool_ready_s == 0
    assert est.seconds == pytest.approx(241 + 22 + 6.425)


def test_price_unknown_is_said_and_the_time_still_given() -> None:
    work = Workload((FileWork(600.0, 100_000_000),) * 12)
    plan = AzurePlan("acct", "standard_d2s_v3", 3, 0, 2)
    unknown = VmPrice("standard_d2s_v3", "westeurope",
                      problem="Price unknown: Azure's price list could not be read.")
    est = estimate(work, plan, learned_azure(), unknown)
    assert est.cost is None
    assert est.text == "about 5 min, price unknown (Standard_D2s_v3, 3 nodes × 2 files at once)"
    assert unknown.problem in est.notes
    # a Spot pool whose Spot price is unknown has no price either
    spot_only = VmPrice("standard_d2s_v3", "westeurope", dedicated_per_hour=0.111,
                        fetched_at=FETCHED)
    assert estimate(work, AzurePlan("acct", "standard_d2s_v3", 0, 3, 2), learned_azure(),
                    spot_only).cost is None


def test_saved_prices_show_their_date() -> None:
    old = VmPrice("standard_d2s_v3", "westeurope", "EUR", 0.1, 0.02,
                  fetched_at=FETCHED - timedelta(days=12), saved_copy=True,
                  problem="Azure's price list could not be read (no connection); these are "
                          "the prices saved on 2026-11-17.")
    est = estimate(Workload((FileWork(600.0, 10**8),) * 12),
                   AzurePlan("acct", "standard_d2s_v3", 3, 0, 2), learned_azure(), old)
    assert est.text.endswith("prices of 2026-11-17)") and "€0.03" in est.text
    assert old.problem in est.notes


def test_defaults_before_the_first_run_are_stated() -> None:
    work = Workload((FileWork(600.0, 100_000_000),) * 12)
    est = estimate(work, AzurePlan("new", "standard_d2s_v3", 3, 0, 2), Learned(), PRICE)
    # defaults: 8 min pool, 2.5 MB/s up, 50x per vCPU
    assert est.pool_ready_s == 480 and est.upload_s == 480
    assert any("a default until the first run on this account" in n for n in est.notes)
    assert any("cautious default" in n for n in est.notes)


def test_from_probed_inputs_leaves_rejected_files_out(tmp_path: Path) -> None:
    inputs = [InputFile(tmp_path / "a.mp4", 5_000_000, 60.0),
              InputFile(tmp_path / "b.mp4", 0, None, problem="the file is empty")]
    work = Workload.from_inputs(inputs, Quality.parse("192k"))
    assert work.files == (FileWork(60.0, 5_000_000),) and work.mp3_kbps == 192
    assert mp3_kbps(Quality.parse("V0")) == 245 and mp3_kbps(Quality()) == 190


def test_nothing_to_convert() -> None:
    est = estimate(Workload(()), AzurePlan("acct", "standard_d2s_v3", 1, 0, 2), Learned(), PRICE)
    assert est.text == "Nothing to convert."


# -- wording and sizes --------------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "text"), [
    (20, "under a minute"), (840, "about 14 min"), (3400, "about 57 min"), (3599, "about 1 h"),
    (3600, "about 1 h"), (4800, "about 1 h 20 min"), (7400, "about 2 h 5 min"),
])
def test_durations_read_plainly(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_money_reads_plainly() -> None:
    assert format_money(0.6, "USD") == "$0.60"
    assert format_money(0.004, "USD") == "less than $0.01"
    assert format_money(1.2, "EUR") == "€1.20"
    assert format_money(12.3, "sek") == "12.30 SEK"
    assert format_money(95.4, "JPY") == "95 JPY"
    assert about_money(0.6, "USD") == "about $0.60"
    assert about_money(0.004, "USD") == "less than $0.01"  # never "about less than"


def test_vm_sizes_and_their_cores() -> None:
    assert vm_cores("standard_d2s_v3") == 2 and vm_cores("Standard_F16s_v2") == 16
    assert vm_cores("Standard_E4-2s_v3") == 2  # constrained: 2 active of 4
    assert vm_cores("standard_nc6s_v3") == 6 and vm_cores("weird") is None
    assert arm_sku_name("standard_nc6s_v3") == "Standard_NC6s_v3"
    assert arm_sku_name("d2s_v3") == "Standard_D2s_v3"


# -- what it really cost --------------------------------------------------------------------


def test_node_minutes_count_start_up_idle_and_each_stretch_once() -> None:
    t0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    minute = timedelta(minutes=1)
    nodes = [
        NodeRecord("tvm-1", False, t0, t0 + 10 * minute),  # left early
        NodeRecord("tvm-2", False, t0),  # there until the end of the run
        NodeRecord("tvm-2", False, t0),  # the same node at a later look
        NodeRecord("tvm-3", True, t0 + minute, t0 + 5 * minute),  # preempted ...
        NodeRecord("tvm-3", True, t0 + 8 * minute),  # ... and back
        NodeRecord("tvm-4", True, (t0 + 20 * minute).timestamp()),  # after the run: nothing
    ]
    usage = node_minutes(nodes, t0 + 12 * minute)
    assert usage.dedicated_minutes == pytest.approx(22)
    assert usage.spot_minutes == pytest.approx(8)
    assert usage.nodes == 3
    cost = run_cost(usage, PRICE)
    assert cost == pytest.approx(22 / 60 * 0.111 + 8 / 60 * 0.0222)
    assert usage_text(usage, PRICE) == ("30 node-minutes, about $0.04 at list price "
                                        "(prices of 2026-11-29)")
    assert usage_text(usage, None) == "30 node-minutes, price unknown"


def test_node_minutes_run_from_allocation_until_the_node_left_or_the_run_ended() -> None:
    t0 = 1_800_000_000.0
    nodes = [
        NodeRecord("tvm-1", False, t0 + 60, t0 + 600),  # seen leaving the pool
        NodeRecord("tvm-2", False, t0 + 60),  # still there at the last look
        NodeRecord("tvm-3", False, t0 - 3600),  # a reused pool's node: from the run's start
    ]
    usage = node_minutes(nodes, run_ended_at=t0 + 660, run_started_at=t0)
    assert usage.dedicated_minutes == pytest.approx(9 + 10 + 11)
    assert usage.nodes == 3
    # without the run's start, a reused node counts from its allocation (as before)
    assert node_minutes(nodes[2:], t0 + 660).dedicated_minutes == pytest.approx(71)


def test_the_estimate_counts_node_minutes_as_billing_counts_them() -> None:
    # learned: nodes allocated 100 s after Convert, ready at 300 s; Azure ended the job's
    # pool 20 s after the last file; the run's wrap-up takes 30 s
    learned = Learned(pool_ready_s={"acct": Measure(300.0, 2)}, upload_bps=Measure(1e9, 2),
                      download_bps=Measure(1e9, 2),
                      node_speed={"standard_d2s_v3": Measure(200.0, 4)},
                      task_overhead_s={"standard_d2s_v3": Measure(0.0, 2)},
                      allocated_s={"acct": Measure(100.0, 2)},
                      release_s={"acct": Measure(20.0, 2)},
                      wrap_up_s={"acct": Measure(30.0, 2)})
    work = Workload((FileWork(600.0, 1000),) * 12)
    plan = AzurePlan("acct", "standard_d2s_v3", 3, 0, 2)
    est = estimate(work, plan, learned, PRICE, overheads=NO_OVERHEADS)
    # converting: 2 rounds of 6 s from 300 s; done at 312 + 30 s wrap-up
    assert est.seconds == pytest.approx(342, abs=0.05)  # + the last MP3 at 1 GB/s
    # each node: allocated at 100 s, left 20 s after the last file (332 s), before the
    # run deleted the job at 342 s: 232 s
    assert est.node_minutes_dedicated == pytest.approx(3 * 232 / 60, abs=0.01)
    # a kept pool stays to the end of the run: 242 s
    kept = estimate(work, AzurePlan("acct", "standard_d2s_v3", 3, 0, 2, keep_pool=True),
                    learned, PRICE, overheads=NO_OVERHEADS)
    assert kept.node_minutes_dedicated == pytest.approx(3 * 242 / 60, abs=0.01)
    # a running pool: from pressing Convert to the end of the run (uploads: 12 KB at 1 GB/s)
    running = estimate(work, AzurePlan("acct", "standard_d2s_v3", 3, 0, 2, pool_exists=True),
                       learned, PRICE, overheads=NO_OVERHEADS)
    assert running.node_minutes_dedicated == pytest.approx(3 * running.seconds / 60)
    assert any("learned from 2 runs" in n and "leaves the pool" in n for n in est.notes)


def test_this_computers_estimate_uses_its_learned_overhead_and_wrap_up() -> None:
    learned = Learned(local_speed=Measure(300.0, 2), local_task_s=Measure(0.1, 2),
                      local_wrap_up_s=Measure(0.4, 2))
    work = Workload(tuple(FileWork(m, 10**6) for m in (60.0, 60.0, 30.0, 30.0)))
    est = estimate(work, LocalPlan(slots=2, cores=2), learned)
    # 150x per file: 0.4 s and 0.2 s plus 0.1 s each, two at a time; then 0.4 s more
    assert est.conversion_s == pytest.approx(0.5 + 0.3)
    assert est.seconds == pytest.approx(1.2)
    assert any("0.1 s more" in n and "learned from 2 runs" in n for n in est.notes)
