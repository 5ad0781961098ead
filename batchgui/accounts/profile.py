"""One Azure account as the user set it up: a Profile (no keys) and its Secrets (the keys).

Both are frozen values; Secrets never shows a key in its repr.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from batchgui.accounts.checks import (
    check_account_name,
    check_batch_url,
    check_blob_endpoint,
    check_connection_string,
    check_currency,
    check_key,
    check_profile_name,
    check_region,
)
from batchgui.i18n import _, tr
from batchgui.targets.azure.config import PoolSettings

AUTH_SHARED_KEY = "shared-key"
AUTH_ENTRA = "entra"
AUTH_METHODS = (AUTH_SHARED_KEY, AUTH_ENTRA)

STORAGE_BY_KEY = "key"
STORAGE_BY_CONNECTION_STRING = "connection-string"

SECRET_KINDS = ("batch-key", "storage-key", "storage-connection-string")

#: How the pool is sized for a run: the user's own node counts ("choose", the expert
#: settings), or BatchGUI sizes it (core.sizing) to finish in about `finish_in_minutes`,
#: or for the lowest list price; either way with at most `max_nodes` nodes.
POOL_SIZE_CHOOSE = "choose"
POOL_SIZE_FINISH_IN = "finish-in"
POOL_SIZE_CHEAPEST = "cheapest"
POOL_SIZES = (POOL_SIZE_CHOOSE, POOL_SIZE_FINISH_IN, POOL_SIZE_CHEAPEST)
MAX_NODES_LIMIT = 1000


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
    # sizing the pool for people who don't know node counts (see POOL_SIZES)
    pool_size: str = POOL_SIZE_CHOOSE
    finish_in_minutes: int = 30
    max_nodes: int = 10
    allow_spot: bool = False
    # for prices: the account's region when its Batch URL does not show it (a private
    # endpoint), and the currency of the list prices ("" for US dollars)
    region: str = ""
    currency: str = ""

    @property
    def sizes_pool(self) -> bool:
        """BatchGUI chooses the nodes (finish in N minutes, or cheapest)."""
        return self.pool_size in (POOL_SIZE_FINISH_IN, POOL_SIZE_CHEAPEST)

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
            found["auth"] = _("Choose account keys or Microsoft Entra ID.")
        if self.storage_auth == STORAGE_BY_KEY or self.auth == AUTH_ENTRA:
            found["storage_account"] = check_account_name(self.storage_account, "storage")
        pool = self.pool
        if not pool.pool_id.strip() or not re.match(r"^[A-Za-z0-9_-]{1,64}$", pool.pool_id):
            found["pool_id"] = _("A pool id has up to 64 letters, digits, dashes or "
                                 "underscores.")
        if pool.dedicated_nodes + pool.spot_nodes < 1:
            found["nodes"] = _("The pool needs at least one node (dedicated or Spot).")
        if not 1 <= pool.slots_per_node <= 256:
            found["slots_per_node"] = tr("Slots per node go from 1 to {most}.", most=256)
        if self.pool_size not in POOL_SIZES:
            found["pool_size"] = _("Choose how the pool is sized.")
        if self.pool_size == POOL_SIZE_FINISH_IN and not 1 <= self.finish_in_minutes <= 10_000:
            found["finish_in_minutes"] = tr("Give a time from 1 to {most} minutes.",
                                            most=10_000)
        if not 1 <= self.max_nodes <= MAX_NODES_LIMIT:
            found["max_nodes"] = tr("The most nodes go from 1 to {most}.", most=MAX_NODES_LIMIT)
        found["region"] = check_region(self.region)
        found["currency"] = check_currency(self.currency)
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
            if f.name == "pool" or f.name not in data:
                continue
            value = data.get(f.name)
            default = _DEFAULTS.get(f.name, "")
            # the field's own type only (a bool is an int to Python, but not here)
            if isinstance(value, type(default)) and (
                    isinstance(value, bool) == isinstance(default, bool)):
                values[f.name] = value
        if "name" not in values or "batch_url" not in values or "batch_account" not in values:
            raise ValueError("profile without name, batch_url or batch_account")
        return cls(pool=PoolSettings(**pool_values), **values)

    def replace(self, **changes: Any) -> Profile:
        return dataclasses.replace(self, **changes)


#: the defaults of Profile's optional fields, to read a saved profile's values by type
_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(Profile)
    if f.default is not dataclasses.MISSING
}
