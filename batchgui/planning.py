"""Time and money before a run, what it really cost after, and what the estimator learns.

The glue between the estimator (core.estimate, core.sizing, core.learning, core.billing),
the price list (targets.azure.prices) and the journal, shared by the CLI and the window.
Blocking (the price list may be fetched): call it on a worker thread.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import statistics
from dataclasses import dataclass
from typing import Any

from batchgui.core.estimate import (
    AzurePlan,
    Estimate,
    LocalPlan,
    VmPrice,
    Workload,
    about_money,
    estimate,
    format_duration,
)
from batchgui.core.journal import Journal, RunRow
from batchgui.core.learning import Learned, RunOutcome, learn
from batchgui.core.models import RunResult, RunSpec
from batchgui.core.sizing import Cheapest, FinishBy, PoolChoice, size_pool
from batchgui.core.target import Target, TargetError
from batchgui.i18n import Reason, _, tr, why

log = logging.getLogger(__name__)

LEARNED_KEY = "estimator"


def learned(journal: Journal) -> Learned:
    return Learned.from_dict(journal.learned(LEARNED_KEY) or {})


def _is_azure(target: Target) -> bool:
    return hasattr(target, "account") and hasattr(target, "pool")


def account_key(target: Target) -> str | None:
    """What the estimator learns per account by: the Batch URL (stays when renamed)."""
    return str(target.account.batch_url) if _is_azure(target) else None  # type: ignore[attr-defined]


def plan_for(target: Target) -> LocalPlan | AzurePlan:
    if _is_azure(target):
        pool = target.pool  # type: ignore[attr-defined]
        return AzurePlan(account=account_key(target) or "", vm_size=pool.vm_size,
                         dedicated_nodes=pool.dedicated_nodes, spot_nodes=pool.spot_nodes,
                         slots_per_node=pool.slots_per_node, keep_pool=pool.keep_pool)
    return LocalPlan(slots=target.parallelism, cores=os.cpu_count() or 1)


def price_for(target: Target, location: str | None = None) -> VmPrice | None:
    """The VM's list price in the account's region (None on this computer)."""
    if not _is_azure(target):
        return None
    from batchgui.targets.azure.prices import RetailPrices, region_from_batch_url

    account = target.account  # type: ignore[attr-defined]
    region = location or getattr(account, "region", None) or region_from_batch_url(
        account.batch_url)
    vm_size = target.pool.vm_size  # type: ignore[attr-defined]
    if not region:
        return VmPrice(vm_size=vm_size, region="", problem=_(
            "price unknown: the Batch account's address does not show its region; set the "
            "account's region (or --location REGION)"))
    currency = getattr(account, "currency", None) or "USD"
    return RetailPrices().vm_price(vm_size, region, currency)


def estimate_run(spec: RunSpec, target: Target, journal: Journal,
                 location: str | None = None) -> Estimate:
    workload = Workload.from_inputs(spec.inputs, spec.quality)
    return estimate(workload, plan_for(target), learned(journal), price_for(target, location))


# -- "finish in about N minutes" / "cheapest": BatchGUI sizes the pool --------------------------


@dataclass(frozen=True)
class Sizing:
    """BatchGUI chooses the pool's nodes: to finish in about `goal`'s time, or cheapest."""

    goal: FinishBy | Cheapest
    max_nodes: int = 10
    allow_spot: bool = False


def profile_sizing(target_name: str) -> Sizing | None:
    """The sizing an account profile asks for, or None (this computer, the AZURE_*
    variables, or a profile whose nodes the user chooses). Reads no keys."""
    if target_name in ("local", "this-computer", "azure"):
        return None
    from batchgui import accounts

    try:
        profile = accounts.get_profile(target_name)
    except accounts.AccountsError:
        return None
    if profile.pool_size == accounts.POOL_SIZE_FINISH_IN:
        goal: FinishBy | Cheapest = FinishBy(profile.finish_in_minutes * 60.0)
    elif profile.pool_size == accounts.POOL_SIZE_CHEAPEST:
        goal = Cheapest()
    else:
        return None
    return Sizing(goal, max(1, profile.max_nodes), profile.allow_spot)


def sized_target(spec: RunSpec, target: Target, journal: Journal, sizing: Sizing,
                 location: str | None = None) -> tuple[Target, PoolChoice]:
    """The Azure target with the pool BatchGUI chose for this run, and why it chose it.

    The VM size, slots' start task and keep-pool choice stay the user's; the node counts
    and files at once per node are chosen (core.sizing). Blocking (prices): a worker thread.
    """
    from batchgui.targets import registry

    if not _is_azure(target):
        raise TargetError(why("not_azure", "Only an Azure Batch pool can be sized."))
    pool = target.pool  # type: ignore[attr-defined]
    price = price_for(target, location)
    choice = size_pool(Workload.from_inputs(spec.inputs, spec.quality), sizing.goal,
                       account=account_key(target) or "", learned=learned(journal),
                       max_nodes=sizing.max_nodes, prices=[price] if price else [],
                       vm_sizes=(pool.vm_size,), allow_spot=sizing.allow_spot,
                       keep_pool=pool.keep_pool)
    plan = choice.plan
    chosen = dataclasses.replace(pool, vm_size=plan.vm_size,
                                 dedicated_nodes=plan.dedicated_nodes,
                                 spot_nodes=plan.spot_nodes, slots_per_node=plan.slots_per_node)
    return registry.make_azure_target(target.account, chosen), choice  # type: ignore[attr-defined]


def target_for_estimate(target_name: str) -> Target:
    """The target a run on `target_name` would use, for an estimate only: an account
    profile's pool and region without its keys (no keyring, no sign-in, no network)."""
    from batchgui.targets import registry

    if target_name in ("local", "this-computer", "azure"):
        return registry.make_target(target_name, None)
    from batchgui import accounts

    try:
        profile = accounts.get_profile(target_name)
    except accounts.AccountsError as exc:
        raise TargetError(Reason("account_unusable", str(exc))) from None
    return registry.make_azure_target(accounts.account_from(profile, accounts.Secrets()),
                                      profile.pool)


