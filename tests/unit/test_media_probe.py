from pathlib import Path

from batchgui.core.media import find_inputs, probe


def test_probe_gives_plain_reasons(media, tmp_path: Path) -> None:
    good = probe(media.good(tmp_path / "good.mp4", 3.0))
    assert good.ok and abs(good.duration_s - 3.0) < 0.2
    def said(path: Path) -> tuple[str, str]:
        problem = probe(path).problem
        assert problem is not None
        return problem.code, problem.text

    assert said(media.empty(tmp_path / "e.mp4")) == ("empty_file", "the file is empty (0 bytes)")
    assert said(media.not_video(tmp_path / "t.mp4")) == ("not_a_video", "not an MP4 or MOV video")
    code, text = said(media.corrupt(tmp_path / "c.mp4"))
    assert code == "damaged_video" and "damaged" in text
    assert said(media.no_audio(tmp_path / "n.mp4")) == ("no_audio", "the video has no audio track")
    assert said(tmp_path / "missing.mp4") == ("not_found", "this file or folder does not exist")


def test_find_inputs_walks_folders(tmp_path: Path) -> None:
    for name in ["a.mp4", "B.MP4", "c.m4v", "d.Mov", "notes.txt", ".hidden.mp4",
                 "sub/e.mp4", ".git/f.mp4", "sub/deeper/g.mov"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    loose = tmp_path / "loose.avi"
    found = find_inputs([tmp_path, tmp_path / "a.mp4", loose])
    names = [p.relative_to(tmp_path).as_posix() for p, _ in found]
    assert names == ["a.mp4", "B.MP4", "c.m4v", "d.Mov", "sub/e.mp4", "sub/deeper/g.mov",
                     "loose.avi"]
    roots = {p.name: r for p, r in found}
    assert roots["e.mp4"] == tmp_path and roots["loose.avi"] is None


def _box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def _sound_only_mp4(mdhd: bytes) -> bytes:
    hdlr = _box(b"hdlr", bytes(8) + b"soun" + bytes(12) + b"\0")
    trak = _box(b"trak", _box(b"mdia", _box(b"mdhd", mdhd) + hdlr))
    return _box(b"ftyp", b"isom" + bytes(4) + b"isom") + _box(b"moov", trak)


def test_probe_reads_the_sound_tracks_length_as_mutagen_does(media, tmp_path: Path) -> None:
    """The length comes from the sound track's media header, in the same pass that finds
    the track: the figure mutagen's MP4Info gives, for 32- and 64-bit headers alike."""
    from mutagen.mp4 import MP4

    files = [media.good(tmp_path / "a.mp4", 3.0), media.good(tmp_path / "b.mov", 2.0),
             media.truncated(tmp_path / "front-index.mp4", 6.0)]
    wide = tmp_path / "wide.mp4"  # version 1: 64-bit times, 90.5 s at 48 kHz
    wide.write_bytes(_sound_only_mp4(b"\x01\0\0\0" + bytes(16) + (48000).to_bytes(4, "big")
                                     + (90.5 * 48000).__int__().to_bytes(8, "big") + bytes(4)))
    files.append(wide)
    for path in files:
        assert probe(path).duration_s == MP4(path).info.length, path.name
    assert probe(wide).duration_s == 90.5
    cut = tmp_path / "cut-header.mp4"  # a media header too short to hold its times
    cut.write_bytes(_sound_only_mp4(b"\0\0\0\0" + bytes(6)))
    assert probe(cut).problem is not None and probe(cut).problem.code == "damaged_video"
