"""Azure account profiles: the non-secret settings in a JSON file, the keys in the OS keyring.

A user sets an account up once (Settings dialog or `batchgui accounts add`) and never
sees a key again. Secrets pass only through this module: they go to `keyring` (or, when
the user asks for it because no keyring works, to memory for this session) and never to
the settings file, a log line, a repr, an exception text or argv. There is no plaintext
fallback on purpose.

Keyring calls can block (an unlock prompt, D-Bus): call the functions that touch
secrets from a worker thread, never from the GUI thread.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import logging
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import platformdirs

from batchgui.core.store import atomic_write_text
from batchgui.targets.azure.config import AzureAccount, PoolSettings

log = logging.getLogger(__name__)

#: the keyring "service" under which every secret is filed
SERVICE = "batchgui"
FILE_NAME = "accounts.json"
FILE_VERSION = 1

AUTH_SHARED_KEY = "shared-key"
AUTH_ENTRA = "entra"
AUTH_METHODS = (AUTH_SHARED_KEY, AUTH_ENTRA)

STORAGE_BY_KEY = "key"
STORAGE_BY_CONNECTION_STRING = "connection-string"

#: Batch and Storage account keys are 64 random bytes, written as 88 base64 characters
KEY_BYTES = 64

#: names that already mean something as a target
RESERVED_NAMES = {"local", "this-computer", "azure"}

_SECRET_KINDS = ("batch-key", "storage-key", "storage-connection-string")


# --------------------------------------------------------------------------------------
# Errors a user can meet


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
        return (
            "The system keyring is locked, so BatchGUI cannot keep the account keys there. "
            "Unlock it (log in to your desktop session or open your keyring app) and try "
            "again, or keep the keys for this session only."
        )
    return (
        "This computer has no system keyring that BatchGUI can use to keep the account "
        "keys safe, and BatchGUI never writes keys to a plain file. Install or start one "
        "(for example GNOME Keyring or KWallet), or keep the keys for this session only: "
        "you will type them again next time."
    )


# --------------------------------------------------------------------------------------
# Checks as you type: each returns None when fine, else one plain sentence.

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ACCOUNT_RE = re.compile(r"^[a-z0-9]{3,24}$")
_BASE64_RE = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def check_profile_name(name: str) -> str | None:
    name = name.strip()
    if not name:
        return "Give the profile a name."
    if name.lower() in RESERVED_NAMES:
        return f"'{name}' is taken by a built-in target; choose another name."
    if not _NAME_RE.match(name):
        return (
            "Use up to 64 letters, digits, dots, dashes or underscores (no spaces), "
            "starting with a letter or digit."
        )
    return None


def check_account_name(name: str, service: str = "batch") -> str | None:
    what = "Batch" if service == "batch" else "storage"
    name = name.strip()
    if not name:
        return f"Enter the {what} account name."
    if not _ACCOUNT_RE.match(name):
        return f"A {what} account name has 3 to 24 lower-case letters and digits."
    return None


def normalize_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if url and "://" not in url:
        url = "https://" + url
    return url


def _check_endpoint(url: str, what: str, example: str) -> str | None:
    url = normalize_url(url)
    if not url:
        return f"Enter the {what} URL, like {example}."
    parsed = urlparse(url)
    host = parsed.hostname or ""
    if parsed.scheme not in ("https", "http") or not host or " " in url:
        return f"This does not look like a URL. It should look like {example}."
    is_local = host in _LOCAL_HOSTS
    if parsed.scheme == "http" and not is_local:
        return f"Use https:// for the {what} URL."
    if not is_local and "." not in host:
        return f"The address is incomplete. It should look like {example}."
    if parsed.query or parsed.fragment:
        return f"Leave out the part after '?' or '#'. It should look like {example}."
    return None


def check_batch_url(url: str) -> str | None:
    example = "https://myaccount.westeurope.batch.azure.com"
    problem = _check_endpoint(url, "Batch account", example)
    if problem is None and urlparse(normalize_url(url)).path not in ("", "/"):
        return f"Use the account URL alone, like {example}."
    return problem


def check_blob_endpoint(url: str) -> str | None:
    """Empty is fine (the default endpoint of the storage account is used)."""
    if not url.strip():
        return None
    return _check_endpoint(url, "blob endpoint", "https://mystorage.blob.core.windows.net")


def account_from_batch_url(url: str) -> str:
    """The account name a Batch URL starts with ('' when it does not look like one)."""
    host = urlparse(normalize_url(url)).hostname or ""
    if host.endswith(".batch.azure.com") or ".batch." in host:
        return host.split(".", 1)[0]
    return ""


def check_key(key: str, service: str = "batch") -> str | None:
    what = "Batch account key" if service == "batch" else "storage account key"
    key = key.strip()
    if not key:
        return f"Paste the {what}."
    if not _BASE64_RE.match(key):
        return (
            f"The {what} has characters a key never has (a key has letters, digits, '+' "
            "and '/', and ends in '=='). Copy it again from the Azure portal."
        )
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        return (
            f"The {what} is {len(key)} characters long; a key is 88 characters ending "
            "in '=='. Copy the whole key again from the Azure portal."
        )
    return None


def parse_connection_string(text: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for piece in text.strip().split(";"):
        if not piece.strip():
            continue
        name, sep, value = piece.partition("=")
        if not sep:
            raise ValueError("not a connection string")
        parts[name.strip().lower()] = value.strip()
    return parts


def check_connection_string(text: str) -> str | None:
    if not text.strip():
        return "Paste the storage connection string."
    try:
        parts = parse_connection_string(text)
    except ValueError:
        return (
            "This is not a connection string. Copy it from Storage account > Access keys "
            "> Connection string."
        )
    if parts.get("usedevelopmentstorage", "").lower() == "true":
        return None
    if "accountname" not in parts and "blobendpoint" not in parts:
        return "The connection string has no AccountName. Copy the whole string again."
    if "accountkey" in parts:
        if check_key(parts["accountkey"], "storage") is not None:
            return "The AccountKey in the connection string is not a whole key. Copy it again."
    elif "sharedaccesssignature" not in parts:
        return "The connection string has no AccountKey. Copy the whole string again."
    return None


# --------------------------------------------------------------------------------------
# Profiles and secrets


@dataclass(frozen=True)
class Secrets:
    """The keys of one profile. Never printed: repr says only which ones are set."""

    batch_key: str | None = field(default=None, repr=False)
    storage_key: str | None = field(default=None, repr=False)
    storage_connection_string: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        present = [k for k, v in self._by_kind().items() if v]
        return f"Secrets(set={present})"

    __str__ = __repr__

    def _by_kind(self) -> dict[str, str | None]:
        return {
            "batch-key": self.batch_key,
            "storage-key": self.storage_key,
            "storage-connection-string": self.storage_connection_string,
        }

    @classmethod
    def _from_kinds(cls, values: dict[str, str | None]) -> Secrets:
        return cls(
            batch_key=values.get("batch-key"),
            storage_key=values.get("storage-key"),
            storage_connection_string=values.get("storage-connection-string"),
        )

    def merged_over(self, older: Secrets) -> Secrets:
        """These secrets, with the ones left empty taken from `older` (edit keeps old keys)."""
        return Secrets(
            batch_key=self.batch_key or older.batch_key,
            storage_key=self.storage_key or older.storage_key,
            storage_connection_string=(
                self.storage_connection_string or older.storage_connection_string
            ),
        )

    def values(self) -> list[str]:
        """Every secret string (for tests that scan files and logs for them)."""
        return [v for v in self._by_kind().values() if v]


@dataclass(frozen=True)
class Profile:
    """One Azure account as the user set it up: everything except the keys."""

    name: str
    batch_url: str
    batch_account: str
    storage_account: str = ""
    blob_endpoint: str = ""  # empty: https://<storage_account>.blob.core.windows.net
    storage_auth: str = STORAGE_BY_KEY  # or STORAGE_BY_CONNECTION_STRING
    auth: str = AUTH_SHARED_KEY  # or AUTH_ENTRA
    tenant_id: str = ""  # Entra ID: empty means the user's home tenant
    pool: PoolSettings = field(default_factory=PoolSettings)

    @property
    def label(self) -> str:
        return f"Azure Batch: {self.name}"

    @property
    def uses_keys(self) -> bool:
        return self.auth == AUTH_SHARED_KEY

    def problems(self) -> dict[str, str]:
        """Field name -> plain sentence, for every field that is not right yet."""
        found: dict[str, str | None] = {
            "name": check_profile_name(self.name),
            "batch_url": check_batch_url(self.batch_url),
            "batch_account": check_account_name(self.batch_account, "batch"),
            "blob_endpoint": check_blob_endpoint(self.blob_endpoint),
        }
        if self.auth not in AUTH_METHODS:
            found["auth"] = "Choose account keys or Microsoft Entra ID."
        if self.storage_auth == STORAGE_BY_KEY or self.auth == AUTH_ENTRA:
            found["storage_account"] = check_account_name(self.storage_account, "storage")
        pool = self.pool
        if not pool.pool_id.strip() or not re.match(r"^[A-Za-z0-9_-]{1,64}$", pool.pool_id):
            found["pool_id"] = "A pool id has up to 64 letters, digits, dashes or underscores."
        if pool.dedicated_nodes + pool.spot_nodes < 1:
            found["nodes"] = "The pool needs at least one node (dedicated or Spot)."
        if not 1 <= pool.slots_per_node <= 256:
            found["slots_per_node"] = "Slots per node go from 1 to 256."
        return {k: v for k, v in found.items() if v}

    def check_secrets(self, secrets: Secrets) -> dict[str, str]:
        """Which keys this profile still needs or has in the wrong shape."""
        if not self.uses_keys:
            return {}
        found: dict[str, str | None] = {
            "batch_key": check_key(secrets.batch_key or "", "batch"),
        }
        if self.storage_auth == STORAGE_BY_CONNECTION_STRING:
            found["storage_connection_string"] = check_connection_string(
                secrets.storage_connection_string or ""
            )
        else:
            found["storage_key"] = check_key(secrets.storage_key or "", "storage")
        return {k: v for k, v in found.items() if v}

    def to_json(self) -> dict[str, Any]:
        pool = dataclasses.asdict(self.pool)
        if pool.get("start_task") == PoolSettings().start_task:
            del pool["start_task"]  # follow the app's default when it improves
        data = dataclasses.asdict(self)
        data["pool"] = pool
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Profile:
        defaults_pool = PoolSettings()
        pool_values: dict[str, Any] = {}
        raw_pool = data.get("pool") if isinstance(data.get("pool"), dict) else {}
        assert isinstance(raw_pool, dict)
        for f in dataclasses.fields(PoolSettings):
            value = raw_pool.get(f.name)
            if isinstance(value, type(getattr(defaults_pool, f.name))):
                pool_values[f.name] = value
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name == "pool":
                continue
            value = data.get(f.name)
            if isinstance(value, str):
                values[f.name] = value
        if "name" not in values or "batch_url" not in values or "batch_account" not in values:
            raise ValueError("profile without name, batch_url or batch_account")
        return cls(pool=PoolSettings(**pool_values), **values)

    def replace(self, **changes: Any) -> Profile:
        return dataclasses.replace(self, **changes)


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir("batchgui", appauthor=False))


def profiles_path() -> Path:
    return config_dir() / FILE_NAME


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
        import keyring

        values = secrets._by_kind()
        if session_only:
            with self._lock:
                for kind, value in values.items():
                    if value:
                        self._session[(profile, kind)] = value
                    else:
                        self._session.pop((profile, kind), None)
            return
        for kind, value in values.items():
            if value:
                self._keyring_call(
                    keyring.set_password, self.service, self._user(profile, kind), value
                )
        for kind, value in values.items():
            if not value:
                self._keyring_call(keyring.delete_password, self.service, self._user(profile, kind))
        with self._lock:  # the keyring holds them now; an older session copy must not win
            for kind in _SECRET_KINDS:
                self._session.pop((profile, kind), None)

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


#: the one store the app uses
secrets = SecretStore()
_file_lock = threading.RLock()


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
    raise ProfileNotFound(
        f"There is no account profile called '{name}'. "
        "See `batchgui accounts list`, or add one in Settings."
    )


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

    `old_name` is the name being edited (None: a new profile). The keys go first: when
    the keyring refuses, nothing is written and KeyringUnavailable says why.
    """
    store = store or secrets
    problems = profile.problems()
    if problems:
        raise InvalidProfile(" ".join(problems.values()))
    with _file_lock:
        profiles = load_profiles()
        names = [p.name for p in profiles]
        if profile.name != old_name and profile.name in names:
            raise ProfileExists(
                f"There is already a profile called '{profile.name}'. Choose another name."
            )
        if old_name is not None and old_name not in names:
            raise ProfileNotFound(f"The profile '{old_name}' was removed meanwhile.")
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
            store.set(profile.name, merged, session_only=session_only)
        elif old_name is not None:
            store.delete(old_name)  # Entra ID needs no keys: forget the old ones
        if old_name is not None and old_name != profile.name:
            store.delete(old_name)
        if old_name is None:
            profiles.append(profile)
        else:
            profiles = [profile if p.name == old_name else p for p in profiles]
        _write_profiles(profiles)
    log.info("saved account profile %s%s", profile.name,
             " (keys for this session only)" if session_only else "")


