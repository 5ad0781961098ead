"""The run as it goes: the bar with Convert, Cancel, the estimate, overall progress and
stage; the "Nodes" box with its grid ("Slots" on this computer); and the bar under them
(log, Retry failed, Open output folder).

They only show what a snapshot says; the window decides when a run starts or stops.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QGridLayout,
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
from batchgui.i18n import N_, _, tr, trn
from batchgui.ui.file_list import clock
from batchgui.ui.log_panel import LogToggle
from batchgui.ui.node_grid import NodeGrid, NodeLegend

#: each stage in words (marked for translation; shown through stage_words)
STAGE_WORDS: dict[Stage, str] = {
    Stage.PROBING: N_("Checking files"),
    Stage.UPLOADING: N_("Uploading"),
    Stage.POOL: N_("Preparing nodes"),
    Stage.JOB: N_("Creating the job"),
    Stage.TASKS: N_("Adding tasks"),
    Stage.MONITORING: N_("Converting"),
    Stage.DOWNLOADING: N_("Downloading"),
    Stage.CLEANUP: N_("Cleaning up"),
    Stage.DONE: N_("Done"),
    Stage.CANCELLED: N_("Cancelled"),
    Stage.FAILED: N_("Stopped"),
}

#: the progress bar counts in thousandths, so a long run still moves visibly
PROGRESS_STEPS = 1000


READY_WORDS = N_("Drop videos above, then press Convert.")


def ready_text(files: int, has_folder: bool) -> str:
    """The stage line before a run: what the user does next."""
    if not files:
        return _(READY_WORDS)
    if not has_folder:
        return _("Choose an output folder, then press Convert.")
    return trn("{n} file ready: press Convert.", "{n} files ready: press Convert.", files)


def progress_text(snapshot: RunSnapshot) -> str:
    """"3 / 10 files · 1 failed · 12× realtime · about 2:05 left"."""
    parts = [trn("{done} / {n} file", "{done} / {n} files", snapshot.files_total,
                 done=snapshot.files_done)]
    if snapshot.files_failed:
        parts.append(tr("{failed} failed", failed=snapshot.files_failed))
    if snapshot.rate:
        parts.append(snapshot.rate)
    if snapshot.eta_s is not None and snapshot.stage not in (Stage.DONE, Stage.CANCELLED):
        parts.append(tr("about {clock} left", clock=clock(snapshot.eta_s)))
    return " · ".join(parts)


def paused_text(on_azure: bool) -> str:
    if on_azure:
        return _("Paused: files being converted finish, no new file starts. The pool's nodes "
                 "still cost money while the run is paused.")
    return _("Paused: files being converted finish, no new file starts.")


def stage_text(snapshot: RunSnapshot, cancelling: bool) -> str:
    """The stage in words, with the run's own message when it has one."""
    words = _(STAGE_WORDS[snapshot.stage]) if snapshot.stage in STAGE_WORDS \
        else snapshot.stage.value
    if cancelling and snapshot.stage not in (Stage.CANCELLED, Stage.DONE):
        words = _("Cancelling")
    message = snapshot.message
    if message.lower().startswith(words.lower()):
        return message
    return f"{words}: {message}" if message else words


def finish_message(result: RunResult, cost: str | None = None) -> tuple[str, str]:
    """(title, text) that tell how a run ended, for the status bar and the notification.

    `cost` is what the run used on Azure ("Used 30 node-minutes, about $0.04 at list
    price"), said after the rest.
    """
    done = sum(1 for o in result.outcomes if o.status is FileStatus.DONE)
    failed = sum(1 for o in result.outcomes if o.status is FileStatus.FAILED)
    if result.cancelled:
        title = _("Conversion cancelled")
        text = trn("{n} file was converted before.", "{n} files were converted before.", done)
    elif result.error:
        title, text = _("Conversion stopped"), result.error.text
    elif failed:
        title = _("Conversion finished")
        text = trn("{n} MP3 ready, {failed} failed.", "{n} MP3s ready, {failed} failed.", done,
                   failed=failed)
    else:
        title, text = _("Conversion finished"), trn("{n} MP3 ready.", "{n} MP3s ready.", done)
    if cost:
        text = f"{text} {cost}."
    return title, text