@dataclass(frozen=True)
class Preview:
    """What the window shows next to Convert: the estimate, and the pool it would use."""

    estimate: Estimate
    choice: PoolChoice | None = None  # when BatchGUI sizes the pool: what it chose and why

    @property
    def text(self) -> str:
        """'about 14 min, about $0.60 at list price' (short: the details are in `details`)."""
        return short_text(self.estimate)

    @property
    def details(self) -> str:
        lines = [self.estimate.text]
        if self.choice is not None:
            lines.append(tr("Pool: {note}", note=self.choice.reason))
            lines += list(self.choice.notes)
        lines += list(self.estimate.notes)
        return "\n".join(lines)


def short_text(guess: Estimate) -> str:
    """The estimate in a few words: time, and on Azure the cost at list price."""
    if not guess.files:
        return ""
    time = format_duration(guess.seconds)
    if guess.target_kind == "local":
        return tr("{time} on this computer", time=time)
    if guess.cost is None:
        return tr("{time}, price unknown", time=time)
    return tr("{time}, {money} at list price", time=time,
              money=about_money(guess.cost, guess.currency))


def preview(spec: RunSpec, target_name: str, journal: Journal) -> Preview:
    """The estimate for a run the window would start now, with the profile's pool sizing.

    Blocking (the journal, the price list): call it on a worker thread.
    """
    target = target_for_estimate(target_name)
    sizing = profile_sizing(target_name)
    if sizing is not None:
        target, choice = sized_target(spec, target, journal, sizing)
        return Preview(choice.estimate, choice)
    return Preview(estimate_run(spec, target, journal))


@dataclass(frozen=True)
class RunFigures:
    """A finished run's line in `batchgui runs`."""

    run_id: str
    state: str
    target: str
    files: int
    converted: int
    seconds: float | None
    node_minutes: float | None
    cost: float | None
    currency: str
    estimate: str | None


