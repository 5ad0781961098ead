"""`batchgui cleanup`: find and remove what BatchGUI left on Azure accounts.

Lists, per account, the containers, jobs and pools the app made that no live run
uses, with size, age and running nodes. Leftovers of a run that can still be resumed
are listed but kept unless `--include-resumable` (removing them ends that run).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, TextIO

from batchgui.core.journal import Journal
from batchgui.core.resume import dismiss, run_standing
from batchgui.core.target import TargetError
from batchgui.i18n import _, pgettext, tr, trn
from batchgui.targets import registry

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_command(sub: Any) -> None:
    parser = sub.add_parser(
        "cleanup", help=_("find and remove what BatchGUI left on Azure (jobs, pools, files)"),
        description=_("Lists the jobs, pools and stored files that BatchGUI made on your Azure "
                      "accounts and that no running conversion uses, then removes them when "
                      "you agree."),
    )
    parser.add_argument("--target", metavar=_("NAME"),
                        help=_("one account: 'azure' (AZURE_* variables) or a profile name "
                               "(default: every account profile)"))
    parser.add_argument("--dry-run", action="store_true",
                        help=_("only list, remove nothing"))
    parser.add_argument("--yes", "-y", action="store_true", help=_("remove without asking"))
    parser.add_argument("--include-resumable", action="store_true",
                        help=_("also remove what an interrupted run needs to be resumed "
                               "(that run can then no longer be resumed)"))


def _targets(args: argparse.Namespace) -> list[str]:
    if args.target:
        return [args.target]
    names = [name for name, _label in registry.available_targets() if name != registry.LOCAL]
    if os.environ.get("AZURE_BATCH_ENDPOINT"):
        names.append(registry.AZURE)
    return names


def run(args: argparse.Namespace, out: TextIO | None = None,
        stdin: TextIO | None = None) -> int:
    from batchgui.targets.azure.leftovers import RESUMABLE, find_leftovers, remove_leftovers

    out = out or sys.stdout
    stdin = stdin or sys.stdin
    names = _targets(args)
    if not names:
        print(_("No Azure account is set up, so there is nothing to clean up."), file=out)
        return EXIT_OK
    journal = Journal()
    code = EXIT_OK
    for name in names:
        try:
            account = registry.azure_account(name)
            found = find_leftovers(account, lambda run_id: run_standing(journal, run_id))
        except TargetError as exc:
            print(f"{name}: {exc}", file=out)
            code = EXIT_FAILED
            continue
        except Exception as exc:  # the SDKs' errors, in one line
            from batchgui.targets.azure.errors import plain_error

            print(f"{name}: {plain_error(exc, 'batch').text}", file=out)
            code = EXIT_FAILED
            continue
        if not found:
            print(tr("{account}: nothing left behind.", account=name), file=out)
            continue
        print(tr("{account}: BatchGUI left these:", account=name), file=out)
        for item in found:
            print(f"  {item.describe()}", file=out)
        doomed = [f for f in found if f.standing != RESUMABLE or args.include_resumable]
        kept = len(found) - len(doomed)
        if kept:
            print("  " + trn("({n} kept for resuming; add --include-resumable to remove it too)",
                             "({n} kept for resuming; add --include-resumable to remove them "
                             "too)", kept), file=out)
        if args.dry_run or not doomed:
            continue
        if not args.yes:
            if not stdin.isatty():
                print("  " + _("Nothing removed: add --yes to remove them."), file=out)
                continue
            print(trn("Remove this {n} from {account}? [y/N] ",
                      "Remove these {n} from {account}? [y/N] ", len(doomed), account=name),
                  end="", file=out, flush=True)
            if stdin.readline().strip().lower() not in _yes_words():
                print("  " + _("Nothing removed."), file=out)
                continue
        problems = remove_leftovers(account, doomed)
        for problem in problems:
            print(f"  {problem}", file=out)
        for run_id in {f.run_id for f in doomed if f.run_id}:
            if run_standing(journal, run_id) == RESUMABLE:
                dismiss(journal, run_id)
            if journal.run(run_id) is not None:
                journal.update_target_state(run_id, {"cleaned": True})
        print("  " + tr("Removed {removed} of {total}.", removed=len(doomed) - len(problems),
                        total=len(doomed)), file=out)
        if problems:
            code = EXIT_FAILED
    return code


def _yes_words() -> set[str]:
    """What counts as "yes" to the question: English always, and the language's own."""
    return {"y", "yes", pgettext("answer", "y"), pgettext("answer", "yes")}
