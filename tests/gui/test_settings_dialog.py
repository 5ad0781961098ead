"""Settings > Azure accounts as a user meets it: type, see what is wrong, save, test, remove."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QLineEdit, QWidget

from batchgui import accounts
from batchgui.targets import registry
from batchgui.ui.settings_dialog import SettingsDialog
from batchgui.ui.workers import Workers
from tests.unit import test_accounts as shared
from tests.unit.test_accounts import BATCH_KEY, STORAGE_KEY, MemoryKeyring, key_of

accounts_home = shared.accounts_home
memory_keyring = shared.memory_keyring
fail_keyring = shared.fail_keyring


def child(widget: QWidget, cls: type, name: str) -> Any:
    found = widget.findChild(cls, name)
    assert found is not None, f"no {cls.__name__} named {name!r}"
    return found


def type_into(qtbot: Any, dialog: QWidget, name: str, text: str) -> None:
    edit = child(dialog, QLineEdit, name)
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(edit, text)


def shown_error(dialog: QWidget, name: str) -> str:
    label = child(dialog, QLabel, name)
    return label.text() if label.isVisibleTo(dialog) else ""


@pytest.fixture(autouse=True)
def answer_yes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Questions ("Discard the changes?") answer Yes unless a test says otherwise; a real
    message box would wait forever for a click when pytest-qt closes a dirty dialog."""
    monkeypatch.setattr(SettingsDialog, "_confirm", lambda self, question: True)


@pytest.fixture
def dialog(qtbot: Any, qloop: Any) -> Any:
    d = SettingsDialog()
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    return d


def fill_work_profile(qtbot: Any, d: SettingsDialog, batch_key: str = BATCH_KEY,
                      storage_key: str = STORAGE_KEY) -> None:
    type_into(qtbot, d, "nameEdit", "work")
    type_into(qtbot, d, "batchUrlEdit", "work.westeurope.batch.azure.com")
    type_into(qtbot, d, "batchKeyEdit", batch_key)
    type_into(qtbot, d, "storageAccountEdit", "workstore")
    type_into(qtbot, d, "storageKeyEdit", storage_key)


def saved(d: SettingsDialog) -> bool:
    return d.status_label.text().startswith("Saved")


def scan_for_keys(folder: Path, keys: list[str]) -> list[str]:
    hits = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path}" for k in keys if k.encode() in data]
    return hits


def test_add_a_profile_by_typing_and_clicking_save(
    qtbot: Any, dialog: SettingsDialog, memory_keyring: MemoryKeyring, accounts_home: Path,
) -> None:
    changed: list[bool] = []
    dialog.profiles_changed.connect(lambda: changed.append(True))
    fill_work_profile(qtbot, dialog)
    # the account name came from the URL
    assert child(dialog, QLineEdit, "batchAccountEdit").text() == "work"
    dialog.spot_spin.setValue(4)
    dialog.dedicated_spin.setValue(0)
    assert dialog.save_button.isEnabled()
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: saved(dialog), timeout=5000)

    assert changed == [True]
    assert dialog.profile_list.count() == 1
    assert dialog.profile_list.currentItem().text() == "work"
    account, pool = accounts.load_account("work")
    assert account.batch_key == BATCH_KEY and account.storage_key == STORAGE_KEY
    assert (pool.dedicated_nodes, pool.spot_nodes) == (0, 4)
    assert ("work", "Azure Batch: work") in registry.available_targets()
    # the form never shows a saved key again
    key_edit = child(dialog, QLineEdit, "batchKeyEdit")
    assert key_edit.text() == "" and "keyring" in key_edit.placeholderText()
    assert scan_for_keys(accounts_home, [BATCH_KEY, STORAGE_KEY]) == []


