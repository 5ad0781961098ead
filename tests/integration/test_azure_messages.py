"""One problem, one message, on Azure: what a user reads when the whole run can't go on
(issue 14). Real `batchgui convert` processes against Azurite and the Batch emulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from tests.azure_world import Azurite, BatchEmulator
from tests.integration.test_azure_target import CHECK_START, azure_env, run_cli
from tests.media import MediaCache

NAMES = [f"clip{i}.mp4" for i in range(5)]


def everything_in_storage(azurite: Azurite) -> list[str]:
    """Every container and blob in the storage account."""
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    try:
        found = []
        for container in service.list_containers():
            client = service.get_container_client(container.name)
            found += [f"{container.name}/"] + [f"{container.name}/{b.name}"
                                               for b in client.list_blobs()]
        return found
    finally:
        service.close()


def files_listed_once_under_the_stop(stdout: str) -> None:
    lines = stdout.splitlines()
    heading = lines.index("Not converted because the run stopped:")
    assert lines[heading + 1: heading + 1 + len(NAMES)] == [f"  {n}" for n in NAMES]
    for name in NAMES:  # the summary names each file once, with no reason repeated
        assert sum(1 for line in lines[heading - 1:] if name in line) == 1


@pytest.mark.timeout(90)
@pytest.mark.batch_emulator_knobs(start_task_fails=True)
def test_failing_start_task_is_said_once_and_its_files_listed_once(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    for name in NAMES:
        media.good(tmp_path / "in" / name, 1.0)

    proc, _ = run_cli([str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--target", "azure",
                       "--start-task", CHECK_START], azure_env(azurite, batch_emulator))

    seen = proc.stdout + proc.stderr
    assert proc.returncode == 1, seen
    sentence = "No node can run the conversions: the start task failed"
    assert seen.count(sentence) == 1, seen  # was 11 times: log, final, per file, "stopped"
    assert seen.count("start task failed on purpose") == 1  # the node's stderr, once too
    [stop] = [line for line in proc.stdout.splitlines() if sentence in line]
    assert stop.startswith("The run stopped: ")
    assert "0 converted, 5 not converted, 0 skipped" in proc.stdout
    files_listed_once_under_the_stop(proc.stdout)
    assert "failed: clip" not in proc.stdout  # no per-file echo of the reason


@pytest.mark.timeout(60)
def test_wrong_batch_key_is_said_once_and_nothing_goes_up(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    for name in NAMES:
        media.good(tmp_path / "in" / name, 1.0)
    storage_before = everything_in_storage(azurite)
    batch_emulator.clear_requests()
    wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktMzI="

    proc, _ = run_cli([str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--target", "azure",
                       "--start-task", CHECK_START],
                      azure_env(azurite, batch_emulator, AZURE_BATCH_ACCESS_KEY=wrong))

    seen = proc.stdout + proc.stderr
    assert proc.returncode == 1, seen
    assert seen.count("Azure Batch did not accept the Batch account key") == 1, seen
    assert "Uploading" not in seen and "Could not" not in seen
    files_listed_once_under_the_stop(proc.stdout)
    # checked before the first byte went up: storage untouched, Batch only asked (GET)
    assert everything_in_storage(azurite) == storage_before
    requests = batch_emulator.requests()
    assert requests and {r["method"] for r in requests} == {"GET"}, requests
    assert all(r["status"] == 403 or r["status"] == 401 for r in requests), requests


@pytest.mark.timeout(60)
def test_wrong_storage_key_is_said_once_and_leaves_no_job(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    for name in NAMES:
        media.good(tmp_path / "in" / name, 1.0)
    batch_emulator.clear_requests()
    wrong = azurite.connection_string.replace(azurite.account_key, "A" * 86 + "==")

    proc, _ = run_cli([str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--target", "azure",
                       "--start-task", CHECK_START],
                      azure_env(azurite, batch_emulator, AZURE_STORAGE_CONNECTION_STRING=wrong))

    seen = proc.stdout + proc.stderr
    assert proc.returncode == 1, seen
    assert seen.count("Azure Storage did not accept the storage account key") == 1, seen
    assert "Could not" not in seen  # no cleanup of a container that was never made
    files_listed_once_under_the_stop(proc.stdout)
    assert {r["method"] for r in batch_emulator.requests()} == {"GET"}  # no job, no pool
