"""`batchgui convert` on this computer, with real ffmpeg and real (generated) media."""

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
from tests.processes import ffmpeg_for

ODD_NAMES = ['x"; touch INJECTED; echo ".mp4', "möte; 'del 2' & mer.mp4", "a.b.mp4",
             "-starts-with-dash.MP4", "pipe:1.mp4"]


def mp3_seconds(path: Path) -> float:
    return MP3(path).info.length


def no_part_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".part")]


def test_folder_with_odd_names_and_bad_inputs(media, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    src, out = tmp_path / "in", tmp_path / "out"
    for name in ODD_NAMES:
        media.good(src / name, 3.0)
    media.good(src / "clip.mov", 2.0)
    media.empty(src / "empty.mp4")
    media.not_video(src / "notes.mp4")
    media.corrupt(src / "broken.mp4")
    media.no_audio(src / "silent-film.mp4")
    media.truncated(src / "half.mp4", 10.0)
    (src / "readme.txt").write_text("not picked up from a folder")

    code = main(["convert", str(src), "--output", str(out), "--report", str(tmp_path / "r.json"),
                 "--parallel", "2"])

    assert code == 1  # some inputs failed or were rejected
    report = {Path(r["input"]).name: r for r in json.loads((tmp_path / "r.json").read_text())}
    assert set(report) == set(ODD_NAMES) | {"clip.mov", "empty.mp4", "notes.mp4", "broken.mp4",
                                            "silent-film.mp4", "half.mp4"}
    for name in ODD_NAMES:
        r = report[name]
        assert r["status"] == "converted", r
        mp3 = Path(r["output"])
        assert mp3.parent == out and mp3.name == name[: -len(".mp4")] + ".mp3"
        assert abs(mp3_seconds(mp3) - 3.0) < 0.3
        assert abs(r["duration_s"] - 3.0) < 0.3
    assert report["clip.mov"]["status"] == "converted"
    assert report["empty.mp4"] == {"input": str(src / "empty.mp4"), "output": None,
                                   "status": "rejected", "reason": "the file is empty (0 bytes)",
                                   "reason_code": "empty_file", "reason_params": {},
                                   "duration_s": None}
    assert report["notes.mp4"]["reason"] == "not an MP4 or MOV video"
    assert "damaged" in report["broken.mp4"]["reason"]
    assert report["silent-film.mp4"]["reason"] == "the video has no audio track"
    assert report["half.mp4"]["status"] == "failed"
    assert report["half.mp4"]["reason"].startswith("input looks truncated: got ")
    assert report["half.mp4"]["reason"].endswith(" of 10.0 s")
    # nothing ran from a file name, nothing half-written was left behind
    assert not list(tmp_path.rglob("INJECTED")) and not Path("/tmp/INJECTED").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [n[: -len(".mp4")] + ".mp3" for n in ODD_NAMES] + ["clip.mp3"])
    assert no_part_files(out)


