"""Benchmark: uploading inputs through the Azure target vs the seed tutorial's plain loop,
over a modelled WAN (tests/wan_proxy.py) and straight to Azurite.

Not a test (pytest does not collect it, CI does not run it). Run:

    .venv/bin/python -m tests.benchmarks.bench_azure_upload [--lines office,home,direct]
        [--rounds 3] [--small 20] [--small-mb 10] [--large 1] [--large-mb 200]

It starts Azurite (pinned, from tests/azurite) on a free port, makes 20 x 10 MB and
1 x 200 MB files once (cached in the temp folder), and for each line (the proxy in
front of Azurite: "office" 40 ms each way and 500 Mbit/s, "home" 15 ms each way and
50 Mbit/s up; "direct" is Azurite with no proxy) times, alternating and in turn first,
(a) ours: the target's upload step (`_upload_all`: several files at once, large files
    in parallel blocks, MD5 computed and stored, progress reported), on an executor of
    the CLI's size, and
(b) the seed's way: BlobServiceClient.from_connection_string() with the SDK defaults
    and one `upload_blob` after the other,
and prints best-of-N, the spread, the ratio a/b (target: office >= 2; home within 10 %
of the cap, which no client can beat), the share of the line's cap each side got, the
connections each side opened, Azurite's own CPU per second (near the core count: the
server is the limit), how late the proxy delivered (a loaded machine makes the line
worse than asked for), the process's peak thread count during (a) and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from azure.storage.blob import BlobServiceClient

from batchgui.cli import MAX_RUN_THREADS
from batchgui.core.models import InputFile, Quality
from batchgui.core.target import CancelToken, RunContext, WorkItem
from batchgui.targets.azure.config import AzureAccount, PoolSettings
from batchgui.targets.azure.storage import RunStorage
from batchgui.targets.azure.target import AzureBatchTarget
from tests.azure_world import Azurite, start_azurite
from tests.wan_proxy import LINES, Line, WanProxy, start_wan_proxy

CONTAINER = "batchgui"


def make_files(folder: Path, count: int, size_mb: int, prefix: str, suffix: str = ".mp4",
               size_bytes: int | None = None) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    size = size_bytes or size_mb * 1024 * 1024
    files = []
    for i in range(count):
        path = folder / f"{prefix}{i:02d}{suffix}"
        if not path.exists() or path.stat().st_size != size:
            with open(path, "wb") as fh:
                left = size
                while left:
                    fh.write(os.urandom(min(left, 1024 * 1024)))
                    left -= min(left, 1024 * 1024)
        files.append(path)
    return files


def run_threads(target: AzureBatchTarget) -> int:
    """The executor size the CLI gives a run of this target."""
    return max(2, min(MAX_RUN_THREADS, target.threads_needed))


class PeakThreads:
    """The most threads this process had at once while watched (sampled every 5 ms)."""

    def __init__(self) -> None:
        self.peak = 0

    @contextmanager
    def watch(self) -> Iterator[None]:
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.005):
                self.peak = max(self.peak, threading.active_count() - 1)  # not this one

        watcher = threading.Thread(target=sample, daemon=True)
        watcher.start()
        try:
            yield
        finally:
            stop.set()
            watcher.join()


def through_target(conn: str, files: list[Path], run_id: str, threads: PeakThreads,
                   **options: int) -> float:
    """The target's own upload step (prepare() without the pool), timed."""
    account = AzureAccount(name="bench", batch_url="http://unused", batch_account="unused",
                           storage_connection_string=conn)
    target = AzureBatchTarget(account, PoolSettings(), **options)  # type: ignore[arg-type]
    storage = RunStorage(account)
    storage.ensure_container()
    target._storage = storage
    target._run_id = run_id
    items = [
        WorkItem(f"f{i:05d}", InputFile(p, p.stat().st_size, 1.0), p.with_suffix(".mp3"),
                 p.with_suffix(".part"), Quality())
        for i, p in enumerate(files)
    ]
    moved: dict[str, int] = {}

    async def go() -> float:
        with ThreadPoolExecutor(max_workers=run_threads(target)) as executor:
            ctx = RunContext(run_id, executor, CancelToken(),
                             report_transfer=lambda t, d, n: moved.__setitem__(t, d))
            start = time.perf_counter()
            with threads.watch():
                await target._upload_all(items, ctx)
            return time.perf_counter() - start

    took = asyncio.run(go())
    assert target.stats["uploaded"] == len(files), target.stats
    assert sum(moved.values()) == sum(p.stat().st_size for p in files), "progress reached 100 %"
    storage.delete_prefix("in/")
    storage.close()
    return took


