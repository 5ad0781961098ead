"""Build the desktop bundle: `python3 packaging/bootstrap.py bundle` runs this.

    python packaging/bundle.py        # with the environment that has PyInstaller

1. renders the icons (packaging/make_icons.py) into build/icons, and compiles the
   translation catalogues (packaging/catalogues.py) beside their sources;
2. runs PyInstaller on packaging/batchgui.spec: dist/BatchGUI/ with one executable,
   `batchgui` (the window without arguments, the CLI with them);
3. on Linux: trims Qt's ICU data to our languages (packaging/trim_icu.py), adds the
   desktop files, icons and install.sh, and packs
   dist/BatchGUI-<version>-linux-<machine>.tar.gz.

Prints the build time and the sizes. Standard library plus the app's own libraries.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
BUNDLE = DIST / "BatchGUI"
BUILD = ROOT / "build"
LINUX = ROOT / "packaging" / "linux"
APP_ID = "io.github.batchgui.BatchGUI"
#: the folder that holds the ffmpeg binary inside the bundle
FFMPEG_DIR = Path("_internal") / "imageio_ffmpeg" / "binaries"


def say(text: str) -> None:
    print(f"[batchgui bundle] {text}", flush=True)


def version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def tarball_path() -> Path:
    machine = platform.machine().lower() or "unknown"
    return DIST / f"BatchGUI-{version()}-linux-{machine}.tar.gz"


def folder_size(folder: Path, *, skip: Path | None = None) -> int:
    """Bytes of the files under `folder` (links not followed), without `skip`."""
    total = 0
    for path in folder.rglob("*"):
        if skip is not None and (path == skip or skip in path.parents):
            continue
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
    return total


def run_pyinstaller(icons: Path) -> None:
    env = dict(os.environ, BATCHGUI_VERSION=version(), BATCHGUI_ICON_DIR=str(icons))
    subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         "--distpath", str(DIST), "--workpath", str(BUILD / "pyinstaller"),
         str(ROOT / "packaging" / "batchgui.spec")],
        check=True, cwd=ROOT, env=env,
    )


def trim_icu() -> None:
    sys.path.insert(0, str(ROOT / "packaging"))
    import trim_icu

    libraries = sorted(BUNDLE.rglob("libicudata.so.*"))
    missing = trim_icu.tools_missing()
    if missing:
        say("not trimming ICU's data (needs " + " and ".join(missing) + "): the bundle "
            "stays about 29 MB bigger")
        return
    for library in libraries:
        if library.is_symlink():
            continue
        before, after = trim_icu.trim(library)
        say(f"ICU data: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")


def add_desktop_files(icons: Path) -> None:
    """share/ (menu entry, AppStream, hicolor icons) and install.sh, beside the app."""
    share = BUNDLE / "share"
    (share / "applications").mkdir(parents=True, exist_ok=True)
    (share / "metainfo").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(LINUX / f"{APP_ID}.desktop", share / "applications" / f"{APP_ID}.desktop")
    shutil.copyfile(LINUX / f"{APP_ID}.metainfo.xml", share / "metainfo" / f"{APP_ID}.metainfo.xml")
    shutil.copytree(icons / "hicolor", share / "icons" / "hicolor", dirs_exist_ok=True)
    shutil.copyfile(LINUX / "install.sh", BUNDLE / "install.sh")
    (BUNDLE / "install.sh").chmod(0o755)


def pack(tarball: Path) -> None:
    top = f"BatchGUI-{version()}"

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    tmp = tarball.with_suffix(".partial")
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
        tar.add(BUNDLE, arcname=top, filter=clean)
    tmp.replace(tarball)


def main() -> int:
    started = time.monotonic()
    icons = BUILD / "icons"
    sys.path.insert(0, str(ROOT / "packaging"))
    import make_icons

    say("rendering the icons")
    make_icons.make_icons(icons)
    import catalogues

    for compiled in catalogues.compile_all():
        say(f"compiled {compiled.relative_to(ROOT)}")
    say("running PyInstaller")
    run_pyinstaller(icons)
    if sys.platform.startswith("linux"):
        trim_icu()
        add_desktop_files(icons)
        tarball = tarball_path()
        for old in DIST.glob("BatchGUI-*.tar.gz"):
            old.unlink()
        say(f"packing {tarball.name}")
        pack(tarball)
    took = time.monotonic() - started
    ffmpeg = BUNDLE / FFMPEG_DIR
    total = folder_size(BUNDLE)
    without = folder_size(BUNDLE, skip=ffmpeg)
    say(f"built {BUNDLE} in {took:.0f} s")
    say(f"size: {total / 1e6:.1f} MB, {without / 1e6:.1f} MB without ffmpeg")
    if sys.platform.startswith("linux"):
        say(f"tarball: {tarball_path()} ({tarball_path().stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
