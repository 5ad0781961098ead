"""Azure account profiles: the non-secret settings in a JSON file, the keys in the OS keyring.

A user sets an account up once (Settings dialog or `batchgui accounts add`) and never
sees a key again. Secrets pass only through this package: they go to `keyring` (or, when
the user asks for it because no keyring works, to memory for this session) and never to
the settings file, a log line, a repr, an exception text or argv. There is no plaintext
fallback on purpose.

    checks.py        checks as you type: one plain sentence per problem
    profile.py       Profile (no keys) and Secrets (the keys, never in a repr)
    secret_store.py  the keys in the OS keyring, or this session's memory
    profiles.py      accounts.json: load, save, rename, remove; a profile as an AzureAccount
    entra.py         Microsoft Entra ID sign-in (browser, else a device code)
    errors.py        the problems a user can meet, in plain words

Keyring calls can block (an unlock prompt, D-Bus): call the functions that touch
secrets from a worker thread, never from the GUI thread.
"""

from __future__ import annotations

from batchgui.accounts.checks import (
    KEY_BYTES,
    RESERVED_NAMES,
    account_from_batch_url,
    check_account_name,
    check_batch_url,
    check_blob_endpoint,
    check_connection_string,
    check_key,
    check_profile_name,
    normalize_url,
)
from batchgui.accounts.entra import entra_credential, forget_credentials
from batchgui.accounts.errors import (
    AccountsError,
    InvalidProfile,
    KeyringUnavailable,
    ProfileExists,
    ProfileNotFound,
    SecretsMissing,
    keyring_message,
)
from batchgui.accounts.profile import (
    AUTH_ENTRA,
    AUTH_METHODS,
    AUTH_SHARED_KEY,
    MAX_NODES_LIMIT,
    POOL_SIZE_CHEAPEST,
    POOL_SIZE_CHOOSE,
    POOL_SIZE_FINISH_IN,
    POOL_SIZES,
    STORAGE_BY_CONNECTION_STRING,
    STORAGE_BY_KEY,
    Profile,
    Secrets,
)
from batchgui.accounts.profiles import (
    FILE_NAME,
    FILE_VERSION,
    account_from,
    blob_endpoint_for,
    config_dir,
    get_profile,
    has_profile,
    load_account,
    load_profiles,
    profile_names,
    profile_secrets,
    profiles_path,
    remove_profile,
    save_profile,
)
from batchgui.accounts.secret_store import SERVICE, SecretStore
from batchgui.targets.azure.storage_access import parse_connection_string

#: the one store the app uses (tests replace it with a fresh one)
secrets = SecretStore()

__all__ = [
    "AUTH_ENTRA", "AUTH_METHODS", "AUTH_SHARED_KEY", "FILE_NAME", "FILE_VERSION", "KEY_BYTES",
    "MAX_NODES_LIMIT", "POOL_SIZES", "POOL_SIZE_CHEAPEST", "POOL_SIZE_CHOOSE",
    "POOL_SIZE_FINISH_IN", "RESERVED_NAMES", "SERVICE", "STORAGE_BY_CONNECTION_STRING",
    "STORAGE_BY_KEY",
    "AccountsError", "InvalidProfile", "KeyringUnavailable", "Profile", "ProfileExists",
    "ProfileNotFound", "SecretStore", "Secrets", "SecretsMissing", "account_from",
    "account_from_batch_url", "blob_endpoint_for", "check_account_name", "check_batch_url",
    "check_blob_endpoint", "check_connection_string", "check_key", "check_profile_name",
    "config_dir", "entra_credential", "forget_credentials", "get_profile", "has_profile",
    "keyring_message", "load_account", "load_profiles", "normalize_url",
    "parse_connection_string", "profile_names", "profile_secrets", "profiles_path",
    "remove_profile", "save_profile", "secrets",
]
