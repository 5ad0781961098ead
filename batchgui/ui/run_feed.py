"""What the window shows of a run: at most ten times a second, the log in step with the table.

A run sends a snapshot whenever something changed and a line whenever it has words; on a
big Azure run that is a few hundred a second, and each showing repaints the progress bar
(QProgressBar repaints at once, not later), the tables and the node grid. The feed keeps
what came since the last showing (snapshots merged: the files any of them changed, the
newest totals; lines in order) and hands it on at most every SHOW_EVERY_S. Lines leave
together with a snapshot taken after them, so the log never says "done" while the table
still shows the file converting. No Qt here: it runs on the asyncio loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from batchgui.core.models import RunSnapshot, merged

#: the window shows a run at most this often (a person sees no faster; the loop stays free)
SHOW_EVERY_S = 0.1

log = logging.getLogger(__name__)


class RunFeed:
    def __init__(
        self,
        show_snapshot: Callable[[RunSnapshot], None],
        show_line: Callable[[str], None],
        take_snapshot: Callable[[], RunSnapshot | None],
    ) -> None:
        self._show_snapshot = show_snapshot
        self._show_line = show_line
        self._take_snapshot = take_snapshot  # the run now (None: no run)
        self._snapshot: RunSnapshot | None = None  # waiting to be shown
        self._lines: list[str] = []
        self._handle: asyncio.Handle | None = None
        self._last = float("-inf")  # loop time of the last showing

    def snapshot(self, snapshot: RunSnapshot) -> None:
        waiting = self._snapshot
        self._snapshot = snapshot if waiting is None else merged(waiting, snapshot)
        self._schedule()

    def line(self, line: str) -> None:
        self._lines.append(line)
        self._schedule()

    def flush(self) -> None:
        """Show what is waiting now (the run ended: nothing may come after its last word)."""
        if self._handle is not None:
            self._handle.cancel()
        self._show()

    def _schedule(self) -> None:
        if self._handle is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self._last + SHOW_EVERY_S - loop.time()
        self._handle = loop.call_later(wait, self._show) if wait > 0 else loop.call_soon(
            self._show)

    def _show(self) -> None:
        self._handle = None
        self._last = asyncio.get_running_loop().time()
        lines, self._lines = self._lines, []
        if lines:
            try:
                now = self._take_snapshot()
            except Exception:  # the lines still go out
                log.exception("could not take a snapshot for the log")
                now = None
            if now is not None:
                self._snapshot = now if self._snapshot is None else merged(self._snapshot, now)
        snapshot, self._snapshot = self._snapshot, None
        if snapshot is not None:
            self._show_snapshot(snapshot)
        for line in lines:
            self._show_line(line)
