"""Pools: which image, which pool to reuse or create, and whether its nodes can work.

`PoolCalls` is the pool half of `BatchService` (batch.py): blocking calls for the
executor. A run that deletes its pool at the end does not create one here at all:
it asks for an *auto pool* that the Batch service itself ends with the run's job
(`pool_specification` describes it); a pool kept for later runs is a named pool,
reused when its fingerprint (VM size, start task, slots) matches.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.batch import BatchClient
from azure.batch import models as bm
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from batchgui.i18n import Reason, _, tr, trn, why, whyn
from batchgui.targets.azure.config import (
    FINGERPRINT_KEY,
    OWNER_KEY,
    OWNER_VALUE,
    RUN_KEY,
    PoolSettings,
)
from batchgui.targets.azure.errors import error_code, value

#: oldest Ubuntu the app accepts (18.04 and 20.04 node agents are retired)
MIN_UBUNTU = (22, 4)

NODE_SELECT = ["id", "state", "isDedicated", "runningTasksCount", "runningTaskSlotsCount",
               "errors", "startTaskInfo", "allocationTime", "stateTransitionTime"]
POOL_SELECT = ["id", "state", "allocationState", "resizeErrors", "currentDedicatedNodes",
               "currentLowPriorityNodes", "targetDedicatedNodes", "targetLowPriorityNodes"]


def _ubuntu_version(agent_sku: str) -> tuple[int, int] | None:
    match = re.search(r"ubuntu\s*(\d+)\.(\d+)", agent_sku.lower())
    return (int(match.group(1)), int(match.group(2))) if match else None


def choose_image(images: Iterable[bm.BatchSupportedImage]) -> bm.BatchSupportedImage:
    """The newest verified Canonical Ubuntu (22.04 or later) on x64 that is not near its end."""
    soon = datetime.now(UTC) + timedelta(days=30)
    best: tuple[Any, ...] | None = None
    chosen: bm.BatchSupportedImage | None = None
    for image in images:
        ref = image.image_reference
        agent = image.node_agent_sku_id or ""
        version = _ubuntu_version(agent)
        if (
            version is None
            or version < MIN_UBUNTU
            or value(image.os_type) != "linux"
            or value(image.verification_type) != "verified"
            or (ref.publisher or "").lower() != "canonical"
        ):
            continue
        sku = (ref.sku or "").lower()
        if "arm64" in sku or "arm" in agent.lower().split():
            continue
        eol = image.batch_support_end_of_life
        if eol is not None and eol < soon:
            continue
        rank = (version, "gen1" not in sku, -len(sku))
        if best is None or rank > best:
            best, chosen = rank, image
    if chosen is None:
        raise LookupError("no current Ubuntu image is offered by this Batch account")  # for logs
    return chosen


def pool_fingerprint(settings: PoolSettings) -> str:
    """What must match for a pool to be reused: VM size, start task, slots per node."""
    facts = {
        "vm_size": settings.vm_size.lower(),
        "start_task": settings.start_task,
        "slots": settings.slots_per_node,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


def _metadata(pool: bm.BatchPool) -> dict[str, str]:
    return {m.name: m.value for m in (pool.metadata or [])}


def pool_mismatch(
    pool: bm.BatchPool, settings: PoolSettings, images: Sequence[bm.BatchSupportedImage]
) -> str | None:
    """None when `pool` can serve these settings, else why not (in plain words)."""
    if value(pool.state) != "active":
        return _("it is being deleted")
    if (pool.vm_size or "").lower() != settings.vm_size.lower():
        return tr("its VM size is {vm_size}", vm_size=pool.vm_size)
    start = pool.start_task.command_line if pool.start_task else ""
    if start != settings.start_task:
        return _("its start task is different")
    if (pool.task_slots_per_node or 1) != settings.slots_per_node:
        return trn("it runs {n} task per node", "it runs {n} tasks per node",
                   pool.task_slots_per_node or 1)
    vmc = pool.virtual_machine_configuration
    ref = vmc.image_reference if vmc else None
    if ref is None or vmc is None:
        return _("it has no VM image")
    current = {
        ((i.image_reference.publisher or "").lower(), (i.image_reference.offer or "").lower(),
         (i.image_reference.sku or "").lower(), (i.node_agent_sku_id or "").lower())
        for i in images
        if (_ubuntu_version(i.node_agent_sku_id or "") or (0, 0)) >= MIN_UBUNTU
        and (i.batch_support_end_of_life is None
             or i.batch_support_end_of_life > datetime.now(UTC))
    }
    key = ((ref.publisher or "").lower(), (ref.offer or "").lower(), (ref.sku or "").lower(),
           (vmc.node_agent_sku_id or "").lower())
    if key not in current:
        return tr("its image ({image}) is no longer a current Ubuntu image",
                  image=" ".join((str(ref.offer), str(ref.sku))))
    return None


@dataclass
class PoolChoice:
    pool_id: str
    created: bool
    owned: bool  # made by BatchGUI (carries our metadata): may be deleted at the end
    note: str = ""


@dataclass
class PoolHealth:
    """One look at the pool: its nodes, and a fatal problem or warnings in plain words."""

    nodes: list[bm.BatchNode]
    usable: int = 0  # idle or running
    pending: int = 0  # still coming up
    fatal: Reason | None = None
    warnings: list[str] = field(default_factory=list)


def pool_specification(settings: PoolSettings, image: bm.BatchSupportedImage,
                       fingerprint: str, run_id: str | None = None) -> bm.BatchPoolSpecification:
    """The pool a run asks for, as an auto pool's specification."""
    return bm.BatchPoolSpecification(**_pool_fields(settings, image, fingerprint, run_id))


