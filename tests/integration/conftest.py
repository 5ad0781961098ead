"""Fixtures for the Azure test world (Azurite + the Batch emulator); reuse them freely.

Fixtures (names are stable; other suites depend on them):

- ``azurite`` (session): a running Azurite blob service (tests/azure_world.Azurite) with
  ``.connection_string``, ``.blob_endpoint``, ``.account_name``, ``.account_key``.
- ``blob_service`` (function): an ``azure.storage.blob.BlobServiceClient`` for it.
- ``blob_container`` (function): a fresh, empty ``ContainerClient`` with a unique name.
- ``ffmpeg_dir`` (session): a directory holding an executable ``ffmpeg`` (the bundled one);
  the emulator's nodes get it on PATH, like a real node after the start task.
- ``batch_emulator`` (function): a fresh Batch emulator process for each test
  (tests/azure_world.BatchEmulator: ``.url``, ``.account``, ``.key``, ``.set_knobs(**)``,
  ``.requests()``, ``.clear_requests()``, ``.preempt(pool_id, node_id=None)``, ``.state()``,
  ``.stop()``), with ``ffmpeg_dir`` on its nodes' PATH and short state delays.
  Start-up knobs per test: ``@pytest.mark.batch_emulator_knobs(start_task_fails=True)``.
  Its teardown fails the test when the emulator printed a traceback (BatchEmulator.stop).
- ``batch_credential`` (function): ``AzureNamedKeyCredential`` for the emulator's account.
- ``batch_client`` (function): a sync ``azure.batch.BatchClient`` on the emulator.

Everything listens on 127.0.0.1 and is stopped by its own PID at teardown.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.azure_world import (
    Azurite,
    BatchEmulator,
    ffmpeg_bin_dir,
    start_azurite,
    start_batch_emulator,
)

# Fast but still observable node state steps for tests.
DEFAULT_TEST_KNOBS: dict[str, Any] = {
    "state_delay_s": 0.1,
    "allocation_delay_s": 0.1,
    "delete_delay_s": 0.1,
    "preempt_recover_s": 0.3,
    "tick_s": 0.01,
    "job_transition_s": 0.1,
    "all_tasks_complete_delay_s": 0.2,
    "task_counts_lag_s": 0.2,
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "batch_emulator_knobs(**knobs): start-up knobs for the batch_emulator fixture",
    )


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    az = start_azurite(location=str(tmp_path_factory.mktemp("azurite")))
    try:
        yield az
    finally:
        az.stop()


@pytest.fixture
def blob_service(azurite: Azurite) -> Iterator[Any]:
    from azure.storage.blob import BlobServiceClient

    client = BlobServiceClient.from_connection_string(azurite.connection_string)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def blob_container(blob_service: Any) -> Iterator[Any]:
    container = blob_service.create_container(f"t{uuid.uuid4().hex[:20]}")
    try:
        yield container
    finally:
        try:
            container.delete_container()
        except Exception:
            pass


@pytest.fixture(scope="session")
def ffmpeg_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return ffmpeg_bin_dir(tmp_path_factory.mktemp("ffmpeg-bin"))


@pytest.fixture
def batch_emulator(
    request: pytest.FixtureRequest, ffmpeg_dir: str, tmp_path: Path
) -> Iterator[BatchEmulator]:
    knobs = dict(DEFAULT_TEST_KNOBS)
    marker = request.node.get_closest_marker("batch_emulator_knobs")
    if marker is not None:
        knobs.update(marker.kwargs)
    emu = start_batch_emulator(path_dirs=[ffmpeg_dir], root=str(tmp_path / "batch"), **knobs)
    try:
        yield emu
    finally:
        emu.stop()  # raises EmulatorTraceback if the emulator printed one


@pytest.fixture
def batch_credential(batch_emulator: BatchEmulator) -> Any:
    from azure.core.credentials import AzureNamedKeyCredential

    return AzureNamedKeyCredential(batch_emulator.account, batch_emulator.key)


@pytest.fixture
def batch_client(batch_emulator: BatchEmulator, batch_credential: Any) -> Iterator[Any]:
    from azure.batch import BatchClient

    client = BatchClient(batch_emulator.url, batch_credential)
    try:
        yield client
    finally:
        client.close()
