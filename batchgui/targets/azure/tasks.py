"""What one Batch task is: its command line, its files, its limits, and what its end means.

Each run keeps everything in its own container (`run_container`), with opaque blob
names: `in/<task id>.mp4`, `out/<task id>.mp3`, `logs/<task id>/std*.txt`. The node
sees only fixed file names, so no user file name ever reaches a command line.
"""

from __future__ import annotations

import importlib.resources
import shlex
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from azure.batch import models as bm

from batchgui.core import loudness
from batchgui.core.ffmpeg import convert_argv, stderr_reason
from batchgui.core.models import TaskResult, TaskState, TaskStatus
from batchgui.i18n import Reason, why
from batchgui.targets.azure.batch import value

INPUT_NAME = "in{ext}"
OUTPUT_NAME = "out.mp3"
#: task retries on another try or node (a node dying, a blip while downloading)
TASK_RETRIES = 2
#: the prefix of every container BatchGUI makes (one per run)
CONTAINER_PREFIX = "batchgui-"


def run_container(run_id: str) -> str:
    """The run's own container: 'batchgui-run-20261129-175521-009b83' (valid, lower-case)."""
    return (CONTAINER_PREFIX + run_id.lower())[:63].rstrip("-")


def input_blob(task_id: str, input_path: Path) -> str:
    ext = input_path.suffix.lower()
    if ext not in (".mp4", ".m4v", ".mov"):
        ext = ".mp4"
    return f"in/{task_id}{ext}"


def output_blob(task_id: str) -> str:
    return f"out/{task_id}.mp3"


def log_prefix(task_id: str) -> str:
    return f"logs/{task_id}"


#: media: the loudness script in the run's container, fetched by each task that evens loudness
LOUDNESS_SCRIPT_BLOB = f"tools/{loudness.SCRIPT_NAME}"


def upload_loudness_script(storage: Any) -> None:
    """Put core/loudness.py in the run's container, where its tasks fetch it (blocking)."""
    source = importlib.resources.files("batchgui.core").joinpath("loudness.py")
    with importlib.resources.as_file(source) as path:
        storage.upload(path, LOUDNESS_SCRIPT_BLOB)


def sas_lifetime(total_media_s: float, total_bytes: int, parallel: int) -> timedelta:
    """How long the run's SAS URLs must live: the run's expected length with a wide margin.

    Converting is assumed to be no faster than real time per slot, the nodes to fetch at
    2 MB/s each, and the pool to need a few hours at worst to come up and work the queue.
    """
    parallel = max(1, parallel)
    expected = total_media_s / parallel + total_bytes / 2e6 / parallel
    seconds = 3 * 3600 + 2 * expected
    return timedelta(seconds=min(seconds, 7 * 24 * 3600))


def task_time_limit(duration_s: float | None) -> timedelta:
    """A task's wall-clock limit: ample for one file even on a slow node, but not endless."""
    return timedelta(seconds=max(20 * 60, 3 * (duration_s or 0.0) + 10 * 60))


def task_command(input_name: str, quality: Any, loudness_lufs: float | None = None) -> str:
    """The node's command line: fixed names only, no shell (Batch runs it directly on Linux).

    With even loudness, the node's python3 runs core/loudness.py (a resource file) around
    the same ffmpeg command: it measures in.mp4, then converts with the measured values.
    """
    argv = convert_argv(input_name, OUTPUT_NAME, quality, progress=False)
    if loudness_lufs is not None:  # media
        peak = loudness.true_peak_limit(quality.vbr_level, quality.cbr_kbps)
        argv = ["python3", loudness.SCRIPT_NAME, "--lufs", f"{loudness_lufs:g}",
                "--true-peak", f"{peak:g}", "--", *argv]
    return shlex.join(argv)


