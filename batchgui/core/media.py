"""Find the inputs (files, folders, recursively) and probe them before any work.

Probing reads the container's index with mutagen (pure Python, no process per
file), so thousands of files are checked in seconds and a file with no audio,
no bytes or a broken container is turned away with a plain reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from mutagen.mp3 import MP3
from mutagen.mp4 import Atoms

from batchgui.core.models import InputFile
from batchgui.i18n import Reason, why

VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov"})

# Box types an MP4/QuickTime file may start with.
_MP4_FIRST_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot", b"uuid"}


def is_hidden(path: Path) -> bool:
    return path.name.startswith(".")


def is_video_name(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def find_inputs(paths: Iterable[Path | str]) -> list[tuple[Path, Path | None]]:
    """Expand files and folders into (file, root folder or None), in a stable order.

    Folders are walked recursively for .mp4/.m4v/.mov in any letter case; hidden
    files and folders are skipped. A file named directly is kept whatever its
    name, so probing can tell the user why it is not a video. Duplicates go.
    """
    seen: set[str] = set()
    found: list[tuple[Path, Path | None]] = []

    def add(path: Path, root: Path | None) -> None:
        key = os.path.normcase(os.path.realpath(path))
        if key not in seen:
            seen.add(key)
            found.append((path, root))

    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            root = path.absolute()
            for file in _walk(root):
                add(file, root)
        else:
            add(path.absolute(), None)
    return found


def _walk(folder: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames, key=str.casefold):
            file = Path(dirpath) / name
            if not is_hidden(file) and is_video_name(file):
                yield file


def probe(path: Path, root: Path | None = None) -> InputFile:
    """Size, duration and whether it can be converted; never raises for a bad file."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return InputFile(path, 0, None, why("not_found", "this file or folder does not exist"),
                         root)
    except OSError as exc:
        return InputFile(path, 0, None, why("unreadable", "the file can't be read: {error}",
                                            error=exc.strerror or str(exc)), root)
    if not path.is_file():
        return InputFile(path, 0, None, why("not_a_file", "not a file"), root)
    if size == 0:
        return InputFile(path, 0, None, why("empty_file", "the file is empty (0 bytes)"), root)
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8 or head[4:8] not in _MP4_FIRST_BOXES:
                return InputFile(path, size, None,
                                 why("not_a_video", "not an MP4 or MOV video"), root)
            fh.seek(0)
            has_audio, duration = _audio_track(fh)
        if has_audio is None:
            return InputFile(path, size, None, _damaged(), root)
        if not has_audio:
            return InputFile(path, size, None, _no_audio(), root)
    except PermissionError:
        return InputFile(path, size, None,
                         why("no_read_permission", "no permission to read the file"), root)
    except Exception:  # mutagen raises several error types for broken containers
        return InputFile(path, size, None, _damaged(), root)
    if duration <= 0:
        return InputFile(path, size, None,
                         why("empty_audio", "the audio track is empty (0 seconds)"), root)
    return InputFile(path, size, duration, None, root)


def _damaged() -> Reason:
    return why("damaged_video", "the video is damaged: its index is missing or cut off")


def _no_audio() -> Reason:
    return why("no_audio", "the video has no audio track")


def _audio_track(fh) -> tuple[bool | None, float]:  # type: ignore[no-untyped-def]
    """(whether a track is sound, the first sound track's length in seconds), from the
    tracks' handler types and media headers, in one pass over the index; (None, 0.0) if
    there is no readable index. The length is the one mutagen's MP4Info gives: the sound
    track's `mdhd` duration over its timescale."""
    try:
        atoms = Atoms(fh)
        moov = atoms.path(b"moov")[-1]
    except Exception:
        return None, 0.0
    for trak in moov.findall(b"trak"):
        try:
            hdlr = trak[b"mdia", b"hdlr"]
        except KeyError:
            continue
        fh.seek(hdlr.offset)
        if fh.read(hdlr.length)[16:20] != b"soun":
            continue
        try:
            mdhd = trak[b"mdia", b"mdhd"]
        except KeyError:
            return None, 0.0
        fh.seek(mdhd.offset + 8)
        data = fh.read(mdhd.length - 8)
        wide = data[:1] == b"\x01"  # version 1: 64-bit times
        if len(data) < (32 if wide else 20):
            return None, 0.0
        if wide:
            timescale, duration = int.from_bytes(data[20:24]), int.from_bytes(data[24:32])
        else:
            timescale, duration = int.from_bytes(data[12:16]), int.from_bytes(data[16:20])
        if timescale == 0:
            return None, 0.0
        return True, duration / timescale
    return False, 0.0


def probe_all(paths: Iterable[Path | str]) -> list[InputFile]:
    return [probe(path, root) for path, root in find_inputs(paths)]


def mp3_duration(path: Path) -> float | None:
    """Duration of an MP3 we wrote, or None if it is not a readable MP3."""
    found = mp3_audio(path)
    return found[0] if found is not None else None


def mp3_audio(path: Path) -> tuple[float, float] | None:
    """(seconds its header promises, share of those seconds really in the file), or None.

    ffmpeg writes a header with the frame count at the start of every MP3; a file cut
    short afterwards (a full disk, a broken transfer) still promises the whole length.
    The bytes the header implies (bitrate x length) against the bytes there tell.
    """
    try:
        info = MP3(path).info
    except Exception:
        return None
    if info is None:
        return None
    length = float(info.length)
    promised = info.bitrate * length / 8 if info.bitrate else 0.0
    if promised <= 0:
        return length, 1.0
    audio = path.stat().st_size - getattr(info, "frame_offset", 0)
    return length, min(1.0, max(0.0, audio / promised))
