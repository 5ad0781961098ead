"""Turns a target name (from the CLI or the window's selector) into a Target.

"local" is this computer. Other targets (Azure Batch from the environment, named
accounts) register their CLI options and builders here, so `cli.py` and the
window never need to know them one by one.
"""

from __future__ import annotations

import argparse
from typing import Any

from batchgui.targets.base import Target, TargetError
from batchgui.targets.local import LocalTarget, default_slots, local_label

LOCAL = "local"


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the non-local targets (pool settings for Azure Batch)."""


def add_other_commands(sub: Any) -> None:
    """Subcommands besides `convert` (e.g. `accounts`)."""


def run_other_command(args: argparse.Namespace) -> int:
    raise SystemExit(f"unknown command {args.command!r}")


def available_targets() -> list[tuple[str, str]]:
    """(name, label) for every target that exists right now, for the window's selector."""
    return [(LOCAL, local_label(default_slots()))]


def make_target(name: str, options: argparse.Namespace | None = None) -> Target:
    if name in (LOCAL, "this-computer"):
        parallel = getattr(options, "parallel", None) if options is not None else None
        return LocalTarget(slots=parallel)
    raise TargetError(
        f"There is no target called {name!r}. Use 'local' for this computer."
    )
