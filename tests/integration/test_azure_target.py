"""The Azure Batch target end to end: the real SDKs against Azurite and the Batch emulator.

Nothing is mocked: `batchgui convert --target azure` (a real process) or the same
core.Run in-process uploads to Azurite, creates a pool, job and tasks on the emulator,
whose nodes run ffmpeg for real through the SAS URLs the target made, and the MP3s come
back into the output folder. The emulator's request log tells which HTTP calls were made.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient
from mutagen.mp3 import MP3

from batchgui.core import media as core_media
from batchgui.core.ffmpeg import stderr_reason
from batchgui.core.models import (
    FileOutcome,
    FileStatus,
    RunResult,
    RunSnapshot,
    RunSpec,
    Stage,
)
from batchgui.core.run import Run
from batchgui.core.target import CancelToken
from batchgui.targets import registry
from batchgui.targets.azure.config import AzureAccount, PoolSettings
from batchgui.targets.azure.storage import CONTAINER, SINGLE_PUT_BYTES, RunStorage, file_md5
from batchgui.targets.azure.target import AzureBatchTarget
from tests.azure_world import Azurite, BatchEmulator, start_batch_emulator
from tests.integration.conftest import DEFAULT_TEST_KNOBS
from tests.media import MediaCache

ROOT = Path(__file__).resolve().parents[2]
ODD_NAMES = ['x"; touch INJECTED; echo ".mp4', "möte; 'del 2' & mer.mp4"]
FAST_POLL = "0.1,0.5"
CHECK_START = "ffmpeg -version"


# -- helpers ----------------------------------------------------------------------------


def found_under(root: Path, name: str) -> list[str]:
    """Paths named `name` under root. os.walk, unlike Path.rglob, steps over folders that
    vanish during the walk: the emulator deletes a finished auto pool's node folders on its
    own time, after the CLI has exited."""
    return [os.path.join(d, name) for d, dirs, files in os.walk(root) if name in dirs + files]


def azure_env(azurite: Azurite, emu: BatchEmulator, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AZURE_BATCH_ENDPOINT=emu.url,
        AZURE_BATCH_ACCOUNT=emu.account,
        AZURE_BATCH_ACCESS_KEY=emu.key,
        AZURE_STORAGE_CONNECTION_STRING=azurite.connection_string,
        BATCHGUI_AZURE_POLL=FAST_POLL,
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
    )
    env.update(extra)
    return env


def run_cli(args: list[str], env: dict[str, str], timeout: float = 90) -> tuple[
    subprocess.CompletedProcess[str], float
]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "batchgui", "convert", *args],
        env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )
    return proc, time.monotonic() - started


def account_for(azurite: Azurite, emu: BatchEmulator, key: str | None = None) -> AzureAccount:
    return AzureAccount(
        name="test",
        batch_url=emu.url,
        batch_account=emu.account,
        batch_key=key or emu.key,
        storage_connection_string=azurite.connection_string,
    )


def small_pool(**changes: Any) -> PoolSettings:
    values: dict[str, Any] = dict(
        dedicated_nodes=1, spot_nodes=0, slots_per_node=2, start_task=CHECK_START
    )
    values.update(changes)
    return PoolSettings(**values)


def run_in_process(
    paths: list[Path],
    output: Path,
    target: AzureBatchTarget,
    *,
    on_snapshot: Callable[[RunSnapshot], None] | None = None,
    cancel: CancelToken | None = None,
) -> RunResult:
    async def go() -> RunResult:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=target.parallelism + 8) as executor:
            found = await loop.run_in_executor(executor, core_media.find_inputs, paths)
            inputs = [core_media.probe(p, root) for p, root in found]
            spec = RunSpec(inputs=tuple(inputs), output_dir=output, target_name="azure")
            run = Run(spec, target, executor, cancel=cancel, on_snapshot=on_snapshot,
                      snapshot_interval=0.0)
            return await run.execute()

    return asyncio.run(go())


def run_blobs(azurite: Azurite) -> list[str]:
    """Every run container BatchGUI has in storage, and every blob in them (container/blob);
    also what is under the shared container of earlier versions."""
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    try:
        found = []
        for container in service.list_containers(name_starts_with="batchgui"):
            client = service.get_container_client(container.name)
            names = [f"{container.name}/{b.name}" for b in client.list_blobs()]
            found.extend(names or ([f"{container.name}/"] if container.name != CONTAINER
                                   else []))
        return found
    finally:
        service.close()


def calls(requests: list[dict[str, Any]], method: str, suffix: str,
          ok_only: bool = True) -> list[dict[str, Any]]:
    return [
        r for r in requests
        if r["method"] == method and r["path"].endswith(suffix)
        and (not ok_only or (r["status"] or 0) and r["status"] < 400)
    ]


def is_list_tasks(r: dict[str, Any]) -> bool:
    return r["method"] == "GET" and r["path"].startswith("/jobs/") and r["path"].endswith("/tasks")


def is_list_nodes(r: dict[str, Any]) -> bool:
    return r["method"] == "GET" and r["path"].startswith("/pools/") and r["path"].endswith("/nodes")


def assert_monitoring_calls(requests: list[dict[str, Any]], tasks: int) -> None:
    """Submission in ceil(n/100) calls; then each poll is one task list plus one node list.

    With injected faults a poll may lose one of its two lists (the poll then shows
    "reconnecting"), so the two counts may differ by the number of failed list calls.
    """
    ok = [r for r in requests if r["status"] and r["status"] < 400]
    adds = [r for r in ok if r["method"] == "POST" and r["path"].endswith("/addtaskcollection")]
    assert len(adds) == math.ceil(tasks / 100)
    first_add = requests.index(adds[0])
    after = requests[first_add:]
    task_lists = [r for r in after if is_list_tasks(r) and r in ok]
    node_lists = [r for r in after if is_list_nodes(r) and r in ok]
    failed_lists = [r for r in after if (is_list_tasks(r) or is_list_nodes(r)) and r not in ok]
    assert task_lists, "the run never looked at its tasks"
    assert abs(len(task_lists) - len(node_lists)) <= len(failed_lists)
    assert len(task_lists) < 100, "polls slow down while nothing changes"
    for r in task_lists + node_lists:
        assert "$select" in r["query"], r
    per_task = [r for r in ok if r["method"] == "GET" and "/tasks/" in r["path"]
                and not r["path"].endswith("/files/stderr.txt")]
    assert per_task == [], "no call may ask about one task at a time"


def mp3_seconds(path: Path) -> float:
    return float(MP3(path).info.length)


@pytest.fixture
def failing_ffmpeg_dir(tmp_path: Path) -> str:
    """A node PATH whose ffmpeg passes the start task check but fails every conversion."""
    folder = tmp_path / "bad-bin"
    folder.mkdir()
    script = folder / "ffmpeg"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-version" ]; then echo "ffmpeg version test"; exit 0; fi\n'
        'echo "some ffmpeg noise" >&2\n'
        'echo "in.mp4: Invalid data found when processing input (broken on purpose)" >&2\n'
        "exit 1\n"
    )
    script.chmod(0o755)
    return str(folder)


@pytest.fixture
def failing_emulator(failing_ffmpeg_dir: str, tmp_path: Path) -> Iterator[BatchEmulator]:
    emu = start_batch_emulator(path_dirs=[failing_ffmpeg_dir], root=str(tmp_path / "batch"),
                               **DEFAULT_TEST_KNOBS)
    try:
        yield emu
    finally:
        emu.stop()


# -- the CLI, end to end ----------------------------------------------------------------


@pytest.mark.timeout(120)
def test_cli_converts_odd_names_and_rejects_bad_inputs(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    good = {
        media.good(src / "plain.mp4", seconds=3.0): 3.0,
        media.good(src / ODD_NAMES[0], seconds=2.0): 2.0,
        media.good(src / ODD_NAMES[1], seconds=2.0): 2.0,
    }
    bad = [media.no_audio(src / "silent.mp4"), media.empty(src / "empty.mp4"),
           media.not_video(src / "notes.mp4")]
    report = tmp_path / "report.json"
    env = azure_env(azurite, batch_emulator)
    proc, took = run_cli(
        [str(src), "--output", str(out), "--target", "azure", "--report", str(report),
         "--start-task", CHECK_START, "--dedicated", "1", "--slots-per-node", "2"],
        env,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # 1: the bad inputs were not converted
    outcomes = {Path(o["input"]).name: o for o in json.loads(report.read_text())}
    for path, seconds in good.items():
        o = outcomes[path.name]
        assert o["status"] == "converted", o
        mp3 = Path(o["output"])
        assert mp3.parent == out and mp3.name == path.name[: -len(".mp4")] + ".mp3"
        assert abs(mp3_seconds(mp3) - seconds) < 0.5
    for path in bad:
        assert outcomes[path.name]["status"] == "rejected", outcomes[path.name]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name[: -len(".mp4")] + ".mp3" for p in good
    ), "only finished MP3s in the output folder, no part files"
    # the file name never reached a shell, on this computer or on the node
    assert not found_under(tmp_path, "INJECTED") and not (ROOT / "INJECTED").exists()
    # the run cleaned up after itself: no blobs, no job, no pool (the default is delete)
    assert run_blobs(azurite) == []
    state = batch_emulator.state()
    assert all(j["state"] in ("deleting",) for j in state["jobs"].values()) or not state["jobs"]
    assert all(p["state"] == "deleting" for p in state["pools"].values()) or not state["pools"]
    assert_monitoring_calls(batch_emulator.requests(), tasks=len(good))
    assert took < 60


@pytest.mark.timeout(120)
def test_cli_run_completes_with_ten_percent_server_errors_and_dropped_connections(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    names = [f"clip {i}.mp4" for i in range(6)]
    for name in names:
        media.good(src / name, seconds=2.0)
    batch_emulator.set_knobs(fail_rate_5xx=0.1, drop_rate=0.05, seed=7)
    batch_emulator.clear_requests()
    proc, _ = run_cli(
        [str(src), "--output", str(out), "--target", "azure", "--start-task", CHECK_START,
         "--dedicated", "2", "--slots-per-node", "2"],
        azure_env(azurite, batch_emulator),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(n[:-4] + ".mp3" for n in names)
    for mp3 in out.iterdir():
        assert abs(mp3_seconds(mp3) - 2.0) < 0.5
    requests = batch_emulator.requests()
    failed = [r for r in requests if r["status"] and r["status"] >= 500]
    assert failed, "the emulator should have answered some requests with 5xx"
    assert_monitoring_calls(requests, tasks=len(names))


# -- errors a user can meet -------------------------------------------------------------


@pytest.mark.timeout(60)
def test_wrong_batch_key_fails_fast_in_plain_words_before_any_upload(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    media.good(tmp_path / "in" / "a.mp4", seconds=1.0)
    wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktMzI="
    before = run_blobs(azurite)
    proc, took = run_cli(
        [str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--target", "azure",
         "--start-task", CHECK_START],
        azure_env(azurite, batch_emulator, AZURE_BATCH_ACCESS_KEY=wrong),
    )
    assert proc.returncode == 1
    assert "Azure Batch did not accept the Batch account key" in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert wrong not in proc.stdout + proc.stderr
    assert took < 15
    assert run_blobs(azurite) == before
    assert not list((tmp_path / "out").glob("*.mp3")) if (tmp_path / "out").exists() else True


@pytest.mark.timeout(60)
def test_wrong_storage_key_and_unreachable_batch_url_are_plain(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    media.good(tmp_path / "in" / "a.mp4", seconds=1.0)
    wrong_storage = azurite.connection_string.replace(azurite.account_key, "A" * 86 + "==")
    proc, took = run_cli(
        [str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--target", "azure"],
        azure_env(azurite, batch_emulator, AZURE_STORAGE_CONNECTION_STRING=wrong_storage),
    )
    assert proc.returncode == 1
    assert "Azure Storage did not accept the storage account key" in proc.stdout, proc.stdout
    assert took < 15

    from tests.azure_world import free_port

    proc, took = run_cli(
        [str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--target", "azure"],
        azure_env(azurite, batch_emulator,
                  AZURE_BATCH_ENDPOINT=f"http://127.0.0.1:{free_port()}"),
    )
    assert proc.returncode == 1
    assert "Could not connect to Azure Batch at 127.0.0.1:" in proc.stdout, proc.stdout
    assert took < 30


def test_missing_variables_are_named(tmp_path: Path, media: MediaCache) -> None:
    media.good(tmp_path / "a.mp4", seconds=1.0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    env["PYTHONPATH"] = str(ROOT)
    proc, _ = run_cli([str(tmp_path / "a.mp4"), "--output", str(tmp_path / "o"),
                       "--target", "azure"], env)
    assert proc.returncode == 2
    assert "AZURE_BATCH_ENDPOINT" in proc.stderr
    assert "AZURE_STORAGE_CONNECTION_STRING" in proc.stderr


def test_connection_check_reports_each_side(
    azurite: Azurite, batch_emulator: BatchEmulator
) -> None:
    assert registry.test_connection(account_for(azurite, batch_emulator)) == {
        "batch": "ok", "storage": "ok",
    }
    wrong = registry.test_connection(
        account_for(azurite, batch_emulator, key="d3Jvbmcta2V5LXdyb25nLWtleS0zMg==")
    )
    assert wrong["storage"] == "ok"
    assert wrong["batch"].startswith("Azure Batch did not accept the Batch account key")
    not_base64 = registry.test_connection(account_for(azurite, batch_emulator, key="not a key!"))
    assert "not valid" in not_base64["batch"]


# -- failures on the node ---------------------------------------------------------------


@pytest.mark.timeout(90)
def test_failed_task_shows_ffmpeg_stderr(
    azurite: Azurite, failing_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    src = tmp_path / "in"
    media.good(src / "a.mp4", seconds=1.0)
    target = AzureBatchTarget(account_for(azurite, failing_emulator), small_pool(),
                              poll_bounds=(0.1, 0.5))
    result = run_in_process([src], tmp_path / "out", target)
    [outcome] = result.outcomes
    assert outcome.status is FileStatus.FAILED
    explained = list(target.monitor._failed.values())
    assert explained and "some ffmpeg noise" in explained[-1].stderr_tail
    assert "broken on purpose" in explained[-1].stderr_tail
    # the reason is the same plain sentence "This computer" gives for that stderr
    assert outcome.reason == stderr_reason(explained[-1].stderr_tail)
    assert outcome.reason and "damaged" in outcome.reason.text
    assert explained[-1].retries == 2, "a failing task is retried twice before it counts"
    assert result.error is None
    assert run_blobs(azurite) == []


@pytest.mark.timeout(60)
@pytest.mark.batch_emulator_knobs(start_task_fails=True)
def test_start_task_failure_stops_the_run_at_once_with_its_stderr(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    media.good(tmp_path / "in" / "a.mp4", seconds=1.0)
    target = AzureBatchTarget(account_for(azurite, batch_emulator), small_pool(keep_pool=True),
                              poll_bounds=(0.1, 0.5))
    started = time.monotonic()
    result = run_in_process([tmp_path / "in"], tmp_path / "out", target)
    assert time.monotonic() - started < 30
    assert result.error is not None
    assert result.error.text.startswith("No node can run the conversions: the start task failed")
    assert "stderr said" in result.error.text
    assert "start task failed on purpose" in result.error.text  # the node's own stderr.txt
    # a pool whose nodes can't work is deleted even though the user asked to keep pools
    pools = batch_emulator.state()["pools"]
    assert all(p["state"] == "deleting" for p in pools.values()) or not pools
    assert run_blobs(azurite) == []


# -- what a user notices besides MP3s ---------------------------------------------------


@pytest.mark.timeout(90)
def test_upload_progress_blobs_only_for_accepted_files_and_pool_reuse(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    src = tmp_path / "in"
    media.good(src / "a.mp4", seconds=2.0)
    media.good(src / "b.mp4", seconds=2.0)
    media.empty(src / "empty.mp4")
    account = account_for(azurite, batch_emulator)
    seen_in_storage: list[str] = []
    uploads: list[float] = []

    def watch(snapshot: RunSnapshot) -> None:
        uploads.extend(t.progress for t in snapshot.tasks if t.status is FileStatus.UPLOADING)
        if snapshot.stage is Stage.MONITORING and not seen_in_storage:
            seen_in_storage.extend(run_blobs(azurite))

    first = AzureBatchTarget(account, small_pool(keep_pool=True), poll_bounds=(0.1, 0.5))
    result = run_in_process([src], tmp_path / "out1", first, on_snapshot=watch)
    assert [o.status for o in result.outcomes].count(FileStatus.DONE) == 2
    inputs = [n for n in seen_in_storage if "/in/" in n]
    assert len(inputs) == 2, seen_in_storage  # the empty file never went up
    # the run's own container, opaque names
    assert all(n.startswith(f"batchgui-{result.run_id}/in/f") for n in inputs)
    assert first.pool_id == "batchgui-pool"
    pools = batch_emulator.state()["pools"]
    assert pools["batchgui-pool"]["state"] == "active", "kept for the next run"

    batch_emulator.clear_requests()
    second = AzureBatchTarget(account, small_pool(keep_pool=True), poll_bounds=(0.1, 0.5))
    result = run_in_process([src / "a.mp4"], tmp_path / "out2", second)
    assert result.all_converted
    creates = calls(batch_emulator.requests(), "POST", "/pools")
    assert creates == [], "the matching pool was reused, not created again"
    assert batch_emulator.state()["pools"]["batchgui-pool"]["state"] == "active"


@pytest.mark.timeout(60)
def test_pool_with_other_settings_is_not_reused(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    media.good(tmp_path / "a.mp4", seconds=1.0)
    account = account_for(azurite, batch_emulator)
    keep = AzureBatchTarget(account, small_pool(keep_pool=True), poll_bounds=(0.1, 0.5))
    assert run_in_process([tmp_path / "a.mp4"], tmp_path / "o1", keep).all_converted
    other = AzureBatchTarget(account, small_pool(vm_size="standard_f4s_v2", keep_pool=True),
                             poll_bounds=(0.1, 0.5))
    assert run_in_process([tmp_path / "a.mp4"], tmp_path / "o2", other).all_converted
    used = str(other.pool_id)
    assert used.startswith("batchgui-pool-") and used != "batchgui-pool"
    pools = batch_emulator.state()["pools"]
    assert pools["batchgui-pool"]["state"] == "active"


@pytest.mark.timeout(60)
def test_cancel_cleans_up_job_blobs_and_pool(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path,
    failing_ffmpeg_dir: str,
) -> None:
    src = tmp_path / "in"
    media.good(src / "a.mp4", seconds=2.0)
    # a start task that never ends keeps the nodes starting, so the run is surely mid-way
    target = AzureBatchTarget(account_for(azurite, batch_emulator),
                              small_pool(start_task="sleep 30"), poll_bounds=(0.1, 0.5))
    cancel = CancelToken()

    def watch(snapshot: RunSnapshot) -> None:
        if snapshot.stage is Stage.MONITORING:
            cancel.cancel()

    result = run_in_process([src], tmp_path / "out", target, on_snapshot=watch, cancel=cancel)
    assert result.cancelled
    assert [o.status for o in result.outcomes] == [FileStatus.CANCELLED]
    assert run_blobs(azurite) == []
    state = batch_emulator.state()
    assert all(j["state"] == "deleting" for j in state["jobs"].values()) or not state["jobs"]
    assert all(p["state"] == "deleting" for p in state["pools"].values()) or not state["pools"]
    requests = batch_emulator.requests()
    assert calls(requests, "POST", "/terminate"), "running tasks were stopped"


def test_same_blob_is_not_uploaded_twice(azurite: Azurite, media: MediaCache,
                                         tmp_path: Path) -> None:
    account = AzureAccount(name="t", batch_url="http://unused", batch_account="unused",
                           storage_connection_string=azurite.connection_string)
    storage = RunStorage(account, container="md5-check")
    storage.ensure_container()
    clip = media.good(tmp_path / "a.mp4", seconds=1.0)
    seen: list[tuple[int, int]] = []
    assert storage.upload(clip, "run-x/in/f00000.mp4", progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (clip.stat().st_size, clip.stat().st_size)
    assert not storage.upload(clip, "run-x/in/f00000.mp4"), "same size and MD5: skipped"
    with open(clip, "ab") as fh:
        fh.write(b"\0")
    assert storage.upload(clip, "run-x/in/f00000.mp4"), "changed file: uploaded again"
    # a large file goes up in blocks, hashed while it is read, with the same MD5 check
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(SINGLE_PUT_BYTES + 3 * 1024 * 1024 + 17))
    seen.clear()
    assert storage.upload(big, "run-x/in/f00001.mp4", progress=lambda d, t: seen.append((d, t)),
                          block_concurrency=3)
    assert seen[-1] == (big.stat().st_size, big.stat().st_size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen), "progress only goes forward"
    props = storage.container_client.get_blob_client("run-x/in/f00001.mp4").get_blob_properties()
    assert bytes(props.content_settings.content_md5) == file_md5(big)
    assert not storage.upload(big, "run-x/in/f00001.mp4")
    downloaded = tmp_path / "back.bin"
    storage.download("run-x/in/f00001.mp4", downloaded)
    assert downloaded.read_bytes() == big.read_bytes()
    storage.delete_prefix("run-x/")
    assert storage.list_names("run-x/") == []
    storage.close()


def test_removing_many_blobs_takes_few_calls_and_a_missing_one_is_fine(
        azurite: Azurite) -> None:
    account = AzureAccount(name="t", batch_url="http://unused", batch_account="unused",
                           storage_connection_string=azurite.connection_string)
    storage = RunStorage(account, container="delete-many")
    storage.ensure_container()
    names = [f"run-y/in/f{i:05d}.mp4" for i in range(300)]
    for name in names:
        storage.container_client.upload_blob(name, b"v")
    calls: list[int] = []
    real = storage.container_client.delete_blobs

    def counted(*blobs: Any, **kw: Any) -> Any:
        calls.append(len(blobs))
        return real(*blobs, **kw)

    storage.container_client.delete_blobs = counted  # type: ignore[method-assign]
    storage.delete(names + ["run-y/in/never-there.mp4"])
    assert storage.list_names("run-y/") == []
    assert calls == [256, 45]  # one Blob Batch call each
    storage.close()


# -- the tasks as Batch sees them -------------------------------------------------------


@pytest.mark.timeout(60)
def test_tasks_get_least_privilege_urls_fixed_names_retries_and_limits(
    azurite: Azurite, batch_emulator: BatchEmulator, batch_client: Any, media: MediaCache,
    tmp_path: Path,
) -> None:
    from urllib.parse import parse_qs, urlparse

    src = tmp_path / "in"
    media.good(src / ODD_NAMES[0], seconds=2.0)
    media.good(src / "b.mp4", seconds=3.0)
    # nodes that never finish starting: the tasks stay queued where we can read them
    target = AzureBatchTarget(account_for(azurite, batch_emulator),
                              small_pool(start_task="sleep 60"), poll_bounds=(0.1, 0.5))
    tasks: list[Any] = []

    def watch(snapshot: RunSnapshot) -> None:
        if snapshot.stage is Stage.MONITORING and not tasks:
            tasks.extend(batch_client.list_tasks(snapshot.run_id))
            cancel.cancel()

    cancel = CancelToken()
    result = run_in_process([src], tmp_path / "out", target, on_snapshot=watch, cancel=cancel)
    assert result.cancelled and len(tasks) == 2
    for task in sorted(tasks, key=lambda t: t.id):
        assert task.command_line.startswith(
            "ffmpeg -hide_banner -nostdin -loglevel error -y -i in.mp4 -map 0:a:0 ")
        assert task.command_line.endswith(" out.mp3")
        assert "INJECTED" not in task.command_line and "b.mp4" not in task.command_line
        [resource] = task.resource_files
        assert resource.file_path == "in.mp4"
        url = urlparse(resource.http_url)
        assert url.path.endswith(f"/batchgui-{result.run_id}/in/{task.id}.mp4")
        sas = parse_qs(url.query)
        assert sas["sp"] == ["r"] and sas["sr"] == ["b"], "read-only, this one blob"
        expiry = sas["se"][0]
        outputs = {o.file_pattern: o for o in task.output_files}
        mp3 = outputs["out.mp3"]
        assert mp3.upload_options.upload_condition == "tasksuccess"
        assert mp3.destination.container.path == f"out/{task.id}.mp3"
        out_url = urlparse(mp3.destination.container.container_url)
        assert out_url.path.endswith(f"/batchgui-{result.run_id}"), "this run's container only"
        out_sas = parse_qs(out_url.query)
        assert out_sas["sp"] == ["cw"] and out_sas["sr"] == ["c"], "create/write only"
        logs = outputs["../std*.txt"]
        assert logs.upload_options.upload_condition == "taskcompletion"
        assert task.constraints.max_task_retry_count == 2
        assert task.constraints.max_wall_clock_time.total_seconds() >= 20 * 60
        # the SAS lives as long as the run may take, not a fixed 2 hours
        from datetime import UTC, datetime

        lifetime = datetime.fromisoformat(expiry.replace("Z", "+00:00")) - datetime.now(UTC)
        assert lifetime.total_seconds() > 3 * 3600 - 120


@pytest.fixture
def silent_ffmpeg_dir(tmp_path: Path) -> str:
    """A node PATH whose ffmpeg 'succeeds' (exit 0) but writes nothing."""
    folder = tmp_path / "silent-bin"
    folder.mkdir()
    script = folder / "ffmpeg"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    return str(folder)


def one_file_on_nodes_with(ffmpeg_dir: str, azurite: Azurite, media: MediaCache,
                           tmp_path: Path, seconds: float) -> FileOutcome:
    """How one clip of `seconds` ends on an emulated pool whose nodes run this ffmpeg."""
    emu = start_batch_emulator(path_dirs=[ffmpeg_dir], root=str(tmp_path / "batch"),
                               **DEFAULT_TEST_KNOBS)
    try:
        media.good(tmp_path / "in" / "a.mp4", seconds=seconds)
        target = AzureBatchTarget(account_for(azurite, emu), small_pool(),
                                  poll_bounds=(0.1, 0.5))
        result = run_in_process([tmp_path / "in"], tmp_path / "out", target)
    finally:
        emu.stop()
    [outcome] = result.outcomes
    return outcome


@pytest.mark.timeout(60)
def test_exit_code_zero_without_an_mp3_is_a_failure(
    azurite: Azurite, silent_ffmpeg_dir: str, media: MediaCache, tmp_path: Path
) -> None:
    outcome = one_file_on_nodes_with(silent_ffmpeg_dir, azurite, media, tmp_path, seconds=1.0)
    assert outcome.status is FileStatus.FAILED
    assert str(outcome.reason) == "ffmpeg reported success, but no MP3 came back from the node"
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


@pytest.mark.timeout(60)
@pytest.mark.batch_emulator_knobs(preempt_node_after_s=0.02, preempt_recover_s=1.0)
def test_spot_node_taken_back_mid_task_still_converts(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    media.good(tmp_path / "in" / "a.mp4", seconds=12.0)  # long enough to be caught
    states: set[str] = set()

    def watch(snapshot: RunSnapshot) -> None:
        states.update(str(n.state) for n in snapshot.nodes)

    target = AzureBatchTarget(account_for(azurite, batch_emulator),
                              small_pool(dedicated_nodes=0, spot_nodes=1),
                              poll_bounds=(0.05, 0.1))
    result = run_in_process([tmp_path / "in"], tmp_path / "out", target, on_snapshot=watch)
    assert result.all_converted, result
    [outcome] = result.outcomes
    assert outcome.output is not None and abs(mp3_seconds(outcome.output) - 12.0) < 0.5
    assert "preempted" in states, states  # the node grid showed it being taken back


@pytest.mark.timeout(60)
def test_submission_in_chunks_of_100_and_task_exists_is_success(
    batch_emulator: BatchEmulator, batch_client: Any
) -> None:
    from azure.batch import models as bm

    from batchgui.targets.azure.batch import BatchService

    account = AzureAccount(name="t", batch_url=batch_emulator.url,
                           batch_account=batch_emulator.account, batch_key=batch_emulator.key)
    service = BatchService(account)
    choice = service.ensure_pool(small_pool(dedicated_nodes=1, start_task="sleep 60"))
    on_pool = bm.BatchPoolInfo(pool_id=choice.pool_id)
    limit = timedelta(hours=1)
    service.create_job("run-chunks", on_pool, run_id="run-chunks", max_wall_clock=limit)
    # again: JobExists is fine (a resume, or a retried call that had gone through)
    service.create_job("run-chunks", on_pool, run_id="run-chunks", max_wall_clock=limit)
    tasks = [bm.BatchTaskCreateOptions(id=f"f{i:05d}", command_line="ffmpeg -version")
             for i in range(250)]
    batch_emulator.clear_requests()
    calls_made = service.add_tasks("run-chunks", tasks, deadline=time.monotonic() + 60)
    assert calls_made == 3
    # a resubmission (a retried call that had gone through, or a resumed run) is no error
    assert service.add_tasks("run-chunks", tasks[:120], deadline=time.monotonic() + 60) == 2
    adds = calls(batch_emulator.requests(), "POST", "/addtaskcollection")
    assert len(adds) == 5
    listed = service.list_tasks("run-chunks")
    assert sorted(t.id for t in listed) == [t.id for t in tasks]
    service.delete_job("run-chunks")
    service.delete_pool(choice.pool_id)
    service.close()


@pytest.mark.timeout(60)
def test_submission_gives_up_at_its_deadline_instead_of_retrying_forever(
    batch_emulator: BatchEmulator,
) -> None:
    from azure.batch import models as bm

    from batchgui.targets.azure.batch import BatchService, SubmitTimeout

    account = AzureAccount(name="t", batch_url=batch_emulator.url,
                           batch_account=batch_emulator.account, batch_key=batch_emulator.key)
    service = BatchService(account)
    choice = service.ensure_pool(small_pool(start_task="sleep 60"))
    service.create_job("run-busy", bm.BatchPoolInfo(pool_id=choice.pool_id), run_id="run-busy",
                       max_wall_clock=timedelta(hours=1))
    batch_emulator.set_knobs(fail_rate_5xx=1.0)  # the service answers nothing but 5xx
    started = time.monotonic()
    with pytest.raises(SubmitTimeout):
        service.add_tasks(
            "run-busy",
            [bm.BatchTaskCreateOptions(id="f00000", command_line="ffmpeg -version")],
            deadline=time.monotonic() + 3,
        )
    assert time.monotonic() - started < 15
    batch_emulator.set_knobs(fail_rate_5xx=0.0)
    service.close()


@pytest.mark.timeout(60)
def test_kept_pool_runs_a_current_ubuntu_and_carries_our_marks(
    azurite: Azurite, batch_emulator: BatchEmulator, batch_client: Any, media: MediaCache,
    tmp_path: Path,
) -> None:
    media.good(tmp_path / "a.mp4", seconds=1.0)
    account = account_for(azurite, batch_emulator)
    first = AzureBatchTarget(account, small_pool(keep_pool=True), poll_bounds=(0.1, 0.5))
    assert run_in_process([tmp_path / "a.mp4"], tmp_path / "o1", first).all_converted
    pool = batch_client.get_pool("batchgui-pool")
    agent = pool.virtual_machine_configuration.node_agent_sku_id
    assert agent == "batch.node.ubuntu 24.04", agent  # the newest verified, not 18.04
    meta = {m.name: m.value for m in pool.metadata}
    assert meta["batchgui"] == "1" and len(meta["batchgui-fingerprint"]) == 16
    assert batch_emulator.state()["pools"]["batchgui-pool"]["state"] == "active"


def test_pool_without_nodes_is_refused_before_anything_starts(tmp_path: Path,
                                                             media: MediaCache) -> None:
    media.good(tmp_path / "a.mp4", seconds=1.0)
    env = dict(os.environ, AZURE_BATCH_ENDPOINT="http://127.0.0.1:9", AZURE_BATCH_ACCOUNT="a",
               AZURE_BATCH_ACCESS_KEY="QUJD",
               AZURE_STORAGE_CONNECTION_STRING="UseDevelopmentStorage=true",
               PYTHONPATH=str(ROOT))
    proc, _ = run_cli([str(tmp_path / "a.mp4"), "--output", str(tmp_path / "o"), "--target",
                       "azure", "--dedicated", "0", "--spot", "0"], env)
    assert proc.returncode == 2
    assert "The pool needs at least one node" in proc.stderr


@pytest.mark.timeout(60)
def test_nodes_that_never_get_ready_stop_the_run_after_the_limit(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    media.good(tmp_path / "a.mp4", seconds=1.0)
    target = AzureBatchTarget(account_for(azurite, batch_emulator),
                              small_pool(start_task="sleep 30"), poll_bounds=(0.1, 0.3),
                              node_wait_limit_s=1.5)
    started = time.monotonic()
    result = run_in_process([tmp_path / "a.mp4"], tmp_path / "out", target)
    assert time.monotonic() - started < 15
    assert result.error is not None and "became ready in" in result.error.text
    assert "start task may be stuck" in result.error.text and result.error.code == "no_node_ready"


def test_cli_pool_options_reach_the_target(monkeypatch: pytest.MonkeyPatch) -> None:
    from batchgui.cli import build_parser

    monkeypatch.setenv("AZURE_BATCH_ENDPOINT", "acct.westeurope.batch.azure.com")
    monkeypatch.setenv("AZURE_BATCH_ACCOUNT", "acct")
    monkeypatch.setenv("AZURE_BATCH_ACCESS_KEY", "QUJD")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true")
    args = build_parser().parse_args([
        "convert", "x.mp4", "-o", "out", "--target", "azure", "--pool-id", "mine",
        "--vm-size", "standard_f4s_v2", "--dedicated", "0", "--spot", "3",
        "--slots-per-node", "4", "--start-task", "ffmpeg -version", "--keep-pool",
    ])
    target = registry.make_target("azure", args)
    assert isinstance(target, AzureBatchTarget)
    assert target.pool == PoolSettings(
        pool_id="mine", vm_size="standard_f4s_v2", dedicated_nodes=0, spot_nodes=3,
        slots_per_node=4, start_task="ffmpeg -version", keep_pool=True,
    )
    assert target.parallelism == 12
    assert target.account.batch_url == "https://acct.westeurope.batch.azure.com"
    defaults = registry.make_target("azure", build_parser().parse_args(
        ["convert", "x.mp4", "-o", "out", "--target", "azure"]))
    assert isinstance(defaults, AzureBatchTarget) and defaults.pool == PoolSettings()
    assert "QUJD" not in repr(target.account)


def path_without(programs: set[str], path: str, shadows: Path) -> str:
    """PATH with the same programs, except `programs`: each folder holding one of them is
    replaced by a folder of links to everything else in it."""
    folders = []
    for i, folder in enumerate(p for p in path.split(os.pathsep) if p):
        here = Path(folder)
        if not any((here / name).exists() for name in programs):
            folders.append(folder)
            continue
        shadow = shadows / str(i)
        shadow.mkdir(parents=True)
        for entry in here.iterdir():
            if entry.name not in programs:
                (shadow / entry.name).symlink_to(entry)
        folders.append(str(shadow))
    return os.pathsep.join(folders)


@pytest.mark.timeout(60)
def test_node_without_ffmpeg_says_so(
    azurite: Azurite, media: MediaCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs wherever ffmpeg is installed too (it once skipped there)."""
    # The emulator's nodes see its own PATH: start it with one that has no ffmpeg, even on
    # a machine where ffmpeg is installed.
    node_path = path_without({"ffmpeg", "ffprobe"}, os.environ.get("PATH", ""),
                             tmp_path / "path")
    assert shutil.which("ffmpeg", path=node_path) is None
    empty_path = tmp_path / "no-ffmpeg"
    empty_path.mkdir()
    with monkeypatch.context() as patch:
        patch.setenv("PATH", node_path)
        emu = start_batch_emulator(path_dirs=[str(empty_path)], root=str(tmp_path / "batch"),
                                   **DEFAULT_TEST_KNOBS)
    try:
        media.good(tmp_path / "in" / "a.mp4", seconds=1.0)
        target = AzureBatchTarget(account_for(azurite, emu), small_pool(start_task="true"),
                                  poll_bounds=(0.1, 0.5))
        result = run_in_process([tmp_path / "in"], tmp_path / "out", target)
    finally:
        emu.stop()
    [outcome] = result.outcomes
    assert outcome.status is FileStatus.FAILED
    assert outcome.reason is not None and outcome.reason.code == "ffmpeg_missing"
    assert outcome.reason.text == (
        "ffmpeg is not installed on the node (check the pool's start task)")


