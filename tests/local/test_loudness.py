"""Even loudness on this computer: two passes, measured afterwards with ffmpeg's ebur128."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mutagen.mp3 import MP3

from batchgui.cli import main
from batchgui.core import loudness
from batchgui.core.ffmpeg import convert_argv, ffmpeg_exe
from batchgui.core.models import Quality
from tests.media import MediaCache, measure_loudness

KINDS = ("speech", "music", "near_silent")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, float]]:
    """The three kinds of sound, each with its loudness as ebur128 measures it."""
    media = MediaCache(tmp_path_factory.mktemp("loud-cache"))
    folder = tmp_path_factory.mktemp("loud-in")
    made = {}
    for kind in KINDS:
        video = media.sound(folder / f"{kind}.mp4", kind)
        made[kind] = (video, measure_loudness(video)[0])
    return made


def run_cli(sources: list[Path], out: Path, *extra: str,
            capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, dict[str, object]], str]:
    report = out.parent / f"{out.name}.json"
    code = main(["convert", *map(str, sources), "--output", str(out), "--report", str(report),
                 *extra])
    printed = capsys.readouterr().out
    assert code == 0, printed
    rows = {Path(str(r["input"])).stem: r for r in json.loads(report.read_text())}
    return rows, printed


def test_inputs_are_what_they_claim(inputs: dict[str, tuple[Path, float]]) -> None:
    assert inputs["speech"][1] < -25, "quiet speech"
    assert inputs["music"][1] > -12, "loud music"
    assert inputs["near_silent"][1] < -55, "near silence"


def test_default_target_evens_out_speech_music_and_caps_near_silence(
    inputs: dict[str, tuple[Path, float]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows, printed = run_cli([inputs[k][0] for k in KINDS], tmp_path / "out", "--loudness",
                            capsys=capsys)
    for kind in ("speech", "music"):
        integrated, peak = measure_loudness(Path(str(rows[kind]["output"])))
        assert abs(integrated - -16.0) <= 1.0, (kind, integrated)
        assert peak <= -1.0, (kind, peak)
        assert rows[kind]["reason"] is None
    quiet_in = inputs["near_silent"][1]
    integrated, peak = measure_loudness(Path(str(rows["near_silent"]["output"])))
    assert abs(integrated - (quiet_in + loudness.MAX_GAIN_DB)) <= 1.0, (quiet_in, integrated)
    assert integrated < -30.0, "not raised into noise as loud as speech"
    assert peak <= -1.0
    note = "quiet recording: raised by at most 20 dB"
    assert rows["near_silent"]["reason"] == note
    assert f"near_silent.mp4: {note}" in printed
    # back at the input's own sample rate, not loudnorm's 192 kHz
    assert MP3(Path(str(rows["speech"]["output"]))).info.sample_rate == 48000
    assert MP3(Path(str(rows["music"]["output"]))).info.sample_rate == 44100


@pytest.mark.parametrize("target", ["-23", "-14"])
def test_other_targets(inputs: dict[str, tuple[Path, float]], tmp_path: Path, target: str,
                       capsys: pytest.CaptureFixture[str]) -> None:
    rows, _ = run_cli([inputs["speech"][0], inputs["music"][0]], tmp_path / "out",
                      "--loudness", target, capsys=capsys)
    for kind in ("speech", "music"):
        integrated, peak = measure_loudness(Path(str(rows[kind]["output"])))
        assert abs(integrated - float(target)) <= 1.0, (kind, integrated)
        assert peak <= -1.0, (kind, peak)


def test_lower_quality_still_keeps_the_peak_under_minus_one(
    inputs: dict[str, tuple[Path, float]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows, _ = run_cli([inputs["speech"][0], inputs["music"][0]], tmp_path / "out",
                      "--loudness", "--quality", "V6", capsys=capsys)
    for kind in ("speech", "music"):
        integrated, peak = measure_loudness(Path(str(rows[kind]["output"])))
        assert abs(integrated - -16.0) <= 1.0, (kind, integrated)
        assert peak <= -1.0, (kind, peak)


def test_without_the_option_loudness_is_left_alone(
    inputs: dict[str, tuple[Path, float]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows, _ = run_cli([inputs["near_silent"][0]], tmp_path / "out", capsys=capsys)
    integrated, _ = measure_loudness(Path(str(rows["near_silent"]["output"])))
    assert abs(integrated - inputs["near_silent"][1]) <= 1.0
    assert rows["near_silent"]["reason"] is None


def test_the_node_script_does_both_passes_by_itself(
    inputs: dict[str, tuple[Path, float]], tmp_path: Path
) -> None:
    """What an Azure Batch node runs: the same file under a fixed name, a bare python3,
    fixed file names in its working folder."""
    shutil.copyfile(loudness.__file__, tmp_path / loudness.SCRIPT_NAME)
    shutil.copyfile(inputs["speech"][0], tmp_path / "in.mp4")
    argv = convert_argv("in.mp4", "out.mp3", Quality(), ffmpeg=ffmpeg_exe(), progress=False)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing of ours on it
    proc = subprocess.run(
        [sys.executable, "-I", loudness.SCRIPT_NAME, "--lufs", "-16", "--true-peak", "-2",
         "--", *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    integrated, peak = measure_loudness(tmp_path / "out.mp3")
    assert abs(integrated - -16.0) <= 1.0 and peak <= -1.0

    (tmp_path / "in.mp4").write_bytes(b"not a video at all")
    proc = subprocess.run(
        [sys.executable, "-I", loudness.SCRIPT_NAME, "--lufs", "-16", "--true-peak", "-2",
         "--", *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0
    assert "Invalid data found when processing input" in proc.stderr


def test_cli_refuses_other_targets(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["convert", str(tmp_path), "-o", str(tmp_path / "o"), "--loudness", "-20"])
    assert stop.value.code == 2
    assert "use -23, -16 or -14 (LUFS)" in capsys.readouterr().err
