"""Replay real Batch exchanges (tests/conformance/*.jsonl) on the emulator.

The corpus lives in this repository (tests/conformance/, copied from the shared folder), so
a clone anywhere replays it; nothing here skips for a missing file. How each recording is
staged and compared: tests/conformance/replay.py and cases.py. Every recording is replayed
except the ones in the SKIP tables below, each with its reason (the test prints them).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.azure_world import BatchEmulator
from tests.conformance.cases import replay
from tests.conformance.replay import Raw, load

REPLAY_KNOBS = dict(
    delete_delay_s=1.0,  # deleting pools/jobs stay visible for the recorded GETs
    state_delay_s=0.03,
    allocation_delay_s=0.03,
    job_transition_s=1.0,  # disabling/terminating stay visible for the recorded GETs
    all_tasks_complete_delay_s=60.0,  # a terminatejob job without tasks must not complete
)

SKIP_1 = {
    ("POST", "/pools", 400): "the live service rejected a subnet/gallery image in another "
    "subscription; the emulator has no subscriptions to check against",
    ("POST", "/pools/{poolId}/nodes/{nodeId}/reimage", 409): "node reimage is not emulated "
    "(cloudServiceConfiguration pools only)",
}

JOB_SCHEDULES = "job schedules are not emulated (BatchGUI does not use them)"
SKIP_2 = {("*", "/jobschedules*", 0): JOB_SCHEDULES}


def _report(name: str, replayed: int, total: int, skipped: list[tuple[int, str]],
            failures: list[str]) -> str:
    lines = [
        f"{name}: {replayed} of {total} recordings replay with matching status/keys/headers/"
        f"states; {len(skipped)} skipped; {len(failures)} differ"
    ]
    lines += [f"  skipped #{i}: {reason}" for i, reason in skipped]
    return "\n".join(lines)


def _run(emu: BatchEmulator, name: str, skip: dict[tuple[str, str, int], str]
         ) -> tuple[int, list[tuple[int, str]], str]:
    recs = load(name)
    replayed, skipped, failures = replay(Raw(emu), recs, skip)
    summary = _report(name, replayed, len(recs), skipped, failures)
    print(summary)
    out = os.environ.get("BATCH_CONFORMANCE_SUMMARY")
    if out:
        with open(out, "a") as fh:
            fh.write(summary + "\n")
    assert not failures, summary + "\n" + "\n".join(failures)
    assert replayed + len(skipped) == len(recs)
    return replayed, skipped, summary


def test_corpus_is_in_the_repository() -> None:
    here = Path(__file__).resolve().parents[1] / "conformance"
    assert len(load("batch-recordings.jsonl")) == 133
    assert len(load("batch-recordings-2.jsonl")) == 107
    assert (here / "README.md").exists()


@pytest.mark.timeout(150)
@pytest.mark.batch_emulator_knobs(**REPLAY_KNOBS)
def test_replay_recorded_exchanges(batch_emulator: BatchEmulator) -> None:
    replayed, skipped, _ = _run(batch_emulator, "batch-recordings.jsonl", SKIP_1)
    assert replayed >= 120 and len(skipped) <= 13


@pytest.mark.timeout(150)
@pytest.mark.batch_emulator_knobs(**REPLAY_KNOBS)
def test_replay_second_recordings(batch_emulator: BatchEmulator) -> None:
    replayed, skipped, _ = _run(batch_emulator, "batch-recordings-2.jsonl", SKIP_2)
    assert {reason for _, reason in skipped} == {JOB_SCHEDULES}
    assert replayed == 107 - 17  # every line but the 17 job schedule ones
