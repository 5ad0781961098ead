"""Picking up after a run that never reached its end (the app was closed, killed, crashed).

A run is *dead* when the journal has it open (running or paused) and no process holds
its lock (core.liveness). What a dead run left is settled first: an MP3 that was being
placed is found by its identity and counted as done, part files are removed. Then it
can be resumed (the same run id, job and outputs: `Run(..., resuming=True)`),
dismissed, or taken over by a rerun of the same inputs into the same folder, which
marks it superseded so it is no longer offered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchgui.core.journal import (
    DISMISSED,
    DONE,
    OPEN_STATES,
    SUPERSEDED,
    FileRow,
    Journal,
    RunRow,
)
from batchgui.core.liveness import is_alive
from batchgui.core.models import ConflictPolicy, FileStatus, InputFile, Quality, RunSpec
from batchgui.core.outputs import find_placed, remove
from batchgui.i18n import tr, why

UNFINISHED = {
    FileStatus.READY.value, FileStatus.UPLOADING.value, FileStatus.QUEUED.value,
    FileStatus.CONVERTING.value, FileStatus.DOWNLOADING.value,
}


class ResumeError(Exception):
    """The run can't be resumed, in plain words."""


@dataclass(frozen=True)
class ResumableRun:
    """A dead run with files left to do, as the resume offer shows it."""

    run_id: str
    created: float
    target: str
    output_dir: Path
    files_total: int
    files_left: int
    paused: bool
    #: every file is done, but what the run made remotely (job, container) is still there
    needs_cleanup: bool = False


def remote_left(target_state: dict[str, Any]) -> bool:
    """The run made something remotely (a container, a job) that it has not removed yet."""
    return bool(target_state.get("container")) and not target_state.get("cleaned")


def is_dead(journal: Journal, run: RunRow) -> bool:
    return run.is_open and not is_alive(journal.locks_dir, run.run_id)


def settle_file(row: FileRow) -> dict[str, Any]:
    """What a dead process left of one file, made whole; returns the journal changes."""
    changes: dict[str, Any] = {}
    if row.placing is not None and row.part_id:
        placed = find_placed(row.placing, row.part_id)
        if placed is not None:  # linked (or renamed) into place before the crash: done
            changes.update(status=FileStatus.DONE.value, output=placed, reason=None)
        changes.update(placing=None, part_id=None)
    if row.part is not None:
        remove(row.part)
        changes["part"] = None
    return changes


def settle_run(journal: Journal, run_id: str) -> list[FileRow]:
    """Settle every file of a dead run (one transaction); returns the rows as they are now."""
    rows = journal.files(run_id)
    changes = [(row.task_id, c) for row in rows if (c := settle_file(row))]
    journal.update_files(run_id, changes)
    return journal.files(run_id) if changes else rows


def resumable_runs(journal: Journal) -> list[ResumableRun]:
    """Dead runs with files left to do, oldest first. Dead runs with nothing left are closed."""
    found: list[ResumableRun] = []
    for run in journal.runs(states=OPEN_STATES):
        if not is_dead(journal, run):
            continue
        rows = settle_run(journal, run.run_id)
        left = sum(1 for r in rows if r.status in UNFINISHED)
        remote = remote_left(run.target_state)
        if not left and not remote:  # killed after its last file was in place: it is done
            journal.set_run_state(run.run_id, DONE)
            continue
        found.append(ResumableRun(run.run_id, run.created, run.target, run.output_dir,
                                  len(rows), left, run.paused, needs_cleanup=not left))
    return found


def latest_resumable(journal: Journal) -> ResumableRun | None:
    runs = resumable_runs(journal)
    return runs[-1] if runs else None


def resume_spec(journal: Journal, run_id: str,
                probe: Callable[[Path, Path | None], InputFile]) -> RunSpec:
    """The run's spec with all its files: unfinished ones probed again now, others as kept."""
    run = journal.run(run_id)
    if run is None or not is_dead(journal, run):
        raise ResumeError(tr("run {run_id} is no longer waiting to be resumed (it was resumed, "
                             "finished or dismissed elsewhere, or is still going)", run_id=run_id))
    inputs: list[InputFile] = []
    for row in journal.files(run_id):
        if row.status in UNFINISHED:
            inputs.append(probe(row.input, row.root))
        else:
            inputs.append(InputFile(row.input, row.size, row.duration_s, root=row.root))
    return spec_from_json(run, tuple(inputs))


