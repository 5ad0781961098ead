"""Jobs on the emulator through the real azure-batch SDK: patch/put, onAllTasksComplete,
maxWallClockTime, terminate reasons, disable/enable with each disableTasks option."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError, ResourceExistsError

from tests.azure_world import BatchEmulator, wait_for
from tests.conformance.replay import Raw
from tests.integration.test_batch_emulator_sdk import pool_options

UNBOUNDED = dt.timedelta(days=10675199)  # the service's "no limit" (P10675199DT2H48M5.47S)


def make_pool(client: Any, pool_id: str, slots: int = 4, nodes: int = 1) -> None:
    client.create_pool(pool_options(pool_id, dedicated=nodes, slots=slots))
    wait_for(
        lambda: (ns := list(client.list_nodes(pool_id))) and len(ns) == nodes
        and all(n.state == "idle" for n in ns),
        timeout_s=20, what=f"{pool_id} idle",
    )


def make_job(client: Any, job_id: str, pool_id: str, **extra: Any) -> None:
    client.create_job(m.BatchJobCreateOptions(
        id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id), **extra))


def task_in(client: Any, job: str, task: str, *states: str, timeout_s: float = 20) -> Any:
    return wait_for(lambda: (t := client.get_task(job, task)).state in states and t,
                    timeout_s=timeout_s, what=f"{task} {states}")


def job_in(client: Any, job: str, *states: str, timeout_s: float = 20) -> Any:
    return wait_for(lambda: (j := client.get_job(job)).state in states and j,
                    timeout_s=timeout_s, what=f"{job} {states}")


def terminate(reason: str) -> Any:
    return m._models.BatchJobTerminateOptions(termination_reason=reason)


# -- patch and put -------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_patch_changes_only_what_it_names_and_put_resets_the_rest(
    batch_client: Any, batch_emulator: BatchEmulator
) -> None:
    make_job(batch_client, "job-upd", "no-such-pool", priority=100,
             metadata=[m.BatchMetadataItem(name="owner", value="test")])
    before = batch_client.get_job("job-upd")
    batch_client.update_job("job-upd", m.BatchJobUpdateOptions(
        constraints=m.BatchJobConstraints(max_task_retry_count=3,
                                          max_wall_clock_time=dt.timedelta(hours=2))))
    patched = batch_client.get_job("job-upd")
    assert patched.constraints.max_task_retry_count == 3
    assert patched.constraints.max_wall_clock_time == dt.timedelta(hours=2)
    assert patched.priority == 100 and patched.metadata[0].value == "test", "PATCH kept the rest"
    assert patched.etag != before.etag and patched.last_modified > before.last_modified
    assert patched.state_transition_time == before.state_transition_time

    job = batch_client.get_job("job-upd")
    job.constraints = None
    job.metadata = None
    job.priority = None
    batch_client.replace_job("job-upd", job)
    put = batch_client.get_job("job-upd")
    assert put.priority == 0 and not put.metadata, "PUT reset what it left out"
    assert put.constraints.max_task_retry_count == 0
    assert put.constraints.max_wall_clock_time >= UNBOUNDED

    # both answer 200 with no body, as recorded
    raw = Raw(batch_emulator)
    status, headers, body = raw.call("PATCH", "/jobs/job-upd", body={"priority": 5})
    assert (status, body) == (200, b"") and "etag" in headers and "dataserviceid" in headers
    same_pool = {"poolId": "no-such-pool"}
    status, _, body = raw.call("PUT", "/jobs/job-upd", body={"poolInfo": same_pool,
                                                             "priority": 7})
    assert (status, body) == (200, b"")
    assert batch_client.get_job("job-upd").priority == 7
    # a job moves to another pool only while it is disabled
    status, _, body = raw.call("PATCH", "/jobs/job-upd", body={"poolInfo": {"poolId": "other"}})
    assert status == 409, body


@pytest.mark.timeout(60)
def test_terminatejob_cannot_be_turned_back_and_bad_values_are_refused(
    batch_client: Any,
) -> None:
    make_job(batch_client, "job-mode", "no-such-pool")
    batch_client.create_task("job-mode", m.BatchTaskCreateOptions(id="t", command_line="true"))
    batch_client.update_job("job-mode", m.BatchJobUpdateOptions(
        all_tasks_complete_mode="terminatejob"))
    assert batch_client.get_job("job-mode").all_tasks_complete_mode == "terminatejob"
    with pytest.raises(HttpResponseError) as err:
        batch_client.update_job("job-mode", m.BatchJobUpdateOptions(
            all_tasks_complete_mode="noaction"))
    assert err.value.status_code == 400 and err.value.error.code == "InvalidPropertyValue"
    with pytest.raises(HttpResponseError) as err:
        batch_client.update_job("job-mode", m.BatchJobUpdateOptions(
            constraints=m.BatchJobConstraints(max_wall_clock_time="two hours")))  # type: ignore
    assert err.value.status_code == 400


@pytest.mark.timeout(60)
def test_the_jobs_max_task_retry_count_applies_to_its_tasks(batch_client: Any) -> None:
    make_pool(batch_client, "pool-retry")
    make_job(batch_client, "job-retry", "pool-retry")
    batch_client.update_job("job-retry", m.BatchJobUpdateOptions(
        constraints=m.BatchJobConstraints(max_task_retry_count=2)))
    batch_client.create_task("job-retry", m.BatchTaskCreateOptions(id="f", command_line="false"))
    failed = task_in(batch_client, "job-retry", "f", "completed")
    assert failed.constraints.max_task_retry_count == 2
    assert failed.execution_info.retry_count == 2 and failed.execution_info.result == "failure"


# -- how a job ends ------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_terminatejob_completes_the_job_once_every_task_is_done(batch_client: Any) -> None:
    make_pool(batch_client, "pool-otc")
    make_job(batch_client, "job-otc", "pool-otc")  # noaction while tasks are added
    batch_client.create_tasks("job-otc", [
        m.BatchTaskCreateOptions(id=f"t{i}", command_line="sleep 0.3") for i in range(3)])
    batch_client.update_job("job-otc", m.BatchJobUpdateOptions(
        all_tasks_complete_mode="terminatejob"))
    job = job_in(batch_client, "job-otc", "completed")
    assert job.execution_info.termination_reason == "AllTasksComplete"
    assert job.execution_info.end_time is not None
    tasks = list(batch_client.list_tasks("job-otc"))
    assert all(t.state == "completed" for t in tasks)
    assert job.execution_info.end_time >= max(t.execution_info.end_time for t in tasks)
    with pytest.raises(ResourceExistsError) as err:
        batch_client.create_task("job-otc", m.BatchTaskCreateOptions(id="late",
                                                                     command_line="true"))
    assert err.value.error.code == "JobCompleted"


@pytest.mark.timeout(60)
def test_a_terminatejob_job_without_tasks_completes_as_the_docs_warn(batch_client: Any) -> None:
    # REST reference: "if a Job contains no Tasks, then all Tasks are considered complete"
    make_job(batch_client, "job-empty", "no-such-pool", all_tasks_complete_mode="terminatejob")
    job = job_in(batch_client, "job-empty", "completed")
    assert job.execution_info.termination_reason == "AllTasksComplete"


@pytest.mark.timeout(60)
def test_max_wall_clock_time_terminates_the_job_and_kills_running_tasks(
    batch_client: Any,
) -> None:
    make_pool(batch_client, "pool-wall", slots=1)
    make_job(batch_client, "job-wall", "pool-wall",
             constraints=m.BatchJobConstraints(max_wall_clock_time=dt.timedelta(seconds=2)))
    batch_client.create_task("job-wall", m.BatchTaskCreateOptions(id="long",
                                                                  command_line="sleep 60"))
    batch_client.create_task("job-wall", m.BatchTaskCreateOptions(id="queued",
                                                                  command_line="true"))
    task_in(batch_client, "job-wall", "long", "running")
    job = job_in(batch_client, "job-wall", "completed")
    assert job.execution_info.termination_reason == "MaxWallClockTimeExpiry"
    assert job.execution_info.end_time - job.creation_time >= dt.timedelta(seconds=2)
    long = batch_client.get_task("job-wall", "long")
    assert long.state == "completed" and long.execution_info.failure_info.code == "TaskEnded"
    assert long.execution_info.end_time - long.execution_info.start_time < dt.timedelta(seconds=30)
    # tasks that never started stay active, as the REST reference says
    assert batch_client.get_task("job-wall", "queued").state == "active"


@pytest.mark.timeout(60)
def test_terminate_takes_its_reason_from_the_request(batch_client: Any) -> None:
    make_job(batch_client, "job-why", "no-such-pool")
    batch_client.begin_terminate_job("job-why", terminate("myreason"),
                                     polling_interval=0.05).result()
    job = batch_client.get_job("job-why")
    assert job.state == "completed" and job.previous_state == "active"
    assert job.execution_info.termination_reason == "myreason"
    with pytest.raises(ResourceExistsError) as err:
        batch_client.begin_terminate_job("job-why", terminate("again"))
    assert err.value.error.code == "JobCompleted"


# -- disable and enable --------------------------------------------------------------------


def _running_job(client: Any, job_id: str, pool_id: str) -> None:
    make_job(client, job_id, pool_id)
    client.create_task(job_id, m.BatchTaskCreateOptions(
        id="run", command_line='/bin/sh -c "sleep 1; echo done"'))
    task_in(client, job_id, "run", "running")


@pytest.mark.timeout(90)
@pytest.mark.batch_emulator_knobs(job_transition_s=0.5)
def test_disable_requeue_puts_running_tasks_back_and_enable_runs_them_again(
    batch_client: Any, batch_emulator: BatchEmulator
) -> None:
    make_pool(batch_client, "pool-dis")
    _running_job(batch_client, "job-rq", "pool-dis")
    raw = Raw(batch_emulator)
    status, headers, body = raw.call("POST", "/jobs/job-rq/disable",
                                     body={"disableTasks": "requeue"})
    assert (status, body) == (202, b"") and "etag" in headers
    job = batch_client.get_job("job-rq")
    assert (job.state, job.previous_state) == ("disabling", "active")
    job = job_in(batch_client, "job-rq", "disabled")
    assert job.previous_state == "active", "disabling is not a previous state (recorded)"
    task = batch_client.get_task("job-rq", "run")
    assert task.state == "active" and task.execution_info.requeue_count == 1

    # while disabled no task starts, though the pool is free: a task of another job shows it
    batch_client.create_task("job-rq", m.BatchTaskCreateOptions(id="new", command_line="true"))
    make_job(batch_client, "job-other", "pool-dis")
    batch_client.create_task("job-other", m.BatchTaskCreateOptions(id="x", command_line="true"))
    task_in(batch_client, "job-other", "x", "completed")
    assert {t.state for t in batch_client.list_tasks("job-rq")} == {"active"}

    batch_client.begin_enable_job("job-rq", polling_interval=0.05).result()
    job = batch_client.get_job("job-rq")
    assert (job.state, job.previous_state) == ("active", "disabled")
    done = task_in(batch_client, "job-rq", "run", "completed")
    assert done.execution_info.result == "success"
    assert task_in(batch_client, "job-rq", "new", "completed").execution_info.result == "success"


@pytest.mark.timeout(90)
def test_disable_terminate_ends_running_tasks_and_wait_lets_them_finish(
    batch_client: Any,
) -> None:
    make_pool(batch_client, "pool-dis2")
    _running_job(batch_client, "job-term", "pool-dis2")
    _running_job(batch_client, "job-wait", "pool-dis2")
    batch_client.begin_disable_job("job-term", m.BatchJobDisableOptions(
        disable_tasks="terminate"), polling_interval=0.05).result()
    ended = batch_client.get_task("job-term", "run")
    assert ended.state == "completed" and ended.execution_info.failure_info.code == "TaskEnded"
    assert batch_client.get_job("job-term").state == "disabled"

    batch_client.begin_disable_job("job-wait", m.BatchJobDisableOptions(
        disable_tasks="wait"), polling_interval=0.05)
    assert batch_client.get_job("job-wait").state == "disabling"
    finished = task_in(batch_client, "job-wait", "run", "completed")
    assert finished.execution_info.result == "success", "wait let the task finish"
    job = job_in(batch_client, "job-wait", "disabled")
    assert job.state_transition_time >= finished.execution_info.end_time

    with pytest.raises(HttpResponseError) as err:
        batch_client.begin_disable_job("job-wait", m.BatchJobDisableOptions(disable_tasks="no"))
    assert err.value.status_code == 400
    batch_client.begin_terminate_job("job-wait", terminate("done"), polling_interval=0.05).result()
    with pytest.raises(ResourceExistsError) as err:
        batch_client.begin_disable_job("job-wait", m.BatchJobDisableOptions(disable_tasks="wait"))
    assert err.value.error.code == "JobNotActive"
    with pytest.raises(ResourceExistsError):
        batch_client.begin_enable_job("job-wait")
