"""The run's blobs in the user's storage account: inputs up, MP3s and task logs down.

Everything is blocking (azure-storage-blob's sync client) and meant to run on the
executor. Each run keeps its blobs in a container of its own, with opaque names
(tasks.py); nothing here ever sees a user's file name except as a local path to read
from or write to.

Two ways in: the account key (SAS URLs signed with it), or an Entra ID sign-in
(`AzureAccount.credential`, when no key is given): then the app talks to storage with
the user's token and signs the tasks' SAS URLs with a user delegation key, so accounts
that forbid shared keys work too.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import (
    BlobBlock,
    BlobClient,
    BlobSasPermissions,
    BlobServiceClient,
    ContainerSasPermissions,
    ContentSettings,
    ExponentialRetry,
    UserDelegationKey,
    generate_blob_sas,
    generate_container_sas,
)

from batchgui.targets.azure.config import AzureAccount
from batchgui.targets.azure.storage_access import (  # also re-exported (see __all__)
    StorageKey,
    StorageSettingsError,
    storage_access,
    storage_endpoint,
    uses_sign_in,
)

__all__ = [
    "BLOCK_CONCURRENCY", "CONTAINER", "SINGLE_PUT_BYTES", "RunStorage", "StorageSettingsError",
    "TransferAborted", "file_md5", "storage_access", "storage_endpoint", "uses_sign_in",
]

#: the one container of BatchGUI's earlier versions (each run under its own prefix);
#: today each run has a container of its own (tasks.run_container)
CONTAINER = "batchgui"

#: files up to this size go in one request; larger ones in blocks, several at once
SINGLE_PUT_BYTES = 16 * 1024 * 1024
BLOCK_BYTES = 8 * 1024 * 1024
#: blocks of one large file in flight at once
BLOCK_CONCURRENCY = 4
#: how often (seconds) a file's progress is reported while it moves
PROGRESS_EVERY_S = 0.1
#: a user delegation key (and so every SAS signed with it) lives at most 7 days from now;
#: asked for a little less, so clocks a few minutes apart don't get it refused
DELEGATION_KEY_MAX = timedelta(days=7) - timedelta(minutes=10)

Progress = Callable[[int, int], None]


class TransferAborted(Exception):
    """The run was cancelled (or failed elsewhere) while a transfer was under way."""


def client_options() -> dict[str, object]:
    """Short, bounded retries so a wrong address fails in seconds, not minutes."""
    # The storage SDK's own default waits 15 s, then 18 s, ... between tries: far too long
    # for "wrong address" and for a blip during an upload alike.
    return {
        "retry_policy": ExponentialRetry(
            initial_backoff=1, increment_base=2, retry_total=4, retry_connect=1,
            retry_read=3, retry_status=4, random_jitter_range=1,
        ),
        "connection_timeout": 15,
        "read_timeout": 120,
        "max_single_put_size": SINGLE_PUT_BYTES,
        "max_block_size": BLOCK_BYTES,
        "max_single_get_size": SINGLE_PUT_BYTES,
        "max_chunk_get_size": BLOCK_BYTES,
    }


def file_md5(path: Path, chunk: int = 4 * 1024 * 1024) -> bytes:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.digest()


class RunStorage:
    """The storage side of one run: upload, SAS URLs, download, delete."""

    def __init__(self, account: AzureAccount, container: str = CONTAINER) -> None:
        access = storage_access(account)
        #: the account key, or None when signed in with Entra ID (see `signed_in`)
        self.key = access if isinstance(access, StorageKey) else None
        self.account_name = access.account_name
        self._endpoint = access.blob_endpoint
        self.container = container
        options = client_options()
        if account.storage_verify:
            options["connection_verify"] = account.storage_verify
        credential: Any  # a key dict, or the sign-in's TokenCredential
        if isinstance(access, StorageKey):
            credential = {"account_name": access.account_name, "account_key": access.account_key}
        else:
            credential = access.credential
        self.service = BlobServiceClient(
            access.blob_endpoint,
            credential=credential,
            **options,  # type: ignore[arg-type]
        )
        self.container_client = self.service.get_container_client(container)
        self._delegation: UserDelegationKey | None = None
        self._delegation_expiry: datetime | None = None
        self._delegation_lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return self._endpoint

    @property
    def signed_in(self) -> bool:
        """True when storage is reached with an Entra ID sign-in rather than a key."""
        return self.key is None

    # -- setup -----------------------------------------------------------------------------

    def ensure_container(self) -> None:
        try:
            self.container_client.create_container()
        except ResourceExistsError:
            pass

    def check(self) -> None:
        """One cheap authenticated call, for 'Test connection'.

        Signed in with Entra ID, also ask for a user delegation key: a run needs one to
        hand its tasks their links, and a missing role shows up here rather than mid-run.
        """
        next(iter(self.service.list_containers(results_per_page=1).by_page()), None)
        if self.signed_in:
            now = datetime.now(UTC)
            self.service.get_user_delegation_key(now - timedelta(minutes=5),
                                                 now + timedelta(hours=1))

    # -- upload ----------------------------------------------------------------------------

    def upload(
        self,
        path: Path,
        blob_name: str,
        *,
        progress: Progress | None = None,
        abort: threading.Event | None = None,
        block_concurrency: int = BLOCK_CONCURRENCY,
    ) -> bool:
        """Upload `path` as `blob_name`; False when an identical blob (size + MD5) is there.

        The MD5 is computed while the file is read for sending (one pass over the file),
        and stored as the blob's Content-MD5, so a later run can compare without reading
        the blob back.
        """
        size = path.stat().st_size
        blob = self.container_client.get_blob_client(blob_name)
        try:
            props = blob.get_blob_properties()
        except ResourceNotFoundError:
            props = None
        if props is not None and props.size == size:
            remote_md5 = props.content_settings.content_md5
            if remote_md5 is not None and bytes(remote_md5) == file_md5(path):
                if progress:
                    progress(size, size)
                return False
        hook = _Throttled(progress, size, abort)
        if size <= SINGLE_PUT_BYTES:
            data = path.read_bytes()
            blob.upload_blob(
                data,
                length=len(data),
                overwrite=True,
                content_settings=_settings(hashlib.md5(data, usedforsecurity=False).digest()),
                progress_hook=hook,
            )
        else:
            self._upload_blocks(blob, path, hook, max(1, block_concurrency))
        hook.finish()
        return True

    def _upload_blocks(
        self, blob: BlobClient, path: Path, hook: _Throttled, concurrency: int
    ) -> None:
        """Read the file once, hashing as it goes, while up to `concurrency` blocks are sent."""
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

        with ThreadPoolExecutor(concurrency, thread_name_prefix="block") as pool, \
                open(path, "rb") as fh:
            in_flight: set[Future[None]] = set()
            while chunk := fh.read(BLOCK_BYTES):
                hook.check()
                digest.update(chunk)
                block_id = f"{len(block_ids):08d}"  # same length for every block, as required
                block_ids.append(block_id)
                in_flight.add(pool.submit(stage, block_id, chunk))
                if len(in_flight) >= concurrency:
                    finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in finished:
                        future.result()
            for future in in_flight:
                future.result()
        blob.commit_block_list(
            [BlobBlock(block_id=block_id) for block_id in block_ids],
            content_settings=_settings(digest.digest()),
        )

    # -- SAS URLs --------------------------------------------------------------------------

    def blob_url(self, blob_name: str) -> str:
        return f"{self.endpoint}/{self.container}/{quote(blob_name)}"

    def prepare_signing(self, expiry: datetime) -> None:
        """Get what SAS URLs valid until `expiry` are signed with (blocking: one call at most).

        With the account key there is nothing to get. Signed in with Entra ID, this asks
        storage for a user delegation key covering `expiry` (at most 7 days ahead), once;
        call it on the executor before `read_sas_url`/`write_sas_url`, which then only sign.
        """
        if self.key is not None:
            return
        with self._delegation_lock:
            now = datetime.now(UTC)
            wanted = min(expiry, now + DELEGATION_KEY_MAX)
            # a key that reaches (nearly) as far as the 7-day cap is as good as a new one
            enough = min(wanted, now + DELEGATION_KEY_MAX - timedelta(hours=1))
            if (
                self._delegation is not None
                and self._delegation_expiry is not None
                and self._delegation_expiry >= enough
            ):
                return
            self._delegation = self.service.get_user_delegation_key(_sas_start(), wanted)
            self._delegation_expiry = wanted

    def _signing(self, expiry: datetime) -> tuple[dict[str, object], datetime]:
        """The signing argument for generate_*_sas, and the expiry the SAS can have."""
        if self.key is not None:
            return {"account_key": self.key.account_key}, expiry
        self.prepare_signing(expiry)
        assert self._delegation is not None and self._delegation_expiry is not None
        # a SAS can't outlive the delegation key it is signed with
        return {"user_delegation_key": self._delegation}, min(expiry, self._delegation_expiry)

    def read_sas_url(self, blob_name: str, expiry: datetime) -> str:
        """A URL that can read this one blob and nothing else, until `expiry`."""
        signing, expiry = self._signing(expiry)
        sas = generate_blob_sas(
            self.account_name,
            self.container,
            blob_name,
            permission=BlobSasPermissions(read=True),
            expiry=expiry,
            start=_sas_start(),
            **signing,  # type: ignore[arg-type]
        )
        return f"{self.blob_url(blob_name)}?{sas}"

    def write_sas_url(self, expiry: datetime) -> str:
        """A container URL that can create and write blobs (not read, list or delete them)."""
        signing, expiry = self._signing(expiry)
        sas = generate_container_sas(
            self.account_name,
            self.container,
            permission=ContainerSasPermissions(create=True, write=True),
            expiry=expiry,
            start=_sas_start(),
            **signing,  # type: ignore[arg-type]
        )
        return f"{self.endpoint}/{self.container}?{sas}"

    # -- download and logs -----------------------------------------------------------------

    def download(
        self,
        blob_name: str,
        dest: Path,
        *,
        progress: Progress | None = None,
        abort: threading.Event | None = None,
    ) -> int:
        """Write the blob into `dest`; raises ResourceNotFoundError when it is not there."""
        blob = self.container_client.get_blob_client(blob_name)
        stream = blob.download_blob(max_concurrency=4)
        total = stream.size
        hook = _Throttled(progress, total, abort)
        written = 0
        with open(dest, "wb") as fh:
            for chunk in stream.chunks():
                fh.write(chunk)
                written += len(chunk)
                hook(written, total)
        hook.finish()
        return written

    def read_tail(self, blob_name: str, max_bytes: int = 4000) -> str | None:
        """The last `max_bytes` of a text blob (e.g. a task's stderr.txt); None if missing."""
        blob = self.container_client.get_blob_client(blob_name)
        try:
            size = blob.get_blob_properties().size
            if size == 0:
                return ""
            offset = max(0, size - max_bytes)
            data = blob.download_blob(offset=offset, length=size - offset).readall()
        except ResourceNotFoundError:
            return None
        return data.decode("utf-8", errors="replace")

    def exists(self, blob_name: str) -> bool:
        return bool(self.container_client.get_blob_client(blob_name).exists())

    # -- delete ----------------------------------------------------------------------------

    def delete(self, blob_names: list[str]) -> None:
        for name in blob_names:
            try:
                self.container_client.delete_blob(name, delete_snapshots="include")
            except ResourceNotFoundError:
                pass

    def delete_container(self) -> None:
        """Remove the run's container and everything in it (one call)."""
        try:
            self.container_client.delete_container()
        except ResourceNotFoundError:
            pass

    def delete_prefix(self, prefix: str) -> int:
        """Remove every blob under `prefix` (the run's folder); returns how many went."""
        names = [b.name for b in self.container_client.list_blobs(name_starts_with=prefix)]
        self.delete(names)
        return len(names)

    def close(self) -> None:
        self.service.close()

    def list_names(self, prefix: str) -> list[str]:
        return [b.name for b in self.container_client.list_blobs(name_starts_with=prefix)]


def _settings(md5: bytes) -> ContentSettings:
    return ContentSettings(content_type="video/mp4", content_md5=bytearray(md5))


def _sas_start() -> datetime:
    """A little in the past, so a node whose clock is slightly behind can use it at once."""
    return datetime.now(UTC) - timedelta(minutes=15)


class _Throttled:
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
