"""What past runs taught the estimator, and how one more run changes it.

Every figure starts from a stated default and moves toward what runs measure. The rule
is a running mean for the first runs (each run counts the same, so one odd run does not
decide) that turns into an exponentially weighted mean once the newest run's weight would
drop below 0.3: pools, networks and the hardware behind a VM size change over months, and
a plain mean would stop following them. The first measurement replaces the default
outright: a guess never outweighs a measurement.

Plain data only: `Learned` round-trips through a JSON-able dict (the journal keeps it),
`RunOutcome` is filled by the caller from the journal after each run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

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

# -- what a measurement must look like to count ---------------------------------------------

MIN_TRANSFER_BYTES = 5_000_000  # smaller transfers measure latency, not the line
MIN_TRANSFER_S = 0.5
MAX_RATE_BPS = 10e9
MIN_MEDIA_S = 10.0
MIN_SPEED_PER_CORE = 0.01
MAX_SPEED_PER_CORE = 10_000.0
MAX_POOL_READY_S = 3 * 3600.0


@dataclass(frozen=True)
class Overheads:
    """Fixed costs the model adds on top of the learned rates (stated, not learned)."""

    #: per file on a node: the node agent picking the task, writing the MP3 and logs back
    azure_task_s: float = 3.0
    #: per file on this computer: starting ffmpeg, checking the MP3
    local_task_s: float = 0.3
    #: a node reads its input from storage at this rate (one blob read on a small VM)
    node_fetch_bps: float = 50e6
    #: the app notices a finished task at its next look (every 2-15 s): half of that, rounded
    azure_notice_s: float = 5.0
    #: one call adds 100 tasks
    azure_submit_s_per_100: float = 1.0
    #: a pool that ends with the run's job: from the last task done until Azure has ended
    #: the job and removed the nodes (a stated guess; real runs' node times will tell)
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

    def moved_toward(self, measured: float) -> Measure:
        weight = max(1.0 / (self.runs + 1), MIN_WEIGHT)
        return Measure(self.value + weight * (measured - self.value), self.runs + 1)


def default_node_speed(vm_size: str) -> float:
    """Media seconds per node-second for a size before any run: the per-core default x vCPUs."""
    return DEFAULT_SPEED_PER_CORE * (vm_cores(vm_size) or FALLBACK_CORES)


@dataclass(frozen=True)
class Learned:
    """Everything the estimator has learned. Speeds are per node with all its cores busy."""

    pool_ready_s: Mapping[str, Measure] = field(default_factory=dict)  # per Batch account key
    upload_bps: Measure = Measure(DEFAULT_UPLOAD_BPS)
    download_bps: Measure = Measure(DEFAULT_DOWNLOAD_BPS)
    node_speed: Mapping[str, Measure] = field(default_factory=dict)  # per VM size
    local_speed: Measure | None = None  # this computer, all cores busy

    def pool_ready(self, account: str) -> Measure:
        return self.pool_ready_s.get(account, Measure(DEFAULT_POOL_READY_S))

    def vm_speed(self, vm_size: str) -> Measure:
        key = normal_vm_size(vm_size)
        return self.node_speed.get(key, Measure(default_node_speed(key)))

    def computer_speed(self, cores: int) -> Measure:
        return self.local_speed or Measure(DEFAULT_SPEED_PER_CORE * max(1, cores))

    # -- JSON-able form, for the journal --------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        def one(m: Measure) -> dict[str, Any]:
            return {"value": m.value, "runs": m.runs}

        return {
            "version": 1,
            "pool_ready_s": {k: one(m) for k, m in self.pool_ready_s.items()},
            "upload_bps": one(self.upload_bps),
            "download_bps": one(self.download_bps),
            "node_speed": {k: one(m) for k, m in self.node_speed.items()},
            "local_speed": one(self.local_speed) if self.local_speed else None,
        }

    @classmethod
    def from_dict(cls, data: object) -> Learned:
        """Tolerant: anything missing or malformed falls back to its default."""
        if not isinstance(data, dict):
            return cls()

        def one(raw: object) -> Measure | None:
            if not isinstance(raw, dict):
                return None
            value, runs = raw.get("value"), raw.get("runs", 0)
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                return None
            if not isinstance(runs, int) or runs < 0:
                return None
            return Measure(float(value), runs)

        def many(raw: object) -> dict[str, Measure]:
            if not isinstance(raw, dict):
                return {}
            out = {str(k): one(v) for k, v in raw.items()}
            return {k: m for k, m in out.items() if m is not None}

        return cls(
            pool_ready_s=many(data.get("pool_ready_s")),
            upload_bps=one(data.get("upload_bps")) or Measure(DEFAULT_UPLOAD_BPS),
            download_bps=one(data.get("download_bps")) or Measure(DEFAULT_DOWNLOAD_BPS),
            node_speed={normal_vm_size(k): m for k, m in many(data.get("node_speed")).items()},
            local_speed=one(data.get("local_speed")),
        )


@dataclass(frozen=True)
class RunOutcome:
    """What one finished run measured; the caller fills it from the journal."""

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
    upload_seconds: float = 0.0  # wall time of the upload stage
    bytes_downloaded: int = 0
    #: the files' own download times added up: bytes / this = what one download achieves
    download_seconds: float = 0.0
    pool_created: bool = False  # False: an existing pool was reused, its start says nothing
    pool_ready_seconds: float | None = None  # pool creation -> first node ready
    node_minutes: float | None = None
    cost: float | None = None
    cancelled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunOutcome:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _rate(nbytes: int, seconds: float) -> float | None:
    if nbytes < MIN_TRANSFER_BYTES or seconds < MIN_TRANSFER_S:
        return None
    rate = nbytes / seconds
    return rate if rate <= MAX_RATE_BPS else None


def measured_node_speed(outcome: RunOutcome, overheads: Overheads = DEFAULT_OVERHEADS
                        ) -> tuple[float, int] | None:
    """(media seconds per node-second with all cores busy, cores) from one run, or None.

    The files' own conversion times, less the fixed per-file costs the estimate adds
    itself, give the speed of one file; a node with c cores running k files at once
    converts each at (node speed) / max(k, c).
    """
    if outcome.files_converted < 1 or outcome.media_seconds < MIN_MEDIA_S:
        return None
    if outcome.conversion_seconds <= 0:
        return None
    if outcome.target_kind == "azure":
        cores = outcome.cores_per_node or vm_cores(outcome.vm_size or "") or FALLBACK_CORES
        fixed = (outcome.files_converted * overheads.azure_task_s
                 + outcome.bytes_uploaded / overheads.node_fetch_bps)
    else:
        cores = max(1, outcome.cores_per_node or 1)
        fixed = outcome.files_converted * overheads.local_task_s
    # a wrong overhead guess must not make the speed absurd: encoding is at least a quarter
    busy = max(outcome.conversion_seconds - fixed, 0.25 * outcome.conversion_seconds)
    per_file = outcome.media_seconds / busy
    node = per_file * max(outcome.slots_per_node, cores)
    if not MIN_SPEED_PER_CORE <= node / cores <= MAX_SPEED_PER_CORE:
        return None
    return node, cores


def learn(learned: Learned, outcome: RunOutcome,
          overheads: Overheads = DEFAULT_OVERHEADS) -> Learned:
    """`learned` moved toward what `outcome` measured; cancelled runs and nonsense teach nothing."""
    if outcome.cancelled:
        return learned
    result = learned
    azure = outcome.target_kind == "azure"
    if azure and outcome.account and outcome.pool_created:
        ready = outcome.pool_ready_seconds
        if ready is not None and 0 < ready <= MAX_POOL_READY_S:
            moved = result.pool_ready(outcome.account).moved_toward(ready)
            result = replace(result, pool_ready_s={**result.pool_ready_s,
                                                   outcome.account: moved})
    if azure:
        up = _rate(outcome.bytes_uploaded, outcome.upload_seconds)
        if up is not None:
            result = replace(result, upload_bps=result.upload_bps.moved_toward(up))
        down = _rate(outcome.bytes_downloaded, outcome.download_seconds)
        if down is not None:
            result = replace(result, download_bps=result.download_bps.moved_toward(down))
    speed = measured_node_speed(outcome, overheads)
    if speed is not None:
        node, cores = speed
        if azure and outcome.vm_size:
            key = normal_vm_size(outcome.vm_size)
            moved = result.vm_speed(key).moved_toward(node)
            result = replace(result, node_speed={**result.node_speed, key: moved})
        elif not azure:
            moved = result.computer_speed(cores).moved_toward(node)
            result = replace(result, local_speed=moved)
    return result
