"""Replay recorded Batch exchanges (this folder's .jsonl files) on the Batch emulator.

For each recorded request the Stage first brings the emulator into the state the request
needs (the pool/job/task exists or does not, tasks have run, a job is disabling, a pool has
autoscale on, enough pools to page), then the request is sent as recorded, signed with
SharedKey, and `compare` checks the status code, the top-level keys of the JSON answer
(and of the first listed item), the recorded headers, error codes, and the `state` of a
job or pool when the stage drove it there. Differences accepted on purpose are listed in
STATE_DEPENDENT; recordings that cannot be replayed are listed with the reason by the test.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from email.utils import formatdate
from pathlib import Path
from typing import Any

from tests.azure_world import BatchEmulator, wait_for
from tests.batch_emulator.auth import authorization_header

HERE = Path(__file__).resolve().parent
API = "2025-06-01"
UBUNTU_VMC = {
    "imageReference": {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
    "nodeAgentSKUId": "batch.node.ubuntu 24.04",
}
RUNNER = "conformance-runner"
FORMULA = "$TargetDedicatedNodes=2"
#: job states the stage can drive a job into (and then compares)
JOB_STATES = ("active", "disabling", "disabled", "terminating", "completed", "deleting")

# Keys whose presence depends on an entity's state or history (which a replay cannot
# reproduce exactly), or on features the emulator does not model. Either side may lack them.
STATE_DEPENDENT = {
    "previousState": "present only after a state change",
    "previousStateTransitionTime": "present only after a state change",
    "nodeInfo": "present only once a task ran on a node",
    "lastBootTime": "absent while a node is still creating",
    "nodeAgentInfo": "absent while a node is still creating",
    "startTask": "present only when the pool has a start task",
    "startTaskInfo": "present only once a start task ran",
    "recentTasks": "present only once tasks ran on the node",
    "errors": "present only for nodes in an error state",
    "certificateReferences": "deprecated; sent by older api-versions only",
    "currentNodeCommunicationMode": "sent by newer api-versions only",
    "upgradePolicy": "sent by newer api-versions only; not modelled",
    "resizeErrors": "present only after a failed resize",
    "autoScaleRun": "present once a formula was evaluated",
    "networkConfiguration": "echoed only when given at creation",
    "displayName": "echoed only when given",
    "jobPreparationTask": "echoed only when given",
    "jobReleaseTask": "echoed only when given",
    "odata.nextLink": "present only when more items exist than fit a page",
}

# Properties the service (and the emulator) only echo from the creation body.
ECHOED = {
    "userAccounts",
    "metadata",
    "startTask",
    "applicationPackageReferences",
    "mountConfiguration",
    "displayName",
    "networkConfiguration",
    "targetNodeCommunicationMode",
}

COMPUTED = {
    "odata.metadata", "url", "eTag", "lastModified", "creationTime", "state",
    "stateTransitionTime", "previousState", "previousStateTransitionTime", "allocationState",
    "allocationStateTransitionTime", "currentDedicatedNodes", "currentLowPriorityNodes",
    "executionInfo", "nodeInfo", "stats", "resizeErrors", "currentNodeCommunicationMode",
    "autoScaleRun",
}


def load(name: str) -> list[dict[str, Any]]:
    path = HERE / name
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def q(s: str) -> str:
    return urllib.parse.quote(s, safe="")


class Raw:
    """A bare SharedKey-signing HTTP client, so recorded requests go out as recorded."""

    def __init__(self, emu: BatchEmulator) -> None:
        self.emu = emu
        u = urllib.parse.urlsplit(emu.url)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80

    def call(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: Any = None,
        account: str | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        query = dict(query or {"api-version": API})
        raw_query = urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        payload = json.dumps(body).encode() if body is not None else b""
        headers = {"ocp-date": formatdate(usegmt=True)}
        if body is not None:
            headers["content-type"] = "application/json; odata=minimalmetadata"
            headers["content-length"] = str(len(payload))
        headers["Authorization"] = authorization_header(
            method, path, raw_query, headers, account or self.emu.account, self.emu.key
        )
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, f"{path}?{raw_query}", body=payload or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            rheaders = {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()
        parsed: Any = data
        if rheaders.get("content-type", "").startswith("application/json") and data:
            parsed = json.loads(data)
        return resp.status, rheaders, parsed

    def ok(self, method: str, path: str, body: Any = None, expect: int | tuple[int, ...] = ()
           ) -> Any:
        status, _, got = self.call(method, path, body=body)
        want = (expect,) if isinstance(expect, int) else expect
        assert not want or status in want, (method, path, status, got)
        return got


def creation_body(recorded: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (recorded or {}).items() if k not in COMPUTED}


class Stage:
    """Brings the emulator into the state a recorded request needs."""

    def __init__(self, raw: Raw, recs: list[dict[str, Any]]) -> None:
        self.raw = raw
        # The richest recorded answer for each pool/job, so an entity created for an early
        # request (e.g. HEAD) already has the properties a later GET of it shows.
        self.known: dict[tuple[str, str], dict[str, Any]] = {}
        for rec in recs:
            body = rec["response_body"]
            if rec["method"] != "GET" or rec["status"] != 200 or not isinstance(body, dict):
                continue
            kind = {"/pools/{poolId}": "pool", "/jobs/{jobId}": "job"}.get(rec["path_template"])
            if kind and len(body) > len(self.known.get((kind, body["id"]), {})):
                self.known[(kind, body["id"])] = body

    # pools
    def pool(self, pool_id: str) -> dict[str, Any] | None:
        status, _, body = self.raw.call("GET", f"/pools/{q(pool_id)}")
        return body if status == 200 else None

    def ensure_pool(
        self, pool_id: str, recorded: dict[str, Any] | None = None, nodes: int = 0,
        autoscale: bool | None = None,
    ) -> None:
        cur = self.pool(pool_id)
        recorded = recorded or self.known.get(("pool", pool_id))
        if autoscale is None:
            autoscale = bool((recorded or {}).get("enableAutoScale"))
        if cur is not None and (cur["state"] == "deleting" or (nodes and cur["enableAutoScale"])):
            self.ensure_no_pool(pool_id)
            cur = None
        if cur is None:
            body = creation_body(recorded)
            body.update({"id": pool_id, "vmSize": body.get("vmSize", "standard_d2s_v3")})
            body.pop("startTask", None)
            for key in ("targetDedicatedNodes", "targetLowPriorityNodes", "enableAutoScale",
                        "autoScaleFormula", "autoScaleEvaluationInterval"):
                body.pop(key, None)
            if autoscale and not nodes:
                body["enableAutoScale"] = True
                body["autoScaleFormula"] = (recorded or {}).get("autoScaleFormula") or FORMULA
                body["autoScaleEvaluationInterval"] = (recorded or {}).get(
                    "autoScaleEvaluationInterval", "PT15M")
            else:
                body["targetDedicatedNodes"], body["targetLowPriorityNodes"] = nodes, 0
            body.setdefault("virtualMachineConfiguration", UBUNTU_VMC)
            self.raw.ok("POST", "/pools", body, expect=201)
        self.steady(pool_id)
        cur = self.pool(pool_id) or {}
        if nodes and cur["targetDedicatedNodes"] != nodes:
            self.raw.ok("POST", f"/pools/{q(pool_id)}/resize",
                        {"targetDedicatedNodes": nodes}, expect=202)
        elif autoscale and not cur["enableAutoScale"]:
            self.raw.ok("POST", f"/pools/{q(pool_id)}/enableautoscale",
                        {"autoScaleFormula": FORMULA}, expect=200)
        elif autoscale is False and cur["enableAutoScale"]:
            self.raw.ok("POST", f"/pools/{q(pool_id)}/disableautoscale", expect=200)
        self.steady(pool_id)
        if nodes:
            def ready() -> bool:
                _, _, b = self.raw.call("GET", f"/pools/{q(pool_id)}/nodes")
                return len(b["value"]) == nodes and all(n["state"] == "idle" for n in b["value"])

            wait_for(ready, timeout_s=20, what=f"pool {pool_id} ready")

    def steady(self, pool_id: str) -> None:
        wait_for(lambda: (p := self.pool(pool_id)) and p["allocationState"] == "steady",
                 timeout_s=20, what=f"pool {pool_id} steady")

    def ensure_no_pool(self, pool_id: str) -> None:
        if self.pool(pool_id) is not None:
            self.raw.call("DELETE", f"/pools/{q(pool_id)}")
            wait_for(lambda: self.pool(pool_id) is None, timeout_s=10, what="pool gone")

    def ensure_deleting_pool(self, pool_id: str, recorded: dict[str, Any]) -> None:
        cur = self.pool(pool_id)
        if cur is None or cur["state"] != "deleting":
            self.ensure_pool(pool_id, recorded)
            self.raw.ok("DELETE", f"/pools/{q(pool_id)}", expect=202)

    def ensure_pools(self, count: int) -> None:
        _, _, b = self.raw.call("GET", "/pools")
        for i in range(max(0, count - len(b["value"]))):
            self.ensure_pool(f"conformance-extra-{i}-{time.monotonic_ns()}", autoscale=False)

    # jobs
    def job(self, job_id: str) -> dict[str, Any] | None:
        status, _, body = self.raw.call("GET", f"/jobs/{q(job_id)}")
        return body if status == 200 else None

    def ensure_job(
        self, job_id: str, recorded: dict[str, Any] | None = None, runnable: bool = False,
        noaction: bool = False,
    ) -> None:
        """The job exists and is active (a job in another state is deleted and made anew);
        `noaction`: it must still accept onAllTasksComplete noaction."""
        cur = self.job(job_id)
        if cur is not None and (
            cur["state"] != "active"
            or (runnable and cur["poolInfo"].get("poolId") != RUNNER)
            or (noaction and cur["onAllTasksComplete"] == "terminatejob")
        ):
            if cur["state"] == "disabled" and not runnable and not noaction:
                self.raw.ok("POST", f"/jobs/{q(job_id)}/enable", expect=202)
                wait_for(lambda: (j := self.job(job_id)) and j["state"] == "active",
                         timeout_s=10, what="job enabled")
                return
            self.ensure_no_job(job_id)
            cur = None
        if cur is None:
            body = creation_body(recorded or self.known.get(("job", job_id)))
            body["id"] = job_id
            # terminatejob on a job without tasks would complete it under the replay's feet
            body.pop("onAllTasksComplete", None)
            if runnable or "poolInfo" not in body:
                self.ensure_pool(RUNNER, nodes=1)
                body["poolInfo"] = {"poolId": RUNNER}
            self.raw.ok("POST", "/jobs", body, expect=201)

    def ensure_job_state(self, job_id: str, state: str, recorded: dict[str, Any]) -> None:
        cur = self.job(job_id)
        if state == "deleting":
            if cur is None:
                self.ensure_job(job_id, recorded)
            if cur is None or cur["state"] != "deleting":
                self.raw.ok("DELETE", f"/jobs/{q(job_id)}", expect=202)
            return
        if cur is not None and cur["state"] == state:
            return
        self.ensure_job(job_id, recorded)
        path = f"/jobs/{q(job_id)}"
        if state in ("disabling", "disabled"):
            self.raw.ok("POST", f"{path}/disable", {"disableTasks": "requeue"}, expect=202)
        elif state in ("terminating", "completed"):
            self.raw.ok("POST", f"{path}/terminate", {"terminateReason": "replay"}, expect=202)
        if state in ("disabled", "completed"):
            wait_for(lambda: (j := self.job(job_id)) and j["state"] == state,
                     timeout_s=10, what=f"job {state}")

    def ensure_no_job(self, job_id: str) -> None:
        if self.job(job_id) is not None:
            self.raw.call("DELETE", f"/jobs/{q(job_id)}")
            wait_for(lambda: self.job(job_id) is None, timeout_s=10, what="job gone")

    def ensure_jobs(self, count: int) -> None:
        _, _, b = self.raw.call("GET", "/jobs")
        for i in range(max(0, count - len(b["value"]))):
            self.ensure_job(f"conformance-extra-job-{i}-{time.monotonic_ns()}")

    # tasks
    def task(self, job_id: str, task_id: str) -> dict[str, Any] | None:
        status, _, body = self.raw.call("GET", f"/jobs/{q(job_id)}/tasks/{q(task_id)}")
        return body if status == 200 else None

    def ensure_task(
        self,
        job_id: str,
        task_id: str,
        recorded: dict[str, Any] | None = None,
        completed: bool = False,
    ) -> None:
        job = self.job(job_id)
        if job is None or job["state"] not in ("active", "disabled"):
            self.ensure_job(job_id)
        if completed:
            job = self.job(job_id)
            if job and job["poolInfo"].get("poolId") != RUNNER:
                self.ensure_no_job(job_id)
                self.ensure_job(job_id, runnable=True)
        cur = self.task(job_id, task_id)
        if cur is None:
            body = creation_body(recorded)
            body["id"] = task_id
            # Recorded command lines are Windows ones (cmd /c ...); this host runs Linux.
            body["commandLine"] = f"echo Hello World {task_id}"
            body.pop("outputFiles", None)  # their container URLs are redacted
            self.raw.ok("POST", f"/jobs/{q(job_id)}/tasks", body, expect=201)
        if completed:
            wait_for(
                lambda: (t := self.task(job_id, task_id)) and t["state"] == "completed",
                timeout_s=20,
                what=f"task {task_id} completed",
            )

    def ensure_no_task(self, job_id: str, task_id: str) -> None:
        if self.task(job_id, task_id) is not None:
            self.raw.call("DELETE", f"/jobs/{q(job_id)}/tasks/{q(task_id)}")

    def node_id(self, pool_id: str) -> str:
        self.ensure_pool(pool_id, nodes=1)
        _, _, b = self.raw.call("GET", f"/pools/{q(pool_id)}/nodes")
        return str(b["value"][0]["id"])
