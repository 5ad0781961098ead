"""What past runs taught the estimator, and how one more run changes it.

Every figure starts from a stated default and moves toward what runs measure. The rule
is a running mean for the first runs (each run counts the same, so one odd run does not
decide) that turns into an exponentially weighted mean once the newest run's weight would
drop below 0.3: pools, networks and the hardware behind a VM size change over months, and
a plain mean would stop following them. The first measurement replaces the default
outright: a guess never outweighs a measurement.

What is learned, and from what (core.file_times has the per-file part):

- per Batch account: the pool's start (its creation -> the app saw a node ready), the
  dispatch (the pool ready and the files up -> the first file converting), when the
  run's nodes are allocated (pressing Convert -> allocation: billing starts), their
  release (the last file converted -> the app saw the auto pool's nodes leave), and the
  wrap-up (the last file converted and its MP3 downloaded -> the run is over: noticing
  it, checking and placing the MP3, cleaning up);
- upload and download rates;
- per VM size, and for this computer: the conversion speed and the per-file overhead,
  from each file's own task time against its media length (seconds = overhead + media /
  speed, fitted when the run's files differ enough in length), plus the slot's wait
  between files; this computer's wrap-up is all of a run's time outside converting.

Robustness: cancelled runs teach nothing (their timeline is cut short). Runs with less
than `MIN_MEDIA_S` of media teach no speed, and the per-file overhead needs a line through
at least 6 files of different lengths. Once a figure is measured, a run's weight shrinks
with how little it saw: per-file figures count in proportion to the files behind them
(full weight from `FULL_EVIDENCE_FILES`). Once a figure stands on two runs, a new
measurement more than three times off is first clipped to three times (plus a few seconds
for durations), so one odd run moves a figure by at most about 1.6x, and a real change is
followed over a few runs.

Plain data only: `Learned` round-trips through a JSON-able dict (the journal keeps it),
older records load with defaults for what they lack; `RunOutcome` is filled by the
caller from the run after each run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from batchgui.core.file_times import fit
from batchgui.core.vm_sizes import normal_vm_size, vm_cores

# -- defaults before the first run (sources in the comments) ------------------------------

#: Pool allocation + start task. The seed's own run spent most of its 9 minutes (5 files)
#: waiting for the pool; Linux nodes usually allocate in 3-5 min and the start task's
#: apt-get install of ffmpeg takes 1-2 min more.
DEFAULT_POOL_READY_S = 8 * 60.0
#: This computer -> Azure Storage: 20 Mbit/s, a cautious guess for a home or office line.
DEFAULT_UPLOAD_BPS = 2.5e6
#: Azure Storage -> this computer: 50 Mbit/s.
DEFAULT_DOWNLOAD_BPS = 6.25e6
#: Media seconds one ffmpeg converts per second on one vCPU (MP3 encoding uses one core).
#: Measured with the bundled ffmpeg on this project's 2-vCPU build machine (10 min of
#: stereo noise, AAC -> MP3): 134x realtime at V2, 100x at 192k. Halved, because an Azure
#: D-series vCPU is one hyperthread of a core and a user's laptop may be slower.
DEFAULT_SPEED_PER_CORE = 50.0
#: vCPUs assumed for a VM size whose name does not tell.
FALLBACK_CORES = 2

#: The newest run's weight never drops below this (see the module docstring).
MIN_WEIGHT = 0.3
#: per-file figures from this many files count in full; fewer count in proportion
FULL_EVIDENCE_FILES = 20
#: a measurement this many times off a figure learned from 2+ runs is clipped first
OUTLIER_FACTOR = 3.0
#: ... with this much room for durations (a 0.2 s figure may still become 10 s)
OUTLIER_SLACK_S = 10.0

# -- what a measurement must look like to count ---------------------------------------------

MIN_TRANSFER_BYTES = 5_000_000  # smaller transfers measure latency, not the line
MIN_TRANSFER_S = 0.1
MAX_RATE_BPS = 10e9
MIN_MEDIA_S = 10.0
MIN_SPEED_PER_CORE = 0.01
MAX_SPEED_PER_CORE = 10_000.0
MAX_POOL_READY_S = 3 * 3600.0
MAX_OVERHEAD_S = 600.0  # per file, per release, per wrap-up: more is a stalled run


@dataclass(frozen=True)
class Overheads:
    """The stated defaults for what runs have not measured yet (see `Learned`)."""

    #: per file on a node: the node agent starting the task, writing the MP3 and logs
    #: back, the slot taking the next file
    azure_task_s: float = 3.0
    #: per file on this computer: starting ffmpeg, the slot taking the next file
    local_task_s: float = 0.3
    #: a node reads its input from storage at this rate (one blob read on a small VM)
    node_fetch_bps: float = 50e6
    #: after the last file is converted: the app notices at its next look (every 2-15 s),
    #: checks and places the MP3, and removes the run's job and files
    azure_notice_s: float = 5.0
    #: this computer: the run's time outside converting (naming, checking, placing)
    local_wrap_up_s: float = 0.5
    #: the pool ready and the files up -> the first file converting: adding the tasks
    #: (one call per 100; the first ones start while the rest are added), a node taking one
    azure_dispatch_s: float = 1.0
    #: the last file converted -> Azure has ended the job and the auto pool's nodes leave
    azure_release_s: float = 60.0
    #: a deadline met with Spot nodes must be met with this much room (preemption risk)
    spot_margin: float = 1.15


DEFAULT_OVERHEADS = Overheads()


@dataclass(frozen=True)
class Measure:
    """One learned figure: its value and how many runs it comes from (0: the default)."""

    value: float
    runs: int = 0

    @property
    def learned(self) -> bool:
        return self.runs > 0

    def moved_toward(self, measured: float, evidence: float = 1.0,
                     slack: float = 0.0) -> Measure:
        """One more run's measurement; `evidence` (0..1] says how much that run saw."""
        if self.runs == 0:  # a measurement always replaces a guess
            return Measure(measured, 1)
        if self.runs >= 2:
            low = self.value / OUTLIER_FACTOR - slack
            measured = min(max(measured, low), self.value * OUTLIER_FACTOR + slack)
        weight = max(1.0 / (self.runs + 1), MIN_WEIGHT) * min(1.0, max(evidence, 0.0))
        return Measure(self.value + weight * (measured - self.value), self.runs + 1)


