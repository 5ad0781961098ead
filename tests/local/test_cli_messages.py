"""What a newcomer reads on the command line: one problem, one message; names of any length
and any bytes; help that answers (issue 14, "CLI and messages")."""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchgui.cli import build_parser, main
from batchgui.core import naming
from batchgui.core.journal import Journal
from tests.processes import ffmpeg_for

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`batchgui ...` as a user runs it, output through a pipe."""
    full = dict(os.environ)
    full["PYTHONPATH"] = os.pathsep.join([str(ROOT), full.get("PYTHONPATH", "")])
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "batchgui", *args], capture_output=True,
                          text=True, env=full, timeout=timeout, cwd=ROOT)


def run_ids() -> list[str]:
    return [r.run_id for r in Journal().runs()]


# -- the output folder --------------------------------------------------------------------


def test_output_folder_that_is_a_file_is_a_usage_error_said_once_before_any_check(
    media, tmp_path: Path, capsys
) -> None:
    clip = media.good(tmp_path / "a.mp4", 1.0)
    not_a_folder = tmp_path / "mp3s"
    not_a_folder.write_text("I am a file")
    before = run_ids()

    code = main(["convert", str(clip), "-o", str(not_a_folder)])

    out, err = capsys.readouterr()
    seen = out + err
    assert code == 2
    assert seen.count("is a file, not a folder") == 1, seen
    assert len(seen.strip().splitlines()) == 1, seen  # nothing else: not even the estimate
    assert "Checking" not in seen  # said before any file is checked
    assert run_ids() == before  # no run was started
    assert not_a_folder.read_text() == "I am a file"


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A real read-only folder: a read-only tmpfs (root ignores permission bits, not a
    read-only mount). Skipped only where mounting is impossible (no root, no mount)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {proc.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_read_only_output_folder_is_found_before_any_ffmpeg_starts(
    media, tmp_path: Path, read_only_folder: Path, capsys
) -> None:
    clips = [str(media.good(tmp_path / f"c{i}.mp4", 1.0)) for i in range(3)]

    code = main(["convert", *clips, "-o", str(read_only_folder)])

    out, err = capsys.readouterr()
    seen = out + err
    assert code == 2
    assert seen.count("can't be written in the output folder") == 1, seen
    assert "read-only" in seen
    assert "Converting" not in seen and "Checking" not in seen
    assert not ffmpeg_for(read_only_folder)


def test_run_into_a_read_only_folder_stops_before_ffmpeg_with_one_message(
    media, tmp_path: Path, read_only_folder: Path
) -> None:
    """The window's way in (no CLI check first): the run itself finds it while planning."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from batchgui.core import media as core_media
    from batchgui.core.models import FileStatus, RunSpec
    from batchgui.core.run import RUN_STOPPED_CODE, Run
    from batchgui.targets.local import LocalTarget

    clips = [media.good(tmp_path / f"c{i}.mp4", 1.0) for i in range(3)]
    lines: list[str] = []

    async def go():  # type: ignore[no-untyped-def]
        with ThreadPoolExecutor(4) as executor:
            spec = RunSpec(inputs=tuple(core_media.probe(c) for c in clips),
                           output_dir=read_only_folder / "mp3s")
            return await Run(spec, LocalTarget(slots=2), executor, on_log=lines.append,
                             journal=Journal()).execute()

    result = asyncio.run(go())
    assert result.error is not None and "can't be created" in result.error.text
    assert "Read-only file system" in result.error.text
    said = [line for line in lines if result.error.text in line]
    assert said == [f"The run stopped: {result.error}"], lines  # once, as the last word
    assert lines[-1] == said[0]
    assert not any(line.startswith("Converting") for line in lines)
    assert all(o.status is FileStatus.FAILED and o.run_stopped for o in result.outcomes)
    assert {o.reason.code for o in result.outcomes if o.reason} == {RUN_STOPPED_CODE}


# -- inputs -------------------------------------------------------------------------------


