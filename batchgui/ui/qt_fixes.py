"""Work-arounds for the Qt binding's bugs and traps.

guard_bool_refcounts: PySide6 6.12.0 on CPython 3.11 drops references to the
singletons: one to `True` on every signal emitted from Python and on every
connect/disconnect, two to `None` on every QTimer.start() (measured in
tests/gui/test_qt_fixes.py). qasync emits one signal per finished worker-thread call and
the window one per snapshot, so a long run would drive a count to zero and abort with
"Fatal Python error: bool_dealloc" (or none_dealloc). From Python 3.12 on these objects
are immortal and the bug is harmless.

own_viewport: the first time PySide6 6.12 hands Python a scroll area's viewport that Qt
made, it builds every Qt class it knows to find the viewport's type: about 120 enums and
15 ms, once, which the empty file list's hint paid in the window's first frame.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

#: references added to True, False and None: at a million emits a second, 12 days of headroom
HEADROOM = 1 << 40


def guard_bool_refcounts() -> None:
    """Give True, False and None so many extra references that no leak can free them."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return
    for obj in (True, False, None):
        count = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is the first field
        if count.value < HEADROOM:
            count.value += HEADROOM


def own_viewport(view: QAbstractScrollArea) -> None:
    """Give `view` a viewport made from Python, set up as Qt sets up its own (call it first
    thing, before anything else configures the viewport)."""
    viewport = QWidget()
    viewport.setObjectName("qt_scrollarea_viewport")
    viewport.setBackgroundRole(QPalette.ColorRole.Base)
    viewport.setAutoFillBackground(True)
    view.setViewport(viewport)  # the view owns it from here
