"""The window's Azure runs do their SDK work in a helper process
(batchgui/targets/child_process.py). Against Azurite and the Batch emulator, as a user
would see it:

- a run through the helper converts every file and leaves nothing in Azure, and the
  helper is gone afterwards;
- the app SIGKILLed mid-run: the helper ends with it (nothing keeps talking to Azure),
  and `batchgui resume` finishes the run: every input once, nothing left behind;
- the helper SIGKILLed mid-run: the run ends with one plain sentence, a second helper
  removes what the run had made in Azure, and converting again finishes the files
  (those already done are not done twice).

The app is a small script that drives the core's Run with the journal, as the window's
controller does (the window itself runs through the helper in test_window_azure.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.azure_world import Azurite, BatchEmulator
from tests.integration.test_azure_crash import (
    _each_input_once,
    _env,
    _inputs,
    _nothing_left,
    _resume,
    _wait,
)
from tests.integration.test_azure_target import CHECK_START, ROOT

#: the app: a run on Azure through the helper; prints the helper's pid once a file is
#: converting, then (HELPER_TEST=kill-helper) kills the helper there; prints the result
_APP = r"""
import asyncio, json, os, signal, sys
from argparse import Namespace
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from batchgui.core import media
from batchgui.core.journal import Journal
from batchgui.core.models import RunSpec
from batchgui.core.run import Run
from batchgui.targets import registry
from batchgui.targets.child_process import ChildProcessTarget

src, out, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
options = Namespace(start_task=sys.argv[4], dedicated_nodes=1, slots_per_node=1)
target = ChildProcessTarget(registry.make_target("azure", options))
said = False

def on_snapshot(snapshot):
    global said
    if said or target.helper_pid is None:
        return
    if snapshot.running or snapshot.files_done:
        said = True
        print("HELPER", target.helper_pid, flush=True)
        if mode == "kill-helper":
            os.kill(target.helper_pid, signal.SIGKILL)

async def go():
    with ThreadPoolExecutor(8) as executor:
        found = media.find_inputs([src])
        spec = RunSpec(inputs=tuple(media.probe(p, root) for p, root in found),
                       output_dir=out, target_name="azure")
        run = Run(spec, target, executor, on_snapshot=on_snapshot, journal=Journal(),
                  snapshot_interval=0.0, on_log=lambda line: print("LOG", line, flush=True))
        return await run.execute()

result = asyncio.run(go())
print("RESULT", json.dumps({"error": result.error.code if result.error else None,
                            "text": str(result.error or "")}), flush=True)
print("HELPER-ALIVE", target.helper_alive, flush=True)
"""


def _app(src: Path, out: Path, mode: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _APP, str(src), str(out), mode, CHECK_START],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


@pytest.mark.timeout(240)
def test_a_run_through_the_helper_converts_every_file_and_leaves_nothing(
        azurite: Azurite, batch_emulator: BatchEmulator, media, tmp_path: Path) -> None:
    src, out = _inputs(media, tmp_path / "in"), tmp_path / "out"
    app = _app(src, out, "whole", _env(azurite, batch_emulator, tmp_path / "data"))
    stdout, stderr = app.communicate(timeout=200)
    assert app.returncode == 0 and "HELPER " in stdout, stdout + stderr
    helper = int(next(line for line in stdout.splitlines()
                      if line.startswith("HELPER ")).split()[1])
    assert helper != app.pid  # the SDK's calls were made in another process
    result = json.loads(next(line for line in stdout.splitlines()
                             if line.startswith("RESULT ")).split(" ", 1)[1])
    assert result["error"] is None, result
    assert "HELPER-ALIVE False" in stdout
    _each_input_once(out)
    _nothing_left(azurite, batch_emulator)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("killed", ["the app", "the helper"])
def test_a_kill_mid_run_loses_nothing_and_resume_finishes(
        azurite: Azurite, batch_emulator: BatchEmulator, media, tmp_path: Path,
        killed: str) -> None:
    src, out = _inputs(media, tmp_path / "in"), tmp_path / "out"
    env = _env(azurite, batch_emulator, tmp_path / "data")
    app = _app(src, out, "kill-helper" if killed == "the helper" else "wait", env)
    assert app.stdout is not None
    seen = []
    for line in app.stdout:  # bounded by the test's timeout
        seen.append(line)
        if line.startswith("HELPER "):
            break
    assert seen and seen[-1].startswith("HELPER "), "".join(seen)
    helper = int(seen[-1].split()[1])
    if killed == "the app":
        os.kill(app.pid, signal.SIGKILL)
        app.wait()
        _wait("the helper to end with the app", lambda: _gone(helper), timeout=10)
    else:
        stdout, stderr = app.communicate(timeout=200)
        assert app.returncode == 0, stdout + stderr
        result = json.loads(next(line for line in stdout.splitlines()
                                 if line.startswith("RESULT ")).split(" ", 1)[1])
        assert result["error"] == "helper_lost", result
        assert "talks to Azure stopped unexpectedly" in result["text"]
        said = [line for line in stdout.splitlines() if line.startswith("LOG ")]
        assert sum("talks to Azure stopped" in line for line in said) <= 1, said
        _nothing_left(azurite, batch_emulator)  # a second helper cleaned up after the first
    if killed == "the app":  # the next start resumes the run
        proc = _resume(env, tmp_path / "r.json")
        assert "Nothing to resume" not in proc.stdout, proc.stdout
    else:  # the run ended with its files "not converted": the user converts them again
        proc = subprocess.run([sys.executable, "-m", "batchgui", "convert", str(src), "-o",
                               str(out), "--target", "azure", "--start-task", CHECK_START],
                              env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _each_input_once(out)
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
    _nothing_left(azurite, batch_emulator)
