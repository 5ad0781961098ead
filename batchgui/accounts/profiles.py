"""The saved profiles: a small JSON file (accounts.json) in the config folder, without keys.

Saving and removing a profile also stores or forgets its keys (secret_store), and
`load_account` turns a profile and its keys into what the Azure target needs.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import platformdirs

from batchgui.accounts.checks import normalize_url
from batchgui.accounts.entra import entra_credential
from batchgui.accounts.errors import (
    AccountsError,
    InvalidProfile,
    KeyringUnavailable,
    ProfileExists,
    ProfileNotFound,
    SecretsMissing,
)
from batchgui.accounts.profile import STORAGE_BY_CONNECTION_STRING, Profile, Secrets
from batchgui.accounts.secret_store import SecretStore
from batchgui.core.store import atomic_write_text
from batchgui.i18n import _, tr
from batchgui.targets.azure.config import AzureAccount, PoolSettings
from batchgui.targets.azure.storage_access import parse_connection_string

log = logging.getLogger(__name__)

FILE_NAME = "accounts.json"
FILE_VERSION = 1

#: how long an edit waits for another process (the CLI, a second window) to finish its own
LOCK_WAIT_S = 30.0

_thread_lock = threading.RLock()


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir("batchgui", appauthor=False))


def profiles_path() -> Path:
    return config_dir() / FILE_NAME


@contextmanager
def _editing_profiles() -> Iterator[None]:
    """Hold accounts.json for one read-change-write, against this process's other threads
    and against other processes (the CLI and the window may edit at the same time)."""
    import filelock  # imported when a profile is edited: start-up stays quick

    path = profiles_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _thread_lock:
        try:
            with filelock.FileLock(f"{path}.lock", timeout=LOCK_WAIT_S):
                yield
        except filelock.Timeout:
            raise AccountsError(_(
                "Another BatchGUI window or command is changing the account profiles and has "
                "not finished. Try again in a moment."
            )) from None


def _store(store: SecretStore | None) -> SecretStore:
    """The store given, else the app's own: `batchgui.accounts.secrets` (tests swap it)."""
    if store is not None:
        return store
    import batchgui.accounts

    return batchgui.accounts.secrets


def load_profiles(path: Path | None = None) -> list[Profile]:
    """The saved profiles in the order the user made them; a damaged entry is skipped."""
    path = path or profiles_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("account profiles in %s could not be read (%s)", path, type(exc).__name__)
        return []
    entries = raw.get("profiles", []) if isinstance(raw, dict) else []
    profiles = []
    for entry in entries if isinstance(entries, list) else []:
        try:
            profiles.append(Profile.from_json(entry))
        except (TypeError, ValueError):
            log.warning("skipped a damaged account profile in %s", path)
    return profiles


def _write_profiles(profiles: list[Profile], path: Path | None = None) -> None:
    path = path or profiles_path()
    data = {"version": FILE_VERSION, "profiles": [p.to_json() for p in profiles]}
    atomic_write_text(path, json.dumps(data, indent=1))


def profile_names() -> list[str]:
    return [p.name for p in load_profiles()]


def get_profile(name: str) -> Profile:
    for profile in load_profiles():
        if profile.name == name:
            return profile
    raise ProfileNotFound(tr(
        "There is no account profile called '{name}'. See `batchgui accounts list`, or add one "
        "in Settings.", name=name))


def has_profile(name: str) -> bool:
    return any(p.name == name for p in load_profiles())


def save_profile(
    profile: Profile,
    new_secrets: Secrets | None = None,
    *,
    old_name: str | None = None,
    session_only: bool = False,
    store: SecretStore | None = None,
) -> None:
    """Add or update a profile; keys left empty in `new_secrets` keep their stored value.

    `old_name` is the name being edited (None: a new profile). The new keys go first:
    when the keyring refuses, nothing is written and KeyringUnavailable says why. Old keys
    (of a renamed profile, or ones the profile no longer uses) are forgotten only once the
    new profile is on disk, so a failed write loses nothing.
    """
    store = _store(store)
    problems = profile.problems()
    if problems:
        raise InvalidProfile(" ".join(problems.values()))
    with _editing_profiles():
        profiles = load_profiles()
        names = [p.name for p in profiles]
        if profile.name != old_name and profile.name in names:
            raise ProfileExists(tr(
                "There is already a profile called '{name}'. Choose another name.",
                name=profile.name))
        if old_name is not None and old_name not in names:
            raise ProfileNotFound(tr("The profile '{name}' was removed meanwhile.",
                                     name=old_name))
        merged = Secrets()
        if profile.uses_keys:
            merged = _only_needed(profile, new_secrets or Secrets())
            if profile.check_secrets(merged) and old_name is not None:
                try:
                    older = store.get(old_name)
                except KeyringUnavailable:
                    if not session_only:
                        raise
                    older = Secrets()
                merged = merged.merged_over(_only_needed(profile, older))
            missing = profile.check_secrets(merged)
            if missing:
                raise InvalidProfile(" ".join(missing.values()))
            store.put(profile.name, merged, session_only=session_only)
        if old_name is None:
            profiles.append(profile)
        else:
            profiles = [profile if p.name == old_name else p for p in profiles]
        renamed = old_name is not None and old_name != profile.name
        try:
            _write_profiles(profiles)
        except OSError as exc:
            if profile.uses_keys and (old_name is None or renamed):
                _forget_quietly(store, profile.name)  # copies: the old ones are still there
            raise AccountsError(tr(
                "The account profiles could not be saved in {folder} ({error}); nothing was "
                "changed.", folder=str(profiles_path().parent),
                error=exc.strerror or type(exc).__name__)) from None
        # the new profile is on disk: now the old keys may go
        if profile.uses_keys:
            store.forget_unset(profile.name, merged, session_only=session_only)
        if old_name is not None and (renamed or not profile.uses_keys):
            store.delete(old_name)  # renamed, or Entra ID that needs no keys
    log.info("saved account profile %s%s", profile.name,
             " (keys for this session only)" if session_only else "")


