"""`batchgui accounts add|list|remove|test`: account profiles from the command line.

Keys are never arguments (argv is visible to every user of the computer): they come
from a hidden prompt on a terminal, or from stdin when it is a pipe (first line the
Batch key, second line the storage key or connection string).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any, TextIO

from batchgui import accounts
from batchgui.i18n import _, tr
from batchgui.targets.azure.config import PoolSettings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _minutes(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(tr("'{value}' is not a whole number of minutes",
                                            value=text)) from None
    if value < 1:
        raise argparse.ArgumentTypeError(_("give a number of minutes above 0"))
    return value


def add_commands(sub: Any) -> None:
    parser = sub.add_parser(
        "accounts",
        help=_("set up Azure Batch accounts (keys go to the system keyring)"),
        description=_("Azure Batch account profiles. Keys are kept in the system keyring and "
                      "read from a hidden prompt, or from stdin when it is not a terminal "
                      "(first line the Batch key, second line the storage key or connection "
                      "string)."),
    )
    acc = parser.add_subparsers(dest="accounts_command", metavar=_("COMMAND"),
                                title=_("commands"))
    acc.required = True

    add = acc.add_parser(
        "add", help=_("add an account profile"),
        usage=_("batchgui accounts add NAME --batch-url URL --batch-account A "
                "(--storage-account S | --storage-connection-string-stdin) [options]"),
        description=_("Add an account profile. It needs --batch-url, --batch-account, and "
                      "either --storage-account or --storage-connection-string-stdin."))
    # required options are checked in _add, so that one message names everything missing
    add.set_defaults(add_parser=add)
    add.add_argument("name", metavar=_("NAME"), help=_("profile name, e.g. 'work'"))
    add.add_argument("--batch-url", metavar="URL",
                     help=_("https://<account>.<region>.batch.azure.com (required)"))
    add.add_argument("--batch-account", metavar="A", help=_("Batch account name (required)"))
    storage = add.add_mutually_exclusive_group()
    storage.add_argument("--storage-account", metavar="S",
                         help=_("storage account name (this or the next one is required)"))
    storage.add_argument("--storage-connection-string-stdin", action="store_true",
                         help=_("read the storage connection string (instead of a storage "
                                "account key) from the prompt or stdin"))
    add.add_argument("--blob-endpoint", metavar="URL", default="",
                     help=_("blob endpoint when it is not https://<S>.blob.core.windows.net"))
    add.add_argument("--auth", choices=accounts.AUTH_METHODS, default=accounts.AUTH_SHARED_KEY,
                     help=_("account keys (default) or Microsoft Entra ID sign-in"))
    add.add_argument("--tenant-id", default="", metavar="ID",
                     help=_("Entra ID tenant (default: your home tenant)"))
    defaults = PoolSettings()
    add.add_argument("--pool-id", default=defaults.pool_id, metavar="ID",
                     help=tr("the pool's id (default: {default})", default=defaults.pool_id))
    add.add_argument("--vm-size", default=defaults.vm_size, metavar=_("SIZE"),
                     help=tr("VM size of the pool's nodes (default: {default})",
                             default=defaults.vm_size))
    add.add_argument("--dedicated-nodes", type=int, default=defaults.dedicated_nodes,
                     metavar="N", help=tr("dedicated nodes (default: {default})",
                                          default=defaults.dedicated_nodes))
    add.add_argument("--spot-nodes", type=int, default=defaults.spot_nodes, metavar="N",
                     help=tr("Spot nodes: cheaper, but Azure may take them back (default: "
                             "{default})", default=defaults.spot_nodes))
    add.add_argument("--slots-per-node", type=int, default=defaults.slots_per_node,
                     metavar="N", help=tr("files converted at once on each node (default: "
                                          "{default})", default=defaults.slots_per_node))
    add.add_argument("--keep-pool", action="store_true",
                     help=_("keep the pool after a run (faster next time, costs money while "
                            "idle)"))
    sizing = add.add_argument_group(
        _("pool size"), _("Let BatchGUI choose the nodes for each run (the pool options above "
                          "are then only the VM size, slots and start task it uses)."))
    goal = sizing.add_mutually_exclusive_group()
    goal.add_argument("--finish-in", type=_minutes, metavar=_("MINUTES"),
                      help=_("size the pool to finish each run in about this time"))
    goal.add_argument("--cheapest", action="store_true",
                      help=_("size the pool for the lowest list price"))
    sizing.add_argument("--max-nodes", type=int, default=10, metavar="N",
                        help=_("the most nodes BatchGUI may choose (default: 10)"))
    sizing.add_argument("--allow-spot", action="store_true",
                        help=_("BatchGUI may choose Spot nodes (cheaper; Azure may take them "
                               "back)"))
    prices = add.add_argument_group(_("prices"))
    prices.add_argument("--region", default="", metavar="REGION",
                        help=_("the account's Azure region (e.g. westeurope), for prices when "
                               "the Batch URL does not show it"))
    prices.add_argument("--currency", default="", metavar=_("CODE"),
                        help=_("the currency of list prices, e.g. EUR (default: USD)"))
    add.add_argument("--replace", action="store_true",
                     help=_("replace a profile of this name"))

    lst = acc.add_parser("list", help=_("list the account profiles"))
    lst.add_argument("--json", action="store_true", help=_("machine-readable output"))

    rm = acc.add_parser("remove", help=_("remove a profile and its keys"))
    rm.add_argument("name", metavar=_("NAME"), help=_("the profile to remove"))

    test = acc.add_parser("test", help=_("check that Batch and Storage accept the profile"))
    test.add_argument("name", metavar=_("NAME"), help=_("the profile to check"))


def run(args: argparse.Namespace, stdin: TextIO | None = None, out: TextIO | None = None,
        err: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    err = err or sys.stderr
    command = args.accounts_command
    try:
        if command == "add":
            return _add(args, stdin, out, err)
        if command == "list":
            return _list(args, out)
        if command == "remove":
            accounts.remove_profile(args.name)
            print(tr("Removed the profile '{name}' and its keys.", name=args.name), file=out)
            return EXIT_OK
        if command == "test":
            return _test(args.name, out)
    except accounts.KeyringUnavailable as exc:
        print(f"batchgui: {exc}", file=err)
        print("batchgui: " + _("(for a one-off run without a keyring, use --target azure with "
                               "the AZURE_BATCH_* and AZURE_STORAGE_CONNECTION_STRING "
                               "variables)"), file=err)
        return EXIT_FAILED
    except (accounts.InvalidProfile, accounts.ProfileExists) as exc:
        print(f"batchgui: {exc}", file=err)
        return EXIT_USAGE
    except accounts.AccountsError as exc:
        print(f"batchgui: {exc}", file=err)
        return EXIT_FAILED
    print("batchgui: " + tr("unknown accounts command '{command}'", command=command), file=err)
    return EXIT_USAGE


def _missing_options(args: argparse.Namespace) -> list[str]:
    missing = [option for option, value in (("--batch-url URL", args.batch_url),
                                            ("--batch-account A", args.batch_account))
               if not value]
    if not args.storage_account and not args.storage_connection_string_stdin:
        missing.append(_("--storage-account S or --storage-connection-string-stdin"))
    return missing


def _add(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    missing = _missing_options(args)
    if missing:
        message = tr("these options are required: {options}", options="; ".join(missing))
        parser = getattr(args, "add_parser", None)
        if parser is not None:
            parser.error(message)  # usage and the message, exit 2
        print(f"batchgui accounts add: {message}", file=err)
        return EXIT_USAGE
    profile = accounts.Profile(
        name=args.name,
        batch_url=accounts.normalize_url(args.batch_url),
        batch_account=args.batch_account.strip(),
        storage_account=(args.storage_account or "").strip(),
        blob_endpoint=accounts.normalize_url(args.blob_endpoint) if args.blob_endpoint else "",
        storage_auth=(
            accounts.STORAGE_BY_CONNECTION_STRING
            if args.storage_connection_string_stdin
            else accounts.STORAGE_BY_KEY
        ),
        auth=args.auth,
        tenant_id=args.tenant_id.strip(),
        pool=PoolSettings(
            pool_id=args.pool_id,
            vm_size=args.vm_size,
            dedicated_nodes=args.dedicated_nodes,
            spot_nodes=args.spot_nodes,
            slots_per_node=args.slots_per_node,
            keep_pool=args.keep_pool,
        ),
        pool_size=(accounts.POOL_SIZE_FINISH_IN if args.finish_in
                   else accounts.POOL_SIZE_CHEAPEST if args.cheapest
                   else accounts.POOL_SIZE_CHOOSE),
        finish_in_minutes=args.finish_in or accounts.Profile.finish_in_minutes,
        max_nodes=args.max_nodes,
        allow_spot=args.allow_spot,
        region=args.region.strip().lower(),
        currency=args.currency.strip().upper(),
    )
    problems = profile.problems()
    if problems:
        for sentence in problems.values():
            print(f"batchgui: {sentence}", file=err)
        return EXIT_USAGE
    exists = accounts.has_profile(profile.name)
    if exists and not args.replace:
        print("batchgui: " + tr("There is already a profile called '{name}'. Remove it first, "
                                "or add --replace.", name=profile.name), file=err)
        return EXIT_USAGE
    keys = accounts.Secrets()
    if profile.uses_keys:
        keys = _read_keys(profile, stdin, err)
        problems = profile.check_secrets(keys)
        if problems:
            for sentence in problems.values():
                print(f"batchgui: {sentence}", file=err)
            return EXIT_USAGE
    accounts.save_profile(profile, keys, old_name=profile.name if exists else None)
    if profile.uses_keys:
        print(tr("Saved the profile '{name}'; its keys are in the system keyring. Check it "
                 "with: batchgui accounts test {name}", name=profile.name), file=out)
    else:
        print(tr("Saved the profile '{name}'; it has no keys to keep (Entra ID sign-in). Check "
                 "it with: batchgui accounts test {name}", name=profile.name), file=out)
    return EXIT_OK


def _read_keys(profile: accounts.Profile, stdin: TextIO, err: TextIO) -> accounts.Secrets:
    by_string = profile.storage_auth == accounts.STORAGE_BY_CONNECTION_STRING
    storage_prompt = (_("Storage connection string (hidden): ") if by_string
                      else _("Storage account key (hidden): "))
    if _is_terminal(stdin):
        batch_key = getpass.getpass(_("Batch account key (hidden): "), stream=err)
        storage = getpass.getpass(storage_prompt, stream=err)
    else:
        lines = stdin.read().splitlines()
        batch_key = lines[0] if lines else ""
        storage = lines[1] if len(lines) > 1 else ""
    batch_key, storage = batch_key.strip(), storage.strip()
    if by_string:
        return accounts.Secrets(batch_key=batch_key, storage_connection_string=storage)
    return accounts.Secrets(batch_key=batch_key, storage_key=storage)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _list(args: argparse.Namespace, out: TextIO) -> int:
    profiles = accounts.load_profiles()
    if args.json:
        print(json.dumps([p.to_json() for p in profiles], indent=1), file=out)
        return EXIT_OK
    if not profiles:
        print(_("No account profiles yet. Add one with: batchgui accounts add NAME ..."),
              file=out)
        return EXIT_OK
    for p in profiles:
        storage = p.storage_account or accounts.blob_endpoint_for(p) or _("connection string")
        auth = "Entra ID" if p.auth == accounts.AUTH_ENTRA else _("account keys")
        print("\t".join((p.name, tr("Batch {account} ({url})", account=p.batch_account,
                                     url=p.batch_url),
                         tr("Storage {storage}", storage=storage), auth,
                         tr("pool {pool}: {size}", pool=p.pool.pool_id,
                            size=_pool_size_words(p)))), file=out)
    return EXIT_OK


def _pool_size_words(p: accounts.Profile) -> str:
    if p.pool_size == accounts.POOL_SIZE_FINISH_IN:
        if p.allow_spot:
            return tr("sized to finish in about {minutes} min, at most {max_nodes} x {vm_size}, "
                      "Spot allowed", minutes=p.finish_in_minutes, max_nodes=p.max_nodes,
                      vm_size=p.pool.vm_size)
        return tr("sized to finish in about {minutes} min, at most {max_nodes} x {vm_size}",
                  minutes=p.finish_in_minutes, max_nodes=p.max_nodes, vm_size=p.pool.vm_size)
    if p.pool_size == accounts.POOL_SIZE_CHEAPEST:
        if p.allow_spot:
            return tr("sized for the lowest price, at most {max_nodes} x {vm_size}, Spot "
                      "allowed", max_nodes=p.max_nodes, vm_size=p.pool.vm_size)
        return tr("sized for the lowest price, at most {max_nodes} x {vm_size}",
                  max_nodes=p.max_nodes, vm_size=p.pool.vm_size)
    return tr("{dedicated} dedicated + {spot} Spot x {vm_size}", dedicated=p.pool.dedicated_nodes,
              spot=p.pool.spot_nodes, vm_size=p.pool.vm_size)


def connection_results(account: Any) -> tuple[str, str]:
    """(batch, storage): each "ok" or one plain sentence."""
    from batchgui.targets import registry

    results = registry.test_connection(account)
    return str(results.get("batch", "")), str(results.get("storage", ""))


def _test(name: str, out: TextIO) -> int:
    account, _pool = accounts.load_account(name)
    batch, storage = connection_results(account)
    print(tr("Batch: {result}", result=_("OK") if batch == "ok" else batch), file=out)
    print(tr("Storage: {result}", result=_("OK") if storage == "ok" else storage), file=out)
    return EXIT_OK if batch == "ok" and storage == "ok" else EXIT_FAILED
