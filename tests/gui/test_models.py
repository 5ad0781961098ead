"""The models behind the lists: qtmodeltester-clean, updated in place by snapshots."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage

from batchgui.core.models import (
    FileStatus,
    InputFile,
    NodeState,
    NodeView,
    RunSnapshot,
    Stage,
    TaskResult,
    TaskState,
    TaskView,
)
from batchgui.ui.file_list import FileColumn, FileListModel, FileRole, status_text
from batchgui.ui.node_grid import (
    FALLBACK_COLOUR,
    STATE_COLOURS,
    NodeGrid,
    node_colour,
    node_tooltip,
)
from batchgui.ui.task_table import TaskColumn, TaskFilterProxy, TaskRole, TaskTableModel


def inputs(n: int) -> list[InputFile]:
    out = [InputFile(Path(f"/videos/clip{i:05d}.mp4"), 1_000_000 + i, 60.0 + i) for i in range(n)]
    out.append(InputFile(Path("/videos/broken.mp4"), 10, None, "the video is damaged"))
    return out


def task(i: int, status: FileStatus = FileStatus.QUEUED, **kw: object) -> TaskView:
    return TaskView(task_id=f"t{i:05d}", input_path=Path(f"/videos/clip{i:05d}.mp4"),
                    status=status, **kw)  # type: ignore[arg-type]


def snapshot(tasks: list[TaskView], nodes: tuple[NodeView, ...] = (), run_id: str = "run-1"
             ) -> RunSnapshot:
    return RunSnapshot(run_id=run_id, stage=Stage.MONITORING, message="", tasks=tuple(tasks),
                       nodes=nodes, files_total=len(tasks), files_done=0, files_failed=0,
                       fraction=0.0, elapsed_s=1.0, eta_s=None)


def test_file_list_model_passes_qtmodeltester(qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    model = FileListModel()
    qtmodeltester.check(model)
    model.add_inputs(inputs(20))
    qtmodeltester.check(model)
    model.apply_snapshot(snapshot([task(i, FileStatus.CONVERTING, progress=0.5)
                                   for i in range(0, 20, 3)]))
    qtmodeltester.check(model)
    model.remove_rows([0, 1, 5, 19])
    qtmodeltester.check(model)
    model.clear()
    qtmodeltester.check(model)


def test_file_list_shows_status_words_and_keeps_rejected_files() -> None:
    model = FileListModel()
    assert model.add_inputs(inputs(3)) == 4
    assert model.add_inputs(inputs(3)) == 0  # same paths again: nothing new
    status = [model.index(r, FileColumn.STATUS).data() for r in range(4)]
    assert status == ["ready", "ready", "ready", "rejected: the video is damaged"]
    assert [i.name for i in model.to_convert()] == [f"clip{i:05d}.mp4" for i in range(3)]
    changes: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, roles: changes.append((a.row(), b.row())))
    model.apply_snapshot(snapshot([
        task(0, FileStatus.UPLOADING, progress=0.25),
        task(1, FileStatus.CONVERTING, progress=0.42),
        task(2, FileStatus.FAILED, reason="ffmpeg failed (exit code 1)"),
    ]))
    assert changes == [(0, 2)]  # one contiguous range
    status = [model.index(r, FileColumn.STATUS).data() for r in range(3)]
    assert status == ["uploading 25 %", "converting 42 %", "failed: ffmpeg failed (exit code 1)"]
    assert [i.name for i in model.failed()] == ["clip00002.mp4"]
    assert model.index(2, 0).data(FileRole.STATUS) == FileStatus.FAILED  # a str through Qt
    assert status_text(FileStatus.DOWNLOADING) == "downloading"
    assert status_text(FileStatus.DONE) == "done"


def test_task_model_and_proxy_pass_qtmodeltester(qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    model = TaskTableModel()
    proxy = TaskFilterProxy()
    proxy.setSourceModel(model)
    qtmodeltester.check(model)
    model.apply_snapshot(snapshot([task(i) for i in range(50)]))
    qtmodeltester.check(model)
    qtmodeltester.check(proxy)
    model.apply_snapshot(snapshot([task(i, FileStatus.FAILED, reason="boom") if i % 7 == 0
                                   else task(i) for i in range(50)]))
    proxy.set_failed_only(True)
    qtmodeltester.check(proxy)
    assert proxy.rowCount() == 8
    proxy.sort(TaskColumn.FILE, Qt.SortOrder.DescendingOrder)
    qtmodeltester.check(proxy)
    model.apply_snapshot(snapshot([task(i) for i in range(5)], run_id="run-2"))
    qtmodeltester.check(model)


def test_task_model_applies_a_snapshot_by_id_without_resetting() -> None:
    model = TaskTableModel()
    first = [task(i) for i in range(1000)]
    model.apply_snapshot(snapshot(first))
    resets: list[int] = []
    changes: list[tuple[int, int]] = []
    model.modelReset.connect(lambda: resets.append(1))
    model.dataChanged.connect(lambda a, b, roles: changes.append((a.row(), b.row())))
    second = list(first)
    for i in (10, 11, 12, 500):
        second[i] = task(i, FileStatus.CONVERTING, state=TaskState.RUNNING, node_id="node-1",
                         progress=0.3, run_time_s=12.0)
    second[999] = task(999, FileStatus.DONE, progress=1.0, exit_code=0,
                       result=TaskResult.SUCCESS, output_path=Path("/out/clip00999.mp3"))
    model.apply_snapshot(snapshot(second))
    assert resets == []
    assert changes == [(10, 12), (500, 500), (999, 999)]
    assert model.index(500, TaskColumn.NODE).data() == "node-1"
    assert model.index(500, TaskColumn.PROGRESS).data() == "30 %"
    assert model.index(500, TaskColumn.RUN_TIME).data() == "0:12"
    assert model.index(999, TaskColumn.RESULT).data() == "saved as clip00999.mp3"
    assert model.index(999, TaskColumn.EXIT_CODE).data() == "0"
    assert model.index(999, 0).data(TaskRole.TASK).status is FileStatus.DONE
    model.apply_snapshot(snapshot(second))  # the same snapshot again: nothing to say
    assert len(changes) == 3


def test_every_node_state_has_its_own_colour_and_unknown_states_a_fallback() -> None:
    colours = [node_colour(NodeView(f"n{s}", s)).name() for s in NodeState]
    assert len(set(colours)) == len(NodeState)
    assert set(STATE_COLOURS) == {s.value for s in NodeState}
    new_state = NodeState.parse("deallocating")  # a state this version does not know
    assert new_state == "deallocating"
    assert node_colour(NodeView("x", new_state)).name() == QColor(FALLBACK_COLOUR).name()
    light = node_colour(NodeView("a", NodeState.RUNNING, running_tasks=1, slots=4))
    dark = node_colour(NodeView("b", NodeState.RUNNING, running_tasks=4, slots=4))
    assert light.lightnessF() > dark.lightnessF()  # busier is darker
    tip = node_tooltip(NodeView("tvm-1", NodeState.START_TASK_FAILED, is_spot=True,
                                errors=("ffmpeg could not be installed",)))
    assert "Spot" in tip and "setup failed" in tip and "ffmpeg could not be installed" in tip


def test_node_grid_paints_spot_nodes_differently_and_counts_states(qtbot) -> None:  # type: ignore[no-untyped-def]
    grid = NodeGrid()
    qtbot.addWidget(grid)
    grid.resize(200, 100)
    counts: list[dict[str, int]] = []
    grid.counts_changed.connect(counts.append)
    grid.set_nodes([NodeView("dedicated", NodeState.IDLE), NodeView("spot", NodeState.IDLE,
                                                                    is_spot=True),
                    NodeView("odd", "deallocating")])
    assert counts[-1] == {"idle": 2, "other": 1}
    image = grid.grab().toImage()
    assert isinstance(image, QImage)
    a, b = grid._cell_rect(0), grid._cell_rect(1)
    corner_a = image.pixelColor(a.right() - 1, a.top() + 1)
    corner_b = image.pixelColor(b.right() - 1, b.top() + 1)
    centre_a = image.pixelColor(a.left() + 2, a.bottom() - 2)
    centre_b = image.pixelColor(b.left() + 2, b.bottom() - 2)
    assert centre_a == centre_b  # same state, same colour
    assert corner_a != corner_b  # but the Spot node carries a mark
    assert grid.node_at(a.center()) == 0 and grid.node_at(b.center()) == 1
    assert "1 other" in grid.accessibleDescription()


def test_node_grid_fits_a_thousand_nodes(qtbot) -> None:  # type: ignore[no-untyped-def]
    grid = NodeGrid()
    qtbot.addWidget(grid)
    grid.resize(400, 240)
    grid.set_nodes([NodeView(f"n{i}", list(NodeState)[i % len(NodeState)], is_spot=i % 3 == 0)
                    for i in range(1000)])
    grid.grab()
    last = grid._cell_rect(999)
    assert grid.rect().contains(last)
    assert grid.node_at(last.center()) == 999


def test_sorting_keeps_the_selection_on_its_task_and_follows_new_snapshots(qtbot) -> None:  # type: ignore[no-untyped-def]
    from batchgui.ui.task_table import TaskTableView

    model = TaskTableModel()
    proxy = TaskFilterProxy()
    proxy.setSourceModel(model)
    view = TaskTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.setSortingEnabled(True)
    tasks = [task(i, FileStatus.CONVERTING, progress=(i * 37 % 100) / 100) for i in range(100)]
    model.apply_snapshot(snapshot(tasks))
    view.sortByColumn(TaskColumn.PROGRESS, Qt.SortOrder.DescendingOrder)
    shown = [proxy.index(r, 0).data(TaskRole.TASK).progress for r in range(100)]
    assert shown == sorted(shown, reverse=True)
    view.selectRow(5)
    selected = view.currentIndex().data(TaskRole.TASK).task_id
    # the selected task jumps to the bottom: the selection goes with it
    tasks = [replace_progress(t, 0.0) if t.task_id == selected else t for t in tasks]
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    model.apply_snapshot(snapshot(tasks))
    assert resets == []
    assert view.currentIndex().data(TaskRole.TASK).task_id == selected
    shown = [proxy.index(r, 0).data(TaskRole.TASK).progress for r in range(100)]
    assert shown == sorted(shown, reverse=True)
    view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # back to the run's order
    assert [proxy.index(r, 0).data() for r in range(3)] == [
        "clip00000.mp4", "clip00001.mp4", "clip00002.mp4"]


def replace_progress(view: TaskView, progress: float) -> TaskView:
    from dataclasses import replace

    return replace(view, progress=progress)
