"""The profiles list of the Azure accounts dialog, and the line that says what Save needs.

An empty list says what to do instead of staying blank; a greyed-out Save says which
fields still need something, so nobody is left guessing.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QListWidget

from batchgui.i18n import N_, _, tr
from batchgui.ui.qt_fixes import own_viewport

#: the words for each field in "To save, still needed: …" (marked; shown through _())
FIELD_WORDS = {
    "name": N_("a profile name"),
    "batch_url": N_("the Batch account URL"),
    "batch_account": N_("the Batch account name"),
    "batch_key": N_("the Batch key"),
    "storage_account": N_("the storage account name"),
    "storage_key": N_("the storage key"),
    "storage_connection_string": N_("the storage connection string"),
    "blob_endpoint": N_("a blob endpoint that works (or none)"),
    "auth": N_("a way to sign in"),
    "pool_id": N_("a pool id"),
    "nodes": N_("at least one node"),
    "slots_per_node": N_("files at once per node"),
    "pool_size": N_("a pool size"),
    "finish_in_minutes": N_("a time to finish in"),
    "max_nodes": N_("the most nodes"),
    "region": N_("a region that Azure knows (or none)"),
    "currency": N_("a currency"),
}


def save_hint(problems: dict[str, str]) -> str:
    """What Save still needs, in one line: "To save, fill in or fix: a profile name, …"."""
    if not problems:
        return ""
    words = [_(FIELD_WORDS[field]) if field in FIELD_WORDS else field.replace("_", " ")
             for field in problems]
    return tr("To save, fill in or fix: {fields}.", fields=", ".join(words))


class ProfileList(QListWidget):
    """The profiles; when there are none yet, it says what to do instead of staying blank.

    Signals: the usual ones of a QListWidget.
    """

    EMPTY_WORDS = N_("No Azure accounts yet.\n\nFill in the form on the right and press "
                     "Save; the account then appears here and under \"Convert on\" in the "
                     "window.")

    def __init__(self) -> None:
        super().__init__()
        own_viewport(self)
        #: painted over the empty list (a property, so tests see the words too)
        self.setProperty("emptyText", _(self.EMPTY_WORDS))

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.count():
            return
        painter = QPainter(self.viewport())
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(self.viewport().rect().adjusted(8, 8, -8, -8),
                         int(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft
                             | Qt.TextFlag.TextWordWrap), str(self.property("emptyText")))
        painter.end()