def test_fields_are_checked_as_you_type(qtbot: Any, dialog: SettingsDialog,
                                        memory_keyring: MemoryKeyring) -> None:
    assert not dialog.save_button.isEnabled()
    assert shown_error(dialog, "batchUrlError") == ""  # nothing red before typing

    type_into(qtbot, dialog, "batchUrlEdit", "http://work.batch.azure.com")
    assert "https" in shown_error(dialog, "batchUrlError")
    type_into(qtbot, dialog, "batchUrlEdit", "https://work.westeurope.batch.azure.com")
    assert shown_error(dialog, "batchUrlError") == ""

    type_into(qtbot, dialog, "batchKeyEdit", BATCH_KEY[:60])
    assert "88 characters" in shown_error(dialog, "batchKeyError")
    assert BATCH_KEY[:60] not in shown_error(dialog, "batchKeyError")
    type_into(qtbot, dialog, "batchKeyEdit", BATCH_KEY)
    assert shown_error(dialog, "batchKeyError") == ""

    type_into(qtbot, dialog, "nameEdit", "my work")
    assert "no spaces" in shown_error(dialog, "nameError")
    type_into(qtbot, dialog, "storageAccountEdit", "Work_Store")
    assert "lower-case" in shown_error(dialog, "storageAccountError")

    dialog.dedicated_spin.setValue(0)
    dialog.spot_spin.setValue(0)
    assert "at least one node" in shown_error(dialog, "nodesError")
    assert not dialog.save_button.isEnabled()

    type_into(qtbot, dialog, "nameEdit", "work")
    type_into(qtbot, dialog, "storageAccountEdit", "workstore")
    type_into(qtbot, dialog, "storageKeyEdit", STORAGE_KEY)
    dialog.spot_spin.setValue(1)
    assert dialog.save_button.isEnabled()

    # a connection string instead of a storage key
    dialog.storage_mode_combo.setCurrentIndex(
        dialog.storage_mode_combo.findData(accounts.STORAGE_BY_CONNECTION_STRING))
    assert not dialog.storage_key_edit.isVisibleTo(dialog)
    assert dialog.connection_string_edit.isVisibleTo(dialog)
    type_into(qtbot, dialog, "connectionStringEdit", "AccountName=workstore;AccountKey=abc")
    assert "not a whole key" in shown_error(dialog, "connectionStringError")
    assert not dialog.save_button.isEnabled()


def test_no_keyring_says_so_and_session_only_works(
    qtbot: Any, dialog: SettingsDialog, fail_keyring: None, tmp_path: Path,
) -> None:
    fill_work_profile(qtbot, dialog)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    banner = dialog.keyring_banner
    qtbot.waitUntil(banner.isVisible, timeout=5000)
    message = child(dialog, QLabel, "keyringMessageLabel").text()
    assert "no system keyring" in message and "plain file" in message
    assert accounts.profile_names() == []  # nothing saved yet

    qtbot.mouseClick(child(dialog, type(dialog.session_only_button), "sessionOnlyButton"),
                     Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: saved(dialog), timeout=5000)
    assert not banner.isVisible()
    assert "this session only" in dialog.status_label.text()
    assert accounts.load_account("work")[0].batch_key == BATCH_KEY
    assert "this session" in dialog.batch_key_edit.placeholderText()
    assert scan_for_keys(tmp_path, [BATCH_KEY, STORAGE_KEY]) == []


def test_test_connection_runs_off_the_gui_thread_and_shows_each_service(
    qtbot: Any, dialog: SettingsDialog, memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}

    def fake_test(account: Any) -> dict[str, str]:
        seen["thread"] = threading.current_thread()
        seen["account"] = account
        time.sleep(0.5)  # the window keeps painting meanwhile
        return {"batch": "ok",
                "storage": "Azure Storage did not accept the storage account key. Copy it again."}

    monkeypatch.setattr(registry, "test_connection", fake_test)
    fill_work_profile(qtbot, dialog)
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "checking" in dialog.batch_result_label.text(), timeout=2000)
    assert not dialog.test_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=5000)

    assert seen["thread"] is not threading.main_thread()
    assert seen["account"].batch_key == BATCH_KEY
    assert dialog.batch_result_label.text() == "Batch: OK"
    assert dialog.storage_result_label.text().startswith("Storage: Azure Storage did not accept")


