"""A local Azure Batch emulator for BatchGUI's integration tests.

It speaks the REST subset BatchGUI uses (pools, nodes, supported images, jobs, tasks,
task collections, task counts, task/node files), checks SharedKey signatures like the
service, moves nodes through real states, and runs every task's command line for real as
a local process (no shell), fetching resource files from their URLs and uploading output
files to their container SAS URLs.

Start it with ``python -m tests.batch_emulator --host 127.0.0.1 --port 0 --account NAME
--key BASE64KEY`` (first stdout line: its base URL), or in-process with ``make_server``.
Test-only endpoints (no auth) live under ``/_emulator/``: ``GET /_emulator/requests``,
``POST /_emulator/requests/clear``, ``GET|POST /_emulator/knobs``, ``POST /_emulator/preempt``
(``{"poolId": ..., "nodeId": optional}``) and ``GET /_emulator/state``.
"""

from .server import EmulatorServer, make_server
from .world import Knobs

__all__ = ["EmulatorServer", "Knobs", "make_server"]
