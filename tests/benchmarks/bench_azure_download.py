"""Benchmark: downloading the MP3s the way a run does vs one after the other, over a
modelled WAN (tests/wan_proxy.py) and straight to Azurite.

Not a test (pytest does not collect it, CI does not run it). Run:

    .venv/bin/python -m tests.benchmarks.bench_azure_download [--lines office,home,direct]
        [--rounds 3] [--count 40] [--mb 5] [--large-mb 80] [--at-once 4]

It starts Azurite on a free port and puts 40 MP3-sized blobs of 5 MB (a few minutes
of audio each) and one of 80 MB (an hour-long lecture) where a run's tasks leave their
MP3s. Then, for each line, alternating and in turn first:
(a) ours: every file handed to the target's `fetch` at once, at most
    FINISH_CONCURRENCY (core/finish.py) at a time, as the run's finishing step does when
    several tasks have completed, on an executor of the CLI's size; and
(b) the seed's way: SDK defaults, `download_blob(name).readall()` one after the other.
It prints best-of-N, the spread, the ratio a/b, the share of the line's cap each side
got, how much the downloads of (a) overlapped (most at once, and the sum of the
downloads' own times over the wall time), connections opened, CPU of Azurite, the
client and the proxy, how late the proxy delivered, and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from azure.storage.blob import BlobServiceClient

from batchgui.core.finish import FINISH_CONCURRENCY
from batchgui.core.models import InputFile, Quality
from batchgui.core.target import CancelToken, RunContext, WorkItem
from batchgui.targets.azure.batch import BatchService
from batchgui.targets.azure.config import AzureAccount, PoolSettings
from batchgui.targets.azure.storage import RunStorage
from batchgui.targets.azure.target import AzureBatchTarget
from batchgui.targets.azure.tasks import output_blob
from tests.azure_world import Azurite, start_azurite
from tests.benchmarks.bench_azure_upload import (
    PeakThreads,
    Side,
    add_line_options,
    alternate,
    cap_seconds,
    line_in_front,
    lines_from,
    load,
    make_files,
    report,
    run_threads,
)
from tests.wan_proxy import Line

CONTAINER = "bench-download"


class Overlap:
    """When each download of (a) ran, to show that they overlap."""

    def __init__(self) -> None:
        self.most = 0
        self.busy_over_wall: list[float] = []

    def add(self, spans: list[tuple[float, float]]) -> None:
        events = sorted([(t0, 1) for t0, _ in spans] + [(t1, -1) for _, t1 in spans])
        now = 0
        for _, step in events:
            now += step
            self.most = max(self.most, now)
        wall = max(t1 for _, t1 in spans) - min(t0 for t0, _ in spans)
        self.busy_over_wall.append(sum(t1 - t0 for t0, t1 in spans) / wall)


def put_mp3s(azurite: Azurite, files: list[Path]) -> list[str]:
    """The files as blobs where a run's tasks leave MP3s (straight to Azurite)."""
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.get_container_client(CONTAINER)
    container.create_container()
    names = []
    for i, path in enumerate(files):
        name = output_blob(f"f{i:05d}")
        with open(path, "rb") as fh:
            container.upload_blob(name, fh, overwrite=True, max_concurrency=4)
        names.append(name)
    service.close()
    return names


def through_target(conn: str, files: list[Path], out: Path, threads: PeakThreads,
                   overlap: Overlap, at_once: int = FINISH_CONCURRENCY) -> float:
    """Every MP3 handed to the target's fetch at once, `at_once` at a time."""
    account = AzureAccount(name="bench", batch_url="http://unused", batch_account="unused",
                           storage_connection_string=conn)
    target = AzureBatchTarget(account, PoolSettings())
    target._storage = RunStorage(account, CONTAINER)
    unused: Any = object()  # fetch never calls Batch
    target._batch = BatchService(account, client=unused)
    items = [
        WorkItem(f"f{i:05d}", InputFile(p, p.stat().st_size, 1.0), out / f"{i:05d}.mp3",
                 out / f".{i:05d}.mp3.part", Quality())
        for i, p in enumerate(files)
    ]
    spans: list[tuple[float, float]] = []

    async def go() -> float:
        limit = asyncio.Semaphore(at_once)
        with ThreadPoolExecutor(max_workers=run_threads(target)) as executor:
            ctx = RunContext("bench", executor, CancelToken())

            async def one(item: WorkItem) -> None:
                async with limit:
                    t0 = time.perf_counter()
                    await target.fetch(item, ctx)
                    spans.append((t0, time.perf_counter()))

            start = time.perf_counter()
            with threads.watch():
                await asyncio.gather(*(one(item) for item in items))
            return time.perf_counter() - start

    took = asyncio.run(go())
    target._storage.close()
    for item in items:
        assert item.part_path.stat().st_size == item.input.size, "the whole MP3 came down"
        item.part_path.unlink()
    overlap.add(spans)
    return took


