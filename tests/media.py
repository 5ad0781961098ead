"""Test media made with the bundled ffmpeg (lavfi testsrc2 + sine), and ways to spoil it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from batchgui.core.ffmpeg import ffmpeg_exe

#: lavfi audio sources for the kinds of sound the loudness tests need (measured with the
#: bundled ffmpeg's ebur128: integrated loudness, true peak)
AUDIO_SOURCES = {
    # a steady tone, the default
    "tone": "sine=frequency=440:sample_rate=44100",
    # quiet speech-like: band-limited noise in syllables with pauses, 48 kHz (~ -31 LUFS, -15 dBTP)
    "speech": "anoisesrc=color=pink:sample_rate=48000:amplitude=1:seed=1,"
              "bandpass=f=800:width_type=o:w=3,"
              "volume='0.45*abs(sin(2*PI*2.5*t))*gt(sin(2*PI*0.3*t),-0.3)':eval=frame",
    # loud music-like: a chord, a kick and noise hits, mastered hot (~ -9 LUFS, +1 dBTP)
    "music": "aevalsrc='0.25*sin(2*PI*220*t)+0.2*sin(2*PI*277*t)+0.2*sin(2*PI*330*t)"
             "+0.3*sin(2*PI*55*t)*exp(-8*mod(t,0.5))"
             "+0.4*(random(0)*2-1)*exp(-30*mod(t+0.25,0.5))':s=44100:c=stereo",
    # near-silence: faint hiss of an empty room (~ -63 LUFS)
    "near_silent": "anoisesrc=color=pink:sample_rate=44100:amplitude=0.004:seed=2",
}


def make_image(path: Path, size: str = "64x64", fmt: str = "jpg") -> Path:
    """A small picture (a test card frame) for a cover."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=1", "-frames:v", "1",
                    *(["-q:v", "3"] if fmt == "jpg" else []), str(path.with_suffix("." + fmt))],
                   check=True, capture_output=True)
    return path.with_suffix("." + fmt)


def make_video(
    path: Path,
    seconds: float = 3.0,
    *,
    audio: bool = True,
    size: str = "320x240",
    faststart: bool = False,
    extra: list[str] | None = None,
    sound: str = "tone",
    tags: dict[str, str] | None = None,
    cover: Path | None = None,
) -> Path:
    """An H.264 (+ AAC) MP4/MOV of `seconds` seconds, with `tags` and a `cover` picture."""
    path.parent.mkdir(parents=True, exist_ok=True)
    argv = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25"]
    if audio:
        argv += ["-f", "lavfi", "-t", str(seconds), "-i", AUDIO_SOURCES[sound]]
    if cover is not None:
        argv += ["-i", str(cover), "-map", "0:v", *(["-map", "1:a"] if audio else []),
                 "-map", f"{2 if audio else 1}:v", "-c:v:1", "copy",
                 "-disposition:v:1", "attached_pic"]
    argv += ["-t", str(seconds), "-c:v:0", "libx264", "-preset", "ultrafast",
             "-pix_fmt", "yuv420p"]
    if audio:
        argv += ["-c:a", "aac", "-b:a", "128k" if sound == "music" else "96k"]
        if cover is None:
            argv += ["-shortest"]
    if faststart:
        argv += ["-movflags", "+faststart"]
    for key, value in (tags or {}).items():
        argv += ["-metadata", f"{key}={value}"]
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

    def sound(self, dest: Path, sound: str, seconds: float = 12.0) -> Path:
        """A video whose audio is one of AUDIO_SOURCES (speech, music, near_silent ...)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._clip(f"{sound}{seconds}", seconds=seconds, sound=sound), dest)
        return dest

    def tagged(self, dest: Path, tags: dict[str, str], *, cover: str | None = "jpg",
               seconds: float = 2.0) -> Path:
        """A video with these tags (ffmpeg's names: title, artist, album_artist, date,
        comment, track ...) and a cover picture ("jpg", "png" or None), made for `dest`."""
        picture = make_image(self.folder / "cover", fmt=cover) if cover else None
        return make_video(dest, seconds, tags=tags, cover=picture)

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


def measure_loudness(path: Path) -> tuple[float, float]:
    """(integrated loudness in LUFS, true peak in dBTP) as ffmpeg's ebur128 filter measures."""
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-i", str(path),
         "-map", "0:a:0", "-af", "ebur128=peak=true", "-f", "null", "-"],
        check=True, capture_output=True, text=True, errors="replace",
    )
    summary = proc.stderr[proc.stderr.rindex("Summary:"):]
    integrated = re.search(r"I:\s+(-?inf|-?[\d.]+) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?inf|-?[\d.]+) dBFS", summary)
    assert integrated and peak, summary
    return float(integrated.group(1)), float(peak.group(1))
