"""How BatchGUI reaches the user's storage account: with the account key (from a
connection string or the account's name and key), or with an Entra ID sign-in.

This is also the one parser of storage connection strings: the accounts checks use it
as the user types, so a string a run cannot use is refused when it is saved, in the same
words a run would use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batchgui.i18n import Reason, why
from batchgui.targets.azure.config import AzureAccount

#: Azurite's well-known development account (UseDevelopmentStorage=true)
_DEV_ACCOUNT = "devstoreaccount1"
_DEV_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

class StorageSettingsError(Exception):
    """The storage settings can't work (e.g. no account key to sign SAS URLs with)."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.text)
        self.reason = reason


@dataclass(frozen=True)
class ConnectionString:
    """The parts of a storage connection string BatchGUI uses (repr hides the key)."""

    account_name: str | None = None
    account_key: str | None = field(default=None, repr=False)
    blob_endpoint: str | None = None  # as written (BlobEndpoint=); see endpoint()
    protocol: str = "https"
    endpoint_suffix: str = "core.windows.net"
    has_sas: bool = False  # SharedAccessSignature=: of no use to BatchGUI without a key
    development: bool = False  # UseDevelopmentStorage=true: Azurite's account

    def endpoint(self) -> str | None:
        """The blob endpoint: as written, else the account's usual one."""
        if self.blob_endpoint:
            return self.blob_endpoint.rstrip("/")
        if self.account_name:
            return f"{self.protocol}://{self.account_name}.blob.{self.endpoint_suffix}"
        return None


def parse_connection_string(text: str) -> ConnectionString:
    """`AccountName=a;AccountKey=k==;…` -> its parts; names are case-insensitive and values
    keep their '='. ValueError when a part is not `Name=value`."""
    parts: dict[str, str] = {}
    for piece in text.strip().split(";"):
        if not piece.strip():
            continue
        name, sep, value = piece.partition("=")
        if not sep:
            raise ValueError("not a storage connection string (Name=value parts)")
        parts[name.strip().lower()] = value.strip()
    return ConnectionString(
        account_name=parts.get("accountname") or None,
        account_key=parts.get("accountkey") or None,
        blob_endpoint=parts.get("blobendpoint") or None,
        protocol=parts.get("defaultendpointsprotocol") or "https",
        endpoint_suffix=parts.get("endpointsuffix") or "core.windows.net",
        has_sas=bool(parts.get("sharedaccesssignature")),
        development=parts.get("usedevelopmentstorage", "").lower() == "true",
    )


@dataclass(frozen=True)
class StorageKey:
    """What SAS signing needs: the account name and its key (repr hides the key)."""

    account_name: str
    account_key: str
    blob_endpoint: str

    def __repr__(self) -> str:
        return f"StorageKey({self.account_name!r}, {self.blob_endpoint!r})"


@dataclass(frozen=True)
class StorageSignIn:
    """Storage reached with an Entra ID sign-in: SAS URLs get a user delegation key."""

    account_name: str
    blob_endpoint: str
    credential: object = field(repr=False)  # an azure-identity TokenCredential

    def __repr__(self) -> str:
        return f"StorageSignIn({self.account_name!r}, {self.blob_endpoint!r})"


def key_from_connection_string(text: str) -> StorageKey:
    """The account name, key and blob endpoint in a connection string.

    StorageSettingsError, in plain words, when a run could not use it: not a connection
    string, no account name, or no account key (a SAS alone cannot give each task its
    own short-lived links).
    """
    try:
        parsed = parse_connection_string(text)
    except ValueError:
        raise StorageSettingsError(why(
            "not_a_connection_string", "This is not a storage connection string. Copy it from "
            "Storage account > Access keys > Connection string in the Azure portal.")) from None
    if parsed.development:
        return StorageKey(_DEV_ACCOUNT, _DEV_KEY, f"http://127.0.0.1:10000/{_DEV_ACCOUNT}")
    if parsed.account_key is None and parsed.has_sas:
        raise StorageSettingsError(why(
            "connection_string_has_sas", "This connection string has a shared access signature "
            "(SAS) instead of the account key, and BatchGUI needs the key (or Microsoft Entra "
            "ID sign-in) to give each task its own short-lived links. Copy the connection "
            "string from Storage account > Access keys > Connection string in the Azure "
            "portal."))
    if parsed.account_key is None:
        raise StorageSettingsError(why(
            "connection_string_without_key", "The connection string has no AccountKey. Copy "
            "the whole string again from Storage account > Access keys > Connection string in "
            "the Azure portal."))
    endpoint = parsed.endpoint()
    if not parsed.account_name or endpoint is None:
        raise StorageSettingsError(why(
            "connection_string_without_name", "The connection string has no AccountName. Copy "
            "the whole string again from Storage account > Access keys > Connection string in "
            "the Azure portal."))
    return StorageKey(parsed.account_name, parsed.account_key, endpoint)


def storage_key(account: AzureAccount) -> StorageKey:
    """The account name, key and blob endpoint, from the connection string or the fields."""
    if account.storage_connection_string:
        return key_from_connection_string(account.storage_connection_string)
    if account.storage_account and account.storage_key:
        endpoint = account.blob_endpoint or f"https://{account.storage_account}.blob.core.windows.net"
        return StorageKey(account.storage_account, account.storage_key, endpoint.rstrip("/"))
    if account.auth == "entra":
        raise StorageSettingsError(why(
            "no_storage_access", "Storage needs your Entra ID sign-in or the storage "
            "account's key, and this account has neither: sign in again, or add the storage "
            "key."))
    raise StorageSettingsError(why(
        "no_storage_account", "No storage account is set up. Add the storage account's "
        "connection string (Storage account > Access keys in the Azure portal)."))


def uses_sign_in(account: AzureAccount) -> bool:
    """True when storage goes through the Entra ID sign-in (a credential and no key)."""
    return account.credential is not None and not (
        account.storage_connection_string or account.storage_key
    )


def storage_access(account: AzureAccount) -> StorageKey | StorageSignIn:
    """How this account reaches storage: its key (as before) or the Entra ID sign-in."""
    if not uses_sign_in(account):
        return storage_key(account)
    name = (account.storage_account or "").strip()
    if not name:
        raise StorageSettingsError(why(
            "storage_name_missing", "Add the storage account's name to this account: with "
            "Entra ID sign-in, BatchGUI needs it to reach the storage account (Storage accounts "
            "in the Azure portal lists it)."))
    endpoint = account.blob_endpoint or f"https://{name}.blob.core.windows.net"
    if not endpoint.lower().startswith("https://"):
        raise StorageSettingsError(why(
            "sign_in_needs_https", "Entra ID sign-in works over https only: use a blob "
            "endpoint that starts with https:// (or leave it empty for the usual one)."))
    return StorageSignIn(name, endpoint.rstrip("/"), account.credential)


def storage_endpoint(account: AzureAccount) -> str:
    return storage_access(account).blob_endpoint
