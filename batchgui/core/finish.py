"""Finishing a file: a completed task becomes a checked MP3 in place, or a plain failure.

The run hands each completed task to its Finisher, which owns the work (download,
check, place) until it ends: a cancel cancels it, the run's end awaits it, and placing
an MP3 is never cut off half-way. Every outcome is journaled before the part file goes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

from batchgui.core import tags
from batchgui.core.drills import kill_point
from batchgui.core.models import ConflictPolicy, FileStatus, TaskResult
from batchgui.core.outputs import check_output, file_id, place_output, plain_os_error, remove
from batchgui.core.run_files import RunFile
from batchgui.core.target import RunCancelled, TargetError
from batchgui.i18n import Reason, tr, why

if TYPE_CHECKING:
    from batchgui.core.journal import Journal
    from batchgui.core.run import Run

#: the finishing steps (download, check, place) that may run at once
FINISH_CONCURRENCY = 4


class Finisher:
    """Owns every file's finishing work for one run."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.pending: set[asyncio.Task[None]] = set()
        self._limit = asyncio.Semaphore(FINISH_CONCURRENCY)

    def start(self, f: RunFile) -> None:
        f.finishing = True
        task = asyncio.ensure_future(self._finish(f))
        self.pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.pending.discard(task)
        self.run.file_finished()  # it may have been the run's last

    async def end(self, stopped_early: bool) -> None:
        """Before the run's last word: cancel (when stopped early) or await each one."""
        if stopped_early:
            for task in self.pending:
                task.cancel()
        await asyncio.gather(*self.pending, return_exceptions=True)

    async def _finish(self, f: RunFile) -> None:
        assert f.item is not None and f.task is not None
        item, task = f.item, f.task
        try:
            async with self._limit:
                if task.result is not TaskResult.SUCCESS:
                    reason = task.failure or (
                        why("ffmpeg_failed", "ffmpeg failed (exit code {exit_code})",
                            exit_code=str(task.exit_code))
                        if task.exit_code is not None
                        else why("conversion_failed", "the conversion failed")
                    )
                    await self._fail(f, reason)
                    return
                f.set(FileStatus.DOWNLOADING)
                fetched = time.monotonic()
                await self.run.target.fetch(item, self.run.ctx)
                if f.transfer[1]:  # a real download (this computer has nothing to fetch)
                    self.run.measures["download_seconds"] += time.monotonic() - fetched
                    self.run.measures["bytes_downloaded"] += f.transfer[1]
                # check, tag, place and journal in one go on a worker: one hand-over per
                # file instead of eight (with thousands of short files they add up), and
                # never cut off half-way: a cancel waits for it
                settling = asyncio.ensure_future(self.run.ctx.blocking(
                    settle_on_disk, self.run.journal, self.run.run_id, f.task_id,
                    item.part_path, item.output, f.input.duration_s, f.input.path,
                    self.run.spec.on_conflict, self.run.spec.keep_tags))
                try:
                    outcome = await asyncio.shield(settling)
                except asyncio.CancelledError:
                    outcome = await settling
                    self._apply(f, outcome)
                    raise
                self._apply(f, outcome)
                if f.status is FileStatus.DONE:
                    await self.run.target.release(item, self.run.ctx)
        except (RunCancelled, asyncio.CancelledError):
            if not f.status.is_final:
                f.set(FileStatus.CANCELLED, why("cancelled", "cancelled"))
        except TargetError as exc:
            await self._fail(f, exc.reason)
        except OSError as exc:
            await self._fail(f, plain_os_error(exc))
        finally:
            if f.status is not FileStatus.DONE:
                await self.run.ctx.blocking(remove, item.part_path)
            f.touch()
            self.run._emit()

    async def _fail(self, f: RunFile, reason: Reason) -> None:
        f.set(FileStatus.FAILED, reason)
        self.run.log(tr("{name}: failed, {reason}", name=f.input.name, reason=reason))
        await self.run._file_changed(f, status=f.status.value, reason=reason)
        f.journaled_final = True

    def _apply(self, f: RunFile, outcome: Settled) -> None:
        """What settle_on_disk did to the file, in the run's own view (the journal has it)."""
        f.journaled_final = True
        if outcome.problem is not None:
            if outcome.duration is not None and f.input.duration_s and f.task is not None:
                # how far the MP3 really got (ffmpeg said 100 %: it read to the end of a
                # cut-off video), so a failed row shows the progress it reached
                f.task = dataclasses.replace(
                    f.task, progress=min(1.0, outcome.duration / f.input.duration_s))
            f.set(FileStatus.FAILED, outcome.problem)
            self.run.log(tr("{name}: failed, {reason}", name=f.input.name,
                            reason=outcome.problem))
        elif outcome.final is None:
            f.set(FileStatus.SKIPPED, skipped_late())
        else:
            f.output = outcome.final
            f.output_duration = outcome.duration
            f.set(FileStatus.DONE, outcome.note)  # the note, e.g. how loudness was evened out
            self.run.log(tr("{name}: done, {mp3}", name=f.input.name, mp3=outcome.final.name))
            if outcome.note:
                self.run.log(f"{f.input.name}: {outcome.note}")


def skipped_late() -> Reason:
    return why("mp3_appeared", "an MP3 with this name appeared in the output folder")


@dataclasses.dataclass(frozen=True)
class Settled:
    """How a finished MP3 ended: placed (final), skipped (no final), or a problem."""

    final: Path | None = None
    duration: float | None = None
    note: Reason | None = None
    problem: Reason | None = None


def settle_on_disk(journal: Journal | None, run_id: str, task_id: str, part: Path,
                   wanted: Path, expected_s: float | None, video: Path,
                   policy: ConflictPolicy, keep_tags: bool) -> Settled:
    """Check the part file, give it its tags, journal the intent, link it into place,
    journal the outcome, drop the part (blocking: a worker thread).

    Raises OSError for a disk problem (the caller fails the file in plain words).
    """

    def journal_file(**columns: object) -> None:
        if journal is not None:
            journal.update_file(run_id, task_id, **columns)

    duration, problem = check_output(part, expected_s)
    if problem:
        journal_file(status=FileStatus.FAILED.value, reason=problem)
        remove(part)
        return Settled(duration=duration, problem=problem)
    note = tags.finish_mp3(part, video, keep_tags)  # the video's tags (or none), maybe a note
    kill_point("checked")
    journal_file(placing=wanted, part_id=file_id(part))
    kill_point("placing")
    final = place_output(part, wanted, policy)
    kill_point("linked")
    if final is None:
        journal_file(status=FileStatus.SKIPPED.value, reason=skipped_late(), placing=None)
    else:
        journal_file(status=FileStatus.DONE.value, output=final, placing=None, reason=note)
    kill_point("done")
    remove(part)
    return Settled(final=final, duration=duration, note=note)
