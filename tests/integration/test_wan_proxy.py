"""The WAN proxy (tests/wan_proxy.py) adds the latency and holds the cap it is asked for.

Every check is a lower bound on time (the proxy may be slower on a loaded machine,
never faster than the line it models), against a real TCP server in this process.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from azure.storage.blob import BlobServiceClient

from tests.azure_world import Azurite
from tests.wan_proxy import OFFICE, Line, WanProxy, start_wan_proxy

MB = 1024 * 1024
#: a generous deadline for every socket call: a hang fails the test instead of blocking
DEADLINE_S = 60


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(min(1 << 20, n - len(data)))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return bytes(data)


class Server:
    """A tiny TCP server: 'U'+n+data -> sha256 of the data; 'D'+n -> n bytes back."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.payload = bytes(range(256)) * (4 * MB // 256)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(DEADLINE_S)
        with conn:
            try:
                while head := conn.recv(9, socket.MSG_WAITALL):
                    op, n = head[:1], int.from_bytes(head[1:], "big")
                    if op == b"U":
                        digest = hashlib.sha256()
                        left = n
                        while left:
                            chunk = conn.recv(min(1 << 20, left))
                            if not chunk:
                                return
                            digest.update(chunk)
                            left -= len(chunk)
                        conn.sendall(digest.digest())
                    else:
                        while n:
                            part = self.payload[:n]
                            conn.sendall(part)
                            n -= len(part)
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@pytest.fixture
def proxy_for(server: Server) -> Iterator[object]:
    started: list[WanProxy] = []

    def start(line: Line) -> WanProxy:
        proxy = start_wan_proxy("127.0.0.1", server.port, line)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def _connect(proxy: WanProxy) -> socket.socket:
    s = socket.create_connection((proxy.host, proxy.port), timeout=DEADLINE_S)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def _upload(proxy: WanProxy, data: bytes) -> float:
    """Send `data` through the proxy; seconds until the server's digest is back (checked)."""
    with _connect(proxy) as s:
        start = time.perf_counter()
        s.sendall(b"U" + len(data).to_bytes(8, "big") + data)
        assert _recv_exact(s, 32) == hashlib.sha256(data).digest(), "bytes changed on the way"
        return time.perf_counter() - start


def _download(proxy: WanProxy, n: int) -> float:
    with _connect(proxy) as s:
        start = time.perf_counter()
        s.sendall(b"D" + n.to_bytes(8, "big"))
        assert len(_recv_exact(s, n)) == n
        return time.perf_counter() - start


def test_a_small_request_pays_the_round_trip_and_a_new_connection_the_handshake(
        proxy_for) -> None:
    delay = 0.05
    proxy = proxy_for(Line("test", delay, 0, 0))
    with _connect(proxy) as s:
        start = time.perf_counter()
        s.sendall(b"U" + (1).to_bytes(8, "big") + b"x")
        _recv_exact(s, 32)
        first = time.perf_counter() - start
        start = time.perf_counter()
        s.sendall(b"U" + (1).to_bytes(8, "big") + b"y")
        _recv_exact(s, 32)
        second = time.perf_counter() - start
    assert second >= 2 * delay  # there and back
    assert first >= 4 * delay  # the handshake's round trip, then the request's


def test_the_cap_holds_in_each_direction_and_no_byte_is_lost(proxy_for) -> None:
    line = Line("test", 0.005, 40e6, 80e6, window=64 * MB, slow_start=False)
    proxy = proxy_for(line)
    up = 3 * MB
    took = _upload(proxy, bytes(range(256)) * (up // 256))
    assert took >= up / line.up_bytes_per_s
    down = 6 * MB
    took = _download(proxy, down)
    assert took >= down / line.down_bytes_per_s
    stats = proxy.stats()
    assert stats["bytes_up"] >= up and stats["bytes_down"] >= down


def test_the_cap_is_shared_by_all_connections(proxy_for) -> None:
    line = Line("test", 0.005, 40e6, 0, window=64 * MB, slow_start=False)
    proxy = proxy_for(line)
    each, count = int(1.5 * MB), 4
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            _upload(proxy, bytes([i]) * each)
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE_S)
    took = time.perf_counter() - start
    assert not errors and not any(t.is_alive() for t in threads)
    # four connections at once get the one line between them, not a line each
    assert took >= count * each / line.up_bytes_per_s
    assert proxy.stats()["connections"] == count


def test_one_connection_gets_at_most_a_window_per_round_trip(proxy_for) -> None:
    line = Line("test", 0.025, 0, 0, window=64 * 1024, slow_start=False)
    proxy = proxy_for(line)
    size = 2 * MB
    took = _upload(proxy, b"w" * size)
    # every window's worth but the last waits for the previous one's acknowledgement
    assert took >= (size / line.window - 1) * 2 * line.delay_s


def test_a_fresh_connection_starts_slow(proxy_for) -> None:
    line = Line("test", 0.025, 0, 0, window=1 * MB, slow_start=True)
    proxy = proxy_for(line)
    size = 1 * MB
    with _connect(proxy) as s:
        start = time.perf_counter()
        s.sendall(b"U" + size.to_bytes(8, "big") + b"s" * size)
        _recv_exact(s, 32)
        cold = time.perf_counter() - start
    # from 10 segments, doubling each round trip: 1 MB needs at least 6 round trips
    # (14.6 + 29 + 58 + 117 + 234 + 467 KB < 1 MB), plus the handshake
    assert cold >= 7 * 2 * line.delay_s


def test_stop_ends_the_proxy_cleanly_even_with_a_connection_open(proxy_for) -> None:
    proxy = proxy_for(Line("test", 0.01, 0, 0))
    idle = _connect(proxy)
    _upload(proxy, b"hello")
    proxy.stop()
    assert proxy.proc.returncode == 0
    with pytest.raises(OSError):
        socket.create_connection((proxy.host, proxy.port), timeout=DEADLINE_S).close()
    try:  # the open connection was closed, not left hanging
        assert idle.recv(1) == b""
    except ConnectionResetError:
        pass
    idle.close()


def test_the_blob_sdk_works_through_the_office_line(azurite: Azurite) -> None:
    proxy = start_wan_proxy(azurite.host, azurite.port, OFFICE)
    try:
        endpoint = f"http://{proxy.host}:{proxy.port}/{azurite.account_name}"
        service = BlobServiceClient(endpoint, credential={
            "account_name": azurite.account_name, "account_key": azurite.account_key})
        container = service.get_container_client(f"wan-{uuid.uuid4().hex[:8]}")
        container.create_container()
        data = bytes(range(256)) * 4096  # 1 MB
        start = time.perf_counter()
        container.upload_blob("through-the-wan", data)
        assert container.download_blob("through-the-wan").readall() == data
        took = time.perf_counter() - start
        # upload and download are a request and an answer each, over the line's 80 ms
        assert took >= 2 * 2 * OFFICE.delay_s
        stats = proxy.stats()
        assert stats["bytes_up"] >= len(data) and stats["bytes_down"] >= len(data)
        container.delete_container()
        service.close()
    finally:
        proxy.stop()
