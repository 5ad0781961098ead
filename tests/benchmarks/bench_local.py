"""Benchmark: `batchgui convert` on this computer vs plain `xargs -P` over the same ffmpeg.

Not a test (pytest does not collect it, CI does not run it). Run:

    .venv/bin/python -m tests.benchmarks.bench_local [--files 6] [--seconds 60]

It makes N clips of 720p H.264 + AAC once (cached in the temp folder), then times
(a) `batchgui convert DIR --output OUT --parallel <cores>` and (b) the baseline
`xargs -0 -P <cores>` running the same ffmpeg with the same encoder settings, and
prints both times and the ratio a/b (target: at most 1.10).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from batchgui.core.ffmpeg import encode_args, ffmpeg_exe
from batchgui.core.models import Quality
from tests.media import make_video


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--rounds", type=int, default=2, help="alternate a/b this many times")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    cache = Path(tempfile.gettempdir()) / f"batchgui-bench-{args.files}x{args.seconds:g}s"
    src = cache / "in"
    for i in range(args.files):
        clip = src / f"clip{i}.mp4"
        if not clip.exists():
            print(f"making {clip} ({args.seconds:g} s, 720p)", flush=True)
            make_video(clip, args.seconds, size="1280x720")
    files = sorted(src.glob("*.mp4"))

    def ours() -> float:
        out = cache / "out-ours"
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "batchgui", "convert", str(src), "--output",
                        str(out), "--parallel", str(cores)], check=True,
                       stdout=subprocess.DEVNULL)
        return time.perf_counter() - start

    def baseline() -> float:
        out = cache / "out-xargs"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        for f in files:  # xargs runs no shell, so give each input its output name by a link
            (out / f.name).symlink_to(f)
        cmd = ["xargs", "-0", "-P", str(cores), "-I{}", ffmpeg_exe(), "-hide_banner", "-nostdin",
               "-loglevel", "error", "-y", "-i", "{}", *encode_args(Quality()), "{}.mp3"]
        names = b"".join(str(out / f.name).encode() + b"\0" for f in files)
        start = time.perf_counter()
        subprocess.run(cmd, input=names, check=True)
        return time.perf_counter() - start

    a_times, b_times = [], []
    for _ in range(args.rounds):
        b_times.append(baseline())
        a_times.append(ours())
    a, b = min(a_times), min(b_times)
    print(f"{len(files)} files x {args.seconds:g} s 720p, {cores} cores, best of {args.rounds}")
    print(f"(a) batchgui convert --parallel {cores}: {a:.2f} s   (all: "
          + ", ".join(f"{t:.2f}" for t in a_times) + ")")
    print(f"(b) xargs -P {cores} ffmpeg:              {b:.2f} s   (all: "
          + ", ".join(f"{t:.2f}" for t in b_times) + ")")
    print(f"ratio a/b: {a / b:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
