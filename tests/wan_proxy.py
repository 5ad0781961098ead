"""A WAN for the test world: a TCP proxy that adds latency and a shared bandwidth cap.

Azurite answers from the same machine in microseconds at gigabytes a second; a real
storage account is tens of milliseconds away behind a line of a few hundred Mbit/s.
This proxy sits between the app and Azurite (or any TCP server) and models that line,
standard library only:

- **Latency**: every byte arrives `delay_s` after it left, in each direction, while
  the line keeps streaming behind it (a chunk's delay runs from its own departure, not
  from the previous chunk's arrival), so a long transfer pays the delay once.
- **A bandwidth cap shared by all connections, per direction**: one clock per
  direction (a token bucket with no burst): a chunk leaves when the line has finished
  sending whatever was handed to it before, at `rate` bytes a second. Bytes wait in
  a bounded queue in front of the line (`QUEUE_S` seconds of data, like a router's
  buffer); a sender whose data would overflow it is held back. Bytes are delayed,
  never dropped.
- **TCP-like connections**: a new connection pays the handshake (its first byte
  leaves one round trip after connect); each connection has at most `window` bytes
  unacknowledged (sent, not yet acknowledged one delay after arrival), so one
  connection gets at most window / round trip; the window opens by slow start from
  10 segments (RFC 6928), doubling per round trip, and closes again after an idle
  spell longer than the retransmission timeout (Linux's tcp_slow_start_after_idle,
  on by default): halved per timeout idle, down to 10 segments.

Lines from issue 10: `OFFICE` (40 ms each way, 500 Mbit/s each way) and `HOME`
(15 ms each way, 50 Mbit/s up, 250 Mbit/s down). The window defaults to 4 MiB, the
largest send buffer Linux gives a socket by default (net.ipv4.tcp_wmem), a fair
picture of one well-tuned desktop connection.

Run it as its own process (it must not share a GIL with the client it measures):

    python -m tests.wan_proxy --upstream 127.0.0.1:10000 --line office [--port 0]

It prints one JSON line, {"port": P, "control_port": C}; a connection to the control
port gets one JSON line of counters (bytes each way, connections) and is closed.
From Python: ``start_wan_proxy(upstream_host, upstream_port, OFFICE) -> WanProxy``
with ``.port``, ``.stats()``, ``.stop()``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

MSS = 1460
#: RFC 6928's initial window: 10 segments
INITIAL_WINDOW = 10 * MSS
#: the most a connection hands the line at once (small: the line interleaves connections)
CHUNK = 64 * 1024
#: seconds of data the queue in front of the line holds (a router's buffer)
QUEUE_S = 0.05
#: Linux's minimum retransmission timeout; the timeout is about RTT + this
RTO_MIN_S = 0.2


@dataclass(frozen=True)
class Line:
    """One WAN line: delay each way (seconds), rate per direction (bit/s; 0 = no cap)."""

    name: str
    delay_s: float
    up_bps: float
    down_bps: float
    window: int = 4 * 1024 * 1024
    slow_start: bool = True

    @property
    def up_bytes_per_s(self) -> float:
        return self.up_bps / 8

    @property
    def down_bytes_per_s(self) -> float:
        return self.down_bps / 8

    def describe(self) -> str:
        def rate(bps: float) -> str:
            return f"{bps / 1e6:g} Mbit/s" if bps else "no cap"

        return (f"{self.name}: {self.delay_s * 1000:g} ms each way, up {rate(self.up_bps)}, "
                f"down {rate(self.down_bps)}, window {self.window // 1024} KiB per connection"
                + (", slow start" if self.slow_start else ""))


OFFICE = Line("office", 0.040, 500e6, 500e6)
HOME = Line("home", 0.015, 50e6, 250e6)
LINES = {"office": OFFICE, "home": HOME}


class Link:
    """One direction of the line, shared by every connection: its clock and its counters."""

    def __init__(self, bytes_per_s: float, delay_s: float) -> None:
        self.rate = bytes_per_s
        self.delay = delay_s
        self.free_at = 0.0  # when the line has sent everything handed to it so far
        self.bytes = 0
        #: how late this process woke up to deliver chunks (a loaded machine makes the
        #: line worse than asked for): count, seconds in all, worst, how many over 5 ms
        self.late = {"chunks": 0, "total_s": 0.0, "worst_s": 0.0, "over_5ms": 0}
        # at least a few chunks queue up, so a slow line still streams
        self.queue_s = max(QUEUE_S, 4 * CHUNK / bytes_per_s) if bytes_per_s else 0.0

    def note_lateness(self, late_s: float) -> None:
        late_s = max(0.0, late_s)
        self.late["chunks"] += 1
        self.late["total_s"] += late_s
        self.late["worst_s"] = max(self.late["worst_s"], late_s)
        self.late["over_5ms"] += late_s > 0.005

    async def send(self, size: int) -> float:
        """Hand `size` bytes to the line; returns when their last byte arrives (loop time)."""
        loop = asyncio.get_running_loop()
        self.bytes += size
        if not self.rate:
            return loop.time() + self.delay
        while (wait := self.free_at - self.queue_s - loop.time()) > 0:
            await asyncio.sleep(wait)  # the queue is full: held back, not dropped
        self.free_at = max(loop.time(), self.free_at) + size / self.rate
        return self.free_at + self.delay


class Window:
    """One connection's send window in one direction: unacknowledged bytes, slow start."""

    def __init__(self, line: Line) -> None:
        self.most = max(line.window, INITIAL_WINDOW)
        self.slow_start = line.slow_start
        self.size = INITIAL_WINDOW if line.slow_start else self.most
        self.rto = 2 * line.delay_s + RTO_MIN_S
        self.unacked = 0
        self.last_send = 0.0
        self._opened = asyncio.Event()

    async def room(self) -> int:
        """Wait until the window has room; how many bytes may be sent now."""
        loop = asyncio.get_running_loop()
        if self.slow_start and self.unacked == 0 and self.last_send:
            idle = loop.time() - self.last_send
            if idle > self.rto:  # restart after idle: halved per timeout, down to 10 segments
                self.size = max(INITIAL_WINDOW, self.size >> min(30, int(idle / self.rto)))
        # like TCP, send full segments: wait for room for one (or for everything acked)
        while self.unacked and self.size - self.unacked < MSS:
            self._opened.clear()
            await self._opened.wait()
        return self.size - self.unacked

    def sent(self, size: int) -> None:
        self.unacked += size
        self.last_send = asyncio.get_running_loop().time()

    def acked(self, size: int) -> None:
        self.unacked -= size
        if self.slow_start:
            self.size = min(self.most, self.size + size)
        self._opened.set()


