"""Output names, folder mirroring, collisions, and safe blob names.

Names only ever become file paths or argv items, never shell text.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path

from batchgui.core.models import ConflictPolicy, InputFile


def output_name(input_path: Path) -> str:
    """`a.b.mp4` -> `a.b.mp3`: only the last extension is replaced."""
    stem = input_path.name
    if "." in stem.lstrip("."):
        stem = stem[: stem.rfind(".")]
    return stem + ".mp3"


def with_counter(path: Path, n: int) -> Path:
    """`song.mp3`, 2 -> `song (2).mp3`."""
    return path.with_name(f"{path.stem} ({n}){path.suffix}")


def relative_folder(item: InputFile) -> Path:
    """The input's folder relative to the folder the user dropped ('' for loose files)."""
    if item.root is None:
        return Path()
    try:
        rel = item.path.parent.relative_to(item.root)
    except ValueError:
        return Path()
    return rel


def plan_outputs(
    inputs: Sequence[InputFile],
    output_dir: Path,
    *,
    mirror_folders: bool = False,
    on_conflict: ConflictPolicy = ConflictPolicy.RENAME,
    exists: Callable[[Path], bool] | None = None,
    taken: Sequence[Path] = (),
) -> list[Path | None]:
    """Decide each input's MP3 path; None means "skip" (an MP3 is already there).

    Two inputs of this run never get the same name (the later one becomes
    `name (1).mp3`), whatever the policy; the policy decides only about files
    that were in the output folder before the run. `taken` are names other files of
    the run already have (a resumed run keeps its planned names).
    """
    exists = exists or (lambda p: p.exists())
    used: set[str] = {os.path.normcase(str(p)) for p in taken}
    planned: list[Path | None] = []
    for item in inputs:
        folder = output_dir / relative_folder(item) if mirror_folders else output_dir
        wanted = folder / output_name(item.path)
        candidate = wanted
        n = 0
        while True:
            key = os.path.normcase(str(candidate))
            if key in used:
                n += 1
                candidate = with_counter(wanted, n)
                continue
            if exists(candidate):
                if on_conflict is ConflictPolicy.SKIP and candidate == wanted:
                    candidate = None  # type: ignore[assignment]
                    break
                if on_conflict is ConflictPolicy.RENAME:
                    n += 1
                    candidate = with_counter(wanted, n)
                    continue
            break
        if candidate is not None:
            used.add(os.path.normcase(str(candidate)))
        planned.append(candidate)
    return planned


#: the longest file name, in bytes, that Linux, macOS and Windows file systems all take
NAME_MAX_BYTES = 255


def part_path(output: Path) -> Path:
    """A hidden temporary name beside the final MP3, unique per attempt.

    `.{mp3 name}.{8 hex}.part`: recognisable in the folder, and cut short (never the
    random part) when the MP3's name is so long that the extra 15 bytes would not fit, so
    every name that fits as an MP3 also fits as a part file.
    """
    suffix = f".{secrets.token_hex(4)}.part"
    room = NAME_MAX_BYTES - 1 - len(suffix)  # 1: the leading dot
    return output.with_name(f".{_cut_to_bytes(output.name, room)}{suffix}")


def _cut_to_bytes(name: str, limit: int) -> str:
    """`name` cut to at most `limit` bytes on disk, never in the middle of a character."""
    raw = os.fsencode(name)
    if len(raw) <= limit:
        return name
    end = limit
    while end > 0 and (raw[end] & 0xC0) == 0x80:  # a UTF-8 continuation byte: back off
        end -= 1
    return os.fsdecode(raw[:end])


def is_part_file(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(".part")


def task_id_for(index: int) -> str:
    """Task ids are opaque and safe everywhere (Batch ids, blob names, file names)."""
    return f"f{index:05d}"


def blob_name(run_id: str, task_id: str, input_path: Path) -> str:
    """An opaque blob name for an input; the real name stays in the run record."""
    ext = input_path.suffix.lower()
    if ext not in (".mp4", ".m4v", ".mov"):
        ext = ".mp4"
    return f"{run_id}/in/{task_id}{ext}"


def new_run_id() -> str:
    """A unique, sortable, Batch-safe run id (also the job id)."""
    import time

    return time.strftime("run-%Y%m%d-%H%M%S-", time.gmtime()) + secrets.token_hex(3)
