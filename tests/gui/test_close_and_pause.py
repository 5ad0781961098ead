"""Pause and Continue in the window, and closing the window while a run goes on."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from tests.gui.test_main_window import (
    RUN_TIMEOUT,
    child,
    drop_and_wait,
    set_output,
    statuses,
)


def _start(qtbot, window, media, tmp_path, seconds: float = 30.0, count: int = 4):  # type: ignore[no-untyped-def]
    src = tmp_path / "videos"
    clips = [media.good(src / f"long{i}.mp4", seconds=seconds) for i in range(count)]
    out = tmp_path / "out"
    drop_and_wait(qtbot, window, clips, rows=count)
    set_output(window, out)
    qtbot.mouseClick(child(window, QPushButton, "convertButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(s.startswith("converting") for s in statuses(window).values()),
                    timeout=RUN_TIMEOUT)
    return out


def _question() -> QMessageBox | None:
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox) and widget.objectName() == "closeWhileRunningBox" \
                and widget.isVisible():
            return widget
    return None


def _answer(qtbot, button_name: str) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: _question() is not None, timeout=10_000)
    box = _question()
    assert box is not None
    assert "A conversion is running" in box.text()
    qtbot.mouseClick(box.findChild(QPushButton, button_name), Qt.MouseButton.LeftButton)


def test_pause_then_continue(qtbot, window, media, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _start(qtbot, window, media, tmp_path, seconds=20.0, count=6)
    pause = child(window, QPushButton, "pauseButton")
    assert pause.isEnabled() and "Pause" in pause.text()
    qtbot.mouseClick(pause, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.controller.last_snapshot.paused, timeout=10_000)
    assert "Continue" in pause.text().replace("&", "")
    assert "no new file starts" in window.run_bar.stage_label.text()
    qtbot.mouseClick(pause, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=RUN_TIMEOUT)
    assert window.controller.last_result.all_converted


def test_closing_mid_run_asks_and_keep_converting_keeps_it(  # type: ignore[no-untyped-def]
    qtbot, window, media, tmp_path
) -> None:
    _start(qtbot, window, media, tmp_path)
    window.close()
    _answer(qtbot, "keepConvertingButton")
    qtbot.waitUntil(lambda: _question() is None, timeout=10_000)
    assert window.isVisible() and window.controller.busy and not window.controller.cancelling


def test_stop_and_close_ends_within_ten_seconds(qtbot, window, media, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = _start(qtbot, window, media, tmp_path)
    window.close()
    _answer(qtbot, "stopAndCloseButton")
    asked = time.monotonic()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=30_000)
    took = time.monotonic() - asked
    print(f"stop and close took {took:.2f} s")
    assert took < 10.0
    assert not window.controller.busy
    assert not list(out.rglob("*.part"))


def test_finish_later_closes_without_stopping_the_run(  # type: ignore[no-untyped-def]
    qtbot, window, media, tmp_path
) -> None:
    _start(qtbot, window, media, tmp_path)
    window.close()
    _answer(qtbot, "finishLaterButton")
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert window.leave_run_for_later
    assert window.controller.busy and not window.controller.cancelling  # left as it was