def test_all_good_exits_zero_and_is_recorded(media, tmp_path: Path) -> None:
    media.good(tmp_path / "in" / "one.mp4", 2.0)
    media.good(tmp_path / "in" / "two.mp4", 2.0)
    assert main(["convert", str(tmp_path / "in"), "-o", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["one.mp3", "two.mp3"]
    journal = Journal()
    run = journal.runs()[-1]
    assert run.state == "done"
    assert [f.status for f in journal.files(run.run_id)] == ["done", "done"]


def test_same_stem_in_two_folders(media, tmp_path: Path) -> None:
    src = tmp_path / "in"
    media.good(src / "x" / "clip.mp4", 2.0)
    media.good(src / "y" / "clip.mp4", 2.0)
    assert main(["convert", str(src), "-o", str(tmp_path / "flat")]) == 0
    assert sorted(p.name for p in (tmp_path / "flat").iterdir()) == ["clip (1).mp3", "clip.mp3"]
    assert main(["convert", str(src), "-o", str(tmp_path / "tree"), "--mirror-folders"]) == 0
    assert (tmp_path / "tree" / "x" / "clip.mp3").is_file()
    assert (tmp_path / "tree" / "y" / "clip.mp3").is_file()


def test_existing_output_policies(media, tmp_path: Path) -> None:
    src = media.good(tmp_path / "in" / "song.mp4", 2.0)
    out = tmp_path / "out"
    out.mkdir()
    (out / "song.mp3").write_bytes(b"mine, keep me")
    report = tmp_path / "r.json"
    assert main(["convert", str(src), "-o", str(out), "--on-conflict", "skip",
                 "--report", str(report)]) == 0
    assert (out / "song.mp3").read_bytes() == b"mine, keep me"
    assert json.loads(report.read_text())[0]["status"] == "skipped"
    assert main(["convert", str(src), "-o", str(out)]) == 0  # rename is the default
    assert (out / "song.mp3").read_bytes() == b"mine, keep me"
    assert abs(mp3_seconds(out / "song (1).mp3") - 2.0) < 0.3
    assert main(["convert", str(src), "-o", str(out), "--on-conflict", "overwrite"]) == 0
    assert abs(mp3_seconds(out / "song.mp3") - 2.0) < 0.3


def test_constant_bitrate(media, tmp_path: Path) -> None:
    src = media.good(tmp_path / "a.mp4", 3.0)
    assert main(["convert", str(src), "-o", str(tmp_path / "o"), "--bitrate", "256k"]) == 0
    assert abs(MP3(tmp_path / "o" / "a.mp3").info.bitrate - 256000) < 1000


@pytest.mark.parametrize("args", [
    ["convert", "x.mp4"],  # no --output
    ["convert", "x.mp4", "-o", "o", "--quality", "V12"],
    ["convert", "x.mp4", "-o", "o", "--bitrate", "64k"],
    ["convert", "x.mp4", "-o", "o", "--quality", "V2", "--bitrate", "192k"],
    ["convert", "x.mp4", "-o", "o", "--on-conflict", "ask"],
    ["convert", "x.mp4", "-o", "o", "--target", "nowhere"],
])
def test_usage_errors_exit_two(args: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        code = main(args)
        raise SystemExit(code)
    assert exc.value.code == 2


def test_missing_path_is_reported_and_others_go_on(media, tmp_path: Path) -> None:
    good = media.good(tmp_path / "ok.mp4", 2.0)
    report = tmp_path / "r.json"
    code = main(["convert", str(good), str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "o"),
                 "--report", str(report)])
    assert code == 1
    rows = {Path(r["input"]).name: r["status"] for r in json.loads(report.read_text())}
    assert rows == {"ok.mp4": "converted", "nope.mp4": "rejected"}


def test_pipe_gets_plain_lines(media, tmp_path: Path) -> None:
    good = media.good(tmp_path / "ok.mp4", 2.0)
    proc = subprocess.run(
        [sys.executable, "-m", "batchgui", "convert", str(good), "-o", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stdout and "\x1b" not in proc.stdout
    assert "ok.mp4: done, ok.mp3" in proc.stdout
    assert "1 converted, 0 not converted, 0 skipped" in proc.stdout


def test_reader_gone_midway_still_converts_everything(media, tmp_path: Path) -> None:
    """`batchgui convert ... | head -1`: once the reader has gone, lines go nowhere, every
    file is still converted, the exit code still tells, and no traceback is printed."""
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(4):
        media.good(src / f"clip{i}.mp4", 2.0)
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchgui", "convert", str(src), "-o", str(out), "--parallel", "2",
         "--report", str(tmp_path / "r.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()  # what `head -1` reads, then it goes away
    proc.stdout.close()
    errors = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, errors
    assert first.strip()
    assert "Traceback" not in errors and "BrokenPipe" not in errors, errors
    assert sorted(p.name for p in out.iterdir()) == [f"clip{i}.mp3" for i in range(4)]
    rows = json.loads((tmp_path / "r.json").read_text())
    assert [r["status"] for r in rows] == ["converted"] * 4


@pytest.mark.timeout(180)
def test_ctrl_c_stops_ffmpeg_and_leaves_no_partial_file(media, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(4):
        media.good(src / f"long{i}.mp4", 40.0)
    media.good(src / "a-short.mp4", 1.0)
    report = tmp_path / "r.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchgui", "convert", str(src), "-o", str(out), "--parallel", "2",
         "--report", str(report), "--bitrate", "320k"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until a long file is being written
        if out.is_dir() and any(p.name.startswith(".long") for p in out.iterdir()):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("no conversion started")
    os.kill(proc.pid, signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, output
    assert "Cancelling" in output
    left = sorted(p.name for p in out.iterdir())
    assert no_part_files(out), left
    rows = {Path(r["input"]).name: r for r in json.loads(report.read_text())}
    for name in left:  # every MP3 left there is complete and reported as converted
        assert rows[name.replace(".mp3", ".mp4")]["status"] == "converted"
    cancelled = [r for r in rows.values() if r["status"] == "failed"]
    assert cancelled and all("cancelled" in r["reason"] for r in cancelled)
    # no ffmpeg is left running
    assert not ffmpeg_for(out)


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 200 KiB file system, to fill up for real (needs root and mount; skipped otherwise)."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.strip()}")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


def test_full_disk_fails_that_file_plainly_and_others_go_on(media, tmp_path, tiny_disk) -> None:
    small = [media.good(tmp_path / "in" / f"small{i}.mp4", 2.0) for i in range(2)]
    big = media.good(tmp_path / "in" / "big.mp4", 60.0)
    report = tmp_path / "r.json"
    code = main(["convert", *map(str, small), str(big), "-o", str(tiny_disk), "--parallel", "1",
                 "--report", str(report)])
    assert code == 1
    rows = {Path(r["input"]).name: r for r in json.loads(report.read_text())}
    assert rows["small0.mp4"]["status"] == rows["small1.mp4"]["status"] == "converted"
    assert rows["big.mp4"]["status"] == "failed"
    assert rows["big.mp4"]["reason"].startswith("the disk with the output folder is full")
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["small0.mp3", "small1.mp3"]
