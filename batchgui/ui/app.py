"""`batchgui` with no arguments: the window, on a qasync event loop.

The loop is Qt's own, so widgets paint while the run's coroutine awaits; blocking
work goes to Qt worker threads through the RunController. The window is shown first,
on Qt's loop alone; the asyncio loop joins it at the first job that needs it, after the
first frame (ui/event_loop.py).
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QLibraryInfo, QLocale, Qt, QTranslator
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from batchgui import i18n
from batchgui.resources import APP_ID, icon_path
from batchgui.ui import settings as ui_settings
from batchgui.ui.event_loop import close_asyncio_loop
from batchgui.ui.first_frame import FirstFrame

if TYPE_CHECKING:
    from batchgui.ui.main_window import MainWindow

APP_NAME = "BatchGUI"
#: set to 1, the app prints WINDOW_SHOWN once the window is on screen and closes it
#: the normal way: how the bundle's tests and the start-up benchmark see the window
CLOSE_WHEN_SHOWN_ENV = "BATCHGUI_CLOSE_WHEN_SHOWN"
WINDOW_SHOWN = "BatchGUI: window shown"


def app_icon() -> QIcon:
    """The app icon shipped in the package; the icon theme's if that file is missing."""
    path = icon_path()
    if path.is_file():
        return QIcon(str(path))
    return QIcon.fromTheme(APP_ID)


def make_app() -> QApplication:
    """The QApplication, named and iconed for the desktop (the existing one if any)."""
    QApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName("batchgui")
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())
    return app


#: the language each QLocale stands for (numbers in spin boxes, Qt's own words)
_QT_LOCALES = {"en": QLocale(QLocale.Language.English, QLocale.Country.UnitedStates),
               "sv": QLocale(QLocale.Language.Swedish, QLocale.Country.Sweden)}


def use_language(app: QApplication, choice: str | None) -> str:
    """Speak `choice` ('en', 'sv'; None or 'system': the system's language) in the window:
    BatchGUI's own words (batchgui/i18n.py), Qt's standard buttons and dialogs (Qt's
    qtbase_<lang>.qm from the PySide6 wheel) and Qt's numbers. Returns the language used."""
    system = QLocale.system().uiLanguages()
    language = i18n.setup(choice, system_languages=system)
    QLocale.setDefault(_QT_LOCALES[language])
    old = app.findChild(QTranslator, "qtTranslator")
    if old is not None:
        app.removeTranslator(old)
        old.deleteLater()
    if language != "en":
        translator = QTranslator(app)
        translator.setObjectName("qtTranslator")
        folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
        if translator.load(f"qtbase_{language}", folder):
            app.installTranslator(translator)
        else:  # Qt's buttons stay English; BatchGUI's own words are still translated
            translator.deleteLater()
    return language


def open_window(paths: list[Path], settings: ui_settings.UiSettings | None = None
                ) -> MainWindow:
    """The main window, shown, with `paths` (files and folders) going into its list once
    its first frame is on screen (they are checked on worker threads anyway)."""
    from batchgui.ui.main_window import MainWindow

    window = MainWindow(settings=settings)
    FirstFrame(window, gc.enable)  # off while the window started (batchgui/__main__.py)
    if paths:
        FirstFrame(window, lambda: window.add_paths(paths))
    if os.environ.get(CLOSE_WHEN_SHOWN_ENV) == "1":  # the bundle's smoke test
        def say_shown_and_close() -> None:
            print(WINDOW_SHOWN, flush=True)
            window.close()

        FirstFrame(window, say_shown_and_close)
    window.show()
    return window


def main(paths: list[Path] | None = None) -> int:
    """Open the window, with `paths` already in its list, and run until it closes."""
    app = make_app()
    settings = ui_settings.load()  # one small file, before the loop runs
    use_language(app, settings.language)
    window = open_window(paths or [], settings)
    code = app.exec()
    window.shutdown()
    if window.leave_run_for_later:
        # the run stays in the journal as it is (the next start offers to resume it);
        # its threads may be mid-call, so end now, as a crash would, minus the surprise
        os._exit(int(code or 0))
    close_asyncio_loop()
    return int(code or 0)
