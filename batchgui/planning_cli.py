"""The command line's time-and-cost parts: `convert --estimate`, "finish in" / "cheapest"
pool sizing, what a run really cost, and `batchgui runs`."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any, TextIO

from batchgui import planning
from batchgui.core.billing import node_minutes_words
from batchgui.core.estimate import Estimate, VmPrice, Workload, about_money, format_duration
from batchgui.core.journal import Journal
from batchgui.core.models import RunSpec
from batchgui.core.sizing import Cheapest, FinishBy
from batchgui.core.target import Target, TargetError
from batchgui.i18n import _, day_and_time, pgettext, tr, trn
from batchgui.i18n import day as format_day


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(tr("'{value}' is not a number of minutes", value=text)
                                         ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(_("give a number of minutes above 0"))
    return value


def add_convert_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(_("time and cost"))
    group.add_argument("--estimate", action="store_true",
                       help=_("only say how long the run would take and what it would cost at "
                              "list price; convert, create and upload nothing"))
    group.add_argument("--location", metavar="REGION",
                       help=_("the Azure region of the Batch account (e.g. westeurope), for "
                              "prices when the account's address does not show it"))
    goal = group.add_mutually_exclusive_group()
    goal.add_argument("--finish-in", type=_minutes, metavar=_("MINUTES"),
                      help=_("let BatchGUI size the Azure pool to finish in about this time"))
    goal.add_argument("--cheapest", action="store_true",
                      help=_("let BatchGUI size the Azure pool for the lowest list price"))
    group.add_argument("--max-nodes", type=int, metavar="N",
                       help=_("the most nodes BatchGUI may choose (default: the account's "
                              "setting, else 10)"))
    group.add_argument("--allow-spot", action="store_true",
                       help=_("BatchGUI may choose Spot nodes (cheaper; Azure may take them "
                              "back)"))


def add_command(sub: Any) -> None:
    sub.add_parser("runs", help=_("list past runs: files, time, node-minutes and cost"),
                   description=_("Every run BatchGUI remembers, newest first, with how many "
                                 "files it converted, how long it took, and on Azure the "
                                 "node-minutes it used and their cost at list price."))


#: pool options that choose the nodes by hand: given, they win over the profile's sizing
_NODE_OPTIONS = ("dedicated_nodes", "spot_nodes", "slots_per_node")


def sizing_for(args: argparse.Namespace, target_name: str) -> planning.Sizing | None:
    """--finish-in / --cheapest, else the account profile's own choice (unless node counts
    were given on the command line), with --max-nodes and --allow-spot over the profile's."""
    finish_in = getattr(args, "finish_in", None)
    cheapest = getattr(args, "cheapest", False)
    profile = planning.profile_sizing(target_name)
    if not (finish_in or cheapest):
        if profile is None or any(getattr(args, o, None) is not None for o in _NODE_OPTIONS):
            return None
        goal = profile.goal
    else:
        goal = FinishBy(finish_in * 60) if finish_in else Cheapest()
    max_nodes = getattr(args, "max_nodes", None)
    if max_nodes is None:
        max_nodes = profile.max_nodes if profile is not None else 10
    allow_spot = bool(getattr(args, "allow_spot", False)) or bool(
        profile is not None and profile.allow_spot)
    return planning.Sizing(goal, max(1, max_nodes), allow_spot)


def size_pool(args: argparse.Namespace, spec: RunSpec, target: Target, journal: Journal,
              say: Any) -> Target:
    """With --finish-in or --cheapest (or an account profile that says so), the Azure target
    with the pool BatchGUI chose; it says which and why."""
    target_name = getattr(args, "target", "") or ""
    sizing = sizing_for(args, target_name)
    if sizing is None:
        return target
    if not hasattr(target, "pool"):
        say(_("--finish-in and --cheapest size an Azure pool; on this computer they change "
              "nothing."))
        return target
    sized, choice = planning.sized_target(spec, target, journal, sizing,
                                          getattr(args, "location", None))
    say(tr("Pool: {note}", note=choice.reason))
    return sized


def estimate(args: argparse.Namespace, spec: RunSpec, target: Target,
             journal: Journal) -> tuple[Estimate, VmPrice | None]:
    price = planning.price_for(target, getattr(args, "location", None))
    from batchgui.core.estimate import estimate as estimate_of

    workload = Workload.from_inputs(spec.inputs, spec.quality)
    return estimate_of(workload, planning.plan_for(target), planning.learned(journal),
                       price), price


def runs(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    figures = planning.past_runs(Journal())
    if not figures:
        print(_("No runs yet."), file=out)
        return 0
    for f in figures:
        when = _when(f.run_id)
        state = run_state_words(f.state)
        target = _("this computer") if f.target in ("local", "this-computer") else f.target
        parts = [f"{when}  {f.run_id}", state, target,
                 trn("{converted} of {n} file converted", "{converted} of {n} files converted",
                     f.files, converted=f.converted)]
        if f.seconds is not None:
            parts.append(format_duration(f.seconds, about=False))
        if f.node_minutes is not None:
            parts.append(node_minutes_words(f.node_minutes))
            parts.append(tr("{money} at list price", money=about_money(f.cost, f.currency))
                         if f.cost is not None else _("price unknown"))
        line = " · ".join(parts)
        if f.estimate:
            line += "\n    " + tr("estimated: {estimate}", estimate=f.estimate)
        print(line, file=out)
    return 0


def run_state_words(state: str) -> str:
    """A run's state as the journal keeps it, as `batchgui runs` shows it."""
    words = {"running": pgettext("run state", "running"),
             "paused": pgettext("run state", "paused"),
             "done": pgettext("run state", "done"),
             "cancelled": pgettext("run state", "cancelled"),
             "failed": pgettext("run state", "failed"),
             "dismissed": pgettext("run state", "dismissed"),
             "superseded": pgettext("run state", "taken over")}
    return words.get(state, state)


def _when(run_id: str) -> str:
    try:
        return day_and_time(datetime.strptime(run_id[4:19], "%Y%m%d-%H%M%S"))
    except ValueError:
        return ""


def outcome_line(target: Target, outcome: Any, price: VmPrice | None) -> str | None:
    """'Used 30 node-minutes, about $0.04 at list price' after an Azure run."""
    if outcome.node_minutes is None:
        return None
    used = node_minutes_words(outcome.node_minutes)
    if outcome.cost is None or price is None:
        return tr("Used {used} (price unknown)", used=used)
    money = about_money(outcome.cost, price.currency)
    if price.as_of is None:
        return tr("Used {used}, {money} at list price", used=used, money=money)
    return tr("Used {used}, {money} at list price (prices of {day})", used=used, money=money,
              day=format_day(price.as_of))


__all__ = ["TargetError", "add_command", "add_convert_arguments", "estimate", "outcome_line",
           "runs", "size_pool"]
