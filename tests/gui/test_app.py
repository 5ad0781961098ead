"""`batchgui` with no arguments opens the window (in a process of its own) and quits cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = r"""
import sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
class Closer(QObject):
    seen = False
    def eventFilter(self, obj, event):
        if not self.seen and event.type() == QEvent.Type.Expose and obj.isWindowType():
            self.seen = True
            QTimer.singleShot(200, self.close_all)
        return False
    def close_all(self):
        for w in QApplication.topLevelWidgets():
            if w.objectName() == "mainWindow":
                print("shown:", w.windowTitle(), flush=True)
                w.close()
closer = Closer()
app.installEventFilter(closer)
from batchgui.__main__ import main
sys.exit(main([]))
"""


def test_batchgui_opens_the_window_and_quits(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "shown: BatchGUI" in out.stdout
    assert "Traceback" not in out.stderr
    assert "QThread: Destroyed" not in out.stderr  # worker threads were stopped
    # closing saved the window's settings
    assert (tmp_path / "config" / "batchgui" / "window.json").is_file()


#: Qt classes the first paint must not make PySide build (each builds all its enums the first
#: time Python names it): dialogs' and icons' classes, and QWizard, which stands for the
#: walk over every Qt class that wrapping a Qt-made viewport once cost (~15 ms)
LATER_QT_CLASSES = {"PySide6.QtWidgets": ("QStyle", "QMessageBox", "QFileDialog",
                                          "QDialogButtonBox", "QSystemTrayIcon", "QWizard"),
                    "PySide6.QtGui": ("QGradient",)}

#: modules the window must not load before its first frame: the asyncio loop (made at the
#: first background job, ui/event_loop.py), the conversion and Azure code, media probing,
#: the run record and the accounts dialog
LATER_MODULES = ("asyncio", "qasync", "batchgui.targets", "azure", "mutagen", "sqlite3",
                 "batchgui.core.run", "batchgui.core.journal", "batchgui.planning",
                 "batchgui.ui.settings_dialog")

_FIRST_PAINT = r"""
import sys
from batchgui.ui import settings as ui_settings
from batchgui.ui.app import make_app, use_language
app = make_app()
settings = ui_settings.load()
use_language(app, settings.language)
from batchgui.ui.main_window import MainWindow
window = MainWindow(settings=settings)
window.show()
assert not window.grab().isNull()  # every panel painted, as in the first frame
print("loaded:", *sorted(m for m in sys.modules
                         if any(m == later or m.startswith(later + ".") for later in LATER)))
print("Qt classes built:", *sorted(name for module, names in LATER_QT.items()
                                   for name in names if name in vars(sys.modules[module])))
"""


def test_the_first_paint_loads_only_what_the_window_shows(tmp_path: Path) -> None:
    """Start-up speed: building, showing and painting the window leaves asyncio, the
    conversion and Azure code and the accounts dialog unloaded (they load later), and
    PySide builds none of the Qt classes the first frame does not show."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    script = f"LATER = {LATER_MODULES!r}\nLATER_QT = {LATER_QT_CLASSES!r}\n" + _FIRST_PAINT
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split("\n")[:2] == ["loaded:", "Qt classes built:"], out.stdout


def test_the_garbage_collector_is_back_on_once_the_window_is_shown(tmp_path: Path) -> None:
    """Start-up runs with Python's collector off (batchgui/__main__.py); a window left
    without it would grow with every cycle of garbage for as long as it stays open."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", BATCHGUI_CLOSE_WHEN_SHOWN="1",
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    script = ("import gc, sys\nfrom batchgui.__main__ import main\ncode = main([])\n"
              "print('collector on:', gc.isenabled())\nsys.exit(code)\n")
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split("\n")[:2] == ["BatchGUI: window shown", "collector on: True"]
