"""The bundle's entry point: the same `main` as the `batchgui` command of a pip install."""

import multiprocessing
import sys

from batchgui.__main__ import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # the window's Azure helper process starts this exe
    sys.exit(main())
