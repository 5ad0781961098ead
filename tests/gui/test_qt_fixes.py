"""PySide6 6.12.0 loses references to True (one per signal emitted from Python) and to None
(two per QTimer.start()); ui/qt_fixes.py gives them enough spare references that a long
run never frees them.

Each case runs in a child process, since the failure is a hard abort ("Fatal Python
error: bool_dealloc"): more emits (or timer starts) than True (or None) had references
at the start. With the guard the child lives; without it, on CPython 3.11 it dies, which
shows the bug is still there and that the test reaches it. From Python 3.12 on True and
None are immortal (PEP 683: their reference count is fixed and never reaches zero), so
there the unguarded child must live too, as qt_fixes says.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMMORTAL = sys.version_info >= (3, 12)

CHILD = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

    guard, what = sys.argv[1] == "guard", sys.argv[2]
    app = QCoreApplication(sys.argv[:1])
    start = {"true": sys.getrefcount(True), "none": sys.getrefcount(None)}[what]
    if guard:
        from batchgui.ui.qt_fixes import guard_bool_refcounts
        guard_bool_refcounts()
    # enough to use up every reference the object had (capped where it is immortal)
    rounds = min(start + 5000, 200_000)

    class Emitter(QObject):
        fired = Signal()

    if what == "true":
        emitter = Emitter()
        emitter.fired.connect(lambda: None)
        for _ in range(rounds):
            emitter.fired.emit()
    else:
        timer = QTimer()
        for _ in range(rounds):
            timer.start(10)
            timer.stop()
    print("survived", rounds, flush=True)
    """
)


def child(guard: bool, what: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-c", CHILD, "guard" if guard else "bare", what],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.parametrize(("what", "name"), [("true", "True"), ("none", "None")])
def test_a_long_run_survives_the_lost_references(what: str, name: str) -> None:
    guarded = child(True, what)
    assert guarded.returncode == 0, guarded.stderr[-2000:]
    assert guarded.stdout.startswith("survived")

    bare = child(False, what)
    if IMMORTAL:
        assert bare.returncode == 0, bare.stderr[-2000:]  # harmless where immortal
    else:
        assert bare.returncode != 0 and "Fatal Python error" in bare.stderr, (
            f"PySide6 no longer loses references to {name}: ui/qt_fixes.py can go"
        )
