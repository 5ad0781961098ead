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

from batchgui.i18n import N_, _, megabytes, pgettext, tr, trn
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
        what = {"files": N_("Files {name}"), "job": N_("Job {name}"), "pool": N_("Pool {name}")}
        parts = [tr(what[self.kind], name=self.name)]
        if self.kind == "files":
            parts.append(megabytes(self.size_bytes))
        if self.kind == "pool":
            parts.append(trn("{n} node running", "{n} nodes running", self.nodes) if self.nodes
                         else _("no nodes"))
        if self.kind == "job" and self.state:
            parts.append(job_state_words(self.state))
        if self.created is not None:
            hours = max(0.0, (now - self.created).total_seconds() / 3600)
            parts.append(trn("{n} h old", "{n} h old", round(hours)) if hours >= 1
                         else _("less than an hour old"))
        if self.standing == RESUMABLE:
            parts.append(tr("kept for resuming run {run_id}", run_id=self.run_id))
        elif self.standing == OVER:
            parts.append(tr("left by run {run_id}", run_id=self.run_id))
        elif self.standing == UNKNOWN:
            parts.append(_("not started from this computer"))
        return ", ".join(p for p in parts if p)


def job_state_words(state: str) -> str:
    """A job's state (as the service names it) as the list shows it."""
    words = {"active": pgettext("job state", "active"),
             "disabling": pgettext("job state", "pausing"),
             "disabled": pgettext("job state", "paused"),
             "enabling": pgettext("job state", "continuing"),
             "terminating": pgettext("job state", "ending"),
             "completed": pgettext("job state", "completed"),
             "deleting": pgettext("job state", "being deleted")}
    return words.get(state, state)


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
                problems.append(tr("{item}: could not be removed ({error})",
                                   item=item.describe(), error=str(exc)))
    finally:
        batch.close()
    return problems
