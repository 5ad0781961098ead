"""The run journal: one SQLite database (WAL) that is the truth about every run.

Each change of a file's state is one small transaction, written *before* the side
effect it announces (a part file, placing an MP3, creating a job or a pool,
uploading, deleting) and again after it, so whatever moment the app is killed at,
the next start knows what was done, what was under way and what is left.

No secrets, ever: names, settings, states and remote resource ids only.

Paths are stored as bytes (os.fsencode), so a file name that is not valid UTF-8
survives the round trip. Commits use `synchronous=NORMAL`: a killed app loses
nothing that was committed; a power cut may lose the last moments, never the
database's consistency.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from batchgui.i18n import Reason

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id        TEXT PRIMARY KEY,
    created       REAL NOT NULL,
    updated       REAL NOT NULL,
    state         TEXT NOT NULL,
    target        TEXT NOT NULL,
    spec          TEXT NOT NULL,
    target_state  TEXT NOT NULL DEFAULT '{}',
    error         TEXT,
    paused        INTEGER NOT NULL DEFAULT 0,
    superseded_by TEXT,
    stats         TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS files (
    run_id      TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    position    INTEGER NOT NULL,
    input       BLOB NOT NULL,
    root        BLOB,
    size        INTEGER NOT NULL DEFAULT 0,
    duration_s  REAL,
    status      TEXT NOT NULL,
    reason      TEXT,
    output      BLOB,
    part        BLOB,
    placing     BLOB,
    part_id     TEXT,
    remote      TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (run_id, task_id)
);
CREATE INDEX IF NOT EXISTS files_by_input ON files (input);
CREATE TABLE IF NOT EXISTS learned (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
"""

#: run states; "running" and "paused" are the only ones a dead process can leave behind
RUNNING, PAUSED = "running", "paused"
DONE, CANCELLED, FAILED = "done", "cancelled", "failed"
DISMISSED, SUPERSEDED = "dismissed", "superseded"
OPEN_STATES = (RUNNING, PAUSED)


def data_dir() -> Path:
    """Where BatchGUI keeps its journal (XDG_DATA_HOME on Linux)."""
    return Path(platformdirs.user_data_dir("batchgui", appauthor=False))


def _enc(path: Path | str | None) -> bytes | None:
    return None if path is None else os.fsencode(path)


def _dec(raw: bytes | str | None) -> Path | None:
    if raw is None:
        return None
    return Path(os.fsdecode(raw))


@dataclass
class FileRow:
    """One input of a run, as the journal has it."""

    task_id: str
    position: int
    input: Path
    root: Path | None
    size: int
    duration_s: float | None
    status: str
    reason: Reason | None = None
    output: Path | None = None  # planned, then the final name
    part: Path | None = None  # the hidden part file being written (intent)
    placing: Path | None = None  # intent: the part is being put in place under this name
    part_id: str | None = None  # "dev:inode" of the part when placing began
    remote: dict[str, Any] = field(default_factory=dict)  # a target's per-file facts


