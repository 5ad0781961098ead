"""How long a run will take and what it will cost, before any work: pure arithmetic.

The model follows what the app does, with the figures core.learning measured:

- Azure: the pool starts while the files upload; tasks are added once every file is up
  and the pool is ready, so conversions start at max(pool ready, uploads done) plus the
  dispatch (adding the tasks, a node taking the first; learned per account). Conversion is a
  simulation of the queue: the actual file durations, longest first, over every slot of
  every node (dividing totals would miss the one long file that finishes last). A file
  holds its slot for the per-file overhead (learned per VM size), reading its input, and
  its media at the per-file speed. Each MP3 comes down as soon as its file is done, so
  only the last downloads add time at the end, then the run's wrap-up (noticing the last
  file, placing its MP3, cleaning up; learned per account).
- Slots share a node's cores: a node with c vCPUs running k files at once converts each
  at (node speed) / max(k, c). One MP3 encode uses one core, so k = c is the sweet spot:
  fewer leaves cores idle, more makes every file slower without adding throughput.
- Money is node-minutes counted as core.billing counts what a run used: each node from
  its allocation (learned per account: pressing Convert -> allocated; a running pool's
  nodes from pressing Convert) until it leaves the pool. A run's own pool goes with its
  job: when Azure ends the job after the last file (the release, learned per account) or
  when the app deletes it at the run's end, whichever is first. A kept or reused pool is
  counted to the end of the run (and costs on). List price per hour, dedicated or Spot.
  Storage and data transfer are named as small extras, never guessed.
- This computer: the same queue over its slots, plus its wrap-up; no money.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from batchgui.core.learning import (
    DEFAULT_OVERHEADS,
    FALLBACK_CORES,
    Learned,
    Measure,
    Overheads,
)
from batchgui.core.models import InputFile, Quality
from batchgui.core.vm_sizes import arm_sku_name, vm_cores
from batchgui.i18n import WHOLE_UNIT_CURRENCIES, _, money, tr, trn
from batchgui.i18n import day as format_day

#: Average bitrates of LAME's VBR levels V0..V9 in kbit/s (LAME's own usage notes).
VBR_KBPS = (245, 225, 190, 175, 165, 130, 115, 100, 85, 65)


def mp3_kbps(quality: Quality) -> float:
    """The MP3's average bitrate for a quality, to size the downloads."""
    if quality.cbr_kbps is not None:
        return float(quality.cbr_kbps)
    return float(VBR_KBPS[quality.vbr_level if quality.vbr_level is not None else 2])


# -- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileWork:
    media_s: float
    size: int  # bytes of the video


@dataclass(frozen=True)
class Workload:
    files: tuple[FileWork, ...]
    mp3_kbps: float = VBR_KBPS[2]

    @classmethod
    def from_inputs(cls, inputs: Iterable[InputFile], quality: Quality) -> Workload:
        """The files that will be converted (rejected ones are left out)."""
        return cls(tuple(FileWork(f.duration_s or 0.0, f.size) for f in inputs if f.ok),
                   mp3_kbps(quality))

    @property
    def media_s(self) -> float:
        return sum(f.media_s for f in self.files)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def mp3_bytes(self, f: FileWork) -> float:
        return f.media_s * self.mp3_kbps * 1000 / 8


@dataclass(frozen=True)
class LocalPlan:
    """This computer: `slots` files at once on `cores` vCPUs (os.cpu_count())."""

    slots: int
    cores: int


@dataclass(frozen=True)
class AzurePlan:
    """An Azure Batch pool as the run would use it."""

    account: str
    vm_size: str
    dedicated_nodes: int
    spot_nodes: int = 0
    slots_per_node: int = 1
    pool_exists: bool = False  # reused with its nodes up: no start-up time
    keep_pool: bool = False

    @property
    def nodes(self) -> int:
        return self.dedicated_nodes + self.spot_nodes


