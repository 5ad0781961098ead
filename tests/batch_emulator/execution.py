"""Running things on a node: resource files in, the command line (no shell), outputs out.

Each running task (and each start task) has its own thread here; the World's lock guards
every change to shared state. With the `node_speed` knob a task also takes at least
(media seconds of its input) / (node_speed x its required slots) seconds from the start of
its attempt, whatever this machine's speed. The media duration comes from running the
node's own ffmpeg on each downloaded resource file (`ffmpeg -i FILE`, its "Duration:"
line); the longest counts, and files ffmpeg cannot read count as 0 s. A task whose floor
lies past its maxWallClockTime fails with MaxWallClockTimeExceeded at that limit.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .util import iso, parse_duration, utcnow

if TYPE_CHECKING:
    from .jobs import Task
    from .pools import Node
    from .world import World

_DURATION_LINE = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")


def media_seconds(paths: list[str], env: dict[str, str]) -> float:
    """The longest media duration among paths, read by the ffmpeg on the node's PATH."""
    ffmpeg = shutil.which("ffmpeg", path=env.get("PATH"))
    if not ffmpeg:
        return 0.0
    longest = 0.0
    for path in paths:
        try:
            probe = subprocess.run(
                [ffmpeg, "-hide_banner", "-nostdin", "-i", path],
                capture_output=True, text=True, timeout=30, env=env, errors="replace",
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        m = _DURATION_LINE.search(probe.stderr)
        if m:
            h, mi, s = m.groups()
            longest = max(longest, int(h) * 3600 + int(mi) * 60 + float(s))
    return longest


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


def failure(
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
        self.stopped = threading.Event()

    def cancel(self, reason: str) -> None:
        self.cancelled = reason
        self.stopped.set()
        _kill_group(self.proc)

    def downloaded(self, wd: str, resource_files: list[dict[str, Any]]) -> list[str]:
        """Where download() put each resource file."""
        out = []
        for rf in resource_files or []:
            url = rf.get("httpUrl") or ""
            rel = rf.get("filePath") or os.path.basename(urllib.parse.urlsplit(url).path)
            out.append(os.path.normpath(os.path.join(wd, rel)))
        return out

    def download(self, wd: str, resource_files: list[dict[str, Any]]) -> dict[str, Any] | None:
        for rf in resource_files or []:
            url = rf.get("httpUrl") or rf.get("storageContainerUrl")
            if not rf.get("httpUrl"):
                return failure(
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
                return failure(
                    code,
                    f"Failed to download resource file {rel}: HTTP {exc.code} {exc.reason}",
                    [
                        {"name": "FilePath", "value": dest},
                        {"name": "ResourceUrl", "value": url.split("?")[0]},
                        {"name": "HttpStatusCode", "value": str(exc.code)},
                    ],
                )
            except (OSError, ValueError) as exc:
                return failure(
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
                    out.failure = failure(
                        "CommandProgramNotFound",
                        f"The specified command program is not found: {exc.filename}",
                    )
                    return out
                except (OSError, ValueError) as exc:
                    out.end_time = utcnow()
                    out.failure = failure(
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
                    out.failure = failure(
                        "MaxWallClockTimeExceeded",
                        "The task exceeded the maximum wall clock time constraint.",
                    )
                out.exit_code = rc if rc >= 0 else 128 - rc
        out.end_time = utcnow()
        if out.failure is None and out.exit_code != 0:
            out.failure = failure(
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
                return failure(
                    "FileUploadFailed",
                    f"Failed to upload output file {name}: {detail or exc}",
                    [
                        {"name": "FilePattern", "value": pattern},
                        {"name": "BlobName", "value": name},
                    ],
                )
    return None




class StartTaskRun:
    """A pool's start task on one node: retries per its maxTaskRetryCount, then the node
    goes idle or starttaskfailed (waitForSuccess)."""

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
            fail = self.execution.download(wd, spec.get("resourceFiles") or [])
            if fail:
                outcome = Outcome(failure=fail, start_time=utcnow(), end_time=utcnow())
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
    """One task on one node, from resource files to output files; retries in place."""

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

    def _floor_s(self, wd: str, env: dict[str, str]) -> float:
        speed = self.world.knobs.node_speed
        if not speed or speed <= 0:
            return 0.0
        files = self.execution.downloaded(wd, self.task.spec.get("resourceFiles") or [])
        seconds = media_seconds([f for f in files if os.path.isfile(f)], env)
        return seconds / (speed * self.task.required_slots)

    def _attempt(self, wd: str, task_dir: str, env: dict[str, str], deadline: float | None,
                 floor_s: float) -> Outcome:
        started = time.monotonic()
        remaining = None if deadline is None else max(0.0, deadline - started)
        outcome = self.execution.run(
            self.task.spec.get("commandLine", ""), task_dir, wd, env, remaining
        )
        if floor_s <= 0 or self.execution.cancelled or outcome.failure:
            return outcome
        until = started + floor_s
        if deadline is not None and deadline < until:
            self.execution.stopped.wait(max(0.0, deadline - time.monotonic()))
            outcome.failure = failure(
                "MaxWallClockTimeExceeded",
                "The task exceeded the maximum wall clock time constraint.",
            )
            outcome.exit_code = 137
        else:
            self.execution.stopped.wait(max(0.0, until - time.monotonic()))
        outcome.end_time = utcnow()
        return outcome

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
        fail = self.execution.download(wd, spec.get("resourceFiles") or [])
        if fail:
            outcome = Outcome(failure=fail, start_time=utcnow(), end_time=utcnow())
        else:
            floor_s = self._floor_s(wd, env)
            while True:
                outcome = self._attempt(wd, task_dir, env, deadline, floor_s)
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
                        continue
                break
        reason = self.execution.cancelled
        if reason in ("delete", "requeue") and not self.finalized:
            with w.lock:
                self.release()
                if reason == "requeue" and task.state == "running" and task.job.id in w.jobs:
                    w.requeue_task(task)
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