class RunBar(QWidget):
    """Convert, Pause and Cancel with the estimate under them; the overall progress bar, its
    words under it (beside the bar, never on it: on the bar, text is cut where the filled
    part ends) and the stage line.

    Signals: none of its own; the window connects to its buttons.
    """

    def __init__(self) -> None:
        super().__init__()
        self.convert_button = QPushButton(_("&Convert"))
        self.convert_button.setObjectName("convertButton")
        self.convert_button.setDefault(True)
        self.convert_button.setToolTip(_("Convert the files in the list to MP3 (Ctrl+Return)"))
        self.convert_button.setMinimumWidth(110)
        self.cancel_button = QPushButton(_("Ca&ncel"))
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setToolTip(_("Stop; unfinished MP3s are removed (Esc)"))
        self.pause_button = QPushButton(_("&Pause"))
        self.pause_button.setObjectName("pauseButton")
        self.pause_button.setToolTip(_("Files being converted finish; no new file starts until "
                                       "you press Continue"))
        self.overall_progress = QProgressBar()
        self.overall_progress.setObjectName("overallProgress")
        self.overall_progress.setAccessibleName(_("Overall progress"))
        self.overall_progress.setRange(0, PROGRESS_STEPS)
        self.overall_progress.setValue(0)
        self.overall_progress.setTextVisible(False)  # the words are in progress_label
        self.overall_progress.setFormat(_("Ready"))  # still read by screen readers
        self.overall_progress.setMinimumWidth(200)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("progressText")
        self.progress_label.setAccessibleName(_("Progress in words"))
        self.progress_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        self.estimate_label = QLabel()
        self.estimate_label.setObjectName("estimateLabel")
        self.estimate_label.setAccessibleName(_("Estimate"))
        self.estimate_label.setWordWrap(True)
        self.estimate_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        self._before_run = True  # the stage line tells what to do next, not a run's news
        self.stage_label = QLabel(_(READY_WORDS))
        self.stage_label.setObjectName("stageLabel")
        self.stage_label.setAccessibleName(_("Run stage"))
        self.stage_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stage_label.setMinimumWidth(120)
        self.stage_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setVerticalSpacing(2)
        layout.addWidget(self.convert_button, 0, 0)
        layout.addWidget(self.pause_button, 0, 1)
        layout.addWidget(self.cancel_button, 0, 2)
        layout.addWidget(self.overall_progress, 0, 3)
        layout.addWidget(self.stage_label, 0, 4)
        layout.addWidget(self.progress_label, 1, 3, 1, 2)  # under the bar
        layout.addWidget(self.estimate_label, 2, 0, 1, 5)  # the whole width: never cut
        self.progress_label.setVisible(False)  # each row shows only when it has words
        self.estimate_label.setVisible(False)
        layout.setColumnStretch(3, 2)
        layout.setColumnStretch(4, 3)

    def tab_order(self) -> list[QWidget]:
        return [self.convert_button, self.pause_button, self.cancel_button]

    def show_paused(self, paused: bool) -> None:
        self.pause_button.setText(_("C&ontinue") if paused else _("&Pause"))

    def set_stage(self, text: str) -> None:
        self.stage_label.setText(text)

    def _show_progress(self, fraction: float, text: str) -> None:
        self.overall_progress.setValue(int(fraction * PROGRESS_STEPS))
        self.overall_progress.setFormat(text.replace("%", "%%"))
        self.progress_label.setText(text)
        self.progress_label.setVisible(bool(text))

    def show_ready(self, files: int, has_folder: bool) -> None:
        """Before the first run (or after Clear), the stage line says what to do next; a run's
        last word stays until the list is cleared."""
        if self._before_run:
            self.stage_label.setText(ready_text(files, has_folder))

    def show_started(self, spec: RunSpec) -> None:
        self._before_run = False
        self._show_progress(0.0, trn("{done} / {n} file", "{done} / {n} files",
                                     len(spec.inputs), done=0))
        self.stage_label.setText(_("Starting…"))
        self.stage_label.setToolTip("")

    def show_snapshot(self, snapshot: RunSnapshot, cancelling: bool) -> None:
        self._show_progress(snapshot.fraction, progress_text(snapshot))
        text = stage_text(snapshot, cancelling)
        self.stage_label.setText(text)
        self.stage_label.setToolTip(text)

    def show_finished(self, result: RunResult, title: str, text: str,
                      cost: str | None = None) -> None:
        """The run's last word stays on the stage line; what it cost on Azure goes beside the
        final count under the bar, where there is room for all of it."""
        if result.error and not result.outcomes:
            self.stage_label.setText(tr("Stopped: {reason}", reason=result.error))
        else:
            self.stage_label.setText(f"{title}: {text}")
        self.stage_label.setToolTip(self.stage_label.text())
        if not result.outcomes:
            self._show_progress(0.0, title)
        if cost:
            words = self.progress_label.text()
            self.progress_label.setText(f"{words} · {cost}" if words else cost)
            self.progress_label.setVisible(True)

    def reset(self) -> None:
        """Back to "nothing has run": the list was emptied for new files."""
        self._show_progress(0.0, "")
        self.overall_progress.setFormat(_("Ready"))
        self._before_run = True
        self.stage_label.setText(_(READY_WORDS))
        self.stage_label.setToolTip("")

    def show_estimate(self, text: str, details: str = "") -> None:
        """The estimate for the files and settings as they are now ('' hides it)."""
        self.estimate_label.setText(text)
        self.estimate_label.setToolTip(details)
        self.estimate_label.setVisible(bool(text))


class NodesPanel(QGroupBox):
    """The "Nodes" box: a legend with counts over the grid of the run's nodes; on this
    computer it is "Slots" (one per file converted at once).

    Signals: none of its own (NodeGrid.counts_changed feeds the legend).
    """

    def __init__(self) -> None:
        super().__init__(_("Nodes"))
        self._local = False
        self.node_grid = NodeGrid()
        self.node_grid.setObjectName("nodeGrid")
        self.node_legend = NodeLegend()
        self.node_legend.setObjectName("nodeLegend")
        layout = QVBoxLayout(self)
        layout.addWidget(self.node_legend)
        layout.addWidget(self.node_grid, 1)
        self.node_grid.counts_changed.connect(self._on_node_grid_counts_changed)

    def set_local(self, local: bool) -> None:
        """Name the box for the target: "Slots" on this computer, "Nodes" on Azure."""
        self._local = local
        self.setTitle(_("Slots") if local else _("Nodes"))
        self.node_legend.set_local(local)
        self.node_grid.set_local(local)

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
        self.open_output_button = QPushButton(_("O&pen output folder"))
        self.open_output_button.setObjectName("openOutputButton")
        self.retry_failed_button = QPushButton(_("&Retry failed"))
        self.retry_failed_button.setObjectName("retryFailedButton")
        self.retry_failed_button.setToolTip(_("Convert again only the files that failed"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.log_toggle)
        layout.addStretch(1)
        layout.addWidget(self.retry_failed_button)
        layout.addWidget(self.open_output_button)

    def tab_order(self) -> list[QWidget]:
        return [self.log_toggle, self.retry_failed_button, self.open_output_button]
