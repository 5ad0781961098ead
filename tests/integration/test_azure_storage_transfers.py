"""Transfers to storage keep their connections and a bounded number of threads.

Through the WAN proxy (tests/wan_proxy.py) in front of Azurite, which counts the
connections the app opens: on a far line each new one costs a handshake and TCP slow
start, so connections are kept for reuse rather than closed after a request.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from batchgui.targets.azure import transfers
from batchgui.targets.azure.config import AzureAccount
from batchgui.targets.azure.storage import RunStorage
from batchgui.targets.azure.transfers import BLOCK_THREADS
from tests.azure_world import Azurite
from tests.wan_proxy import Line, WanProxy, start_wan_proxy


@pytest.fixture
def proxy(azurite: Azurite) -> Iterator[WanProxy]:
    # a short delay, so that requests sent together are in flight together
    p = start_wan_proxy(azurite.host, azurite.port, Line("test", 0.02, 0, 0))
    yield p
    p.stop()


@pytest.fixture
def storage(azurite: Azurite, proxy: WanProxy) -> Iterator[RunStorage]:
    conn = (f"DefaultEndpointsProtocol=http;AccountName={azurite.account_name};"
            f"AccountKey={azurite.account_key};"
            f"BlobEndpoint=http://{proxy.host}:{proxy.port}/{azurite.account_name};")
    account = AzureAccount(name="t", batch_url="http://unused", batch_account="unused",
                           storage_connection_string=conn)
    s = RunStorage(account, f"transfers-{uuid.uuid4().hex[:8]}")
    s.ensure_container()
    yield s
    s.delete_container()
    s.close()


def _files(folder: Path, count: int, size: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        path = folder / f"f{i:02d}.mp4"
        path.write_bytes(hashlib.sha256(str(i).encode()).digest() * (size // 32))
        out.append(path)
    return out


def test_sixteen_uploads_at_once_twice_reuse_their_connections(
        storage: RunStorage, proxy: WanProxy, tmp_path: Path) -> None:
    files = _files(tmp_path, 16, 64 * 1024)
    opened_before = proxy.stats()["connections"]
    for wave in range(2):
        start = threading.Barrier(len(files))

        def one(path: Path, wave: int = wave, start: threading.Barrier = start) -> bool:
            start.wait()
            return storage.upload(path, f"in/{wave}/{path.name}")

        with ThreadPoolExecutor(len(files)) as pool:
            assert all(pool.map(one, files))
    # the second wave finds the first wave's connections still open (the SDK's own
    # session keeps 10, and would open 6 new ones here)
    assert proxy.stats()["connections"] - opened_before <= len(files)


def test_large_files_at_once_share_a_bounded_set_of_block_threads(
        storage: RunStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfers, "SINGLE_PUT_BYTES", 512 * 1024)
    monkeypatch.setattr(transfers, "BLOCK_BYTES", 128 * 1024)
    files = _files(tmp_path, 4, 2 * 1024 * 1024)  # 16 blocks each
    most = 0
    done = threading.Event()

    def count_block_threads() -> None:
        nonlocal most
        while not done.wait(0.002):
            most = max(most, sum(t.name.startswith("block") for t in threading.enumerate()))

    watcher = threading.Thread(target=count_block_threads)
    watcher.start()
    try:
        with ThreadPoolExecutor(len(files)) as pool:
            uploaded = list(pool.map(
                lambda p: storage.upload(p, f"in/{p.name}", block_concurrency=4), files))
    finally:
        done.set()
        watcher.join()
    assert all(uploaded)
    # four large files, four blocks each in flight: 16 wanted, BLOCK_THREADS at most
    assert 0 < most <= BLOCK_THREADS
    for path in files:
        blob = storage.container_client.get_blob_client(f"in/{path.name}")
        assert blob.download_blob().readall() == path.read_bytes()
        md5 = blob.get_blob_properties().content_settings.content_md5
        assert bytes(md5) == hashlib.md5(path.read_bytes()).digest()


def test_a_large_mp3_comes_down_whole_in_ranges_at_once(
        storage: RunStorage, proxy: WanProxy, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfers, "BLOCK_BYTES", 64 * 1024)
    data = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(32 * 1024)) + b"tail"
    storage.container_client.upload_blob("out/long.mp3", data)
    opened = proxy.stats()["connections"]
    seen: list[tuple[int, int]] = []
    dest = tmp_path / "long.mp3"
    assert storage.download("out/long.mp3", dest,
                            progress=lambda d, t: seen.append((d, t))) == len(data)
    assert dest.read_bytes() == data
    assert seen[-1] == (len(data), len(data))
    # the ranges after the first went several at once, each on a connection of its own
    assert proxy.stats()["connections"] - opened >= 2


def test_an_empty_blob_comes_down_as_an_empty_file(storage: RunStorage, tmp_path: Path) -> None:
    storage.container_client.upload_blob("out/empty.mp3", b"")
    dest = tmp_path / "empty.mp3"
    assert storage.download("out/empty.mp3", dest) == 0
    assert dest.read_bytes() == b""
