"""The window's "Copy tags and cover picture" and "Even out loudness" choices."""

from __future__ import annotations

from pathlib import Path

from mutagen.id3 import ID3, ID3NoHeaderError
from PySide6.QtWidgets import QCheckBox, QTableView

from tests.gui.conftest import dispose
from tests.gui.test_main_window import (
    child,
    convert_and_wait,
    drop_and_wait,
    set_output,
    statuses,
)
from tests.media import MediaCache, measure_loudness

NOTE = "quiet recording: raised by at most 20 dB"


def test_defaults_copy_tags_and_leave_loudness(qtbot, window, media: MediaCache,  # type: ignore[no-untyped-def]
                                               tmp_path: Path) -> None:
    tags = child(window, QCheckBox, "keepTagsCheck")
    loud = child(window, QCheckBox, "loudnessCheck")
    assert tags.isChecked() and not loud.isChecked()
    assert tags.accessibleName() and loud.accessibleName()
    video = media.tagged(tmp_path / "in" / "talk.mp4", {"title": "A talk", "artist": "Me"})
    drop_and_wait(qtbot, window, [video], rows=1)
    set_output(window, tmp_path / "out")
    convert_and_wait(qtbot, window)
    tag = ID3(tmp_path / "out" / "talk.mp3")
    assert tag.version == (2, 3, 0) and str(tag["TIT2"]) == "A talk"
    assert len(tag.getall("APIC")) == 1


def test_even_loudness_without_tags_shows_the_note(qtbot, window, media: MediaCache,  # type: ignore[no-untyped-def]
                                                    tmp_path: Path) -> None:
    child(window, QCheckBox, "keepTagsCheck").setChecked(False)
    child(window, QCheckBox, "loudnessCheck").setChecked(True)
    quiet = media.sound(tmp_path / "in" / "room.mp4", "near_silent")
    talk = media.tagged(tmp_path / "in" / "talk.mp4", {"title": "A talk"})
    drop_and_wait(qtbot, window, [quiet, talk], rows=2)
    set_output(window, tmp_path / "out")
    convert_and_wait(qtbot, window)

    assert statuses(window)["room.mp4"] == f"done: {NOTE}"
    assert statuses(window)["talk.mp4"] == "done"
    table = child(window, QTableView, "taskTable")
    results = [table.model().index(r, c).data() for r in range(table.model().rowCount())
               for c in range(table.model().columnCount())]
    assert f"saved as room.mp3 ({NOTE})" in results
    for name in ("room.mp3", "talk.mp3"):
        try:
            ID3(tmp_path / "out" / name)
        except ID3NoHeaderError:
            continue
        raise AssertionError(f"{name} has tags")
    integrated, peak = measure_loudness(tmp_path / "out" / "talk.mp3")
    assert abs(integrated - -16.0) <= 1.0 and peak <= -1.0
    window.grab().save(str(tmp_path / "window.png"))


def test_the_choices_are_remembered(qtbot, qloop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from batchgui.ui import settings as ui_settings
    from batchgui.ui.main_window import MainWindow

    first = MainWindow()
    child(first, QCheckBox, "keepTagsCheck").setChecked(False)
    child(first, QCheckBox, "loudnessCheck").setChecked(True)
    dispose(qtbot, first)  # closing saves the settings on a worker thread
    saved = ui_settings.load()
    assert saved.keep_tags is False and saved.even_loudness is True

    second = MainWindow()
    assert not child(second, QCheckBox, "keepTagsCheck").isChecked()
    assert child(second, QCheckBox, "loudnessCheck").isChecked()
    spec = second.build_spec([])
    assert spec.keep_tags is False and spec.loudness_lufs == -16.0
    child(second, QCheckBox, "keepTagsCheck").setChecked(True)
    child(second, QCheckBox, "loudnessCheck").setChecked(False)
    dispose(qtbot, second)
