"""The task table: one row per task of the current run, smooth with 10,000 of them.

The model is keyed by task id. The first snapshot of a run fills it; later ones
only emit dataChanged for the ranges whose TaskView changed (the run hands out
the very same TaskView object while a task does not change, so most rows are
skipped by an identity check). The model sorts itself (one Python sort of plain
keys, then one layoutChanged when the order really moved): a sorting proxy would
call data() from C++ twice per comparison and cost 150 ms per snapshot at 10,000
rows. The proxy in front only filters ("failed only").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import IntEnum
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QStyledItemDelegate,
    QTableView,
    QWidget,
)

from batchgui.core.models import FileStatus, RunSnapshot, TaskResult, TaskView
from batchgui.i18n import N_, _, percent, tr
from batchgui.ui.file_list import _ranges, clock, coalesce, finishing_words, view_text

if TYPE_CHECKING:
    from PySide6.QtWidgets import QStyleOptionViewItem

AnyIndex = QModelIndex | QPersistentModelIndex


class TaskColumn(IntEnum):
    FILE = 0
    STATE = 1
    NODE = 2
    PROGRESS = 3
    RUN_TIME = 4
    EXIT_CODE = 5
    RESULT = 6


class TaskRole(IntEnum):
    TASK = Qt.ItemDataRole.UserRole + 1  # the TaskView
    SORT = Qt.ItemDataRole.UserRole + 2  # a value that sorts naturally
    PROGRESS = Qt.ItemDataRole.UserRole + 3  # 0..1
    FAILED = Qt.ItemDataRole.UserRole + 4  # bool


_HEADERS = {
    TaskColumn.FILE: N_("File"),
    TaskColumn.STATE: N_("State"),
    TaskColumn.NODE: N_("Node"),
    TaskColumn.PROGRESS: N_("Progress"),
    TaskColumn.RUN_TIME: N_("Run time"),
    TaskColumn.EXIT_CODE: N_("Exit"),
    TaskColumn.RESULT: N_("Result"),
}

_STATE_ORDER = {status: i for i, status in enumerate(FileStatus)}
_ALL_ROLES = [
    Qt.ItemDataRole.DisplayRole,
    Qt.ItemDataRole.ToolTipRole,
    TaskRole.TASK,
    TaskRole.SORT,
    TaskRole.PROGRESS,
    TaskRole.FAILED,
]


def result_text(view: TaskView) -> str:
    """What came of the task, in plain words."""
    if view.status is FileStatus.DONE:
        if view.output_path and view.reason:  # a note, e.g. how loudness was evened out
            return tr("saved as {mp3} ({note})", mp3=view.output_path.name, note=view.reason)
        return (tr("saved as {mp3}", mp3=view.output_path.name) if view.output_path
                else FileStatus.DONE.label)
    if view.reason:
        return view.reason.text
    if view.result is TaskResult.FAILURE:
        return FileStatus.FAILED.label
    return ""


def is_failed(view: TaskView) -> bool:
    return view.status in (FileStatus.FAILED, FileStatus.REJECTED)


def exit_code_text(view: TaskView) -> str:
    """ffmpeg's exit code, when it tells something: not the 0 of a file that failed its
    check afterwards (e.g. an MP3 that came out too short), which reads as "all fine"."""
    if view.exit_code is None or (view.exit_code == 0 and is_failed(view)):
        return ""
    return str(view.exit_code)


def state_text(view: TaskView, local: bool) -> str:
    """The State column: the file's status, or what a file whose ffmpeg ended waits for."""
    return finishing_words(view, local) or view.status.label


