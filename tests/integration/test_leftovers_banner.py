"""The window offers to remove what an earlier (dismissed) run left on Azure."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from batchgui.core.journal import Journal
from batchgui.core.resume import dismiss
from tests.azure_world import Azurite, BatchEmulator
from tests.gui.conftest import dispose
from tests.integration.test_azure_crash import _argv, _env, _inputs
from tests.integration.test_azure_target import ROOT, run_blobs
from tests.media import MediaCache


@pytest.mark.timeout(180)
def test_leftovers_of_a_dismissed_run_are_offered_and_removed(  # type: ignore[no-untyped-def]
    qtbot, qloop, azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from batchgui.ui.main_window import MainWindow

    src = _inputs(media, tmp_path / "in")
    env = _env(azurite, batch_emulator, tmp_path / "data")
    for name in ("AZURE_BATCH_ENDPOINT", "AZURE_BATCH_ACCOUNT", "AZURE_BATCH_ACCESS_KEY",
                 "AZURE_STORAGE_CONNECTION_STRING", "XDG_DATA_HOME"):
        monkeypatch.setenv(name, env[name])
    proc = subprocess.run(_argv(src, tmp_path / "out"), env=dict(env, BATCHGUI_KILL_AT=
                          "azure-uploaded:2"), capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert proc.returncode < 0, proc.stdout + proc.stderr
    journal = Journal()
    [run] = journal.runs()
    dismiss(journal, run.run_id)  # the user did not want it: its leftovers stay on Azure
    assert run_blobs(azurite)

    win = MainWindow()
    win.show()
    qtbot.waitExposed(win)
    try:
        banner = win.leftovers_banner
        qtbot.waitUntil(banner.isVisible, timeout=30_000)
        text = banner.label.text()
        assert "Earlier runs left" in text and "on Azure account azure" in text, text
        assert not win.resume_banner.isVisible()  # a dismissed run is not offered again
        qtbot.mouseClick(banner.remove_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not banner.isVisible(), timeout=60_000)
        assert "Removed what earlier runs left on Azure" in win.log_view.toPlainText()
        assert run_blobs(azurite) == []
        jobs = batch_emulator.state()["jobs"]
        assert all(j["state"] == "deleting" for j in jobs.values()), jobs
        assert Journal().run(run.run_id).target_state.get("cleaned") is True
    finally:
        dispose(qtbot, win)
