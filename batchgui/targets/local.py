"""This computer as a target: N slots, each a "node" running one ffmpeg at a time.

ffmpeg runs as a plain argv list (never a shell), writes straight into the hidden
part file beside the final MP3, and reports its position on `-progress pipe:1`.
No thread waits on a conversion: the event loop watches each ffmpeg's progress pipe
and starts the next file the moment one ends, so any number of slots costs no
threads. Starting a process (fork, then waiting for its exec) happens on one spawner
thread of its own, so the window's thread never waits for it.
ffmpeg runs below normal priority (the desktop stays smooth), on its slot's own
cores, and dies with the app (see batchgui/targets/children.py). With even loudness a file takes two
ffmpegs in its slot, one after the other: the measurement, then the conversion with
the measured values (core/loudness.py, the same steps a Batch node runs).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO

from batchgui.core import loudness
from batchgui.core.drills import kill_point
from batchgui.core.ffmpeg import ProgressParser, convert_argv, ffmpeg_exe, file_url, stderr_reason
from batchgui.core.models import (
    NodeState,
    NodeView,
    TargetStatus,
    TaskResult,
    TaskState,
    TaskStatus,
)
from batchgui.core.outputs import remove
from batchgui.core.target import RunContext, Target, WorkItem
from batchgui.i18n import Reason, tr, trn, why
from batchgui.targets.children import popen_child, slot_cores

log = logging.getLogger(__name__)

STDERR_TAIL_BYTES = 4000
#: how much of the start and of the end of the loudness measurement's stderr is read
MEASUREMENT_PART_BYTES = 64 * 1024


def default_slots() -> int:
    return max(1, os.cpu_count() or 1)


def slot_name(slot: int) -> str:
    """What the Slots grid and the task table call a slot: 'slot 1' (in Swedish 'plats 1')."""
    return tr("slot {number}", number=str(slot + 1))


def local_label(slots: int) -> str:
    return trn("This computer ({n} slot)", "This computer ({n} slots)", slots)


@dataclass
class _Job:
    """One ffmpeg at work in one slot."""

    item: WorkItem
    slot: int
    proc: subprocess.Popen[bytes]
    stderr: IO[bytes]
    started: float
    parser: ProgressParser = field(default_factory=ProgressParser)
    buffer: bytes = b""
    measuring: bool = False  # media: the first of two passes (even loudness)
    span: tuple[float, float] = (0.0, 1.0)  # the part of the file's progress this ffmpeg fills
    pidfd: int | None = None  # Linux: readable once the process has exited


class LocalTarget(Target):
    """Converts with ffmpeg subprocesses on this computer."""

    threads_needed = 4  # checking and placing finished MP3s (plus one spawner thread)

    def __init__(self, slots: int | None = None, ffmpeg: str | None = None, *,
                 low_priority: bool = True) -> None:
        self.slots = max(1, slots or default_slots())
        self.parallelism = self.slots
        self.display_name = local_label(self.slots)
        self._slot_names = [slot_name(i) for i in range(self.slots)]  # said at every change
        self._slot_cores = [slot_cores(i, self.slots) for i in range(self.slots)]
        self.low_priority = low_priority
        self._ffmpeg = ffmpeg
        self._tasks: dict[str, TaskStatus] = {}
        self._changed: set[str] = set()  # tasks changed since the last poll
        self._jobs: dict[int, _Job] = {}  # slot -> its job
        self._starting: dict[int, asyncio.Task[None]] = {}  # slot -> its ffmpeg being started
        self._spawner: ThreadPoolExecutor | None = None
        self._queue: deque[WorkItem] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ctx: RunContext | None = None
        self._stopping = False
        self._paused = False
        self._idle = asyncio.Event()
        self._idle.set()

    # -- Target ----------------------------------------------------------------------------

    async def submit(self, items: Sequence[WorkItem], ctx: RunContext) -> None:
        if self._ffmpeg is None:
            self._ffmpeg = str(await ctx.blocking(ffmpeg_exe))  # may ask the wheel: off-loop
        self._loop = asyncio.get_running_loop()
        self._ctx = ctx
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="ffmpeg-start")
        for item in items:
            self._set(TaskStatus(item.task_id, TaskState.ACTIVE))
        self._queue.extend(items)
        loop = self._loop

        def on_cancel() -> None:  # from whichever thread cancels
            loop.call_soon_threadsafe(self._kill_all)

        ctx.cancel.on_cancel(on_cancel)
        self._start_next()

    async def poll(self, ctx: RunContext) -> TargetStatus:
        busy = {slot: job.item.task_id for slot, job in self._jobs.items()}
        nodes = tuple(
            NodeView(
                node_id=self._slot_names[i],
                state=NodeState.RUNNING if i in busy else NodeState.IDLE,
                running_tasks=1 if i in busy else 0,
            )
            for i in range(self.slots)
        )
        changed, self._changed = self._changed, set()
        return TargetStatus(nodes=nodes, tasks={t: self._tasks[t] for t in changed})

    def poll_interval(self, changed: bool) -> float:
        return 0.5  # every change wakes the run at once (ctx.notify); this is a fallback

    async def pause(self, ctx: RunContext) -> None:
        self._paused = True

    async def unpause(self, ctx: RunContext) -> None:
        self._paused = False
        self._start_next()

    async def cleanup(self, ctx: RunContext, cancelled: bool) -> None:
        self._stopping = True
        self._queue.clear()
        if cancelled:
            self._kill_all()
        await self._idle.wait()
        if self._spawner is not None:
            self._spawner.shutdown(wait=False)

    # -- the slots -------------------------------------------------------------------------

    def _set(self, status: TaskStatus) -> None:
        self._tasks[status.task_id] = status
        self._changed.add(status.task_id)

    def _busy(self, slot: int) -> bool:
        return slot in self._jobs or slot in self._starting

    def _start_next(self) -> None:
        """Fill every free slot from the queue (on the loop thread)."""
        while (self._queue and len(self._jobs) + len(self._starting) < self.slots
               and not self._paused and not self._stopping):
            slot = next(i for i in range(self.slots) if not self._busy(i))
            self._start(self._queue.popleft(), slot)
        if not self._jobs and not self._starting:
            self._idle.set()

    def _start(self, item: WorkItem, slot: int, argv: list[str] | None = None,
               started: float | None = None) -> None:
        """Reserve the slot and start the ffmpeg on the spawner thread."""
        self._idle.clear()
        self._starting[slot] = asyncio.ensure_future(self._spawn(item, slot, argv, started))

    async def _spawn(self, item: WorkItem, slot: int, argv: list[str] | None = None,
                     started: float | None = None) -> None:
        """Start a file's first ffmpeg, or (`argv`) its second one in the same slot."""
        try:
            await self._spawn_in(item, slot, argv, started)
        except OSError as exc:
            self._starting.pop(slot, None)
            self._done(item, slot, started or time.time(), -1, "",
                       why("ffmpeg_not_started", "ffmpeg could not be started: {error}",
                           error=exc.strerror or str(exc)))

    async def _spawn_in(self, item: WorkItem, slot: int, argv: list[str] | None,
                        started: float | None) -> None:
        assert self._ffmpeg is not None and self._loop is not None
        measuring, span = False, (0.0, 1.0)
        if argv is None:
            argv = convert_argv(file_url(item.input.path), file_url(item.part_path),
                                item.quality, ffmpeg=self._ffmpeg)
            if item.loudness_lufs is not None:  # media: even loudness measures first
                argv = loudness.measure_argv(self._ffmpeg, file_url(item.input.path),
                                             item.loudness_lufs, _true_peak(item), progress=True)
                measuring, span = True, (0.0, 0.5)
        elif item.loudness_lufs is not None:
            span = (0.5, 1.0)
        stderr = tempfile.TemporaryFile()
        try:
            proc = await self._loop.run_in_executor(self._spawner, functools.partial(
                popen_child, argv, stdout=subprocess.PIPE, stderr=stderr,
                low_priority=self.low_priority, cores=self._slot_cores[slot]))
        except BaseException:
            stderr.close()
            raise
        finally:
            self._starting.pop(slot, None)
        if self._stopping:  # cancelled while it was starting
            proc.kill()
        started = started or time.time()
        job = _Job(item, slot, proc, stderr, started, measuring=measuring, span=span)
        self._jobs[slot] = job
        self._idle.clear()
        self._set(TaskStatus(
            item.task_id, TaskState.RUNNING, node_id=self._slot_names[slot], progress=span[0],
            started_at=started,
        ))
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        os.set_blocking(fd, False)
        try:
            self._loop.add_reader(fd, self._on_output, job)
        except NotImplementedError:  # Windows event loops: a thread reads instead
            os.set_blocking(fd, True)
            threading.Thread(target=self._read_in_thread, args=(job,), daemon=True,
                             name=f"ffmpeg-{slot + 1}").start()
        if self._ctx is not None:
            self._ctx.notify()
        kill_point("converting")

    def _on_output(self, job: _Job) -> None:
        """ffmpeg wrote progress, or ended (end of file on its progress pipe)."""
        assert job.proc.stdout is not None
        fd = job.proc.stdout.fileno()
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            self._feed(job, chunk)
            return
        assert self._loop is not None
        self._loop.remove_reader(fd)
        self._reap(job)

    def _read_in_thread(self, job: _Job) -> None:
        assert job.proc.stdout is not None and self._loop is not None
        for chunk in iter(lambda: job.proc.stdout.read1(65536), b""):  # type: ignore[union-attr,attr-defined]
            self._loop.call_soon_threadsafe(self._feed, job, chunk)
        self._loop.call_soon_threadsafe(self._reap, job)

    def _feed(self, job: _Job, chunk: bytes) -> None:
        job.buffer += chunk
        *lines, job.buffer = job.buffer.split(b"\n")
        moved = False
        for line in lines:
            moved = job.parser.feed(line.decode("utf-8", "replace")) or moved
        duration = job.item.input.duration_s or 0.0
        if moved and duration:
            low, high = job.span
            self._set(TaskStatus(
                job.item.task_id, TaskState.RUNNING, node_id=self._slot_names[job.slot],
                progress=low + (high - low) * min(1.0, job.parser.seconds / duration),
                started_at=job.started,
            ))

    def _reap(self, job: _Job) -> None:
        """ffmpeg closed its output: collect its exit code without blocking the loop."""
        exit_code = job.proc.poll()
        if exit_code is None:
            self._when_exited(job)
            return
        assert job.proc.stdout is not None
        job.proc.stdout.close()
        if job.measuring and exit_code == 0 and not self._stopping:
            self._measured(job)  # media
            return
        job.stderr.seek(0, os.SEEK_END)
        size = job.stderr.tell()
        job.stderr.seek(max(0, size - STDERR_TAIL_BYTES))
        tail = job.stderr.read().decode("utf-8", "replace")
        job.stderr.close()
        failure = None
        if exit_code != 0:
            failure = stderr_reason(tail) or why("ffmpeg_failed",
                                                 "ffmpeg failed (exit code {exit_code})",
                                                 exit_code=str(exit_code))
            if self._stopping:
                remove(job.item.part_path)
        del self._jobs[job.slot]
        self._done(job.item, job.slot, job.started, exit_code, tail, failure,
                   progress=self._tasks[job.item.task_id].progress)

    def _when_exited(self, job: _Job) -> None:
        """Call _reap the moment ffmpeg has exited: a pidfd on Linux tells at once (a timer
        would leave the slot idle for its tick, thousands of times in a big run)."""
        assert self._loop is not None
        if job.pidfd is None:
            try:
                job.pidfd = os.pidfd_open(job.proc.pid)  # type: ignore[attr-defined]
            except (AttributeError, OSError):  # not Linux, or an old kernel
                job.pidfd = -1
        if job.pidfd >= 0:
            try:
                self._loop.add_reader(job.pidfd, self._on_exited, job)
                return
            except NotImplementedError:
                pass
        self._loop.call_later(0.002, self._reap, job)

    def _on_exited(self, job: _Job) -> None:
        assert self._loop is not None and job.pidfd is not None
        self._loop.remove_reader(job.pidfd)
        os.close(job.pidfd)
        job.pidfd = -1
        self._reap(job)

    def _measured(self, job: _Job) -> None:
        """The loudness measurement ended: convert with its values, in the same slot."""
        job.stderr.seek(0, os.SEEK_END)
        size = job.stderr.tell()
        job.stderr.seek(0)
        if size > 2 * MEASUREMENT_PART_BYTES:  # the stream lines and the JSON at the end
            raw = job.stderr.read(MEASUREMENT_PART_BYTES)
            job.stderr.seek(size - MEASUREMENT_PART_BYTES)
            raw += b"\n" + job.stderr.read()
        else:
            raw = job.stderr.read()
        job.stderr.close()
        text = raw.decode("utf-8", "replace")
        del self._jobs[job.slot]
        item, lufs = job.item, job.item.loudness_lufs
        measured = loudness.parse_measurement(text)
        if measured is None or lufs is None:
            self._done(item, job.slot, job.started, 1, text[-STDERR_TAIL_BYTES:],
                       why("loudness_not_measured",
                           "the loudness of the video could not be measured"), progress=0.5)
            return
        assert self._ffmpeg is not None
        argv = loudness.with_plan(
            convert_argv(file_url(item.input.path), file_url(item.part_path), item.quality,
                         ffmpeg=self._ffmpeg),
            loudness.plan(measured, lufs, _true_peak(item)),
        )
        self._start(item, job.slot, argv, started=job.started)

    def _done(self, item: WorkItem, slot: int, started: float, exit_code: int, tail: str,
              failure: Reason | None, progress: float | None = None) -> None:
        self._set(TaskStatus(
            item.task_id,
            TaskState.COMPLETED,
            node_id=self._slot_names[slot],
            progress=1.0 if exit_code == 0 else progress,
            started_at=started,
            ended_at=time.time(),
            exit_code=exit_code,
            result=TaskResult.SUCCESS if exit_code == 0 else TaskResult.FAILURE,
            failure=failure,
            stderr_tail=tail,
        ))
        if self._ctx is not None:
            self._ctx.notify()
        self._start_next()

    def _kill_all(self) -> None:
        """Stop every running ffmpeg at once (on the loop thread)."""
        self._stopping = True
        self._queue.clear()
        for job in list(self._jobs.values()):
            try:
                job.proc.kill()
            except OSError:
                pass
        if not self._jobs and not self._starting:
            self._idle.set()


def _true_peak(item: WorkItem) -> float:
    return loudness.true_peak_limit(item.quality.vbr_level, item.quality.cbr_kbps)
