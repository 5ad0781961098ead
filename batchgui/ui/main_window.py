"""The main window: drop files, choose where the MP3s go, convert, watch nodes and tasks.

It makes the panels (laid out by ui/window_layout.py), the menus and the keyboard
shortcuts, and wires them to the RunController; ui/run_view.py shows a run on the panels,
ui/estimate_view.py keeps the estimate next to Convert up to date. Widgets
and models only: everything that blocks (probing, targets, the run, saving settings)
goes through the controller; snapshots come back as signals and are applied to the
models whole, a few times a second.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, Qt, QTimer, Slot
from PySide6.QtGui import (
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSplitter,
    QWidget,
)

from batchgui import i18n
from batchgui.core.models import FileStatus, InputFile, RunResult, RunSnapshot, RunSpec
from batchgui.i18n import _, tr, trn
from batchgui.ui import settings as ui_settings
from batchgui.ui.closing import CloseChoice, ask_before_closing
from batchgui.ui.controller import RunController
from batchgui.ui.estimate_view import EstimateKeeper
from batchgui.ui.file_list import FileListModel, FileListView
from batchgui.ui.files_panel import FilesPanel
from batchgui.ui.first_frame import FirstFrame
from batchgui.ui.folder_notice import FolderNotice, open_folder
from batchgui.ui.leftovers_banner import LeftoversBanner
from batchgui.ui.log_panel import LogToggle, LogView
from batchgui.ui.menus import WindowActions
from batchgui.ui.node_grid import NodeGrid
from batchgui.ui.notify import Notifier
from batchgui.ui.output_panel import (
    SETTINGS_DIALOG_MODULE,
    OutputPanel,
    conflict_words,
    settings_dialog_available,
)
from batchgui.ui.resume_banner import ResumeBanner
from batchgui.ui.run_panel import AfterRunBar, NodesPanel, RunBar
from batchgui.ui.run_view import RunView
from batchgui.ui.task_table import TaskFilterProxy, TaskTableModel, TaskTableView
from batchgui.ui.tasks_panel import TasksPanel
from batchgui.ui.window_layout import build_panels, name_panel_widgets
from batchgui.ui.window_state import WindowState

if TYPE_CHECKING:
    from batchgui.core.resume import ResumableRun

#: how the window opens folders; tests replace it to keep file managers closed
open_url = QDesktopServices.openUrl


class MainWindow(QMainWindow):
    """The app's window. `MainWindow()` opens on the saved (or default) settings.

    The panels' widgets are also attributes of the window under their old names
    (`file_list`, `convert_button`, `task_table` …): tests and packaging/screenshot.py
    reach them there.

    Signals: none of its own; the controller's signals drive it.
    """

    # the panels, made and laid out by window_layout.build_panels
    files_panel: FilesPanel
    output_panel: OutputPanel
    run_bar: RunBar
    nodes_panel: NodesPanel
    tasks_panel: TasksPanel
    resume_banner: ResumeBanner
    leftovers_banner: LeftoversBanner
    after_run_bar: AfterRunBar
    log_view: LogView
    main_splitter: QSplitter
    middle_splitter: QSplitter
    # the panels' widgets under the window's own names, by window_layout.name_panel_widgets
    file_list: FileListView
    remove_button: QPushButton
    clear_button: QPushButton
    output_folder_edit: QLineEdit
    browse_button: QPushButton
    quality_combo: QComboBox
    conflict_combo: QComboBox
    mirror_check: QCheckBox
    target_combo: QComboBox
    keep_tags_check: QCheckBox
    loudness_check: QCheckBox
    convert_button: QPushButton
    cancel_button: QPushButton
    pause_button: QPushButton
    node_grid: NodeGrid
    task_table: TaskTableView
    failed_only_check: QCheckBox
    resume_label: QLabel
    resume_button: QPushButton
    dismiss_resume_button: QPushButton
    log_toggle: LogToggle
    retry_failed_button: QPushButton
    open_output_button: QPushButton

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        controller: RunController | None = None,
        settings: ui_settings.UiSettings | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle(_("BatchGUI – video to MP3"))
        self.setAcceptDrops(True)
        self.controller = controller or RunController(self)
        self._close_when_idle = False
        self.folder_notice: FolderNotice | None = None  # the last "can't open folders" note
        #: the user quit mid-run choosing "finish later": the app ends without stopping it
        self.leave_run_for_later = False
        self._close_question: QWidget | None = None
        self._notifier = Notifier(self)
        self.state = WindowState(
            self, settings if settings is not None else ui_settings.load(),
            self.controller.save_settings)

        self.file_model = FileListModel(self)
        self.task_model = TaskTableModel(self)
        self.task_proxy = TaskFilterProxy(self)
        self.task_proxy.setSourceModel(self.task_model)

        self._build_widgets()
        self._build_menus()
        self.run_view = RunView(self)
        self.estimate = EstimateKeeper(self.controller, self.run_bar, self._spec_now, self)
        self._connect()
        self.state.apply()
        self._on_log_toggle_toggled(self.log_toggle.isChecked())
        self._update_buttons()
        # accounts, keyring, journal: once it's up, and a turn after whatever else waited
        # for the first frame (paths from the command line, the smoke test's line)
        FirstFrame(self, lambda: QTimer.singleShot(0, self._start_background))

    def _start_background(self) -> None:
        self.controller.list_targets()
        self.controller.find_unfinished()

    # -- building -----------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        """The panels, laid out (ui/window_layout.py), and their widgets under the window's
        own names (`file_list`, `convert_button`, `task_table` …)."""
        build_panels(self)
        name_panel_widgets(self)

    def _build_menus(self) -> None:
        actions = WindowActions(self, self.menuBar(), settings_dialog_available(),
                                self.state.settings.language)
        self.menu_actions = actions

    def _connect(self) -> None:
        c = self.controller
        c.inputs_probed.connect(self._on_controller_inputs_probed)
        c.probing_changed.connect(self._on_controller_probing_changed)
        c.targets_listed.connect(self._on_controller_targets_listed)
        c.run_started.connect(self._on_controller_run_started)
        c.snapshot_changed.connect(self.run_view.show)
        c.log_added.connect(self.log_view.add_line)
        c.run_finished.connect(self._on_controller_run_finished)
        c.unfinished_run_found.connect(self.resume_banner.offer)
        c.resume_prepared.connect(self._on_controller_resume_prepared)
        c.resume_failed.connect(self._on_controller_resume_failed)

        self.resume_banner.resume_requested.connect(self._on_resume_banner_resume_requested)
        self.resume_banner.dismissed.connect(c.dismiss_unfinished)
        self.files_panel.paths_added.connect(self.add_paths)
        self.file_list.doubleClicked.connect(self._on_file_list_double_clicked)
        for changed in (self.file_model.rowsInserted, self.file_model.rowsRemoved,
                        self.file_model.modelReset,
                        self.file_list.selectionModel().selectionChanged):
            changed.connect(self._update_buttons)
        for changed in (self.file_model.rowsInserted, self.file_model.rowsRemoved,
                        self.file_model.modelReset, self.output_panel.changed):
            changed.connect(self.estimate.schedule)
        self.file_model.modelReset.connect(self._on_file_model_reset)
        self.output_panel.changed.connect(self._on_output_panel_changed)
        self.output_panel.accounts_requested.connect(self._on_accounts_requested)
        self.menu_actions.accounts.triggered.connect(self._on_accounts_requested)
        self.menu_actions.language_chosen.connect(self._on_language_chosen)
        self.convert_button.clicked.connect(self._on_convert_button_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self.pause_button.clicked.connect(self._on_pause_button_clicked)
        self.leftovers_banner.removed.connect(self.log_view.add_line)
        c.journal_opened.connect(self._on_controller_journal_opened)
        self.retry_failed_button.clicked.connect(self._on_retry_failed_button_clicked)
        self.open_output_button.clicked.connect(self._on_open_output_button_clicked)
        self.tasks_panel.failed_only_toggled.connect(self.state.schedule_save)
        self.tasks_panel.folder_requested.connect(self._open_folder)
        self.log_toggle.toggled.connect(self._on_log_toggle_toggled)

        actions = self.menu_actions
        actions.log.toggled.connect(self.log_toggle.setChecked)
        actions.add_files.triggered.connect(self.files_panel.choose_files)
        actions.add_folder.triggered.connect(self.files_panel.choose_folder)
        actions.quit.triggered.connect(self.close)
        actions.convert.triggered.connect(self._on_convert_button_clicked)
        actions.cancel.triggered.connect(self._on_cancel_button_clicked)
        actions.pause.triggered.connect(self._on_pause_button_clicked)
        actions.retry.triggered.connect(self._on_retry_failed_button_clicked)
        actions.open_output.triggered.connect(self._on_open_output_button_clicked)
        self.main_splitter.splitterMoved.connect(self.state.schedule_save)

    # -- settings -----------------------------------------------------------------------------

    @Slot()
    def _on_output_panel_changed(self) -> None:
        self._update_buttons()
        self.state.schedule_save()
        if not self.controller.busy:
            self.run_view.fit_to_target(self.output_panel.target_name() == "local")

    @Slot(list)
    def _on_controller_targets_listed(self, targets: list[tuple[str, str]]) -> None:
        self.output_panel.set_targets(targets, self.state.settings.target)
        self._update_buttons()
        if not self.controller.busy:  # the first time, the saved layout stays as it was
            first = self.run_view.local is None and bool(self.state.settings.splitter)
            self.run_view.fit_to_target(self.output_panel.target_name() == "local",
                                        resize=not first)
        self.estimate.schedule()

    @Slot()
    def _on_accounts_requested(self) -> None:
        if not settings_dialog_available():
            return
        module = importlib.import_module(SETTINGS_DIALOG_MODULE)
        dialog = module.SettingsDialog(self, workers=self.controller.workers)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(self._on_accounts_dialog_finished)
        dialog.open()

    @Slot(str)
    def _on_language_chosen(self, language: str) -> None:
        """Kept for the next start (the window's words are made once, when it opens)."""
        self.state.settings = self.state.settings.replace(language=language)
        self.state.save_now()
        if language in i18n.LANGUAGES:
            said = tr("BatchGUI speaks {language} from the next start.",
                      language=i18n.LANGUAGES[language])
        else:
            said = _("BatchGUI speaks your system's language from the next start.")
        self.statusBar().showMessage(said, 10000)
        self._log(said)

    @Slot(int)
    def _on_accounts_dialog_finished(self, result: int) -> None:
        self.controller.list_targets()  # answers targets_listed: the estimate follows

    # -- files --------------------------------------------------------------------------------

    @Slot(list)
    def add_paths(self, paths: list[Path]) -> None:
        """Files and folders from a drop or a dialog; probed off the GUI thread."""
        self.controller.add_paths(paths)

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
            self._log(trn("Added {n} file, {rejected} can't be converted",
                          "Added {n} files, {rejected} can't be converted", added,
                          rejected=len(rejected)) if rejected
                      else trn("Added {n} file", "Added {n} files", added))
        for item in rejected:
            self._log(tr("{name}: can't be converted, {reason}", name=item.name,
                         reason=item.problem))
        self._update_buttons()

    @Slot(int)
    def _on_controller_probing_changed(self, pending: int) -> None:
        if pending:
            self.statusBar().showMessage(_("Checking the files…"))
        else:
            self.statusBar().clearMessage()
        self._update_buttons()

    @Slot(QModelIndex)
    def _on_file_list_double_clicked(self, index: QModelIndex) -> None:
        task = self.file_model.task_at(index.row())
        if task is not None and task.status is FileStatus.DONE and task.output_path:
            self._open_folder(task.output_path.parent)

    @Slot(object)
    def _open_folder(self, folder: Path) -> None:
        notice = open_folder(self, folder, lambda url: bool(open_url(url)))
        if notice is not None:
            if self.folder_notice is not None:
                self.folder_notice.deleteLater()
            self.folder_notice = notice

    @Slot()
    def _on_file_model_reset(self) -> None:
        """Clear: the last run's progress, nodes and tasks leave with its files."""
        if not self.file_model.rowCount():
            self.run_view.reset()

    # -- running ------------------------------------------------------------------------------

    def _spec_now(self) -> RunSpec | None:
        """The run Convert would start now, for the estimate (None: nothing to convert)."""
        inputs = self.file_model.to_convert()
        return self.build_spec(inputs) if inputs else None

    def build_spec(self, inputs: list[InputFile]) -> RunSpec:
        return self.output_panel.run_spec(inputs)

    def _start(self, inputs: list[InputFile]) -> None:
        if self.controller.busy or not inputs:
            return
        problem = self.output_panel.folder_problem()
        if problem:
            self.statusBar().showMessage(str(problem), 5000)
            self.output_folder_edit.setFocus()
            return
        self.state.save_now()
        self.controller.start(self.build_spec(inputs))

    @Slot(object)
    def _on_resume_banner_resume_requested(self, record: ResumableRun) -> None:
        if self.controller.busy:
            self.resume_button.setEnabled(True)
            return
        self.controller.prepare_resume(record)

    @Slot(object, object)
    def _on_controller_resume_prepared(self, spec: RunSpec, record: ResumableRun) -> None:
        self.resume_banner.close_offer()
        if self.controller.busy:
            return
        self.file_model.add_inputs(list(spec.inputs))
        self.output_folder_edit.setText(str(spec.output_dir))
        self._log(tr("Resuming the interrupted run {run_id}", run_id=record.run_id))
        self.controller.start(spec, resumes=record)

    @Slot(str)
    def _on_controller_resume_failed(self, message: str) -> None:
        self.resume_button.setEnabled(True)
        self._log(message)
        self.statusBar().showMessage(message, 10000)

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
            self.run_bar.set_stage(_("Cancelling: stopping conversions…"))
            self._update_buttons()

    @Slot()
    def _on_pause_button_clicked(self) -> None:
        if self.controller.busy and not self.controller.cancelling:
            self.controller.set_paused(not self.controller.paused)
            self.pause_button.setEnabled(False)  # until the run says it took it

    @Slot(object)
    def _on_controller_journal_opened(self, journal: object) -> None:
        self.leftovers_banner.look(self.controller.workers, journal)

    @Slot(object)
    def _on_controller_run_started(self, spec: RunSpec) -> None:
        self.run_view.started(spec)
        self._log(trn("Starting: {n} file, MP3s in {folder}, quality {quality}, if one exists: "
                      "{on_conflict}", "Starting: {n} files, MP3s in {folder}, quality "
                      "{quality}, if one exists: {on_conflict}", len(spec.inputs),
                      folder=str(spec.output_dir), quality=spec.quality.label,
                      on_conflict=conflict_words(spec.on_conflict)))
        self._update_buttons()

    def apply_snapshot(self, snapshot: RunSnapshot) -> None:
        """Show one snapshot everywhere: file statuses, tasks, nodes, progress."""
        self.run_view.show(snapshot)

    @Slot(object)
    def _on_controller_run_finished(self, result: RunResult) -> None:
        title, text = self.run_view.finished(result, self.controller.last_cost)
        self.statusBar().showMessage(f"{title}: {text}", 15000)
        self.estimate.schedule()  # what is left to convert, with what was just learned
        self._notifier.notify(title, text)
        self._update_buttons()
        if self._close_when_idle:
            self.close()

    @Slot()
    def _on_open_output_button_clicked(self) -> None:
        folder = self.output_panel.folder()
        if folder:
            self._open_folder(Path(folder).expanduser())

    # -- log ----------------------------------------------------------------------------------

    @Slot(bool)
    def _on_log_toggle_toggled(self, on: bool) -> None:
        self.log_view.setVisible(on)
        self.log_toggle.show_state(on)
        if self.menu_actions.log.isChecked() != on:
            self.menu_actions.log.setChecked(on)
        self.state.schedule_save()

    def _log(self, line: str) -> None:
        self.log_view.add_line(line)

    # -- buttons ------------------------------------------------------------------------------

    @Slot()
    def _update_buttons(self) -> None:
        busy = self.controller.busy
        has_folder = bool(self.output_panel.folder())
        to_convert = len(self.file_model.to_convert())
        can_convert = not busy and has_folder and bool(to_convert)
        has_failed = bool(self.file_model.failed())
        cancellable = busy and not self.controller.cancelling
        can_retry = not busy and has_failed and has_folder
        actions = self.menu_actions
        for button, action, enabled in (
            (self.convert_button, actions.convert, can_convert),
            (self.cancel_button, actions.cancel, cancellable),
            (self.pause_button, actions.pause, cancellable),
            (self.retry_failed_button, actions.retry, can_retry),
            (self.open_output_button, actions.open_output, has_folder),
        ):
            button.setEnabled(enabled)
            action.setEnabled(enabled)
        self.files_panel.update_state(busy, self.controller.probing)
        self.run_bar.show_ready(to_convert, has_folder)
        self.output_panel.set_busy(busy)

    # -- closing ------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        """Quitting mid-run asks: stop the run (it cleans up, then the window closes), or
        leave it to finish later (the next start offers to resume it), or keep going."""
        if self.controller.busy and not self.leave_run_for_later:
            event.ignore()
            if not self._close_when_idle and self._close_question is None:
                self._close_question = ask_before_closing(
                    self, self.run_view.on_azure, self._on_close_question_answered)
            return
        self.state.save_now()
        self._notifier.hide()
        event.accept()

    def _on_close_question_answered(self, choice: CloseChoice) -> None:
        self._close_question = None
        if choice is CloseChoice.LATER:
            self.leave_run_for_later = True
            self.close()
        elif choice is CloseChoice.STOP and self.controller.busy:
            self._close_when_idle = True
            self.run_bar.set_stage(_("Cancelling before closing…"))
            self.controller.cancel()
            self._update_buttons()
        elif choice is CloseChoice.STOP:
            self.close()

    def shutdown(self) -> None:
        """Stop the worker threads once the window is gone (app exit, end of a test)."""
        self.controller.close_workers(leaving_run=self.leave_run_for_later)
