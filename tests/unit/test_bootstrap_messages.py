"""`bootstrap.py app` names each missing system library once (issue 14, "Setup")."""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_bootstrap():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bootstrap", ROOT / "packaging" / "bootstrap.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ldd is Linux's")
def test_each_missing_library_is_named_once(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    bootstrap = load_bootstrap()
    # an ldd that answers as it does on a machine without the xcb libraries: each missing
    # library once per library of the plugin that needs it
    ldd = tmp_path / "ldd"
    ldd.write_text("#!/bin/sh\n"
                   "echo '\tlibxcb-icccm.so.4 => not found'\n"
                   "echo '\tlibxcb-keysyms.so.1 => not found'\n"
                   "echo '\tlibc.so.6 => /lib/libc.so.6 (0x1)'\n"
                   "echo '\tlibxcb-icccm.so.4 => not found'\n")
    ldd.chmod(ldd.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(bootstrap, "PYTHON", Path(sys.executable))
    said: list[str] = []
    monkeypatch.setattr(bootstrap, "say", said.append)
    monkeypatch.setattr(bootstrap, "can_apt", lambda: False)

    bootstrap.ensure_system_libraries("xcb", ["libxcb-icccm4", "libxcb-keysyms1"])

    assert said[0] == ("Qt needs these system libraries, which are missing: "
                       "libxcb-icccm.so.4, libxcb-keysyms.so.1")
