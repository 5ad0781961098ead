"""Pools and their compute nodes as the service shows them (JSON shapes follow the recordings).

Who changes what: eTag and lastModified change only when a client changes the pool
(create, patch, update properties, resize, stop resize, autoscale enable/disable, delete);
the service's own moves (allocation steady, nodes coming and going) leave them alone, as
the recordings show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .util import iso, new_etag, utcnow

if TYPE_CHECKING:
    from .execution import StartTaskRun, TaskRun

NODE_STATES = (  # GET /nodecounts keys, in the service's order
    "creating", "deallocated", "deallocating", "idle", "leavingPool", "offline", "preempted",
    "rebooting", "reimaging", "running", "starting", "startTaskFailed", "unusable", "unknown",
    "upgradingOS", "waitingForStartTask",
)


def echo_rest(out: dict[str, Any], spec: dict[str, Any]) -> None:
    """The service echoes the properties it was created with; so do we, for the ones the
    emulator does not compute itself (e.g. userAccounts); empty lists are not shown."""
    for k, v in spec.items():
        if k not in out and not k.startswith("_") and v is not None and v != []:
            out[k] = v


def start_task_json(st: dict[str, Any]) -> dict[str, Any]:
    st = dict(st)
    st.setdefault("userIdentity", {"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}})
    st.setdefault("maxTaskRetryCount", 0)
    st.setdefault("waitForSuccess", True)
    return st


def vm_configuration_json(vmc: dict[str, Any]) -> dict[str, Any]:
    vmc = dict(vmc)
    if isinstance(vmc.get("imageReference"), dict):
        ref = dict(vmc["imageReference"])
        ref.setdefault("version", "latest")
        vmc["imageReference"] = ref
    return vmc


def pool_spec_json(s: dict[str, Any]) -> dict[str, Any]:
    """A pool specification with the service's defaults filled in (as echoed in a job's
    autoPoolSpecification, recording 2 #3, and in a pool's own GET)."""
    out: dict[str, Any] = {}
    if s.get("displayName"):
        out["displayName"] = s["displayName"]
    out["vmSize"] = str(s.get("vmSize", "")).lower()
    out["taskSlotsPerNode"] = int(s.get("taskSlotsPerNode") or 1)
    tsp = dict(s.get("taskSchedulingPolicy") or {})
    tsp["nodeFillType"] = {"spread": "Spread", "pack": "Pack"}.get(
        str(tsp.get("nodeFillType", "spread")).lower(), "Spread"
    )
    out["taskSchedulingPolicy"] = tsp
    out["resizeTimeout"] = s.get("resizeTimeout", "PT15M")
    auto = bool(s.get("enableAutoScale", False))
    if not auto:
        out["targetDedicatedNodes"] = int(s.get("targetDedicatedNodes") or 0)
        out["targetLowPriorityNodes"] = int(s.get("targetLowPriorityNodes") or 0)
    out["enableAutoScale"] = auto
    if auto:
        out["autoScaleFormula"] = s.get("autoScaleFormula")
        out["autoScaleEvaluationInterval"] = s.get("autoScaleEvaluationInterval", "PT15M")
    out["enableInterNodeCommunication"] = bool(s.get("enableInterNodeCommunication", False))
    if s.get("virtualMachineConfiguration"):
        out["virtualMachineConfiguration"] = vm_configuration_json(
            s["virtualMachineConfiguration"]
        )
    if s.get("networkConfiguration"):
        net = dict(s["networkConfiguration"])
        net.setdefault("dynamicVNetAssignmentScope", "none")
        net.setdefault("enableAcceleratedNetworking", False)
        out["networkConfiguration"] = net
    if s.get("startTask"):
        out["startTask"] = start_task_json(s["startTask"])
    echo_rest(out, s)
    return out


