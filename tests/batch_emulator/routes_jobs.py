"""Routes for jobs: create, list, get, patch/put, disable/enable, terminate, delete, counts."""

from __future__ import annotations

from typing import Any

from .routing import Response, RouteHelpers, route
from .util import conflict, invalid_property, missing_property

DISABLE_OPTIONS = ("requeue", "terminate", "wait")


class JobRoutes(RouteHelpers):
    @route("POST", "/jobs")
    def create_job(self, query: dict[str, str], body: Any) -> Response:
        spec = self._require(body, "id", "poolInfo")
        w = self.world
        with w.lock:
            if spec["id"] in w.jobs:
                raise conflict("JobExists", "The specified job already exists.")
            job = w.add_job(spec)
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
            return self._one(
                job.to_json(self.base), "jobs/@Element", query, job.etag, job.modified, "jobs"
            )

    @route("DELETE", "/jobs/{jobId}")
    def delete_job(self, query: dict[str, str], body: Any, jobId: str) -> Response:
        with self.world.lock:
            self.world.delete_job(self._job(jobId))
            return self._accepted()

    @route("PATCH", "/jobs/{jobId}")
    def patch_job(self, query: dict[str, str], body: Any, jobId: str) -> Response:
        """Only the given properties change; 200 with no body (recorded)."""
        body = self._require(body)
        with self.world.lock:
            job = self._job(jobId)
            self.world.patch_job(job, body, replace=False)
            return self._created(f"/jobs/{jobId}", job.etag, job.modified, status=200)

    @route("PUT", "/jobs/{jobId}")
    def replace_job(self, query: dict[str, str], body: Any, jobId: str) -> Response:
        """Every updatable property is replaced; the ones left out go back to defaults."""
        body = self._require(body, "poolInfo")
        with self.world.lock:
            job = self._job(jobId)
            self.world.patch_job(job, body, replace=True)
            return self._created(f"/jobs/{jobId}", job.etag, job.modified, status=200)

    @route("POST", "/jobs/{jobId}/disable")
    def disable_job(self, query: dict[str, str], body: Any, jobId: str) -> Response:
        body = self._require(body)
        option = str(body.get("disableTasks") or "").lower()
        if not option:
            raise missing_property("disableTasks")
        if option not in DISABLE_OPTIONS:
            raise invalid_property("disableTasks", "must be requeue, terminate or wait")
        with self.world.lock:
            job = self._job(jobId)
            self.world.disable_job(job, option)
            return self._accepted(f"/jobs/{jobId}/disable", job.etag, job.modified)

    @route("POST", "/jobs/{jobId}/enable")
    def enable_job(self, query: dict[str, str], body: Any, jobId: str) -> Response:
        with self.world.lock:
            job = self._job(jobId)
            self.world.enable_job(job)
            return self._accepted(f"/jobs/{jobId}/enable", job.etag, job.modified)

    @route("POST", "/jobs/{jobId}/terminate")
    def terminate_job(self, query: dict[str, str], body: Any, jobId: str) -> Response:
        reason = (body or {}).get("terminateReason") if isinstance(body, dict) else None
        with self.world.lock:
            job = self._job(jobId)
            self.world.terminate_job(job, reason)
            return self._accepted(f"/jobs/{jobId}/terminate", job.etag, job.modified)

    @route("GET", "/jobs/{jobId}/taskcounts")
    def task_counts(self, query: dict[str, str], body: Any, jobId: str) -> Response:
        """Counts from a snapshot up to task_counts_lag_s old (recorded: zeros right after a
        task was added); list tasks for exact numbers."""
        with self.world.lock:
            counts = self.world.task_counts(self._job(jobId))
            out: dict[str, Any] = {"odata.metadata": self._meta("taskcountsresult/@Element")}
            out.update({k: dict(v) for k, v in counts.items()})
        return Response(200, out)
