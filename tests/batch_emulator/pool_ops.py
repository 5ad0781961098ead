"""What the service does with pools: create, resize, nodes' lives, preemption, autoscale, delete.

A mixin of World (callers hold World.lock). Error codes come from the recordings or the
Batch status-code table; where neither says which code an answer carries, the docstring of
the operation says "(code guessed)".
"""

from __future__ import annotations

import os
import time
import uuid
from typing import TYPE_CHECKING, Any

from .autoscale import FormulaError, PoolFacts, evaluate, results_text
from .execution import StartTaskRun
from .pools import Node, Pool
from .util import (
    BatchApiError,
    conflict,
    duration_property,
    invalid_property,
    iso,
    missing_property,
    utcnow,
)

if TYPE_CHECKING:
    from .world import World

MIN_INTERVAL_S, MAX_INTERVAL_S = 5 * 60, 168 * 3600


def _interval(value: Any) -> float:
    seconds = duration_property("autoScaleEvaluationInterval", value or "PT15M") or 0.0
    if not MIN_INTERVAL_S <= seconds <= MAX_INTERVAL_S:
        raise invalid_property(
            "autoScaleEvaluationInterval",
            "The interval must be between 5 minutes and 168 hours",
        )
    return seconds


class PoolOps:
    # -- create / delete -------------------------------------------------------------

    def add_pool(self: World, pool_id: str, spec: dict[str, Any], owner_job: str | None = None,
                 keep_alive: bool = False) -> Pool:
        """A new pool (POST /pools, or an auto pool for a job)."""
        if spec.get("enableAutoScale"):
            if not spec.get("autoScaleFormula"):
                raise missing_property("autoScaleFormula")
            for key in ("targetDedicatedNodes", "targetLowPriorityNodes"):
                if spec.get(key) is not None:
                    raise invalid_property(key, f"{key} cannot be given with enableAutoScale")
            _interval(spec.get("autoScaleEvaluationInterval"))
            self._syntax_check(spec["autoScaleFormula"])
        else:
            for key in ("autoScaleFormula", "autoScaleEvaluationInterval"):
                if spec.get(key) is not None:
                    raise invalid_property(key, f"{key} needs enableAutoScale")
        if spec.get("resizeTimeout") is not None:
            duration_property("resizeTimeout", spec["resizeTimeout"])
        pool = Pool(id=pool_id, spec=dict(spec), root=os.path.join(self.root, pool_id),
                    owner_job=owner_job, keep_alive=keep_alive)
        self.pools[pool.id] = pool
        if pool.autoscale:
            pool.spec["targetDedicatedNodes"] = 0
            pool.spec["targetLowPriorityNodes"] = 0
            self.apply_autoscale(pool)
        self.start_resize(pool)
        return pool

    def delete_pool(self: World, pool: Pool) -> None:
        """DELETE /pools/{id}, or an auto pool whose job is done: nodes leave, then it goes."""
        if pool.state == "deleting":
            return
        pool.state = "deleting"
        pool.state_time = utcnow()
        pool.touch()
        pool.set_allocation("stopping" if pool.allocation_state == "resizing" else "resizing")
        pool.spec["enableAutoScale"] = False
        pool.spec["targetDedicatedNodes"] = pool.spec["targetLowPriorityNodes"] = 0
        pool.autoscale_due = None
        for node in pool.nodes.values():
            self.stop_node(node, requeue=True)
            node.set_state("leavingpool")
        pool.delete_due = time.monotonic() + self.knobs.delete_delay_s

    # -- resize ------------------------------------------------------------------------

    def resize(self: World, pool: Pool, body: dict[str, Any]) -> None:
        """POST resize: only from steady (409 PoolBeingResized), never on autoscale pools
        (409 OperationInvalidForCurrentState, code guessed)."""
        if pool.state == "deleting":
            raise conflict(
                "PoolBeingDeleted",
                "The specified pool has been marked for deletion and is being reclaimed.",
            )
        if pool.autoscale:
            raise conflict(
                "OperationInvalidForCurrentState",
                "The specified operation is not valid for the current state of the resource.",
            )
        if pool.allocation_state != "steady":
            raise conflict("PoolBeingResized", "The specified pool is being resized")
        for k in ("targetDedicatedNodes", "targetLowPriorityNodes"):
            if body.get(k) is not None:
                pool.spec[k] = int(body[k])
        if body.get("resizeTimeout") is not None:
            duration_property("resizeTimeout", body["resizeTimeout"])
            pool.spec["resizeTimeout"] = body["resizeTimeout"]
        if body.get("nodeDeallocationOption"):
            pool.spec["_nodeDeallocationOption"] = body["nodeDeallocationOption"]
        pool.touch()
        self.start_resize(pool)

    def stop_resize(self: World, pool: Pool) -> None:
        pool.touch()
        if pool.alloc_due is not None:
            pool.alloc_due = None
            pool.set_allocation("steady")

    def start_resize(self: World, pool: Pool) -> None:
        pool.set_allocation("resizing")
        pool.alloc_due = time.monotonic() + self.knobs.allocation_delay_s

    def reconcile(self: World, pool: Pool) -> None:
        """The resize happens: nodes are added (creating) or removed, then steady."""
        for dedicated, key in ((True, "targetDedicatedNodes"), (False, "targetLowPriorityNodes")):
            target = int(pool.spec.get(key) or 0)
            have = [n for n in pool.nodes.values() if n.dedicated == dedicated]
            for _ in range(target - len(have)):
                node = self._new_node(pool, dedicated)
                pool.nodes[node.id] = node
            if len(have) > target:
                # remove idle / not-yet-ready nodes first, busy ones last
                order = sorted(have, key=lambda n: (len(n.runs), n.state == "idle"))
                option = str(pool.spec.get("_nodeDeallocationOption", "requeue")).lower()
                for node in order[: len(have) - target]:
                    for run in list(node.runs.values()):
                        if option == "terminate":
                            self.terminate_run(run)
                        else:
                            run.cancel("requeue")
                    if node.start_run:
                        node.start_run.cancel()
                    del pool.nodes[node.id]
        pool.set_allocation("steady")
        pool.alloc_due = None

    # -- nodes -------------------------------------------------------------------------

    def _new_node(self: World, pool: Pool, dedicated: bool) -> Node:
        nid = "tvmps_" + uuid.uuid4().hex + uuid.uuid4().hex + ("_d" if dedicated else "_p")
        root = os.path.join(self.root, pool.id, nid)
        for sub in ("startup", "shared", "workitems"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
        n = len(pool.nodes) + 4
        node = Node(id=nid, pool=pool, dedicated=dedicated, root=root, ip=f"10.0.0.{n}")
        node.next_at = time.monotonic() + self.knobs.state_delay_s
        return node

    def stop_node(self: World, node: Node, requeue: bool = False) -> None:
        for run in list(node.runs.values()):
            run.cancel("requeue" if requeue else "delete")
        if node.start_run is not None:
            node.start_run.cancel()
            node.start_run = None

    def advance_node(self: World, node: Node, now: float) -> None:
        k = self.knobs
        if node.state == "creating" and now >= node.next_at:
            node.set_state("starting")
            node.next_at = now + k.state_delay_s
        elif node.state == "starting" and now >= node.next_at:
            node.boot_time = utcnow()
            st = node.pool.spec.get("startTask")
            if st and st.get("commandLine"):
                wait = st.get("waitForSuccess", True)
                node.set_state("waitingforstarttask" if wait else "idle")
                node.start_run = StartTaskRun(self, node, st)
                node.start_run.thread.start()
            else:
                node.set_state("idle")
        elif node.state == "preempted" and now >= node.next_at:
            node.set_state("creating")
            node.allocation_time = utcnow()
            node.next_at = now + k.state_delay_s
            node.start_task_info = None
        elif (
            node.state == "running"
            and not node.dedicated
            and k.preempt_node_after_s is not None
            and not node.preempted_once
            and node.busy_since is not None
            and now - node.busy_since >= k.preempt_node_after_s
        ):
            self.preempt(node)

    def preempt(self: World, node: Node) -> None:
        """A Spot node is taken away: running tasks go back to active (requeueCount+1)."""
        node.preempted_once = True
        self.stop_node(node, requeue=True)
        node.set_state("preempted")
        node.busy_since = None
        node.next_at = time.monotonic() + self.knobs.preempt_recover_s

    # -- autoscale ---------------------------------------------------------------------

    def pool_facts(self: World, pool: Pool) -> PoolFacts:
        counts = dict.fromkeys(("active", "running", "succeeded", "failed"), 0)
        for job in self.jobs.values():
            if job.pool_id != pool.id:
                continue
            for task in job.tasks.values():
                if task.state == "completed":
                    ok = task.exec_info.get("result") == "success"
                    counts["succeeded" if ok else "failed"] += 1
                elif task.state in counts:
                    counts[task.state] += 1
        return PoolFacts(
            current_dedicated=sum(1 for n in pool.nodes.values() if n.dedicated),
            current_low_priority=sum(1 for n in pool.nodes.values() if not n.dedicated),
            target_dedicated=int(pool.spec.get("targetDedicatedNodes") or 0),
            target_low_priority=int(pool.spec.get("targetLowPriorityNodes") or 0),
            slots_per_node=pool.slots_per_node,
            tasks={
                "$ActiveTasks": counts["active"],
                "$RunningTasks": counts["running"],
                "$PendingTasks": counts["active"] + counts["running"],
                "$SucceededTasks": counts["succeeded"],
                "$FailedTasks": counts["failed"],
            },
        )

    def _current_results(self: World, pool: Pool) -> str:
        option = str(pool.spec.get("_nodeDeallocationOption") or "requeue").lower()
        return results_text({
            "$TargetDedicatedNodes": int(pool.spec.get("targetDedicatedNodes") or 0),
            "$TargetLowPriorityNodes": int(pool.spec.get("targetLowPriorityNodes") or 0),
            "$NodeDeallocationOption": option,
        })

    def _syntax_check(self: World, formula: str) -> None:
        try:
            evaluate(formula, PoolFacts())
        except FormulaError as exc:
            if exc.kind == "syntax":
                raise BatchApiError(
                    400, "AutoScalingFormulaSyntaxError",
                    "The specified auto-scaling formula has a syntax error.",
                    [("Message", str(exc))],
                ) from None

    def evaluate_formula(self: World, pool: Pool, formula: str) -> dict[str, Any]:
        """An AutoScaleRun for formula on pool (nothing is applied)."""
        run: dict[str, Any] = {"timestamp": iso(utcnow())}
        try:
            run["results"] = results_text(evaluate(formula, self.pool_facts(pool)))
        except FormulaError as exc:
            run["results"] = self._current_results(pool)
            run["error"] = exc.error_json()
        return run

    def apply_autoscale(self: World, pool: Pool) -> None:
        """The service's periodic evaluation: new targets start a resize (no eTag change)."""
        formula = pool.spec.get("autoScaleFormula") or ""
        try:
            values = evaluate(formula, self.pool_facts(pool))
            pool.autoscale_run = {"timestamp": iso(utcnow()), "results": results_text(values)}
        except FormulaError as exc:
            values = None
            pool.autoscale_run = {
                "timestamp": iso(utcnow()),
                "results": self._current_results(pool),
                "error": exc.error_json(),
            }
        interval = self.knobs.autoscale_interval_s or _interval(
            pool.spec.get("autoScaleEvaluationInterval")
        )
        pool.autoscale_due = time.monotonic() + interval
        if values is None:
            return
        pool.spec["_nodeDeallocationOption"] = values["$NodeDeallocationOption"]
        targets = (values["$TargetDedicatedNodes"], values["$TargetLowPriorityNodes"])
        have = (int(pool.spec.get("targetDedicatedNodes") or 0),
                int(pool.spec.get("targetLowPriorityNodes") or 0))
        if targets != have:
            pool.spec["targetDedicatedNodes"], pool.spec["targetLowPriorityNodes"] = targets
            self.start_resize(pool)

    def enable_autoscale(self: World, pool: Pool, body: dict[str, Any]) -> None:
        """POST enableautoscale: not while a manual resize runs (409 PoolBeingResized)."""
        formula = body.get("autoScaleFormula") or pool.spec.get("autoScaleFormula")
        if not formula:
            raise missing_property("autoScaleFormula")
        interval = body.get("autoScaleEvaluationInterval") or pool.spec.get(
            "autoScaleEvaluationInterval"
        )
        _interval(interval)
        self._syntax_check(formula)
        if pool.state == "deleting":
            raise conflict(
                "PoolBeingDeleted",
                "The specified pool has been marked for deletion and is being reclaimed.",
            )
        if not pool.autoscale and pool.allocation_state != "steady":
            raise conflict("PoolBeingResized", "The specified pool is being resized")
        pool.spec["enableAutoScale"] = True
        pool.spec["autoScaleFormula"] = formula
        pool.spec["autoScaleEvaluationInterval"] = interval or "PT15M"
        pool.touch()
        self.apply_autoscale(pool)

    def disable_autoscale(self: World, pool: Pool) -> None:
        pool.spec["enableAutoScale"] = False
        pool.spec.pop("autoScaleFormula", None)
        pool.spec.pop("autoScaleEvaluationInterval", None)
        pool.autoscale_run = None
        pool.autoscale_due = None
        pool.touch()
