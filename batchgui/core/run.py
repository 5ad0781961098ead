"""The run: one asyncio coroutine that takes probed inputs to checked MP3s on any target.

The CLI and the window both call `Run(...).execute()`. Blocking work (checking
outputs, renaming, the target's SDK calls) goes to the executor passed in; the
coroutine itself only decides and reports. Progress leaves through two plain
callbacks, `on_snapshot` (a frozen RunSnapshot, throttled) and `on_log` (a line in
plain words).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

from batchgui.core import awake, naming, tags
from batchgui.core.media import mp3_duration
from batchgui.core.models import (
    ConflictPolicy,
    FileOutcome,
    FileStatus,
    InputFile,
    NodeView,
    RunResult,
    RunSnapshot,
    RunSpec,
    Stage,
    TargetStatus,
    TaskResult,
    TaskState,
    TaskStatus,
    TaskView,
)
from batchgui.core.store import RunStore
from batchgui.core.target import (
    CancelToken,
    RunCancelled,
    RunContext,
    Target,
    TargetError,
    WorkItem,
)

log = logging.getLogger(__name__)

#: the finishing steps (download, check, rename) that may run at once
FINISH_CONCURRENCY = 4


def duration_tolerance(expected_s: float) -> float:
    """An MP3 counts as complete when within 1 s or 2 % of the input's duration."""
    return max(1.0, 0.02 * expected_s)


def check_output(part: Path, expected_s: float | None) -> tuple[float | None, str | None]:
    """(duration, None) when the MP3 is whole; (duration, reason) when it is not."""
    try:
        size = part.stat().st_size
    except FileNotFoundError:
        return None, "ffmpeg wrote no MP3"
    if size == 0:
        return None, "ffmpeg wrote an empty MP3"
    got = mp3_duration(part)
    if got is None:
        return None, "the MP3 that came back can't be read"
    if expected_s is not None and abs(expected_s - got) > duration_tolerance(expected_s):
        if got < expected_s:
            return got, f"input looks truncated: got {got:.1f} s of {expected_s:.1f} s"
        return got, f"the MP3 is longer than the video: got {got:.1f} s of {expected_s:.1f} s"
    return got, None


def place_output(part: Path, wanted: Path, policy: ConflictPolicy) -> Path | None:
    """Move the checked MP3 into place without ever overwriting unasked.

    Returns the final path, or None when the policy says skip (and the part file goes).
    """
    if policy is ConflictPolicy.OVERWRITE:
        os.replace(part, wanted)
        return wanted
    candidate, n = wanted, 0
    while True:
        try:
            os.link(part, candidate)  # fails if the name exists: no race with other writers
        except FileExistsError:
            if policy is ConflictPolicy.SKIP:
                part.unlink(missing_ok=True)
                return None
            n += 1
            candidate = naming.with_counter(wanted, n)
            continue
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP,
                                 errno.EMLINK):
                raise
            if candidate.exists():  # a file system without hard links (FAT, some shares)
                if policy is ConflictPolicy.SKIP:
                    part.unlink(missing_ok=True)
                    return None
                n += 1
                candidate = naming.with_counter(wanted, n)
                continue
            os.rename(part, candidate)
            return candidate
        part.unlink()
        return candidate


