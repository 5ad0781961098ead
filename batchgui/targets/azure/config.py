"""What the Azure target needs to know: where the accounts are, their secrets, the pool.

Secrets are fields with repr=False and are never written anywhere by this module;
they come from the environment (`from_environment`) or from the accounts package (keyring).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

#: metadata that marks pools and jobs as BatchGUI's own (only those are ever deleted)
OWNER_KEY, OWNER_VALUE = "batchgui", "1"
FINGERPRINT_KEY = "batchgui-fingerprint"
#: the run a job or auto pool belongs to
RUN_KEY = "batchgui-run"

#: how long a run's job outlives the app's last sign of life (target.py's docstring)
GRACE_S = 60 * 60

DEFAULT_VM_SIZE = "standard_d2s_v3"
DEFAULT_POOL_ID = "batchgui-pool"
# Installs ffmpeg on Ubuntu robustly: non-interactive, waits for the package lock, retried.
DEFAULT_START_TASK = (
    "/bin/bash -c 'export DEBIAN_FRONTEND=noninteractive; "
    "for i in 1 2 3 4 5; do "
    "apt-get -o DPkg::Lock::Timeout=600 update -qq && "
    "apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends ffmpeg && "
    "ffmpeg -version >/dev/null && exit 0; sleep 15; done; exit 1'"
)


def job_grace_s() -> float:
    """GRACE_S, or BATCHGUI_AZURE_JOB_GRACE_S (seconds) for tests of the backstop."""
    try:
        return float(os.environ.get("BATCHGUI_AZURE_JOB_GRACE_S", "")) or GRACE_S
    except ValueError:
        return GRACE_S


@dataclass(frozen=True)
class PoolSettings:
    """The pool a user chooses; a pool with the same id is reused only if these match."""

    pool_id: str = DEFAULT_POOL_ID
    vm_size: str = DEFAULT_VM_SIZE
    dedicated_nodes: int = 1
    spot_nodes: int = 0
    slots_per_node: int = 2
    start_task: str = DEFAULT_START_TASK
    keep_pool: bool = False  # keep for the next run (faster, but it costs money while idle)


@dataclass(frozen=True)
class AzureAccount:
    """One Azure Batch account and its storage account; secrets stay out of repr."""

    name: str  # the display name / profile name
    batch_url: str  # https://<account>.<region>.batch.azure.com
    batch_account: str
    batch_key: str | None = field(default=None, repr=False)
    storage_connection_string: str | None = field(default=None, repr=False)
    storage_account: str | None = None
    storage_key: str | None = field(default=None, repr=False)
    blob_endpoint: str | None = None  # https://<storage>.blob.core.windows.net
    auth: str = "shared-key"  # or "entra"
    credential: object | None = field(default=None, repr=False)  # azure-identity TokenCredential
    # a CA bundle (PEM path) to trust for storage over https, e.g. a test's own certificate;
    # None: the system's usual trust
    storage_verify: str | None = None
    # for list prices (planning.price_for): the account's region when its Batch URL does not
    # show it, and the currency of the prices (None: US dollars)
    region: str | None = None
    currency: str | None = None

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> AzureAccount:
        """The Azure CLI's variables: AZURE_BATCH_ENDPOINT/ACCOUNT/ACCESS_KEY and
        AZURE_STORAGE_CONNECTION_STRING. Raises KeyError naming a missing one."""
        env = dict(os.environ if env is None else env)
        missing = [
            name
            for name in (
                "AZURE_BATCH_ENDPOINT",
                "AZURE_BATCH_ACCOUNT",
                "AZURE_BATCH_ACCESS_KEY",
                "AZURE_STORAGE_CONNECTION_STRING",
            )
            if not env.get(name)
        ]
        if missing:
            raise KeyError(", ".join(missing))
        url = env["AZURE_BATCH_ENDPOINT"]
        if "://" not in url:
            url = "https://" + url
        return cls(
            name="azure",
            batch_url=url.rstrip("/"),
            batch_account=env["AZURE_BATCH_ACCOUNT"],
            batch_key=env["AZURE_BATCH_ACCESS_KEY"],
            storage_connection_string=env["AZURE_STORAGE_CONNECTION_STRING"],
        )
