"""What the service does with jobs and tasks: scheduling, task outcomes, and a job's life.

A mixin of World (callers hold World.lock). The job rules, from the REST reference and
the recordings:

- create: active. With poolInfo.autoPoolSpecification (poolLifetimeOption job) the service
  makes a pool whose id is an upper-case GUID, `<autoPoolIdPrefix>_<GUID>` with a prefix,
  and shows it in executionInfo.poolId; keepAlive false deletes it when the job completes
  or is deleted. poolLifetimeOption jobschedule is refused for a job (job schedules are
  not emulated).
- disable (disableTasks requeue|terminate|wait): disabling (previousState active) while
  running tasks are requeued (requeueCount + 1), terminated (completed, TaskEnded) or
  left to finish, and at least job_transition_s; then disabled. No task starts meanwhile.
  Disabling a disabling or disabled job is accepted and changes nothing.
- enable: disabled -> enabling -> active on the next tick (a GET right after enable shows
  active, as recorded).
- terminate (terminateReason, default UserTerminate): terminating while running tasks are
  killed (completed, TaskEnded) and at least job_transition_s, then completed with
  executionInfo.endTime and terminateReason. Active tasks stay active, as documented.
- onAllTasksComplete terminatejob: the job completes (terminateReason AllTasksComplete)
  once all its tasks have been completed for all_tasks_complete_delay_s. A job with no
  tasks counts as all complete, as the REST reference warns ("if a Job contains no Tasks,
  then all Tasks are considered complete"): create the job with noaction, add the tasks,
  then PATCH terminatejob. terminatejob cannot be turned back to noaction (400).
- constraints.maxWallClockTime: counted from the job's creation; when it passes, the
  service terminates the job (running tasks killed) with terminateReason
  MaxWallClockTimeExpiry.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import TYPE_CHECKING, Any

from .execution import Outcome, TaskRun, failure
from .jobs import Job, Task
from .util import (
    BatchApiError,
    conflict,
    duration_property,
    invalid_property,
    iso,
    missing_property,
    parse_duration,
    utcnow,
)

if TYPE_CHECKING:
    from .pools import Node
    from .world import World

TASK_ENDED = ("TaskEnded", "Task Was Ended by User Request")


def check_job_settings(spec: dict[str, Any]) -> None:
    """400s for values the service refuses in a job body (create, patch, put)."""
    if spec.get("onAllTasksComplete") is not None:
        if str(spec["onAllTasksComplete"]).lower() not in ("noaction", "terminatejob"):
            raise invalid_property("onAllTasksComplete", "must be noaction or terminatejob")
    if spec.get("onTaskFailure") is not None:
        allowed = ("noaction", "performexitoptionsjobaction")
        if str(spec["onTaskFailure"]).lower() not in allowed:
            raise invalid_property("onTaskFailure", "must be one of " + ", ".join(allowed))
    c = spec.get("constraints") or {}
    if c.get("maxWallClockTime") is not None:
        duration_property("constraints.maxWallClockTime", c["maxWallClockTime"])
    if c.get("maxTaskRetryCount") is not None and int(c["maxTaskRetryCount"]) < -1:
        raise invalid_property("constraints.maxTaskRetryCount", "must be -1 or more")


class JobOps:
    # -- jobs --------------------------------------------------------------------------

    def add_job(self: World, spec: dict[str, Any]) -> Job:
        check_job_settings(spec)
        pool_info = spec.get("poolInfo") or {}
        auto = pool_info.get("autoPoolSpecification")
        if auto is not None:
            pool_id = self._auto_pool_id(auto)
        elif pool_info.get("poolId"):
            pool_id = pool_info["poolId"]
        else:
            raise missing_property("poolInfo.poolId")
        job = Job(id=spec["id"], spec=dict(spec), pool_id=pool_id)
        if auto is not None:
            self.add_pool(pool_id, dict(auto["pool"]), owner_job=job.id,
                          keep_alive=bool(auto.get("keepAlive", False)))
        self.jobs[job.id] = job
        return job

    def _auto_pool_id(self: World, auto: dict[str, Any]) -> str:
        option = str(auto.get("poolLifetimeOption") or "").lower()
        if not option:
            raise missing_property("poolInfo.autoPoolSpecification.poolLifetimeOption")
        if option != "job":
            raise invalid_property(
                "poolInfo.autoPoolSpecification.poolLifetimeOption",
                "A job can only have an auto pool with poolLifetimeOption job",
            )
        pool = auto.get("pool")
        if not isinstance(pool, dict):
            raise missing_property("poolInfo.autoPoolSpecification.pool")
        if not pool.get("vmSize"):
            raise missing_property("poolInfo.autoPoolSpecification.pool.vmSize")
        prefix = auto.get("autoPoolIdPrefix") or ""
        if len(prefix) > 20:
            raise invalid_property(
                "poolInfo.autoPoolSpecification.autoPoolIdPrefix", "At most 20 characters"
            )
        guid = str(uuid.uuid4()).upper()
        return f"{prefix}_{guid}" if prefix else guid

    def patch_job(self: World, job: Job, body: dict[str, Any], replace: bool) -> None:
        """PATCH (only the given properties) or PUT (all updatable ones; the rest reset)."""
        if job.state in ("completed", "terminating"):
            raise conflict("JobCompleted", "The specified job is already in a completed state.")
        if job.state == "deleting":
            raise conflict(
                "JobBeingDeleted",
                "The specified job has been marked for deletion and is being garbage collected.",
            )
        check_job_settings(body)
        new_on_all = str(body.get("onAllTasksComplete") or ("noaction" if replace else "")).lower()
        if new_on_all == "noaction" and job.on_all_tasks_complete == "terminatejob":
            raise invalid_property(
                "onAllTasksComplete",
                "The completion behavior of a job cannot be changed from terminatejob to noaction",
            )
        if "poolInfo" in body and body["poolInfo"] != job.spec.get("poolInfo"):
            if job.state != "disabled":
                raise conflict(  # code guessed
                    "OperationInvalidForCurrentState",
                    "The pool of a job can be changed only while the job is disabled.",
                )
            if (body["poolInfo"] or {}).get("autoPoolSpecification"):
                raise invalid_property("poolInfo", "The emulator does not move jobs to auto pools")
            job.pool_id = body["poolInfo"].get("poolId") or job.pool_id
        updatable = ("priority", "maxParallelTasks", "allowTaskPreemption", "constraints",
                     "poolInfo", "metadata", "onAllTasksComplete", "networkConfiguration")
        for key in updatable:
            if key in body:
                job.spec[key] = body[key]
            elif replace and key not in ("poolInfo", "networkConfiguration"):
                job.spec.pop(key, None)
        job.all_done_since = None
        job.touch()

    def disable_job(self: World, job: Job, option: str) -> None:
        if job.state in ("disabling", "disabled"):
            return
        if job.state != "active":
            raise conflict("JobNotActive", "The specified job is not in active state.")
        job.set_state("disabling")
        job.touch()
        job.disable_tasks = option
        job.transition_due = time.monotonic() + self.knobs.job_transition_s
        for task in list(job.tasks.values()):
            if task.state != "running" or task.run is None:
                continue
            if option == "requeue":
                task.run.cancel("requeue")
            elif option == "terminate":
                self.terminate_run(task.run)

    def enable_job(self: World, job: Job) -> None:
        """enable: from disabled only (409 OperationInvalidForCurrentState, code guessed)."""
        if job.state == "enabling" or job.state == "active":
            return
        if job.state != "disabled":
            raise conflict(
                "OperationInvalidForCurrentState",
                "The specified operation is not valid for the current state of the resource.",
            )
        job.set_state("enabling")
        job.touch()

    def terminate_job(self: World, job: Job, reason: str | None, by_user: bool = True) -> None:
        if job.state == "completed":
            raise conflict("JobCompleted", "The specified job is already in a completed state.")
        if job.state == "terminating":
            raise conflict("JobBeingTerminated", "The specified job is being terminated.")
        if job.state == "deleting":
            raise conflict(
                "JobBeingDeleted",
                "The specified job has been marked for deletion and is being garbage collected.",
            )
        job.terminate_reason = reason or "UserTerminate"
        job.set_state("terminating")
        if by_user:
            job.touch()
        job.transition_due = time.monotonic() + self.knobs.job_transition_s
        for task in job.tasks.values():
            if task.state == "running" and task.run is not None:
                self.terminate_run(task.run)

    def delete_job(self: World, job: Job) -> None:
        if job.state == "deleting":
            return
        job.set_state("deleting")
        for task in job.tasks.values():
            if task.run is not None and not task.run.finalized:
                task.run.cancel("delete")
        job.delete_due = time.monotonic() + self.knobs.delete_delay_s
        self._end_auto_pool(job)

    def _complete_job(self: World, job: Job, reason: str | None, transient_done: bool) -> None:
        job.end_time = utcnow()
        if reason:
            job.terminate_reason = reason
        job.set_state("completed", transient_done=transient_done)
        self._end_auto_pool(job)

    def _end_auto_pool(self: World, job: Job) -> None:
        pool = self.pools.get(job.pool_id or "")
        if pool is not None and pool.owner_job == job.id and not pool.keep_alive:
            self.delete_pool(pool)

    def task_counts(self: World, job: Job) -> dict[str, dict[str, int]]:
        now = time.monotonic()
        if now - job.counts_at >= self.knobs.task_counts_lag_s:
            job.counts, job.counts_at = job.live_counts(), now
        return job.counts

    def tick_job(self: World, job: Job, now: float) -> None:
        if job.state == "deleting":
            if job.delete_due is not None and now >= job.delete_due:
                del self.jobs[job.id]
            return
        if job.state == "completed":
            return
        wall = parse_duration((job.spec.get("constraints") or {}).get("maxWallClockTime"))
        if wall is not None and job.state != "terminating" and now - job.started >= wall:
            self.terminate_job(job, "MaxWallClockTimeExpiry", by_user=False)
        running = any(t.state == "running" for t in job.tasks.values())
        if job.state == "active":
            self._schedule(job)
            self._check_all_complete(job, now)
        elif job.state == "enabling":
            job.set_state("active", transient_done=True)
        elif job.state == "disabling" and now >= job.transition_due and not running:
            job.set_state("disabled", transient_done=True)
        elif job.state == "terminating" and now >= job.transition_due and not running:
            self._complete_job(job, None, transient_done=True)

    def _check_all_complete(self: World, job: Job, now: float) -> None:
        if job.on_all_tasks_complete != "terminatejob" or any(
            t.state != "completed" for t in job.tasks.values()
        ):
            job.all_done_since = None
            return
        if job.all_done_since is None:
            job.all_done_since = now
        if now - job.all_done_since >= self.knobs.all_tasks_complete_delay_s:
            self._complete_job(job, "AllTasksComplete", transient_done=False)

    # -- tasks -------------------------------------------------------------------------

    def add_task(self: World, job: Job, spec: dict[str, Any]) -> Task:
        if job.state == "completed":
            raise conflict("JobCompleted", "The specified job is already in a completed state.")
        if job.state == "terminating":
            raise conflict("JobBeingTerminated", "The specified job is being terminated.")
        if job.state == "deleting":
            raise conflict(
                "JobBeingDeleted",
                "The specified job has been marked for deletion and is being garbage collected.",
            )
        if spec["id"] in job.tasks:
            raise conflict("TaskExists", "The specified task already exists.")
        c = spec.get("constraints") or {}
        if c.get("maxWallClockTime") is not None:
            duration_property("constraints.maxWallClockTime", c["maxWallClockTime"])
        job.task_seq += 1
        task = Task(job=job, id=spec["id"], spec=dict(spec), seq=job.task_seq)
        job.tasks[task.id] = task
        job.all_done_since = None
        return task

    def _schedule(self: World, job: Job) -> None:
        pool = self.pools.get(job.pool_id or "")
        if pool is None or pool.state != "active":
            return
        spt = pool.slots_per_node
        ready = [
            n
            for n in pool.nodes.values()
            if n.state in ("idle", "running") and n.scheduling_state == "enabled"
        ]
        if not ready:
            return
        max_par = int(job.spec.get("maxParallelTasks", -1))
        running = sum(1 for t in job.tasks.values() if t.state == "running")
        pack = (
            str((pool.spec.get("taskSchedulingPolicy") or {}).get("nodeFillType", "spread")).lower()
            == "pack"
        )
        for task in sorted(job.tasks.values(), key=lambda t: t.seq):
            if task.state != "active":
                continue
            if max_par >= 0 and running >= max_par:
                return
            need = task.required_slots
            fits = [n for n in ready if spt - n.used_slots >= need]
            if not fits:
                if all(spt - n.used_slots <= 0 for n in ready):
                    return
                continue
            if pack:
                node = min(fits, key=lambda n: spt - n.used_slots)
            else:
                node = max(fits, key=lambda n: spt - n.used_slots)
            self._start_task(task, node)
            running += 1

    def _start_task(self: World, task: Task, node: Node) -> None:
        run = TaskRun(self, task, node)
        task.run = run
        node.runs[(task.job.id, task.id)] = run
        node.used_slots += task.required_slots
        node.total_run += 1
        if node.busy_since is None:
            node.busy_since = time.monotonic()
        node.set_state("running")
        task.set_state("running")
        task.exec_info["startTime"] = iso(utcnow())
        for k in ("endTime", "exitCode", "result", "failureInfo"):
            task.exec_info.pop(k, None)
        rel = f"workitems/{task.job.id}/job-1/{task.id}"
        task.task_dir = os.path.join(node.root, *rel.split("/"))
        task.node_info = {
            "affinityId": f"TVM:{node.id}",
            "nodeUrl": node.url(self.base_url),
            "poolId": node.pool.id,
            "nodeId": node.id,
            "taskRootDirectory": rel,
            "taskRootDirectoryUrl": f"{node.url(self.base_url)}/files/{rel}",
        }
        node.recent.append(
            {
                "taskUrl": f"{self.base_url}/jobs/{task.job.id}/tasks/{task.id}",
                "jobId": task.job.id,
                "taskId": task.id,
                "taskState": "running",
            }
        )
        run.thread.start()

    def finish_task(self: World, task: Task, outcome: Outcome) -> None:
        """Mark a task completed."""
        run = task.run
        if run is not None:
            run.finalized = True
        ok = outcome.failure is None
        task.exec_info["endTime"] = iso(outcome.end_time or utcnow())
        if outcome.exit_code is not None:
            task.exec_info["exitCode"] = outcome.exit_code
        else:
            task.exec_info.pop("exitCode", None)
        task.exec_info["result"] = "success" if ok else "failure"
        if outcome.failure:
            task.exec_info["failureInfo"] = outcome.failure
        else:
            task.exec_info.pop("failureInfo", None)
        task.set_state("completed")
        if run is not None and ok:
            run.node.total_succeeded += 1
        if run is not None:
            for r in run.node.recent:
                if r["taskId"] == task.id and r["jobId"] == task.job.id:
                    r["taskState"] = "completed"
                    r["executionInfo"] = {
                        k: v for k, v in task.exec_info.items() if k != "failureInfo"
                    }

    def requeue_task(self: World, task: Task) -> None:
        """A running task goes back to active (node removed or preempted, job disabled)."""
        task.exec_info["requeueCount"] = task.exec_info.get("requeueCount", 0) + 1
        task.exec_info["lastRequeueTime"] = iso(utcnow())
        for k in ("startTime", "endTime", "exitCode", "result", "failureInfo"):
            task.exec_info.pop(k, None)
        task.node_info = None
        task.run = None
        task.set_state("active")

    def terminate_run(self: World, run: TaskRun) -> None:
        """Kill a running task and complete it as ended by the user."""
        run.cancel("terminate")
        self.finish_task(run.task, Outcome(failure=failure(*TASK_ENDED), end_time=utcnow()))
        run.release()

    def terminate_task(self: World, task: Task) -> None:
        if task.state == "completed":
            return
        if task.run is not None and task.state == "running":
            self.terminate_run(task.run)
        else:
            task.run = None
            self.finish_task(task, Outcome(failure=failure(*TASK_ENDED)))
        task.touch()

    def reactivate_task(self: World, task: Task) -> None:
        if task.state != "completed" or task.exec_info.get("result") != "failure":
            raise BatchApiError(
                409,
                "TaskNotFailed",
                "The specified task cannot be reactivated because it did not fail.",
            )
        task.run = None
        task.node_info = None
        task.exec_info = {"retryCount": 0, "requeueCount": task.exec_info.get("requeueCount", 0)}
        task.set_state("active")
        task.touch()
        task.job.all_done_since = None
