"""From the window: Azure accounts… opens the dialog; a saved profile becomes a target."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QComboBox, QPushButton

from batchgui.ui.settings_dialog import SettingsDialog
from tests.gui.test_settings_dialog import fill_work_profile, saved
from tests.unit import test_accounts as shared
from tests.unit.test_accounts import MemoryKeyring

accounts_home = shared.accounts_home
memory_keyring = shared.memory_keyring


def open_dialog(qtbot: Any, window: Any) -> SettingsDialog:
    button = window.findChild(QPushButton, "accountsButton")
    assert button is not None and button.isVisible()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(isinstance(w, SettingsDialog) and w.isVisible()
                                for w in QApplication.topLevelWidgets()), timeout=5000)
    return next(w for w in QApplication.topLevelWidgets()
                if isinstance(w, SettingsDialog) and w.isVisible())


def targets(window: Any) -> dict[str, str]:
    combo = window.findChild(QComboBox, "targetCombo")
    return {combo.itemData(i): combo.itemText(i) for i in range(combo.count())}


def test_a_profile_saved_in_the_dialog_appears_in_the_target_selector(
    qtbot: Any, memory_keyring: MemoryKeyring, window: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(SettingsDialog, "_confirm", lambda self, question: True)
    assert "work" not in targets(window)
    dialog = open_dialog(qtbot, window)
    fill_work_profile(qtbot, dialog)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: saved(dialog), timeout=5000)
    qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: targets(window).get("work") == "Azure Batch: work", timeout=5000)
