"""Errors a user can meet, as plain sentences: real SDK calls against servers that answer
the way Azure does when something is wrong (and that Azurite and the emulator can't be
made to say): a wrong clock, storage keys turned off, quotas, a name that does not resolve.

The "canned" server below is a real HTTP server; it answers each request with the status,
headers and body the live services send in that situation (shapes as in
../shared/conformance and the Storage REST reference).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from batchgui.core.models import TaskResult
from batchgui.core.target import CancelToken, RunContext, TargetError
from batchgui.targets.azure.batch import BatchService
from batchgui.targets.azure.config import AzureAccount, PoolSettings
from batchgui.targets.azure.connection import test_connection as check_connection
from batchgui.targets.azure.errors import plain_error
from batchgui.targets.azure.storage import RunStorage
from batchgui.targets.azure.target import AzureBatchTarget

KEY = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class Canned:
    """A tiny HTTP server: (method, path) -> Answer; anything else answers 404."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], Answer] = {}
        self.seen: list[tuple[str, str]] = []
        canned = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = self.path.split("?")[0]
                canned.seen.append((self.command, path))
                answer = canned.answers.get((self.command, path)) or canned.answers.get(
                    (self.command, "*")) or Answer(404, {"code": "NotFound", "message": {
                        "lang": "en-US", "value": "not found"}})
                body = answer.body
                data = b""
                content_type = "application/json;odata=minimalmetadata"
                if isinstance(body, str):
                    data, content_type = body.encode(), "application/xml"
                elif body is not None:
                    data = json.dumps(body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for k, v in answer.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def canned() -> Iterator[Canned]:
    server = Canned()
    try:
        yield server
    finally:
        server.close()


def storage_error(code: str, message: str, detail: str = "") -> Answer:
    extra = f"<AuthenticationErrorDetail>{detail}</AuthenticationErrorDetail>" if detail else ""
    body = (
        '<?xml version="1.0" encoding="utf-8"?><Error>'
        f"<Code>{code}</Code><Message>{message}\nRequestId:1f3e\nTime:2026-11-25T09:00:00Z"
        f"</Message>{extra}</Error>"
    )
    return Answer(403, body, {"x-ms-error-code": code})


def batch_error(status: int, code: str, message: str) -> Answer:
    return Answer(status, {
        "odata.metadata": "https://ACCOUNT/$metadata#Microsoft.Azure.Batch.Protocol.Entities"
                          ".Container.errors/@Element",
        "code": code,
        "message": {"lang": "en-US", "value": f"{message}\nRequestId:9a\nTime:2026-11-25T09Z"},
    })


def account(canned: Canned) -> AzureAccount:
    return AzureAccount(
        name="canned", batch_url=canned.url, batch_account="acct", batch_key=KEY,
        storage_connection_string=(
            f"DefaultEndpointsProtocol=http;AccountName=acct;AccountKey={KEY};"
            f"BlobEndpoint={canned.url}/acct"
        ),
    )


def test_storage_clock_skew_says_fix_the_clock(canned: Canned) -> None:
    canned.answers[("PUT", "*")] = storage_error(
        "AuthenticationFailed",
        "Server failed to authenticate the request. Make sure the value of Authorization "
        "header is formed correctly including the signature.",
        "Request date header too old: 'Wed, 25 Nov 2026 07:40:00 GMT'",
    )
    with pytest.raises(Exception) as caught:
        RunStorage(account(canned)).ensure_container()
    text = plain_error(caught.value, "storage", canned.url).text
    assert text.startswith("Azure Storage refused the request because this computer's clock")
    assert "automatic date and time" in text


def test_storage_key_access_turned_off(canned: Canned) -> None:
    canned.answers[("GET", "*")] = storage_error(
        "KeyBasedAuthenticationNotPermitted",
        "Key based authentication is not permitted on this storage account.",
    )
    result = check_connection(account(canned))
    assert result["storage"].startswith(
        "The storage account does not allow access with account keys."
    )


def test_storage_firewall_is_not_called_a_wrong_key(canned: Canned) -> None:
    canned.answers[("GET", "*")] = storage_error(
        "AuthorizationFailure", "This request is not authorized to perform this operation."
    )
    result = check_connection(account(canned))
    assert "firewall or network rules" in result["storage"]


def test_unknown_host_is_named_quickly() -> None:
    # .invalid never resolves (RFC 2606), so this is a real DNS failure
    broken = AzureAccount(
        name="x", batch_url="https://batchgui-test.westeurope.batch.invalid",
        batch_account="a", batch_key=KEY,
        storage_connection_string="DefaultEndpointsProtocol=https;AccountName=a;"
        f"AccountKey={KEY};BlobEndpoint=https://batchgui-test.blob.invalid",
    )
    started = time.monotonic()
    result = check_connection(broken)
    assert time.monotonic() - started < 10
    assert result["batch"].startswith(
        "The Azure Batch address batchgui-test.westeurope.batch.invalid was not found."
    )
    assert result["storage"].startswith(
        "The Azure Storage address batchgui-test.blob.invalid was not found."
    )


def test_pool_quota_on_create_is_plain(canned: Canned) -> None:
    canned.answers[("GET", "/supportedimages")] = Answer(200, {"value": [{
        "nodeAgentSKUId": "batch.node.ubuntu 22.04",
        "imageReference": {"publisher": "canonical", "offer": "0001-com-ubuntu-server-jammy",
                           "sku": "22_04-lts", "version": "latest"},
        "verificationType": "verified", "osType": "linux", "capabilities": [],
    }]})
    canned.answers[("POST", "/pools")] = batch_error(
        409, "PoolQuotaReached", "The specified account has reached its pool quota.")
    with pytest.raises(Exception) as caught:
        BatchService(account(canned)).ensure_pool(PoolSettings())
    assert ("POST", "/pools") in canned.seen
    text = plain_error(caught.value, "batch", canned.url).text
    assert text.startswith("The Batch account has reached a quota (PoolQuotaReached).")


@pytest.mark.parametrize("code,words", [
    ("AccountCoreQuotaReached", "dedicated core quota is used up"),
    ("AccountLowPriorityCoreQuotaReached", "Spot core quota is used up"),
    ("AllocationFailed", "no capacity for this VM size"),
])
def test_resize_errors_stop_the_run_at_once(canned: Canned, code: str, words: str) -> None:
    canned.answers[("GET", "/pools/batchgui-pool")] = Answer(200, {
        "id": "batchgui-pool", "state": "active", "allocationState": "steady",
        "currentDedicatedNodes": 0, "currentLowPriorityNodes": 0,
        "targetDedicatedNodes": 2, "targetLowPriorityNodes": 0,
        "resizeErrors": [{"code": code, "message": "The operation could not be completed."}],
    })
    canned.answers[("GET", "/pools/batchgui-pool/nodes")] = Answer(200, {"value": []})
    health = BatchService(account(canned)).pool_health("batchgui-pool")
    assert health.fatal is not None
    assert health.fatal.text.startswith("The pool could not get its nodes: ")
    assert words in health.fatal.text and health.fatal.code == "pool_nodes_unavailable"


def _target_on(canned: Canned) -> tuple[AzureBatchTarget, RunContext, ThreadPoolExecutor]:
    counts = {"active": 0, "running": 1, "completed": 0, "succeeded": 0, "failed": 0}
    canned.answers.setdefault(("GET", "/jobs/run-1/taskcounts"), Answer(200, {
        "taskCounts": counts, "taskSlotCounts": counts}))
    target = AzureBatchTarget(account(canned), PoolSettings(), poll_bounds=(0.1, 1.0))
    target._run_id = target.job_id = "run-1"  # a run watching its job on its pool
    target.pool_id = "batchgui-pool"
    target.container = "batchgui-run-1"
    target._live_tasks = {"f00000"}
    executor = ThreadPoolExecutor(8)
    return target, RunContext("run-1", executor, CancelToken()), executor


def test_poll_shows_reconnecting_on_server_errors_then_recovers(canned: Canned) -> None:
    nodes = Answer(200, {"value": [{"id": "tvm-1", "state": "running", "isDedicated": True,
                                    "runningTasksCount": 1}]})
    canned.answers[("GET", "/pools/batchgui-pool/nodes")] = nodes
    canned.answers[("GET", "/jobs/run-1/tasks")] = batch_error(
        503, "ServerBusy", "The server is currently unable to receive requests.")
    target, ctx, executor = _target_on(canned)

    async def go() -> tuple[str, str, float, float]:
        first = await target.poll(ctx)
        slow = target.poll_interval(False)
        canned.answers[("GET", "/jobs/run-1/tasks")] = Answer(200, {"value": [{
            "id": "f00000", "state": "running", "nodeInfo": {"nodeId": "tvm-1"},
            "executionInfo": {"startTime": "2026-11-25T09:00:00Z", "retryCount": 0,
                              "requeueCount": 0},
        }]})
        second = await target.poll(ctx)
        fast = target.poll_interval(True)
        return first.message, second.message, slow, fast

    try:
        first, second, slow, fast = asyncio.run(go())
    finally:
        executor.shutdown()
    assert first == "Reconnecting to Azure Batch…"
    assert second == "1 converting, 0 waiting, on 1 node"
    assert slow > fast == 0.1


def test_a_change_a_failed_poll_listed_still_arrives_and_an_unchanged_task_is_news_once(
        canned: Canned) -> None:
    """The margin lists a task again at every poll for a while; the run hears of each change
    once. A poll that fails after its listing (here the task counts) must not swallow it."""
    canned.answers[("GET", "/pools/batchgui-pool/nodes")] = Answer(200, {"value": [
        {"id": "tvm-1", "state": "running", "isDedicated": True, "runningTasksCount": 1}]})

    def task(state: str, at: str) -> Answer:
        return Answer(200, {"value": [{
            "id": "f00000", "state": state, "stateTransitionTime": at,
            "nodeInfo": {"nodeId": "tvm-1"},
            "executionInfo": {"startTime": "2026-11-25T09:00:00Z", "retryCount": 0,
                              "requeueCount": 0, **({"endTime": at, "exitCode": 0,
                                                     "result": "success"}
                                                    if state == "completed" else {})},
        }]}, {"Date": "Wed, 25 Nov 2026 09:00:05 GMT"})

    canned.answers[("GET", "/jobs/run-1/tasks")] = task("running", "2026-11-25T09:00:00Z")
    canned.answers[("GET", "/jobs/run-1/taskcounts")] = batch_error(
        503, "ServerBusy", "The server is currently unable to receive requests.")
    target, ctx, executor = _target_on(canned)
    counts = {"active": 0, "running": 1, "completed": 0, "succeeded": 0, "failed": 0}

    async def go() -> list[dict[str, Any]]:
        heard = [(await target.poll(ctx)).tasks]  # the counts fail: "Reconnecting…"
        canned.answers[("GET", "/jobs/run-1/taskcounts")] = Answer(200, {
            "taskCounts": counts, "taskSlotCounts": counts})
        heard.append((await target.poll(ctx)).tasks)  # the same listing gets through
        heard.append((await target.poll(ctx)).tasks)  # the margin lists it again
        canned.answers[("GET", "/jobs/run-1/tasks")] = task("completed", "2026-11-25T09:00:04Z")
        heard.append((await target.poll(ctx)).tasks)
        return heard

    try:
        heard = asyncio.run(go())
    finally:
        executor.shutdown()
    assert heard[0] == {}
    assert heard[1]["f00000"].node_id == "tvm-1" and heard[1]["f00000"].result is None
    assert heard[2] == {}
    assert heard[3]["f00000"].result is TaskResult.SUCCESS


def test_poll_fails_at_once_when_the_key_stops_working(canned: Canned) -> None:
    canned.answers[("GET", "/pools/batchgui-pool/nodes")] = batch_error(
        403, "AuthenticationFailed", "Server failed to authenticate the request.")
    canned.answers[("GET", "/jobs/run-1/tasks")] = batch_error(
        403, "AuthenticationFailed", "Server failed to authenticate the request.")
    target, ctx, executor = _target_on(canned)
    try:
        with pytest.raises(TargetError, match="did not accept the Batch account key"):
            asyncio.run(target.poll(ctx))
    finally:
        executor.shutdown()


def test_task_that_failed_to_download_its_input_says_so(canned: Canned) -> None:
    canned.answers[("GET", "/pools/batchgui-pool/nodes")] = Answer(200, {"value": [
        {"id": "tvm-1", "state": "idle", "isDedicated": True}]})
    canned.answers[("GET", "/jobs/run-1/tasks")] = Answer(200, {"value": [{
        "id": "f00000", "state": "completed", "nodeInfo": {"nodeId": "tvm-1"},
        "executionInfo": {
            "startTime": "2026-11-25T09:00:00Z", "endTime": "2026-11-25T09:00:01Z",
            "result": "failure", "retryCount": 2, "requeueCount": 0,
            "failureInfo": {"category": "usererror", "code": "BlobAccessDenied",
                            "message": "Access for one of the specified Azure Blob(s) is denied"},
        },
    }]})
    target, ctx, executor = _target_on(canned)
    try:
        status = asyncio.run(target.poll(ctx))
    finally:
        executor.shutdown()
    task = status.tasks["f00000"]
    assert task.result is TaskResult.FAILURE and task.retries == 2
    assert task.failure is not None and task.failure.text == (
        "the node could not download the video from storage "
        "(Access for one of the specified Azure Blob(s) is denied)"
    )
    assert task.failure.code == "node_download_failed"
