from pathlib import Path

from batchgui.core.ffmpeg import convert_argv, ffmpeg_exe, file_url
from batchgui.core.models import ConflictPolicy, Quality
from batchgui.core.run import check_output, place_output


def test_place_output_never_overwrites_unasked(tmp_path: Path) -> None:
    wanted = tmp_path / "song.mp3"
    wanted.write_bytes(b"theirs")
    part = tmp_path / ".song.mp3.1.part"
    part.write_bytes(b"ours")
    final = place_output(part, wanted, ConflictPolicy.RENAME)
    assert final == tmp_path / "song (1).mp3" and final.read_bytes() == b"ours"
    assert wanted.read_bytes() == b"theirs" and not part.exists()

    part.write_bytes(b"ours again")
    assert place_output(part, wanted, ConflictPolicy.SKIP) is None
    assert wanted.read_bytes() == b"theirs" and not part.exists()

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
    assert problem == f"input looks truncated: got {got:.1f} s of 60.0 s"
    assert check_output(tmp_path / "missing.mp3", 3.0) == (None, "ffmpeg wrote no MP3")
    (tmp_path / "empty.mp3").write_bytes(b"")
    assert check_output(tmp_path / "empty.mp3", 3.0)[1] == "ffmpeg wrote an empty MP3"
