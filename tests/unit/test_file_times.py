"""What one run's files tell: the line through their own times, the slots' waits, samples."""

from __future__ import annotations

import pytest

from batchgui.core.file_times import FileTiming, fit, run_figures, samples, slot_gap

LENGTHS = [5.0, 10.0, 20.0, 40.0, 60.0] * 4


def line(overhead: float, speed: float) -> list[tuple[float, float]]:
    return [(m, overhead + m / speed) for m in LENGTHS]


def test_the_line_gives_both_the_per_file_overhead_and_the_speed() -> None:
    got = fit(line(0.8, 20.0))
    assert got is not None
    assert got.overhead_s == pytest.approx(0.8) and got.speed == pytest.approx(20.0)
    assert got.files == 20


def test_one_file_that_waited_on_a_busy_disk_hardly_tilts_the_line() -> None:
    points = line(0.8, 20.0)
    points[3] = (40.0, 25.0)  # 2.8 s expected; this one took 25 s
    points[7] = (20.0, 0.05)  # and one clock hiccup the other way
    got = fit(points)
    assert got is not None
    assert got.overhead_s == pytest.approx(0.8, abs=0.05)
    assert got.speed == pytest.approx(20.0, rel=0.02)


@pytest.mark.parametrize("points", [
    [(5.0, 1.0), (60.0, 4.0), (30.0, 2.5), (10.0, 1.2), (20.0, 2.0)],  # 5 files: too few
    [(60.0, 4.0)] * 10,  # all the same length: overhead and speed can't be told apart
    [(58.0 + i % 5, 3.0 + 0.05 * (i % 5)) for i in range(12)],  # lengths too alike
    [(m, 10.0 - m / 10) for m in LENGTHS],  # longer files faster: nonsense
], ids=["too-few", "same-length", "alike", "falling"])
def test_no_line_when_the_files_cannot_tell(points: list[tuple[float, float]]) -> None:
    assert fit(points) is None


def test_a_line_below_zero_means_no_overhead() -> None:
    # a node that got faster as it warmed up: the line would start below zero
    got = fit([(m, max(0.01, m / 20 - 0.5)) for m in LENGTHS])
    assert got is not None and got.overhead_s == 0.0
    assert got.speed == pytest.approx(sum(LENGTHS) / sum(max(0.01, m / 20 - 0.5)
                                                         for m in LENGTHS))


def test_the_slots_wait_between_files_on_the_same_node() -> None:
    files = [
        FileTiming(60, 1, 100.0, 103.0, "node-a"),
        FileTiming(60, 1, 100.0, 103.2, "node-a"),
        FileTiming(40, 1, 103.1, 105.1, "node-a"),  # 0.1 s after the first ended
        FileTiming(40, 1, 103.5, 105.5, "node-a"),  # 0.3 s after the second ended
        FileTiming(20, 1, 100.0, 101.0, "node-b"),
        FileTiming(20, 1, 101.2, 102.2, "node-b"),  # 0.2 s
    ]
    assert slot_gap(files) == pytest.approx(0.2)
    assert slot_gap(files[:2]) is None  # nobody waited for a slot


def test_samples_are_bounded_and_spread_over_the_lengths() -> None:
    files = [FileTiming(float(i + 1), 1000 * (i + 1), 0.0, 1.0 + i / 100) for i in range(1000)]
    kept = samples(files)
    assert len(kept) == 200
    assert kept[0] == (1.0, 1000, 1.0) and kept[-1][0] == 1000.0
    assert samples(files[:50]) == [(f.media_s, f.size, round(f.seconds, 3)) for f in files[:50]]


def test_run_figures_count_from_the_runs_start() -> None:
    files = [FileTiming(60, 5, 1000.5, 1003.5, "n", mp3_bytes=700),
             FileTiming(5, 1, 1000.6, 1001.0, "n", mp3_bytes=60),
             FileTiming(0, 1, 999.0, 1010.0, "n"),  # no media length: left out
             FileTiming(60, 5, 900.0, 903.0, "n")]  # converted before a resumed run began
    figures = run_figures(files, started_at=1000.0)
    assert figures["first_start_s"] == pytest.approx(0.5)
    assert figures["last_end_s"] == pytest.approx(3.5)
    assert figures["last_mp3_bytes"] == 700
    assert len(figures["file_samples"]) == 2
    assert run_figures([], 0.0) == {}
