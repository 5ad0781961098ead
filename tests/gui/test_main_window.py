"""The window as a user meets it: drop videos, choose a folder, Convert, get MP3s."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mutagen.mp3 import MP3
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QWidget,
)

from batchgui.core.models import FileStatus
from batchgui.ui.file_list import FileColumn, FileRole
from tests.gui.conftest import dispose, drop_paths

RUN_TIMEOUT = 60_000


def child(window: QWidget, cls: type, name: str):  # type: ignore[no-untyped-def]
    widget = window.findChild(cls, name)
    assert widget is not None, f"no {cls.__name__} named {name!r}"
    return widget


def file_list(window: QWidget) -> QTableView:
    return child(window, QTableView, "fileList")


def statuses(window: QWidget) -> dict[str, str]:
    """File name -> the status text the list shows."""
    model = file_list(window).model()
    return {
        model.index(r, FileColumn.NAME).data(): model.index(r, FileColumn.STATUS).data()
        for r in range(model.rowCount())
    }


def drop_and_wait(qtbot, window, paths: list[Path], rows: int) -> None:  # type: ignore[no-untyped-def]
    view = file_list(window)
    event = drop_paths(view.viewport(), paths)
    assert event.isAccepted()
    assert event.dropAction() == Qt.DropAction.CopyAction
    qtbot.waitUntil(lambda: view.model().rowCount() == rows and not window.controller.probing,
                    timeout=10_000)


def set_output(window: QWidget, folder: Path) -> None:
    edit = child(window, QLineEdit, "outputFolderEdit")
    edit.setText(str(folder))


def convert_and_wait(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    button = child(window, QPushButton, "convertButton")
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert window.controller.busy
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=RUN_TIMEOUT)


def test_window_has_the_named_widgets_on_its_defaults(window) -> None:  # type: ignore[no-untyped-def]
    for cls, name in [
        (QTableView, "fileList"), (QPushButton, "addFilesButton"),
        (QPushButton, "addFolderButton"), (QLineEdit, "outputFolderEdit"),
        (QComboBox, "targetCombo"), (QComboBox, "qualityCombo"),
        (QPushButton, "convertButton"), (QPushButton, "cancelButton"),
        (QProgressBar, "overallProgress"), (QWidget, "nodeGrid"), (QTableView, "taskTable"),
        (QPushButton, "retryFailedButton"), (QPushButton, "openOutputButton"),
        (QWidget, "logView"),
    ]:
        widget = child(window, cls, name)
        assert widget.accessibleName(), name
    quality = child(window, QComboBox, "qualityCombo")
    assert quality.currentData() == "V2"
    assert [quality.itemData(i) for i in range(quality.count())] == (
        [f"V{i}" for i in range(10)] + ["128k", "160k", "192k", "256k", "320k"]
    )
    target = child(window, QComboBox, "targetCombo")
    assert target.itemData(0) == "local"
    assert "This computer" in target.itemText(0)
    assert not child(window, QPushButton, "convertButton").isEnabled()  # nothing to convert
    assert not child(window, QPushButton, "cancelButton").isEnabled()


def test_drop_convert_and_find_the_mp3s(qtbot, window, media, tmp_path, opened) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "videos"
    one = media.good(src / "one.mp4", seconds=3.0)
    media.good(src / "sub" / "two.final.mp4", seconds=4.0)
    out = tmp_path / "out"
    drop_and_wait(qtbot, window, [one, src / "sub"], rows=2)
    assert set(statuses(window).values()) == {"ready"}
    sizes = [file_list(window).model().index(r, FileColumn.DURATION).data() for r in range(2)]
    assert sizes == ["0:03", "0:04"]

    set_output(window, out)
    convert_and_wait(qtbot, window)

    mp3s = sorted(p.name for p in out.glob("*.mp3"))
    assert mp3s == ["one.mp3", "two.final.mp3"]
    assert abs(MP3(out / "one.mp3").info.length - 3.0) < 0.5
    assert abs(MP3(out / "two.final.mp3").info.length - 4.0) < 0.5
    assert not list(out.glob(".*"))  # no part files left
    assert set(statuses(window).values()) == {"done"}
    progress = child(window, QProgressBar, "overallProgress")
    assert progress.value() == progress.maximum()
    assert "2 / 2 files" in progress.text()
    tasks = child(window, QTableView, "taskTable").model()
    assert tasks.rowCount() == 2
    assert "one.mp3" in (window.findChild(QWidget, "logView").toPlainText())
    assert child(window, QPushButton, "openOutputButton").isEnabled()
    assert not child(window, QPushButton, "retryFailedButton").isEnabled()
    assert not child(window, QPushButton, "convertButton").isEnabled()  # all done already

    # double-click on a done row opens the MP3's folder
    view = file_list(window)
    rect = view.visualRect(view.model().index(0, FileColumn.NAME))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened == [str(out)]
    qtbot.mouseClick(child(window, QPushButton, "openOutputButton"), Qt.MouseButton.LeftButton)
    assert opened[-1] == str(out)


def test_bad_files_are_shown_rejected_and_the_rest_converted(  # type: ignore[no-untyped-def]
    qtbot, window, media, tmp_path
) -> None:
    src = tmp_path / "videos"
    good = media.good(src / "good.mp4", seconds=2.0)
    corrupt = media.corrupt(src / "broken.mp4")
    silent = media.no_audio(src / "silent.mp4")
    out = tmp_path / "out"
    drop_and_wait(qtbot, window, [good, corrupt, silent], rows=3)
    shown = statuses(window)
    assert shown["good.mp4"] == "ready"
    assert shown["broken.mp4"].startswith("rejected: ")
    assert "damaged" in shown["broken.mp4"]
    assert shown["silent.mp4"] == "rejected: the video has no audio track"
    model = file_list(window).model()
    rejected = [model.index(r, 0).data(FileRole.STATUS) for r in range(3)]
    assert rejected.count(FileStatus.REJECTED) == 2

    set_output(window, out)
    convert_and_wait(qtbot, window)
    assert sorted(p.name for p in out.iterdir()) == ["good.mp3"]
    shown = statuses(window)
    assert shown["good.mp4"] == "done"
    assert shown["silent.mp4"].startswith("rejected")


def test_dropping_the_same_file_twice_lists_it_once(qtbot, window, media, tmp_path) -> None:  # type: ignore[no-untyped-def]
    clip = media.good(tmp_path / "a.mp4", seconds=2.0)
    drop_and_wait(qtbot, window, [clip], rows=1)
    # wait for the second drop's own answer: the list already had one row before it
    with qtbot.waitSignal(window.controller.inputs_probed, timeout=10_000) as probed:
        drop_paths(file_list(window).viewport(), [clip, tmp_path])
    assert [i.path for i in probed.args[0]] == [clip]  # the file itself and via its folder
    qtbot.waitUntil(lambda: not window.controller.probing, timeout=10_000)
    assert file_list(window).model().rowCount() == 1


def test_non_local_drops_are_refused(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/video.mp4")])
    view = file_list(window).viewport()
    enter = QDragEnterEvent(QPointF(view.rect().center()), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view, enter)
    assert not enter.isAccepted()


def test_cancel_mid_run_leaves_no_partial_file(qtbot, window, media, tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "videos"
    clips = [media.good(src / f"long{i}.mp4", seconds=30.0) for i in range(4)]
    out = tmp_path / "out"
    drop_and_wait(qtbot, window, clips, rows=4)
    set_output(window, out)
    qtbot.mouseClick(child(window, QPushButton, "convertButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: any(s.startswith("converting") for s in statuses(window).values()),
        timeout=RUN_TIMEOUT,
    )
    cancel = child(window, QPushButton, "cancelButton")
    assert cancel.isEnabled()
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=RUN_TIMEOUT)

    leftovers = [p for p in out.rglob("*") if p.is_file()]
    for p in leftovers:  # anything there is a whole MP3 that finished before Cancel
        assert not p.name.startswith("."), p
        assert p.suffix == ".mp3"
        assert abs(MP3(p).info.length - 30.0) < 1.0
    assert not list(out.rglob("*.part"))
    shown = statuses(window)
    assert any(s.startswith("cancelled") for s in shown.values())
    assert window.controller.last_result.cancelled
    assert child(window, QPushButton, "convertButton").isEnabled()  # can go again


def test_window_stays_responsive_during_a_run(qtbot, window, media, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QTimer

    clips = [media.good(tmp_path / "v" / f"c{i}.mp4", seconds=30.0) for i in range(4)]
    drop_and_wait(qtbot, window, clips, rows=4)
    set_output(window, tmp_path / "out")
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    convert_and_wait(qtbot, window)
    timer.stop()
    assert len(gaps) > 10
    gaps.sort()
    # the GUI thread never stalls long enough for a user to notice
    assert gaps[-1] < 0.5, f"longest gap {gaps[-1] * 1000:.0f} ms"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"c{i}.mp3" for i in range(4)]


@pytest.mark.parametrize("fail_name", ["truncated.mp4"])
def test_retry_failed_reruns_only_the_failed_files(  # type: ignore[no-untyped-def]
    qtbot, window, media, tmp_path, fail_name
) -> None:
    src = tmp_path / "videos"
    ok = media.good(src / "fine.mp4", seconds=2.0)
    bad = media.truncated(src / fail_name, seconds=6.0)
    out = tmp_path / "out"
    drop_and_wait(qtbot, window, [ok, bad], rows=2)
    set_output(window, out)
    convert_and_wait(qtbot, window)
    shown = statuses(window)
    assert shown["fine.mp4"] == "done"
    assert shown[fail_name].startswith("failed: ")
    retry = child(window, QPushButton, "retryFailedButton")
    assert retry.isEnabled()

    # the task table lets the user read why: the detail pane shows the reason
    table = child(window, QTableView, "taskTable")
    failed_row = next(r for r in range(2)
                      if table.model().index(r, 0).data() == fail_name)
    table.selectRow(failed_row)
    detail = window.findChild(QWidget, "taskDetail").toPlainText()
    assert "truncated" in detail

    # Retry: a new run with exactly the failed file
    started = []
    window.controller.run_started.connect(started.append)
    qtbot.mouseClick(retry, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=RUN_TIMEOUT)
    assert [i.name for i in started[0].inputs] == [fail_name]
    assert table.model().rowCount() == 1
    assert sorted(p.name for p in out.iterdir()) == ["fine.mp3"]


def test_failed_only_filter(qtbot, window, media, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QCheckBox

    src = tmp_path / "videos"
    clips = [media.good(src / "a.mp4", 2.0), media.truncated(src / "b.mp4", 6.0)]
    drop_and_wait(qtbot, window, clips, rows=2)
    set_output(window, tmp_path / "out")
    convert_and_wait(qtbot, window)
    table = child(window, QTableView, "taskTable")
    assert table.model().rowCount() == 2
    child(window, QCheckBox, "failedOnlyCheck").setChecked(True)
    assert table.model().rowCount() == 1
    assert table.model().index(0, 0).data() == "b.mp4"
    child(window, QCheckBox, "failedOnlyCheck").setChecked(False)
    assert table.model().rowCount() == 2


def test_output_folder_and_quality_are_remembered(qtbot, qloop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from batchgui.ui import settings as ui_settings
    from batchgui.ui.main_window import MainWindow

    first = MainWindow()
    set_output(first, tmp_path / "music")
    quality = child(first, QComboBox, "qualityCombo")
    quality.setCurrentIndex(quality.findData("192k"))
    dispose(qtbot, first)  # closing saves the settings on a worker thread
    assert ui_settings.load().output_dir == str(tmp_path / "music")

    second = MainWindow()
    assert child(second, QLineEdit, "outputFolderEdit").text() == str(tmp_path / "music")
    assert child(second, QComboBox, "qualityCombo").currentData() == "192k"
    dispose(qtbot, second)


def tab_walk(window: QWidget, start: QWidget, presses: int = 40) -> list[str]:
    """Press Tab like a user, from `start`, and record where the focus goes."""
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    window.activateWindow()
    start.setFocus()
    seen = []
    for _ in range(presses):
        focused = QApplication.focusWidget()
        seen.append(focused.objectName() if focused is not None else "")
        QTest.keyClick(focused or window, Qt.Key.Key_Tab)
    return seen


def one_round(seen: list[str]) -> list[str]:
    """The walk up to where it comes back to its start."""
    return seen[: seen.index(seen[0], 1)] if seen[0] in seen[1:] else seen


def test_controls_are_reachable_by_keyboard(qtbot, window, media, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Tab visits every enabled control once, in reading order, and comes back round; the
    lists let Tab out (arrows move inside them). Cancel is reached during a run (and Esc
    cancels), Retry failed after a run with a failure."""
    src = tmp_path / "videos"
    clips = [media.good(src / "long.mp4", seconds=30.0), media.truncated(src / "cut.mp4", 6.0)]
    drop_and_wait(qtbot, window, clips, rows=2)
    file_list(window).selectRow(0)
    set_output(window, tmp_path / "out")
    child(window, QWidget, "logToggle").setChecked(True)
    ready = one_round(tab_walk(window, file_list(window)))
    assert ready == [
        "fileList", "addFilesButton", "addFolderButton", "removeButton", "clearButton",
        "outputFolderEdit", "browseButton", "qualityCombo", "conflictCombo",
        "mirrorFoldersCheck", "keepTagsCheck", "loudnessCheck", "targetCombo", "accountsButton",
        "convertButton", "nodeGrid",
        "failedOnlyCheck", "taskTable", "taskDetail", "logToggle", "openOutputButton",
        "logView",
    ]

    qtbot.mouseClick(child(window, QPushButton, "convertButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(s.startswith("converting") for s in statuses(window).values()),
                    timeout=RUN_TIMEOUT)
    running = one_round(tab_walk(window, file_list(window)))
    assert "cancelButton" in running and "convertButton" not in running
    qtbot.keyClick(window, Qt.Key.Key_Escape)  # the shortcut cancels
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=RUN_TIMEOUT)
    assert window.controller.last_result.cancelled

    convert_and_wait(qtbot, window)  # this time to the end: cut.mp4 fails
    assert child(window, QPushButton, "retryFailedButton").isEnabled()
    after = one_round(tab_walk(window, file_list(window)))
    assert after.index("logToggle") < after.index("retryFailedButton") < after.index(
        "openOutputButton")
    assert window.menu_actions.convert.shortcut().toString() == "Ctrl+Return"


def test_a_probe_that_breaks_is_said_in_the_log(  # type: ignore[no-untyped-def]
    qtbot, window, media, tmp_path, monkeypatch
) -> None:
    """Dropped files never vanish silently: when checking them fails (here a RuntimeError,
    which the controller once swallowed as 'the window is closing'), the log says so."""
    clip = media.good(tmp_path / "a.mp4", seconds=2.0)

    def broken(found):  # type: ignore[no-untyped-def]
        raise RuntimeError("the MP4 reader fell over")

    monkeypatch.setattr("batchgui.ui.controller._probe_many", broken)
    drop_paths(file_list(window).viewport(), [clip])
    log_view = window.findChild(QWidget, "logView")
    qtbot.waitUntil(lambda: "Could not check" in log_view.toPlainText(), timeout=10_000)
    assert "the MP4 reader fell over" in log_view.toPlainText()
    qtbot.waitUntil(lambda: not window.controller.probing, timeout=10_000)
