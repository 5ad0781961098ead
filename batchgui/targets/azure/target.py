"""Azure Batch as a Target: upload, pool, job, tasks, monitoring, download, cleanup.

The run (core.run) drives this exactly as it drives "This computer". All SDK calls
are blocking and go through `ctx.blocking`; this module decides, in the event loop,
what to call and what the answers mean for the user. Azure errors leave here only as
TargetError with one plain sentence (see errors.py), or as a failed TaskStatus with a
reason and the tail of ffmpeg's stderr.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import logging
import os
import shlex
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any, TypeVar

from azure.batch import models as bm
from azure.core.exceptions import (
    AzureError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from batchgui.core import loudness, naming
from batchgui.core.ffmpeg import convert_argv, stderr_reason
from batchgui.core.models import (
    NodeState,
    NodeView,
    Stage,
    TargetStatus,
    TaskResult,
    TaskState,
    TaskStatus,
)
from batchgui.core.target import RunCancelled, RunContext, Target, TargetError, WorkItem
from batchgui.targets.azure.batch import (
    BatchService,
    PoolChoice,
    PoolConflict,
    PoolHealth,
    SubmitStopped,
    SubmitTimeout,
    TaskRejected,
    value,
)
from batchgui.targets.azure.config import AzureAccount, PoolSettings
from batchgui.targets.azure.errors import is_transient, plain_error
from batchgui.targets.azure.storage import (
    BLOCK_CONCURRENCY,
    CONTAINER,
    RunStorage,
    StorageSettingsError,
    TransferAborted,
    uses_sign_in,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

#: files uploading at once (each large one also sends several blocks at once)
FILES_AT_ONCE = 4
#: how long a run waits for its first working node (nodes start in 5-15 minutes)
NODE_WAIT_LIMIT_S = 40 * 60
#: tries of one call (create pool, create job ...) before a transient error counts
CALL_ATTEMPTS = 5
#: task retries on another try or node (a node dying, a blip while downloading)
TASK_RETRIES = 2
#: how long the run keeps asking a service that does not answer before it gives up
GIVE_UP_AFTER_S = 15 * 60
#: failed tasks whose stderr is read at once
STDERR_READS_AT_ONCE = 4
STDERR_TAIL_BYTES = 4000
#: seconds between looks at the pool itself (resize errors) while it has fewer nodes than asked
POOL_CHECK_EVERY_S = 10.0
INPUT_NAME = "in{ext}"
OUTPUT_NAME = "out.mp3"


def sas_lifetime(total_media_s: float, total_bytes: int, parallel: int) -> timedelta:
    """How long the run's SAS URLs must live: the run's expected length with a wide margin.

    Converting is assumed to be no faster than real time per slot, the nodes to fetch at
    2 MB/s each, and the pool to need a few hours at worst to come up and work the queue.
    """
    parallel = max(1, parallel)
    expected = total_media_s / parallel + total_bytes / 2e6 / parallel
    seconds = 3 * 3600 + 2 * expected
    return timedelta(seconds=min(seconds, 7 * 24 * 3600))


def task_time_limit(duration_s: float | None) -> timedelta:
    """A task's wall-clock limit: ample for one file even on a slow node, but not endless."""
    return timedelta(seconds=max(20 * 60, 3 * (duration_s or 0.0) + 10 * 60))


def task_command(input_name: str, quality: Any, loudness_lufs: float | None = None) -> str:
    """The node's command line: fixed names only, no shell (Batch runs it directly on Linux).

    With even loudness, the node's python3 runs core/loudness.py (a resource file) around
    the same ffmpeg command: it measures in.mp4, then converts with the measured values.
    """
    argv = convert_argv(input_name, OUTPUT_NAME, quality, progress=False)
    if loudness_lufs is not None:  # media
        peak = loudness.true_peak_limit(quality.vbr_level, quality.cbr_kbps)
        argv = ["python3", loudness.SCRIPT_NAME, "--lufs", f"{loudness_lufs:g}",
                "--true-peak", f"{peak:g}", "--", *argv]
    return shlex.join(argv)


def upload_loudness_script(storage: RunStorage, blob_name: str) -> None:
    """Put core/loudness.py where the run's tasks can fetch it (blocking)."""
    source = importlib.resources.files("batchgui.core").joinpath("loudness.py")
    with importlib.resources.as_file(source) as path:
        storage.upload(path, blob_name)