def default_node_speed(vm_size: str) -> float:
    """Media seconds per node-second for a size before any run: the per-core default x vCPUs."""
    return DEFAULT_SPEED_PER_CORE * (vm_cores(vm_size) or FALLBACK_CORES)


_PER_ACCOUNT = ("pool_ready_s", "dispatch_s", "allocated_s", "release_s", "wrap_up_s")
_PER_SIZE = ("node_speed", "task_overhead_s")
_SINGLE = ("local_speed", "local_task_s", "local_wrap_up_s")
_SECONDS = {"dispatch_s", "allocated_s", "release_s", "wrap_up_s", "task_overhead_s",
            "local_task_s", "local_wrap_up_s"}  # may be 0


@dataclass(frozen=True)
class Learned:
    """Everything the estimator has learned. Speeds are per node with all its cores busy."""

    pool_ready_s: Mapping[str, Measure] = field(default_factory=dict)  # per Batch account key
    upload_bps: Measure = Measure(DEFAULT_UPLOAD_BPS)
    download_bps: Measure = Measure(DEFAULT_DOWNLOAD_BPS)
    node_speed: Mapping[str, Measure] = field(default_factory=dict)  # per VM size
    local_speed: Measure | None = None  # this computer, all cores busy
    #: per VM size: seconds a slot spends on a file beyond converting it
    task_overhead_s: Mapping[str, Measure] = field(default_factory=dict)
    local_task_s: Measure | None = None
    #: per account: the pool ready and the files up -> the first file converting
    dispatch_s: Mapping[str, Measure] = field(default_factory=dict)
    #: per account: pressing Convert -> the run's own nodes allocated
    allocated_s: Mapping[str, Measure] = field(default_factory=dict)
    #: per account: the last file converted -> the auto pool's nodes left the pool
    release_s: Mapping[str, Measure] = field(default_factory=dict)
    #: per account: the last file converted and downloaded -> the run is over
    wrap_up_s: Mapping[str, Measure] = field(default_factory=dict)
    #: this computer: a run's time outside converting
    local_wrap_up_s: Measure | None = None

    def pool_ready(self, account: str) -> Measure:
        return self.pool_ready_s.get(account, Measure(DEFAULT_POOL_READY_S))

    def vm_speed(self, vm_size: str) -> Measure:
        key = normal_vm_size(vm_size)
        return self.node_speed.get(key, Measure(default_node_speed(key)))

    def computer_speed(self, cores: int) -> Measure:
        return self.local_speed or Measure(DEFAULT_SPEED_PER_CORE * max(1, cores))

    def vm_task_overhead(self, vm_size: str, o: Overheads = DEFAULT_OVERHEADS) -> Measure:
        return self.task_overhead_s.get(normal_vm_size(vm_size), Measure(o.azure_task_s))

    def computer_task_overhead(self, o: Overheads = DEFAULT_OVERHEADS) -> Measure:
        return self.local_task_s or Measure(o.local_task_s)

    def dispatch(self, account: str, o: Overheads = DEFAULT_OVERHEADS) -> Measure:
        return self.dispatch_s.get(account, Measure(o.azure_dispatch_s))

    def node_allocated(self, account: str) -> Measure:
        """Default 0: counted from pressing Convert, which never under-states the bill."""
        return self.allocated_s.get(account, Measure(0.0))

    def release(self, account: str, o: Overheads = DEFAULT_OVERHEADS) -> Measure:
        return self.release_s.get(account, Measure(o.azure_release_s))

    def wrap_up(self, account: str, o: Overheads = DEFAULT_OVERHEADS) -> Measure:
        return self.wrap_up_s.get(account, Measure(o.azure_notice_s))

    def computer_wrap_up(self, o: Overheads = DEFAULT_OVERHEADS) -> Measure:
        return self.local_wrap_up_s or Measure(o.local_wrap_up_s)

    # -- JSON-able form, for the journal --------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        def one(m: Measure | None) -> dict[str, Any] | None:
            return {"value": m.value, "runs": m.runs} if m is not None else None

        out: dict[str, Any] = {"version": 2, "upload_bps": one(self.upload_bps),
                               "download_bps": one(self.download_bps)}
        for name in _PER_ACCOUNT + _PER_SIZE:
            out[name] = {k: one(m) for k, m in getattr(self, name).items()}
        for name in _SINGLE:
            out[name] = one(getattr(self, name))
        return out

    @classmethod
    def from_dict(cls, data: object) -> Learned:
        """Tolerant: anything missing or malformed falls back to its default (so records
        of earlier versions load, with defaults for the figures they did not have)."""
        if not isinstance(data, dict):
            return cls()

        def one(raw: object, name: str) -> Measure | None:
            if not isinstance(raw, dict):
                return None
            value, runs = raw.get("value"), raw.get("runs", 0)
            if not isinstance(value, int | float) or isinstance(value, bool):
                return None
            if not math.isfinite(value) or value < 0 or (value == 0 and name not in _SECONDS):
                return None
            if not isinstance(runs, int) or isinstance(runs, bool) or runs < 0:
                return None
            return Measure(float(value), runs)

        def many(name: str) -> dict[str, Measure]:
            raw = data.get(name)
            if not isinstance(raw, dict):
                return {}
            out = {str(k): one(v, name) for k, v in raw.items()}
            return {k: m for k, m in out.items() if m is not None}

        values: dict[str, Any] = {name: many(name) for name in _PER_ACCOUNT}
        for name in _PER_SIZE:
            values[name] = {normal_vm_size(k): m for k, m in many(name).items()}
        for name in _SINGLE:
            values[name] = one(data.get(name), name)
        return cls(
            upload_bps=one(data.get("upload_bps"), "upload_bps") or Measure(DEFAULT_UPLOAD_BPS),
            download_bps=(one(data.get("download_bps"), "download_bps")
                          or Measure(DEFAULT_DOWNLOAD_BPS)),
            **values,
        )


