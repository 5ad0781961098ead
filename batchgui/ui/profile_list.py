"""The profiles list of the Azure accounts dialog, and the line that says what Save needs.

An empty list says what to do instead of staying blank; a greyed-out Save says which
fields still need something, so nobody is left guessing.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QListWidget

#: the words for each field in "To save, still needed: …"
FIELD_WORDS = {
    "name": "a profile name",
    "batch_url": "the Batch account URL",
    "batch_account": "the Batch account name",
    "batch_key": "the Batch key",
    "storage_account": "the storage account name",
    "storage_key": "the storage key",
    "storage_connection_string": "the storage connection string",
    "blob_endpoint": "a blob endpoint that works (or none)",
    "auth": "a way to sign in",
    "pool_id": "a pool id",
    "nodes": "at least one node",
    "slots_per_node": "files at once per node",
    "pool_size": "a pool size",
    "finish_in_minutes": "a time to finish in",
    "max_nodes": "the most nodes",
    "region": "a region that Azure knows (or none)",
    "currency": "a currency",
}


def save_hint(problems: dict[str, str]) -> str:
    """What Save still needs, in one line: "To save, fill in or fix: a profile name, …"."""
    if not problems:
        return ""
    words = [FIELD_WORDS.get(field, field.replace("_", " ")) for field in problems]
    return "To save, fill in or fix: " + ", ".join(words) + "."


class ProfileList(QListWidget):
    """The profiles; when there are none yet, it says what to do instead of staying blank.

    Signals: the usual ones of a QListWidget.
    """

    EMPTY_WORDS = ("No Azure accounts yet.\n\nFill in the form on the right and press "
                   "Save; the account then appears here and under \"Convert on\" in the "
                   "window.")

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.count():
            return
        painter = QPainter(self.viewport())
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(self.viewport().rect().adjusted(8, 8, -8, -8),
                         int(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft
                             | Qt.TextFlag.TextWordWrap), self.EMPTY_WORDS)
        painter.end()
