"""Azure Batch as a Target: upload, job and pool, tasks, monitoring, download, cleanup.

The run (core.run) drives this exactly as it drives "This computer". All SDK calls
are blocking and go through `ctx.blocking`; this module decides, in the event loop,
what to call and what the answers mean for the user.

Nothing bills forever. Every remote thing the run makes is journaled (ctx.remember)
before it is made: its own container, its job, the pool settings. A run that deletes
its pool uses an *auto pool* whose lifetime is the job; the job ends itself once all
its tasks are complete ("terminatejob", set when the last task is added) and, as the
backstop, when its wall-clock limit passes, a limit the app keeps pushing out while it
is alive (config.GRACE_S past its last sign of life). So a computer that never comes back
leaves no nodes running; `batchgui cleanup` removes the blobs.

Resume re-attaches: the journaled job is looked up, finished tasks' MP3s are
downloaded (not recomputed), missing tasks are added, inputs already in storage are
not sent again; if the job is gone, the missing work goes on a new job of the run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from azure.batch import models as bm
from azure.core.exceptions import (
    AzureError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from batchgui.core.drills import kill_point
from batchgui.core.models import Stage, TargetStatus, TaskResult, TaskState, TaskStatus
from batchgui.core.target import RunCancelled, RunContext, Target, TargetError, WorkItem
from batchgui.i18n import N_, _, tr, trn, why
from batchgui.targets.azure.batch import (
    BatchService,
    PoolChoice,
    SubmitStopped,
    SubmitTimeout,
    TaskRejected,
)
from batchgui.targets.azure.config import AzureAccount, PoolSettings, job_grace_s
from batchgui.targets.azure.errors import is_transient, plain_error
from batchgui.targets.azure.jobs import CleanupStep, RunJob
from batchgui.targets.azure.monitor import NODE_WAIT_LIMIT_S, Monitor
from batchgui.targets.azure.storage import (
    BLOCK_CONCURRENCY,
    RunStorage,
    StorageSettingsError,
    TransferAborted,
    uses_sign_in,
)
from batchgui.targets.azure.tasks import (
    LOUDNESS_SCRIPT_BLOB,
    input_blob,
    output_blob,
    run_container,
    sas_lifetime,
    task_options,
    upload_loudness_script,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

#: files uploading at once (each large one also sends several blocks at once)
FILES_AT_ONCE = 4
#: tries of one call (create job, add tasks ...) before a transient error counts
CALL_ATTEMPTS = 5
#: how often the app tells the job it is still alive (how long it outlives silence: config)
HEARTBEAT_S = 10 * 60
#: finished files' videos removed from storage in one call
RELEASE_BATCH = 100


class AzureBatchTarget(RunJob, Target):
    """Converts on the user's own Azure Batch pool, with inputs and outputs in their storage."""

    threads_needed = 12

    def __init__(
        self,
        account: AzureAccount,
        pool: PoolSettings | None = None,
        *,
        files_at_once: int = FILES_AT_ONCE,
        block_concurrency: int | None = None,
        poll_bounds: tuple[float, float] | None = None,
        node_wait_limit_s: float = NODE_WAIT_LIMIT_S,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self.account = account
        self.pool = pool or PoolSettings()
        nodes = max(1, self.pool.dedicated_nodes + self.pool.spot_nodes)
        self.parallelism = nodes * max(1, self.pool.slots_per_node)
        self.display_name = f"Azure Batch ({account.batch_account})"
        self.files_at_once = max(1, files_at_once)
        self.block_concurrency = block_concurrency
        self.heartbeat_s = heartbeat_s
        self.grace_s = job_grace_s()
        self.monitor = Monitor(account, self.pool, bounds=poll_bounds,
                               node_wait_limit_s=node_wait_limit_s)
        self._storage: RunStorage | None = None
        self._batch: BatchService | None = None
        self._run_id = ""
        self.container = ""
        self._container_made = False  # only a container that may exist is removed
        self.job_id: str | None = None
        self.pool_id: str | None = None  # the auto pool's (once the service names it) or ours
        self._jobs_made: list[str] = []  # every job of this run, to delete at the end
        self._job_t0 = 0.0  # time.monotonic() at the job's creation
        self._live_tasks: set[str] = set()  # tasks the current job already has
        self._spent_inputs: list[str] = []  # videos whose MP3s are safe, to remove
        self._ended_job: str | None = None  # a resumed run's job that had ended
        self._settled: dict[str, TaskStatus] = {}  # outcomes known without asking the job
        self._pool_choice: PoolChoice | None = None
        self._abort = threading.Event()
        self._heartbeat: asyncio.Task[None] | None = None
        self._script_url: str | None = None  # media: read link to the loudness script
        self.stats: dict[str, float] = {"polls": 0, "submit_calls": 0, "submit_s": 0.0,
                                         "uploaded": 0, "skipped": 0}

    # -- calling Azure ---------------------------------------------------------------------

    async def _call(
        self, ctx: RunContext, service: str, fn: Callable[..., T], *args: Any,
        even_if_cancelled: bool = False, **kwargs: Any,
    ) -> T:
        """A blocking SDK call on the executor; Azure errors become one plain TargetError.

        Every call made this way is safe to repeat (creating what exists counts as done),
        so a dropped connection or a 5xx is tried again a few times before it counts;
        the SDK itself never repeats a POST whose connection broke.
        """
        delay = 0.5
        for attempt in range(CALL_ATTEMPTS):
            try:
                return await ctx.blocking(fn, *args, **kwargs)
            except (AzureError, ValueError) as exc:
                stopping = ctx.cancel.cancelled and not even_if_cancelled
                # could not connect at all: the SDK has tried that already, and a wrong
                # address should say so in seconds
                unreachable = isinstance(exc, ServiceRequestError) and not isinstance(
                    exc, ServiceResponseError)
                again = is_transient(exc) and not unreachable and not stopping
                if attempt + 1 < CALL_ATTEMPTS and again:
                    log.info("%s: %s, trying again", getattr(fn, "__name__", fn), exc)
                    await asyncio.sleep(delay)
                    delay *= 2
                    continue
                url = self.account.batch_url if service == "batch" else (
                    self._storage.endpoint if self._storage else None
                )
                signed_in = service == "storage" and uses_sign_in(self.account)
                raise TargetError(plain_error(exc, service, url, signed_in=signed_in)) from exc
        raise AssertionError("unreachable")

    async def _clients(self, ctx: RunContext) -> tuple[RunStorage, BatchService]:
        if self._storage is None:
            try:
                self._storage = await ctx.blocking(RunStorage, self.account, self.container)
            except StorageSettingsError as exc:
                raise TargetError(exc.reason) from exc
            except ValueError as exc:
                raise TargetError(plain_error(
                    exc, "storage", signed_in=uses_sign_in(self.account))) from exc
        if self._batch is None:
            try:
                self._batch = await ctx.blocking(BatchService, self.account)
            except ValueError as exc:
                raise TargetError(plain_error(exc, "batch")) from exc
        return self._storage, self._batch

    # -- prepare: job (and pool) and upload at the same time -------------------------------

    async def prepare(self, items: Sequence[WorkItem], ctx: RunContext) -> None:
        self._run_id = ctx.run_id
        ctx.cancel.on_cancel(self._abort.set)
        saved = ctx.saved
        if saved.get("container"):  # resuming: the same container, job and pool settings
            self._restore(saved)
        else:
            self.container = run_container(ctx.run_id)
            self.job_id = ctx.run_id
        # before anything exists remotely, the journal knows where to look for it
        await ctx.remember({
            "kind": "azure", "account": self.account.name, "batch_url": self.account.batch_url,
            "batch_account": self.account.batch_account, "container": self.container,
            "job_id": self.job_id, "jobs": self._jobs_made, "auto_pool": self.auto_pool,
            "pool": dataclasses.asdict(self.pool),
        })
        kill_point("azure-remembered")
        storage, batch = await self._clients(ctx)
        # Both keys are checked before anything is made: Batch with a read, then Storage by
        # making the run's container; a wrong key leaves nothing behind (nor a "could not").
        await self._call(ctx, "batch", batch.check)
        await self._call(ctx, "storage", storage.ensure_container)
        self._container_made = True
        total = sum(item.input.size for item in items)
        ctx.set_stage(Stage.UPLOADING, trn(
            "Uploading {n} file, {mb:.1f} MB, to storage account {account}",
            "Uploading {n} files, {mb:.1f} MB, to storage account {account}",
            len(items), mb=total / 1e6, account=storage.account_name))
        if saved.get("container"):
            await self._reattach(ctx, batch)
        todo = [i for i in items if i.task_id not in self._settled]
        if any(i.task_id not in self._live_tasks for i in todo) and self.job_id is None:
            if self._ended_job:
                ctx.log(trn("Job {job} has ended; the {n} file it had not finished is "
                            "converted on a new job.", "Job {job} has ended; the {n} files it "
                            "had not finished are converted on a new job.", len(todo),
                            job=self._ended_job))
            self.job_id = self._next_job_id()
        if self.job_id is not None and self.job_id not in self._jobs_made and todo:
            await self._start_job(ctx, batch, todo)
        if self.job_id is not None and self._heartbeat is None and todo:
            self._heartbeat = asyncio.ensure_future(self._keep_job_alive(ctx, batch))
        uploads = asyncio.ensure_future(self._upload_all(
            [i for i in todo if i.task_id not in self._live_tasks], ctx))
        uploads_done = asyncio.Event()
        uploads.add_done_callback(lambda _: uploads_done.set())
        watcher = asyncio.ensure_future(self._watch_pool(ctx, batch, uploads_done))
        await asyncio.wait({uploads, watcher}, return_when=asyncio.FIRST_EXCEPTION)
        if watcher.done() and watcher.exception() is not None:
            self._abort.set()
            await asyncio.gather(uploads, return_exceptions=True)
            raise watcher.exception()  # type: ignore[misc]
        try:
            await uploads
        except BaseException:
            self._abort.set()
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            raise
        await watcher
        ctx.cancel.raise_if_cancelled()

    async def _upload_all(self, items: Sequence[WorkItem], ctx: RunContext) -> None:
        assert self._storage is not None
        storage = self._storage
        loop = asyncio.get_running_loop()
        limit = asyncio.Semaphore(self.files_at_once)
        block_concurrency = self.block_concurrency or BLOCK_CONCURRENCY
        # largest first: a big file's blocks go up alongside the small files, not after them
        items = sorted(items, key=lambda item: item.input.size, reverse=True)

        async def one(item: WorkItem) -> None:
            async with limit:
                if self._abort.is_set():
                    return

                def progress(done: int, total: int) -> None:
                    loop.call_soon_threadsafe(ctx.report_transfer, item.task_id, done, total)

                blob = input_blob(item.task_id, item.input.path)
                await ctx.remember_file(item.task_id, {"blob": blob, "size": item.input.size})
                try:
                    uploaded = await ctx.blocking(
                        storage.upload, item.input.path, blob, progress=progress,
                        abort=self._abort, block_concurrency=block_concurrency,
                    )
                except TransferAborted:
                    return
                except OSError as exc:  # the file went away or can't be read: that file fails
                    unread = why("unreadable", "the file could not be read for upload: {error}",
                                 error=exc.strerror or str(exc))
                    self._settled[item.task_id] = TaskStatus(
                        item.task_id, TaskState.COMPLETED, result=TaskResult.FAILURE,
                        failure=unread, ended_at=time.time())
                    ctx.log(f"{item.input.name}: {unread}")
                    return
                except (AzureError, ValueError) as exc:
                    self._abort.set()
                    raise TargetError(plain_error(exc, "storage", storage.endpoint,
                                                  signed_in=storage.signed_in)) from exc
                await ctx.remember_file(item.task_id, {"uploaded": True})
                kill_point("azure-uploaded")
                self.stats["uploaded" if uploaded else "skipped"] += 1

        await asyncio.gather(*(one(item) for item in items))
        if ctx.cancel.cancelled:
            raise RunCancelled()
        sent, there = int(self.stats["uploaded"]), int(self.stats["skipped"])
        if there:
            ctx.log(trn("Uploaded {n} file; {there} already in storage from before",
                        "Uploaded {n} files; {there} already in storage from before", sent,
                        there=there))

    def _restore(self, saved: dict[str, Any]) -> None:
        """A resumed run's container, jobs and pool settings, as the journal kept them."""
        self.container, self._container_made = str(saved["container"]), True
        self.job_id = saved.get("job_id")
        self._jobs_made = list(saved.get("jobs", []))
        if saved.get("pool"):
            self.pool = PoolSettings(**saved["pool"])
            self.monitor.pool = self.pool

    # -- submit: one task per file ---------------------------------------------------------

    async def submit(self, items: Sequence[WorkItem], ctx: RunContext) -> None:
        storage, batch = await self._clients(ctx)
        todo = [item for item in items
                if item.task_id not in self._settled and item.task_id not in self._live_tasks]
        if not todo or self.job_id is None:
            return
        total_media = sum(item.input.duration_s or 0.0 for item in todo)
        total_bytes = sum(item.input.size for item in todo)
        expiry = datetime.now(UTC) + sas_lifetime(total_media, total_bytes, self.parallelism)
        # Entra ID sign-in: one call for the user delegation key the links are signed with
        await self._call(ctx, "storage", storage.prepare_signing, expiry)
        write_url = storage.write_sas_url(expiry)
        if any(item.loudness_lufs is not None for item in todo):  # media: the loudness script
            await self._call(ctx, "storage", upload_loudness_script, storage)
            self._script_url = storage.read_sas_url(LOUDNESS_SCRIPT_BLOB, expiry)
        # in the order the run gives (longest first): the Batch scheduler starts queued
        # tasks of a job roughly in the order they were added
        # (signing thousands of links and building the tasks is CPU work: a worker's)
        tasks = await ctx.blocking(lambda: [self.task_options(item, storage.read_sas_url(
            input_blob(item.task_id, item.input.path), expiry), write_url) for item in todo])
        chunks = -(-len(tasks) // 100)
        ctx.set_stage(Stage.TASKS, trn("Adding {n} task to job {job}",
                                       "Adding {n} tasks to job {job}", len(tasks),
                                       job=self.job_id))
        started = time.monotonic()
        deadline = started + max(120.0, 30.0 * chunks)
        try:
            calls = await self._call(
                ctx, "batch", batch.add_tasks, self.job_id, tasks, deadline=deadline,
                should_stop=lambda: ctx.cancel.cancelled,
            )
        except SubmitStopped as exc:
            raise RunCancelled() from exc
        except SubmitTimeout as exc:
            raise TargetError(why(
                "tasks_not_accepted", "Azure Batch did not accept {left} of the tasks within "
                "{seconds} seconds; the service seems busy. Try again later.",
                left=exc.left, seconds=int(deadline - started))) from exc
        except TaskRejected as exc:
            raise TargetError(why(
                "task_refused", "Azure Batch refused a task ({code}): {detail}", code=exc.code,
                detail=exc.message.splitlines()[0] if exc.message else _("no details"))
            ) from exc
        self._live_tasks.update(item.task_id for item in todo)
        kill_point("azure-tasks")
        # every task is in: the job (and its auto pool) ends once they are all complete
        await self._call(ctx, "batch", batch.finish_when_done, self.job_id)
        await ctx.remember({"tasks_added": True})
        self.stats["submit_calls"] = calls
        self.stats["submit_s"] = time.monotonic() - started

    def task_options(self, item: WorkItem, read_url: str,
                     write_url: str) -> bm.BatchTaskCreateOptions:
        """One item's task: reads its input through `read_url`, writes through `write_url`."""
        return task_options(item.task_id, item.input.path, item.quality, item.input.duration_s,
                            read_url, write_url, loudness_lufs=item.loudness_lufs,
                            script_url=self._script_url)  # media

    # -- monitoring ------------------------------------------------------------------------

    async def poll(self, ctx: RunContext) -> TargetStatus:
        storage, batch = await self._clients(ctx)
        self.stats["polls"] += 1
        if self.job_id is None or not self._live_tasks:
            return TargetStatus(nodes=self.monitor.nodes, tasks=dict(self._settled))
        try:
            pool_id = await self._learn_pool_id(ctx, batch)
        except (AzureError, ValueError) as exc:
            return self.monitor.reconnecting(exc)
        status = await self.monitor.poll(ctx, storage, batch, self.job_id, pool_id,
                                         self._settled)
        kill_point("azure-polled")
        return status

    def poll_interval(self, changed: bool) -> float:
        return self.monitor.poll_interval(changed)

    def facts(self) -> dict[str, Any]:
        created = self.auto_pool or bool(self._pool_choice and self._pool_choice.created)
        ready = self.monitor.first_ready
        return {
            "pool_created": created and bool(self._jobs_made),
            "pool_ready_s": (ready - self._job_t0) if ready and created and self._job_t0
            else None,
            "nodes": list(self.monitor.node_times.values()),
        }

    async def pause(self, ctx: RunContext) -> None:
        if self.job_id is not None and self._batch is not None:
            await self._call(ctx, "batch", self._batch.disable_job, self.job_id)
            ctx.log(_("The job is paused: no new file starts. Its pool's nodes still cost "
                      "money while it is paused."))

    async def unpause(self, ctx: RunContext) -> None:
        if self.job_id is not None and self._batch is not None:
            await self._call(ctx, "batch", self._batch.enable_job, self.job_id)

    # -- download and release --------------------------------------------------------------

    async def fetch(self, item: WorkItem, ctx: RunContext) -> None:
        storage, _ = await self._clients(ctx)
        loop = asyncio.get_running_loop()

        def progress(done: int, total: int) -> None:
            loop.call_soon_threadsafe(ctx.report_transfer, item.task_id, done, total)

        for attempt in range(4):
            try:
                await ctx.blocking(storage.download, output_blob(item.task_id),
                                   item.part_path, progress=progress, abort=self._abort)
                kill_point("azure-downloaded")
                return
            except ResourceNotFoundError as exc:
                raise TargetError(why("no_mp3_back", "ffmpeg reported success, but no MP3 came "
                                      "back from the node")) from exc
            except TransferAborted as exc:
                raise RunCancelled() from exc
            except (AzureError, ValueError) as exc:
                if not is_transient(exc) or attempt == 3:
                    cause = plain_error(exc, "storage", storage.endpoint,
                                        signed_in=storage.signed_in)
                    raise TargetError(why("download_failed", "the MP3 could not be downloaded: "
                                          "{reason}", reason=cause.text)) from exc
                await asyncio.sleep(1.0 * 2 ** attempt)

    async def release(self, item: WorkItem, ctx: RunContext) -> None:
        """The uploaded video may go once its MP3 is safe: it is what storage bills for.
        They go RELEASE_BATCH at a time, in one call; the rest, the MP3s and the tasks' logs
        go with the run's container at the end (a call per file was, on a big run, the
        app's largest CPU cost after the task listing)."""
        self._spent_inputs.append(input_blob(item.task_id, item.input.path))
        if len(self._spent_inputs) < RELEASE_BATCH:
            return
        names, self._spent_inputs = self._spent_inputs, []
        storage, _ = await self._clients(ctx)
        try:
            await ctx.blocking(storage.delete, names)
        except (AzureError, ValueError) as exc:  # the container goes at the end anyway
            log.info("could not remove %d videos from storage: %s", len(names), exc)

    # -- cleanup ---------------------------------------------------------------------------

    async def cleanup(self, ctx: RunContext, cancelled: bool) -> None:
        """The run's jobs and its container always go; a kept pool stays (a broken one goes).

        With an auto pool, deleting the job makes the service delete the pool.
        """
        self._abort.set()
        if not self.container and ctx.saved.get("container"):  # a resumed run with no work
            self._restore(ctx.saved)
            await self._clients(ctx)
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        batch, storage = self._batch, self._storage
        steps: list[CleanupStep] = []
        if batch is not None:
            if cancelled and self.job_id in self._jobs_made:
                steps.append((N_("Could not stop the job: {error}"), {}, "batch",
                              batch.terminate_job, (self.job_id, "cancelled in BatchGUI")))
            for job_id in self._jobs_made:
                steps.append((N_("Could not delete job {job}: {error}"), {"job": job_id},
                              "batch", batch.delete_job, (job_id,)))
        if storage is not None and self.container and self._container_made:
            steps.append((N_("Could not remove the run's files from storage: {error}"), {},
                          "storage", storage.delete_container, ()))
        steps += await self._pool_steps(ctx)
        done = True
        for failed, params, service, fn, args in steps:
            try:
                await self._call(ctx, service, fn, *args, even_if_cancelled=True)
            except Exception as exc:  # cleanup reports, it never raises
                done = False
                if not isinstance(exc, TargetError):
                    log.exception("cleanup step failed")
                ctx.log(tr(failed, error=str(exc), **params))
        if done and steps:
            await ctx.remember({"cleaned": True})
        await ctx.blocking(self._close)

    def _close(self) -> None:
        """Close the clients' connections (the target is done; a new run makes new ones)."""
        for closer in (self._batch.close if self._batch else None,
                       self._storage.close if self._storage else None):
            if closer is not None:
                try:
                    closer()
                except Exception:  # closing never fails a run
                    log.debug("closing a client failed", exc_info=True)
        self._batch = self._storage = None
