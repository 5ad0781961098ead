"""'Finish by' and 'Cheapest' pick sensible pools; the numbers are worked out here.

The workload: 36 talks of 20 min (90 MB each). Learned: the pool takes 7 min, uploads and
downloads run at 10 MB/s, a D2s v3 node converts 40 media seconds per second (20x per file
with 2 files at once). So uploading takes 324 s, inside the 420 s the pool needs, then
adding the tasks 1 s; each file takes 3 s + 1.8 s fetch + 60 s converting = 64.8 s; the
last MP3 (28.5 MB) comes down in 2.85 s and the run wraps up in 5 s. With n nodes (2n
slots):

    T(n) = 421 + ceil(36 / 2n) x 64.8 + 7.85
    n:    1        2        3       4       5       6       9
    T: 1595.25  1012.05  817.65  752.85  688.05  623.25  558.45

Each node is billed from its allocation (before any run has measured it: from pressing
Convert) until it leaves the pool. The run's own pool goes with its job: Azure ends the job
about a minute after the last file (the default release), but the run deletes it at its
end, 7.85 s after the last file, so each node is billed B(n) = T(n).
Prices: $0.111 per hour dedicated, $0.0222 Spot.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from batchgui.core.estimate import FileWork, VmPrice, Workload
from batchgui.core.learning import Learned, Measure
from batchgui.core.sizing import Cheapest, FinishBy, size_pool

PRICE = VmPrice("standard_d2s_v3", "westeurope", "USD", 0.111, 0.0222,
                fetched_at=datetime(2026, 11, 29, tzinfo=UTC))
LEARNED = Learned(pool_ready_s={"acct": Measure(420.0, 3)}, upload_bps=Measure(10e6, 3),
                  download_bps=Measure(10e6, 3),
                  node_speed={"standard_d2s_v3": Measure(40.0, 3)})
TALKS = Workload((FileWork(1200.0, 90_000_000),) * 36, mp3_kbps=190)
FIFTEEN_MIN = FinishBy(15 * 60)


def choose(goal: FinishBy | Cheapest, *, spot: bool = False, max_nodes: int = 10,
           prices: tuple[VmPrice, ...] = (PRICE,)):  # type: ignore[no-untyped-def]
    return size_pool(TALKS, goal, account="acct", learned=LEARNED, max_nodes=max_nodes,
                     prices=prices, allow_spot=spot)


def test_finish_in_15_minutes_with_dedicated_nodes() -> None:
    choice = choose(FIFTEEN_MIN)
    # 2 nodes take 1012 s: too slow; 3 nodes bill 3 x 818 node-s, 4 nodes 4 x 753: more
    assert (choice.plan.dedicated_nodes, choice.plan.spot_nodes) == (3, 0)
    assert choice.plan.slots_per_node == 2  # one file per vCPU
    assert choice.goal_met
    assert choice.estimate.seconds == pytest.approx(817.65)
    assert choice.estimate.cost == pytest.approx(3 * 817.65 / 3600 * 0.111)
    assert choice.reason == ("3 nodes (Standard_D2s_v3, 2 files at once each): the cheapest "
                             "way to finish in about 14 min.")
    assert choice.estimate.text == ("about 14 min, about $0.08 at list price (Standard_D2s_v3, "
                                    "3 nodes × 2 files at once, prices of 2026-11-29)")
    assert any("Only dedicated nodes" in note for note in choice.notes)


def test_finish_in_15_minutes_with_spot_allowed_keeps_room_for_preemption() -> None:
    choice = choose(FIFTEEN_MIN, spot=True)
    # 3 Spot nodes: 818 s x 1.15 = 940 s, over 15 min; 4 Spot nodes: 753 x 1.15 = 866 s fits
    # and costs 4 x 753 s x $0.0222/h = $0.019, less than 2 dedicated + 1 Spot ($0.056)
    assert (choice.plan.dedicated_nodes, choice.plan.spot_nodes) == (0, 4)
    assert choice.goal_met
    assert choice.estimate.cost == pytest.approx(4 * 752.85 / 3600 * 0.0222)
    assert choice.reason == ("4 Spot nodes (Standard_D2s_v3, 2 files at once each): the "
                             "cheapest way to finish in about 13 min.")
    assert any("15 % spare time" in note for note in choice.notes)


def test_cheapest_is_one_node_when_start_up_costs_every_node() -> None:
    choice = choose(Cheapest())
    # every node pays the 7-minute start: 1 node billed 1595 s beats 2 billed 1012 s each
    assert (choice.plan.dedicated_nodes, choice.plan.spot_nodes) == (1, 0)
    assert choice.estimate.cost == pytest.approx(1595.25 / 3600 * 0.111)
    assert choice.reason == ("1 node (Standard_D2s_v3, 2 files at once each): the lowest list "
                             "price, about $0.05, done in about 27 min.")
    spot = choose(Cheapest(), spot=True)
    assert (spot.plan.dedicated_nodes, spot.plan.spot_nodes) == (0, 1)
    assert "the lowest list price, less than $0.01," in spot.reason  # 1594 s at $0.0222/h


def test_cheapest_takes_the_faster_pool_when_it_costs_about_the_same() -> None:
    # a workload where start-up is small: node-hours barely grow with nodes
    long_talks = Workload((FileWork(7200.0, 90_000_000),) * 36, mp3_kbps=190)
    quick_pool = Learned(pool_ready_s={"acct": Measure(60.0, 3)}, upload_bps=Measure(1e9, 3),
                         download_bps=Measure(10e6, 3), node_speed=LEARNED.node_speed)
    choice = size_pool(long_talks, Cheapest(), account="acct", learned=quick_pool,
                       max_nodes=18, prices=[PRICE])
    # each file 364.8 s, the pool 60 s, uploads at once; billed node-seconds by node count:
    # 1: 6686, 2: 2 x 3403 = 6806, 3: 3 x 2309 = 6926, 4: 4 x 1944 = 7776 ...
    # 2 and 3 nodes are within 5 % of 1 node's price; 3 nodes finish the soonest
    assert choice.plan.dedicated_nodes == 3
    assert choice.estimate.seconds == pytest.approx(2271.9, abs=0.1)
    lowest = size_pool(long_talks, Cheapest(), account="acct", learned=quick_pool,
                       max_nodes=1, prices=[PRICE])
    assert choice.estimate.cost is not None and lowest.estimate.cost is not None
    assert choice.estimate.cost <= lowest.estimate.cost * 1.05
    assert choice.estimate.seconds < lowest.estimate.seconds / 2


def test_a_deadline_the_pool_start_alone_misses_is_said_plainly() -> None:
    choice = choose(FinishBy(5 * 60))
    assert not choice.goal_met
    # 9 and 10 nodes both need 2 rounds (558 s): the cheaper 9 is the best it can do
    assert choice.plan.dedicated_nodes == 9
    assert choice.reason == (
        "Finishing in 5 min is not possible: starting the pool alone takes about 7 min. "
        "The fastest is 9 nodes (Standard_D2s_v3, 2 files at once each), about 9 min.")
    # 8 min: the pool is up in time, but pool + upload wait + the longest file are not
    assert choose(FinishBy(8 * 60)).reason.startswith(
        "Finishing in 8 min is not possible: starting the pool, uploading and the longest "
        "file alone take about 8 min.")


def test_a_deadline_the_upload_alone_misses_is_said_plainly() -> None:
    slow_line = Learned(pool_ready_s=LEARNED.pool_ready_s, upload_bps=Measure(1e6, 2),
                        download_bps=LEARNED.download_bps, node_speed=LEARNED.node_speed)
    choice = size_pool(TALKS, FIFTEEN_MIN, account="acct", learned=slow_line, max_nodes=10,
                       prices=[PRICE])
    assert not choice.goal_met
    # 3.24 GB at 1 MB/s
    assert choice.reason.startswith(
        "Finishing in 15 min is not possible: uploading the files alone takes about 54 min.")


def test_a_deadline_beyond_the_maximum_nodes_is_said_plainly() -> None:
    choice = choose(FinishBy(9 * 60), max_nodes=8)
    assert not choice.goal_met
    # 6, 7 and 8 nodes all need 3 rounds (623 s); 9 nodes would make it in 558 s
    assert choice.plan.dedicated_nodes == 6
    assert choice.reason == (
        "Finishing in 9 min needs more than 8 nodes, your maximum. The fastest within it is "
        "6 nodes (Standard_D2s_v3, 2 files at once each), about 10 min.")


def test_without_prices_node_hours_stand_in_and_spot_is_not_used() -> None:
    unknown = VmPrice("standard_d2s_v3", "westeurope", problem="Price unknown: offline.")
    choice = choose(FIFTEEN_MIN, spot=True, prices=(unknown,))
    assert (choice.plan.dedicated_nodes, choice.plan.spot_nodes) == (3, 0)
    assert choice.estimate.cost is None
    assert choice.reason.endswith("the fewest node-hours that finish in about 14 min.")
    assert "Prices are unknown, so node-hours stand in for money." in choice.notes
    assert "Spot prices are unknown, so only dedicated nodes were considered." in choice.notes


def test_a_bigger_vm_size_is_chosen_when_offered_and_cheaper() -> None:
    # a 4-vCPU size at less than twice the price, converting twice as fast per node
    d4 = VmPrice("standard_d4s_v3", "westeurope", "USD", 0.2, 0.04,
                 fetched_at=datetime(2026, 11, 29, tzinfo=UTC))
    learned = Learned(pool_ready_s=LEARNED.pool_ready_s, upload_bps=LEARNED.upload_bps,
                      download_bps=LEARNED.download_bps,
                      node_speed={**LEARNED.node_speed, "standard_d4s_v3": Measure(80.0, 1)})
    choice = size_pool(TALKS, FIFTEEN_MIN, account="acct", learned=learned, max_nodes=10,
                       prices=[PRICE, d4], vm_sizes=("standard_d2s_v3", "standard_d4s_v3"))
    # the cheapest D4s v3 pool that makes it, 2 nodes (8 slots, 5 rounds: 752 s, billed
    # 804 s), costs 2 x 804 s x $0.20/h = $0.089; 3 x D2s v3 cost 3 x 869 s x $0.111/h = $0.080
    assert choice.plan.vm_size == "standard_d2s_v3" and choice.plan.dedicated_nodes == 3
    cheaper_d4 = VmPrice("standard_d4s_v3", "westeurope", "USD", 0.15, 0.03,
                         fetched_at=datetime(2026, 11, 29, tzinfo=UTC))
    choice = size_pool(TALKS, FIFTEEN_MIN, account="acct", learned=learned, max_nodes=10,
                       prices=[PRICE, cheaper_d4],
                       vm_sizes=("standard_d2s_v3", "standard_d4s_v3"))
    # at $0.15/h the same 2 x D4s v3 cost $0.067: cheaper, and sooner
    assert choice.plan.vm_size == "standard_d4s_v3" and choice.plan.slots_per_node == 4
    assert choice.plan.dedicated_nodes == 2
    assert "Standard_D4s_v3, 4 files at once each" in choice.reason
