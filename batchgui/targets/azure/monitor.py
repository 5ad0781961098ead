"""Watching a run on Azure Batch: what its tasks and the pool's nodes are doing.

One poll asks for the job's task counts (one small call); the tasks whose state changed
since the last poll (`$filter` on stateTransitionTime, from the service's own time of
its last answer, its Date header, less a margin: never the local clock); the pool's
nodes (with `$select`); the pool itself only while it lacks nodes; and the stderr of a
failed task once per attempt. The first poll lists every task once. A poll that fails
keeps the last picture and says "Reconnecting…" until the service answers again or
`GIVE_UP_AFTER_S` passes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from datetime import datetime, timedelta

from azure.batch import models as bm
from azure.core.exceptions import AzureError, ResourceNotFoundError

from batchgui.core.models import NodeState, NodeView, TargetStatus, TaskResult
from batchgui.core.models import TaskStatus as Status
from batchgui.core.target import RunContext, TargetError
from batchgui.i18n import _, tr, trn, whyn
from batchgui.targets.azure.batch import BatchService
from batchgui.targets.azure.config import AzureAccount, PoolSettings
from batchgui.targets.azure.errors import is_transient, plain_error, value
from batchgui.targets.azure.pools import PoolHealth, pool_deleted
from batchgui.targets.azure.storage import RunStorage
from batchgui.targets.azure.tasks import failure_reason, log_prefix, task_status

log = logging.getLogger(__name__)

#: how long a run waits for its first working node (nodes start in 5-15 minutes)
NODE_WAIT_LIMIT_S = 40 * 60
#: how long the run keeps asking a service that does not answer before it gives up
GIVE_UP_AFTER_S = 15 * 60
#: failed tasks whose stderr is read at once
STDERR_READS_AT_ONCE = 4
STDERR_TAIL_BYTES = 4000
#: seconds between looks at the pool itself (resize errors) while it has fewer nodes than asked
POOL_CHECK_EVERY_S = 10.0
#: tasks that changed this long before the last answer are asked for again: the service's
#: Date header has whole seconds, and it may show a change a moment after the time it stamps
CHANGE_MARGIN = timedelta(seconds=5)


def _changed_statuses(batch: BatchService, job_id: str, since: datetime | None,
                      seen: dict[str, tuple[object, object]]
                      ) -> tuple[list[tuple[Status, bm.BatchTask, tuple[object, object]]],
                                 datetime | None]:
    """The changed tasks as the run understands them (decoded here, on a worker), each with
    its state and moment of change as the raw answer has them. A task the margin brings
    back unchanged since the last poll that got through (`seen`) is not decoded again: on
    a big run that was most of the listing's cost."""
    tasks, looked = batch.changed_tasks(job_id, since)
    fresh = []
    for task in tasks:
        key = (task.get("state"), task.get("stateTransitionTime"))
        if seen.get(task.id) != key:
            fresh.append((task_status(task), task, key))
    return fresh, looked


def poll_bounds() -> tuple[float, float]:
    """Fast and slow poll intervals; BATCHGUI_AZURE_POLL='min,max' (seconds) changes them."""
    text = os.environ.get("BATCHGUI_AZURE_POLL", "")
    try:
        low, high = (float(x) for x in text.split(","))
        if 0 < low <= high:
            return low, high
    except ValueError:
        pass
    return 2.0, 8.0  # a poll costs what changed (a few small calls): no need to wait long


