"""What the emulator does on purpose: auth, faults, preemption, start task failure, constraints."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from typing import Any

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError

from tests.azure_world import BatchEmulator, EmulatorTraceback, start_batch_emulator, wait_for
from tests.batch_emulator.auth import authorization_header
from tests.integration.test_batch_emulator_sdk import pool_options


def _fast_client(emu: BatchEmulator, key: str | None = None) -> BatchClient:
    cred = AzureNamedKeyCredential(emu.account, key or emu.key)
    return BatchClient(
        emu.url, cred, retry_backoff_factor=0.01, retry_backoff_max=0.05, retry_total=20
    )


def _signed_get(emu: BatchEmulator, path: str) -> int:
    from email.utils import formatdate

    query = "api-version=2025-06-01"
    headers = {"ocp-date": formatdate(usegmt=True)}
    headers["Authorization"] = authorization_header(
        "GET", path, query, headers, emu.account, emu.key
    )
    req = urllib.request.Request(f"{emu.url}{path}?{query}", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _wait_idle(client: Any, pool_id: str, count: int, timeout_s: float = 20) -> list[Any]:
    def idle() -> Any:
        nodes = list(client.list_nodes(pool_id))
        return nodes if len(nodes) == count and all(n.state == "idle" for n in nodes) else None

    return wait_for(idle, timeout_s=timeout_s, interval_s=0.05, what=f"{count} idle nodes")


def _wait_task(client: Any, job: str, task: str, timeout_s: float = 30) -> Any:
    return wait_for(
        lambda: (t := client.get_task(job, task)).state == "completed" and t,
        timeout_s=timeout_s,
        interval_s=0.05,
        what=f"task {task} completed",
    )


def _job(client: Any, job_id: str, pool_id: str) -> None:
    client.create_job(
        m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id))
    )


# --- authentication -----------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_wrong_key_gets_403_authentication_failed(batch_emulator: BatchEmulator) -> None:
    wrong = base64.b64encode(b"not-the-right-key-not-the-right!").decode()
    client = _fast_client(batch_emulator, key=wrong)
    with pytest.raises(HttpResponseError) as err:
        client.get_pool("anything")
    assert err.value.status_code == 403
    assert err.value.error.code == "AuthenticationFailed"
    assert "\nRequestId:" in err.value.error.message
    assert [d.code for d in err.value.error.details] == ["AuthenticationErrorDetail"]
    # no retries on 403, and the right key works on the same server
    assert [r["status"] for r in batch_emulator.requests()] == [403]
    assert list(_fast_client(batch_emulator).list_pools()) == []


@pytest.mark.timeout(30)
def test_unsigned_request_is_refused(batch_emulator: BatchEmulator) -> None:
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{batch_emulator.url}/pools?api-version=2025-06-01", timeout=5)
    assert err.value.code == 401
    assert _signed_get(batch_emulator, "/pools") == 200


# --- injected faults ----------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_injected_5xx_rate_is_honoured_and_sdk_retries_succeed(
    batch_emulator: BatchEmulator,
) -> None:
    batch_emulator.set_knobs(fail_rate_5xx=0.3, seed=1234)
    statuses = [_signed_get(batch_emulator, "/pools") for _ in range(100)]
    failures = sum(1 for s in statuses if s in (500, 503))
    assert 15 <= failures <= 45, failures
    assert set(statuses) <= {200, 500, 503}
    assert {500, 503} <= set(statuses)

    batch_emulator.clear_requests()
    client = _fast_client(batch_emulator)
    client.create_pool(pool_options("pool-5xx", dedicated=1, slots=4))
    _job(client, "job-5xx", "pool-5xx")
    tasks = [m.BatchTaskCreateOptions(id=f"t{i}", command_line="true") for i in range(30)]
    client.create_tasks("job-5xx", tasks)
    assert len(list(client.list_tasks("job-5xx", select=["id"]))) == 30
    statuses = [r["status"] for r in batch_emulator.requests()]
    assert any(s in (500, 503) for s in statuses), statuses


@pytest.mark.timeout(60)
def test_dropped_connections_are_retried_by_the_sdk(batch_emulator: BatchEmulator) -> None:
    client = _fast_client(batch_emulator)
    client.create_pool(pool_options("pool-drop", dedicated=1))
    batch_emulator.set_knobs(drop_rate=0.3, seed=7)
    for _ in range(20):
        assert client.get_pool("pool-drop").id == "pool-drop"
    dropped = [r for r in batch_emulator.requests() if r.get("dropped")]
    assert dropped


# --- nodes --------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_failing_start_task_leaves_node_starttaskfailed_with_stderr(batch_client: Any) -> None:
    start = m.BatchStartTask(
        command_line='/bin/sh -c "echo ffmpeg missing >&2; exit 7"',
        wait_for_success=True,
        max_task_retry_count=1,
    )
    batch_client.create_pool(pool_options("pool-stf", dedicated=1, start_task=start))
    node = wait_for(
        lambda: [n for n in batch_client.list_nodes("pool-stf") if n.state == "starttaskfailed"],
        timeout_s=20,
        what="starttaskfailed",
    )[0]
    node = batch_client.get_node("pool-stf", node.id)
    info = node.start_task_info
    assert info.state == "completed" and info.result == "failure"
    assert info.exit_code == 7 and info.retry_count == 1
    assert info.failure_info.category == "usererror"
    assert info.failure_info.code == "FailureExitCode"
    stderr = b"".join(batch_client.download_node_file("pool-stf", node.id, "startup/stderr.txt"))
    assert stderr == b"ffmpeg missing\n"
    # a node that failed its start task gets no work: a task on a healthy pool, added after
    # it, runs to the end while it still waits
    _job(batch_client, "job-stf", "pool-stf")
    batch_client.create_task("job-stf", m.BatchTaskCreateOptions(id="t", command_line="true"))
    batch_client.create_pool(pool_options("pool-ok", dedicated=1))
    _job(batch_client, "job-ok", "pool-ok")
    batch_client.create_task("job-ok", m.BatchTaskCreateOptions(id="t", command_line="true"))
    _wait_task(batch_client, "job-ok", "t")
    assert batch_client.get_task("job-stf", "t").state == "active"


@pytest.mark.timeout(60)
@pytest.mark.batch_emulator_knobs(start_task_fails=True)
def test_start_task_fails_knob(batch_client: Any) -> None:
    start = m.BatchStartTask(command_line="ffmpeg -version", wait_for_success=True)
    batch_client.create_pool(pool_options("pool-knob", dedicated=2, start_task=start))
    nodes = wait_for(
        lambda: (
            (ns := list(batch_client.list_nodes("pool-knob")))
            and all(n.state == "starttaskfailed" for n in ns)
            and len(ns) == 2
            and ns
        ),
        timeout_s=20,
        what="both nodes starttaskfailed",
    )
    stderr = b"".join(
        batch_client.download_node_file("pool-knob", nodes[0].id, "startup/stderr.txt")
    )
    assert b"start_task_fails" in stderr


@pytest.mark.timeout(60)
@pytest.mark.batch_emulator_knobs(preempt_node_after_s=0.3)
def test_preempted_spot_node_requeues_running_task(batch_client: Any) -> None:
    batch_client.create_pool(pool_options("pool-spot", dedicated=0, spot=1, slots=1))
    nodes = _wait_idle(batch_client, "pool-spot", 1)
    assert nodes[0].is_dedicated is False
    _job(batch_client, "job-spot", "pool-spot")
    batch_client.create_task(
        "job-spot",
        m.BatchTaskCreateOptions(id="long", command_line='/bin/sh -c "sleep 1; echo finished"'),
    )
    seen_states: set[str] = set()

    def done() -> Any:
        seen_states.update(n.state for n in batch_client.list_nodes("pool-spot"))
        t = batch_client.get_task("job-spot", "long")
        return t if t.state == "completed" else None

    task = wait_for(done, timeout_s=30, interval_s=0.05, what="requeued task completed")
    assert "preempted" in seen_states
    assert task.execution_info.requeue_count == 1
    assert task.execution_info.result == "success"
    assert (
        b"".join(batch_client.download_task_file("job-spot", "long", "stdout.txt")) == b"finished\n"
    )


@pytest.mark.timeout(60)
def test_preempt_control_endpoint(batch_client: Any, batch_emulator: BatchEmulator) -> None:
    batch_client.create_pool(pool_options("pool-p2", dedicated=0, spot=1, slots=1))
    _wait_idle(batch_client, "pool-p2", 1)
    _job(batch_client, "job-p2", "pool-p2")
    batch_client.create_task("job-p2", m.BatchTaskCreateOptions(id="t", command_line="sleep 0.8"))
    wait_for(lambda: batch_client.get_task("job-p2", "t").state == "running", what="running")
    result = batch_emulator.preempt("pool-p2")
    assert result["requeuedTasks"] == ["t"]
    task = wait_for(
        lambda: (
            batch_client.get_task("job-p2", "t").state == "active"
            and batch_client.get_task("job-p2", "t")
        ),
        timeout_s=5,
        what="requeued",
    )
    assert task.execution_info.requeue_count == 1
    assert _wait_task(batch_client, "job-p2", "t").execution_info.result == "success"


@pytest.mark.timeout(60)
def test_resize_adds_and_removes_nodes(batch_client: Any) -> None:
    batch_client.create_pool(pool_options("pool-rs", dedicated=1))
    _wait_idle(batch_client, "pool-rs", 1)
    batch_client.begin_resize_pool(
        "pool-rs",
        m.BatchPoolResizeOptions(target_dedicated_nodes=2, target_low_priority_nodes=1),
        polling_interval=0.05,
    ).result()
    nodes = _wait_idle(batch_client, "pool-rs", 3)
    assert sorted(n.is_dedicated for n in nodes) == [False, True, True]
    pool = batch_client.get_pool("pool-rs")
    assert (pool.current_dedicated_nodes, pool.current_low_priority_nodes) == (2, 1)
    batch_client.begin_resize_pool(
        "pool-rs",
        m.BatchPoolResizeOptions(target_dedicated_nodes=1, target_low_priority_nodes=0),
        polling_interval=0.05,
    ).result()
    assert len(list(batch_client.list_nodes("pool-rs"))) == 1


# --- tasks --------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_task_environment_working_dir_and_no_shell(batch_client: Any) -> None:
    batch_client.create_pool(pool_options("pool-env", dedicated=1))
    _job(batch_client, "job-env", "pool-env")
    batch_client.create_task(
        "job-env",
        m.BatchTaskCreateOptions(
            id="env",
            command_line="env",
            environment_settings=[m.EnvironmentSetting(name="MY_SETTING", value="42")],
        ),
    )
    batch_client.create_task(
        "job-env", m.BatchTaskCreateOptions(id="noshell", command_line="echo $HOME ; rm -rf 'x y'")
    )
    batch_client.create_task("job-env", m.BatchTaskCreateOptions(id="pwd", command_line="pwd"))
    for t in ("env", "noshell", "pwd"):
        assert _wait_task(batch_client, "job-env", t).execution_info.result == "success"
    env = dict(
        line.split("=", 1)
        for line in b"".join(batch_client.download_task_file("job-env", "env", "stdout.txt"))
        .decode()
        .splitlines()
        if "=" in line
    )
    task = batch_client.get_task("job-env", "env")
    assert env["AZ_BATCH_JOB_ID"] == "job-env"
    assert env["AZ_BATCH_TASK_ID"] == "env"
    assert env["AZ_BATCH_POOL_ID"] == "pool-env"
    assert env["AZ_BATCH_NODE_ID"] == task.node_info.node_id
    assert env["AZ_BATCH_ACCOUNT_NAME"] == "emulatedbatch"
    assert env["AZ_BATCH_TASK_WORKING_DIR"].endswith("/env/wd")
    for name in (
        "AZ_BATCH_NODE_SHARED_DIR",
        "AZ_BATCH_NODE_STARTUP_DIR",
        "AZ_BATCH_TASK_DIR",
        "AZ_BATCH_NODE_ROOT_DIR",
    ):
        assert env[name].startswith("/")
    assert env["MY_SETTING"] == "42"
    assert "node-bin" in env["PATH"].split(":")[0]
    pwd = b"".join(batch_client.download_task_file("job-env", "pwd", "stdout.txt")).decode().strip()
    assert pwd == env["AZ_BATCH_TASK_WORKING_DIR"].replace("/env/wd", "/pwd/wd")
    out = b"".join(batch_client.download_task_file("job-env", "noshell", "stdout.txt"))
    assert out == b"$HOME ; rm -rf x y\n"


@pytest.mark.timeout(60)
def test_retries_wall_clock_missing_program_and_terminate(batch_client: Any) -> None:
    batch_client.create_pool(pool_options("pool-c", dedicated=1, slots=4))
    _job(batch_client, "job-c", "pool-c")
    batch_client.create_task(
        "job-c",
        m.BatchTaskCreateOptions(
            id="retry",
            command_line="false",
            constraints=m.BatchTaskConstraints(max_task_retry_count=2),
        ),
    )
    batch_client.create_task(
        "job-c",
        m.BatchTaskCreateOptions(
            id="slow",
            command_line="sleep 20",
            constraints=m.BatchTaskConstraints(max_wall_clock_time="PT0.5S"),
        ),
    )
    batch_client.create_task(
        "job-c", m.BatchTaskCreateOptions(id="missing", command_line="no-such-program-here --flag")
    )
    batch_client.create_task("job-c", m.BatchTaskCreateOptions(id="ended", command_line="sleep 20"))

    retry = _wait_task(batch_client, "job-c", "retry")
    assert retry.execution_info.retry_count == 2 and retry.execution_info.exit_code == 1
    slow = _wait_task(batch_client, "job-c", "slow", timeout_s=10)
    assert slow.execution_info.failure_info.code == "MaxWallClockTimeExceeded"
    missing = _wait_task(batch_client, "job-c", "missing")
    assert missing.execution_info.failure_info.code == "CommandProgramNotFound"
    wait_for(lambda: batch_client.get_task("job-c", "ended").state == "running", what="running")
    batch_client.terminate_task("job-c", "ended")
    ended = _wait_task(batch_client, "job-c", "ended", timeout_s=15)
    ran = ended.execution_info.end_time - ended.execution_info.start_time
    assert ran.total_seconds() < 15, "killed, not left to finish its sleep 20"
    assert ended.execution_info.result == "failure"
    assert ended.execution_info.failure_info.code == "TaskEnded"


@pytest.mark.timeout(60)
def test_task_slots_per_node_bound_concurrency(batch_client: Any) -> None:
    batch_client.create_pool(pool_options("pool-slots", dedicated=1, slots=2))
    _wait_idle(batch_client, "pool-slots", 1)
    _job(batch_client, "job-slots", "pool-slots")
    batch_client.create_tasks(
        "job-slots",
        [m.BatchTaskCreateOptions(id=f"t{i}", command_line="sleep 0.4") for i in range(6)],
    )
    peak = 0

    def all_done() -> bool:  # exact states from the list (task counts lag, as recorded)
        nonlocal peak
        states = [t.state for t in batch_client.list_tasks("job-slots", select=["id", "state"])]
        peak = max(peak, states.count("running"))
        return states.count("completed") == 6

    wait_for(all_done, timeout_s=20, interval_s=0.03, what="six tasks completed")
    assert peak == 2


# --- the test world tells the truth -------------------------------------------------------


@pytest.mark.timeout(30)
def test_an_emulator_traceback_fails_whoever_started_it(tmp_path: Any) -> None:
    emu = start_batch_emulator(root=str(tmp_path / "batch"))
    assert _signed_get(emu, "/pools") == 200
    with open(emu.stderr_path, "a") as err:  # what the emulator writes when a handler breaks
        err.write("Traceback (most recent call last):\n  ...\nKeyError: 'x'\n")
    with pytest.raises(EmulatorTraceback, match="KeyError"):
        emu.stop()
