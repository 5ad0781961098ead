"""Doing something just after a window's first frame is on screen.

Used to start the background work of a new window (accounts, the keyring, the record of
earlier runs) only once the window is up, so that work does not take the CPU from the
first frame, and by `BATCHGUI_CLOSE_WHEN_SHOWN` (the bundle's smoke test).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QWindow
from PySide6.QtWidgets import QWidget


class FirstFrame(QObject):
    """Calls `then` once: one turn of the event loop after the window's first Expose (the
    frame is painted by then).

    Signals: none.
    """

    def __init__(self, window: QWidget, then: Callable[[], None]) -> None:
        super().__init__(window)
        self._window = window
        self._then = then
        window.installEventFilter(self)  # its Show gives the QWindow to watch

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show and watched is self._window:
            self._window.removeEventFilter(self)
            handle = self._window.windowHandle()
            if handle is None or handle.isExposed():
                QTimer.singleShot(0, self._then)
            else:
                handle.installEventFilter(self)
        elif (event.type() == QEvent.Type.Expose and isinstance(watched, QWindow)
              and watched.isExposed()):
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self._then)
        return False
