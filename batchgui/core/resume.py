"""Picking up a run that never reached its end (the app was closed, the computer crashed).

The run record on disk says which files were not finished. Resuming starts a new
run with just those files and the same settings; whatever the old run left half
done (hidden part files) is removed first. Failed files are not resumed: that is
what "Retry failed" is for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from batchgui.core.models import ConflictPolicy, FileStatus, InputFile, Quality, RunSpec
from batchgui.core.store import RunStore

_NOT_FINISHED = {
    FileStatus.READY, FileStatus.UPLOADING, FileStatus.QUEUED, FileStatus.CONVERTING,
    FileStatus.DOWNLOADING,
}


def unfinished_files(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in record.get("files", []) if FileStatus(f["status"]) in _NOT_FINISHED]


def latest_unfinished(store: RunStore) -> dict[str, Any] | None:
    """The newest run record that stopped half-way and still has files to do."""
    for record in reversed(store.unfinished()):
        if unfinished_files(record):
            return record
    return None


def remove_leftovers(record: dict[str, Any]) -> None:
    """Delete the hidden part files the interrupted run was writing."""
    for f in unfinished_files(record):
        if f.get("part"):
            Path(f["part"]).unlink(missing_ok=True)


def resume_spec(record: dict[str, Any], probe: Any) -> RunSpec:
    """A RunSpec with the unfinished files, probed again now (`probe(path, root)`)."""
    inputs: list[InputFile] = [
        probe(Path(f["input"]), Path(f["root"]) if f.get("root") else None)
        for f in unfinished_files(record)
    ]
    return RunSpec(
        inputs=tuple(inputs),
        output_dir=Path(record["output_dir"]),
        quality=Quality.parse(record.get("quality", "V2")),
        on_conflict=ConflictPolicy(record.get("on_conflict", "rename")),
        mirror_folders=bool(record.get("mirror_folders", False)),
        target_name=record.get("target", "local"),
        keep_tags=bool(record.get("keep_tags", True)),
        loudness_lufs=record.get("loudness_lufs"),
    )


def mark_resumed(store: RunStore, record: dict[str, Any], new_run_id: str) -> None:
    """The old record is closed for good; it points at the run that took over."""
    record = dict(record, finished=True, resumed_by=new_run_id)
    store.save(record["run_id"], record)
