"""Starting ffmpeg so that it never outlives BatchGUI, and never fights the desktop for CPU.

- Linux and macOS: one small watchdog per app, `/bin/sh -c 'read _; kill -KILL 0'`,
  started in a process group of its own, its standard input the read end of a pipe
  whose write end only the app holds (not inherited by any child). Every ffmpeg starts
  in the watchdog's process group. However the app ends (a clean exit, a crash, a
  SIGKILL, the power button of a session), the kernel closes the app's end of the pipe,
  the watchdog's `read` returns, and `kill -KILL 0` ends its group: every ffmpeg with
  it, within milliseconds. A child joins the group (setpgid) before it closes the
  app's descriptors and execs, so no child can start after the watchdog has fired.
  Costs nothing per file: Python keeps its fast vfork path (`process_group=` is done in
  the child), and no extra program runs before ffmpeg. (The first design asked the
  kernel for a parent-death signal through util-linux's `setpriv` and a shell per
  file: two extra programs per file, about 2 ms of CPU each, which showed with
  thousands of short files; and macOS has no such signal.) Being in their own group,
  the children get no Ctrl-C from a terminal: the app stops them itself. Checked by
  kill drills that SIGKILL batchgui right after it starts an ffmpeg.
- Windows: every child joins one Job Object with KILL_ON_JOB_CLOSE; when the app's
  last handle to it closes (the app ends in any way), Windows ends the children.
  Written to the documented API; not run here (no Windows machine).

Priority: below normal (nice 10 on Linux/macOS, BELOW_NORMAL_PRIORITY_CLASS on
Windows) unless `low_priority=False`, so the window stays smooth while every core
converts.

Cores (Linux): each slot keeps its ffmpeg on cores of its own (`slot_cores`). ffmpeg 7
and later run a file's demuxer, decoder, encoder and muxer in threads of their own and
hand every audio frame from one to the next; spread over cores, those hand-offs cost
about a third more CPU than the work itself (a 480 s file: 1.75 CPU-s free, 1.30 pinned
to one core; 300 one-second files under `xargs -P 2`: 3.6-3.9 s free, 3.2 s pinned).
Once every core has a conversion, CPU is the run's time, and a long file left free
takes the short files' core too. A child inherits the CPU set of the thread that starts
it, so `popen_child` narrows its own thread's set around the start and restores it;
no race with ffmpeg's first threads. macOS has no such call and Windows is not done:
there ffmpeg runs where the system puts it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

NICE_LEVEL = 10
#: the watchdog: wait for the app's end of the pipe to close, then end the whole group
_WATCHDOG = "read _; kill -KILL 0"


class _Watchdog:
    """The process group every child joins, and the shell that ends it with the app."""

    def __init__(self) -> None:
        read_end, self._write_end = os.pipe()  # both not inheritable (PEP 446)
        try:
            self.proc = subprocess.Popen(
                [shutil.which("sh") or "/bin/sh", "-c", _WATCHDOG], stdin=read_end,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0)
        finally:
            os.close(read_end)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        """End the watchdog (and any child still in its group) now."""
        os.close(self._write_end)
        self.proc.wait()


_watchdog: _Watchdog | None = None
_watchdog_lock = threading.Lock()


def _group() -> int | None:
    """The watchdog's process group, started at the first child (again if it was killed);
    None where no shell can be started (the children then run unwatched)."""
    global _watchdog
    with _watchdog_lock:
        if _watchdog is None or not _watchdog.alive:
            try:
                _watchdog = _Watchdog()
            except OSError:
                return None
        return _watchdog.proc.pid


def slot_cores(slot: int, slots: int) -> frozenset[int] | None:
    """The cores slot `slot` (of `slots`) keeps its ffmpeg on; None: anywhere.

    As many slots as cores or more: one core each (two slots on a core when there are
    more slots). Fewer slots: the cores shared out, a run of neighbours each.
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    if slots >= len(cores):
        return frozenset({cores[slot % len(cores)]})
    return frozenset(cores[slot * len(cores) // slots:(slot + 1) * len(cores) // slots])


def _lower_priority(pid: int) -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, pid, NICE_LEVEL)
    except OSError:  # it may already be gone
        pass


@contextlib.contextmanager
def _on_cores(cores: frozenset[int] | None) -> Iterator[None]:
    """This thread (and so a child it starts) on `cores`, then back where it was."""
    if not cores or not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, cores)
    except OSError:  # a core taken away since (hotplug, a cgroup): start it anywhere
        yield
        return
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


_job_handle: Any = None


def _windows_job() -> Any:  # pragma: no cover - Windows only
    """One Job Object for the app's children, killed when the app's handle closes."""
    global _job_handle
    if _job_handle is not None or sys.platform != "win32":
        return _job_handle
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)

    class _Basic(ctypes.Structure):
        _fields_ = [("PerProcessUserTimeLimit", ctypes.c_int64),
                    ("PerJobUserTimeLimit", ctypes.c_int64),
                    ("LimitFlags", wintypes.DWORD),
                    ("MinimumWorkingSetSize", ctypes.c_size_t),
                    ("MaximumWorkingSetSize", ctypes.c_size_t),
                    ("ActiveProcessLimit", wintypes.DWORD),
                    ("Affinity", ctypes.c_size_t),
                    ("PriorityClass", wintypes.DWORD),
                    ("SchedulingClass", wintypes.DWORD)]

    class _Io(ctypes.Structure):
        _fields_ = [(name, ctypes.c_uint64) for name in (
            "ReadOperationCount", "WriteOperationCount", "OtherOperationCount",
            "ReadTransferCount", "WriteTransferCount", "OtherTransferCount")]

    class _Extended(ctypes.Structure):
        _fields_ = [("BasicLimitInformation", _Basic), ("IoInfo", _Io),
                    ("ProcessMemoryLimit", ctypes.c_size_t),
                    ("JobMemoryLimit", ctypes.c_size_t),
                    ("PeakProcessMemoryUsed", ctypes.c_size_t),
                    ("PeakJobMemoryUsed", ctypes.c_size_t)]

    job = kernel32.CreateJobObjectW(None, None)
    info = _Extended()
    info.BasicLimitInformation.LimitFlags = 0x2000  # JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
    kernel32.SetInformationJobObject(job, 9, ctypes.byref(info), ctypes.sizeof(info))
    _job_handle = (kernel32, job)
    return _job_handle


def popen_child(argv: list[str], *, low_priority: bool = True,
                cores: frozenset[int] | None = None,
                **kwargs: Any) -> subprocess.Popen[bytes]:
    """subprocess.Popen for a conversion: argv only, no stdin, tied to our lifetime,
    kept on `cores` (see `slot_cores`) where the system allows."""
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    if sys.platform == "win32":  # pragma: no cover - Windows only
        flags = 0x00004000 if low_priority else 0  # BELOW_NORMAL_PRIORITY_CLASS
        proc = subprocess.Popen(argv, creationflags=flags, **kwargs)
        try:
            import ctypes

            kernel32, job = _windows_job()
            kernel32.AssignProcessToJobObject(job, ctypes.c_void_p(int(proc._handle)))
        except (OSError, AttributeError):
            pass
        return proc
    group = _group()
    if group is None:
        kwargs["start_new_session"] = True
    else:
        kwargs["process_group"] = group
    with _on_cores(cores):
        proc = subprocess.Popen(argv, **kwargs)
    if low_priority:  # it inherits nothing from us: set before it gets far
        _lower_priority(proc.pid)
    return proc