def _only_needed(profile: Profile, given: Secrets) -> Secrets:
    if profile.storage_auth == STORAGE_BY_CONNECTION_STRING:
        return Secrets(batch_key=given.batch_key,
                       storage_connection_string=given.storage_connection_string)
    return Secrets(batch_key=given.batch_key, storage_key=given.storage_key)


def remove_profile(name: str, *, store: SecretStore | None = None) -> None:
    """Remove the profile and its keys (from the keyring and from this session)."""
    store = store or secrets
    with _file_lock:
        profiles = load_profiles()
        if name not in [p.name for p in profiles]:
            raise ProfileNotFound(f"There is no account profile called '{name}'.")
        store.delete(name)
        _write_profiles([p for p in profiles if p.name != name])
    log.info("removed account profile %s and its keys", name)


def profile_secrets(profile: Profile, store: SecretStore | None = None) -> Secrets:
    """The stored keys of a profile; SecretsMissing when they are not (or no longer) there."""
    store = store or secrets
    if not profile.uses_keys:
        return Secrets()
    found = store.get(profile.name)
    if profile.check_secrets(found):
        raise SecretsMissing(
            f"The keys of the account profile '{profile.name}' are not saved on this "
            "computer (they may have been kept for one session only). Open Settings and "
            "enter them again, or add the profile again with `batchgui accounts add`."
        )
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
        storage_account = storage_account or parts.get("accountname")
        blob_endpoint = blob_endpoint if profile.blob_endpoint else parts.get("blobendpoint")
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


