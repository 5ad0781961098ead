"""A line edit for an account key or connection string: hidden while typed, never filled
from the keyring (a saved key is only mentioned in the placeholder), never predicted or
remembered by an input method.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from batchgui.i18n import N_, _, tr

#: what an empty key field asks for (marked for translation: shown through _())
KEY_HINT = N_("88 characters ending in ==, from Keys / Access keys")
CONNECTION_STRING_HINT = "DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…"


class SecretField(QLineEdit):
    """One secret: what the user types goes to accounts (the keyring) and nowhere else.

    Signals: the usual ones of a QLineEdit (`textEdited(str)`, `textChanged(str)`).
    """

    def __init__(self, name: str, hint: str = KEY_HINT) -> None:
        super().__init__()
        self.setObjectName(name)
        self._hint = _(hint)
        self.setPlaceholderText(self._hint)
        self.setClearButtonEnabled(False)
        self.setEchoMode(QLineEdit.EchoMode.Password)
        self.setInputMethodHints(
            Qt.InputMethodHint.ImhHiddenText | Qt.InputMethodHint.ImhSensitiveData
            | Qt.InputMethodHint.ImhNoPredictiveText
        )

    def show_saved(self, where: str | None) -> None:
        """Say where the saved secret is kept ('saved in the system keyring'), or ask for one."""
        self.setPlaceholderText(tr("{where}; type to replace", where=where) if where
                                else self._hint)

    def reveal(self, shown: bool) -> None:
        """"Show keys while typing": plain text while on, dots otherwise."""
        self.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)

    def value(self) -> str | None:
        """The typed secret without surrounding spaces; None when the field is empty."""
        return self.text().strip() or None
