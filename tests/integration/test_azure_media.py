"""Tags and even loudness on Azure Batch: Azurite and the Batch emulator, whose nodes run
the task command lines for real (ffmpeg, and python3 with the loudness script)."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from mutagen.id3 import ID3, ID3NoHeaderError

from batchgui.core import loudness
from batchgui.core import media as core_media
from batchgui.core.models import FileStatus, RunResult, RunSnapshot, RunSpec, Stage
from batchgui.core.run import Run
from batchgui.targets.azure.target import AzureBatchTarget
from batchgui.targets.azure.tasks import LOUDNESS_SCRIPT_BLOB, run_container
from tests.azure_world import Azurite, BatchEmulator
from tests.integration.test_azure_target import (
    CHECK_START,
    ODD_NAMES,
    account_for,
    azure_env,
    run_blobs,
    run_cli,
    small_pool,
)
from tests.media import MediaCache, measure_loudness

TAGS = {"title": "Möte i maj", "artist": "The Artist", "album": "An Album",
        "album_artist": "Various", "date": "2021-05-03", "genre": "Podcast",
        "comment": "Recorded live", "track": "3/12"}


def run_with(spec_changes: dict[str, Any], paths: list[Path], output: Path,
             target: AzureBatchTarget, batch_client: Any) -> tuple[RunResult, list[Any]]:
    """Run in-process; read the job's tasks (command lines, resource files) while it runs."""
    tasks: list[Any] = []

    def watch(snapshot: RunSnapshot) -> None:
        if snapshot.stage is Stage.MONITORING and not tasks:
            tasks.extend(batch_client.list_tasks(snapshot.run_id))

    async def go() -> RunResult:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=target.parallelism + 8) as executor:
            found = await loop.run_in_executor(executor, core_media.find_inputs, paths)
            inputs = [core_media.probe(p, root) for p, root in found]
            spec = RunSpec(inputs=tuple(inputs), output_dir=output, target_name="azure",
                           **spec_changes)
            run = Run(spec, target, executor, on_snapshot=watch, snapshot_interval=0.0)
            return await run.execute()

    return asyncio.run(go()), tasks


@pytest.mark.timeout(180)
def test_loudness_and_tags_on_the_nodes(
    azurite: Azurite, batch_emulator: BatchEmulator, batch_client: Any, media: MediaCache,
    tmp_path: Path,
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    for kind in ("speech", "music", "near_silent"):
        media.sound(src / f"{kind}.mp4", kind)
    media.sound(src / ODD_NAMES[0], "speech", seconds=4.0)
    media.tagged(src / "talk.mp4", TAGS, cover="jpg")
    quiet_in = measure_loudness(src / "near_silent.mp4")[0]
    # A kept pool: a run's own pool goes when its last task ends, and a poll that then
    # meets "PoolNotFound" before it saw that task end stops the run (monitor.py; reported).
    target = AzureBatchTarget(account_for(azurite, batch_emulator),
                              small_pool(slots_per_node=3, keep_pool=True),
                              poll_bounds=(0.1, 0.5))

    result, tasks = run_with({"loudness_lufs": -16.0}, [src], out, target, batch_client)

    outcomes = {o.input.name: o for o in result.outcomes}
    assert all(o.status is FileStatus.DONE for o in outcomes.values()), outcomes
    for name in ("speech.mp4", "music.mp4", ODD_NAMES[0], "talk.mp4"):
        integrated, peak = measure_loudness(outcomes[name].output)  # type: ignore[arg-type]
        assert abs(integrated - -16.0) <= 1.0, (name, integrated)
        assert peak <= -1.0, (name, peak)
        assert outcomes[name].reason is None
    integrated, peak = measure_loudness(out / "near_silent.mp3")
    assert abs(integrated - (quiet_in + loudness.MAX_GAIN_DB)) <= 1.0 and peak <= -1.0
    assert str(outcomes["near_silent.mp4"].reason) == "quiet recording: raised by at most 20 dB"

    # tags came over from the video on this computer, the same as for a local run
    tag = ID3(out / "talk.mp3")
    assert tag.version == (2, 3, 0)
    assert str(tag["TIT2"]) == "Möte i maj" and str(tag["TPE1"]) == "The Artist"
    assert tag.getall("APIC")[0].data == (media.folder / "cover.jpg").read_bytes()
    assert str(ID3(out / "speech.mp3")["TIT2"]) == "speech"
    assert not any(f.desc == loudness.MARKER_KEY for f in ID3(out / "near_silent.mp3")
                   .getall("TXXX")), "the marker does not reach the user's MP3"

    # each node did both passes itself, and its command line holds no user file name
    assert len(tasks) == 5
    for task in tasks:
        assert task.command_line.startswith(
            "python3 batchgui_loudness.py --lufs -16 --true-peak -2 -- ffmpeg -hide_banner ")
        assert " -i in.mp4 " in task.command_line and task.command_line.endswith(" out.mp3")
        for name in ("speech", "music", "near_silent", "talk", "INJECTED"):
            assert name not in task.command_line
        script = [r for r in task.resource_files if r.file_path == loudness.SCRIPT_NAME]
        assert len(script) == 1
        url = urlparse(script[0].http_url)
        assert url.path.endswith(f"/{run_container(result.run_id)}/{LOUDNESS_SCRIPT_BLOB}")
        sas = parse_qs(url.query)
        assert sas["sp"] == ["r"] and sas["sr"] == ["b"], "read-only, this one blob"
    assert run_blobs(azurite) == [], "the script went with the run's other blobs"


@pytest.mark.timeout(180)
def test_cli_strip_tags_and_a_loudness_target_reach_azure(
    azurite: Azurite, batch_emulator: BatchEmulator, media: MediaCache, tmp_path: Path
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    media.tagged(src / "talk.mp4", TAGS, cover="jpg")
    media.sound(src / "music.mp4", "music")
    report = tmp_path / "report.json"
    proc, _ = run_cli(
        [str(src), "--output", str(out), "--target", "azure", "--report", str(report),
         "--start-task", CHECK_START, "--keep-pool", "--strip-tags", "--loudness", "-23"],
        azure_env(azurite, batch_emulator), timeout=150,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [r["status"] for r in json.loads(report.read_text())] == ["converted"] * 2
    for mp3 in (out / "talk.mp3", out / "music.mp3"):
        with pytest.raises(ID3NoHeaderError):
            ID3(mp3)
    integrated, peak = measure_loudness(out / "music.mp3")
    assert abs(integrated - -23.0) <= 1.0 and peak <= -1.0
