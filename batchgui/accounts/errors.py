"""Account problems a user can meet, each with a plain message (what happened, what to do)."""

from __future__ import annotations

from batchgui.i18n import _


class AccountsError(Exception):
    """A problem with a profile or its keys, in plain words (what happened, what to do)."""


class ProfileNotFound(AccountsError):
    pass


class ProfileExists(AccountsError):
    pass


class InvalidProfile(AccountsError):
    """A field does not have the right shape; the message names the field, never its value."""


class SecretsMissing(AccountsError):
    """The profile exists but its keys are not in the keyring (e.g. kept for one session)."""


class KeyringUnavailable(AccountsError):
    """No usable OS keyring: none installed, or locked. `reason` is 'missing' or 'locked'."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(keyring_message(reason))


def keyring_message(reason: str) -> str:
    if reason == "locked":
        return _(
            "The system keyring is locked, so BatchGUI cannot keep the account keys there. "
            "Unlock it (log in to your desktop session or open your keyring app) and try "
            "again, or keep the keys for this session only."
        )
    return _(
        "This computer has no system keyring that BatchGUI can use to keep the account "
        "keys safe, and BatchGUI never writes keys to a plain file. Install or start one "
        "(for example GNOME Keyring or KWallet), or keep the keys for this session only: "
        "you will type them again next time."
    )
