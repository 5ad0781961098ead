"""What BatchGUI left on an Azure account, and removing it (`batchgui cleanup`).

Found by the app's own marks: containers named `batchgui-run-…` (one per run), blobs
under `run-…/` in the `batchgui` container of earlier versions, and jobs and pools
carrying the `batchgui` metadata. Each is tied to its run, and the caller says what
that run is to this computer (`standing(run_id)`): still going ("live": never
listed), waiting to be resumed ("resumable": listed, kept unless asked), over, or
unknown here (made from another computer, or a journal that was lost).
Blocking: call it on a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from batchgui.targets.azure.batch import BatchService
from batchgui.targets.azure.config import OWNER_KEY, OWNER_VALUE, RUN_KEY, AzureAccount
from batchgui.targets.azure.errors import value
from batchgui.targets.azure.storage import CONTAINER, RunStorage
from batchgui.targets.azure.tasks import CONTAINER_PREFIX

log = logging.getLogger(__name__)

LIVE, RESUMABLE, OVER, UNKNOWN = "live", "resumable", "over", "unknown"


@dataclass(frozen=True)
class Leftover:
    """One thing on the account that BatchGUI made."""

    kind: str  # "files", "job" or "pool"
    name: str  # container (or container/prefix), job id or pool id
    run_id: str | None
    standing: str  # LIVE, RESUMABLE, OVER or UNKNOWN
    size_bytes: int = 0
    created: datetime | None = None
    nodes: int = 0  # a pool's nodes (they cost money while they exist)
    state: str = ""

    def describe(self, now: datetime | None = None) -> str:
        """One line for a list: what, how big or how many nodes, how old, whose."""
        now = now or datetime.now(UTC)
        parts = [{"files": "Files", "job": "Job", "pool": "Pool"}[self.kind] + f" {self.name}"]
        if self.kind == "files":
            parts.append(f"{self.size_bytes / 1e6:.1f} MB")
        if self.kind == "pool":
            parts.append(f"{self.nodes} node(s) running" if self.nodes else "no nodes")
        if self.kind == "job" and self.state:
            parts.append(self.state)
        if self.created is not None:
            hours = max(0.0, (now - self.created).total_seconds() / 3600)
            parts.append(f"{hours:.0f} h old" if hours >= 1 else "less than an hour old")
        parts.append({
            RESUMABLE: f"kept for resuming run {self.run_id}",
            OVER: f"left by run {self.run_id}",
            UNKNOWN: "not started from this computer",
        }.get(self.standing, ""))
        return ", ".join(p for p in parts if p)


def _run_of_container(name: str) -> str | None:
    return name[len(CONTAINER_PREFIX):] if name.startswith(CONTAINER_PREFIX + "run-") else None


def find_leftovers(account: AzureAccount, standing: Callable[[str | None], str]) -> list[Leftover]:
    """Everything BatchGUI made on this account that no live run uses."""
    found: list[Leftover] = []
    storage = RunStorage(account, CONTAINER)
    service: BlobServiceClient = storage.service
    try:
        for container in service.list_containers(name_starts_with=CONTAINER_PREFIX + "run-"):
            run_id = _run_of_container(container.name)
            client = service.get_container_client(container.name)
            size = sum(b.size or 0 for b in client.list_blobs())
            found.append(Leftover("files", container.name, run_id, standing(run_id), size,
                                  container.last_modified))
        legacy = service.get_container_client(CONTAINER)
        prefixes: dict[str, Leftover] = {}
        try:
            for blob in legacy.list_blobs():
                run_id = blob.name.split("/", 1)[0]
                old = prefixes.get(run_id)
                size = (old.size_bytes if old else 0) + (blob.size or 0)
                prefixes[run_id] = Leftover("files", f"{CONTAINER}/{run_id}/", run_id,
                                            standing(run_id), size, blob.last_modified)
        except ResourceNotFoundError:
            pass
        found.extend(prefixes.values())
    finally:
        storage.close()
    batch = BatchService(account)
    try:
        for job in batch.client.list_jobs(select=["id", "state", "metadata", "creationTime"]):
            meta = {m.name: m.value for m in (job.metadata or [])}
            if meta.get(OWNER_KEY) != OWNER_VALUE:
                continue
            run_id = meta.get(RUN_KEY)
            found.append(Leftover("job", job.id, run_id, standing(run_id),
                                  created=job.creation_time, state=value(job.state)))
        for pool in batch.client.list_pools(select=[
                "id", "state", "metadata", "creationTime", "currentDedicatedNodes",
                "currentLowPriorityNodes"]):
            meta = {m.name: m.value for m in (pool.metadata or [])}
            if meta.get(OWNER_KEY) != OWNER_VALUE or value(pool.state) == "deleting":
                continue
            run_id = meta.get(RUN_KEY)  # auto pools carry their run; kept pools do not
            nodes = (pool.current_dedicated_nodes or 0) + (pool.current_low_priority_nodes or 0)
            used = batch.other_jobs_on(pool.id, "")
            if run_id is None and used:
                continue  # a kept pool that a job uses right now
            found.append(Leftover("pool", pool.id, run_id,
                                  standing(run_id) if run_id else OVER,
                                  created=pool.creation_time, nodes=nodes))
    finally:
        batch.close()
    return [f for f in found if f.standing != LIVE]


def remove_leftovers(account: AzureAccount, leftovers: list[Leftover]) -> list[str]:
    """Remove them; returns a plain sentence for each one that could not be removed."""
    problems: list[str] = []
    batch = BatchService(account)
    try:
        for item in sorted(leftovers, key=lambda x: {"job": 0, "pool": 1, "files": 2}[x.kind]):
            try:
                if item.kind == "job":
                    batch.delete_job(item.name)
                elif item.kind == "pool":
                    batch.delete_pool(item.name)
                elif "/" in item.name:  # a run's folder in the old shared container
                    container, prefix = item.name.split("/", 1)
                    storage = RunStorage(account, container)
                    try:
                        storage.delete_prefix(prefix)
                    finally:
                        storage.close()
                else:
                    storage = RunStorage(account, item.name)
                    try:
                        storage.delete_container()
                    finally:
                        storage.close()
            except (AzureError, ValueError) as exc:
                log.info("could not remove %s: %s", item.name, exc)
                problems.append(f"{item.describe()}: could not be removed ({exc})")
    finally:
        batch.close()
    return problems
