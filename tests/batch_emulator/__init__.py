"""A local Azure Batch emulator for BatchGUI's integration tests (standard library only).

It speaks the REST subset below, checks SharedKey signatures (and, started with
--tls-cert/--tls-key and --entra-jwks, Entra ID bearer tokens over https), moves nodes
through real states, and runs every task's command line for real as a local process (no
shell), fetching resource files from their URLs and uploading output files to their
container SAS URLs. Answers follow tests/conformance/ (real exchanges with the service).

Modelled: pools (create/get/list/head/patch/update properties/delete, resize and stop
resize from steady only, autoscale enable/evaluate/disable with the evaluator in
autoscale.py), nodes (states creating, starting, waitingforstarttask, idle, running,
starttaskfailed, preempted, leavingpool; start tasks; Spot preemption), node and task
files, supported images, GET /nodecounts; jobs (create with a pool or an auto pool, get,
list, patch, put, disable requeue/terminate/wait, enable, terminate, delete,
onAllTasksComplete, maxWallClockTime, taskcounts that lag), tasks (add, add collection
of 100, list, get, update, delete, terminate, reactivate, retries, maxWallClockTime,
requiredSlots, taskSlotsPerNode, maxParallelTasks, output files); OData $filter and
$select (odata.py); paging with absolute odata.nextLink; the service's error shapes.

Not modelled: job schedules, job manager/preparation/release tasks (echoed, never run),
task dependencies, multi-instance tasks, containers, certificates, applications,
node reboot/reimage/remove/deallocate/scheduling, node users and remote login, usage and
statistics, role checks for bearer tokens, the service's per-list limits on which
properties a $filter may use, and If-Match style conditional requests.

Start it with ``python -m tests.batch_emulator --host 127.0.0.1 --port 0 --account NAME
--key BASE64KEY [--knob value ...]`` (first stdout line: its base URL), through
``tests.azure_world.start_batch_emulator``, or in-process with ``make_server``. Knobs:
world.Knobs. Test-only endpoints (no auth) live under ``/_emulator/``: ``GET
/_emulator/requests``, ``POST /_emulator/requests/clear``, ``GET|POST /_emulator/knobs``,
``POST /_emulator/preempt`` (``{"poolId": ..., "nodeId": optional}``) and ``GET
/_emulator/state``.
"""

from .server import EmulatorServer, make_server
from .world import Knobs

__all__ = ["EmulatorServer", "Knobs", "make_server"]
