"""The HTTP(S) face of the emulator: authentication, injected faults, the request log, the
test-only control endpoints, and dispatch to the per-resource routes."""

from __future__ import annotations

import json
import os
import socket
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import auth
from .entra import BearerVerifier
from .files import NODE_FILE, TASK_FILE, FileRoutes
from .routes_jobs import JobRoutes
from .routes_pools import PoolRoutes
from .routes_tasks import TaskRoutes
from .routing import ROUTES, Response
from .util import BatchApiError, dumps, iso, utcnow
from .world import Knobs, World

JSON_TYPE = "application/json; odata=minimalmetadata"


class Handler(PoolRoutes, JobRoutes, TaskRoutes, FileRoutes, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorServer

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(30)
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        if os.environ.get("BATCH_EMULATOR_VERBOSE"):
            super().log_message(format, *args)

    # one entry point for every verb
    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    @property
    def world(self) -> World:  # type: ignore[override]
        return self.server.world

    @property
    def base(self) -> str:  # type: ignore[override]
        return self.server.world.base_url

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
            "auth": (self.headers.get("Authorization") or " ").split(" ")[0],
        }
        if self.command == "POST" and entry["path"] in ("/jobs", "/pools") and body_bytes:
            try:  # what was asked for: the pool a run chose (small bodies only)
                entry["body"] = json.loads(body_bytes)
            except ValueError:
                pass
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
                self._injected_failure(fail_status)
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
                    srv.bearer,
                )
            except auth.AuthError as exc:
                raise BatchApiError(
                    exc.status, "AuthenticationFailed", exc.message, [(exc.detail_key, exc.detail)]
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
        except Exception as exc:  # an emulator bug: answer 500, and say so on stderr
            traceback.print_exc()
            resp = self._error_response(
                BatchApiError(500, "InternalError", f"Emulator error: {exc!r}")
            )
        entry["status"] = resp.status
        self._send(resp)

    @staticmethod
    def _injected_failure(status: int) -> None:
        if status == 503:
            raise BatchApiError(
                503,
                "ServerBusy",
                "The server is currently unable to receive requests. Please retry your request.",
            )
        raise BatchApiError(
            500,
            "InternalError",
            "Server encountered an internal error. Please try again after some time.",
        )

    # -- plumbing ------------------------------------------------------------------------

    def _error_body(self, exc: BatchApiError) -> dict[str, Any]:
        body: dict[str, Any] = {
            "odata.metadata": f"{self.base}/$metadata#Microsoft.Azure.Batch."
            "Protocol.Entities.Container.errors/@Element",
            "code": exc.code,
            "message": {
                "lang": "en-US",
                "value": f"{exc.message}\nRequestId:{self.request_id}\nTime:{iso(utcnow())}",
            },
        }
        if exc.values:
            body["values"] = [{"key": k, "value": v} for k, v in exc.values]
        return body

    def _error_response(self, exc: BatchApiError) -> Response:
        if self.command == "HEAD":
            return Response(exc.status)
        return Response(exc.status, self._error_body(exc))

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
        """Test-only endpoints under /_emulator/ (no authentication)."""
        srv = self.server
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
        for method, regex, name in ROUTES:
            m = regex.match(raw_path)
            if not m:
                continue
            matched_path = True
            if method != self.command:
                continue
            result: Response = getattr(self, name)(query, body, **_unq(m.groupdict()))
            return result
        if matched_path:
            raise BatchApiError(
                405, "UnsupportedHttpVerb", "The resource doesn't support specified Http Verb."
            )
        raise BatchApiError(
            404, "InvalidUri", "The requested URI does not represent any resource on the server."
        )


def _unq(d: dict[str, str]) -> dict[str, str]:
    return {k: urllib.parse.unquote(v) for k, v in d.items()}


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        host: str,
        port: int,
        account: str,
        key: str,
        world: World,
        tls: tuple[str, str] | None = None,
        bearer: BearerVerifier | None = None,
    ) -> None:
        super().__init__((host, port), Handler)
        self.account = account
        self.key = key
        self.world = world
        self.bearer = bearer
        self.request_log: list[dict[str, Any]] = []
        self.log_lock = threading.Lock()
        scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            # the handshake happens in the request's own thread, not in the accept loop
            self.socket = context.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )
            scheme = "https"
        host, port = self.server_address[:2]
        assert isinstance(host, str)
        world.base_url = f"{scheme}://{host}:{port}"

    @property
    def url(self) -> str:
        return self.world.base_url

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (timeouts, dropped connections, a TLS client that gives up
        on the handshake) is not an emulator bug."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError)):
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
    tls: tuple[str, str] | None = None,
    entra_jwks: str | None = None,
) -> EmulatorServer:
    world = World(account=account, root=root, path_dirs=path_dirs, knobs=knobs)
    bearer = BearerVerifier.from_file(entra_jwks) if entra_jwks else None
    server = EmulatorServer(host, port, account, key, world, tls=tls, bearer=bearer)
    world.start()
    return server
