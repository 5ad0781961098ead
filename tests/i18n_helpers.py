"""Helpers for the tests of the languages: the catalogues up to date, a language for one
test, the environment of a Swedish desktop session."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def catalogues_module():  # type: ignore[no-untyped-def]
    """packaging/catalogues.py (extract, compile, check)."""
    if str(ROOT / "packaging") not in sys.path:
        sys.path.insert(0, str(ROOT / "packaging"))
    import catalogues

    return catalogues


def compile_catalogues() -> None:
    """Compile the .po files that changed since their .mo was made."""
    catalogues_module().compile_all(only_stale=True)


def swedish_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """A Swedish desktop session's environment: LANG=sv_SE.UTF-8 and nothing that overrides
    it (the sv_SE locale need not be installed: BatchGUI reads the name, as gettext does)."""
    env = dict(os.environ if base is None else base)
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        env.pop(variable, None)
    env["LANG"] = "sv_SE.UTF-8"
    return env


@contextmanager
def language(code: str) -> Iterator[str]:
    """Speak `code` ('en', 'sv') in this process for the block, English again after it."""
    from batchgui import i18n

    used = i18n.setup(code)
    try:
        yield used
    finally:
        i18n.setup("en")