@dataclass(frozen=True)
class VmPrice:
    """List prices per node-hour of one VM size in one region, or why they are unknown."""

    vm_size: str
    region: str
    currency: str = "USD"
    dedicated_per_hour: float | None = None
    spot_per_hour: float | None = None
    low_priority_per_hour: float | None = None
    fetched_at: datetime | None = None  # when the price list was read
    saved_copy: bool = False  # the price list could not be read: these are the saved prices
    problem: str | None = None  # plain words (the user's language): why prices are missing or old

    @property
    def as_of(self) -> date | None:
        return self.fetched_at.date() if self.fetched_at else None

    def per_hour(self, spot: bool) -> float | None:
        return self.spot_per_hour if spot else self.dedicated_per_hour


# -- the result -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """Time and money before any work, with the plain sentence the user reads."""

    text: str
    seconds: float  # pressing Convert -> the last MP3 in place
    target_kind: str  # "local" or "azure"
    files: int
    media_s: float
    pool_ready_s: float = 0.0
    upload_s: float = 0.0
    conversion_s: float = 0.0  # first file starts -> last file converted
    download_tail_s: float = 0.0  # last file converted -> the run is over
    vm_size: str | None = None
    dedicated_nodes: int = 0
    spot_nodes: int = 0
    slots_per_node: int = 1
    node_minutes_dedicated: float = 0.0
    node_minutes_spot: float = 0.0
    cost: float | None = None  # at list price; None when the price is unknown
    currency: str = "USD"
    prices_of: date | None = None
    notes: tuple[str, ...] = field(default=())  # what it assumed, in whole sentences

    @property
    def node_minutes(self) -> float:
        return self.node_minutes_dedicated + self.node_minutes_spot

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, to keep beside the run's outcome."""
        return {
            "text": self.text, "seconds": round(self.seconds, 1), "target_kind": self.target_kind,
            "files": self.files, "media_s": round(self.media_s, 1),
            "pool_ready_s": round(self.pool_ready_s, 1), "upload_s": round(self.upload_s, 1),
            "conversion_s": round(self.conversion_s, 1),
            "download_tail_s": round(self.download_tail_s, 1), "vm_size": self.vm_size,
            "dedicated_nodes": self.dedicated_nodes, "spot_nodes": self.spot_nodes,
            "slots_per_node": self.slots_per_node,
            "node_minutes_dedicated": round(self.node_minutes_dedicated, 2),
            "node_minutes_spot": round(self.node_minutes_spot, 2),
            "cost": None if self.cost is None else round(self.cost, 4),
            "currency": self.currency,
            "prices_of": self.prices_of.isoformat() if self.prices_of else None,
        }


# -- wording ----------------------------------------------------------------------------------

def format_duration(seconds: float, *, about: bool = True) -> str:
    """'about 14 min', 'about 1 h 5 min', 'under a minute'; without `about`: '14 min'."""
    if seconds < 45:
        return _("under a minute")
    minutes = round(seconds / 60)
    if minutes < 60:
        return (tr("about {minutes} min", minutes=minutes) if about
                else tr("{minutes} min", minutes=minutes))
    hours, rest = divmod(5 * round(seconds / 300), 60)
    if rest == 0:
        return tr("about {hours} h", hours=hours) if about else tr("{hours} h", hours=hours)
    return (tr("about {hours} h {minutes} min", hours=hours, minutes=rest) if about
            else tr("{hours} h {minutes} min", hours=hours, minutes=rest))


def format_money(amount: float, currency: str) -> str:
    """$0.60, €1.20, 12.30 SEK, 95 JPY (in Swedish 0,60 US$, 12,30 kr ...)."""
    currency = currency.upper()
    if currency not in WHOLE_UNIT_CURRENCIES and 0 < amount < 0.01:
        return tr("less than {money}", money=money(0.01, currency))
    return money(amount, currency)


