"""Pools on the emulator through the real azure-batch SDK: auto pools, autoscale, node
counts, node timing fields, and the node_speed knob."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError, ResourceExistsError

from tests.azure_world import Azurite, BatchEmulator, make_test_mp4, wait_for
from tests.conformance.replay import Raw
from tests.integration.test_batch_emulator_ffmpeg import _read_sas
from tests.integration.test_batch_emulator_jobs import make_pool, task_in
from tests.integration.test_batch_emulator_sdk import UBUNTU, pool_options

GUID = r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}"


def auto_pool_job(client: Any, job_id: str, *, keep_alive: bool = False, prefix: str = "emu",
                  spot: int = 0, dedicated: int = 1, **pool: Any) -> str:
    spec = m.BatchPoolSpecification(
        vm_size="STANDARD_D2S_V3", virtual_machine_configuration=UBUNTU,
        target_dedicated_nodes=dedicated, target_low_priority_nodes=spot, **pool)
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(
        auto_pool_specification=m.BatchAutoPoolSpecification(
            auto_pool_id_prefix=prefix, pool_lifetime_option="job", keep_alive=keep_alive,
            pool=spec))))
    return str(client.get_job(job_id).execution_info.pool_id)


def idle_nodes(client: Any, pool_id: str, count: int) -> list[Any]:
    return wait_for(
        lambda: (ns := list(client.list_nodes(pool_id))) and len(ns) == count
        and all(n.state == "idle" for n in ns) and ns,
        timeout_s=20, what=f"{count} idle nodes in {pool_id}",
    )


# -- auto pools ----------------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_auto_pool_is_made_for_the_job_runs_its_tasks_and_goes_with_it(
    batch_client: Any, batch_emulator: BatchEmulator
) -> None:
    start = m.BatchStartTask(command_line="ffmpeg -version", wait_for_success=True)
    pool_id = auto_pool_job(
        batch_client, "job-auto", start_task=start,
        metadata=[m.BatchMetadataItem(name="batchgui", value="1")])
    assert re.fullmatch(rf"emu_{GUID}", pool_id), pool_id
    job = batch_client.get_job("job-auto")
    spec = job.pool_info.auto_pool_specification
    assert job.pool_info.pool_id is None, "an auto pool's id is in executionInfo only"
    assert spec.pool_lifetime_option == "job" and spec.keep_alive is False
    assert spec.pool.vm_size == "standard_d2s_v3", "echoed with the service's defaults"
    assert spec.pool.task_slots_per_node == 1
    assert spec.pool.resize_timeout == dt.timedelta(minutes=15)
    assert spec.pool.enable_auto_scale is False

    pool = batch_client.get_pool(pool_id)  # a pool like any other
    assert pool.metadata[0].name == "batchgui" and pool.start_task.command_line
    node = idle_nodes(batch_client, pool_id, 1)[0]
    assert node.start_task_info.exit_code == 0
    batch_client.create_task("job-auto", m.BatchTaskCreateOptions(id="t", command_line="true"))
    task = task_in(batch_client, "job-auto", "t", "completed")
    assert task.node_info.pool_id == pool_id and task.execution_info.result == "success"

    batch_client.begin_terminate_job("job-auto", m._models.BatchJobTerminateOptions(
        termination_reason="done"), polling_interval=0.05).result()
    wait_for(lambda: pool_id not in batch_emulator.state()["pools"], timeout_s=10,
             what="auto pool deleted with its job")


@pytest.mark.timeout(90)
def test_auto_pool_without_prefix_keep_alive_and_spot_preemption(
    batch_client: Any, batch_emulator: BatchEmulator
) -> None:
    plain = auto_pool_job(batch_client, "job-plain", prefix="", dedicated=0)
    assert re.fullmatch(GUID, plain), "an upper-case GUID, as recorded"
    batch_client.begin_delete_job("job-plain", polling_interval=0.05).result()
    wait_for(lambda: plain not in batch_emulator.state()["pools"], what="deleted with the job")

    kept = auto_pool_job(batch_client, "job-keep", keep_alive=True, dedicated=0, spot=1)
    spot = idle_nodes(batch_client, kept, 1)[0]
    assert spot.is_dedicated is False
    batch_client.create_task("job-keep", m.BatchTaskCreateOptions(
        id="long", command_line='/bin/sh -c "sleep 0.5; echo ok"'))
    task_in(batch_client, "job-keep", "long", "running")
    assert batch_emulator.preempt(kept)["requeuedTasks"] == ["long"]
    done = task_in(batch_client, "job-keep", "long", "completed")
    assert done.execution_info.requeue_count == 1 and done.execution_info.result == "success"
    batch_client.begin_delete_job("job-keep", polling_interval=0.05).result()
    assert batch_client.get_pool(kept).state == "active", "keepAlive: the user deletes it"

    with pytest.raises(HttpResponseError) as err:
        batch_client.create_job(m.BatchJobCreateOptions(id="job-sched", pool_info=m.BatchPoolInfo(
            auto_pool_specification=m.BatchAutoPoolSpecification(
                pool_lifetime_option="jobschedule",
                pool=m.BatchPoolSpecification(vm_size="standard_d2s_v3")))))
    assert err.value.status_code == 400


# -- autoscale -----------------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_enable_evaluate_and_disable_autoscale(
    batch_client: Any, batch_emulator: BatchEmulator
) -> None:
    make_pool(batch_client, "pool-as", nodes=1)
    batch_client.enable_pool_auto_scale("pool-as", m.BatchPoolEnableAutoScaleOptions(
        auto_scale_formula="$TargetDedicatedNodes = $CurrentDedicatedNodes + 1;",
        auto_scale_evaluation_interval=dt.timedelta(minutes=5)))
    pool = batch_client.get_pool("pool-as")
    assert pool.enable_auto_scale and pool.auto_scale_evaluation_interval == dt.timedelta(minutes=5)
    assert pool.auto_scale_run.results.startswith("$TargetDedicatedNodes=2;")
    idle_nodes(batch_client, "pool-as", 2)

    run = batch_client.evaluate_pool_auto_scale("pool-as", m.BatchPoolEvaluateAutoScaleOptions(
        auto_scale_formula="$TargetDedicatedNodes=3; $NodeDeallocationOption = taskcompletion"))
    assert run.results == (
        "$TargetDedicatedNodes=3;$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion"
    )
    assert run.error is None
    assert len(list(batch_client.list_nodes("pool-as"))) == 2, "evaluate applies nothing"

    raw = Raw(batch_emulator)  # a bad formula: 200, the error inside, values with `name`
    status, _, body = raw.call("POST", "/pools/pool-as/evaluateautoscale",
                               body={"autoScaleFormula": "$something_useless"})
    assert status == 200
    assert body["results"].startswith("$TargetDedicatedNodes=2;")
    assert body["error"]["code"] == "AutoScalingFormulaEvaluationError"
    assert body["error"]["values"] == [
        {"name": "Message", "value": "Line 1, Col 1: Undefined symbol: $something_useless"}]

    with pytest.raises(HttpResponseError) as err:  # a manual resize is refused meanwhile
        batch_client.begin_resize_pool("pool-as", m.BatchPoolResizeOptions(
            target_dedicated_nodes=5))
    assert err.value.status_code == 409
    batch_client.disable_pool_auto_scale("pool-as")
    pool = batch_client.get_pool("pool-as")
    assert not pool.enable_auto_scale and pool.auto_scale_formula is None
    assert pool.target_dedicated_nodes == 2, "the last targets stay"


@pytest.mark.timeout(90)
@pytest.mark.batch_emulator_knobs(autoscale_interval_s=0.2)
def test_autoscale_pool_follows_its_pending_tasks(batch_client: Any) -> None:
    batch_client.create_pool(m.BatchPoolCreateOptions(
        id="pool-grow", vm_size="standard_d2s_v3", virtual_machine_configuration=UBUNTU,
        enable_auto_scale=True, auto_scale_evaluation_interval=dt.timedelta(minutes=5),
        auto_scale_formula=(
            "$pending = $PendingTasks.GetSample(1);\n"
            "$TargetDedicatedNodes = min(3, $pending);  // one node per task, at most 3"
        )))
    pool = batch_client.get_pool("pool-grow")
    assert pool.target_dedicated_nodes == 0 and "$pending=0" in pool.auto_scale_run.results
    batch_client.create_job(m.BatchJobCreateOptions(
        id="job-grow", pool_info=m.BatchPoolInfo(pool_id="pool-grow")))
    batch_client.create_tasks("job-grow", [
        m.BatchTaskCreateOptions(id=f"t{i}", command_line="sleep 0.2") for i in range(5)])
    wait_for(lambda: batch_client.get_pool("pool-grow").current_dedicated_nodes == 3,
             timeout_s=20, what="grown to 3 nodes")
    wait_for(lambda: all(t.state == "completed" for t in batch_client.list_tasks("job-grow")),
             timeout_s=30, what="all tasks done")
    wait_for(lambda: batch_client.get_pool("pool-grow").current_dedicated_nodes == 0,
             timeout_s=20, what="shrunk to 0 nodes")


@pytest.mark.timeout(60)
def test_autoscale_settings_the_service_refuses(batch_client: Any) -> None:
    with pytest.raises(HttpResponseError) as err:
        batch_client.create_pool(m.BatchPoolCreateOptions(
            id="pool-bad", vm_size="standard_d2s_v3", enable_auto_scale=True,
            auto_scale_formula="$TargetDedicatedNodes = 1",
            auto_scale_evaluation_interval=dt.timedelta(minutes=1)))
    assert err.value.status_code == 400 and err.value.error.code == "InvalidPropertyValue"
    with pytest.raises(HttpResponseError) as err:
        batch_client.create_pool(m.BatchPoolCreateOptions(
            id="pool-bad", vm_size="standard_d2s_v3", enable_auto_scale=True,
            auto_scale_formula="$TargetDedicatedNodes = (1"))
    assert err.value.error.code == "AutoScalingFormulaSyntaxError"
    batch_client.create_pool(pool_options("pool-fixed", dedicated=0))
    with pytest.raises(ResourceExistsError):
        batch_client.evaluate_pool_auto_scale("pool-fixed", m.BatchPoolEvaluateAutoScaleOptions(
            auto_scale_formula="$TargetDedicatedNodes=1"))


# -- node counts and node timing -----------------------------------------------------------


@pytest.mark.timeout(60)
def test_node_counts_per_pool_and_state_with_paging(
    batch_client: Any, batch_emulator: BatchEmulator
) -> None:
    batch_client.create_pool(pool_options("pool-c1", dedicated=2, spot=1))
    batch_client.create_pool(pool_options("pool-c2", dedicated=1,
                                          start_task=m.BatchStartTask(command_line="sleep 60")))
    idle_nodes(batch_client, "pool-c1", 3)
    wait_for(lambda: [n.state for n in batch_client.list_nodes("pool-c2")]
             == ["waitingforstarttask"], what="c2 waiting for its start task")
    counts = {c.pool_id: c for c in batch_client.list_pool_node_counts()}
    c1, c2 = counts["pool-c1"], counts["pool-c2"]
    assert (c1.dedicated.idle, c1.dedicated.total) == (2, 2)
    assert (c1.low_priority.idle, c1.low_priority.total) == (1, 1)
    assert (c2.dedicated.waiting_for_start_task, c2.low_priority.total) == (1, 0)

    batch_emulator.clear_requests()
    paged = list(batch_client.list_pool_node_counts(max_results=1))
    assert [c.pool_id for c in paged] == ["pool-c1", "pool-c2"]
    assert len([r for r in batch_emulator.requests() if r["path"] == "/nodecounts"]) == 2
    only = list(batch_client.list_pool_node_counts(filter="poolId eq 'pool-c2'"))
    assert [c.pool_id for c in only] == ["pool-c2"]


@pytest.mark.timeout(60)
def test_nodes_report_the_times_needed_to_count_node_minutes(batch_client: Any) -> None:
    requested = dt.datetime.now(dt.UTC)
    batch_client.create_pool(pool_options("pool-time", dedicated=1, spot=1))
    for node in idle_nodes(batch_client, "pool-time", 2):
        assert requested <= node.allocation_time <= node.last_boot_time
        assert node.last_boot_time <= node.state_transition_time <= dt.datetime.now(dt.UTC)
    selected = list(batch_client.list_nodes("pool-time", select=["id", "allocationTime"]))
    assert all(n.allocation_time and n.last_boot_time is None for n in selected)


# -- node speed ----------------------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.batch_emulator_knobs(node_speed=2.0)
def test_node_speed_sets_how_long_a_task_takes_for_its_media(
    azurite: Azurite, blob_container: Any, batch_client: Any, tmp_path: Any
) -> None:
    urls = {}
    for seconds in (2, 6):
        clip = make_test_mp4(tmp_path / f"clip{seconds}.mp4", seconds=seconds)
        with open(clip, "rb") as fh:
            blob_container.upload_blob(f"clip{seconds}.mp4", fh)
        urls[seconds] = _read_sas(azurite, blob_container.container_name, f"clip{seconds}.mp4")
    make_pool(batch_client, "pool-speed", slots=4)
    batch_client.create_job(m.BatchJobCreateOptions(
        id="job-speed", pool_info=m.BatchPoolInfo(pool_id="pool-speed")))

    def task(task_id: str, seconds: int, **extra: Any) -> m.BatchTaskCreateOptions:
        return m.BatchTaskCreateOptions(
            id=task_id, command_line="true", resource_files=[
                m.ResourceFile(http_url=urls[seconds], file_path="in.mp4")], **extra)

    batch_client.create_tasks("job-speed", [
        task("short", 2), task("long", 6),
        task("double", 6, required_slots=2),
        task("limited", 6, constraints=m.BatchTaskConstraints(
            max_wall_clock_time=dt.timedelta(seconds=1)))])
    took = {}
    for name in ("short", "long", "double", "limited"):
        t = task_in(batch_client, "job-speed", name, "completed", timeout_s=60)
        took[name] = (t.execution_info.end_time - t.execution_info.start_time).total_seconds()
        if name != "limited":
            assert t.execution_info.result == "success", t.execution_info
    assert took["short"] >= 1.0, took  # 2 s of media at 2 media-seconds per second
    assert took["long"] >= 3.0, took
    assert took["double"] >= 1.5, took  # two slots convert twice as fast
    limited = batch_client.get_task("job-speed", "limited").execution_info
    assert limited.failure_info.code == "MaxWallClockTimeExceeded", "a node too slow for it"
    assert took["limited"] >= 1.0, took
