"""A target that does its work in a child process: the window's Azure runs.

Why: the Azure SDK does a lot of Python for every call (building requests, decoding
answers). In the window's process those calls ran on worker threads and held the GIL,
which the window's own thread needs for every event and every cell it paints: on a
2,000-file run the window waited up to 100+ ms at a time (bench_big_run). In a child
process the SDK has a GIL of its own, and the window's process keeps only the run
itself (journal, finishing MP3s, the snapshots).

The parent keeps the real target object for what the run and the planner read from it
(name, pool, account, parallelism); the child builds its own copy from `recipe()` and
does every call. Between them a `multiprocessing` pipe (the stdlib's, which also works
in the bundle) carries pickled tuples:

- parent -> child: ("call", id, method, args), ("answer", id, ok, value), ("cancel",)
- child -> parent: ("done", id, ok, value, facts, intervals), ("ask", id, what, args)
  for the journal (remember, remember_file) and Entra tokens, ("log", text),
  ("stage", stage, text), ("transfer", task, done, total), ("notify",)

The journal stays in the parent and is written BEFORE the child's side effect, as
in-process: the child waits for the answer to its "ask". The child ends with the app:
when the parent's end of the pipe closes (however the app ended) the child's read fails
and it exits at once; what it had started is in the journal, as after any crash.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import itertools
import logging
import multiprocessing
import os
import pickle
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from batchgui.core.models import TargetStatus
from batchgui.core.target import CancelToken, RunContext, Target, TargetError, WorkItem
from batchgui.i18n import why

log = logging.getLogger(__name__)

#: the Target methods the child answers
CALLS = frozenset({"prepare", "submit", "poll", "fetch", "release", "cleanup", "pause",
                   "unpause"})


def _lost() -> TargetError:
    return TargetError(why(
        "helper_lost", "The part of BatchGUI that talks to Azure stopped unexpectedly. The "
        "files already converted are in the output folder; convert again to do the rest."))


class TokenFromParent:
    """The child's stand-in for an Entra credential: asks the parent for each token."""

    def __init__(self) -> None:
        self.ask: Callable[[str, tuple[Any, ...]], Any] | None = None

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        assert self.ask is not None
        return self.ask("token", (scopes, kwargs))

    def __getstate__(self) -> dict[str, Any]:
        return {"ask": None}


