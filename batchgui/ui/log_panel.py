"""The log: a read-only pane of time-stamped lines in plain words, and the button that
shows or hides it.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPlainTextEdit, QToolButton

from batchgui.i18n import _

#: lines kept; older ones scroll away so a run of thousands of files stays light
MAX_LINES = 5000


class LogView(QPlainTextEdit):
    """What happened during the session, one line per event, newest last.

    Signals: none of its own.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("logView")
        self.setAccessibleName(_("Log"))
        self.setReadOnly(True)
        self.setMaximumBlockCount(MAX_LINES)
        self.setVisible(False)
        self.setMinimumHeight(80)

    def add_line(self, line: str) -> None:
        self.appendPlainText(f"{time.strftime('%H:%M:%S')}  {line}")


class LogToggle(QToolButton):
    """"▸ Log" / "▾ Log": a checkable button whose arrow says whether the log is open.

    Signals: the usual `toggled(bool)` of a checkable button.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("logToggle")
        self.setText(_("&Log"))
        self.setCheckable(True)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setArrowType(Qt.ArrowType.RightArrow)
        self.setAccessibleName(_("Show the log"))
        self.setAutoRaise(True)

    def show_state(self, on: bool) -> None:
        """Arrow and accessible name for an open (on) or closed log."""
        self.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.setAccessibleName(_("Hide the log") if on else _("Show the log"))
