"""This computer as a target: N slots, each a "node" running one ffmpeg at a time.

ffmpeg runs as a plain argv list (never a shell), writes straight into the hidden
part file beside the final MP3, and reports its position on `-progress pipe:1`.
Each conversion blocks one executor thread, so the executor must have at least
`slots` threads (the CLI and the controller size it from `parallelism`).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from batchgui.core import loudness
from batchgui.core.ffmpeg import ProgressParser, convert_argv, ffmpeg_exe, file_url, stderr_reason
from batchgui.core.models import (
    NodeState,
    NodeView,
    TargetStatus,
    TaskResult,
    TaskState,
    TaskStatus,
)
from batchgui.core.target import RunContext, Target, WorkItem

STDERR_TAIL_BYTES = 4000
#: how much of the start and of the end of the loudness measurement's stderr is read
WHOLE_STDERR_PART = 64 * 1024


def default_slots() -> int:
    return max(1, os.cpu_count() or 1)


def local_label(slots: int) -> str:
    return f"This computer ({slots} slot{'' if slots == 1 else 's'})"


class LocalTarget(Target):
    """Converts with ffmpeg subprocesses on this computer."""

    def __init__(self, slots: int | None = None, ffmpeg: str | None = None) -> None:
        self.slots = max(1, slots or default_slots())
        self.parallelism = self.slots
        self.display_name = local_label(self.slots)
        self._ffmpeg = ffmpeg
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskStatus] = {}
        self._slot_task: list[str | None] = [None] * self.slots
        self._procs: dict[str, subprocess.Popen[str]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._queue: deque[WorkItem] = deque()
        self._stopping = False

    # -- Target ----------------------------------------------------------------------------

    async def submit(self, items: Sequence[WorkItem], ctx: RunContext) -> None:
        ffmpeg = self._ffmpeg or str(await ctx.blocking(ffmpeg_exe))  # may ask the wheel: off-loop
        with self._lock:
            for item in items:
                self._tasks[item.task_id] = TaskStatus(item.task_id, TaskState.ACTIVE)
        self._queue.extend(items)
        ctx.cancel.on_cancel(self._kill_all)
        self._workers = [
            asyncio.ensure_future(self._slot_worker(slot, ffmpeg, ctx))
            for slot in range(self.slots)
        ]

    async def poll(self, ctx: RunContext) -> TargetStatus:
        with self._lock:
            tasks = dict(self._tasks)
            busy = list(self._slot_task)
        nodes = tuple(
            NodeView(
                node_id=f"slot-{i + 1}",
                state=NodeState.RUNNING if task_id else NodeState.IDLE,
                running_tasks=1 if task_id else 0,
            )
            for i, task_id in enumerate(busy)
        )
        return TargetStatus(nodes=nodes, tasks=tasks)

    def poll_interval(self, changed: bool) -> float:
        return 0.2

    async def cleanup(self, ctx: RunContext, cancelled: bool) -> None:
        self._stopping = True
        self._queue.clear()
        if cancelled:
            self._kill_all()
        if self._workers:
            await asyncio.gather(*self._workers, return_exceptions=True)

    # -- the slots -------------------------------------------------------------------------

    async def _slot_worker(self, slot: int, ffmpeg: str, ctx: RunContext) -> None:
        while self._queue and not ctx.cancel.cancelled and not self._stopping:
            item = self._queue.popleft()
            started = time.time()
            with self._lock:
                self._slot_task[slot] = item.task_id
                self._tasks[item.task_id] = TaskStatus(
                    item.task_id, TaskState.RUNNING, node_id=f"slot-{slot + 1}",
                    progress=0.0, started_at=started,
                )
            try:
                exit_code, tail = await ctx.blocking(self._convert, item, slot, ffmpeg, started)
                failure = None if exit_code == 0 else (
                    stderr_reason(tail) or f"ffmpeg failed (exit code {exit_code})"
                )
            except OSError as exc:
                exit_code, tail, failure = -1, "", f"ffmpeg could not be started: {exc}"
            with self._lock:
                self._slot_task[slot] = None
                self._tasks[item.task_id] = TaskStatus(
                    item.task_id,
                    TaskState.COMPLETED,
                    node_id=f"slot-{slot + 1}",
                    progress=1.0 if exit_code == 0 else self._tasks[item.task_id].progress,
                    started_at=started,
                    ended_at=time.time(),
                    exit_code=exit_code,
                    result=TaskResult.SUCCESS if exit_code == 0 else TaskResult.FAILURE,
                    failure=failure,
                    stderr_tail=tail,
                )
            ctx.notify()

    def _convert(self, item: WorkItem, slot: int, ffmpeg: str, started: float) -> tuple[int, str]:
        """Convert one file (on an executor thread); returns (exit code, stderr tail)."""
        source = file_url(item.input.path)
        argv = convert_argv(source, file_url(item.part_path), item.quality, ffmpeg=ffmpeg)
        if item.loudness_lufs is None:
            return self._run_ffmpeg(item, slot, argv, started)
        # media: even loudness, two passes: measure (first half of the bar), then convert
        # with the measured values; the same steps a Batch node runs (core/loudness.py)
        lufs = item.loudness_lufs
        peak = loudness.true_peak_limit(item.quality.vbr_level, item.quality.cbr_kbps)
        measure = loudness.measure_argv(ffmpeg, source, lufs, peak, progress=True)
        exit_code, stderr = self._run_ffmpeg(item, slot, measure, started, span=(0.0, 0.5),
                                             whole_stderr=True)
        if exit_code != 0 or self._stopping:
            return exit_code or -1, stderr[-STDERR_TAIL_BYTES:]
        measured = loudness.parse_measurement(stderr)
        if measured is None:
            return 1, stderr[-2000:] + "\nThe loudness of the video could not be measured.\n"
        argv = loudness.with_plan(argv, loudness.plan(measured, lufs, peak))
        return self._run_ffmpeg(item, slot, argv, started, span=(0.5, 1.0))

    def _run_ffmpeg(
        self, item: WorkItem, slot: int, argv: list[str], started: float, *,
        span: tuple[float, float] = (0.0, 1.0), whole_stderr: bool = False,
    ) -> tuple[int, str]:
        """Run one ffmpeg to the end; its progress fills `span` of the file's bar.

        Returns (exit code, stderr tail), or the whole stderr when asked.
        """
        duration = item.input.duration_s or 0.0
        parser = ProgressParser()
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                encoding="utf-8",
                errors="replace",
                start_new_session=True,  # Ctrl-C reaches us, not ffmpeg: we stop it ourselves
            )
            with self._lock:
                self._procs[item.task_id] = proc
            try:
                assert proc.stdout is not None
                for line in proc.stdout:
                    if parser.feed(line) and duration:
                        done = min(1.0, parser.seconds / duration)
                        with self._lock:
                            self._tasks[item.task_id] = TaskStatus(
                                item.task_id, TaskState.RUNNING, node_id=f"slot-{slot + 1}",
                                progress=span[0] + (span[1] - span[0]) * done,
                                started_at=started,
                            )
                exit_code = proc.wait()
            finally:
                with self._lock:
                    self._procs.pop(item.task_id, None)
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                if proc.stdout is not None:
                    proc.stdout.close()
            err.seek(0, os.SEEK_END)
            size = err.tell()
            if whole_stderr and size > 4 * WHOLE_STDERR_PART:  # its start and its end suffice
                err.seek(0)
                head = err.read(WHOLE_STDERR_PART)
                err.seek(size - WHOLE_STDERR_PART)
                tail = head + "\n…\n" + err.read()
            else:
                err.seek(0 if whole_stderr else max(0, size - STDERR_TAIL_BYTES))
                tail = err.read()
        if self._stopping and exit_code != 0:
            Path(item.part_path).unlink(missing_ok=True)
        return exit_code, tail

    def _kill_all(self) -> None:
        """Stop every running ffmpeg at once (called from whichever thread cancels)."""
        self._stopping = True
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            try:
                proc.kill()
            except OSError:
                pass
