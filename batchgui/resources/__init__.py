"""Files shipped inside the package (icons; later the translation catalogues).

They are found through importlib.resources, so a checkout, `pip install .` and the
PyInstaller bundle all find them the same way. No Qt here: the core may use
`locale_dir()` for gettext too.
"""

from __future__ import annotations

import atexit
import contextlib
from importlib import resources
from pathlib import Path

#: the reverse-DNS id the desktop files, the icon theme and the window all use
APP_ID = "io.github.batchgui.BatchGUI"

_extracted = contextlib.ExitStack()
atexit.register(_extracted.close)


def resource_path(*parts: str) -> Path:
    """A real file path to a shipped file (extracted once if the package is zipped)."""
    ref = resources.files(__name__).joinpath(*parts)
    if isinstance(ref, Path):
        return ref
    return _extracted.enter_context(resources.as_file(ref))


def icon_path() -> Path:
    """The app icon (SVG)."""
    return resource_path("icons", "batchgui.svg")


def locale_dir() -> Path:
    """Where gettext catalogues live: locale/<lang>/LC_MESSAGES/batchgui.mo."""
    return resource_path("locale")
