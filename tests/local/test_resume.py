"""A run killed half-way (crash, power cut) is finished later with `batchgui resume`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mutagen.mp3 import MP3

from batchgui.cli import main
from batchgui.core.store import RunStore


@pytest.mark.timeout(180)
def test_killed_run_resumes_where_it_stopped(media, tmp_path: Path, capsys) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    names = [f"clip{i}.mp4" for i in range(4)]
    for name in names:
        media.good(src / name, 40.0)
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchgui", "convert", str(src), "-o", str(out), "--parallel", "1",
         "--bitrate", "320k"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # one MP3 done and the next one half written
        if (out / "clip0.mp3").exists() and any(p.name.startswith(".clip1") for p in out.iterdir()):
            break
        time.sleep(0.02)
    else:
        proc.kill()
        pytest.fail("the run did not get going")
    time.sleep(0.3)  # let the run record catch up with the first file
    proc.kill()  # no goodbye: like a crash
    proc.wait()
    assert any(p.name.endswith(".part") for p in out.iterdir())  # the crash left a part file

    report = tmp_path / "r.json"
    assert main(["resume", "--report", str(report)]) == 0
    rows = json.loads(report.read_text())
    resumed = sorted(Path(r["input"]).name for r in rows)
    assert "clip0.mp4" not in resumed  # it was done before the crash: not converted again
    assert "clip3.mp4" in resumed
    assert all(r["status"] == "converted" for r in rows)
    assert sorted(p.name for p in out.iterdir()) == ["clip0.mp3", "clip1.mp3", "clip2.mp3",
                                                     "clip3.mp3"]
    for mp3 in out.iterdir():
        assert abs(MP3(mp3).info.length - 40.0) < 1.0

    capsys.readouterr()
    assert main(["resume"]) == 0
    assert "Nothing to resume" in capsys.readouterr().out
    old = [RunStore().load(r) for r in RunStore().list_runs()]
    assert any(r.get("resumed_by") for r in old)
