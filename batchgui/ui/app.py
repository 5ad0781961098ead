"""`batchgui` with no arguments: the window, on a qasync event loop.

The loop is Qt's own, so widgets paint while the run's coroutine awaits; blocking
work goes to Qt worker threads through the RunController.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QIcon, QWindow
from PySide6.QtWidgets import QApplication, QWidget

from batchgui.resources import APP_ID, icon_path

if TYPE_CHECKING:
    from batchgui.ui.main_window import MainWindow

APP_NAME = "BatchGUI"
#: set to 1, the app prints WINDOW_SHOWN once the window is on screen and closes it
#: the normal way: how the bundle's tests and the start-up benchmark see the window
CLOSE_WHEN_SHOWN_ENV = "BATCHGUI_CLOSE_WHEN_SHOWN"
WINDOW_SHOWN = "BatchGUI: window shown"


def app_icon() -> QIcon:
    """The app icon shipped in the package; the icon theme's if that file is missing."""
    path = icon_path()
    if path.is_file():
        return QIcon(str(path))
    return QIcon.fromTheme(APP_ID)


class _CloseWhenShown(QObject):
    """Reports the window's first expose on stdout, then closes the window.

    Signals: none.
    """

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._done = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (not self._done and event.type() == QEvent.Type.Expose
                and isinstance(watched, QWindow) and watched.isExposed()):
            self._done = True
            print(WINDOW_SHOWN, flush=True)
            QTimer.singleShot(0, self._window.close)
        return False


def make_app() -> QApplication:
    """The QApplication, named and iconed for the desktop (the existing one if any)."""
    QApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName("batchgui")
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())
    return app


def open_window(paths: list[Path]) -> MainWindow:
    """The main window, shown, with `paths` (files and folders) going into its list."""
    from batchgui.ui.main_window import MainWindow

    window = MainWindow()
    if paths:
        window.add_paths(paths)
    if os.environ.get(CLOSE_WHEN_SHOWN_ENV) == "1":
        window.winId()  # creates the QWindow to watch
        window.windowHandle().installEventFilter(_CloseWhenShown(window))
    window.show()
    return window


def main(paths: list[Path] | None = None) -> int:
    """Open the window, with `paths` already in its list, and run until it closes."""
    import qasync

    app = make_app()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = open_window(paths or [])
    with loop:
        code = loop.run_forever()
    window.shutdown()
    if window.leave_run_for_later:
        # the run stays in the journal as it is (the next start offers to resume it);
        # its threads may be mid-call, so end now, as a crash would, minus the surprise
        os._exit(int(code or 0))
    return int(code or 0)
