"""An account profile's pool size choice, most nodes, Spot, region and currency: kept in
accounts.json, set by `batchgui accounts add`, handed to the Azure target and to the run's
pool sizing (issue 16)."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import pytest

from batchgui import accounts, cli, planning, planning_cli
from batchgui.core.sizing import Cheapest, FinishBy
from batchgui.targets.azure.config import PoolSettings
from tests.unit import test_accounts as shared
from tests.unit.test_accounts import BATCH_KEY, STORAGE_KEY, MemoryKeyring

accounts_home = shared.accounts_home
memory_keyring = shared.memory_keyring

SIZED = accounts.Profile(
    name="work", batch_url="https://work.westeurope.batch.azure.com", batch_account="work",
    storage_account="workstore", pool=PoolSettings(vm_size="standard_d4s_v3"),
    pool_size=accounts.POOL_SIZE_FINISH_IN, finish_in_minutes=15, max_nodes=4,
    allow_spot=True, region="northeurope", currency="EUR")


def test_the_new_fields_round_trip_through_the_file(
    memory_keyring: MemoryKeyring, accounts_home: Path
) -> None:
    assert accounts.Profile.from_json(SIZED.to_json()) == SIZED
    accounts.save_profile(SIZED, accounts.Secrets(batch_key=BATCH_KEY, storage_key=STORAGE_KEY))
    assert accounts.load_profiles() == [SIZED]
    saved = json.loads((accounts_home / "accounts.json").read_text())["profiles"][0]
    assert (saved["pool_size"], saved["finish_in_minutes"], saved["max_nodes"],
            saved["allow_spot"], saved["region"], saved["currency"]) == (
        "finish-in", 15, 4, True, "northeurope", "EUR")


def test_profiles_saved_before_have_the_expert_choice_and_wrong_types_are_ignored() -> None:
    old = {"name": "old", "batch_url": "https://old.westeurope.batch.azure.com",
           "batch_account": "old", "storage_account": "oldstore"}
    profile = accounts.Profile.from_json(old)
    assert (profile.pool_size, profile.max_nodes, profile.allow_spot, profile.region,
            profile.currency) == ("choose", 10, False, "", "")
    odd = accounts.Profile.from_json({**old, "max_nodes": "5", "allow_spot": 1,
                                      "finish_in_minutes": True, "region": 7})
    assert (odd.max_nodes, odd.allow_spot, odd.finish_in_minutes, odd.region) == (
        10, False, 30, "")


def test_wrong_values_are_named_in_plain_words() -> None:
    bad = SIZED.replace(region="West Europe", currency="XYZ", max_nodes=0,
                        finish_in_minutes=0)
    problems = bad.problems()
    assert "westeurope" in problems["region"]
    assert "EUR" in problems["currency"] and "USD" in problems["currency"]
    assert "1 to" in problems["max_nodes"]
    assert "1 to 10,000 minutes" in problems["finish_in_minutes"]
    assert SIZED.replace(pool_size="cheapest", finish_in_minutes=0).problems() == {}


def test_the_account_carries_region_and_currency_for_prices() -> None:
    account = accounts.account_from(SIZED, accounts.Secrets())
    assert (account.region, account.currency) == ("northeurope", "EUR")
    plain = accounts.account_from(SIZED.replace(region="", currency=""), accounts.Secrets())
    assert (plain.region, plain.currency) == (None, None)


def test_accounts_add_sets_them(memory_keyring: MemoryKeyring, accounts_home: Path,
                                monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{BATCH_KEY}\n{STORAGE_KEY}\n"))
    code = cli.main(["accounts", "add", "work", "--batch-url", "work.westeurope.batch.azure.com",
                     "--batch-account", "work", "--storage-account", "workstore",
                     "--vm-size", "standard_d4s_v3", "--finish-in", "15", "--max-nodes", "4",
                     "--allow-spot", "--region", "NorthEurope", "--currency", "eur"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert accounts.load_profiles() == [SIZED]
    assert cli.main(["accounts", "list"]) == 0
    listed = capsys.readouterr().out
    assert "sized to finish in about 15 min, at most 4 x standard_d4s_v3, Spot allowed" in listed

    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{BATCH_KEY}\n{STORAGE_KEY}\n"))
    assert cli.main(["accounts", "add", "cheap", "--batch-url", "cheap.westeurope.batch.azure.com",
                     "--batch-account", "cheap", "--storage-account", "cheapstore",
                     "--cheapest"]) == 0
    assert accounts.get_profile("cheap").pool_size == "cheapest"


def args(**given: object) -> argparse.Namespace:
    values: dict[str, object] = {"finish_in": None, "cheapest": False, "max_nodes": None,
                                 "allow_spot": False, "dedicated_nodes": None,
                                 "spot_nodes": None, "slots_per_node": None}
    values.update(given)
    return argparse.Namespace(**values)


def test_the_profiles_choice_is_the_command_lines_default(
    memory_keyring: MemoryKeyring, accounts_home: Path
) -> None:
    accounts.save_profile(SIZED, accounts.Secrets(batch_key=BATCH_KEY, storage_key=STORAGE_KEY))
    assert planning.profile_sizing("work") == planning.Sizing(FinishBy(900.0), 4, True)
    assert planning_cli.sizing_for(args(), "work") == planning.Sizing(FinishBy(900.0), 4, True)
    # the command line wins: another goal, another maximum
    assert planning_cli.sizing_for(args(cheapest=True, max_nodes=2), "work") == \
        planning.Sizing(Cheapest(), 2, True)
    # node counts given by hand: the user chose the pool themselves
    assert planning_cli.sizing_for(args(dedicated_nodes=3), "work") is None
    # this computer, and a profile that lets the user choose: nothing to size
    assert planning_cli.sizing_for(args(), "local") is None
    accounts.save_profile(SIZED.replace(name="expert", pool_size="choose"),
                          accounts.Secrets(batch_key=BATCH_KEY, storage_key=STORAGE_KEY))
    assert planning_cli.sizing_for(args(), "expert") is None
