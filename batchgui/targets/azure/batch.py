"""The Azure Batch side of a run: pool, job, tasks, and what the nodes and tasks are doing.

Blocking calls on azure-batch 15.x, meant for the executor. Every list call asks only
for the fields the app shows ($select), so one poll is two small calls whatever the
number of tasks. The 15.1.0 traps are handled here and nowhere else: `pool_exists`
raising instead of returning False, `begin_terminate_job` needing an options object,
`create_tasks` retrying 5xx forever (we chunk and bound it ourselves), and enum values
arriving as lower-case strings (compare `.value`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
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

from batchgui.targets.azure.config import AzureAccount, PoolSettings
from batchgui.targets.azure.errors import error_code, is_transient
from batchgui.targets.azure.pools import (  # value: target.py imports it from here
    choose_image,
    pool_fingerprint,
    pool_metadata,
    pool_mismatch,
    value,
)

log = logging.getLogger(__name__)

#: the Batch REST version this module is written against (azure-batch 15.1.0's default)
API_VERSION = "2025-06-01"
#: addtaskcollection takes at most 100 tasks per call
TASKS_PER_CALL = 100
#: the metadata that marks a pool as BatchGUI's own (only those are ever deleted)
OWNER_KEY, OWNER_VALUE = "batchgui", "1"
FINGERPRINT_KEY = "batchgui-fingerprint"

TASK_SELECT = ["id", "state", "executionInfo", "nodeInfo"]
NODE_SELECT = ["id", "state", "isDedicated", "runningTasksCount", "runningTaskSlotsCount",
               "errors", "startTaskInfo"]
POOL_SELECT = ["id", "state", "allocationState", "resizeErrors", "currentDedicatedNodes",
               "currentLowPriorityNodes", "targetDedicatedNodes", "targetLowPriorityNodes"]


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
            raise ValueError("no Batch account key")
        credential = AzureNamedKeyCredential(account.batch_account, account.batch_key)
    return BatchClient(account.batch_url, credential, api_version=API_VERSION,
                       **batch_client_options())


@dataclass
class PoolChoice:
    pool_id: str
    created: bool
    owned: bool  # made by BatchGUI (carries our metadata): may be deleted at the end
    note: str = ""


@dataclass
class PoolHealth:
    """One look at the pool: its nodes, and a fatal problem or warnings in plain words."""

    nodes: list[bm.BatchNode]
    usable: int = 0  # idle or running
    pending: int = 0  # still coming up
    fatal: str | None = None
    warnings: list[str] = field(default_factory=list)


class BatchService:
    """The calls the Azure target makes on the Batch account."""

    def __init__(self, account: AzureAccount, client: BatchClient | None = None) -> None:
        self.account = account
        self.client = client or make_batch_client(account)
        self._start_task_stderr: dict[str, str] = {}

    def check(self) -> None:
        """One cheap authenticated call, for 'Test connection'."""
        next(iter(self.client.list_pools(max_results=1, select=["id"]).by_page()), None)

    # -- pool ------------------------------------------------------------------------------

    def supported_images(self) -> list[bm.BatchSupportedImage]:
        return list(self.client.list_supported_images(filter="osType eq 'linux'"))

    def get_pool(self, pool_id: str, select: list[str] | None = None) -> bm.BatchPool | None:
        try:
            return self.client.get_pool(pool_id, select=select)
        except ResourceNotFoundError:
            return None

    def ensure_pool(self, settings: PoolSettings) -> PoolChoice:
        """Reuse BatchGUI's pool when it matches the settings, else create one."""
        images = self.supported_images()
        fingerprint = pool_fingerprint(settings)
        candidates = [settings.pool_id, f"{settings.pool_id}-{fingerprint[:6]}"]
        free: str | None = None
        reasons: list[str] = []
        for pool_id in candidates:
            pool = self.get_pool(pool_id)
            if pool is None:
                free = free or pool_id
                continue
            why = pool_mismatch(pool, settings, images)
            if why is None:
                owned = pool_metadata(pool).get(OWNER_KEY) == OWNER_VALUE
                note = self._match_size(pool, settings)
                return PoolChoice(pool_id, created=False, owned=owned, note=note)
            reasons.append(f"pool {pool_id} can't be used: {why}")
        if free is None:
            raise PoolConflict(
                "; ".join(reasons).capitalize()
                + ". Delete one of these pools in the Azure portal or choose another pool id."
            )
        image = choose_image(images)
        self._create_pool(free, settings, image, fingerprint)
        note = "; ".join(reasons)
        return PoolChoice(free, created=True, owned=True, note=note)

    def _create_pool(
        self, pool_id: str, settings: PoolSettings, image: bm.BatchSupportedImage, fingerprint: str
    ) -> None:
        ref = image.image_reference
        options = bm.BatchPoolCreateOptions(
            id=pool_id,
            display_name="BatchGUI MP4 to MP3",
            vm_size=settings.vm_size,
            virtual_machine_configuration=bm.VirtualMachineConfiguration(
                image_reference=bm.BatchVmImageReference(
                    publisher=ref.publisher, offer=ref.offer, sku=ref.sku, version="latest"
                ),
                node_agent_sku_id=image.node_agent_sku_id,
            ),
            resize_timeout=timedelta(minutes=15),
            target_dedicated_nodes=settings.dedicated_nodes,
            target_low_priority_nodes=settings.spot_nodes,
            task_slots_per_node=settings.slots_per_node,
            start_task=bm.BatchStartTask(
                command_line=settings.start_task,
                user_identity=bm.UserIdentity(
                    auto_user=bm.AutoUserSpecification(scope="pool", elevation_level="admin")
                ),
                max_task_retry_count=2,
                wait_for_success=True,
            ),
            metadata=[
                bm.BatchMetadataItem(name=OWNER_KEY, value=OWNER_VALUE),
                bm.BatchMetadataItem(name=FINGERPRINT_KEY, value=fingerprint),
            ],
        )
        try:
            self.client.create_pool(options)
        except ResourceExistsError as exc:
            if error_code(exc) != "PoolExists":  # e.g. PoolQuotaReached is a 409 too
                raise
            # a retried create that had gone through

    def _match_size(self, pool: bm.BatchPool, settings: PoolSettings) -> str:
        """Grow or shrink a reused pool to the node counts the user asked for."""
        want = (settings.dedicated_nodes, settings.spot_nodes)
        have = (pool.target_dedicated_nodes or 0, pool.target_low_priority_nodes or 0)
        if pool.enable_auto_scale or want == have:
            return ""
        if value(pool.allocation_state) != "steady":
            return "the pool is still resizing; its node count was left as it is"
        try:
            self.client.begin_resize_pool(
                pool.id,
                bm.BatchPoolResizeOptions(
                    target_dedicated_nodes=want[0],
                    target_low_priority_nodes=want[1],
                    resize_timeout=timedelta(minutes=15),
                ),
            )
        except HttpResponseError as exc:
            return f"could not resize the pool ({error_code(exc) or exc.status_code})"
        return f"resizing the pool to {want[0]} dedicated and {want[1]} Spot node(s)"

    def list_nodes(self, pool_id: str, *, quick: bool = False) -> list[bm.BatchNode]:
        """The pool's nodes; `quick` tries once more at most (a poll simply comes again)."""
        extra: dict[str, Any] = {"retry_total": 1} if quick else {}
        return list(self.client.list_nodes(pool_id, select=NODE_SELECT, max_results=1000,
                                           **extra))

    def start_task_stderr(self, pool_id: str, node_id: str, max_bytes: int = 3000) -> str:
        """The tail of a node's start task stderr (read once per node, through the file API)."""
        key = f"{pool_id}/{node_id}"
        if key not in self._start_task_stderr:
            text = ""
            for name in ("startup/stderr.txt", "startup/stdout.txt"):
                try:
                    data = b"".join(self.client.download_node_file(pool_id, node_id, name))
                except HttpResponseError:
                    continue
                text = data.decode("utf-8", errors="replace").strip()[-max_bytes:]
                if text:
                    break
            self._start_task_stderr[key] = text
        return self._start_task_stderr[key]

    def pool_health(self, pool_id: str, *, with_pool: bool = True,
                    nodes: list[bm.BatchNode] | None = None) -> PoolHealth:
        """Nodes plus, when asked, the pool's resize errors; decides whether it can work."""
        from batchgui.targets.azure.errors import resize_error_sentence

        pool = self.get_pool(pool_id, select=POOL_SELECT) if with_pool else None
        if with_pool and pool is None:
            return PoolHealth([], fatal=f"The pool {pool_id} was deleted while the run used it.")
        if nodes is None:
            nodes = self.list_nodes(pool_id)
        health = PoolHealth(nodes)
        broken: list[str] = []
        for node in nodes:
            state = value(node.state)
            if state in ("idle", "running"):
                health.usable += 1
            elif state in ("creating", "starting", "waitingforstarttask", "rebooting",
                           "reimaging", "leavingpool", "preempted", "offline", "unknown"):
                health.pending += 1
            elif state == "starttaskfailed":
                stderr = self.start_task_stderr(pool_id, node.id)
                exit_code = node.start_task_info.exit_code if node.start_task_info else None
                text = f"the start task failed on node {node.id}"
                if exit_code is not None:
                    text += f" (exit code {exit_code})"
                broken.append(text + (f"; its stderr said:\n{stderr}" if stderr else ""))
            elif state == "unusable":
                why = "; ".join(e.message or e.code or "" for e in (node.errors or []))
                broken.append(f"node {node.id} is unusable" + (f" ({why})" if why else ""))
        resize = ""
        if pool is not None and pool.resize_errors:
            err = pool.resize_errors[0]
            resize = resize_error_sentence(err.code, err.message)
        steady = pool is None or value(pool.allocation_state) == "steady"
        if health.usable == 0 and health.pending == 0:
            if broken:
                health.fatal = "No node can run the conversions: " + broken[0]
                if len(broken) > 1:
                    health.fatal += f"\n(and {len(broken) - 1} more node(s) failed the same way)"
            elif resize and steady:
                health.fatal = resize
            elif (
                pool is not None and steady
                and (pool.target_dedicated_nodes or 0) + (pool.target_low_priority_nodes or 0) == 0
            ):
                health.fatal = (
                    f"The pool {pool_id} has no nodes. Choose at least one dedicated or Spot node."
                )
        else:
            health.warnings.extend(b.split(";")[0] for b in broken)
            if resize:
                health.warnings.append(resize)
        return health

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

    def other_jobs_on(self, pool_id: str, job_id: str) -> list[str]:
        """Active jobs besides `job_id` that run on this pool (another BatchGUI run, say)."""
        jobs = self.client.list_jobs(filter="state eq 'active'", select=["id", "poolInfo"])
        return [
            job.id for job in jobs
            if job.id != job_id and job.pool_info is not None
            and job.pool_info.pool_id == pool_id
        ]

    def delete_pool(self, pool_id: str) -> None:
        try:
            self._send("DELETE", f"/pools/{quote(pool_id, safe='')}")
        except ResourceNotFoundError:
            pass
        except HttpResponseError as exc:
            if error_code(exc) != "PoolBeingDeleted":
                raise

    # -- job and tasks ---------------------------------------------------------------------

    def create_job(self, job_id: str, pool_id: str) -> None:
        options = bm.BatchJobCreateOptions(
            id=job_id,
            display_name="BatchGUI run",
            pool_info=bm.BatchPoolInfo(pool_id=pool_id),
            metadata=[bm.BatchMetadataItem(name=OWNER_KEY, value=OWNER_VALUE)],
        )
        try:
            self.client.create_job(options)
        except ResourceExistsError as exc:
            if error_code(exc) != "JobExists":  # e.g. ActiveJobAndScheduleQuotaReached
                raise
            # a resumed run, or a retried create that had gone through

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

    def list_tasks(self, job_id: str, *, quick: bool = False) -> list[bm.BatchTask]:
        """The job's tasks, only the fields the app shows; `quick` as for list_nodes."""
        extra: dict[str, Any] = {"retry_total": 1} if quick else {}
        return list(self.client.list_tasks(job_id, select=TASK_SELECT, max_results=1000,
                                           **extra))

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


class PoolConflict(Exception):
    """Both pool ids BatchGUI may use are taken by pools with other settings."""


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
