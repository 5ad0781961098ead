"""Find ffmpeg, build its argument lists (never a shell string), read its -progress output."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from functools import cache

from batchgui.core.models import Quality
from batchgui.i18n import N_, Reason, _, why


class FfmpegMissing(Exception):
    """ffmpeg could not be found."""


@cache
def ffmpeg_exe() -> str:
    """The ffmpeg to run: $BATCHGUI_FFMPEG, else the one shipped in the imageio-ffmpeg wheel."""
    override = os.environ.get("BATCHGUI_FFMPEG")
    if override:
        return override
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception as exc:  # the wheel raises RuntimeError when its binary is missing
        found = shutil.which("ffmpeg")
        if found:
            return found
        raise FfmpegMissing(
            _("ffmpeg was not found. Reinstall BatchGUI, or install ffmpeg and try again.")
        ) from exc


def encode_args(quality: Quality) -> list[str]:
    """Audio-only MP3 settings shared by every target: first audio stream, no video or cover art.

    ffmpeg copies no tags or chapters: the run writes the final tags itself (core.tags),
    so what lands in the MP3 never depends on the ffmpeg version of a node.
    """
    args = ["-map", "0:a:0", "-vn", "-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1",
            "-c:a", "libmp3lame"]
    if quality.cbr_kbps is not None:
        args += ["-b:a", f"{quality.cbr_kbps}k"]
    else:
        args += ["-q:a", str(quality.vbr_level)]
    return args + ["-id3v2_version", "3", "-f", "mp3"]


def convert_argv(
    input_path: str,
    output_path: str,
    quality: Quality,
    *,
    ffmpeg: str = "ffmpeg",
    progress: bool = True,
) -> list[str]:
    """The argv list for one conversion.

    Paths are passed as `file:` URLs by the local target so that a name such as
    `pipe:1.mp4` or `-x.mp4` is never read as a protocol or an option.
    """
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", input_path]
    argv += encode_args(quality)
    if progress:
        argv += ["-progress", "pipe:1", "-nostats"]
    argv.append(output_path)
    return argv


def file_url(path: os.PathLike[str] | str) -> str:
    """An absolute path in ffmpeg's `file:` protocol, so no name is taken for another protocol."""
    return "file:" + os.path.abspath(os.fspath(path))


class ProgressParser:
    """Reads `-progress pipe:1` key=value lines; `seconds` is how much audio has been written."""

    def __init__(self) -> None:
        self.seconds: float = 0.0
        self.finished = False

    def feed(self, line: str) -> bool:
        """Take one line; True when it moved the position or ended the stream."""
        key, sep, value = line.strip().partition("=")
        if not sep:
            return False
        value = value.strip()
        if key in ("out_time_us", "out_time_ms"):  # both are microseconds (an old ffmpeg quirk)
            if value.lstrip("-").isdigit():
                seconds = max(0.0, int(value) / 1_000_000)
                if seconds != self.seconds:
                    self.seconds = seconds
                    return True
            return False
        if key == "out_time" and ":" in value:
            clock = parse_clock(value)
            if clock is not None and clock != self.seconds:
                self.seconds = clock
                return True
            return False
        if key == "progress" and value == "end":
            self.finished = True
            return True
        return False

    def feed_all(self, lines: Sequence[str]) -> None:
        for line in lines:
            self.feed(line)


def parse_clock(text: str) -> float | None:
    """'01:02:03.500000' -> 3723.5; None if it is not a clock (ffmpeg prints N/A early on)."""
    parts = text.strip().split(":")
    if len(parts) != 3:
        return None
    try:
        hours, minutes, seconds = int(parts[0]), int(parts[1]), float(parts[2])
    except ValueError:
        return None
    return max(0.0, hours * 3600 + minutes * 60 + seconds)


# ffmpeg messages a user can meet, in plain words (checked in this order): needle, code,
# reason
_PLAIN_REASONS = [
    ("No space left on device", "disk_full",
     N_("the disk with the output folder is full; free some space and press Retry failed")),
    ("Disk quota exceeded", "quota_exceeded",
     N_("your disk quota is used up; free some space and press Retry failed")),
    ("Permission denied", "permission_denied",
     N_("no permission to read the video or to write in the output folder")),
    ("Read-only file system", "read_only",
     N_("the output folder is read-only; choose another folder")),
    ("Invalid data found when processing input", "damaged_video",
     N_("the video is damaged: ffmpeg could not read it")),
    ("does not contain any stream", "no_audio", N_("the video has no audio track")),
    ("matches no streams", "no_audio", N_("the video has no audio track")),
    # the loudness script's own last word (core/loudness.py, run on Azure nodes too)
    ("The loudness of the video could not be measured.", "loudness_not_measured",
     N_("the loudness of the video could not be measured")),
]


def stderr_reason(stderr_tail: str) -> Reason | None:
    """A plain reason for a failed conversion, from the tail of ffmpeg's stderr.

    Messages we know are said in the user's language; any other is ffmpeg's own last
    line, as it wrote it."""
    for needle, code, reason in _PLAIN_REASONS:
        if needle in stderr_tail:
            return why(code, reason)
    for line in reversed(stderr_tail.strip().splitlines()):
        line = line.strip()
        if line and not line.startswith("Conversion failed"):
            return Reason("ffmpeg_error", line, {"message": line})
    return None
