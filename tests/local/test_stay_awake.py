"""The computer stays awake during a run: D-Bus inhibitors on private, real buses.

Each test starts its own dbus-daemons (stopped by their PIDs). logind and the desktop
portal are not there, so small stand-ins written with jeepney take their names and
answer as they do: logind's Inhibit hands out a file descriptor that holds the lock
until it is closed; the portal's Inhibit hands out a request handle that holds it until
Close. One daemon plays the system bus (DBUS_SYSTEM_BUS_ADDRESS), one the session bus.
"""

from __future__ import annotations

import asyncio
import os
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from jeepney import MessageType, new_error, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection, open_dbus_connection

from batchgui.core import awake
from batchgui.core import media as core_media
from batchgui.core.models import FileStatus, RunSnapshot, RunSpec, Stage
from batchgui.core.run import Run
from batchgui.targets.local import LocalTarget
from tests.media import MediaCache

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("dbus-daemon") is None,
    reason="needs Linux and dbus-daemon (apt-get install dbus)",
)

ROOT = Path(__file__).resolve().parents[2]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


class Bus:
    """A private dbus-daemon (session configuration) of this test."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 10.0)
        assert ready, "dbus-daemon did not print its address"
        self.address = self.proc.stdout.readline().strip()
        assert self.address.startswith("unix:"), self.address

    def stop(self) -> None:
        self.proc.terminate()  # our own child, by its PID
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


class StandIn(threading.Thread):
    """logind's or the portal's inhibitor, as far as BatchGUI uses it, on one bus."""

    def __init__(self, address: str, kind: str, refuse: bool = False) -> None:
        super().__init__(daemon=True)
        self.kind = kind
        self.refuse = refuse
        self.conn: DBusConnection = open_dbus_connection(address, enable_fds=True)
        name = "org.freedesktop.login1" if kind == "logind" else "org.freedesktop.portal.Desktop"
        reply = self.conn.send_and_get_reply(message_bus.RequestName(name), timeout=5)
        assert reply.body == (1,), reply.body  # the primary owner
        self.calls: list[tuple[Any, ...]] = []
        self._pipes: list[int] = []  # logind: read ends; EOF once the holder closed its end
        self._requests: set[str] = set()  # portal: open request handles
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.start()

    def held(self) -> int:
        """How many inhibitors are held right now."""
        with self._lock:
            if self.kind == "portal":
                return len(self._requests)
            still = []
            for fd in self._pipes:
                readable, _, _ = select.select([fd], [], [], 0)
                if readable and os.read(fd, 1) == b"":
                    os.close(fd)
                    continue
                still.append(fd)
            self._pipes = still
            return len(still)

    def run(self) -> None:
        serial = 0
        while not self._stopping.is_set():
            try:
                msg = self.conn.receive(timeout=0.05)
            except TimeoutError:
                continue
            except OSError:
                return
            if msg.header.message_type is not MessageType.method_call:
                continue
            fields = msg.header.fields
            member = fields.get(3)
            if member == "Inhibit":
                self.calls.append(tuple(msg.body))
                if self.refuse:
                    self.conn.send(new_error(msg, "org.freedesktop.DBus.Error.AccessDenied",
                                             "s", ("Permission denied",)))
                elif self.kind == "logind":
                    read_end, write_end = os.pipe()
                    with self._lock:
                        self._pipes.append(read_end)
                    self.conn.send(new_method_return(msg, "h", (write_end,)))
                    os.close(write_end)  # the holder has its own copy now
                else:
                    serial += 1
                    handle = f"/org/freedesktop/portal/desktop/request/1_1/t{serial}"
                    with self._lock:
                        self._requests.add(handle)
                    self.conn.send(new_method_return(msg, "o", (handle,)))
            elif member == "Close" and self.kind == "portal":
                with self._lock:
                    self._requests.discard(str(fields.get(1)))
                self.conn.send(new_method_return(msg))
            else:
                self.conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod"))

    def stop(self) -> None:
        self._stopping.set()
        self.join(5)
        self.conn.close()
        for fd in self._pipes:
            os.close(fd)


@pytest.fixture
def buses(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Bus, Bus]]:
    system, session = Bus(), Bus()
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", system.address)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session.address)
    try:
        yield system, session
    finally:
        system.stop()
        session.stop()


@pytest.fixture
def stand_ins() -> Iterator[list[StandIn]]:
    made: list[StandIn] = []
    yield made
    for stand_in in made:
        stand_in.stop()


def convert_watching(media: MediaCache, tmp_path: Path, watch: Callable[[], int]) -> list[int]:
    """A real local run; `watch()` (held inhibitors) is read at every snapshot while it converts."""
    seen: list[int] = []

    def on_snapshot(snapshot: RunSnapshot) -> None:
        if snapshot.stage is Stage.MONITORING:
            seen.append(watch())

    async def go() -> None:
        video = media.good(tmp_path / "in" / "clip.mp4", 2.0)
        target = LocalTarget(slots=1)
        with ThreadPoolExecutor(max_workers=4) as executor:
            spec = RunSpec(inputs=(core_media.probe(video),), output_dir=tmp_path / "out")
            result = await Run(spec, target, executor, on_snapshot=on_snapshot,
                               snapshot_interval=0.0).execute()
        assert [o.status for o in result.outcomes] == [FileStatus.DONE]

    asyncio.run(go())
    return seen


def test_logind_inhibitor_is_held_during_a_run_and_released_after(
    buses: tuple[Bus, Bus], stand_ins: list[StandIn], media: MediaCache, tmp_path: Path
) -> None:
    system, session = buses
    logind = StandIn(system.address, "logind")
    portal = StandIn(session.address, "portal")
    stand_ins += [logind, portal]

    seen = convert_watching(media, tmp_path, logind.held)

    assert seen and set(seen) == {1}, seen
    wait_until(lambda: logind.held() == 0)
    assert logind.calls == [("sleep", "BatchGUI", awake.REASON, "block")]
    assert portal.calls == [], "one inhibitor is enough"


def test_without_logind_the_desktop_portal_is_asked(
    buses: tuple[Bus, Bus], stand_ins: list[StandIn], media: MediaCache, tmp_path: Path
) -> None:
    _, session = buses  # a system bus where nobody answers for logind
    portal = StandIn(session.address, "portal")
    stand_ins.append(portal)

    seen = convert_watching(media, tmp_path, portal.held)

    assert seen and set(seen) == {1}, seen
    wait_until(lambda: portal.held() == 0)
    [(window, flags, options)] = portal.calls
    assert flags == awake.PORTAL_SUSPEND and options["reason"] == ("s", awake.REASON)


def test_a_refused_logind_or_no_system_bus_falls_back_to_the_portal(
    buses: tuple[Bus, Bus], stand_ins: list[StandIn], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    system, session = buses
    refusing = StandIn(system.address, "logind", refuse=True)  # e.g. polkit said no
    portal = StandIn(session.address, "portal")
    stand_ins += [refusing, portal]
    with awake.keep_awake() as hold:
        assert hold is not None and hold.description == "desktop portal inhibitor"
        assert portal.held() == 1 and len(refusing.calls) == 1
    wait_until(lambda: portal.held() == 0)

    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-such-bus")
    with awake.keep_awake() as hold:
        assert hold is not None and portal.held() == 1
    wait_until(lambda: portal.held() == 0)


def test_with_no_bus_at_all_the_run_goes_on(
    monkeypatch: pytest.MonkeyPatch, media: MediaCache, tmp_path: Path
) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-system-bus")
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    assert awake.acquire() is None
    assert convert_watching(media, tmp_path, lambda: 0)


def test_a_killed_app_holds_nothing(
    buses: tuple[Bus, Bus], stand_ins: list[StandIn]
) -> None:
    system, _ = buses
    logind = StandIn(system.address, "logind")
    stand_ins.append(logind)
    code = ("import time; from batchgui.core import awake; hold = awake.acquire(); "
            "print(hold.description, flush=True); time.sleep(120)")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "logind sleep inhibitor"
        assert logind.held() == 1
    finally:
        proc.kill()  # no release call: the kernel closes its descriptor
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    wait_until(lambda: logind.held() == 0)
