"""The icon (and later the translations) ship inside the package: `pip install .` finds them.

A throwaway venv gets a real, non-editable `pip install .` of this checkout (without
the dependencies: batchgui.resources needs none), then looks for the icon from
another folder, so only the installed copy can answer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from tests.packaging.conftest import ROOT


def test_pip_install_ships_the_icon_and_setuptools_has_no_complaint(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    # a copy of what the package is made of: pip builds in the source folder
    source = tmp_path / "source"
    shutil.copytree(ROOT / "batchgui", source / "batchgui",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / name, source / name)
    out = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-cache-dir", "-v", str(source)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    log = out.stdout + out.stderr
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
