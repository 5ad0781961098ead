"""Kill drills on this computer: SIGKILL a real `batchgui convert` at each step, then
resume (or simply run the same command again) and check what a user would see:
every input exactly once as a whole MP3, no part file, no "name (1).mp3" made because
of the crash, no ffmpeg left running, and no dead run still offered for resume.

The exact steps come from `BATCHGUI_KILL_AT` (batchgui/core/drills.py): the process
kills itself with SIGKILL there, which is what a crash or power cut looks like to
the files. One drill kills from outside, timed by what appears in the folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mutagen.mp3 import MP3

from batchgui.cli import main
from batchgui.core.journal import Journal
from batchgui.core.resume import resumable_runs
from tests.processes import ffmpeg_for as _ffmpeg_for
from tests.processes import ffmpeg_pids

NAMES = ["clip0.mp4", "clip1.mp4", "clip2.mp4", "clip3.mp4"]
SECONDS = 2.0


def _inputs(media, folder: Path) -> Path:
    for i, name in enumerate(NAMES):
        media.good(folder / name, SECONDS + i)  # distinct lengths: longest first is visible
    return folder


def _convert_argv(src: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "batchgui", "convert", str(src), "-o", str(out),
            "--parallel", "2", *extra]


def _killed_run(src: Path, out: Path, kill_at: str, *extra: str) -> None:
    env = dict(os.environ, BATCHGUI_KILL_AT=kill_at)
    proc = subprocess.run(_convert_argv(src, out, *extra), env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, (kill_at, proc.returncode, proc.stdout,
                                                proc.stderr)


def _wait_no_ffmpeg(folder: Path, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while _ffmpeg_for(folder):
        assert time.monotonic() < deadline, _ffmpeg_for(folder)
        time.sleep(0.02)


def _assert_each_input_once(out: Path, *, extra: tuple[str, ...] = ()) -> None:
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([n.replace(".mp4", ".mp3") for n in NAMES] + list(extra)), names
    for i, name in enumerate(NAMES):
        got = MP3(out / name.replace(".mp4", ".mp3")).info.length
        assert abs(got - (SECONDS + i)) < 0.5, (name, got)
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
    assert resumable_runs(Journal()) == []


KILL_POINTS = [
    "planned:1",      # the plan is journaled, nothing converted yet
    "converting:1",   # the first ffmpeg has just started
    "converting:3",   # two MP3s may be done, the third is being written
    "checked:1",      # a finished MP3 is checked, not yet placed
    "placing:1",      # "placing" is journaled, the link not made
    "linked:1",       # the MP3 is in the folder, the journal does not say "done" yet
    "done:1",         # "done" is journaled, the part file is still there
    "linked:4",       # the last file is in the folder, not yet journaled
    "done:4",         # the last file is done, the run's end not written
    "ending:1",       # every file done, the run's final record not written
]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_kill_then_resume(media, tmp_path: Path, kill_at: str) -> None:
    src, out = _inputs(media, tmp_path / "in"), tmp_path / "out"
    _killed_run(src, out, kill_at)
    _wait_no_ffmpeg(out, within_s=2.0)
    report = tmp_path / "r.json"
    code = main(["resume", "--report", str(report)]) if resumable_runs(Journal()) else 0
    assert code == 0
    _assert_each_input_once(out)
    if report.exists():
        rows = json.loads(report.read_text())
        assert all(r["status"] == "converted" for r in rows), rows


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kill_at,policy", [
    ("converting:3", "rename"), ("linked:1", "rename"), ("linked:4", "skip"),
    ("done:1", "overwrite"), ("placing:1", "rename"),
])
def test_kill_then_rerun_the_same_command(media, tmp_path: Path, kill_at: str,
                                          policy: str) -> None:
    src, out = _inputs(media, tmp_path / "in"), tmp_path / "out"
    _killed_run(src, out, kill_at)
    report = tmp_path / "r.json"
    assert main(["convert", str(src), "-o", str(out), "--on-conflict", policy,
                 "--report", str(report)]) == 0
    _assert_each_input_once(out)
    rows = json.loads(report.read_text())
    assert {r["status"] for r in rows} == {"converted"}, rows
    # the dead run is not offered any more: the rerun took it over
    assert main(["resume"]) == 0


@pytest.mark.timeout(300)
def test_a_users_own_file_stays_and_ours_is_placed_once(media, tmp_path: Path) -> None:
    src, out = _inputs(media, tmp_path / "in"), tmp_path / "out"
    out.mkdir()
    (out / "clip3.mp3").write_bytes(b"the user's own file")
    _killed_run(src, out, "linked:1")  # clip3 is longest: first placed, as "clip3 (1).mp3"
    assert main(["resume"]) == 0
    assert (out / "clip3.mp3").read_bytes() == b"the user's own file"
    names = sorted(p.name for p in out.iterdir())
    assert names == ["clip0.mp3", "clip1.mp3", "clip2.mp3", "clip3 (1).mp3", "clip3.mp3"]
    assert abs(MP3(out / "clip3 (1).mp3").info.length - (SECONDS + 3)) < 0.5


@pytest.mark.timeout(300)
def test_ffmpeg_dies_within_two_seconds_of_a_sigkill(media, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(2):
        media.good(src / f"long{i}.mp4", 300.0)
    proc = subprocess.Popen(_convert_argv(src, out, "--bitrate", "320k"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(_ffmpeg_for(out)) < 2:  # both slots converting
        assert time.monotonic() < deadline and proc.poll() is None, "no conversion started"
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    _wait_no_ffmpeg(out, within_s=2.0)
    assert main(["resume"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["long0.mp3", "long1.mp3"]


@pytest.mark.timeout(300)
def test_sigterm_stops_like_cancel(media, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(2):
        media.good(src / f"long{i}.mp4", 300.0)
    proc = subprocess.Popen(_convert_argv(src, out, "--bitrate", "320k"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not _ffmpeg_for(out):
        assert time.monotonic() < deadline and proc.poll() is None, "no conversion started"
        time.sleep(0.02)
    proc.terminate()
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, output
    assert "Cancelling" in output
    assert not _ffmpeg_for(out)
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]


@pytest.mark.timeout(300)
def test_kill_from_outside_when_the_first_mp3_appears(media, tmp_path: Path) -> None:
    src, out = _inputs(media, tmp_path / "in"), tmp_path / "out"
    proc = subprocess.Popen(_convert_argv(src, out), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (out.is_dir() and any(p.suffix == ".mp3" for p in out.iterdir())):
        assert time.monotonic() < deadline and proc.poll() is None, "no MP3 appeared"
        time.sleep(0.001)
    proc.kill()
    proc.wait()
    _wait_no_ffmpeg(out, within_s=2.0)
    assert main(["resume"]) == 0
    _assert_each_input_once(out)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("priority,nice", [("low", 10), ("normal", 0)])
def test_ffmpeg_runs_below_normal_priority_unless_asked(media, tmp_path: Path, priority: str,
                                                        nice: int) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    media.good(src / "long.mp4", 300.0)
    proc = subprocess.Popen(_convert_argv(src, out, "--priority", priority),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        # an ffmpeg converting, at the priority asked for (the app lowers it just after
        # starting it, so the first look may come before that)
        while (seen := _nice_values(ffmpeg_pids(out))) != {nice}:
            assert time.monotonic() < deadline and proc.poll() is None, f"nice values: {seen}"
            time.sleep(0.01)
    finally:
        proc.terminate()
        proc.wait()


def _nice_values(pids: list[int]) -> set[int]:
    values = set()
    for pid in pids:
        stat = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        values.add(int(stat[16]))  # field 19 of /proc/PID/stat: the nice value
    return values


def test_drill_names_exist() -> None:
    """Each kill point above is a real step in the code (a typo would never fire)."""
    root = Path(__file__).resolve().parents[2] / "batchgui"
    code = "".join(p.read_text() for p in root.rglob("*.py"))
    for point in KILL_POINTS:
        assert f'kill_point("{point.split(":")[0]}")' in code, point