def _pool_fields(settings: PoolSettings, image: bm.BatchSupportedImage, fingerprint: str,
                 run_id: str | None = None) -> dict[str, Any]:
    """The pool's fields: one description for an auto pool and a named pool alike."""
    ref = image.image_reference
    metadata = [
        bm.BatchMetadataItem(name=OWNER_KEY, value=OWNER_VALUE),
        bm.BatchMetadataItem(name=FINGERPRINT_KEY, value=fingerprint),
    ]
    if run_id:
        metadata.append(bm.BatchMetadataItem(name=RUN_KEY, value=run_id))
    return dict(
        display_name="BatchGUI MP4 to MP3",
        vm_size=settings.vm_size,
        virtual_machine_configuration=bm.VirtualMachineConfiguration(
            image_reference=bm.BatchVmImageReference(
                publisher=ref.publisher, offer=ref.offer, sku=ref.sku, version="latest"
            ),
            node_agent_sku_id=image.node_agent_sku_id,
        ),
        resize_timeout=timedelta(minutes=15),
        target_dedicated_nodes=settings.dedicated_nodes,
        target_low_priority_nodes=settings.spot_nodes,
        task_slots_per_node=settings.slots_per_node,
        start_task=bm.BatchStartTask(
            command_line=settings.start_task,
            user_identity=bm.UserIdentity(
                auto_user=bm.AutoUserSpecification(scope="pool", elevation_level="admin")
            ),
            max_task_retry_count=2,
            wait_for_success=True,
        ),
        metadata=metadata,
    )