@dataclass
class Node:
    id: str
    pool: Pool
    dedicated: bool
    root: str
    ip: str
    state: str = "creating"
    state_time: Any = field(default_factory=utcnow)
    allocation_time: Any = field(default_factory=utcnow)
    boot_time: Any = None
    next_at: float = 0.0
    scheduling_state: str = "enabled"
    runs: dict[tuple[str, str], TaskRun] = field(default_factory=dict)
    used_slots: int = 0
    total_run: int = 0
    total_succeeded: int = 0
    start_task_info: dict[str, Any] | None = None
    start_run: StartTaskRun | None = None
    busy_since: float | None = None
    preempted_once: bool = False
    recent: list[dict[str, Any]] = field(default_factory=list)

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_time = utcnow()

    def url(self, base: str) -> str:
        return f"{base}/pools/{self.pool.id}/nodes/{self.id}"

    def to_json(self, base: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "url": self.url(base),
            "state": self.state,
            "schedulingState": self.scheduling_state,
            "stateTransitionTime": iso(self.state_time),
            "lastBootTime": iso(self.boot_time),
            "allocationTime": iso(self.allocation_time),
            "ipAddress": self.ip,
            "affinityId": f"TVM:{self.id}",
            "vmSize": self.pool.spec.get("vmSize", "standard_d2s_v3").lower(),
            "totalTasksRun": self.total_run,
            "totalTasksSucceeded": self.total_succeeded,
            "runningTasksCount": len(self.runs),
            "runningTaskSlotsCount": self.used_slots,
            "isDedicated": self.dedicated,
            "certificateReferences": [],
            "endpointConfiguration": {
                "inboundEndpoints": [
                    {
                        "name": "SSHRule.0",
                        "protocol": "tcp",
                        "publicIPAddress": "127.0.0.1",
                        "publicFQDN": "localhost",
                        "frontendPort": 50000,
                        "backendPort": 22,
                    }
                ]
            },
            "nodeAgentInfo": {"lastUpdateTime": iso(self.boot_time), "version": "1.12.0"},
        }
        if self.boot_time is None:
            del out["lastBootTime"]
            del out["nodeAgentInfo"]
        if self.recent:
            out["recentTasks"] = list(self.recent[-10:])
        st = self.pool.spec.get("startTask")
        if st:
            out["startTask"] = st
        if self.start_task_info:
            out["startTaskInfo"] = dict(self.start_task_info)
        vmc = self.pool.spec.get("virtualMachineConfiguration") or {}
        if vmc.get("imageReference"):
            ref = dict(vmc["imageReference"])
            ref.setdefault("version", "latest")
            ref["exactVersion"] = "22.04.202501010"
            out["virtualMachineInfo"] = {"imageReference": ref}
        if self.state == "starttaskfailed":
            out["errors"] = [
                {
                    "code": "NodeStartTaskFailed",
                    "message": "The start task failed on this node.",
                }
            ]
        return out


