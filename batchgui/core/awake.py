"""Keep the computer from going to sleep while a run goes on, and let it sleep again after.

- Linux: logind's "sleep" inhibitor on the system bus. Every systemd desktop's suspend
  (GNOME's and KDE's idle suspend, `systemctl suspend` from other programs) goes through
  logind, and the lock is a file descriptor: if the app is killed, the kernel closes it
  and the lock is gone. Where the system bus or logind is out of reach (a sandbox, a
  system without systemd), the desktop portal's Inhibit on the session bus asks the
  desktop itself. The screen may still blank: only sleep stops a run.
- Windows: SetThreadExecutionState(ES_SYSTEM_REQUIRED) on a thread of its own (the state
  belongs to the thread that set it, so that thread lives as long as the request).
- macOS: an IOKit "PreventUserIdleSystemSleep" power assertion.

Where none of these is available the run goes on without; this never raises.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Protocol

from batchgui.i18n import N_, _

log = logging.getLogger(__name__)

#: what the system's list of programs keeping it awake shows (translated where it is asked)
REASON = N_("Converting videos to MP3")
APP_NAME = "BatchGUI"
#: seconds a D-Bus call may take before we give up on that way
DBUS_TIMEOUT_S = 3.0


class Hold(Protocol):
    """One request that keeps the computer awake until released."""

    description: str

    def release(self) -> None: ...


def acquire(reason: str = REASON) -> Hold | None:
    """Ask the OS not to sleep (blocking, but quick); None when no way works here."""
    if sys.platform.startswith("linux"):
        ways: list[Callable[[str], Hold]] = [LogindHold, PortalHold]
    elif sys.platform == "win32":
        ways = [WindowsHold]
    elif sys.platform == "darwin":
        ways = [MacHold]
    else:
        ways = []
    for way in ways:
        try:
            hold = way(_(reason))
        except Exception as exc:  # no bus, no service, refused: try the next way
            log.debug("%s: not available (%s)", getattr(way, "__name__", way), exc)
            continue
        log.info("keeping the computer awake (%s)", hold.description)
        return hold
    log.info("no way to keep the computer awake here; it may sleep during the run")
    return None


def release(hold: Hold | None) -> None:
    """Let the computer sleep again; never raises."""
    if hold is None:
        return
    try:
        hold.release()
    except Exception:  # releasing must not fail a run
        log.debug("releasing %s failed", hold.description, exc_info=True)


@contextmanager
def keep_awake(reason: str = REASON) -> Any:
    """`with keep_awake():` the computer stays awake inside the block (blocking calls)."""
    hold = acquire(reason)
    try:
        yield hold
    finally:
        release(hold)


@asynccontextmanager
async def stay_awake(
    blocking: Callable[..., Awaitable[Any]], reason: str = REASON
) -> AsyncIterator[Hold | None]:
    """`async with stay_awake(ctx.blocking):` the same, with the OS calls on the executor."""
    hold = await blocking(acquire, reason)
    try:
        yield hold
    finally:
        await blocking(release, hold)


# -- Linux: D-Bus ---------------------------------------------------------------------------


class LogindHold:
    """org.freedesktop.login1.Manager.Inhibit("sleep", ..., "block"): held while the fd is open."""

    description = "logind sleep inhibitor"

    def __init__(self, reason: str) -> None:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection
        from jeepney.wrappers import unwrap_msg

        login1 = DBusAddress("/org/freedesktop/login1", bus_name="org.freedesktop.login1",
                             interface="org.freedesktop.login1.Manager")
        with open_dbus_connection(bus="SYSTEM", enable_fds=True,
                                  auth_timeout=DBUS_TIMEOUT_S) as conn:
            message = new_method_call(login1, "Inhibit", "ssss",
                                      ("sleep", APP_NAME, reason, "block"))
            reply = conn.send_and_get_reply(message, timeout=DBUS_TIMEOUT_S)
            (fd,) = unwrap_msg(reply)
        self._fd: int | None = fd.to_raw_fd()

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


PORTAL_SUSPEND = 4  # org.freedesktop.portal.Inhibit flags: 4 = suspend


class PortalHold:
    """org.freedesktop.portal.Inhibit on the session bus: held until its request is closed
    (or this connection goes, so a killed app holds nothing)."""

    description = "desktop portal inhibitor"

    def __init__(self, reason: str) -> None:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection
        from jeepney.wrappers import unwrap_msg

        portal = DBusAddress("/org/freedesktop/portal/desktop",
                             bus_name="org.freedesktop.portal.Desktop",
                             interface="org.freedesktop.portal.Inhibit")
        self._conn = open_dbus_connection(bus="SESSION", auth_timeout=DBUS_TIMEOUT_S)
        try:
            message = new_method_call(portal, "Inhibit", "sua{sv}",
                                      ("", PORTAL_SUSPEND, {"reason": ("s", reason)}))
            (self._handle,) = unwrap_msg(
                self._conn.send_and_get_reply(message, timeout=DBUS_TIMEOUT_S))
        except BaseException:
            self._conn.close()
            raise

    def release(self) -> None:
        from jeepney import DBusAddress, new_method_call

        request = DBusAddress(self._handle, bus_name="org.freedesktop.portal.Desktop",
                              interface="org.freedesktop.portal.Request")
        try:
            self._conn.send_and_get_reply(new_method_call(request, "Close"),
                                          timeout=DBUS_TIMEOUT_S)
        finally:
            self._conn.close()  # closing the connection ends the request in any case


# -- Windows --------------------------------------------------------------------------------

ES_CONTINUOUS = 0x80000000
ES_SYSTEM_REQUIRED = 0x00000001


class WindowsHold:
    """SetThreadExecutionState on a thread that lives exactly as long as the request."""

    description = "Windows execution state"

    def __init__(self, reason: str) -> None:
        kernel32 = ctypes.WinDLL("kernel32")  # type: ignore[attr-defined]
        set_state = kernel32.SetThreadExecutionState
        set_state.restype = ctypes.c_uint32
        set_state.argtypes = [ctypes.c_uint32]
        self._done = threading.Event()
        started = threading.Event()
        result: list[int] = []

        def hold() -> None:
            result.append(set_state(ES_CONTINUOUS | ES_SYSTEM_REQUIRED))
            started.set()
            self._done.wait()
            set_state(ES_CONTINUOUS)

        self._thread = threading.Thread(target=hold, name="stay-awake", daemon=True)
        self._thread.start()
        started.wait(DBUS_TIMEOUT_S)
        if not result or result[0] == 0:
            self._done.set()
            raise OSError("SetThreadExecutionState failed")

    def release(self) -> None:
        self._done.set()
        self._thread.join(DBUS_TIMEOUT_S)


# -- macOS ----------------------------------------------------------------------------------

_CF_UTF8 = 0x08000100
_IOPM_LEVEL_ON = 255


class MacHold:
    """IOPMAssertionCreateWithName(PreventUserIdleSystemSleep); IOPMAssertionRelease after."""

    description = "macOS power assertion"

    def __init__(self, reason: str) -> None:
        cf = ctypes.cdll.LoadLibrary(
            "/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation")
        iokit = ctypes.cdll.LoadLibrary("/System/Library/Frameworks/IOKit.framework/IOKit")
        cf.CFStringCreateWithCString.restype = ctypes.c_void_p
        cf.CFStringCreateWithCString.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                                 ctypes.c_uint32]
        cf.CFRelease.argtypes = [ctypes.c_void_p]
        iokit.IOPMAssertionCreateWithName.restype = ctypes.c_int32
        iokit.IOPMAssertionCreateWithName.argtypes = [
            ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]
        iokit.IOPMAssertionRelease.argtypes = [ctypes.c_uint32]
        self._release = iokit.IOPMAssertionRelease
        kind = cf.CFStringCreateWithCString(None, b"PreventUserIdleSystemSleep", _CF_UTF8)
        name = cf.CFStringCreateWithCString(None, reason.encode("utf-8"), _CF_UTF8)
        assertion = ctypes.c_uint32(0)
        try:
            status = iokit.IOPMAssertionCreateWithName(kind, _IOPM_LEVEL_ON, name,
                                                       ctypes.byref(assertion))
        finally:
            cf.CFRelease(kind)
            cf.CFRelease(name)
        if status != 0:
            raise OSError(f"IOPMAssertionCreateWithName returned {status}")
        self._assertion: int | None = assertion.value

    def release(self) -> None:
        assertion, self._assertion = self._assertion, None
        if assertion is not None:
            self._release(assertion)
