"""Azurite as the tests start it: pinned version, free port, temp data, stopped by PID."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import ContainerSasPermissions, generate_container_sas

from tests.azure_world import AZURITE_DIR, Azurite, start_azurite


def test_pinned_version() -> None:
    pkg = json.loads((AZURITE_DIR / "package.json").read_text())
    assert pkg["dependencies"]["azurite"] == "3.37.0"
    lock = json.loads((AZURITE_DIR / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/azurite"]["version"] == "3.37.0"


@pytest.mark.timeout(60)
def test_blob_round_trip(azurite: Azurite, blob_container: Any) -> None:
    assert azurite.blob_endpoint.startswith("http://127.0.0.1:")
    blob_container.upload_blob("hello.txt", b"hello azurite")
    assert blob_container.download_blob("hello.txt").readall() == b"hello azurite"


@pytest.mark.timeout(60)
def test_aio_blob_client_with_progress_hook(azurite: Azurite) -> None:
    import asyncio

    from azure.storage.blob.aio import BlobServiceClient

    async def main() -> list[int]:
        seen: list[int] = []

        async def hook(current: int, total: int | None) -> None:  # must be async in aio
            seen.append(current)

        async with BlobServiceClient.from_connection_string(azurite.connection_string) as svc:
            container = await svc.create_container("aio-progress")
            await container.upload_blob(
                "big.bin", b"x" * (5 * 1024 * 1024), progress_hook=hook, max_concurrency=2
            )
            props = await container.get_blob_client("big.bin").get_blob_properties()
            assert props.size == 5 * 1024 * 1024
            await container.delete_container()
        return seen

    seen = asyncio.run(main())
    assert seen and seen[-1] == 5 * 1024 * 1024


@pytest.mark.timeout(60)
def test_write_only_container_sas_cannot_read(azurite: Azurite, blob_container: Any) -> None:
    sas = generate_container_sas(
        azurite.account_name,
        blob_container.container_name,
        account_key=azurite.account_key,
        permission=ContainerSasPermissions(create=True, write=True),
        expiry=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )
    url = f"{azurite.blob_endpoint}/{blob_container.container_name}/x.txt?{sas}"
    put = urllib.request.Request(
        url, data=b"data", method="PUT", headers={"x-ms-blob-type": "BlockBlob"}
    )
    with urllib.request.urlopen(put, timeout=10) as resp:
        assert resp.status == 201
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url, timeout=10)
    assert err.value.code == 403


@pytest.mark.timeout(60)
def test_start_and_stop_by_pid(tmp_path: Path) -> None:
    az = start_azurite(location=str(tmp_path / "data"))
    try:
        urllib.request.urlopen(f"{az.blob_endpoint}?comp=list", timeout=5)
    except urllib.error.HTTPError:
        pass  # answers (an unsigned list is refused): it is up
    finally:
        az.stop()
    assert az.proc.returncode is not None
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{az.blob_endpoint}?comp=list", timeout=2)
