"""Benchmark: the estimate against what runs really took, for a sequence of runs.

Not a test (pytest does not collect it). Run:

    .venv/bin/python -m tests.benchmarks.bench_estimate [--where emulator,local]
        [--runs 20,40,40,60] [--local-runs 20,40,40] [--node-speed 20] [--poll 0.1,0.5]
        [--priority low|normal]

Each run of a sequence is estimated from what the runs before it taught (one journal per
sequence, empty at the start, as on a new computer), then run for real, then recorded,
the same way the command line does it (tests/estimate_world.py). Files are mixed lengths
(shuffled clips of 5-60 s on the emulator, 10-120 s on this computer).

- emulator: Azurite + the Batch emulator (tests/batch_emulator) with its node speed
  fixed (`node_speed` media seconds per second per slot), 2 nodes x 2 slots, real ffmpeg
  on the nodes; time and node-minutes.
- local: this computer, as many files at once as it has cores, ffmpeg at the app's
  default low priority (--priority normal to change); time only.

Prints one line per run: files, media seconds, estimated and actual seconds and the
error, estimated and actual node-minutes and the error. The first run of a sequence
starts from the stated defaults, so its error says how far those are from this world.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from batchgui.core.journal import Journal
from batchgui.targets.azure.config import AzureAccount, PoolSettings
from batchgui.targets.azure.target import AzureBatchTarget
from batchgui.targets.local import LocalTarget
from tests.azure_world import ffmpeg_bin_dir, start_azurite, start_batch_emulator
from tests.estimate_world import HEADER, Compared, make_clips, mixed_files, run_and_compare
from tests.integration.conftest import DEFAULT_TEST_KNOBS

LOCAL_LENGTHS = (10.0, 20.0, 40.0, 80.0, 120.0)
VERBOSE = False


def emulator_runs(counts: list[int], node_speed: float, work: Path) -> list[Compared]:
    clips = make_clips(work / "clips")
    azurite = start_azurite(str(work / "azurite"))
    emu = start_batch_emulator(path_dirs=[ffmpeg_bin_dir(work)], root=str(work / "batch"),
                               **{**DEFAULT_TEST_KNOBS, "node_speed": node_speed})
    try:
        account = AzureAccount(name="bench", batch_url=emu.url, batch_account=emu.account,
                               batch_key=emu.key,
                               storage_connection_string=azurite.connection_string)
        journal = Journal(work / "emulator-journal.sqlite3")
        out = []
        for i, count in enumerate(counts):
            target = AzureBatchTarget(account, PoolSettings(
                dedicated_nodes=2, slots_per_node=2, start_task="ffmpeg -version"))
            files = mixed_files(clips, work / f"emu-in-{i}", count, seed=i + 1)
            compared = run_and_compare(f"emulator #{i + 1}", files, work / f"emu-out-{i}",
                                       target, journal)
            print(compared.row(), flush=True)
            if VERBOSE:
                print(compared.parts(), flush=True)
            out.append(compared)
        return out
    finally:
        emu.stop()
        azurite.stop()


def local_runs(counts: list[int], work: Path, low_priority: bool) -> list[Compared]:
    clips = make_clips(work / "clips", LOCAL_LENGTHS)
    journal = Journal(work / "local-journal.sqlite3")
    out = []
    for i, count in enumerate(counts):
        files = mixed_files(clips, work / f"local-in-{i}", count, seed=i + 1)
        compared = run_and_compare(f"this computer #{i + 1}", files, work / f"local-out-{i}",
                                   LocalTarget(low_priority=low_priority), journal)
        print(compared.row(), flush=True)
        out.append(compared)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--where", default="emulator,local")
    ap.add_argument("--runs", default="20,40,40,60", help="files per emulator run")
    ap.add_argument("--local-runs", default="20,40,40", help="files per local run")
    ap.add_argument("--priority", choices=["low", "normal"], default="low")
    ap.add_argument("--node-speed", type=float, default=20.0)
    ap.add_argument("--poll", default=None,
                    help="the app's Azure poll bounds 'min,max' s (default: the app's own)")
    ap.add_argument("--parts", action="store_true", help="also say where the time went")
    args = ap.parse_args()
    global VERBOSE
    VERBOSE = args.parts
    if args.poll:
        os.environ["BATCHGUI_AZURE_POLL"] = args.poll
    where = args.where.split(",")
    with tempfile.TemporaryDirectory(prefix="bench-estimate-") as tmp:
        work = Path(tmp)
        os.environ["XDG_DATA_HOME"] = str(work / "data")  # no locks in the user's data dir
        print(f"cores: {os.cpu_count()}; emulator node speed {args.node_speed:g} media s/s "
              f"per slot, 2 nodes x 2 slots; Azure polls: {args.poll or 'the app default'}; "
              f"local ffmpeg priority: {args.priority}")
        print(HEADER)
        if "emulator" in where:
            emulator_runs([int(x) for x in args.runs.split(",")], args.node_speed, work)
        if "local" in where:
            local_runs([int(x) for x in args.local_runs.split(",")], work,
                       args.priority == "low")


if __name__ == "__main__":
    main()