class Monitor:
    """The run's picture of its pool and tasks, refreshed by `poll`."""

    def __init__(self, account: AzureAccount, pool: PoolSettings, *,
                 bounds: tuple[float, float] | None = None,
                 node_wait_limit_s: float = NODE_WAIT_LIMIT_S) -> None:
        self.account = account
        self.pool = pool
        self.poll_min, self.poll_max = bounds or poll_bounds()
        self.node_wait_limit_s = node_wait_limit_s
        self.nodes: tuple[NodeView, ...] = ()
        self.tasks: dict[str, Status] = {}
        self.pool_broken = False
        self.polls = 0
        #: each node seen, for node-minutes (core.billing): {node_id, is_spot, allocated_at,
        #: left_at}; left_at stays None until the app sees the node leaving or gone
        self.node_times: dict[str, dict[str, object]] = {}
        self.first_ready: float | None = None  # time.monotonic() when a node first worked
        self._interval = self.poll_min
        self._failed: dict[tuple[str, int], Status] = {}  # (task id, retries) -> with stderr
        self._failing_since: float | None = None
        self._poll_failures = 0
        self._last_pool_check = 0.0
        self._no_node_since: float | None = None
        self._stderr_limit: asyncio.Semaphore | None = None  # made in the run's own loop
        self._last_look: datetime | None = None  # the service's time of the last listing
        self.counts: bm.BatchTaskCounts | None = None
        self.pool_done = False  # the job ended and the service removed its pool
        #: each task's state and moment of change at the last poll that got through
        self._seen: dict[str, tuple[object, object]] = {}

    async def poll(self, ctx: RunContext, storage: RunStorage, batch: BatchService,
                   job_id: str, pool_id: str | None,
                   settled: dict[str, Status]) -> TargetStatus:
        """One look at the job's tasks and the pool's nodes; `settled` are known outcomes
        (tasks of an earlier job of the run, files that could not be uploaded)."""
        self.polls += 1
        since = self._last_look - CHANGE_MARGIN if self._last_look else None
        try:
            # the SDK's models decode each field when it is first read: that happens on
            # the worker threads, never on the window's
            listing = ctx.blocking(_changed_statuses, batch, job_id, since, self._seen)
            counting = ctx.blocking(batch.task_counts, job_id, quick=True)
            if pool_id is None or self.pool_done:  # not named yet, or gone with its job
                (tasks, looked), self.counts = await asyncio.gather(listing, counting)
                health = PoolHealth([], pending=0 if self.pool_done else 1)
                views = self.node_views(batch, "", health)
            else:
                (tasks, looked), self.counts, (health, views) = await asyncio.gather(
                    listing, counting, self._health(ctx, batch, job_id, pool_id))
        except (AzureError, ValueError) as exc:
            return self.reconnecting(exc)
        self._failing_since, self._poll_failures = None, 0
        if looked is not None:
            self._last_look = looked
        self.nodes = views
        self.check_pool(health)

        changed: dict[str, Status] = {}
        if since is None:  # the first look: everything known so far counts as news
            changed.update(settled)
        to_explain: list[tuple[bm.BatchTask, Status]] = []
        for status, task, key in tasks:
            self._seen[status.task_id] = key
            if status.result is TaskResult.FAILURE:
                known = self._failed.get((status.task_id, status.retries))
                if known is None:
                    to_explain.append((task, status))
                    continue
                status = known
            changed[status.task_id] = status
        if to_explain:
            explained = await asyncio.gather(
                *(self._explain(ctx, storage, batch, job_id, task, status)
                  for task, status in to_explain)
            )
            for status in explained:
                changed[status.task_id] = status
        for status in settled.values():  # outcomes known without the job (e.g. unreadable)
            if self.tasks.get(status.task_id) != status:
                changed[status.task_id] = status
        self.tasks.update(changed)
        return TargetStatus(nodes=self.nodes, tasks=changed, message=self.message(health))

    async def _health(self, ctx: RunContext, batch: BatchService, job_id: str,
                      pool_id: str) -> tuple[PoolHealth, tuple[NodeView, ...]]:
        """The pool's nodes and problems, and the grid's views of the nodes. A pool that is
        gone because its job ended (all tasks done: the service removes an auto pool with
        its job) is no problem."""

        def look() -> tuple[PoolHealth, tuple[NodeView, ...]]:
            try:
                nodes = batch.list_nodes(pool_id, quick=True)
                health = batch.pool_health(pool_id, with_pool=self._wants_pool_check(nodes),
                                           nodes=nodes)
            except ResourceNotFoundError:
                health = PoolHealth([], fatal=pool_deleted(pool_id))
            return health, self.node_views(batch, pool_id, health)

        health, views = await ctx.blocking(look)
        if health.fatal and not health.nodes and await self._job_ended(ctx, batch, job_id):
            self.pool_done = True
            return PoolHealth([]), ()
        return health, views

    async def _job_ended(self, ctx: RunContext, batch: BatchService, job_id: str) -> bool:
        job = await ctx.blocking(batch.get_job, job_id)
        return job is not None and value(job.state) in ("completed", "terminating")

    def check_pool(self, health: PoolHealth) -> None:
        """Stop the run when the pool can't work, or has had no working node for too long."""
        if health.fatal:
            self.pool_broken = True
            raise TargetError(health.fatal)
        now = time.monotonic()
        if health.usable or self.pool_done:
            self._no_node_since = None
            return
        if self._no_node_since is None:
            self._no_node_since = now
        elif now - self._no_node_since > self.node_wait_limit_s:
            raise TargetError(whyn(
                "no_node_ready", "No node of the pool became ready in {n} minute; the start "
                "task may be stuck. Look at a node's startup/stderr.txt in the Azure portal, "
                "or try again with another VM size.", "No node of the pool became ready in {n} "
                "minutes; the start task may be stuck. Look at a node's startup/stderr.txt in "
                "the Azure portal, or try again with another VM size.",
                round(self.node_wait_limit_s / 60)))

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

    def reconnecting(self, exc: BaseException) -> TargetStatus:
        """A poll that failed: keep the last picture and say so, unless it can't get better."""
        if not is_transient(exc):
            raise TargetError(plain_error(exc, "batch", self.account.batch_url)) from exc
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        self._poll_failures += 1
        log.info("poll failed (%s), reconnecting", type(exc).__name__)
        if now - self._failing_since > GIVE_UP_AFTER_S:
            raise TargetError(whyn(
                "connection_lost", "Lost the connection to Azure Batch for {n} minute: {reason}",
                "Lost the connection to Azure Batch for {n} minutes: {reason}",
                GIVE_UP_AFTER_S // 60,
                reason=plain_error(exc, "batch", self.account.batch_url).text)) from exc
        return TargetStatus(nodes=self.nodes, tasks=dict(self.tasks),
                            message=_("Reconnecting to Azure Batch…"))

    def poll_interval(self, changed: bool) -> float:
        """Fast while things change, slower while nothing does; backs off while reconnecting."""
        if self._poll_failures:
            return min(self.poll_max * 2, self.poll_min * 2 ** self._poll_failures)
        if changed:
            self._interval = self.poll_min
        else:
            self._interval = min(self.poll_max, self._interval * 1.5)
        return self._interval

    def message(self, health: PoolHealth) -> str:
        counts = self.counts
        running = (counts.running or 0) if counts is not None else 0
        waiting = (counts.active or 0) if counts is not None else 0
        if health.usable == 0:
            text = tr("Waiting for the pool's nodes ({starting} starting; they install ffmpeg "
                      "first)", starting=health.pending)
        else:
            text = trn("{running} converting, {waiting} waiting, on {n} node",
                       "{running} converting, {waiting} waiting, on {n} nodes", health.usable,
                       running=running, waiting=waiting)
        if health.warnings:
            text = f"{text}. {health.warnings[0]}"
        return text

    def node_views(self, batch: BatchService, pool_id: str,
                   health: PoolHealth) -> tuple[NodeView, ...]:
        views = []
        now = time.time()
        if health.usable and self.first_ready is None:
            self.first_ready = time.monotonic()
        self._note_node_times(health.nodes, now)
        for node in health.nodes:
            state = NodeState.parse(value(node.state))
            errors = [e.message or e.code or "" for e in (node.errors or [])]
            if state == NodeState.START_TASK_FAILED:
                stderr = batch.start_task_stderr(pool_id, node.id)  # cached: no call
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

    def _note_node_times(self, nodes: list[bm.BatchNode], now: float) -> None:
        """When each node came (its allocationTime) and when it left the pool: its change
        to leavingpool (the service's time), or the first look that found it gone."""
        present = set()
        for node in nodes:
            present.add(node.id)
            allocated = getattr(node, "allocation_time", None)
            seen = self.node_times.setdefault(node.id, {
                "node_id": node.id, "is_spot": node.is_dedicated is False,
                "allocated_at": allocated.timestamp() if allocated else now, "left_at": None})
            if value(node.state) != "leavingpool":
                seen["left_at"] = None  # still there (a look that missed it was wrong)
            elif seen["left_at"] is None:
                changed = getattr(node, "state_transition_time", None)
                seen["left_at"] = min(changed.timestamp(), now) if changed else now
        for node_id, seen in self.node_times.items():
            if node_id not in present and seen["left_at"] is None:
                seen["left_at"] = now

    async def _explain(self, ctx: RunContext, storage: RunStorage, batch: BatchService,
                       job_id: str, task: bm.BatchTask, status: Status) -> Status:
        """A failed task's plain reason and the tail of its stderr (read once per attempt)."""
        if self._stderr_limit is None:
            self._stderr_limit = asyncio.Semaphore(STDERR_READS_AT_ONCE)
        async with self._stderr_limit:
            tail: str | None = None
            try:
                tail = await ctx.blocking(
                    storage.read_tail, f"{log_prefix(task.id)}/stderr.txt", STDERR_TAIL_BYTES
                )
                if tail is None:
                    tail = await ctx.blocking(
                        batch.task_file_tail, job_id, task.id, "stderr.txt", STDERR_TAIL_BYTES
                    )
            except (AzureError, ValueError) as exc:
                log.info("could not read stderr of %s: %s", task.id, exc)
        tail = tail or ""
        explained = Status(
            task_id=status.task_id, state=status.state, node_id=status.node_id,
            started_at=status.started_at, ended_at=status.ended_at, exit_code=status.exit_code,
            result=status.result, failure=failure_reason(task, tail), stderr_tail=tail,
            retries=status.retries,
        )
        self._failed[(task.id, status.retries)] = explained
        return explained
