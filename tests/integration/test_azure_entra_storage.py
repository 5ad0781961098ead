"""Storage with an Entra ID sign-in: bearer tokens and user delegation SAS, for real.

Azurite runs over https (a throwaway self-signed certificate) with its "basic" OAuth:
it takes any bearer JWT whose issuer looks like Entra ID and whose audience is storage,
without checking the signature, hands out real user delegation keys and checks the SAS
URLs signed with them. The credential below is a tiny TokenCredential that returns such
a JWT; nothing of the storage SDK is mocked. What Azurite can't do (role checks) comes
from a small https server that answers the way Azure Storage does when a role is missing.
"""

from __future__ import annotations

import ssl
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.core.credentials import AccessToken
from mutagen.mp3 import MP3

from batchgui.core.models import FileStatus
from batchgui.targets import registry
from batchgui.targets.azure.config import AzureAccount
from batchgui.targets.azure.storage import (
    RunStorage,
    StorageSettingsError,
    storage_access,
)
from batchgui.targets.azure.target import AzureBatchTarget
from tests.azure_world import (
    DEV_ACCOUNT,
    Azurite,
    BatchEmulator,
    entra_test_token,
    free_port,
    make_test_certificate,
    start_azurite,
    start_batch_emulator,
)
from tests.integration.conftest import DEFAULT_TEST_KNOBS
from tests.integration.test_azure_target import run_in_process, small_pool
from tests.media import MediaCache

STORAGE_SCOPE = "https://storage.azure.com/.default"


