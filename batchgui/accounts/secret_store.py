"""Secrets go to the OS keyring through `keyring`, or to this session's memory when the
user asks for that because no keyring works. There is no plaintext fallback on purpose.

Keyring calls can block (an unlock prompt, D-Bus): call these from a worker thread,
never from the GUI thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from batchgui.accounts.errors import KeyringUnavailable
from batchgui.accounts.profile import SECRET_KINDS as _SECRET_KINDS
from batchgui.accounts.profile import Secrets

log = logging.getLogger(__name__)

#: the keyring "service" under which every secret is filed
SERVICE = "batchgui"


class SecretStore:
    """Secrets in the OS keyring, or in memory for this session when the user chose that.

    Entries are filed under service "batchgui", user "<profile>/<kind>". Every keyring
    failure becomes KeyringUnavailable; the backend's own exception text is not passed on.
    """

    def __init__(self, service: str = SERVICE) -> None:
        self.service = service
        self._session: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _user(profile: str, kind: str) -> str:
        return f"{profile}/{kind}"

    def _keyring_call(self, fn: Callable[..., Any], *args: str) -> Any:
        import keyring
        import keyring.errors

        try:
            return fn(*args)
        except keyring.errors.KeyringLocked:
            log.info("the system keyring is locked")
            raise KeyringUnavailable("locked") from None
        except keyring.errors.PasswordDeleteError:
            return None  # nothing to delete
        except keyring.errors.NoKeyringError:
            log.info("no usable system keyring")
            raise KeyringUnavailable("missing") from None
        except Exception as exc:  # D-Bus errors, InitError, backend bugs
            if _looks_locked(exc):
                log.info("the system keyring is locked (%s)", type(exc).__name__)
                raise KeyringUnavailable("locked") from None
            log.info("the system keyring failed (%s)", type(exc).__name__)
            raise KeyringUnavailable("missing") from None

    def keyring_status(self) -> str | None:
        """None when a keyring answers, else 'missing' or 'locked' (this may block)."""
        import keyring

        try:
            self._keyring_call(keyring.get_password, self.service, "__probe__")
        except KeyringUnavailable as exc:
            return exc.reason
        return None

    def set(self, profile: str, secrets: Secrets, *, session_only: bool = False) -> None:
        """Store the secrets that are set and forget the others of this profile."""
        self.put(profile, secrets, session_only=session_only)
        self.forget_unset(profile, secrets, session_only=session_only)

    def put(self, profile: str, secrets: Secrets, *, session_only: bool = False) -> None:
        """Store the secrets that are set; the profile's other secrets stay as they are."""
        import keyring

        values = {kind: value for kind, value in secrets._by_kind().items() if value}
        if session_only:
            with self._lock:
                for kind, value in values.items():
                    self._session[(profile, kind)] = value
            return
        for kind, value in values.items():
            self._keyring_call(keyring.set_password, self.service, self._user(profile, kind), value)
        with self._lock:  # the keyring holds them now; an older session copy must not win
            for kind in _SECRET_KINDS:
                self._session.pop((profile, kind), None)

    def forget_unset(self, profile: str, secrets: Secrets, *, session_only: bool = False) -> None:
        """Forget the profile's secrets of the kinds `secrets` leaves unset (no longer used)."""
        import keyring

        unset = [kind for kind, value in secrets._by_kind().items() if not value]
        if session_only:
            with self._lock:
                for kind in unset:
                    self._session.pop((profile, kind), None)
            return
        for kind in unset:
            self._keyring_call(keyring.delete_password, self.service, self._user(profile, kind))

    def get(self, profile: str) -> Secrets:
        """The profile's secrets: this session's first, then the keyring's."""
        import keyring

        with self._lock:
            session = {k: self._session.get((profile, k)) for k in _SECRET_KINDS}
        if any(session.values()):
            return Secrets._from_kinds(session)
        found = {
            kind: self._keyring_call(keyring.get_password, self.service, self._user(profile, kind))
            for kind in _SECRET_KINDS
        }
        return Secrets._from_kinds(found)

    def delete(self, profile: str) -> None:
        """Forget the profile's secrets everywhere; a missing keyring has none to forget."""
        import keyring

        with self._lock:
            for kind in _SECRET_KINDS:
                self._session.pop((profile, kind), None)
        for kind in _SECRET_KINDS:
            try:
                self._keyring_call(keyring.delete_password, self.service, self._user(profile, kind))
            except KeyringUnavailable as exc:
                if exc.reason == "locked":
                    raise
                return

    def in_session(self, profile: str) -> bool:
        with self._lock:
            return any((profile, k) in self._session for k in _SECRET_KINDS)


def _looks_locked(exc: BaseException) -> bool:
    text = (type(exc).__name__ + " " + str(exc)).lower()
    return "locked" in text or "dismissed" in text
