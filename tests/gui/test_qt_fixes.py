"""The PySide6 refcount work-around keeps True alive however many signals are emitted."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, Signal

from batchgui.ui.qt_fixes import HEADROOM, guard_bool_refcounts


class _Emitter(QObject):
    fired = Signal()


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="True is immortal from Python 3.12")
def test_true_survives_many_python_emits(qapp) -> None:  # type: ignore[no-untyped-def]
    guard_bool_refcounts()
    emitter = _Emitter()
    emitter.fired.connect(lambda: None)
    before = sys.getrefcount(True)
    for _ in range(1000):
        emitter.fired.emit()
    lost = before - sys.getrefcount(True)
    assert lost in (0, 1000)  # 1000 with the PySide6 6.12.0 bug, 0 once it is fixed
    assert sys.getrefcount(True) > HEADROOM // 2


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12")
def test_none_survives_many_timer_starts(qapp) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QTimer

    guard_bool_refcounts()
    timer = QTimer()
    for _ in range(1000):
        timer.start(10)
        timer.stop()
    assert sys.getrefcount(None) > HEADROOM // 2
