"""Finishing a file: a completed task becomes a checked MP3 in place, or a plain failure.

The run hands each completed task to its Finisher, which owns the work (download,
check, place) until it ends: a cancel cancels it, the run's end awaits it, and placing
an MP3 is never cut off half-way. Every outcome is journaled before the part file goes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import TYPE_CHECKING

from batchgui.core import tags
from batchgui.core.drills import kill_point
from batchgui.core.models import FileStatus, TaskResult
from batchgui.core.outputs import check_output, file_id, place_output, plain_os_error, remove
from batchgui.core.run_files import RunFile
from batchgui.core.target import RunCancelled, TargetError
from batchgui.i18n import Reason, tr, why

if TYPE_CHECKING:
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
        task.add_done_callback(self.pending.discard)

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
                duration, problem = await self.run.ctx.blocking(
                    check_output, item.part_path, f.input.duration_s
                )
                if problem:
                    if duration is not None and f.input.duration_s:
                        # how far the MP3 really got (ffmpeg said 100 %: it read to the end
                        # of a cut-off video), so a failed row shows the progress it reached
                        f.task = dataclasses.replace(
                            task, progress=min(1.0, duration / f.input.duration_s))
                    await self._fail(f, problem)
                    return
                # the video's tags (or none) into the checked MP3; a note may come back
                note = await self.run.ctx.blocking(
                    tags.finish_mp3, item.part_path, f.input.path, self.run.spec.keep_tags)
                kill_point("checked")
                # placing is never cut off half-way: a cancel waits for it
                placing = asyncio.ensure_future(self._place(f, duration, note))
                try:
                    await asyncio.shield(placing)
                except asyncio.CancelledError:
                    await placing
                    raise
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
            self.run._notify()

    async def _fail(self, f: RunFile, reason: Reason) -> None:
        f.set(FileStatus.FAILED, reason)
        self.run.log(tr("{name}: failed, {reason}", name=f.input.name, reason=reason))
        await self.run._file_changed(f, status=f.status.value, reason=reason)
        f.journaled_final = True

    async def _place(self, f: RunFile, duration: float | None, note: Reason | None = None
                     ) -> None:
        """Journal the intent, link the part into place, journal the outcome, drop the part."""
        assert f.item is not None and f.output is not None
        part = f.item.part_path
        try:
            identity = await self.run.ctx.blocking(file_id, part)
            await self.run._file_changed(f, placing=f.output, part_id=identity)
            kill_point("placing")
            final = await self.run.ctx.blocking(place_output, part, f.output,
                                            self.run.spec.on_conflict)
            kill_point("linked")
        except OSError as exc:
            await self._fail(f, plain_os_error(exc))
            return
        if final is None:
            f.set(FileStatus.SKIPPED, why("mp3_appeared",
                                          "an MP3 with this name appeared in the output folder"))
            await self.run._file_changed(f, status=f.status.value, reason=f.reason, placing=None)
        else:
            f.output = final
            f.output_duration = duration
            f.set(FileStatus.DONE, note)  # the note, e.g. how loudness was evened out
            await self.run._file_changed(f, status=f.status.value, output=final, placing=None,
                                         reason=note)
            self.run.log(tr("{name}: done, {mp3}", name=f.input.name, mp3=final.name))
            if note:
                self.run.log(f"{f.input.name}: {note}")
        f.journaled_final = True
        kill_point("done")
        await self.run.ctx.blocking(remove, part)
