"""Route registration and the answer shapes every resource shares (created, accepted, one
entity, a paged list), used by the per-resource route mixins."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .odata import QueryError, compile_filter, select
from .util import BatchApiError, not_found, rfc1123

if TYPE_CHECKING:
    from .jobs import Job, Task
    from .pools import Pool
    from .world import World

BAD_QUERY = "Value for one of the query parameters specified in the request URI is invalid."

Route = tuple[str, re.Pattern[str], str]
ROUTES: list[Route] = []


def route(method: str, pattern: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a handler method for `method` and a path like /pools/{poolId}/resize."""
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        ROUTES.append((method, regex, fn.__name__))
        return fn

    return deco


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


def query_error(name: str, value: str, reason: str) -> BatchApiError:
    return BatchApiError(
        400,
        "InvalidQueryParameterValue",
        BAD_QUERY,
        [("QueryParameterName", name), ("QueryParameterValue", value), ("Reason", reason)],
    )


class RouteHelpers:
    """Shared helpers of the route mixins (the Handler provides world, base, command)."""

    world: World
    base: str
    command: str

    def _error_body(self, exc: BatchApiError) -> dict[str, Any]:
        raise NotImplementedError  # the Handler knows the request id

    def _meta(self, what: str) -> str:
        return f"{self.base}/$metadata#{what}"

    def _created(self, path: str, etag: str, modified: Any, status: int = 201) -> Response:
        url = f"{self.base}{path}"
        headers = {"DataServiceId": url, "ETag": etag, "Last-Modified": rfc1123(modified)}
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

    def _select(self, obj: dict[str, Any], query: dict[str, str], kind: str) -> dict[str, Any]:
        try:
            return select(obj, query.get("$select"), kind)
        except QueryError as exc:
            raise query_error("$select", query["$select"], str(exc)) from None

    def _page(
        self,
        path: str,
        query: dict[str, str],
        items: list[dict[str, Any]],
        meta: str,
        kind: str | None = None,
    ) -> Response:
        """A list answer: $filter, then pages of min(maxresults, max_page_size) with an
        absolute odata.nextLink, then $select on each item."""
        kind = kind or meta
        try:
            pred = compile_filter(query.get("$filter"), kind)
        except QueryError as exc:
            raise query_error("$filter", query["$filter"], str(exc)) from None
        items = [i for i in items if pred(i)]
        size = self.world.knobs.max_page_size
        if "maxresults" in query:
            try:
                mr = int(query["maxresults"])
            except ValueError:
                mr = -1
            if mr < 1:
                raise query_error(
                    "maxresults", query["maxresults"], "MaxResults cannot be less than 1"
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
            "value": [self._select(i, query, kind) for i in chunk],
        }
        if start + size < len(items):
            params = {k: v for k, v in query.items() if k != "$skiptoken"}
            params["maxresults"] = str(size)
            params["$skiptoken"] = f"EMU:{start + size}"
            out["odata.nextLink"] = f"{self.base}{path}?" + urllib.parse.urlencode(
                params, quote_via=urllib.parse.quote, safe="$',:"
            )
        return Response(200, out)

    def _one(
        self,
        obj: dict[str, Any],
        meta: str,
        query: dict[str, str],
        etag: str | None,
        modified: Any,
        kind: str,
    ) -> Response:
        body = {"odata.metadata": self._meta(meta)}
        body.update(self._select(obj, query, kind))
        headers = {}
        if etag:
            headers = {"ETag": etag, "Last-Modified": rfc1123(modified)}
        return Response(200, body, headers)

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
