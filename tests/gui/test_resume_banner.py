"""A run the last session left half done is offered for resuming when the window opens."""

from __future__ import annotations

from pathlib import Path

from mutagen.mp3 import MP3

from batchgui.core.store import RunStore
from tests.gui.conftest import dispose


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
    RunStore().save(record["run_id"], record)

    win = MainWindow()
    win.show()
    qtbot.waitExposed(win)
    try:
        qtbot.waitUntil(win.resume_banner.isVisible, timeout=10_000)
        assert "1 file(s) not converted yet" in win.resume_label.text()
        win.resume_button.click()
        qtbot.waitUntil(lambda: win.controller.last_result is not None, timeout=60_000)
        assert not win.resume_banner.isVisible()
        assert (out / "one.mp3").read_bytes() == b"done before the crash"  # not redone
        assert abs(MP3(out / "two.mp3").info.length - 2.0) < 0.3
        assert sorted(p.name for p in out.iterdir()) == ["one.mp3", "two.mp3"]  # no part file
        old = RunStore().load(record["run_id"])
        assert old["finished"] and old["resumed_by"] == win.controller.last_result.run_id
    finally:
        dispose(qtbot, win)

    win = MainWindow()  # next start: nothing left to offer
    win.show()
    qtbot.waitExposed(win)
    try:
        assert win.controller.pending_jobs  # the look-up for unfinished runs is under way
        qtbot.waitUntil(lambda: not win.controller.pending_jobs, timeout=10_000)
        assert not win.resume_banner.isVisible()
    finally:
        dispose(qtbot, win)


def test_dismiss_forgets_the_run(qtbot, qloop, media, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from batchgui.ui.main_window import MainWindow

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    src, out = tmp_path / "in", tmp_path / "out"
    out.mkdir()
    record = interrupted_record(src, out)
    RunStore().save(record["run_id"], record)
    win = MainWindow()
    win.show()
    qtbot.waitExposed(win)
    try:
        qtbot.waitUntil(win.resume_banner.isVisible, timeout=10_000)
        win.dismiss_resume_button.click()
        assert not win.resume_banner.isVisible()
        qtbot.waitUntil(lambda: RunStore().load(record["run_id"])["finished"], timeout=10_000)
    finally:
        dispose(qtbot, win)
