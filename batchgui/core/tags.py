"""The video's tags and cover picture, carried into the MP3 as ID3v2.3 (or none, if asked).

Both sides are mutagen, on this computer, just before the checked MP3 is put in place:
one piece of code whatever target converted the file (the Azure MP3 is downloaded to the
same part file), and nothing depends on the ffmpeg of a node, which is told to copy no
tags at all. ID3v2.3 because that is what Windows Explorer and most car stereos read.
"""

from __future__ import annotations

import errno
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mutagen import MutagenError
from mutagen.id3 import (
    APIC,
    COMM,
    ID3,
    TALB,
    TCON,
    TDRC,
    TIT2,
    TPE1,
    TPE2,
    TRCK,
    Encoding,
    ID3NoHeaderError,
)
from mutagen.mp4 import MP4, Atoms, MP4Cover

from batchgui.core.loudness import MARKER_KEY, MAX_GAIN_DB
from batchgui.i18n import Reason, tr, why

log = logging.getLogger(__name__)

#: MP4 (iTunes-style) keys -> the VideoTags field they fill
_MP4_KEYS = {
    "©nam": "title",
    "©ART": "artist",
    "©alb": "album",
    "aART": "album_artist",
    "©day": "date",
    "©gen": "genre",
    "©cmt": "comment",
}
#: QuickTime user-data atoms (what .mov files carry) -> VideoTags field
_QUICKTIME_ATOMS = {
    b"\xa9nam": "title",
    b"\xa9ART": "artist",
    b"\xa9aut": "artist",
    b"\xa9alb": "album",
    b"\xa9day": "date",
    b"\xa9gen": "genre",
    b"\xa9cmt": "comment",
}


@dataclass(frozen=True)
class VideoTags:
    """The tags of one video that the MP3 gets."""

    title: str | None = None
    artist: str | None = None
    album: str | None = None
    album_artist: str | None = None
    date: str | None = None
    genre: str | None = None
    comment: str | None = None
    track: tuple[int, int] | None = None  # (number, total); total 0 when unknown
    cover: bytes | None = None
    cover_mime: str = "image/jpeg"


def read_video_tags(path: Path) -> VideoTags:
    """The tags mutagen finds in an MP4/M4V/MOV; none (not an error) when it finds none."""
    values: dict[str, object] = {}
    try:
        mp4 = MP4(path)
    except (MutagenError, OSError) as exc:
        log.info("no tags read from %s: %s", path, exc)
        return VideoTags()
    tags: Any = mp4.tags or {}
    for key, field_name in _MP4_KEYS.items():
        text = _first_text(tags.get(key))
        if text:
            values[field_name] = text
    track = tags.get("trkn")
    if track and isinstance(track[0], tuple) and track[0][0]:
        number, total = track[0]
        values["track"] = (int(number), int(total or 0))
    covers = tags.get("covr") or []
    if covers:
        cover = covers[0]
        values["cover"] = bytes(cover)
        values["cover_mime"] = (
            "image/png" if getattr(cover, "imageformat", None) == MP4Cover.FORMAT_PNG
            else "image/jpeg"
        )
    for field_name, text in _quicktime_texts(path).items():
        values.setdefault(field_name, text)
    return VideoTags(**values)  # type: ignore[arg-type]


def _first_text(value: object) -> str | None:
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, str):
        return value.strip() or None
    return None


def _quicktime_texts(path: Path) -> dict[str, str]:
    """QuickTime's own text atoms in moov/udta (©nam ...), which iTunes-style readers skip."""
    found: dict[str, str] = {}
    try:
        with open(path, "rb") as f:
            atoms = Atoms(f)
            try:
                udta = atoms.path(b"moov", b"udta")[-1]
            except KeyError:
                return found
            for child in udta.children or []:
                field_name = _QUICKTIME_ATOMS.get(child.name)
                if field_name is None or field_name in found or child.length > 65536:
                    continue
                f.seek(child.offset + 8)
                text = _quicktime_text(f.read(child.length - 8))
                if text:
                    found[field_name] = text
    except (MutagenError, OSError, struct.error) as exc:
        log.info("no QuickTime text read from %s: %s", path, exc)
    return found


def _quicktime_text(data: bytes) -> str | None:
    """One QuickTime international text: 2-byte length, 2-byte language, then the text."""
    if len(data) < 4:
        return None
    size, language = struct.unpack(">HH", data[:4])
    raw = data[4:4 + size]
    encoding = "mac_roman" if language < 0x400 else "utf-8"  # old Mac language codes
    return raw.decode(encoding, errors="replace").strip("\x00 ").strip() or None


def readable(name: str) -> str:
    """A file name as text a tag can hold: bytes that are not UTF-8 become U+FFFD."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", "replace")


def id3_for(tags: VideoTags, fallback_title: str) -> ID3:
    """An ID3 tag with the video's tags; the title is the file name when the video has none."""
    id3 = ID3()
    text_frames = (
        (TIT2, tags.title or fallback_title),
        (TPE1, tags.artist),
        (TALB, tags.album),
        (TPE2, tags.album_artist),
        (TDRC, tags.date),
        (TCON, tags.genre),
    )
    for frame, text in text_frames:
        if text:
            id3.add(frame(encoding=Encoding.UTF16, text=[text]))
    if tags.comment:
        id3.add(COMM(encoding=Encoding.UTF16, lang="eng", desc="", text=[tags.comment]))
    if tags.track:
        number, total = tags.track
        id3.add(TRCK(encoding=Encoding.UTF16, text=[f"{number}/{total}" if total else str(number)]))
    if tags.cover:
        id3.add(APIC(encoding=Encoding.UTF16, mime=tags.cover_mime, type=3, desc="",
                     data=tags.cover))
    return id3


def finish_mp3(part: Path, video: Path, keep_tags: bool) -> Reason | None:
    """Give the checked MP3 its final tag: the video's tags as ID3v2.3, or no tag at all.

    Returns the note the conversion left in the file (e.g. that a quiet recording was
    raised by at most so much), in plain words, or None. Raises OSError when the file
    can't be written.
    """
    try:
        try:
            current = ID3(part)
        except ID3NoHeaderError:
            current = None
        marker = None
        if current is not None:
            for frame in current.getall("TXXX"):
                if frame.desc == MARKER_KEY and frame.text:
                    marker = str(frame.text[0])
        if keep_tags:  # saving replaces the tag ffmpeg wrote: one rewrite of the file
            final = id3_for(read_video_tags(video), readable(video.stem))
            final.update_to_v23()  # e.g. the date as TYER (+ TDAT), which v2.3 readers know
            final.save(part, v2_version=3, v1=0)
        elif current is not None:
            current.delete(part)
    except MutagenError as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else None
        if cause is not None:
            raise cause from exc
        raise OSError(errno.EIO, tr("the tags could not be written ({error})", error=str(exc))
                      ) from exc
    return loudness_note(marker)


def loudness_note(marker: str | None) -> Reason | None:
    """The plain note a file's result shows for a marker the loudness pass left."""
    if not marker:
        return None
    if marker == "silent":
        return why("loudness_silent", "silent recording: loudness left as it is")
    if marker.startswith("capped="):
        try:
            cap = float(marker.partition("=")[2])
        except ValueError:
            cap = MAX_GAIN_DB
        return why("loudness_capped", "quiet recording: raised by at most {gain_db:g} dB",
                   gain_db=cap)
    return None
