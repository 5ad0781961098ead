"""The icon and the compiled translations ship inside the package: `pip install .` finds them.

A throwaway venv gets a real, non-editable `pip install .` of this checkout (without
the dependencies: batchgui.resources and batchgui.i18n need none), then looks for the
icon and speaks Swedish from another folder, so only the installed copy can answer. The
catalogues are compiled by the build (setup.py), from a copy holding only their sources.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from tests.packaging.conftest import ROOT

#: what the package is built from (the .mo files are not: the build makes them)
BUILT_FROM = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md",
              "packaging/catalogues.py")
SPEAKS_SWEDISH = ("from batchgui import i18n\n"
                  "print(i18n.setup('sv'), i18n._('Cleaning up'), i18n.locale_dir())\n")


def source_copy(tmp_path: Path) -> Path:
    """A copy of what the package is made of, without any compiled catalogue."""
    source = tmp_path / "source"
    shutil.copytree(ROOT / "batchgui", source / "batchgui",
                    ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    for name in BUILT_FROM:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, source / name)
    return source


def install(tmp_path: Path, *args: str) -> tuple[Path, dict[str, str], str]:
    """pip install `args` into a fresh venv; (its python, the env, pip's output)."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    out = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-cache-dir", "-v", *args],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return python, env, out.stdout + out.stderr


def test_pip_install_ships_the_icon_and_setuptools_has_no_complaint(tmp_path: Path) -> None:
    source = source_copy(tmp_path)
    python, env, log = install(tmp_path, str(source))
    env_dir = tmp_path / "venv"
    # the SPDX license string: setuptools has nothing to deprecate any more
    assert "SetuptoolsDeprecationWarning" not in log
    check = (
        "from batchgui.resources import icon_path, locale_dir\n"
        "import batchgui\n"
        "p = icon_path()\n"
        "print(p)\n"
        "print(p.is_file() and p.read_bytes().startswith(b'<svg'))\n"
    )
    found = subprocess.run([str(python), "-c", check], capture_output=True, text=True,
                           env=env, cwd=tmp_path, check=True).stdout.split()
    assert found[1] == "True"
    assert Path(found[0]).is_relative_to(env_dir)  # the installed copy, not the checkout
    # the build compiled the Swedish catalogue into the package; its sources stayed out
    said = subprocess.run([str(python), "-c", SPEAKS_SWEDISH], capture_output=True,
                          text=True, env=env, cwd=tmp_path, check=True).stdout.split()
    assert said[:3] == ["sv", "Städar", "upp"] and Path(said[3]).is_relative_to(env_dir)
    installed = {p.name for p in (env_dir / "lib").rglob("batchgui/resources/locale/**/*")}
    assert "batchgui.mo" in installed and not installed & {"batchgui.po", "batchgui.pot"}
    assert not list((source / "batchgui").rglob("*.mo"))  # built in the build folder


def test_editable_install_compiles_the_catalogues_beside_their_sources(tmp_path: Path) -> None:
    source = source_copy(tmp_path)
    python, env, _log = install(tmp_path, "-e", str(source))
    said = subprocess.run([str(python), "-c", SPEAKS_SWEDISH], capture_output=True,
                          text=True, env=env, cwd=tmp_path, check=True).stdout.split()
    assert said[:3] == ["sv", "Städar", "upp"]
    assert Path(said[3]) == source / "batchgui" / "resources" / "locale"


def test_checkout_finds_the_icon_through_the_package(qapp) -> None:  # type: ignore[no-untyped-def]
    from batchgui.resources import icon_path
    from batchgui.ui.app import app_icon

    assert icon_path().is_relative_to(ROOT / "batchgui")
    icon = app_icon()
    assert not icon.isNull()
    assert not icon.pixmap(64, 64).isNull()


def test_resources_stay_free_of_qt() -> None:
    code = ("import sys, batchgui.resources; "
            "print([m for m in sys.modules if m.startswith('PySide6')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