@dataclass
class RunRow:
    """One run's header: what was asked, where it stands, and what it made remotely."""

    run_id: str
    created: float
    updated: float
    state: str
    target: str
    spec: dict[str, Any]
    target_state: dict[str, Any]
    error: Reason | None
    paused: bool
    superseded_by: str | None
    stats: dict[str, Any]

    @property
    def output_dir(self) -> Path:
        return Path(self.spec.get("output_dir", "."))

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class Journal:
    """The journal database; every method is one short transaction, safe from any thread."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "journal.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            self._db.executescript(_SCHEMA)  # commits on its own
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._migrate_json_records()

    @property
    def locks_dir(self) -> Path:
        """Where live runs keep their locks (core.liveness), beside the database."""
        return self.path.parent / "locks"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            cur = self._db.execute(sql, tuple(args))
            names = [d[0] for d in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]  # type: ignore[misc]

    # -- runs ------------------------------------------------------------------------------

    def create_run(self, run_id: str, target: str, spec: dict[str, Any],
                   files: list[FileRow], target_state: dict[str, Any] | None = None) -> None:
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO runs (run_id, created, updated, state, target, spec, target_state)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, now, now, RUNNING, target, json.dumps(spec),
                 json.dumps(target_state or {})),
            )
            db.executemany(
                "INSERT INTO files (run_id, task_id, position, input, root, size, duration_s,"
                " status, reason, output, part, remote) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(run_id, f.task_id, f.position, _enc(f.input), _enc(f.root), f.size,
                  f.duration_s, f.status, _enc_reason(f.reason), _enc(f.output), _enc(f.part),
                  json.dumps(f.remote)) for f in files],
            )

    def run(self, run_id: str) -> RunRow | None:
        rows = self._read("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return _run_row(rows[0]) if rows else None

    def runs(self, *, states: Iterable[str] | None = None) -> list[RunRow]:
        """Runs, oldest first (optionally only those in `states`)."""
        if states is None:
            rows = self._read("SELECT * FROM runs ORDER BY created, run_id")
        else:
            wanted = list(states)
            marks = ",".join("?" * len(wanted))
            rows = self._read(
                f"SELECT * FROM runs WHERE state IN ({marks}) ORDER BY created, run_id", wanted)
        return [_run_row(r) for r in rows]

    def set_run_state(self, run_id: str, state: str, *, error: Reason | None = None,
                      superseded_by: str | None = None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET state = ?, error = COALESCE(?, error),"
                " superseded_by = COALESCE(?, superseded_by), updated = ? WHERE run_id = ?",
                (state, _enc_reason(error), superseded_by, time.time(), run_id),
            )

    def set_paused(self, run_id: str, paused: bool) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET paused = ?, updated = ? WHERE run_id = ?",
                       (int(paused), time.time(), run_id))

    def update_target_state(self, run_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge `changes` into the run's remote facts (job id, pool, container ...)."""
        with self._tx() as db:
            row = db.execute("SELECT target_state FROM runs WHERE run_id = ?",
                             (run_id,)).fetchone()
            state = json.loads(row[0]) if row else {}
            state.update(changes)
            db.execute("UPDATE runs SET target_state = ?, updated = ? WHERE run_id = ?",
                       (json.dumps(state), time.time(), run_id))
        return state

    def update_stats(self, run_id: str, changes: dict[str, Any]) -> None:
        """Merge `changes` into the run's figures (estimate, node-minutes, cost ...)."""
        with self._tx() as db:
            row = db.execute("SELECT stats FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            stats = json.loads(row[0]) if row else {}
            stats.update(changes)
            db.execute("UPDATE runs SET stats = ? WHERE run_id = ?", (json.dumps(stats), run_id))

    # -- files -----------------------------------------------------------------------------

    def files(self, run_id: str) -> list[FileRow]:
        rows = self._read("SELECT * FROM files WHERE run_id = ? ORDER BY position", (run_id,))
        return [_file_row(r) for r in rows]

    def update_file(self, run_id: str, task_id: str, **changes: Any) -> None:
        """Change some of one file's columns (status, reason, output, part, placing ...)."""
        self.update_files(run_id, [(task_id, changes)])

    def update_files(self, run_id: str, changes: list[tuple[str, dict[str, Any]]]) -> None:
        """Several files' changes in one transaction."""
        if not changes:
            return
        with self._tx() as db:
            for task_id, columns in changes:
                sets, args = [], []
                for name, value in columns.items():
                    if name not in _FILE_COLUMNS:
                        raise ValueError(f"no file column {name!r}")
                    sets.append(f"{name} = ?")
                    if name in _PATH_COLUMNS:
                        value = _enc(value)
                    elif name == "remote":
                        value = json.dumps(value)
                    elif name == "reason":
                        value = _enc_reason(value)
                    args.append(value)
                db.execute(f"UPDATE files SET {', '.join(sets)} WHERE run_id = ? AND task_id = ?",
                           (*args, run_id, task_id))
            db.execute("UPDATE runs SET updated = ? WHERE run_id = ?", (time.time(), run_id))

    def files_for_inputs(self, inputs: Iterable[Path]) -> list[tuple[str, FileRow]]:
        """(run id, row) of every file row of an open run whose input is one of `inputs`.

        Only open runs: the ones that ended can be many (every earlier run of the same
        folder) and have nothing to take over, so the cost stays that of the inputs."""
        out: list[tuple[str, FileRow]] = []
        keys = [_enc(p) for p in inputs]
        states = sorted(OPEN_STATES)
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            query = (f"SELECT files.* FROM files JOIN runs USING (run_id) "
                     f"WHERE runs.state IN ({','.join('?' * len(states))}) "
                     f"AND files.input IN ({marks})")
            for row in self._read(query, [*states, *chunk]):
                out.append((row["run_id"], _file_row(row)))
        return out

    # -- what was learned ------------------------------------------------------------------

    def learned(self, key: str) -> dict[str, Any] | None:
        rows = self._read("SELECT value FROM learned WHERE key = ?", (key,))
        return json.loads(rows[0]["value"]) if rows else None

    def set_learned(self, key: str, value: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO learned (key, value) VALUES (?, ?) ON CONFLICT(key)"
                       " DO UPDATE SET value = excluded.value", (key, json.dumps(value)))

    # -- the JSON records of earlier versions ----------------------------------------------

    def _migrate_json_records(self) -> None:
        """Bring run records of the JSON era (<data dir>/runs/*.json) into the journal once."""
        folder = self.path.parent / "runs"
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("run-*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                self._import_record(record, path.stat().st_mtime)
            except (OSError, ValueError, KeyError, sqlite3.Error) as exc:
                log.warning("could not read the old run record %s: %s", path.name, exc)
        try:
            folder.rename(folder.with_name("runs.migrated"))
        except OSError as exc:
            log.warning("could not put the old run records aside: %s", exc)

    def _import_record(self, record: dict[str, Any], mtime: float) -> None:
        run_id = record["run_id"]
        if self.run(run_id) is not None:
            return
        if record.get("dismissed"):
            state = DISMISSED
        elif record.get("resumed_by"):
            state = SUPERSEDED
        elif record.get("finished"):
            state = {"cancelled": CANCELLED, "failed": FAILED}.get(record.get("stage", ""), DONE)
        else:
            state = RUNNING
        spec = {k: record.get(k) for k in ("output_dir", "quality", "on_conflict",
                                            "mirror_folders")}
        files = [
            FileRow(task_id=f["task_id"], position=i, input=Path(f["input"]),
                    root=Path(f["root"]) if f.get("root") else None, size=0,
                    duration_s=f.get("duration_s"), status=f["status"],
                    reason=_dec_reason(f.get("reason")),
                    output=Path(f["output"]) if f.get("output") else None,
                    part=Path(f["part"]) if f.get("part") else None)
            for i, f in enumerate(record.get("files", []))
        ]
        self.create_run(run_id, record.get("target", "local"), spec, files,
                        record.get("target_state") or {})
        with self._tx() as db:
            db.execute("UPDATE runs SET state = ?, created = ?, updated = ?, error = ?,"
                       " superseded_by = ? WHERE run_id = ?",
                       (state, mtime, mtime, _enc_reason(_dec_reason(record.get("error"))),
                        record.get("resumed_by"),
                        run_id))


_FILE_COLUMNS = {"status", "reason", "output", "part", "placing", "part_id", "remote",
                 "duration_s", "size", "input", "root"}
_PATH_COLUMNS = {"output", "part", "placing", "input", "root"}


def _run_row(row: Any) -> RunRow:
    return RunRow(
        run_id=row["run_id"], created=row["created"], updated=row["updated"], state=row["state"],
        target=row["target"], spec=json.loads(row["spec"]),
        target_state=json.loads(row["target_state"] or "{}"), error=_dec_reason(row["error"]),
        paused=bool(row["paused"]), superseded_by=row["superseded_by"],
        stats=json.loads(row["stats"] or "{}"),
    )


def _file_row(row: Any) -> FileRow:
    return FileRow(
        task_id=row["task_id"], position=row["position"], input=_dec(row["input"]) or Path(),
        root=_dec(row["root"]), size=row["size"] or 0, duration_s=row["duration_s"],
        status=row["status"], reason=_dec_reason(row["reason"]), output=_dec(row["output"]),
        part=_dec(row["part"]), placing=_dec(row["placing"]), part_id=row["part_id"],
        remote=json.loads(row["remote"] or "{}"),
    )


def _enc_reason(reason: Reason | None) -> str | None:
    """A reason as the journal keeps it: JSON with its code, its sentence and its values."""
    return None if reason is None else json.dumps(reason.to_json(), ensure_ascii=False)


def _dec_reason(raw: str | None) -> Reason | None:
    """A kept reason back; a plain sentence (records from before reasons had codes) gets
    the code 'unknown'."""
    if not raw:
        return None
    if raw.startswith("{"):
        try:
            found = Reason.from_json(json.loads(raw))
        except ValueError:
            found = None
        if found is not None:
            return found
    return Reason("unknown", raw)
