"""Batch over Entra ID: the emulator serves https and checks bearer tokens from a local issuer.

The issuer (tests/batch_emulator/entra_issuer.py) signs RS256 tokens like Entra's; the
emulator checks signature, audience and lifetime with the standard library and answers a
bad token 401 AuthenticationFailed, as the service does. The last test runs a whole
conversion with Batch AND storage reached through the sign-in (Azurite in https + OAuth
mode), nothing keyed.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.batch import BatchClient
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from mutagen.mp3 import MP3

from batchgui.core.models import FileStatus
from batchgui.targets.azure.config import AzureAccount
from tests.azure_world import (
    DEV_ACCOUNT,
    Azurite,
    BatchEmulator,
    make_test_certificate,
    start_azurite,
    start_batch_emulator,
)
from tests.batch_emulator.entra_issuer import (
    BATCH_SCOPE,
    STORAGE_SCOPE,
    EntraTestCredential,
    LocalEntraIssuer,
)
from tests.integration.conftest import DEFAULT_TEST_KNOBS
from tests.integration.test_azure_target import run_in_process, small_pool
from tests.media import MediaCache


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return make_test_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def issuer() -> LocalEntraIssuer:
    return LocalEntraIssuer()


@pytest.fixture
def entra_emulator(tls: tuple[str, str], issuer: LocalEntraIssuer, ffmpeg_dir: str,
                   tmp_path: Path) -> Iterator[BatchEmulator]:
    emu = start_batch_emulator(path_dirs=[ffmpeg_dir], root=str(tmp_path / "batch"), tls=tls,
                               entra=issuer, node_ca_file=tls[0], **DEFAULT_TEST_KNOBS)
    try:
        yield emu
    finally:
        emu.stop()  # raises if the emulator printed a traceback


def client(emu: BatchEmulator, credential: Any) -> BatchClient:
    return BatchClient(emu.url, credential, connection_verify=emu.ca_file, retry_total=0)


def raw_get(emu: BatchEmulator, path: str, token: str) -> tuple[int, dict[str, Any] | None]:
    import json

    req = urllib.request.Request(f"{emu.url}{path}?api-version=2025-06-01",
                                 headers={"Authorization": f"Bearer {token}"})
    context = ssl.create_default_context(cafile=emu.ca_file) if emu.ca_file else None
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def detail(err: Any) -> str:
    return str(err["values"][0]["value"])


@pytest.mark.timeout(60)
def test_signed_in_calls_work_over_https_and_shared_key_still_does(
    entra_emulator: BatchEmulator, issuer: LocalEntraIssuer
) -> None:
    credential = EntraTestCredential(issuer)
    with client(entra_emulator, credential) as batch:
        assert list(batch.list_pools()) == []
        assert any(i.node_agent_sku_id for i in batch.list_supported_images())
    assert credential.scopes and set(credential.scopes) == {(BATCH_SCOPE,)}
    keyed = AzureNamedKeyCredential(entra_emulator.account, entra_emulator.key)
    with client(entra_emulator, keyed) as batch:
        assert list(batch.list_pools()) == []
    assert [r["auth"] for r in entra_emulator.requests()] == ["Bearer", "Bearer", "SharedKey"]


@pytest.mark.timeout(60)
def test_bad_tokens_get_401_authentication_failed(
    entra_emulator: BatchEmulator, issuer: LocalEntraIssuer
) -> None:
    good, _ = issuer.token("https://batch.core.windows.net/")
    assert raw_get(entra_emulator, "/pools", good)[0] == 200

    no_slash, _ = issuer.token("https://batch.core.windows.net")
    status, err = raw_get(entra_emulator, "/pools", no_slash)
    assert status == 401 and err and err["code"] == "AuthenticationFailed"
    assert "wrong audience" in detail(err) and "including forward slash" in detail(err)
    assert "\nRequestId:" in err["message"]["value"]

    storage, _ = issuer.token("https://storage.azure.com")
    assert raw_get(entra_emulator, "/pools", storage)[0] == 401

    expired, _ = issuer.token("https://batch.core.windows.net/", lifetime_s=-3600)
    status, err = raw_get(entra_emulator, "/pools", expired)
    assert status == 401 and err and "expiry" in detail(err)

    forged, _ = issuer.token("https://batch.core.windows.net/", sign_with=LocalEntraIssuer())
    status, err = raw_get(entra_emulator, "/pools", forged)
    assert status == 401 and err and "signature" in detail(err)

    stranger, _ = LocalEntraIssuer().token("https://batch.core.windows.net/")
    assert raw_get(entra_emulator, "/pools", stranger)[0] == 401
    assert raw_get(entra_emulator, "/pools", "not.a.jwt")[0] == 401

    # through the SDK: a plain authentication error, not retried
    wrong = EntraTestCredential(issuer, audience="https://management.azure.com/")
    with client(entra_emulator, wrong) as batch, pytest.raises(ClientAuthenticationError) as e:
        batch.get_pool("any")
    assert e.value.status_code == 401 and e.value.error.code == "AuthenticationFailed"


@pytest.mark.timeout(60)
def test_bearer_needs_https_and_an_emulator_that_knows_the_issuer(
    batch_emulator: BatchEmulator, issuer: LocalEntraIssuer
) -> None:
    # the SDK itself refuses to send a bearer token over plain http
    with BatchClient(batch_emulator.url, EntraTestCredential(issuer)) as batch:
        with pytest.raises(ServiceRequestError, match="(?i)https|TLS"):
            batch.get_pool("any")
    token, _ = issuer.token("https://batch.core.windows.net/")
    status, err = raw_get(batch_emulator, "/pools", token)  # started without --entra-jwks
    assert status == 401 and err and "without an Entra ID issuer" in detail(err)


# -- a whole conversion, Batch and storage both on the sign-in ----------------------------


@pytest.fixture(scope="module")
def oauth_azurite(tls: tuple[str, str],
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    az = start_azurite(location=str(tmp_path_factory.mktemp("azurite-entra")),
                       cert=tls[0], key=tls[1], oauth=True)
    try:
        yield az
    finally:
        az.stop()


@pytest.mark.timeout(120)
def test_whole_conversion_with_batch_and_storage_on_entra(
    oauth_azurite: Azurite, entra_emulator: BatchEmulator, issuer: LocalEntraIssuer,
    media: MediaCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ca = entra_emulator.ca_file
    # Real endpoints have public certificates; these two share the test's own, which the
    # nodes trust (node_ca_file) and the Batch SDK (requests) is told to trust the usual way.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)
    credential = EntraTestCredential(issuer)
    account = AzureAccount(
        name="signed-in", batch_url=entra_emulator.url, batch_account=entra_emulator.account,
        storage_account=DEV_ACCOUNT, blob_endpoint=oauth_azurite.blob_endpoint, auth="entra",
        credential=credential, storage_verify=oauth_azurite.ca_file,
    )
    assert account.batch_key is None and account.storage_connection_string is None
    src = tmp_path / "in"
    media.good(src / "a.mp4", seconds=2.0)
    media.good(src / "b.mp4", seconds=3.0)
    from batchgui.targets.azure.target import AzureBatchTarget

    target = AzureBatchTarget(account, small_pool(), poll_bounds=(0.1, 0.5))
    result = run_in_process([src], tmp_path / "out", target)
    assert [o.status for o in result.outcomes] == [FileStatus.DONE] * 2, result
    assert abs(MP3(tmp_path / "out" / "a.mp3").info.length - 2.0) < 0.3
    assert abs(MP3(tmp_path / "out" / "b.mp3").info.length - 3.0) < 0.3
    scopes = {s for (s,) in credential.scopes}
    assert scopes == {BATCH_SCOPE, STORAGE_SCOPE}, "one sign-in for Batch and storage"
    requests = entra_emulator.requests()
    assert any(r["path"].endswith("/addtaskcollection") for r in requests)
    assert {r["auth"] for r in requests} == {"Bearer"}, "no Batch key was used"