def test_a_saved_profile_is_tested_edited_and_removed_with_its_keys(
    qtbot: Any, qloop: Any, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch,
) -> None:
    accounts.save_profile(shared.work_profile(), shared.KEYS)
    accounts.save_profile(shared.work_profile(name="home"),
                          accounts.Secrets(batch_key=key_of("h"), storage_key=key_of("i")))
    d = SettingsDialog()
    qtbot.addWidget(d)
    d.show()
    assert [d.profile_list.item(i).text() for i in range(d.profile_list.count())] == [
        "work", "home"]
    assert d.name_edit.text() == "work" and d.batch_key_edit.text() == ""

    # testing uses the saved keys without showing them
    used: list[Any] = []
    monkeypatch.setattr(registry, "test_connection",
                        lambda account: used.append(account) or {"batch": "ok", "storage": "ok"})
    qtbot.mouseClick(d.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: d.storage_result_label.text() == "Storage: OK", timeout=5000)
    assert used[0].batch_key == BATCH_KEY

    # edit the pool, keep the keys
    d.spot_spin.setValue(7)
    qtbot.mouseClick(d.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: saved(d), timeout=5000)
    account, pool = accounts.load_account("work")
    assert pool.spot_nodes == 7 and account.storage_key == STORAGE_KEY

    monkeypatch.setattr(d, "_confirm", lambda question: True)
    qtbot.mouseClick(d.remove_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: d.profile_list.count() == 1, timeout=5000)
    assert accounts.profile_names() == ["home"]
    assert all(not user.startswith("work/") for _, user in memory_keyring.entries)
    assert d.name_edit.text() == "home"


def test_switching_profiles_asks_before_dropping_changes(
    qtbot: Any, qloop: Any, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch,
) -> None:
    accounts.save_profile(shared.work_profile(), shared.KEYS)
    accounts.save_profile(shared.work_profile(name="home"), shared.KEYS)
    d = SettingsDialog()
    qtbot.addWidget(d)
    questions: list[str] = []
    monkeypatch.setattr(d, "_confirm", lambda q: questions.append(q) or False)
    type_into(qtbot, d, "poolIdEdit", "changed")
    d.profile_list.setCurrentRow(1)
    assert questions and d.name_edit.text() == "work" and d.pool_id_edit.text() == "changed"
    assert d.profile_list.currentRow() == 0


def test_entra_id_needs_no_keys(qtbot: Any, dialog: SettingsDialog,
                                memory_keyring: MemoryKeyring) -> None:
    dialog.auth_combo.setCurrentIndex(dialog.auth_combo.findData(accounts.AUTH_ENTRA))
    assert not dialog.batch_key_edit.isVisibleTo(dialog)
    assert not dialog.storage_key_edit.isVisibleTo(dialog)
    assert dialog.tenant_edit.isVisibleTo(dialog)
    type_into(qtbot, dialog, "nameEdit", "sso")
    type_into(qtbot, dialog, "batchUrlEdit", "https://sso.westeurope.batch.azure.com")
    type_into(qtbot, dialog, "storageAccountEdit", "ssostore")
    assert dialog.save_button.isEnabled()
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: saved(dialog), timeout=5000)
    assert accounts.get_profile("sso").auth == accounts.AUTH_ENTRA
    assert memory_keyring.entries == {}


def test_device_code_instructions_from_a_worker_thread_appear(
    qtbot: Any, dialog: SettingsDialog,
) -> None:
    message = "To sign in to Azure for 'sso', open https://microsoft.com/devicelogin and enter ABC"
    worker = threading.Thread(target=dialog._prompt_from_worker, args=(message,))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: dialog.sign_in_label.isVisible(), timeout=5000)
    assert dialog.sign_in_label.text() == message


