"""What a newcomer notices in the window (issue 14, "Window"): real runs on this computer,
looked at through the widgets a user reads, and grabbed as pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from batchgui.core.models import FileStatus, InputFile, NodeState
from batchgui.ui.task_table import TaskColumn
from tests.gui.test_main_window import convert_and_wait, drop_and_wait, set_output

SHOTS = Path(__file__).resolve().parents[2] / "build" / "shots"


def grab(widget: Any, name: str) -> Path:
    """Save a picture of the widget (to look at; the asserts read the widgets)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    assert widget.grab().save(str(path))
    return path


def task_row(window: Any, name: str) -> dict[TaskColumn, str]:
    model = window.task_model
    for row in range(model.rowCount()):
        if model.task_at(row).name == name:
            return {c: model.index(row, c).data() for c in TaskColumn}
    raise AssertionError(f"no task row for {name}")


def test_failed_row_shows_the_progress_it_reached_and_the_reason_not_exit_0(
    qtbot: Any, window: Any, media: Any, tmp_path: Path
) -> None:
    half = media.truncated(tmp_path / "in" / "half.mp4", 10.0)
    drop_and_wait(qtbot, window, [half], rows=1)
    set_output(window, tmp_path / "out")
    convert_and_wait(qtbot, window)

    row = task_row(window, "half.mp4")
    assert row[TaskColumn.STATE] == "failed"
    assert row[TaskColumn.EXIT_CODE] == ""  # ffmpeg said 0, but the MP3 failed its check
    assert row[TaskColumn.RESULT].startswith("input looks truncated: got ")
    reached = int(row[TaskColumn.PROGRESS].rstrip(" %"))
    assert 20 <= reached <= 80, row  # about half of the audio, not "100 %"
    window.task_table.selectRow(0)
    detail = window.tasks_panel.task_detail.toPlainText()
    assert "exit code" not in detail and "Reason: input looks truncated" in detail
    grab(window.tasks_panel, "failed-row")


def test_clear_then_new_files_leave_no_trace_of_the_last_run(
    qtbot: Any, window: Any, media: Any, tmp_path: Path
) -> None:
    drop_and_wait(qtbot, window, [media.good(tmp_path / "a.mp4", 1.0)], rows=1)
    set_output(window, tmp_path / "out")
    convert_and_wait(qtbot, window)
    assert window.run_bar.progress_label.text().startswith("1 / 1 file")
    assert window.task_model.rowCount() == 1

    qtbot.mouseClick(window.clear_button, Qt.MouseButton.LeftButton)
    drop_and_wait(qtbot, window, [media.good(tmp_path / "b.mp4", 1.0),
                                  media.good(tmp_path / "c.mp4", 1.0)], rows=2)

    assert window.run_bar.progress_label.text() == ""
    assert window.run_bar.overall_progress.value() == 0
    assert window.task_model.rowCount() == 0
    assert window.tasks_panel.task_summary.text() == ""
    assert window.node_grid.nodes == ()
    assert window.run_bar.stage_label.text() == "2 files ready: press Convert."


def test_before_a_run_the_stage_line_says_what_to_do_next(
    qtbot: Any, window: Any, media: Any, tmp_path: Path
) -> None:
    stage = window.run_bar.stage_label
    window.output_panel.output_folder_edit.setText("")
    assert stage.text() == "Drop videos above, then press Convert."
    drop_and_wait(qtbot, window, [media.good(tmp_path / "a.mp4", 1.0)], rows=1)
    assert stage.text() == "Choose an output folder, then press Convert."
    set_output(window, tmp_path / "out")
    assert stage.text() == "1 file ready: press Convert."
    drop_and_wait(qtbot, window, [media.good(tmp_path / "b.mp4", 1.0)], rows=2)
    assert stage.text() == "2 files ready: press Convert."

    convert_and_wait(qtbot, window)
    assert stage.text() == "Conversion finished: 2 MP3s ready."  # the run's word stays
    drop_and_wait(qtbot, window, [media.good(tmp_path / "c.mp4", 1.0)], rows=3)
    assert stage.text() == "Conversion finished: 2 MP3s ready."


def test_one_snapshot_one_truth_log_table_header_and_grid_agree(
    qtbot: Any, window: Any, media: Any, tmp_path: Path
) -> None:
    names = [f"clip{i}.mp4" for i in range(5)]
    drop_and_wait(qtbot, window, [media.good(tmp_path / "in" / n, 2.0) for n in names], rows=5)
    set_output(window, tmp_path / "out")
    disagreements: list[str] = []
    frames = 0
    checked: list[str] = []

    def on_log(line: str) -> None:  # connected after the window: the window has shown it
        if ": done, " in line:
            name = line.split(": done, ")[0]
            checked.append(name)
            state = task_row(window, name)[TaskColumn.STATE]
            listed = next(window.file_model.task_at(r) for r in range(5)
                          if window.file_model.input_at(r).name == name)
            if state != "done" or listed is None or listed.status is not FileStatus.DONE:
                disagreements.append(f"log says {name} done, table says {state}")

    def on_snapshot(snapshot: Any) -> None:
        nonlocal frames
        frames += 1
        running = sum(1 for n in window.node_grid.nodes if n.state == NodeState.RUNNING)
        header = window.tasks_panel.task_summary.text()
        if f"· {running} converting ·" not in header:
            disagreements.append(f"grid shows {running} running, header says {header!r}")

    window.controller.log_added.connect(on_log)
    window.controller.snapshot_changed.connect(on_snapshot)
    convert_and_wait(qtbot, window)

    assert frames >= 2 and sorted(checked) == names  # (the window shows ten frames a second)
    assert disagreements == []
    assert all(task_row(window, n)[TaskColumn.STATE] == "done" for n in names)