class ChildProcessTarget(Target):
    """`inner`'s work, done by a copy of it in a child process."""

    threads_needed = 2  # the parent only waits for answers and asks the keyring for tokens

    def __init__(self, inner: Target) -> None:
        self.inner = inner
        self.display_name = inner.display_name
        self.parallelism = inner.parallelism
        self._conn: Connection | None = None
        self._process: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ctx: RunContext | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._facts: dict[str, Any] = {}
        self._intervals = (inner.poll_interval(True), inner.poll_interval(False))
        self._gone = False
        self._send_lock = threading.Lock()
        #: what the journal holds of the run's remote things, for the helper (again if one
        #: is lost: the next one cleans up from it)
        self._saved: dict[str, Any] = {}
        self._saved_files: dict[str, dict[str, Any]] = {}

    def __getattr__(self, name: str) -> Any:  # account, pool ... for the planner
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    # -- Target ----------------------------------------------------------------------------

    async def prepare(self, items: Sequence[WorkItem], ctx: RunContext) -> None:
        await self._call(ctx, "prepare", list(items))

    async def submit(self, items: Sequence[WorkItem], ctx: RunContext) -> None:
        await self._call(ctx, "submit", list(items))

    async def poll(self, ctx: RunContext) -> TargetStatus:
        status: TargetStatus = await self._call(ctx, "poll")
        return status

    def poll_interval(self, changed: bool) -> float:
        return self._intervals[0 if changed else 1]

    async def fetch(self, item: WorkItem, ctx: RunContext) -> None:
        await self._call(ctx, "fetch", item)

    async def release(self, item: WorkItem, ctx: RunContext) -> None:
        await self._call(ctx, "release", item)

    async def pause(self, ctx: RunContext) -> None:
        await self._call(ctx, "pause")

    async def unpause(self, ctx: RunContext) -> None:
        await self._call(ctx, "unpause")

    async def cleanup(self, ctx: RunContext, cancelled: bool) -> None:
        if self._conn is None:  # never started: nothing was made
            return
        if self._gone:  # said once already: a new helper removes what the journal says was made
            await ctx.blocking(self.close)
            self._conn, self._process, self._gone = None, None, False
            await self._start(ctx)
        try:
            await self._call(ctx, "cleanup", cancelled)
        finally:
            await ctx.blocking(self.close)

    def facts(self) -> dict[str, Any]:
        return dict(self._facts)

    @property
    def helper_pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def helper_alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def close(self) -> None:
        """End the child (it has nothing of its own to lose) and wait for it."""
        if self._conn is not None:
            self._gone = True
            self._conn.close()
        if self._process is not None:
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()

    # -- the pipe --------------------------------------------------------------------------

    async def _call(self, ctx: RunContext, method: str, *args: Any) -> Any:
        if self._conn is None:
            self._saved = dict(ctx.saved)
            self._saved_files = {task: dict(facts) for task, facts in ctx.saved_files.items()}
            await self._start(ctx)
        if self._gone:
            raise _lost()
        assert self._loop is not None
        call_id = next(self._ids)
        answer = self._loop.create_future()
        self._pending[call_id] = answer
        try:
            self._send(("call", call_id, method, args))
            return await answer
        finally:
            self._pending.pop(call_id, None)

    async def _start(self, ctx: RunContext) -> None:
        self._loop = asyncio.get_running_loop()
        self._ctx = ctx
        recipe = recipe_of(self.inner)
        spawn = multiprocessing.get_context("spawn")
        ours, theirs = spawn.Pipe()
        process = spawn.Process(target=serve, name="batchgui-azure", daemon=True, args=(
            theirs, recipe, ctx.run_id, self._saved, self._saved_files))
        await ctx.blocking(process.start)  # a new interpreter: not on the window's thread
        theirs.close()
        self._conn, self._process = ours, process
        threading.Thread(target=self._read, name="azure-answers", daemon=True).start()
        loop = self._loop

        def on_cancel() -> None:
            loop.call_soon_threadsafe(self._send, ("cancel",))

        ctx.cancel.on_cancel(on_cancel)

    def _send(self, message: tuple[Any, ...]) -> None:
        if self._gone or self._conn is None:
            return
        try:
            with self._send_lock:
                self._conn.send(message)
        except (OSError, ValueError):
            self._lose()

    def _read(self) -> None:
        """The answers' thread: each message goes to the loop."""
        assert self._conn is not None and self._loop is not None
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError, pickle.UnpicklingError):
                if not self._gone:
                    self._loop.call_soon_threadsafe(self._lose)
                return
            self._loop.call_soon_threadsafe(self._on_message, message)

    def _lose(self) -> None:
        if self._gone:
            return
        self._gone = True
        log.warning("the Azure helper process ended")
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(_lost())

    def _on_message(self, message: tuple[Any, ...]) -> None:
        ctx = self._ctx
        assert ctx is not None
        kind = message[0]
        if kind == "done":
            _, call_id, ok, value, self._facts, self._intervals = message
            answer = self._pending.get(call_id)
            if answer is not None and not answer.done():
                (answer.set_result if ok else answer.set_exception)(value)
        elif kind == "ask":
            asyncio.ensure_future(self._answer(ctx, *message[1:]))
        elif kind == "log":
            ctx.log(message[1])
        elif kind == "stage":
            ctx.set_stage(message[1], message[2])
        elif kind == "transfer":
            ctx.report_transfer(*message[1:])
        elif kind == "notify":
            ctx.notify()

    async def _answer(self, ctx: RunContext, ask_id: int, what: str, args: tuple[Any, ...]
                      ) -> None:
        try:
            value = None
            if what == "remember":  # journaled, and kept for a helper that may follow
                await ctx.remember(*args)
                self._saved.update(args[0])
            elif what == "remember_file":
                await ctx.remember_file(*args)
                self._saved_files.setdefault(args[0], {}).update(args[1])
            else:  # an Entra token, from the credential the parent signed in with
                scopes, kwargs = args
                credential = self.inner.account.credential  # type: ignore[attr-defined]
                value = await ctx.blocking(credential.get_token, *scopes, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the child raises it where it asked
            self._send(("answer", ask_id, False, _picklable(exc)))
        else:
            self._send(("answer", ask_id, True, value))


def recipe_of(target: Target) -> Callable[[], Target]:
    """How the child makes its copy of `target` (which says so in `made_with`): the same
    arguments, except a signed-in credential, which stays here and lends its tokens."""
    args, kwargs = target.made_with  # type: ignore[attr-defined]
    account = args[0]
    if getattr(account, "credential", None) is not None:
        args = (dataclasses.replace(account, credential=TokenFromParent()), *args[1:])
    return functools.partial(type(target), *args, **kwargs)


def can_run_in_child(target: Target) -> bool:
    return hasattr(target, "made_with")


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.dumps(exc)
    except Exception:  # noqa: BLE001 - SDK errors may hold sockets, locks ...
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


# -- the child --------------------------------------------------------------------------------


def serve(conn: Connection, recipe: Callable[[], Target], run_id: str,
          saved: dict[str, Any], saved_files: dict[str, dict[str, Any]]) -> None:
    """The child's whole life: build the target, answer calls until the pipe closes."""
    Child(conn, recipe(), run_id, saved, saved_files).run()


class Child:
    def __init__(self, conn: Connection, target: Target, run_id: str, saved: dict[str, Any],
                 saved_files: dict[str, dict[str, Any]]) -> None:
        self.conn = conn
        self.target = target
        self.loop = asyncio.new_event_loop()
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.waiting: dict[int, asyncio.Future[Any]] = {}  # ask id -> its answer
        self.cancel = CancelToken()
        self.executor = ThreadPoolExecutor(max(1, target.threads_needed),
                                           thread_name_prefix="azure")
        self.ctx = RunContext(
            run_id, self.executor, self.cancel,
            log=lambda text: self.send(("log", text)),
            set_stage=lambda stage, text: self.send(("stage", stage, text)),
            report_transfer=lambda task, done, total: self.send(("transfer", task, done, total)),
            notify=lambda: self.send(("notify",)),
            remember=lambda changes: self.ask_async("remember", (changes,)),
            remember_file=lambda task, changes: self.ask_async("remember_file",
                                                               (task, changes)))
        self.ctx.saved, self.ctx.saved_files = saved, saved_files
        credential = getattr(getattr(target, "account", None), "credential", None)
        if isinstance(credential, TokenFromParent):
            credential.ask = self.ask_blocking

    def run(self) -> None:
        threading.Thread(target=self.read, name="calls", daemon=True).start()
        self.loop.run_forever()

    def send(self, message: tuple[Any, ...]) -> None:
        try:
            with self.lock:
                self.conn.send(message)
        except (OSError, ValueError):  # the app is gone
            os._exit(0)

    def read(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):  # the app closed its end (or ended): so do we
                os._exit(0)
            self.loop.call_soon_threadsafe(self.on_message, message)

    def on_message(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "call":
            _, call_id, method, args = message
            self.loop.create_task(self.do(call_id, method, args))
        elif kind == "answer":
            _, ask_id, ok, value = message
            waiter = self.waiting.pop(ask_id, None)
            if waiter is not None and not waiter.done():
                (waiter.set_result if ok else waiter.set_exception)(value)
        elif kind == "cancel":
            self.cancel.cancel()

    async def do(self, call_id: int, method: str, args: tuple[Any, ...]) -> None:
        assert method in CALLS, method
        try:
            if method == "cleanup":  # cleanup(ctx, cancelled); the others (..., ctx)
                value = None
                await self.target.cleanup(self.ctx, *args)
            else:
                value = await getattr(self.target, method)(*args, self.ctx)
            ok = True
        except BaseException as exc:  # noqa: BLE001 - it is raised in the parent
            value, ok = _picklable(exc), False
        intervals = (self.target.poll_interval(True), self.target.poll_interval(False))
        self.send(("done", call_id, ok, value, self.target.facts(), intervals))

    async def ask_async(self, what: str, args: tuple[Any, ...]) -> Any:
        ask_id = next(self.ids)
        waiter = self.loop.create_future()
        self.waiting[ask_id] = waiter
        self.send(("ask", ask_id, what, args))
        return await waiter

    def ask_blocking(self, what: str, args: tuple[Any, ...]) -> Any:
        """From a worker thread (the SDK asks its credential there)."""
        return asyncio.run_coroutine_threadsafe(self.ask_async(what, args), self.loop).result()
