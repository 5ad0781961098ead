"""Estimate against actual: mixed-length clips, a run, the estimate before and the figures after.

Shared by tests/integration/test_estimate_honest.py and tests/benchmarks/bench_estimate.py.
A run goes the way the command line takes it: the inputs are probed, the estimate is made
from what the journal learned (batchgui.planning.estimate_run), the run goes (core.Run),
and what it measured is stored and learned (planning.record_outcome). "Actual" is what
the run measured: its own time (its start -> its end, probing excluded, as the estimate
counts it) and the node-minutes core.billing counts from the service's node times.
"""

from __future__ import annotations

import asyncio
import random
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchgui import planning
from batchgui.core import media as core_media
from batchgui.core.journal import Journal
from batchgui.core.models import RunResult, RunSpec
from batchgui.core.run import Run
from batchgui.core.target import Target
from tests.media import make_video

#: clip lengths in seconds; a run takes a mix of them
LENGTHS = (5.0, 10.0, 20.0, 40.0, 60.0)


def make_clips(folder: Path, lengths: tuple[float, ...] = LENGTHS) -> dict[float, Path]:
    """One small clip (160x120 H.264 + AAC tone) of each length, made once."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = {}
    for seconds in lengths:
        path = folder / f"clip-{seconds:g}.mp4"
        if not path.exists():
            make_video(path, seconds, size="160x120")
        clips[seconds] = path
    return clips


def mixed_files(clips: dict[float, Path], folder: Path, count: int, seed: int = 1
                ) -> list[Path]:
    """`count` files of mixed lengths (every length about as often, in a shuffled order)."""
    folder.mkdir(parents=True, exist_ok=True)
    lengths = sorted(clips)
    picks = [lengths[i % len(lengths)] for i in range(count)]
    random.Random(seed).shuffle(picks)
    out = []
    for i, seconds in enumerate(picks):
        path = folder / f"file{i:03d}.mp4"
        shutil.copyfile(clips[seconds], path)
        out.append(path)
    return out


@dataclass(frozen=True)
class Compared:
    """One run's estimate and what it really took."""

    label: str
    files: int
    media_s: float
    estimated_s: float
    actual_s: float
    estimated_node_minutes: float
    actual_node_minutes: float | None
    result: RunResult
    estimate: dict[str, Any] = field(default_factory=dict)  # Estimate.to_dict()
    outcome: dict[str, Any] = field(default_factory=dict)  # RunOutcome.to_dict()

    @property
    def time_error(self) -> float:
        """(estimate - actual) / actual, as a fraction."""
        return (self.estimated_s - self.actual_s) / self.actual_s

    @property
    def node_minutes_error(self) -> float | None:
        if not self.actual_node_minutes:
            return None
        return (self.estimated_node_minutes - self.actual_node_minutes) / \
            self.actual_node_minutes

    def parts(self) -> str:
        """Where the time went, estimated and measured (seconds from the run's start)."""
        e, o = self.estimate, self.outcome
        first, last, end = o.get("first_start_s"), o.get("last_end_s"), o.get("run_seconds")
        measured = ("" if first is None or last is None or end is None else
                    f"first file started {first:.1f}, converting {last - first:.1f}, "
                    f"after the last file {end - last:.1f}")
        return (f"  estimated: pool {e.get('pool_ready_s')}, upload {e.get('upload_s')}, "
                f"converting {e.get('conversion_s')}, after the last file "
                f"{e.get('download_tail_s')}\n  measured: pool "
                f"{o.get('pool_ready_seconds') or 0:.1f}, upload "
                f"{o.get('upload_seconds') or 0:.1f}, {measured}")

    def row(self) -> str:
        nm_err = self.node_minutes_error
        node_part = (f"{self.estimated_node_minutes:7.3f} {self.actual_node_minutes:7.3f} "
                     f"{nm_err * 100:+6.1f} %" if nm_err is not None and
                     self.actual_node_minutes is not None else f"{'-':>7} {'-':>7} {'':>8}")
        return (f"{self.label:<26} {self.files:>5} {self.media_s:7.0f} "
                f"{self.estimated_s:7.1f} {self.actual_s:7.1f} {self.time_error * 100:+6.1f} %  "
                + node_part)


HEADER = (f"{'run':<26} {'files':>5} {'media s':>7} {'est s':>7} {'act s':>7} {'error':>8}  "
          f"{'est n-m':>7} {'act n-m':>7} {'error':>8}")


def run_and_compare(label: str, paths: list[Path], output: Path, target: Target,
                    journal: Journal) -> Compared:
    """Estimate, run and record one run, as the command line does."""

    async def go() -> Compared:
        loop = asyncio.get_running_loop()
        threads = max(4, min(16, target.threads_needed))
        with ThreadPoolExecutor(max_workers=threads) as executor:
            found = await loop.run_in_executor(executor, core_media.find_inputs, paths)
            inputs = [core_media.probe(p, root) for p, root in found]
            kind = "azure" if hasattr(target, "pool") else "local"
            spec = RunSpec(inputs=tuple(inputs), output_dir=output, target_name=kind)
            guess = await loop.run_in_executor(executor, planning.estimate_run, spec, target,
                                               journal)
            run = Run(spec, target, executor, journal=journal)
            run.extra_stats = {"estimate": guess.to_dict()}
            result = await run.execute()
            measured = run.measured()
            outcome = await loop.run_in_executor(
                executor, planning.record_outcome, journal, result.run_id, target, result,
                measured, None)
            return Compared(label, len(inputs), guess.media_s, guess.seconds,
                            measured["seconds"], guess.node_minutes, outcome.node_minutes,
                            result, guess.to_dict(), outcome.to_dict())

    return asyncio.run(go())
