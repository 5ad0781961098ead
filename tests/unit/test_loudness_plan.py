"""The loudness plan: what the second pass does with what the first pass measured."""

from __future__ import annotations

import ast
import math
from pathlib import Path

from batchgui.core import loudness
from batchgui.core.loudness import Measurement, parse_measurement, plan, with_plan
from batchgui.core.tags import loudness_note

# the end of a real first pass (bundled ffmpeg, loudnorm print_format=json), shortened
FIRST_PASS_STDERR = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/tmp/in/speech.mp4':
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p, 320x240, 25 fps
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, mono, fltp, 96 kb/s
Stream mapping:
  Stream #0:1 -> #0:0 (aac (native) -> pcm_s16le (native))
Output #0, null, to 'pipe:':
  Stream #0:0(und): Audio: pcm_s16le, 192000 Hz, mono, s16, 3072 kb/s
[Parsed_loudnorm_0 @ 0x7f5c1c001b80]
{
	"input_i" : "-30.61",
	"input_tp" : "-15.47",
	"input_lra" : "1.00",
	"input_thresh" : "-40.66",
	"output_i" : "-16.12",
	"output_tp" : "-2.00",
	"output_lra" : "0.90",
	"output_thresh" : "-26.17",
	"normalization_type" : "dynamic",
	"target_offset" : "0.12"
}
"""


def measured(i: float, tp: float = -10.0, lra: float = 3.0, rate: int | None = 44100,
             offset: float = 0.3) -> Measurement:
    return Measurement(i, tp, lra, i - 10.0, offset, rate)


def test_first_pass_output_is_read_with_the_input_rate_not_loudnorms() -> None:
    m = parse_measurement(FIRST_PASS_STDERR)
    assert m == Measurement(-30.61, -15.47, 1.0, -40.66, 0.12, 48000)
    assert parse_measurement("Conversion failed!\n") is None
    assert parse_measurement("{ broken json }") is None


def test_digital_silence_is_read_and_left_alone() -> None:
    text = FIRST_PASS_STDERR.replace('"-30.61"', '"-inf"').replace('"-15.47"', '"-inf"')
    text = text.replace('"0.12"', '"inf"')
    m = parse_measurement(text)
    assert m is not None and m.integrated == -math.inf
    planned = plan(m, -16.0, -2.0)
    assert planned.audio_filter is None and planned.marker == "silent"
    assert str(loudness_note(planned.marker)) == "silent recording: loudness left as it is"


def test_gain_is_the_difference_with_the_measured_values_and_linear_mode() -> None:
    planned = plan(measured(-30.0, offset=0.4), -16.0, -2.0)
    assert planned.marker is None
    f = planned.audio_filter
    assert f is not None and f.startswith("loudnorm=I=-16.00:TP=-2:LRA=11:")
    assert "measured_I=-30.00" in f and "measured_TP=-10.00" in f and "offset=0.40" in f
    assert "linear=true" in f
    assert f.endswith(",aresample=44100"), "back to the input's rate, not loudnorm's 192 kHz"


def test_wide_loudness_range_stays_linear() -> None:
    f = plan(measured(-25.0, lra=17.3), -16.0, -2.0).audio_filter
    assert f is not None and ":LRA=19:" in f


def test_near_silence_is_raised_by_at_most_the_cap_and_says_so() -> None:
    planned = plan(measured(-62.85), -16.0, -2.0)
    f = planned.audio_filter
    assert f is not None and f.startswith(f"loudnorm=I={-62.85 + loudness.MAX_GAIN_DB:.2f}:")
    assert "offset=0.00" in f, "the first pass's offset was for the uncapped target"
    assert planned.marker == "capped=20"
    assert str(loudness_note(planned.marker)) == "quiet recording: raised by at most 20 dB"
    # just inside the cap: the full way, no note
    assert plan(measured(-35.9), -16.0, -2.0).marker is None
    # louder files are never capped downwards
    assert plan(measured(-5.0), -23.0, -2.0).marker is None


def test_filter_and_marker_go_before_the_output_only() -> None:
    argv = ["ffmpeg", "-i", "in.mp4", "-c:a", "libmp3lame", "out.mp3"]
    planned = plan(measured(-62.0), -16.0, -2.0)
    got = with_plan(argv, planned)
    assert got[:5] == argv[:5] and got[-1] == "out.mp3"
    assert got[5:7] == ["-af", planned.audio_filter]
    assert got[7:9] == ["-metadata", "batchgui_loudness=capped=20"]
    assert with_plan(argv, loudness.Plan(None)) == argv


def test_more_room_for_the_encoders_peaks_at_lower_bitrates() -> None:
    assert loudness.true_peak_limit(0, None) == loudness.true_peak_limit(2, None) == -2.0
    assert loudness.true_peak_limit(None, 320) == loudness.true_peak_limit(None, 192) == -2.0
    assert loudness.true_peak_limit(5, None) == loudness.true_peak_limit(None, 160) == -3.0
    assert loudness.true_peak_limit(9, None) == loudness.true_peak_limit(None, 96) == -4.0


def test_the_node_script_needs_nothing_but_the_standard_library() -> None:
    """The same file runs on Batch nodes with a bare python3: no batchgui, no packages."""
    import sys

    tree = ast.parse(Path(loudness.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