def plain_script(conn: str, files: list[Path], run_id: str) -> float:
    """The seed tutorial's way: SDK defaults, one file after the other."""
    service = BlobServiceClient.from_connection_string(conn)
    container = service.get_container_client(CONTAINER)
    start = time.perf_counter()
    for path in files:
        with open(path, "rb") as fh:
            container.upload_blob(f"{run_id}/plain/{path.name}", fh, overwrite=True)
    took = time.perf_counter() - start
    for path in files:
        container.delete_blob(f"{run_id}/plain/{path.name}")
    service.close()
    return took


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used (Linux), to show when Azurite itself is the limit."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Side:
    """One side's rounds: times, and what it cost the server and the line."""

    label: str
    times: list[float] = field(default_factory=list)
    azurite_cpu: float = 0.0
    client_cpu: float = 0.0
    proxy_cpu: float = 0.0
    connections: int = 0
    late_chunks: int = 0
    late_s: float = 0.0
    late_worst_s: float = 0.0
    late_over_5ms: int = 0

    def timed(self, azurite: Azurite, proxy: WanProxy | None, fn: Callable[[], float]) -> None:
        before_cpu = cpu_seconds(azurite.proc.pid)
        before_client = time.process_time()
        before_proxy = cpu_seconds(proxy.proc.pid) if proxy else 0.0
        before = proxy.stats() if proxy else None
        self.times.append(fn())
        self.azurite_cpu += cpu_seconds(azurite.proc.pid) - before_cpu
        self.client_cpu += time.process_time() - before_client
        self.proxy_cpu += (cpu_seconds(proxy.proc.pid) - before_proxy) if proxy else 0.0
        if proxy and before:
            after = proxy.stats()
            self.connections += after["connections"] - before["connections"]
            for key in ("late_up", "late_down"):
                a, b = after[key], before[key]  # type: ignore[index]
                self.late_chunks += a["chunks"] - b["chunks"]
                self.late_s += a["total_s"] - b["total_s"]
                self.late_over_5ms += a["over_5ms"] - b["over_5ms"]
                self.late_worst_s = max(self.late_worst_s, a["worst_s"])

    @property
    def best(self) -> float:
        return min(self.times)

    def line(self, megabytes: float, cap_s: float | None, rounds: int) -> str:
        share = f", {cap_s / self.best:4.0%} of the cap" if cap_s else ""
        spread = (f"spread {min(self.times):.2f}-{max(self.times):.2f} s, "
                  f"median {statistics.median(self.times):.2f} s")
        return (f"  {self.label:<28} best {self.best:6.2f} s {megabytes / self.best:6.1f} MB/s"
                f" ({megabytes * 8 / self.best:5.0f} Mbit/s){share}; {spread}")

    def costs(self) -> str:
        per_round = self.connections / max(1, len(self.times))
        busy = sum(self.times)
        out = (f"CPU seconds per second: Azurite {self.azurite_cpu / busy:.2f}, "
               f"client {self.client_cpu / busy:.2f}")
        if self.late_chunks:
            out += (f", proxy {self.proxy_cpu / busy:.2f}; connections opened "
                    f"{per_round:.0f} per round; proxy late "
                    f"{1000 * self.late_s / self.late_chunks:.1f} ms per chunk on average, "
                    f"{self.late_over_5ms / self.late_chunks:.0%} over 5 ms, "
                    f"worst {1000 * self.late_worst_s:.0f} ms")
        return out


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def cap_seconds(line: Line | None, size: int, up: bool) -> float | None:
    """How long the line's cap alone needs for `size` bytes: no client can be faster."""
    if line is None:
        return None
    rate = line.up_bytes_per_s if up else line.down_bytes_per_s
    return size / rate + 2 * line.delay_s if rate else None


def alternate(rounds: int, first: Callable[[int], None], second: Callable[[int], None]) -> None:
    """Each round runs both sides, taking turns at going first (drift hits both alike)."""
    for r in range(rounds):
        for run in ((first, second) if r % 2 == 0 else (second, first)):
            run(r)


def lines_from(text: str, window_kib: int | None = None,
               slow_start: bool = True) -> list[Line | None]:
    """'office,home,direct' -> the lines (None: straight to Azurite, no proxy)."""
    out: list[Line | None] = []
    for name in text.split(","):
        name = name.strip()
        if name == "direct":
            out.append(None)
        elif name:
            line = LINES[name]
            out.append(dataclasses.replace(
                line, window=window_kib * 1024 if window_kib else line.window,
                slow_start=line.slow_start and slow_start))
    return out


