"""The command line's time-and-cost parts: `convert --estimate`, "finish in" / "cheapest"
pool sizing, what a run really cost, and `batchgui runs`."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import datetime
from typing import Any, TextIO

from batchgui import planning
from batchgui.core.estimate import Estimate, VmPrice, Workload, about_money, format_duration
from batchgui.core.journal import Journal
from batchgui.core.models import RunSpec
from batchgui.core.target import Target, TargetError


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("give a number of minutes above 0")
    return value


def add_convert_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("time and cost")
    group.add_argument("--estimate", action="store_true",
                       help="only say how long the run would take and what it would cost at "
                       "list price; convert, create and upload nothing")
    group.add_argument("--location", metavar="REGION",
                       help="the Azure region of the Batch account (e.g. westeurope), for "
                       "prices when the account's address does not show it")
    goal = group.add_mutually_exclusive_group()
    goal.add_argument("--finish-in", type=_minutes, metavar="MINUTES",
                      help="let BatchGUI size the Azure pool to finish in about this time")
    goal.add_argument("--cheapest", action="store_true",
                      help="let BatchGUI size the Azure pool for the lowest list price")
    group.add_argument("--max-nodes", type=int, metavar="N", default=10,
                       help="the most nodes BatchGUI may choose (default: 10)")
    group.add_argument("--allow-spot", action="store_true",
                       help="BatchGUI may choose Spot nodes (cheaper; Azure may take them back)")


def add_command(sub: Any) -> None:
    sub.add_parser("runs", help="list past runs: files, time, node-minutes and cost",
                   description="Every run BatchGUI remembers, newest first, with how many "
                   "files it converted, how long it took, and on Azure the node-minutes it "
                   "used and their cost at list price.")


def size_pool(args: argparse.Namespace, spec: RunSpec, target: Target, journal: Journal,
              say: Any) -> Target:
    """With --finish-in or --cheapest, the Azure target with the pool BatchGUI chose."""
    if not (getattr(args, "finish_in", None) or getattr(args, "cheapest", False)):
        return target
    if not hasattr(target, "pool"):
        say("--finish-in and --cheapest size an Azure pool; on this computer they change "
            "nothing.")
        return target
    from batchgui.core.sizing import Cheapest, FinishBy
    from batchgui.core.sizing import size_pool as choose
    from batchgui.targets import registry

    goal = FinishBy(args.finish_in * 60) if args.finish_in else Cheapest()
    price = planning.price_for(target, args.location)
    choice = choose(Workload.from_inputs(spec.inputs, spec.quality), goal,
                    account=planning.account_key(target) or "",
                    learned=planning.learned(journal), max_nodes=max(1, args.max_nodes),
                    prices=[price] if price is not None else [],
                    vm_sizes=(target.pool.vm_size,),  # type: ignore[attr-defined]
                    allow_spot=args.allow_spot,
                    keep_pool=target.pool.keep_pool)  # type: ignore[attr-defined]
    say(f"Pool: {choice.reason}")
    plan = choice.plan
    pool = dataclasses.replace(target.pool, vm_size=plan.vm_size,  # type: ignore[attr-defined]
                               dedicated_nodes=plan.dedicated_nodes,
                               spot_nodes=plan.spot_nodes, slots_per_node=plan.slots_per_node)
    return registry.make_azure_target(target.account, pool)  # type: ignore[attr-defined]


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
        print("No runs yet.", file=out)
        return 0
    for f in figures:
        when = _when(f.run_id)
        parts = [f"{when}  {f.run_id}", f.state, f.target,
                 f"{f.converted} of {f.files} file(s) converted"]
        if f.seconds is not None:
            parts.append(format_duration(f.seconds).removeprefix("about "))
        if f.node_minutes is not None:
            parts.append(f"{round(f.node_minutes)} node-minutes")
            parts.append(f"{about_money(f.cost, f.currency)} at list price"
                         if f.cost is not None else "price unknown")
        line = " · ".join(parts)
        if f.estimate:
            line += f"\n    estimated: {f.estimate}"
        print(line, file=out)
    return 0


def _when(run_id: str) -> str:
    try:
        return datetime.strptime(run_id[4:19], "%Y%m%d-%H%M%S").strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return ""


def outcome_line(target: Target, outcome: Any, price: VmPrice | None) -> str | None:
    """'Used 30 node-minutes, about $0.04 at list price' after an Azure run."""
    if outcome.node_minutes is None:
        return None
    minutes = round(outcome.node_minutes)
    used = "1 node-minute" if minutes == 1 else f"{minutes} node-minutes"
    if outcome.cost is None or price is None:
        return f"Used {used} (price unknown)"
    day = f" (prices of {price.as_of.isoformat()})" if price.as_of else ""
    return f"Used {used}, {about_money(outcome.cost, price.currency)} at list price{day}"


__all__ = ["TargetError", "add_command", "add_convert_arguments", "estimate", "outcome_line",
           "runs", "size_pool"]
