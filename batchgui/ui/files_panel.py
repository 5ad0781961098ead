"""The "Files" box: the list of videos to convert and the buttons that fill and empty it.

The box only collects paths (drops, Add files…, Add folder…) and hands them on; the
window sends them to the controller, which walks folders and probes files off the
GUI thread.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from batchgui.i18n import _, trn
from batchgui.ui.file_list import FileListModel, FileListView


def video_filter() -> str:
    """The file dialog's filters: videos, or every file."""
    return _("Videos (*.mp4 *.m4v *.mov *.MP4 *.M4V *.MOV);;All files (*)")


class FilesPanel(QGroupBox):
    """The file list with Add files, Add folder, Remove and Clear, and a one-line summary.

    Signals:
        paths_added(list[Path]): files or folders the user dropped or chose, to be probed.
    """

    paths_added = Signal(list)

    def __init__(self, model: FileListModel) -> None:
        super().__init__(_("Files"))
        self._model = model
        self._busy = False
        self.file_list = FileListView()
        self.file_list.setObjectName("fileList")
        self.file_list.setModel(model)
        self.add_files_button = QPushButton(_("&Add files…"))
        self.add_files_button.setObjectName("addFilesButton")
        self.add_files_button.setToolTip(_("Choose video files to convert (Ctrl+O)"))
        self.add_folder_button = QPushButton(_("Add &folder…"))
        self.add_folder_button.setObjectName("addFolderButton")
        self.add_folder_button.setToolTip(
            _("Choose a folder: every MP4, M4V and MOV in it and its subfolders is added")
        )
        self.remove_button = QPushButton(_("&Remove"))
        self.remove_button.setObjectName("removeButton")
        self.remove_button.setToolTip(_("Remove the selected files from the list (Delete)"))
        self.clear_button = QPushButton(_("C&lear"))
        self.clear_button.setObjectName("clearButton")
        self.clear_button.setToolTip(_("Empty the list"))
        self.files_summary = QLabel()
        self.files_summary.setObjectName("filesSummary")
        buttons = QHBoxLayout()
        for b in (self.add_files_button, self.add_folder_button, self.remove_button,
                  self.clear_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.files_summary)
        layout = QVBoxLayout(self)
        layout.addWidget(self.file_list, 1)
        layout.addLayout(buttons)

        self.file_list.paths_dropped.connect(self.paths_added)
        self.file_list.remove_requested.connect(self._on_remove_button_clicked)
        self.add_files_button.clicked.connect(self.choose_files)
        self.add_folder_button.clicked.connect(self.choose_folder)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        self.clear_button.clicked.connect(self._on_clear_button_clicked)

    def tab_order(self) -> list[QWidget]:
        return [self.file_list, self.add_files_button, self.add_folder_button,
                self.remove_button, self.clear_button]

    def update_state(self, busy: bool, probing: bool) -> None:
        """Buttons and summary for the list as it is now (during a run the list is fixed)."""
        self._busy = busy
        model = self._model
        rows = model.rowCount()
        selection = self.file_list.selectionModel()
        self.remove_button.setEnabled(
            not busy and selection is not None and selection.hasSelection()
        )
        self.clear_button.setEnabled(not busy and rows > 0)
        rejected = sum(1 for i in model.inputs() if not i.ok)
        summary = (trn("{n} file, {rejected} can't be converted",
                       "{n} files, {rejected} can't be converted", rows, rejected=rejected)
                   if rejected else trn("{n} file", "{n} files", rows))
        if probing:
            summary += " · " + _("checking…")
        self.files_summary.setText(summary if rows or probing else "")

    @Slot()
    def choose_files(self) -> None:
        from PySide6.QtWidgets import QFileDialog  # here: its enums are not needed to start

        files, _filter = QFileDialog.getOpenFileNames(self.window(), _("Add videos"), "",
                                                      video_filter())
        if files:
            self.paths_added.emit([Path(f) for f in files])

    @Slot()
    def choose_folder(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self.window(), _("Add a folder of videos"))
        if folder:
            self.paths_added.emit([Path(folder)])

    @Slot()
    def _on_remove_button_clicked(self) -> None:
        if self._busy:
            return
        rows = [i.row() for i in self.file_list.selectionModel().selectedRows()]
        self._model.remove_rows(rows)

    @Slot()
    def _on_clear_button_clicked(self) -> None:
        if not self._busy:
            self._model.clear()
