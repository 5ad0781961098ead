"""House rules that a reviewer would otherwise have to catch by eye."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "batchgui"


def python_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def test_core_and_targets_never_import_qt() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for room in ("core", "targets")
        for p in python_files(PKG / room)
        if re.search(r"^\s*(from|import)\s+(PySide6|qasync)", p.read_text(), re.M)
    ]
    assert offenders == []


def test_no_shell_commands_and_no_process_events() -> None:
    pattern = re.compile(r"shell\s*=\s*True|os\.system\(|processEvents\(")
    offenders = [str(p) for p in python_files(PKG) if pattern.search(p.read_text())]
    assert offenders == []


def test_cli_never_imports_qt() -> None:
    code = "import sys, batchgui.cli; print([m for m in sys.modules if m.startswith('PySide6')])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_ruff_is_clean() -> None:
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "batchgui"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_is_clean_on_the_whole_package() -> None:
    """The window too: its helper modules (window_layout, pool_form …) set widgets on the
    window and the profile form, which declare them, so a misspelt name is caught."""
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "batchgui"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_core_depends_on_nothing_above_it() -> None:
    pattern = re.compile(r"^\s*(from|import)\s+batchgui\.(targets|ui|accounts|cli)", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in python_files(PKG / "core")
                 if pattern.search(p.read_text())]
    assert offenders == []


def test_targets_never_import_the_cli_or_the_window() -> None:
    """Arrows point down: the CLI and the window use the targets, never the other way round
    (registry.py once imported accounts_cli, which imports registry: an import circle)."""
    pattern = re.compile(
        r"^\s*(from\s+batchgui\.(ui|cli|accounts_cli)\b|import\s+batchgui\.(ui|cli|accounts_cli)\b"
        r"|from\s+batchgui\s+import\s+.*\b(ui|cli|accounts_cli)\b)", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in python_files(PKG / "targets")
                 if pattern.search(p.read_text())]
    assert offenders == []


def test_every_module_stays_under_500_lines() -> None:
    """One job per module: past ~500 lines it is time to split along its seams."""
    long = {str(p.relative_to(ROOT)): n for p in python_files(PKG)
            if (n := len(p.read_text().splitlines())) >= 500}
    assert long == {}
