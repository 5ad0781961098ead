"""The run's own, mutable view of each input, and the frozen snapshot made from them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchgui.core.models import (
    FileStatus,
    InputFile,
    NodeView,
    RunSnapshot,
    Stage,
    TaskStatus,
    TaskView,
)
from batchgui.core.target import WorkItem

_MEDIA_DONE = (FileStatus.DONE, FileStatus.FAILED, FileStatus.SKIPPED, FileStatus.CANCELLED,
               FileStatus.DOWNLOADING)


@dataclass
class RunFile:
    """One input during a run: its state, its task, where its MP3 goes."""

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
    journaled_final: bool = False  # the journal already has this file's end
    remote: dict[str, Any] = field(default_factory=dict)  # the target's facts (blob, md5 ...)
    view: TaskView | None = field(default=None, repr=False)

    def set(self, status: FileStatus, reason: str | None = None) -> None:
        self.status = status
        self.reason = reason
        self.view = None

    def media_done(self) -> float:
        """Seconds of this file's media that are converted, for the overall progress."""
        duration = self.input.duration_s or 0.0
        if self.status in _MEDIA_DONE:
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


def snapshot_of(
    run_id: str,
    stage: Stage,
    message: str,
    files: Sequence[RunFile],
    nodes: tuple[NodeView, ...],
    *,
    started: float,
    convert_started: float | None,
    paused: bool = False,
) -> RunSnapshot:
    """The whole visible state of a run at this moment."""
    total_media = sum(f.input.duration_s or 0.0 for f in files if f.item is not None)
    done_media = sum(f.media_done() for f in files if f.item is not None)
    elapsed = time.monotonic() - started
    fraction = done_media / total_media if total_media else 0.0
    eta: float | None = None
    rate = ""
    if stage is Stage.UPLOADING:
        done_b = sum(f.transfer[0] for f in files)
        total_b = sum(f.transfer[1] for f in files)
        if done_b and elapsed > 0:
            speed = done_b / elapsed
            rate = f"{speed / 1e6:.1f} MB/s"
            eta = (total_b - done_b) / speed if speed else None
    elif convert_started is not None and done_media > 0:
        spent = time.monotonic() - convert_started
        if spent > 0.5:
            speed = done_media / spent
            rate = f"{speed:.1f}× realtime"
            eta = (total_media - done_media) / speed
    return RunSnapshot(
        run_id=run_id,
        stage=stage,
        message=message,
        tasks=tuple(f.to_view() for f in files),
        nodes=nodes,
        files_total=len(files),
        files_done=sum(1 for f in files if f.status is FileStatus.DONE),
        files_failed=sum(
            1 for f in files if f.status in (FileStatus.FAILED, FileStatus.REJECTED)
        ),
        fraction=min(1.0, fraction),
        elapsed_s=elapsed,
        eta_s=None if paused else eta,
        rate=rate,
        paused=paused,
    )
