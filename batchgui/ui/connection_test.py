"""'Test connection' for an account profile: the check itself (blocking, for a worker
thread) and the lines that show its answer, one per service.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from batchgui import accounts
from batchgui.i18n import N_, _, tr
from batchgui.ui.profile_form import tone

#: the plain result of a check that passed
OK = "ok"


def check_connection(
    profile: accounts.Profile,
    typed: accounts.Secrets,
    editing: str | None,
    prompt: Callable[[str], None] | None = None,
) -> tuple[str, str]:
    """(batch, storage), each "ok" or a plain sentence. Blocking: runs on a worker thread.

    Keys left empty in the form are taken from the keyring entry of the profile being
    edited, so a user can test a saved profile without typing its keys again.
    """
    from batchgui.targets import registry

    if profile.uses_keys:
        keys = typed
        if editing is not None and profile.check_secrets(keys):
            try:
                keys = typed.merged_over(accounts.secrets.get(editing))
            except accounts.KeyringUnavailable:
                pass
        missing = profile.check_secrets(keys)
        if missing:
            sentence = " ".join(missing.values())
            return sentence, sentence
        account = accounts.account_from(profile, keys)
    else:
        account = accounts.account_from(
            profile, accounts.Secrets(), accounts.entra_credential(profile, prompt)
        )
    results = registry.test_connection(account)
    return str(results.get("batch", "")), str(results.get("storage", ""))


class ConnectionResults(QWidget):
    """"Batch: OK" / "Storage: <what is wrong>", and Entra ID sign-in instructions.

    Hidden while it has nothing to say, so it takes no room in the dialog.

    Signals: none of its own.
    """

    def __init__(self) -> None:
        super().__init__()
        self.batch_result_label = QLabel()
        self.batch_result_label.setObjectName("batchResultLabel")
        self.storage_result_label = QLabel()
        self.storage_result_label.setObjectName("storageResultLabel")
        self.sign_in_label = QLabel()
        self.sign_in_label.setObjectName("signInLabel")
        self.sign_in_label.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        for label in self._labels():
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(label)

    def _labels(self) -> tuple[QLabel, QLabel, QLabel]:
        return (self.batch_result_label, self.storage_result_label, self.sign_in_label)

    def _fit(self) -> None:
        self.setVisible(any(label.isVisibleTo(self) for label in self._labels()))

    def show_results(self, batch: str, storage: str, neutral: bool = False) -> None:
        """Each service's answer: "ok" in green, a sentence in red; `neutral` for "checking…"."""
        for label, said, result in ((self.batch_result_label, N_("Batch: {result}"), batch),
                                    (self.storage_result_label, N_("Storage: {result}"),
                                     storage)):
            if not result:
                label.setText("")
                label.setVisible(False)
                continue
            label.setVisible(True)
            if neutral:
                label.setText(result)
                label.setStyleSheet("")
            elif result == OK:
                label.setText(tr(said, result=_("OK")))
                label.setStyleSheet(f"color: {tone(self, 'good')}; font-weight: bold;")
            else:
                label.setText(tr(said, result=result))
                label.setStyleSheet(f"color: {tone(self, 'bad')};")
        self._fit()

    def show_sign_in(self, message: str | None) -> None:
        """The device-code instructions (open this page, enter this code), or none."""
        if message is not None:
            self.sign_in_label.setText(message)
        self.sign_in_label.setVisible(message is not None)
        self._fit()
