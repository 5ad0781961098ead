"""The Azure accounts dialog as a newcomer meets it (issues 14 and 16): words in an empty
list, a greyed Save that says what it needs, a form that stays put, and the pool size for
people who don't know node counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from batchgui import accounts
from batchgui.ui.settings_dialog import SettingsDialog
from tests.gui.test_settings_dialog import (  # noqa: F401 (fixtures)
    answer_yes,
    dialog,
    fill_work_profile,
    saved,
    type_into,
)
from tests.gui.test_window_polish import grab
from tests.unit import test_accounts as shared
from tests.unit.test_accounts import MemoryKeyring

accounts_home = shared.accounts_home
memory_keyring = shared.memory_keyring


def y_of(d: SettingsDialog, widget: Any) -> int:
    return widget.mapTo(d, QPoint(0, 0)).y()


def test_empty_list_says_what_to_do_and_save_says_what_it_needs(
    qtbot: Any, dialog: SettingsDialog, memory_keyring: MemoryKeyring,  # noqa: F811
) -> None:
    assert dialog.profile_list.count() == 0
    picture = dialog.profile_list.grab().toImage()
    background = picture.pixelColor(picture.width() - 3, picture.height() - 3)
    inked = sum(1 for x in range(10, 150) for y in range(10, 40)
                if picture.pixelColor(x, y) != background)
    assert inked > 50, "the empty list shows words"
    assert "No Azure accounts yet" in dialog.profile_list.EMPTY_WORDS

    assert not dialog.save_button.isEnabled()
    hint = dialog.status_label.text()
    assert hint.startswith("To save, fill in or fix: a profile name, the Batch account URL")
    assert dialog.save_button.toolTip() == hint
    fill_work_profile(qtbot, dialog)
    assert dialog.save_button.isEnabled() and dialog.status_label.text() == ""
    grab(dialog, "accounts-dialog-filled")


def test_the_form_stays_put_when_a_problem_appears(
    qtbot: Any, dialog: SettingsDialog, memory_keyring: MemoryKeyring,  # noqa: F811
) -> None:
    below = dialog.form.batch_account_edit
    before = y_of(dialog, below)
    type_into(qtbot, dialog, "batchUrlEdit", "http://work.westeurope.batch.azure.com")
    QApplication.processEvents()
    error = dialog.findChild(type(dialog.status_label), "batchUrlError")
    assert error.text() == "Use https:// for the Batch account URL."
    assert y_of(dialog, below) == before


def test_pool_size_choice_round_trips_and_greys_out_what_it_does_not_use(
    qtbot: Any, dialog: SettingsDialog, memory_keyring: MemoryKeyring,  # noqa: F811
    accounts_home: Path,
) -> None:
    form = dialog.form
    fill_work_profile(qtbot, dialog)
    form.pool_size_combo.setCurrentIndex(form.pool_size_combo.findData("choose"))
    assert form.dedicated_spin.isEnabled() and not form.max_nodes_spin.isEnabled()
    form.pool_size_combo.setCurrentIndex(form.pool_size_combo.findData("finish-in"))
    assert not form.dedicated_spin.isEnabled() and not form.slots_spin.isEnabled()
    assert form.finish_in_spin.isEnabled() and form.max_nodes_spin.isEnabled()
    form.finish_in_spin.setValue(20)
    form.max_nodes_spin.setValue(6)
    form.allow_spot_check.setChecked(True)
    assert "westeurope (from the account URL)" == form.region_edit.placeholderText()
    type_into(qtbot, dialog, "regionEdit", "northeurope")
    form.currency_combo.setCurrentIndex(form.currency_combo.findData("SEK"))
    grab(form, "pool-size-form")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: saved(dialog), timeout=5000)

    [profile] = accounts.load_profiles()
    assert (profile.pool_size, profile.finish_in_minutes, profile.max_nodes,
            profile.allow_spot, profile.region, profile.currency) == (
        "finish-in", 20, 6, True, "northeurope", "SEK")

    again = SettingsDialog()
    qtbot.addWidget(again)
    shown = again.form
    assert shown.pool_size_combo.currentData() == "finish-in"
    assert (shown.finish_in_spin.value(), shown.max_nodes_spin.value()) == (20, 6)
    assert shown.allow_spot_check.isChecked()
    assert shown.region_edit.text() == "northeurope"
    assert shown.currency_combo.currentData() == "SEK"
    assert not shown.dedicated_spin.isEnabled()