@dataclass(frozen=True)
class RunOutcome:
    """What one finished run measured; the caller fills it from the run and the target.

    Times "from the run's start" count from the moment the run began (after probing).
    """

    target_kind: str  # "local" or "azure"
    #: the key for the Batch account, the same one the estimate is asked with (its URL is
    #: a good one: it stays when a profile is renamed)
    account: str | None = None
    vm_size: str | None = None
    slots_per_node: int = 1  # files at once per node (local: the parallel setting)
    dedicated_nodes: int = 0
    spot_nodes: int = 0
    cores_per_node: int | None = None  # local: os.cpu_count(); Azure: None -> from the size
    files_converted: int = 0
    media_seconds: float = 0.0  # media duration of the files converted
    #: the files' own conversion times added up (each task's start -> end), not wall time
    conversion_seconds: float = 0.0
    bytes_uploaded: int = 0
    upload_seconds: float = 0.0  # the run's start of uploading -> the last byte up
    bytes_downloaded: int = 0
    #: the files' own download times added up: bytes / this = what one download achieves
    download_seconds: float = 0.0
    pool_created: bool = False  # False: an existing pool was reused, its start says nothing
    pool_ready_seconds: float | None = None  # pool creation -> first node ready
    node_minutes: float | None = None
    cost: float | None = None
    cancelled: bool = False
    #: (media s, input bytes, task s) of up to 200 converted files (core.file_times)
    file_samples: tuple[tuple[float, int, float], ...] = ()
    slot_gap_s: float | None = None  # median wait of a slot between files
    first_start_s: float | None = None  # from the run's start: the first file started
    last_end_s: float | None = None  # from the run's start: the last file converted
    run_seconds: float | None = None  # from the run's start: the run is over
    last_mp3_bytes: int = 0  # the MP3 of the file converted last
    auto_pool: bool = False  # the run's pool went with its job
    nodes_allocated_s: float | None = None  # from the run's start: its nodes allocated
    release_seconds: float | None = None  # the last file converted -> nodes seen leaving

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["file_samples"] = [list(s) for s in self.file_samples]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunOutcome:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        raw = values.pop("file_samples", None)
        outcome = cls(**values)
        return replace(outcome, file_samples=_samples(raw))


