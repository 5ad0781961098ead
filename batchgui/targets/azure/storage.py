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
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import (
    BlobSasPermissions,
    BlobServiceClient,
    ContainerSasPermissions,
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
from batchgui.targets.azure.transfers import (  # the constants are also re-exported
    BLOCK_BYTES,
    BLOCK_CONCURRENCY,
    BLOCK_THREADS,
    SINGLE_PUT_BYTES,
    Progress,
    Throttled,
    TransferAborted,
    connection_pool,
    get_file,
    put_file,
)

__all__ = [
    "BLOCK_CONCURRENCY", "CONTAINER", "SINGLE_PUT_BYTES", "RunStorage", "StorageSettingsError",
    "TransferAborted", "file_md5", "storage_access", "storage_endpoint", "uses_sign_in",
]

#: the one container of BatchGUI's earlier versions (each run under its own prefix);
#: today each run has a container of its own (tasks.run_container)
CONTAINER = "batchgui"

#: a user delegation key (and so every SAS signed with it) lives at most 7 days from now;
#: asked for a little less, so clocks a few minutes apart don't get it refused
DELEGATION_KEY_MAX = timedelta(days=7) - timedelta(minutes=10)
#: Blob Batch takes at most 256 deletes in one call
DELETES_PER_CALL = 256

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
            session=connection_pool(),
            **options,  # type: ignore[arg-type]
        )
        #: the threads that move the pieces of large files, shared by all of them
        self._piece_threads = ThreadPoolExecutor(BLOCK_THREADS, thread_name_prefix="block")
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
        hook = Throttled(progress, size, abort)
        put_file(blob, path, hook, self._piece_threads, block_concurrency)
        hook.finish()
        return True

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
        """Write the blob into `dest`; raises ResourceNotFoundError when it is not there.

        A large MP3 comes down in several ranges at once (a long recording over a far line).
        """
        blob = self.container_client.get_blob_client(blob_name)
        return get_file(blob, dest, progress, abort, self._piece_threads)

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
        """Remove these blobs (missing ones are fine), up to 256 in one call (Blob Batch)."""
        for start in range(0, len(blob_names), DELETES_PER_CALL):
            chunk = blob_names[start:start + DELETES_PER_CALL]
            answers = self.container_client.delete_blobs(
                *chunk, delete_snapshots="include", raise_on_any_failure=False)
            for name, answer in zip(chunk, answers, strict=False):
                if answer.status_code >= 400 and answer.status_code != 404:
                    raise HttpResponseError(message=f"could not remove {name}", response=answer)

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
        self._piece_threads.shutdown(wait=False, cancel_futures=True)
        self.service.close()

    def list_names(self, prefix: str) -> list[str]:
        return [b.name for b in self.container_client.list_blobs(name_starts_with=prefix)]


def _sas_start() -> datetime:
    """A little in the past, so a node whose clock is slightly behind can use it at once."""
    return datetime.now(UTC) - timedelta(minutes=15)
