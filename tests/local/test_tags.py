"""Tags and cover pictures carried from the videos into the MP3s (ID3v2.3), or none."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from mutagen.id3 import ID3, ID3NoHeaderError

from batchgui.cli import main
from batchgui.core.ffmpeg import convert_argv, ffmpeg_exe, file_url
from batchgui.core.models import Quality
from batchgui.core.outputs import check_output
from batchgui.core.tags import finish_mp3
from tests.media import MediaCache, make_image, make_video

TAGS = {
    "title": "Möte – 日本 & co",
    "artist": "The Artist",
    "album": "An Album",
    "album_artist": "Various Artists",
    "date": "2021-05-03",
    "genre": "Podcast",
    "comment": "Recorded live",
    "track": "3/12",
}


def frames(mp3: Path) -> dict[str, list[str]]:
    """The ID3 frames as stored in the file (no translation to v2.4 names)."""
    tag = ID3(mp3, translate=False)
    return {key: [str(t) for t in getattr(frame, "text", [])] for key, frame in tag.items()}


def convert(args: list[str], tmp_path: Path) -> dict[str, dict[str, object]]:
    report = tmp_path / "report.json"
    code = main(["convert", *args, "--report", str(report), "--parallel", "2"])
    assert code == 0
    return {Path(str(r["input"])).name: r for r in json.loads(report.read_text())}


def test_tags_and_cover_are_carried_over_as_id3v23(media: MediaCache, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    media.tagged(src / "talk.mp4", TAGS, cover="jpg")
    media.tagged(src / "song.m4v", TAGS, cover="png")
    media.tagged(src / "camera.mov", {"title": "From the camera", "artist": "Me"}, cover=None)
    media.good(src / "untitled clip.v2.mp4", 2.0)

    report = convert([str(src), "--output", str(out)], tmp_path)

    for video, mime, ext in (("talk.mp4", "image/jpeg", "jpg"), ("song.m4v", "image/png", "png")):
        mp3 = out / (Path(video).stem + ".mp3")
        tag = ID3(mp3)
        assert tag.version == (2, 3, 0)
        got = frames(mp3)
        assert got["TIT2"] == [TAGS["title"]]
        assert got["TPE1"] == ["The Artist"] and got["TALB"] == ["An Album"]
        assert got["TPE2"] == ["Various Artists"] and got["TCON"] == ["Podcast"]
        assert got["TYER"] == ["2021"] and got["TDAT"] == ["0305"], "v2.3 has no TDRC"
        assert "TDRC" not in got
        assert got["TRCK"] == ["3/12"]
        assert [str(c) for c in tag.getall("COMM")] == ["Recorded live"]
        [picture] = tag.getall("APIC")
        assert picture.type == 3 and picture.mime == mime
        assert picture.data == (media.folder / f"cover.{ext}").read_bytes()
        assert "TSSE" not in got and "TXXX" not in got, "nothing of ffmpeg's own in the tag"
        # the duration check still holds with a picture in front of the audio
        assert abs(float(report[video]["duration_s"]) - 2.0) < 0.3  # type: ignore[arg-type]
    mov = frames(out / "camera.mp3")
    assert mov["TIT2"] == ["From the camera"] and mov["TPE1"] == ["Me"]
    assert ID3(out / "untitled clip.v2.mp3").version == (2, 3, 0)
    assert frames(out / "untitled clip.v2.mp3") == {"TIT2": ["untitled clip.v2"]}


def test_strip_tags_writes_none(media: MediaCache, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    media.tagged(src / "talk.mp4", TAGS, cover="jpg")
    media.good(src / "plain.mp4", 2.0)
    report = convert([str(src), "--output", str(out), "--strip-tags"], tmp_path)
    for mp3 in (out / "talk.mp3", out / "plain.mp3"):
        with pytest.raises(ID3NoHeaderError):
            ID3(mp3)
    assert report["talk.mp4"]["status"] == "converted"


def test_a_cover_does_not_break_the_duration_check(media: MediaCache, tmp_path: Path) -> None:
    big_cover = make_image(tmp_path / "big", size="1000x1000", fmt="png")
    assert big_cover.stat().st_size > 100_000
    video = make_video(tmp_path / "v.mp4", 4.0, tags={"title": "x"}, cover=big_cover)
    part = tmp_path / ".v.mp3.part"
    subprocess.run(convert_argv(file_url(video), file_url(part), Quality(), ffmpeg=ffmpeg_exe(),
                                progress=False), check=True)
    before = check_output(part, 4.0)
    assert before[1] is None
    assert finish_mp3(part, video, keep_tags=True) is None
    assert len(ID3(part).getall("APIC")[0].data) == big_cover.stat().st_size
    after = check_output(part, 4.0)
    assert after[1] is None and abs(after[0] - before[0]) < 0.01  # type: ignore[operator]


def test_the_loudness_marker_becomes_a_note_and_leaves_the_file(
    media: MediaCache, tmp_path: Path
) -> None:
    video = media.good(tmp_path / "v.mp4", 2.0)
    for keep in (True, False):
        part = tmp_path / f".v{keep}.part"
        argv = convert_argv(file_url(video), file_url(part), Quality(), ffmpeg=ffmpeg_exe(),
                            progress=False)
        argv[-1:-1] = ["-metadata", "batchgui_loudness=capped=20"]  # as the second pass does
        subprocess.run(argv, check=True)
        assert [f.text for f in ID3(part).getall("TXXX")] == [["capped=20"]]
        assert str(finish_mp3(part, video, keep)) == "quiet recording: raised by at most 20 dB"
        if keep:
            assert frames(part) == {"TIT2": ["v"]}
        else:
            with pytest.raises(ID3NoHeaderError):
                ID3(part)


def test_unreadable_video_tags_still_give_a_title(media: MediaCache, tmp_path: Path) -> None:
    """The video went away (or is odd) after converting: the MP3 keeps its name as title."""
    video = media.good(tmp_path / "gone.mp4", 2.0)
    part = tmp_path / ".gone.part"
    subprocess.run(convert_argv(file_url(video), file_url(part), Quality(), ffmpeg=ffmpeg_exe(),
                                progress=False), check=True)
    shutil.move(video, tmp_path / "elsewhere.mp4")
    assert finish_mp3(part, video, keep_tags=True) is None
    assert frames(part) == {"TIT2": ["gone"]}