def _samples(raw: object) -> tuple[tuple[float, int, float], ...]:
    if not isinstance(raw, list | tuple):
        return ()
    out = []
    for item in raw:
        try:
            media, size, seconds = item
            out.append((float(media), int(size), float(seconds)))
        except (TypeError, ValueError):
            continue
    return tuple(out)


def _rate(nbytes: int, seconds: float) -> float | None:
    if nbytes < MIN_TRANSFER_BYTES or seconds < MIN_TRANSFER_S:
        return None
    rate = nbytes / seconds
    return rate if rate <= MAX_RATE_BPS else None


def _seconds(value: float | None, limit: float = MAX_OVERHEAD_S) -> float | None:
    return value if value is not None and 0 <= value <= limit else None


@dataclass(frozen=True)
class FileFigures:
    """What a run's files say about its slots: speed per node, and per-file overhead."""

    node_speed: float  # media seconds per node-second with all its cores busy
    cores: int
    overhead_s: float | None  # None: the run could not tell it apart from the speed
    evidence: float


def _cores(outcome: RunOutcome) -> int:
    if outcome.target_kind == "azure":
        return outcome.cores_per_node or vm_cores(outcome.vm_size or "") or FALLBACK_CORES
    return max(1, outcome.cores_per_node or 1)


def measured_file_figures(outcome: RunOutcome, learned_overhead: float,
                          overheads: Overheads = DEFAULT_OVERHEADS,
                          prior_node_speed: float | None = None) -> FileFigures | None:
    """Speed (and, when the files differ in length, the per-file overhead) from one run.

    With a line through the files' own times (core.file_times.fit), both come from the
    run. Without one, the speed comes from the totals, less the per-file overhead learned
    so far. A node with c cores running k files at once converts each at (node speed) /
    max(k, c). On Azure the input's read at the stated fetch rate is taken out first.

    Where the overhead learned so far (the default, at first) cannot be right because the
    files took less than it in all (300 one-second files, 0.03 s each, against a default of
    0.3 s), the files' time is split at the speed known so far (`prior_node_speed`): what
    that speed leaves over is the overhead, so the two together give the run's own total.
    """
    if outcome.files_converted < 1 or outcome.media_seconds < MIN_MEDIA_S:
        return None
    if outcome.conversion_seconds <= 0:
        return None
    azure = outcome.target_kind == "azure"
    fetch = overheads.node_fetch_bps if azure else math.inf
    gap = _seconds(outcome.slot_gap_s) or 0.0
    line = fit([(m, s - size / fetch) for m, size, s in outcome.file_samples])
    if line is not None:
        per_file, overhead = line.speed, line.overhead_s + gap
    else:
        fetching = outcome.bytes_uploaded / fetch if azure else 0.0
        fixed = outcome.files_converted * max(0.0, learned_overhead - gap) + fetching
        overhead = None
        if fixed > 0.75 * outcome.conversion_seconds and prior_node_speed:
            # the overhead so far is wrong for files this short: split at the prior speed
            prior = prior_node_speed / max(outcome.slots_per_node, _cores(outcome))
            encoding = outcome.media_seconds / prior
            in_task = max(0.0, outcome.conversion_seconds - fetching - encoding)
            fixed = in_task + fetching
            overhead = in_task / outcome.files_converted + gap
        # a wrong overhead must not make the speed absurd: encoding is at least a quarter
        busy = max(outcome.conversion_seconds - fixed, 0.25 * outcome.conversion_seconds)
        per_file = outcome.media_seconds / busy
    cores = _cores(outcome)
    node = per_file * max(outcome.slots_per_node, cores)
    if not MIN_SPEED_PER_CORE <= node / cores <= MAX_SPEED_PER_CORE:
        return None
    if overhead is not None and overhead > MAX_OVERHEAD_S:
        overhead = None
    evidence = min(1.0, outcome.files_converted / FULL_EVIDENCE_FILES)
    return FileFigures(node, cores, overhead, evidence)