class FakeEntraCredential:
    """A TokenCredential for Azurite: an unsigned Entra-shaped JWT for whatever it's asked."""

    def __init__(self, audience: str = "https://storage.azure.com") -> None:
        self.oid = str(uuid.uuid4())
        self.tid = str(uuid.uuid4())
        self.audience = audience
        self.scopes: list[tuple[str, ...]] = []
        self.tokens: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        token, expires = entra_test_token(self.oid, self.tid, audience=self.audience)
        self.tokens.append(token)
        return AccessToken(token, expires)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return make_test_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def oauth_azurite(tls: tuple[str, str],
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    cert, key = tls
    az = start_azurite(location=str(tmp_path_factory.mktemp("azurite-oauth")),
                       cert=cert, key=key, oauth=True)
    try:
        yield az
    finally:
        az.stop()


def entra_account(az: Azurite, credential: object, **changes: Any) -> AzureAccount:
    """An Entra ID profile as accounts.account_from builds it: no keys at all."""
    values: dict[str, Any] = dict(
        name="work",
        batch_url=f"https://127.0.0.1:{free_port()}",  # nothing listens: Batch is not used
        batch_account="work",
        storage_account=DEV_ACCOUNT,
        blob_endpoint=az.blob_endpoint,
        auth="entra",
        credential=credential,
        storage_verify=az.ca_file,
    )
    values.update(changes)
    return AzureAccount(**values)


def http(url: str, cafile: str, *, method: str = "GET", data: bytes | None = None
         ) -> tuple[int, bytes, str | None]:
    """Plain HTTP as a Batch node does it: (status, body, x-ms-error-code)."""
    headers = {"x-ms-blob-type": "BlockBlob"} if method == "PUT" else {}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    context = ssl.create_default_context(cafile=cafile)
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as resp:
            return resp.status, resp.read(), None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("x-ms-error-code")


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# -- the storage layer ------------------------------------------------------------------


def test_signed_in_storage_uploads_and_hands_out_user_delegation_sas(
    oauth_azurite: Azurite, tmp_path: Path
) -> None:
    credential = FakeEntraCredential()
    account = entra_account(oauth_azurite, credential)
    storage = RunStorage(account, container=f"t{uuid.uuid4().hex[:12]}")
    try:
        assert storage.signed_in and storage.account_name == DEV_ACCOUNT
        storage.ensure_container()
        src = tmp_path / "in.mp4"
        src.write_bytes(b"not really a video, but bytes all the same" * 100)
        assert storage.upload(src, "run1/in/f0001.mp4") is True
        assert credential.scopes and all(s == (STORAGE_SCOPE,) for s in credential.scopes)

        expiry = datetime.now(UTC) + timedelta(hours=3)
        storage.prepare_signing(expiry)
        read_url = storage.read_sas_url("run1/in/f0001.mp4", expiry)
        write_url = storage.write_sas_url(expiry)
        for url, resource, permission in ((read_url, "b", "r"), (write_url, "c", "cw")):
            fields = query(url)
            assert fields["sr"] == resource and fields["sp"] == permission
            # signed with a user delegation key of the signed-in user, not an account key
            assert fields["skoid"] == credential.oid and fields["sktid"] == credential.tid
            assert "ske" in fields and fields["se"] <= fields["ske"]
            assert not any(token in url for token in credential.tokens)

        cafile = oauth_azurite.ca_file
        assert http(read_url, cafile) == (200, src.read_bytes(), None)
        status, _, code = http(read_url, cafile, method="PUT", data=b"x")
        assert status == 403, "the read link must not write"
        assert code in ("AuthorizationPermissionMismatch", "AuthorizationFailure")

        base, sas = write_url.split("?", 1)
        out_url = f"{base}/run1/out/f0001/out.mp3?{sas}"
        status, _, code = http(out_url, cafile, method="PUT", data=b"ID3 mp3 bytes")
        assert status == 201, code
        assert http(out_url, cafile)[0] == 403, "the write link must not read"
        dest = tmp_path / "out.mp3"
        assert storage.download("run1/out/f0001/out.mp3", dest) == len(b"ID3 mp3 bytes")
        assert dest.read_bytes() == b"ID3 mp3 bytes"

        # a link whose signature was changed is refused: Azurite really checks them
        tampered = read_url.replace("sig=", "sig=AAAA")
        assert http(tampered, cafile)[0] == 403
        storage.delete_prefix("run1/")  # one Blob Batch call, signed in with a token
        assert storage.list_names("run1/") == []
        storage.container_client.delete_container()
    finally:
        storage.close()


def test_delegation_key_is_asked_for_once_and_never_outlives_seven_days(
    oauth_azurite: Azurite,
) -> None:
    storage = RunStorage(entra_account(oauth_azurite, FakeEntraCredential()))
    try:
        far = datetime.now(UTC) + timedelta(days=30)
        storage.prepare_signing(far)
        key = storage._delegation
        first = query(storage.write_sas_url(far))
        storage.prepare_signing(far - timedelta(days=1))
        assert storage._delegation is key, "one key serves the whole run"
        limit = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert first["ske"] <= limit and first["se"] <= first["ske"]
    finally:
        storage.close()


def test_key_profiles_still_sign_with_the_account_key(azurite: Azurite) -> None:
    account = AzureAccount(name="k", batch_url="https://x", batch_account="x",
                           storage_connection_string=azurite.connection_string,
                           credential=FakeEntraCredential())
    storage = RunStorage(account)
    try:
        assert not storage.signed_in
        fields = query(storage.write_sas_url(datetime.now(UTC) + timedelta(hours=1)))
        assert "skoid" not in fields and "sig" in fields
    finally:
        storage.close()


def test_entra_profile_without_storage_account_says_what_is_missing(
    oauth_azurite: Azurite,
) -> None:
    account = entra_account(oauth_azurite, FakeEntraCredential(), storage_account=None)
    with pytest.raises(StorageSettingsError, match="storage account's name"):
        storage_access(account)
    assert "storage account's name" in registry.test_connection(account)["storage"]
    assert "FakeEntraCredential" not in repr(account) and "credential" not in repr(account)
    plain = entra_account(oauth_azurite, FakeEntraCredential(),
                          blob_endpoint=oauth_azurite.blob_endpoint.replace("https:", "http:"))
    assert "https only" in registry.test_connection(plain)["storage"]


# -- Test connection and plain errors ---------------------------------------------------


def test_connection_checks_storage_with_the_sign_in(oauth_azurite: Azurite) -> None:
    credential = FakeEntraCredential()
    result = registry.test_connection(entra_account(oauth_azurite, credential))
    assert result["storage"] == "ok"
    assert (STORAGE_SCOPE,) in credential.scopes


def test_connection_with_a_token_storage_refuses_is_plain(oauth_azurite: Azurite) -> None:
    wrong = FakeEntraCredential(audience="https://management.azure.com")
    result = registry.test_connection(entra_account(oauth_azurite, wrong))
    text = result["storage"]
    assert text.startswith("Azure Storage at 127.0.0.1:"), text
    assert "did not accept your Entra ID sign-in" in text
    assert "key" not in text, "a signed-in user has no key to fix"


class RoleMissing:
    """An https server answering like Azure Storage for a user without a data role."""

    def __init__(self, cert: str, key: str, list_code: str | None, delegation_code: str):
        server_self = self
        self.seen: list[tuple[str, str]] = []
        self.list_code, self.delegation_code = list_code, delegation_code

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                server_self.seen.append((self.command, self.path))
                asks_key = "comp=userdelegationkey" in self.path
                code = delegation_code if asks_key else list_code
                if code is None:
                    body = (b'<?xml version="1.0" encoding="utf-8"?><EnumerationResults '
                            b'ServiceEndpoint="x"><Containers /><NextMarker />'
                            b"</EnumerationResults>")
                    self.send_response(200)
                    self.send_header("Content-Type", "application/xml")
                else:
                    body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
                            "<Message>This request is not authorized to perform this operation "
                            "using this permission.\nRequestId:1\nTime:2026-11-25T09:00:00Z"
                            "</Message></Error>").encode()
                    self.send_response(403)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("x-ms-error-code", code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_HEAD = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.endpoint = f"https://127.0.0.1:{self.server.server_address[1]}/{DEV_ACCOUNT}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def role_missing(tls: tuple[str, str], request: pytest.FixtureRequest) -> Iterator[RoleMissing]:
    list_code, delegation_code = request.param
    server = RoleMissing(*tls, list_code=list_code, delegation_code=delegation_code)
    try:
        yield server
    finally:
        server.close()


def role_account(server: RoleMissing, tls: tuple[str, str]) -> AzureAccount:
    return AzureAccount(
        name="work", batch_url=f"https://127.0.0.1:{free_port()}", batch_account="work",
        storage_account=DEV_ACCOUNT, blob_endpoint=server.endpoint, auth="entra",
        credential=FakeEntraCredential(), storage_verify=tls[0],
    )


@pytest.mark.parametrize(
    "role_missing",
    [("AuthorizationPermissionMismatch", "AuthorizationPermissionMismatch"),
     (None, "AuthorizationPermissionMismatch"),  # may list, may not get a delegation key
     (None, "AuthorizationFailure")],
    indirect=True,
)
def test_missing_data_role_is_named_with_what_to_do(
    role_missing: RoleMissing, tls: tuple[str, str]
) -> None:
    text = registry.test_connection(role_account(role_missing, tls))["storage"]
    assert "Your Entra ID sign-in may not read and write blobs" in text, text
    assert "'Storage Blob Data Contributor' role" in text
    assert "Access control (IAM)" in text
    assert "key" not in text.lower()
    if role_missing.list_code is None:  # listing worked: the delegation key was refused
        assert any("comp=userdelegationkey" in path for _, path in role_missing.seen)
    # AuthorizationFailure can also be the storage firewall: that is said too
    assert ("firewall" in text) == (role_missing.delegation_code == "AuthorizationFailure")


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "role_missing", [("AuthorizationPermissionMismatch", "AuthorizationPermissionMismatch")],
    indirect=True)