def _poll_bounds() -> tuple[float, float]:
    """Fast and slow poll intervals; BATCHGUI_AZURE_POLL='min,max' (seconds) changes them."""
    text = os.environ.get("BATCHGUI_AZURE_POLL", "")
    try:
        low, high = (float(x) for x in text.split(","))
        if 0 < low <= high:
            return low, high
    except ValueError:
        pass
    return 2.0, 15.0


def _stamp(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


class AzureBatchTarget(Target):
    """Converts on the user's own Azure Batch pool, with inputs and outputs in their storage."""

    def __init__(
        self,
        account: AzureAccount,
        pool: PoolSettings | None = None,
        *,
        files_at_once: int = FILES_AT_ONCE,
        block_concurrency: int | None = None,
        poll_bounds: tuple[float, float] | None = None,
        container: str = CONTAINER,
        node_wait_limit_s: float = NODE_WAIT_LIMIT_S,
    ) -> None:
        self.account = account
        self.pool = pool or PoolSettings()
        nodes = max(1, self.pool.dedicated_nodes + self.pool.spot_nodes)
        self.parallelism = nodes * max(1, self.pool.slots_per_node)
        self.display_name = f"Azure Batch ({account.batch_account}, pool {self.pool.pool_id})"
        self.files_at_once = max(1, files_at_once)
        self.block_concurrency = block_concurrency
        self.container = container
        self.poll_min, self.poll_max = poll_bounds or _poll_bounds()
        self._interval = self.poll_min
        self._storage: RunStorage | None = None
        self._batch: BatchService | None = None
        self._run_id = ""
        self._pool_choice: PoolChoice | None = None
        self._pool_broken = False
        self._container_ready = False
        self._job_created = False
        self._abort = threading.Event()
        self._unreadable: dict[str, str] = {}  # task id -> why its file could not be uploaded
        self._nodes: tuple[NodeView, ...] = ()
        self._tasks: dict[str, TaskStatus] = {}
        self._failed: dict[tuple[str, int], TaskStatus] = {}  # (task id, retries) -> with stderr
        self._failing_since: float | None = None
        self._poll_failures = 0
        self._last_pool_check = 0.0
        self.node_wait_limit_s = node_wait_limit_s
        self._no_node_since: float | None = None
        self._stderr_limit: asyncio.Semaphore | None = None  # made in the run's own loop
        self._script_url: str | None = None  # media: read link to the loudness script
        #: figures for tests and benchmarks
        self.stats: dict[str, float] = {"polls": 0, "submit_calls": 0, "submit_s": 0.0,
                                         "uploaded": 0, "skipped": 0}

    # -- names -----------------------------------------------------------------------------

    def input_blob(self, item: WorkItem) -> str:
        return naming.blob_name(self._run_id, item.task_id, item.input.path)

    def output_blob(self, task_id: str) -> str:
        return f"{self._run_id}/out/{task_id}.mp3"

    def log_prefix(self, task_id: str) -> str:
        return f"{self._run_id}/logs/{task_id}"

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
                raise TargetError(str(exc)) from exc
            except ValueError as exc:
                raise TargetError(plain_error(
                    exc, "storage", signed_in=uses_sign_in(self.account))) from exc
        if self._batch is None:
            try:
                self._batch = await ctx.blocking(BatchService, self.account)
            except ValueError as exc:
                raise TargetError(plain_error(exc, "batch")) from exc
        return self._storage, self._batch

    # -- prepare: pool and upload at the same time -----------------------------------------

    async def prepare(self, items: Sequence[WorkItem], ctx: RunContext) -> None:
        self._run_id = ctx.run_id
        ctx.cancel.on_cancel(self._abort.set)
        storage, batch = await self._clients(ctx)
        total = sum(item.input.size for item in items)
        ctx.set_stage(
            Stage.UPLOADING,
            f"Uploading {len(items)} file(s), {total / 1e6:.1f} MB, to storage account "
            f"{storage.account_name}",
        )
        # Both accounts are checked before any byte moves, storage first so that a wrong
        # storage key leaves no pool behind; a wrong key stops the run here.
        await self._call(ctx, "storage", storage.ensure_container)
        self._container_ready = True
        await self._ensure_pool(ctx, batch)

        uploads = asyncio.ensure_future(self._upload_all(items, ctx))
        uploads_done = asyncio.Event()
        uploads.add_done_callback(lambda _: uploads_done.set())
        watcher = asyncio.ensure_future(self._watch_pool(ctx, uploads_done))
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

    async def _ensure_pool(self, ctx: RunContext, batch: BatchService) -> None:
        settings = self.pool
        try:
            choice = await self._call(ctx, "batch", batch.ensure_pool, settings)
        except PoolConflict as exc:
            raise TargetError(str(exc)) from exc
        except LookupError as exc:
            raise TargetError(
                "This Batch account offers no current Ubuntu image (22.04 or later). "
                "Check the account's region and allowed images in the Azure portal."
            ) from exc
        self._pool_choice = choice
        if choice.note:
            ctx.log(f"Pool: {choice.note}")
        if choice.created:
            ctx.log(
                f"Creating pool {choice.pool_id}: {settings.dedicated_nodes} dedicated and "
                f"{settings.spot_nodes} Spot node(s) of {settings.vm_size}, "
                f"{settings.slots_per_node} file(s) at once per node"
            )
        else:
            ctx.log(f"Reusing pool {choice.pool_id}")

    async def _watch_pool(self, ctx: RunContext, stop: asyncio.Event) -> None:
        """While files upload, look at the pool so a broken pool stops the run at once."""
        assert self._batch is not None and self._pool_choice is not None
        interval = self.poll_min
        while not stop.is_set():
            try:
                health = await ctx.blocking(self._batch.pool_health, self._pool_choice.pool_id)
            except (AzureError, ValueError) as exc:
                if not is_transient(exc):
                    raise TargetError(plain_error(exc, "batch", self.account.batch_url)) from exc
            else:
                self._nodes = self._node_views(health)
                self._check_pool(health)
                if health.usable:
                    ctx.log(f"Pool {self._pool_choice.pool_id}: {health.usable} node(s) ready")
                    return
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                interval = min(self.poll_max, interval * 1.5)

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

                try:
                    uploaded = await ctx.blocking(
                        storage.upload,
                        item.input.path,
                        self.input_blob(item),
                        progress=progress,
                        abort=self._abort,
                        block_concurrency=block_concurrency,
                    )
                except TransferAborted:
                    return
                except OSError as exc:  # the file went away or can't be read: that file fails
                    self._unreadable[item.task_id] = (
                        f"the file could not be read for upload: {exc.strerror or exc}"
                    )
                    ctx.log(f"{item.input.name}: {self._unreadable[item.task_id]}")
                    return
                except (AzureError, ValueError) as exc:
                    self._abort.set()
                    raise TargetError(plain_error(exc, "storage", storage.endpoint,
                                                  signed_in=storage.signed_in)) from exc
                self.stats["uploaded" if uploaded else "skipped"] += 1

        await asyncio.gather(*(one(item) for item in items))
        if ctx.cancel.cancelled:
            raise RunCancelled()

    # -- submit: one job, one task per file ------------------------------------------------

    async def submit(self, items: Sequence[WorkItem], ctx: RunContext) -> None:
        storage, batch = await self._clients(ctx)
        assert self._pool_choice is not None
        pool_id = self._pool_choice.pool_id
        ctx.set_stage(Stage.JOB, f"Creating job {ctx.run_id} on pool {pool_id}")
        await self._call(ctx, "batch", batch.create_job, ctx.run_id, pool_id)
        self._job_created = True

        todo = [item for item in items if item.task_id not in self._unreadable]
        total_media = sum(item.input.duration_s or 0.0 for item in todo)
        total_bytes = sum(item.input.size for item in todo)
        expiry = datetime.now(UTC) + sas_lifetime(
            total_media, total_bytes, self.parallelism
        )
        # Entra ID sign-in: one call for the user delegation key the links are signed with
        await self._call(ctx, "storage", storage.prepare_signing, expiry)
        write_url = storage.write_sas_url(expiry)
        if any(item.loudness_lufs is not None for item in todo):  # media: the loudness script
            script_blob = f"{ctx.run_id}/tools/{loudness.SCRIPT_NAME}"
            await self._call(ctx, "storage", upload_loudness_script, storage, script_blob)
            self._script_url = storage.read_sas_url(script_blob, expiry)
        tasks = [self.task_options(item, storage.read_sas_url(self.input_blob(item), expiry),
                                   write_url)
                 for item in todo]
        chunks = -(-len(tasks) // 100)
        ctx.set_stage(Stage.TASKS, f"Adding {len(tasks)} task(s) to job {ctx.run_id}")
        started = time.monotonic()
        deadline = started + max(120.0, 30.0 * chunks)
        try:
            calls = await self._call(
                ctx, "batch", batch.add_tasks, ctx.run_id, tasks, deadline=deadline,
                should_stop=lambda: ctx.cancel.cancelled,
            )
        except SubmitStopped as exc:
            raise RunCancelled() from exc
        except SubmitTimeout as exc:
            raise TargetError(
                f"Azure Batch did not accept {exc.left} of the tasks within "
                f"{int(deadline - started)} seconds; the service seems busy. Try again later."
            ) from exc
        except TaskRejected as exc:
            raise TargetError(
                f"Azure Batch refused a task ({exc.code}): "
                + (exc.message.splitlines()[0] if exc.message else "no details")
            ) from exc
        self.stats["submit_calls"] = calls
        self.stats["submit_s"] = time.monotonic() - started

    def task_options(
        self, item: WorkItem, read_url: str, write_url: str
    ) -> bm.BatchTaskCreateOptions:
        """One task: read its own input through `read_url`, write the MP3 and logs back."""
        ext = PurePosixPath(self.input_blob(item)).suffix
        input_name = INPUT_NAME.format(ext=ext)
        resources = [bm.ResourceFile(http_url=read_url, file_path=input_name)]
        if item.loudness_lufs is not None and self._script_url:  # media: the two-pass script
            resources.append(bm.ResourceFile(http_url=self._script_url,
                                             file_path=loudness.SCRIPT_NAME))

        def upload(pattern: str, path: str, condition: str) -> bm.OutputFile:
            return bm.OutputFile(
                file_pattern=pattern,
                destination=bm.OutputFileDestination(
                    container=bm.OutputFileBlobContainerDestination(
                        container_url=write_url, path=path
                    )
                ),
                upload_options=bm.OutputFileUploadConfiguration(upload_condition=condition),
            )

        return bm.BatchTaskCreateOptions(
            id=item.task_id,
            display_name=item.task_id,
            command_line=task_command(input_name, item.quality, item.loudness_lufs),
            resource_files=resources,
            output_files=[
                upload(OUTPUT_NAME, self.output_blob(item.task_id), "tasksuccess"),
                upload("../std*.txt", self.log_prefix(item.task_id), "taskcompletion"),
            ],
            constraints=bm.BatchTaskConstraints(
                max_wall_clock_time=task_time_limit(item.input.duration_s),
                max_task_retry_count=TASK_RETRIES,
                retention_time=timedelta(days=1),
            ),
        )

    # -- monitoring ------------------------------------------------------------------------

    async def poll(self, ctx: RunContext) -> TargetStatus:
        storage, batch = await self._clients(ctx)
        assert self._pool_choice is not None
        pool_id = self._pool_choice.pool_id
        self.stats["polls"] += 1
        try:
            tasks, nodes = await asyncio.gather(
                ctx.blocking(batch.list_tasks, ctx.run_id, quick=True),
                ctx.blocking(batch.list_nodes, pool_id, quick=True),
            )
            check_pool = self._wants_pool_check(nodes)
            health = await ctx.blocking(
                batch.pool_health, pool_id, with_pool=check_pool, nodes=nodes
            )
        except (AzureError, ValueError) as exc:
            return self._reconnecting(exc)
        self._failing_since, self._poll_failures = None, 0
        self._nodes = self._node_views(health)
        self._check_pool(health)

        statuses: dict[str, TaskStatus] = {}
        to_explain: list[tuple[bm.BatchTask, TaskStatus]] = []
        for task in tasks:
            status = self._task_status(task)
            if status.result is TaskResult.FAILURE:
                known = self._failed.get((task.id, status.retries))
                if known is None:
                    to_explain.append((task, status))
                    continue
                status = known
            statuses[task.id] = status
        if to_explain:
            explained = await asyncio.gather(
                *(self._explain(ctx, task, status) for task, status in to_explain)
            )
            for status in explained:
                statuses[status.task_id] = status
        for task_id, why in self._unreadable.items():
            statuses[task_id] = TaskStatus(
                task_id, TaskState.COMPLETED, exit_code=None, result=TaskResult.FAILURE,
                failure=why, ended_at=time.time(),
            )
        self._tasks = statuses
        return TargetStatus(nodes=self._nodes, tasks=statuses,
                            message=self._message(health, statuses))

    def _check_pool(self, health: PoolHealth) -> None:
        """Stop the run when the pool can't work, or has had no working node for too long."""
        if health.fatal:
            self._pool_broken = True
            raise TargetError(health.fatal)
        now = time.monotonic()
        if health.usable:
            self._no_node_since = None
            return
        if self._no_node_since is None:
            self._no_node_since = now
        elif now - self._no_node_since > self.node_wait_limit_s:
            minutes = round(self.node_wait_limit_s / 60)
            raise TargetError(
                f"No node of pool {self.pool.pool_id} became ready in {minutes} minutes; "
                "the start task may be stuck. Look at a node's startup/stderr.txt in the "
                "Azure portal, or try again with another VM size."
            )

    def _wants_pool_check(self, nodes: list[bm.BatchNode]) -> bool:
        """Ask for the pool itself (resize errors) only while it lacks nodes, and not often."""
        usable = sum(1 for n in nodes if value(n.state) in ("idle", "running"))
        wanted = self.pool.dedicated_nodes + self.pool.spot_nodes
        now = time.monotonic()
        lacking = usable == 0 or len(nodes) < wanted
        if lacking and now - self._last_pool_check > POOL_CHECK_EVERY_S:
            self._last_pool_check = now
            return True
        return False

    def _reconnecting(self, exc: BaseException) -> TargetStatus:
        """A poll that failed: keep the last picture and say so, unless it can't get better."""
        if not is_transient(exc):
            raise TargetError(plain_error(exc, "batch", self.account.batch_url)) from exc
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        self._poll_failures += 1
        log.info("poll failed (%s), reconnecting", type(exc).__name__)
        if now - self._failing_since > GIVE_UP_AFTER_S:
            raise TargetError(
                f"Lost the connection to Azure Batch for {GIVE_UP_AFTER_S // 60} minutes: "
                + plain_error(exc, "batch", self.account.batch_url)
            ) from exc
        return TargetStatus(nodes=self._nodes, tasks=dict(self._tasks),
                            message="Reconnecting to Azure Batch…")

    def poll_interval(self, changed: bool) -> float:
        """Fast while things change, slower while nothing does; backs off while reconnecting."""
        if self._poll_failures:
            return min(self.poll_max * 2, self.poll_min * 2 ** self._poll_failures)
        if changed:
            self._interval = self.poll_min
        else:
            self._interval = min(self.poll_max, self._interval * 1.5)
        return self._interval

    def _message(self, health: PoolHealth, tasks: dict[str, TaskStatus]) -> str:
        running = sum(1 for t in tasks.values() if t.state is TaskState.RUNNING)
        waiting = sum(1 for t in tasks.values() if t.state in (TaskState.ACTIVE,
                                                              TaskState.PREPARING))
        if health.usable == 0:
            text = (f"Waiting for the pool's nodes ({health.pending} starting; they install "
                    f"ffmpeg first)")
        else:
            text = f"{running} converting, {waiting} waiting, on {health.usable} node(s)"
        if health.warnings:
            text += ". " + health.warnings[0]
        return text

    def _node_views(self, health: PoolHealth) -> tuple[NodeView, ...]:
        assert self._batch is not None
        views = []
        pool_id = self._pool_choice.pool_id if self._pool_choice else ""
        for node in health.nodes:
            state = NodeState.parse(value(node.state))
            errors = [e.message or e.code or "" for e in (node.errors or [])]
            if state == NodeState.START_TASK_FAILED:
                stderr = self._batch.start_task_stderr(pool_id, node.id)  # cached: no call
                if stderr:
                    errors.append(stderr.strip().splitlines()[-1])
            views.append(NodeView(
                node_id=node.id,
                state=state,
                running_tasks=node.running_tasks_count or 0,
                slots=max(1, self.pool.slots_per_node),
                is_spot=node.is_dedicated is False,
                errors=tuple(e for e in errors if e),
            ))
        return tuple(sorted(views, key=lambda v: v.node_id))

    def _task_status(self, task: bm.BatchTask) -> TaskStatus:
        state_text = value(task.state)
        try:
            state = TaskState(state_text)
        except ValueError:
            state = TaskState.ACTIVE
        info = task.execution_info
        node_id = task.node_info.node_id if task.node_info else None
        result: TaskResult | None = None
        exit_code = info.exit_code if info else None
        if state is TaskState.COMPLETED and info is not None:
            ok = value(info.result) == "success" and info.failure_info is None and exit_code == 0
            result = TaskResult.SUCCESS if ok else TaskResult.FAILURE
        return TaskStatus(
            task_id=task.id,
            state=state,
            node_id=node_id,
            started_at=_stamp(info.start_time) if info else None,
            ended_at=_stamp(info.end_time) if info else None,
            exit_code=exit_code,
            result=result,
            retries=(info.retry_count or 0) if info else 0,
        )

    async def _explain(self, ctx: RunContext, task: bm.BatchTask, status: TaskStatus) -> TaskStatus:
        """A failed task's plain reason and the tail of its stderr (read once per attempt)."""
        assert self._storage is not None and self._batch is not None
        storage, batch = self._storage, self._batch
        if self._stderr_limit is None:
            self._stderr_limit = asyncio.Semaphore(STDERR_READS_AT_ONCE)
        async with self._stderr_limit:
            tail: str | None = None
            try:
                tail = await ctx.blocking(
                    storage.read_tail, f"{self.log_prefix(task.id)}/stderr.txt", STDERR_TAIL_BYTES
                )
                if tail is None:
                    tail = await ctx.blocking(
                        batch.task_file_tail, ctx.run_id, task.id, "stderr.txt", STDERR_TAIL_BYTES
                    )
            except (AzureError, ValueError) as exc:
                log.info("could not read stderr of %s: %s", task.id, exc)
        tail = tail or ""
        reason = failure_reason(task, tail)
        explained = TaskStatus(
            task_id=status.task_id, state=status.state, node_id=status.node_id,
            started_at=status.started_at, ended_at=status.ended_at, exit_code=status.exit_code,
            result=status.result, failure=reason, stderr_tail=tail, retries=status.retries,
        )
        self._failed[(task.id, status.retries)] = explained
        return explained

    # -- download and release --------------------------------------------------------------

    async def fetch(self, item: WorkItem, ctx: RunContext) -> None:
        storage, _ = await self._clients(ctx)
        loop = asyncio.get_running_loop()

        def progress(done: int, total: int) -> None:
            loop.call_soon_threadsafe(ctx.report_transfer, item.task_id, done, total)

        for attempt in range(4):
            try:
                await ctx.blocking(storage.download, self.output_blob(item.task_id),
                                   item.part_path, progress=progress, abort=self._abort)
                return
            except ResourceNotFoundError as exc:
                raise TargetError(
                    "ffmpeg reported success, but no MP3 came back from the node"
                ) from exc
            except TransferAborted as exc:
                raise RunCancelled() from exc
            except (AzureError, ValueError) as exc:
                if not is_transient(exc) or attempt == 3:
                    raise TargetError(
                        "the MP3 could not be downloaded: "
                        + plain_error(exc, "storage", storage.endpoint,
                                      signed_in=storage.signed_in)
                    ) from exc
                await asyncio.sleep(1.0 * 2 ** attempt)

    async def release(self, item: WorkItem, ctx: RunContext) -> None:
        storage, _ = await self._clients(ctx)
        names = [
            self.input_blob(item),
            self.output_blob(item.task_id),
            f"{self.log_prefix(item.task_id)}/stdout.txt",
            f"{self.log_prefix(item.task_id)}/stderr.txt",
        ]
        try:
            await ctx.blocking(storage.delete, names)
        except (AzureError, ValueError) as exc:  # cleanup at the end tries again
            log.info("could not remove the blobs of %s: %s", item.task_id, exc)

    # -- cleanup ---------------------------------------------------------------------------

    async def cleanup(self, ctx: RunContext, cancelled: bool) -> None:
        """Job and blobs always go; the pool per the user's choice (a broken one always)."""
        self._abort.set()
        steps: list[tuple[str, str, Callable[..., object], tuple[object, ...]]] = []
        batch, storage = self._batch, self._storage
        if batch is not None and self._job_created:
            if cancelled:
                steps.append(("stop the job", "batch", batch.terminate_job,
                              (ctx.run_id, "cancelled in BatchGUI")))
            steps.append(("delete the job", "batch", batch.delete_job, (ctx.run_id,)))
        if storage is not None and self._container_ready:
            steps.append(("remove the run's files from storage", "storage",
                          storage.delete_prefix, (f"{ctx.run_id}/",)))
        choice = self._pool_choice
        others: list[str] = []
        if batch is not None and choice is not None and choice.owned and not self.pool.keep_pool:
            try:  # never pull the pool from under another run that uses it
                others = await self._call(ctx, "batch", batch.other_jobs_on, choice.pool_id,
                                          ctx.run_id, even_if_cancelled=True)
            except TargetError as exc:
                log.info("could not list the pool's other jobs: %s", exc)
        if batch is not None and choice is not None:
            if others:
                ctx.log(f"Pool {choice.pool_id} stays: another run uses it ({others[0]})")
            elif choice.owned and (not self.pool.keep_pool or self._pool_broken):
                steps.append((f"delete pool {choice.pool_id}", "batch", batch.delete_pool,
                              (choice.pool_id,)))
                ctx.log(f"Deleting pool {choice.pool_id}"
                        + (" (its nodes could not work)" if self.pool.keep_pool else ""))
            elif not self.pool.keep_pool:
                ctx.log(f"Pool {choice.pool_id} was not made by BatchGUI, so it stays")
            else:
                ctx.log(f"Keeping pool {choice.pool_id} for the next run "
                        "(it costs money while its nodes run; delete it when done)")
        for what, service, fn, args in steps:
            try:
                await self._call(ctx, service, fn, *args, even_if_cancelled=True)
            except TargetError as exc:
                ctx.log(f"Could not {what}: {exc}")
            except Exception as exc:  # cleanup reports, it never raises
                log.exception("cleanup step failed")
                ctx.log(f"Could not {what}: {exc}")
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

    def record(self) -> dict[str, object]:
        return {
            "batch_account": self.account.batch_account,
            "batch_url": self.account.batch_url,
            "pool_id": self._pool_choice.pool_id if self._pool_choice else self.pool.pool_id,
            "job_id": self._run_id or None,
            "container": self.container,
            "blob_prefix": f"{self._run_id}/" if self._run_id else None,
            "keep_pool": self.pool.keep_pool,
        }


def failure_reason(task: bm.BatchTask, stderr_tail: str) -> str:
    """Why a task failed, in the words the file list shows."""
    info = task.execution_info
    failure = info.failure_info if info else None
    code = (failure.code or "") if failure else ""
    message = (failure.message or "") if failure else ""
    lowered = code.lower()
    if "resourcefile" in lowered or "blob" in lowered:
        return f"the node could not download the video from storage ({message or code})"
    if "fileupload" in lowered or "upload" in lowered:
        return f"the MP3 could not be uploaded from the node ({message or code})"
    if "programnotfound" in lowered:
        if "python" in message.lower():  # media: even loudness runs a python3 script
            return "python3 is not installed on the node (it is needed to even out loudness)"
        return "ffmpeg is not installed on the node (check the pool's start task)"
    if "wallclock" in lowered or "timeout" in lowered or "timed out" in message.lower():
        return "the conversion took longer than its time limit and was stopped"
    exit_code = info.exit_code if info else None
    said = stderr_reason(stderr_tail)
    if exit_code not in (None, 0):
        if exit_code == 127 or "not found" in (said or "").lower() and "ffmpeg" in (said or ""):
            return "ffmpeg is not installed on the node (check the pool's start task)"
        return said or f"ffmpeg failed (exit code {exit_code})"
    if message:
        return message
    return said or "the conversion failed on the node"


def test_connection(account: AzureAccount) -> dict[str, str]:
    """Check both sides of an account with one cheap call each (blocking: use a worker thread).

    Returns {"batch": "ok" or a sentence, "storage": "ok" or a sentence}.
    """
    results: dict[str, str] = {}
    try:
        batch = BatchService(account)
        try:
            batch.check()
        finally:
            batch.close()
        results["batch"] = "ok"
    except (AzureError, ValueError) as exc:
        results["batch"] = plain_error(exc, "batch", account.batch_url)
    try:
        storage = RunStorage(account)
        try:
            storage.check()
        finally:
            storage.service.close()
        results["storage"] = "ok"
    except StorageSettingsError as exc:
        results["storage"] = str(exc)
    except (AzureError, ValueError) as exc:
        endpoint = None
        try:
            endpoint = storage_endpoint(account)
        except StorageSettingsError:
            pass
        results["storage"] = plain_error(exc, "storage", endpoint,
                                         signed_in=uses_sign_in(account))
    return results


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def storage_endpoint(account: AzureAccount) -> str:
    from batchgui.targets.azure.storage import storage_endpoint as endpoint_of

    return endpoint_of(account)
