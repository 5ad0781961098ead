"""'Test connection': one cheap authenticated call to each side of an account."""

from __future__ import annotations

from azure.core.exceptions import AzureError

from batchgui.targets.azure.batch import BatchService
from batchgui.targets.azure.config import AzureAccount
from batchgui.targets.azure.errors import plain_error
from batchgui.targets.azure.storage import (
    RunStorage,
    StorageSettingsError,
    storage_endpoint,
    uses_sign_in,
)


def test_connection(account: AzureAccount) -> dict[str, str]:
    """Check both sides of an account with one cheap call each (blocking: use a worker thread).

    Returns {"batch": "ok" or a sentence, "storage": "ok" or a sentence}.
    """
    results: dict[str, str] = {}
    try:
        batch = BatchService(account)
        try:
            batch.check()
        finally:
            batch.close()
        results["batch"] = "ok"
    except (AzureError, ValueError) as exc:
        results["batch"] = plain_error(exc, "batch", account.batch_url).text
    try:
        storage = RunStorage(account)
        try:
            storage.check()
        finally:
            storage.service.close()
        results["storage"] = "ok"
    except StorageSettingsError as exc:
        results["storage"] = str(exc)
    except (AzureError, ValueError) as exc:
        endpoint = None
        try:
            endpoint = storage_endpoint(account)
        except StorageSettingsError:
            pass
        results["storage"] = plain_error(exc, "storage", endpoint,
                                         signed_in=uses_sign_in(account)).text
    return results


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