def spec_from_json(run: RunRow, inputs: tuple[InputFile, ...]) -> RunSpec:
    spec = run.spec
    return RunSpec(
        inputs=inputs,
        output_dir=Path(spec.get("output_dir", ".")),
        quality=Quality.parse(spec.get("quality") or "V2"),
        on_conflict=ConflictPolicy(spec.get("on_conflict") or "rename"),
        mirror_folders=bool(spec.get("mirror_folders", False)),
        target_name=run.target,
        keep_tags=bool(spec.get("keep_tags", True)),  # media
        loudness_lufs=spec.get("loudness_lufs"),  # media
    )


def run_standing(journal: Journal, run_id: str | None) -> str:
    """What a run is to this computer: "live", "resumable", "over" or "unknown"."""
    run = journal.run(run_id) if run_id else None
    if run is None:
        return "unknown"
    if not run.is_open:
        return "over"
    if not is_dead(journal, run):
        return "live"
    return "resumable"


def targets_with_leftovers(journal: Journal) -> list[str]:
    """Targets (account names) where runs that are over left something behind, per the
    journal: their container or job was never removed (a failed cleanup, a dismissed run)."""
    names: list[str] = []
    for run in journal.runs():
        if not run.is_open and remote_left(run.target_state) and run.target not in names:
            names.append(run.target)
    return names


def dismiss(journal: Journal, run_id: str) -> None:
    """The user does not want it: settle what it left and close it for good."""
    run = journal.run(run_id)
    if run is None or not is_dead(journal, run):
        return
    settle_run(journal, run_id)
    journal.set_run_state(run_id, DISMISSED)


def take_over(journal: Journal, spec: RunSpec, new_run_id: str) -> dict[Path, Path]:
    """A rerun of inputs that dead runs into the same folder (same settings) were doing.

    Returns {input: its MP3} for inputs a dead run already converted (the rerun counts
    them as done); the dead runs' other files of these inputs are marked as taken over,
    and a dead run with nothing left is marked superseded, so it is not offered again.
    """
    wanted = {i.path: i for i in spec.inputs if i.ok}
    if not wanted:
        return {}
    by_run: dict[str, list[FileRow]] = {}
    for run_id, row in journal.files_for_inputs(wanted):
        by_run.setdefault(run_id, []).append(row)
    converted: dict[Path, Path] = {}
    settings = _settings(spec)
    for run_id, rows in by_run.items():
        run = journal.run(run_id)
        if run is None or run_id == new_run_id or not is_dead(journal, run):
            continue
        if _settings(spec_from_json(run, ())) != settings:
            continue
        now = {r.task_id: r for r in settle_run(journal, run_id)}
        changes: list[tuple[str, dict[str, Any]]] = []
        for old in rows:
            row = now[old.task_id]
            source = wanted.get(row.input)
            if source is None or (row.size and row.size != source.size):
                continue  # the video changed since: not the same input any more
            if row.status == FileStatus.DONE.value and row.output and row.output.exists():
                converted.setdefault(row.input, row.output)
            elif row.status in UNFINISHED:
                changes.append((row.task_id, {
                    "status": SUPERSEDED,
                    "reason": why("taken_over", "taken over by run {run_id}", run_id=new_run_id)}))
        journal.update_files(run_id, changes)
        if not any(r.status in UNFINISHED for r in journal.files(run_id)):
            journal.set_run_state(run_id, SUPERSEDED, superseded_by=new_run_id)
    return converted


def _settings(spec: RunSpec) -> tuple[object, ...]:
    return (str(spec.output_dir), spec.quality.label, spec.mirror_folders,
            spec.keep_tags, spec.loudness_lufs)  # media: MP3s made otherwise are not taken over
