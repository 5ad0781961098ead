"""Account profiles: settings in a JSON file, keys only in the keyring (or this session).

`MemoryKeyring` and the `memory_keyring` / `accounts_home` fixtures are imported by the
GUI and integration tests of accounts too.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.errors
import pytest

from batchgui import accounts
from batchgui.targets.azure.config import PoolSettings


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that lives in a dict: what tests use instead of the OS keyring."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError("not found") from None


class LockedKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("the collection is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("the collection is locked")


def key_of(seed: str) -> str:
    """A well-formed 64-byte account key (88 base64 characters)."""
    raw = (seed.encode() * 64)[:64]
    return base64.b64encode(raw).decode()


BATCH_KEY = key_of("batch-secret-")
STORAGE_KEY = key_of("storage-secret-")


@pytest.fixture
def accounts_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config folder for this test, and a fresh in-session secret store."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.setattr(accounts, "secrets", accounts.SecretStore())
    accounts.forget_credentials()
    return home / "batchgui"


@pytest.fixture
def memory_keyring(accounts_home: Path) -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    try:
        yield ring
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def fail_keyring(accounts_home: Path) -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def work_profile(**changes: object) -> accounts.Profile:
    profile = accounts.Profile(
        name="work",
        batch_url="https://work.westeurope.batch.azure.com",
        batch_account="work",
        storage_account="workstore",
        pool=PoolSettings(pool_id="mp3-pool", dedicated_nodes=0, spot_nodes=3),
    )
    return profile.replace(**changes) if changes else profile


KEYS = accounts.Secrets(batch_key=BATCH_KEY, storage_key=STORAGE_KEY)


# ------------------------------------------------------------------------------------
# Checks as you type


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://work.westeurope.batch.azure.com", True),
        ("work.westeurope.batch.azure.com", True),  # https:// is added
        ("http://127.0.0.1:10000", True),  # an emulator on this computer
        ("http://work.westeurope.batch.azure.com", False),  # keys over plain http: no
        ("https://work", False),
        ("https://work.westeurope.batch.azure.com/pools", False),
        ("not a url", False),
        ("", False),
    ],
)
def test_batch_url_shape(url: str, ok: bool) -> None:
    assert (accounts.check_batch_url(url) is None) is ok


def test_key_must_be_64_bytes_of_base64_and_the_message_never_repeats_it() -> None:
    assert accounts.check_key(BATCH_KEY) is None
    short = base64.b64encode(b"x" * 32).decode()
    for bad in (short, BATCH_KEY[:-3], BATCH_KEY.replace("=", "!"), "  "):
        message = accounts.check_key(bad)
        assert message
        assert bad.strip() == "" or bad not in message
    assert "88 characters" in (accounts.check_key(short) or "")


def test_connection_string_needs_a_whole_key() -> None:
    good = f"DefaultEndpointsProtocol=https;AccountName=workstore;AccountKey={STORAGE_KEY};"
    assert accounts.check_connection_string(good) is None
    assert accounts.check_connection_string(good.replace(STORAGE_KEY, STORAGE_KEY[:20]))
    assert accounts.check_connection_string("hello")
    assert accounts.check_connection_string("UseDevelopmentStorage=true") is None


def test_profile_name_rules() -> None:
    assert accounts.check_profile_name("work-2") is None
    assert accounts.check_profile_name("local")  # a built-in target
    assert accounts.check_profile_name("my work")  # spaces would break --target
    assert accounts.check_profile_name("")


def test_account_name_is_read_from_the_batch_url() -> None:
    assert accounts.account_from_batch_url("work.westeurope.batch.azure.com") == "work"
    assert accounts.account_from_batch_url("http://127.0.0.1:1234") == ""


# ------------------------------------------------------------------------------------
# Profiles and keys


def test_profile_round_trip_keeps_keys_out_of_the_file(
    memory_keyring: MemoryKeyring, accounts_home: Path
) -> None:
    accounts.save_profile(work_profile(), KEYS)

    text = (accounts_home / "accounts.json").read_text()
    assert BATCH_KEY not in text and STORAGE_KEY not in text
    assert json.loads(text)["profiles"][0]["pool"]["spot_nodes"] == 3
    assert accounts.load_profiles() == [work_profile()]
    assert set(memory_keyring.entries.values()) == {BATCH_KEY, STORAGE_KEY}
    assert all(service == "batchgui" for service, _ in memory_keyring.entries)

    account, pool = accounts.load_account("work")
    assert account.batch_key == BATCH_KEY and account.storage_key == STORAGE_KEY
    assert account.blob_endpoint == "https://workstore.blob.core.windows.net"
    assert pool.pool_id == "mp3-pool" and pool.spot_nodes == 3
    for shown in (repr(account), str(account), repr(KEYS), str(KEYS), repr(work_profile())):
        assert BATCH_KEY not in shown and STORAGE_KEY not in shown


def test_several_profiles_and_listing_them_as_targets(memory_keyring: MemoryKeyring) -> None:
    from batchgui.targets import registry

    accounts.save_profile(work_profile(), KEYS)
    accounts.save_profile(work_profile(name="home", batch_account="home"),
                          accounts.Secrets(batch_key=key_of("b2"), storage_key=key_of("s2")))
    targets = dict(registry.available_targets())
    assert targets["work"] == "Azure Batch: work"
    assert targets["home"] == "Azure Batch: home"
    assert "local" in targets
    assert accounts.load_account("home")[0].batch_key == key_of("b2")


def test_removing_a_profile_removes_its_keys(memory_keyring: MemoryKeyring) -> None:
    accounts.save_profile(work_profile(), KEYS)
    accounts.save_profile(work_profile(name="home"), KEYS)
    accounts.remove_profile("work")
    assert accounts.profile_names() == ["home"]
    assert all(not user.startswith("work/") for _, user in memory_keyring.entries)
    assert len(memory_keyring.entries) == 2
    with pytest.raises(accounts.ProfileNotFound):
        accounts.remove_profile("work")


def test_editing_keeps_keys_left_empty_and_renaming_moves_them(
    memory_keyring: MemoryKeyring,
) -> None:
    accounts.save_profile(work_profile(), KEYS)
    accounts.save_profile(work_profile(name="office"), accounts.Secrets(), old_name="work")
    assert accounts.profile_names() == ["office"]
    assert accounts.load_account("office")[0].batch_key == BATCH_KEY
    assert all(not user.startswith("work/") for _, user in memory_keyring.entries)

    new_key = key_of("new")
    accounts.save_profile(work_profile(name="office"), accounts.Secrets(batch_key=new_key),
                          old_name="office")
    account = accounts.load_account("office")[0]
    assert account.batch_key == new_key and account.storage_key == STORAGE_KEY


def test_switching_to_a_connection_string_forgets_the_storage_key(
    memory_keyring: MemoryKeyring,
) -> None:
    accounts.save_profile(work_profile(), KEYS)
    cs = f"DefaultEndpointsProtocol=https;AccountName=workstore;AccountKey={key_of('cs')};"
    profile = work_profile(storage_auth=accounts.STORAGE_BY_CONNECTION_STRING, storage_account="")
    accounts.save_profile(profile, accounts.Secrets(storage_connection_string=cs),
                          old_name="work")
    assert STORAGE_KEY not in memory_keyring.entries.values()
    account = accounts.load_account("work")[0]
    assert account.storage_connection_string == cs and account.storage_key is None
    assert account.storage_account == "workstore"


def test_wrong_or_missing_keys_are_refused_before_anything_is_written(
    memory_keyring: MemoryKeyring, accounts_home: Path
) -> None:
    with pytest.raises(accounts.InvalidProfile) as err:
        accounts.save_profile(work_profile(), accounts.Secrets(batch_key=BATCH_KEY[:40]))
    assert BATCH_KEY[:40] not in str(err.value)
    assert not (accounts_home / "accounts.json").exists()
    assert memory_keyring.entries == {}
    with pytest.raises(accounts.ProfileExists):
        accounts.save_profile(work_profile(), KEYS)
        accounts.save_profile(work_profile(), KEYS)


def test_no_keyring_is_a_plain_message_and_nothing_is_written(
    fail_keyring: None, accounts_home: Path
) -> None:
    with pytest.raises(accounts.KeyringUnavailable) as err:
        accounts.save_profile(work_profile(), KEYS)
    assert err.value.reason == "missing"
    assert "no system keyring" in str(err.value)
    assert "this session only" in str(err.value)
    assert not (accounts_home / "accounts.json").exists()
    assert accounts.secrets.keyring_status() == "missing"


def test_session_only_keys_live_in_memory_and_never_on_disk(
    fail_keyring: None, accounts_home: Path, tmp_path: Path
) -> None:
    accounts.save_profile(work_profile(), KEYS, session_only=True)
    account, _ = accounts.load_account("work")
    assert account.batch_key == BATCH_KEY
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert BATCH_KEY.encode() not in data and STORAGE_KEY.encode() not in data
    # the next session (a fresh store) knows the profile but not its keys
    accounts.secrets = accounts.SecretStore()
    with pytest.raises(accounts.KeyringUnavailable):
        accounts.load_account("work")
    # and removing it works without a keyring
    accounts.remove_profile("work")
    assert accounts.profile_names() == []


def test_keys_missing_from_the_keyring_say_what_to_do(memory_keyring: MemoryKeyring) -> None:
    accounts.save_profile(work_profile(), KEYS)
    memory_keyring.entries.clear()
    with pytest.raises(accounts.SecretsMissing, match="enter them again"):
        accounts.load_account("work")


def test_a_locked_keyring_says_so(accounts_home: Path) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(LockedKeyring())
    try:
        with pytest.raises(accounts.KeyringUnavailable) as err:
            accounts.save_profile(work_profile(), KEYS)
        assert err.value.reason == "locked"
        assert "locked" in str(err.value)
    finally:
        keyring.set_keyring(previous)


def test_entra_profiles_store_no_keys_and_get_a_credential(
    memory_keyring: MemoryKeyring,
) -> None:
    pytest.importorskip("azure.identity")
    profile = work_profile(auth=accounts.AUTH_ENTRA, tenant_id="contoso.onmicrosoft.com")
    accounts.save_profile(profile, KEYS)  # keys given by mistake are not kept
    assert memory_keyring.entries == {}
    account, _ = accounts.load_account("work")
    assert account.auth == "entra"
    assert account.batch_key is None and account.storage_key is None
    assert account.credential is not None
    assert accounts.load_account("work")[0].credential is account.credential  # sign in once


def test_damaged_profiles_file_is_survivable(accounts_home: Path, caplog: pytest.LogCaptureFixture,
                                             memory_keyring: MemoryKeyring) -> None:
    accounts_home.mkdir(parents=True)
    (accounts_home / "accounts.json").write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert accounts.load_profiles() == []
    (accounts_home / "accounts.json").write_text(json.dumps(
        {"profiles": [{"name": "x"}, work_profile().to_json()]}))
    assert accounts.profile_names() == ["work"]


def test_keys_never_reach_the_logs(memory_keyring: MemoryKeyring,
                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        accounts.save_profile(work_profile(), KEYS)
        accounts.load_account("work")
        accounts.remove_profile("work")
    assert caplog.records
    assert BATCH_KEY not in caplog.text and STORAGE_KEY not in caplog.text


def test_config_dir_is_platformdirs(accounts_home: Path) -> None:
    assert accounts.profiles_path() == accounts_home / "accounts.json"
    assert os.environ["XDG_CONFIG_HOME"] in str(accounts.profiles_path())


def test_a_connection_string_a_run_cannot_use_is_refused_when_saved(
    memory_keyring: MemoryKeyring,
) -> None:
    """One parser for the accounts check and for the run: a SAS without the account key
    saved fine once, and then every run failed. Now saving says why, in the run's words."""
    from batchgui.targets.azure.config import AzureAccount
    from batchgui.targets.azure.storage import StorageSettingsError, storage_access

    sas_only = ("BlobEndpoint=https://workstore.blob.core.windows.net/;"
                "SharedAccessSignature=sv=2024-11-04&ss=b&srt=sco&sp=rwdlac&sig=abc%3D")
    profile = work_profile(storage_auth=accounts.STORAGE_BY_CONNECTION_STRING,
                           storage_account="")
    keys = accounts.Secrets(batch_key=BATCH_KEY, storage_connection_string=sas_only)
    said = profile.check_secrets(keys)["storage_connection_string"]
    assert "shared access signature" in said and "Entra ID" in said
    assert "sig=" not in said
    with pytest.raises(accounts.InvalidProfile, match="shared access signature"):
        accounts.save_profile(profile, keys)
    assert accounts.profile_names() == []
    # the run says the same words for the same string
    account = AzureAccount(name="x", batch_url="https://x.batch.azure.com", batch_account="x",
                           storage_connection_string=sas_only)
    with pytest.raises(StorageSettingsError) as run_said:
        storage_access(account)
    assert str(run_said.value) == said

    no_name = f"BlobEndpoint=https://workstore.blob.core.windows.net/;AccountKey={STORAGE_KEY}"
    assert "no AccountName" in (accounts.check_connection_string(no_name) or "")
    # a usable one is the same to both
    good = f"DefaultEndpointsProtocol=https;AccountName=workstore;AccountKey={STORAGE_KEY}"
    assert accounts.check_connection_string(good) is None
    account = AzureAccount(name="x", batch_url="https://x.batch.azure.com", batch_account="x",
                           storage_connection_string=good)
    assert storage_access(account).blob_endpoint == "https://workstore.blob.core.windows.net"


