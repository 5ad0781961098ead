"""Benchmark: start-to-window time of the bundle vs the source install, side by side.

Not a test (pytest does not collect it, CI does not run it). Run after building the
bundle (`python3 packaging/bootstrap.py bundle`):

    .venv/bin/python -m tests.benchmarks.bench_bundle_start [--rounds 7]
    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python -m \
        tests.benchmarks.bench_bundle_start --platform xcb

Each round starts (a) dist/BatchGUI/batchgui and (b) the source install (this
environment's python running `-m batchgui`, bytecode cached: PYTHONDONTWRITEBYTECODE
is removed and one warm-up run writes the caches), both with the same folder of
clips to open, and times from the start of the process until the window says it
is on screen (BATCHGUI_CLOSE_WHEN_SHOWN=1); the window then closes itself. Prints
the medians and the ratio a/b.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.media import make_video

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "dist" / "BatchGUI" / "batchgui"
WINDOW_SHOWN = "BatchGUI: window shown"


def time_to_window(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=tempfile.gettempdir(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    shown = None
    for line in proc.stdout:
        if WINDOW_SHOWN in line:
            shown = time.perf_counter() - started
            break
    proc.communicate(timeout=60)
    if shown is None or proc.returncode != 0:
        raise SystemExit(f"{argv[0]} did not show its window (exit {proc.returncode})")
    return shown


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--platform", default="offscreen", help="Qt platform: offscreen or xcb")
    args = ap.parse_args()
    if not BUNDLE.exists():
        raise SystemExit("no bundle: run `python3 packaging/bootstrap.py bundle` first")
    home = Path(tempfile.mkdtemp(prefix="batchgui-bench-start-"))
    clips = home / "clips"
    for i in range(3):
        make_video(clips / f"clip{i}.mp4", 2.0)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    env.update(QT_QPA_PLATFORM=args.platform, BATCHGUI_CLOSE_WHEN_SHOWN="1",
               XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
               XDG_CACHE_HOME=str(home / "cache"))
    source_env = dict(env, PYTHONPATH=str(ROOT))
    bundle_argv = [str(BUNDLE), str(clips)]
    source_argv = [sys.executable, "-m", "batchgui", str(clips)]
    time_to_window(bundle_argv, env)  # warm-up: disk caches, and the source's bytecode
    time_to_window(source_argv, source_env)
    bundle_times, source_times = [], []
    for _ in range(args.rounds):
        bundle_times.append(time_to_window(bundle_argv, env))
        source_times.append(time_to_window(source_argv, source_env))
    a, b = statistics.median(bundle_times), statistics.median(source_times)
    print(f"platform {args.platform}, {args.rounds} rounds, median start-to-window:")
    print(f"  (a) bundle          {a * 1000:7.0f} ms   (min {min(bundle_times) * 1000:.0f})")
    print(f"  (b) source install  {b * 1000:7.0f} ms   (min {min(source_times) * 1000:.0f})")
    print(f"  ratio a/b: {a / b:.2f}")


if __name__ == "__main__":
    main()
