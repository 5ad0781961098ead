"""What the command line prints while a run goes on: plain lines for a pipe or a log file,
a redrawn status line for a terminal, and names the terminal can always show."""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from batchgui.core.models import RunSnapshot
from batchgui.i18n import percent, tr


def print_safely() -> None:
    """Never crash on a name the terminal can't show (bytes that are not UTF-8, or any
    character outside the terminal's encoding): such characters print as escapes."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a stream that can't change: leave it
                pass


def shown(text: str) -> str:
    """`text` for a terminal: bytes of a file name that are not UTF-8 show as \\xNN."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def output_gone(stream: TextIO) -> None:
    """The reader of `stream` went away (`batchgui convert ... | head`): what is still to
    be said goes nowhere, and the run goes on. As Python's docs advise for SIGPIPE, the
    stream's descriptor is pointed at os.devnull, so no later write or flush fails."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file: nothing to point
        pass


class PlainView:
    """For a pipe or a log file: one plain line per event, no cursor tricks."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def line(self, text: str) -> None:
        try:
            print(shown(text), file=self.out, flush=True)
        except OSError:  # a closed pipe, a terminal gone: keep converting regardless
            output_gone(self.out)

    def log(self, text: str) -> None:
        self.line(text)

    def snapshot(self, snapshot: RunSnapshot) -> None:
        pass

    def close(self) -> None:
        pass


class TerminalView(PlainView):
    """For a terminal: events scroll by, and one status line at the bottom redraws in place."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(out)
        self._status = ""
        self._last = 0.0

    def line(self, text: str) -> None:
        try:
            self._clear()
            print(shown(text), file=self.out, flush=True)
            self._draw()
        except OSError:
            output_gone(self.out)

    def snapshot(self, snapshot: RunSnapshot) -> None:
        running = snapshot.running
        parts = [
            tr("{done}/{total} done", done=snapshot.files_done, total=snapshot.files_total),
            percent(snapshot.fraction),
        ]
        if snapshot.files_failed:
            parts.insert(1, tr("{failed} failed", failed=snapshot.files_failed))
        if snapshot.rate:
            parts.append(snapshot.rate)
        if snapshot.eta_s is not None:
            parts.append(tr("ETA {clock}", clock=_clock(snapshot.eta_s)))
        files = ", ".join(f"{t.name[:24]} {percent(t.progress)}" for t in running[:4])
        if len(running) > 4:
            files += f" +{len(running) - 4}"
        self._status = " · ".join(parts) + (f" · {files}" if files else "")
        now = time.monotonic()
        if now - self._last > 0.1:
            self._last = now
            try:
                self._clear()
                self._draw()
            except OSError:
                output_gone(self.out)

    def _clear(self) -> None:
        if self._status:
            self.out.write("\r\x1b[2K")

    def _draw(self) -> None:
        if self._status:
            width = _terminal_width()
            self.out.write(shown(self._status)[: width - 1])
            self.out.flush()

    def close(self) -> None:
        try:
            self._clear()
            self._status = ""
            self.out.flush()
        except OSError:
            output_gone(self.out)


def _terminal_width() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 100


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