@pytest.fixture
def truncating_ffmpeg_dir(tmp_path: Path) -> str:
    """A node PATH whose ffmpeg converts for real, then cuts the MP3 to half its size:
    exit 0 and an MP3, but a short one (a disk that filled up, a node that lied)."""
    from batchgui.core.ffmpeg import ffmpeg_exe

    folder = tmp_path / "truncating-bin"
    folder.mkdir()
    script = folder / "ffmpeg"
    script.write_text(
        "#!/bin/sh\n"
        f'"{ffmpeg_exe()}" "$@" || exit $?\n'
        '[ "$1" = "-version" ] && exit 0\n'
        'for last; do :; done\n'
        'size=$(wc -c < "$last")\n'
        'head -c $((size / 2)) "$last" > "$last.cut" && mv "$last.cut" "$last"\n'
    )
    script.chmod(0o755)
    return str(folder)


@pytest.mark.timeout(90)
def test_a_truncated_mp3_from_the_node_fails_that_file_plainly(
    azurite: Azurite, truncating_ffmpeg_dir: str, media: MediaCache, tmp_path: Path
) -> None:
    outcome = one_file_on_nodes_with(truncating_ffmpeg_dir, azurite, media, tmp_path,
                                     seconds=20.0)
    assert outcome.status is FileStatus.FAILED
    assert outcome.reason is not None and outcome.reason.text.startswith("the MP3 is cut short: ")
    assert outcome.reason.text.endswith("of 20.0 s") and outcome.reason.code == "mp3_cut_short"
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    assert run_blobs(azurite) == []
