"""The window's choices kept between sessions: put back at start, saved half a second
after the user changes one (on a worker thread, through the controller), and once more
when the window closes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QObject, QTimer, Slot

from batchgui.ui import settings as ui_settings

if TYPE_CHECKING:
    from batchgui.ui.main_window import MainWindow

#: how long after the last change the choices are written
SAVE_DELAY_MS = 500


class WindowState(QObject):
    """Reads the window's choices into UiSettings and back.

    Signals: none of its own.
    """

    def __init__(self, window: MainWindow, settings: ui_settings.UiSettings,
                 save: Callable[[ui_settings.UiSettings], None]) -> None:
        super().__init__(window)
        self._window = window
        self.settings = settings  # as last applied or saved
        self._save = save
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SAVE_DELAY_MS)
        self._timer.timeout.connect(self.save_now)

    def apply(self) -> None:
        s, w = self.settings, self._window
        w.output_panel.apply_settings(s)
        w.failed_only_check.setChecked(s.failed_only)
        w.log_toggle.setChecked(s.log_open)
        if s.geometry:
            w.restoreGeometry(QByteArray(ui_settings.unpack(s.geometry)))
        if s.splitter:
            w.main_splitter.restoreState(QByteArray(ui_settings.unpack(s.splitter)))

    def current(self) -> ui_settings.UiSettings:
        w = self._window
        output = w.output_panel
        return self.settings.replace(
            output_dir=output.folder(),
            quality=output.quality(),
            on_conflict=output.on_conflict(),
            mirror_folders=output.mirror_folders(),
            keep_tags=output.keep_tags(),
            even_loudness=output.even_loudness(),
            target=output.target_name(),
            log_open=w.log_toggle.isChecked(),
            failed_only=w.failed_only_check.isChecked(),
            geometry=ui_settings.pack(w.saveGeometry().data()),
            splitter=ui_settings.pack(w.main_splitter.saveState().data()),
        )

    @Slot()
    def schedule_save(self) -> None:
        self._timer.start()

    @Slot()
    def save_now(self) -> None:
        self._timer.stop()
        self.settings = self.current()
        self._save(self.settings)
