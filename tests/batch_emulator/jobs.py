"""Jobs and tasks as the service shows them (JSON shapes follow the recordings).

Who changes what (from the recordings): eTag and lastModified change only when a client
changes the entity (create, patch, put, disable, enable, terminate; for tasks: update,
reactivate, terminate). The service's own moves (a task going active -> running ->
completed, a job going disabling -> disabled or terminating -> completed, delete) keep them.
A job's transient states (disabling, enabling, terminating) do not count as "previous": a
job that went active -> disabling -> disabled shows previousState active.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .pools import echo_rest, pool_spec_json
from .util import UNBOUNDED, iso, new_etag, utcnow

if TYPE_CHECKING:
    from .execution import TaskRun

AUTO_USER = {"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}}
COUNT_KEYS = ("active", "running", "completed", "succeeded", "failed")


@dataclass
class Task:
    job: Job
    id: str
    spec: dict[str, Any]
    seq: int
    etag: str = field(default_factory=new_etag)
    created: Any = field(default_factory=utcnow)
    modified: Any = None
    state: str = "active"
    state_time: Any = None
    prev_state: str | None = None
    prev_time: Any = None
    exec_info: dict[str, Any] = field(default_factory=lambda: {"retryCount": 0, "requeueCount": 0})
    node_info: dict[str, Any] | None = None
    run: TaskRun | None = None
    task_dir: str | None = None

    def __post_init__(self) -> None:
        self.modified = self.modified or self.created
        self.state_time = self.state_time or self.created

    def set_state(self, state: str) -> None:
        """A state change by the service (eTag and lastModified stay)."""
        if state != self.state:
            self.prev_state, self.prev_time = self.state, self.state_time
            self.state, self.state_time = state, utcnow()

    def touch(self) -> None:
        """A client changed the task."""
        self.etag, self.modified = new_etag(), utcnow()

    @property
    def required_slots(self) -> int:
        return int(self.spec.get("requiredSlots") or 1)

    @property
    def max_retries(self) -> int:
        c = self.spec.get("constraints") or {}
        if c.get("maxTaskRetryCount") is not None:
            return int(c["maxTaskRetryCount"])
        jc = self.job.spec.get("constraints") or {}
        return int(jc.get("maxTaskRetryCount") or 0)

    def constraints(self) -> dict[str, Any]:
        c = dict(self.spec.get("constraints") or {})
        c.setdefault("maxWallClockTime", UNBOUNDED)
        c.setdefault("retentionTime", "P7D")
        c["maxTaskRetryCount"] = self.max_retries
        return c

    def to_json(self, base: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "url": f"{base}/jobs/{self.job.id}/tasks/{self.id}",
            "eTag": self.etag,
            "creationTime": iso(self.created),
            "lastModified": iso(self.modified),
            "state": self.state,
            "stateTransitionTime": iso(self.state_time),
        }
        if self.prev_state:
            out["previousState"] = self.prev_state
            out["previousStateTransitionTime"] = iso(self.prev_time)
        out["commandLine"] = self.spec.get("commandLine", "")
        for key in (
            "displayName",
            "resourceFiles",
            "outputFiles",
            "environmentSettings",
            "affinityInfo",
            "exitConditions",
            "dependsOn",
            "applicationPackageReferences",
            "containerSettings",
        ):
            if self.spec.get(key) is not None:
                out[key] = self.spec[key]
        out["userIdentity"] = self.spec.get("userIdentity") or AUTO_USER
        out["constraints"] = self.constraints()
        out["requiredSlots"] = self.required_slots
        out["executionInfo"] = {k: v for k, v in self.exec_info.items() if v is not None}
        if self.node_info:
            out["nodeInfo"] = dict(self.node_info)
        echo_rest(out, self.spec)
        return out


def _preparation_json(t: dict[str, Any]) -> dict[str, Any]:
    out = {"id": t.get("id", "jobpreparation"), "commandLine": t.get("commandLine", "")}
    c = dict(t.get("constraints") or {})
    c.setdefault("maxWallClockTime", UNBOUNDED)
    c.setdefault("retentionTime", "P7D")
    c.setdefault("maxTaskRetryCount", 0)
    out["constraints"] = c
    out["userIdentity"] = t.get("userIdentity") or AUTO_USER
    out["waitForSuccess"] = t.get("waitForSuccess", True)
    out["rerunOnNodeRebootAfterSuccess"] = t.get("rerunOnNodeRebootAfterSuccess", True)
    echo_rest(out, t)
    return out


def _release_json(t: dict[str, Any]) -> dict[str, Any]:
    out = {"id": t.get("id", "jobrelease"), "commandLine": t.get("commandLine", "")}
    out["maxWallClockTime"] = t.get("maxWallClockTime", "PT15M")
    out["retentionTime"] = t.get("retentionTime", "P7D")
    out["userIdentity"] = t.get("userIdentity") or AUTO_USER
    echo_rest(out, t)
    return out


def auto_pool_json(spec: dict[str, Any]) -> dict[str, Any]:
    """A job's poolInfo.autoPoolSpecification, echoed with the service's defaults."""
    out: dict[str, Any] = {}
    if spec.get("autoPoolIdPrefix"):
        out["autoPoolIdPrefix"] = spec["autoPoolIdPrefix"]
    out["poolLifetimeOption"] = str(spec.get("poolLifetimeOption", "job")).lower()
    out["keepAlive"] = bool(spec.get("keepAlive", False))
    out["pool"] = pool_spec_json(spec.get("pool") or {})
    return out


@dataclass
class Job:
    id: str
    spec: dict[str, Any]
    pool_id: str | None
    etag: str = field(default_factory=new_etag)
    created: Any = field(default_factory=utcnow)
    modified: Any = None
    state: str = "active"
    state_time: Any = None
    prev_state: str | None = None
    prev_time: Any = None
    end_time: Any = None
    terminate_reason: str | None = None
    tasks: dict[str, Task] = field(default_factory=dict)
    delete_due: float | None = None
    task_seq: int = 0
    started: float = field(default_factory=time.monotonic)
    # disabling/enabling/terminating last at least until this monotonic time
    transition_due: float = 0.0
    disable_tasks: str | None = None
    # terminatejob: since when every task has been completed (None: not all are)
    all_done_since: float | None = None
    # GET taskcounts answers from a snapshot refreshed at most every task_counts_lag_s
    counts_at: float = field(default_factory=time.monotonic)
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {
            "taskCounts": dict.fromkeys(COUNT_KEYS, 0),
            "taskSlotCounts": dict.fromkeys(COUNT_KEYS, 0),
        }
    )

    def __post_init__(self) -> None:
        self.modified = self.modified or self.created
        self.state_time = self.state_time or self.created

    def set_state(self, state: str, transient_done: bool = False) -> None:
        """A state change by the service; `transient_done` when leaving disabling, enabling or
        terminating for where it led (previousState then stays what it was)."""
        if state == self.state:
            return
        if not transient_done:
            self.prev_state, self.prev_time = self.state, self.state_time
        self.state, self.state_time = state, utcnow()

    def touch(self) -> None:
        """A client changed the job."""
        self.etag, self.modified = new_etag(), utcnow()

    @property
    def on_all_tasks_complete(self) -> str:
        return str(self.spec.get("onAllTasksComplete") or "noaction").lower()

    @property
    def auto_pool_spec(self) -> dict[str, Any] | None:
        return (self.spec.get("poolInfo") or {}).get("autoPoolSpecification")

    def live_counts(self) -> dict[str, dict[str, int]]:
        counts = dict.fromkeys(COUNT_KEYS, 0)
        slots = dict(counts)
        for t in self.tasks.values():
            key = "running" if t.state in ("running", "preparing") else t.state
            counts[key] += 1
            slots[key] += t.required_slots
            if t.state == "completed":
                res = "succeeded" if t.exec_info.get("result") == "success" else "failed"
                counts[res] += 1
                slots[res] += t.required_slots
        return {"taskCounts": counts, "taskSlotCounts": slots}

    def to_json(self, base: str) -> dict[str, Any]:
        s = self.spec
        out: dict[str, Any] = {
            "id": self.id,
            "url": f"{base}/jobs/{self.id}",
            "eTag": self.etag,
            "lastModified": iso(self.modified),
            "creationTime": iso(self.created),
            "state": self.state,
            "stateTransitionTime": iso(self.state_time),
        }
        if self.prev_state:
            out["previousState"] = self.prev_state
            out["previousStateTransitionTime"] = iso(self.prev_time)
        if s.get("displayName"):
            out["displayName"] = s["displayName"]
        out["priority"] = int(s.get("priority") or 0)
        out["maxParallelTasks"] = int(s.get("maxParallelTasks", -1))
        out["usesTaskDependencies"] = bool(s.get("usesTaskDependencies", False))
        out["allowTaskPreemption"] = bool(s.get("allowTaskPreemption", False))
        c = dict(s.get("constraints") or {})
        c.setdefault("maxWallClockTime", UNBOUNDED)
        c.setdefault("maxTaskRetryCount", 0)
        out["constraints"] = c
        if s.get("jobManagerTask"):
            out["jobManagerTask"] = s["jobManagerTask"]
        if s.get("jobPreparationTask"):
            out["jobPreparationTask"] = _preparation_json(s["jobPreparationTask"])
        if s.get("jobReleaseTask"):
            out["jobReleaseTask"] = _release_json(s["jobReleaseTask"])
        if s.get("commonEnvironmentSettings"):
            out["commonEnvironmentSettings"] = s["commonEnvironmentSettings"]
        auto = self.auto_pool_spec
        out["poolInfo"] = (
            {"autoPoolSpecification": auto_pool_json(auto)} if auto else dict(s["poolInfo"])
        )
        if s.get("metadata"):
            out["metadata"] = s["metadata"]
        info: dict[str, Any] = {"startTime": iso(self.created)}
        if self.end_time is not None:
            info["endTime"] = iso(self.end_time)
        if self.pool_id:
            info["poolId"] = self.pool_id
        if self.terminate_reason:
            info["terminateReason"] = self.terminate_reason
        out["executionInfo"] = info
        out["onAllTasksComplete"] = self.on_all_tasks_complete
        out["onTaskFailure"] = str(s.get("onTaskFailure") or "noaction").lower()
        echo_rest(out, s)
        return out
