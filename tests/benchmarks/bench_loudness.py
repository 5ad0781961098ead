"""Benchmark: what "Even out loudness" costs per file (two passes vs one).

Not a test (pytest does not collect it, CI does not run it). Run:

    .venv/bin/python -m tests.benchmarks.bench_loudness [--files 4] [--seconds 120]

It makes N videos once (720p H.264 + AAC, speech-like and music-like sound, cached in
the temp folder), then times the same `batchgui convert DIR --parallel 1` (a) with
`--loudness` (measure pass + convert pass) and (b) without (one pass), alternating,
best of --rounds. It prints the time per file of each, the extra seconds per file and
per minute of audio, and the ratio a/b. One file at a time, so the figures are per file.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.media import make_video


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--rounds", type=int, default=2, help="alternate a/b this many times")
    args = ap.parse_args()
    cache = Path(tempfile.gettempdir()) / f"batchgui-bench-loud-{args.files}x{args.seconds:g}s"
    src = cache / "in"
    for i in range(args.files):
        sound = ("speech", "music")[i % 2]
        clip = src / f"{sound}{i}.mp4"
        if not clip.exists():
            print(f"making {clip} ({args.seconds:g} s, 720p, {sound})", flush=True)
            make_video(clip, args.seconds, size="1280x720", sound=sound)
    files = sorted(src.glob("*.mp4"))

    def convert(extra: list[str], name: str) -> float:
        out = cache / name
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "batchgui", "convert", str(src), "--output",
                        str(out), "--parallel", "1", *extra], check=True,
                       stdout=subprocess.DEVNULL)
        return time.perf_counter() - start

    a_times, b_times = [], []
    for _ in range(args.rounds):
        b_times.append(convert([], "out-one-pass"))
        a_times.append(convert(["--loudness"], "out-two-pass"))
    a, b = min(a_times), min(b_times)
    n = len(files)
    minutes = n * args.seconds / 60
    print(f"{n} files x {args.seconds:g} s 720p, one at a time, best of {args.rounds}")
    print(f"(a) --loudness (two passes): {a:.2f} s, {a / n:.2f} s per file   (all: "
          + ", ".join(f"{t:.2f}" for t in a_times) + ")")
    print(f"(b) one pass:                {b:.2f} s, {b / n:.2f} s per file   (all: "
          + ", ".join(f"{t:.2f}" for t in b_times) + ")")
    print(f"extra per file: {(a - b) / n:.2f} s; per minute of audio: {(a - b) / minutes:.2f} s")
    print(f"ratio a/b: {a / b:.3f}")


if __name__ == "__main__":
    main()
