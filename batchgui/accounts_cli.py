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
from batchgui.targets.azure.config import PoolSettings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _minutes(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of minutes") from None
    if value < 1:
        raise argparse.ArgumentTypeError("give a number of minutes above 0")
    return value


def add_commands(sub: Any) -> None:
    parser = sub.add_parser(
        "accounts",
        help="set up Azure Batch accounts (keys go to the system keyring)",
        description="Azure Batch account profiles. Keys are kept in the system keyring and "
        "read from a hidden prompt, or from stdin when it is not a terminal "
        "(first line the Batch key, second line the storage key or connection string).",
    )
    acc = parser.add_subparsers(dest="accounts_command", metavar="COMMAND")
    acc.required = True

    add = acc.add_parser(
        "add", help="add an account profile",
        usage="batchgui accounts add NAME --batch-url URL --batch-account A "
        "(--storage-account S | --storage-connection-string-stdin) [options]",
        description="Add an account profile. It needs --batch-url, --batch-account, and "
        "either --storage-account or --storage-connection-string-stdin.")
    # required options are checked in _add, so that one message names everything missing
    add.set_defaults(add_parser=add)
    add.add_argument("name", metavar="NAME", help="profile name, e.g. 'work'")
    add.add_argument("--batch-url", metavar="URL",
                     help="https://<account>.<region>.batch.azure.com (required)")
    add.add_argument("--batch-account", metavar="A", help="Batch account name (required)")
    storage = add.add_mutually_exclusive_group()
    storage.add_argument("--storage-account", metavar="S",
                         help="storage account name (this or the next one is required)")
    storage.add_argument("--storage-connection-string-stdin", action="store_true",
                         help="read the storage connection string (instead of a storage "
                         "account key) from the prompt or stdin")
    add.add_argument("--blob-endpoint", metavar="URL", default="",
                     help="blob endpoint when it is not https://<S>.blob.core.windows.net")
    add.add_argument("--auth", choices=accounts.AUTH_METHODS, default=accounts.AUTH_SHARED_KEY,
                     help="account keys (default) or Microsoft Entra ID sign-in")
    add.add_argument("--tenant-id", default="", metavar="ID",
                     help="Entra ID tenant (default: your home tenant)")
    defaults = PoolSettings()
    add.add_argument("--pool-id", default=defaults.pool_id, metavar="ID",
                     help=f"the pool's id (default: {defaults.pool_id})")
    add.add_argument("--vm-size", default=defaults.vm_size, metavar="SIZE",
                     help=f"VM size of the pool's nodes (default: {defaults.vm_size})")
    add.add_argument("--dedicated-nodes", type=int, default=defaults.dedicated_nodes,
                     metavar="N", help=f"dedicated nodes (default: {defaults.dedicated_nodes})")
    add.add_argument("--spot-nodes", type=int, default=defaults.spot_nodes, metavar="N",
                     help="Spot nodes: cheaper, but Azure may take them back "
                     f"(default: {defaults.spot_nodes})")
    add.add_argument("--slots-per-node", type=int, default=defaults.slots_per_node,
                     metavar="N", help="files converted at once on each node "
                     f"(default: {defaults.slots_per_node})")
    add.add_argument("--keep-pool", action="store_true",
                     help="keep the pool after a run (faster next time, costs money while idle)")
    sizing = add.add_argument_group(
        "pool size", "Let BatchGUI choose the nodes for each run (the pool options above are "
        "then only the VM size, slots and start task it uses).")
    goal = sizing.add_mutually_exclusive_group()
    goal.add_argument("--finish-in", type=_minutes, metavar="MINUTES",
                      help="size the pool to finish each run in about this time")
    goal.add_argument("--cheapest", action="store_true",
                      help="size the pool for the lowest list price")
    sizing.add_argument("--max-nodes", type=int, default=10, metavar="N",
                        help="the most nodes BatchGUI may choose (default: 10)")
    sizing.add_argument("--allow-spot", action="store_true",
                        help="BatchGUI may choose Spot nodes (cheaper; Azure may take them back)")
    prices = add.add_argument_group("prices")
    prices.add_argument("--region", default="", metavar="REGION",
                        help="the account's Azure region (e.g. westeurope), for prices when "
                        "the Batch URL does not show it")
    prices.add_argument("--currency", default="", metavar="CODE",
                        help="the currency of list prices, e.g. EUR (default: USD)")
    add.add_argument("--replace", action="store_true", help="replace a profile of this name")

    lst = acc.add_parser("list", help="list the account profiles")
    lst.add_argument("--json", action="store_true", help="machine-readable output")

    rm = acc.add_parser("remove", help="remove a profile and its keys")
    rm.add_argument("name", metavar="NAME", help="the profile to remove")

    test = acc.add_parser("test", help="check that Batch and Storage accept the profile")
    test.add_argument("name", metavar="NAME", help="the profile to check")


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
            print(f"Removed the profile '{args.name}' and its keys.", file=out)
            return EXIT_OK
        if command == "test":
            return _test(args.name, out)
    except accounts.KeyringUnavailable as exc:
        print(f"batchgui: {exc}", file=err)
        print("batchgui: (for a one-off run without a keyring, use --target azure with the "
              "AZURE_BATCH_* and AZURE_STORAGE_CONNECTION_STRING variables)", file=err)
        return EXIT_FAILED
    except (accounts.InvalidProfile, accounts.ProfileExists) as exc:
        print(f"batchgui: {exc}", file=err)
        return EXIT_USAGE
    except accounts.AccountsError as exc:
        print(f"batchgui: {exc}", file=err)
        return EXIT_FAILED
    print(f"batchgui: unknown accounts command {command!r}", file=err)
    return EXIT_USAGE


def _missing_options(args: argparse.Namespace) -> list[str]:
    missing = [option for option, value in (("--batch-url URL", args.batch_url),
                                            ("--batch-account A", args.batch_account))
               if not value]
    if not args.storage_account and not args.storage_connection_string_stdin:
        missing.append("--storage-account S or --storage-connection-string-stdin")
    return missing


def _add(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    missing = _missing_options(args)
    if missing:
        message = "these options are required: " + "; ".join(missing)
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
        print(f"batchgui: There is already a profile called '{profile.name}'. "
              "Remove it first, or add --replace.", file=err)
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
    where = "the system keyring" if profile.uses_keys else "nowhere (Entra ID sign-in)"
    print(f"Saved the profile '{profile.name}'; its keys are in {where}. "
          f"Check it with: batchgui accounts test {profile.name}", file=out)
    return EXIT_OK


def _read_keys(profile: accounts.Profile, stdin: TextIO, err: TextIO) -> accounts.Secrets:
    by_string = profile.storage_auth == accounts.STORAGE_BY_CONNECTION_STRING
    storage_prompt = "Storage connection string" if by_string else "Storage account key"
    if _is_terminal(stdin):
        batch_key = getpass.getpass("Batch account key (hidden): ", stream=err)
        storage = getpass.getpass(f"{storage_prompt} (hidden): ", stream=err)
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
        print("No account profiles yet. Add one with: batchgui accounts add NAME ...", file=out)
        return EXIT_OK
    for p in profiles:
        storage = p.storage_account or accounts.blob_endpoint_for(p) or "connection string"
        auth = "Entra ID" if p.auth == accounts.AUTH_ENTRA else "account keys"
        print(f"{p.name}\tBatch {p.batch_account} ({p.batch_url})\tStorage {storage}\t{auth}\t"
              f"pool {p.pool.pool_id}: {_pool_size_words(p)}", file=out)
    return EXIT_OK


def _pool_size_words(p: accounts.Profile) -> str:
    spot = ", Spot allowed" if p.allow_spot else ""
    if p.pool_size == accounts.POOL_SIZE_FINISH_IN:
        return (f"sized to finish in about {p.finish_in_minutes} min, at most {p.max_nodes} "
                f"x {p.pool.vm_size}{spot}")
    if p.pool_size == accounts.POOL_SIZE_CHEAPEST:
        return f"sized for the lowest price, at most {p.max_nodes} x {p.pool.vm_size}{spot}"
    return (f"{p.pool.dedicated_nodes} dedicated + {p.pool.spot_nodes} Spot x "
            f"{p.pool.vm_size}")


def connection_results(account: Any) -> tuple[str, str]:
    """(batch, storage): each "ok" or one plain sentence."""
    from batchgui.targets import registry

    results = registry.test_connection(account)
    return str(results.get("batch", "")), str(results.get("storage", ""))


def _test(name: str, out: TextIO) -> int:
    account, _pool = accounts.load_account(name)
    batch, storage = connection_results(account)
    print(f"Batch: {'OK' if batch == 'ok' else batch}", file=out)
    print(f"Storage: {'OK' if storage == 'ok' else storage}", file=out)
    return EXIT_OK if batch == "ok" and storage == "ok" else EXIT_FAILED
