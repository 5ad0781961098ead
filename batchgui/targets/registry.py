"""Turns a target name (from the CLI or the window's selector) into a Target.

"local" is this computer. Other targets (Azure Batch from the environment, named
accounts) register their CLI options and builders here, so `cli.py` and the
window never need to know them one by one.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from batchgui.core.target import Target, TargetError
from batchgui.i18n import Reason, _, tr, why
from batchgui.targets.local import LocalTarget, default_slots, local_label

if TYPE_CHECKING:  # the Azure modules load only when an Azure target is asked for
    from batchgui.targets.azure.config import AzureAccount, PoolSettings

LOCAL = "local"


AZURE = "azure"


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the non-local targets (pool settings for Azure Batch).

    Each option's dest is the PoolSettings field it sets; None means "not given", so
    the pool's defaults (or an account profile's) stay.
    """
    pool = parser.add_argument_group(_("Azure Batch pool (with --target azure or an account)"))
    pool.add_argument("--pool-id", dest="pool_id", metavar="ID",
                      help=_("the pool to use or create (default: batchgui-pool)"))
    pool.add_argument("--vm-size", dest="vm_size", metavar=_("SIZE"),
                      help=_("VM size of the pool's nodes (default: standard_d2s_v3)"))
    pool.add_argument("--dedicated", dest="dedicated_nodes", type=_count, metavar="N",
                      help=_("dedicated nodes (default: 1)"))
    pool.add_argument("--spot", dest="spot_nodes", type=_count, metavar="N",
                      help=_("Spot nodes: cheaper, but Azure may take them back (default: 0)"))
    pool.add_argument("--slots-per-node", dest="slots_per_node", type=_count, metavar="N",
                      help=_("files converted at once on each node (default: 2)"))
    pool.add_argument("--start-task", dest="start_task", metavar=_("CMD"),
                      help=_("command each node runs once to get ffmpeg (default: install it "
                             "with apt-get)"))
    keep = pool.add_mutually_exclusive_group()
    keep.add_argument("--keep-pool", dest="keep_pool", action="store_const", const=True,
                      help=_("keep the pool for the next run (faster, but it costs money "
                             "while idle)"))
    keep.add_argument("--delete-pool", dest="keep_pool", action="store_const", const=False,
                      help=_("delete the pool when the run ends (default)"))
    parser.set_defaults(keep_pool=None)


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(tr("'{value}' is not a whole number", value=text)
                                         ) from None
    if n < 0:
        raise argparse.ArgumentTypeError(_("use 0 or more"))
    return n


def pool_settings_from(
    options: argparse.Namespace | None, base: PoolSettings | None = None
) -> PoolSettings:
    """PoolSettings with whatever pool options were given on the command line."""
    import dataclasses

    from batchgui.targets.azure.config import PoolSettings

    pool = base if base is not None else PoolSettings()
    overrides = {
        f.name: getattr(options, f.name)
        for f in dataclasses.fields(pool)
        if getattr(options, f.name, None) is not None
    }
    return dataclasses.replace(pool, **overrides) if overrides else pool


def make_azure_target(account: AzureAccount, pool: PoolSettings | None = None) -> Target:
    """The Azure Batch target for an account (config.AzureAccount) and pool (PoolSettings)."""
    from batchgui.targets.azure.config import PoolSettings
    from batchgui.targets.azure.target import AzureBatchTarget

    if pool is None:
        pool = PoolSettings()
    if pool.dedicated_nodes + pool.spot_nodes < 1:
        raise TargetError(why("pool_without_nodes", "The pool needs at least one node: use "
                              "--dedicated 1 or --spot 1."))
    if pool.slots_per_node < 1:
        raise TargetError(why("no_slots", "Each node must convert at least one file at a time "
                              "(--slots-per-node)."))
    return AzureBatchTarget(account, pool)


def test_connection(account: AzureAccount) -> dict[str, str]:
    """Check an account's Batch and Storage sides: {"batch": ..., "storage": ...}.

    Each value is "ok" or one plain sentence saying what is wrong and what to do.
    Blocking (network calls, a few seconds at most): call it on a worker thread.
    """
    from batchgui.targets.azure.connection import test_connection as check

    return check(account)


test_connection.__test__ = False  # type: ignore[attr-defined]  # a check, not a pytest test


def azure_account(name: str) -> AzureAccount:
    """The account behind a target name: 'azure' (AZURE_* variables) or a profile.

    Reads keys from the keyring for a profile (may block: call it off the GUI thread).
    """
    from batchgui.targets.azure.config import AzureAccount

    if name == AZURE:
        try:
            return AzureAccount.from_environment()
        except KeyError as exc:
            raise TargetError(why("environment_missing", "--target azure needs these "
                                  "environment variables: {names}.", names=exc.args[0])
                              ) from None
    from batchgui import accounts

    if not accounts.has_profile(name):
        raise TargetError(why("no_such_account", "There is no Azure account called '{name}'.",
                              name=name))
    try:
        return accounts.load_account(name)[0]
    except accounts.AccountsError as exc:
        raise TargetError(Reason("account_unusable", str(exc))) from None


def _azure_from_environment(options: argparse.Namespace | None) -> Target:
    from batchgui.targets.azure.config import AzureAccount

    try:
        account = AzureAccount.from_environment()
    except KeyError as exc:
        raise TargetError(why(
            "environment_missing", "--target azure needs these environment variables: "
            "{names}. Set them to your Batch account's URL, name and key and your storage "
            "connection string (the Azure CLI uses the same names), or set up an account in "
            "the app.", names=exc.args[0])) from None
    return make_azure_target(account, pool_settings_from(options))


def available_targets() -> list[tuple[str, str]]:
    """(name, label) for every target that exists right now, for the window's selector."""
    return [(LOCAL, local_label(default_slots()))] + _profile_targets()


def _profile_targets() -> list[tuple[str, str]]:
    """Saved account profiles (reads a small JSON file, never the keyring)."""
    from batchgui import accounts

    return [(p.name, p.label) for p in accounts.load_profiles()]


def _profile_target(name: str, options: argparse.Namespace | None) -> Target | None:
    """The Azure target of a saved account profile, or None when no profile has this name.

    Reads the profile's keys from the keyring (may block: call it off the GUI thread).
    Pool options given on the command line override the profile's pool defaults.
    """
    from batchgui import accounts

    if not accounts.has_profile(name):
        return None
    try:
        account, pool = accounts.load_account(name)
    except accounts.AccountsError as exc:
        raise TargetError(Reason("account_unusable", str(exc))) from None
    return make_azure_target(account, pool_settings_from(options, pool))


def make_target(name: str, options: argparse.Namespace | None = None) -> Target:
    if name in (LOCAL, "this-computer"):
        parallel = getattr(options, "parallel", None) if options is not None else None
        priority = getattr(options, "priority", "low") if options is not None else "low"
        return LocalTarget(slots=parallel, low_priority=priority != "normal")
    if name == AZURE:
        return _azure_from_environment(options)
    profile_target = _profile_target(name, options)
    if profile_target is not None:
        return profile_target
    raise TargetError(why("no_such_target", "There is no target called '{name}'. Use 'local' "
                          "for this computer.", name=name))
