"""A real conversion through the test world: Azurite SAS in, ffmpeg on a node, Azurite SAS out."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from azure.batch import models as m
from azure.storage.blob import (
    BlobSasPermissions,
    ContainerSasPermissions,
    generate_blob_sas,
    generate_container_sas,
)

from tests.azure_world import Azurite, BatchEmulator, make_test_mp4, wait_for
from tests.integration.test_batch_emulator_sdk import pool_options


def _read_sas(az: Azurite, container: str, blob: str) -> str:
    sas = generate_blob_sas(
        az.account_name,
        container,
        blob,
        account_key=az.account_key,
        permission=BlobSasPermissions(read=True),
        expiry=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )
    return f"{az.blob_endpoint}/{container}/{blob}?{sas}"


def _write_sas(az: Azurite, container: str) -> str:
    sas = generate_container_sas(
        az.account_name,
        container,
        account_key=az.account_key,
        permission=ContainerSasPermissions(create=True, write=True),
        expiry=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )
    return f"{az.blob_endpoint}/{container}?{sas}"


def _wait_completed(client: Any, job: str, task: str, timeout_s: float = 60) -> Any:
    return wait_for(
        lambda: (t := client.get_task(job, task)).state == "completed" and t,
        timeout_s=timeout_s,
        interval_s=0.1,
        what=f"task {task} completed",
    )


@pytest.mark.timeout(120)
def test_ffmpeg_task_reads_sas_input_and_uploads_mp3(
    azurite: Azurite,
    blob_service: Any,
    batch_client: Any,
    batch_emulator: BatchEmulator,
    tmp_path: Path,
) -> None:
    inputs = blob_service.create_container("in-ffmpeg")
    outputs = blob_service.create_container("out-ffmpeg")
    mp4 = make_test_mp4(tmp_path / "clip.mp4", seconds=3)
    with open(mp4, "rb") as fh:
        inputs.upload_blob("b7f3c1.mp4", fh)

    start = m.BatchStartTask(command_line="ffmpeg -hide_banner -version", wait_for_success=True)
    batch_client.create_pool(pool_options("pool-ff", dedicated=1, slots=1, start_task=start))
    batch_client.create_job(
        m.BatchJobCreateOptions(id="job-ff", pool_info=m.BatchPoolInfo(pool_id="pool-ff"))
    )
    out_url = _write_sas(azurite, "out-ffmpeg")
    task = m.BatchTaskCreateOptions(
        id="convert-1",
        # No shell on a Batch Linux node: the command line is split and exec'd as is.
        command_line=(
            "ffmpeg -nostdin -hide_banner -y -i input.mp4 -vn -c:a libmp3lame -b:a 128k out.mp3"
        ),
        resource_files=[
            m.ResourceFile(
                http_url=_read_sas(azurite, "in-ffmpeg", "b7f3c1.mp4"), file_path="input.mp4"
            )
        ],
        output_files=[
            m.OutputFile(
                file_pattern="out.mp3",
                destination=m.OutputFileDestination(
                    container=m.OutputFileBlobContainerDestination(
                        container_url=out_url, path="results/b7f3c1.mp3"
                    )
                ),
                upload_options=m.OutputFileUploadConfiguration(upload_condition="tasksuccess"),
            ),
            m.OutputFile(
                file_pattern="../std*.txt",
                destination=m.OutputFileDestination(
                    container=m.OutputFileBlobContainerDestination(
                        container_url=out_url, path="logs/convert-1"
                    )
                ),
                upload_options=m.OutputFileUploadConfiguration(upload_condition="taskcompletion"),
            ),
        ],
    )
    batch_client.create_task("job-ff", task)
    done = _wait_completed(batch_client, "job-ff", "convert-1")
    assert done.execution_info.result == "success", batch_client.get_task("job-ff", "convert-1")
    assert done.execution_info.exit_code == 0

    names = sorted(b.name for b in outputs.list_blobs())
    assert names == ["logs/convert-1/stderr.txt", "logs/convert-1/stdout.txt", "results/b7f3c1.mp3"]
    data = outputs.download_blob("results/b7f3c1.mp3").readall()
    assert len(data) > 10_000
    from mutagen.mp3 import MP3

    duration = MP3(io.BytesIO(data)).info.length
    assert abs(duration - 3.0) < 0.3, duration
    assert b"libmp3lame" in outputs.download_blob("logs/convert-1/stderr.txt").readall()


@pytest.mark.timeout(60)
def test_unreadable_resource_file_fails_the_task(
    azurite: Azurite, blob_service: Any, batch_client: Any, batch_emulator: BatchEmulator
) -> None:
    blob_service.create_container("in-missing")
    batch_client.create_pool(pool_options("pool-rf", dedicated=1, slots=1))
    batch_client.create_job(
        m.BatchJobCreateOptions(id="job-rf", pool_info=m.BatchPoolInfo(pool_id="pool-rf"))
    )
    batch_client.create_task(
        "job-rf",
        m.BatchTaskCreateOptions(
            id="t",
            command_line="ffmpeg -version",
            resource_files=[
                m.ResourceFile(
                    http_url=_read_sas(azurite, "in-missing", "nope.mp4"), file_path="input.mp4"
                )
            ],
        ),
    )
    done = _wait_completed(batch_client, "job-rf", "t")
    assert done.execution_info.result == "failure"
    assert done.execution_info.failure_info.category == "usererror"
    assert done.execution_info.failure_info.code == "BlobNotFound"


@pytest.mark.timeout(60)
def test_write_only_sas_upload_and_upload_conditions(
    azurite: Azurite, blob_service: Any, batch_client: Any, batch_emulator: BatchEmulator
) -> None:
    outputs = blob_service.create_container("out-cond")
    url = _write_sas(azurite, "out-cond")
    batch_client.create_pool(pool_options("pool-oc", dedicated=1, slots=2))
    batch_client.create_job(
        m.BatchJobCreateOptions(id="job-oc", pool_info=m.BatchPoolInfo(pool_id="pool-oc"))
    )

    def outputs_for(task_id: str) -> list[m.OutputFile]:
        return [
            m.OutputFile(
                file_pattern="*.txt",
                destination=m.OutputFileDestination(
                    container=m.OutputFileBlobContainerDestination(
                        container_url=url, path=f"{task_id}/ok"
                    )
                ),
                upload_options=m.OutputFileUploadConfiguration(upload_condition="tasksuccess"),
            ),
            m.OutputFile(
                file_pattern="../stderr.txt",
                destination=m.OutputFileDestination(
                    container=m.OutputFileBlobContainerDestination(
                        container_url=url, path=f"{task_id}/err.txt"
                    )
                ),
                upload_options=m.OutputFileUploadConfiguration(upload_condition="taskfailure"),
            ),
        ]

    batch_client.create_task(
        "job-oc",
        m.BatchTaskCreateOptions(
            id="good",
            command_line='/bin/sh -c "echo a > a.txt; mkdir -p sub; echo b > sub/b.txt"',
            output_files=outputs_for("good"),
        ),
    )
    batch_client.create_task(
        "job-oc",
        m.BatchTaskCreateOptions(
            id="bad",
            command_line='/bin/sh -c "echo a > a.txt; echo broken >&2; exit 3"',
            output_files=outputs_for("bad"),
        ),
    )
    _wait_completed(batch_client, "job-oc", "good")
    bad = _wait_completed(batch_client, "job-oc", "bad")
    assert bad.execution_info.exit_code == 3
    names = sorted(b.name for b in outputs.list_blobs())
    assert names == ["bad/err.txt", "good/ok/a.txt"]
    assert outputs.download_blob("bad/err.txt").readall() == b"broken\n"
