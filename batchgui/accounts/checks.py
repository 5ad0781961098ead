"""Checks as you type: each returns None when a field is fine, else one plain sentence.

The sentences name the field and say what to do; they never repeat what was typed (it
may be a key).
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import urlparse

from batchgui.i18n import _, tr, trn
from batchgui.targets.azure.storage_access import (
    StorageSettingsError,
    key_from_connection_string,
)

#: Batch and Storage account keys are 64 random bytes, written as 88 base64 characters
KEY_BYTES = 64

#: names that already mean something as a target
RESERVED_NAMES = {"local", "this-computer", "azure"}

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ACCOUNT_RE = re.compile(r"^[a-z0-9]{3,24}$")
_BASE64_RE = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def check_profile_name(name: str) -> str | None:
    name = name.strip()
    if not name:
        return _("Give the profile a name.")
    if name.lower() in RESERVED_NAMES:
        return tr("'{name}' is taken by a built-in target; choose another name.", name=name)
    if not _NAME_RE.match(name):
        return _("Use up to 64 letters, digits, dots, dashes or underscores (no spaces), "
                 "starting with a letter or digit.")
    return None


def check_account_name(name: str, service: str = "batch") -> str | None:
    batch = service == "batch"
    name = name.strip()
    if not name:
        return _("Enter the Batch account name.") if batch else _("Enter the storage account "
                                                                  "name.")
    if not _ACCOUNT_RE.match(name):
        return (_("A Batch account name has 3 to 24 lower-case letters and digits.") if batch
                else _("A storage account name has 3 to 24 lower-case letters and digits."))
    return None


def normalize_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if url and "://" not in url:
        url = "https://" + url
    return url


def _check_endpoint(url: str, batch: bool, example: str) -> str | None:
    url = normalize_url(url)
    if not url:
        return (tr("Enter the Batch account URL, like {example}.", example=example) if batch
                else tr("Enter the blob endpoint URL, like {example}.", example=example))
    parsed = urlparse(url)
    host = parsed.hostname or ""
    if parsed.scheme not in ("https", "http") or not host or " " in url:
        return tr("This does not look like a URL. It should look like {example}.",
                  example=example)
    is_local = host in _LOCAL_HOSTS
    if parsed.scheme == "http" and not is_local:
        return (_("Use https:// for the Batch account URL.") if batch
                else _("Use https:// for the blob endpoint URL."))
    if not is_local and "." not in host:
        return tr("The address is incomplete. It should look like {example}.", example=example)
    if parsed.query or parsed.fragment:
        return tr("Leave out the part after '?' or '#'. It should look like {example}.",
                  example=example)
    return None


def batch_url_example() -> str:
    return _("https://myaccount.westeurope.batch.azure.com")


def blob_endpoint_example() -> str:
    return _("https://mystorage.blob.core.windows.net")


def check_batch_url(url: str) -> str | None:
    example = batch_url_example()
    problem = _check_endpoint(url, True, example)
    if problem is None and urlparse(normalize_url(url)).path not in ("", "/"):
        return tr("Use the account URL alone, like {example}.", example=example)
    return problem


def check_blob_endpoint(url: str) -> str | None:
    """Empty is fine (the default endpoint of the storage account is used)."""
    if not url.strip():
        return None
    return _check_endpoint(url, False, blob_endpoint_example())


def account_from_batch_url(url: str) -> str:
    """The account name a Batch URL starts with ('' when it does not look like one)."""
    host = urlparse(normalize_url(url)).hostname or ""
    if host.endswith(".batch.azure.com") or ".batch." in host:
        return host.split(".", 1)[0]
    return ""


def check_key(key: str, service: str = "batch") -> str | None:
    batch = service == "batch"
    key = key.strip()
    if not key:
        return _("Paste the Batch account key.") if batch else _("Paste the storage account "
                                                                 "key.")
    if not _BASE64_RE.match(key):
        return (_("The Batch account key has characters a key never has (a key has letters, "
                  "digits, '+' and '/', and ends in '=='). Copy it again from the Azure "
                  "portal.") if batch else
                _("The storage account key has characters a key never has (a key has "
                  "letters, digits, '+' and '/', and ends in '=='). Copy it again from the "
                  "Azure portal."))
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        return (trn("The Batch account key is {n} character long; a key is 88 characters "
                    "ending in '=='. Copy the whole key again from the Azure portal.",
                    "The Batch account key is {n} characters long; a key is 88 characters "
                    "ending in '=='. Copy the whole key again from the Azure portal.", len(key))
                if batch else
                trn("The storage account key is {n} character long; a key is 88 characters "
                    "ending in '=='. Copy the whole key again from the Azure portal.",
                    "The storage account key is {n} characters long; a key is 88 characters "
                    "ending in '=='. Copy the whole key again from the Azure portal.",
                    len(key)))
    return None


def check_connection_string(text: str) -> str | None:
    """Refuses what a run could not use, in the words a run would use (one parser for both)."""
    if not text.strip():
        return _("Paste the storage connection string.")
    try:
        found = key_from_connection_string(text)
    except StorageSettingsError as exc:
        return str(exc)
    if check_key(found.account_key, "storage") is not None:
        return _("The AccountKey in the connection string is not a whole key. Copy it again.")
    return None


def check_region(region: str) -> str | None:
    """Empty (take it from the Batch URL) or an Azure region name such as westeurope."""
    from batchgui.targets.azure.prices import is_region_name

    if region.strip() and not is_region_name(region.strip().lower()):
        return _("Write the region as Azure names it, in small letters, e.g. westeurope.")
    return None


def check_currency(currency: str) -> str | None:
    """Empty (US dollars) or a currency the Azure price list offers."""
    from batchgui.targets.azure.prices import CURRENCIES, supported_currency

    if currency.strip() and not supported_currency(currency):
        return tr("Azure's price list has prices in {currencies} only.",
                  currencies=", ".join(CURRENCIES))
    return None
