"""The window's menus and their keyboard shortcuts (File, Run, View, Settings).

The actions live here; the window connects them to the same slots as its buttons
and enables them together with the buttons.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenuBar


class WindowActions(QObject):
    """Every menu action of the main window, built into its menu bar.

    Signals: none of its own; each QAction has `triggered` (and `toggled` for Show log).
    """

    def __init__(self, parent: QObject, bar: QMenuBar, with_accounts: bool) -> None:
        super().__init__(parent)
        file_menu = bar.addMenu("&File")
        self.add_files = QAction("&Add files…", parent)
        self.add_files.setShortcut(QKeySequence.StandardKey.Open)
        self.add_folder = QAction("Add &folder…", parent)
        self.add_folder.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.quit = QAction("&Quit", parent)
        self.quit.setShortcut(QKeySequence.StandardKey.Quit)
        file_menu.addAction(self.add_files)
        file_menu.addAction(self.add_folder)
        file_menu.addSeparator()
        file_menu.addAction(self.quit)

        run_menu = bar.addMenu("&Run")
        self.convert = QAction("&Convert", parent)
        self.convert.setShortcut(QKeySequence("Ctrl+Return"))
        self.pause = QAction("&Pause or continue", parent)
        self.pause.setShortcut(QKeySequence("Ctrl+P"))
        self.cancel = QAction("C&ancel", parent)
        self.cancel.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.retry = QAction("&Retry failed", parent)
        self.open_output = QAction("&Open output folder", parent)
        for action in (self.convert, self.pause, self.cancel, self.retry, self.open_output):
            run_menu.addAction(action)

        view_menu = bar.addMenu("&View")
        self.log = QAction("Show &log", parent)
        self.log.setCheckable(True)
        self.log.setShortcut(QKeySequence("Ctrl+L"))
        view_menu.addAction(self.log)

        self.accounts = QAction("Azure &accounts…", parent)
        if with_accounts:
            settings_menu = bar.addMenu("&Settings")
            settings_menu.addAction(self.accounts)
