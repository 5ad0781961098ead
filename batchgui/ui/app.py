"""`batchgui` with no arguments: the window, on a qasync event loop.

The loop is Qt's own, so widgets paint while the run's coroutine awaits; blocking
work goes to Qt worker threads through the RunController.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

APP_NAME = "BatchGUI"
ICON_PATH = Path(__file__).resolve().parents[2] / "resources" / "icons" / "batchgui.svg"


def app_icon() -> QIcon:
    """The app icon from resources/ (a source checkout); the theme's, else nothing."""
    if ICON_PATH.is_file():
        return QIcon(str(ICON_PATH))
    return QIcon.fromTheme("batchgui")


def main() -> int:
    import qasync

    from batchgui.ui.main_window import MainWindow

    QApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName("batchgui")
    app.setDesktopFileName("batchgui")
    app.setWindowIcon(app_icon())
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow()
    window.show()
    with loop:
        code = loop.run_forever()
    window.shutdown()
    return int(code or 0)
