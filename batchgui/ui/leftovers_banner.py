"""The banner that offers to remove what earlier runs left on an Azure account.

At start the window asks the journal which accounts have runs that ended without
removing their container or job (a failed cleanup, a dismissed run); only for those
does it look at the account (keys from the keyring, a few calls, on a worker thread),
so a user with nothing left behind never waits for the network or a keyring prompt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from batchgui.i18n import _, megabytes, tr, trn

if TYPE_CHECKING:
    from batchgui.ui.workers import Workers


def _find(journal: Any) -> list[tuple[str, Any, list[Any]]]:
    """(account name, account, leftovers) for each account the journal suspects."""
    from batchgui.core.resume import run_standing, targets_with_leftovers
    from batchgui.targets import registry
    from batchgui.targets.azure.leftovers import RESUMABLE, find_leftovers

    found = []
    for name in targets_with_leftovers(journal):
        try:
            account = registry.azure_account(name)
            items = find_leftovers(account, lambda run_id: run_standing(journal, run_id))
        except Exception:  # an account that can't be reached is looked at next time
            continue
        items = [i for i in items if i.standing != RESUMABLE]
        if items:
            found.append((name, account, items))
    return found


def _remove(journal: Any, found: list[tuple[str, Any, list[Any]]]) -> list[str]:
    from batchgui.targets.azure.leftovers import remove_leftovers

    problems: list[str] = []
    for _name, account, items in found:
        problems += remove_leftovers(account, items)
        for run_id in {i.run_id for i in items if i.run_id}:
            if journal.run(run_id) is not None:
                journal.update_target_state(run_id, {"cleaned": True})
    return problems


def summary(found: list[tuple[str, Any, list[Any]]]) -> str:
    """'Earlier runs left 2 jobs, 1 pool (1 node running) and 34.0 MB of files on Azure
    account work.'"""
    parts = []
    for name, _account, items in found:
        jobs = sum(1 for i in items if i.kind == "job")
        pools = [i for i in items if i.kind == "pool"]
        nodes = sum(i.nodes for i in pools)
        size = sum(i.size_bytes for i in items if i.kind == "files")
        things = []
        if jobs:
            things.append(trn("{n} job", "{n} jobs", jobs))
        if pools:
            things.append(trn("{n} pool", "{n} pools", len(pools)) + (
                " " + trn("({n} node running)", "({n} nodes running)", nodes) if nodes else ""))
        if size or any(i.kind == "files" for i in items):
            things.append(tr("{size} of files", size=megabytes(size)))
        parts.append(tr("{things} on Azure account {account}", things=", ".join(things),
                        account=name))
    return tr("Earlier runs left {what}. Remove them?", what="; ".join(parts))


class LeftoversBanner(QFrame):
    """Offers to remove earlier runs' leftovers on Azure; hidden when there are none.

    Signals:
        removed(str): removing finished; a plain sentence for the log.
    """

    removed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("leftoversBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(QPalette.ColorRole.AlternateBase)
        self.label = QLabel()
        self.label.setObjectName("leftoversLabel")
        self.label.setWordWrap(True)
        self.remove_button = QPushButton(_("Remove &them"))
        self.remove_button.setObjectName("removeLeftoversButton")
        self.remove_button.setToolTip(_("Delete these jobs, pools and files from Azure"))
        self.later_button = QPushButton(_("Not &now"))
        self.later_button.setObjectName("keepLeftoversButton")
        layout = QHBoxLayout(self)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.remove_button)
        layout.addWidget(self.later_button)
        self.setVisible(False)
        self._found: list[tuple[str, Any, list[Any]]] = []
        self._workers: Workers | None = None
        self._journal: Any = None
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        self.later_button.clicked.connect(self._on_later_button_clicked)

    def look(self, workers: Workers, journal: Any) -> None:
        """Look for leftovers off the GUI thread; the banner shows if there are any."""
        self._workers, self._journal = workers, journal
        workers.run_task(lambda: _find(journal), self._on_found,
                         what=_("looking for what earlier runs left on Azure"),
                         abandon_at_exit=True)

    def _on_found(self, found: list[tuple[str, Any, list[Any]]] | None,
                  error: BaseException | None) -> None:
        if error is not None or not found:
            return
        self._found = found
        self.label.setText(summary(found))
        self.label.setToolTip("\n".join(i.describe() for _n, _a, items in found
                                        for i in items))
        self.setVisible(True)

    @Slot()
    def _on_remove_button_clicked(self) -> None:
        if self._workers is None or not self._found:
            return
        found, journal = self._found, self._journal
        self.remove_button.setEnabled(False)
        self.label.setText(_("Removing…"))
        self._workers.run_task(lambda: _remove(journal, found), self._on_removed,
                               what=_("removing what earlier runs left on Azure"))

    def _on_removed(self, problems: list[str] | None, error: BaseException | None) -> None:
        self.setVisible(False)
        self.remove_button.setEnabled(True)
        if error is not None:
            self.removed.emit(tr("Could not remove what earlier runs left on Azure: {error}",
                                 error=str(error)))
        elif problems:
            self.removed.emit(tr("Some of what earlier runs left on Azure could not be "
                                 "removed: {problems}", problems="; ".join(problems)))
        else:
            self.removed.emit(_("Removed what earlier runs left on Azure."))

    @Slot()
    def _on_later_button_clicked(self) -> None:
        self.setVisible(False)

