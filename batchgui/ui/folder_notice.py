"""Opening a folder in the file manager, and what to say when the desktop can't.

Some desktops (a bare window manager, a server with a virtual screen) have no program
that opens folders; Qt then just returns False. The user still wants the MP3s, so the
window says so and shows the folder's path, selectable and with a Copy button.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from batchgui.i18n import _

if TYPE_CHECKING:
    from PySide6.QtCore import QUrl


class FolderNotice(QDialog):
    """"No program to open folders was found", with the path to copy.

    Signals: none of its own (the usual `finished(int)` of a dialog).
    """

    def __init__(self, parent: QWidget | None, folder: Path) -> None:
        super().__init__(parent)
        self.setObjectName("folderNotice")
        self.setWindowTitle(_("Open folder"))
        self.message_label = QLabel(_(
            "This computer has no program that opens folders, so BatchGUI can't show this "
            "one for you. Here is where it is; copy the path into your file manager."))
        self.message_label.setWordWrap(True)
        self.path_edit = QLineEdit(str(folder))
        self.path_edit.setObjectName("folderPathEdit")
        self.path_edit.setAccessibleName(_("Folder path"))
        self.path_edit.setReadOnly(True)
        self.path_edit.setCursorPosition(0)
        self.path_edit.setMinimumWidth(360)
        self.copy_button = QPushButton(_("&Copy"))
        self.copy_button.setObjectName("copyPathButton")
        self.copy_button.setToolTip(_("Copy the path to the clipboard"))
        from PySide6.QtWidgets import QDialogButtonBox  # here: not needed to start

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message_label)
        layout.addLayout(row)
        layout.addWidget(buttons)
        self.copy_button.clicked.connect(self._on_copy_button_clicked)
        buttons.rejected.connect(self.reject)

    @Slot()
    def _on_copy_button_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.path_edit.text())
        self.copy_button.setText(_("Copied"))


def open_folder(parent: QWidget, folder: Path,
                opener: Callable[[QUrl], bool]) -> FolderNotice | None:
    """Ask the desktop to show `folder`; when it can't, say so (returns the notice shown)."""
    from PySide6.QtCore import QUrl  # here: its enums are not needed to start

    if opener(QUrl.fromLocalFile(str(folder))):
        return None
    notice = FolderNotice(parent, folder)
    notice.setModal(False)
    notice.open()
    return notice
