"""The "Output" box: where the MP3s go, their quality, name clashes, and where to convert.

It holds the choices a run is built from and makes the RunSpec of them (run_spec); the
window keeps them between sessions (UiSettings).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from batchgui.core.models import ConflictPolicy, InputFile, Quality, RunSpec
from batchgui.i18n import N_, _, trn
from batchgui.ui import settings as ui_settings

#: quality choices: (label in the combo, marked for translation; Quality spelling)
QUALITIES: list[tuple[str, str]] = [
    (N_("V0 – best variable bitrate (~245 kbit/s)"), "V0"),
    (N_("V1 – variable (~225 kbit/s)"), "V1"),
    (N_("V2 – variable (~190 kbit/s), recommended"), "V2"),
    (N_("V3 – variable (~175 kbit/s)"), "V3"),
    (N_("V4 – variable (~165 kbit/s)"), "V4"),
    (N_("V5 – variable (~130 kbit/s)"), "V5"),
    (N_("V6 – variable (~115 kbit/s)"), "V6"),
    (N_("V7 – variable (~100 kbit/s)"), "V7"),
    (N_("V8 – variable (~85 kbit/s)"), "V8"),
    (N_("V9 – smallest variable (~65 kbit/s)"), "V9"),
    (N_("128 kbit/s constant"), "128k"),
    (N_("160 kbit/s constant"), "160k"),
    (N_("192 kbit/s constant"), "192k"),
    (N_("256 kbit/s constant"), "256k"),
    (N_("320 kbit/s constant"), "320k"),
]

CONFLICTS: list[tuple[str, ConflictPolicy]] = [
    (N_("Keep both (add a number)"), ConflictPolicy.RENAME),
    (N_("Replace the old MP3"), ConflictPolicy.OVERWRITE),
    (N_("Skip the file"), ConflictPolicy.SKIP),
]
#: the same choices in a sentence ("if one exists: keep both")
_CONFLICT_WORDS = {ConflictPolicy.RENAME: N_("keep both"),
                   ConflictPolicy.OVERWRITE: N_("replace it"), ConflictPolicy.SKIP: N_("skip")}


def conflict_words(policy: ConflictPolicy) -> str:
    return _(_CONFLICT_WORDS[policy])

SETTINGS_DIALOG_MODULE = "batchgui.ui.settings_dialog"


def settings_dialog_available() -> bool:
    """The Azure accounts dialog ships with this build (a build may leave Azure out)."""
    try:
        return importlib.util.find_spec(SETTINGS_DIALOG_MODULE) is not None
    except (ImportError, ValueError):
        return False


def default_lufs() -> float:
    from batchgui.core.loudness import DEFAULT_LUFS  # imported when asked: start-up stays quick

    return DEFAULT_LUFS


def buddy(text: str, widget: QWidget) -> QLabel:
    label = QLabel(text)
    label.setBuddy(widget)
    return label


class OutputPanel(QGroupBox):
    """Output folder, quality, "if the MP3 exists", keep folders, and the target selector.

    Signals:
        changed(): the user changed any choice here (the window saves them soon after).
        accounts_requested(): "Azure accounts…" was clicked.
    """

    changed = Signal()
    accounts_requested = Signal()

    def __init__(self) -> None:
        super().__init__(_("Output"))
        self.output_folder_edit = QLineEdit()
        self.output_folder_edit.setObjectName("outputFolderEdit")
        self.output_folder_edit.setAccessibleName(_("Output folder"))
        self.output_folder_edit.setPlaceholderText(_("Folder for the MP3s"))
        self.output_folder_edit.setClearButtonEnabled(True)
        self.browse_button = QPushButton(_("&Browse…"))
        self.browse_button.setObjectName("browseButton")
        self.browse_button.setAccessibleName(_("Browse for the output folder"))
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.output_folder_edit, 1)
        folder_row.addWidget(self.browse_button)
        self.quality_combo = QComboBox()
        self.quality_combo.setObjectName("qualityCombo")
        self.quality_combo.setAccessibleName(_("MP3 quality"))
        for label, value in QUALITIES:
            self.quality_combo.addItem(_(label), value)
        self.conflict_combo = QComboBox()
        self.conflict_combo.setObjectName("conflictCombo")
        self.conflict_combo.setAccessibleName(_("When an MP3 with the same name exists"))
        for label, policy in CONFLICTS:
            self.conflict_combo.addItem(_(label), policy.value)
        self.mirror_check = QCheckBox(_("&Keep folder structure of dropped folders"))
        self.mirror_check.setObjectName("mirrorFoldersCheck")
        self.keep_tags_check = QCheckBox(_("Copy ta&gs and cover picture"))
        self.keep_tags_check.setObjectName("keepTagsCheck")
        self.keep_tags_check.setToolTip(_("Title, artist, album and cover picture from the "
                                          "video; a video without a title gets its file name"))
        self.loudness_check = QCheckBox(_("E&ven out loudness"))
        self.loudness_check.setObjectName("loudnessCheck")
        self.loudness_check.setToolTip(_("Every MP3 as loud as the next (-16 LUFS, EBU R128); "
                                         "each file is read twice, so it takes longer"))
        self.target_combo = QComboBox()
        self.target_combo.setObjectName("targetCombo")
        self.target_combo.setAccessibleName(_("Where to convert"))
        # the label the registry gives, without importing the targets before the window shows
        slots = max(1, os.cpu_count() or 1)
        self.target_combo.addItem(trn("This computer ({n} slot)", "This computer ({n} slots)",
                                      slots), "local")
        self.accounts_button = QPushButton(_("Azure &accounts…"))
        self.accounts_button.setObjectName("accountsButton")
        self.accounts_button.setToolTip(_("Set up Azure Batch accounts to convert in the cloud"))
        self.accounts_button.setVisible(settings_dialog_available())
        target_row = QHBoxLayout()
        target_row.addWidget(self.target_combo, 1)
        target_row.addWidget(self.accounts_button)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow(buddy(_("&Output folder:"), self.output_folder_edit), folder_row)
        form.addRow(buddy(_("&Quality:"), self.quality_combo), self.quality_combo)
        form.addRow(buddy(_("If the MP3 &exists:"), self.conflict_combo), self.conflict_combo)
        form.addRow("", self.mirror_check)
        form.addRow("", self.keep_tags_check)
        form.addRow("", self.loudness_check)
        form.addRow(buddy(_("Convert &on:"), self.target_combo), target_row)

        self.browse_button.clicked.connect(self._on_browse_button_clicked)
        self.output_folder_edit.textChanged.connect(self._on_output_folder_text_changed)
        self.output_folder_edit.editingFinished.connect(self._show_folder_start)
        self.output_folder_edit.textChanged.connect(self.changed)
        self.quality_combo.currentIndexChanged.connect(self.changed)
        self.conflict_combo.currentIndexChanged.connect(self.changed)
        self.mirror_check.toggled.connect(self.changed)
        self.keep_tags_check.toggled.connect(self.changed)
        self.loudness_check.toggled.connect(self.changed)
        self.target_combo.currentIndexChanged.connect(self.changed)
        self.accounts_button.clicked.connect(self.accounts_requested)

    def tab_order(self) -> list[QWidget]:
        return [self.output_folder_edit, self.browse_button, self.quality_combo,
                self.conflict_combo, self.mirror_check, self.keep_tags_check,
                self.loudness_check, self.target_combo, self.accounts_button]

    # -- the choices ----------------------------------------------------------------------------

    def folder(self) -> str:
        return self.output_folder_edit.text().strip()

    def folder_problem(self) -> str | None:
        """Why a run cannot start with this output folder, or None when it can."""
        folder = self.folder()
        if not folder:
            return _("Choose an output folder first.")
        if not Path(folder).expanduser().is_absolute():
            return _("The output folder must be a full path, e.g. /home/you/Music.")
        return None

    def quality(self) -> str:
        return str(self.quality_combo.currentData())

    def on_conflict(self) -> str:
        return str(self.conflict_combo.currentData())

    def mirror_folders(self) -> bool:
        return self.mirror_check.isChecked()

    def keep_tags(self) -> bool:
        return self.keep_tags_check.isChecked()

    def even_loudness(self) -> bool:
        return self.loudness_check.isChecked()

    def target_name(self) -> str:
        return str(self.target_combo.currentData() or "local")

    def run_spec(self, inputs: list[InputFile]) -> RunSpec:
        """The run of these files with the choices made here."""
        return RunSpec(
            inputs=tuple(inputs),
            output_dir=Path(self.folder()).expanduser(),
            quality=Quality.parse(self.quality()),
            on_conflict=ConflictPolicy(self.on_conflict()),
            mirror_folders=self.mirror_folders(),
            target_name=self.target_name(),
            keep_tags=self.keep_tags(),
            loudness_lufs=default_lufs() if self.even_loudness() else None,
        )

    def apply_settings(self, s: ui_settings.UiSettings) -> None:
        self.output_folder_edit.setText(s.output_dir)
        i = self.quality_combo.findData(Quality.parse(s.quality).label)
        self.quality_combo.setCurrentIndex(i if i >= 0 else self.quality_combo.findData("V2"))
        i = self.conflict_combo.findData(s.on_conflict)
        self.conflict_combo.setCurrentIndex(max(0, i))
        self.mirror_check.setChecked(s.mirror_folders)
        self.keep_tags_check.setChecked(s.keep_tags)
        self.loudness_check.setChecked(s.even_loudness)

    def set_targets(self, targets: list[tuple[str, str]], saved_target: str) -> None:
        """Fill the selector with (name, label) pairs, keeping the user's pick if it still exists.

        `saved_target` wins while the selector still shows only its first entry: at start-up
        that is the placeholder "This computer", not a choice the user made.
        """
        wanted = str(self.target_combo.currentData() or saved_target)
        if not self.target_combo.count() or self.target_combo.currentIndex() == 0:
            wanted = saved_target
        self.target_combo.blockSignals(True)
        self.target_combo.clear()
        for name, label in targets:
            self.target_combo.addItem(label, name)
        i = self.target_combo.findData(wanted)
        self.target_combo.setCurrentIndex(i if i >= 0 else 0)
        self.target_combo.blockSignals(False)

    def set_busy(self, busy: bool) -> None:
        """During a run the choices it was started with stay as they are."""
        for w in (self.output_folder_edit, self.browse_button, self.quality_combo,
                  self.conflict_combo, self.mirror_check, self.keep_tags_check,
                  self.loudness_check, self.target_combo):
            w.setEnabled(not busy)

    @Slot(str)
    def _on_output_folder_text_changed(self, text: str) -> None:
        self.output_folder_edit.setToolTip(text)
        if not self.output_folder_edit.hasFocus():  # set by the app: show where it starts
            self._show_folder_start()

    @Slot()
    def _show_folder_start(self) -> None:
        """A long path shows its start (the drive, the home folder), not a cut-off end; the
        tooltip has all of it."""
        self.output_folder_edit.setCursorPosition(0)

    @Slot()
    def _on_browse_button_clicked(self) -> None:
        from PySide6.QtWidgets import QFileDialog  # here: its enums are not needed to start

        folder = QFileDialog.getExistingDirectory(
            self.window(), _("Where should the MP3s go?"), self.output_folder_edit.text()
        )
        if folder:
            self.output_folder_edit.setText(folder)
