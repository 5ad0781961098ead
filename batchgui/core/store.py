"""Run records on disk, written atomically, so a crash or a closed window loses nothing.

A record holds names, settings and states; never a key or a SAS token.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import platformdirs


def data_dir() -> Path:
    """Where BatchGUI keeps its run records (XDG_DATA_HOME on Linux)."""
    return Path(platformdirs.user_data_dir("batchgui", appauthor=False))


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class RunStore:
    """One JSON file per run under <data dir>/runs."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or data_dir() / "runs"

    def path_for(self, run_id: str) -> Path:
        return self.folder / f"{run_id}.json"

    def save(self, run_id: str, record: dict[str, Any]) -> None:
        atomic_write_text(self.path_for(run_id), json.dumps(record, indent=1, default=str))

    def load(self, run_id: str) -> dict[str, Any]:
        return json.loads(self.path_for(run_id).read_text(encoding="utf-8"))

    def list_runs(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        """Run ids, oldest first."""
        paths = sorted(self.folder.glob("run-*.json"), key=lambda p: (p.stat().st_mtime_ns, p.name))
        return [p.stem for p in paths]

    def unfinished(self) -> list[dict[str, Any]]:
        """Records of runs that did not reach an end (closed app, crash): candidates to resume."""
        out = []
        for run_id in self.list_runs():
            try:
                record = self.load(run_id)
            except (OSError, ValueError):
                continue
            if not record.get("finished"):
                out.append(record)
        return out
