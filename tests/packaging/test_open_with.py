"""`batchgui FILE_OR_FOLDER...` (a file manager's "Open with BatchGUI") opens the window
with them in its list; `batchgui convert ...` and the other commands stay the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchgui import __main__ as entry
from batchgui.cli import build_parser
from tests.gui.conftest import dispose
from tests.media import MediaCache


@pytest.mark.parametrize(
    ("args", "window_paths"),
    [
        ([], []),
        (["/home/ana/clip.mp4"], [Path("/home/ana/clip.mp4")]),
        (["/home/ana/Videos", "b.mov"], [Path("/home/ana/Videos"), Path("b.mov")]),
        (["./convert"], [Path("convert")]),  # a file named like a command
        (["--", "convert", "-x.mp4"], [Path("convert"), Path("-x.mp4")]),
        (["convert", "a.mp4", "--output", "out"], None),
        (["resume"], None),
        (["accounts", "list"], None),
        (["runs"], None),
        (["cleanup"], None),
        (["--help"], None),
    ],
)
def test_arguments_are_the_cli_or_paths_for_the_window(
    args: list[str], window_paths: list[Path] | None
) -> None:
    assert entry.paths_for_window(args) == window_paths


def test_the_command_list_matches_the_cli() -> None:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    assert set(sub.choices) == entry.CLI_COMMANDS  # type: ignore[arg-type]


def test_main_hands_paths_to_the_window_and_commands_to_the_cli(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, object]] = []
    monkeypatch.setattr("batchgui.ui.app.main", lambda paths: calls.append(("window", paths)) or 0)
    monkeypatch.setattr("batchgui.cli.main", lambda args: calls.append(("cli", args)) or 0)
    entry.main(["/v/a.mp4", "/v/folder"])
    entry.main(["convert", "/v/a.mp4", "-o", "/out"])
    entry.main([])
    assert calls == [("window", [Path("/v/a.mp4"), Path("/v/folder")]),
                     ("cli", ["convert", "/v/a.mp4", "-o", "/out"]),
                     ("window", [])]


def test_window_opens_with_the_given_file_and_folder_in_its_list(
    qtbot, qloop, media: MediaCache, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    from batchgui.ui.app import open_window

    clip = media.good(tmp_path / "single clip.mp4")
    folder = tmp_path / "holiday"
    media.good(folder / "day 1.mp4")
    media.good(folder / "day 2.mov")
    window = open_window([clip, folder])
    try:
        qtbot.waitExposed(window)
        qtbot.waitUntil(lambda: window.file_model.rowCount() == 3, timeout=20_000)
        names = sorted(i.path.name for i in window.file_model.inputs())
        assert names == ["day 1.mp4", "day 2.mov", "single clip.mp4"]
        assert all(i.ok for i in window.file_model.inputs())
    finally:
        dispose(qtbot, window)
