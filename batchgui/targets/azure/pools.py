"""Which pool a run may use: the newest supported Ubuntu image, the fingerprint of the
pool settings, and in plain words why an existing pool cannot be reused.

Pure functions over azure-batch 15.x models; no calls to the service here.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.batch import models as bm

from batchgui.targets.azure.config import PoolSettings

#: oldest Ubuntu the app accepts (18.04 and 20.04 node agents are retired)
MIN_UBUNTU = (22, 4)


def value(enum_or_str: object) -> str:
    """An SDK enum or plain string as its lower-case value ('Success' -> 'success')."""
    return str(getattr(enum_or_str, "value", enum_or_str) or "").lower()


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
        raise LookupError("no current Ubuntu image is offered by this Batch account")
    return chosen


def pool_fingerprint(settings: PoolSettings) -> str:
    """What must match for a pool to be reused: VM size, start task, slots per node."""
    facts = {
        "vm_size": settings.vm_size.lower(),
        "start_task": settings.start_task,
        "slots": settings.slots_per_node,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


def pool_metadata(pool: bm.BatchPool) -> dict[str, str]:
    """The name/value metadata BatchGUI puts on the pools it makes."""
    return {m.name: m.value for m in (pool.metadata or [])}


def pool_mismatch(
    pool: bm.BatchPool, settings: PoolSettings, images: Sequence[bm.BatchSupportedImage]
) -> str | None:
    """None when `pool` can serve these settings, else why not (in plain words)."""
    if value(pool.state) != "active":
        return "it is being deleted"
    if (pool.vm_size or "").lower() != settings.vm_size.lower():
        return f"its VM size is {pool.vm_size}"
    start = pool.start_task.command_line if pool.start_task else ""
    if start != settings.start_task:
        return "its start task is different"
    if (pool.task_slots_per_node or 1) != settings.slots_per_node:
        return f"it runs {pool.task_slots_per_node or 1} task(s) per node"
    vmc = pool.virtual_machine_configuration
    ref = vmc.image_reference if vmc else None
    if ref is None or vmc is None:
        return "it has no VM image"
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
        return f"its image ({ref.offer} {ref.sku}) is no longer a current Ubuntu image"
    return None
