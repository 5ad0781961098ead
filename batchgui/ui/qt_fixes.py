"""Work-arounds for bugs in the Qt binding that would otherwise crash the app.

PySide6 6.12.0 on CPython 3.11 drops one reference to `True` on every signal
emitted from Python (any signal, any arguments, any Python receiver; measured in
tests/gui/test_qt_fixes.py). qasync emits one per finished worker-thread call and
the window one per snapshot, so a long run would drive True's count to zero and
abort with "Fatal Python error: bool_dealloc". From Python 3.12 on, True and
False are immortal and the bug is harmless.
"""

from __future__ import annotations

import ctypes
import sys

#: references added to True and False: at a million emits a second, 12 days of headroom
HEADROOM = 1 << 40


def guard_bool_refcounts() -> None:
    """Give True and False so many extra references that no leak can free them."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return
    for obj in (True, False):
        count = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is the first field
        if count.value < HEADROOM:
            count.value += HEADROOM