# --------------------------------------------------------------------------------------
# Microsoft Entra ID

_credentials: dict[tuple[str, str], object] = {}
_credentials_lock = threading.Lock()


def _print_prompt(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


#: how the device-code fallback shows its instructions; the window replaces it
sign_in_prompt: Callable[[str], None] = _print_prompt


def entra_credential(
    profile: Profile, prompt: Callable[[str], None] | None = None
) -> object:
    """A TokenCredential: browser sign-in first, device code when no browser can open.

    One credential per profile and tenant for the whole session, so the user signs in
    once. The token cache lives in memory only.
    """
    from azure.identity import (
        ChainedTokenCredential,
        DeviceCodeCredential,
        InteractiveBrowserCredential,
    )

    key = (profile.name, profile.tenant_id)
    with _credentials_lock:
        cached = _credentials.get(key)
        if cached is not None:
            return cached

        def show(verification_uri: str, user_code: str, expires_on: Any) -> None:
            message = (
                f"To sign in to Azure for '{profile.name}', open {verification_uri} "
                f"and enter the code {user_code}."
            )
            (prompt or sign_in_prompt)(message)

        kwargs: dict[str, Any] = {}
        if profile.tenant_id.strip():
            kwargs["tenant_id"] = profile.tenant_id.strip()
        credential = ChainedTokenCredential(
            InteractiveBrowserCredential(**kwargs),
            DeviceCodeCredential(prompt_callback=show, **kwargs),
        )
        _credentials[key] = credential
        return credential


def forget_credentials(name: str | None = None) -> None:
    """Drop cached Entra sign-ins (of one profile, or all)."""
    with _credentials_lock:
        for key in [k for k in _credentials if name is None or k[0] == name]:
            del _credentials[key]
