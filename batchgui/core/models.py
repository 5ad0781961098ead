"""The values that travel between the run, the targets, the CLI and the window.

Everything here is a frozen dataclass or a string enum, so a snapshot handed to
another thread can never change under the reader.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from batchgui.i18n import N_, Reason, _, tr


class NodeState(StrEnum):
    """Azure Batch compute node states (lower-case, as the service sends them)."""

    IDLE = "idle"
    RUNNING = "running"
    CREATING = "creating"
    STARTING = "starting"
    WAITING_FOR_START_TASK = "waitingforstarttask"
    START_TASK_FAILED = "starttaskfailed"
    UNUSABLE = "unusable"
    OFFLINE = "offline"
    PREEMPTED = "preempted"
    LEAVING_POOL = "leavingpool"
    REBOOTING = "rebooting"
    REIMAGING = "reimaging"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> NodeState | str:
        """Known states become members; anything new from the service stays a plain string."""
        text = str(getattr(value, "value", value) or "unknown").lower()
        try:
            return cls(text)
        except ValueError:
            return text


class TaskState(StrEnum):
    """Azure Batch task states."""

    ACTIVE = "active"
    PREPARING = "preparing"
    RUNNING = "running"
    COMPLETED = "completed"


class TaskResult(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"


class FileStatus(StrEnum):
    """Where one input file is, in the words the file list shows."""

    READY = "ready"
    REJECTED = "rejected"
    SKIPPED = "skipped"
    UPLOADING = "uploading"
    QUEUED = "queued"
    CONVERTING = "converting"
    DOWNLOADING = "downloading"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_FILE_STATUSES

    @property
    def label(self) -> str:
        """The status in the user's language, as the file list and the CLI show it."""
        return _(_FILE_STATUS_WORDS[self])


_FILE_STATUS_WORDS = {
    FileStatus.READY: N_("ready"),
    FileStatus.REJECTED: N_("rejected"),
    FileStatus.SKIPPED: N_("skipped"),
    FileStatus.UPLOADING: N_("uploading"),
    FileStatus.QUEUED: N_("queued"),
    FileStatus.CONVERTING: N_("converting"),
    FileStatus.DOWNLOADING: N_("downloading"),
    FileStatus.DONE: N_("done"),
    FileStatus.FAILED: N_("failed"),
    FileStatus.CANCELLED: N_("cancelled"),
}


_FINAL_FILE_STATUSES = {
    FileStatus.REJECTED,
    FileStatus.SKIPPED,
    FileStatus.DONE,
    FileStatus.FAILED,
    FileStatus.CANCELLED,
}


class Stage(StrEnum):
    """The stage a run is in, shown above the progress bar."""

    PROBING = "probing"
    UPLOADING = "uploading"
    POOL = "pool"
    JOB = "job"
    TASKS = "tasks"
    MONITORING = "monitoring"
    DOWNLOADING = "downloading"
    CLEANUP = "cleanup"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


class ConflictPolicy(StrEnum):
    """What to do when an MP3 with the chosen name already exists in the output folder."""

    RENAME = "rename"
    OVERWRITE = "overwrite"
    SKIP = "skip"


@dataclass(frozen=True)
class Quality:
    """MP3 encoder settings: VBR level 0 (best) to 9, or a constant bitrate in kbit/s."""

    vbr_level: int | None = 2
    cbr_kbps: int | None = None

    def __post_init__(self) -> None:
        if (self.vbr_level is None) == (self.cbr_kbps is None):
            raise ValueError(_("choose either a VBR level or a constant bitrate"))
        if self.vbr_level is not None and not 0 <= self.vbr_level <= 9:
            raise ValueError(_("VBR quality goes from V0 (best) to V9 (smallest)"))
        if self.cbr_kbps is not None and not 32 <= self.cbr_kbps <= 320:
            raise ValueError(_("bitrate goes from 32k to 320k"))

    @classmethod
    def parse(cls, text: str) -> Quality:
        """Accept 'V0'..'V9' or '128k'..'320k' (the CLI's and the settings' spelling)."""
        t = text.strip().lower()
        if t.startswith("v") and t[1:].isdigit():
            return cls(vbr_level=int(t[1:]))
        if t.endswith("k") and t[:-1].isdigit():
            return cls(vbr_level=None, cbr_kbps=int(t[:-1]))
        raise ValueError(tr("unknown quality '{quality}': use V0..V9 or a bitrate like 192k",
                            quality=text))

    @property
    def label(self) -> str:
        if self.cbr_kbps is not None:
            return f"{self.cbr_kbps}k"
        return f"V{self.vbr_level}"


@dataclass(frozen=True)
class InputFile:
    """One video the user gave us, after probing. `problem` set means rejected, with the reason."""

    path: Path
    size: int
    duration_s: float | None
    problem: Reason | None = None
    root: Path | None = None  # the folder the user dropped, for "keep folder structure"

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class RunSpec:
    """Everything the user chose for one run."""

    inputs: tuple[InputFile, ...]
    output_dir: Path
    quality: Quality = field(default_factory=Quality)
    on_conflict: ConflictPolicy = ConflictPolicy.RENAME
    mirror_folders: bool = False
    target_name: str = "local"
    # media: the video's tags and cover go into the MP3 (False: the MP3 gets no tags)
    keep_tags: bool = True
    # media: even out loudness to this many LUFS (EBU R128, two passes); None leaves it
    loudness_lufs: float | None = None


