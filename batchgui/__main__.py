"""`batchgui` with no arguments opens the window; with a command it is the CLI."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args:
        from batchgui.cli import main as cli_main

        return cli_main(args)
    from batchgui.ui.app import main as gui_main

    return gui_main()


if __name__ == "__main__":
    sys.exit(main())
