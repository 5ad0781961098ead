"""Benchmark: `batchgui convert` on this computer vs plain `xargs -P` over the same ffmpeg.

Not a test (pytest does not collect it, CI does not run it). Run:

    .venv/bin/python -m tests.benchmarks.bench_local [--files 6] [--seconds 60] [--size 1280x720]
    .venv/bin/python -m tests.benchmarks.bench_local --files 300 --seconds 1   # many small files

It makes one clip of H.264 + AAC and copies it N times (cached in the temp folder), then times
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
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--rounds", type=int, default=2, help="alternate a/b this many times")
    ap.add_argument("--priority", choices=["low", "normal"], default="normal",
                    help="ours at the priority given (normal: the same as the baseline)")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    cache = (Path(tempfile.gettempdir())
             / f"batchgui-bench-{args.files}x{args.seconds:g}s-{args.size}")
    src = cache / "in"
    model = cache / "model.mp4"
    if not model.exists():
        print(f"making a {args.seconds:g} s {args.size} clip", flush=True)
        make_video(model, args.seconds, size=args.size)
    src.mkdir(parents=True, exist_ok=True)
    for i in range(args.files):
        clip = src / f"clip{i:05d}.mp4"
        if not clip.exists():
            shutil.copyfile(model, clip)
    files = sorted(src.glob("*.mp4"))

    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # users' installs keep their bytecode
    env["XDG_DATA_HOME"] = str(cache / "data")  # a journal of its own

    def ours() -> float:
        out = cache / "out-ours"
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "batchgui", "convert", str(src), "--output",
                        str(out), "--parallel", str(cores), "--priority", args.priority],
                       check=True, stdout=subprocess.DEVNULL, env=env)
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
    print(f"{len(files)} files x {args.seconds:g} s {args.size}, {cores} cores, "
          f"best of {args.rounds}, ours at {args.priority} priority, bytecode cached")
    print(f"(a) batchgui convert --parallel {cores}: {a:.2f} s   (all: "
          + ", ".join(f"{t:.2f}" for t in a_times) + ")")
    print(f"(b) xargs -P {cores} ffmpeg:              {b:.2f} s   (all: "
          + ", ".join(f"{t:.2f}" for t in b_times) + ")")
    print(f"ratio a/b: {a / b:.3f} (targets: 6 files <= 1.10, 300 <= 1.15, 2000 <= 1.25)")


if __name__ == "__main__":
    main()
