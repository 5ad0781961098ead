"""`batchgui accounts ...`: keys come from stdin or a hidden prompt, never from argv."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from batchgui import accounts, accounts_cli, cli
from batchgui.targets import registry
from tests.unit import test_accounts as shared
from tests.unit.test_accounts import BATCH_KEY, STORAGE_KEY, MemoryKeyring

accounts_home = shared.accounts_home
memory_keyring = shared.memory_keyring
fail_keyring = shared.fail_keyring

ADD = ["accounts", "add", "work", "--batch-url", "work.westeurope.batch.azure.com",
       "--batch-account", "work", "--storage-account", "workstore"]


def run_cli(argv: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_add_reads_keys_from_stdin_and_lists_without_them(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], accounts_home: Path,
) -> None:
    code, out, err = run_cli(ADD + ["--spot-nodes", "2"], f"{BATCH_KEY}\n{STORAGE_KEY}\n",
                             monkeypatch, capsys)
    assert code == 0, err
    assert "system keyring" in out
    assert set(memory_keyring.entries.values()) == {BATCH_KEY, STORAGE_KEY}

    code, out, err = run_cli(["accounts", "list"], "", monkeypatch, capsys)
    assert code == 0 and "work" in out and "2 Spot" in out
    assert BATCH_KEY not in out + err and STORAGE_KEY not in out + err
    assert BATCH_KEY not in (accounts_home / "accounts.json").read_text()

    code, out, err = run_cli(ADD, f"{BATCH_KEY}\n{STORAGE_KEY}\n", monkeypatch, capsys)
    assert code == 2 and "already a profile" in err

    code, out, err = run_cli(["accounts", "remove", "work"], "", monkeypatch, capsys)
    assert code == 0 and memory_keyring.entries == {}
    assert accounts.profile_names() == []


def test_connection_string_from_the_second_line(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cs = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={STORAGE_KEY};"
          "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;")
    argv = ["accounts", "add", "dev", "--batch-url", "http://127.0.0.1:9999",
            "--batch-account", "emulatedbatch", "--storage-connection-string-stdin"]
    code, _, err = run_cli(argv, f"{BATCH_KEY}\n{cs}\n", monkeypatch, capsys)
    assert code == 0, err
    account, _ = accounts.load_account("dev")
    assert account.storage_connection_string == cs
    assert account.blob_endpoint == "http://127.0.0.1:10000/devstoreaccount1"


def test_bad_or_missing_keys_are_refused_without_echoing_them(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    half = BATCH_KEY[:50]
    code, out, err = run_cli(ADD, f"{half}\n{STORAGE_KEY}\n", monkeypatch, capsys)
    assert code == 2 and "88 characters" in err
    assert half not in out + err
    code, out, err = run_cli(ADD, f"{BATCH_KEY}\n", monkeypatch, capsys)
    assert code == 2 and "storage account key" in err
    assert memory_keyring.entries == {} and accounts.profile_names() == []


def test_keys_are_never_arguments() -> None:
    parser = cli.build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(ADD + ["--batch-key", BATCH_KEY])


def test_a_terminal_gets_a_hidden_prompt(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    prompts: list[str] = []

    def fake_getpass(prompt: str, stream: object = None) -> str:
        prompts.append(prompt)
        return BATCH_KEY if "Batch" in prompt else STORAGE_KEY

    monkeypatch.setattr(accounts_cli.getpass, "getpass", fake_getpass)
    monkeypatch.setattr(sys, "stdin", Tty(""))
    assert cli.main(ADD) == 0
    assert prompts == ["Batch account key (hidden): ", "Storage account key (hidden): "]


def test_no_keyring_is_explained(
    fail_keyring: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_cli(ADD, f"{BATCH_KEY}\n{STORAGE_KEY}\n", monkeypatch, capsys)
    assert code == 1
    assert "no system keyring" in err and "plain file" in err
    assert BATCH_KEY not in out + err
    assert accounts.profile_names() == []


def test_test_command_exit_code_follows_both_services(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_cli(ADD, f"{BATCH_KEY}\n{STORAGE_KEY}\n", monkeypatch, capsys)[0] == 0
    results = {"batch": "ok", "storage": "ok"}
    monkeypatch.setattr(registry, "test_connection", lambda account: dict(results),
                        raising=False)
    code, out, _ = run_cli(["accounts", "test", "work"], "", monkeypatch, capsys)
    assert code == 0 and "Batch: OK" in out and "Storage: OK" in out
    results["storage"] = "Azure Storage did not accept the storage account key."
    code, out, _ = run_cli(["accounts", "test", "work"], "", monkeypatch, capsys)
    assert code == 1 and "did not accept" in out

    code, _, err = run_cli(["accounts", "test", "nobody"], "", monkeypatch, capsys)
    assert code == 1 and "no account profile called 'nobody'" in err


def test_convert_through_a_profile_whose_keys_are_gone_says_what_to_do(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    assert run_cli(ADD, f"{BATCH_KEY}\n{STORAGE_KEY}\n", monkeypatch, capsys)[0] == 0
    memory_keyring.entries.clear()
    video = tmp_path / "a.mp4"
    video.write_bytes(b"")
    code, _, err = run_cli(["convert", str(video), "-o", str(tmp_path / "out"),
                            "--target", "work"], "", monkeypatch, capsys)
    assert code == 2
    assert "keys of the account profile 'work' are not saved" in err


def test_a_profile_becomes_an_azure_target_with_its_pool(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_cli(ADD + ["--spot-nodes", "3", "--dedicated-nodes", "0"],
                   f"{BATCH_KEY}\n{STORAGE_KEY}\n", monkeypatch, capsys)[0] == 0
    made: list[tuple[object, object]] = []
    monkeypatch.setattr(registry, "make_azure_target",
                        lambda account, pool: made.append((account, pool)) or "target")
    options = cli.build_parser().parse_args(
        ["convert", "x.mp4", "-o", "out", "--target", "work", "--slots-per-node", "4"])
    assert registry.make_target("work", options) == "target"
    account, pool = made[0]
    assert account.batch_key == BATCH_KEY  # type: ignore[attr-defined]
    assert (pool.spot_nodes, pool.dedicated_nodes, pool.slots_per_node) == (3, 0, 4)  # type: ignore[attr-defined]
