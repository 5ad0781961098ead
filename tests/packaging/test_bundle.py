"""The one-folder bundle works on its own: from another folder, with no Python source nearby.

Every run here starts dist/BatchGUI/batchgui from a temporary working directory with
PYTHONPATH removed, so nothing can come from the checkout: what it needs must be in
the bundle (the frozen importer looks nowhere else anyway).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mutagen.mp3 import MP3

from tests.media import MediaCache
from tests.packaging.conftest import ROOT, Bundle

WINDOW_SHOWN = "BatchGUI: window shown"  # batchgui.ui.app.WINDOW_SHOWN
#: targets from issue 11
MAX_WITHOUT_FFMPEG = 90_000_000
MAX_TARBALL = 120_000_000


def outside_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a user's desktop session: no PYTHONPATH, private settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "BATCHGUI_", "VIRTUAL_ENV"))}
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        PATH="/usr/bin:/bin",
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    env.update(extra)
    return env


def run_bundle(bundle: Bundle, args: list[str], tmp_path: Path, **env: str):  # type: ignore[no-untyped-def]
    work = tmp_path / "elsewhere"
    work.mkdir(exist_ok=True)
    return subprocess.run([str(bundle.executable), *args], cwd=work,
                          env=outside_env(tmp_path, **env), capture_output=True, text=True,
                          timeout=120)


def test_bundle_converts_an_mp4_from_outside_the_checkout(
    bundle: Bundle, media: MediaCache, tmp_path: Path
) -> None:
    clip = media.good(tmp_path / "videos" / "holiday clip.mp4", seconds=3.0)
    out = run_bundle(bundle, ["convert", str(clip.parent), "--output", str(tmp_path / "mp3")],
                     tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    mp3 = tmp_path / "mp3" / "holiday clip.mp3"
    assert MP3(mp3).info.length == pytest.approx(3.0, abs=0.3)
    assert "Traceback" not in out.stderr


def test_bundle_opens_the_window_offscreen_and_closes_cleanly(
    bundle: Bundle, media: MediaCache, tmp_path: Path
) -> None:
    clip = media.good(tmp_path / "videos" / "clip.mp4")
    out = run_bundle(bundle, [str(clip)], tmp_path, QT_QPA_PLATFORM="offscreen",
                     BATCHGUI_CLOSE_WHEN_SHOWN="1")
    assert out.returncode == 0, out.stderr[-3000:]
    assert WINDOW_SHOWN in out.stdout
    assert out.stderr.strip() == ""  # no Qt warning, no traceback, no missing plugin
    # it closed the normal way: the window saved its settings
    assert (tmp_path / "config" / "batchgui" / "window.json").is_file()


def test_bundle_help_lists_the_commands(bundle: Bundle, tmp_path: Path) -> None:
    out = run_bundle(bundle, ["--help"], tmp_path)
    assert out.returncode == 0
    assert "convert" in out.stdout and "accounts" in out.stdout


def test_bundle_speaks_swedish_in_a_swedish_session(bundle: Bundle, media: MediaCache,
                                                    tmp_path: Path) -> None:
    """The compiled catalogue ships (its .po does not); LANG=sv_SE.UTF-8 is enough."""
    internal = bundle.folder / "_internal"
    assert (internal / "batchgui" / "resources" / "locale" / "sv" / "LC_MESSAGES"
            / "batchgui.mo").is_file()
    assert not [p for p in internal.rglob("*") if p.suffix in (".po", ".pot")]
    swedish = {"LANG": "sv_SE.UTF-8", "LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": ""}
    help_text = run_bundle(bundle, ["--help"], tmp_path, **swedish)
    assert help_text.stdout.startswith("användning: batchgui ") and "flaggor:" in help_text.stdout
    media.empty(tmp_path / "videos" / "tom.mp4")
    out = run_bundle(bundle, ["convert", str(tmp_path / "videos"), "-o", str(tmp_path / "mp3")],
                     tmp_path, **swedish)
    assert "tom.mp4: avvisad, filen är tom (0 byte)" in out.stdout


def test_bundle_and_tarball_sizes_are_within_the_targets(bundle: Bundle) -> None:
    from tests.packaging.conftest import bundle_script

    without = bundle_script.folder_size(bundle.folder,
                                        skip=bundle.folder / bundle_script.FFMPEG_DIR)
    tarball = bundle.tarball.stat().st_size
    assert without < MAX_WITHOUT_FFMPEG, f"{without / 1e6:.1f} MB beside ffmpeg"
    assert tarball < MAX_TARBALL, f"tarball {tarball / 1e6:.1f} MB"


def bundled_modules(bundle: Bundle) -> set[str]:
    """Names of the Python modules frozen into the executable."""
    code = (
        "import sys\n"
        "from PyInstaller.archive.readers import CArchiveReader\n"
        "pkg = CArchiveReader(sys.argv[1])\n"
        "pyz = pkg.open_embedded_archive('PYZ.pyz')\n"
        "print('\\n'.join(pyz.toc))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(bundle.executable)],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_bundle_holds_every_keyring_backend_and_every_module_of_the_app(bundle: Bundle) -> None:
    modules = bundled_modules(bundle)
    for backend in ("SecretService", "kwallet", "libsecret", "macOS", "Windows"):
        assert f"keyring.backends.{backend}" in modules
    ours = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            for p in (ROOT / "batchgui").rglob("*.py")}
    assert ours - modules == set()  # settings_dialog is imported by name: it must be there too
    # keyring finds its backends through its entry points: its metadata must be there
    assert list((bundle.folder / "_internal").glob("keyring-*.dist-info/entry_points.txt"))


def test_bundle_leaves_out_the_qt_it_does_not_use(bundle: Bundle) -> None:
    internal = bundle.folder / "_internal"
    names = {p.name for p in internal.rglob("*")}
    for unused in ("libQt6Qml.so.6", "libQt6Quick.so.6", "libQt6Network.so.6",
                   "libQt6OpenGL.so.6", "libQt6Designer.so.6", "QtNetwork.abi3.so",
                   "libqgtk3.so", "libgtk-3.so.0"):
        assert unused not in names
    translations = sorted(p.name for p in internal.rglob("translations/*.qm"))
    assert translations == ["qtbase_sv.qm"]
    icudata = next(internal.rglob("libicudata.so.*"))
    assert icudata.stat().st_size < 8_000_000  # trimmed (packaging/trim_icu.py)


def test_bundle_ships_the_package_data_and_ffmpeg(bundle: Bundle) -> None:
    internal = bundle.folder / "_internal"
    assert (internal / "batchgui" / "resources" / "icons" / "batchgui.svg").is_file()
    # the loudness script goes up to Azure nodes as a file: the bundle keeps its source
    assert (internal / "batchgui" / "core" / "loudness.py").is_file()
    ffmpeg = list((bundle.folder / "_internal" / "imageio_ffmpeg" / "binaries").glob("ffmpeg*"))
    assert len(ffmpeg) == 1 and os.access(ffmpeg[0], os.X_OK)


def test_trimmed_icu_still_sorts_and_cases_swedish(bundle: Bundle) -> None:
    """The trimmed ICU data under Qt: Swedish sorting (å ä ö after z), root sorting for
    other languages, and case mapping, as the source install's full ICU does them."""
    icudata = next((bundle.folder / "_internal").rglob("libicudata.so.*")).resolve()
    code = (
        "from PySide6.QtCore import QCollator, QLocale, QCoreApplication\n"
        "app = QCoreApplication([])\n"
        "sv = QCollator(QLocale('sv_SE')); de = QCollator(QLocale('de_DE'))\n"
        "words = ['ö', 'z', 'å', 'ä', 'a']\n"
        "print(' '.join(sorted(words, key=sv.sortKey)))\n"
        "print(' '.join(sorted(words, key=de.sortKey)))\n"
        "print(QLocale('sv_SE').toUpper('åäö'))\n"
        "print([line.split()[-1] for line in open('/proc/self/maps') if 'libicudata' in line][0])\n"
    )
    env = dict(os.environ, LD_PRELOAD=str(icudata))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[3] == str(icudata)  # the trimmed data was the one in use
    assert lines[:3] == ["a z å ä ö", "a å ä ö z", "ÅÄÖ"], out.stderr
