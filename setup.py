"""setuptools' build, plus one step: the translation catalogues are compiled (.po -> .mo).

Everything else about the package is in pyproject.toml. The compiled catalogues are never
committed: `pip install .` and wheels get them in the build folder, `pip install -e .`
beside their .po in the checkout (packaging/catalogues.py does the compiling; it needs
Babel, which pyproject.toml's build requirements bring).
"""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithCatalogues(build_py):
    """build_py, then batchgui/resources/locale/<lang>/LC_MESSAGES/batchgui.mo."""

    def run(self) -> None:
        super().run()
        sys.path.insert(0, str(ROOT / "packaging"))
        import catalogues

        if getattr(self, "editable_mode", False):  # the checkout is the package
            made = catalogues.compile_all()
        else:
            made = catalogues.compile_all(Path(self.build_lib) / "batchgui" / "resources"
                                          / "locale")
        for path in made:
            print(f"compiled {path}")


setup(cmdclass={"build_py": BuildWithCatalogues})
