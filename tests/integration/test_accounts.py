"""Accounts end to end: set up with the dialog or the CLI, test against Azurite and the
Batch emulator, convert through the profile, and find no key anywhere on disk or in logs.

Nothing Azure is mocked; only the OS keyring is an in-memory backend.
"""

from __future__ import annotations

import base64
import io
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mutagen.mp3 import MP3
from PySide6.QtCore import Qt

from batchgui import accounts, cli
from batchgui.ui.settings_dialog import SettingsDialog
from tests.azure_world import Azurite, BatchEmulator, start_batch_emulator
from tests.gui.test_settings_dialog import saved, type_into
from tests.integration.conftest import DEFAULT_TEST_KNOBS
from tests.media import MediaCache
from tests.unit import test_accounts as shared
from tests.unit.test_accounts import MemoryKeyring

accounts_home = shared.accounts_home
memory_keyring = shared.memory_keyring

#: a real Batch key is 64 bytes; the emulator accepts whatever key it is started with
EMULATOR_KEY = base64.b64encode(bytes(range(7, 71))).decode()
WRONG_KEY = base64.b64encode(bytes(range(100, 164))).decode()
CHECK_START = "ffmpeg -version"


@pytest.fixture
def emulator(ffmpeg_dir: str, tmp_path: Path) -> Iterator[BatchEmulator]:
    emu = start_batch_emulator(key=EMULATOR_KEY, path_dirs=[ffmpeg_dir],
                               root=str(tmp_path / "batch"), **DEFAULT_TEST_KNOBS)
    try:
        yield emu
    finally:
        emu.stop()
        assert "Traceback" not in emu.stderr()


