"""The emulator's state: pools, nodes, jobs, tasks, the knobs, and the ticker that moves them.

One lock guards everything. A ticker thread moves nodes through their states, evaluates
autoscale formulas, starts active tasks on free slots and moves jobs through their life
(pool_ops.py and job_ops.py hold those rules); each running task (and each start task)
has its own thread (execution.py).
"""

from __future__ import annotations

import os
import random
import shutil
import threading
import time
import traceback
from dataclasses import asdict, dataclass, fields
from typing import Any

from .job_ops import JobOps
from .jobs import Job
from .pool_ops import PoolOps
from .pools import Node, Pool
from .util import BatchApiError, not_found


@dataclass
class Knobs:
    """Behaviour switches for tests; all can change at runtime (POST /_emulator/knobs)."""

    start_task_fails: bool = False  # every start task fails (exit 1, message on stderr)
    preempt_node_after_s: float | None = None  # a Spot node is preempted this long into a task
    preempt_recover_s: float = 0.5  # a preempted node comes back (creating) after this
    fail_rate_5xx: float = 0.0  # share of API requests answered 500/503
    drop_rate: float = 0.0  # share of API requests whose connection is closed unanswered
    allocation_delay_s: float = 0.2  # pool resize -> nodes exist
    state_delay_s: float = 0.1  # each node state step (creating -> starting -> ...)
    delete_delay_s: float = 0.2  # how long a pool/job stays "deleting"
    tick_s: float = 0.02  # scheduler period
    max_page_size: int = 1000  # list answers page at min(maxresults, this)
    seed: int | None = None
    # media seconds a task slot converts per second: a task takes at least
    # (media duration of its input) / (node_speed x requiredSlots) seconds; None: no floor
    node_speed: float | None = None
    # GET taskcounts answers from a snapshot at most this old (the service's counts lag)
    task_counts_lag_s: float = 1.0
    # a job stays disabling / terminating at least this long (recorded: 0.5 to 1.7 s)
    job_transition_s: float = 0.5
    # onAllTasksComplete terminatejob: the job completes once every task (none counts as
    # all) has been completed this long
    all_tasks_complete_delay_s: float = 1.0
    # evaluate autoscale formulas this often instead of each pool's own interval (>= 5 min)
    autoscale_interval_s: float | None = None

    def update(self, values: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)}
        for k, v in values.items():
            if k not in names:
                raise KeyError(k)
            setattr(self, k, v)


class World(PoolOps, JobOps):
    def __init__(
        self,
        account: str,
        root: str,
        path_dirs: list[str] | None = None,
        knobs: Knobs | None = None,
    ) -> None:
        self.account = account
        self.root = root
        self.path_dirs = list(path_dirs or [])
        self.knobs = knobs or Knobs()
        self.rng = random.Random(self.knobs.seed)
        self.lock = threading.RLock()
        self.pools: dict[str, Pool] = {}
        self.jobs: dict[str, Job] = {}
        self.base_url = ""
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, daemon=True, name="batch-ticker")

    def start(self) -> None:
        self._ticker.start()

    def shutdown(self) -> None:
        self._stop.set()
        with self.lock:
            for pool in self.pools.values():
                for node in pool.nodes.values():
                    self.stop_node(node)

    def set_knobs(self, values: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.knobs.update(values)
            if "seed" in values:
                self.rng = random.Random(values["seed"])
            return asdict(self.knobs)

    def env_for(
        self,
        node: Node,
        task_dir: str,
        wd: str,
        extra: list[dict[str, str]] | None = None,
        job: Job | None = None,
        task: Any = None,
    ) -> dict[str, str]:
        env = dict(os.environ)
        if self.path_dirs:
            env["PATH"] = os.pathsep.join(self.path_dirs + [env.get("PATH", "")])
        env.update(
            {
                "AZ_BATCH_ACCOUNT_NAME": self.account,
                "AZ_BATCH_ACCOUNT_URL": self.base_url,
                "AZ_BATCH_POOL_ID": node.pool.id,
                "AZ_BATCH_NODE_ID": node.id,
                "AZ_BATCH_NODE_IS_DEDICATED": "true" if node.dedicated else "false",
                "AZ_BATCH_NODE_ROOT_DIR": node.root,
                "AZ_BATCH_NODE_SHARED_DIR": os.path.join(node.root, "shared"),
                "AZ_BATCH_NODE_STARTUP_DIR": os.path.join(node.root, "startup"),
                "AZ_BATCH_NODE_LIST": node.ip,
                "AZ_BATCH_TASK_DIR": task_dir,
                "AZ_BATCH_TASK_WORKING_DIR": wd,
                "AZ_BATCH_RESERVED_EPHEMERAL_DISK_SPACE_BYTES": "1000000000",
            }
        )
        if job is not None:
            env["AZ_BATCH_JOB_ID"] = job.id
        if task is not None:
            env["AZ_BATCH_TASK_ID"] = task.id
        for item in extra or []:
            env[item["name"]] = item.get("value", "")
        return env

    # -- tick ---------------------------------------------------------------------------

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.knobs.tick_s):
            try:
                self.tick()
            except Exception:  # keep the world turning; the test world fails on tracebacks
                traceback.print_exc()

    def tick(self) -> None:
        now = time.monotonic()
        with self.lock:
            for pool in list(self.pools.values()):
                if pool.state == "deleting":
                    if pool.delete_due is not None and now >= pool.delete_due:
                        del self.pools[pool.id]
                        shutil.rmtree(os.path.join(self.root, pool.id), ignore_errors=True)
                    continue
                if pool.due_for_autoscale(now):
                    self.apply_autoscale(pool)
                if pool.alloc_due is not None and now >= pool.alloc_due:
                    self.reconcile(pool)
                for node in list(pool.nodes.values()):
                    self.advance_node(node, now)
            for job in list(self.jobs.values()):
                self.tick_job(job, now)

    # -- lookups --------------------------------------------------------------------------

    def find_node(self, pool_id: str, node_id: str) -> Node:
        pool = self.pools.get(pool_id)
        if pool is None:
            raise not_found("Pool")
        node = pool.nodes.get(node_id)
        if node is None:
            raise BatchApiError(404, "NodeNotFound", "The specified node does not exist.")
        return node

    def debug_state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "pools": {
                    p.id: {
                        "state": p.state,
                        "allocationState": p.allocation_state,
                        "ownerJob": p.owner_job,
                        "nodes": {n.id: n.state for n in p.nodes.values()},
                    }
                    for p in self.pools.values()
                },
                "jobs": {
                    j.id: {
                        "state": j.state,
                        "poolId": j.pool_id,
                        "tasks": {t.id: t.state for t in j.tasks.values()},
                    }
                    for j in self.jobs.values()
                },
            }
