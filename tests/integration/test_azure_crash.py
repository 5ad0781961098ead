"""Kill drills on Azure (Azurite + the Batch emulator): a real `batchgui convert --target
azure` is SIGKILLed at each step (BATCHGUI_KILL_AT, see batchgui/core/drills.py), then
resumed. What must hold, as a user (and their bill) would see it:

- every input exactly once as a whole MP3, no part file;
- no task that had finished was added again, no input already in storage sent again;
- the same job and pool carried on (when the job was still there);
- afterwards nothing is left: no blob, job or pool of the run.

Also the backstop (the app killed and never restarted: the service ends the pool
itself) and `batchgui cleanup`.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mutagen.mp3 import MP3

from batchgui.core.journal import Journal
from tests.azure_world import Azurite, BatchEmulator
from tests.integration.test_azure_target import CHECK_START, ROOT, azure_env, run_blobs
from tests.media import MediaCache

SECONDS = [4.0, 3.0, 2.0]  # longest first: f00000 starts first


def _inputs(media: MediaCache, folder: Path) -> Path:
    for i, seconds in enumerate(SECONDS):
        media.good(folder / f"clip{i}.mp4", seconds=seconds)
    return folder


def _argv(src: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "batchgui", "convert", str(src), "--output", str(out),
            "--target", "azure", "--start-task", CHECK_START, "--dedicated", "1",
            "--slots-per-node", "1", *extra]


def _env(azurite: Azurite, emu: BatchEmulator, data: Path, **extra: str) -> dict[str, str]:
    return azure_env(azurite, emu, XDG_DATA_HOME=str(data), **extra)


def _wait(what: str, condition: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _killed(argv: list[str], env: dict[str, str], kill_at: str) -> str:
    proc = subprocess.run(argv, env=dict(env, BATCHGUI_KILL_AT=kill_at), capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == -signal.SIGKILL, (kill_at, proc.returncode, proc.stdout,
                                                proc.stderr)
    return proc.stdout


def _resume(env: dict[str, str], report: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchgui", "resume", "--report", str(report)],
                          env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)


def _nothing_left(azurite: Azurite, emu: BatchEmulator) -> None:
    assert run_blobs(azurite) == []
    state = emu.state()
    assert all(j["state"] in ("deleting", "completed") for j in state["jobs"].values()), state
    assert all(p["state"] == "deleting" for p in state["pools"].values()), state


def _each_input_once(out: Path) -> None:
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"clip{i}.mp3" for i in range(len(SECONDS))], names
    for i, seconds in enumerate(SECONDS):
        assert abs(MP3(out / f"clip{i}.mp3").info.length - seconds) < 0.5


def _tasks_added(requests: list[dict[str, Any]]) -> int:
    """Task submissions (addtaskcollection calls that succeeded)."""
    return sum(1 for r in requests if r["method"] == "POST"
               and r["path"].endswith("/addtaskcollection") and (r["status"] or 0) < 400)


KILL_POINTS = [
    "azure-remembered:1",  # the journal knows the run's container and job; nothing exists
    "azure-job:1",         # the job is journaled, not yet created
    "azure-uploaded:2",    # the job and its pool exist, two inputs are up
    "azure-tasks:1",       # every task is added; "terminate when done" not set yet
    "azure-polled:3",      # tasks are running or done on the node
    "azure-downloaded:1",  # the first MP3 is downloaded into its part file, not placed
    "linked:1",            # the first MP3 is in the folder, the journal does not say so yet
    "done:2",              # two files done
]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_azure_kill_then_resume(azurite: Azurite, batch_emulator: BatchEmulator,
                                media: MediaCache, tmp_path: Path, kill_at: str) -> None:
    src, out = _inputs(media, tmp_path / "in"), tmp_path / "out"
    env = _env(azurite, batch_emulator, tmp_path / "data")
    _killed(_argv(src, out), env, kill_at)
    journal_path = tmp_path / "data" / "batchgui" / "journal.sqlite3"
    [run] = Journal(journal_path).runs()
    before = batch_emulator.state()
    job_before = before["jobs"].get(run.run_id)
    done_before = {t for t, state in (job_before or {}).get("tasks", {}).items()
                   if state == "completed"}
    batch_emulator.clear_requests()

    proc = _resume(env, tmp_path / "r.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _each_input_once(out)
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
    rows = json.loads((tmp_path / "r.json").read_text())
    assert {r["status"] for r in rows} == {"converted"}, rows

    requests = batch_emulator.requests()
    if job_before is not None and job_before["state"] == "active":
        # re-attached: no new job, and the nodes watched are the same auto pool's
        assert not [r for r in requests if r["method"] == "POST" and r["path"] == "/jobs"]
        watched = {r["path"].split("/")[2] for r in requests
                   if r["method"] == "GET" and r["path"].endswith("/nodes")}
        assert watched <= {job_before["poolId"]}, (watched, job_before)
        if len(job_before["tasks"]) == len(SECONDS):
            assert _tasks_added(requests) == 0, "no task was added again"
    if done_before and "Every file of run" not in proc.stdout:
        # files were left to do: the ones the job had finished were downloaded, not redone
        assert "Re-attached to job" in proc.stdout, proc.stdout
    assert Journal(journal_path).run(run.run_id).state == "done"
    _nothing_left(azurite, batch_emulator)


@pytest.mark.timeout(240)
def test_uploads_already_in_storage_are_not_sent_again(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    src, out = _inputs(media, tmp_path / "in"), tmp_path / "out"
    env = _env(azurite, batch_emulator, tmp_path / "data")
    _killed(_argv(src, out), env, "azure-uploaded:2")
    proc = _resume(env, tmp_path / "r.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the resumed run tells how many it sent and how many were already there: the two
    # journaled as uploaded (and maybe a third that got there before the kill) were not
    sent = re.search(r"Uploaded (\d+) files?; (\d+) already in storage", proc.stdout)
    assert sent, proc.stdout
    assert int(sent[2]) >= 2 and int(sent[1]) + int(sent[2]) == len(SECONDS), proc.stdout
    _each_input_once(out)
    _nothing_left(azurite, batch_emulator)


@pytest.mark.timeout(240)
def test_backstop_ends_the_pool_when_the_app_never_comes_back(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    """Killed with all tasks added: the job ends itself when they are done, and its pool."""
    src, out = _inputs(media, tmp_path / "in"), tmp_path / "out"
    env = _env(azurite, batch_emulator, tmp_path / "data")
    _killed(_argv(src, out), env, "azure-polled:1")
    [run] = Journal(tmp_path / "data" / "batchgui" / "journal.sqlite3").runs()

    def ended() -> bool:
        state = batch_emulator.state()
        job = state["jobs"].get(run.run_id)
        pools = [p for p in state["pools"].values() if p["state"] != "deleting"]
        return job is not None and job["state"] == "completed" and not pools

    _wait("the service to end the job and its pool", ended)


@pytest.mark.timeout(240)
def test_backstop_wall_clock_when_tasks_were_never_added(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    """Killed mid-upload (the job has no tasks, so it never completes): its time limit
    ends it, and the pool with it."""
    src, out = _inputs(media, tmp_path / "in"), tmp_path / "out"
    env = _env(azurite, batch_emulator, tmp_path / "data", BATCHGUI_AZURE_JOB_GRACE_S="6")
    _killed(_argv(src, out), env, "azure-uploaded:1")
    [run] = Journal(tmp_path / "data" / "batchgui" / "journal.sqlite3").runs()
    assert batch_emulator.state()["jobs"][run.run_id]["state"] == "active"

    def ended() -> bool:
        state = batch_emulator.state()
        pools = [p for p in state["pools"].values() if p["state"] != "deleting"]
        return state["jobs"][run.run_id]["state"] == "completed" and not pools

    _wait("the job's time limit to end it and its pool", ended)


def _cleanup(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchgui", "cleanup", "--target", "azure",
                           *args], env=env, capture_output=True, text=True, timeout=120,
                          cwd=ROOT)


@pytest.mark.timeout(300)
def test_cleanup_removes_a_dead_runs_leftovers_and_nothing_else(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    src = _inputs(media, tmp_path / "in")
    # run A: killed on a computer that never comes back (its journal is lost with it)
    lost = _env(azurite, batch_emulator, tmp_path / "lost-computer")
    _killed(_argv(src, tmp_path / "out-a"), lost, "azure-uploaded:2")
    a_jobs = set(batch_emulator.state()["jobs"])
    a_files = run_blobs(azurite)
    assert a_jobs and a_files
    # run B: going right now from this computer, on nodes that take their time
    here = _env(azurite, batch_emulator, tmp_path / "this-computer")
    b = subprocess.Popen(_argv(src, tmp_path / "out-b", "--start-task", "sleep 120"), env=here,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        b_job = _wait("run B's job", lambda: set(batch_emulator.state()["jobs"]) - a_jobs)
        listed = _cleanup(here, "--dry-run")
        assert listed.returncode == 0, listed.stdout + listed.stderr
        a_id = next(iter(a_jobs))
        assert f"Job {a_id}" in listed.stdout and f"batchgui-{a_id}" in listed.stdout
        assert "not started from this computer" in listed.stdout
        for b_id in b_job:
            assert b_id not in listed.stdout  # a live run's things are never listed
        assert set(batch_emulator.state()["jobs"]) >= a_jobs  # a dry run removes nothing

        removed = _cleanup(here, "--yes")
        assert removed.returncode == 0, removed.stdout + removed.stderr
        state = batch_emulator.state()
        assert all(state["jobs"][j]["state"] == "deleting" for j in a_jobs if j in state["jobs"])
        assert not [n for n in run_blobs(azurite) if a_id in n]
        for b_id in b_job:  # run B is untouched
            assert state["jobs"][b_id]["state"] == "active"
        assert [n for n in run_blobs(azurite) if f"batchgui-{next(iter(b_job))}" in n]
    finally:
        b.send_signal(signal.SIGTERM)
        b.wait(timeout=120)
    _nothing_left(azurite, batch_emulator)


@pytest.mark.timeout(240)
def test_cleanup_keeps_what_a_resumable_run_needs_unless_asked(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    src = _inputs(media, tmp_path / "in")
    env = _env(azurite, batch_emulator, tmp_path / "data")
    _killed(_argv(src, tmp_path / "out"), env, "azure-uploaded:2")
    listed = _cleanup(env, "--yes")
    assert "kept for resuming" in listed.stdout and "--include-resumable" in listed.stdout
    assert run_blobs(azurite), "nothing a resumable run needs was removed"
    removed = _cleanup(env, "--yes", "--include-resumable")
    assert removed.returncode == 0, removed.stdout
    assert run_blobs(azurite) == []
    # the run was dismissed with its leftovers: it is not offered for resuming any more
    proc = subprocess.run([sys.executable, "-m", "batchgui", "resume"], env=env,
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert "Nothing to resume" in proc.stdout


def test_drill_names_exist() -> None:
    """Each kill point above is a real step in the code (a typo would never fire)."""
    code = "".join(p.read_text() for p in (ROOT / "batchgui").rglob("*.py"))
    for point in KILL_POINTS:
        assert f'kill_point("{point.split(":")[0]}")' in code, point

