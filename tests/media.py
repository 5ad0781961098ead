"""Test media made with the bundled ffmpeg (lavfi testsrc2 + sine), and ways to spoil it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from batchgui.core.ffmpeg import ffmpeg_exe


def make_video(
    path: Path,
    seconds: float = 3.0,
    *,
    audio: bool = True,
    size: str = "320x240",
    faststart: bool = False,
    extra: list[str] | None = None,
) -> Path:
    """An H.264 (+ AAC) MP4/MOV of `seconds` seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    argv = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25"]
    if audio:
        argv += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    argv += ["-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        argv += ["-c:a", "aac", "-b:a", "96k", "-shortest"]
    if faststart:
        argv += ["-movflags", "+faststart"]
    argv += list(extra or [])
    argv += [str(path)]
    subprocess.run(argv, check=True, capture_output=True)
    return path


class MediaCache:
    """Makes each kind of clip once per session and copies it where a test wants it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _clip(self, key: str, **kwargs: object) -> Path:
        path = self.folder / f"{key}.mp4"
        if not path.exists():
            make_video(path, **kwargs)  # type: ignore[arg-type]
        return path

    def good(self, dest: Path, seconds: float = 3.0) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._clip(f"good{seconds}", seconds=seconds), dest)
        return dest

    def no_audio(self, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._clip("noaudio", seconds=2.0, audio=False), dest)
        return dest

    def empty(self, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(b"")
        return dest

    def not_video(self, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text("this is a text file with a video name\n")
        return dest

    def corrupt(self, dest: Path) -> Path:
        """The first part of a normal MP4 (index at the end): the index is gone."""
        data = self._clip("good3.0", seconds=3.0).read_bytes()
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data[: len(data) // 3])
        return dest

    def truncated(self, dest: Path, seconds: float = 10.0) -> Path:
        """Index at the front, half the data gone: ffmpeg exits 0 with half the audio."""
        data = self._clip(f"fast{seconds}", seconds=seconds, faststart=True).read_bytes()
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data[: len(data) // 2])
        return dest