def test_missing_input_is_reported_once_and_the_counts_agree(
    media, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    media.good(tmp_path / "ok.mp4", 1.0)
    report = tmp_path / "r.json"

    code = main(["convert", "ok.mp4", "nope.mp4", "-o", "out", "--report", str(report)])

    out, err = capsys.readouterr()
    assert code == 1
    rows = json.loads(report.read_text())
    assert len(rows) == 2  # one entry per input: not the relative and the absolute name
    missing = next(r for r in rows if r["input"].endswith("nope.mp4"))
    assert missing == {"input": str(tmp_path / "nope.mp4"), "output": None,
                       "status": "rejected", "reason": "this file or folder does not exist",
                       "reason_code": "not_found", "reason_params": {}, "duration_s": None}
    assert "gone" not in out + err
    assert err == ""
    assert "Done: 1 of 2 files converted" in out
    assert "1 converted, 1 not converted, 0 skipped" in out


def test_name_as_long_as_the_file_system_allows_converts(media, tmp_path: Path) -> None:
    # 251 bytes + ".mp4" = 255, the limit; the MP3's name is as long, its part file longer
    name = "ä" * 100 + "x" * 51 + ".mp4"
    assert len(os.fsencode(name)) == 255
    clip = media.good(tmp_path / "in" / name, 1.0)
    report = tmp_path / "r.json"

    assert main(["convert", str(clip), "-o", str(tmp_path / "out"), "--report",
                 str(report)]) == 0

    [row] = json.loads(report.read_text())
    assert row["status"] == "converted", row
    assert Path(row["output"]).name == name[:-4] + ".mp3"
    assert [p.name for p in (tmp_path / "out").iterdir()] == [name[:-4] + ".mp3"]


def test_part_file_name_fits_wherever_the_mp3_name_fits() -> None:
    for mp3_name in ["short.mp3", "x" * 251 + ".mp3", "ö" * 125 + "x.mp3",
                     os.fsdecode(b"\xff" * 200 + b".mp3")]:
        output = Path("/music") / mp3_name
        parts = {naming.part_path(output) for _ in range(50)}
        assert len(parts) == 50  # unique per attempt
        for part in parts:
            raw = os.fsencode(part.name)
            assert len(raw) <= naming.NAME_MAX_BYTES, (mp3_name, len(raw))
            assert naming.is_part_file(part) and part.parent == output.parent
            assert part.name.startswith("." + mp3_name[:5])  # recognisable in the folder
            if "ö" in mp3_name:
                raw.decode("utf-8")  # never cut in the middle of a character


def test_name_that_is_not_utf8_is_reported_and_printed_under_a_strict_terminal(
    media, tmp_path: Path
) -> None:
    raw_name = b"caf\xe9 \xff mix.mp4"  # Latin-1 bytes: not valid UTF-8
    clip = media.good(Path(os.fsdecode(bytes(tmp_path) + b"/in/" + raw_name)), 1.0)
    report = tmp_path / "r.json"

    proc = cli("convert", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
               "--report", str(report), env={"PYTHONIOENCODING": "utf-8:strict"})

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "caf\\xe9 \\xff mix.mp4: done, caf\\xe9 \\xff mix.mp3" in proc.stdout
    [row] = json.loads(report.read_bytes().decode("utf-8"))  # valid UTF-8 JSON
    assert row["status"] == "converted"
    assert row["input"] == str(tmp_path / "in" / "caf\ufffd \ufffd mix.mp4")
    assert base64.b64decode(row["input_base64"]) == os.fsencode(clip)
    mp3 = base64.b64decode(row["output_base64"])
    assert mp3 == bytes(tmp_path) + b"/out/caf\xe9 \xff mix.mp3" and os.path.isfile(mp3)


# -- help ---------------------------------------------------------------------------------


def _parsers(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield parser.prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _parsers(child)


def test_every_option_says_what_it_is_for() -> None:
    missing = [f"{prog} {action.option_strings or action.dest}"
               for prog, parser in _parsers(build_parser())
               for action in parser._actions
               if not isinstance(action, argparse._SubParsersAction) and not action.help]
    assert missing == []


def test_resume_help_has_no_azure_pool_section(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["resume", "--help"])
    out = capsys.readouterr().out
    assert "--target" not in out and "Azure Batch pool" not in out
    assert "--report FILE.json" in out


def test_parallel_zero_shows_converts_usage(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["convert", "x.mp4", "-o", "o", "--parallel", "0"])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.startswith("usage: batchgui convert")
    assert "--parallel: use 1 or more" in err


def test_accounts_add_names_every_missing_option_with_the_storage_one(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["accounts", "add", "work", "--batch-url", "https://a.westeurope.batch.azure.com"])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "--batch-account" in err
    assert "--storage-account S or --storage-connection-string-stdin" in err.splitlines()[-1]


def test_readme_mentions_the_short_output_option() -> None:
    assert "-o DIR" in (ROOT / "README.md").read_text()