def task_options(task_id: str, input_path: Path, quality: Any, duration_s: float | None,
                 read_url: str, write_url: str, *, loudness_lufs: float | None = None,
                 script_url: str | None = None) -> bm.BatchTaskCreateOptions:
    """One task: read its own input through `read_url`, write the MP3 and logs back.

    With `loudness_lufs`, the task also fetches the loudness script through `script_url`.
    """
    ext = PurePosixPath(input_blob(task_id, input_path)).suffix
    input_name = INPUT_NAME.format(ext=ext)
    resources = [bm.ResourceFile(http_url=read_url, file_path=input_name)]
    if loudness_lufs is not None:  # media
        if script_url is None:
            raise ValueError("even loudness needs the loudness script's URL")  # a bug
        resources.append(bm.ResourceFile(http_url=script_url, file_path=loudness.SCRIPT_NAME))

    def upload(pattern: str, path: str, condition: str) -> bm.OutputFile:
        return bm.OutputFile(
            file_pattern=pattern,
            destination=bm.OutputFileDestination(
                container=bm.OutputFileBlobContainerDestination(container_url=write_url, path=path)
            ),
            upload_options=bm.OutputFileUploadConfiguration(upload_condition=condition),
        )

    return bm.BatchTaskCreateOptions(
        id=task_id,
        display_name=task_id,
        command_line=task_command(input_name, quality, loudness_lufs),
        resource_files=resources,
        output_files=[
            upload(OUTPUT_NAME, output_blob(task_id), "tasksuccess"),
            upload("../std*.txt", log_prefix(task_id), "taskcompletion"),
        ],
        constraints=bm.BatchTaskConstraints(
            max_wall_clock_time=task_time_limit(duration_s),
            max_task_retry_count=TASK_RETRIES,
            retention_time=timedelta(days=1),
        ),
    )


def _stamp(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


def task_status(task: bm.BatchTask) -> TaskStatus:
    """The service's view of one task, as the run understands it."""
    try:
        state = TaskState(value(task.state))
    except ValueError:
        state = TaskState.ACTIVE
    info = task.execution_info
    node_id = task.node_info.node_id if task.node_info else None
    result: TaskResult | None = None
    exit_code = info.exit_code if info else None
    if state is TaskState.COMPLETED and info is not None:
        ok = value(info.result) == "success" and info.failure_info is None and exit_code == 0
        result = TaskResult.SUCCESS if ok else TaskResult.FAILURE
    return TaskStatus(
        task_id=task.id,
        state=state,
        node_id=node_id,
        started_at=_stamp(info.start_time) if info else None,
        ended_at=_stamp(info.end_time) if info else None,
        exit_code=exit_code,
        result=result,
        retries=(info.retry_count or 0) if info else 0,
    )


def failure_reason(task: bm.BatchTask, stderr_tail: str) -> Reason:
    """Why a task failed, in the words the file list shows."""
    info = task.execution_info
    failure = info.failure_info if info else None
    code = (failure.code or "") if failure else ""
    message = (failure.message or "") if failure else ""
    lowered = code.lower()
    if "resourcefile" in lowered or "blob" in lowered:
        return why("node_download_failed", "the node could not download the video from storage "
                   "({detail})", detail=message or code)
    if "fileupload" in lowered or "upload" in lowered:
        return why("node_upload_failed", "the MP3 could not be uploaded from the node "
                   "({detail})", detail=message or code)
    if "programnotfound" in lowered:
        if "python" in message.lower():  # media: even loudness runs a python3 script
            return why("python_missing", "python3 is not installed on the node (it is needed "
                       "to even out loudness)")
        return _ffmpeg_missing()
    if "wallclock" in lowered or "timeout" in lowered or "timed out" in message.lower():
        return why("time_limit", "the conversion took longer than its time limit and was "
                   "stopped")
    exit_code = info.exit_code if info else None
    said = stderr_reason(stderr_tail)
    said_text = said.text if said else ""
    if exit_code not in (None, 0):
        if exit_code == 127 or "not found" in said_text.lower() and "ffmpeg" in said_text:
            return _ffmpeg_missing()
        return said or why("ffmpeg_failed", "ffmpeg failed (exit code {exit_code})",
                           exit_code=str(exit_code))
    if message:
        return Reason("batch_task_failed", message, {"code": code})
    return said or why("conversion_failed", "the conversion failed on the node")


def _ffmpeg_missing() -> Reason:
    return why("ffmpeg_missing", "ffmpeg is not installed on the node (check the pool's start "
               "task)")
