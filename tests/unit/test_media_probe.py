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
