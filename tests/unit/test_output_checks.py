from pathlib import Path

from batchgui.core.ffmpeg import convert_argv, ffmpeg_exe, file_url
from batchgui.core.models import ConflictPolicy, Quality
from batchgui.core.outputs import check_output, place_output


def test_place_output_never_overwrites_unasked(tmp_path: Path) -> None:
    wanted = tmp_path / "song.mp3"
    wanted.write_bytes(b"theirs")
    part = tmp_path / ".song.mp3.1.part"
    part.write_bytes(b"ours")
    final = place_output(part, wanted, ConflictPolicy.RENAME)
    assert final == tmp_path / "song (1).mp3" and final.read_bytes() == b"ours"
    assert wanted.read_bytes() == b"theirs"
    part.unlink()  # the run removes the part once the journal says "done"

    part.write_bytes(b"ours again")
    assert place_output(part, wanted, ConflictPolicy.SKIP) is None
    assert wanted.read_bytes() == b"theirs"

    part.write_bytes(b"replace it")
    assert place_output(part, wanted, ConflictPolicy.OVERWRITE) == wanted
    assert wanted.read_bytes() == b"replace it"


def test_check_output_judges_by_duration(media, tmp_path: Path) -> None:
    import subprocess

    src = media.good(tmp_path / "a.mp4", 3.0)
    mp3 = tmp_path / "a.mp3"
    subprocess.run(convert_argv(file_url(src), file_url(mp3), Quality(), ffmpeg=ffmpeg_exe(),
                                progress=False), check=True)
    got, problem = check_output(mp3, 3.0)
    assert problem is None and abs(got - 3.0) < 0.3
    got, problem = check_output(mp3, 60.0)
    assert problem is not None and problem.code == "input_truncated"
    assert problem.text == f"input looks truncated: got {got:.1f} s of 60.0 s"
    assert problem.params == {"got_s": round(got, 3), "expected_s": 60.0}
    missing = check_output(tmp_path / "missing.mp3", 3.0)
    assert missing[0] is None and str(missing[1]) == "ffmpeg wrote no MP3"
    (tmp_path / "empty.mp3").write_bytes(b"")
    assert str(check_output(tmp_path / "empty.mp3", 3.0)[1]) == "ffmpeg wrote an empty MP3"


def test_a_placed_mp3_is_found_by_its_identity_after_a_crash(tmp_path: Path) -> None:
    """The journal keeps the part's identity before linking; after a crash it finds the MP3."""
    from batchgui.core.outputs import file_id, find_placed

    wanted = tmp_path / "talk.mp3"
    wanted.write_bytes(b"someone else's")
    part = tmp_path / ".talk.mp3.x.part"
    part.write_bytes(b"ours")
    identity = file_id(part)
    assert find_placed(wanted, identity) is None  # not placed yet: the part is redone
    placed = place_output(part, wanted, ConflictPolicy.RENAME)
    assert find_placed(wanted, identity) == placed == tmp_path / "talk (1).mp3"
    part.unlink()
    assert find_placed(wanted, identity) == placed  # the link keeps the identity

    other = tmp_path / ".o.part"
    other.write_bytes(b"replacing")
    identity = file_id(other)
    place_output(other, wanted, ConflictPolicy.OVERWRITE)  # a rename keeps it too
    assert find_placed(wanted, identity) == wanted


def test_an_mp3_cut_short_after_encoding_is_caught(tmp_path: Path) -> None:
    """Its header still promises the whole length; the bytes there tell the truth."""
    import subprocess

    for quality in (Quality(), Quality(vbr_level=None, cbr_kbps=192)):
        whole = tmp_path / f"whole-{quality.label}.mp3"
        subprocess.run(convert_argv("sine=d=20", file_url(whole), quality, ffmpeg=ffmpeg_exe(),
                                    progress=False)[:1] + ["-f", "lavfi"]
                       + convert_argv("sine=d=20", file_url(whole), quality,
                                      ffmpeg=ffmpeg_exe(), progress=False)[1:],
                       check=True, capture_output=True)
        assert check_output(whole, 20.0)[1] is None
        cut = tmp_path / f"cut-{quality.label}.mp3"
        cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
        got, problem = check_output(cut, 20.0)
        assert problem is not None and problem.text.startswith("the MP3 is cut short: it holds ")
        assert got is not None and 8.0 < got < 12.0
