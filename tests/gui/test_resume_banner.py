"""A run the last session left half done is offered for resuming when the window opens.

The interrupted run is written as a run record of the JSON era (before the journal),
so these tests also show that such records are brought into the journal.
"""

from __future__ import annotations

import json
from pathlib import Path

from mutagen.mp3 import MP3

from batchgui.core.journal import Journal
from tests.gui.conftest import dispose


def save_old_record(record: dict) -> None:
    """Where and how the app of the JSON era kept its run records."""
    folder = Journal().path.parent / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{record['run_id']}.json").write_text(json.dumps(record))


def interrupted_record(src: Path, out: Path) -> dict:
    """What a run record looks like after the app died during the second of two files."""
    part = out / ".two.mp3.dead.part"
    part.write_bytes(b"half an mp3")
    return {
        "run_id": "run-20260101-000000-abcdef", "finished": False, "stage": "monitoring",
        "error": None, "target": "local", "target_state": {}, "output_dir": str(out),
        "quality": "V2", "on_conflict": "rename", "mirror_folders": False,
        "files": [
            {"task_id": "f00000", "input": str(src / "one.mp4"), "root": None,
             "output": str(out / "one.mp3"), "part": None, "status": "done", "reason": None,
             "duration_s": 2.0},
            {"task_id": "f00001", "input": str(src / "two.mp4"), "root": None,
             "output": str(out / "two.mp3"), "part": str(part), "status": "converting",
             "reason": None, "duration_s": 2.0},
        ],
    }


def test_resume_banner_finishes_the_interrupted_run(  # type: ignore[no-untyped-def]
    qtbot, qloop, media, tmp_path, monkeypatch
) -> None:
    from batchgui.ui.main_window import MainWindow

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    src, out = tmp_path / "in", tmp_path / "out"
    media.good(src / "one.mp4", 2.0)
    media.good(src / "two.mp4", 2.0)
    out.mkdir()
    (out / "one.mp3").write_bytes(b"done before the crash")
    record = interrupted_record(src, out)
    (tmp_path / "data" / "batchgui").mkdir(parents=True)
    save_old_record(record)

    win = MainWindow()
    win.show()
    qtbot.waitExposed(win)
    try:
        qtbot.waitUntil(win.resume_banner.isVisible, timeout=10_000)
        assert "1 file not converted yet" in win.resume_label.text()
        win.resume_button.click()
        qtbot.waitUntil(lambda: win.controller.last_result is not None, timeout=60_000)
        assert not win.resume_banner.isVisible()
        assert (out / "one.mp3").read_bytes() == b"done before the crash"  # not redone
        assert abs(MP3(out / "two.mp3").info.length - 2.0) < 0.3
        assert sorted(p.name for p in out.iterdir()) == ["one.mp3", "two.mp3"]  # no part file
        assert win.controller.last_result.run_id == record["run_id"]  # the same run, finished
        assert Journal().run(record["run_id"]).state == "done"
    finally:
        dispose(qtbot, win)

    win = MainWindow()  # next start: nothing left to offer
    looked: list[bool] = []
    find = win.controller.find_unfinished
    win.controller.find_unfinished = lambda: (looked.append(True), find())[1]
    win.show()
    qtbot.waitExposed(win)
    try:
        qtbot.waitUntil(lambda: bool(looked), timeout=10_000)  # once the window is up
        qtbot.waitUntil(lambda: win.controller.pending_jobs == 0, timeout=10_000)
        assert not win.resume_banner.isVisible()
    finally:
        dispose(qtbot, win)


def test_dismiss_forgets_the_run(qtbot, qloop, media, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from batchgui.ui.main_window import MainWindow

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    src, out = tmp_path / "in", tmp_path / "out"
    out.mkdir()
    record = interrupted_record(src, out)
    save_old_record(record)
    win = MainWindow()
    win.show()
    qtbot.waitExposed(win)
    try:
        qtbot.waitUntil(win.resume_banner.isVisible, timeout=10_000)
        win.dismiss_resume_button.click()
        assert not win.resume_banner.isVisible()
        qtbot.waitUntil(lambda: Journal().run(record["run_id"]).state == "dismissed",
                        timeout=10_000)
        assert not (out / ".two.mp3.dead.part").exists()  # what it left is cleaned up
    finally:
        dispose(qtbot, win)


def test_a_resume_that_cannot_start_says_why_and_gives_the_button_back(  # type: ignore[no-untyped-def]
    qtbot, qloop, media, tmp_path, monkeypatch
) -> None:
    from batchgui.core.resume import dismiss
    from batchgui.ui.main_window import MainWindow

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    src, out = tmp_path / "in", tmp_path / "out"
    out.mkdir()
    record = interrupted_record(src, out)
    save_old_record(record)
    win = MainWindow()
    win.show()
    qtbot.waitExposed(win)
    try:
        qtbot.waitUntil(win.resume_banner.isVisible, timeout=10_000)
        dismiss(Journal(), record["run_id"])  # another window got there first
        win.resume_button.click()
        qtbot.waitUntil(win.resume_button.isEnabled, timeout=10_000)
        assert "could not be resumed" in win.log_view.toPlainText()
        assert "no longer waiting to be resumed" in win.statusBar().currentMessage()
        assert win.controller.last_result is None  # nothing was started
    finally:
        dispose(qtbot, win)
