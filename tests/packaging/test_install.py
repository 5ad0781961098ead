"""install.sh from the tarball: installs into a prefix, and uninstalling leaves it as it was."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from batchgui.resources import APP_ID
from tests.packaging.conftest import Bundle
from tests.packaging.test_bundle import outside_env
from tests.packaging.test_desktop_files import validate_desktop_file


def tree(folder: Path) -> dict[str, tuple[str, ...]]:
    """Every entry under `folder`: kind, mode and content (or link target)."""
    found: dict[str, tuple[str, ...]] = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        info = path.lstat()
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            found[rel] = ("dir", oct(stat.S_IMODE(info.st_mode)))
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[rel] = ("file", oct(stat.S_IMODE(info.st_mode)), digest)
    return found


@pytest.fixture(scope="module")
def unpacked(bundle: Bundle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tarball unpacked, as a user would have it."""
    where = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(bundle.tarball) as tar:
        tar.extractall(where, filter="tar")
    (top,) = where.iterdir()
    return top


def install_sh(unpacked: Path, *args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(unpacked / "install.sh"), *args], capture_output=True,
                          text=True, env=outside_env(tmp_path), timeout=120)


def users_prefix(tmp_path: Path) -> Path:
    """A prefix that already holds other things, as ~/.local does."""
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "other-tool").write_text("#!/bin/sh\n")
    apps = prefix / "share" / "applications"
    apps.mkdir(parents=True)
    (apps / "other.desktop").write_text(
        "[Desktop Entry]\nType=Application\nName=Other\nExec=other %F\n"
        "MimeType=video/mp4;\n")
    if shutil.which("update-desktop-database"):  # the desktop keeps a cache here
        subprocess.run(["update-desktop-database", str(apps)], check=True)
    (prefix / "share" / "icons" / "hicolor" / "48x48" / "apps").mkdir(parents=True)
    return prefix


def test_install_then_uninstall_leaves_the_prefix_as_it_was(unpacked: Path,
                                                            tmp_path: Path) -> None:
    prefix = users_prefix(tmp_path)
    before = tree(prefix)
    out = install_sh(unpacked, "--prefix", str(prefix), tmp_path=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr

    # the menu entry starts this copy, and it is valid as installed
    desktop = prefix / "share" / "applications" / f"{APP_ID}.desktop"
    validate_desktop_file(desktop)
    assert f'Exec="{prefix}/bin/batchgui" %F' in desktop.read_text()
    for size in ("16x16", "48x48", "256x256", "scalable"):
        assert list((prefix / "share" / "icons" / "hicolor" / size / "apps").glob(f"{APP_ID}.*"))
    if (prefix / "share" / "applications" / "mimeinfo.cache").exists():
        assert APP_ID in (prefix / "share" / "applications" / "mimeinfo.cache").read_text()
    # the command on PATH runs the installed app (through its link)
    ran = subprocess.run([str(prefix / "bin" / "batchgui"), "--help"], capture_output=True,
                         text=True, env=outside_env(tmp_path), cwd=tmp_path, timeout=60)
    assert ran.returncode == 0 and "convert" in ran.stdout, ran.stderr

    uninstall = prefix / "lib" / "batchgui" / "uninstall.sh"
    out = subprocess.run([str(uninstall)], capture_output=True, text=True,
                         env=outside_env(tmp_path), timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert tree(prefix) == before


def test_install_into_a_new_prefix_twice_then_uninstall_removes_it(unpacked: Path,
                                                                   tmp_path: Path) -> None:
    prefix = tmp_path / "new-prefix"
    for _ in range(2):  # installing again replaces the first install
        out = install_sh(unpacked, "--prefix", str(prefix), tmp_path=tmp_path)
        assert out.returncode == 0, out.stdout + out.stderr
    out = install_sh(unpacked, "--uninstall", "--prefix", str(prefix), tmp_path=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert not prefix.exists()  # the prefix itself was made by the install


def test_install_defaults_to_home_local_and_keeps_foreign_files(unpacked: Path,
                                                                tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    out = install_sh(unpacked, tmp_path=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (home / ".local" / "bin" / "batchgui").is_symlink()
    # a file of the user's own in a folder the install made stays, with the folder
    mine = home / ".local" / "share" / "icons" / "hicolor" / "my-notes.txt"
    mine.write_text("mine")
    out = install_sh(unpacked, "--uninstall", tmp_path=tmp_path)
    assert out.returncode == 0
    assert mine.read_text() == "mine"
    assert "kept" in out.stdout
    assert not (home / ".local" / "bin").exists()


def test_install_refuses_to_overwrite_a_batchgui_it_did_not_install(unpacked: Path,
                                                                    tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "batchgui").write_text("someone else's\n")
    before = tree(prefix)
    out = install_sh(unpacked, "--prefix", str(prefix), tmp_path=tmp_path)
    assert out.returncode != 0
    assert "exists already" in out.stderr
    assert tree(prefix) == before
