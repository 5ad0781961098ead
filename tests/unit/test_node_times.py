"""The Azure monitor notes when each node came and when it left the pool (for node-minutes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from azure.batch import models as bm

from batchgui.core.billing import NodeRecord, node_minutes
from batchgui.targets.azure.config import AzureAccount, PoolSettings
from batchgui.targets.azure.monitor import Monitor
from batchgui.targets.azure.pools import PoolHealth

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def node(node_id: str, state: str, changed: timedelta = timedelta(0)) -> bm.BatchNode:
    return bm.BatchNode(id=node_id, state=state, is_dedicated=True, allocation_time=T0,
                        state_transition_time=T0 + changed, running_tasks_count=0)


def look(monitor: Monitor, *nodes: bm.BatchNode) -> None:
    monitor.node_views(None, "pool-1", PoolHealth(list(nodes)))  # type: ignore[arg-type]


def test_a_node_leaves_when_the_service_says_so_or_when_a_look_finds_it_gone() -> None:
    monitor = Monitor(AzureAccount("t", "https://x.westeurope.batch.azure.com", "x"),
                      PoolSettings(dedicated_nodes=2))
    look(monitor, node("a", "idle"), node("b", "running"))
    assert all(n["left_at"] is None for n in monitor.node_times.values())
    # the job ended: node a is leaving since 10:05 on the service's clock; b is gone
    look(monitor, node("a", "leavingpool", timedelta(minutes=5)))
    times = monitor.node_times
    assert times["a"]["left_at"] == (T0 + timedelta(minutes=5)).timestamp()
    gone_at = times["b"]["left_at"]
    assert isinstance(gone_at, float) and gone_at > T0.timestamp()
    look(monitor)  # the pool is gone: what was known stays
    assert times["a"]["left_at"] == (T0 + timedelta(minutes=5)).timestamp()
    assert times["b"]["left_at"] == gone_at
    records = [NodeRecord(n["node_id"], bool(n["is_spot"]), n["allocated_at"],  # type: ignore[arg-type]
                          n["left_at"]) for n in times.values()]  # type: ignore[arg-type]
    assert node_minutes(records[:1], gone_at).dedicated_minutes == 5


def test_a_node_a_look_missed_is_still_there() -> None:
    monitor = Monitor(AzureAccount("t", "https://x.westeurope.batch.azure.com", "x"),
                      PoolSettings(dedicated_nodes=1))
    look(monitor, node("a", "idle"))
    look(monitor)  # an answer without it
    look(monitor, node("a", "running"))
    assert monitor.node_times["a"]["left_at"] is None
