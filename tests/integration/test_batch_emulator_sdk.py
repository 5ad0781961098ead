"""The real azure-batch 15.x SDK (sync and aio) against the Batch emulator."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from azure.batch import models as m
from azure.core.exceptions import ResourceNotFoundError

from tests.azure_world import BatchEmulator, wait_for

UBUNTU = m.VirtualMachineConfiguration(
    image_reference=m.BatchVmImageReference(
        publisher="canonical", offer="ubuntu-24_04-lts", sku="server", version="latest"
    ),
    node_agent_sku_id="batch.node.ubuntu 24.04",
)


def pool_options(
    pool_id: str,
    *,
    dedicated: int = 2,
    spot: int = 0,
    slots: int = 2,
    start_task: m.BatchStartTask | None = None,
) -> m.BatchPoolCreateOptions:
    return m.BatchPoolCreateOptions(
        id=pool_id,
        vm_size="standard_d2s_v3",
        virtual_machine_configuration=UBUNTU,
        target_dedicated_nodes=dedicated,
        target_low_priority_nodes=spot,
        task_slots_per_node=slots,
        start_task=start_task,
    )


def terminate_options() -> Any:
    # azure-batch 15.1.0: begin_terminate_job(id) without options raises ValueError.
    return m._models.BatchJobTerminateOptions(termination_reason="UserTerminate")


def node_states(client: Any, pool_id: str) -> list[str]:
    return [n.state for n in client.list_nodes(pool_id)]


@pytest.mark.timeout(90)
def test_sync_sdk_full_flow(batch_client: Any, batch_emulator: BatchEmulator) -> None:
    images = list(batch_client.list_supported_images())
    agents = {i.node_agent_sku_id for i in images}
    assert {"batch.node.ubuntu 22.04", "batch.node.ubuntu 24.04"} <= agents
    assert not any("18.04" in a for a in agents)

    start = m.BatchStartTask(
        command_line='/bin/sh -c "command -v ffmpeg && sleep 0.3"', wait_for_success=True
    )
    batch_client.create_pool(pool_options("pool-a", start_task=start))
    assert batch_client.pool_exists("pool-a")

    # Watch every node walk creating -> starting -> waitingforstarttask -> idle.
    seen: dict[str, list[str]] = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        nodes = list(batch_client.list_nodes("pool-a", select=["id", "state"]))
        for n in nodes:
            states = seen.setdefault(n.id, [])
            if not states or states[-1] != n.state:
                states.append(n.state)
        if len(nodes) == 2 and all(n.state == "idle" for n in nodes):
            break
        time.sleep(0.02)
    assert len(seen) == 2
    for states in seen.values():
        assert states == ["creating", "starting", "waitingforstarttask", "idle"], seen
    node = batch_client.get_node("pool-a", next(iter(seen)))
    assert node.start_task_info.exit_code == 0
    assert node.start_task_info.result == "success"
    pool = batch_client.get_pool("pool-a")
    assert pool.allocation_state == "steady" and pool.current_dedicated_nodes == 2

    batch_client.create_job(
        m.BatchJobCreateOptions(id="job-a", pool_info=m.BatchPoolInfo(pool_id="pool-a"))
    )
    batch_emulator.clear_requests()
    tasks = [
        m.BatchTaskCreateOptions(
            id=f"task-{i:03d}",
            command_line=(
                f'/bin/sh -c "echo out-{i}; echo err-{i} >&2; exit {1 if i % 50 == 7 else 0}"'
            ),
        )
        for i in range(250)
    ]
    result = batch_client.create_tasks("job-a", tasks)
    assert len(result.result_values) == 250
    assert {r.status for r in result.result_values} == {"success"} or all(
        str(r.status).lower() == "success" for r in result.result_values
    )
    calls = [r for r in batch_emulator.requests() if r["path"].endswith("/addtaskcollection")]
    assert len(calls) == 3 and all(c["status"] == 200 for c in calls)

    def all_done() -> Any:
        counts = batch_client.get_job_task_counts("job-a")
        return counts if counts.task_counts.completed == 250 else None

    counts = wait_for(all_done, timeout_s=60, interval_s=0.2, what="250 tasks completed")
    assert counts.task_counts.failed == 5 and counts.task_counts.succeeded == 245
    assert counts.task_slot_counts.completed == 250

    listed = list(
        batch_client.list_tasks("job-a", select=["id", "state"], filter="state eq 'completed'")
    )
    assert len(listed) == 250
    assert set(listed[0].keys()) == {"id", "state"}
    failed = list(
        batch_client.list_tasks(
            "job-a", select=["id", "executionInfo"], filter="executionInfo/result eq 'failure'"
        )
    )
    assert sorted(t.id for t in failed) == [f"task-{i:03d}" for i in range(7, 250, 50)]
    assert all(t.execution_info.exit_code == 1 for t in failed)
    assert failed[0].execution_info.failure_info.code == "FailureExitCode"

    task = batch_client.get_task("job-a", "task-007")
    assert task.state == "completed" and task.execution_info.result == "failure"
    assert task.node_info.pool_id == "pool-a" and task.node_info.node_id in seen
    stderr = b"".join(batch_client.download_task_file("job-a", "task-007", "stderr.txt"))
    assert stderr == b"err-7\n"
    props = batch_client.get_task_file_properties("job-a", "task-007", "stdout.txt")
    assert props.content_length == len(b"out-7\n")
    names = {f.name for f in batch_client.list_task_files("job-a", "task-007")}
    assert {"stdout.txt", "stderr.txt", "wd"} <= names

    batch_client.begin_terminate_job("job-a", terminate_options(), polling_interval=0.1).result()
    assert batch_client.get_job("job-a").state == "completed"
    batch_client.begin_delete_job("job-a", polling_interval=0.1).result()
    with pytest.raises(ResourceNotFoundError):
        batch_client.get_job("job-a")
    batch_client.begin_delete_pool("pool-a", polling_interval=0.1).result()
    with pytest.raises(ResourceNotFoundError):
        batch_client.get_pool("pool-a")
    # azure-batch 15.1.0 trap: pool_exists() raises instead of returning False.
    with pytest.raises(ResourceNotFoundError):
        batch_client.pool_exists("pool-a")


@pytest.mark.timeout(60)
def test_aio_sdk_flow(batch_emulator: BatchEmulator) -> None:
    from azure.batch.aio import BatchClient as AsyncBatchClient
    from azure.core.credentials import AzureNamedKeyCredential

    async def main() -> None:
        cred = AzureNamedKeyCredential(batch_emulator.account, batch_emulator.key)
        async with AsyncBatchClient(batch_emulator.url, cred) as client:
            images = [i async for i in client.list_supported_images()]
            assert any(i.node_agent_sku_id == "batch.node.ubuntu 22.04" for i in images)
            await client.create_pool(pool_options("pool-aio", dedicated=1, slots=4))
            while True:  # until the nodes are idle (the test's timeout bounds it)
                nodes = [n async for n in client.list_nodes("pool-aio")]
                if nodes and all(n.state == "idle" for n in nodes):
                    break
                await asyncio.sleep(0.05)
            await client.create_job(
                m.BatchJobCreateOptions(id="job-aio", pool_info=m.BatchPoolInfo(pool_id="pool-aio"))
            )
            tasks = [
                m.BatchTaskCreateOptions(id=f"t{i}", command_line=f"echo hello {i}")
                for i in range(120)
            ]
            result = await client.create_tasks("job-aio", tasks)
            assert len(result.result_values) == 120
            while True:  # until every task is done (the test's timeout bounds it)
                counts = await client.get_job_task_counts("job-aio")
                if counts.task_counts.completed == 120:
                    break
                await asyncio.sleep(0.05)
            assert counts.task_counts.succeeded == 120
            done = [
                t
                async for t in client.list_tasks(
                    "job-aio", filter="state eq 'completed'", select=["id"]
                )
            ]
            assert len(done) == 120
            stream = await client.download_task_file("job-aio", "t3", "stdout.txt")
            data = b"".join([chunk async for chunk in stream])
            assert data == b"hello 3\n"
            poller = await client.begin_terminate_job(
                "job-aio", terminate_options(), polling_interval=0.1
            )
            await poller.result()
            poller = await client.begin_delete_job("job-aio", polling_interval=0.1)
            await poller.result()
            poller = await client.begin_delete_pool("pool-aio", polling_interval=0.1)
            await poller.result()
            with pytest.raises(ResourceNotFoundError):
                await client.get_pool("pool-aio")

    asyncio.run(main())
    paths = {(r["method"], r["path"]) for r in batch_emulator.requests()}
    assert ("POST", "/jobs/job-aio/addtaskcollection") in paths


@pytest.mark.timeout(30)
def test_list_pages_with_absolute_next_link(
    batch_client: Any, batch_emulator: BatchEmulator
) -> None:
    batch_client.create_job(
        m.BatchJobCreateOptions(id="job-p", pool_info=m.BatchPoolInfo(pool_id="none"))
    )
    batch_client.create_tasks(
        "job-p", [m.BatchTaskCreateOptions(id=f"t{i:02d}", command_line="true") for i in range(25)]
    )
    batch_emulator.clear_requests()
    ids = [t.id for t in batch_client.list_tasks("job-p", max_results=10, select=["id"])]
    assert ids == [f"t{i:02d}" for i in range(25)]
    lists = [r for r in batch_emulator.requests() if r["path"] == "/jobs/job-p/tasks"]
    assert len(lists) == 3
    assert [r["query"].get("$skiptoken") is not None for r in lists] == [False, True, True]
    assert all(r["query"].get("$select") == "id" for r in lists)


@pytest.mark.timeout(30)
def test_existing_task_id_gets_task_exists(
    batch_client: Any, batch_emulator: BatchEmulator
) -> None:
    batch_client.create_job(
        m.BatchJobCreateOptions(id="job-x", pool_info=m.BatchPoolInfo(pool_id="none"))
    )
    batch_client.create_task("job-x", m.BatchTaskCreateOptions(id="dup", command_line="true"))
    result = batch_client.create_task_collection(
        "job-x",
        m.BatchTaskGroup(
            task_values=[
                m.BatchTaskCreateOptions(id="dup", command_line="true"),
                m.BatchTaskCreateOptions(id="new", command_line="true"),
            ]
        ),
    )
    by_id = {r.task_id: r for r in result.result_values}
    assert str(by_id["new"].status).lower() == "success"
    assert str(by_id["dup"].status).lower() == "clienterror"
    assert by_id["dup"].error.code == "TaskExists"