class WanProxyServer:
    """The proxy itself (in this process's event loop): listen, connect upstream, relay."""

    def __init__(self, upstream: tuple[str, int], line: Line) -> None:
        self.upstream = upstream
        self.line = line
        self.up = Link(line.up_bytes_per_s, line.delay_s)
        self.down = Link(line.down_bytes_per_s, line.delay_s)
        self.connections = 0
        self.open_connections = 0
        self._open: dict[asyncio.Task[None], list[asyncio.StreamWriter]] = {}

    async def close_all(self) -> None:
        """Drop every open connection (at stop) and wait until each is wound up."""
        for writers in self._open.values():
            for w in writers:
                w.transport.abort()
        await asyncio.gather(*self._open, return_exceptions=True)

    def stats(self) -> dict[str, object]:
        return {"line": asdict(self.line), "connections": self.connections,
                "open_connections": self.open_connections,
                "bytes_up": self.up.bytes, "bytes_down": self.down.bytes,
                "late_up": self.up.late, "late_down": self.down.late}

    async def handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        # the handshake: SYN there, SYN-ACK back; the first data goes with the ACK
        ready_at = loop.time() + 2 * self.line.delay_s
        self.connections += 1
        self.open_connections += 1
        me = asyncio.current_task()
        assert me is not None
        self._open[me] = [client_w]
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            self.open_connections -= 1
            del self._open[me]
            client_w.close()
            return
        self._open[me].append(server_w)
        relays = [
            asyncio.ensure_future(self._relay(client_r, server_w, self.up, ready_at)),
            asyncio.ensure_future(self._relay(server_r, client_w, self.down, ready_at)),
        ]
        try:
            done, _ = await asyncio.wait(relays, return_when=asyncio.FIRST_EXCEPTION)
            if any(not t.cancelled() and t.exception() is not None for t in done):
                for w in (client_w, server_w):  # one side broke: so does the other
                    w.transport.abort()
            await asyncio.gather(*relays, return_exceptions=True)
        finally:
            for t in relays:
                t.cancel()
            self.open_connections -= 1
            del self._open[me]
            for w in (client_w, server_w):
                w.close()
            for w in (client_w, server_w):
                with contextlib.suppress(OSError, ConnectionError):
                    await w.wait_closed()

    async def _relay(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, link: Link,
                     ready_at: float) -> None:
        """One direction of one connection: read as the window allows, deliver on time."""
        loop = asyncio.get_running_loop()
        window = Window(self.line)
        arrivals: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                arrive, data = await arrivals.get()
                if (early := arrive - loop.time()) > 0:
                    await asyncio.sleep(early)
                    link.note_lateness(loop.time() - arrive)
                if data is None:
                    if dst.can_write_eof() and not dst.is_closing():
                        dst.write_eof()
                    return
                dst.write(data)
                await dst.drain()
                # the acknowledgement travels back: the window opens one delay after the
                # bytes arrived; when they could only be handed over later than that (a
                # slow receiver, or this process running late), as soon as they were
                ack_at = max(arrive + link.delay, loop.time())
                loop.call_at(ack_at, window.acked, len(data))

        async def read() -> None:
            last_arrival = 0.0
            if (wait := ready_at - loop.time()) > 0:
                await asyncio.sleep(wait)
            while True:
                room = await window.room()
                data = await src.read(min(CHUNK, room))
                if not data:
                    arrivals.put_nowait((max(last_arrival, loop.time() + link.delay), None))
                    return
                window.sent(len(data))
                last_arrival = await link.send(len(data))
                arrivals.put_nowait((last_arrival, data))

        tasks = [asyncio.ensure_future(read()), asyncio.ensure_future(deliver())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                if t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()

    async def control(self, _r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(json.dumps(self.stats()).encode() + b"\n")
        with contextlib.suppress(OSError, ConnectionError):
            await w.drain()
        w.close()


async def serve(upstream: tuple[str, int], line: Line, host: str, port: int) -> None:
    proxy = WanProxyServer(upstream, line)
    server = await asyncio.start_server(proxy.handle, host, port)
    control = await asyncio.start_server(proxy.control, host, 0)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    ports = {"port": server.sockets[0].getsockname()[1],
             "control_port": control.sockets[0].getsockname()[1]}
    print(json.dumps(ports), flush=True)
    async with server, control:
        await stop.wait()
        server.close()
        await proxy.close_all()


# -- from Python: the proxy as a child process ---------------------------------------------


@dataclass
class WanProxy:
    """A running proxy process: connect to 127.0.0.1:`port` instead of the upstream."""

    proc: subprocess.Popen[bytes]
    host: str
    port: int
    control_port: int
    line: Line

    def stats(self) -> dict[str, int]:
        """Counters so far: connections (opened), open_connections, bytes_up, bytes_down."""
        with socket.create_connection((self.host, self.control_port), timeout=10) as s:
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return dict(json.loads(data))

    def stop(self, grace_s: float = 5.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=grace_s)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def start_wan_proxy(upstream_host: str, upstream_port: int, line: Line) -> WanProxy:
    """Start the proxy on 127.0.0.1 and a free port (its own choice), in front of upstream."""
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", "tests.wan_proxy", "--upstream",
            f"{upstream_host}:{upstream_port}", "--delay-ms", str(line.delay_s * 1000),
            "--up-mbit", str(line.up_bps / 1e6), "--down-mbit", str(line.down_bps / 1e6),
            "--window-kib", str(line.window // 1024), "--name", line.name]
    if not line.slow_start:
        argv.append("--no-slow-start")
    proc = subprocess.Popen(argv, cwd=root, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None
    # one line, written when the proxy listens (or nothing, when it died)
    first = proc.stdout.readline()
    if not first.endswith(b"\n"):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"the WAN proxy did not start (exit code {proc.poll()})")
    ports = json.loads(first)
    return WanProxy(proc, "127.0.0.1", int(ports["port"]), int(ports["control_port"]), line)


def line_from_args(args: argparse.Namespace) -> Line:
    base = LINES[args.line] if args.line else Line("custom", 0.0, 0.0, 0.0)
    return Line(
        args.name or base.name,
        args.delay_ms / 1000 if args.delay_ms is not None else base.delay_s,
        args.up_mbit * 1e6 if args.up_mbit is not None else base.up_bps,
        args.down_mbit * 1e6 if args.down_mbit is not None else base.down_bps,
        args.window_kib * 1024 if args.window_kib is not None else base.window,
        base.slow_start and not args.no_slow_start,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the real server")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--line", choices=sorted(LINES), default=None)
    ap.add_argument("--name", default=None)
    ap.add_argument("--delay-ms", type=float, default=None, help="one way")
    ap.add_argument("--up-mbit", type=float, default=None, help="0 = no cap")
    ap.add_argument("--down-mbit", type=float, default=None, help="0 = no cap")
    ap.add_argument("--window-kib", type=int, default=None)
    ap.add_argument("--no-slow-start", action="store_true")
    args = ap.parse_args()
    host, _, port = args.upstream.rpartition(":")
    asyncio.run(serve((host, int(port)), line_from_args(args), args.host, args.port))


if __name__ == "__main__":
    main()
