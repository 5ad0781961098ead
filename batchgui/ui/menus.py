"""The window's menus and their keyboard shortcuts (File, Run, View, Settings).

The actions live here; the window connects them to the same slots as its buttons
and enables them together with the buttons.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar

from batchgui import i18n
from batchgui.i18n import _


class WindowActions(QObject):
    """Every menu action of the main window, built into its menu bar.

    Signals:
        language_chosen(str): Settings > Language: "system", "en" or "sv" was picked.
    Each QAction has `triggered` (and `toggled` for Show log).
    """

    language_chosen = Signal(str)

    def __init__(self, parent: QObject, bar: QMenuBar, with_accounts: bool,
                 language: str = i18n.SYSTEM) -> None:
        super().__init__(parent)
        file_menu = bar.addMenu(_("&File"))
        self.add_files = QAction(_("&Add files…"), parent)
        self.add_files.setShortcut(QKeySequence.StandardKey.Open)
        self.add_folder = QAction(_("Add &folder…"), parent)
        self.add_folder.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.quit = QAction(_("&Quit"), parent)
        self.quit.setShortcut(QKeySequence.StandardKey.Quit)
        file_menu.addAction(self.add_files)
        file_menu.addAction(self.add_folder)
        file_menu.addSeparator()
        file_menu.addAction(self.quit)

        run_menu = bar.addMenu(_("&Run"))
        self.convert = QAction(_("&Convert"), parent)
        self.convert.setShortcut(QKeySequence("Ctrl+Return"))
        self.pause = QAction(_("&Pause or continue"), parent)
        self.pause.setShortcut(QKeySequence("Ctrl+P"))
        self.cancel = QAction(_("C&ancel"), parent)
        self.cancel.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.retry = QAction(_("&Retry failed"), parent)
        self.open_output = QAction(_("&Open output folder"), parent)
        for action in (self.convert, self.pause, self.cancel, self.retry, self.open_output):
            run_menu.addAction(action)

        view_menu = bar.addMenu(_("&View"))
        self.log = QAction(_("Show &log"), parent)
        self.log.setCheckable(True)
        self.log.setShortcut(QKeySequence("Ctrl+L"))
        view_menu.addAction(self.log)

        settings_menu = bar.addMenu(_("&Settings"))
        self.accounts = QAction(_("Azure &accounts…"), parent)
        if with_accounts:
            settings_menu.addAction(self.accounts)
        self.languages = self._language_menu(settings_menu, parent, language)

    def _language_menu(self, settings_menu: QMenu, parent: QObject,
                       language: str) -> dict[str, QAction]:
        """Settings > Language: the system's, or one the app speaks (named in its own words).
        The choice is kept and applies at the next start."""
        menu = settings_menu.addMenu(_("&Language"))
        menu.setToolTipsVisible(True)
        group = QActionGroup(parent)
        actions: dict[str, QAction] = {}
        choices = [(i18n.SYSTEM, _("&System language"))] + list(i18n.LANGUAGES.items())
        for code, words in choices:
            action = QAction(words, parent)
            action.setCheckable(True)
            action.setChecked(code == language)
            action.setToolTip(_("The language changes the next time BatchGUI starts."))
            action.setObjectName(f"language_{code}")
            group.addAction(action)
            menu.addAction(action)
            action.triggered.connect(lambda _checked=False, c=code: self.language_chosen.emit(c))
            actions[code] = action
        return actions
