"""What a run really used: node-minutes from the service's node times, and their list price.

Azure bills a Batch node while it is in the pool, start-up and idle time included. What
is counted here, and what the estimate (core.estimate `azure_timeline`) predicts, is the
same span for every node of the run's pool:

    from its allocation (the service's allocationTime; for a pool that was already
    running, from the run's start)
    until it left the pool: the moment the app saw it leaving (the service's time of
    its change to leavingpool) or saw it gone; for a node still in the pool at the
    app's last look, the end of the run. A run's own (auto) pool goes with its job, and
    the run's cleanup deletes the job, so the end of the run is when such a node
    leaves at the latest; a kept pool stays and costs on after the run.

Not counted, by either: the time Azure may take to shut a node down after it left the
pool (the app cannot see it), and anything before the run for a reused pool.

The caller turns what the service reported for the nodes of the run's pool into plain
`NodeRecord`s; a node seen more than once (a Spot node that came back after preemption,
or the same node at several looks) is counted once per stretch of time. Times come from
the service's clock (allocation, leaving) and this computer's (the run's start and end,
a node seen gone); a skew of a second between them does not matter at node-minutes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from batchgui.core.estimate import VmPrice, about_money, list_price_cost
from batchgui.i18n import _, day, tr, trn


@dataclass(frozen=True)
class NodeRecord:
    """One node of the run's pool; times are datetimes or time.time() seconds."""

    node_id: str
    is_spot: bool
    allocated_at: datetime | float
    left_at: datetime | float | None = None  # None: still in the pool at the last look


@dataclass(frozen=True)
class NodeUsage:
    dedicated_minutes: float = 0.0
    spot_minutes: float = 0.0
    nodes: int = 0

    @property
    def minutes(self) -> float:
        return self.dedicated_minutes + self.spot_minutes


def timestamp(moment: datetime | float) -> float:
    """time.time() seconds of a datetime or a number."""
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)


def node_minutes(nodes: Iterable[NodeRecord], run_ended_at: datetime | float,
                 run_started_at: datetime | float | None = None) -> NodeUsage:
    """Billed node-minutes of a run's pool, dedicated and Spot apart (see the module doc)."""
    end_of_run = timestamp(run_ended_at)
    since = timestamp(run_started_at) if run_started_at is not None else -math.inf
    stretches: dict[tuple[str, bool], list[tuple[float, float]]] = {}
    for node in nodes:
        start = max(timestamp(node.allocated_at), since)
        end = timestamp(node.left_at) if node.left_at is not None else end_of_run
        if end > start:
            stretches.setdefault((node.node_id, node.is_spot), []).append((start, end))
    minutes = {False: 0.0, True: 0.0}
    for (_node_id, spot), spans in stretches.items():
        spans.sort()
        merged_start, merged_end = spans[0]
        for start, end in spans[1:]:
            if start > merged_end:  # a gap: the node was away (e.g. preempted)
                minutes[spot] += (merged_end - merged_start) / 60
                merged_start = start
            merged_end = max(merged_end, end)
        minutes[spot] += (merged_end - merged_start) / 60
    return NodeUsage(minutes[False], minutes[True], len({k[0] for k in stretches}))


def run_cost(usage: NodeUsage, price: VmPrice | None) -> float | None:
    """The node-minutes at list price; None when a price that is needed is unknown."""
    return list_price_cost(usage.dedicated_minutes, usage.spot_minutes, price)


def node_minutes_words(minutes: float) -> str:
    """'30 node-minutes', '1 node-minute', 'less than 1 node-minute' (never '0' for a run
    whose nodes were up a few seconds)."""
    whole = round(minutes)
    if whole < 1 and minutes > 0:
        return _("less than 1 node-minute")
    return trn("{n} node-minute", "{n} node-minutes", whole)


def usage_text(usage: NodeUsage, price: VmPrice | None) -> str:
    """'42 node-minutes, about $0.07 at list price (prices of 2026-11-29)'."""
    used = node_minutes_words(usage.minutes)
    cost = run_cost(usage, price)
    if cost is None or price is None or price.as_of is None:
        return tr("{used}, price unknown", used=used)
    return tr("{used}, {money} at list price (prices of {day})", used=used,
              money=about_money(cost, price.currency), day=day(price.as_of))
