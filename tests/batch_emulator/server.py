"""The HTTP face of the emulator: Batch REST routes, SharedKey checks, faults, request log."""

from __future__ import annotations

import json
import mimetypes
import os
import re
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import auth
from .util import FilterError, compile_filter, iso, new_etag, rfc1123, select, utcnow
from .world import (
    SUPPORTED_IMAGES,
    BatchApiError,
    Job,
    Knobs,
    Pool,
    Task,
    World,
    dumps,
    not_found,
)

JSON_TYPE = "application/json; odata=minimalmetadata"
BAD_QUERY = "Value for one of the query parameters specified in the request URI is invalid."
MAX_TASKS_PER_COLLECTION = 100

Route = tuple[str, re.Pattern[str], str]
_ROUTES: list[Route] = []


def route(method: str, pattern: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        _ROUTES.append((method, regex, fn.__name__))
        return fn

    return deco


def _file_route(prefix: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", prefix) + "/files/(?P<path>.+)$")


TASK_FILE = _file_route("/jobs/{jobId}/tasks/{taskId}")
NODE_FILE = _file_route("/pools/{poolId}/nodes/{nodeId}")


class Response:
    def __init__(
        self,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.raw = raw


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        if os.environ.get("BATCH_EMULATOR_VERBOSE"):
            super().log_message(format, *args)

    # one entry point for every verb
    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _handle(self) -> None:
        srv = self.server
        world = srv.world
        raw_path, _, raw_query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body_bytes = self.rfile.read(length) if length else b""
        query = {
            k: v[0] for k, v in urllib.parse.parse_qs(raw_query, keep_blank_values=True).items()
        }
        self.request_id = str(uuid.uuid4())

        if raw_path.startswith("/_emulator/"):
            self._control(raw_path, body_bytes)
            return

        entry: dict[str, Any] = {
            "method": self.command,
            "path": urllib.parse.unquote(raw_path),
            "query": query,
            "status": None,
            "time": time.time(),
        }
        with srv.log_lock:
            srv.request_log.append(entry)
        knobs = world.knobs
        with world.lock:
            drop = knobs.drop_rate > 0 and world.rng.random() < knobs.drop_rate
            fail = knobs.fail_rate_5xx > 0 and world.rng.random() < knobs.fail_rate_5xx
            fail_status = 503 if world.rng.random() < 0.5 else 500
        if drop:
            entry["status"] = 0
            entry["dropped"] = True
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        try:
            if fail:
                if fail_status == 503:
                    raise BatchApiError(
                        503,
                        "ServerBusy",
                        "The server is currently unable to receive requests. Please retry your "
                        "request.",
                    )
                raise BatchApiError(
                    500,
                    "InternalError",
                    "Server encountered an internal error. Please try again after some time.",
                )
            if "api-version" not in query:
                raise BatchApiError(
                    400,
                    "MissingRequiredQueryParameter",
                    "A query parameter that's mandatory for this request is not specified.",
                    [("QueryParameterName", "api-version")],
                )
            try:
                auth.verify(
                    self.command,
                    raw_path,
                    raw_query,
                    dict(self.headers.items()),
                    srv.account,
                    srv.key,
                )
            except auth.AuthError as exc:
                raise BatchApiError(
                    exc.status,
                    "AuthenticationFailed",
                    "Server failed to authenticate the request. Make sure the value of "
                    "Authorization header is formed correctly including the signature.",
                    [(exc.detail_key, exc.detail)],
                ) from None
            body: Any = None
            if body_bytes:
                try:
                    body = json.loads(body_bytes)
                except ValueError:
                    raise BatchApiError(
                        400,
                        "InvalidRequestBody",
                        "The specified Request Body is not syntactically valid.",
                    ) from None
            resp = self._dispatch(raw_path, query, body)
        except BatchApiError as exc:
            resp = self._error_response(exc)
        except Exception as exc:  # a bug in the emulator: answer like the service would
            import traceback

            traceback.print_exc()
            resp = self._error_response(
                BatchApiError(500, "InternalError", f"Emulator error: {exc!r}")
            )
        entry["status"] = resp.status
        self._send(resp)

    # -- plumbing ------------------------------------------------------------------------

    def _error_response(self, exc: BatchApiError) -> Response:
        if self.command == "HEAD":
            return Response(exc.status)
        body: dict[str, Any] = {
            "odata.metadata": f"{self.server.world.base_url}/$metadata#Microsoft.Azure.Batch."
            "Protocol.Entities.Container.errors/@Element",
            "code": exc.code,
            "message": {
                "lang": "en-US",
                "value": f"{exc.message}\nRequestId:{self.request_id}\nTime:{iso(utcnow())}",
            },
        }
        if exc.values:
            body["values"] = [{"key": k, "value": v} for k, v in exc.values]
        return Response(exc.status, body)

    def _send(self, resp: Response) -> None:
        self.send_response(resp.status)
        if resp.raw is not None:
            payload = resp.raw
        elif resp.body is not None:
            payload = dumps(resp.body)
            self.send_header("Content-Type", JSON_TYPE)
        else:
            payload = b""
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.send_header("request-id", self.request_id)
        crid = self.headers.get("client-request-id")
        if crid:
            self.send_header("client-request-id", crid)
        self.send_header("DataServiceVersion", "3.0")
        if "Content-Length" not in resp.headers:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD" and payload:
            self.wfile.write(payload)

    def _control(self, raw_path: str, body_bytes: bytes) -> None:
        srv = self.server
        self.request_id = str(uuid.uuid4())
        body = json.loads(body_bytes) if body_bytes else {}
        try:
            if raw_path == "/_emulator/requests" and self.command == "GET":
                with srv.log_lock:
                    resp = Response(200, list(srv.request_log))
            elif raw_path == "/_emulator/requests/clear" and self.command == "POST":
                with srv.log_lock:
                    srv.request_log.clear()
                resp = Response(204)
            elif raw_path == "/_emulator/knobs" and self.command == "GET":
                from dataclasses import asdict

                resp = Response(200, asdict(srv.world.knobs))
            elif raw_path == "/_emulator/knobs" and self.command == "POST":
                resp = Response(200, srv.world.set_knobs(body))
            elif raw_path == "/_emulator/state" and self.command == "GET":
                resp = Response(200, srv.world.debug_state())
            elif raw_path == "/_emulator/preempt" and self.command == "POST":
                resp = Response(200, self._preempt(body))
            else:
                resp = Response(404, {"error": "unknown emulator control endpoint"})
        except (KeyError, ValueError) as exc:
            resp = Response(400, {"error": repr(exc)})
        self._send(resp)

    def _preempt(self, body: dict[str, Any]) -> dict[str, Any]:
        world = self.server.world
        with world.lock:
            pool = world.pools[body["poolId"]]
            if body.get("nodeId"):
                node = pool.nodes[body["nodeId"]]
            else:
                spot = [n for n in pool.nodes.values() if not n.dedicated]
                busy = [n for n in spot if n.runs]
                if not (busy or spot):
                    raise ValueError("pool has no Spot node")
                node = (busy or spot)[0]
            if node.dedicated:
                raise ValueError("only Spot nodes are preempted")
            tasks = [t for (_, t) in node.runs]
            world.preempt(node)
            return {"nodeId": node.id, "requeuedTasks": tasks}

    def _dispatch(self, raw_path: str, query: dict[str, str], body: Any) -> Response:
        m = TASK_FILE.match(raw_path)
        if m:
            return self.task_file(query, body, **_unq(m.groupdict()))
        m = NODE_FILE.match(raw_path)
        if m:
            return self.node_file(query, body, **_unq(m.groupdict()))
        matched_path = False
        for method, regex, name in _ROUTES:
            m = regex.match(raw_path)
            if not m:
                continue
            matched_path = True
            if method != self.command:
                continue
            return getattr(self, name)(query, body, **_unq(m.groupdict()))
        if matched_path:
            raise BatchApiError(
                405 if self.command != "HEAD" else 405,
                "UnsupportedHttpVerb",
                "The resource doesn't support specified Http Verb.",
            )
        raise BatchApiError(
            404, "InvalidUri", "The requested URI does not represent any resource on the server."
        )

    # -- helpers -------------------------------------------------------------------------

    @property
    def world(self) -> World:
        return self.server.world

    @property
    def base(self) -> str:
        return self.server.world.base_url

    def _meta(self, what: str) -> str:
        return f"{self.base}/$metadata#{what}"

    def _created(self, path: str, etag: str, modified: Any, status: int = 201) -> Response:
        url = f"{self.base}{path}"
        headers = {
            "DataServiceId": url,
            "ETag": etag,
            "Last-Modified": rfc1123(modified),
        }
        if status == 201:
            headers["Location"] = url
        return Response(status, headers=headers)

    def _accepted(
        self,
        path: str | None = None,
        etag: str | None = None,
        modified: Any = None,
        status: int = 202,
    ) -> Response:
        headers: dict[str, str] = {}
        if path:
            headers["DataServiceId"] = f"{self.base}{path}"
        if etag:
            headers["ETag"] = etag
        if modified is not None:
            headers["Last-Modified"] = rfc1123(modified)
        return Response(status, headers=headers)

    def _page(
        self, path: str, query: dict[str, str], items: list[dict[str, Any]], meta: str
    ) -> Response:
        try:
            pred = compile_filter(query.get("$filter"))
        except FilterError as exc:
            raise BatchApiError(
                400,
                "InvalidQueryParameterValue",
                "Value for one of the query parameters specified in the request URI is invalid.",
                [
                    ("QueryParameterName", "$filter"),
                    ("QueryParameterValue", query["$filter"]),
                    ("Reason", str(exc)),
                ],
            ) from None
        items = [i for i in items if pred(i)]
        size = self.world.knobs.max_page_size
        if "maxresults" in query:
            try:
                mr = int(query["maxresults"])
            except ValueError:
                mr = -1
            if mr < 1:
                raise BatchApiError(
                    400,
                    "InvalidQueryParameterValue",
                    BAD_QUERY,
                    [
                        ("QueryParameterName", "maxresults"),
                        ("QueryParameterValue", query["maxresults"]),
                        ("Reason", "MaxResults cannot be less than 1"),
                    ],
                )
            size = min(size, mr)
        start = 0
        token = query.get("$skiptoken")
        if token:
            try:
                start = int(token.split(":")[-1])
            except ValueError:
                raise BatchApiError(
                    400,
                    "InvalidQueryParameterValue",
                    BAD_QUERY,
                    [("QueryParameterName", "$skiptoken"), ("QueryParameterValue", token)],
                ) from None
        chunk = items[start : start + size]
        out: dict[str, Any] = {
            "odata.metadata": self._meta(meta),
            "value": [select(i, query.get("$select")) for i in chunk],
        }
        if start + size < len(items):
            params = {k: v for k, v in query.items() if k not in ("$skiptoken",)}
            params["maxresults"] = str(size)
            params["$skiptoken"] = f"EMU:{start + size}"
            out["odata.nextLink"] = f"{self.base}{path}?" + urllib.parse.urlencode(
                params, quote_via=urllib.parse.quote, safe="$',:"
            )
        return Response(200, out)

    def _one(
        self, obj: dict[str, Any], meta: str, query: dict[str, str], etag: str, modified: Any
    ) -> Response:
        body = {"odata.metadata": self._meta(meta)}
        body.update(select(obj, query.get("$select")))
        return Response(200, body, {"ETag": etag, "Last-Modified": rfc1123(modified)})

    def _pool(self, pool_id: str) -> Pool:
        pool = self.world.pools.get(pool_id)
        if pool is None:
            raise not_found("Pool")
        return pool

    def _job(self, job_id: str) -> Job:
        job = self.world.jobs.get(job_id)
        if job is None:
            raise not_found("Job")
        return job

    def _task(self, job_id: str, task_id: str) -> Task:
        task = self._job(job_id).tasks.get(task_id)
        if task is None:
            raise not_found("Task")
        return task

    def _require(self, body: Any, *names: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BatchApiError(
                400, "InvalidRequestBody", "The specified Request Body is not syntactically valid."
            )
        for n in names:
            if body.get(n) in (None, ""):
                raise BatchApiError(
                    400,
                    "MissingRequiredProperty",
                    "A required property was not specified in the request body.",
                    [("PropertyName", n)],
                )
        return body

    # -- supported images / usage -------------------------------------------------------------

    @route("GET", "/supportedimages")
    def list_supported_images(self, query: dict[str, str], body: Any) -> Response:
        return self._page(
            "/supportedimages", query, [dict(i) for i in SUPPORTED_IMAGES], "supportedimages"
        )

    @route("GET", "/poolusagemetrics")
    def list_usage(self, query: dict[str, str], body: Any) -> Response:
        return self._page("/poolusagemetrics", query, [], "poolusagemetrics")

    # -- pools -----------------------------------------------------------------------------

    @route("POST", "/pools")
    def create_pool(self, query: dict[str, str], body: Any) -> Response:
        spec = self._require(body, "id", "vmSize")
        w = self.world
        with w.lock:
            if spec["id"] in w.pools:
                raise BatchApiError(409, "PoolExists", "The specified pool already exists.")
            if spec.get("enableAutoScale"):
                raise BatchApiError(
                    400,
                    "InvalidPropertyValue",
                    "The value provided for one of the properties in the request body is invalid.",
                    [
                        ("PropertyName", "enableAutoScale"),
                        ("Reason", "The emulator does not autoscale"),
                    ],
                )
            pool = Pool(id=spec["id"], spec=dict(spec), root=os.path.join(w.root, spec["id"]))
            w.pools[pool.id] = pool
            w.request_resize(pool)
            return self._created(f"/pools/{pool.id}", pool.etag, pool.modified)

    @route("GET", "/pools")
    def list_pools(self, query: dict[str, str], body: Any) -> Response:
        with self.world.lock:
            items = [p.to_json(self.base) for p in self.world.pools.values()]
        return self._page("/pools", query, items, "pools")

    @route("HEAD", "/pools/{poolId}")
    def pool_exists(self, query: dict[str, str], body: Any, poolId: str) -> Response:
        with self.world.lock:
            pool = self._pool(poolId)
            return Response(
                200, headers={"ETag": pool.etag, "Last-Modified": rfc1123(pool.modified)}
            )

    @route("GET", "/pools/{poolId}")
    def get_pool(self, query: dict[str, str], body: Any, poolId: str) -> Response:
        with self.world.lock:
            pool = self._pool(poolId)
            return self._one(
                pool.to_json(self.base), "pools/@Element", query, pool.etag, pool.modified
            )

    @route("DELETE", "/pools/{poolId}")
    def delete_pool(self, query: dict[str, str], body: Any, poolId: str) -> Response:
        with self.world.lock:
            pool = self._pool(poolId)
            self.world.delete_pool(pool)
            return self._accepted()

    @route("PATCH", "/pools/{poolId}")
    def patch_pool(self, query: dict[str, str], body: Any, poolId: str) -> Response:
        body = self._require(body)
        with self.world.lock:
            pool = self._pool(poolId)
            for k in (
                "startTask",
                "metadata",
                "applicationPackageReferences",
                "displayName",
                "vmSize",
                "taskSlotsPerNode",
                "taskSchedulingPolicy",
            ):
                if k in body:
                    pool.spec[k] = body[k]
            pool.touch()
            return self._created(f"/pools/{poolId}", pool.etag, pool.modified, status=200)

    @route("POST", "/pools/{poolId}/updateproperties")
    def replace_pool(self, query: dict[str, str], body: Any, poolId: str) -> Response:
        body = self._require(body)
        with self.world.lock:
            pool = self._pool(poolId)
            for k in ("startTask", "metadata", "applicationPackageReferences"):
                if body.get(k) is None:
                    pool.spec.pop(k, None)
                else:
                    pool.spec[k] = body[k]
            pool.touch()
            return self._accepted(
                f"/pools/{poolId}/updateproperties", pool.etag, pool.modified, status=204
            )

    @route("POST", "/pools/{poolId}/resize")
    def resize_pool(self, query: dict[str, str], body: Any, poolId: str) -> Response:
        body = self._require(body)
        with self.world.lock:
            pool = self._pool(poolId)
            if pool.state == "deleting":
                raise BatchApiError(
                    409,
                    "PoolBeingDeleted",
                    "The specified pool has been marked for deletion and is being reclaimed.",
                )
            for k in ("targetDedicatedNodes", "targetLowPriorityNodes", "resizeTimeout"):
                if k in body and body[k] is not None:
                    pool.spec[k] = body[k]
            if body.get("nodeDeallocationOption"):
                pool.spec["_nodeDeallocationOption"] = body["nodeDeallocationOption"]
            self.world.request_resize(pool)
            return self._accepted(f"/pools/{poolId}/resize", pool.etag, pool.modified)

    @route("POST", "/pools/{poolId}/stopresize")
    def stop_resize(self, query: dict[str, str], body: Any, poolId: str) -> Response:
        with self.world.lock:
            pool = self._pool(poolId)
            if pool.alloc_due is not None:
                pool.alloc_due = None
                pool.allocation_state = "steady"
                pool.allocation_time = utcnow()
                pool.touch()
            return self._accepted(f"/pools/{poolId}/stopresize", pool.etag, pool.modified)

    # -- nodes -----------------------------------------------------------------------------

    @route("GET", "/pools/{poolId}/nodes")
    def list_nodes(self, query: dict[str, str], body: Any, poolId: str) -> Response:
        with self.world.lock:
            pool = self._pool(poolId)
            items = [n.to_json(self.base) for n in pool.nodes.values()]
        return self._page(f"/pools/{poolId}/nodes", query, items, "nodes")

    @route("GET", "/pools/{poolId}/nodes/{nodeId}")
    def get_node(self, query: dict[str, str], body: Any, poolId: str, nodeId: str) -> Response:
        with self.world.lock:
            node = self.world.find_node(poolId, nodeId)
            body_ = {"odata.metadata": self._meta("nodes/@Element")}
            body_.update(select(node.to_json(self.base), query.get("$select")))
            return Response(200, body_)

    @route("GET", "/pools/{poolId}/nodes/{nodeId}/files")
    def list_node_files(
        self, query: dict[str, str], body: Any, poolId: str, nodeId: str
    ) -> Response:
        with self.world.lock:
            node = self.world.find_node(poolId, nodeId)
            root = node.root
        url = f"{self.base}/pools/{poolId}/nodes/{nodeId}/files"
        return self._page(
            f"/pools/{poolId}/nodes/{nodeId}/files", query, _list_files(root, url, query), "files"
        )

    def node_file(
        self, query: dict[str, str], body: Any, poolId: str, nodeId: str, path: str
    ) -> Response:
        with self.world.lock:
            node = self.world.find_node(poolId, nodeId)
            root = node.root
        return self._file(
            root, path, f"{self.base}/pools/{poolId}/nodes/{nodeId}/files/{path}", query
        )

    # -- jobs ------------------------------------------------------------------------------

    @route("POST", "/jobs")
    def create_job(self, query: dict[str, str], body: Any) -> Response:
        spec = self._require(body, "id", "poolInfo")
        w = self.world
        with w.lock:
            if spec["id"] in w.jobs:
                raise BatchApiError(409, "JobExists", "The specified job already exists.")
            pool_id = spec["poolInfo"].get("poolId") or str(uuid.uuid4()).upper()
            job = Job(id=spec["id"], spec=dict(spec), pool_id=pool_id)
            job.exec_info = {"startTime": iso(job.created), "poolId": pool_id}
            w.jobs[job.id] = job
            return self._created(f"/jobs/{job.id}", job.etag, job.modified)

    @route("GET", "/jobs")
    def list_jobs(self, query: dict[str, str], body: Any) -> Response:
        with self.world.lock:
            items = [j.to_json(self.base) for j in self.world.jobs.values()]
        return self._page("/jobs", query, items, "jobs")

    @route("GET", "/jobs/{jobId}")
    def get_job(self, query: dict[str, str], body: Any, jobId: str) -> Response:
        with self.world.lock:
            job = self._job(jobId)
            return self._one(job.to_json(self.base), "jobs/@Element", query, job.etag, job.modified)

    @route("DELETE", "/jobs/{jobId}")
    def delete_job(self, query: dict[str, str], body: Any, jobId: str) -> Response:
        with self.world.lock:
            self.world.delete_job(self._job(jobId))
            return self._accepted()

    @route("PATCH", "/jobs/{jobId}")
    def patch_job(self, query: dict[str, str], body: Any, jobId: str) -> Response:
        body = self._require(body)
        with self.world.lock:
            job = self._job(jobId)
            for k, v in body.items():
                if k != "id":
                    job.spec[k] = v
            job.touch()
            return self._created(f"/jobs/{jobId}", job.etag, job.modified, status=200)

    @route("PUT", "/jobs/{jobId}")
    def replace_job(self, query: dict[str, str], body: Any, jobId: str) -> Response:
        body = self._require(body, "poolInfo")
        with self.world.lock:
            job = self._job(jobId)
            for k in (
                "priority",
                "constraints",
                "poolInfo",
                "metadata",
                "onAllTasksComplete",
                "maxParallelTasks",
                "allowTaskPreemption",
            ):
                if k in body:
                    job.spec[k] = body[k]
                else:
                    job.spec.pop(k, None)
            job.touch()
            return self._created(f"/jobs/{jobId}", job.etag, job.modified, status=200)

    @route("POST", "/jobs/{jobId}/terminate")
    def terminate_job(self, query: dict[str, str], body: Any, jobId: str) -> Response:
        with self.world.lock:
            job = self._job(jobId)
            if job.state == "completed":
                raise BatchApiError(
                    409, "JobCompleted", "The specified job is already in a completed state."
                )
            self.world.terminate_job(job, (body or {}).get("terminateReason"))
            return self._accepted(f"/jobs/{jobId}/terminate", job.etag, job.modified)

    @route("GET", "/jobs/{jobId}/taskcounts")
    def task_counts(self, query: dict[str, str], body: Any, jobId: str) -> Response:
        with self.world.lock:
            job = self._job(jobId)
            counts = dict.fromkeys(("active", "running", "completed", "succeeded", "failed"), 0)
            slots = dict(counts)
            for t in job.tasks.values():
                key = "running" if t.state in ("running", "preparing") else t.state
                counts[key] += 1
                slots[key] += t.required_slots
                if t.state == "completed":
                    res = "succeeded" if t.exec_info.get("result") == "success" else "failed"
                    counts[res] += 1
                    slots[res] += t.required_slots
        return Response(
            200,
            {
                "odata.metadata": self._meta("taskcountsresult/@Element"),
                "taskCounts": counts,
                "taskSlotCounts": slots,
            },
        )

    # -- tasks -----------------------------------------------------------------------------

    def _add_task(self, job: Job, spec: dict[str, Any]) -> Task:
        if job.state in ("completed", "terminating"):
            raise BatchApiError(
                409, "JobCompleted", "The specified job is already in a completed state."
            )
        if job.state == "deleting":
            raise BatchApiError(
                409,
                "JobBeingDeleted",
                "The specified job has been marked for deletion and is being garbage collected.",
            )
        if spec["id"] in job.tasks:
            raise BatchApiError(409, "TaskExists", "The specified task already exists.")
        job.task_seq += 1
        task = Task(job=job, id=spec["id"], spec=dict(spec), seq=job.task_seq)
        job.tasks[task.id] = task
        return task

    @route("POST", "/jobs/{jobId}/tasks")
    def create_task(self, query: dict[str, str], body: Any, jobId: str) -> Response:
        spec = self._require(body, "id", "commandLine")
        with self.world.lock:
            task = self._add_task(self._job(jobId), spec)
            return self._created(f"/jobs/{jobId}/tasks/{task.id}", task.etag, task.modified)

    @route("POST", "/jobs/{jobId}/addtaskcollection")
    def add_task_collection(self, query: dict[str, str], body: Any, jobId: str) -> Response:
        body = self._require(body, "value")
        specs = body["value"]
        if len(specs) > MAX_TASKS_PER_COLLECTION:
            raise BatchApiError(
                400,
                "InvalidPropertyValue",
                "The value provided for one of the properties in the request body is invalid.",
                [
                    ("PropertyName", "value"),
                    ("Reason", f"At most {MAX_TASKS_PER_COLLECTION} tasks can be added at once"),
                ],
            )
        results = []
        with self.world.lock:
            job = self._job(jobId)
            for spec in specs:
                try:
                    self._require(spec, "id", "commandLine")
                    task = self._add_task(job, spec)
                except BatchApiError as exc:
                    err = self._error_response(exc).body
                    err.pop("odata.metadata", None)
                    results.append(
                        {"status": "ClientError", "taskId": spec.get("id"), "error": err}
                    )
                    continue
                results.append(
                    {
                        "status": "Success",
                        "taskId": task.id,
                        "eTag": task.etag,
                        "lastModified": iso(task.modified),
                        "location": f"{self.base}/jobs/{jobId}/tasks/{task.id}",
                    }
                )
        return Response(200, {"odata.metadata": self._meta("taskaddresult"), "value": results})

    @route("GET", "/jobs/{jobId}/tasks")
    def list_tasks(self, query: dict[str, str], body: Any, jobId: str) -> Response:
        with self.world.lock:
            job = self._job(jobId)
            # Listed in id order (the service's table order); scheduling follows creation order.
            items = [t.to_json(self.base) for t in sorted(job.tasks.values(), key=lambda t: t.id)]
        return self._page(f"/jobs/{jobId}/tasks", query, items, "tasks")

    @route("GET", "/jobs/{jobId}/tasks/{taskId}")
    def get_task(self, query: dict[str, str], body: Any, jobId: str, taskId: str) -> Response:
        with self.world.lock:
            task = self._task(jobId, taskId)
            return self._one(
                task.to_json(self.base), "tasks/@Element", query, task.etag, task.modified
            )

    @route("DELETE", "/jobs/{jobId}/tasks/{taskId}")
    def delete_task(self, query: dict[str, str], body: Any, jobId: str, taskId: str) -> Response:
        with self.world.lock:
            task = self._task(jobId, taskId)
            if task.run is not None and not task.run.finalized:
                task.run.cancel("delete")
            del task.job.tasks[taskId]
            return Response(200)

    @route("PUT", "/jobs/{jobId}/tasks/{taskId}")
    def replace_task(self, query: dict[str, str], body: Any, jobId: str, taskId: str) -> Response:
        body = self._require(body)
        with self.world.lock:
            task = self._task(jobId, taskId)
            if "constraints" in body:
                task.spec["constraints"] = body["constraints"]
            task.etag, task.modified = new_etag(), utcnow()
            return self._created(
                f"/jobs/{jobId}/tasks/{taskId}", task.etag, task.modified, status=200
            )

    @route("POST", "/jobs/{jobId}/tasks/{taskId}/terminate")
    def terminate_task(self, query: dict[str, str], body: Any, jobId: str, taskId: str) -> Response:
        with self.world.lock:
            task = self._task(jobId, taskId)
            self.world.terminate_task(task)
            return self._accepted(
                f"/jobs/{jobId}/tasks/{taskId}/terminate", task.etag, task.modified, status=204
            )

    @route("POST", "/jobs/{jobId}/tasks/{taskId}/reactivate")
    def reactivate_task(
        self, query: dict[str, str], body: Any, jobId: str, taskId: str
    ) -> Response:
        with self.world.lock:
            task = self._task(jobId, taskId)
            if task.state != "completed" or task.exec_info.get("result") != "failure":
                raise BatchApiError(
                    409,
                    "TaskNotFailed",
                    "The specified task cannot be reactivated because it did not fail.",
                )
            task.run = None
            task.node_info = None
            task.exec_info = {
                "retryCount": 0,
                "requeueCount": task.exec_info.get("requeueCount", 0),
            }
            task.set_state("active")
            return self._accepted(
                f"/jobs/{jobId}/tasks/{taskId}/reactivate", task.etag, task.modified, status=204
            )

    @route("GET", "/jobs/{jobId}/tasks/{taskId}/files")
    def list_task_files(
        self, query: dict[str, str], body: Any, jobId: str, taskId: str
    ) -> Response:
        with self.world.lock:
            task = self._task(jobId, taskId)
            root = task.task_dir
        url = f"{self.base}/jobs/{jobId}/tasks/{taskId}/files"
        items = _list_files(root, url, query) if root else []
        return self._page(f"/jobs/{jobId}/tasks/{taskId}/files", query, items, "files")

    def task_file(
        self, query: dict[str, str], body: Any, jobId: str, taskId: str, path: str
    ) -> Response:
        with self.world.lock:
            task = self._task(jobId, taskId)
            root = task.task_dir
        if not root:
            raise BatchApiError(404, "FileNotFound", "The specified file does not exist.")
        return self._file(
            root, path, f"{self.base}/jobs/{jobId}/tasks/{taskId}/files/{path}", query
        )

    def _file(self, root: str, rel: str, url: str, query: dict[str, str]) -> Response:
        full = os.path.normpath(os.path.join(root, rel))
        if not (
            full == root or full.startswith(root.rstrip(os.sep) + os.sep)
        ) or not os.path.exists(full):
            raise BatchApiError(404, "FileNotFound", "The specified file does not exist.")
        if self.command == "DELETE":
            if os.path.isdir(full):
                import shutil

                if query.get("recursive", "false").lower() != "true" and os.listdir(full):
                    raise BatchApiError(409, "DirectoryNotEmpty", "The directory is not empty.")
                shutil.rmtree(full, ignore_errors=True)
            else:
                os.remove(full)
            return Response(200)
        st = os.stat(full)
        isdir = os.path.isdir(full)
        created = _dt_from_ts(st.st_ctime)
        headers = {
            "Content-Type": _content_type(full),
            "Last-Modified": rfc1123(_dt_from_ts(st.st_mtime)),
            "ocp-creation-time": rfc1123(created),
            "ocp-batch-file-isdirectory": "True" if isdir else "False",
            "ocp-batch-file-url": urllib.parse.quote(url, safe=""),
            "ocp-batch-file-mode": f"0{st.st_mode:o}",
        }
        if isdir:
            return Response(200, headers=headers, raw=b"")
        with open(full, "rb") as fh:
            data = fh.read()
        rng = self.headers.get("ocp-range")
        if rng:
            m = re.match(r"bytes=(\d*)-(\d*)", rng)
            if m:
                a = int(m.group(1) or 0)
                b = int(m.group(2)) + 1 if m.group(2) else len(data)
                data = data[a:b]
        if self.command == "HEAD":
            headers["Content-Length"] = str(len(data))
            return Response(200, headers=headers)
        return Response(200, headers=headers, raw=data)


def _unq(d: dict[str, str]) -> dict[str, str]:
    return {k: urllib.parse.unquote(v) for k, v in d.items()}


def _dt_from_ts(ts: float) -> Any:
    import datetime as _dt

    return _dt.datetime.fromtimestamp(ts, _dt.UTC)


def _content_type(path: str) -> str:
    if path.endswith(".txt"):
        return "text/plain"
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def _list_files(root: str, url: str, query: dict[str, str]) -> list[dict[str, Any]]:
    if not os.path.isdir(root):
        return []
    recursive = query.get("recursive", "false").lower() == "true"
    out = []
    entries: list[str] = []
    if recursive:
        for dirpath, dirnames, filenames in os.walk(root):
            for n in sorted(dirnames) + sorted(filenames):
                entries.append(os.path.relpath(os.path.join(dirpath, n), root))
    else:
        entries = sorted(os.listdir(root))
    for rel in sorted(entries):
        full = os.path.join(root, rel)
        name = rel.replace(os.sep, "/")
        item: dict[str, Any] = {
            "name": name,
            "url": f"{url}/{name}",
            "isDirectory": os.path.isdir(full),
        }
        if not item["isDirectory"]:
            st = os.stat(full)
            item["properties"] = {
                "creationTime": iso(_dt_from_ts(st.st_ctime)),
                "lastModified": iso(_dt_from_ts(st.st_mtime)),
                "contentLength": str(st.st_size),
                "contentType": _content_type(full),
                "fileMode": f"0{st.st_mode:o}",
            }
        out.append(item)
    return out


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, account: str, key: str, world: World) -> None:
        super().__init__((host, port), Handler)
        self.account = account
        self.key = key
        self.world = world
        self.request_log: list[dict[str, Any]] = []
        self.log_lock = threading.Lock()
        h, p = self.server_address[:2]
        world.base_url = f"http://{h}:{p}"

    @property
    def url(self) -> str:
        return self.world.base_url

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (timeouts, dropped connections) is not an emulator bug."""
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def make_server(
    host: str,
    port: int,
    account: str,
    key: str,
    root: str,
    path_dirs: list[str] | None = None,
    knobs: Knobs | None = None,
) -> EmulatorServer:
    world = World(account=account, root=root, path_dirs=path_dirs, knobs=knobs)
    server = EmulatorServer(host, port, account, key, world)
    world.start()
    return server
