"""Starting ffmpeg so that it never outlives BatchGUI, and never fights the desktop for CPU.

- Linux: the child asks the kernel for SIGKILL when its parent dies
  (`prctl(PR_SET_PDEATHSIG)`), then checks that its parent is still the app (it may
  have died a moment before the request): only then does it become ffmpeg. Done by
  util-linux's `setpriv --pdeathsig KILL`, which execs `/bin/sh` with a fixed
  two-line script (the parent check; then `exec "$@"`: the command and every file
  name stay arguments, never script text), which execs ffmpeg: all in one process,
  so Python keeps its fast vfork path. A `preexec_fn` doing the same costs a full fork
  of the app (about 4 ms of waiting per file, which shows with thousands of short
  files); it is the fallback where setpriv is missing. The signal is tied to the
  *thread* that started the child, so children are started on one spawner thread
  that lives until every child has ended (targets/local.py). Checked by kill drills
  that SIGKILL batchgui right after it starts an ffmpeg.
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
import shutil
import signal
import subprocess
import sys
from functools import cache
from typing import Any

NICE_LEVEL = 10
_PR_SET_PDEATHSIG = 1
#: run by /bin/sh after setpriv asked for the parent-death signal: go on only if the
#: parent is still the app ($1), then become the command ("$@" after the shift)
_PARENT_CHECK = '[ "$PPID" = "$1" ] || exit 86; shift; exec "$@"'


@cache
def _setpriv_and_sh() -> tuple[str, str] | None:
    setpriv, sh = shutil.which("setpriv"), shutil.which("sh") or "/bin/sh"
    if setpriv is None or not os.access(sh, os.X_OK):
        return None
    return setpriv, sh


def _lower_priority(pid: int) -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, pid, NICE_LEVEL)
    except OSError:  # it may already be gone
        pass


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
        tools = _setpriv_and_sh()
        if tools is None:
            return subprocess.Popen(argv, start_new_session=True,
                                    preexec_fn=_linux_child_setup(low_priority), **kwargs)
        setpriv, sh = tools
        proc = subprocess.Popen(
            [setpriv, "--pdeathsig", "KILL", "--", sh, "-c", _PARENT_CHECK, "sh",
             str(os.getpid()), *argv], start_new_session=True, **kwargs)
        if low_priority:  # it inherits nothing from us: set before it gets far
            _lower_priority(proc.pid)
        return proc
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