class PoolCalls:
    """The pool half of BatchService: needs `self.client` and a start-task stderr cache."""

    client: BatchClient
    _start_task_stderr: dict[str, str]

    def supported_images(self) -> list[bm.BatchSupportedImage]:
        return list(self.client.list_supported_images(filter="osType eq 'linux'"))

    def get_pool(self, pool_id: str, select: list[str] | None = None) -> bm.BatchPool | None:
        try:
            return self.client.get_pool(pool_id, select=select)
        except ResourceNotFoundError:
            return None

    def ensure_pool(self, settings: PoolSettings) -> PoolChoice:
        """Reuse BatchGUI's pool when it matches the settings, else create one."""
        images = self.supported_images()
        fingerprint = pool_fingerprint(settings)
        candidates = [settings.pool_id, f"{settings.pool_id}-{fingerprint[:6]}"]
        free: str | None = None
        reasons: list[str] = []
        for pool_id in candidates:
            pool = self.get_pool(pool_id)
            if pool is None:
                free = free or pool_id
                continue
            mismatch = pool_mismatch(pool, settings, images)
            if mismatch is None:
                owned = _metadata(pool).get(OWNER_KEY) == OWNER_VALUE
                note = self._match_size(pool, settings)
                return PoolChoice(pool_id, created=False, owned=owned, note=note)
            reasons.append(tr("pool {pool} can't be used: {why}", pool=pool_id, why=mismatch))
        if free is None:
            joined = "; ".join(reasons)
            raise PoolConflict(why("pool_ids_taken", "{reasons}. Delete one of these pools in the "
                                   "Azure portal or choose another pool id.",
                                   reasons=joined[:1].upper() + joined[1:]))
        image = choose_image(images)
        self._create_pool(free, settings, image, fingerprint)
        note = "; ".join(reasons)
        return PoolChoice(free, created=True, owned=True, note=note)

    def _create_pool(
        self, pool_id: str, settings: PoolSettings, image: bm.BatchSupportedImage, fingerprint: str
    ) -> None:
        options = bm.BatchPoolCreateOptions(id=pool_id,
                                            **_pool_fields(settings, image, fingerprint))
        try:
            self.client.create_pool(options)
        except ResourceExistsError as exc:
            if error_code(exc) != "PoolExists":  # e.g. PoolQuotaReached is a 409 too
                raise
            # a retried create that had gone through

    def _match_size(self, pool: bm.BatchPool, settings: PoolSettings) -> str:
        """Grow or shrink a reused pool to the node counts the user asked for."""
        want = (settings.dedicated_nodes, settings.spot_nodes)
        have = (pool.target_dedicated_nodes or 0, pool.target_low_priority_nodes or 0)
        if pool.enable_auto_scale or want == have:
            return ""
        if value(pool.allocation_state) != "steady":
            return _("the pool is still resizing; its node count was left as it is")
        try:
            self.client.begin_resize_pool(
                pool.id,
                bm.BatchPoolResizeOptions(
                    target_dedicated_nodes=want[0],
                    target_low_priority_nodes=want[1],
                    resize_timeout=timedelta(minutes=15),
                ),
            )
        except HttpResponseError as exc:
            return tr("could not resize the pool ({code})",
                      code=error_code(exc) or str(exc.status_code))
        return tr("resizing the pool to {dedicated} dedicated and {spot} Spot nodes",
                  dedicated=want[0], spot=want[1])

    def list_nodes(self, pool_id: str, *, quick: bool = False) -> list[bm.BatchNode]:
        """The pool's nodes; `quick` tries once more at most (a poll simply comes again)."""
        extra: dict[str, Any] = {"retry_total": 1} if quick else {}
        return list(self.client.list_nodes(pool_id, select=NODE_SELECT, max_results=1000,
                                           **extra))

    def start_task_stderr(self, pool_id: str, node_id: str, max_bytes: int = 3000) -> str:
        """The tail of a node's start task stderr (read once per node, through the file API)."""
        key = f"{pool_id}/{node_id}"
        if key not in self._start_task_stderr:
            text = ""
            for name in ("startup/stderr.txt", "startup/stdout.txt"):
                try:
                    data = b"".join(self.client.download_node_file(pool_id, node_id, name))
                except HttpResponseError:
                    continue
                text = data.decode("utf-8", errors="replace").strip()[-max_bytes:]
                if text:
                    break
            self._start_task_stderr[key] = text
        return self._start_task_stderr[key]

    def pool_health(self, pool_id: str, *, with_pool: bool = True,
                    nodes: list[bm.BatchNode] | None = None) -> PoolHealth:
        """Nodes plus, when asked, the pool's resize errors; decides whether it can work."""
        from batchgui.targets.azure.errors import resize_error_sentence

        pool = self.get_pool(pool_id, select=POOL_SELECT) if with_pool else None
        if with_pool and pool is None:
            return PoolHealth([], fatal=pool_deleted(pool_id))
        if nodes is None:
            nodes = self.list_nodes(pool_id)
        health = PoolHealth(nodes)
        broken: list[tuple[str, str]] = []  # (in short, in full)
        for node in nodes:
            state = value(node.state)
            if state in ("idle", "running"):
                health.usable += 1
            elif state in ("creating", "starting", "waitingforstarttask", "rebooting",
                           "reimaging", "leavingpool", "preempted", "offline", "unknown"):
                health.pending += 1
            elif state == "starttaskfailed":
                stderr = self.start_task_stderr(pool_id, node.id)
                exit_code = node.start_task_info.exit_code if node.start_task_info else None
                broken.append(_start_task_failed(node.id, exit_code, stderr))
            elif state == "unusable":
                said = "; ".join(e.message or e.code or "" for e in (node.errors or []))
                short = tr("node {node} is unusable", node=node.id)
                broken.append((short, tr("node {node} is unusable ({detail})", node=node.id,
                                         detail=said) if said else short))
        resize: Reason | None = None
        if pool is not None and pool.resize_errors:
            err = pool.resize_errors[0]
            resize = resize_error_sentence(err.code, err.message)
        steady = pool is None or value(pool.allocation_state) == "steady"
        if health.usable == 0 and health.pending == 0:
            if broken:
                health.fatal = why("no_working_node", "No node can run the conversions: "
                                   "{problem}", problem=broken[0][1])
                if len(broken) > 1:
                    health.fatal = whyn(
                        "no_working_node", "No node can run the conversions: {problem}\n(and "
                        "{n} more node failed the same way)", "No node can run the conversions: "
                        "{problem}\n(and {n} more nodes failed the same way)", len(broken) - 1,
                        problem=broken[0][1])
            elif resize and steady:
                health.fatal = resize
            elif (
                pool is not None and steady
                and (pool.target_dedicated_nodes or 0) + (pool.target_low_priority_nodes or 0) == 0
            ):
                health.fatal = why("pool_without_nodes", "The pool {pool} has no nodes. Choose "
                                   "at least one dedicated or Spot node.", pool=pool_id)
        else:
            health.warnings.extend(short for short, _full in broken)
            if resize:
                health.warnings.append(resize.text)
        return health

    def other_jobs_on(self, pool_id: str, job_id: str) -> list[str]:
        """Active jobs besides `job_id` that run on this pool (another BatchGUI run, say)."""
        jobs = self.client.list_jobs(filter="state eq 'active'", select=["id", "poolInfo"])
        return [
            job.id for job in jobs
            if job.id != job_id and job.pool_info is not None
            and job.pool_info.pool_id == pool_id
        ]


def pool_deleted(pool_id: str) -> Reason:
    return why("pool_deleted", "The pool {pool} was deleted while the run used it.",
               pool=pool_id)


def _start_task_failed(node_id: str, exit_code: int | None, stderr: str) -> tuple[str, str]:
    """One node's start task failure: (in short, with what its stderr said)."""
    short = (tr("the start task failed on node {node} (exit code {exit_code})", node=node_id,
                exit_code=str(exit_code)) if exit_code is not None
             else tr("the start task failed on node {node}", node=node_id))
    if not stderr:
        return short, short
    return short, tr("{failure}; its stderr said:\n{stderr}", failure=short, stderr=stderr)


class PoolConflict(Exception):
    """Both pool ids BatchGUI may use are taken by pools with other settings."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.text)
        self.reason = reason