def test_a_run_without_the_role_stops_in_plain_words_before_any_pool(
    role_missing: RoleMissing, tls: tuple[str, str], media: MediaCache, tmp_path: Path,
    batch_emulator: BatchEmulator,
) -> None:
    # Batch with its key (the emulator), storage with the sign-in, which has no data role
    account = AzureAccount(
        name="mixed", batch_url=batch_emulator.url, batch_account=batch_emulator.account,
        batch_key=batch_emulator.key, storage_account=DEV_ACCOUNT,
        blob_endpoint=role_missing.endpoint, credential=FakeEntraCredential(),
        storage_verify=tls[0],
    )
    media.good(tmp_path / "in" / "a.mp4", seconds=1.0)
    target = AzureBatchTarget(account, small_pool(), poll_bounds=(0.1, 0.5))
    result = run_in_process([tmp_path / "in"], tmp_path / "out", target)
    assert result.error is not None and "Storage Blob Data Contributor" in result.error.text
    assert result.error.code == "storage_role_missing"
    assert not any(r["method"] == "POST" and r["path"] == "/pools"
                   for r in batch_emulator.requests()), "no pool for a run that can't work"


# -- a whole conversion -----------------------------------------------------------------


class WatchedTarget(AzureBatchTarget):
    """The real target; it only notes the links it gives each task."""

    links: list[tuple[str, str]]

    def task_options(self, item: Any, read_url: str, write_url: str) -> Any:
        self.links.append((read_url, write_url))
        return super().task_options(item, read_url, write_url)



