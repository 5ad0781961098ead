"""The node grid: one coloured square per compute node, painted by hand.

No widget per node: a thousand nodes are a thousand rectangles grouped by colour
and drawn with a few `drawRects` calls. Spot nodes carry a corner mark; running
nodes get darker the busier they are; any state the service invents later gets
a fallback colour rather than a crash. The legend (NodeLegend) counts nodes per
state in words, so colour is never the only cue.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from PySide6.QtCore import QEvent, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFocusEvent,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPolygon,
)
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolTip, QWidget

from batchgui.core.models import NodeState, NodeView
from batchgui.i18n import _, pgettext, tr, trn

#: colours chosen to read on light and dark backgrounds alike
STATE_COLOURS: dict[str, str] = {
    NodeState.IDLE: "#7cb87f",
    NodeState.RUNNING: "#1e88e5",
    NodeState.CREATING: "#b0bec5",
    NodeState.STARTING: "#ffd54f",
    NodeState.WAITING_FOR_START_TASK: "#ffa000",
    NodeState.START_TASK_FAILED: "#e53935",
    NodeState.UNUSABLE: "#8e24aa",
    NodeState.OFFLINE: "#757575",
    NodeState.PREEMPTED: "#f4511e",
    NodeState.LEAVING_POOL: "#8d6e63",
    NodeState.REBOOTING: "#4dd0e1",
    NodeState.REIMAGING: "#26a69a",
    NodeState.UNKNOWN: "#cfd8dc",
}
#: any state not in NodeState (the service may add some)
FALLBACK_COLOUR = "#ec407a"
OTHER = "other"

def state_words(key: str) -> str:
    """A legend bucket (state_key) in the words the legend and tooltips use."""
    words: dict[str, str] = {  # keyed like STATE_COLOURS: NodeState is a StrEnum
        NodeState.IDLE: pgettext("node state", "idle"),
        NodeState.RUNNING: pgettext("node state", "running"),
        NodeState.CREATING: pgettext("node state", "creating"),
        NodeState.STARTING: pgettext("node state", "starting"),
        NodeState.WAITING_FOR_START_TASK: pgettext("node state", "installing ffmpeg"),
        NodeState.START_TASK_FAILED: pgettext("node state", "setup failed"),
        NodeState.UNUSABLE: pgettext("node state", "unusable"),
        NodeState.OFFLINE: pgettext("node state", "offline"),
        NodeState.PREEMPTED: pgettext("node state", "preempted"),
        NodeState.LEAVING_POOL: pgettext("node state", "leaving"),
        NodeState.REBOOTING: pgettext("node state", "rebooting"),
        NodeState.REIMAGING: pgettext("node state", "reimaging"),
        NodeState.UNKNOWN: pgettext("node state", "unknown"),
    }
    return words.get(key) or pgettext("node state", "other")


_RUNNING_LIGHT = QColor("#90caf9")  # one task on a node with many slots
_RUNNING_DARK = QColor("#0d47a1")  # every slot busy


def state_key(state: NodeState | str) -> str:
    """The legend bucket of a state: a known state's value, else 'other'."""
    value = str(state)
    return value if value in STATE_COLOURS else OTHER


def node_colour(node: NodeView) -> QColor:
    """The square's colour: by state, running shaded from light (few tasks) to dark (full)."""
    return _colour(state_key(node.state), node.running_tasks, node.slots)


@lru_cache(maxsize=1024)
def _colour(key: str, running_tasks: int, slots: int) -> QColor:
    if key == NodeState.RUNNING:
        busy = min(1.0, running_tasks / max(1, slots)) if running_tasks else 1.0
        t = busy if slots > 1 else 1.0
        a, b = _RUNNING_LIGHT, _RUNNING_DARK
        return QColor(
            round(a.red() + (b.red() - a.red()) * t),
            round(a.green() + (b.green() - a.green()) * t),
            round(a.blue() + (b.blue() - a.blue()) * t),
        )
    return QColor(STATE_COLOURS.get(key, FALLBACK_COLOUR))


def node_tooltip(node: NodeView) -> str:
    key = state_key(node.state)
    if key == OTHER:
        word = tr("{state} (a state this version does not know)", state=str(node.state))
    else:
        word = state_words(key)
    lines = [
        f"{node.node_id}",
        tr("Spot node, {state}", state=word) if node.is_spot
        else tr("Dedicated node, {state}", state=word),
        trn("Running {running} of {n} task slot", "Running {running} of {n} task slots",
            node.slots, running=node.running_tasks),
    ]
    if node.errors:
        lines.append(tr("Errors: {errors}", errors="; ".join(node.errors[:3])))
        if len(node.errors) > 3:
            lines.append(trn("… and {n} more", "… and {n} more", len(node.errors) - 3))
    return "\n".join(lines)


