"""Replay real Batch exchanges (../shared/conformance/batch-recordings.jsonl) on the emulator.

For each recorded request we first bring the emulator into the state the request needs
(the pool/job/task exists or does not, tasks have run, enough pools to page), send the
recorded request signed with SharedKey, and compare the status code, the top-level keys of
the JSON answer (and of the first listed item), and the presence of the recorded
headers. Differences we accept are listed below, each with its reason; recordings the
emulator cannot replay are listed in SKIP with the reason.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.parse
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from tests.azure_world import BatchEmulator, wait_for
from tests.batch_emulator.auth import authorization_header

RECORDINGS = Path(
    os.environ.get(
        "BATCH_CONFORMANCE_RECORDINGS",
        Path(__file__).resolve().parents[3] / "shared" / "conformance" / "batch-recordings.jsonl",
    )
)
API = "2025-06-01"
UBUNTU_VMC = {
    "imageReference": {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
    "nodeAgentSKUId": "batch.node.ubuntu 24.04",
}

# Keys whose presence depends on an entity's state or history (which a replay cannot
# reproduce exactly), or on features the emulator does not model. Either side may lack them.
STATE_DEPENDENT = {
    # set only once a pool/job/task/node has changed state at least once
    "previousState": "present only after a state change",
    "previousStateTransitionTime": "present only after a state change",
    # tasks: nodeInfo appears once the task was scheduled
    "nodeInfo": "present only once a task ran on a node",
    # nodes: depends on where the node is in its life
    "lastBootTime": "absent while a node is still creating",
    "nodeAgentInfo": "absent while a node is still creating",
    "startTask": "present only when the pool has a start task",
    "startTaskInfo": "present only once a start task ran",
    "recentTasks": "present only once tasks ran on the node",
    "errors": "present only for nodes in an error state",
    "certificateReferences": "deprecated; sent by older api-versions only",
    # pools
    "currentNodeCommunicationMode": "sent by newer api-versions only",
    "resizeErrors": "present only after a failed resize",
    "autoScaleFormula": "autoscale is not emulated",
    "autoScaleEvaluationInterval": "autoscale is not emulated",
    "autoScaleRun": "autoscale is not emulated",
    "networkConfiguration": "echoed only when given at creation",
    "displayName": "echoed only when given",
    # jobs
    "jobPreparationTask": "echoed only when given",
    "jobReleaseTask": "echoed only when given",
    # lists
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
}

SKIP = {
    ("POST", "/pools", 400): "the live service rejected a subnet/gallery image in another "
    "subscription; the emulator has no subscriptions to check against",
    ("POST", "/pools/{poolId}/nodes/{nodeId}/reimage", 409): "node reimage is not emulated "
    "(cloudServiceConfiguration pools only)",
}
SKIP_REASON_SKIPTOKEN = "a service-issued $skiptoken is opaque and cannot be replayed"

COMPUTED = {
    "odata.metadata",
    "url",
    "eTag",
    "lastModified",
    "creationTime",
    "state",
    "stateTransitionTime",
    "previousState",
    "previousStateTransitionTime",
    "allocationState",
    "allocationStateTransitionTime",
    "currentDedicatedNodes",
    "currentLowPriorityNodes",
    "executionInfo",
    "nodeInfo",
    "stats",
    "resizeErrors",
    "currentNodeCommunicationMode",
    "autoScaleRun",
}


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


class World:
    """Brings the emulator into the state a recorded request needs."""

    RUNNER = "conformance-runner"

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
        status, _, body = self.raw.call("GET", f"/pools/{_q(pool_id)}")
        return body if status == 200 else None

    def ensure_pool(
        self, pool_id: str, recorded: dict[str, Any] | None = None, nodes: int = 0
    ) -> None:
        cur = self.pool(pool_id)
        if cur is not None and cur["state"] == "deleting":
            self.ensure_no_pool(pool_id)
            cur = None
        if cur is None:
            recorded = recorded or self.known.get(("pool", pool_id))
            body = {k: v for k, v in (recorded or {}).items() if k not in COMPUTED}
            body.update(
                {
                    "id": pool_id,
                    "vmSize": body.get("vmSize", "standard_d2s_v3"),
                    "targetDedicatedNodes": nodes,
                    "targetLowPriorityNodes": 0,
                }
            )
            body.pop("enableAutoScale", None)
            body.pop("autoScaleFormula", None)
            body.pop("autoScaleEvaluationInterval", None)
            body.pop("startTask", None)
            body.setdefault("virtualMachineConfiguration", UBUNTU_VMC)
            status, _, err = self.raw.call("POST", "/pools", body=body)
            assert status == 201, err
        elif cur["targetDedicatedNodes"] != nodes and nodes:
            self.raw.call(
                "POST", f"/pools/{_q(pool_id)}/resize", body={"targetDedicatedNodes": nodes}
            )
        if nodes:

            def ready() -> bool:
                _, _, b = self.raw.call("GET", f"/pools/{_q(pool_id)}/nodes")
                return len(b["value"]) == nodes and all(n["state"] == "idle" for n in b["value"])

            wait_for(ready, timeout_s=20, what=f"pool {pool_id} ready")

    def ensure_no_pool(self, pool_id: str) -> None:
        if self.pool(pool_id) is not None:
            self.raw.call("DELETE", f"/pools/{_q(pool_id)}")
            wait_for(lambda: self.pool(pool_id) is None, timeout_s=10, what="pool gone")

    def ensure_pools(self, count: int) -> None:
        _, _, b = self.raw.call("GET", "/pools")
        for i in range(max(0, count - len(b["value"]))):
            self.ensure_pool(f"conformance-extra-{i}-{time.monotonic_ns()}")

    # jobs
    def job(self, job_id: str) -> dict[str, Any] | None:
        status, _, body = self.raw.call("GET", f"/jobs/{_q(job_id)}")
        return body if status == 200 else None

    def ensure_job(
        self, job_id: str, recorded: dict[str, Any] | None = None, runnable: bool = False
    ) -> None:
        cur = self.job(job_id)
        if cur is not None and (
            cur["state"] in ("deleting", "completed", "terminating")
            or (runnable and cur["poolInfo"].get("poolId") != self.RUNNER)
        ):
            self.ensure_no_job(job_id)
            cur = None
        if cur is None:
            recorded = recorded or self.known.get(("job", job_id))
            body = {k: v for k, v in (recorded or {}).items() if k not in COMPUTED}
            body["id"] = job_id
            if runnable or "poolInfo" not in body:
                self.ensure_pool(self.RUNNER, nodes=1)
                body["poolInfo"] = {"poolId": self.RUNNER}
            status, _, err = self.raw.call("POST", "/jobs", body=body)
            assert status == 201, err

    def ensure_no_job(self, job_id: str) -> None:
        if self.job(job_id) is not None:
            self.raw.call("DELETE", f"/jobs/{_q(job_id)}")
            wait_for(lambda: self.job(job_id) is None, timeout_s=10, what="job gone")

    def ensure_jobs(self, count: int) -> None:
        _, _, b = self.raw.call("GET", "/jobs")
        for i in range(max(0, count - len(b["value"]))):
            self.ensure_job(f"conformance-extra-job-{i}-{time.monotonic_ns()}")

    # tasks
    def task(self, job_id: str, task_id: str) -> dict[str, Any] | None:
        status, _, body = self.raw.call("GET", f"/jobs/{_q(job_id)}/tasks/{_q(task_id)}")
        return body if status == 200 else None

    def ensure_task(
        self,
        job_id: str,
        task_id: str,
        recorded: dict[str, Any] | None = None,
        completed: bool = False,
    ) -> None:
        self.ensure_job(job_id)
        if completed:
            job = self.job(job_id)
            if job and job["poolInfo"].get("poolId") != self.RUNNER:
                self.ensure_no_job(job_id)
                self.ensure_job(job_id, runnable=True)
        cur = self.task(job_id, task_id)
        if cur is None:
            body = {k: v for k, v in (recorded or {}).items() if k not in COMPUTED}
            body["id"] = task_id
            # Recorded command lines are Windows ones (cmd /c ...); this host runs Linux.
            body["commandLine"] = f"echo Hello World {task_id}"
            body.pop("outputFiles", None)  # their container URLs are redacted
            status, _, err = self.raw.call("POST", f"/jobs/{_q(job_id)}/tasks", body=body)
            assert status == 201, err
        if completed:
            wait_for(
                lambda: (t := self.task(job_id, task_id)) and t["state"] == "completed",
                timeout_s=20,
                what=f"task {task_id} completed",
            )

    def ensure_no_task(self, job_id: str, task_id: str) -> None:
        if self.task(job_id, task_id) is not None:
            self.raw.call("DELETE", f"/jobs/{_q(job_id)}/tasks/{_q(task_id)}")

    def node_id(self, pool_id: str) -> str:
        self.ensure_pool(pool_id, nodes=1)
        _, _, b = self.raw.call("GET", f"/pools/{_q(pool_id)}/nodes")
        return str(b["value"][0]["id"])


def _q(s: str) -> str:
    return urllib.parse.quote(s, safe="")


def _seg(rec: dict[str, Any]) -> dict[str, str]:
    """The path parameters of a recording, from its template."""
    names = rec["path_template"].strip("/").split("/")
    parts = rec["path"].strip("/").split("/")
    out: dict[str, str] = {}
    for i, n in enumerate(names):
        if n.startswith("{") and i < len(parts):
            key = n[1:-1]
            out[key] = urllib.parse.unquote("/".join(parts[i:]) if key == "filePath" else parts[i])
    return out


def prepare(world: World, rec: dict[str, Any]) -> tuple[str, str | None]:
    """Set up state for rec; return (path to send, account override)."""
    t, method, status = rec["path_template"], rec["method"], rec["status"]
    p = _seg(rec)
    body = rec["response_body"] if isinstance(rec["response_body"], dict) else {}
    path = rec["path"]
    account = None
    if t == "/pools":
        if method == "POST":
            if status == 201:
                world.ensure_no_pool(rec["request_body"]["id"])
            elif status == 409:
                world.ensure_pool(rec["request_body"]["id"])
        elif status == 200:
            for item in body.get("value", [])[:1]:
                world.ensure_pool(item["id"], recorded=item)
            world.ensure_pools(len(body.get("value", [])) + (1 if "odata.nextLink" in body else 0))
            flt = rec["query"].get("$filter", "")
            if flt.startswith("startswith(id,'"):
                world.ensure_pool(flt.split("'")[1] + "conformance")
    elif t == "/pools/{poolId}":
        if status == 404:
            world.ensure_no_pool(p["poolId"])
        else:
            world.ensure_pool(p["poolId"], recorded=body or None)
    elif t == "/pools/{poolId}/resize":
        world.ensure_pool(p["poolId"])
    elif t == "/pools/{poolId}/nodes":
        world.ensure_pool(
            p["poolId"], nodes=max(1, len(body.get("value", []))) if body.get("value") else 0
        )
    elif t == "/pools/{poolId}/nodes/{nodeId}":
        nid = world.node_id(p["poolId"])
        path = f"/pools/{_q(p['poolId'])}/nodes/{nid}"
    elif t == "/jobs":
        if method == "POST":
            if status == 201:
                world.ensure_no_job(rec["request_body"]["id"])
            elif status == 409:
                world.ensure_job(rec["request_body"]["id"])
        else:
            world.ensure_jobs(len(body.get("value", [])))
    elif t == "/jobs/{jobId}":
        if status == 404:
            world.ensure_no_job(p["jobId"])
        elif method == "GET" and body.get("state") == "deleting":
            if world.job(p["jobId"]) is None:
                world.ensure_job(p["jobId"], recorded=body)
        else:
            world.ensure_job(p["jobId"], recorded=body or None)
    elif t in ("/jobs/{jobId}/terminate", "/jobs/{jobId}/taskcounts"):
        world.ensure_job(p["jobId"])
    elif t == "/jobs/{jobId}/addtaskcollection":
        world.ensure_job(p["jobId"])
        for item in rec["request_body"]["value"]:
            world.ensure_no_task(p["jobId"], item["id"])
        if status == 403:
            detail = json.dumps(rec["response_body"])
            if "claimed account" in detail:
                account = detail.split("for the account ")[1].split(".")[0]
    elif t == "/jobs/{jobId}/tasks":
        if method == "POST":
            world.ensure_job(p["jobId"])
            world.ensure_no_task(p["jobId"], rec["request_body"]["id"])
        else:
            items = body.get("value", [])
            done = any(i.get("state") == "completed" for i in items) or "completed" in rec[
                "query"
            ].get("$filter", "")
            for item in items:
                world.ensure_task(p["jobId"], item["id"], recorded=item, completed=done)
    elif t in ("/jobs/{jobId}/tasks/{taskId}", "/jobs/{jobId}/tasks/{taskId}/terminate"):
        world.ensure_task(p["jobId"], p["taskId"], recorded=body or None)
    elif t.startswith("/jobs/{jobId}/tasks/{taskId}/files"):
        world.ensure_task(p["jobId"], p["taskId"], completed=True)
    return path, account


def compare(rec: dict[str, Any], status: int, headers: dict[str, str], got: Any) -> list[str]:
    problems = []
    if status != rec["status"]:
        problems.append(f"status {status} != recorded {rec['status']}: {str(got)[:300]}")
        return problems
    for name in rec["response_headers"]:
        if name.lower() == "content-type" and rec["method"] == "HEAD":
            continue
        if name.lower() not in headers:
            problems.append(f"missing header {name}")
    want = rec["response_body"]
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return problems + [f"expected a JSON object, got {str(got)[:200]}"]
        problems += _keys("", set(want), set(got))
        wv, gv = want.get("value"), got.get("value")
        if isinstance(wv, list) and isinstance(gv, list) and wv and gv and isinstance(wv[0], dict):
            same = [g for g in gv if "id" in wv[0] and g.get("id") == wv[0]["id"]]
            if same:
                problems += _keys("value[0].", set(wv[0]), set(same[0]))
            else:  # a different entity: properties echoed from its creation body may differ
                problems += _keys("value[0].", set(wv[0]) - ECHOED, set(gv[0]) - ECHOED)
        if "message" in want:
            value = got.get("message", {}).get("value", "")
            if "\nRequestId:" not in value or "\nTime:" not in value:
                problems.append("error message.value lacks RequestId/Time")
            if got.get("code") != want.get("code"):
                problems.append(f"code {got.get('code')} != recorded {want.get('code')}")
    elif want is None and rec["method"] != "HEAD" and got not in (b"", None):
        problems.append(f"expected no body, got {str(got)[:200]}")
    return problems


def _keys(prefix: str, want: set[str], got: set[str]) -> list[str]:
    missing = {k for k in want - got if k not in STATE_DEPENDENT}
    extra = {k for k in got - want if k not in STATE_DEPENDENT}
    out = []
    if missing:
        out.append(f"{prefix}keys missing: {sorted(missing)}")
    if extra:
        out.append(f"{prefix}extra keys: {sorted(extra)}")
    return out


def load() -> list[dict[str, Any]]:
    if not RECORDINGS.exists():
        pytest.skip(f"no recordings at {RECORDINGS}")
    return [json.loads(line) for line in RECORDINGS.read_text().splitlines() if line.strip()]


@pytest.mark.timeout(110)
@pytest.mark.batch_emulator_knobs(delete_delay_s=1.0, state_delay_s=0.03, allocation_delay_s=0.03)
def test_replay_recorded_exchanges(batch_emulator: BatchEmulator) -> None:
    recs = load()
    raw = Raw(batch_emulator)
    world = World(raw, recs)
    replayed, skipped, failures = 0, [], []
    for i, rec in enumerate(recs):
        key = (rec["method"], rec["path_template"], rec["status"])
        if key in SKIP:
            skipped.append((i, SKIP[key]))
            continue
        if "$skiptoken" in rec["query"]:
            skipped.append((i, SKIP_REASON_SKIPTOKEN))
            continue
        path, account = prepare(world, rec)
        status, headers, got = raw.call(
            rec["method"], path, rec["query"], rec["request_body"], account=account
        )
        problems = compare(rec, status, headers, got)
        if problems:
            failures.append(f"#{i} {rec['method']} {rec['path']} ({rec['source']}): {problems}")
        else:
            replayed += 1
    summary = (
        f"{replayed} of {len(recs)} recordings replay with matching status/keys/headers; "
        f"{len(skipped)} skipped; {len(failures)} differ"
    )
    print(summary)
    Path(os.environ.get("BATCH_CONFORMANCE_SUMMARY", "/dev/null")).write_text(summary + "\n")
    assert not failures, summary + "\n" + "\n".join(failures)
    assert replayed >= 120, summary
