"""Even loudness: EBU R128 in two passes with ffmpeg's loudnorm (measure, then apply).

This one file serves both targets. This computer imports it; an Azure Batch node gets
the very same file as a resource file and runs it with its own python3:

    python3 batchgui_loudness.py --lufs -16 --true-peak -2 -- ffmpeg ... -i in.mp4 ... out.mp3

so it uses only the standard library and imports nothing from batchgui. The command
line after `--` is the usual one-pass conversion; the script measures the input, then
runs that command with the loudnorm filter (and the measured values) added.

Near-silence is not raised into noise: the gain is capped at MAX_GAIN_DB. When the cap
or silence changes what happens, the MP3 carries a short machine-readable marker (an
ID3 TXXX frame written by ffmpeg) that the run turns into a plain note (in the user's
language: core.tags.loudness_note) and removes when it writes the final tags.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

#: the loudness targets a user can pick (LUFS): broadcast, podcasts and speech, music streaming
TARGETS_LUFS = (-23.0, -16.0, -14.0)
DEFAULT_LUFS = -16.0
#: The most a file is raised. Speech recorded at a normal distance measures about -35 to
#: -20 LUFS, so 20 dB brings even a quiet recording to -16 LUFS; a file that needs more is
#: mostly room noise or hiss, and raising it further would make that noise as loud as speech.
MAX_GAIN_DB = 20.0
#: below this the file is silence (EBU R128's absolute gate): nothing to even out
SILENCE_LUFS = -70.0
#: the ID3 TXXX description of the marker the apply pass leaves in the MP3
MARKER_KEY = "batchgui_loudness"
#: the file name the script has on a Batch node
SCRIPT_NAME = "batchgui_loudness.py"


def true_peak_limit(vbr_level: int | None, cbr_kbps: int | None) -> float:
    """The true peak (dBTP) loudnorm aims at, so that the MP3 peaks at -1 dBTP or lower.

    MP3 encoding adds peaks of its own (measured: about 0.6-1 dB at V0-V2 and 1.5-2 dB at
    V5-V9 on limited material), so the lower the bitrate, the more room is left.
    """
    if cbr_kbps is not None:
        high = cbr_kbps >= 192
        low = cbr_kbps < 128
    else:
        level = 2 if vbr_level is None else vbr_level
        high = level <= 2
        low = level >= 7
    if high:
        return -2.0
    return -4.0 if low else -3.0


@dataclass(frozen=True)
class Measurement:
    """What the first pass found (loudnorm's input_* values) and the input's sample rate."""

    integrated: float  # LUFS; -inf for digital silence
    true_peak: float  # dBTP
    lra: float  # LU
    threshold: float  # LUFS
    offset: float  # loudnorm's target_offset (LU)
    sample_rate: int | None


@dataclass(frozen=True)
class Plan:
    """How the second pass evens out one file: its filter (None: leave it) and its marker."""

    audio_filter: str | None
    marker: str | None = None  # "capped=20" or "silent", for the note the user sees


def measure_argv(ffmpeg: str, input_path: str, lufs: float, true_peak: float, *,
                 progress: bool = False) -> list[str]:
    """The first pass: read the first audio stream through loudnorm, write nothing.

    It runs at ffmpeg's default log level: loudnorm prints its JSON there, and the
    input's stream line (with its sample rate) comes with it.
    """
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-i", input_path,
            "-map", "0:a:0", "-vn", "-sn", "-dn",
            "-af", f"loudnorm=I={lufs:g}:TP={true_peak:g}:LRA=11:print_format=json"]
    if progress:
        argv += ["-progress", "pipe:1"]
    return argv + ["-f", "null", "-"]


_AUDIO_RATE = re.compile(r"Stream #\d+:\d+.*?: Audio: .*?(\d+) Hz")


def parse_measurement(stderr: str) -> Measurement | None:
    """loudnorm's JSON block (the last one ffmpeg printed) and the first audio stream's rate."""
    end = stderr.rfind("}")
    start = stderr.rfind("{", 0, end)
    if start < 0 or end < 0:
        return None
    try:
        values = json.loads(stderr[start:end + 1])
        measured = Measurement(
            integrated=float(values["input_i"]),
            true_peak=float(values["input_tp"]),
            lra=float(values["input_lra"]),
            threshold=float(values["input_thresh"]),
            offset=float(values["target_offset"]),
            sample_rate=None,
        )
    except (ValueError, KeyError, TypeError):
        return None
    rate = _AUDIO_RATE.search(stderr)
    if rate:
        measured = Measurement(measured.integrated, measured.true_peak, measured.lra,
                               measured.threshold, measured.offset, int(rate.group(1)))
    return measured


def plan(measured: Measurement, lufs: float, true_peak: float) -> Plan:
    """The second pass's loudnorm filter, with the gain capped for near-silence."""
    if not math.isfinite(measured.integrated) or measured.integrated <= SILENCE_LUFS:
        return Plan(None, "silent")
    target, marker, offset = lufs, None, measured.offset
    if lufs - measured.integrated > MAX_GAIN_DB:
        target, marker, offset = measured.integrated + MAX_GAIN_DB, f"capped={MAX_GAIN_DB:g}", 0.0
    if not math.isfinite(offset):
        offset = 0.0
    # A loudness range target above the measured one keeps loudnorm in linear mode (one
    # gain for the whole file) unless the peaks would pass the true-peak limit.
    lra = min(50.0, max(11.0, math.ceil(measured.lra + 1)))
    parts = [
        f"I={target:.2f}", f"TP={true_peak:g}", f"LRA={lra:g}",
        f"measured_I={measured.integrated:.2f}",
        f"measured_TP={_clamp(measured.true_peak, -99.0, 99.0):.2f}",
        f"measured_LRA={_clamp(measured.lra, 0.0, 99.0):.2f}",
        f"measured_thresh={_clamp(measured.threshold, -99.0, 0.0):.2f}",
        f"offset={_clamp(offset, -99.0, 99.0):.2f}",
        "linear=true",
    ]
    audio_filter = "loudnorm=" + ":".join(parts)
    # loudnorm works at 192 kHz; go back to the input's rate (MP3 has no 192 kHz)
    if measured.sample_rate:
        audio_filter += f",aresample={measured.sample_rate}"
    return Plan(audio_filter, marker)


def _clamp(value: float, low: float, high: float) -> float:
    if not math.isfinite(value):
        return low if value < 0 else high
    return min(high, max(low, value))


def with_plan(convert_argv: Sequence[str], planned: Plan) -> list[str]:
    """The one-pass conversion argv with the plan's filter and marker before the output."""
    extra: list[str] = []
    if planned.audio_filter:
        extra += ["-af", planned.audio_filter]
    if planned.marker:
        extra += ["-metadata", f"{MARKER_KEY}={planned.marker}"]
    argv = list(convert_argv)
    return argv[:-1] + extra + argv[-1:]


# -- the script a Batch node runs ----------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, then convert with the measured values; exit with the conversion's code."""
    parser = argparse.ArgumentParser(prog=SCRIPT_NAME)
    parser.add_argument("--lufs", type=float, required=True)
    parser.add_argument("--true-peak", type=float, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if "-i" not in command[:-1] or len(command) < 3:
        parser.error("give the ffmpeg command line after --")
    input_path = command[command.index("-i") + 1]
    measured_run = subprocess.run(
        measure_argv(command[0], input_path, args.lufs, args.true_peak),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
    )
    if measured_run.returncode != 0:
        sys.stderr.write(measured_run.stderr[-4000:])
        return measured_run.returncode
    measured = parse_measurement(measured_run.stderr)
    if measured is None:
        sys.stderr.write(measured_run.stderr[-2000:])
        sys.stderr.write("\nThe loudness of the video could not be measured.\n")
        return 1
    planned = plan(measured, args.lufs, args.true_peak)
    print(f"measured {measured.integrated} LUFS, {measured.true_peak} dBTP; "
          f"filter {planned.audio_filter}; marker {planned.marker}", flush=True)
    return subprocess.run(with_plan(command, planned), stdin=subprocess.DEVNULL).returncode


if __name__ == "__main__":
    sys.exit(main())