def test_progress_words_are_whole_at_2000_files(qtbot: Any, window: Any) -> None:
    import importlib.util
    import random

    path = Path(__file__).resolve().parents[2] / "packaging" / "screenshot.py"
    spec = importlib.util.spec_from_file_location("batchgui_screenshot", path)
    assert spec is not None and spec.loader is not None
    screenshot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(screenshot)
    inputs, snapshot = screenshot.synthetic_snapshot(random.Random(7))
    window.file_model.add_inputs(inputs)
    window.resize(1000, 760)  # narrower than the default window
    window.apply_snapshot(snapshot)
    qtbot.waitUntil(lambda: window.run_bar.progress_label.width() > 0)
    QApplication.processEvents()

    label = window.run_bar.progress_label
    text = "888 / 2,000 files · 12 failed · 611.7× realtime · about 21:50 left"
    assert label.text() == text
    assert label.fontMetrics().horizontalAdvance(text) <= label.contentsRect().width()
    assert label.isVisible() and not window.run_bar.overall_progress.isTextVisible()
    grab(window, "progress-2000-files")


def test_this_computer_gets_slots_and_the_files_get_the_room(
    qtbot: Any, window: Any
) -> None:
    combo = window.target_combo
    qtbot.waitUntil(lambda: not window.controller.pending_jobs)  # the targets are listed
    combo.addItem("Azure Batch: demo", "demo")  # an Azure account's entry
    combo.setCurrentIndex(combo.count() - 1)
    combo.setCurrentIndex(combo.findData("local"))
    QApplication.processEvents()
    assert window.nodes_panel.title() == "Slots"
    assert window.tasks_panel.title() == "Conversions"
    assert window.task_model.headerData(TaskColumn.NODE, Qt.Orientation.Horizontal) == "Slot"
    assert window.node_grid.property("emptyText") == "Slots appear here when a run starts"
    assert window.node_grid.accessibleDescription() == "No slots in use yet"
    files_height = window.files_panel.height()
    nodes_width = window.nodes_panel.width()
    assert files_height > window.nodes_panel.height()
    grab(window, "panels-local")

    combo.setCurrentIndex(combo.findData("demo"))
    QApplication.processEvents()
    assert window.nodes_panel.title() == "Nodes"
    assert window.tasks_panel.title() == "Tasks"
    assert window.task_model.headerData(TaskColumn.NODE, Qt.Orientation.Horizontal) == "Node"
    assert window.node_grid.property("emptyText") == "Nodes appear here when a run starts"
    assert window.nodes_panel.width() > 1.5 * nodes_width  # the grid has its room back
    assert window.files_panel.height() < files_height
    grab(window, "panels-azure")


def test_open_output_folder_without_an_opener_shows_the_path_to_copy(
    qtbot: Any, window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("batchgui.ui.main_window.open_url", lambda url: False)
    folder = tmp_path / "my music"
    set_output(window, folder)
    qtbot.mouseClick(window.open_output_button, Qt.MouseButton.LeftButton)

    notice = window.folder_notice
    assert notice is not None and notice.isVisible()
    assert "no program that opens folders" in notice.message_label.text()
    assert notice.path_edit.text() == str(folder) and notice.path_edit.isReadOnly()
    qtbot.mouseClick(notice.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == str(folder)
    grab(notice, "folder-notice")
    notice.reject()


def test_long_output_folder_shows_its_start_and_all_of_it_in_the_tooltip(
    qtbot: Any, window: Any
) -> None:
    long = "/home/ana/" + "/".join(f"folder number {i}" for i in range(12)) + "/MP3s"
    set_output(window, long)
    edit = window.output_folder_edit
    assert edit.cursorPosition() == 0  # the start shows: /home/ana/…
    assert edit.toolTip() == long
    grab(window.output_panel, "long-output-folder")


# -- the estimate next to Convert (issue 16) ------------------------------------------------


def fake_inputs(folder: Path, count: int, seconds: float = 36_000.0,
                start: int = 0) -> list[InputFile]:
    """Probed files as the list holds them (the estimate needs no bytes on disk)."""
    return [InputFile(folder / f"talk{i:03d}.mp4", int(seconds * 200_000), seconds)
            for i in range(start, start + count)]


def test_estimate_follows_the_files_in_the_list(qtbot: Any, window: Any, tmp_path: Path) -> None:
    keeper = window.estimate
    assert window.run_bar.estimate_label.text() == ""  # nothing in the list yet
    window.file_model.add_inputs(fake_inputs(tmp_path, 4))
    qtbot.waitUntil(lambda: "on this computer" in keeper.text and not keeper.waiting,
                    timeout=10_000)
    first = keeper.text
    assert first.startswith("Estimate: about ")
    assert "this computer converts" in window.run_bar.estimate_label.toolTip().lower()

    window.file_model.add_inputs(fake_inputs(tmp_path, 40, start=4))
    qtbot.waitUntil(lambda: keeper.text != first and not keeper.waiting, timeout=10_000)
    assert "on this computer" in keeper.text

    window.file_model.clear()
    qtbot.waitUntil(lambda: keeper.text == "" and not keeper.waiting, timeout=10_000)


def test_an_answer_to_an_old_question_is_dropped(qtbot: Any, window: Any,
                                                  tmp_path: Path) -> None:
    keeper = window.estimate
    window.file_model.add_inputs(fake_inputs(tmp_path, 2))
    qtbot.waitUntil(lambda: bool(keeper.text) and not keeper.waiting, timeout=10_000)
    shown = keeper.text
    window.controller.estimate_ready.emit(keeper._asked - 1, "No estimate: an old answer")
    assert keeper.text == shown
