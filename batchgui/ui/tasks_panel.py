"""The "Tasks" box: one row per file of the run, a failed-only filter, and the selected
task's details (for a failed one, what ffmpeg said last).

The table is a view over the window's TaskFilterProxy; the box never changes the model.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from batchgui.core.models import FileStatus, RunSnapshot, TaskState, TaskView
from batchgui.i18n import _, tr, trn
from batchgui.ui.file_list import clock
from batchgui.ui.task_table import (
    TaskFilterProxy,
    TaskRole,
    TaskTableView,
    exit_code_text,
    is_failed,
    result_text,
    state_text,
)


def converting_now(snapshot: RunSnapshot) -> int:
    """Files whose ffmpeg runs right now, by the same poll the node grid shows: a file whose
    ffmpeg has ended but whose MP3 is still being checked no longer counts."""
    return sum(1 for t in snapshot.running if t.state is not TaskState.COMPLETED)


def task_detail_text(view: TaskView, local: bool = False) -> str:
    """What the detail pane says about one task: a head line of facts ("clip.mp4: failed on
    node-1 after 0:42, exit code 1"), the result or reason, what ffmpeg said, the input."""
    head = f"{view.name}: {state_text(view, local)}"
    if view.node_id:
        head += " " + tr("on {node}", node=view.node_id)
    if view.run_time_s is not None:
        head += " " + tr("after {clock}", clock=clock(view.run_time_s))
    if exit_code_text(view):
        head += ", " + tr("exit code {exit_code}", exit_code=str(view.exit_code))
    lines = [head]
    result = result_text(view)
    if result:
        lines.append(tr("Reason: {reason}", reason=result) if is_failed(view) else result)
    if view.stderr_tail and is_failed(view):
        lines += [_("What ffmpeg said last:"), view.stderr_tail.rstrip()]
    lines.append(tr("Input: {path}", path=str(view.input_path)))
    return "\n".join(lines)


class TasksPanel(QGroupBox):
    """Task table, "Show failed only", a count of running and failed, and the detail pane.

    Signals:
        failed_only_toggled(bool): the filter was switched (the window keeps the choice).
        folder_requested(Path): a done task was double-clicked: open the folder of its MP3.
    """

    failed_only_toggled = Signal(bool)
    folder_requested = Signal(object)

    def __init__(self, proxy: TaskFilterProxy) -> None:
        super().__init__(_("Tasks"))
        self._proxy = proxy
        self._local = False
        self.task_table = TaskTableView()
        self.task_table.setObjectName("taskTable")
        self.task_table.setModel(proxy)
        self.task_table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.task_table.setSortingEnabled(True)
        self.failed_only_check = QCheckBox(_("Show &failed only"))
        self.failed_only_check.setObjectName("failedOnlyCheck")
        self.task_summary = QLabel()
        self.task_summary.setObjectName("taskSummary")
        self.task_detail = QPlainTextEdit()
        self.task_detail.setObjectName("taskDetail")
        self.task_detail.setAccessibleName(_("Task details"))
        self.task_detail.setReadOnly(True)
        self.task_detail.setPlaceholderText(
            _("Select a task to see its details; for a failed one, what ffmpeg said last.")
        )
        self.task_detail.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.task_detail.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.task_detail.setMinimumHeight(2 * self.task_detail.fontMetrics().height())
        top = QHBoxLayout()
        top.addWidget(self.failed_only_check)
        top.addStretch(1)
        top.addWidget(self.task_summary)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        self.task_splitter = QSplitter(Qt.Orientation.Vertical)
        self.task_splitter.addWidget(self.task_table)
        self.task_splitter.addWidget(self.task_detail)
        self.task_splitter.setStretchFactor(0, 3)
        self.task_splitter.setStretchFactor(1, 1)
        self.task_splitter.setSizes([400, 150])
        self.task_splitter.setChildrenCollapsible(False)
        layout.addWidget(self.task_splitter, 1)

        self.failed_only_check.toggled.connect(self._on_failed_only_check_toggled)
        self.task_table.selectionModel().currentRowChanged.connect(
            self._on_task_table_current_changed
        )
        self.task_table.doubleClicked.connect(self._on_task_table_double_clicked)

    def tab_order(self) -> list[QWidget]:
        return [self.failed_only_check, self.task_table, self.task_detail]

    def clear(self) -> None:
        self.task_detail.clear()
        self.task_summary.clear()

    def set_local(self, local: bool) -> None:
        """Name the box for the target: "Conversions" on this computer, "Tasks" on Azure."""
        self._local = local
        self.setTitle(_("Conversions") if local else _("Tasks"))

    def show_snapshot(self, snapshot: RunSnapshot) -> None:
        """The counts in the header, and the selected task's details as they are now."""
        converting = converting_now(snapshot)
        if self._local:
            text = trn("{n} file · {converting} converting · {failed} failed",
                       "{n} files · {converting} converting · {failed} failed",
                       snapshot.files_total, converting=converting,
                       failed=snapshot.files_failed)
        else:
            text = trn("{n} task · {converting} converting · {failed} failed",
                       "{n} tasks · {converting} converting · {failed} failed",
                       snapshot.files_total, converting=converting,
                       failed=snapshot.files_failed)
        self.task_summary.setText(text)
        self._show_task_detail(self.task_table.currentIndex())

    @Slot(bool)
    def _on_failed_only_check_toggled(self, on: bool) -> None:
        self._proxy.set_failed_only(on)
        self.failed_only_toggled.emit(on)

    @Slot(QModelIndex, QModelIndex)
    def _on_task_table_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        self._show_task_detail(current)

    @Slot(QModelIndex)
    def _on_task_table_double_clicked(self, index: QModelIndex) -> None:
        view = index.data(TaskRole.TASK)
        if view is not None and view.status is FileStatus.DONE and view.output_path:
            self.folder_requested.emit(Path(view.output_path).parent)
        else:
            self.task_detail.setFocus()

    def _show_task_detail(self, index: QModelIndex) -> None:
        view = index.data(TaskRole.TASK) if index.isValid() else None
        if view is None:
            if self.task_detail.toPlainText():
                self.task_detail.clear()
            return
        text = task_detail_text(view, self._local)
        if text != self.task_detail.toPlainText():
            self.task_detail.setPlainText(text)