class TaskTableModel(QAbstractTableModel):
    """The tasks of the current run (rows keep the run's order; the proxy sorts).

    Signals: none of its own (the usual model signals tell the views).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._run_id: str | None = None
        self._tasks: list[TaskView] = []
        self._index: dict[str, int] = {}
        self._rank: dict[str, int] = {}  # the run's own order, for "not sorted"
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder
        self.local = False  # this computer: slots, not nodes

    def set_local(self, local: bool) -> None:
        """Name the node column for the target ("Slot" on this computer)."""
        if local != self.local:
            self.local = local
            self.headerDataChanged.emit(Qt.Orientation.Horizontal, TaskColumn.NODE,
                                        TaskColumn.NODE)

    # -- Qt model interface -------------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._tasks)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(TaskColumn)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(TaskColumn):
            if role == Qt.ItemDataRole.DisplayRole:
                if section == TaskColumn.NODE and self.local:
                    return _("Slot")
                return _(_HEADERS[TaskColumn(section)])
            if role == Qt.ItemDataRole.ToolTipRole and section == TaskColumn.EXIT_CODE:
                return _("ffmpeg's exit code")
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self._tasks):
            return None
        view = self._tasks[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == TaskColumn.FILE:
                return view.name
            if column == TaskColumn.STATE:
                return state_text(view, self.local)
            if column == TaskColumn.NODE:
                return view.node_id or ""
            if column == TaskColumn.PROGRESS:
                return percent(int(view.progress * 100) / 100)
            if column == TaskColumn.RUN_TIME:
                return clock(view.run_time_s)
            if column == TaskColumn.EXIT_CODE:
                return exit_code_text(view)
            if column == TaskColumn.RESULT:
                return result_text(view)
        elif role == Qt.ItemDataRole.ToolTipRole:
            if column == TaskColumn.FILE:
                return str(view.input_path)
            if column in (TaskColumn.RESULT, TaskColumn.STATE):
                text = view_text(view, self.local)
                if view.stderr_tail and is_failed(view):
                    text += "\n" + _("(select the row to see what ffmpeg said)")
                return text
        elif role == Qt.ItemDataRole.TextAlignmentRole and column in (
            TaskColumn.RUN_TIME, TaskColumn.EXIT_CODE
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        elif role == TaskRole.TASK:
            return view
        elif role == TaskRole.PROGRESS:
            return view.progress
        elif role == TaskRole.FAILED:
            return is_failed(view)
        elif role == TaskRole.SORT:
            return self._sort_key(view, column)
        return None

    @staticmethod
    def _sort_key(view: TaskView, column: int) -> object:
        return _SORT_KEYS[TaskColumn(column)](view)

    # -- our interface ------------------------------------------------------------------------

    @property
    def run_id(self) -> str | None:
        return self._run_id

    def task_at(self, row: int) -> TaskView:
        return self._tasks[row]

    def row_of(self, task_id: str) -> int | None:
        return self._index.get(task_id)

    def tasks(self) -> Sequence[TaskView]:
        return tuple(self._tasks)

    def clear(self) -> None:
        if not self._tasks and self._run_id is None:
            return
        self.beginResetModel()
        self._tasks = []
        self._index = {}
        self._rank = {}
        self._run_id = None
        self.endResetModel()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Keep rows in this order from now on (column -1: the run's order)."""
        self._sort_column = column
        self._sort_order = order
        self._resort()

    def _sorted(self, tasks: list[TaskView]) -> list[TaskView]:
        column = self._sort_column
        if column < 0:
            rank = self._rank
            return sorted(tasks, key=lambda v: rank[v.task_id])
        return sorted(tasks, key=_SORT_KEYS[TaskColumn(column)],
                      reverse=self._sort_order == Qt.SortOrder.DescendingOrder)

    def _resort(self) -> bool:
        """Reorder the rows if the sort says so; True if the layout changed."""
        wanted = self._sorted(self._tasks)
        if all(a is b for a, b in zip(wanted, self._tasks, strict=True)):
            return False
        self.layoutAboutToBeChanged.emit()
        old_tasks = self._tasks
        self._tasks = wanted
        self._index = {t.task_id: i for i, t in enumerate(wanted)}
        old = self.persistentIndexList()
        new = [self.index(self._index[old_tasks[i.row()].task_id], i.column()) for i in old]
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()
        return True

    def apply_snapshot(self, snapshot: RunSnapshot) -> None:
        """Show this snapshot: rows appear for new tasks, changed rows get dataChanged.

        A new run replaces the rows (one reset); within a run rows are never reset.
        """
        if snapshot.run_id != self._run_id:
            self.beginResetModel()
            self._run_id = snapshot.run_id
            self._tasks = list(snapshot.tasks)
            self._rank = {t.task_id: i for i, t in enumerate(self._tasks)}
            if self._sort_column >= 0:
                self._tasks = self._sorted(self._tasks)
            self._index = {t.task_id: i for i, t in enumerate(self._tasks)}
            self.endResetModel()
            return
        tasks, index = self._tasks, self._index
        changed: list[int] = []
        new: list[TaskView] = []
        for view in snapshot.tasks:
            i = index.get(view.task_id)
            if i is None:
                new.append(view)
                continue
            old = tasks[i]
            if old is view:
                continue
            tasks[i] = view  # keep the newest object, so the next identity check hits
            if old != view:
                changed.append(i)
        if new:
            first = len(tasks)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for view in new:
                index[view.task_id] = len(tasks)
                self._rank[view.task_id] = len(self._rank)
                tasks.append(view)
            self.endInsertRows()
        if (changed or new) and self._sort_column >= 0 and self._resort():
            return  # layoutChanged told the views already
        changed.sort()
        last_column = len(TaskColumn) - 1
        for first, last in coalesce(_ranges(changed)):
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column), _ALL_ROLES)


