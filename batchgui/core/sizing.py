"""Choose the pool for people who don't know node counts: "Finish by" or "Cheapest".

Every candidate pool (each VM size offered, 1..max nodes, each dedicated/Spot split) runs
one file per vCPU (see core.estimate on why) and is timed and priced with the same model
as the estimate. Assumptions, all said to the user:

- Spot nodes only when the user allows them. Azure can take them back at any time and
  their files start again elsewhere, so a deadline met with Spot nodes must be met with
  room to spare: up to 15 % for an all-Spot pool, in proportion to the Spot share.
- "Cheapest": pools within 5 % of the lowest list price count as equally cheap; the
  fastest of those is chosen (nobody minds a cent to finish an hour earlier).
- Without prices, node-hours stand in for money and only dedicated nodes are used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from batchgui.core.estimate import (
    AzurePlan,
    Estimate,
    VmPrice,
    Workload,
    about_money,
    azure_timeline,
    display_vm_size,
    estimate_azure,
    format_duration,
    list_price_cost,
    node_words,
)
from batchgui.core.learning import DEFAULT_OVERHEADS, FALLBACK_CORES, Learned, Overheads
from batchgui.core.vm_sizes import DEFAULT_VM_SIZE, normal_vm_size, vm_cores
from batchgui.i18n import _, tr, trn

CHEAP_ENOUGH = 1.05  # within 5 % of the lowest price counts as equally cheap


@dataclass(frozen=True)
class FinishBy:
    """Finish within this many seconds of pressing Convert."""

    seconds: float


@dataclass(frozen=True)
class Cheapest:
    """The lowest list price, however long it takes."""


Goal = FinishBy | Cheapest


@dataclass(frozen=True)
class PoolChoice:
    """The pool the app chose, its estimate, and why, in the user's words."""

    plan: AzurePlan
    estimate: Estimate
    goal_met: bool
    reason: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Candidate:
    vm_size: str
    dedicated: int
    spot: int
    slots: int
    seconds: float
    billed_s: float
    floor_s: float  # what no number of nodes can shorten: pool start, upload, longest file
    cost: float | None
    pool_ready_s: float = 0.0
    upload_s: float = 0.0

    @property
    def nodes(self) -> int:
        return self.dedicated + self.spot

    def padded_seconds(self, margin: float) -> float:
        """The time a deadline is checked against: Spot nodes need room to spare."""
        return self.seconds * (1 + (margin - 1) * self.spot / self.nodes)

    @property
    def node_minutes(self) -> float:
        return self.nodes * self.billed_s / 60

    def money_key(self) -> float:
        return self.cost if self.cost is not None else self.node_minutes


def _words(c: _Candidate) -> str:
    """'3 Spot nodes (Standard_D2s_v3, 2 files at once each)'."""
    return trn("{nodes} ({vm}, {n} file at once each)", "{nodes} ({vm}, {n} files at once each)",
               c.slots, nodes=node_words(c.dedicated, c.spot), vm=display_vm_size(c.vm_size))


def _candidates(workload: Workload, account: str, learned: Learned,
                prices: dict[str, VmPrice], vm_sizes: Sequence[str], max_nodes: int,
                allow_spot: bool, keep_pool: bool, overheads: Overheads) -> list[_Candidate]:
    out: list[_Candidate] = []
    for vm in vm_sizes:
        slots = vm_cores(vm) or FALLBACK_CORES
        price = prices.get(normal_vm_size(vm))
        spot_ok = allow_spot and price is not None and price.spot_per_hour is not None
        # a slot for every file: what no number of nodes can shorten
        floor = azure_timeline(workload, AzurePlan(account, vm, max(1, len(workload.files)), 0,
                                                   1), learned, overheads).total_s
        for n in range(1, max_nodes + 1):
            line = azure_timeline(workload, AzurePlan(account, vm, n, 0, slots,
                                                      keep_pool=keep_pool), learned, overheads)
            for spot in range(n + 1) if spot_ok else (0,):
                cost = list_price_cost((n - spot) * line.billed_s / 60,
                                       spot * line.billed_s / 60, price)
                out.append(_Candidate(vm, n - spot, spot, slots, line.total_s, line.billed_s,
                                      floor, cost, line.pool_ready_s, line.upload_s))
    return out


