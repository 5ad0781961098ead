"""The window in a Swedish session (LANG=sv_SE.UTF-8): every word a user can see is Swedish.

The window converts good and bad files, then every widget, action, menu, tooltip, header,
cell, placeholder and accessible name is read, together with the banners, the close
question, the open-folder notice, the accounts dialog and Qt's own file dialog. A word
fails when it is one of the app's English words (the words of its source strings) and no
Swedish translation uses it; proper names (Azure, ffmpeg, MP3 ...), file names, paths
and units are allowed. The same walk over the English window must find English words, so
the check can fail.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDialog,
    QFileDialog,
    QGroupBox,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QWidget,
)

from tests.gui.conftest import dispose
from tests.gui.test_main_window import convert_and_wait, drop_and_wait, set_output
from tests.i18n_helpers import ROOT, catalogues_module, swedish_env

#: proper names, units and key names that read the same in Swedish
PROPER_NAMES = [
    "Microsoft Entra ID", "Storage Blob Data Contributor", "Azure Batch", "Azure Storage",
    "GNOME Keyring", "KWallet", "EBU R128", "Ctrl+Shift+O", "Ctrl+Return", "Ctrl+O", "Ctrl+L",
    "Ctrl+P", "Ctrl+Q", "Esc", "Delete", "BatchGUI", "Azure", "ffmpeg", "python3", "MP3",
    "MP4", "M4V", "MOV", "LUFS", "kbit/s", "MB", "GB", "kB", "VM", "URL", "Spot", "Entra",
    "ID", "OK", "Batch", "https", "DefaultEndpointsProtocol", "AccountName", "AccountKey",
    "westeurope", "microsoft.com/devicelogin", "stderr",
    "English", "Svenska",  # each language in its own words (Settings > Language)
    "USD", "AUD", "BRL", "CAD", "CHF", "CNY", "DKK", "EUR", "GBP", "INR", "JPY", "KRW", "NOK",
    "NZD", "RUB", "SEK", "TWD",  # currency codes
]
#: paths, file names, and ids (run-20261129-…, batchgui-pool, standard_d2s_v3, tvm-1)
_PATH = re.compile(r"\S*[/\\]\S*|\S+\.(?:mp4|mp3|mov|m4v|json|txt)\b|\b\S+_\S+\b"
                   r"|\b[\w-]+-[\w-]+\b")
#: where a pane quotes ffmpeg's own output (its words, not the app's)
FFMPEG_SAID = ("What ffmpeg said last:", "Det sista ffmpeg sa:")
_WORD = re.compile(r"[A-Za-zÅÄÖåäöÉé]{2,}")


def words_of(text: str) -> set[str]:
    text = re.sub(r"<[^>]+>|&nbsp;|&(?=\w)", " ", text)  # markup, accelerators
    for name in PROPER_NAMES:
        text = text.replace(name, " ")
    text = _PATH.sub(" ", text)
    return {w.lower() for w in _WORD.findall(text)}


def english_words() -> set[str]:
    """The app's English words: every word of its marked strings and of the other string
    literals of the window's code, minus those a Swedish translation uses too."""
    catalogues = catalogues_module()
    english: set[str] = set()
    for message in catalogues.extract():
        if message.id and not any(loc[0] == "argparse.py" for loc in message.locations):
            for text in ([message.id] if isinstance(message.id, str) else message.id):
                english |= words_of(text)
    for path in (ROOT / "batchgui" / "ui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and " " in node.value.strip():
                english |= words_of(node.value)
    swedish: set[str] = set()
    for message in catalogues.read(catalogues.LOCALE / "sv" / "LC_MESSAGES" / "batchgui.po"):
        for text in ([message.string] if isinstance(message.string, str) else message.string):
            swedish |= words_of(text or "")
    return english - swedish


# -- reading everything a user can see ------------------------------------------------------


def _model_texts(view: QAbstractItemView) -> Iterator[str]:
    model = view.model()
    if model is None:
        return
    root = QModelIndex()
    try:
        columns = model.columnCount(root)
    except TypeError:  # a list widget's model keeps it private: one column
        columns = 1
    for column in range(columns):
        for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            yield str(model.headerData(column, Qt.Orientation.Horizontal, role) or "")
    for row in range(min(model.rowCount(root), 200)):
        for column in range(max(1, columns)):
            index = model.index(row, column, QModelIndex())
            for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                yield str(index.data(role) or "")


def _menu_texts(menu: QMenu) -> Iterator[str]:
    yield menu.title()
    for action in menu.actions():
        yield action.text()
        yield action.toolTip() if action.toolTip() != action.text().replace("&", "") else ""
        if action.menu() is not None:
            yield from _menu_texts(action.menu())


def visible_texts(top: QWidget) -> Iterator[tuple[str, str]]:
    """(where, text) for every text `top` and its children show or announce."""
    for w in [top, *top.findChildren(QWidget)]:
        where = f"{type(w).__name__} {w.objectName()}".strip()
        for text in (w.windowTitle(), w.toolTip(), w.statusTip(), w.whatsThis(),
                     w.accessibleName(), w.accessibleDescription(),
                     str(w.property("emptyText") or "")):
            yield where, text
        if isinstance(w, QLabel):
            yield where, w.text()
        elif isinstance(w, QAbstractButton):
            yield where, w.text()
        elif isinstance(w, QGroupBox):
            yield where, w.title()
        elif isinstance(w, QLineEdit):
            yield where, w.placeholderText()
        elif isinstance(w, QPlainTextEdit):
            yield where, w.placeholderText()
            text = w.toPlainText()
            for said in FFMPEG_SAID:
                text = text.split(said)[0]
            yield where, text
        elif isinstance(w, QComboBox):
            for i in range(w.count()):
                yield where, w.itemText(i)
                yield where, str(w.itemData(i, Qt.ItemDataRole.ToolTipRole) or "")
        elif isinstance(w, QProgressBar):
            yield where, w.format()
        elif isinstance(w, QAbstractSpinBox):
            yield where, getattr(w, "suffix", lambda: "")()
            yield where, w.specialValueText()
        elif isinstance(w, QMenu):
            for text in _menu_texts(w):
                yield where, text
        if isinstance(w, QAbstractItemView):
            for text in _model_texts(w):
                yield where, text
        for action in w.actions():
            yield where, action.text()


def english_left(top: QWidget, english: set[str]) -> list[str]:
    found = []
    for where, text in visible_texts(top):
        bad = sorted(words_of(text) & english)
        if bad:
            found.append(f"{where}: {bad} in {text[:120]!r}")
    return sorted(set(found))


# -- the scenario ---------------------------------------------------------------------------


@pytest.fixture
def swedish(qapp, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A Swedish desktop session for the window (Qt's own words and numbers too)."""
    from batchgui.ui.app import use_language

    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", swedish_env()["LANG"])
    try:
        yield use_language(qapp, None)  # the system's language: Swedish here
    finally:
        use_language(qapp, "en")


def window_after_a_run(qtbot: Any, media: Any, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The window after converting a good, an empty, a not-a-video and a truncated file."""
    from batchgui.ui.main_window import MainWindow

    win = MainWindow()
    win.show()
    qtbot.waitExposed(win)
    videos = [media.good(tmp_path / "klipp.mp4", 1.0), media.empty(tmp_path / "tom.mp4"),
              media.not_video(tmp_path / "text.mp4"), media.truncated(tmp_path / "halv.mp4", 4.0)]
    drop_and_wait(qtbot, win, videos, rows=4)
    qtbot.waitUntil(lambda: win.run_bar.estimate_label.text() != "", timeout=20_000)
    set_output(win, tmp_path / "ut")
    if not win.log_toggle.isChecked():
        win.log_toggle.click()
    convert_and_wait(qtbot, win)
    failed = next(r for r in range(win.task_proxy.rowCount())
                  if "halv" in str(win.task_proxy.index(r, 0).data()))
    win.task_table.selectRow(failed)
    return win


def other_views(win: Any, tmp_path: Path) -> list[QWidget]:
    """The banners, the Azure names of the panels, the close question, the folder notice."""
    from batchgui.core.models import NodeState, NodeView
    from batchgui.core.resume import ResumableRun
    from batchgui.targets.azure.leftovers import OVER, RESUMABLE, UNKNOWN, Leftover
    from batchgui.ui.closing import ask_before_closing
    from batchgui.ui.folder_notice import FolderNotice
    from batchgui.ui.leftovers_banner import summary
    from batchgui.ui.node_grid import node_tooltip

    win.resume_banner.offer(ResumableRun("run-1", 0.0, "local", tmp_path / "ut", 3, 2, False))
    old = datetime.now(UTC) - timedelta(hours=5)
    items = [Leftover("pool", "batchgui-pool", "run-1", OVER, nodes=2, created=old,
                      state="active"),
             Leftover("job", "run-2", "run-2", RESUMABLE, state="disabled", created=old),
             Leftover("files", "batchgui-run-3", None, UNKNOWN, size_bytes=34_000_000)]
    win.leftovers_banner.label.setText(summary([("jobb", None, items)]))
    win.leftovers_banner.label.setToolTip("\n".join(i.describe() for i in items))
    win.leftovers_banner.setVisible(True)
    states = [NodeState(s) for s in NodeState] + ["newstate"]
    nodes = [NodeView(f"tvm-{i}", state, running_tasks=1, slots=2, is_spot=i % 2 == 1,
                      errors=("disk full", "a", "b", "c"))
             for i, state in enumerate(states)]
    win.run_view.fit_to_target(False)  # the panels as an Azure run names them
    win.nodes_panel.node_grid.set_nodes(nodes)
    win.nodes_panel.node_grid.setToolTip(node_tooltip(nodes[1]))
    closing = [ask_before_closing(win, on_azure, lambda choice: None) for on_azure in (True, False)]
    notice = FolderNotice(win, tmp_path / "ut")
    notice.copy_button.click()
    return [*closing, notice]


def accounts_dialog(win: Any) -> QDialog:
    """The accounts dialog with a new profile, every problem showing, every row visible."""
    from batchgui import accounts
    from batchgui.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(win, workers=win.controller.workers)
    dialog.show()
    form = dialog.form
    form.batch_url_edit.setText("https://konto.westeurope.batch.azure.com/x?y")
    form.touched.add("*")
    dialog._validate()
    dialog.results.show_results("ok", "Lagringskontot tillåter inte åtkomst.")
    dialog.keyring_message_label.setText(accounts.errors.keyring_message("missing"))
    dialog.keyring_banner.setVisible(True)
    return dialog


def walk_everything(qtbot: Any, media: Any, tmp_path: Path, english: set[str]) -> list[str]:
    win = window_after_a_run(qtbot, media, tmp_path)
    try:
        extra = other_views(win, tmp_path)
        dialog = accounts_dialog(win)
        left = english_left(win, english)
        for view in extra:
            left += english_left(view, english)
        left += english_left(dialog, english)
        form = dialog.form
        for auth in range(form.auth_combo.count()):  # Entra ID shows other rows and words
            form.auth_combo.setCurrentIndex(auth)
            for mode in range(form.storage_mode_combo.count()):
                form.storage_mode_combo.setCurrentIndex(mode)
                left += english_left(dialog, english)
        for view in extra:
            view.close()
        dialog.done(0)
    finally:
        dispose(qtbot, win)
    return sorted(set(left))


def test_the_window_and_its_dialogs_show_no_english_in_a_swedish_session(
    qtbot: Any, qloop: Any, opened: Any, media: Any, tmp_path: Path, swedish: str
) -> None:
    assert swedish == "sv"
    left = walk_everything(qtbot, media, tmp_path, english_words())
    assert not left, "English left:\n" + "\n".join(left)


def test_the_same_walk_finds_the_english_of_an_english_window(
    qtbot: Any, qloop: Any, opened: Any, media: Any, tmp_path: Path
) -> None:
    """The check can fail: in English it finds the app's words everywhere."""
    found = walk_everything(qtbot, media, tmp_path, english_words())
    assert len(found) > 100
    assert any("'convert'" in line for line in found)


def test_qt_s_own_words_are_swedish_too(qtbot: Any, swedish: str) -> None:
    """Standard buttons and Qt's file dialog come from Qt's catalogue (qtbase_sv.qm)."""
    box = QMessageBox(QMessageBox.Icon.Question, "BatchGUI", "?",
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
                      | QMessageBox.StandardButton.Cancel)
    texts = {box.button(b).text().replace("&", "") for b in (
        QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.Cancel)}
    assert texts == {"Ja", "Nej", "Avbryt"}
    dialog = QFileDialog(None, "Välj", str(Path.home()))
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
    qtbot.addWidget(dialog)
    buttons = {b.text().replace("&", "") for b in dialog.findChildren(QAbstractButton)
               if b.text()}
    assert "Avbryt" in buttons and "Öppna" in buttons
    labels = {w.text().replace("&", "") for w in dialog.findChildren(QLabel) if w.text()}
    assert {"Titta i:", "Filnamn:", "Filer av typ:"} <= labels


def test_swedish_words_fit_their_buttons_and_boxes(
    qtbot: Any, qloop: Any, opened: Any, swedish: str
) -> None:
    """Swedish words are longer: at the window's size every button, box title and check box
    gets the width its text needs."""
    from batchgui.ui.main_window import MainWindow

    win = MainWindow()
    win.show()
    qtbot.waitExposed(win)
    try:
        win.resize(1180, 800)
        QApplication.processEvents()
        squeezed = [f"{w.objectName() or type(w).__name__}: {w.text()!r} {w.width()} < "
                    f"{w.sizeHint().width()}"
                    for w in win.findChildren(QAbstractButton)
                    if w.isVisible() and w.text() and w.width() < w.sizeHint().width()]
        assert squeezed == []
    finally:
        dispose(qtbot, win)


def test_the_language_menu_keeps_the_choice_for_the_next_start(
    qtbot: Any, qloop: Any, opened: Any, qapp: Any
) -> None:
    from batchgui.ui import settings as ui_settings
    from batchgui.ui.app import use_language
    from batchgui.ui.main_window import MainWindow

    win = MainWindow()
    win.show()
    qtbot.waitExposed(win)
    try:
        languages = win.menu_actions.languages
        assert [a.text() for a in languages.values()] == ["&System language", "English",
                                                          "Svenska"]
        assert languages["system"].isChecked()
        languages["sv"].trigger()
        assert "Svenska from the next start" in win.statusBar().currentMessage()
        assert win.convert_button.text() == "&Convert"  # this window keeps its words
        qtbot.waitUntil(lambda: ui_settings.load().language == "sv")  # saved off the GUI thread
    finally:
        dispose(qtbot, win)
    try:  # the next start (ui/app.main) reads the choice before it makes the window
        assert use_language(qapp, ui_settings.load().language) == "sv"
        again = MainWindow()
        try:
            assert again.convert_button.text() == "&Konvertera"
            assert again.menu_actions.languages["sv"].isChecked()
        finally:
            dispose(qtbot, again)
    finally:
        use_language(qapp, "en")
        ui_settings.save(ui_settings.load().replace(language="system"))
