"""--strip-tags and --loudness reach the run, and a resumed run keeps them."""

from __future__ import annotations

from pathlib import Path

from batchgui.cli import build_parser
from batchgui.core.models import InputFile
from batchgui.core.resume import resume_spec


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
    def probe(path: Path, root: Path | None) -> InputFile:
        return InputFile(path, 10, 1.0, root=root)

    record = {"output_dir": "/o", "quality": "V2", "keep_tags": False, "loudness_lufs": -14.0,
              "files": [{"input": "/in/a.mp4", "root": None, "status": "converting"}]}
    spec = resume_spec(record, probe)
    assert spec.keep_tags is False and spec.loudness_lufs == -14.0
    old = {"output_dir": "/o", "files": []}  # a record from before these choices existed
    spec = resume_spec(old, probe)
    assert spec.keep_tags is True and spec.loudness_lufs is None
