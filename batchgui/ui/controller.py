"""RunController: the one place where the window meets the core.

It runs `core.run.Run` as an asyncio task on the qasync loop (the GUI thread),
with a `qasync.QThreadExecutor` for the run's blocking work, exactly as the CLI does
with a ThreadPoolExecutor. The run's callbacks arrive on the loop thread and
leave as Qt signals carrying frozen values. Probing dropped files and folders,
listing targets, run records and saving settings go through `workers` (ui/workers.py),
which the accounts dialog borrows too; a job's failure reaches the log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QObject, Signal

from batchgui.core.models import InputFile, RunResult, RunSnapshot, RunSpec
from batchgui.i18n import _, tr, why
from batchgui.ui import settings as ui_settings
from batchgui.ui.event_loop import asyncio_loop
from batchgui.ui.workers import Workers, WorkersClosed

if TYPE_CHECKING:
    import asyncio

    from qasync import QThreadExecutor

    from batchgui.core.journal import Journal
    from batchgui.core.resume import ResumableRun
    from batchgui.core.target import CancelToken, Target

# The core's heavier modules (mutagen for probing, the run, the targets) are imported on
# first use, on a worker thread where possible: the window shows sooner that way. So are
# asyncio and qasync (ui/event_loop.py): the first paint needs no coroutine.

log = logging.getLogger(__name__)

T = TypeVar("T")

#: files probed per worker call, and at most how often the list grows while probing
PROBE_CHUNK = 64
PROBE_EMIT_INTERVAL = 0.2


def _find_inputs(paths: Sequence[Path]) -> list[tuple[Path, Path | None]]:
    from batchgui.core import media

    return media.find_inputs(paths)


def _probe_many(found: Sequence[tuple[Path, Path | None]]) -> list[InputFile]:
    from batchgui.core import media

    return [media.probe(path, root) for path, root in found]


#: worker threads for runs, whatever the pool size (the work is I/O); started once
RUN_THREADS = 12


def _open_journal(journal: Journal | None) -> Journal:
    from batchgui.core.journal import Journal

    return journal or Journal()


def _latest_unfinished(journal: Journal) -> ResumableRun | None:
    from batchgui.core.resume import latest_resumable

    return latest_resumable(journal)


def _resume_prepare(journal: Journal, run: ResumableRun) -> RunSpec:
    from batchgui.core.media import probe
    from batchgui.core.resume import resume_spec

    return resume_spec(journal, run.run_id, probe)


def _dismiss(journal: Journal, run: ResumableRun) -> None:
    from batchgui.core.resume import dismiss

    dismiss(journal, run.run_id)


def _available_targets() -> list[tuple[str, str]]:
    from batchgui.targets import registry

    return registry.available_targets()


def _make_target(name: str) -> Target:
    from batchgui.targets import registry

    return registry.make_target(name, None)


class RunController(QObject):
    """Drives runs and probing for the window; never touches widgets.

    Signals:
        inputs_probed(list[InputFile]): files from a drop or Add, probed (ok or rejected).
        probing_changed(int): drops/folders still being checked (0: all probed). An int,
            not a bool: PySide6 6.12 loses a reference to True/False on every Python emit.
        targets_listed(list[tuple[str, str]]): (name, label) of the targets that exist.
        run_started(RunSpec): a run began.
        snapshot_changed(RunSnapshot): the run's visible state, a few times a second.
        log_added(str): a line in plain words for the log panel.
        run_finished(RunResult): the run ended (done, cancelled or failed).
        unfinished_run_found(ResumableRun): a run the last session left half done.
        resume_prepared(RunSpec, ResumableRun): its files are probed again; ready to start.
        resume_failed(str): preparing the resume failed, in plain words.
        journal_opened(Journal): the run journal is open (once, soon after start).
        estimate_ready(int, object): the answer to estimate(spec, number): that number and
            a planning.Preview, or a plain sentence (str) when there is no estimate.
    """

    inputs_probed = Signal(list)
    probing_changed = Signal(int)
    targets_listed = Signal(list)
    run_started = Signal(object)
    snapshot_changed = Signal(object)
    log_added = Signal(str)
    run_finished = Signal(object)
    unfinished_run_found = Signal(object)
    resume_prepared = Signal(object, object)
    resume_failed = Signal(str)
    journal_opened = Signal(object)
    estimate_ready = Signal(int, object)

    def __init__(self, parent: QObject | None = None, journal: Journal | None = None) -> None:
        super().__init__(parent)
        self._journal = journal
        # small jobs: probing, target lists, settings; the run gets its own executor
        self.workers = Workers(self)
        self.workers.job_failed.connect(self.log_added)
        self._run_executor: QThreadExecutor | None = None  # kept for the next run
        self._io_open = True
        self._run_task: asyncio.Task[None] | None = None
        self._cancel: CancelToken | None = None
        self._jobs: set[asyncio.Future[object]] = set()
        self._probing = 0
        self._run: Any = None
        self.last_snapshot: RunSnapshot | None = None
        self.last_result: RunResult | None = None
        #: what the last run used on Azure, in words ("Used 30 node-minutes, about $0.04 at
        #: list price"), set before run_finished; None on this computer
        self.last_cost: str | None = None

    # -- state --------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """A run is going (including its cleanup after Cancel)."""
        return self._run_task is not None

    @property
    def pending_jobs(self) -> int:
        """Background jobs (probes, target lists, settings saves) not finished yet."""
        return len(self._jobs) + self.workers.pending

    @property
    def probing(self) -> bool:
        return self._probing > 0

    @property
    def cancelling(self) -> bool:
        return self._cancel is not None and self._cancel.cancelled

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> asyncio.Future[object]:
        task: asyncio.Future[object] = asyncio_loop().create_task(coro)
        self._jobs.add(task)
        task.add_done_callback(self._job_done)
        return task

    def _job_done(self, task: asyncio.Future[object]) -> None:
        self._jobs.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and not isinstance(error, WorkersClosed):
            log.error("background job failed", exc_info=error)
            if self._io_open:
                self.log_added.emit(tr("Something went wrong in the background: {error}",
                                       error=str(error)))

    async def _blocking(self, fn: Callable[..., T], *args: object) -> T:
        return await self.workers.run(fn, *args)

    # -- probing ------------------------------------------------------------------------------

    def add_paths(self, paths: Sequence[Path]) -> None:
        """Walk folders and probe files off the GUI thread; results come as inputs_probed."""
        if paths and self._io_open:
            self._spawn(self._probe(list(paths)))

    async def _probe(self, paths: list[Path]) -> None:
        self._probing += 1
        self.probing_changed.emit(self._probing)
        pending: list[InputFile] = []
        try:
            found = await self._blocking(_find_inputs, paths)
            if not found:
                self.log_added.emit(_("No video files (MP4, M4V, MOV) in what was dropped."))
            last_emit = time.monotonic()
            for start in range(0, len(found), PROBE_CHUNK):
                chunk = await self._blocking(_probe_many, found[start : start + PROBE_CHUNK])
                pending.extend(chunk)
                if time.monotonic() - last_emit >= PROBE_EMIT_INTERVAL:
                    self.inputs_probed.emit(pending)
                    pending, last_emit = [], time.monotonic()
        except WorkersClosed:  # the window is closing: nobody is left to tell
            return
        except Exception as exc:  # say so: dropped files must never vanish silently
            log.exception("checking dropped files failed")
            self.log_added.emit(tr(
                "Could not check all of the dropped files ({error}); the ones not listed were "
                "not added. Try adding them again.", error=type(exc).__name__ + ": " + str(exc)))
        finally:
            if pending and self._io_open:
                self.inputs_probed.emit(pending)
            self._probing -= 1
            self.probing_changed.emit(self._probing)

    # -- targets and settings -----------------------------------------------------------------

    def list_targets(self) -> None:
        """Ask which targets exist (accounts may need the disk or the keyring)."""
        if self._io_open:
            self._spawn(self._list_targets())

    async def _list_targets(self) -> None:
        try:
            targets = await self._blocking(_available_targets)
        except Exception as exc:  # a broken account list must not take the window down
            if not self._io_open:  # the window is closing: the workers are gone
                return
            log.warning("could not list targets: %s", exc)
            self.log_added.emit(tr("Could not list the Azure accounts: {error}", error=str(exc)))
            return
        self.targets_listed.emit(list(targets))

    def save_settings(self, values: ui_settings.UiSettings) -> None:
        """Write the settings on a worker thread; close_workers() waits for the last one."""
        if not self._io_open:
            return
        self.workers.run_task(lambda: ui_settings.save(values),
                              what=_("saving the window's settings"))

    # -- the estimate next to Convert ----------------------------------------------------------

    def estimate(self, spec: RunSpec, number: int) -> None:
        """Work out the estimate for this spec off the GUI thread; answers estimate_ready
        with the same number (the asker drops answers to questions it no longer asks)."""
        if self._io_open:
            self._spawn(self._estimate(spec, number))

    async def _estimate(self, spec: RunSpec, number: int) -> None:
        from batchgui import planning

        answer: object
        try:
            answer = await self._blocking(planning.preview, spec, spec.target_name,
                                          await self.journal())
        except WorkersClosed:
            return
        except Exception as exc:  # an estimate is a help, never a failure
            log.info("no estimate: %s", exc, exc_info=True)
            answer = tr("No estimate: {error}", error=str(exc))
        if self._io_open:
            self.estimate_ready.emit(number, answer)

    # -- runs that were interrupted -----------------------------------------------------------

    async def journal(self) -> Journal:
        """The run journal, opened on a worker thread the first time."""
        if self._journal is None:
            journal = await self._blocking(_open_journal, None)
            if self._journal is None:
                self._journal = journal
                self.journal_opened.emit(journal)
        assert self._journal is not None
        return self._journal

    def find_unfinished(self) -> None:
        """Look for a run the last session left half done; answers with unfinished_run_found."""
        if self._io_open:
            self._spawn(self._find_unfinished())

    async def _find_unfinished(self) -> None:
        try:
            found = await self._blocking(_latest_unfinished, await self.journal())
        except Exception as exc:  # an unreadable journal must not stop the window
            log.warning("could not read the run journal: %s", exc)
            self.log_added.emit(tr("Could not read the record of earlier runs: {error}",
                                   error=str(exc)))
            return
        if found is not None:
            self.unfinished_run_found.emit(found)

    def prepare_resume(self, run: ResumableRun) -> None:
        """Settle what the dead run left and probe its files again, off the GUI thread."""
        if self._io_open:
            self._spawn(self._prepare_resume(run))

    async def _prepare_resume(self, run: ResumableRun) -> None:
        try:
            spec = await self._blocking(_resume_prepare, await self.journal(), run)
        except Exception as exc:
            log.warning("could not prepare the resume: %s", exc, exc_info=True)
            self.resume_failed.emit(tr("The interrupted run could not be resumed: {error}",
                                       error=str(exc)))
            return
        self.resume_prepared.emit(spec, run)

    def dismiss_unfinished(self, run: ResumableRun) -> None:
        """The user does not want it: close that run for good (the MP3s stay as they are)."""
        if self._io_open:
            self._spawn(self._dismiss(run))

    async def _dismiss(self, run: ResumableRun) -> None:
        await self._blocking(_dismiss, await self.journal(), run)

    # -- the run ------------------------------------------------------------------------------

    def start(self, spec: RunSpec, resumes: ResumableRun | None = None) -> None:
        """Start converting; the window disables Convert while `busy`."""
        if self.busy:
            raise RuntimeError("a run is already going")
        from batchgui.core.target import CancelToken

        self._cancel = CancelToken()
        self.last_snapshot = None
        self.last_result = None
        self.last_cost = None
        self._run_task = asyncio_loop().create_task(self._execute(spec, self._cancel, resumes))
        self.run_started.emit(spec)

    def cancel(self) -> None:
        """Ask the run to stop: ffmpeg is stopped, part files removed, cleanup still runs."""
        if self._cancel is not None and not self._cancel.cancelled:
            self.log_added.emit(_("Cancelling: stopping conversions and removing unfinished "
                                  "files"))
            self._cancel.cancel()

    def set_paused(self, paused: bool) -> None:
        """Pause (running files finish, no new one starts) or continue the run."""
        if self._run is not None:
            self._spawn(self._run.set_paused(paused))

    @property
    def paused(self) -> bool:
        return bool(self._run is not None and self._run.paused)

    def _show_snapshot(self, snapshot: RunSnapshot) -> None:
        self.last_snapshot = snapshot
        self.snapshot_changed.emit(snapshot)

    async def _execute(
        self, spec: RunSpec, cancel: CancelToken, resumes: ResumableRun | None = None
    ) -> None:
        from qasync import QThreadExecutor

        from batchgui.core.run import Run
        from batchgui.core.target import TargetError
        from batchgui.ui.run_feed import RunFeed

        # the run's snapshots and lines, shown at most ten times a second
        feed = RunFeed(self._show_snapshot, self.log_added.emit,
                       lambda: self._run.snapshot() if self._run is not None else None)
        result: RunResult
        try:
            try:
                target = await self._blocking(_make_target, spec.target_name)
            except TargetError as exc:
                self.log_added.emit(str(exc))
                result = RunResult(run_id="", outcomes=(), error=exc.reason)
                return
            journal = await self.journal()
            if resumes is None:  # a profile that says "finish in N minutes" or "cheapest"
                target = await self._sized(spec, target, journal)
            if self._run_executor is None:
                self._run_executor = QThreadExecutor(max_workers=RUN_THREADS)
            executor = self._run_executor
            try:
                run = Run(
                    spec,
                    target,
                    executor,
                    cancel=cancel,
                    on_snapshot=feed.snapshot,
                    on_log=feed.line,
                    journal=journal,
                    run_id=resumes.run_id if resumes is not None else None,
                    resuming=resumes is not None,
                )
                self._run = run
                run.extra_stats = await self._estimate_stats(spec, target, journal)
                result = await run.execute()
                await self._record_outcome(journal, run, target, result)
            finally:
                feed.flush()  # the run's last words before anything after it
                self._run = None
        except Exception as exc:  # a bug must still end the run visibly
            log.exception("run failed")
            result = RunResult(run_id="", outcomes=(), error=why(
                "unexpected_error", "Something went wrong: {error}", error=str(exc)))
            self.log_added.emit(str(result.error))
        finally:
            self._run_task = None
            self.last_result = result
            self.run_finished.emit(result)

    async def _sized(self, spec: RunSpec, target: Target, journal: Journal) -> Target:
        """The target with the pool BatchGUI chose, when the account profile asks for that."""
        from batchgui import planning

        sizing = await self._blocking(planning.profile_sizing, spec.target_name)
        if sizing is None:
            return target
        sized, choice = await self._blocking(planning.sized_target, spec, target, journal,
                                             sizing)
        self.log_added.emit(tr("Pool: {note}", note=choice.reason))
        return sized

    async def _estimate_stats(self, spec: RunSpec, target: Target, journal: Journal
                              ) -> dict[str, Any]:
        """The estimate, kept beside the run's outcome so the estimator learns."""
        from batchgui import planning

        try:
            guess = await self._blocking(planning.estimate_run, spec, target, journal)
        except Exception as exc:  # an estimate never stops a run
            log.info("no estimate: %s", exc)
            return {}
        return {"estimate": guess.to_dict()}

    async def _record_outcome(self, journal: Journal, run: Any, target: Target,
                              result: RunResult) -> None:
        from batchgui import planning

        if not result.run_id or run.resuming and not result.outcomes:
            return
        try:
            price = await self._blocking(planning.price_for, target)
            outcome = await self._blocking(planning.record_outcome, journal, result.run_id,
                                           target, result, run.measured(), price)
        except Exception as exc:  # the figures are a bonus: never a failure
            log.info("could not record the run's figures: %s", exc)
            return
        if getattr(outcome, "node_minutes", None) is not None:
            from batchgui.planning_cli import outcome_line

            line = outcome_line(target, outcome, price)
            if line:
                self.last_cost = line
                self.log_added.emit(line)

    async def shutdown(self) -> None:
        """Quitting: cancel the run and wait for it, then stop the worker threads."""
        import asyncio  # loaded by now: this is a coroutine

        self.cancel()
        if self._run_task is not None:
            try:
                await asyncio.shield(self._run_task)
            except Exception:
                pass
        self.close_workers()

    def close_workers(self, leaving_run: bool = False) -> None:
        """Stop the small-jobs threads: settings already handed over are still written.

        `leaving_run`: the user quit mid-run to finish later; the run's threads may be in
        the middle of a call, and the process ends without waiting for them.
        """
        if self._io_open:
            self._io_open = False
            for job in list(self._jobs):
                job.cancel()
            self.workers.close()
            # the run has ended (shutdown awaited it): these threads are idle; a run left
            # for later may be mid-call, and the app ends without waiting (app.main)
            if self._run_executor is not None:
                self._run_executor.shutdown(wait=not (leaving_run and self.busy))
