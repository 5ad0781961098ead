"""The estimate next to Convert: how long the files in the list would take, and on Azure
what they would cost at list price, kept up to date as files and settings change.

The arithmetic (and a price list that may need the network) runs through the controller
on a worker thread. Questions are asked a moment after the last change (typing a folder
name or a burst of dropped files asks once), and an answer to a question that is no
longer the latest is dropped, so the label never shows the estimate for older settings.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Slot

from batchgui.core.models import RunSpec
from batchgui.i18n import tr
from batchgui.ui.controller import RunController
from batchgui.ui.run_panel import RunBar

#: how long after the last change the estimate is asked for
ASK_DELAY_MS = 300


class EstimateKeeper(QObject):
    """Asks for the estimate when something it depends on changes; shows the latest answer.

    `spec_now()` gives the run Convert would start now (None when there is nothing to
    convert). Signals: none of its own (the controller's estimate_ready answers it).
    """

    def __init__(self, controller: RunController, run_bar: RunBar,
                 spec_now: Callable[[], RunSpec | None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self._run_bar = run_bar
        self._spec_now = spec_now
        self._asked = 0  # the number of the latest question; older answers are stale
        self._answered = 0  # the number of the question the label answers
        self.text = ""  # what the label shows now (tests read it)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(ASK_DELAY_MS)
        self._timer.timeout.connect(self._ask)
        controller.estimate_ready.connect(self._on_controller_estimate_ready)

    @property
    def waiting(self) -> bool:
        """A question is pending (the timer runs, or the answer has not come)."""
        return self._timer.isActive() or self._answered != self._asked

    @Slot()
    def schedule(self) -> None:
        """Something the estimate depends on changed: ask again in a moment."""
        if self._controller.busy:  # the run's own progress says more; ask again after it
            return
        self._asked += 1  # answers to earlier questions are stale from now on
        self._timer.start()

    @Slot()
    def _ask(self) -> None:
        spec = self._spec_now()
        if spec is None or not any(i.ok for i in spec.inputs):
            self._answered = self._asked
            self._show("", "")
            return
        self._controller.estimate(spec, self._asked)

    @Slot(int, object)
    def _on_controller_estimate_ready(self, number: int, answer: object) -> None:
        if number != self._asked:
            return  # a question nobody asks any more
        self._answered = number
        if isinstance(answer, str):
            self._show("", answer)
            return
        text = getattr(answer, "text", "")
        lines = [tr("Estimate: {estimate}", estimate=text)] if text else []
        choice = getattr(answer, "choice", None)
        if choice is not None and text:
            lines.append(tr("Pool: {note}", note=choice.reason))
        self._show("\n".join(lines), getattr(answer, "details", ""))

    def _show(self, text: str, details: str) -> None:
        self.text = text
        self._run_bar.show_estimate(text, details)
