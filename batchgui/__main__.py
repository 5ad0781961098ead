"""`batchgui` with no arguments opens the window; with a command it is the CLI.

How the arguments are read (the same for the source install and the bundle):

- no arguments: the window;
- a first argument that is a command (`convert`, `resume`, `runs`, `accounts`,
  `cleanup`) or an option (`--help`, ...): the command line;
- anything else: files and folders to open in the window, as a file manager's
  "Open with BatchGUI" passes them. A file whose name is a command is written
  `./convert`, or put after `--` (`batchgui -- convert`).
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

#: the CLI's commands (tests/packaging checks this against cli.build_parser())
CLI_COMMANDS = frozenset({"convert", "resume", "runs", "accounts", "cleanup"})


def paths_for_window(args: list[str]) -> list[Path] | None:
    """The files and folders to open in the window, or None when `args` are a CLI call."""
    if args and args[0] == "--":
        return [Path(a) for a in args[1:]]
    if not args or args[0] in CLI_COMMANDS or args[0].startswith("-"):
        return None if args else []
    return [Path(a) for a in args]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    paths = paths_for_window(args)
    if paths is None:
        from batchgui.cli import main as cli_main
        from batchgui.cli_views import output_gone

        try:
            return cli_main(args)
        except BrokenPipeError:  # `batchgui runs | head`: the reader had enough
            output_gone(sys.stdout)
            return 0
    # Opening the window makes tens of thousands of objects and no garbage, yet the
    # collector would walk them some 70 times before the first frame (~12 ms of a ~200 ms
    # start). ui/app.py turns it back on once the first frame is on screen.
    gc.disable()
    from batchgui.ui.app import main as gui_main

    return gui_main(paths)


if __name__ == "__main__":
    sys.exit(main())
