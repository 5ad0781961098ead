"""Files shipped inside the package: the icons and the translation catalogues.

They are found through importlib.resources, so a checkout, `pip install .` and the
PyInstaller bundle all find them the same way. No Qt here: the core may use
`locale_dir()` for gettext too.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

#: the reverse-DNS id the desktop files, the icon theme and the window all use
APP_ID = "io.github.batchgui.BatchGUI"

_HERE = Path(__file__).resolve().parent


def resource_path(*parts: str) -> Path:
    """A real file path to a shipped file (extracted once if the package is zipped).

    A checkout, an installed wheel and the bundle keep the files beside this module, so
    the path is found without importlib.resources (which costs the window's start-up
    some milliseconds); a zipped package falls back to it.
    """
    path = _HERE.joinpath(*parts)
    if path.exists() or _HERE.is_dir():
        return path
    import atexit
    from importlib import resources

    global _extracted
    if _extracted is None:
        _extracted = contextlib.ExitStack()
        atexit.register(_extracted.close)
    return _extracted.enter_context(resources.as_file(resources.files(__name__).joinpath(*parts)))


_extracted: contextlib.ExitStack | None = None


def icon_path() -> Path:
    """The app icon (SVG)."""
    return resource_path("icons", "batchgui.svg")


def locale_dir() -> Path:
    """Where the gettext catalogues live: locale/<lang>/LC_MESSAGES/batchgui.mo (built from
    the .po beside it by packaging/catalogues.py; see batchgui/i18n.py)."""
    return resource_path("locale")