def about_money(amount: float, currency: str) -> str:
    """'about $0.60', or 'less than $0.01' (never 'about less than')."""
    if 0 < amount < 0.01 and currency.upper() not in WHOLE_UNIT_CURRENCIES:
        return format_money(amount, currency)
    return tr("about {money}", money=format_money(amount, currency))


def display_vm_size(vm_size: str) -> str:
    return arm_sku_name(vm_size)


def pool_words(dedicated: int, spot: int, slots: int) -> str:
    """'3 nodes × 2 files at once', '3 Spot nodes × 2 files at once', '1 dedicated + 2 Spot ...'."""
    return f"{node_words(dedicated, spot)} × {at_once_words(slots)}"


def node_words(dedicated: int, spot: int) -> str:
    """'3 nodes', '1 Spot node', '1 dedicated + 2 Spot nodes'."""
    if spot == 0:
        return trn("{n} node", "{n} nodes", dedicated)
    if dedicated == 0:
        return trn("{n} Spot node", "{n} Spot nodes", spot)
    return tr("{dedicated} dedicated + {spot} Spot nodes", dedicated=dedicated, spot=spot)


def at_once_words(slots: int) -> str:
    return trn("{n} file at once", "{n} files at once", slots)


def _basis(m: Measure, default_words: str) -> str:
    if m.learned:
        return trn("learned from {n} run", "learned from {n} runs", m.runs)
    return default_words


# -- the queue --------------------------------------------------------------------------------


def simulate_queue(times: Sequence[float], slots: int, *, longest_first: bool = True
                   ) -> list[float]:
    """When each job finishes (same order as `times`) on `slots` identical slots.

    Each free slot takes the next job: the longest waiting one with `longest_first`
    (what the app submits), else in the given order.
    """
    order = sorted(range(len(times)), key=lambda i: -times[i]) if longest_first \
        else list(range(len(times)))
    free: list[float] = [0.0] * max(1, slots)
    finish = [0.0] * len(times)
    for i in order:
        start = heapq.heappop(free)
        finish[i] = start + times[i]
        heapq.heappush(free, finish[i])
    return finish


def per_file_speed(node_speed: float, slots: int, cores: int) -> float:
    """Media seconds per second for one file when `slots` files share `cores` vCPUs."""
    return node_speed / max(slots, cores, 1)


# -- the estimates ----------------------------------------------------------------------------


def estimate(workload: Workload, plan: LocalPlan | AzurePlan, learned: Learned,
             price: VmPrice | None = None, overheads: Overheads = DEFAULT_OVERHEADS) -> Estimate:
    if isinstance(plan, LocalPlan):
        return estimate_local(workload, plan, learned, overheads)
    return estimate_azure(workload, plan, learned, price, overheads)


def estimate_local(workload: Workload, plan: LocalPlan, learned: Learned,
                   overheads: Overheads = DEFAULT_OVERHEADS) -> Estimate:
    slots, cores = max(1, plan.slots), max(1, plan.cores)
    speed = learned.computer_speed(cores)
    each = per_file_speed(speed.value, slots, cores)
    overhead = learned.computer_task_overhead(overheads)
    times = [overhead.value + f.media_s / each for f in workload.files]
    converting = max(simulate_queue(times, slots), default=0.0)
    wrap_up = learned.computer_wrap_up(overheads).value if workload.files else 0.0
    total = converting + wrap_up
    notes = [
        tr("This computer converts about {x:.0f}× realtime per file ({basis}).",
           x=each, basis=_basis(speed, _("a cautious default until the first run"))),
        tr("Each file takes {s:.1f} s more to start and finish ({basis}).",
           s=overhead.value, basis=_basis(overhead, _("a default until a run measures it")))
        if overhead.value >= 0.05 else
        tr("Each file takes under 0.1 s more to start and finish ({basis}).",
           basis=_basis(overhead, _("a default until a run measures it"))),
    ]
    if slots > cores:
        notes.append(tr("{slots} files at once on {cores} cores share the cores, so each file "
                        "converts more slowly.", slots=slots, cores=cores))
    if not workload.files:
        text = _("Nothing to convert.")
    else:
        text = tr("{time} on this computer ({at_once})", time=format_duration(total),
                  at_once=at_once_words(slots))
    return Estimate(text=text, seconds=total, target_kind="local", files=len(workload.files),
                    media_s=workload.media_s, conversion_s=converting,
                    download_tail_s=wrap_up, slots_per_node=slots, notes=tuple(notes))


