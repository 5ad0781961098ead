"""The emulator's state: pools, nodes, jobs, tasks, and the local processes that do the work.

One lock guards everything. A ticker thread moves nodes through their states and assigns
active tasks to free slots; each running task (and each start task) has its own thread that
downloads resource files, runs the command line without a shell, waits, and uploads outputs.
"""

from __future__ import annotations

import glob
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .util import UNBOUNDED, iso, new_etag, parse_duration, utcnow


@dataclass
class Knobs:
    """Behaviour switches for tests; all can change at runtime (POST /_emulator/knobs)."""

    start_task_fails: bool = False  # every start task fails (exit 1, message on stderr)
    preempt_node_after_s: float | None = None  # a Spot node is preempted this long into a task
    preempt_recover_s: float = 0.5  # a preempted node comes back (creating) after this
    fail_rate_5xx: float = 0.0  # share of API requests answered 500/503
    drop_rate: float = 0.0  # share of API requests whose connection is closed unanswered
    allocation_delay_s: float = 0.2  # pool resize -> nodes exist
    state_delay_s: float = 0.1  # each node state step (creating -> starting -> ...)
    delete_delay_s: float = 0.2  # how long a pool/job stays "deleting"
    tick_s: float = 0.02  # scheduler period
    max_page_size: int = 1000  # list answers page at min(maxresults, this)
    seed: int | None = None

    def update(self, values: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)}
        for k, v in values.items():
            if k not in names:
                raise KeyError(k)
            setattr(self, k, v)


