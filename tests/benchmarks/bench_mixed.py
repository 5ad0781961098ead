"""Benchmark: longest first. One long file that sorts last by name, and many short ones.

Not a test (pytest does not collect it, CI does not run it). Run:

    .venv/bin/python -m tests.benchmarks.bench_mixed [--long 480] [--short 16x30]

It makes one `--long`-second clip named so it sorts last (zz-lecture.mp4) and N short
ones, then times (a) `batchgui convert --parallel <cores>` (which starts the longest
file first) and (b) `xargs -P <cores>` over the same files in name order, with the same
encoder settings, and prints the ratio a/b (target: at most 0.85 with 2 cores). It also
times (c) xargs given the same files longest first: c/b is what the order alone wins.
On 2 cores that is nothing (c/b about 1.0): ffmpeg 7+ runs a file in several threads, and
the long file's threads take part of the short files' core. Ours wins because each slot
also keeps its ffmpeg on a core of its own (batchgui/targets/children.py).
Ours runs at normal priority here, like the baseline, and with its bytecode cached.
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
    ap.add_argument("--long", type=float, default=480.0, help="seconds of the long file")
    ap.add_argument("--short", default="16x30", help="N x seconds of the short files")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    count, seconds = (float(x) for x in args.short.split("x"))
    cores = os.cpu_count() or 1
    cache = Path(tempfile.gettempdir()) / f"batchgui-bench-mixed-{args.long:g}-{args.short}"
    src = cache / "in"
    src.mkdir(parents=True, exist_ok=True)
    long_clip = src / "zz-lecture.mp4"
    if not long_clip.exists():
        print(f"making a {args.long:g} s clip", flush=True)
        make_video(long_clip, args.long, size="320x240")
    model = cache / "short.mp4"
    if not model.exists():
        make_video(model, seconds, size="320x240")
    for i in range(int(count)):
        clip = src / f"clip{i:02d}.mp4"
        if not clip.exists():
            shutil.copyfile(model, clip)
    files = sorted(src.glob("*.mp4"))  # name order: the long one last
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["XDG_DATA_HOME"] = str(cache / "data")

    def ours() -> float:
        out = cache / "out-ours"
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "batchgui", "convert", str(src), "--output",
                        str(out), "--parallel", str(cores), "--priority", "normal"],
                       check=True, stdout=subprocess.DEVNULL, env=env)
        return time.perf_counter() - start

    def baseline(order: list[Path]) -> float:
        out = cache / "out-xargs"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        for f in order:
            (out / f.name).symlink_to(f)
        cmd = ["xargs", "-0", "-P", str(cores), "-I{}", ffmpeg_exe(), "-hide_banner", "-nostdin",
               "-loglevel", "error", "-y", "-i", "{}", *encode_args(Quality()), "{}.mp3"]
        names = b"".join(str(out / f.name).encode() + b"\0" for f in order)
        start = time.perf_counter()
        subprocess.run(cmd, input=names, check=True)
        return time.perf_counter() - start

    longest_first = [files[-1], *files[:-1]]
    a_times, b_times, c_times = [], [], []
    for _ in range(args.rounds):
        b_times.append(baseline(files))
        a_times.append(ours())
        c_times.append(baseline(longest_first))
    a, b = min(a_times), min(b_times)
    print(f"1 x {args.long:g} s (sorting last) + {int(count)} x {seconds:g} s, {cores} cores, "
          f"best of {args.rounds}")
    print(f"(a) batchgui convert, longest first: {a:.2f} s   (all: "
          + ", ".join(f"{t:.2f}" for t in a_times) + ")")
    print(f"(b) xargs -P {cores}, name order:      {b:.2f} s   (all: "
          + ", ".join(f"{t:.2f}" for t in b_times) + ")")
    c = min(c_times)
    print(f"(c) xargs -P {cores}, longest first:   {c:.2f} s   (all: "
          + ", ".join(f"{t:.2f}" for t in c_times) + ")")
    print(f"ratio a/b: {a / b:.3f} (target <= 0.85)")
    print(f"ratio c/b: {c / b:.3f} (the order alone, every ffmpeg free to use every core)")


if __name__ == "__main__":
    main()
