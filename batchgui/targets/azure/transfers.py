"""Moving a file's bytes to or from a blob: large ones in pieces, several pieces at once.

Blocking, like the rest of storage: meant for the run's worker threads. A file up to
SINGLE_PUT_BYTES goes up in one request; a larger one in blocks. A blob up to
BLOCK_BYTES comes down in one request; a larger one in ranges. The pieces of
every file moving at once share one small set of threads (RunStorage's, BLOCK_THREADS),
so the thread count stays bounded however many files move together; up to
BLOCK_CONCURRENCY pieces of one file are in flight. Over a far line one connection
carries at most its TCP window per round trip, so a large file in pieces goes several
times faster than in one stream (tests/benchmarks/bench_azure_upload.py and
bench_azure_download.py measure it through a modelled WAN).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from pathlib import Path
from typing import Any

import requests
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobBlock, BlobClient, ContentSettings
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

#: files up to this size go in one request; larger ones in blocks, several at once
SINGLE_PUT_BYTES = 16 * 1024 * 1024
BLOCK_BYTES = 8 * 1024 * 1024
#: pieces (blocks up, ranges down) of one large file in flight at once
BLOCK_CONCURRENCY = 4
#: threads moving pieces, shared by all the files moving at once: the thread count stays
#: bounded however many large files move together
BLOCK_THREADS = 8
#: connections to storage kept open for reuse: at least one for every thread that can
#: make a request (the run's workers and the piece threads). The SDK's own session keeps
#: 10: after a burst of more requests than that, the extra connections are closed, and
#: a new one pays the TCP handshake and slow start (on a far region, about ten round
#: trips before it runs at full speed)
KEPT_CONNECTIONS = 32
#: how often (seconds) a file's progress is reported while it moves
PROGRESS_EVERY_S = 0.1

Progress = Callable[[int, int], None]


class TransferAborted(Exception):
    """The run was cancelled (or failed elsewhere) while a transfer was under way."""


def connection_pool(connections: int = KEPT_CONNECTIONS) -> requests.Session:
    """An HTTP session that keeps `connections` connections per host open for reuse.

    Otherwise like the SDK's own: no retries below the SDK's retry policy.
    """
    session = requests.Session()
    adapter = HTTPAdapter(
        pool_maxsize=connections,
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
    )
    for scheme in ("https://", "http://"):
        session.mount(scheme, adapter)
    return session


def video_settings(md5: bytes) -> ContentSettings:
    return ContentSettings(content_type="video/mp4", content_md5=bytearray(md5))


def put_file(blob: BlobClient, path: Path, hook: Throttled, threads: Executor,
             concurrency: int = BLOCK_CONCURRENCY) -> None:
    """Upload `path` into `blob` with its MD5 as Content-MD5 (one pass over the file)."""
    if path.stat().st_size <= SINGLE_PUT_BYTES:
        data = path.read_bytes()
        blob.upload_blob(
            data,
            length=len(data),
            overwrite=True,
            content_settings=video_settings(hashlib.md5(data, usedforsecurity=False).digest()),
            progress_hook=hook,
        )
        return
    digest = hashlib.md5(usedforsecurity=False)
    block_ids: list[str] = []
    sent = 0
    lock = threading.Lock()

    def stage(block_id: str, chunk: bytes) -> None:
        nonlocal sent
        hook.check()
        blob.stage_block(block_id, chunk, length=len(chunk))
        with lock:
            sent += len(chunk)
            done = sent
        hook(done, None)

    in_flight: set[Future[None]] = set()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(BLOCK_BYTES):
                hook.check()
                digest.update(chunk)
                block_id = f"{len(block_ids):08d}"  # same length for every block, as required
                block_ids.append(block_id)
                in_flight.add(threads.submit(stage, block_id, chunk))
                if len(in_flight) >= max(1, concurrency):
                    finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in finished:
                        future.result()
        for future in in_flight:
            future.result()
    finally:
        _wind_up(in_flight)
    blob.commit_block_list(
        [BlobBlock(block_id=block_id) for block_id in block_ids],
        content_settings=video_settings(digest.digest()),
    )


def get_file(blob: BlobClient, dest: Path, progress: Progress | None,
             abort: threading.Event | None, threads: Executor,
             concurrency: int = BLOCK_CONCURRENCY) -> int:
    """Write the blob into `dest` in BLOCK_BYTES ranges: the first alone (it tells the size;
    most MP3s are no larger), the rest up to `concurrency` at once, written in order.

    Returns the size. The first range is kept small so that the others start soon: each
    new connection starts slow (TCP slow start), and several ramp up together.
    """
    try:
        first = blob.download_blob(offset=0, length=BLOCK_BYTES)
    except HttpResponseError as exc:
        if exc.status_code != 416:
            raise
        first = blob.download_blob()  # an empty blob has no range to ask for
    total = int((first.properties.content_range or "/0").rpartition("/")[2])  # "bytes 0-N/SIZE"
    hook = Throttled(progress, total, abort)
    etag = first.properties.etag

    def fetch(offset: int) -> bytes:
        hook.check()
        length = min(BLOCK_BYTES, total - offset)
        # from the very blob the first range came from
        return blob.download_blob(offset=offset, length=length, etag=etag,
                                  match_condition=MatchConditions.IfNotModified).readall()

    in_flight: deque[Future[bytes]] = deque()
    try:
        with open(dest, "wb") as fh:
            data = first.readall()
            fh.write(data)
            written = len(data)
            hook(written, total)
            ranges = iter(range(written, total, BLOCK_BYTES))
            for offset in ranges:
                in_flight.append(threads.submit(fetch, offset))
                if len(in_flight) >= max(1, concurrency):
                    break
            while in_flight:
                data = in_flight.popleft().result()
                fh.write(data)
                written += len(data)
                hook(written, total)
                if (later := next(ranges, None)) is not None:
                    in_flight.append(threads.submit(fetch, later))
    finally:
        _wind_up(in_flight)
    hook.finish()
    return written


def _wind_up(futures: Collection[Future[Any]]) -> None:
    """A file that failed leaves none of its pieces running behind its back."""
    for future in futures:
        future.cancel()
    wait(futures)


class Throttled:
    """The SDK's progress hook (called on its worker threads): throttled, and able to abort."""

    def __init__(self, progress: Progress | None, total: int, abort: threading.Event | None):
        self.progress = progress
        self.total = total
        self.abort = abort
        self.last = 0.0
        self.done = 0
        self.lock = threading.Lock()

    def check(self) -> None:
        if self.abort is not None and self.abort.is_set():
            raise TransferAborted()

    def __call__(self, current: int, total: int | None) -> None:
        self.check()
        if self.progress is None:
            return
        now = time.monotonic()
        with self.lock:
            self.done = max(self.done, current)
            if now - self.last < PROGRESS_EVERY_S:
                return
            self.last = now
            done = self.done
        self.progress(done, total or self.total)

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(self.total, self.total)