def add_line_options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--lines", default="office,home,direct",
                    help="comma-separated: office, home, direct (no proxy)")
    ap.add_argument("--window-kib", type=int, default=None,
                    help="each connection's TCP window on the lines (default 4096)")
    ap.add_argument("--no-slow-start", action="store_true",
                    help="connections start at their full window and keep it when idle")


@contextmanager
def line_in_front(azurite: Azurite, line: Line | None) -> Iterator[tuple[str, WanProxy | None]]:
    """(connection string, proxy): through a fresh proxy for `line`, or straight to Azurite."""
    if line is None:
        yield azurite.connection_string, None
        return
    proxy = start_wan_proxy(azurite.host, azurite.port, line)
    try:
        endpoint = f"http://{proxy.host}:{proxy.port}/{azurite.account_name}"
        yield (f"DefaultEndpointsProtocol=http;AccountName={azurite.account_name};"
               f"AccountKey={azurite.account_key};BlobEndpoint={endpoint};"), proxy
    finally:
        proxy.stop()


def measure_line(azurite: Azurite, line: Line | None, files: list[Path], rounds: int,
                 options: dict[str, int]) -> None:
    size = sum(p.stat().st_size for p in files)
    with line_in_front(azurite, line) as (conn, proxy):
        ours = Side("(a) ours (target upload)")
        plain = Side("(b) plain sequential SDK")
        threads = PeakThreads()
        alternate(
            rounds,
            lambda r: ours.timed(azurite, proxy, lambda: through_target(
                conn, files, f"bench-a{r}", threads, **options)),
            lambda r: plain.timed(azurite, proxy, lambda: plain_script(
                conn, files, f"bench-b{r}")),
        )
    cap_s = cap_seconds(line, size, up=True)
    report(line, size, cap_s, rounds, ours, plain, threads,
           target="  (target: office >= 2; home within 10 % of the cap)" if line else "")


def report(line: Line | None, size: int, cap_s: float | None, rounds: int, ours: Side,
           plain: Side, threads: PeakThreads, target: str = "",
           about_ours: tuple[str, ...] = ()) -> None:
    """The figures of one line, ours (a) beside the plain script (b); upload and download."""
    print(line.describe() if line else "direct: straight to Azurite, no proxy")
    if cap_s:
        print(f"  the cap alone needs {cap_s:.2f} s ({size / 1e6 / cap_s:.1f} MB/s)")
    print(ours.line(size / 1e6, cap_s, rounds))
    print(plain.line(size / 1e6, cap_s, rounds))
    print(f"  ratio of rates a/b: best {plain.best / ours.best:.2f}, median "
          f"{statistics.median(plain.times) / statistics.median(ours.times):.2f}" + target)
    for words in about_ours:
        print(f"  (a) {words}")
    print(f"  (a) {ours.costs()}; peak threads {threads.peak}")
    print(f"  (b) {plain.costs()}")
    print(f"  {load()}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    add_line_options(ap)
    ap.add_argument("--small", type=int, default=20)
    ap.add_argument("--small-mb", type=int, default=10)
    ap.add_argument("--large-mb", type=int, default=200)
    ap.add_argument("--large", type=int, default=1, help="how many large files")
    ap.add_argument("--rounds", type=int, default=3, help="alternate a/b this many times")
    ap.add_argument("--azurite-dir", default=None,
                    help="where Azurite keeps its data (e.g. /dev/shm, to take the disk out)")
    ap.add_argument("--files-at-once", type=int, default=None)
    ap.add_argument("--block-concurrency", type=int, default=None)
    args = ap.parse_args()
    options = {k: v for k, v in (("files_at_once", args.files_at_once),
                                 ("block_concurrency", args.block_concurrency)) if v}
    cache = Path(tempfile.gettempdir()) / "batchgui-bench-upload"
    files = (make_files(cache / "small", args.small, args.small_mb, "small")
             + make_files(cache / "large", args.large, args.large_mb, "large"))
    size = sum(p.stat().st_size for p in files)
    azurite = start_azurite(location=tempfile.mkdtemp(prefix="bench-azurite-",
                                                      dir=args.azurite_dir))
    try:
        service = BlobServiceClient.from_connection_string(azurite.connection_string)
        service.create_container(CONTAINER)
        service.close()
        print(f"Azurite {azurite.blob_endpoint}; cores: {os.cpu_count()}; {load()}")
        print(f"Upload of {args.small} x {args.small_mb} MB + {args.large} x {args.large_mb} MB "
              f"({size / 1e6:.0f} MB), best of {args.rounds}, sides alternating", flush=True)
        for line in lines_from(args.lines, args.window_kib, not args.no_slow_start):
            measure_line(azurite, line, files, args.rounds, options)
    finally:
        azurite.stop()


if __name__ == "__main__":
    main()
