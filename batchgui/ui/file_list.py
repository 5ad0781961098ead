"""The list of dropped files: name, size, duration and a live status per file.

The model is keyed by the file's path; a run's snapshot updates the status of the
rows it mentions, with dataChanged on the changed ranges only. The view accepts
drops of local files and folders and hands the paths on; it never walks a folder
itself (the controller does that on a worker thread).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import IntEnum
from pathlib import Path

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPalette,
)
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from batchgui.core.models import FileStatus, InputFile, RunSnapshot, TaskState, TaskView
from batchgui.i18n import N_, Reason, _, percent, tr
from batchgui.ui.qt_fixes import own_viewport

AnyIndex = QModelIndex | QPersistentModelIndex


class FileColumn(IntEnum):
    NAME = 0
    SIZE = 1
    DURATION = 2
    STATUS = 3


class FileRole(IntEnum):
    INPUT = Qt.ItemDataRole.UserRole + 1  # the InputFile
    STATUS = Qt.ItemDataRole.UserRole + 2  # the FileStatus
    SORT = Qt.ItemDataRole.UserRole + 3  # a value that sorts naturally
    TASK = Qt.ItemDataRole.UserRole + 4  # the latest TaskView, or None


_HEADERS = {
    FileColumn.NAME: N_("Name"),
    FileColumn.SIZE: N_("Size"),
    FileColumn.DURATION: N_("Duration"),
    FileColumn.STATUS: N_("Status"),
}


def human_size(size: int) -> str:
    """'512 bytes', '12.3 MB' (in Swedish '12,3 MB'); 1 KB = 1,000 bytes."""
    if size < 1000:
        return tr("{size} bytes", size=size)
    if size < 1000**2:
        return tr("{size:.1f} KB", size=size / 1000)
    if size < 1000**3:
        return tr("{size:.1f} MB", size=size / 1000**2)
    return tr("{size:.1f} GB", size=size / 1000**3)


def clock(seconds: float | None) -> str:
    """1:05 or 1:02:03; empty when unknown."""
    if seconds is None:
        return ""
    total = int(round(max(0.0, seconds)))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def finishing_words(view: TaskView, local: bool) -> str | None:
    """What a file whose conversion ended is waiting for, in words; None otherwise.

    ffmpeg is done (its slot or node is free again) but the MP3 is not yet checked and in
    place: on this computer it is being checked ("downloading" means nothing there), on
    Azure it comes down first. So no row says "converting 100 %" beside an idle slot.
    """
    ended = view.status is FileStatus.CONVERTING and view.state is TaskState.COMPLETED
    if local and (ended or view.status is FileStatus.DOWNLOADING):
        return _("checking the MP3")
    if ended:
        return FileStatus.DOWNLOADING.label
    return None


def view_text(view: TaskView, local: bool) -> str:
    """The status words of a file at work or done, as the list and the table show them."""
    return finishing_words(view, local) or status_text(view.status, view.progress, view.reason)


def status_text(status: FileStatus, progress: float = 0.0, reason: Reason | None = None) -> str:
    """The words a row shows: 'converting 42 %', 'failed: the video has no audio track' ..."""
    pct = percent(int(progress * 100) / 100)
    if status is FileStatus.UPLOADING:
        return tr("uploading {percent}", percent=pct)
    if status is FileStatus.CONVERTING:
        return tr("converting {percent}", percent=pct)
    if status is FileStatus.QUEUED:
        return _("waiting for a free slot")
    if status in (FileStatus.REJECTED, FileStatus.FAILED, FileStatus.SKIPPED,
                  FileStatus.DONE) and reason:
        return f"{status.label}: {reason}"
    return status.label


class _Row:
    __slots__ = ("input", "task", "status")

    def __init__(self, item: InputFile) -> None:
        self.input = item
        self.task: TaskView | None = None
        self.status = FileStatus.READY if item.ok else FileStatus.REJECTED

    def text(self, local: bool = False) -> str:
        if self.task is None:
            return status_text(self.status, 0.0, self.input.problem)
        return view_text(self.task, local)


class FileListModel(QAbstractTableModel):
    """Files the user gave us, in the order they came, one row per path.

    Signals: none of its own (the usual model signals tell the views).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._index: dict[str, int] = {}  # str(path) -> row
        self._run_id: str | None = None
        self._task_rows: dict[str, int] = {}  # task id of the current run -> row
        self.local = False  # the run is on this computer (words for a file being finished)

    # -- Qt model interface -------------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(FileColumn)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            if 0 <= section < len(FileColumn):
                return _(_HEADERS[FileColumn(section)])
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row = self._rows[index.row()]
        column = index.column()
        item = row.input
        if role == Qt.ItemDataRole.DisplayRole:
            if column == FileColumn.NAME:
                return item.name
            if column == FileColumn.SIZE:
                return human_size(item.size)
            if column == FileColumn.DURATION:
                return clock(item.duration_s)
            if column == FileColumn.STATUS:
                return row.text(self.local)
        elif role == Qt.ItemDataRole.ToolTipRole:
            if column == FileColumn.NAME:
                return str(item.path)
            if column == FileColumn.STATUS:
                return row.text(self.local)
        elif role == Qt.ItemDataRole.DecorationRole and column == FileColumn.STATUS:
            return _status_icon(row.task.status if row.task else row.status)
        elif role == Qt.ItemDataRole.TextAlignmentRole and column in (
            FileColumn.SIZE, FileColumn.DURATION
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        elif role == FileRole.INPUT:
            return item
        elif role == FileRole.STATUS:
            return row.task.status if row.task else row.status
        elif role == FileRole.TASK:
            return row.task
        elif role == FileRole.SORT:
            if column == FileColumn.NAME:
                return item.name.casefold()
            if column == FileColumn.SIZE:
                return item.size
            if column == FileColumn.DURATION:
                return item.duration_s or 0.0
            return row.text()
        return None

    # -- our interface ------------------------------------------------------------------------

    def add_inputs(self, inputs: Iterable[InputFile]) -> int:
        """Append files not in the list yet; returns how many were new."""
        new: list[InputFile] = []
        seen: set[str] = set()
        for item in inputs:
            key = str(item.path)
            if key in self._index or key in seen:
                continue
            seen.add(key)
            new.append(item)
        if not new:
            return 0
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        for item in new:
            self._index[str(item.path)] = len(self._rows)
            self._rows.append(_Row(item))
        self.endInsertRows()
        return len(new)

    def remove_rows(self, rows: Iterable[int]) -> None:
        """Remove these rows (any order), one contiguous block at a time, from the bottom up."""
        for first, last in reversed(_ranges(sorted(set(rows)))):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._rows[first : last + 1]
            self.endRemoveRows()
        self._index = {str(r.input.path): i for i, r in enumerate(self._rows)}
        self._task_rows = {}
        self._run_id = None

    def clear(self) -> None:
        if not self._rows:
            return
        self.beginResetModel()
        self._rows.clear()
        self._index.clear()
        self._task_rows = {}
        self._run_id = None
        self.endResetModel()

    def inputs(self) -> list[InputFile]:
        return [r.input for r in self._rows]

    def input_at(self, row: int) -> InputFile:
        return self._rows[row].input

    def task_at(self, row: int) -> TaskView | None:
        return self._rows[row].task

    def status_at(self, row: int) -> FileStatus:
        r = self._rows[row]
        return r.task.status if r.task else r.status

    def to_convert(self) -> list[InputFile]:
        """Files Convert should take: acceptable ones not converted (or skipped) already."""
        return [
            r.input
            for r in self._rows
            if r.input.ok
            and (r.task is None or r.task.status not in (FileStatus.DONE, FileStatus.SKIPPED))
        ]

    def failed(self) -> list[InputFile]:
        """Files whose last run failed (Retry failed takes exactly these)."""
        return [
            r.input
            for r in self._rows
            if r.input.ok and r.task is not None and r.task.status is FileStatus.FAILED
        ]

    def apply_snapshot(self, snapshot: RunSnapshot) -> None:
        """Take each file's live status from the run; dataChanged on the changed ranges."""
        if snapshot.run_id != self._run_id:
            self._run_id = snapshot.run_id
            self._task_rows = {}
        changed: list[int] = []
        rows, task_rows = self._rows, self._task_rows
        for view in snapshot.tasks:
            i = task_rows.get(view.task_id)
            if i is None:  # first sight of this task: find its file by path, once
                i = self._index.get(str(view.input_path))
                if i is None:
                    continue
                task_rows[view.task_id] = i
            row = rows[i]
            old = row.task
            if old is view:
                continue
            row.task = view
            if old is None or (old.status, old.progress, old.reason) != (
                view.status, view.progress, view.reason
            ):
                changed.append(i)
        changed.sort()
        for first, last in coalesce(_ranges(changed)):
            self.dataChanged.emit(
                self.index(first, FileColumn.STATUS),
                self.index(last, FileColumn.STATUS),
                [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole,
                 Qt.ItemDataRole.ToolTipRole, FileRole.STATUS, FileRole.TASK, FileRole.SORT],
            )


def coalesce(ranges: list[tuple[int, int]], limit: int = 32) -> list[tuple[int, int]]:
    """Many scattered ranges become one: views repaint what is visible either way."""
    if len(ranges) <= limit:
        return ranges
    return [(ranges[0][0], ranges[-1][1])]


def _ranges(sorted_rows: Sequence[int]) -> list[tuple[int, int]]:
    """[1, 2, 3, 7, 8] -> [(1, 3), (7, 8)]."""
    out: list[tuple[int, int]] = []
    for r in sorted_rows:
        if out and r == out[-1][1] + 1:
            out[-1] = (out[-1][0], r)
        else:
            out.append((r, r))
    return out


_ICONS: dict[FileStatus, object] = {}


def _status_icon(status: FileStatus) -> object:
    """A standard icon per final state, so state is not told by colour alone."""
    if status not in _ICONS:
        # here, not at the top: QStyle's enums cost ~4 ms, and the first frame has no icons
        from PySide6.QtWidgets import QApplication, QStyle

        pixmap = {
            FileStatus.DONE: QStyle.StandardPixmap.SP_DialogApplyButton,
            FileStatus.FAILED: QStyle.StandardPixmap.SP_MessageBoxCritical,
            FileStatus.REJECTED: QStyle.StandardPixmap.SP_MessageBoxWarning,
        }.get(status)
        style = QApplication.style()
        _ICONS[status] = style.standardIcon(pixmap) if pixmap is not None and style else None
    return _ICONS[status]


class FileListView(QTableView):
    """Shows the file list; accepts drops of local files and folders (copy only).

    Signals:
        paths_dropped(list[Path]): the user dropped these local files/folders.
        remove_requested(): Delete pressed with rows selected.
    """

    paths_dropped = Signal(list)
    remove_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        own_viewport(self)  # painted on in the first frame (the hint of the empty list)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setDropIndicatorShown(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setTabKeyNavigation(False)  # Tab moves on to the next control; arrows move here
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.verticalHeader().hide()
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.horizontalHeader().setHighlightSections(False)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setAccessibleName(_("Files to convert"))
        self.setAccessibleDescription(
            _("Drop video files or folders here, or use Add files and Add folder.")
        )
        #: painted over the empty list (a property, so tests see the words too)
        self.setProperty("emptyText", _("Drop video files or folders here\n(MP4, M4V, MOV)"))

    def setModel(self, model: QAbstractItemModel | None) -> None:
        super().setModel(model)
        header = self.horizontalHeader()
        fm = self.fontMetrics()
        header.setSectionResizeMode(FileColumn.NAME, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(FileColumn.SIZE, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(FileColumn.DURATION, QHeaderView.ResizeMode.Fixed)
        header.setStretchLastSection(True)
        self.setColumnWidth(FileColumn.NAME, fm.horizontalAdvance("M" * 18))
        self.setColumnWidth(FileColumn.SIZE, fm.horizontalAdvance(human_size(999_900_000)) + 24)
        self.setColumnWidth(FileColumn.DURATION, fm.horizontalAdvance("99:99:99") + 24)
        self.verticalHeader().setDefaultSectionSize(fm.height() + 8)

    # -- drops: local files only, copy only ---------------------------------------------------

    @staticmethod
    def _local_paths(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[Path]:
        mime = event.mimeData()
        if mime is None or not mime.hasUrls():
            return []
        return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._local_paths(event):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._local_paths(event):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = self._local_paths(event)
        if not paths:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        self.paths_dropped.emit(paths)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Delete) or event.key() == Qt.Key.Key_Delete:
            selection = self.selectionModel()
            if selection is not None and selection.hasSelection():
                self.remove_requested.emit()
                return
        super().keyPressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        model = self.model()
        if model is not None and model.rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(
                self.viewport().rect().adjusted(12, 12, -12, -12),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                str(self.property("emptyText")),
            )
            painter.end()
