"""Start and stop the Batch emulator as a real process, for tests and benchmarks.

Test-side helpers (tests.azure_world re-exports them): ``start_batch_emulator(...)`` runs
``python -m tests.batch_emulator`` in its own process group on 127.0.0.1 and a free port;
``BatchEmulator`` talks to its /_emulator/ control endpoints and stops it by its own PID,
failing with EmulatorTraceback when the emulator printed a traceback.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]

# A made-up Batch account for the emulator (any base64 key works).
BATCH_ACCOUNT = "emulatedbatch"
BATCH_KEY = base64.b64encode(b"batchgui-emulator-test-key-64-bytes-long-like-a-real-batch-key!!").decode()  # noqa: E501


def stop_process(proc: subprocess.Popen[Any], grace_s: float = 5.0) -> None:
    """SIGTERM the process group we created for proc, then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=grace_s)





class EmulatorTraceback(AssertionError):
    """The Batch emulator printed a traceback: a bug in the test world, not an outage."""


@dataclass
class BatchEmulator:
    proc: subprocess.Popen[bytes]
    url: str
    account: str
    key: str
    root: str
    own_root: bool
    stderr_path: str = ""
    ca_file: str = ""  # with https: the certificate a client must trust
    _stopped: bool = field(default=False, repr=False)

    def _control(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        context = None
        if self.ca_file:
            import ssl

            context = ssl.create_default_context(cafile=self.ca_file)
        with urllib.request.urlopen(req, timeout=10, context=context) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def set_knobs(self, **knobs: Any) -> dict[str, Any]:
        """Change emulator behaviour now, e.g. set_knobs(fail_rate_5xx=0.3, seed=1)."""
        return self._control("POST", "/_emulator/knobs", knobs)

    def knobs(self) -> dict[str, Any]:
        return self._control("GET", "/_emulator/knobs")

    def requests(self) -> list[dict[str, Any]]:
        """API requests seen so far: dicts with method, path (decoded), query, status, and
        auth (the Authorization scheme: "SharedKey", "Bearer" or ""); a POST to /jobs or
        /pools also has its JSON "body" (the pool asked for)."""
        return self._control("GET", "/_emulator/requests")

    def clear_requests(self) -> None:
        self._control("POST", "/_emulator/requests/clear")

    def preempt(self, pool_id: str, node_id: str | None = None) -> dict[str, Any]:
        """Preempt a Spot node now (its running tasks are requeued)."""
        body: dict[str, Any] = {"poolId": pool_id}
        if node_id:
            body["nodeId"] = node_id
        return self._control("POST", "/_emulator/preempt", body)

    def state(self) -> dict[str, Any]:
        return self._control("GET", "/_emulator/state")

    def stderr(self) -> str:
        try:
            return Path(self.stderr_path).read_text(errors="replace")
        except OSError:
            return ""

    def traceback(self) -> str:
        """The emulator's stderr if it holds a traceback, else ''."""
        errors = self.stderr()
        return errors if "Traceback" in errors else ""

    def stop(self, check: bool = True) -> None:
        """Stop the process (by its own PID); with `check`, raise EmulatorTraceback if the
        emulator printed a traceback while it ran."""
        if self._stopped:
            return
        self._stopped = True
        stop_process(self.proc)
        errors = self.traceback()
        if self.own_root:
            shutil.rmtree(self.root, ignore_errors=True)
        if check and errors:
            raise EmulatorTraceback(
                "The Batch emulator printed a traceback (a bug in the test world):\n"
                + errors[-4000:]
            )


def idle_priority_prefix() -> list[str]:
    """A command prefix that runs a program (and every child it starts) only when this
    computer has nothing else to do: for benchmarks, where the cloud's side runs on the
    same machine as the app but in real life takes none of its CPU. `chrt --idle` where
    util-linux has it, else the lowest nice. BATCHGUI_BENCH_CLOUD_CPUS (e.g. "1") also keeps
    it on those cores (`taskset`), a cloud that is further still."""
    cpus = os.environ.get("BATCHGUI_BENCH_CLOUD_CPUS")
    pinned = ["taskset", "-c", cpus] if cpus and shutil.which("taskset") else []
    if shutil.which("chrt"):
        return [*pinned, "chrt", "--idle", "0"]
    return [*pinned, "nice", "-n", "19"] if shutil.which("nice") else pinned


def start_batch_emulator(
    account: str = BATCH_ACCOUNT,
    key: str = BATCH_KEY,
    path_dirs: list[str] | None = None,
    root: str | None = None,
    timeout_s: float = 30,
    *,
    tls: tuple[str, str] | None = None,
    entra: Any = None,
    node_ca_file: str | None = None,
    idle_priority: bool = False,
    **knobs: Any,
) -> BatchEmulator:
    """Start ``python -m tests.batch_emulator`` on 127.0.0.1:0; knobs become its flags.

    Knobs (see tests/batch_emulator/world.py Knobs): start_task_fails, preempt_node_after_s,
    preempt_recover_s, fail_rate_5xx, drop_rate, allocation_delay_s, state_delay_s,
    delete_delay_s, tick_s, max_page_size, seed, node_speed, task_counts_lag_s,
    job_transition_s, all_tasks_complete_delay_s, autoscale_interval_s.
    `tls` = (cert.pem, key.pem) serves https (make_test_certificate); `entra` (a
    LocalEntraIssuer) makes it accept that issuer's bearer tokens besides SharedKey.
    `node_ca_file`: a PEM the nodes trust for https resource files and output uploads (e.g.
    an https Azurite's certificate), as real nodes trust Azure's. `idle_priority`: the
    emulator and the tasks it runs get only CPU nobody else wants (benchmarks).
    """
    own_root = root is None
    root = root or tempfile.mkdtemp(prefix="batch-emulator-")
    os.makedirs(root, exist_ok=True)
    argv = [
        *(idle_priority_prefix() if idle_priority else []),
        sys.executable,
        "-m",
        "tests.batch_emulator",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--account",
        account,
        "--key",
        key,
        "--root",
        os.path.join(root, "nodes"),
    ]
    for d in path_dirs or []:
        argv += ["--path-dir", str(d)]
    if tls:
        argv += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
    if entra is not None:
        jwks_path = os.path.join(root, "entra-jwks.json")
        Path(jwks_path).write_text(json.dumps(entra.jwks()))
        argv += ["--entra-jwks", jwks_path]
    for name, value in knobs.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            if value:
                argv.append(flag)
        elif value is not None:
            argv += [flag, str(value)]
    stderr_path = os.path.join(root, "emulator.stderr.txt")
    err = open(stderr_path, "ab")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
    if node_ca_file:
        env["SSL_CERT_FILE"] = str(node_ca_file)
    proc = subprocess.Popen(
        argv,
        cwd=str(REPO_ROOT),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=err,
        start_new_session=True,
    )
    err.close()
    assert proc.stdout is not None
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    ready = sel.select(timeout=timeout_s)
    sel.close()
    line = proc.stdout.readline().decode().strip() if ready else ""
    if not line.startswith(("http://", "https://")):
        stop_process(proc)
        detail = Path(stderr_path).read_text(errors="replace")[-2000:]
        raise RuntimeError(f"Batch emulator did not start (stdout {line!r}): {detail}")
    proc.stdout.close()
    return BatchEmulator(proc, line, account, key, root, own_root, stderr_path=stderr_path,
                         ca_file=str(tls[0]) if tls else "")
