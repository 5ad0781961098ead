"""Which SDK errors mean "the key is not valid", and which do not.

Real exceptions from the real SDKs, raised before any byte leaves this computer (the
request is signed first), so no server is needed.
"""

from __future__ import annotations

import base64
from datetime import UTC

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import AzureError

from batchgui.targets.azure.errors import plain_error

#: a port nothing listens on: a signed request would fail only after signing
NOWHERE = "http://127.0.0.1:9"
GOOD_KEY = base64.b64encode(b"k" * 64).decode()


def raised(call) -> BaseException:  # type: ignore[no-untyped-def]
    try:
        call()
    except BaseException as exc:  # noqa: BLE001 - any exception is the subject here
        return exc
    raise AssertionError("no exception")


def batch_client(key: str):  # type: ignore[no-untyped-def]
    from azure.batch import BatchClient

    return BatchClient(NOWHERE, AzureNamedKeyCredential("acct", key),
                       connection_timeout=1, retry_total=0)


def test_a_batch_key_that_is_not_base64_is_called_not_valid() -> None:
    exc = raised(lambda: list(batch_client("not a key!").list_pools()))
    sentence = plain_error(exc, "batch", NOWHERE).text
    assert "Batch account key is not valid" in sentence
    assert "not a key!" not in sentence


def test_a_storage_key_that_is_not_base64_is_called_not_valid() -> None:
    from azure.storage.blob import BlobServiceClient

    client = BlobServiceClient(NOWHERE + "/acct", credential={
        "account_name": "acct", "account_key": "not a key!"}, retry_total=0)
    exc = raised(lambda: list(client.list_containers()))
    sentence = plain_error(exc, "storage", NOWHERE).text
    assert "storage account key is not valid" in sentence
    assert "not a key!" not in sentence


def test_a_sas_signed_with_a_broken_key_is_called_not_valid() -> None:
    from datetime import datetime, timedelta

    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    exc = raised(lambda: generate_blob_sas(
        "acct", "c", "b", account_key="not a key!", permission=BlobSasPermissions(read=True),
        expiry=datetime.now(UTC) + timedelta(hours=1)))
    assert "storage account key is not valid" in plain_error(exc, "storage", NOWHERE).text


@pytest.mark.parametrize("make", [
    # the 15.x trap from DESIGN.md: terminate without an options object
    lambda: batch_client(GOOD_KEY).begin_terminate_job("job-1"),
    lambda: __import__("azure.storage.blob", fromlist=["BlobServiceClient"])
    .BlobServiceClient.from_connection_string("this is not a connection string"),
])
def test_other_value_errors_are_not_blamed_on_the_key(make) -> None:  # type: ignore[no-untyped-def]
    exc = raised(make)
    assert isinstance(exc, ValueError) and not isinstance(exc, AzureError)
    for service in ("batch", "storage"):
        sentence = plain_error(exc, service, NOWHERE).text
        assert "account key" not in sentence, sentence
        assert sentence.endswith("."), sentence


def test_secrets_in_an_sdk_message_never_reach_the_sentence() -> None:
    leaky = ValueError(f"Invalid key value: {GOOD_KEY} for "
                       "https://acct.blob.core.windows.net/c/b?sv=2024&sig=SECRETSIG%3D")
    sentence = plain_error(leaky, "storage", NOWHERE).text
    assert GOOD_KEY not in sentence and "SECRETSIG" not in sentence