def _forget_quietly(store: SecretStore, name: str) -> None:
    try:
        store.delete(name)
    except KeyringUnavailable:
        log.warning("could not remove the keys of an unsaved profile %s", name)


def _only_needed(profile: Profile, given: Secrets) -> Secrets:
    if profile.storage_auth == STORAGE_BY_CONNECTION_STRING:
        return Secrets(batch_key=given.batch_key,
                       storage_connection_string=given.storage_connection_string)
    return Secrets(batch_key=given.batch_key, storage_key=given.storage_key)


def remove_profile(name: str, *, store: SecretStore | None = None) -> None:
    """Remove the profile and its keys (from the keyring and from this session)."""
    store = _store(store)
    with _editing_profiles():
        profiles = load_profiles()
        if name not in [p.name for p in profiles]:
            raise ProfileNotFound(tr("There is no account profile called '{name}'.", name=name))
        store.delete(name)
        try:
            _write_profiles([p for p in profiles if p.name != name])
        except OSError as exc:
            raise AccountsError(tr(
                "The keys of '{name}' were removed, but the list of profiles could not be "
                "saved in {folder} ({error}). Remove the profile again.", name=name,
                folder=str(profiles_path().parent), error=exc.strerror or type(exc).__name__)
            ) from None
    log.info("removed account profile %s and its keys", name)


def profile_secrets(profile: Profile, store: SecretStore | None = None) -> Secrets:
    """The stored keys of a profile; SecretsMissing when they are not (or no longer) there."""
    store = _store(store)
    if not profile.uses_keys:
        return Secrets()
    found = store.get(profile.name)
    if profile.check_secrets(found):
        raise SecretsMissing(tr(
            "The keys of the account profile '{name}' are not saved on this computer (they may "
            "have been kept for one session only). Open Settings and enter them again, or add "
            "the profile again with `batchgui accounts add`.", name=profile.name))
    return found


def blob_endpoint_for(profile: Profile) -> str:
    if profile.blob_endpoint.strip():
        return normalize_url(profile.blob_endpoint)
    if profile.storage_account:
        return f"https://{profile.storage_account}.blob.core.windows.net"
    return ""


def account_from(
    profile: Profile, keys: Secrets, credential: object | None = None
) -> AzureAccount:
    """The AzureAccount the Azure target needs, from a profile and its keys."""
    connection_string = None
    storage_key = None
    if profile.uses_keys:
        if profile.storage_auth == STORAGE_BY_CONNECTION_STRING:
            connection_string = keys.storage_connection_string
        else:
            storage_key = keys.storage_key
    storage_account = profile.storage_account or None
    blob_endpoint = blob_endpoint_for(profile) or None
    if connection_string:
        parts = parse_connection_string(connection_string)
        storage_account = storage_account or parts.account_name
        blob_endpoint = blob_endpoint if profile.blob_endpoint else parts.blob_endpoint
    return AzureAccount(
        name=profile.name,
        batch_url=normalize_url(profile.batch_url),
        batch_account=profile.batch_account.strip(),
        batch_key=keys.batch_key.strip() if keys.batch_key else None,
        storage_connection_string=connection_string.strip() if connection_string else None,
        storage_account=storage_account,
        storage_key=storage_key.strip() if storage_key else None,
        blob_endpoint=blob_endpoint,
        auth=profile.auth,
        credential=credential,
        region=profile.region.strip().lower() or None,
        currency=profile.currency.strip().upper() or None,
    )


def load_account(
    name: str,
    *,
    store: SecretStore | None = None,
    sign_in_prompt: Callable[[str], None] | None = None,
) -> tuple[AzureAccount, PoolSettings]:
    """Everything `make_azure_target` needs for a profile (reads the keyring: may block)."""
    profile = get_profile(name)
    if profile.uses_keys:
        return account_from(profile, profile_secrets(profile, store)), profile.pool
    credential = entra_credential(profile, sign_in_prompt)
    return account_from(profile, Secrets(), credential), profile.pool