@pytest.fixture
def private_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run records of this test only, so the scan below sees exactly them."""
    data = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("BATCHGUI_AZURE_POLL", "0.1,0.5")
    return data


def wrong_connection_string(azurite: Azurite) -> str:
    return azurite.connection_string.replace(azurite.account_key, WRONG_KEY)


def files_holding(folder: Path, secrets: list[str]) -> list[str]:
    hits = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path} holds secret #{i}" for i, s in enumerate(secrets)
                     if s.encode() in data]
    return hits


def test_dialog_profile_tests_ok_then_wrong_key_then_converts_without_leaking_keys(
    qtbot: Any, qloop: Any, memory_keyring: MemoryKeyring, accounts_home: Path,
    private_data: Path, azurite: Azurite, emulator: BatchEmulator, media: MediaCache,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(SettingsDialog, "_confirm", lambda self, question: True)
    secrets = [EMULATOR_KEY, azurite.account_key, azurite.connection_string]

    # 1. add the profile by typing into the dialog
    d = SettingsDialog()
    qtbot.addWidget(d)
    d.show()
    type_into(qtbot, d, "nameEdit", "emu")
    type_into(qtbot, d, "batchUrlEdit", emulator.url)
    type_into(qtbot, d, "batchAccountEdit", emulator.account)
    type_into(qtbot, d, "batchKeyEdit", EMULATOR_KEY)
    d.storage_mode_combo.setCurrentIndex(
        d.storage_mode_combo.findData(accounts.STORAGE_BY_CONNECTION_STRING))
    type_into(qtbot, d, "connectionStringEdit", azurite.connection_string)
    assert d.save_button.isEnabled(), d.problems()
    qtbot.mouseClick(d.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: saved(d), timeout=10_000)

    # 2. test its connection: both OK (with the saved keys, the key fields are empty now)
    assert d.batch_key_edit.text() == ""
    qtbot.mouseClick(d.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: d.storage_result_label.text().startswith("Storage: O"),
                    timeout=30_000)
    assert d.batch_result_label.text() == "Batch: OK"
    assert d.storage_result_label.text() == "Storage: OK"

    # 3. a wrong Batch key typed in: the plain message, Storage still fine
    type_into(qtbot, d, "batchKeyEdit", WRONG_KEY)
    qtbot.mouseClick(d.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: d.batch_result_label.text() not in ("Batch: OK", "Batch: checking…"),
                    timeout=30_000)
    assert d.batch_result_label.text().startswith(
        "Batch: Azure Batch did not accept the Batch account key")
    assert d.storage_result_label.text() == "Storage: OK"

    # ... and a wrong storage key
    type_into(qtbot, d, "batchKeyEdit", EMULATOR_KEY)
    type_into(qtbot, d, "connectionStringEdit", wrong_connection_string(azurite))
    qtbot.mouseClick(d.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "checking" not in d.storage_result_label.text()
                    and d.storage_result_label.text() != "Storage: OK", timeout=30_000)
    assert "did not accept the storage account key" in d.storage_result_label.text()
    assert d.batch_result_label.text() == "Batch: OK"
    for text in (d.batch_result_label.text(), d.storage_result_label.text()):
        assert WRONG_KEY not in text and EMULATOR_KEY not in text
    d._dirty = False  # the typed wrong key is not saved
    d.close()

    # 4. convert through the profile, as `batchgui convert ... --target emu`
    src = media.good(tmp_path / "in" / "song.mp4", seconds=2)
    out = tmp_path / "out"
    # (on a thread: the CLI runs its own asyncio loop, and this test's qasync loop is running)
    codes: list[int] = []
    convert = threading.Thread(target=lambda: codes.append(cli.main(
        ["convert", str(src), "--output", str(out), "--target", "emu",
         "--start-task", CHECK_START])))
    convert.start()
    convert.join(timeout=120)
    code = codes[0] if codes else -1
    printed = capsys.readouterr()
    assert code == 0, printed.out + printed.err
    assert MP3(out / "song.mp3").info.length == pytest.approx(2.0, abs=0.3)
    assert list(private_data.rglob("journal.sqlite3")), "the run left no journal to scan"

    # 5. no key material in the config dir, the run records or the logs
    assert files_holding(accounts_home, secrets) == []
    assert files_holding(private_data, secrets) == []
    logged = caplog.text + printed.out + printed.err
    assert not [s for s in secrets if s in logged]
    assert any(s in memory_keyring.entries.values() for s in secrets)  # they are in the keyring


def test_cli_add_test_and_remove_against_the_emulators(
    memory_keyring: MemoryKeyring, azurite: Azurite, emulator: BatchEmulator,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture, accounts_home: Path,
) -> None:
    caplog.set_level(logging.DEBUG)

    def run(argv: list[str], stdin: str = "") -> tuple[int, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = cli.main(argv)
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    add = ["accounts", "add", "emu", "--batch-url", emulator.url, "--batch-account",
           emulator.account, "--storage-connection-string-stdin"]
    code, said = run(add, f"{EMULATOR_KEY}\n{azurite.connection_string}\n")
    assert code == 0, said
    code, said = run(["accounts", "test", "emu"])
    assert code == 0, said
    assert "Batch: OK" in said and "Storage: OK" in said

    code, said = run(add + ["--replace"], f"{WRONG_KEY}\n{azurite.connection_string}\n")
    assert code == 0, said
    code, said = run(["accounts", "test", "emu"])
    assert code == 1
    assert "Batch: Azure Batch did not accept the Batch account key" in said
    assert "Storage: OK" in said

    code, said = run(add + ["--replace"], f"{EMULATOR_KEY}\n{wrong_connection_string(azurite)}\n")
    code, said = run(["accounts", "test", "emu"])
    assert code == 1 and "Batch: OK" in said and "did not accept the storage account key" in said

    code, said = run(["accounts", "remove", "emu"])
    assert code == 0 and memory_keyring.entries == {}
    everything = said + caplog.text
    for secret in (EMULATOR_KEY, WRONG_KEY, azurite.account_key):
        assert secret not in everything
    assert files_holding(accounts_home, [EMULATOR_KEY, WRONG_KEY, azurite.account_key]) == []
