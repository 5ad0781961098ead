"""--strip-tags and --loudness reach the run, and a resumed run keeps them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from batchgui.cli import build_parser
from batchgui.core.journal import RunRow
from batchgui.core.models import RunSpec
from batchgui.core.resume import spec_from_json
from batchgui.core.run_plan import spec_to_json


def parse(*args: str):  # type: ignore[no-untyped-def]
    return build_parser().parse_args(["convert", "a.mp4", "-o", "out", *args])


def test_defaults_keep_tags_and_leave_loudness() -> None:
    args = parse()
    assert args.strip_tags is False and args.loudness is None


def test_bare_loudness_is_minus_16_and_the_others_can_be_picked() -> None:
    assert parse("--loudness").loudness == -16.0
    assert parse("--loudness", "-23").loudness == -23.0
    assert parse("--loudness=-14").loudness == -14.0
    assert parse("--strip-tags").strip_tags is True


def test_a_resumed_run_keeps_the_choices() -> None:
    spec = RunSpec(inputs=(), output_dir=Path("/o"), keep_tags=False, loudness_lufs=-14.0)
    row = RunRow("run-1", 0.0, 0.0, "running", "local", spec_to_json(spec), {}, None, False,
                 None, {})
    again = spec_from_json(row, ())
    assert again.keep_tags is False and again.loudness_lufs == -14.0
    old = dataclasses.replace(row, spec={"output_dir": "/o"})  # from before these choices
    again = spec_from_json(old, ())
    assert again.keep_tags is True and again.loudness_lufs is None