def plain_script(conn: str, names: list[str], files: list[Path], out: Path) -> float:
    """The seed's way: SDK defaults, one download after the other."""
    service = BlobServiceClient.from_connection_string(conn)
    container = service.get_container_client(CONTAINER)
    start = time.perf_counter()
    for i, name in enumerate(names):
        (out / f"plain{i:05d}.mp3").write_bytes(container.download_blob(name).readall())
    took = time.perf_counter() - start
    service.close()
    for i, path in enumerate(files):
        done = out / f"plain{i:05d}.mp3"
        assert done.stat().st_size == path.stat().st_size
        done.unlink()
    return took


def measure_line(azurite: Azurite, line: Line | None, files: list[Path], names: list[str],
                 rounds: int, out: Path, at_once: int) -> None:
    size = sum(p.stat().st_size for p in files)
    with line_in_front(azurite, line) as (conn, proxy):
        ours = Side(f"(a) ours ({at_once} at once)")
        plain = Side("(b) plain sequential SDK")
        threads = PeakThreads()
        overlap = Overlap()
        alternate(
            rounds,
            lambda r: ours.timed(azurite, proxy, lambda: through_target(
                conn, files, out, threads, overlap, at_once)),
            lambda r: plain.timed(azurite, proxy, lambda: plain_script(
                conn, names, files, out)),
        )
    cap_s = cap_seconds(line, size, up=False)
    report(line, size, cap_s, rounds, ours, plain, threads, about_ours=(
        f"overlap: up to {overlap.most} downloads at once; the downloads' own times add up "
        f"to {min(overlap.busy_over_wall):.1f}-{max(overlap.busy_over_wall):.1f}x the wall "
        "time",))


def main() -> None:
    ap = argparse.ArgumentParser()
    add_line_options(ap)
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--mb", type=float, default=5)
    ap.add_argument("--large-mb", type=int, default=80, help="0: no large MP3")
    ap.add_argument("--rounds", type=int, default=3, help="alternate a/b this many times")
    ap.add_argument("--at-once", type=int, default=FINISH_CONCURRENCY,
                    help="downloads at once for (a) (default: the run's FINISH_CONCURRENCY)")
    args = ap.parse_args()
    cache = Path(tempfile.gettempdir()) / "batchgui-bench-download"
    files = make_files(cache / "mp3", args.count, 0, "clip", ".mp3",
                       size_bytes=int(args.mb * 1024 * 1024))
    if args.large_mb:
        files += make_files(cache / "large", 1, args.large_mb, "lecture", ".mp3")
    size = sum(p.stat().st_size for p in files)
    azurite = start_azurite()
    out = Path(tempfile.mkdtemp(prefix="bench-download-"))
    try:
        names = put_mp3s(azurite, files)
        print(f"Azurite {azurite.blob_endpoint}; cores: {os.cpu_count()}; {load()}")
        print(f"Download of {args.count} x {args.mb:g} MB"
              + (f" + 1 x {args.large_mb} MB" if args.large_mb else "")
              + f" ({size / 1e6:.0f} MB), best of {args.rounds}, sides alternating",
              flush=True)
        for line in lines_from(args.lines, args.window_kib, not args.no_slow_start):
            measure_line(azurite, line, files, names, args.rounds, out, args.at_once)
    finally:
        azurite.stop()
        for leftover in out.iterdir():
            leftover.unlink()
        out.rmdir()


if __name__ == "__main__":
    main()