def plain_os_error(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk with the output folder is full; free some space and press Retry failed"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "no permission to write in the output folder; choose another folder"
    return f"the MP3 could not be written: {exc.strerror or exc}"


@dataclass
class _File:
    """The run's own, mutable view of one input."""

    input: InputFile
    task_id: str
    status: FileStatus
    reason: str | None = None
    item: WorkItem | None = None
    output: Path | None = None
    task: TaskStatus | None = None
    transfer: tuple[int, int] = (0, 0)
    output_duration: float | None = None
    finishing: bool = False
    view: TaskView | None = field(default=None, repr=False)

    def set(self, status: FileStatus, reason: str | None = None) -> None:
        self.status = status
        self.reason = reason
        self.view = None

    def media_done(self) -> float:
        """Seconds of this file's media that are converted, for the overall progress."""
        duration = self.input.duration_s or 0.0
        if self.status in (FileStatus.DONE, FileStatus.FAILED, FileStatus.SKIPPED,
                           FileStatus.CANCELLED, FileStatus.DOWNLOADING):
            return duration
        if self.status is FileStatus.CONVERTING and self.task and self.task.progress:
            return duration * min(1.0, self.task.progress)
        return 0.0

    def to_view(self) -> TaskView:
        if self.view is None:
            t = self.task
            run_time = None
            if t and t.started_at:
                run_time = (t.ended_at or time.time()) - t.started_at
            progress = 0.0
            if self.status is FileStatus.DONE:
                progress = 1.0
            elif self.status is FileStatus.UPLOADING and self.transfer[1]:
                progress = self.transfer[0] / self.transfer[1]
            elif t and t.progress is not None:
                progress = t.progress
            self.view = TaskView(
                task_id=self.task_id,
                input_path=self.input.path,
                status=self.status,
                state=t.state if t else None,
                node_id=t.node_id if t else None,
                progress=progress,
                run_time_s=run_time,
                exit_code=t.exit_code if t else None,
                result=t.result if t else None,
                reason=self.reason,
                stderr_tail=t.stderr_tail if t else "",
                output_path=self.output,
            )
        return self.view


class Run:
    """One conversion run. Create, then `await execute()`; cancel through `cancel`."""

    def __init__(
        self,
        spec: RunSpec,
        target: Target,
        executor: Executor,
        *,
        cancel: CancelToken | None = None,
        on_snapshot: Callable[[RunSnapshot], None] | None = None,
        on_log: Callable[[str], None] | None = None,
        store: RunStore | None = None,
        run_id: str | None = None,
        snapshot_interval: float = 0.25,
    ) -> None:
        self.spec = spec
        self.target = target
        self.executor = executor
        self.cancel = cancel or CancelToken()
        self.run_id = run_id or naming.new_run_id()
        self.store = store
        self._on_snapshot = on_snapshot or (lambda snapshot: None)
        self._on_log = on_log or (lambda line: None)
        self._snapshot_interval = snapshot_interval
        self._stage = Stage.PROBING
        self._message = ""
        self._nodes: tuple[NodeView, ...] = ()
        self._started = time.monotonic()
        self._convert_started: float | None = None
        self._last_emit = 0.0
        self._last_save = 0.0
        self._saving = False
        self._save_again = False
        self._error: str | None = None
        self._files = [
            _File(item, naming.task_id_for(i), FileStatus.READY)
            for i, item in enumerate(spec.inputs)
        ]
        self._by_task = {f.task_id: f for f in self._files}
        self.ctx = RunContext(
            self.run_id,
            executor,
            self.cancel,
            log=self.log,
            set_stage=self._set_stage,
            report_transfer=self._on_transfer,
            notify=self._notify,
        )
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- reporting -------------------------------------------------------------------------

    def log(self, line: str) -> None:
        log.info("%s: %s", self.run_id, line)
        self._on_log(line)

    def _set_stage(self, stage: Stage, message: str = "") -> None:
        self._stage = stage
        self._message = message
        if message:
            self.log(message)
        self._emit(force=True)

    def _notify(self) -> None:
        """Wake the monitor loop now; safe to call from any thread."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _on_transfer(self, task_id: str, done: int, total: int) -> None:
        file = self._by_task.get(task_id)
        if file is None:
            return
        file.transfer = (done, total)
        if file.status in (FileStatus.READY, FileStatus.UPLOADING):
            file.set(FileStatus.UPLOADING if done < total else FileStatus.QUEUED)
        file.view = None
        self._emit()

    def snapshot(self) -> RunSnapshot:
        files = self._files
        total_media = sum(f.input.duration_s or 0.0 for f in files if f.item is not None)
        done_media = sum(f.media_done() for f in files if f.item is not None)
        elapsed = time.monotonic() - self._started
        fraction = done_media / total_media if total_media else 0.0
        eta: float | None = None
        rate = ""
        if self._stage is Stage.UPLOADING:
            done_b = sum(f.transfer[0] for f in files)
            total_b = sum(f.transfer[1] for f in files)
            if done_b and elapsed > 0:
                speed = done_b / elapsed
                rate = f"{speed / 1e6:.1f} MB/s"
                eta = (total_b - done_b) / speed if speed else None
        elif self._convert_started is not None and done_media > 0:
            spent = time.monotonic() - self._convert_started
            if spent > 0.5:
                speed = done_media / spent
                rate = f"{speed:.1f}× realtime"
                eta = (total_media - done_media) / speed
        return RunSnapshot(
            run_id=self.run_id,
            stage=self._stage,
            message=self._message,
            tasks=tuple(f.to_view() for f in files),
            nodes=self._nodes,
            files_total=len(files),
            files_done=sum(1 for f in files if f.status is FileStatus.DONE),
            files_failed=sum(
                1 for f in files if f.status in (FileStatus.FAILED, FileStatus.REJECTED)
            ),
            fraction=min(1.0, fraction),
            elapsed_s=elapsed,
            eta_s=eta,
            rate=rate,
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

    # -- the record on disk ----------------------------------------------------------------

    def record(self, finished: bool = False) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "finished": finished,
            "stage": self._stage.value,
            "error": self._error,
            "target": self.spec.target_name,
            "target_state": self.target.record(),
            "output_dir": str(self.spec.output_dir),
            "quality": self.spec.quality.label,
            "on_conflict": self.spec.on_conflict.value,
            "mirror_folders": self.spec.mirror_folders,
            "keep_tags": self.spec.keep_tags,  # media
            "loudness_lufs": self.spec.loudness_lufs,  # media
            "files": [
                {
                    "task_id": f.task_id,
                    "input": str(f.input.path),
                    "root": str(f.input.root) if f.input.root else None,
                    "output": str(f.output) if f.output else None,
                    "part": str(f.item.part_path) if f.item else None,
                    "status": f.status.value,
                    "reason": f.reason,
                    "duration_s": f.input.duration_s,
                }
                for f in self._files
            ],
        }

    async def _save(self, force: bool = False) -> None:
        """Write the record; forced saves (a file just finished) coalesce while one is writing,
        so a big run writes as often as the disk allows and never queues up saves."""
        if self.store is None:
            return
        if self._saving:
            self._save_again = self._save_again or force
            return
        if not force and time.monotonic() - self._last_save < 2.0:
            return
        self._saving = True
        try:
            while True:
                self._save_again = False
                self._last_save = time.monotonic()
                finished = self._stage in (Stage.DONE, Stage.CANCELLED, Stage.FAILED)
                record = self.record(finished=finished)
                try:
                    await self.ctx.blocking(self.store.save, self.run_id, record)
                except OSError as exc:
                    log.warning("could not save the run record: %s", exc)
                if not self._save_again:
                    break
        finally:
            self._saving = False

    # -- the run ---------------------------------------------------------------------------

    async def execute(self) -> RunResult:
        """Convert everything that can be converted; never raises for a file's problem."""
        async with awake.stay_awake(self.ctx.blocking):  # media: no sleep while the run goes on
            return await self._execute()

    async def _execute(self) -> RunResult:
        items: list[WorkItem] = []
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            items = await self._plan()
            await self._save(force=True)
            if items:
                self.cancel.raise_if_cancelled()
                await self.target.prepare(items, self.ctx)
                self.cancel.raise_if_cancelled()
                for f in self._files:
                    if f.item is not None and f.status in (FileStatus.READY, FileStatus.UPLOADING):
                        f.set(FileStatus.QUEUED)
                await self.target.submit(items, self.ctx)
                self._convert_started = time.monotonic()
                self._set_stage(Stage.MONITORING, f"Converting {len(items)} file(s) on "
                                f"{self.target.display_name}")
                await self._monitor()
            self._stage = Stage.CANCELLED if self.cancel.cancelled else Stage.DONE
        except RunCancelled:
            self._stage = Stage.CANCELLED
        except TargetError as exc:
            self._error = str(exc)
            self._stage = Stage.FAILED
            self.log(self._error)
        except Exception as exc:  # a bug must not leave processes or blobs behind
            log.exception("run failed")
            self._error = f"Something went wrong: {exc}"
            self._stage = Stage.FAILED
        finally:
            await self._finish_run(items)
        return self.result()

    async def _plan(self) -> list[WorkItem]:
        spec = self.spec
        self._set_stage(Stage.PROBING, f"Checking {len(self._files)} file(s)")
        for f in self._files:
            if not f.input.ok:
                f.set(FileStatus.REJECTED, f.input.problem)
                self.log(f"{f.input.name}: rejected, {f.input.problem}")
        accepted = [f for f in self._files if f.status is FileStatus.READY]
        if not accepted:
            return []
        try:
            await self.ctx.blocking(spec.output_dir.mkdir, parents=True, exist_ok=True)
        except OSError as exc:
            raise TargetError(
                f"The output folder {spec.output_dir} can't be created ({exc.strerror}). "
                "Choose another folder."
            ) from exc
        outputs = await self.ctx.blocking(
            naming.plan_outputs,
            [f.input for f in accepted],
            spec.output_dir,
            mirror_folders=spec.mirror_folders,
            on_conflict=spec.on_conflict,
        )
        items = []
        for f, output in zip(accepted, outputs, strict=True):
            if output is None:
                f.set(FileStatus.SKIPPED, "an MP3 with this name is already in the output folder")
                self.log(f"{f.input.name}: skipped, {f.reason}")
                continue
            f.output = output
            if output.parent != spec.output_dir:
                await self.ctx.blocking(output.parent.mkdir, parents=True, exist_ok=True)
            f.item = WorkItem(f.task_id, f.input, output, naming.part_path(output), spec.quality,
                              loudness_lufs=spec.loudness_lufs)  # media
            items.append(f.item)
        return items

    async def _monitor(self) -> None:
        pending_finishes: set[asyncio.Task[None]] = set()
        limit = asyncio.Semaphore(FINISH_CONCURRENCY)
        while True:
            if self.cancel.cancelled:
                raise RunCancelled()
            status = await self.target.poll(self.ctx)
            changed = self._apply(status)
            if status.message and status.message != self._message:
                self._message = status.message
                changed = True
            for f in self._files:
                if f.finishing or f.item is None or f.task is None:
                    continue
                if f.task.state is TaskState.COMPLETED and not f.status.is_final:
                    f.finishing = True
                    task = asyncio.ensure_future(self._finish_file(f, limit))
                    pending_finishes.add(task)
                    task.add_done_callback(pending_finishes.discard)
            self._emit(force=changed)
            await self._save()
            if all(f.status.is_final for f in self._files) and not pending_finishes:
                return
            assert self._wake is not None
            try:
                await asyncio.wait_for(self._wake.wait(), self.target.poll_interval(changed))
            except TimeoutError:
                pass
            self._wake.clear()

    def _apply(self, status: TargetStatus) -> bool:
        changed = status.nodes != self._nodes
        self._nodes = status.nodes
        for task_id, task in status.tasks.items():
            f = self._by_task.get(task_id)
            if f is None or task == f.task:
                continue
            f.task = task
            f.view = None
            changed = True
            if f.status.is_final or f.finishing:
                continue
            if task.state in (TaskState.RUNNING, TaskState.PREPARING):
                f.set(FileStatus.CONVERTING)
            elif task.state is TaskState.ACTIVE and f.status is not FileStatus.UPLOADING:
                f.set(FileStatus.QUEUED)
        return changed

    async def _finish_file(self, f: _File, limit: asyncio.Semaphore) -> None:
        assert f.item is not None and f.task is not None
        item, task = f.item, f.task
        async with limit:
            try:
                if task.result is not TaskResult.SUCCESS:
                    reason = task.failure or (
                        f"ffmpeg failed (exit code {task.exit_code})"
                        if task.exit_code is not None else "the conversion failed"
                    )
                    f.set(FileStatus.FAILED, reason)
                    self.log(f"{f.input.name}: failed, {reason}")
                    return
                f.set(FileStatus.DOWNLOADING)
                await self.target.fetch(item, self.ctx)
                duration, problem = await self.ctx.blocking(
                    check_output, item.part_path, f.input.duration_s
                )
                if problem:
                    f.set(FileStatus.FAILED, problem)
                    self.log(f"{f.input.name}: failed, {problem}")
                    return
                # media: the video's tags (or none) into the checked MP3; a note may come back
                note = await self.ctx.blocking(
                    tags.finish_mp3, item.part_path, f.input.path, self.spec.keep_tags)
                final = await self.ctx.blocking(
                    place_output, item.part_path, item.output, self.spec.on_conflict
                )
                if final is None:
                    f.set(FileStatus.SKIPPED, "an MP3 with this name appeared in the output folder")
                    return
                f.output = final
                f.output_duration = duration
                f.set(FileStatus.DONE, note)
                self.log(f"{f.input.name}: done, {final.name}")
                if note:  # media
                    self.log(f"{f.input.name}: {note}")
                await self._save(force=True)  # a crash from now on must not redo this file
                await self.target.release(item, self.ctx)
            except RunCancelled:
                f.set(FileStatus.CANCELLED, "cancelled")
            except TargetError as exc:
                f.set(FileStatus.FAILED, str(exc))
                self.log(f"{f.input.name}: failed, {exc}")
            except OSError as exc:
                f.set(FileStatus.FAILED, plain_os_error(exc))
                self.log(f"{f.input.name}: failed, {f.reason}")
            finally:
                if f.status is not FileStatus.DONE:
                    await self.ctx.blocking(_remove, item.part_path)
                f.view = None
                self._emit()
                self._notify()

    async def _finish_run(self, items: list[WorkItem]) -> None:
        final_stage = self._stage
        cancelled = final_stage is Stage.CANCELLED
        if items:
            self._stage, self._message = Stage.CLEANUP, "Cleaning up"
            self._emit(force=True)
            try:
                stopped_early = cancelled or self._error is not None
                await asyncio.shield(self.target.cleanup(self.ctx, stopped_early))
            except Exception as exc:  # cleanup problems are reported, not raised
                log.exception("cleanup failed")
                self.log(f"Cleaning up did not finish: {exc}")
        for f in self._files:
            if f.item is not None and f.status is not FileStatus.DONE:
                await self.ctx.blocking(_remove, f.item.part_path)
            if not f.status.is_final:
                if cancelled:
                    f.set(FileStatus.CANCELLED, "cancelled before it was done")
                else:
                    f.set(FileStatus.FAILED, f"the run stopped: {self._error or 'unknown reason'}")
        self._stage = final_stage
        done = sum(1 for f in self._files if f.status is FileStatus.DONE)
        if final_stage is Stage.DONE:
            self._message = f"Done: {done} of {len(self._files)} file(s) converted"
        elif final_stage is Stage.CANCELLED:
            self._message = f"Cancelled: {done} of {len(self._files)} file(s) were done"
        else:
            self._message = self._error or "The run failed"
        self.log(self._message)
        while self._saving:  # the last word on disk must be this one
            await asyncio.sleep(0.01)
        await self._save(force=True)
        self._emit(force=True)

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
                )
                for f in self._files
            ),
            cancelled=self._stage is Stage.CANCELLED,
            error=self._error,
        )


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)