_SORT_KEYS: dict[TaskColumn, Callable[[TaskView], Any]] = {
    TaskColumn.FILE: lambda v: v.name.casefold(),
    TaskColumn.STATE: lambda v: _STATE_ORDER[v.status],
    TaskColumn.NODE: lambda v: v.node_id or "",
    TaskColumn.PROGRESS: attrgetter("progress"),
    TaskColumn.RUN_TIME: lambda v: -1.0 if v.run_time_s is None else v.run_time_s,
    TaskColumn.EXIT_CODE: lambda v: -(2**31) if v.exit_code is None else v.exit_code,
    TaskColumn.RESULT: result_text,
}


class TaskFilterProxy(QSortFilterProxyModel):
    """Shows failed tasks only when asked; passes sorting on to the source model.

    Signals: none of its own (the usual model signals tell the views).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._failed_only = False
        self._sort = (-1, Qt.SortOrder.AscendingOrder)
        # re-checking rows on dataChanged costs a Python call per row: only while filtering
        self.setDynamicSortFilter(False)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """The source model sorts (fast, in Python, once per snapshot); this proxy filters."""
        self._sort = (column, order)
        model = self.sourceModel()
        if model is not None:
            model.sort(column, order)

    @property
    def failed_only(self) -> bool:
        return self._failed_only

    def set_failed_only(self, on: bool) -> None:
        if on == self._failed_only:
            return
        self.beginFilterChange()
        self._failed_only = on
        self.setDynamicSortFilter(on)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        if not self._failed_only:
            return True
        model = self.sourceModel()
        return bool(model.data(model.index(source_row, 0, source_parent), TaskRole.FAILED))


class ProgressDelegate(QStyledItemDelegate):
    """Draws the progress column as a small bar in the style's own colours (right in dark
    themes) with the percentage beside it, never on it: text on a bar is cut in two colours
    where the filled part ends.

    Signals: none of its own.
    """

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        value = index.data(TaskRole.PROGRESS)
        if value is None:
            super().paint(painter, option, index)
            return
        # here, not at the top: QStyle's enums cost ~4 ms, and the first frame has no rows
        from PySide6.QtWidgets import QStyle, QStyleOptionProgressBar

        # the row's selection background first, then the bar and the words beside it
        self.initStyleOption(option, index)
        text = option.text
        option.text = ""
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, option.widget)
        text_width = option.fontMetrics.horizontalAdvance(percent(1.0)) + 6
        area = option.rect.adjusted(3, 4, -3, -4)
        bar = QStyleOptionProgressBar()
        bar.rect = area.adjusted(0, 0, -text_width, 0)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int(float(value) * 1000)
        bar.textVisible = False
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        bar.palette = option.palette
        bar.fontMetrics = option.fontMetrics
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        words = area.adjusted(area.width() - text_width, -4, 0, 4)
        style.drawItemText(painter, words, int(Qt.AlignmentFlag.AlignRight
                                               | Qt.AlignmentFlag.AlignVCenter),
                           option.palette, True, text, role)


class TaskTableView(QTableView):
    """The task table's view: sortable, rows of fixed height, a progress bar column.

    Signals: none of its own (the usual view signals, e.g. doubleClicked(QModelIndex)).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setTabKeyNavigation(False)  # Tab moves on to the next control; arrows move here
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.verticalHeader().hide()
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.horizontalHeader().setHighlightSections(False)
        self.horizontalHeader().setSortIndicatorShown(True)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setItemDelegateForColumn(TaskColumn.PROGRESS, ProgressDelegate(self))
        self.setAccessibleName(_("Tasks"))
        self.setAccessibleDescription(
            _("One row per file being converted. Select a failed row to see what ffmpeg said.")
        )

    def setModel(self, model: QAbstractItemModel | None) -> None:
        super().setModel(model)
        header = self.horizontalHeader()
        fm = self.fontMetrics()
        widths = {
            TaskColumn.FILE: fm.horizontalAdvance("session-0047.mp4") + 12,
            TaskColumn.STATE: fm.horizontalAdvance(_("checking the MP3")) + 16,
            TaskColumn.NODE: fm.horizontalAdvance("tvmps_5e2939a2") + 12,
            TaskColumn.PROGRESS: fm.horizontalAdvance(percent(1.0)) + 64,
            TaskColumn.RUN_TIME: fm.horizontalAdvance(_(_HEADERS[TaskColumn.RUN_TIME])) + 16,
            TaskColumn.EXIT_CODE: fm.horizontalAdvance(_(_HEADERS[TaskColumn.EXIT_CODE])) + 20,
        }
        for column, width in widths.items():
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            self.setColumnWidth(column, width)
        header.setStretchLastSection(True)
        self.verticalHeader().setDefaultSectionSize(fm.height() + 8)
