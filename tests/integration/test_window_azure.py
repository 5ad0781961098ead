"""The window driving a run on an Azure account (Azurite + the Batch emulator): files
dropped, the account picked, Convert; and closing the window mid-run with "Stop and close"
(how long it takes on Azure, where cleanup talks to the service)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mutagen.mp3 import MP3
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QPushButton

from batchgui import accounts
from batchgui.targets.azure.config import PoolSettings
from tests.azure_world import Azurite, BatchEmulator
from tests.gui.conftest import dispose
from tests.gui.test_close_and_pause import _answer
from tests.gui.test_main_window import child, drop_and_wait, set_output, statuses
from tests.integration.test_accounts import EMULATOR_KEY, emulator  # noqa: F401
from tests.integration.test_azure_target import run_blobs
from tests.media import MediaCache
from tests.unit.test_accounts import MemoryKeyring, accounts_home, memory_keyring  # noqa: F401


@pytest.fixture
def profile(memory_keyring: MemoryKeyring, azurite: Azurite, emulator: BatchEmulator,  # noqa: F811
            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("BATCHGUI_AZURE_POLL", "0.1,0.5")
    accounts.save_profile(
        accounts.Profile(name="emu", batch_url=emulator.url, batch_account=emulator.account,
                         storage_auth=accounts.STORAGE_BY_CONNECTION_STRING,
                         pool=PoolSettings(dedicated_nodes=2, slots_per_node=1,
                                           start_task="ffmpeg -version")),
        accounts.Secrets(batch_key=EMULATOR_KEY,
                         storage_connection_string=azurite.connection_string))
    return "emu"


def _pick_target(qtbot, window, name: str) -> None:  # type: ignore[no-untyped-def]
    combo = child(window, QComboBox, "targetCombo")
    qtbot.waitUntil(lambda: combo.findData(name) >= 0, timeout=10_000)
    combo.setCurrentIndex(combo.findData(name))


@pytest.mark.timeout(180)
def test_a_run_on_azure_through_the_window(  # type: ignore[no-untyped-def]
    qtbot, qloop, profile: str, azurite: Azurite, emulator: BatchEmulator, media: MediaCache,  # noqa: F811,E501
    tmp_path: Path,
) -> None:
    from batchgui.ui.main_window import MainWindow

    window = MainWindow()
    window.show()
    qtbot.waitExposed(window)
    try:
        clips = [media.good(tmp_path / "in" / f"talk{i}.mp4", 2.0 + i) for i in range(3)]
        drop_and_wait(qtbot, window, clips, rows=3)
        set_output(window, tmp_path / "out")
        _pick_target(qtbot, window, profile)
        qtbot.mouseClick(child(window, QPushButton, "convertButton"), Qt.MouseButton.LeftButton)
        seen_nodes: set[str] = set()
        qtbot.waitUntil(lambda: bool(window.controller.last_snapshot
                                     and seen_nodes.update(
                                         n.node_id for n in window.controller.last_snapshot.nodes)
                                     is None and not window.controller.busy),
                        timeout=120_000)
        result = window.controller.last_result
        assert result.all_converted, result
        for i in range(3):
            assert abs(MP3(tmp_path / "out" / f"talk{i}.mp3").info.length - (2.0 + i)) < 0.5
        assert all(s.startswith("done") for s in statuses(window).values()), statuses(window)
        assert seen_nodes, "the node grid showed the pool's nodes"
        assert run_blobs(azurite) == []
    finally:
        dispose(qtbot, window)


@pytest.mark.timeout(180)
def test_stop_and_close_mid_run_on_azure(  # type: ignore[no-untyped-def]
    qtbot, qloop, profile: str, azurite: Azurite, emulator: BatchEmulator, media: MediaCache,  # noqa: F811,E501
    tmp_path: Path,
) -> None:
    from batchgui.ui.main_window import MainWindow

    emulator.set_knobs(node_speed=1.0)  # tasks take as long as their media: surely mid-way
    window = MainWindow()
    window.show()
    qtbot.waitExposed(window)
    try:
        clips = [media.good(tmp_path / "in" / f"talk{i}.mp4", 20.0) for i in range(4)]
        drop_and_wait(qtbot, window, clips, rows=4)
        set_output(window, tmp_path / "out")
        _pick_target(qtbot, window, profile)
        qtbot.mouseClick(child(window, QPushButton, "convertButton"), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: any(s.startswith("converting")
                                    for s in statuses(window).values()), timeout=120_000)
        window.close()
        _answer(qtbot, "stopAndCloseButton")
        asked = time.monotonic()
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=60_000)
        took = time.monotonic() - asked
        print(f"stop and close on Azure took {took:.2f} s")
        assert not window.controller.busy
        assert run_blobs(azurite) == []
        jobs = emulator.state()["jobs"]
        assert all(j["state"] == "deleting" for j in jobs.values()), jobs
    finally:
        dispose(qtbot, window)
