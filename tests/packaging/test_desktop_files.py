"""The Linux desktop files pass the freedesktop.org validators and agree with each other.

desktop-file-validate (desktop-file-utils) and appstreamcli (appstream) are installed
by `python3 packaging/bootstrap.py test` (root + apt); without them these tests fail
rather than skip, so CI can never pass them unchecked.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from batchgui.resources import APP_ID
from tests.packaging.conftest import ROOT

LINUX = ROOT / "packaging" / "linux"
DESKTOP = LINUX / f"{APP_ID}.desktop"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"
MIME_TYPES = {"video/mp4", "video/quicktime", "video/x-m4v", "inode/directory"}


def tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is missing: run `python3 packaging/bootstrap.py test`, which "
                    "installs it (desktop-file-utils, appstream)")
    return found


def validate_desktop_file(path: Path) -> None:
    out = subprocess.run([tool("desktop-file-validate"), str(path)], capture_output=True,
                         text=True)
    assert out.returncode == 0 and out.stdout.strip() == "", out.stdout + out.stderr


def test_desktop_file_is_valid() -> None:
    validate_desktop_file(DESKTOP)


def test_metainfo_is_valid_without_warnings() -> None:
    out = subprocess.run([tool("appstreamcli"), "validate", "--no-net", str(METAINFO)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    issues = [line for line in out.stdout.splitlines() if re.match(r"^[EWI]: ", line)]
    assert issues == []  # no errors, warnings, nor even infos (pedantic notes are fine)


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_file_opens_videos_and_folders_with_the_window() -> None:
    entry = desktop_entry()
    assert set(entry["MimeType"].strip(";").split(";")) == MIME_TYPES
    assert entry["Exec"] == "batchgui %F"  # local paths: `batchgui FILE...` opens the window
    assert entry["Icon"] == APP_ID


def test_one_app_id_everywhere() -> None:
    """The desktop file's name, its icon, the AppStream id and launchable, the icon
    files, install.sh and the window's desktop file name all use the same id."""
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("id") == APP_ID
    assert root.findtext("launchable") == f"{APP_ID}.desktop"
    sys.path.insert(0, str(ROOT / "packaging"))
    import bundle
    import make_icons

    assert make_icons.APP_ID == bundle.APP_ID == APP_ID
    assert f"APP_ID={APP_ID}\n" in (LINUX / "install.sh").read_text()
    assert f'APP_ID = "{APP_ID}"' in (ROOT / "packaging" / "batchgui.spec").read_text()


def test_metainfo_screenshots_are_files_of_the_repository() -> None:
    """AppStream wants web addresses; each one names a picture in resources/ (the
    addresses point at those files of the release's tag)."""
    root = ET.parse(METAINFO).getroot()
    urls = [image.text or "" for image in root.iter("image")]
    assert urls
    for url in urls:
        assert url.startswith("https://")
        assert (ROOT / "resources" / url.rsplit("/", 1)[-1]).is_file(), url


def test_metainfo_release_is_the_package_version() -> None:
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    releases = ET.parse(METAINFO).getroot().find("releases")
    assert releases is not None
    assert releases[0].get("version") == version
    assert f"/v{version}/" in METAINFO.read_text()  # screenshots of this release's tag


def test_icon_source_and_shipped_copy_agree() -> None:
    source = ROOT / "resources" / "icons" / "batchgui.svg"
    shipped = ROOT / "batchgui" / "resources" / "icons" / "batchgui.svg"
    assert source.read_bytes() == shipped.read_bytes(), (
        "copy resources/icons/batchgui.svg to batchgui/resources/icons/")


def test_make_icons_renders_every_size(tmp_path: Path, qapp) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QImage, QImageReader

    sys.path.insert(0, str(ROOT / "packaging"))
    import make_icons

    make_icons.make_icons(tmp_path)
    for size in make_icons.PNG_SIZES:
        image = QImage(str(tmp_path / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"))
        assert (image.width(), image.height()) == (size, size)
        assert image.pixelColor(size // 2, size // 10).alpha() == 255  # drawn, not empty
    for name, sizes in (("batchgui.ico", make_icons.ICO_SIZES),
                        ("batchgui.icns", tuple(make_icons.ICNS_TYPES))):
        reader = QImageReader(str(tmp_path / name))
        found = set()
        for index in range(reader.imageCount()):
            reader.jumpToImage(index)
            found.add(reader.read().width())
        assert found == set(sizes), name
