"""The command line: `batchgui convert ...` drives the very same core.run as the window.

Exit codes: 0 every input became an MP3 (or was skipped as asked), 1 any input
failed or was rejected, 2 usage error, 130 cancelled with Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TextIO

from batchgui import accounts_cli, cleanup_cli, i18n, planning, planning_cli
from batchgui.cli_views import PlainView, TerminalView, output_gone, print_safely, shown
from batchgui.core import loudness, media
from batchgui.core.journal import Journal
from batchgui.core.models import (
    ConflictPolicy,
    FileStatus,
    Quality,
    RunResult,
    RunSpec,
)
from batchgui.core.outputs import output_folder_problem
from batchgui.core.resume import is_dead, latest_resumable, resumable_runs, resume_spec
from batchgui.core.run import Run
from batchgui.core.store import atomic_write_text
from batchgui.core.target import CancelToken, TargetError
from batchgui.i18n import _, tr, trn
from batchgui.targets import registry

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
#: at most this many worker threads for a run, whatever the pool size: the work is I/O
MAX_RUN_THREADS = 16


def _quality(text: str) -> Quality:
    try:
        q = Quality.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    if q.vbr_level is None:
        raise argparse.ArgumentTypeError(_("use --bitrate for a constant bitrate"))
    return q


def _bitrate(text: str) -> Quality:
    t = text.strip().lower()
    if not t.endswith("k"):
        t += "k"
    try:
        q = Quality.parse(t)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    if q.cbr_kbps is None or not 128 <= q.cbr_kbps <= 320:
        raise argparse.ArgumentTypeError(_("bitrate goes from 128k to 320k"))
    return q


def _parallel(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(tr("'{value}' is not a whole number", value=text)
                                         ) from None
    if n < 1:
        raise argparse.ArgumentTypeError(_("use 1 or more"))
    return n


def _lufs(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if value not in loudness.TARGETS_LUFS:
        raise argparse.ArgumentTypeError(tr(
            "'{value}' is not a loudness target: use -23, -16 or -14 (LUFS), or --loudness "
            "alone for -16", value=text))
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batchgui",
        description=_("Turn video files into MP3s, on this computer or on Azure Batch. "
                      "Run without arguments to open the window."),
    )
    parser.add_argument("--lang", choices=LANG_CHOICES, metavar="{system,en,sv}",
                        help=_("the language of the messages: system (the default: your "
                               "system's), en (English) or sv (Swedish); the --report file "
                               "stays the same in every language"))
    sub = parser.add_subparsers(dest="command", title=_("commands"))

    conv = sub.add_parser("convert", help=_("convert files and folders to MP3"))
    conv.add_argument("paths", nargs="+", metavar=_("PATH"), help=_("video files or folders"))
    conv.add_argument("--output", "-o", required=True, type=Path, metavar=_("DIR"),
                      help=_("the folder for the MP3s (made if it does not exist)"))
    conv.add_argument("--target", default="local", metavar=_("TARGET"),
                      help=_("'local' (this computer, default), 'azure' (from AZURE_* "
                             "variables) or the name of an account"))
    conv.add_argument("--parallel", type=_parallel, metavar="N",
                      help=_("conversions at once on this computer (default: CPU cores)"))
    conv.add_argument("--priority", choices=["low", "normal"], default="low",
                      help=_("run ffmpeg below normal priority so the computer stays smooth "
                             "(default: low)"))
    q = conv.add_mutually_exclusive_group()
    q.add_argument("--quality", type=_quality, metavar="V0..V9",
                   help=_("variable bitrate level, V0 best .. V9 smallest (default V2)"))
    q.add_argument("--bitrate", type=_bitrate, metavar="128k..320k",
                   help=_("constant bitrate"))
    conv.add_argument("--on-conflict", choices=[p.value for p in ConflictPolicy],
                      default="rename", help=_("when the MP3 exists already (default: rename)"))
    conv.add_argument("--mirror-folders", action="store_true",
                      help=_("keep the folder structure of dropped folders in the output"))
    conv.add_argument("--report", type=Path, metavar=_("FILE.json"),
                      help=_("write one JSON object per input to this file"))
    conv.add_argument("--strip-tags", action="store_true",
                      help=_("write no tags; by default the MP3 gets the video's title, "
                             "artist, album ... and cover picture, and a video without a title "
                             "its file name"))
    conv.add_argument("--loudness", type=_lufs, nargs="?", const=loudness.DEFAULT_LUFS,
                      metavar="LUFS",
                      help=_("even out loudness (EBU R128) to -23, -16 or -14 LUFS "
                             "(default when given without a value: -16)"))
    registry.add_target_arguments(conv)
    planning_cli.add_convert_arguments(conv)

    res = sub.add_parser("resume", help=_("finish a run that was interrupted (closed, crashed)"))
    res.add_argument("run_id", nargs="?", metavar="RUN_ID",
                     help=_("which run (default: the latest unfinished one)"))
    res.add_argument("--parallel", type=_parallel, metavar="N",
                     help=_("conversions at once on this computer (default: CPU cores)"))
    res.add_argument("--priority", choices=["low", "normal"], default="low",
                     help=_("run ffmpeg below normal priority (default: low)"))
    res.add_argument("--report", type=Path, metavar=_("FILE.json"),
                     help=_("write one JSON object per input to this file"))

    planning_cli.add_command(sub)
    accounts_cli.add_commands(sub)
    cleanup_cli.add_command(sub)
    return parser


#: --lang: the system's language, or one of the languages BatchGUI speaks
LANG_CHOICES = [i18n.SYSTEM, *i18n.LANGUAGES]


def main(argv: list[str] | None = None) -> int:
    lang, args_in = language_asked(sys.argv[1:] if argv is None else list(argv))
    set_language(lang)
    parser = build_parser()
    if lang is not None and lang not in LANG_CHOICES:
        parser.error(tr("argument --lang: '{value}' is not one of {choices}", value=lang,
                        choices=", ".join(LANG_CHOICES)))
    args = parser.parse_args(args_in)
    print_safely()
    if args.command == "convert":
        return convert(args)
    if args.command == "resume":
        return resume(args)
    if args.command == "runs":
        return planning_cli.runs(args)
    if args.command == "accounts":
        return accounts_cli.run(args)
    if args.command == "cleanup":
        return cleanup_cli.run(args)
    parser.print_help()
    return EXIT_USAGE


def language_asked(args: list[str]) -> tuple[str | None, list[str]]:
    """--lang's value, wherever it is among the arguments (before a `--`), and the arguments
    without it: the words of --help and of argument errors depend on it, so it is read
    before the parser is made."""
    rest: list[str] = []
    lang: str | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg == "--lang" and i + 1 < len(args):
            lang, i = args[i + 1], i + 2
            continue
        if arg.startswith("--lang="):
            lang, i = arg.partition("=")[2], i + 1
            continue
        rest.append(arg)
        i += 1
    return lang, rest


def set_language(choice: str | None) -> str:
    """Speak `choice` (None or 'system': the system's language), argparse's words too.

    argparse looks its words up ("usage:", "options:", its error messages) through the
    gettext functions it imported; it gets ours, so they come from BatchGUI's catalogue.
    """
    language = i18n.setup(choice if choice in LANG_CHOICES else None)
    argparse._ = i18n._  # type: ignore[attr-defined]
    argparse.ngettext = i18n.ngettext  # type: ignore[attr-defined]
    return language


def convert(args: argparse.Namespace) -> int:
    # the output folder first: a wrong one is a usage error, said before any file is checked
    problem = output_folder_problem(args.output.expanduser().absolute(), create=False)
    if problem:
        print(f"batchgui: {problem}", file=sys.stderr)
        return EXIT_USAGE
    quality = args.quality or args.bitrate or Quality()

    def make_spec(executor: ThreadPoolExecutor) -> RunSpec:
        found = media.find_inputs(args.paths)
        inputs = list(executor.map(lambda pr: media.probe(*pr), found))
        return RunSpec(
            inputs=tuple(inputs),
            output_dir=args.output.expanduser().absolute(),
            quality=quality,
            on_conflict=ConflictPolicy(args.on_conflict),
            mirror_folders=args.mirror_folders,
            target_name=args.target,
            keep_tags=not args.strip_tags,
            loudness_lufs=args.loudness,
        )

    return _run(args, args.target, make_spec)


def resume(args: argparse.Namespace) -> int:
    """Finish the files of a run that was interrupted (app closed, crash, power cut)."""
    journal = Journal()
    if args.run_id:
        run = journal.run(args.run_id)
        if run is None:
            print("batchgui: " + tr("there is no run called '{run_id}'", run_id=args.run_id),
                  file=sys.stderr)
            return EXIT_USAGE
        if run.is_open and not is_dead(journal, run):
            print("batchgui: " + tr("run {run_id} is still going in another window or command.",
                                    run_id=args.run_id), file=sys.stderr)
            return EXIT_USAGE
        found = next((r for r in resumable_runs(journal) if r.run_id == args.run_id), None)
    else:
        found = latest_resumable(journal)
    if found is None:
        print(_("Nothing to resume: every run reached its end."))
        return EXIT_OK
    if found.needs_cleanup:
        print(tr("Every file of run {run_id} is done; removing what it left on Azure",
                 run_id=found.run_id))
    else:
        print(trn("Resuming {run_id}: {n} file to go", "Resuming {run_id}: {n} files to go",
                  found.files_left, run_id=found.run_id))

    def make_spec(executor: ThreadPoolExecutor) -> RunSpec:
        return resume_spec(journal, found.run_id, media.probe)

    return _run(args, found.target, make_spec, journal=journal, run_id=found.run_id)


def _run(
    args: argparse.Namespace,
    target_name: str,
    make_spec: Callable[[ThreadPoolExecutor], RunSpec],
    *,
    journal: Journal | None = None,
    run_id: str | None = None,
) -> int:
    """Probe, run on the named target with live progress, summarise, write the report.

    With `run_id`, the journaled run of that id is resumed rather than a new one started.
    """
    out: TextIO = sys.stdout
    try:
        target = registry.make_target(target_name, args)
    except TargetError as exc:
        print(f"batchgui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    cancel = CancelToken()
    view = TerminalView(out) if out.isatty() else PlainView(out)

    journal = journal or Journal()
    only_estimate = bool(getattr(args, "estimate", False))
    cost_line: list[str] = []  # what the run really cost, said after the summary

    async def go() -> RunResult | None:
        nonlocal target
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, _on_interrupt, cancel, view)
            except (NotImplementedError, RuntimeError, AttributeError):  # Windows
                pass
        threads = max(2, min(MAX_RUN_THREADS, target.threads_needed))
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="run") as executor:
            spec = await loop.run_in_executor(executor, make_spec, executor)
            if not spec.inputs:
                view.line(_("No video files found."))
            if run_id is None:
                target = await loop.run_in_executor(
                    executor, planning_cli.size_pool, args, spec, target, journal, view.line)
            guess, price = await loop.run_in_executor(
                executor, planning_cli.estimate, args, spec, target, journal)
            view.line(tr("Estimate: {estimate}", estimate=guess.text))
            if only_estimate:
                for note in guess.notes:
                    view.line(f"  {note}")
                return None
            run = Run(spec, target, executor, cancel=cancel, on_snapshot=view.snapshot,
                      on_log=view.log, journal=journal, run_id=run_id,
                      resuming=run_id is not None)
            run.extra_stats = {"estimate": guess.to_dict()}
            run.keep_pause = False  # no Continue button here: a resumed paused run goes on
            result = await run.execute()
            if result.run_id and journal.run(result.run_id) is not None:
                outcome = await loop.run_in_executor(
                    executor, planning.record_outcome, journal, result.run_id, target, result,
                    run.measured(), price)
                line = planning_cli.outcome_line(target, outcome, price)
                if line:
                    cost_line.append(line)
            return result

    ran = asyncio.run(go())
    view.close()
    if ran is None:  # --estimate: nothing was done
        return EXIT_OK
    result = ran
    if getattr(args, "report", None):
        report = [o.to_json() for o in result.outcomes]
        atomic_write_text(args.report, json.dumps(report, indent=2, ensure_ascii=False))
    try:
        _print_summary(result, out)
        for line in cost_line:
            print(line, file=out)
        out.flush()
    except OSError:  # nobody reads any more: the exit code still tells
        output_gone(out)
    if result.cancelled:
        return EXIT_CANCELLED
    if result.error and not result.outcomes:
        return EXIT_FAILED
    return EXIT_OK if result.all_converted and result.outcomes else EXIT_FAILED


def _on_interrupt(cancel: CancelToken, view: PlainView) -> None:
    if cancel.cancelled:  # a second Ctrl-C: the user really wants out
        os._exit(EXIT_CANCELLED)
    view.log(_("Cancelling: stopping ffmpeg and removing temporary files (Ctrl-C again to "
               "force)"))
    cancel.cancel()


def _print_summary(result: RunResult, out: TextIO) -> None:
    """The counts, then each file that was not converted once: with its own reason, or
    under one heading when the run's stop (said once, just above) left it unfinished."""
    done = [o for o in result.outcomes if o.status is FileStatus.DONE]
    bad = [o for o in result.outcomes if o.status not in (FileStatus.DONE, FileStatus.SKIPPED)]
    skipped = [o for o in result.outcomes if o.status is FileStatus.SKIPPED]
    print(tr("{converted} converted, {failed} not converted, {skipped} skipped",
             converted=len(done), failed=len(bad), skipped=len(skipped)), file=out)
    for o in bad:
        if not o.run_stopped:
            print(shown(f"  {o.status.label}: {o.input.name}: {o.reason}"), file=out)
    stopped = [o for o in bad if o.run_stopped]
    if stopped:
        print(_("Not converted because the run stopped:"), file=out)
        for o in stopped:
            print(shown(f"  {o.input.name}"), file=out)
    if result.cancelled and done:
        print(shown(tr("Done before cancelling: {names}",
                       names=", ".join(o.input.name for o in done))), file=out)
