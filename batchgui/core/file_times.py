"""What one run's files tell the estimator: their own conversion times, fitted to a line.

Each converted file has a task time (its task's start -> end, as the target reports it)
and a media duration. A file costs a slot a fixed part (starting the task, reading the
input, writing the MP3 back) and a part that grows with its length, so

    seconds = overhead + media / speed

With files of different lengths in one run, both are measured: the line through the
points. The fit is Theil-Sen (the median of the slopes between pairs of files, then the
median intercept), not plain least squares: one file that waited on a busy disk or a slow
blob read would tilt a least-squares line; it moves a median of pairs hardly at all. Runs
whose files are all about as long (or too few) give no line; the caller then learns only
the speed, from the totals.

A slot also waits between files (the service notices the slot is free, or this computer
starts the next ffmpeg): the median of those waits is measured too, from the files that
started on a node after another file had ended there.

Pure functions over plain numbers: the run (core.run `measured()`) hands in every file's
timing; the samples kept in the journal are at most `MAX_SAMPLES`.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: per-file samples kept with a run's outcome (an even spread over the lengths)
MAX_SAMPLES = 200
#: a line needs at least this many files ...
MIN_FIT_FILES = 6
#: ... and lengths that differ: the middle half of them spans at least this many seconds
MIN_SPREAD_S = 5.0
#: and at least this share of the longer quartile's length
MIN_SPREAD_SHARE = 0.25
#: the service's clock and this computer's may differ by this much
CLOCK_SKEW_S = 5.0
#: a fitted per-file overhead above this is not believed (a node does not take 5 min to
#: start a task); below 0 it is 0
MAX_OVERHEAD_S = 300.0


@dataclass(frozen=True)
class FileTiming:
    """One converted file, as the run saw it (times are time.time() seconds)."""

    media_s: float
    size: int  # bytes of the input
    started_at: float  # its task started (on Azure: the service's clock)
    ended_at: float  # its task ended
    slot: str | None = None  # the node (Azure) or slot (this computer) it ran on
    mp3_bytes: int = 0

    @property
    def seconds(self) -> float:
        return self.ended_at - self.started_at


@dataclass(frozen=True)
class Fit:
    """seconds = overhead_s + media / speed, for one file on one slot."""

    overhead_s: float
    speed: float  # media seconds per second, for one file
    files: int


def run_figures(files: Sequence[FileTiming], started_at: float) -> dict[str, Any]:
    """The figures a run keeps for the estimator, from every converted file's timing.

    Times become seconds from the run's start (`started_at`, time.time()). Files whose
    task started before the run (a resumed run's files converted before it stopped) say
    nothing about this run's timeline and are left out.
    """
    since = started_at - CLOCK_SKEW_S
    timed = [f for f in files
             if f.ended_at >= f.started_at >= since and f.started_at > 0 and f.media_s > 0]
    if not timed:
        return {}
    last = max(timed, key=lambda f: f.ended_at)
    return {
        "file_samples": samples(timed),
        "slot_gap_s": slot_gap(timed),
        "first_start_s": min(f.started_at for f in timed) - started_at,
        "last_end_s": last.ended_at - started_at,
        "last_mp3_bytes": last.mp3_bytes,
    }


def samples(files: Sequence[FileTiming], limit: int = MAX_SAMPLES
            ) -> list[tuple[float, int, float]]:
    """(media s, input bytes, task s) of at most `limit` files, evenly over their lengths."""
    ordered = sorted(files, key=lambda f: f.media_s)
    if len(ordered) > limit:
        step = (len(ordered) - 1) / (limit - 1)
        ordered = [ordered[round(i * step)] for i in range(limit)]
    return [(round(f.media_s, 3), f.size, round(f.seconds, 3)) for f in ordered]


def slot_gap(files: Sequence[FileTiming]) -> float | None:
    """The median wait between a file ending on a node and the next one starting there.

    Only files that started after another had ended on the same node count (the first
    files of each slot waited for the pool or the upload, not for a slot).
    """
    by_slot: dict[str, list[FileTiming]] = {}
    for f in files:
        if f.slot:
            by_slot.setdefault(f.slot, []).append(f)
    gaps: list[float] = []
    for runs in by_slot.values():
        ends = sorted(f.ended_at for f in runs)
        for f in runs:
            i = bisect.bisect_right(ends, f.started_at)
            if i:
                gaps.append(f.started_at - ends[i - 1])
    return statistics.median(gaps) if gaps else None


def fit(points: Sequence[tuple[float, float]]) -> Fit | None:
    """The line seconds = overhead + media / speed through (media s, seconds) points, or
    None when the points cannot tell overhead from speed (too few, or lengths too alike)."""
    pts = [(x, y) for x, y in points if x > 0 and y > 0]
    n = len(pts)
    if n < MIN_FIT_FILES:
        return None
    xs = sorted(x for x, _ in pts)
    low, high = xs[n // 4], xs[(3 * n) // 4]
    if high - low < max(MIN_SPREAD_S, MIN_SPREAD_SHARE * high):
        return None
    apart = max(1.0, 0.05 * (xs[-1] - xs[0]))  # pairs closer than this say little
    slopes = [(y2 - y1) / (x2 - x1)
              for i, (x1, y1) in enumerate(pts) for x2, y2 in pts[i + 1:]
              if abs(x2 - x1) >= apart]
    if not slopes:
        return None
    slope = statistics.median(slopes)
    if slope <= 0:
        return None
    overhead = statistics.median(y - slope * x for x, y in pts)
    if overhead < 0:  # the line says "less than nothing": the files are all conversion
        overhead = 0.0
        slope = sum(y for _, y in pts) / sum(x for x, _ in pts)
    if overhead > MAX_OVERHEAD_S:
        return None
    return Fit(overhead, 1.0 / slope, n)