def test_closing_while_a_test_runs_is_harmless(
    qtbot: Any, qloop: Any, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The dialog is closed (and deleted, as the window opens it) while "Test connection"
    waits for an answer; the late answer must touch nothing that is gone."""
    started, release = threading.Event(), threading.Event()

    def waiting_check(account: Any) -> dict[str, str]:
        started.set()
        release.wait(30)
        return {"batch": "ok", "storage": "ok"}

    monkeypatch.setattr(registry, "test_connection", waiting_check)
    errors: list[dict[str, Any]] = []
    qloop.set_exception_handler(lambda loop, context: errors.append(context))
    workers = Workers()
    d = SettingsDialog(workers=workers)
    d.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    gone: list[bool] = []
    d.destroyed.connect(lambda: gone.append(True))
    d.show()
    fill_work_profile(qtbot, d)
    qtbot.mouseClick(d.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(started.is_set, timeout=5000)
    d.reject()
    qtbot.waitUntil(lambda: bool(gone), timeout=5000)  # the C++ dialog is deleted

    release.set()  # now the answer comes back
    qtbot.waitUntil(lambda: workers.pending == 0, timeout=5000)
    qtbot.waitUntil(lambda: all(t.done() for t in asyncio.all_tasks(qloop)), timeout=5000)
    processed: list[bool] = []
    qloop.call_soon(processed.append, True)  # after every callback already queued
    qtbot.waitUntil(lambda: bool(processed), timeout=5000)
    workers.close()
    assert errors == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


QUIT_DURING_SIGN_IN = """
import asyncio, sys, threading
import qasync
from PySide6.QtWidgets import QApplication
from batchgui import accounts
from batchgui.targets import registry
from batchgui.ui.settings_dialog import SettingsDialog
from batchgui.ui.workers import Workers

app = QApplication(sys.argv[:1])
app.setQuitOnLastWindowClosed(False)
loop = qasync.QEventLoop(app)
asyncio.set_event_loop(loop)
waiting = threading.Event()

def never_signs_in(account):  # a device code the user never enters
    waiting.set()
    threading.Event().wait()

registry.test_connection = never_signs_in

async def main():
    workers = Workers()  # as the window's controller owns them
    d = SettingsDialog(workers=workers)
    d.show()
    d.auth_combo.setCurrentIndex(d.auth_combo.findData(accounts.AUTH_ENTRA))
    d.name_edit.setText("sso")
    d.form.batch_url_edit.setText("https://sso.westeurope.batch.azure.com")
    d.form.batch_account_edit.setText("sso")
    d.form.storage_account_edit.setText("ssostore")
    d.test_button.click()
    while not waiting.is_set():
        await asyncio.sleep(0.01)
    d._confirm = lambda question: True
    d.reject()
    workers.close()  # what quitting does (RunController.close_workers)
    print("closed", flush=True)

with loop:
    loop.run_until_complete(main())
print("quitting", flush=True)
"""


def test_quitting_does_not_wait_for_a_sign_in(tmp_path: Path) -> None:
    """An Entra ID device-code sign-in waits up to 15 minutes for the user and cannot be
    interrupted: the app must still quit at once when the user closes it meanwhile."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(root),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    proc = subprocess.run([sys.executable, "-c", QUIT_DURING_SIGN_IN], env=env, cwd=root,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["closed", "quitting"]
    assert "Traceback" not in proc.stderr


def contrast(a: QColor, b: QColor) -> float:
    def lum(c: QColor) -> float:
        def ch(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return 0.2126 * ch(c.redF()) + 0.7152 * ch(c.greenF()) + 0.0722 * ch(c.blueF())
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("window_color", ["#2b2b2b", "#f0f0f0"])
def test_messages_stay_readable_in_dark_and_light_themes(
    qtbot: Any, dialog: SettingsDialog, memory_keyring: MemoryKeyring, window_color: str,
) -> None:
    palette = dialog.palette()
    dark = QColor(window_color).lightness() < 128
    palette.setColor(QPalette.ColorRole.Window, QColor(window_color))
    palette.setColor(QPalette.ColorRole.WindowText, QColor("#e6e6e6" if dark else "#000000"))
    dialog.setPalette(palette)
    type_into(qtbot, dialog, "batchUrlEdit", "nope")
    dialog.results.show_results("ok", "Azure Batch did not accept the Batch account key.")
    for name in ("batchUrlError", "batchResultLabel", "storageResultLabel"):
        label = child(dialog, QLabel, name)
        color = QColor(label.styleSheet().split("color:")[1].split(";")[0].strip())
        assert contrast(color, QColor(window_color)) >= 4.5, name


def test_save_waits_for_a_change_and_a_new_mode_says_what_it_needs(
    qtbot: Any, qloop: Any, memory_keyring: MemoryKeyring,
) -> None:
    accounts.save_profile(shared.work_profile(), shared.KEYS)
    d = SettingsDialog()
    qtbot.addWidget(d)
    assert not d.save_button.isEnabled()  # nothing changed yet
    assert d.test_button.isEnabled()  # the saved keys can be tested as they are
    d.storage_mode_combo.setCurrentIndex(
        d.storage_mode_combo.findData(accounts.STORAGE_BY_CONNECTION_STRING))
    assert shown_error(d, "connectionStringError") == "Paste the storage connection string."
    assert not d.save_button.isEnabled()
    d.storage_mode_combo.setCurrentIndex(d.storage_mode_combo.findData(accounts.STORAGE_BY_KEY))
    assert d.save_button.isEnabled()  # back to the saved key: nothing missing
