from pathlib import Path

from batchgui.core.models import ConflictPolicy, InputFile
from batchgui.core.naming import blob_name, output_name, plan_outputs


def inp(path: str, root: str | None = None) -> InputFile:
    return InputFile(Path(path), 10, 1.0, None, Path(root) if root else None)


def test_only_the_last_extension_is_replaced() -> None:
    assert output_name(Path("a.b.mp4")) == "a.b.mp3"
    assert output_name(Path("Holiday.2024.MOV")) == "Holiday.2024.mp3"
    assert output_name(Path("noext")) == "noext.mp3"
    assert output_name(Path(".hidden")) == ".hidden.mp3"


def test_odd_names_stay_as_they_are() -> None:
    assert output_name(Path('x"; touch INJECTED; echo ".mp4')) == 'x"; touch INJECTED; echo ".mp3'
    assert output_name(Path("möte; 'del 2' & mer.mp4")) == "möte; 'del 2' & mer.mp3"


def test_same_stem_from_two_folders_never_collides() -> None:
    out = Path("/out")
    planned = plan_outputs([inp("/a/clip.mp4"), inp("/b/clip.mp4"), inp("/c/clip.MOV")], out,
                           exists=lambda p: False)
    assert planned == [out / "clip.mp3", out / "clip (1).mp3", out / "clip (2).mp3"]


def test_inputs_never_overwrite_each_other_even_with_overwrite_policy() -> None:
    planned = plan_outputs([inp("/a/clip.mp4"), inp("/b/clip.mp4")], Path("/out"),
                           on_conflict=ConflictPolicy.OVERWRITE, exists=lambda p: True)
    assert planned == [Path("/out/clip.mp3"), Path("/out/clip (1).mp3")]


def test_mirror_folders_keeps_structure() -> None:
    planned = plan_outputs(
        [inp("/in/x/clip.mp4", "/in"), inp("/in/y/z/clip.mp4", "/in"), inp("/loose/clip.mp4")],
        Path("/out"), mirror_folders=True, exists=lambda p: False,
    )
    assert planned == [Path("/out/x/clip.mp3"), Path("/out/y/z/clip.mp3"), Path("/out/clip.mp3")]


def test_existing_file_policies() -> None:
    existing = {Path("/out/song.mp3"), Path("/out/song (1).mp3")}
    ins = [inp("/a/song.mp4")]
    assert plan_outputs(ins, Path("/out"), exists=existing.__contains__) == [
        Path("/out/song (2).mp3")]
    assert plan_outputs(ins, Path("/out"), on_conflict=ConflictPolicy.SKIP,
                        exists=existing.__contains__) == [None]
    assert plan_outputs(ins, Path("/out"), on_conflict=ConflictPolicy.OVERWRITE,
                        exists=existing.__contains__) == [Path("/out/song.mp3")]


def test_blob_names_are_opaque() -> None:
    name = blob_name("run-1", "f00003", Path('/x/"; rm -rf ~; echo ".MOV'))
    assert name == "run-1/in/f00003.mov"
    assert blob_name("run-1", "f00004", Path("/x/weird.exe")) == "run-1/in/f00004.mp4"
