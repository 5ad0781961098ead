"""GUI test setup: a qasync event loop on the test's QApplication, and a ready window.

pytest-qt's waits spin Qt's event loop; with a qasync QEventLoop installed as the
running asyncio loop, the window's coroutines (the run, probing) advance during
those waits exactly as they do in the app.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Folders the window asked the desktop to open (nothing really opens)."""
    calls: list[str] = []

    def fake_open(url: QUrl) -> bool:
        calls.append(url.toLocalFile())
        return True

    monkeypatch.setattr("batchgui.ui.main_window.open_url", fake_open)
    return calls


@pytest.fixture
def window(qtbot, qloop, opened, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A MainWindow on its defaults (settings in the test's XDG config), shown."""
    from batchgui.ui.main_window import MainWindow

    win = MainWindow()
    win.show()
    qtbot.waitExposed(win)
    yield win
    dispose(qtbot, win)


def dispose(qtbot, win) -> None:  # type: ignore[no-untyped-def]
    """Close a window the way quitting does, then delete it here, on the GUI thread.

    Not left to Python's garbage collector: that may run on a worker thread, and a
    widget destroyed there takes its timers with it from the wrong thread.
    """
    if win.controller.busy:
        win.controller.cancel()
        qtbot.waitUntil(lambda: not win.controller.busy, timeout=30_000)
    win.close()
    qtbot.waitUntil(lambda: not win.controller.pending_jobs, timeout=10_000)
    win.shutdown()
    shiboken6.delete(win)
    gc.collect()


def drop_paths(target: QWidget, paths: list[Path]) -> QDropEvent:
    """Drag these local paths over `target` and drop them, as a file manager would."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(target.rect().center())
    actions = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction | Qt.DropAction.LinkAction
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(pos, actions, mime, buttons, keys)
    QApplication.sendEvent(target, enter)
    move = QDragMoveEvent(pos, actions, mime, buttons, keys)
    QApplication.sendEvent(target, move)
    drop = QDropEvent(pos, actions, mime, buttons, keys)
    QApplication.sendEvent(target, drop)
    return drop
