"""The main window: drop files, choose where the MP3s go, convert, watch nodes and tasks.

Widgets and models only. Everything that blocks (probing, targets, the run,
saving settings) goes through the RunController; snapshots come back as signals
and are applied to the models whole, a few times a second.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QModelIndex, QSize, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFontDatabase,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QSystemTrayIcon,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from batchgui.core.models import (
    ConflictPolicy,
    FileStatus,
    InputFile,
    Quality,
    RunResult,
    RunSnapshot,
    RunSpec,
    Stage,
)
from batchgui.ui import settings as ui_settings
from batchgui.ui.controller import RunController
from batchgui.ui.file_list import FileListModel, FileListView, clock
from batchgui.ui.node_grid import NodeGrid, NodeLegend
from batchgui.ui.task_table import (
    TaskFilterProxy,
    TaskRole,
    TaskTableModel,
    TaskTableView,
    is_failed,
    result_text,
)

if TYPE_CHECKING:
    from batchgui.core.resume import ResumableRun

#: quality choices: (label in the combo, Quality spelling)
QUALITIES: list[tuple[str, str]] = [
    ("V0 – best variable bitrate (~245 kbit/s)", "V0"),
    ("V1 – variable (~225 kbit/s)", "V1"),
    ("V2 – variable (~190 kbit/s), recommended", "V2"),
    ("V3 – variable (~175 kbit/s)", "V3"),
    ("V4 – variable (~165 kbit/s)", "V4"),
    ("V5 – variable (~130 kbit/s)", "V5"),
    ("V6 – variable (~115 kbit/s)", "V6"),
    ("V7 – variable (~100 kbit/s)", "V7"),
    ("V8 – variable (~85 kbit/s)", "V8"),
    ("V9 – smallest variable (~65 kbit/s)", "V9"),
    ("128 kbit/s constant", "128k"),
    ("160 kbit/s constant", "160k"),
    ("192 kbit/s constant", "192k"),
    ("256 kbit/s constant", "256k"),
    ("320 kbit/s constant", "320k"),
]

CONFLICTS: list[tuple[str, ConflictPolicy]] = [
    ("Keep both (add a number)", ConflictPolicy.RENAME),
    ("Replace the old MP3", ConflictPolicy.OVERWRITE),
    ("Skip the file", ConflictPolicy.SKIP),
]

STAGE_WORDS: dict[Stage, str] = {
    Stage.PROBING: "Checking files",
    Stage.UPLOADING: "Uploading",
    Stage.POOL: "Preparing nodes",
    Stage.JOB: "Creating the job",
    Stage.TASKS: "Adding tasks",
    Stage.MONITORING: "Converting",
    Stage.DOWNLOADING: "Downloading",
    Stage.CLEANUP: "Cleaning up",
    Stage.DONE: "Done",
    Stage.CANCELLED: "Cancelled",
    Stage.FAILED: "Stopped",
}

SETTINGS_DIALOG_MODULE = "batchgui.ui.settings_dialog"

#: how the window opens folders; tests replace it to keep file managers closed
open_url = QDesktopServices.openUrl


def _b64(data: QByteArray) -> str:
    return base64.b64encode(bytes(data.data())).decode("ascii")


def _unb64(text: str) -> QByteArray:
    try:
        return QByteArray(base64.b64decode(text.encode("ascii")))
    except ValueError:
        return QByteArray()


def settings_dialog_available() -> bool:
    try:
        return importlib.util.find_spec(SETTINGS_DIALOG_MODULE) is not None
    except (ImportError, ValueError):
        return False


class MainWindow(QMainWindow):
    """The app's window. `MainWindow()` opens on the saved (or default) settings.

    Signals: none of its own; the controller's signals drive it.
    """

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        controller: RunController | None = None,
        settings: ui_settings.UiSettings | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("BatchGUI – video to MP3")
        self.setAcceptDrops(True)
        self._settings = settings if settings is not None else ui_settings.load()
        self.controller = controller or RunController(self)
        self._close_when_idle = False
        self._closed = False
        self._tray: QSystemTrayIcon | None = None
        self._run_spec: RunSpec | None = None
        self._run_started_at = 0.0
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(500)
        self._save_timer.timeout.connect(self._on_save_timer_timeout)

        self.file_model = FileListModel(self)
        self.task_model = TaskTableModel(self)
        self.task_proxy = TaskFilterProxy(self)
        self.task_proxy.setSourceModel(self.task_model)

        self._build_widgets()
        self._build_menus()
        self._connect()
        self._apply_settings(self._settings)
        self._update_buttons()
        self.controller.list_targets()
        self.controller.find_unfinished()

    # -- building -----------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        # Files
        self.file_list = FileListView()
        self.file_list.setObjectName("fileList")
        self.file_list.setModel(self.file_model)
        self.add_files_button = QPushButton("&Add files…")
        self.add_files_button.setObjectName("addFilesButton")
        self.add_files_button.setToolTip("Choose video files to convert (Ctrl+O)")
        self.add_folder_button = QPushButton("Add &folder…")
        self.add_folder_button.setObjectName("addFolderButton")
        self.add_folder_button.setToolTip(
            "Choose a folder: every MP4, M4V and MOV in it and its subfolders is added"
        )
        self.remove_button = QPushButton("&Remove")
        self.remove_button.setObjectName("removeButton")
        self.remove_button.setToolTip("Remove the selected files from the list (Delete)")
        self.clear_button = QPushButton("C&lear")
        self.clear_button.setObjectName("clearButton")
        self.clear_button.setToolTip("Empty the list")
        self.files_summary = QLabel()
        self.files_summary.setObjectName("filesSummary")
        file_buttons = QHBoxLayout()
        for b in (self.add_files_button, self.add_folder_button, self.remove_button,
                  self.clear_button):
            file_buttons.addWidget(b)
        file_buttons.addStretch(1)
        file_buttons.addWidget(self.files_summary)
        files_box = QGroupBox("Files")
        files_layout = QVBoxLayout(files_box)
        files_layout.addWidget(self.file_list, 1)
        files_layout.addLayout(file_buttons)

        # Output and target
        self.output_folder_edit = QLineEdit()
        self.output_folder_edit.setObjectName("outputFolderEdit")
        self.output_folder_edit.setAccessibleName("Output folder")
        self.output_folder_edit.setPlaceholderText("Folder for the MP3s")
        self.output_folder_edit.setClearButtonEnabled(True)
        self.browse_button = QPushButton("&Browse…")
        self.browse_button.setObjectName("browseButton")
        self.browse_button.setAccessibleName("Browse for the output folder")
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.output_folder_edit, 1)
        folder_row.addWidget(self.browse_button)
        self.quality_combo = QComboBox()
        self.quality_combo.setObjectName("qualityCombo")
        self.quality_combo.setAccessibleName("MP3 quality")
        for label, value in QUALITIES:
            self.quality_combo.addItem(label, value)
        self.conflict_combo = QComboBox()
        self.conflict_combo.setObjectName("conflictCombo")
        self.conflict_combo.setAccessibleName("When an MP3 with the same name exists")
        for label, policy in CONFLICTS:
            self.conflict_combo.addItem(label, policy.value)
        self.mirror_check = QCheckBox("&Keep folder structure of dropped folders")
        self.mirror_check.setObjectName("mirrorFoldersCheck")
        self.target_combo = QComboBox()
        self.target_combo.setObjectName("targetCombo")
        self.target_combo.setAccessibleName("Where to convert")
        # the label the registry gives, without importing the targets before the window shows
        slots = max(1, os.cpu_count() or 1)
        self.target_combo.addItem(f"This computer ({slots} slots)", "local")
        self.accounts_button = QPushButton("Azure &accounts…")
        self.accounts_button.setObjectName("accountsButton")
        self.accounts_button.setToolTip("Set up Azure Batch accounts to convert in the cloud")
        self.accounts_button.setVisible(settings_dialog_available())
        target_row = QHBoxLayout()
        target_row.addWidget(self.target_combo, 1)
        target_row.addWidget(self.accounts_button)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow(self._buddy("&Output folder:", self.output_folder_edit), folder_row)
        form.addRow(self._buddy("&Quality:", self.quality_combo), self.quality_combo)
        form.addRow(self._buddy("If the MP3 &exists:", self.conflict_combo), self.conflict_combo)
        form.addRow("", self.mirror_check)
        form.addRow(self._buddy("Convert &on:", self.target_combo), target_row)
        output_box = QGroupBox("Output")
        output_box.setLayout(form)

        top = QWidget()
        top_layout = QHBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(files_box, 3)
        top_layout.addWidget(output_box, 2)

        # Run bar
        self.convert_button = QPushButton("&Convert")
        self.convert_button.setObjectName("convertButton")
        self.convert_button.setDefault(True)
        self.convert_button.setToolTip("Convert the files in the list to MP3 (Ctrl+Return)")
        self.convert_button.setMinimumWidth(110)
        self.cancel_button = QPushButton("Ca&ncel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setToolTip("Stop; unfinished MP3s are removed (Esc)")
        self.overall_progress = QProgressBar()
        self.overall_progress.setObjectName("overallProgress")
        self.overall_progress.setAccessibleName("Overall progress")
        self.overall_progress.setRange(0, 1000)
        self.overall_progress.setValue(0)
        self.overall_progress.setTextVisible(True)
        self.overall_progress.setFormat("Ready")
        self.overall_progress.setMinimumWidth(260)
        self.stage_label = QLabel("Drop videos above, then press Convert.")
        self.stage_label.setObjectName("stageLabel")
        self.stage_label.setAccessibleName("Run stage")
        self.stage_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stage_label.setMinimumWidth(120)
        self.stage_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        run_bar = QHBoxLayout()
        run_bar.addWidget(self.convert_button)
        run_bar.addWidget(self.cancel_button)
        run_bar.addWidget(self.overall_progress, 2)
        run_bar.addWidget(self.stage_label, 3)

        # Nodes
        self.node_grid = NodeGrid()
        self.node_grid.setObjectName("nodeGrid")
        self.node_legend = NodeLegend()
        self.node_legend.setObjectName("nodeLegend")
        nodes_box = QGroupBox("Nodes")
        nodes_layout = QVBoxLayout(nodes_box)
        nodes_layout.addWidget(self.node_legend)
        nodes_layout.addWidget(self.node_grid, 1)

        # Tasks
        self.task_table = TaskTableView()
        self.task_table.setObjectName("taskTable")
        self.task_table.setModel(self.task_proxy)
        self.task_table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.task_table.setSortingEnabled(True)
        self.failed_only_check = QCheckBox("Show &failed only")
        self.failed_only_check.setObjectName("failedOnlyCheck")
        self.task_summary = QLabel()
        self.task_summary.setObjectName("taskSummary")
        self.task_detail = QPlainTextEdit()
        self.task_detail.setObjectName("taskDetail")
        self.task_detail.setAccessibleName("Task details")
        self.task_detail.setReadOnly(True)
        self.task_detail.setPlaceholderText(
            "Select a task to see its details; for a failed one, what ffmpeg said last."
        )
        self.task_detail.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.task_detail.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        task_top = QHBoxLayout()
        task_top.addWidget(self.failed_only_check)
        task_top.addStretch(1)
        task_top.addWidget(self.task_summary)
        tasks_box = QGroupBox("Tasks")
        tasks_layout = QVBoxLayout(tasks_box)
        tasks_layout.addLayout(task_top)
        self.task_splitter = QSplitter(Qt.Orientation.Vertical)
        self.task_splitter.addWidget(self.task_table)
        self.task_splitter.addWidget(self.task_detail)
        self.task_splitter.setStretchFactor(0, 3)
        self.task_splitter.setStretchFactor(1, 1)
        self.task_splitter.setSizes([400, 150])
        self.task_splitter.setChildrenCollapsible(False)
        tasks_layout.addWidget(self.task_splitter, 1)

        self.middle_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.middle_splitter.addWidget(nodes_box)
        self.middle_splitter.addWidget(tasks_box)
        self.middle_splitter.setStretchFactor(0, 1)
        self.middle_splitter.setStretchFactor(1, 2)
        self.middle_splitter.setSizes([400, 780])
        self.middle_splitter.setChildrenCollapsible(False)

        # After a run
        self.open_output_button = QPushButton("O&pen output folder")
        self.open_output_button.setObjectName("openOutputButton")
        self.retry_failed_button = QPushButton("&Retry failed")
        self.retry_failed_button.setObjectName("retryFailedButton")
        self.retry_failed_button.setToolTip("Convert again only the files that failed")
        self.log_toggle = QToolButton()
        self.log_toggle.setObjectName("logToggle")
        self.log_toggle.setText("&Log")
        self.log_toggle.setCheckable(True)
        self.log_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.log_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.log_toggle.setAccessibleName("Show the log")
        self.log_toggle.setAutoRaise(True)
        bottom_bar = QHBoxLayout()
        bottom_bar.addWidget(self.log_toggle)
        bottom_bar.addStretch(1)
        bottom_bar.addWidget(self.retry_failed_button)
        bottom_bar.addWidget(self.open_output_button)
        self.log_view = QPlainTextEdit()
        self.log_view.setObjectName("logView")
        self.log_view.setAccessibleName("Log")
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(5000)
        self.log_view.setVisible(False)
        self.log_view.setMinimumHeight(80)

        self.main_splitter = QSplitter(Qt.Orientation.Vertical)
        self.main_splitter.setObjectName("mainSplitter")
        self.main_splitter.addWidget(top)
        run_widget = QWidget()
        run_layout = QVBoxLayout(run_widget)
        run_layout.setContentsMargins(0, 0, 0, 0)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        run_layout.addLayout(run_bar)
        run_layout.addWidget(self.middle_splitter, 1)
        run_layout.addLayout(bottom_bar)
        self.main_splitter.addWidget(run_widget)
        self.main_splitter.addWidget(self.log_view)
        self.main_splitter.setStretchFactor(0, 2)
        self.main_splitter.setStretchFactor(1, 4)
        self.main_splitter.setStretchFactor(2, 1)
        self.main_splitter.setSizes([300, 480, 120])
        self.main_splitter.setChildrenCollapsible(False)

        # Shown at start when the last session left a run half done
        self.resume_banner = QFrame()
        self.resume_banner.setObjectName("resumeBanner")
        self.resume_banner.setFrameShape(QFrame.Shape.StyledPanel)
        self.resume_banner.setAutoFillBackground(True)
        self.resume_banner.setBackgroundRole(self.resume_banner.backgroundRole().AlternateBase)
        self.resume_label = QLabel()
        self.resume_label.setObjectName("resumeLabel")
        self.resume_label.setWordWrap(True)
        self.resume_button = QPushButton("Res&ume")
        self.resume_button.setObjectName("resumeButton")
        self.resume_button.setToolTip("Convert the files the interrupted run did not finish")
        self.dismiss_resume_button = QPushButton("&Dismiss")
        self.dismiss_resume_button.setObjectName("dismissResumeButton")
        self.dismiss_resume_button.setToolTip("Forget that run; nothing is deleted")
        banner_layout = QHBoxLayout(self.resume_banner)
        banner_layout.addWidget(self.resume_label, 1)
        banner_layout.addWidget(self.resume_button)
        banner_layout.addWidget(self.dismiss_resume_button)
        self.resume_banner.setVisible(False)
        self._unfinished_record: ResumableRun | None = None

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.resume_banner)
        layout.addWidget(self.main_splitter)
        self.setCentralWidget(central)

        for w in (self.file_list, self.add_files_button, self.add_folder_button,
                  self.remove_button, self.clear_button, self.output_folder_edit,
                  self.browse_button, self.quality_combo, self.conflict_combo, self.mirror_check,
                  self.target_combo, self.accounts_button, self.convert_button,
                  self.cancel_button, self.node_grid, self.failed_only_check, self.task_table,
                  self.task_detail, self.log_toggle, self.retry_failed_button,
                  self.open_output_button, self.log_view):
            if not w.accessibleName():
                w.setAccessibleName(w.text().replace("&", "").rstrip("…")
                                    if hasattr(w, "text") else w.objectName())
        order: list[QWidget] = [self.file_list, self.add_files_button, self.add_folder_button,
                 self.remove_button, self.clear_button, self.output_folder_edit,
                 self.browse_button, self.quality_combo, self.conflict_combo, self.mirror_check,
                 self.target_combo, self.accounts_button, self.convert_button,
                 self.cancel_button, self.node_grid, self.failed_only_check, self.task_table,
                 self.task_detail, self.log_toggle, self.retry_failed_button,
                 self.open_output_button, self.log_view]
        for first, second in zip(order, order[1:], strict=False):
            QWidget.setTabOrder(first, second)
        self.statusBar().setSizeGripEnabled(True)
        self.resize(1180, 800)
        self.setMinimumSize(QSize(760, 560))

    def _buddy(self, text: str, widget: QWidget) -> QLabel:
        label = QLabel(text)
        label.setBuddy(widget)
        return label

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.add_files_action = QAction("&Add files…", self)
        self.add_files_action.setShortcut(QKeySequence.StandardKey.Open)
        self.add_folder_action = QAction("Add &folder…", self)
        self.add_folder_action.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        file_menu.addAction(self.add_files_action)
        file_menu.addAction(self.add_folder_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        run_menu = bar.addMenu("&Run")
        self.convert_action = QAction("&Convert", self)
        self.convert_action.setShortcut(QKeySequence("Ctrl+Return"))
        self.cancel_action = QAction("C&ancel", self)
        self.cancel_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.retry_action = QAction("&Retry failed", self)
        self.open_output_action = QAction("&Open output folder", self)
        for a in (self.convert_action, self.cancel_action, self.retry_action,
                  self.open_output_action):
            run_menu.addAction(a)
        view_menu = bar.addMenu("&View")
        self.log_action = QAction("Show &log", self)
        self.log_action.setCheckable(True)
        self.log_action.setShortcut(QKeySequence("Ctrl+L"))
        view_menu.addAction(self.log_action)
        self.accounts_action = QAction("Azure &accounts…", self)
        if settings_dialog_available():
            settings_menu = bar.addMenu("&Settings")
            settings_menu.addAction(self.accounts_action)

    def _connect(self) -> None:
        c = self.controller
        c.inputs_probed.connect(self._on_controller_inputs_probed)
        c.probing_changed.connect(self._on_controller_probing_changed)
        c.targets_listed.connect(self._on_controller_targets_listed)
        c.run_started.connect(self._on_controller_run_started)
        c.snapshot_changed.connect(self._on_controller_snapshot_changed)
        c.log_added.connect(self._on_controller_log_added)
        c.run_finished.connect(self._on_controller_run_finished)
        c.unfinished_run_found.connect(self._on_controller_unfinished_run_found)
        c.resume_prepared.connect(self._on_controller_resume_prepared)
        c.resume_failed.connect(self._on_controller_resume_failed)
        self.resume_button.clicked.connect(self._on_resume_button_clicked)
        self.dismiss_resume_button.clicked.connect(self._on_dismiss_resume_button_clicked)

        self.file_list.paths_dropped.connect(self._on_file_list_paths_dropped)
        self.file_list.remove_requested.connect(self._on_remove_button_clicked)
        self.file_list.doubleClicked.connect(self._on_file_list_double_clicked)
        self.file_model.rowsInserted.connect(self._on_file_model_changed)
        self.file_model.rowsRemoved.connect(self._on_file_model_changed)
        self.file_model.modelReset.connect(self._on_file_model_changed)
        self.file_list.selectionModel().selectionChanged.connect(self._on_file_model_changed)
        self.add_files_button.clicked.connect(self._on_add_files_button_clicked)
        self.add_folder_button.clicked.connect(self._on_add_folder_button_clicked)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        self.clear_button.clicked.connect(self._on_clear_button_clicked)
        self.browse_button.clicked.connect(self._on_browse_button_clicked)
        self.output_folder_edit.textChanged.connect(self._on_output_folder_edit_changed)
        self.quality_combo.currentIndexChanged.connect(self._on_option_changed)
        self.conflict_combo.currentIndexChanged.connect(self._on_option_changed)
        self.mirror_check.toggled.connect(self._on_option_changed)
        self.target_combo.currentIndexChanged.connect(self._on_option_changed)
        self.accounts_button.clicked.connect(self._on_accounts_button_clicked)
        self.accounts_action.triggered.connect(self._on_accounts_button_clicked)
        self.convert_button.clicked.connect(self._on_convert_button_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self.retry_failed_button.clicked.connect(self._on_retry_failed_button_clicked)
        self.open_output_button.clicked.connect(self._on_open_output_button_clicked)
        self.failed_only_check.toggled.connect(self._on_failed_only_check_toggled)
        self.task_table.selectionModel().currentRowChanged.connect(
            self._on_task_table_current_changed
        )
        self.task_table.doubleClicked.connect(self._on_task_table_double_clicked)
        self.log_toggle.toggled.connect(self._on_log_toggle_toggled)
        self.log_action.toggled.connect(self.log_toggle.setChecked)
        self.node_grid.counts_changed.connect(self._on_node_grid_counts_changed)

        self.add_files_action.triggered.connect(self._on_add_files_button_clicked)
        self.add_folder_action.triggered.connect(self._on_add_folder_button_clicked)
        self.quit_action.triggered.connect(self.close)
        self.convert_action.triggered.connect(self._on_convert_button_clicked)
        self.cancel_action.triggered.connect(self._on_cancel_button_clicked)
        self.retry_action.triggered.connect(self._on_retry_failed_button_clicked)
        self.open_output_action.triggered.connect(self._on_open_output_button_clicked)
        self.main_splitter.splitterMoved.connect(self._on_option_changed)

    # -- settings -----------------------------------------------------------------------------

    def _apply_settings(self, s: ui_settings.UiSettings) -> None:
        self.output_folder_edit.setText(s.output_dir)
        i = self.quality_combo.findData(Quality.parse(s.quality).label)
        self.quality_combo.setCurrentIndex(i if i >= 0 else self.quality_combo.findData("V2"))
        i = self.conflict_combo.findData(s.on_conflict)
        self.conflict_combo.setCurrentIndex(max(0, i))
        self.mirror_check.setChecked(s.mirror_folders)
        self.failed_only_check.setChecked(s.failed_only)
        self.log_toggle.setChecked(s.log_open)
        if s.geometry:
            self.restoreGeometry(_unb64(s.geometry))
        if s.splitter:
            self.main_splitter.restoreState(_unb64(s.splitter))
        self._on_log_toggle_toggled(s.log_open)

    def current_settings(self) -> ui_settings.UiSettings:
        return self._settings.replace(
            output_dir=self.output_folder_edit.text().strip(),
            quality=str(self.quality_combo.currentData()),
            on_conflict=str(self.conflict_combo.currentData()),
            mirror_folders=self.mirror_check.isChecked(),
            target=str(self.target_combo.currentData() or "local"),
            log_open=self.log_toggle.isChecked(),
            failed_only=self.failed_only_check.isChecked(),
            geometry=_b64(self.saveGeometry()),
            splitter=_b64(self.main_splitter.saveState()),
        )

    def _schedule_save(self) -> None:
        self._save_timer.start()

    @Slot()
    def _on_save_timer_timeout(self) -> None:
        self._settings = self.current_settings()
        self.controller.save_settings(self._settings)

    # -- files --------------------------------------------------------------------------------

    def add_paths(self, paths: list[Path]) -> None:
        """Files and folders from a drop or a dialog; probed off the GUI thread."""
        self.controller.add_paths(paths)

    @Slot(list)
    def _on_file_list_paths_dropped(self, paths: list[Path]) -> None:
        self.add_paths(paths)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self.file_list.dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self.file_list.dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self.file_list.dropEvent(event)

    @Slot(list)
    def _on_controller_inputs_probed(self, inputs: list[InputFile]) -> None:
        added = self.file_model.add_inputs(inputs)
        rejected = [i for i in inputs if not i.ok]
        if added:
            self._log(f"Added {added} file(s)" + (f", {len(rejected)} can't be converted"
                                                  if rejected else ""))
        for item in rejected:
            self._log(f"{item.name}: can't be converted, {item.problem}")
        self._update_buttons()

    @Slot(int)
    def _on_controller_probing_changed(self, pending: int) -> None:
        if pending:
            self.statusBar().showMessage("Checking the files…")
        else:
            self.statusBar().clearMessage()
        self._update_buttons()

    @Slot()
    def _on_file_model_changed(self) -> None:
        self._update_buttons()

    @Slot()
    def _on_add_files_button_clicked(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Add videos", "", "Videos (*.mp4 *.m4v *.mov *.MP4 *.M4V *.MOV);;All files (*)"
        )
        if files:
            self.add_paths([Path(f) for f in files])

    @Slot()
    def _on_add_folder_button_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of videos")
        if folder:
            self.add_paths([Path(folder)])

    @Slot()
    def _on_remove_button_clicked(self) -> None:
        if self.controller.busy:
            return
        rows = [i.row() for i in self.file_list.selectionModel().selectedRows()]
        self.file_model.remove_rows(rows)

    @Slot()
    def _on_clear_button_clicked(self) -> None:
        if not self.controller.busy:
            self.file_model.clear()

    @Slot(QModelIndex)
    def _on_file_list_double_clicked(self, index: QModelIndex) -> None:
        task = self.file_model.task_at(index.row())
        if task is not None and task.status is FileStatus.DONE and task.output_path:
            open_url(QUrl.fromLocalFile(str(task.output_path.parent)))

    # -- options ------------------------------------------------------------------------------

    @Slot()
    def _on_browse_button_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Where should the MP3s go?", self.output_folder_edit.text()
        )
        if folder:
            self.output_folder_edit.setText(folder)

    @Slot(str)
    def _on_output_folder_edit_changed(self, text: str) -> None:
        self._update_buttons()
        self._schedule_save()

    @Slot()
    def _on_option_changed(self) -> None:
        self._schedule_save()

    @Slot(list)
    def _on_controller_targets_listed(self, targets: list[tuple[str, str]]) -> None:
        wanted = str(self.target_combo.currentData() or self._settings.target)
        if not self.target_combo.count() or self.target_combo.currentIndex() == 0:
            wanted = self._settings.target
        self.target_combo.blockSignals(True)
        self.target_combo.clear()
        for name, label in targets:
            self.target_combo.addItem(label, name)
        i = self.target_combo.findData(wanted)
        self.target_combo.setCurrentIndex(i if i >= 0 else 0)
        self.target_combo.blockSignals(False)
        self._update_buttons()

    @Slot()
    def _on_accounts_button_clicked(self) -> None:
        if not settings_dialog_available():
            return
        module = importlib.import_module(SETTINGS_DIALOG_MODULE)
        dialog = module.SettingsDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(self._on_accounts_dialog_finished)
        dialog.open()

    @Slot(int)
    def _on_accounts_dialog_finished(self, result: int) -> None:
        self.controller.list_targets()

    # -- running ------------------------------------------------------------------------------

    def build_spec(self, inputs: list[InputFile]) -> RunSpec:
        return RunSpec(
            inputs=tuple(inputs),
            output_dir=Path(self.output_folder_edit.text().strip()).expanduser(),
            quality=Quality.parse(str(self.quality_combo.currentData())),
            on_conflict=ConflictPolicy(str(self.conflict_combo.currentData())),
            mirror_folders=self.mirror_check.isChecked(),
            target_name=str(self.target_combo.currentData() or "local"),
        )

    def _start(self, inputs: list[InputFile]) -> None:
        if self.controller.busy or not inputs:
            return
        folder = self.output_folder_edit.text().strip()
        if not folder:
            self.statusBar().showMessage("Choose an output folder first.", 5000)
            self.output_folder_edit.setFocus()
            return
        if not Path(folder).expanduser().is_absolute():
            self.statusBar().showMessage(
                "The output folder must be a full path, e.g. /home/you/Music.", 5000
            )
            self.output_folder_edit.setFocus()
            return
        self._on_save_timer_timeout()
        self.controller.start(self.build_spec(inputs))

    @Slot(object)
    def _on_controller_unfinished_run_found(self, run: ResumableRun) -> None:
        self._unfinished_record = run
        self.resume_label.setText(
            f"The last run was interrupted before it finished: {run.files_left} file(s) not "
            f"converted yet, MP3s to {run.output_dir}. Resume it?"
        )
        self.resume_banner.setVisible(True)

    @Slot(str)
    def _on_controller_resume_failed(self, message: str) -> None:
        self.resume_button.setEnabled(True)
        self._log(message)
        self.statusBar().showMessage(message, 10000)

    @Slot()
    def _on_resume_button_clicked(self) -> None:
        if self._unfinished_record is None or self.controller.busy:
            return
        self.resume_button.setEnabled(False)
        self.controller.prepare_resume(self._unfinished_record)

    @Slot(object, object)
    def _on_controller_resume_prepared(self, spec: RunSpec, record: ResumableRun) -> None:
        self.resume_banner.setVisible(False)
        self.resume_button.setEnabled(True)
        self._unfinished_record = None
        if self.controller.busy:
            return
        self.file_model.add_inputs(list(spec.inputs))
        self.output_folder_edit.setText(str(spec.output_dir))
        self._log(f"Resuming the interrupted run {record.run_id}")
        self.controller.start(spec, resumes=record)

    @Slot()
    def _on_dismiss_resume_button_clicked(self) -> None:
        if self._unfinished_record is not None:
            self.controller.dismiss_unfinished(self._unfinished_record)
        self._unfinished_record = None
        self.resume_banner.setVisible(False)

    @Slot()
    def _on_convert_button_clicked(self) -> None:
        self._start(self.file_model.to_convert())

    @Slot()
    def _on_retry_failed_button_clicked(self) -> None:
        self._start(self.file_model.failed())

    @Slot()
    def _on_cancel_button_clicked(self) -> None:
        if self.controller.busy:
            self.controller.cancel()
            self.stage_label.setText("Cancelling: stopping conversions…")
            self._update_buttons()

    @Slot(object)
    def _on_controller_run_started(self, spec: RunSpec) -> None:
        self._run_spec = spec
        self._run_started_at = time.monotonic()
        self.task_model.clear()
        self.node_grid.set_nodes(())
        self.task_detail.clear()
        self.overall_progress.setValue(0)
        self.overall_progress.setFormat(f"0 / {len(spec.inputs)} files")
        self.stage_label.setText("Starting…")
        self._log(f"Starting: {len(spec.inputs)} file(s), MP3s in {spec.output_dir}, "
                  f"quality {spec.quality.label}, if one exists: {spec.on_conflict.value}")
        self._update_buttons()

    @Slot(object)
    def _on_controller_snapshot_changed(self, snapshot: RunSnapshot) -> None:
        self.apply_snapshot(snapshot)

    def apply_snapshot(self, snapshot: RunSnapshot) -> None:
        """Show one snapshot everywhere: file statuses, tasks, nodes, progress."""
        self.file_model.apply_snapshot(snapshot)
        self.task_model.apply_snapshot(snapshot)
        self.node_grid.set_nodes(snapshot.nodes)
        self.overall_progress.setValue(int(snapshot.fraction * 1000))
        parts = [f"{snapshot.files_done} / {snapshot.files_total} files"]
        if snapshot.files_failed:
            parts.append(f"{snapshot.files_failed} failed")
        if snapshot.rate:
            parts.append(snapshot.rate)
        if snapshot.eta_s is not None and snapshot.stage not in (Stage.DONE, Stage.CANCELLED):
            parts.append(f"about {clock(snapshot.eta_s)} left")
        self.overall_progress.setFormat(" · ".join(parts).replace("%", "%%"))
        words = STAGE_WORDS.get(snapshot.stage, snapshot.stage.value)
        if self.controller.cancelling and snapshot.stage not in (Stage.CANCELLED, Stage.DONE):
            words = "Cancelling"
        message = snapshot.message
        if message.lower().startswith(words.lower()):
            text = message
        else:
            text = f"{words}: {message}" if message else words
        self.stage_label.setText(text)
        self.stage_label.setToolTip(text)
        self.task_summary.setText(
            f"{snapshot.files_total} tasks · {snapshot.files_converting} running · "
            f"{snapshot.files_failed} failed"
        )
        self._show_task_detail(self.task_table.currentIndex())

    @Slot(str)
    def _on_controller_log_added(self, line: str) -> None:
        self._log(line)

    @Slot(object)
    def _on_controller_run_finished(self, result: RunResult) -> None:
        done = sum(1 for o in result.outcomes if o.status is FileStatus.DONE)
        failed = sum(1 for o in result.outcomes if o.status is FileStatus.FAILED)
        if result.cancelled:
            title, text = "Conversion cancelled", f"{done} file(s) were converted before."
        elif result.error:
            title, text = "Conversion stopped", result.error
        else:
            title = "Conversion finished"
            text = f"{done} MP3(s) ready" + (f", {failed} failed" if failed else "")
        if result.error and not result.outcomes:
            self.stage_label.setText(f"Stopped: {result.error}")
        if not result.outcomes:
            self.overall_progress.setFormat(title)
        self.statusBar().showMessage(f"{title}: {text}", 15000)
        self._notify(title, text)
        self._update_buttons()
        if self._close_when_idle:
            self._closed = True
            self.close()

    def _notify(self, title: str, text: str) -> None:
        """A desktop notification where the platform has one, else a taskbar alert."""
        if self.isActiveWindow():
            return
        QApplication.alert(self)
        if QSystemTrayIcon.isSystemTrayAvailable() and QSystemTrayIcon.supportsMessages():
            if self._tray is None:
                self._tray = QSystemTrayIcon(self.windowIcon(), self)
            self._tray.show()
            self._tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 8000)

    @Slot()
    def _on_open_output_button_clicked(self) -> None:
        folder = self.output_folder_edit.text().strip()
        if folder:
            open_url(QUrl.fromLocalFile(str(Path(folder).expanduser())))

    # -- tasks --------------------------------------------------------------------------------

    @Slot(bool)
    def _on_failed_only_check_toggled(self, on: bool) -> None:
        self.task_proxy.set_failed_only(on)
        self._schedule_save()

    @Slot(QModelIndex, QModelIndex)
    def _on_task_table_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        self._show_task_detail(current)

    @Slot(QModelIndex)
    def _on_task_table_double_clicked(self, index: QModelIndex) -> None:
        view = index.data(TaskRole.TASK)
        if view is not None and view.status is FileStatus.DONE and view.output_path:
            open_url(QUrl.fromLocalFile(str(view.output_path.parent)))
        else:
            self.task_detail.setFocus()

    def _show_task_detail(self, index: QModelIndex) -> None:
        view = index.data(TaskRole.TASK) if index.isValid() else None
        if view is None:
            if self.task_detail.toPlainText():
                self.task_detail.clear()
            return
        head = f"{view.name}: {view.status.value}"
        if view.node_id:
            head += f" on {view.node_id}"
        if view.run_time_s is not None:
            head += f" after {clock(view.run_time_s)}"
        if view.exit_code is not None:
            head += f", exit code {view.exit_code}"
        lines = [head]
        result = result_text(view)
        if result:
            lines.append(("Reason: " if is_failed(view) else "") + result)
        if view.stderr_tail and is_failed(view):
            lines += ["What ffmpeg said last:", view.stderr_tail.rstrip()]
        lines.append(f"Input: {view.input_path}")
        text = "\n".join(lines)
        if text != self.task_detail.toPlainText():
            self.task_detail.setPlainText(text)

    @Slot(dict)
    def _on_node_grid_counts_changed(self, counts: dict[str, int]) -> None:
        self.node_legend.set_counts(counts, any(n.is_spot for n in self.node_grid.nodes))

    # -- log ----------------------------------------------------------------------------------

    @Slot(bool)
    def _on_log_toggle_toggled(self, on: bool) -> None:
        self.log_view.setVisible(on)
        self.log_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.log_toggle.setAccessibleName("Hide the log" if on else "Show the log")
        if self.log_action.isChecked() != on:
            self.log_action.setChecked(on)
        self._schedule_save()

    def _log(self, line: str) -> None:
        self.log_view.appendPlainText(f"{time.strftime('%H:%M:%S')}  {line}")

    # -- buttons ------------------------------------------------------------------------------

    def _update_buttons(self) -> None:
        busy = self.controller.busy
        has_folder = bool(self.output_folder_edit.text().strip())
        can_convert = not busy and has_folder and bool(self.file_model.to_convert())
        has_failed = bool(self.file_model.failed())
        self.convert_button.setEnabled(can_convert)
        self.convert_action.setEnabled(can_convert)
        self.cancel_button.setEnabled(busy and not self.controller.cancelling)
        self.cancel_action.setEnabled(busy and not self.controller.cancelling)
        self.retry_failed_button.setEnabled(not busy and has_failed and has_folder)
        self.retry_action.setEnabled(not busy and has_failed and has_folder)
        self.open_output_button.setEnabled(has_folder)
        self.open_output_action.setEnabled(has_folder)
        has_rows = self.file_model.rowCount() > 0
        selection = self.file_list.selectionModel()
        self.remove_button.setEnabled(
            not busy and selection is not None and selection.hasSelection()
        )
        self.clear_button.setEnabled(not busy and has_rows)
        for w in (self.output_folder_edit, self.browse_button, self.quality_combo,
                  self.conflict_combo, self.mirror_check, self.target_combo):
            w.setEnabled(not busy)
        rows = self.file_model.rowCount()
        rejected = sum(1 for i in self.file_model.inputs() if not i.ok)
        summary = f"{rows} file(s)" + (f", {rejected} can't be converted" if rejected else "")
        if self.controller.probing:
            summary += " · checking…"
        self.files_summary.setText(summary if rows or self.controller.probing else "")

    # -- closing ------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        """Quitting mid-run cancels and waits for the run to clean up, then closes."""
        if self.controller.busy:
            event.ignore()
            if not self._close_when_idle:
                self._close_when_idle = True
                self.stage_label.setText("Cancelling before closing…")
                self.controller.cancel()
                self._update_buttons()
            return
        self._save_timer.stop()
        self._settings = self.current_settings()
        self.controller.save_settings(self._settings)
        self._closed = True
        if self._tray is not None:
            self._tray.hide()
        event.accept()

    def shutdown(self) -> None:
        """Stop the worker threads once the window is gone (app exit, end of a test)."""
        self.controller.close_workers()

