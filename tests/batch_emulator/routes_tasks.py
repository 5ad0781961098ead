"""Routes for tasks: add (one or a collection of up to 100), list, get, update, delete,
terminate, reactivate."""

from __future__ import annotations

from typing import Any

from .routing import Response, RouteHelpers, route
from .util import BatchApiError, iso

MAX_TASKS_PER_COLLECTION = 100


class TaskRoutes(RouteHelpers):
    @route("POST", "/jobs/{jobId}/tasks")
    def create_task(self, query: dict[str, str], body: Any, jobId: str) -> Response:
        spec = self._require(body, "id", "commandLine")
        with self.world.lock:
            task = self.world.add_task(self._job(jobId), spec)
            return self._created(f"/jobs/{jobId}/tasks/{task.id}", task.etag, task.modified)

    @route("POST", "/jobs/{jobId}/addtaskcollection")
    def add_task_collection(self, query: dict[str, str], body: Any, jobId: str) -> Response:
        """200 (not 201), per-task status "Success" or "ClientError" with the error."""
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
                    task = self.world.add_task(job, spec)
                except BatchApiError as exc:
                    err = self._error_body(exc)
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
                task.to_json(self.base), "tasks/@Element", query, task.etag, task.modified,
                "tasks",
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
            task.touch()
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
            self.world.reactivate_task(task)
            return self._accepted(
                f"/jobs/{jobId}/tasks/{taskId}/reactivate", task.etag, task.modified, status=204
            )
