"""What closing the window mid-run means, asked in plain words (a window-modal question
that does not block: the answer comes back as a call)."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt

from batchgui.i18n import _

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMessageBox, QWidget


class CloseChoice(Enum):
    STOP = "stop"  # cancel the run (it cleans up), then close
    LATER = "later"  # close now; the next start offers to resume the run
    STAY = "stay"  # keep the window and the run


def ask_before_closing(parent: QWidget, on_azure: bool,
                       answered: Callable[[CloseChoice], None]) -> QMessageBox:
    """Ask what to do with the run that is going; `answered(choice)` gets the answer."""
    from PySide6.QtWidgets import QMessageBox  # here: its enums are not needed to start

    box = QMessageBox(parent)
    box.setObjectName("closeWhileRunningBox")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle(_("A conversion is running"))
    box.setText(_("A conversion is running. What should happen to it?"))
    if on_azure:
        box.setInformativeText(_(
            "Finish later: BatchGUI closes now and the Azure pool goes on converting; the "
            "next time you open BatchGUI it collects the MP3s. Stop: the files being "
            "converted are dropped and Azure is cleaned up; MP3s already made stay."))
    else:
        box.setInformativeText(_(
            "Finish later: BatchGUI closes now and offers to finish the rest next time. "
            "Stop: the files being converted are dropped; MP3s already made stay."))
    later = box.addButton(_("Finish &later"), QMessageBox.ButtonRole.AcceptRole)
    later.setObjectName("finishLaterButton")
    stop = box.addButton(_("&Stop and close"), QMessageBox.ButtonRole.DestructiveRole)
    stop.setObjectName("stopAndCloseButton")
    stay = box.addButton(_("&Keep converting"), QMessageBox.ButtonRole.RejectRole)
    stay.setObjectName("keepConvertingButton")
    box.setDefaultButton(stay)
    box.setEscapeButton(stay)

    def on_finished(_code: int) -> None:
        clicked = box.clickedButton()
        answered(CloseChoice.LATER if clicked is later
                 else CloseChoice.STOP if clicked is stop else CloseChoice.STAY)

    box.finished.connect(on_finished)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.open()
    return box
