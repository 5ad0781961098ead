"""Kill drills: the test suite's way to SIGKILL a real run at an exact step.

`BATCHGUI_KILL_AT=placing:2` makes the process kill itself (SIGKILL, no cleanup at
all, exactly like a crash or a power cut) the 2nd time the run reaches the step
named "placing". Unset, a kill point costs one dictionary lookup. The steps are
named where `kill_point` is called (core.run and the targets).
"""

from __future__ import annotations

import os
import signal

_counts: dict[str, int] = {}


def _wanted() -> tuple[str, int] | None:
    spec = os.environ.get("BATCHGUI_KILL_AT")
    if not spec:
        return None
    name, _, nth = spec.partition(":")
    return name, int(nth or 1)


_WANTED = _wanted()


def kill_point(step: str) -> None:
    """Die here, now, if the drill asked for this step (and this is its n-th time)."""
    if _WANTED is None or _WANTED[0] != step:
        return
    _counts[step] = _counts.get(step, 0) + 1
    if _counts[step] == _WANTED[1]:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
