"""Lists on the emulator: OData $filter/$select as the Batch REST reference documents them,
the times every task carries, and task counts that lag like the service's."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError

from tests.azure_world import BatchEmulator, wait_for
from tests.conformance.replay import Raw
from tests.integration.test_batch_emulator_jobs import make_job, make_pool, task_in
from tests.integration.test_batch_emulator_sdk import pool_options


def ids(items: Any) -> list[str]:
    return sorted(i.id for i in items)


def odata_time(t: dt.datetime) -> str:
    """As a .NET client writes it (`{0:o}`): seven fraction digits."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


@pytest.mark.timeout(60)
def test_task_filters_on_state_and_transition_times(batch_client: Any) -> None:
    make_pool(batch_client, "pool-f", slots=2)
    make_job(batch_client, "job-f", "pool-f")
    batch_client.create_tasks("job-f", [
        m.BatchTaskCreateOptions(id="a", command_line="true"),
        m.BatchTaskCreateOptions(id="b", command_line="false")])
    first = task_in(batch_client, "job-f", "a", "completed")
    task_in(batch_client, "job-f", "b", "completed")
    batch_client.create_task("job-f", m.BatchTaskCreateOptions(id="c", command_line="sleep 30"))
    task_in(batch_client, "job-f", "c", "running")

    def listed(flt: str) -> list[str]:
        return ids(batch_client.list_tasks("job-f", filter=flt, select=["id"]))

    assert listed("state eq 'completed'") == ["a", "b"]
    assert listed("state eq 'Completed'") == ["a", "b"], "values are case-insensitive"
    assert listed("state ne 'completed'") == ["c"]
    when = first.state_transition_time
    assert "a" in listed(f"stateTransitionTime ge datetime'{odata_time(when)}'")
    assert "a" not in listed(f"stateTransitionTime gt datetime'{odata_time(when)}'")
    later = listed(f"stateTransitionTime gt DateTime'{odata_time(when)}'")
    assert "c" in later
    rfc = (when - dt.timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert listed(f"stateTransitionTime gt DateTime'{rfc}'") == ["a", "b", "c"]
    assert listed("state eq 'completed' and executionInfo/exitCode eq 0") == ["a"]
    assert listed("executionInfo/result eq 'failure' or state eq 'running'") == ["b", "c"]
    assert listed("(state eq 'running' or id eq 'a') and startswith(id, 'c')") == ["c"]
    assert listed("not (state eq 'completed')") == ["c"]

    for bad in ("State eq 'completed'", "endswith(id, 'a')", "state eq", "id eq datetime'x'"):
        with pytest.raises(HttpResponseError) as err:
            list(batch_client.list_tasks("job-f", filter=bad))
        assert err.value.status_code == 400, bad
        assert err.value.error.code == "InvalidQueryParameterValue"


@pytest.mark.timeout(60)
def test_job_and_pool_filters_and_select_everywhere(
    batch_client: Any, batch_emulator: BatchEmulator
) -> None:
    for pool_id in ("x-pool", "y-pool"):
        batch_client.create_pool(pool_options(pool_id, dedicated=0))
    make_job(batch_client, "x-job", "x-pool")
    make_job(batch_client, "y-job", "y-pool")
    batch_client.begin_terminate_job("y-job", m._models.BatchJobTerminateOptions(
        termination_reason="done"), polling_interval=0.05).result()
    assert ids(batch_client.list_jobs(filter="state eq 'active'")) == ["x-job"]
    assert ids(batch_client.list_jobs(filter="startswith(id,'y')")) == ["y-job"]
    assert ids(batch_client.list_jobs(filter="executionInfo/terminateReason eq 'done'")) == [
        "y-job"]
    assert ids(batch_client.list_pools(filter="startswith(id,'x') and state eq 'active'")) == [
        "x-pool"]

    raw = Raw(batch_emulator)
    _, _, body = raw.call("GET", "/jobs", {"api-version": "2025-06-01",
                                            "$select": "id,executionInfo"})
    assert all(set(j) == {"id", "executionInfo"} for j in body["value"])
    assert {j["executionInfo"].get("terminateReason") for j in body["value"]} == {None, "done"}
    _, _, one = raw.call("GET", "/pools/x-pool", {"api-version": "2025-06-01",
                                                  "$select": "id,state"})
    assert set(one) == {"odata.metadata", "id", "state"}
    job = batch_client.get_job("y-job", select=["id", "executionInfo"])
    assert job.execution_info.termination_reason == "done" and job.state is None
    for select in ("executionInfo/terminateReason", "id,nosuchproperty"):
        status, _, err = raw.call("GET", "/jobs", {"api-version": "2025-06-01",
                                                   "$select": select})
        assert status == 400 and err["code"] == "InvalidQueryParameterValue", select


@pytest.mark.timeout(60)
def test_task_times_follow_the_service_clock_and_only_clients_change_etags(
    batch_client: Any,
) -> None:
    make_pool(batch_client, "pool-t")
    make_job(batch_client, "job-t", "pool-t")
    batch_client.begin_disable_job("job-t", m.BatchJobDisableOptions(disable_tasks="wait"),
                                   polling_interval=0.05).result()  # the task waits for us
    before = dt.datetime.now(dt.UTC)
    batch_client.create_task("job-t", m.BatchTaskCreateOptions(id="t", command_line="true"))
    created = batch_client.get_task("job-t", "t")
    assert before <= created.creation_time <= dt.datetime.now(dt.UTC)
    assert created.last_modified == created.creation_time == created.state_transition_time
    assert created.previous_state is None and created.state == "active"
    batch_client.begin_enable_job("job-t", polling_interval=0.05).result()
    done = task_in(batch_client, "job-t", "t", "completed")
    assert done.previous_state == "running"
    assert created.state_transition_time <= done.previous_state_transition_time
    assert done.previous_state_transition_time <= done.state_transition_time
    assert done.execution_info.start_time >= done.previous_state_transition_time
    # the service's own moves (active -> running -> completed) keep eTag and lastModified
    assert (done.etag, done.last_modified) == (created.etag, created.last_modified)
    batch_client.replace_task("job-t", "t", m.BatchTask(
        constraints=m.BatchTaskConstraints(max_task_retry_count=1)))
    updated = batch_client.get_task("job-t", "t")
    assert updated.etag != done.etag and updated.last_modified > done.last_modified
    assert updated.state_transition_time == done.state_transition_time


@pytest.mark.timeout(60)
@pytest.mark.batch_emulator_knobs(task_counts_lag_s=1.5)
def test_task_counts_lag_behind_like_the_service_and_count_slots(
    batch_client: Any, batch_emulator: BatchEmulator
) -> None:
    make_pool(batch_client, "pool-n", slots=4)
    make_job(batch_client, "job-n", "pool-n")
    batch_client.create_tasks("job-n", [
        m.BatchTaskCreateOptions(id="one", command_line="true"),
        m.BatchTaskCreateOptions(id="two", command_line="false", required_slots=2),
        m.BatchTaskCreateOptions(id="wait", command_line="sleep 30", required_slots=2)])
    fresh = batch_client.get_job_task_counts("job-n")
    assert fresh.task_counts.active + fresh.task_counts.running == 0, "counts lag (recorded)"
    task_in(batch_client, "job-n", "one", "completed")
    task_in(batch_client, "job-n", "two", "completed")
    task_in(batch_client, "job-n", "wait", "running")
    counts = wait_for(lambda: (c := batch_client.get_job_task_counts("job-n"))
                      .task_counts.completed == 2 and c, timeout_s=10, what="counts caught up")
    assert counts.task_counts.as_dict() == {
        "active": 0, "running": 1, "completed": 2, "succeeded": 1, "failed": 1}
    assert counts.task_slot_counts.as_dict() == {
        "active": 0, "running": 2, "completed": 3, "succeeded": 1, "failed": 2}
