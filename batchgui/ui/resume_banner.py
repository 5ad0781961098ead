"""The banner at the top of the window that offers to finish a run the last session left
half done (the app was closed or the computer crashed mid-run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from batchgui.i18n import _, trn

if TYPE_CHECKING:
    from batchgui.core.resume import ResumableRun


class ResumeBanner(QFrame):
    """"The last run was interrupted … Resume it?" with Resume and Dismiss; hidden otherwise.

    Signals:
        resume_requested(ResumableRun): Resume was clicked; the run to finish.
        dismissed(ResumableRun): Dismiss was clicked; the run to forget (MP3s stay).
    """

    resume_requested = Signal(object)
    dismissed = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("resumeBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(QPalette.ColorRole.AlternateBase)
        self.resume_label = QLabel()
        self.resume_label.setObjectName("resumeLabel")
        self.resume_label.setWordWrap(True)
        self.resume_button = QPushButton(_("Res&ume"))
        self.resume_button.setObjectName("resumeButton")
        self.resume_button.setToolTip(_("Convert the files the interrupted run did not finish"))
        self.dismiss_resume_button = QPushButton(_("&Dismiss"))
        self.dismiss_resume_button.setObjectName("dismissResumeButton")
        self.dismiss_resume_button.setToolTip(_("Forget that run; nothing is deleted"))
        layout = QHBoxLayout(self)
        layout.addWidget(self.resume_label, 1)
        layout.addWidget(self.resume_button)
        layout.addWidget(self.dismiss_resume_button)
        self.setVisible(False)
        self.record: ResumableRun | None = None  # the run on offer
        self.resume_button.clicked.connect(self._on_resume_button_clicked)
        self.dismiss_resume_button.clicked.connect(self._on_dismiss_resume_button_clicked)

    def offer(self, run: ResumableRun) -> None:
        """Show the banner for this unfinished run."""
        self.record = run
        self.resume_label.setText(trn(
            "The last run was interrupted before it finished: {n} file not converted yet, "
            "MP3s to {folder}. Resume it?", "The last run was interrupted before it finished: "
            "{n} files not converted yet, MP3s to {folder}. Resume it?", run.files_left,
            folder=str(run.output_dir)))
        self.setVisible(True)

    def close_offer(self) -> None:
        """The run is being resumed (or was dismissed): nothing is on offer any more."""
        self.record = None
        self.resume_button.setEnabled(True)
        self.setVisible(False)

    @Slot()
    def _on_resume_button_clicked(self) -> None:
        if self.record is None:
            return
        self.resume_button.setEnabled(False)
        self.resume_requested.emit(self.record)

    @Slot()
    def _on_dismiss_resume_button_clicked(self) -> None:
        record = self.record
        self.close_offer()
        if record is not None:
            self.dismissed.emit(record)
