"""Planning a run: which files go, where each MP3 goes, and the plan on disk before work.

A mixin of Run (run.py). A fresh run takes over what dead runs left of the same
inputs (core.resume.take_over); a resumed one settles its own leftovers and takes
each file's state from the journal. Either way the plan is journaled before the
first side effect.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchgui.core import naming
from batchgui.core.drills import kill_point
from batchgui.core.journal import PAUSED, RUNNING, FileRow, Journal
from batchgui.core.models import FileStatus, RunSpec, Stage
from batchgui.core.outputs import output_folder_problem
from batchgui.core.resume import settle_run, take_over
from batchgui.core.run_files import RunFile
from batchgui.core.target import RunContext, TargetError, WorkItem
from batchgui.i18n import _, tr, trn, why

if TYPE_CHECKING:
    from collections.abc import Callable


class RunPlanning:
    """The planning half of Run."""

    spec: RunSpec
    run_id: str
    journal: Journal | None
    resuming: bool
    ctx: RunContext
    extra_stats: dict[str, Any]
    _files: list[RunFile]
    _paused: bool
    keep_pause: bool

    async def _j(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def _set_stage(self, stage: Stage, message: str = "") -> None:
        raise NotImplementedError

    def log(self, line: str) -> None:
        raise NotImplementedError

    async def _plan(self) -> list[WorkItem]:
        spec = self.spec
        self._set_stage(Stage.PROBING, trn("Checking {n} file", "Checking {n} files",
                                           len(self._files)))
        earlier: dict[Path, Path] = {}
        if self.resuming:
            await self._load_from_journal()
        elif self.journal is not None:
            earlier = await self._j(take_over, self.journal, spec, self.run_id)
        for f in self._files:
            if f.status is not FileStatus.READY:
                continue
            if not f.input.ok:
                f.set(FileStatus.REJECTED, f.input.problem)
                self.log(tr("{name}: rejected, {reason}", name=f.input.name,
                            reason=f.input.problem))
            elif f.input.path in earlier:
                f.output = earlier[f.input.path]
                f.output_duration = f.input.duration_s
                f.set(FileStatus.DONE)
                self.log(tr("{name}: already converted by an interrupted run, {mp3}",
                            name=f.input.name, mp3=f.output.name))
        accepted = [f for f in self._files if f.status is FileStatus.READY]
        if accepted:  # before any conversion: a folder that can't take the MP3s stops here
            problem = await self.ctx.blocking(output_folder_problem, spec.output_dir)
            if problem:
                raise TargetError(problem)
        fresh = [f for f in accepted if f.output is None]
        outputs = await self.ctx.blocking(
            naming.plan_outputs,
            [f.input for f in fresh],
            spec.output_dir,
            mirror_folders=spec.mirror_folders,
            on_conflict=spec.on_conflict,
            taken=[f.output for f in self._files if f.output is not None],
        )
        for f, output in zip(fresh, outputs, strict=True):
            if output is None:
                f.set(FileStatus.SKIPPED, why("mp3_exists", "an MP3 with this name is already "
                                              "in the output folder"))
                self.log(tr("{name}: skipped, {reason}", name=f.input.name, reason=f.reason))
            f.output = output
        items = []
        for f in accepted:
            if f.status is not FileStatus.READY or f.output is None:
                continue
            if f.output.parent != spec.output_dir:
                await self.ctx.blocking(f.output.parent.mkdir, parents=True, exist_ok=True)
            f.plan(WorkItem(f.task_id, f.input, f.output, naming.part_path(f.output),
                            spec.quality, loudness_lufs=spec.loudness_lufs))
            assert f.item is not None
            items.append(f.item)
        # longest first: one long file that sorts last must not start last
        items.sort(key=lambda item: -(item.input.duration_s or 0.0))
        await self._journal_plan()
        return items

    async def _load_from_journal(self) -> None:
        """Resuming: settle what the dead process left, and take each file's journaled state."""
        assert self.journal is not None
        rows: dict[str, FileRow] = {
            r.task_id: r for r in await self._j(settle_run, self.journal, self.run_id)
        }
        run = await self._j(self.journal.run, self.run_id)
        if run is not None:
            self.ctx.saved = dict(run.target_state)
            self._paused = run.paused and self.keep_pause
            if run.paused and not self.keep_pause:
                self.log(_("The run was paused when it stopped; it goes on now"))
                await self._j(self.journal.set_paused, self.run_id, False)
        for f in self._files:
            row = rows.get(f.task_id)
            if row is None:
                continue
            f.remote = dict(row.remote)
            self.ctx.saved_files[f.task_id] = f.remote
            f.output = row.output
            status = _status(row.status)
            if status is None or status.is_final:
                f.set(status or FileStatus.SKIPPED,
                      row.reason or why("taken_over", "taken over by another run"))
                f.journaled_final = True
                if status is FileStatus.DONE:
                    f.output_duration = row.duration_s
        await self._j(self.journal.set_run_state, self.run_id,
                      PAUSED if self._paused else RUNNING)

    async def _journal_plan(self) -> None:
        """The plan is on disk before the first side effect (part files, uploads, jobs)."""
        if self.journal is None:
            return
        if self.resuming:
            await self._j(self.journal.update_files, self.run_id, [
                (f.task_id, {"status": f.status.value, "reason": f.reason, "output": f.output,
                             "part": f.item.part_path if f.item else None})
                for f in self._files if not f.journaled_final
            ])
            for f in self._files:
                f.journaled_final = f.status.is_final
            return
        rows = [
            FileRow(task_id=f.task_id, position=i, input=f.input.path, root=f.input.root,
                    size=f.input.size, duration_s=f.input.duration_s, status=f.status.value,
                    reason=f.reason, output=f.output,
                    part=f.item.part_path if f.item else None)
            for i, f in enumerate(self._files)
        ]
        await self._j(self.journal.create_run, self.run_id, self.spec.target_name,
                      spec_to_json(self.spec), rows)
        if self.extra_stats:
            await self._j(self.journal.update_stats, self.run_id, self.extra_stats)
        kill_point("planned")
        for f in self._files:
            f.journaled_final = f.status.is_final


def spec_to_json(spec: RunSpec) -> dict[str, Any]:
    """The run's settings as the journal keeps them (no inputs: those are the file rows)."""
    return {
        "output_dir": str(spec.output_dir),
        "quality": spec.quality.label,
        "on_conflict": spec.on_conflict.value,
        "mirror_folders": spec.mirror_folders,
        "keep_tags": spec.keep_tags,
        "loudness_lufs": spec.loudness_lufs,
    }


def _status(text: str) -> FileStatus | None:
    try:
        return FileStatus(text)
    except ValueError:  # e.g. "superseded": another run took the file over
        return None
