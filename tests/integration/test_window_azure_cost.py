"""Know the time and the cost before Convert, let the app size the pool, read what it cost
(issue 16, the window's part): a whole run through the window on an account profile that
says "finish in about 30 minutes", against Azurite, the Batch emulator and a local fake of
the Retail Prices API."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from batchgui import accounts, planning, planning_cli
from batchgui.core.journal import Journal
from batchgui.core.models import FileStatus
from batchgui.targets.azure.config import PoolSettings
from tests.azure_world import Azurite, BatchEmulator
from tests.gui.conftest import dispose, drop_paths
from tests.gui.test_window_polish import grab
from tests.integration.test_prices import CATALOGUE, FakeRetailPrices
from tests.unit.test_accounts import MemoryKeyring, accounts_home, memory_keyring  # noqa: F401

#: the expert settings the profile also holds; the sizing must not use them
EXPERT = PoolSettings(dedicated_nodes=5, spot_nodes=0, slots_per_node=7,
                      start_task="ffmpeg -version")


@pytest.fixture
def prices(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    fake = FakeRetailPrices(CATALOGUE)
    monkeypatch.setenv("BATCHGUI_PRICES_URL", fake.url)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no saved prices
    yield fake
    fake.stop()


def save_emulator_profile(azurite: Azurite, emu: BatchEmulator) -> accounts.Profile:
    profile = accounts.Profile(
        name="emu", batch_url=emu.url, batch_account=emu.account,
        storage_auth=accounts.STORAGE_BY_CONNECTION_STRING, pool=EXPERT,
        pool_size=accounts.POOL_SIZE_FINISH_IN, finish_in_minutes=30, max_nodes=3,
        region="westeurope", currency="EUR")
    accounts.save_profile(profile, accounts.Secrets(
        batch_key=emu.key, storage_connection_string=azurite.connection_string))
    return profile


@pytest.mark.timeout(240)
def test_sized_run_through_the_window_ends_with_its_node_minutes_and_cost(
    qtbot: Any, qloop: Any, memory_keyring: MemoryKeyring,  # noqa: F811
    azurite: Azurite, batch_emulator: BatchEmulator,
    prices: FakeRetailPrices, media: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from batchgui.ui.main_window import MainWindow

    monkeypatch.setenv("BATCHGUI_AZURE_POLL", "0.1,0.5")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # a journal of its own
    save_emulator_profile(azurite, batch_emulator)
    window = MainWindow()
    window.show()
    qtbot.waitExposed(window)
    try:
        combo = window.target_combo
        qtbot.waitUntil(lambda: combo.findData("emu") >= 0, timeout=10_000)
        combo.setCurrentIndex(combo.findData("local"))
        clips = [media.good(tmp_path / "in" / f"clip{i}.mp4", 1.0) for i in range(3)]
        drop_paths(window.file_list.viewport(), clips)
        qtbot.waitUntil(lambda: window.file_model.rowCount() == 3
                        and not window.controller.probing, timeout=10_000)
        window.output_folder_edit.setText(str(tmp_path / "out"))
        keeper = window.estimate
        qtbot.waitUntil(lambda: keeper.text.endswith("on this computer")
                        and not keeper.waiting, timeout=20_000)

        # the target changes: time and cost at list price, and the pool chosen and why
        combo.setCurrentIndex(combo.findData("emu"))
        qtbot.waitUntil(lambda: "at list price" in keeper.text and not keeper.waiting,
                        timeout=20_000)
        label = window.run_bar.estimate_label.text()
        assert label.startswith("Estimate: about ") and "€" in label
        assert "\nPool: " in label and "finish in" in label, label
        expected = planning.preview(window._spec_now(), "emu", Journal()).choice
        assert expected is not None
        plan = expected.plan
        assert (plan.dedicated_nodes, plan.slots_per_node) != (5, 7)
        batch_emulator.clear_requests()
        grab(window, "azure-estimate")

        qtbot.mouseClick(window.convert_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not window.controller.busy, timeout=180_000)

        result = window.controller.last_result
        assert result is not None and result.error is None, result
        assert [o.status for o in result.outcomes] == [FileStatus.DONE] * 3
        # the pool the run asked for is the one the estimate chose, not the expert settings
        [job] = [r for r in batch_emulator.requests()
                 if r["method"] == "POST" and r["path"] == "/jobs" and r["status"] < 400]
        pool = job["body"]["poolInfo"]["autoPoolSpecification"]["pool"]
        assert pool["targetDedicatedNodes"] == plan.dedicated_nodes
        assert pool.get("targetLowPriorityNodes", 0) == plan.spot_nodes
        assert pool["taskSlotsPerNode"] == plan.slots_per_node
        assert f"Pool: {expected.reason}" in window.log_view.toPlainText()

        # the end, where the user looks: node-minutes and the cost at list price
        assert window.run_bar.stage_label.text() == "Conversion finished: 3 MP3s ready."
        words = window.run_bar.progress_label
        assert words.text().startswith("3 / 3 files · ") and " · Used " in words.text()
        assert "node-minute" in words.text() and "at list price" in words.text(), words.text()
        assert words.fontMetrics().horizontalAdvance(words.text()) <= words.width()  # all of it
        status = window.statusBar().currentMessage()
        assert status.startswith("Conversion finished: 3 MP3s ready. Used ")
        assert "node-minute" in status and "€" in status
        grab(window, "azure-finished")

        out = io.StringIO()
        planning_cli.runs(None, out)  # type: ignore[arg-type]
        line = next(x for x in out.getvalue().splitlines() if result.run_id in x)
        assert "node-minute" in line and "at list price" in line and "€" in line, line
        qtbot.waitUntil(lambda: not window.controller.pending_jobs, timeout=10_000)
    finally:
        dispose(qtbot, window)
