"""The Azure Batch side of a run: the client, jobs and tasks (pools: pools.py).

Blocking calls on azure-batch 15.x, meant for the executor. Every list call asks only
for the fields the app shows ($select). The 15.1.0 traps are handled here and nowhere
else: `pool_exists` raising instead of returning False, `begin_terminate_job` needing an
options object, `create_tasks` retrying 5xx forever (we chunk and bound it ourselves),
and enum values arriving as lower-case strings (compare `.value`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from azure.batch import BatchClient
from azure.batch import models as bm
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.core.rest import HttpRequest

from batchgui.i18n import _
from batchgui.targets.azure.config import OWNER_KEY, OWNER_VALUE, RUN_KEY, AzureAccount
from batchgui.targets.azure.errors import error_code, is_transient, value
from batchgui.targets.azure.pools import (  # noqa: F401 (the pool names live on here too)
    PoolCalls,
    PoolChoice,
    PoolConflict,
    PoolHealth,
    choose_image,
    pool_fingerprint,
)

log = logging.getLogger(__name__)

#: the Batch REST version this module is written against (azure-batch 15.1.0's default)
API_VERSION = "2025-06-01"
#: addtaskcollection takes at most 100 tasks per call
TASKS_PER_CALL = 100
TASK_SELECT = ["id", "state", "executionInfo", "nodeInfo", "stateTransitionTime"]
JOB_SELECT = ["id", "state", "poolInfo", "executionInfo", "creationTime", "metadata",
              "onAllTasksComplete"]


def batch_client_options() -> dict[str, Any]:
    """Bounded retries (a wrong URL fails in seconds) and timeouts on every call."""
    return {
        "retry_total": 4,
        "retry_connect": 2,
        "retry_read": 2,
        "retry_status": 4,
        "retry_backoff_factor": 0.4,
        "retry_backoff_max": 8,
        "connection_timeout": 15,
        "read_timeout": 60,
    }


def make_batch_client(account: AzureAccount) -> BatchClient:
    if account.auth == "entra" and account.credential is not None:
        credential: Any = account.credential
    else:
        if not account.batch_key:
            raise ValueError(_("no Batch account key"))
        credential = AzureNamedKeyCredential(account.batch_account, account.batch_key)
    return BatchClient(account.batch_url, credential, api_version=API_VERSION,
                       **batch_client_options())


class BatchService(PoolCalls):
    """The calls the Azure target makes on the Batch account."""

    def __init__(self, account: AzureAccount, client: BatchClient | None = None) -> None:
        self.account = account
        self.client = client or make_batch_client(account)
        self._start_task_stderr: dict[str, str] = {}

    def check(self) -> None:
        """One cheap authenticated call, for 'Test connection'."""
        next(iter(self.client.list_pools(max_results=1, select=["id"]).by_page()), None)

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> None:
        """One plain REST call, for the "fire and forget" operations.

        The SDK's begin_delete_pool / begin_delete_job / begin_terminate_job start a
        poller thread that keeps asking until the pool or job is gone (minutes); the
        run does not need to wait for that, so it sends the request itself.
        """
        request = HttpRequest(
            method,
            f"{self.account.batch_url}{path}",
            params={"api-version": API_VERSION},
            json=body,
            headers={"content-type": "application/json; odata=minimalmetadata"}
            if body is not None else None,
        )
        response = self.client.send_request(request)
        if response.status_code >= 400:
            error = HttpResponseError(response=response)
            if response.status_code == 404:
                raise ResourceNotFoundError(response=response)
            raise error

    def delete_pool(self, pool_id: str) -> None:
        try:
            self._send("DELETE", f"/pools/{quote(pool_id, safe='')}")
        except ResourceNotFoundError:
            pass
        except HttpResponseError as exc:
            if error_code(exc) != "PoolBeingDeleted":
                raise

    # -- job and tasks ---------------------------------------------------------------------

    def create_job(self, job_id: str, pool_info: bm.BatchPoolInfo, *, run_id: str,
                   max_wall_clock: timedelta) -> None:
        """The run's job, ending on its own by `max_wall_clock` unless the app extends it.

        It starts with "do nothing when all tasks are complete": a job with no tasks yet
        counts as complete, so "terminate" is only set once every task is added
        (`finish_when_done`). With an auto pool, the service deletes the pool with the job.
        """
        options = bm.BatchJobCreateOptions(
            id=job_id,
            display_name="BatchGUI run",
            pool_info=pool_info,
            all_tasks_complete_mode="noaction",
            constraints=bm.BatchJobConstraints(max_wall_clock_time=max_wall_clock),
            metadata=[bm.BatchMetadataItem(name=OWNER_KEY, value=OWNER_VALUE),
                      bm.BatchMetadataItem(name=RUN_KEY, value=run_id)],
        )
        try:
            self.client.create_job(options)
        except ResourceExistsError as exc:
            if error_code(exc) != "JobExists":  # e.g. ActiveJobAndScheduleQuotaReached
                raise
            # a retried create that had gone through

    def get_job(self, job_id: str) -> bm.BatchJob | None:
        try:
            return self.client.get_job(job_id, select=JOB_SELECT)
        except ResourceNotFoundError:
            return None

    def finish_when_done(self, job_id: str) -> None:
        """Every task is added: the job (and an auto pool with it) ends when they complete."""
        self.client.update_job(job_id, bm.BatchJobUpdateOptions(
            all_tasks_complete_mode="terminatejob"))

    def extend_job(self, job_id: str, max_wall_clock: timedelta) -> None:
        """Push the job's end further out (the app is still alive and watching)."""
        self.client.update_job(job_id, bm.BatchJobUpdateOptions(
            constraints=bm.BatchJobConstraints(max_wall_clock_time=max_wall_clock)))

    def disable_job(self, job_id: str) -> None:
        """Start no new task; running ones finish ("wait")."""
        try:
            self._send("POST", f"/jobs/{quote(job_id, safe='')}/disable",
                       {"disableTasks": "wait"})
        except HttpResponseError as exc:
            if error_code(exc) not in ("JobNotActive", "JobDisabled"):
                raise

    def enable_job(self, job_id: str) -> None:
        try:
            self._send("POST", f"/jobs/{quote(job_id, safe='')}/enable")
        except HttpResponseError as exc:
            if error_code(exc) not in ("JobNotDisabled", "JobActive"):
                raise

    def task_ids(self, job_id: str) -> dict[str, bm.BatchTask]:
        """Every task of a job with its state and result (used when re-attaching)."""
        return {t.id: t for t in self.client.list_tasks(job_id, select=TASK_SELECT,
                                                         max_results=1000)}

    def add_tasks(
        self,
        job_id: str,
        tasks: Sequence[bm.BatchTaskCreateOptions],
        *,
        deadline: float,
        should_stop: Any = None,
    ) -> int:
        """Submit in order, 100 per call; TaskExists is success. Returns the calls made.

        Each chunk is retried on server errors with backoff, but never past `deadline`
        (time.monotonic()), unlike the SDK's create_tasks which retries 5xx forever.
        """
        calls = 0
        once: dict[str, Any] = {"retry_total": 1}
        for start in range(0, len(tasks), TASKS_PER_CALL):
            pending = list(tasks[start:start + TASKS_PER_CALL])
            delay = 0.5
            while pending:
                if should_stop is not None and should_stop():
                    raise SubmitStopped()
                if time.monotonic() > deadline:
                    raise SubmitTimeout(len(tasks) - start)
                try:
                    calls += 1
                    result = self.client.create_task_collection(
                        job_id, bm.BatchTaskGroup(task_values=pending), service_timeout=30,
                        **once,  # this loop does the retrying, within the deadline
                    )
                except AzureError as exc:  # 5xx, throttling, a dropped connection
                    if not is_transient(exc):
                        raise
                    log.info("adding tasks: %s, trying again", type(exc).__name__)
                    time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                    delay = min(delay * 2, 10.0)
                    continue
                retry_ids: set[str] = set()
                for item in result.result_values or []:
                    status = value(item.status)
                    code = item.error.code if item.error else None
                    if status == "success" or code == "TaskExists":
                        continue
                    if status == "servererror":
                        retry_ids.add(item.task_id)
                        continue
                    message = ""
                    if item.error and item.error.message:
                        message = item.error.message.value or ""
                    raise TaskRejected(item.task_id, code or "unknown", message)
                pending = [t for t in pending if t.id in retry_ids]
                if pending:
                    time.sleep(delay)
                    delay = min(delay * 2, 10.0)
        return calls

    def list_tasks(self, job_id: str, *, quick: bool = False,
                   changed_since: datetime | None = None, **kwargs: Any) -> list[bm.BatchTask]:
        """The job's tasks, only the fields the app shows; `quick` as for list_nodes.

        With `changed_since` (a time of the service's own clock), only the tasks whose
        state changed at or after it.
        """
        extra: dict[str, Any] = {"retry_total": 1} if quick else {}
        extra.update(kwargs)
        if changed_since is not None:
            stamp = changed_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            extra["filter"] = f"stateTransitionTime ge datetime'{stamp}'"
        return list(self.client.list_tasks(job_id, select=TASK_SELECT, max_results=1000,
                                           **extra))

    def changed_tasks(self, job_id: str, since: datetime | None
                      ) -> tuple[list[bm.BatchTask], datetime | None]:
        """The tasks whose state changed at or after `since` (all when None), and the
        service's own time of the answer (its Date header), for the next call's `since`."""
        stamps: list[datetime] = []

        def note_date(response: Any) -> None:
            date = response.http_response.headers.get("Date")
            if date and not stamps:
                try:
                    stamps.append(parsedate_to_datetime(date))
                except (TypeError, ValueError):
                    pass

        tasks = self.list_tasks(job_id, quick=True, changed_since=since,
                                raw_response_hook=note_date)
        return tasks, (stamps[0] if stamps else None)

    def task_counts(self, job_id: str, *, quick: bool = False) -> bm.BatchTaskCounts:
        """How many of the job's tasks are waiting, running and done (one small call)."""
        extra: dict[str, Any] = {"retry_total": 1} if quick else {}
        return self.client.get_job_task_counts(job_id, **extra).task_counts

    def task_file_tail(self, job_id: str, task_id: str, name: str, max_bytes: int = 4000) -> str:
        try:
            data = b"".join(self.client.download_task_file(job_id, task_id, name))
        except HttpResponseError:
            return ""
        return data.decode("utf-8", errors="replace")[-max_bytes:]

    def terminate_job(self, job_id: str, reason: str) -> None:
        """Stop the job's running tasks (the body is what begin_terminate_job needs options for)."""
        try:
            self._send("POST", f"/jobs/{quote(job_id, safe='')}/terminate",
                       {"terminateReason": reason})
        except ResourceNotFoundError:
            pass
        except HttpResponseError as exc:
            if error_code(exc) not in ("JobCompleted", "JobBeingDeleted", "JobBeingTerminated"):
                raise

    def delete_job(self, job_id: str) -> None:
        try:
            self._send("DELETE", f"/jobs/{quote(job_id, safe='')}")
        except ResourceNotFoundError:
            pass
        except HttpResponseError as exc:
            if error_code(exc) != "JobBeingDeleted":
                raise

    def close(self) -> None:
        self.client.close()


class SubmitTimeout(Exception):
    def __init__(self, left: int) -> None:
        super().__init__(f"{left} task(s) not accepted in time")
        self.left = left


class SubmitStopped(Exception):
    """The run was cancelled while tasks were being added."""


class TaskRejected(Exception):
    def __init__(self, task_id: str, code: str, message: str) -> None:
        super().__init__(f"task {task_id}: {code} {message}")
        self.task_id, self.code, self.message = task_id, code, message
