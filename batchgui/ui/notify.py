"""Telling the user a run ended while they were looking at another window."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication, QWidget

if TYPE_CHECKING:
    from PySide6.QtWidgets import QSystemTrayIcon


class Notifier:
    """A desktop notification where the platform has one, else a taskbar alert.

    The tray icon that carries the notification appears on first use and goes with hide().
    """

    def __init__(self, window: QWidget) -> None:
        self._window = window
        self._tray: QSystemTrayIcon | None = None

    def notify(self, title: str, text: str) -> None:
        window = self._window
        if window.isActiveWindow():
            return
        QApplication.alert(window)
        from PySide6.QtWidgets import QSystemTrayIcon  # here: not needed to start

        if QSystemTrayIcon.isSystemTrayAvailable() and QSystemTrayIcon.supportsMessages():
            if self._tray is None:
                self._tray = QSystemTrayIcon(window.windowIcon(), window)
            self._tray.show()
            self._tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 8000)

    def hide(self) -> None:
        if self._tray is not None:
            self._tray.hide()