class BatchApiError(Exception):
    """An error answer in the service's shape."""

    def __init__(
        self, status: int, code: str, message: str, values: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.values = values or []


def not_found(kind: str) -> BatchApiError:
    return BatchApiError(404, f"{kind}NotFound", f"The specified {kind.lower()} does not exist.")


# ------------------------------------------------------------------------------------------
# Entities


def _echo_rest(out: dict[str, Any], spec: dict[str, Any]) -> None:
    """The service echoes the properties it was created with; so do we, for the ones the
    emulator does not compute itself (e.g. userAccounts, certificateReferences)."""
    for k, v in spec.items():
        if k not in out and not k.startswith("_") and v is not None:
            out[k] = v


@dataclass
class Node:
    id: str
    pool: Pool
    dedicated: bool
    root: str
    ip: str
    state: str = "creating"
    state_time: Any = field(default_factory=utcnow)
    allocation_time: Any = field(default_factory=utcnow)
    boot_time: Any = None
    next_at: float = 0.0
    scheduling_state: str = "enabled"
    runs: dict[tuple[str, str], TaskRun] = field(default_factory=dict)
    used_slots: int = 0
    total_run: int = 0
    total_succeeded: int = 0
    start_task_info: dict[str, Any] | None = None
    start_run: StartTaskRun | None = None
    busy_since: float | None = None
    preempted_once: bool = False
    recent: list[dict[str, Any]] = field(default_factory=list)

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_time = utcnow()

    def url(self, base: str) -> str:
        return f"{base}/pools/{self.pool.id}/nodes/{self.id}"

    def to_json(self, base: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "url": self.url(base),
            "state": self.state,
            "schedulingState": self.scheduling_state,
            "stateTransitionTime": iso(self.state_time),
            "lastBootTime": iso(self.boot_time),
            "allocationTime": iso(self.allocation_time),
            "ipAddress": self.ip,
            "affinityId": f"TVM:{self.id}",
            "vmSize": self.pool.spec.get("vmSize", "standard_d2s_v3").lower(),
            "totalTasksRun": self.total_run,
            "totalTasksSucceeded": self.total_succeeded,
            "runningTasksCount": len(self.runs),
            "runningTaskSlotsCount": self.used_slots,
            "isDedicated": self.dedicated,
            "certificateReferences": [],
            "endpointConfiguration": {
                "inboundEndpoints": [
                    {
                        "name": "SSHRule.0",
                        "protocol": "tcp",
                        "publicIPAddress": "127.0.0.1",
                        "publicFQDN": "localhost",
                        "frontendPort": 50000,
                        "backendPort": 22,
                    }
                ]
            },
            "nodeAgentInfo": {"lastUpdateTime": iso(self.boot_time), "version": "1.12.0"},
        }
        if self.boot_time is None:
            del out["lastBootTime"]
            del out["nodeAgentInfo"]
        if self.recent:
            out["recentTasks"] = list(self.recent[-10:])
        st = self.pool.spec.get("startTask")
        if st:
            out["startTask"] = st
        if self.start_task_info:
            out["startTaskInfo"] = dict(self.start_task_info)
        vmc = self.pool.spec.get("virtualMachineConfiguration") or {}
        if vmc.get("imageReference"):
            ref = dict(vmc["imageReference"])
            ref.setdefault("version", "latest")
            ref["exactVersion"] = "22.04.202501010"
            out["virtualMachineInfo"] = {"imageReference": ref}
        if self.state == "starttaskfailed":
            out["errors"] = [
                {
                    "code": "NodeStartTaskFailed",
                    "message": "The start task failed on this node.",
                }
            ]
        return out


@dataclass
class Pool:
    id: str
    spec: dict[str, Any]
    root: str
    etag: str = field(default_factory=new_etag)
    created: Any = field(default_factory=utcnow)
    modified: Any = field(default_factory=utcnow)
    state: str = "active"
    state_time: Any = field(default_factory=utcnow)
    allocation_state: str = "resizing"
    allocation_time: Any = field(default_factory=utcnow)
    alloc_due: float | None = None
    delete_due: float | None = None
    nodes: dict[str, Node] = field(default_factory=dict)
    resize_errors: list[dict[str, Any]] = field(default_factory=list)

    def touch(self) -> None:
        self.etag = new_etag()
        self.modified = utcnow()

    @property
    def slots_per_node(self) -> int:
        return int(self.spec.get("taskSlotsPerNode") or 1)

    def to_json(self, base: str) -> dict[str, Any]:
        s = self.spec
        out: dict[str, Any] = {
            "id": self.id,
            "url": f"{base}/pools/{self.id}",
            "eTag": self.etag,
            "lastModified": iso(self.modified),
            "creationTime": iso(self.created),
            "state": self.state,
            "stateTransitionTime": iso(self.state_time),
            "allocationState": self.allocation_state,
            "allocationStateTransitionTime": iso(self.allocation_time),
            "vmSize": str(s.get("vmSize", "")).lower(),
            "resizeTimeout": s.get("resizeTimeout", "PT15M"),
            "currentDedicatedNodes": sum(1 for n in self.nodes.values() if n.dedicated),
            "targetDedicatedNodes": int(s.get("targetDedicatedNodes") or 0),
            "currentLowPriorityNodes": sum(1 for n in self.nodes.values() if not n.dedicated),
            "targetLowPriorityNodes": int(s.get("targetLowPriorityNodes") or 0),
            "enableAutoScale": bool(s.get("enableAutoScale", False)),
            "enableInterNodeCommunication": bool(s.get("enableInterNodeCommunication", False)),
        }
        if s.get("displayName"):
            out["displayName"] = s["displayName"]
        if s.get("startTask"):
            st = dict(s["startTask"])
            st.setdefault(
                "userIdentity", {"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}}
            )
            st.setdefault("maxTaskRetryCount", 0)
            st.setdefault("waitForSuccess", True)
            out["startTask"] = st
        for key in (
            "userAccounts",
            "metadata",
            "applicationPackageReferences",
            "mountConfiguration",
        ):
            if s.get(key):
                out[key] = s[key]
        out["taskSlotsPerNode"] = self.slots_per_node
        tsp = dict(s.get("taskSchedulingPolicy") or {})
        tsp["nodeFillType"] = {"spread": "Spread", "pack": "Pack"}.get(
            str(tsp.get("nodeFillType", "spread")).lower(), "Spread"
        )
        out["taskSchedulingPolicy"] = tsp
        if s.get("virtualMachineConfiguration"):
            out["virtualMachineConfiguration"] = s["virtualMachineConfiguration"]
        if s.get("networkConfiguration"):
            net = dict(s["networkConfiguration"])
            net.setdefault("dynamicVNetAssignmentScope", "none")
            net.setdefault("enableAcceleratedNetworking", False)
            out["networkConfiguration"] = net
        if self.resize_errors:
            out["resizeErrors"] = self.resize_errors
        out["currentNodeCommunicationMode"] = "simplified"
        _echo_rest(out, s)
        return out


@dataclass
class Task:
    job: Job
    id: str
    spec: dict[str, Any]
    seq: int
    etag: str = field(default_factory=new_etag)
    created: Any = field(default_factory=utcnow)
    modified: Any = field(default_factory=utcnow)
    state: str = "active"
    state_time: Any = field(default_factory=utcnow)
    prev_state: str | None = None
    prev_time: Any = None
    exec_info: dict[str, Any] = field(default_factory=lambda: {"retryCount": 0, "requeueCount": 0})
    node_info: dict[str, Any] | None = None
    run: TaskRun | None = None
    task_dir: str | None = None

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.prev_state, self.prev_time = self.state, self.state_time
            self.state, self.state_time = state, utcnow()
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
        out["userIdentity"] = self.spec.get("userIdentity") or {
            "autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}
        }
        out["constraints"] = self.constraints()
        out["requiredSlots"] = self.required_slots
        out["executionInfo"] = {k: v for k, v in self.exec_info.items() if v is not None}
        if self.node_info:
            out["nodeInfo"] = dict(self.node_info)
        _echo_rest(out, self.spec)
        return out


@dataclass
class Job:
    id: str
    spec: dict[str, Any]
    pool_id: str | None
    etag: str = field(default_factory=new_etag)
    created: Any = field(default_factory=utcnow)
    modified: Any = field(default_factory=utcnow)
    state: str = "active"
    state_time: Any = field(default_factory=utcnow)
    prev_state: str | None = None
    prev_time: Any = None
    exec_info: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    delete_due: float | None = None
    task_seq: int = 0

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.prev_state, self.prev_time = self.state, self.state_time
            self.state, self.state_time = state, utcnow()
            self.touch()

    def touch(self) -> None:
        self.etag, self.modified = new_etag(), utcnow()

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
        for key in (
            "jobManagerTask",
            "jobPreparationTask",
            "jobReleaseTask",
            "commonEnvironmentSettings",
            "metadata",
        ):
            if s.get(key):
                out[key] = s[key]
        out["poolInfo"] = s.get("poolInfo") or {}
        out["executionInfo"] = dict(self.exec_info)
        out["onAllTasksComplete"] = str(s.get("onAllTasksComplete", "noaction")).lower()
        out["onTaskFailure"] = str(s.get("onTaskFailure", "noaction")).lower()
        _echo_rest(out, s)
        return out


# ------------------------------------------------------------------------------------------
# Running things


def _kill_group(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass


def _failure(
    code: str, message: str, details: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"category": "usererror", "code": code, "message": message}
    if details:
        out["details"] = details
    return out


@dataclass
class Outcome:
    exit_code: int | None = None
    failure: dict[str, Any] | None = None
    start_time: Any = None
    end_time: Any = None


class Execution:
    """One attempt of a command line in a task directory (resource files, process, wait)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.proc: subprocess.Popen[bytes] | None = None
        self.cancelled: str | None = None

    def cancel(self, reason: str) -> None:
        self.cancelled = reason
        _kill_group(self.proc)

    def download(self, wd: str, resource_files: list[dict[str, Any]]) -> dict[str, Any] | None:
        for rf in resource_files or []:
            url = rf.get("httpUrl") or rf.get("storageContainerUrl")
            if not rf.get("httpUrl"):
                return _failure(
                    "BlobDownloadMiscError",
                    "The emulator only supports resource files given by httpUrl.",
                    [{"name": "ResourceUrl", "value": str(url)}],
                )
            rel = rf.get("filePath") or os.path.basename(urllib.parse.urlsplit(url).path)
            dest = os.path.normpath(os.path.join(wd, rel))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            try:
                with urllib.request.urlopen(url, timeout=60) as resp, open(dest, "wb") as out:
                    shutil.copyfileobj(resp, out)
            except urllib.error.HTTPError as exc:
                code = {404: "BlobNotFound", 403: "BlobAccessDenied"}.get(
                    exc.code, "BlobDownloadMiscError"
                )
                return _failure(
                    code,
                    f"Failed to download resource file {rel}: HTTP {exc.code} {exc.reason}",
                    [
                        {"name": "FilePath", "value": dest},
                        {"name": "ResourceUrl", "value": url.split("?")[0]},
                        {"name": "HttpStatusCode", "value": str(exc.code)},
                    ],
                )
            except (OSError, ValueError) as exc:
                return _failure(
                    "BlobDownloadMiscError",
                    f"Failed to download resource file {rel}: {exc}",
                    [{"name": "ResourceUrl", "value": str(url).split("?")[0]}],
                )
            if rf.get("fileMode"):
                try:
                    os.chmod(dest, int(rf["fileMode"], 8))
                except (ValueError, OSError):
                    pass
        return None

    def run(
        self,
        command_line: str,
        task_dir: str,
        wd: str,
        env: dict[str, str],
        wall_clock_s: float | None,
        forced_failure: str | None = None,
    ) -> Outcome:
        out = Outcome(start_time=utcnow())
        stdout_path = os.path.join(task_dir, "stdout.txt")
        stderr_path = os.path.join(task_dir, "stderr.txt")
        with open(stdout_path, "wb") as fo, open(stderr_path, "wb") as fe:
            if forced_failure:
                fe.write(forced_failure.encode())
                out.exit_code = 1
            else:
                try:
                    argv = shlex.split(command_line)
                    if not argv:
                        raise ValueError("empty command line")
                    self.proc = subprocess.Popen(
                        argv,
                        cwd=wd,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=fo,
                        stderr=fe,
                        start_new_session=True,
                    )
                except FileNotFoundError as exc:
                    out.end_time = utcnow()
                    out.failure = _failure(
                        "CommandProgramNotFound",
                        f"The specified command program is not found: {exc.filename}",
                    )
                    return out
                except (OSError, ValueError) as exc:
                    out.end_time = utcnow()
                    out.failure = _failure(
                        "CommandLaunchFailed", f"The task's command line failed to launch: {exc}"
                    )
                    return out
                if self.cancelled:
                    _kill_group(self.proc)
                try:
                    rc = self.proc.wait(timeout=wall_clock_s)
                except subprocess.TimeoutExpired:
                    _kill_group(self.proc)
                    rc = self.proc.wait()
                    out.failure = _failure(
                        "MaxWallClockTimeExceeded",
                        "The task exceeded the maximum wall clock time constraint.",
                    )
                out.exit_code = rc if rc >= 0 else 128 - rc
        out.end_time = utcnow()
        if out.failure is None and out.exit_code != 0:
            out.failure = _failure(
                "FailureExitCode", "The task exited with an exit code representing a failure"
            )
        return out


def _glob_has_magic(s: str) -> bool:
    return any(c in s for c in "*?[")


def upload_outputs(
    output_files: list[dict[str, Any]], task_dir: str, wd: str, succeeded: bool
) -> dict[str, Any] | None:
    """Upload per Batch's rules; returns a failureInfo on the first upload error."""
    for of in output_files or []:
        cond = str((of.get("uploadOptions") or {}).get("uploadCondition", "taskcompletion")).lower()
        if cond == "tasksuccess" and not succeeded:
            continue
        if cond == "taskfailure" and succeeded:
            continue
        container = (of.get("destination") or {}).get("container") or {}
        container_url = container.get("containerUrl")
        if not container_url:
            continue
        pattern = of.get("filePattern", "")
        blob_path = container.get("path")
        full = os.path.normpath(os.path.join(wd, pattern))
        if _glob_has_magic(pattern):
            matches = [m for m in glob.glob(full, recursive=True) if os.path.isfile(m)]
            parts = pattern.replace("\\", "/").split("/")
            fixed: list[str] = []
            for p in parts:
                if _glob_has_magic(p):
                    break
                fixed.append(p)
            prefix_dir = os.path.normpath(os.path.join(wd, *fixed)) if fixed else wd
            names = []
            for m in sorted(matches):
                rel = os.path.relpath(m, prefix_dir).replace(os.sep, "/")
                names.append((m, f"{blob_path.rstrip('/')}/{rel}" if blob_path else rel))
        else:
            names = [(full, blob_path or os.path.basename(full))] if os.path.isfile(full) else []
        headers = {h["name"]: h["value"] for h in container.get("uploadHeaders") or []}
        base, _, query = container_url.partition("?")
        for local, name in names:
            url = f"{base.rstrip('/')}/{urllib.parse.quote(name)}" + (f"?{query}" if query else "")
            with open(local, "rb") as fh:
                data = fh.read()
            req = urllib.request.Request(url, data=data, method="PUT")
            req.add_header("x-ms-blob-type", "BlockBlob")
            req.add_header("x-ms-version", "2021-08-06")
            req.add_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                req.add_header(k, v)
            try:
                with urllib.request.urlopen(req, timeout=60) as resp:
                    resp.read()
            except (urllib.error.URLError, OSError) as exc:
                detail = getattr(exc, "code", None)
                return _failure(
                    "FileUploadFailed",
                    f"Failed to upload output file {name}: {detail or exc}",
                    [
                        {"name": "FilePattern", "value": pattern},
                        {"name": "BlobName", "value": name},
                    ],
                )
    return None


class StartTaskRun:
    def __init__(self, world: World, node: Node, spec: dict[str, Any]) -> None:
        self.world, self.node, self.spec = world, node, spec
        self.execution = Execution(world)
        self.thread = threading.Thread(target=self._main, daemon=True, name=f"start-{node.id[:12]}")

    def cancel(self) -> None:
        self.execution.cancel("node")

    def _main(self) -> None:
        w, node, spec = self.world, self.node, self.spec
        startup = os.path.join(node.root, "startup")
        wd = os.path.join(startup, "wd")
        max_retries = int(spec.get("maxTaskRetryCount") or 0)
        retry = 0
        while True:
            os.makedirs(wd, exist_ok=True)
            with w.lock:
                node.start_task_info = {
                    "state": "running",
                    "startTime": iso(utcnow()),
                    "retryCount": retry,
                }
                if retry:
                    node.start_task_info["lastRetryTime"] = iso(utcnow())
            env = w.env_for(node, task_dir=startup, wd=wd, extra=spec.get("environmentSettings"))
            failure = self.execution.download(wd, spec.get("resourceFiles") or [])
            if failure:
                outcome = Outcome(failure=failure, start_time=utcnow(), end_time=utcnow())
            else:
                forced = None
                if w.knobs.start_task_fails:
                    forced = "emulator: start task failed on purpose (knob start_task_fails)\n"
                outcome = self.execution.run(
                    spec.get("commandLine", ""),
                    startup,
                    wd,
                    env,
                    parse_duration((spec.get("constraints") or {}).get("maxWallClockTime")),
                    forced_failure=forced,
                )
            if self.execution.cancelled:
                return
            ok = outcome.failure is None
            if not ok and (max_retries == -1 or retry < max_retries):
                retry += 1
                continue
            with w.lock:
                info: dict[str, Any] = {
                    "state": "completed",
                    "startTime": iso(outcome.start_time),
                    "endTime": iso(outcome.end_time),
                    "retryCount": retry,
                    "result": "success" if ok else "failure",
                }
                if outcome.exit_code is not None:
                    info["exitCode"] = outcome.exit_code
                if retry:
                    info["lastRetryTime"] = iso(outcome.start_time)
                if outcome.failure:
                    info["failureInfo"] = outcome.failure
                node.start_task_info = info
                node.start_run = None
                wait = spec.get("waitForSuccess", True)
                if node.state == "waitingforstarttask":
                    node.set_state("idle" if ok or not wait else "starttaskfailed")
            return


class TaskRun:
    def __init__(self, world: World, task: Task, node: Node) -> None:
        self.world, self.task, self.node = world, task, node
        self.execution = Execution(world)
        self.released = False
        self.finalized = False
        self.thread = threading.Thread(target=self._main, daemon=True, name=f"task-{task.id}")

    def cancel(self, reason: str) -> None:
        self.execution.cancel(reason)

    def release(self) -> None:
        """Give the node its slots back (idempotent; caller holds the lock)."""
        if self.released:
            return
        self.released = True
        node = self.node
        node.runs.pop((self.task.job.id, self.task.id), None)
        node.used_slots -= self.task.required_slots
        if not node.runs:
            node.busy_since = None
            if node.state == "running":
                node.set_state("idle")

    def _main(self) -> None:
        w, task, node = self.world, self.task, self.node
        job = task.job
        task_dir = task.task_dir or os.path.join(node.root, "workitems", job.id, "job-1", task.id)
        wd = os.path.join(task_dir, "wd")
        shutil.rmtree(task_dir, ignore_errors=True)
        os.makedirs(wd, exist_ok=True)
        spec = task.spec
        env_extra = list(job.spec.get("commonEnvironmentSettings") or []) + list(
            spec.get("environmentSettings") or []
        )
        env = w.env_for(node, task_dir=task_dir, wd=wd, extra=env_extra, job=job, task=task)
        wall = parse_duration((spec.get("constraints") or {}).get("maxWallClockTime"))
        deadline = time.monotonic() + wall if wall is not None else None
        failure = self.execution.download(wd, spec.get("resourceFiles") or [])
        if failure:
            outcome = Outcome(failure=failure, start_time=utcnow(), end_time=utcnow())
        else:
            while True:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                outcome = self.execution.run(
                    spec.get("commandLine", ""), task_dir, wd, env, remaining
                )
                if self.execution.cancelled:
                    break
                retryable = outcome.failure is not None and outcome.failure["code"] in (
                    "FailureExitCode",
                )
                mr = task.max_retries
                with w.lock:
                    rc = task.exec_info.get("retryCount", 0)
                    if retryable and (mr == -1 or rc < mr) and not self.finalized:
                        task.exec_info["retryCount"] = rc + 1
                        task.exec_info["lastRetryTime"] = iso(utcnow())
                        task.exec_info["exitCode"] = outcome.exit_code
                        task.etag, task.modified = new_etag(), utcnow()
                        continue
                break
        reason = self.execution.cancelled
        if reason in ("delete", "requeue") and not self.finalized:
            with w.lock:
                self.release()
                if reason == "requeue" and task.state == "running" and task.job.id in w.jobs:
                    task.exec_info["requeueCount"] = task.exec_info.get("requeueCount", 0) + 1
                    task.exec_info["lastRequeueTime"] = iso(utcnow())
                    for k in ("startTime", "endTime", "exitCode", "result", "failureInfo"):
                        task.exec_info.pop(k, None)
                    task.node_info = None
                    task.run = None
                    task.set_state("active")
            return
        succeeded = outcome.failure is None
        if reason == "terminate":
            succeeded = False
        up_fail = upload_outputs(spec.get("outputFiles") or [], task_dir, wd, succeeded)
        if up_fail and succeeded:
            outcome.failure, succeeded = up_fail, False
        with w.lock:
            if not self.finalized:
                w.finish_task(task, outcome)
            self.release()


# ------------------------------------------------------------------------------------------


SUPPORTED_IMAGES: list[dict[str, Any]] = [
    {
        "imageReference": {
            "publisher": "canonical",
            "offer": "0001-com-ubuntu-server-jammy",
            "sku": "22_04-lts",
            "version": "latest",
        },
        "verificationType": "verified",
        "nodeAgentSKUId": "batch.node.ubuntu 22.04",
        "osType": "linux",
    },
    {
        "imageReference": {
            "publisher": "canonical",
            "offer": "0001-com-ubuntu-server-jammy",
            "sku": "22_04-lts-gen2",
            "version": "latest",
        },
        "verificationType": "verified",
        "nodeAgentSKUId": "batch.node.ubuntu 22.04",
        "capabilities": ["Generation2VMImage"],
        "osType": "linux",
    },
    {
        "imageReference": {
            "publisher": "canonical",
            "offer": "ubuntu-24_04-lts",
            "sku": "server",
            "version": "latest",
        },
        "verificationType": "verified",
        "nodeAgentSKUId": "batch.node.ubuntu 24.04",
        "capabilities": ["Generation2VMImage"],
        "osType": "linux",
    },
    {
        "imageReference": {
            "publisher": "canonical",
            "offer": "ubuntu-24_04-lts",
            "sku": "server-gen1",
            "version": "latest",
        },
        "verificationType": "verified",
        "nodeAgentSKUId": "batch.node.ubuntu 24.04",
        "osType": "linux",
    },
    {
        "imageReference": {
            "publisher": "microsoftwindowsserver",
            "offer": "windowsserver",
            "sku": "2022-datacenter",
            "version": "latest",
        },
        "verificationType": "verified",
        "nodeAgentSKUId": "batch.node.windows amd64",
        "osType": "windows",
    },
]


class World:
    def __init__(
        self,
        account: str,
        root: str,
        path_dirs: list[str] | None = None,
        knobs: Knobs | None = None,
    ) -> None:
        self.account = account
        self.root = root
        self.path_dirs = list(path_dirs or [])
        self.knobs = knobs or Knobs()
        self.rng = random.Random(self.knobs.seed)
        self.lock = threading.RLock()
        self.pools: dict[str, Pool] = {}
        self.jobs: dict[str, Job] = {}
        self.base_url = ""
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, daemon=True, name="batch-ticker")

    def start(self) -> None:
        self._ticker.start()

    def shutdown(self) -> None:
        self._stop.set()
        with self.lock:
            for pool in self.pools.values():
                for node in pool.nodes.values():
                    self._stop_node(node, "delete")

    # -- helpers -------------------------------------------------------------------------

    def set_knobs(self, values: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.knobs.update(values)
            if "seed" in values:
                self.rng = random.Random(values["seed"])
            return asdict(self.knobs)

    def env_for(
        self,
        node: Node,
        task_dir: str,
        wd: str,
        extra: list[dict[str, str]] | None = None,
        job: Job | None = None,
        task: Task | None = None,
    ) -> dict[str, str]:
        env = dict(os.environ)
        if self.path_dirs:
            env["PATH"] = os.pathsep.join(self.path_dirs + [env.get("PATH", "")])
        env.update(
            {
                "AZ_BATCH_ACCOUNT_NAME": self.account,
                "AZ_BATCH_ACCOUNT_URL": self.base_url,
                "AZ_BATCH_POOL_ID": node.pool.id,
                "AZ_BATCH_NODE_ID": node.id,
                "AZ_BATCH_NODE_IS_DEDICATED": "true" if node.dedicated else "false",
                "AZ_BATCH_NODE_ROOT_DIR": node.root,
                "AZ_BATCH_NODE_SHARED_DIR": os.path.join(node.root, "shared"),
                "AZ_BATCH_NODE_STARTUP_DIR": os.path.join(node.root, "startup"),
                "AZ_BATCH_NODE_LIST": node.ip,
                "AZ_BATCH_TASK_DIR": task_dir,
                "AZ_BATCH_TASK_WORKING_DIR": wd,
                "AZ_BATCH_RESERVED_EPHEMERAL_DISK_SPACE_BYTES": "1000000000",
            }
        )
        if job is not None:
            env["AZ_BATCH_JOB_ID"] = job.id
        if task is not None:
            env["AZ_BATCH_TASK_ID"] = task.id
        for item in extra or []:
            env[item["name"]] = item.get("value", "")
        return env

    def _new_node(self, pool: Pool, dedicated: bool) -> Node:
        nid = "tvmps_" + uuid.uuid4().hex + uuid.uuid4().hex + ("_d" if dedicated else "_p")
        root = os.path.join(self.root, pool.id, nid)
        for sub in ("startup", "shared", "workitems"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
        n = len(pool.nodes) + 4
        node = Node(id=nid, pool=pool, dedicated=dedicated, root=root, ip=f"10.0.0.{n}")
        node.next_at = time.monotonic() + self.knobs.state_delay_s
        return node

    def _stop_node(self, node: Node, reason: str) -> None:
        for run in list(node.runs.values()):
            run.cancel(reason)
        if node.start_run is not None:
            node.start_run.cancel()
            node.start_run = None

    # -- pool lifecycle ----------------------------------------------------------------

    def request_resize(self, pool: Pool) -> None:
        pool.allocation_state = "resizing"
        pool.allocation_time = utcnow()
        pool.alloc_due = time.monotonic() + self.knobs.allocation_delay_s
        pool.touch()

    def _reconcile(self, pool: Pool) -> None:
        for dedicated, key in ((True, "targetDedicatedNodes"), (False, "targetLowPriorityNodes")):
            target = int(pool.spec.get(key) or 0)
            have = [n for n in pool.nodes.values() if n.dedicated == dedicated]
            for _ in range(target - len(have)):
                node = self._new_node(pool, dedicated)
                pool.nodes[node.id] = node
            if len(have) > target:
                # remove idle / not-yet-ready nodes first, busy ones last
                order = sorted(have, key=lambda n: (len(n.runs), n.state == "idle"))
                for node in order[: len(have) - target]:
                    option = str(pool.spec.get("_nodeDeallocationOption", "requeue")).lower()
                    for run in list(node.runs.values()):
                        if option == "terminate":
                            self.terminate_run(run)
                        else:
                            run.cancel("requeue")
                    if node.start_run:
                        node.start_run.cancel()
                    del pool.nodes[node.id]
        pool.allocation_state = "steady"
        pool.allocation_time = utcnow()
        pool.alloc_due = None
        pool.touch()

    def _advance_node(self, node: Node, now: float) -> None:
        k = self.knobs
        if node.state == "creating" and now >= node.next_at:
            node.set_state("starting")
            node.next_at = now + k.state_delay_s
        elif node.state == "starting" and now >= node.next_at:
            node.boot_time = utcnow()
            st = node.pool.spec.get("startTask")
            if st and st.get("commandLine"):
                wait = st.get("waitForSuccess", True)
                node.set_state("waitingforstarttask" if wait else "idle")
                node.start_run = StartTaskRun(self, node, st)
                node.start_run.thread.start()
            else:
                node.set_state("idle")
        elif node.state == "preempted" and now >= node.next_at:
            node.set_state("creating")
            node.allocation_time = utcnow()
            node.next_at = now + k.state_delay_s
            node.start_task_info = None
        elif (
            node.state == "running"
            and not node.dedicated
            and k.preempt_node_after_s is not None
            and not node.preempted_once
            and node.busy_since is not None
            and now - node.busy_since >= k.preempt_node_after_s
        ):
            self.preempt(node)

    def preempt(self, node: Node) -> None:
        """A Spot node is taken away: running tasks go back to active (requeueCount+1)."""
        node.preempted_once = True
        for run in list(node.runs.values()):
            run.cancel("requeue")
        if node.start_run:
            node.start_run.cancel()
            node.start_run = None
        node.set_state("preempted")
        node.busy_since = None
        node.next_at = time.monotonic() + self.knobs.preempt_recover_s

    # -- scheduling ---------------------------------------------------------------------

    def _schedule(self, job: Job) -> None:
        pool = self.pools.get(job.pool_id or "")
        if pool is None or pool.state != "active":
            return
        spt = pool.slots_per_node
        ready = [
            n
            for n in pool.nodes.values()
            if n.state in ("idle", "running") and n.scheduling_state == "enabled"
        ]
        if not ready:
            return
        max_par = int(job.spec.get("maxParallelTasks", -1))
        running = sum(1 for t in job.tasks.values() if t.state == "running")
        pack = (
            str((pool.spec.get("taskSchedulingPolicy") or {}).get("nodeFillType", "spread")).lower()
            == "pack"
        )
        for task in job.tasks.values():
            if task.state != "active":
                continue
            if max_par >= 0 and running >= max_par:
                return
            need = task.required_slots
            fits = [n for n in ready if spt - n.used_slots >= need]
            if not fits:
                if all(spt - n.used_slots <= 0 for n in ready):
                    return
                continue
            if pack:
                node = min(fits, key=lambda n: spt - n.used_slots)
            else:
                node = max(fits, key=lambda n: spt - n.used_slots)
            self._start_task(task, node)
            running += 1

    def _start_task(self, task: Task, node: Node) -> None:
        run = TaskRun(self, task, node)
        task.run = run
        node.runs[(task.job.id, task.id)] = run
        node.used_slots += task.required_slots
        node.total_run += 1
        if node.busy_since is None:
            node.busy_since = time.monotonic()
        node.set_state("running")
        task.set_state("running")
        task.exec_info["startTime"] = iso(utcnow())
        for k in ("endTime", "exitCode", "result", "failureInfo"):
            task.exec_info.pop(k, None)
        rel = f"workitems/{task.job.id}/job-1/{task.id}"
        task.task_dir = os.path.join(node.root, *rel.split("/"))
        task.node_info = {
            "affinityId": f"TVM:{node.id}",
            "nodeUrl": node.url(self.base_url),
            "poolId": node.pool.id,
            "nodeId": node.id,
            "taskRootDirectory": rel,
            "taskRootDirectoryUrl": f"{node.url(self.base_url)}/files/{rel}",
        }
        node.recent.append(
            {
                "taskUrl": f"{self.base_url}/jobs/{task.job.id}/tasks/{task.id}",
                "jobId": task.job.id,
                "taskId": task.id,
                "taskState": "running",
            }
        )
        run.thread.start()

    def finish_task(self, task: Task, outcome: Outcome) -> None:
        """Mark a task completed (caller holds the lock)."""
        run = task.run
        if run is not None:
            run.finalized = True
        ok = outcome.failure is None
        task.exec_info["endTime"] = iso(outcome.end_time or utcnow())
        if outcome.exit_code is not None:
            task.exec_info["exitCode"] = outcome.exit_code
        else:
            task.exec_info.pop("exitCode", None)
        task.exec_info["result"] = "success" if ok else "failure"
        if outcome.failure:
            task.exec_info["failureInfo"] = outcome.failure
        else:
            task.exec_info.pop("failureInfo", None)
        task.set_state("completed")
        if run is not None and ok:
            run.node.total_succeeded += 1
        if run is not None:
            for r in run.node.recent:
                if r["taskId"] == task.id and r["jobId"] == task.job.id:
                    r["taskState"] = "completed"
                    r["executionInfo"] = {
                        k: v for k, v in task.exec_info.items() if k != "failureInfo"
                    }

    def terminate_run(self, run: TaskRun) -> None:
        """Kill a running task and complete it as ended by the user (caller holds the lock)."""
        run.cancel("terminate")
        self.finish_task(
            run.task,
            Outcome(
                exit_code=None,
                failure=_failure("TaskEnded", "Task Was Ended by User Request"),
                end_time=utcnow(),
            ),
        )
        run.release()

    def terminate_task(self, task: Task) -> None:
        if task.state == "completed":
            return
        if task.run is not None and task.state == "running":
            self.terminate_run(task.run)
        else:
            task.run = None
            self.finish_task(
                task,
                Outcome(failure=_failure("TaskEnded", "Task Was Ended by User Request")),
            )

    # -- tick ---------------------------------------------------------------------------

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.knobs.tick_s):
            try:
                self.tick()
            except Exception:  # keep the world turning; a test will see the symptom
                import traceback

                traceback.print_exc()

    def tick(self) -> None:
        now = time.monotonic()
        with self.lock:
            for pool in list(self.pools.values()):
                if pool.state == "deleting":
                    if pool.delete_due is not None and now >= pool.delete_due:
                        del self.pools[pool.id]
                        shutil.rmtree(os.path.join(self.root, pool.id), ignore_errors=True)
                    continue
                if pool.alloc_due is not None and now >= pool.alloc_due:
                    self._reconcile(pool)
                for node in list(pool.nodes.values()):
                    self._advance_node(node, now)
            for job in list(self.jobs.values()):
                if job.state == "deleting":
                    if job.delete_due is not None and now >= job.delete_due:
                        del self.jobs[job.id]
                    continue
                if job.state == "active":
                    self._schedule(job)
                    if (
                        str(job.spec.get("onAllTasksComplete", "noaction")).lower()
                        == "terminatejob"
                        and job.tasks
                        and all(t.state == "completed" for t in job.tasks.values())
                    ):
                        self._complete_job(job, "AllTasksComplete")
                elif job.state == "terminating":
                    if not any(t.state == "running" for t in job.tasks.values()):
                        self._complete_job(
                            job, job.exec_info.get("terminateReason", "UserTerminate")
                        )

    def _complete_job(self, job: Job, reason: str) -> None:
        job.exec_info["endTime"] = iso(utcnow())
        job.exec_info["terminateReason"] = reason
        job.set_state("completed")

    # -- API-level operations (caller holds the lock) ------------------------------------

    def delete_pool(self, pool: Pool) -> None:
        if pool.state == "deleting":
            return
        pool.state = "deleting"
        pool.state_time = utcnow()
        pool.touch()
        for node in pool.nodes.values():
            self._stop_node(node, "requeue")
            node.set_state("leavingpool")
        pool.delete_due = time.monotonic() + self.knobs.delete_delay_s

    def delete_job(self, job: Job) -> None:
        if job.state == "deleting":
            return
        job.set_state("deleting")
        for task in job.tasks.values():
            if task.run is not None and not task.run.finalized:
                task.run.cancel("delete")
        job.delete_due = time.monotonic() + self.knobs.delete_delay_s

    def terminate_job(self, job: Job, reason: str | None) -> None:
        if job.state in ("completed", "terminating", "deleting"):
            return
        job.exec_info["terminateReason"] = reason or "UserTerminate"
        job.set_state("terminating")
        for task in job.tasks.values():
            if task.state == "running" and task.run is not None:
                self.terminate_run(task.run)

    def find_node(self, pool_id: str, node_id: str) -> Node:
        pool = self.pools.get(pool_id)
        if pool is None:
            raise not_found("Pool")
        node = pool.nodes.get(node_id)
        if node is None:
            raise BatchApiError(404, "NodeNotFound", "The specified node does not exist.")
        return node

    def debug_state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "pools": {
                    p.id: {
                        "state": p.state,
                        "allocationState": p.allocation_state,
                        "nodes": {n.id: n.state for n in p.nodes.values()},
                    }
                    for p in self.pools.values()
                },
                "jobs": {
                    j.id: {"state": j.state, "tasks": {t.id: t.state for t in j.tasks.values()}}
                    for j in self.jobs.values()
                },
            }


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")
