"""Benchmark: uploading inputs through the Azure target vs the seed tutorial's plain loop.

Not a test (pytest does not collect it, CI does not run it). Run:

    .venv/bin/python -m tests.benchmarks.bench_azure_upload [--small 20] [--small-mb 10]
        [--large-mb 200] [--rounds 2]

It starts Azurite (pinned, from tests/azurite) on a free port, makes 20 x 10 MB and
1 x 200 MB files once (cached in the temp folder), then, alternating, times
(a) the target's upload step (several files at once, large files in parallel blocks,
    MD5 computed and stored, progress reported) and
(b) a plain script: BlobServiceClient.from_connection_string() with the SDK defaults and
    one `upload_blob` after the other, as the seed tutorial does,
and prints both rates and the ratio a/b (target: at least 1.5), plus how much CPU
Azurite itself used per second: on a small machine Azurite (one Node.js process) is the
bottleneck, which caps what any client can gain against it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from azure.storage.blob import BlobServiceClient

from batchgui.core.models import InputFile, Quality
from batchgui.core.target import CancelToken, RunContext, WorkItem
from batchgui.targets.azure.config import AzureAccount, PoolSettings
from batchgui.targets.azure.storage import RunStorage
from batchgui.targets.azure.target import AzureBatchTarget
from tests.azure_world import start_azurite


def make_files(folder: Path, count: int, size_mb: int, prefix: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        path = folder / f"{prefix}{i:02d}.mp4"
        if not path.exists() or path.stat().st_size != size_mb * 1024 * 1024:
            with open(path, "wb") as fh:
                for _ in range(size_mb):
                    fh.write(os.urandom(1024 * 1024))
        files.append(path)
    return files


def through_target(conn: str, files: list[Path], run_id: str, **options: int) -> float:
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
        with ThreadPoolExecutor(max_workers=target.parallelism + 8) as executor:
            ctx = RunContext(run_id, executor, CancelToken(),
                             report_transfer=lambda t, d, n: moved.__setitem__(t, d))
            start = time.perf_counter()
            await target._upload_all(items, ctx)
            return time.perf_counter() - start

    took = asyncio.run(go())
    assert target.stats["uploaded"] == len(files), target.stats
    assert sum(moved.values()) == sum(p.stat().st_size for p in files), "progress reached 100 %"
    storage.delete_prefix(run_id + "/")
    storage.close()
    return took


def plain_script(conn: str, files: list[Path], run_id: str) -> float:
    """The seed tutorial's way: SDK defaults, one file after the other."""
    service = BlobServiceClient.from_connection_string(conn)
    container = service.get_container_client("batchgui")
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=20)
    ap.add_argument("--small-mb", type=int, default=10)
    ap.add_argument("--large-mb", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2, help="alternate a/b this many times")
    ap.add_argument("--azurite-dir", default=None,
                    help="where Azurite keeps its data (e.g. /dev/shm, to take the disk out)")
    ap.add_argument("--files-at-once", type=int, default=None)
    ap.add_argument("--block-concurrency", type=int, default=None)
    args = ap.parse_args()
    options = {k: v for k, v in (("files_at_once", args.files_at_once),
                                 ("block_concurrency", args.block_concurrency)) if v}
    cache = Path(tempfile.gettempdir()) / "batchgui-bench-upload"
    small = make_files(cache / "small", args.small, args.small_mb, "small")
    large = make_files(cache / "large", 1, args.large_mb, "large")
    sets = [(f"{args.small} x {args.small_mb} MB", small), (f"1 x {args.large_mb} MB", large),
            ("both together", small + large)]
    azurite = start_azurite(location=tempfile.mkdtemp(prefix="bench-azurite-",
                                                      dir=args.azurite_dir))
    try:
        conn = azurite.connection_string
        service = BlobServiceClient.from_connection_string(conn)
        service.create_container("batchgui")
        service.close()
        print(f"Azurite {azurite.blob_endpoint}; cores: {os.cpu_count()}")
        for label, files in sets:
            total_mb = sum(p.stat().st_size for p in files) / 1e6
            a_times, b_times = [], []
            a_cpu = b_cpu = 0.0
            pid = azurite.proc.pid
            for r in range(args.rounds):
                before = cpu_seconds(pid)
                b_times.append(plain_script(conn, files, f"bench-b{r}"))
                middle = cpu_seconds(pid)
                a_times.append(through_target(conn, files, f"bench-a{r}", **options))
                b_cpu += middle - before
                a_cpu += cpu_seconds(pid) - middle
            a, b = min(a_times), min(b_times)
            print(f"{label} ({total_mb:.0f} MB), best of {args.rounds}:")
            print(f"  (a) target upload:         {a:6.2f} s  {total_mb / a:7.1f} MB/s   (all: "
                  + ", ".join(f"{t:.2f}" for t in a_times) + ")")
            print(f"  (b) plain sequential SDK:  {b:6.2f} s  {total_mb / b:7.1f} MB/s   (all: "
                  + ", ".join(f"{t:.2f}" for t in b_times) + ")")
            print(f"  ratio of rates a/b: {b / a:.2f} (target >= 1.5)")
            print(f"  Azurite's own CPU per second of upload: (a) {a_cpu / sum(a_times):.2f}  "
                  f"(b) {b_cpu / sum(b_times):.2f} (near the core count: the server is "
                  "the limit)", flush=True)
    finally:
        azurite.stop()


if __name__ == "__main__":
    main()
