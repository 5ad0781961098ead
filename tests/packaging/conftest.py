"""The bundle the packaging tests run: built once per session when dist/ is missing or stale.

`python3 packaging/bootstrap.py test` (and so CI, on a fresh clone) builds it here,
with packaging/bundle.py, the very script `bootstrap.py bundle` runs; a later run
reuses it while nothing it is made from changed. The build time is printed at the end.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))

import bundle as bundle_script  # noqa: E402  (packaging/bundle.py)

#: what the bundle is made from: a change to any of these makes it stale
SOURCES = [ROOT / "batchgui", ROOT / "packaging", ROOT / "pyproject.toml"]


@dataclass
class Bundle:
    folder: Path
    executable: Path
    tarball: Path
    build_seconds: float | None  # None: an up-to-date bundle was reused


_built: list[Bundle] = []


def newest_source_time() -> float:
    newest = 0.0
    for source in SOURCES:
        files = [source] if source.is_file() else source.rglob("*")
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts:
                newest = max(newest, path.stat().st_mtime)
    return newest


@pytest.fixture(scope="session")
def bundle() -> Bundle:
    executable = bundle_script.BUNDLE / "batchgui"
    tarball = bundle_script.tarball_path()
    fresh = (executable.exists() and tarball.exists()
             and tarball.stat().st_mtime >= newest_source_time())
    seconds = None
    if not fresh:
        started = time.monotonic()
        proc = subprocess.run([sys.executable, str(ROOT / "packaging" / "bundle.py")],
                              cwd=ROOT, capture_output=True, text=True, timeout=900)
        seconds = time.monotonic() - started
        if proc.returncode != 0:
            pytest.fail("building the bundle failed:\n" + (proc.stdout + proc.stderr)[-4000:])
    built = Bundle(bundle_script.BUNDLE, executable, tarball, seconds)
    _built.append(built)
    return built


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    for built in _built:
        total = bundle_script.folder_size(built.folder)
        without = bundle_script.folder_size(built.folder,
                                            skip=built.folder / bundle_script.FFMPEG_DIR)
        how = (f"built in {built.build_seconds:.0f} s" if built.build_seconds is not None
               else "up to date, reused")
        terminalreporter.write_line(
            f"bundle: {how}; {total / 1e6:.1f} MB, {without / 1e6:.1f} MB without ffmpeg; "
            f"{built.tarball.name} {built.tarball.stat().st_size / 1e6:.1f} MB"
        )
