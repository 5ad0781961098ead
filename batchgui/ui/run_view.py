"""How the window shows a run: every panel from the same snapshot, the run's end with what
it cost, a clean slate when the list is emptied, and panels named and sized for the target.

One snapshot, one truth: the file list, the task table, the node grid, the Tasks header
and the progress bar are all set from the very snapshot in hand (and the controller sends
the run's log lines only after a snapshot taken after them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from batchgui.core.models import RunResult, RunSnapshot, RunSpec
from batchgui.ui.run_panel import finish_message, paused_text

if TYPE_CHECKING:
    from batchgui.ui.main_window import MainWindow

#: (files and output, run panels, log) heights, (nodes, tasks) widths and (task table,
#: task details) heights, per target kind. On this computer the slots need little room:
#: the space goes to the list of files, and to the rows of the table.
LOCAL_SIZES = ([430, 330, 120], [170, 1010], [300, 60])
AZURE_SIZES = ([300, 480, 120], [400, 780], [400, 150])


class RunView(QObject):
    """Puts the controller's news about a run on the window's panels.

    Signals: none of its own.
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._w = window
        self.local: bool | None = None  # the kind of target the panels are set up for
        self.on_azure = False  # the run going on (or the last one) is on Azure

    # -- the target ---------------------------------------------------------------------------

    def fit_to_target(self, local: bool, resize: bool = True) -> None:
        """Name the panels for the target ("Slots" on this computer) and, when the kind of
        target changes, give the room to what matters for it."""
        w = self._w
        changed = local != self.local
        self.local = local
        w.nodes_panel.set_local(local)
        w.tasks_panel.set_local(local)
        w.task_model.set_local(local)
        w.file_model.local = local
        if changed and resize:
            main, middle, tasks = LOCAL_SIZES if local else AZURE_SIZES
            w.main_splitter.setSizes(main)
            w.middle_splitter.setSizes(middle)
            w.tasks_panel.task_splitter.setSizes(tasks)

    # -- a run --------------------------------------------------------------------------------

    def started(self, spec: RunSpec) -> None:
        w = self._w
        self.on_azure = spec.target_name != "local"
        self.fit_to_target(not self.on_azure, resize=False)
        w.task_model.clear()
        w.node_grid.set_nodes(())
        w.tasks_panel.clear()
        w.run_bar.show_started(spec)

    def show(self, snapshot: RunSnapshot) -> None:
        """One snapshot on every panel."""
        w, c = self._w, self._w.controller
        w.file_model.apply_snapshot(snapshot)
        w.task_model.apply_snapshot(snapshot)
        w.node_grid.set_nodes(snapshot.nodes)
        w.run_bar.show_snapshot(snapshot, c.cancelling)
        if snapshot.paused and not c.cancelling:
            w.run_bar.set_stage(paused_text(self.on_azure))
        w.run_bar.show_paused(snapshot.paused)
        w.pause_button.setEnabled(c.busy and not c.cancelling)
        w.tasks_panel.show_snapshot(snapshot)

    def finished(self, result: RunResult, cost: str | None) -> tuple[str, str]:
        """The run's end on the run bar, with what it cost on Azure; (title, text) for the
        status bar and the notification, the cost included."""
        title, text = finish_message(result)
        self._w.run_bar.show_finished(result, title, text, cost)
        return finish_message(result, cost)

    def reset(self) -> None:
        """The list was emptied: the last run's progress, nodes and tasks go too."""
        w = self._w
        if w.controller.busy:
            return
        w.task_model.clear()
        w.node_grid.set_nodes(())
        w.tasks_panel.clear()
        w.run_bar.reset()