@dataclass(frozen=True)
class Timeline:
    """When each phase of an Azure run ends, in seconds from pressing Convert."""

    pool_ready_s: float
    upload_s: float
    start_s: float
    converted_s: float  # the last file converted
    total_s: float
    billed_s: float  # how long each node is billed
    nodes_from_s: float = 0.0  # when the nodes are allocated (billing starts)
    nodes_until_s: float = 0.0  # when they leave the pool (or the run ends)


def azure_timeline(workload: Workload, plan: AzurePlan, learned: Learned,
                   overheads: Overheads = DEFAULT_OVERHEADS) -> Timeline:
    cores = vm_cores(plan.vm_size) or FALLBACK_CORES
    slots = max(1, plan.slots_per_node)
    each = per_file_speed(learned.vm_speed(plan.vm_size).value, slots, cores)
    overhead = learned.vm_task_overhead(plan.vm_size, overheads).value
    ready = 0.0 if plan.pool_exists else learned.pool_ready(plan.account).value
    upload = workload.size / learned.upload_bps.value
    start = max(ready, upload) + learned.dispatch(plan.account, overheads).value
    times = [overhead + f.size / overheads.node_fetch_bps + f.media_s / each
             for f in workload.files]
    finish = simulate_queue(times, slots * max(1, plan.nodes))
    down = learned.download_bps.value
    downloaded = max((t + workload.mp3_bytes(f) / down
                      for t, f in zip(finish, workload.files, strict=True)), default=0.0)
    converted = start + max(finish, default=0.0)
    total = start + downloaded + learned.wrap_up(plan.account, overheads).value \
        if workload.files else 0.0
    own_pool = not plan.pool_exists and not plan.keep_pool  # it ends with the run's job
    if own_pool:
        until = min(total, converted + learned.release(plan.account, overheads).value)
    else:
        until = total
    since = 0.0 if plan.pool_exists else min(learned.node_allocated(plan.account).value, ready)
    billed = max(0.0, until - since) if workload.files else 0.0
    return Timeline(ready, upload, start, converted, total, billed, since, until)


def estimate_azure(workload: Workload, plan: AzurePlan, learned: Learned,
                   price: VmPrice | None = None, overheads: Overheads = DEFAULT_OVERHEADS
                   ) -> Estimate:
    line = azure_timeline(workload, plan, learned, overheads)
    vm = display_vm_size(plan.vm_size)
    slots = max(1, plan.slots_per_node)
    minutes = line.billed_s / 60
    ded_min, spot_min = plan.dedicated_nodes * minutes, plan.spot_nodes * minutes
    cost = list_price_cost(ded_min, spot_min, price)
    currency = price.currency if price else "USD"
    details = f"{vm}, {pool_words(plan.dedicated_nodes, plan.spot_nodes, slots)}"
    if not workload.files:
        text = _("Nothing to convert.")
    elif cost is not None and price is not None and price.as_of is not None:
        text = tr("{time}, {money} at list price ({details}, prices of {day})",
                  time=format_duration(line.total_s), money=about_money(cost, currency),
                  details=details, day=format_day(price.as_of))
    else:
        text = tr("{time}, price unknown ({details})", time=format_duration(line.total_s),
                  details=details)
    notes = _azure_notes(workload, plan, learned, price, line, cost is not None)
    return Estimate(
        text=text, seconds=line.total_s, target_kind="azure", files=len(workload.files),
        media_s=workload.media_s, pool_ready_s=line.pool_ready_s, upload_s=line.upload_s,
        conversion_s=line.converted_s - line.start_s,
        download_tail_s=line.total_s - line.converted_s, vm_size=plan.vm_size,
        dedicated_nodes=plan.dedicated_nodes, spot_nodes=plan.spot_nodes,
        slots_per_node=slots, node_minutes_dedicated=ded_min, node_minutes_spot=spot_min,
        cost=cost, currency=currency, prices_of=price.as_of if price else None,
        notes=tuple(notes),
    )


