"""The Target interface: what the run asks of "This computer" and of Azure Batch alike.

The run (core.run) drives a target through prepare -> submit -> poll* -> fetch* ->
cleanup. A target does its blocking work through `ctx.blocking`, on the executor the
caller passed in, so the same code serves the CLI (a thread pool) and the window
(Qt worker threads).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from batchgui.core.models import InputFile, Quality, Stage, TargetStatus
from batchgui.i18n import Reason

T = TypeVar("T")


class RunCancelled(Exception):
    """Raised between steps once the user asked to stop."""


class TargetError(Exception):
    """A problem that stops the whole run, in plain words: what happened, what to do."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.text)
        self.reason = reason


class CancelToken:
    """Set once by the user (Cancel button, Ctrl-C); checked between calls."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call `callback` (from whichever thread cancels) when cancelled; at once if already."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise RunCancelled()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


@dataclass(frozen=True)
class WorkItem:
    """One file to convert: the input, its task id, and where the MP3 goes."""

    task_id: str
    input: InputFile
    output: Path  # the final name in the output folder
    part_path: Path  # hidden temporary file beside it; renamed into place when checked
    quality: Quality
    loudness_lufs: float | None = None  # even out loudness to this (two passes); None: leave


class RunContext:
    """What a target may use during a run: executor, cancel token, and ways to report."""

    def __init__(
        self,
        run_id: str,
        executor: Executor,
        cancel: CancelToken,
        *,
        log: Callable[[str], None] = lambda message: None,
        set_stage: Callable[[Stage, str], None] = lambda stage, message: None,
        report_transfer: Callable[[str, int, int], None] = lambda task_id, done, total: None,
        notify: Callable[[], None] = lambda: None,
        remember: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
        remember_file: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None,
    ) -> None:
        self.run_id = run_id
        self.executor = executor
        self.cancel = cancel
        self.log = log
        self.set_stage = set_stage
        self.report_transfer = report_transfer
        self.notify = notify
        """Tell the run "something changed, poll me now" (from any thread), instead of
        letting it wait for the next poll interval."""
        self._remember = remember
        self._remember_file = remember_file
        #: what the journal kept of this run's remote state (resuming), else empty
        self.saved: dict[str, Any] = {}
        #: the same for each file (task id -> its blob, MD5 ...)
        self.saved_files: dict[str, dict[str, Any]] = {}

    async def remember(self, changes: dict[str, Any]) -> None:
        """Journal remote facts (job id, pool, container ...) BEFORE making them real."""
        if self._remember is not None:
            await self._remember(changes)

    async def remember_file(self, task_id: str, changes: dict[str, Any]) -> None:
        """Journal one file's remote facts (its blob, its MD5, uploaded or not)."""
        if self._remember_file is not None:
            await self._remember_file(task_id, changes)

    async def blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking call on the executor and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))


class Target(ABC):
    """A place where files get converted."""

    #: what the target selector and logs call it
    display_name: str = "target"
    #: how many conversions can run at once
    parallelism: int = 1
    #: worker threads the target's blocking calls need at most (the work is I/O)
    threads_needed: int = 8

    async def prepare(self, items: Sequence[WorkItem], ctx: RunContext) -> None:  # noqa: B027
        """Get ready: upload inputs, find or create nodes. Default: nothing to do."""

    @abstractmethod
    async def submit(self, items: Sequence[WorkItem], ctx: RunContext) -> None:
        """Start converting these items (they become tasks with item.task_id)."""

    @abstractmethod
    async def poll(self, ctx: RunContext) -> TargetStatus:
        """The current state of nodes and tasks; cheap enough to call every poll_interval."""

    def poll_interval(self, changed: bool) -> float:
        """Seconds until the next poll; `changed` says whether the last poll saw news."""
        return 0.25

    async def fetch(self, item: WorkItem, ctx: RunContext) -> None:  # noqa: B027
        """Make item.part_path hold the finished MP3 (download it; local: already there)."""

    async def release(self, item: WorkItem, ctx: RunContext) -> None:  # noqa: B027
        """The item's MP3 is safely in place: its remote input/output may go."""

    @abstractmethod
    async def cleanup(self, ctx: RunContext, cancelled: bool) -> None:
        """Stop whatever still runs and remove what the run left behind (per user's choices)."""

    def facts(self) -> dict[str, Any]:
        """What the target measured for the estimator: pool start, nodes and their times.

        Plain data: {"pool_created": bool, "pool_ready_s": float | None, "nodes": [{node_id,
        is_spot, allocated_at, left_at}]} (times as time.time() seconds).
        """
        return {}

    async def pause(self, ctx: RunContext) -> None:  # noqa: B027
        """Start no new conversion (running ones finish) until `unpause`."""

    async def unpause(self, ctx: RunContext) -> None:  # noqa: B027
        """Start conversions again after `pause`."""