@dataclass(frozen=True)
class NodeView:
    """One compute node (or local slot) as the node grid shows it."""

    node_id: str
    state: NodeState | str
    running_tasks: int = 0
    slots: int = 1
    is_spot: bool = False
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskStatus:
    """What a target knows about one task; the run joins it with the file it converts."""

    task_id: str
    state: TaskState
    node_id: str | None = None
    progress: float | None = None  # 0..1 when the target can tell
    started_at: float | None = None  # time.time()
    ended_at: float | None = None
    exit_code: int | None = None
    result: TaskResult | None = None
    failure: Reason | None = None  # plain-language reason from the target
    stderr_tail: str = ""
    retries: int = 0


@dataclass(frozen=True)
class TaskView:
    """One row of the task table (and the live status of one file)."""

    task_id: str
    input_path: Path
    status: FileStatus
    state: TaskState | None = None
    node_id: str | None = None
    progress: float = 0.0
    run_time_s: float | None = None
    exit_code: int | None = None
    result: TaskResult | None = None
    reason: Reason | None = None
    stderr_tail: str = ""
    output_path: Path | None = None

    @property
    def name(self) -> str:
        return self.input_path.name


@dataclass(frozen=True)
class TargetStatus:
    """One poll of a target: its nodes and the tasks it knows about."""

    nodes: tuple[NodeView, ...]
    tasks: dict[str, TaskStatus]
    message: str = ""  # e.g. "reconnecting…" while the service does not answer


@dataclass(frozen=True)
class RunSnapshot:
    """The visible state of a run at one moment.

    `tasks` holds the files that changed since the previous snapshot of the run (all of
    them when `complete`), so applying one costs what changed; the totals are always
    whole.
    """

    run_id: str
    stage: Stage
    message: str
    tasks: tuple[TaskView, ...]
    nodes: tuple[NodeView, ...]
    files_total: int
    files_done: int
    files_failed: int
    fraction: float  # 0..1 of the work, by media duration
    elapsed_s: float
    eta_s: float | None
    rate: str = ""  # "3.2x realtime" or "12.4 MB/s" while uploading
    paused: bool = False  # running files finish, no new one starts
    complete: bool = True  # `tasks` has every file (the first snapshot of a run)
    running: tuple[TaskView, ...] = ()  # the files converting right now
    files_converting: int = 0


def merged(older: RunSnapshot, newer: RunSnapshot) -> RunSnapshot:
    """One snapshot saying what `older` and then `newer` said: the newer totals, and every
    file either of them changed, as the newer one has it (a window that shows fewer
    snapshots than the run sends loses no file's change)."""
    if newer.complete or newer.run_id != older.run_id:
        return newer
    tasks = {t.task_id: t for t in older.tasks}
    tasks.update((t.task_id, t) for t in newer.tasks)
    return replace(newer, tasks=tuple(tasks.values()), complete=older.complete)


@dataclass(frozen=True)
class FileOutcome:
    """How one input ended; the CLI's --report is a list of these."""

    input: Path
    output: Path | None
    status: FileStatus
    reason: Reason | None
    duration_s: float | None
    #: not converted because a problem stopped the whole run (RunResult.error says which)
    run_stopped: bool = False

    def to_json(self) -> dict[str, object]:
        status = {
            FileStatus.DONE: "converted",
            FileStatus.REJECTED: "rejected",
            FileStatus.SKIPPED: "skipped",
        }.get(self.status, "failed")
        return {
            **_path_field("input", self.input),
            **_path_field("output", self.output),
            "status": status,
            "reason": self.reason.text if self.reason else None,
            # language-free, for scripts: what happened, and the values in the sentence
            "reason_code": self.reason.code if self.reason else None,
            "reason_params": _plain_params(self.reason),
            "duration_s": round(self.duration_s, 3) if self.duration_s is not None else None,
        }


def _plain_params(reason: Reason | None) -> dict[str, object]:
    """A reason's values as JSON takes them: numbers stay numbers, anything else text."""
    if reason is None:
        return {}
    return {key: value if isinstance(value, (int, float, bool)) or value is None else str(value)
            for key, value in reason.params.items()}


def _path_field(key: str, path: Path | None) -> dict[str, object]:
    """A path for --report: its text, plus `<key>_base64` (its exact bytes) when the name is
    not valid UTF-8. The text then shows each byte that is not UTF-8 as U+FFFD, so any JSON
    reader can read it; the base64 field gives the real name back."""
    if path is None:
        return {key: None}
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8, kept by Python as surrogates
        raw = os.fsencode(path)
        return {key: raw.decode("utf-8", "replace"),
                f"{key}_base64": base64.b64encode(raw).decode("ascii")}
    return {key: text}


@dataclass(frozen=True)
class RunResult:
    run_id: str
    outcomes: tuple[FileOutcome, ...]
    cancelled: bool = False
    error: Reason | None = None  # a run-level failure in plain words (e.g. wrong account key)

    @property
    def all_converted(self) -> bool:
        return (
            not self.cancelled
            and self.error is None
            and all(o.status in (FileStatus.DONE, FileStatus.SKIPPED) for o in self.outcomes)
        )
