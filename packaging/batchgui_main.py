"""The bundle's entry point: the same `main` as the `batchgui` command of a pip install."""

import sys

from batchgui.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