class NodeGrid(QWidget):
    """A heat map of nodes; hover (or focus and arrow keys) shows a node's details.

    Signals:
        counts_changed(dict[str, int]): nodes per legend bucket, when they change.
    """

    counts_changed = Signal(dict)

    MAX_CELL = 40
    MIN_CELL = 4

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._nodes: tuple[NodeView, ...] = ()
        self._colours: list[QColor] = []
        self._counts: dict[str, int] = {}
        self._layout_key: tuple[int, int, int] | None = None
        self._cell = self.MAX_CELL
        self._gap = 2
        self._columns = 1
        self._current = -1  # keyboard focus among nodes
        self._local = False
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        # Qt fills the background with the Base colour before each paintEvent (a fillRect
        # from Python would build QGradient's enums, ~1.5 ms, in the window's first frame)
        self.setBackgroundRole(QPalette.ColorRole.Base)
        self.setAutoFillBackground(True)
        self.setAccessibleName(_("Compute nodes"))
        self.setAccessibleDescription(nothing_words(False))
        #: painted over the empty grid (a property, so tests see the words too)
        self.setProperty("emptyText", _("Nodes appear here when a run starts"))
        self.setMouseTracking(False)

    # -- data ---------------------------------------------------------------------------------

    @property
    def nodes(self) -> tuple[NodeView, ...]:
        return self._nodes

    @property
    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def set_nodes(self, nodes: Sequence[NodeView]) -> None:
        """Show these nodes; repaints later (once) only if something visible changed."""
        nodes = tuple(nodes)
        if nodes == self._nodes:
            return
        self._nodes = nodes
        self._colours = [node_colour(n) for n in nodes]
        counts = dict(Counter(state_key(n.state) for n in nodes))
        if self._current >= len(nodes):
            self._current = len(nodes) - 1
        if counts != self._counts:
            self._counts = counts
            self.setAccessibleDescription(summary(counts) or nothing_words(self._local))
            self.counts_changed.emit(dict(counts))
        self._layout_key = None
        self.update()

    def set_local(self, local: bool) -> None:
        """Speak of this computer's "slots" rather than a pool's "nodes"."""
        self._local = local
        self.setAccessibleName(_("Slots") if local else _("Compute nodes"))
        self.setProperty("emptyText", _("Slots appear here when a run starts") if local
                         else _("Nodes appear here when a run starts"))
        if not self._nodes:
            self.setAccessibleDescription(nothing_words(local))
        self.update()

    # -- geometry -----------------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        return QSize(360, 180)

    def minimumSizeHint(self) -> QSize:
        return QSize(120, 60)

    def _update_layout(self) -> None:
        key = (len(self._nodes), self.width(), self.height())
        if key == self._layout_key:
            return
        self._layout_key = key
        n = max(1, len(self._nodes))
        w, h = max(1, self.width() - 8), max(1, self.height() - 8)
        cell = self.MIN_CELL
        for size in range(self.MAX_CELL, self.MIN_CELL - 1, -1):
            gap = max(1, size // 7)
            cols = max(1, (w + gap) // (size + gap))
            rows = math.ceil(n / cols)
            if rows * (size + gap) - gap <= h:
                cell = size
                break
        self._cell = cell
        self._gap = max(1, cell // 7)
        self._columns = max(1, (w + self._gap) // (cell + self._gap))

    def _cell_rect(self, i: int) -> QRect:
        row, col = divmod(i, self._columns)
        step = self._cell + self._gap
        return QRect(4 + col * step, 4 + row * step, self._cell, self._cell)

    def node_at(self, pos: QPoint) -> int:
        """Index of the node under `pos`, or -1."""
        self._update_layout()
        step = self._cell + self._gap
        x, y = pos.x() - 4, pos.y() - 4
        if x < 0 or y < 0 or x % step >= self._cell or y % step >= self._cell:
            return -1
        col, row = x // step, y // step
        if col >= self._columns:
            return -1
        i = row * self._columns + col
        return i if i < len(self._nodes) else -1

    # -- painting -----------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        palette = self.palette()
        if not self._nodes:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(
                self.rect().adjusted(8, 8, -8, -8),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                str(self.property("emptyText")),
            )
            painter.end()
            return
        self._update_layout()
        clip = event.rect()
        by_colour: dict[int, tuple[QColor, list[QRect]]] = {}
        spot_marks: list[tuple[QRect, bool]] = []
        for i, colour in enumerate(self._colours):
            rect = self._cell_rect(i)
            if not clip.intersects(rect):
                continue
            key = colour.rgb()
            if key not in by_colour:
                by_colour[key] = (colour, [])
            by_colour[key][1].append(rect)
            if self._nodes[i].is_spot:
                spot_marks.append((rect, colour.lightnessF() > 0.55))
        painter.setPen(Qt.PenStyle.NoPen)
        for colour, rects in by_colour.values():
            painter.setBrush(colour)
            painter.drawRects(rects)
        if spot_marks and self._cell >= 6:
            # a corner triangle: dark on light squares, light on dark ones
            size = max(3, self._cell // 2)
            for rect, light in spot_marks:
                painter.setBrush(QColor(0, 0, 0, 150) if light else QColor(255, 255, 255, 190))
                right, top = rect.right() + 1, rect.top()
                painter.drawPolygon(
                    QPolygon([QPoint(right - size, top), QPoint(right, top),
                              QPoint(right, top + size)])
                )
        if self.hasFocus() and 0 <= self._current < len(self._nodes):
            pen = painter.pen()
            pen.setStyle(Qt.PenStyle.SolidLine)
            pen.setColor(palette.color(QPalette.ColorRole.Highlight))
            pen.setWidth(2)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self._cell_rect(self._current).adjusted(-2, -2, 1, 1))
        painter.end()

    # -- tooltips, mouse and keys -------------------------------------------------------------

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            help_event = event
            i = self.node_at(help_event.pos())
            if i >= 0:
                QToolTip.showText(
                    help_event.globalPos(), node_tooltip(self._nodes[i]), self,
                    self._cell_rect(i),
                )
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        i = self.node_at(event.position().toPoint())
        if i >= 0:
            self._current = i
            self.update()
        super().mousePressEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self._nodes:
            super().keyPressEvent(event)
            return
        self._update_layout()
        moves = {
            Qt.Key.Key_Left: -1,
            Qt.Key.Key_Right: 1,
            Qt.Key.Key_Up: -self._columns,
            Qt.Key.Key_Down: self._columns,
        }
        key = Qt.Key(event.key())
        if key in moves:
            current = max(0, self._current)
            self._current = min(len(self._nodes) - 1, max(0, current + moves[key]))
        elif key == Qt.Key.Key_Home:
            self._current = 0
        elif key == Qt.Key.Key_End:
            self._current = len(self._nodes) - 1
        else:
            super().keyPressEvent(event)
            return
        self.update()
        self._show_current()

    def focusInEvent(self, event: QFocusEvent) -> None:
        if self._current < 0 and self._nodes:
            self._current = 0
        self.update()
        super().focusInEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self.update()
        super().focusOutEvent(event)

    def _show_current(self) -> None:
        if 0 <= self._current < len(self._nodes):
            node = self._nodes[self._current]
            rect = self._cell_rect(self._current)
            QToolTip.showText(self.mapToGlobal(rect.bottomRight()), node_tooltip(node), self, rect)
            self.setAccessibleDescription(node_tooltip(node).replace("\n", ", "))


def nothing_words(local: bool) -> str:
    """What the legend and the grid say before any node (or slot) is there."""
    return _("No slots in use yet") if local else _("No nodes yet")


def summary(counts: dict[str, int]) -> str:
    """'3 running, 1 idle' in the legend's order."""
    parts = [f"{counts[k]} {state_words(k)}" for k in _LEGEND_ORDER if counts.get(k)]
    return ", ".join(parts)


_LEGEND_ORDER = [
    NodeState.RUNNING, NodeState.IDLE, NodeState.CREATING, NodeState.STARTING,
    NodeState.WAITING_FOR_START_TASK, NodeState.START_TASK_FAILED, NodeState.UNUSABLE,
    NodeState.OFFLINE, NodeState.PREEMPTED, NodeState.LEAVING_POOL, NodeState.REBOOTING,
    NodeState.REIMAGING, NodeState.UNKNOWN, OTHER,
]


class NodeLegend(QLabel):
    """Counts per state with colour swatches (only the states present), plus the Spot mark.

    Signals: none of its own.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setAccessibleName(_("Node legend"))
        self._has_spot = False
        self._local = False
        self._counts: dict[str, int] = {}
        self.set_counts({})

    def set_local(self, local: bool) -> None:
        """Count "slots" of this computer rather than "nodes" of a pool."""
        self._local = local
        self.set_counts(self._counts, self._has_spot)

    def set_counts(self, counts: dict[str, int], has_spot: bool = False) -> None:
        self._has_spot = has_spot
        self._counts = dict(counts)
        parts = []
        for key in _LEGEND_ORDER:
            n = counts.get(key)
            if not n:
                continue
            colour = STATE_COLOURS.get(key, FALLBACK_COLOUR)
            parts.append(
                f'<span style="color:{colour}; font-size:large">■</span>&nbsp;'
                f"{state_words(key).replace(' ', '&nbsp;')}&nbsp;{n}"  # never split
            )
        if has_spot:
            parts.append("◥&nbsp;Spot")
        total = sum(counts.values())
        nothing = nothing_words(self._local)
        if not parts:
            self.setText(nothing)
        else:
            heading = (trn("<b>{n}</b> slot:", "<b>{n}</b> slots:", total) if self._local
                       else trn("<b>{n}</b> node:", "<b>{n}</b> nodes:", total))
            self.setText(heading + " " + " &nbsp; ".join(parts))
        self.setAccessibleDescription(summary(counts) or nothing)
