"""The one way the window runs blocking work off the GUI thread, and hears how it ended.

Probing dropped files, listing targets, reading run records, saving settings, keyring
calls and account checks all go through one `Workers`, owned by the RunController and
lent to the accounts dialog. Two ways to use it, as in Picard's `run_task`:

- `await workers.run(func, *args)` from a coroutine: the result, or func's exception;
- `workers.run_task(func, next_func, what=...)`: func on a worker, then
  `next_func(result, error)` on the GUI thread. Without a next_func an error is not
  lost: it leaves as `job_failed` in plain words, for the log.

Ordinary jobs share a small pool; closing waits for the ones already handed over (a
settings save must finish). A job that may wait on a person (an Entra ID sign-in waits
up to 15 minutes for the user to enter a code, and azure-identity cannot be interrupted)
runs with `abandon_at_exit=True` on a thread of its own that quitting does not wait for:
its result is simply dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QObject, Signal

from batchgui.i18n import tr
from batchgui.ui.event_loop import asyncio_loop

if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger(__name__)

T = TypeVar("T")

#: threads of the pool: probing, keyring and small files; I/O-bound, so a few are plenty
POOL_THREADS = 4


class WorkersClosed(Exception):
    """A job was handed over after close(): the window is going away."""


class Workers(QObject):
    """A bounded pool of worker threads whose results and failures come back to the GUI thread.

    Signals:
        job_failed(str): a job without a next_func failed; one plain sentence for the log.
    """

    job_failed = Signal(str)

    def __init__(self, parent: QObject | None = None, threads: int = POOL_THREADS) -> None:
        super().__init__(parent)
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None  # made at the first job, after start-up
        self._pending: set[Future[Any]] = set()
        self._abandoned: set[asyncio.Future[Any]] = set()  # waits close() lets go of
        self._lock = threading.Lock()
        self._closed = False

    @property
    def pending(self) -> int:
        """Jobs handed over and not finished yet."""
        with self._lock:
            return len(self._pending)

    @property
    def closed(self) -> bool:
        return self._closed

    def submit(self, func: Callable[[], T], *, abandon_at_exit: bool = False) -> Future[T]:
        """Start func on a worker thread (the low-level form of run and run_task)."""
        if self._closed:
            raise WorkersClosed("the window is closing")
        from concurrent.futures import Future, ThreadPoolExecutor

        if abandon_at_exit:
            future: Future[T] = Future()
            threading.Thread(target=_fill, args=(future, func), name="batchgui-waiting",
                             daemon=True).start()
        else:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=self._threads,
                                                    thread_name_prefix="batchgui-worker")
            future = self._pool.submit(func)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[Any]) -> None:  # on any thread: no Qt here
        with self._lock:
            self._pending.discard(future)

    async def run(self, func: Callable[..., T], *args: Any, abandon_at_exit: bool = False) -> T:
        """func(*args) on a worker thread; its result, or its exception raised here."""
        future = self.submit(lambda: func(*args), abandon_at_exit=abandon_at_exit)
        return await self._wait_for(future, abandon_at_exit)

    def _wait_for(self, future: Future[T], abandon_at_exit: bool) -> asyncio.Future[T]:
        import asyncio  # loaded with the loop (ui/event_loop.py: not before the first frame)

        waiting = asyncio.wrap_future(future, loop=asyncio_loop())
        if abandon_at_exit:
            self._abandoned.add(waiting)
            waiting.add_done_callback(self._abandoned.discard)
        return waiting

    def run_task(
        self,
        func: Callable[[], T],
        next_func: Callable[[T | None, BaseException | None], None] | None = None,
        *,
        what: str,
        abandon_at_exit: bool = False,
    ) -> None:
        """func() on a worker, then next_func(result, error) on the GUI thread.

        `what` names the job in a failure's sentence ("saving the window's settings").
        """
        future = self.submit(func, abandon_at_exit=abandon_at_exit)
        waiting = self._wait_for(future, abandon_at_exit)
        waiting.add_done_callback(lambda done: self._finish(done, next_func, what))

    def _finish(
        self,
        done: asyncio.Future[T],
        next_func: Callable[[T | None, BaseException | None], None] | None,
        what: str,
    ) -> None:
        if done.cancelled():
            return
        error = done.exception()
        if next_func is not None:
            try:
                next_func(None if error else done.result(), error)
            except Exception as exc:  # a bug in the follow-up must still be seen
                log.exception("after %s", what)
                self._report(what, exc)
            return
        if error is not None:
            log.warning("%s failed: %s", what, error)
            self._report(what, error)

    def _report(self, what: str, error: BaseException) -> None:
        if not self._closed:
            self.job_failed.emit(tr("Something went wrong while {what}: {error}", what=what,
                                    error=str(error)))

    def close(self, wait: bool = True) -> None:
        """No new jobs. With `wait`, the pool's jobs already handed over finish first (a
        settings save is written); jobs that may wait on a person are not waited for."""
        self._closed = True
        for waiting in list(self._abandoned):  # their threads end with the process
            waiting.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=wait)


def _fill(future: Future[T], func: Callable[[], T]) -> None:
    """Run func for a future, on a thread of its own."""
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = func()
    except BaseException as exc:
        future.set_exception(exc)
    else:
        future.set_result(result)
