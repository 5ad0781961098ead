"""The run: one asyncio coroutine that takes probed inputs to checked MP3s on any target.

The CLI and the window both call `Run(...).execute()`. Blocking work (checking
outputs, placing them, the target's SDK calls) goes to the executor passed in; the
coroutine itself only decides and reports. Every change of a file's state goes to
the journal first (core.journal), so a run killed at any moment is resumed or taken
over without redoing or duplicating anything. Progress leaves through two plain
callbacks, `on_snapshot` (a frozen RunSnapshot, throttled) and `on_log` (a line in
plain words).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from batchgui.core import awake, naming
from batchgui.core.drills import kill_point
from batchgui.core.file_times import FileTiming, run_figures
from batchgui.core.finish import Finisher
from batchgui.core.journal import (
    CANCELLED,
    DONE,
    FAILED,
    Journal,
    data_dir,
)
from batchgui.core.liveness import RunLock
from batchgui.core.models import (
    FileOutcome,
    FileStatus,
    RunResult,
    RunSnapshot,
    RunSpec,
    Stage,
    TargetStatus,
    TaskState,
)
from batchgui.core.outputs import (
    remove,
)
from batchgui.core.resume import remote_left
from batchgui.core.run_files import Board, RunFile, snapshot_of
from batchgui.core.run_plan import RunPlanning
from batchgui.core.target import (
    CancelToken,
    RunCancelled,
    RunContext,
    Target,
    TargetError,
    WorkItem,
)
from batchgui.i18n import N_, Reason, _, tr, trn, why

log = logging.getLogger(__name__)



PAUSED_WORDS = N_("Paused: files being converted finish, no new file starts")

#: One problem, one message. A problem that stops the whole run (a TargetError: a wrong
#: key, a start task that fails, an output folder that can't be written) is said once, as
#: the run's last word: the last log line, the final snapshot's message and
#: RunResult.error carry the same sentence, and neither the target nor the run logs it on
#: the way. Each file it left unfinished gets this short reason (and
#: FileOutcome.run_stopped), so a summary lists those files once, under one heading,
#: instead of repeating the sentence per file.
RUN_STOPPED_CODE = "run_stopped"


class RunBusy(Exception):
    """The run is already going in another window or command."""


class Run(RunPlanning):
    """One conversion run. Create, then `await execute()`; cancel through `cancel`.

    `resuming=True` continues the journaled run `run_id` (same job, same outputs):
    the files the journal has as finished stay finished, the rest is done now.
    """

    def __init__(
        self,
        spec: RunSpec,
        target: Target,
        executor: Executor,
        *,
        cancel: CancelToken | None = None,
        on_snapshot: Callable[[RunSnapshot], None] | None = None,
        on_log: Callable[[str], None] | None = None,
        journal: Journal | None = None,
        run_id: str | None = None,
        resuming: bool = False,
        snapshot_interval: float = 0.25,
    ) -> None:
        self.spec = spec
        self.target = target
        self.executor = executor
        self.cancel = cancel or CancelToken()
        self.run_id = run_id or naming.new_run_id()
        self.journal = journal
        self.resuming = resuming
        self._on_snapshot = on_snapshot or (lambda snapshot: None)
        self._on_log = on_log or (lambda line: None)
        self._snapshot_interval = snapshot_interval
        self._stage = Stage.PROBING
        self._message = ""
        self._nodes: tuple[Any, ...] = ()
        self._started = time.monotonic()
        self._convert_started: float | None = None
        self._last_emit = 0.0
        self._error: Reason | None = None
        self._stopped: set[str] = set()  # task ids the run's stop left unfinished
        self._paused = False
        self._submitted = False  # the target has been given the work (pause goes to it)
        #: resuming a run that was paused when it stopped: stay paused (the window, where
        #: Continue is a button away) or go on (the command line)
        self.keep_pause = True
        self.board = Board()
        self._files = [
            RunFile(item, naming.task_id_for(i), FileStatus.READY, self.board)
            for i, item in enumerate(spec.inputs)
        ]
        self._sent_complete = False  # the first snapshot carries every file
        #: figures for the estimator (planning.record_outcome): transfers and their times
        self.measures: dict[str, float] = {"upload_seconds": 0.0, "download_seconds": 0.0,
                                           "bytes_downloaded": 0.0}
        #: kept in the journal beside the outcome (e.g. the estimate shown before the run)
        self.extra_stats: dict[str, Any] = {}
        self._by_task = {f.task_id: f for f in self._files}
        self._finisher: Finisher | None = None  # made in the run's loop
        self._journal_thread: ThreadPoolExecutor | None = None
        self._lock = RunLock(journal.locks_dir if journal else data_dir() / "locks", self.run_id)
        self.ctx = RunContext(
            self.run_id,
            executor,
            self.cancel,
            log=self.log,
            set_stage=self._set_stage,
            report_transfer=self._on_transfer,
            notify=self._notify,
            remember=self._remember,
            remember_file=self._remember_file,
        )
        self._wake: asyncio.Event | None = None
        self._poll_now = False  # the target has news (ctx.notify)
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- reporting -------------------------------------------------------------------------

    def log(self, line: str) -> None:
        log.info("%s: %s", self.run_id, line)
        try:
            self._on_log(line)
        except Exception:  # a broken listener must not break the run
            log.exception("log listener failed")

    def _set_stage(self, stage: Stage, message: str = "") -> None:
        self._stage = stage
        self._message = message
        if message:
            self.log(message)
        self._emit(force=True)

    def _notify(self) -> None:
        """Poll the target now (it has news); safe to call from any thread."""
        self._poll_now = True
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def file_finished(self) -> None:
        """A file's finishing ended (on the run's loop): if it was the last, the run ends now,
        without waiting for the next poll; else nothing (on Azure a poll per finished file
        was most of a big run's polls)."""
        if self._wake is not None:
            self._wake.set()

    def _on_transfer(self, task_id: str, done: int, total: int) -> None:
        file = self._by_task.get(task_id)
        if file is None:
            return
        if file.status in (FileStatus.READY, FileStatus.UPLOADING):
            old_done, old_total = file.transfer
            self.board.bytes_done += done - old_done
            self.board.bytes_total += total - old_total
        file.transfer = (done, total)
        if file.status in (FileStatus.READY, FileStatus.UPLOADING):
            if done >= total:  # for the estimator: the run's start -> the last file up
                self.measures["uploads_done"] = time.monotonic() - self._started
            file.set(FileStatus.UPLOADING if done < total else FileStatus.QUEUED)
        file.touch()
        self._emit()

    def snapshot(self) -> RunSnapshot:
        """The run now; carries the files that changed since the last snapshot (all, first)."""
        complete = not self._sent_complete
        changed = list(self._files) if complete else self.board.take_dirty()
        if complete:
            self.board.take_dirty()
            self._sent_complete = True
        return snapshot_of(
            self.run_id, self._stage, self._message, self.board, changed, self._nodes,
            files_total=len(self._files), complete=complete, started=self._started,
            convert_started=self._convert_started, paused=self._paused,
        )

    def _emit(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_emit < self._snapshot_interval:
            return
        self._last_emit = now
        try:
            self._on_snapshot(self.snapshot())
        except Exception:  # a broken listener must not break the run
            log.exception("snapshot listener failed")

    # -- the journal -----------------------------------------------------------------------

    async def _j(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One journal write, on the journal's own thread, awaited before going on."""
        if self.journal is None:
            return None
        assert self._journal_thread is not None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._journal_thread, lambda: fn(*args, **kwargs))

    async def _file_changed(self, f: RunFile, **columns: Any) -> None:
        await self._j(self.journal.update_file if self.journal else _noop, self.run_id,
                      f.task_id, **columns)

    async def _remember(self, changes: dict[str, Any]) -> None:
        if self.journal is not None:
            await self._j(self.journal.update_target_state, self.run_id, changes)

    async def _remember_file(self, task_id: str, remote: dict[str, Any]) -> None:
        f = self._by_task.get(task_id)
        if f is None:
            return
        f.remote = {**f.remote, **remote}
        await self._file_changed(f, remote=f.remote)

    # -- the run ---------------------------------------------------------------------------

    async def execute(self) -> RunResult:
        """Convert everything that can be converted; never raises for a file's problem."""
        async with awake.stay_awake(self.ctx.blocking):  # media: no sleep while the run goes on
            return await self._execute()

    async def _execute(self) -> RunResult:
        items: list[WorkItem] = []
        self._started = time.monotonic()  # the run's clock starts now, not when it was made
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self.journal is not None:
            self._journal_thread = ThreadPoolExecutor(1, thread_name_prefix="journal")
        try:
            if not self._lock.acquire():
                raise RunBusy()
            items = await self._plan()
            if items:
                self.cancel.raise_if_cancelled()
                prepared = time.monotonic()
                await self.target.prepare(items, self.ctx)
                self.measures["upload_seconds"] = time.monotonic() - prepared
                self.cancel.raise_if_cancelled()
                for f in self._files:
                    if f.item is not None and f.status in (FileStatus.READY, FileStatus.UPLOADING):
                        f.set(FileStatus.QUEUED)
                self._submitted = True
                if self._paused:  # paused before (or, resumed, when it was killed)
                    await self.target.pause(self.ctx)
                    self.log(_(PAUSED_WORDS))
                await self.target.submit(items, self.ctx)
                self._convert_started = time.monotonic()
                self._set_stage(Stage.MONITORING, trn(
                    "Converting {n} file on {target}", "Converting {n} files on {target}",
                    len(items), target=self.target.display_name))
                await self._monitor()
            self._stage = Stage.CANCELLED if self.cancel.cancelled else Stage.DONE
        except RunBusy:
            self._error = why("run_busy", "This run is already going in another BatchGUI "
                              "window or command.")
            self._stage = Stage.FAILED
            self.log(self._error.text)
            return self.result()
        except RunCancelled:
            self._stage = Stage.CANCELLED
        except TargetError as exc:  # said once, as the run's last word (_finish_run)
            self._error = exc.reason
            self._stage = Stage.FAILED
        except Exception as exc:  # a bug must not leave processes or blobs behind
            log.exception("run failed")
            self._error = why("unexpected_error", "Something went wrong: {error}",
                              error=str(exc))
            self._stage = Stage.FAILED
        finally:
            if self._lock.held:
                await self._finish_run(items)
                self._lock.release()
            if self._journal_thread is not None:
                self._journal_thread.shutdown(wait=False)  # its last job was awaited
        return self.result()

    async def _monitor(self) -> None:
        self._finisher = finisher = Finisher(self)
        while True:
            if self.cancel.cancelled:
                raise RunCancelled()
            status = await self.target.poll(self.ctx)
            changed = self._apply(status, finisher)
            if status.message and status.message != self._message:
                self._message = status.message
                changed = True
            self._emit(force=changed)
            if await self._rest(self.target.poll_interval(changed), finisher):
                return

    async def _rest(self, interval: float, finisher: Finisher) -> bool:
        """Wait for the next poll: `interval`, or less when the target has news. True when
        every file is finished (the run ends)."""
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + interval
        while True:
            if self.board.unfinished == 0 and not finisher.pending:
                return True
            left = deadline - loop.time()
            if self._poll_now or self.cancel.cancelled or left <= 0:
                break
            try:
                await asyncio.wait_for(self._wake.wait(), left)
            except TimeoutError:
                break
            self._wake.clear()
        self._poll_now = False
        self._wake.clear()
        return False

    def _apply(self, status: TargetStatus, finisher: Finisher) -> bool:
        """Take the target's news (tasks that changed); start finishing completed ones."""
        changed = status.nodes != self._nodes
        self._nodes = status.nodes
        for task_id, task in status.tasks.items():
            f = self._by_task.get(task_id)
            if f is None or task == f.task:
                continue
            f.task = task
            f.touch()
            changed = True
            if f.status.is_final or f.finishing or f.item is None:
                continue
            if task.state is TaskState.COMPLETED:
                finisher.start(f)
            elif task.state in (TaskState.RUNNING, TaskState.PREPARING):
                f.set(FileStatus.CONVERTING)
            elif task.state is TaskState.ACTIVE and f.status is not FileStatus.UPLOADING:
                f.set(FileStatus.QUEUED)
        return changed

    # -- pause -----------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    async def set_paused(self, paused: bool) -> None:
        """Pause: running files finish, no new one starts. Journaled, so a crash keeps it."""
        if paused == self._paused:
            return
        self._paused = paused
        await self._j(self.journal.set_paused if self.journal else _noop, self.run_id, paused)
        kill_point("paused")
        if self._submitted:
            if paused:
                await self.target.pause(self.ctx)
            else:
                await self.target.unpause(self.ctx)
        self.log(_(PAUSED_WORDS) if paused else _("Continuing"))
        self._emit(force=True)
        self._notify()

    # -- the end ---------------------------------------------------------------------------

    async def _finish_run(self, items: list[WorkItem]) -> None:
        final_stage = self._stage
        cancelled = final_stage is Stage.CANCELLED
        stopped_early = cancelled or self._error is not None
        if self._finisher is not None:  # owned: cancelled or awaited before the last word
            await self._finisher.end(stopped_early)
        if items or (self.resuming and remote_left(self.ctx.saved)):
            self._stage, self._message = Stage.CLEANUP, _("Cleaning up")
            self._emit(force=True)
            try:
                await asyncio.shield(self.target.cleanup(self.ctx, stopped_early))
            except Exception as exc:  # cleanup problems are reported, not raised
                log.exception("cleanup failed")
                self.log(tr("Cleaning up did not finish: {error}", error=str(exc)))
        last: list[tuple[str, dict[str, Any]]] = []
        for f in self._files:
            if f.item is not None and f.status is not FileStatus.DONE:
                await self.ctx.blocking(remove, f.item.part_path)
            if not f.status.is_final:
                if cancelled:
                    f.set(FileStatus.CANCELLED, why("cancelled", "cancelled before it was done"))
                else:
                    f.set(FileStatus.FAILED, why(RUN_STOPPED_CODE, "not converted: the run "
                                                 "stopped before this file was done"))
                    self._stopped.add(f.task_id)
            if not f.journaled_final:
                last.append((f.task_id, {"status": f.status.value, "reason": f.reason,
                                         "output": f.output}))
        self._stage = final_stage
        done = sum(1 for f in self._files if f.status is FileStatus.DONE)
        total = len(self._files)
        if final_stage is Stage.DONE:
            self._message = trn("Done: {done} of {n} file converted",
                                "Done: {done} of {n} files converted", total, done=done)
        elif final_stage is Stage.CANCELLED:
            self._message = trn("Cancelled: {done} of {n} file was done",
                                "Cancelled: {done} of {n} files were done", total, done=done)
        else:
            self._message = tr("The run stopped: {reason}",
                               reason=self._error or _("something went wrong"))
        self.log(self._message)
        kill_point("ending")
        if self.journal is not None:
            state = {Stage.DONE: DONE, Stage.CANCELLED: CANCELLED}.get(final_stage, FAILED)
            try:
                await self._j(self.journal.update_files, self.run_id, last)
                await self._j(self.journal.set_run_state, self.run_id, state, error=self._error)
            except Exception:  # the journal's disk may be the problem; the run still ends
                log.exception("could not write the run's end to the journal")
        self.measures["ended"] = time.monotonic() - self._started  # for the estimator
        self._emit(force=True)

    def measured(self) -> dict[str, Any]:
        """What this run measured, for the estimator (see planning.record_outcome).

        Besides the totals: each converted file's own task time (core.file_times: up to
        200 samples, the slots' waits, when the first and last file ran) and, for the
        uploads, the run's start -> the last file up (as the estimate counts them).
        """
        done = [f for f in self._files if f.status is FileStatus.DONE and f.item is not None]
        converting = 0.0
        timings: list[FileTiming] = []
        for f in done:
            t = f.task
            if t is not None and t.started_at and t.ended_at:
                converting += max(0.0, t.ended_at - t.started_at)
                timings.append(FileTiming(f.input.duration_s or 0.0, f.input.size,
                                          t.started_at, t.ended_at, t.node_id,
                                          f.transfer[1]))
        seconds = self.measures.get("ended") or time.monotonic() - self._started
        ended_at = time.time() - (time.monotonic() - self._started - seconds)
        uploaded = self.measures.get("uploads_done") or self.measures["upload_seconds"]
        return {
            "files_converted": len(done),
            "media_seconds": sum(f.input.duration_s or 0.0 for f in done),
            "conversion_seconds": converting,
            "bytes_uploaded": self.board.bytes_total,
            "upload_seconds": uploaded if self.board.bytes_total else 0.0,
            "bytes_downloaded": int(self.measures["bytes_downloaded"]),
            "download_seconds": self.measures["download_seconds"],
            "seconds": seconds,
            "started_at": ended_at - seconds,
            "ended_at": ended_at,
            **run_figures(timings, ended_at - seconds),
        }

    def result(self) -> RunResult:
        return RunResult(
            run_id=self.run_id,
            outcomes=tuple(
                FileOutcome(
                    input=f.input.path,
                    output=f.output if f.status is FileStatus.DONE else None,
                    status=f.status,
                    reason=f.reason,
                    duration_s=f.output_duration if f.status is FileStatus.DONE
                    else f.input.duration_s,
                    run_stopped=f.task_id in self._stopped,
                )
                for f in self._files
            ),
            cancelled=self._stage is Stage.CANCELLED,
            error=self._error,
        )


def _noop(*args: Any, **kwargs: Any) -> None:
    return None
