"""The run as it goes: the bar with Convert, Cancel, overall progress and stage; the
"Nodes" box with its grid; and the bar under them (log, Retry failed, Open output folder).

They only show what a snapshot says; the window decides when a run starts or stops.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from batchgui.core.models import FileStatus, RunResult, RunSnapshot, RunSpec, Stage
from batchgui.ui.file_list import clock
from batchgui.ui.log_panel import LogToggle
from batchgui.ui.node_grid import NodeGrid, NodeLegend

STAGE_WORDS: dict[Stage, str] = {
    Stage.PROBING: "Checking files",
    Stage.UPLOADING: "Uploading",
    Stage.POOL: "Preparing nodes",
    Stage.JOB: "Creating the job",
    Stage.TASKS: "Adding tasks",
    Stage.MONITORING: "Converting",
    Stage.DOWNLOADING: "Downloading",
    Stage.CLEANUP: "Cleaning up",
    Stage.DONE: "Done",
    Stage.CANCELLED: "Cancelled",
    Stage.FAILED: "Stopped",
}

#: the progress bar counts in thousandths, so a long run still moves visibly
PROGRESS_STEPS = 1000


def progress_text(snapshot: RunSnapshot) -> str:
    """"3 / 10 files · 1 failed · 12× realtime · about 2:05 left"."""
    parts = [f"{snapshot.files_done} / {snapshot.files_total} files"]
    if snapshot.files_failed:
        parts.append(f"{snapshot.files_failed} failed")
    if snapshot.rate:
        parts.append(snapshot.rate)
    if snapshot.eta_s is not None and snapshot.stage not in (Stage.DONE, Stage.CANCELLED):
        parts.append(f"about {clock(snapshot.eta_s)} left")
    return " · ".join(parts)


def paused_text(on_azure: bool) -> str:
    if on_azure:
        return ("Paused: files being converted finish, no new file starts. The pool's nodes "
                "still cost money while the run is paused.")
    return "Paused: files being converted finish, no new file starts."


def stage_text(snapshot: RunSnapshot, cancelling: bool) -> str:
    """The stage in words, with the run's own message when it has one."""
    words = STAGE_WORDS.get(snapshot.stage, snapshot.stage.value)
    if cancelling and snapshot.stage not in (Stage.CANCELLED, Stage.DONE):
        words = "Cancelling"
    message = snapshot.message
    if message.lower().startswith(words.lower()):
        return message
    return f"{words}: {message}" if message else words


def finish_message(result: RunResult) -> tuple[str, str]:
    """(title, text) that tell how a run ended, for the status bar and the notification."""
    done = sum(1 for o in result.outcomes if o.status is FileStatus.DONE)
    failed = sum(1 for o in result.outcomes if o.status is FileStatus.FAILED)
    if result.cancelled:
        return "Conversion cancelled", f"{done} file(s) were converted before."
    if result.error:
        return "Conversion stopped", result.error
    return "Conversion finished", f"{done} MP3(s) ready" + (f", {failed} failed" if failed else "")


class RunBar(QWidget):
    """Convert and Cancel, the overall progress bar and the stage line.

    Signals: none of its own; the window connects to its buttons.
    """

    def __init__(self) -> None:
        super().__init__()
        self.convert_button = QPushButton("&Convert")
        self.convert_button.setObjectName("convertButton")
        self.convert_button.setDefault(True)
        self.convert_button.setToolTip("Convert the files in the list to MP3 (Ctrl+Return)")
        self.convert_button.setMinimumWidth(110)
        self.cancel_button = QPushButton("Ca&ncel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setToolTip("Stop; unfinished MP3s are removed (Esc)")
        self.pause_button = QPushButton("&Pause")
        self.pause_button.setObjectName("pauseButton")
        self.pause_button.setToolTip("Files being converted finish; no new file starts until "
                                     "you press Continue")
        self.overall_progress = QProgressBar()
        self.overall_progress.setObjectName("overallProgress")
        self.overall_progress.setAccessibleName("Overall progress")
        self.overall_progress.setRange(0, PROGRESS_STEPS)
        self.overall_progress.setValue(0)
        self.overall_progress.setTextVisible(True)
        self.overall_progress.setFormat("Ready")
        self.overall_progress.setMinimumWidth(260)
        self.stage_label = QLabel("Drop videos above, then press Convert.")
        self.stage_label.setObjectName("stageLabel")
        self.stage_label.setAccessibleName("Run stage")
        self.stage_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stage_label.setMinimumWidth(120)
        self.stage_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.convert_button)
        layout.addWidget(self.pause_button)
        layout.addWidget(self.cancel_button)
        layout.addWidget(self.overall_progress, 2)
        layout.addWidget(self.stage_label, 3)

    def tab_order(self) -> list[QWidget]:
        return [self.convert_button, self.pause_button, self.cancel_button]

    def show_paused(self, paused: bool) -> None:
        self.pause_button.setText("C&ontinue" if paused else "&Pause")

    def set_stage(self, text: str) -> None:
        self.stage_label.setText(text)

    def show_started(self, spec: RunSpec) -> None:
        self.overall_progress.setValue(0)
        self.overall_progress.setFormat(f"0 / {len(spec.inputs)} files")
        self.stage_label.setText("Starting…")

    def show_snapshot(self, snapshot: RunSnapshot, cancelling: bool) -> None:
        self.overall_progress.setValue(int(snapshot.fraction * PROGRESS_STEPS))
        self.overall_progress.setFormat(progress_text(snapshot).replace("%", "%%"))
        text = stage_text(snapshot, cancelling)
        self.stage_label.setText(text)
        self.stage_label.setToolTip(text)

    def show_finished(self, result: RunResult, title: str) -> None:
        """Only a run that never got going needs words here; a snapshot said the rest."""
        if result.error and not result.outcomes:
            self.stage_label.setText(f"Stopped: {result.error}")
        if not result.outcomes:
            self.overall_progress.setFormat(title)


class NodesPanel(QGroupBox):
    """The "Nodes" box: a legend with counts over the grid of the run's nodes.

    Signals: none of its own (NodeGrid.counts_changed feeds the legend).
    """

    def __init__(self) -> None:
        super().__init__("Nodes")
        self.node_grid = NodeGrid()
        self.node_grid.setObjectName("nodeGrid")
        self.node_legend = NodeLegend()
        self.node_legend.setObjectName("nodeLegend")
        layout = QVBoxLayout(self)
        layout.addWidget(self.node_legend)
        layout.addWidget(self.node_grid, 1)
        self.node_grid.counts_changed.connect(self._on_node_grid_counts_changed)

    @Slot(dict)
    def _on_node_grid_counts_changed(self, counts: dict[str, int]) -> None:
        self.node_legend.set_counts(counts, any(n.is_spot for n in self.node_grid.nodes))


class AfterRunBar(QWidget):
    """The row under Nodes and Tasks: the log's toggle, Retry failed and Open output folder.

    Signals: none of its own; the window connects to its buttons.
    """

    def __init__(self) -> None:
        super().__init__()
        self.log_toggle = LogToggle()
        self.open_output_button = QPushButton("O&pen output folder")
        self.open_output_button.setObjectName("openOutputButton")
        self.retry_failed_button = QPushButton("&Retry failed")
        self.retry_failed_button.setObjectName("retryFailedButton")
        self.retry_failed_button.setToolTip("Convert again only the files that failed")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.log_toggle)
        layout.addStretch(1)
        layout.addWidget(self.retry_failed_button)
        layout.addWidget(self.open_output_button)

    def tab_order(self) -> list[QWidget]:
        return [self.log_toggle, self.retry_failed_button, self.open_output_button]
