"""The run's job and its pool on Azure Batch: made, re-attached, kept alive, watched.

A mixin of AzureBatchTarget (target.py), which owns the state these methods share:
the job id and every job the run made, the pool (an auto pool's id once the service
names it, or a kept pool), the tasks the current job has, and outcomes already known.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from azure.batch import models as bm
from azure.core.exceptions import AzureError

from batchgui.core.drills import kill_point
from batchgui.core.models import Stage, TaskResult, TaskStatus
from batchgui.core.target import RunContext, TargetError, WorkItem
from batchgui.targets.azure.batch import BatchService, PoolChoice, PoolConflict
from batchgui.targets.azure.config import AzureAccount, PoolSettings
from batchgui.targets.azure.errors import is_transient, plain_error, value
from batchgui.targets.azure.monitor import Monitor
from batchgui.targets.azure.pools import (
    PoolHealth,
    choose_image,
    pool_fingerprint,
    pool_specification,
)
from batchgui.targets.azure.tasks import task_status

log = logging.getLogger(__name__)
T = TypeVar("T")

#: job states in which a resumed run can go on using the job
LIVE_JOB_STATES = ("active", "disabling", "disabled", "enabling")

_NO_IMAGE = ("This Batch account offers no current Ubuntu image (22.04 or later). "
             "Check the account's region and allowed images in the Azure portal.")


class RunJob:
    """The job-and-pool half of AzureBatchTarget (see the module's doc)."""

    account: AzureAccount
    pool: PoolSettings
    monitor: Monitor
    grace_s: float
    heartbeat_s: float
    job_id: str | None
    pool_id: str | None
    _run_id: str
    _jobs_made: list[str]
    _job_t0: float
    _live_tasks: set[str]
    _settled: dict[str, TaskStatus]
    _ended_job: str | None
    _pool_choice: PoolChoice | None
    _abort: threading.Event
    _batch: BatchService | None

    @property
    def auto_pool(self) -> bool:
        """A pool that dies with the job (runs that delete their pool), not a kept one."""
        return not self.pool.keep_pool

    async def _call(self, ctx: RunContext, service: str, fn: Callable[..., T], *args: Any,
                    even_if_cancelled: bool = False, **kwargs: Any) -> T:
        raise NotImplementedError

    def _next_job_id(self) -> str:
        n = len(self._jobs_made) + 1
        return self._run_id if n == 1 else f"{self._run_id}-{n}"

    async def _reattach(self, ctx: RunContext, batch: BatchService) -> None:
        """Find the journaled job: keep what it finished, go on with it if it still runs."""
        job = await self._call(ctx, "batch", batch.get_job, self.job_id) if self.job_id else None
        if job is None:
            if self._jobs_made:
                ctx.log(f"The run's job {self.job_id} is no longer in the Batch account; "
                        "the files it had not finished are converted on a new job.")
            self.job_id = None
            return
        tasks = await self._call(ctx, "batch", batch.task_ids, job.id)
        for task_id, task in tasks.items():
            status = task_status(task)
            if status.result is TaskResult.SUCCESS:
                self._settled[task_id] = status  # its MP3 is in storage: download it
        state = value(job.state)
        ctx.log(f"Re-attached to job {job.id}: {len(self._settled)} file(s) already converted "
                "there")
        if state in LIVE_JOB_STATES:
            self._live_tasks = set(tasks)
            self.pool_id = _pool_of(job)
            created = job.creation_time or datetime.now(UTC)
            self._job_t0 = time.monotonic() - (datetime.now(UTC) - created).total_seconds()
        else:
            self._ended_job = job.id  # its finished files are downloaded; the rest goes anew
            self.job_id = None

    async def _start_job(self, ctx: RunContext, batch: BatchService,
                         todo: Sequence[WorkItem]) -> None:
        """Create the job (and with an auto pool, the pool with it): journaled first."""
        assert self.job_id is not None
        self._jobs_made.append(self.job_id)
        await ctx.remember({"job_id": self.job_id, "jobs": self._jobs_made})
        kill_point("azure-job")
        fingerprint = pool_fingerprint(self.pool)
        if self.auto_pool:
            try:
                images = await self._call(ctx, "batch", batch.supported_images)
                image = choose_image(images)
            except LookupError as exc:
                raise TargetError(_NO_IMAGE) from exc
            pool_info = bm.BatchPoolInfo(auto_pool_specification=bm.BatchAutoPoolSpecification(
                auto_pool_id_prefix="batchgui", pool_lifetime_option="job", keep_alive=False,
                pool=pool_specification(self.pool, image, fingerprint, self._run_id),
            ))
            ctx.log(f"Creating a pool for this run: {self.pool.dedicated_nodes} dedicated and "
                    f"{self.pool.spot_nodes} Spot node(s) of {self.pool.vm_size}, "
                    f"{self.pool.slots_per_node} file(s) at once per node; Azure removes it "
                    "when the run's job ends")
        else:
            await self._ensure_named_pool(ctx, batch)
            assert self._pool_choice is not None
            self.pool_id = self._pool_choice.pool_id
            pool_info = bm.BatchPoolInfo(pool_id=self.pool_id)
        ctx.set_stage(Stage.JOB, f"Creating job {self.job_id}")
        await self._call(ctx, "batch", batch.create_job, self.job_id, pool_info,
                         run_id=self._run_id, max_wall_clock=timedelta(seconds=self.grace_s))
        self._job_t0 = time.monotonic()
        self._live_tasks = set()
        ctx.log(f"Job {self.job_id} ends on its own {round(self.grace_s / 60)} minutes after "
                "BatchGUI last looked after it")

    async def _ensure_named_pool(self, ctx: RunContext, batch: BatchService) -> None:
        try:
            choice = await self._call(ctx, "batch", batch.ensure_pool, self.pool)
        except PoolConflict as exc:
            raise TargetError(str(exc)) from exc
        except LookupError as exc:
            raise TargetError(_NO_IMAGE) from exc
        self._pool_choice = choice
        await ctx.remember({"pool_id": choice.pool_id, "pool_created": choice.created})
        if choice.note:
            ctx.log(f"Pool: {choice.note}")
        if choice.created:
            settings = self.pool
            ctx.log(f"Creating pool {choice.pool_id}: {settings.dedicated_nodes} dedicated and "
                    f"{settings.spot_nodes} Spot node(s) of {settings.vm_size}, "
                    f"{settings.slots_per_node} file(s) at once per node")
        else:
            ctx.log(f"Reusing pool {choice.pool_id}")

    async def _learn_pool_id(self, ctx: RunContext, batch: BatchService) -> str | None:
        """The auto pool's id, once the service has made it (the job's executionInfo)."""
        if self.pool_id is None and self.job_id is not None:
            job = await ctx.blocking(batch.get_job, self.job_id)
            self.pool_id = _pool_of(job) if job is not None else None
            if self.pool_id:
                await ctx.remember({"pool_id": self.pool_id})
        return self.pool_id

    async def _keep_job_alive(self, ctx: RunContext, batch: BatchService) -> None:
        """While the app lives, the job's end stays GRACE_S ahead (see the module's doc)."""
        while True:
            await asyncio.sleep(self.heartbeat_s)
            job_id = self.job_id
            if job_id is None:
                continue
            limit = timedelta(seconds=time.monotonic() - self._job_t0 + self.grace_s)
            try:
                await ctx.blocking(batch.extend_job, job_id, limit)
            except (AzureError, ValueError) as exc:
                log.info("could not extend job %s: %s", job_id, exc)

    def _look_at_pool(self, batch: BatchService, pool_id: str) -> tuple[PoolHealth, Any]:
        """The pool's health and the grid's views of its nodes (blocking: a worker)."""
        health = batch.pool_health(pool_id)
        return health, self.monitor.node_views(batch, pool_id, health)

    async def _watch_pool(self, ctx: RunContext, batch: BatchService,
                          stop: asyncio.Event) -> None:
        """While files upload, look at the pool so a broken pool stops the run at once."""
        interval = self.monitor.poll_min
        while not stop.is_set() and self.job_id is not None:
            try:
                pool_id = await self._learn_pool_id(ctx, batch)
                looked = await ctx.blocking(self._look_at_pool, batch, pool_id) if pool_id \
                    else None
            except (AzureError, ValueError) as exc:
                if not is_transient(exc):
                    raise TargetError(plain_error(exc, "batch", self.account.batch_url)) from exc
            else:
                if looked is not None:
                    health, self.monitor.nodes = looked
                    self.monitor.check_pool(health)
                    if health.usable:
                        ctx.log(f"Pool {pool_id}: {health.usable} node(s) ready")
                        return
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                interval = min(self.monitor.poll_max, interval * 1.5)

    async def _pool_steps(
        self, ctx: RunContext
    ) -> list[tuple[str, str, Callable[..., object], tuple[object, ...]]]:
        """A kept (named) pool stays, unless its nodes could not work and we made it."""
        choice, batch = self._pool_choice, self._batch
        if batch is None or choice is None:
            return []
        if not self.monitor.pool_broken:
            if choice.owned:
                ctx.log(f"Keeping pool {choice.pool_id} for the next run "
                        "(it costs money while its nodes run; delete it when done)")
            return []
        if not choice.owned:
            ctx.log(f"Pool {choice.pool_id} was not made by BatchGUI, so it stays")
            return []
        try:  # never pull the pool from under another run that uses it
            others = await self._call(ctx, "batch", batch.other_jobs_on, choice.pool_id,
                                      self.job_id or "", even_if_cancelled=True)
        except TargetError as exc:
            log.info("could not list the pool's other jobs: %s", exc)
            others = []
        if others:
            ctx.log(f"Pool {choice.pool_id} stays: another run uses it ({others[0]})")
            return []
        ctx.log(f"Deleting pool {choice.pool_id} (its nodes could not work)")
        return [(f"delete pool {choice.pool_id}", "batch", batch.delete_pool, (choice.pool_id,))]


def _pool_of(job: bm.BatchJob | None) -> str | None:
    """The pool a job runs on: its own auto pool (once made) or the named one."""
    if job is None:
        return None
    info = job.execution_info
    if info is not None and info.pool_id:
        return str(info.pool_id)
    return job.pool_info.pool_id if job.pool_info and job.pool_info.pool_id else None
