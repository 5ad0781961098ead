"""Which runs are alive: each live run holds an OS file lock that dies with its process.

A run whose lock can be taken is not running anywhere on this computer (its app was
closed, killed or crashed): it may be resumed, taken over by a rerun, or cleaned up.
The lock is released by the operating system when the process ends in any way,
SIGKILL and power cuts included, so no stale "running" flag can ever lie.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if sys.platform == "win32":  # pragma: no cover - Windows
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True


class RunLock:
    """Held while a run is going; `acquire()` is False when another process holds it."""

    def __init__(self, folder: Path, run_id: str) -> None:
        self.path = folder / f"{run_id}.lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if not _try_lock(fd):
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None
            try:
                self.path.unlink()
            except OSError:
                pass

    @property
    def held(self) -> bool:
        return self._fd is not None


def is_alive(folder: Path, run_id: str) -> bool:
    """True when some process (this one included) holds the run's lock right now."""
    probe = RunLock(folder, run_id)
    path = probe.path
    if not path.exists():
        return False
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        return not _try_lock(fd)
    finally:
        os.close(fd)  # closing our descriptor releases our probe lock, if we got it