def size_pool(
    workload: Workload,
    goal: Goal,
    *,
    account: str,
    learned: Learned,
    max_nodes: int,
    prices: Iterable[VmPrice] = (),
    vm_sizes: Sequence[str] = (DEFAULT_VM_SIZE,),
    allow_spot: bool = False,
    keep_pool: bool = False,
    overheads: Overheads = DEFAULT_OVERHEADS,
) -> PoolChoice:
    """The pool that meets `goal` within `max_nodes`, or the best it can do, and why."""
    by_size = {normal_vm_size(p.vm_size): p for p in prices}
    cands = _candidates(workload, account, learned, by_size, vm_sizes or (DEFAULT_VM_SIZE,),
                        max(1, max_nodes), allow_spot, keep_pool, overheads)
    priced = any(c.cost is not None for c in cands)
    if priced:  # compare money with money; sizes without a price drop out
        cands = [c for c in cands if c.cost is not None]
    margin = overheads.spot_margin
    if isinstance(goal, FinishBy):
        fit = [c for c in cands if c.padded_seconds(margin) <= goal.seconds]
        if fit:
            best = min(fit, key=lambda c: (c.money_key(), c.seconds, c.nodes))
            goal_met = True
            pool, time = _words(best), format_duration(best.seconds)
            reason = (tr("{pool}: the cheapest way to finish in {time}.", pool=pool, time=time)
                      if priced else
                      tr("{pool}: the fewest node-hours that finish in {time}.", pool=pool,
                         time=time))
        else:
            # the best it can do: the soonest finish, Spot's risk counted, then the cheapest
            fastest = min(c.padded_seconds(margin) for c in cands)
            best = min((c for c in cands if c.padded_seconds(margin) <= fastest * 1.01),
                       key=lambda c: (c.money_key(), c.nodes))
            goal_met = False
            reason = _why_not(goal, best, max_nodes)
    else:
        lowest = min(c.money_key() for c in cands)
        best = min((c for c in cands if c.money_key() <= lowest * CHEAP_ENOUGH),
                   key=lambda c: (c.seconds, c.money_key()))
        goal_met = True
        currency = next(iter(by_size.values())).currency if by_size else "USD"
        pool, time = _words(best), format_duration(best.seconds)
        if priced and best.cost is not None:
            reason = tr("{pool}: the lowest list price, {money}, done in {time}.", pool=pool,
                        money=about_money(best.cost, currency), time=time)
        else:
            reason = tr("{pool}: the fewest node-hours, done in {time}.", pool=pool, time=time)
    plan = AzurePlan(account, best.vm_size, best.dedicated, best.spot, best.slots,
                     keep_pool=keep_pool)
    chosen = estimate_azure(workload, plan, learned, by_size.get(normal_vm_size(best.vm_size)),
                            overheads)
    return PoolChoice(plan, chosen, goal_met, reason,
                      tuple(_assumptions(allow_spot, priced, by_size, goal, margin)))


def _why_not(goal: FinishBy, best: _Candidate, max_nodes: int) -> str:
    wanted = format_duration(goal.seconds, about=False)
    fastest = f"{_words(best)}, {format_duration(best.seconds)}"
    if best.upload_s >= max(goal.seconds, best.pool_ready_s):
        return tr("Finishing in {wanted} is not possible: uploading the files alone takes "
                  "{time}. The fastest is {fastest}.", wanted=wanted,
                  time=format_duration(best.upload_s), fastest=fastest)
    if best.pool_ready_s >= goal.seconds:
        return tr("Finishing in {wanted} is not possible: starting the pool alone takes "
                  "{time}. The fastest is {fastest}.", wanted=wanted,
                  time=format_duration(best.pool_ready_s), fastest=fastest)
    if best.floor_s > goal.seconds:
        return tr("Finishing in {wanted} is not possible: starting the pool, uploading and the "
                  "longest file alone take {time}. The fastest is {fastest}.", wanted=wanted,
                  time=format_duration(best.floor_s), fastest=fastest)
    return trn("Finishing in {wanted} needs more than {n} node, your maximum. The fastest "
               "within it is {fastest}.", "Finishing in {wanted} needs more than {n} nodes, "
               "your maximum. The fastest within it is {fastest}.", max_nodes, wanted=wanted,
               fastest=fastest)


def _assumptions(allow_spot: bool, priced: bool, prices: dict[str, VmPrice],
                 goal: Goal, margin: float) -> list[str]:
    notes: list[str] = []
    if not allow_spot:
        notes.append(_("Only dedicated nodes: Spot nodes cost less, but Azure can take them "
                       "back at any time. Allow them in the account's settings to use them."))
    elif any(p.spot_per_hour is None for p in prices.values()) or not prices:
        notes.append(_("Spot prices are unknown, so only dedicated nodes were considered."))
    else:
        notes.append(tr("Spot nodes are used because you allowed them. Azure can take them back "
                        "at any time, which adds time, so a deadline met with Spot nodes keeps "
                        "up to {spare:.0%} spare time for that.", spare=margin - 1))
    if not priced:
        notes.append(_("Prices are unknown, so node-hours stand in for money."))
    if isinstance(goal, Cheapest):
        notes.append(tr("Pools within {share:.0%} of the lowest price count as equally cheap; "
                        "the fastest of those is chosen.", share=CHEAP_ENOUGH - 1))
    return notes