def record_outcome(journal: Journal, run_id: str, target: Target, result: RunResult,
                   measured: dict[str, Any], price: VmPrice | None = None) -> RunOutcome:
    """Store what the run measured and cost beside its estimate, and learn from it.

    Node-minutes are counted as core.billing says (each node from its allocation until
    it left the pool, or the run's end); from the same node times come when the run's own
    nodes were allocated and, when the app saw them leave, how long after the last file.
    """
    from batchgui.core.billing import NodeRecord, node_minutes, run_cost, timestamp

    facts = target.facts()
    pool = getattr(target, "pool", None)
    started_at = measured.get("started_at")
    ended_at = measured.get("ended_at") or 0.0
    nodes = [NodeRecord(n["node_id"], bool(n["is_spot"]), n["allocated_at"], n.get("left_at"))
             for n in facts.get("nodes") or []]
    usage_minutes: float | None = None
    cost: float | None = None
    if nodes:
        usage = node_minutes(nodes, ended_at, run_started_at=started_at)
        usage_minutes = usage.minutes
        cost = run_cost(usage, price)
    created = bool(facts.get("pool_created", False))
    auto_pool = pool is not None and not pool.keep_pool
    last_end = measured.get("last_end_s")
    allocated: list[float] = []
    left: list[float] = []
    if started_at is not None:
        allocated = [timestamp(n.allocated_at) - started_at for n in nodes if created]
        if last_end is not None and auto_pool:
            left = [timestamp(n.left_at) - (started_at + last_end) for n in nodes
                    if n.left_at is not None]
    outcome = RunOutcome(
        target_kind="azure" if _is_azure(target) else "local",
        account=account_key(target),
        vm_size=pool.vm_size if pool is not None else None,
        slots_per_node=pool.slots_per_node if pool is not None else target.parallelism,
        dedicated_nodes=pool.dedicated_nodes if pool is not None else 0,
        spot_nodes=pool.spot_nodes if pool is not None else 0,
        cores_per_node=None if pool is not None else (os.cpu_count() or 1),
        files_converted=measured.get("files_converted", 0),
        media_seconds=measured.get("media_seconds", 0.0),
        conversion_seconds=measured.get("conversion_seconds", 0.0),
        bytes_uploaded=measured.get("bytes_uploaded", 0),
        upload_seconds=measured.get("upload_seconds", 0.0),
        bytes_downloaded=measured.get("bytes_downloaded", 0),
        download_seconds=measured.get("download_seconds", 0.0),
        pool_created=created,
        pool_ready_seconds=facts.get("pool_ready_s"),
        node_minutes=usage_minutes,
        cost=cost,
        cancelled=result.cancelled,
        file_samples=tuple(tuple(s) for s in measured.get("file_samples", ())),  # type: ignore[misc]
        slot_gap_s=measured.get("slot_gap_s"),
        first_start_s=measured.get("first_start_s"),
        last_end_s=last_end,
        run_seconds=measured.get("seconds"),
        last_mp3_bytes=measured.get("last_mp3_bytes", 0),
        auto_pool=auto_pool,
        nodes_allocated_s=statistics.median(allocated) if allocated else None,
        release_seconds=statistics.median(left) if left else None,
    )
    journal.update_stats(run_id, {
        "outcome": outcome.to_dict(),
        "seconds": measured.get("seconds"),
        "currency": price.currency if price is not None else "USD",
        "prices_of": price.as_of.isoformat() if price is not None and price.as_of else None,
    })
    journal.set_learned(LEARNED_KEY, learn(learned(journal), outcome).to_dict())
    return outcome


def past_runs(journal: Journal) -> list[RunFigures]:
    """Every run in the journal, newest first, with what it converted and cost."""
    out = []
    for run in reversed(journal.runs()):
        out.append(_figures(journal, run))
    return out


def _figures(journal: Journal, run: RunRow) -> RunFigures:
    files = journal.files(run.run_id)
    outcome = run.stats.get("outcome") or {}
    estimate_text = (run.stats.get("estimate") or {}).get("text")
    return RunFigures(
        run_id=run.run_id, state=run.state, target=run.target, files=len(files),
        converted=sum(1 for f in files if f.status == "done"),
        seconds=run.stats.get("seconds"), node_minutes=outcome.get("node_minutes"),
        cost=outcome.get("cost"), currency=run.stats.get("currency") or "USD",
        estimate=estimate_text,
    )