@dataclass
class Pool:
    id: str
    spec: dict[str, Any]
    root: str
    etag: str = field(default_factory=new_etag)
    created: Any = field(default_factory=utcnow)
    modified: Any = field(default_factory=utcnow)
    state: str = "active"
    state_time: Any = field(default_factory=utcnow)
    allocation_state: str = "resizing"
    allocation_time: Any = field(default_factory=utcnow)
    alloc_due: float | None = None
    delete_due: float | None = None
    nodes: dict[str, Node] = field(default_factory=dict)
    resize_errors: list[dict[str, Any]] = field(default_factory=list)
    # autoscale: the last evaluation's answer and when the next one is due
    autoscale_run: dict[str, Any] | None = None
    autoscale_due: float | None = None
    # auto pools: the job that owns this pool (poolLifetimeOption job) and keepAlive
    owner_job: str | None = None
    keep_alive: bool = False

    def touch(self) -> None:
        """A client changed the pool: new eTag and lastModified."""
        self.etag = new_etag()
        self.modified = utcnow()

    def set_allocation(self, state: str) -> None:
        if state != self.allocation_state:
            self.allocation_state = state
            self.allocation_time = utcnow()

    @property
    def slots_per_node(self) -> int:
        return int(self.spec.get("taskSlotsPerNode") or 1)

    @property
    def autoscale(self) -> bool:
        return bool(self.spec.get("enableAutoScale"))

    def node_counts(self) -> dict[str, Any]:
        """One pool's entry in GET /nodecounts."""
        out: dict[str, Any] = {"poolId": self.id}
        for dedicated, key in ((True, "dedicated"), (False, "lowPriority")):
            counts = dict.fromkeys(NODE_STATES, 0)
            by_lower = {s.lower(): s for s in NODE_STATES}
            for node in self.nodes.values():
                if node.dedicated == dedicated:
                    counts[by_lower.get(node.state, "unknown")] += 1
            counts["total"] = sum(counts.values())
            out[key] = counts
        return out

    def to_json(self, base: str) -> dict[str, Any]:
        s = self.spec
        out: dict[str, Any] = {
            "id": self.id,
            "url": f"{base}/pools/{self.id}",
            "eTag": self.etag,
            "lastModified": iso(self.modified),
            "creationTime": iso(self.created),
            "state": self.state,
            "stateTransitionTime": iso(self.state_time),
            "allocationState": self.allocation_state,
            "allocationStateTransitionTime": iso(self.allocation_time),
            "vmSize": str(s.get("vmSize", "")).lower(),
            "resizeTimeout": s.get("resizeTimeout", "PT15M"),
            "currentDedicatedNodes": sum(1 for n in self.nodes.values() if n.dedicated),
            "targetDedicatedNodes": int(s.get("targetDedicatedNodes") or 0),
            "currentLowPriorityNodes": sum(1 for n in self.nodes.values() if not n.dedicated),
            "targetLowPriorityNodes": int(s.get("targetLowPriorityNodes") or 0),
            "enableAutoScale": self.autoscale,
        }
        if self.autoscale:
            out["autoScaleFormula"] = s.get("autoScaleFormula")
            out["autoScaleEvaluationInterval"] = s.get("autoScaleEvaluationInterval", "PT15M")
            if self.autoscale_run:
                out["autoScaleRun"] = dict(self.autoscale_run)
        out["enableInterNodeCommunication"] = bool(s.get("enableInterNodeCommunication", False))
        if s.get("displayName"):
            out["displayName"] = s["displayName"]
        if s.get("startTask"):
            out["startTask"] = start_task_json(s["startTask"])
        for key in (
            "userAccounts",
            "metadata",
            "applicationPackageReferences",
            "mountConfiguration",
        ):
            if s.get(key):
                out[key] = s[key]
        spec = pool_spec_json(s)
        out["taskSlotsPerNode"] = spec["taskSlotsPerNode"]
        out["taskSchedulingPolicy"] = spec["taskSchedulingPolicy"]
        for key in ("virtualMachineConfiguration", "networkConfiguration"):
            if key in spec:
                out[key] = spec[key]
        if self.resize_errors:
            out["resizeErrors"] = self.resize_errors
        out["currentNodeCommunicationMode"] = "simplified"
        echo_rest(out, {k: v for k, v in s.items() if not k.startswith("autoScale")})
        return out

    def due_for_autoscale(self, now: float) -> bool:
        return self.autoscale and self.autoscale_due is not None and now >= self.autoscale_due


SUPPORTED_IMAGES: list[dict[str, Any]] = [
    {
        "imageReference": {
            "publisher": "canonical",
            "offer": "0001-com-ubuntu-server-jammy",
            "sku": "22_04-lts",
            "version": "latest",
        },
        "verificationType": "verified",
        "nodeAgentSKUId": "batch.node.ubuntu 22.04",
        "osType": "linux",
    },
    {
        "imageReference": {
            "publisher": "canonical",
            "offer": "0001-com-ubuntu-server-jammy",
            "sku": "22_04-lts-gen2",
            "version": "latest",
        },
        "verificationType": "verified",
        "nodeAgentSKUId": "batch.node.ubuntu 22.04",
        "capabilities": ["Generation2VMImage"],
        "osType": "linux",
    },
    {
        "imageReference": {
            "publisher": "canonical",
            "offer": "ubuntu-24_04-lts",
            "sku": "server",
            "version": "latest",
        },
        "verificationType": "verified",
        "nodeAgentSKUId": "batch.node.ubuntu 24.04",
        "capabilities": ["Generation2VMImage"],
        "osType": "linux",
    },
    {
        "imageReference": {
            "publisher": "canonical",
            "offer": "ubuntu-24_04-lts",
            "sku": "server-gen1",
            "version": "latest",
        },
        "verificationType": "verified",
        "nodeAgentSKUId": "batch.node.ubuntu 24.04",
        "osType": "linux",
    },
    {
        "imageReference": {
            "publisher": "microsoftwindowsserver",
            "offer": "windowsserver",
            "sku": "2022-datacenter",
            "version": "latest",
        },
        "verificationType": "verified",
        "nodeAgentSKUId": "batch.node.windows amd64",
        "osType": "windows",
    },
]