def list_price_cost(dedicated_minutes: float, spot_minutes: float, price: VmPrice | None
                    ) -> float | None:
    """Node-minutes at list price; None when a price that is needed is unknown."""
    if price is None:
        return None
    total = 0.0
    for minutes, spot in ((dedicated_minutes, False), (spot_minutes, True)):
        if minutes <= 0:
            continue
        per_hour = price.per_hour(spot)
        if per_hour is None:
            return None
        total += minutes / 60 * per_hour
    return total


def _azure_notes(workload: Workload, plan: AzurePlan, learned: Learned, price: VmPrice | None,
                 line: Timeline, priced: bool) -> list[str]:
    notes: list[str] = []
    if plan.pool_exists:
        notes.append(_("The pool is already running, so no time is spent starting it."))
    else:
        notes.append(tr("Starting the pool and installing ffmpeg on its nodes: {time} "
                        "({basis}); the files upload meanwhile.",
                        time=format_duration(line.pool_ready_s),
                        basis=_basis(learned.pool_ready(plan.account),
                                     _("a default until the first run on this account"))))
    notes.append(tr("Uploading {mb:.0f} MB at {rate:.1f} MB/s ({basis}).",
                    mb=workload.size / 1e6, rate=learned.upload_bps.value / 1e6,
                    basis=_basis(learned.upload_bps,
                                 _("a cautious default until the first run"))))
    cores = vm_cores(plan.vm_size) or FALLBACK_CORES
    slots = max(1, plan.slots_per_node)
    speed = learned.vm_speed(plan.vm_size)
    notes.append(tr("Each node converts about {x:.0f}× realtime per file ({basis}).",
                    x=per_file_speed(speed.value, slots, cores),
                    basis=_basis(speed,
                                 _("a cautious default until the first run on this VM size"))))
    if slots > cores:
        notes.append(tr("{slots} files at once on {cores} vCPUs share the cores, so each file "
                        "converts more slowly.", slots=slots, cores=cores))
    overhead = learned.vm_task_overhead(plan.vm_size)
    notes.append(tr("Each file takes {s:.1f} s more on a node to start, read and write back "
                    "({basis}).", s=overhead.value, basis=_basis(
                        overhead, _("a default until a run on this VM size measures it"))))
    if plan.pool_exists or plan.keep_pool:
        notes.append(_("Counted as Azure bills: every node from its start (or from now, for a "
                       "running pool) to the end of the run, idle time included."))
    else:
        notes.append(tr("Counted as Azure bills: every node from its start until it leaves the "
                        "pool after the last file ({basis}), idle time included; Azure may "
                        "bill a little more while it shuts a node down.", basis=_basis(
                            learned.release(plan.account),
                            _("a default until the app sees a pool of this account go"))))
    notes.append(_("Storage and data transfer cost a little extra and are not included."))
    if plan.spot_nodes:
        notes.append(_("Spot nodes cost less, but Azure can take them back at any time; their "
                       "files then start again on another node, which adds time."))
    if price is not None and price.problem:
        notes.append(price.problem)
    elif price is None:
        notes.append(_("Price unknown: no price list was given for this VM size."))
    if plan.keep_pool and price is not None and priced:
        hourly = list_price_cost(plan.dedicated_nodes * 60, plan.spot_nodes * 60, price)
        if hourly is not None:
            notes.append(tr("The pool stays after the run and costs {money} per hour "
                            "until you delete it.", money=about_money(hourly, price.currency)))
    return notes
