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
from batchgui.core.estimate import at_once_words
from batchgui.core.models import Stage, TaskResult, TaskStatus
from batchgui.core.target import RunContext, TargetError, WorkItem
from batchgui.i18n import N_, tr, trn, why
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

#: a cleanup step: what to say when it fails (with {error}) and its values, the service,
#: the call and its arguments
CleanupStep = tuple[str, dict[str, str], str, Callable[..., object], tuple[object, ...]]


def _no_image() -> TargetError:
    return TargetError(why("no_ubuntu_image", "This Batch account offers no current Ubuntu "
                           "image (22.04 or later). Check the account's region and allowed "
                           "images in the Azure portal."))


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
                ctx.log(tr("The run's job {job} is no longer in the Batch account; the files "
                           "it had not finished are converted on a new job.", job=self.job_id))
            self.job_id = None
            return
        tasks = await self._call(ctx, "batch", batch.task_ids, job.id)
        for task_id, task in tasks.items():
            status = task_status(task)
            if status.result is TaskResult.SUCCESS:
                self._settled[task_id] = status  # its MP3 is in storage: download it
        state = value(job.state)
        ctx.log(trn("Re-attached to job {job}: {n} file already converted there",
                    "Re-attached to job {job}: {n} files already converted there",
                    len(self._settled), job=job.id))
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
                raise _no_image() from exc
            pool_info = bm.BatchPoolInfo(auto_pool_specification=bm.BatchAutoPoolSpecification(
                auto_pool_id_prefix="batchgui", pool_lifetime_option="job", keep_alive=False,
                pool=pool_specification(self.pool, image, fingerprint, self._run_id),
            ))
            ctx.log(tr("Creating a pool for this run: {nodes} of {vm_size}, {at_once} per "
                       "node; Azure removes it when the run's job ends",
                       nodes=_nodes(self.pool), vm_size=self.pool.vm_size,
                       at_once=at_once_words(self.pool.slots_per_node)))
        else:
            await self._ensure_named_pool(ctx, batch)
            assert self._pool_choice is not None
            self.pool_id = self._pool_choice.pool_id
            pool_info = bm.BatchPoolInfo(pool_id=self.pool_id)
        ctx.set_stage(Stage.JOB, tr("Creating job {job}", job=self.job_id))
        await self._call(ctx, "batch", batch.create_job, self.job_id, pool_info,
                         run_id=self._run_id, max_wall_clock=timedelta(seconds=self.grace_s))
        self._job_t0 = time.monotonic()
        self._live_tasks = set()
        ctx.log(trn("Job {job} ends on its own {n} minute after BatchGUI last looked after it",
                    "Job {job} ends on its own {n} minutes after BatchGUI last looked after it",
                    round(self.grace_s / 60), job=self.job_id))

    async def _ensure_named_pool(self, ctx: RunContext, batch: BatchService) -> None:
        try:
            choice = await self._call(ctx, "batch", batch.ensure_pool, self.pool)
        except PoolConflict as exc:
            raise TargetError(exc.reason) from exc
        except LookupError as exc:
            raise _no_image() from exc
        self._pool_choice = choice
        await ctx.remember({"pool_id": choice.pool_id, "pool_created": choice.created})
        if choice.note:
            ctx.log(tr("Pool: {note}", note=choice.note))
        if choice.created:
            ctx.log(tr("Creating pool {pool}: {nodes} of {vm_size}, {at_once} per node",
                       pool=choice.pool_id, nodes=_nodes(self.pool), vm_size=self.pool.vm_size,
                       at_once=at_once_words(self.pool.slots_per_node)))
        else:
            ctx.log(tr("Reusing pool {pool}", pool=choice.pool_id))

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
                        ctx.log(trn("Pool {pool}: {n} node ready", "Pool {pool}: {n} nodes ready",
                                    health.usable, pool=pool_id))
                        return
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                interval = min(self.monitor.poll_max, interval * 1.5)

    async def _pool_steps(
        self, ctx: RunContext
    ) -> list[CleanupStep]:
        """A kept (named) pool stays, unless its nodes could not work and we made it."""
        choice, batch = self._pool_choice, self._batch
        if batch is None or choice is None:
            return []
        if not self.monitor.pool_broken:
            if choice.owned:
                ctx.log(tr("Keeping pool {pool} for the next run (it costs money while its "
                           "nodes run; delete it when done)", pool=choice.pool_id))
            return []
        if not choice.owned:
            ctx.log(tr("Pool {pool} was not made by BatchGUI, so it stays", pool=choice.pool_id))
            return []
        try:  # never pull the pool from under another run that uses it
            others = await self._call(ctx, "batch", batch.other_jobs_on, choice.pool_id,
                                      self.job_id or "", even_if_cancelled=True)
        except TargetError as exc:
            log.info("could not list the pool's other jobs: %s", exc)
            others = []
        if others:
            ctx.log(tr("Pool {pool} stays: another run uses it ({job})", pool=choice.pool_id,
                       job=others[0]))
            return []
        ctx.log(tr("Deleting pool {pool} (its nodes could not work)", pool=choice.pool_id))
        return [(N_("Could not delete pool {pool}: {error}"), {"pool": choice.pool_id}, "batch",
                 batch.delete_pool, (choice.pool_id,))]


def _nodes(pool: PoolSettings) -> str:
    """'1 dedicated and 2 Spot nodes', '2 dedicated nodes', '1 Spot node'."""
    if pool.spot_nodes == 0:
        return trn("{n} dedicated node", "{n} dedicated nodes", pool.dedicated_nodes)
    if pool.dedicated_nodes == 0:
        return trn("{n} Spot node", "{n} Spot nodes", pool.spot_nodes)
    return tr("{dedicated} dedicated and {spot} Spot nodes", dedicated=pool.dedicated_nodes,
              spot=pool.spot_nodes)


def _pool_of(job: bm.BatchJob | None) -> str | None:
    """The pool a job runs on: its own auto pool (once made) or the named one."""
    if job is None:
        return None
    info = job.execution_info
    if info is not None and info.pool_id:
        return str(info.pool_id)
    return job.pool_info.pool_id if job.pool_info and job.pool_info.pool_id else None
