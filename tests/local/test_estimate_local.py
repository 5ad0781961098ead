"""The estimate on this computer against what the run really took, after one earlier run.

This machine is shared and its load comes and goes, so the bound is loose (within a
factor of 2); tests/benchmarks/bench_estimate.py reports the figures. ffmpeg runs at normal
priority here, so the load of other programs weighs on it less than on a low-priority one.
"""

from __future__ import annotations

from pathlib import Path

from batchgui import planning
from batchgui.core.journal import Journal
from batchgui.targets.local import LocalTarget
from tests.estimate_world import HEADER, make_clips, mixed_files, run_and_compare

LENGTHS = (10.0, 20.0, 40.0, 80.0, 120.0)


def test_a_40_file_run_on_this_computer_is_estimated_from_the_run_before(
        tmp_path: Path) -> None:
    clips = make_clips(tmp_path / "clips", LENGTHS)
    journal = Journal(tmp_path / "journal.sqlite3")
    first = run_and_compare("earlier run", mixed_files(clips, tmp_path / "in-1", 20, seed=1),
                            tmp_path / "out-1", LocalTarget(slots=2, low_priority=False),
                            journal)
    assert first.result.all_converted
    learned = planning.learned(journal)
    assert learned.local_speed is not None and learned.local_speed.runs == 1
    assert learned.local_task_s is not None  # 20 files of 5 lengths: a line
    second = run_and_compare("40 files", mixed_files(clips, tmp_path / "in-2", 40, seed=2),
                             tmp_path / "out-2", LocalTarget(slots=2, low_priority=False),
                             journal)
    print(f"\n{HEADER}\n{first.row()}\n{second.row()}")
    assert second.result.all_converted
    assert 0.5 <= second.estimated_s / second.actual_s <= 2.0, second.row()