def measured_node_speed(outcome: RunOutcome, overheads: Overheads = DEFAULT_OVERHEADS
                        ) -> tuple[float, int] | None:
    """(media seconds per node-second with all cores busy, cores) from one run, or None."""
    learned = (overheads.azure_task_s if outcome.target_kind == "azure"
               else overheads.local_task_s)
    figures = measured_file_figures(outcome, learned, overheads)
    return (figures.node_speed, figures.cores) if figures else None


def _moved(table: Mapping[str, Measure], key: str, current: Measure, value: float | None,
           evidence: float = 1.0, slack: float = 0.0) -> Mapping[str, Measure]:
    if value is None:
        return table
    return {**table, key: current.moved_toward(value, evidence, slack)}


def learn(learned: Learned, outcome: RunOutcome,
          overheads: Overheads = DEFAULT_OVERHEADS) -> Learned:
    """`learned` moved toward what `outcome` measured; cancelled runs and nonsense teach nothing."""
    if outcome.cancelled:
        return learned
    azure = outcome.target_kind == "azure"
    return _learn_azure(learned, outcome, overheads) if azure \
        else _learn_local(learned, outcome, overheads)


def _learn_azure(result: Learned, outcome: RunOutcome, overheads: Overheads) -> Learned:
    account = outcome.account
    slack = OUTLIER_SLACK_S
    if account and outcome.pool_created:
        ready = outcome.pool_ready_seconds
        if ready is not None and 0 < ready <= MAX_POOL_READY_S:
            result = replace(result, pool_ready_s=_moved(
                result.pool_ready_s, account, result.pool_ready(account), ready, slack=slack))
        allocated = _seconds(outcome.nodes_allocated_s, MAX_POOL_READY_S)
        result = replace(result, allocated_s=_moved(
            result.allocated_s, account, result.node_allocated(account), allocated,
            slack=slack))
    if account and outcome.auto_pool:
        result = replace(result, release_s=_moved(
            result.release_s, account, result.release(account, overheads),
            _seconds(outcome.release_seconds), slack=slack))
    up = _rate(outcome.bytes_uploaded, outcome.upload_seconds)
    if up is not None:
        result = replace(result, upload_bps=result.upload_bps.moved_toward(up))
    if account and outcome.first_start_s is not None:
        ready = outcome.pool_ready_seconds if outcome.pool_created else 0.0
        waited = max(ready or 0.0, outcome.upload_seconds)
        result = replace(result, dispatch_s=_moved(
            result.dispatch_s, account, result.dispatch(account, overheads),
            _seconds(max(0.0, outcome.first_start_s - waited)), slack=slack))
    down = _rate(outcome.bytes_downloaded, outcome.download_seconds)
    if down is not None:
        result = replace(result, download_bps=result.download_bps.moved_toward(down))
    if account and outcome.run_seconds is not None and outcome.last_end_s is not None:
        rate = down or result.download_bps.value
        wrap = outcome.run_seconds - outcome.last_end_s - outcome.last_mp3_bytes / rate
        result = replace(result, wrap_up_s=_moved(
            result.wrap_up_s, account, result.wrap_up(account, overheads),
            _seconds(max(0.0, wrap)), slack=slack))
    if outcome.vm_size:
        key = normal_vm_size(outcome.vm_size)
        overhead = result.vm_task_overhead(key, overheads)
        figures = measured_file_figures(outcome, overhead.value, overheads,
                                        result.vm_speed(key).value)
        if figures is not None:
            result = replace(result, node_speed={**result.node_speed, key: result.vm_speed(
                key).moved_toward(figures.node_speed, figures.evidence)})
            result = replace(result, task_overhead_s=_moved(
                result.task_overhead_s, key, overhead, figures.overhead_s, figures.evidence,
                slack))
    return result


def _learn_local(result: Learned, outcome: RunOutcome, overheads: Overheads) -> Learned:
    if (outcome.run_seconds is not None and outcome.first_start_s is not None
            and outcome.last_end_s is not None):
        outside = outcome.run_seconds - (outcome.last_end_s - outcome.first_start_s)
        if _seconds(outside) is not None:
            result = replace(result, local_wrap_up_s=result.computer_wrap_up(
                overheads).moved_toward(outside, slack=OUTLIER_SLACK_S))
    overhead = result.computer_task_overhead(overheads)
    figures = measured_file_figures(outcome, overhead.value, overheads,
                                    result.computer_speed(_cores(outcome)).value)
    if figures is None:
        return result
    speed = result.computer_speed(figures.cores).moved_toward(figures.node_speed,
                                                              figures.evidence)
    result = replace(result, local_speed=speed)
    if figures.overhead_s is not None:
        result = replace(result, local_task_s=overhead.moved_toward(
            figures.overhead_s, figures.evidence, OUTLIER_SLACK_S))
    return result