def test_a_rename_that_cannot_be_written_loses_no_key(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Renaming stores the keys under the new name, writes accounts.json, and only then
    forgets the old keys. When the write fails, the old profile and its keys are as they
    were and no copy is left under the new name."""
    import errno

    from batchgui.accounts import profiles

    accounts.save_profile(work_profile(), KEYS)
    before = dict(memory_keyring.entries)

    def disk_full(path: Path, text: str) -> None:  # the disk, failing as a full disk does
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(profiles, "atomic_write_text", disk_full)
        with pytest.raises(Exception) as failed:  # noqa: B017 - which one is checked below
            accounts.save_profile(work_profile(name="office"), old_name="work")
    assert memory_keyring.entries == before  # the old keys, and nothing under 'office'
    assert isinstance(failed.value, accounts.AccountsError)  # said in plain words
    assert "No space left on device" in str(failed.value)
    assert accounts.profile_names() == ["work"]
    account, _ = accounts.load_account("work")
    assert account.batch_key == BATCH_KEY and account.storage_key == STORAGE_KEY

    # the same rename with a working disk: keys move, nothing is left under the old name
    accounts.save_profile(work_profile(name="office"), old_name="work")
    assert accounts.profile_names() == ["office"]
    assert accounts.load_account("office")[0].batch_key == BATCH_KEY
    assert all(not user.startswith("work/") for _, user in memory_keyring.entries)


EDITOR = """
import sys, time
from pathlib import Path
from batchgui import accounts
from tests.unit.test_accounts import work_profile

who, count, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
while not go.exists():  # start together with the other editor
    time.sleep(0.001)
for i in range(count):
    accounts.save_profile(work_profile(name=f"{who}-{i}", auth=accounts.AUTH_ENTRA))
accounts.save_profile(work_profile(name=f"{who}-last", auth=accounts.AUTH_ENTRA),
                      old_name=f"{who}-0")
"""


def test_two_processes_editing_at_once_lose_nothing(accounts_home: Path, tmp_path: Path) -> None:
    """The window and `batchgui accounts add` may save at the same moment: accounts.json is
    read, changed and written under a file lock, so neither overwrites the other's edit."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    go = tmp_path / "go"
    env = dict(os.environ, PYTHONPATH=str(root))
    editors = [
        subprocess.Popen([sys.executable, "-c", EDITOR, who, "30", str(go)], env=env, cwd=root,
                         stderr=subprocess.PIPE, text=True)
        for who in ("window", "cli")
    ]
    go.touch()
    for editor in editors:
        _, err = editor.communicate(timeout=120)
        assert editor.returncode == 0, err
    names = set(accounts.profile_names())
    expected = {f"{who}-{i}" for who in ("window", "cli") for i in range(1, 30)}
    expected |= {"window-last", "cli-last"}
    assert names == expected, f"lost: {sorted(expected - names)}"
