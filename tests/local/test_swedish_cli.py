"""`batchgui` in a Swedish session (LANG=sv_SE.UTF-8): the lines, the reasons and --help in
Swedish; the --report file as language-free as ever, with a stable reason code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.i18n_helpers import swedish_env


def batchgui(args: list[str], cwd: Path, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchgui", *args], cwd=cwd,
                          env=env or swedish_env(), capture_output=True, text=True, timeout=300)


def test_converting_good_and_bad_files_speaks_swedish_and_reports_the_same_keys(
    media, tmp_path: Path
) -> None:
    src = tmp_path / "in"
    media.good(src / "bra.mp4", 2.0)
    media.empty(src / "tom.mp4")
    media.not_video(src / "anteckningar.mp4")
    media.truncated(src / "halv.mp4", 10.0)
    report = tmp_path / "rapport.json"

    out = batchgui(["convert", str(src), "-o", str(tmp_path / "ut"), "--report", str(report)],
                   tmp_path)

    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    assert "Kontrollerar 4 filer" in lines
    assert "tom.mp4: avvisad, filen är tom (0 byte)" in lines
    assert "anteckningar.mp4: avvisad, inte en MP4- eller MOV-video" in lines
    assert "bra.mp4: klar, bra.mp3" in lines
    assert "Klart: 1 av 4 filer konverterade" in lines
    assert "1 konverterade, 3 inte konverterade, 0 överhoppade" in lines
    truncated = next(line for line in lines if line.startswith("halv.mp4: misslyckades, "))
    assert "indata verkar avkortade: fick " in truncated and " s av 10,0 s" in truncated
    assert "  misslyckades: halv.mp4: indata verkar avkortade" in out.stdout
    assert out.stderr == ""

    rows = {Path(r["input"]).name: r for r in json.loads(report.read_text(encoding="utf-8"))}
    for row in rows.values():  # the keys of every row, in English as always
        assert set(row) == {"input", "output", "status", "reason", "reason_code",
                            "reason_params", "duration_s"}
    assert rows["bra.mp4"]["status"] == "converted" and rows["bra.mp4"]["reason_code"] is None
    assert rows["tom.mp4"] | {"input": ""} == {
        "input": "", "output": None, "status": "rejected", "reason": "filen är tom (0 byte)",
        "reason_code": "empty_file", "reason_params": {}, "duration_s": None}
    assert rows["anteckningar.mp4"]["reason_code"] == "not_a_video"
    half = rows["halv.mp4"]
    assert half["status"] == "failed" and half["reason_code"] == "input_truncated"
    assert half["reason"].startswith("indata verkar avkortade: fick ")
    assert abs(half["reason_params"]["expected_s"] - 10.0) < 0.1  # numbers, in any language
    assert 4.0 < half["reason_params"]["got_s"] < 6.0


def test_the_report_of_an_english_run_differs_only_in_the_reason_sentences(
    media, tmp_path: Path
) -> None:
    media.empty(tmp_path / "in" / "tom.mp4")
    runs = {}
    for lang in ("sv", "en"):
        report = tmp_path / f"{lang}.json"
        batchgui(["convert", str(tmp_path / "in"), "-o", str(tmp_path / "ut"), "--report",
                  str(report), "--lang", lang], tmp_path)
        runs[lang] = json.loads(report.read_text(encoding="utf-8"))
    (sv,), (en,) = runs["sv"], runs["en"]
    assert en["reason"] == "the file is empty (0 bytes)" and sv["reason"] == "filen är tom (0 byte)"
    assert {k: v for k, v in sv.items() if k != "reason"} == \
        {k: v for k, v in en.items() if k != "reason"}


def test_help_is_swedish_argparse_s_own_words_too(tmp_path: Path) -> None:
    top = batchgui(["--help"], tmp_path)
    assert top.returncode == 0
    assert top.stdout.startswith("användning: batchgui ")
    assert "flaggor:" in top.stdout and "kommandon:" in top.stdout
    assert "visa det här hjälpmeddelandet och avsluta" in top.stdout
    assert "Gör om videofiler till MP3-filer" in top.stdout
    assert "options:" not in top.stdout and "show this help" not in top.stdout

    conv = batchgui(["convert", "--help"], tmp_path)
    assert "positionsargument:" in conv.stdout
    assert "SÖKVÄG" in conv.stdout and "mappen för MP3-filerna" in conv.stdout
    assert "tid och kostnad:" in conv.stdout  # an argument group of ours


def test_usage_errors_are_swedish(tmp_path: Path) -> None:
    out = batchgui(["convert", "video.mp4"], tmp_path)
    assert out.returncode == 2
    assert "batchgui convert: fel: följande argument krävs: --output/-o" in out.stderr

    bad = batchgui(["convert", "video.mp4", "-o", "ut", "--parallel", "två"], tmp_path)
    assert "fel: argumentet --parallel: ”två” är inte ett heltal" in bad.stderr


def test_lang_wins_over_the_system_and_english_stays_english(tmp_path: Path) -> None:
    english = batchgui(["--lang", "en", "--help"], tmp_path)
    assert english.stdout.startswith("usage: batchgui ") and "options:" in english.stdout
    swedish = batchgui(["runs", "--lang=sv"], tmp_path, env={**swedish_env(), "LANG": "C"})
    assert swedish.stdout.strip() == "Inga körningar ännu."
