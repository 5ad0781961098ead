"""Starting ffmpeg so that it never outlives BatchGUI, and never fights the desktop for CPU.

- Linux: the child asks the kernel for SIGKILL when its parent dies
  (`prctl(PR_SET_PDEATHSIG)`), set between fork and exec, and then checks that its
  parent is still the app (it may have died a moment before): only then does it run
  ffmpeg. The signal is tied to the *thread* that started the child, so children are
  started on the event loop's thread, which lives as long as the app. Checked by kill
  drills that SIGKILL batchgui right after it starts an ffmpeg.
  (util-linux's `setpriv --pdeathsig` would keep Python's faster vfork path, but it
  cannot make that second check, and a drill caught the orphan it leaves.)
- Windows: every child joins one Job Object with KILL_ON_JOB_CLOSE; when the app's
  last handle to it closes (the app ends in any way), Windows ends the children.
  Written to the documented API; not run here (no Windows machine).
- macOS has no parent-death signal. The children run in the app's process group
  there (no new session), so a terminal's Ctrl-C or `kill -- -PGID` reaches them;
  a SIGKILL of the app alone leaves them to finish their file (documented gap).

Priority: below normal (nice 10 on Linux/macOS, BELOW_NORMAL_PRIORITY_CLASS on
Windows) unless `low_priority=False`, so the window stays smooth while every core
converts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

NICE_LEVEL = 10
_PR_SET_PDEATHSIG = 1


def _linux_child_setup(low_priority: bool) -> Any:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    prctl = libc.prctl  # looked up before fork: the child only calls it
    parent = os.getpid()

    def setup() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if low_priority:
            os.nice(NICE_LEVEL)
        # the parent may have died between fork and prctl: then do not run at all
        if os.getppid() != parent:
            os._exit(1)

    return setup


def _posix_child_setup(low_priority: bool) -> Any:
    def setup() -> None:
        if low_priority:
            os.nice(NICE_LEVEL)

    return setup


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
                **kwargs: Any) -> subprocess.Popen[bytes]:
    """subprocess.Popen for a conversion: argv only, no stdin, tied to our lifetime."""
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    if sys.platform.startswith("linux"):
        # own session: a terminal's Ctrl-C reaches us, and we stop ffmpeg ourselves
        return subprocess.Popen(argv, start_new_session=True,
                                preexec_fn=_linux_child_setup(low_priority), **kwargs)
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
    return subprocess.Popen(argv, preexec_fn=_posix_child_setup(low_priority), **kwargs)