@pytest.mark.timeout(120)
def test_whole_conversion_with_storage_through_entra_sign_in(
    oauth_azurite: Azurite, ffmpeg_dir: str, media: MediaCache, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The emulator's nodes fetch and upload through the SAS URLs over https: they trust
    # the test certificate the way a real node trusts Azure's.
    monkeypatch.setenv("SSL_CERT_FILE", oauth_azurite.ca_file)
    emu = start_batch_emulator(path_dirs=[ffmpeg_dir], root=str(tmp_path / "batch"),
                               **DEFAULT_TEST_KNOBS)
    try:
        credential = FakeEntraCredential()
        account = AzureAccount(  # Batch with its key, storage with the Entra ID sign-in
            name="mixed", batch_url=emu.url, batch_account=emu.account, batch_key=emu.key,
            storage_account=DEV_ACCOUNT, blob_endpoint=oauth_azurite.blob_endpoint,
            credential=credential, storage_verify=oauth_azurite.ca_file,
        )
        src = tmp_path / "in"
        media.good(src / "a.mp4", seconds=2.0)
        media.good(src / "b.mp4", seconds=2.0)
        target = WatchedTarget(account, small_pool(), poll_bounds=(0.1, 0.5))
        target.links = []
        result = run_in_process([src], tmp_path / "out", target)
        assert len(target.links) == 2
        for read_url, write_url in target.links:  # user delegation SAS, over https
            assert read_url.startswith(oauth_azurite.blob_endpoint + "/")
            assert query(read_url)["skoid"] == query(write_url)["skoid"] == credential.oid
            assert query(read_url)["sp"] == "r" and query(write_url)["sp"] == "cw"
        assert [o.status for o in result.outcomes] == [FileStatus.DONE] * 2, result.outcomes
        for name in ("a.mp3", "b.mp3"):
            assert abs(MP3(tmp_path / "out" / name).info.length - 2.0) < 0.3
        assert credential.scopes, "storage was reached with the sign-in"
        adds = [r for r in emu.requests() if r["path"].endswith("/addtaskcollection")]
        assert adds and all((r["status"] or 0) < 400 for r in adds)
    finally:
        emu.stop()
    assert "Traceback" not in emu.stderr(), emu.stderr()[-3000:]
