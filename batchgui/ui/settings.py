"""The window's non-secret choices (output folder, quality, target ...), kept between runs.

One small JSON file in the platformdirs config folder (XDG_CONFIG_HOME on Linux).
Account keys never come here: they live in the OS keyring through the accounts package.
Reading happens once at start-up, before the event loop runs; saving goes to a
worker thread (see RunController.save_settings).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from batchgui.core.models import ConflictPolicy, Quality
from batchgui.core.store import atomic_write_text
from batchgui.i18n import LANGUAGES, SYSTEM

log = logging.getLogger(__name__)

FILE_NAME = "window.json"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir("batchgui", appauthor=False))


def default_output_dir() -> Path:
    return Path(platformdirs.user_music_dir()) / "BatchGUI"


@dataclass(frozen=True)
class UiSettings:
    """What the user chose last time; unknown or broken values fall back to the defaults."""

    output_dir: str = ""
    quality: str = "V2"
    on_conflict: str = ConflictPolicy.RENAME.value
    mirror_folders: bool = False
    keep_tags: bool = True  # media
    even_loudness: bool = False  # media
    target: str = "local"
    log_open: bool = False
    failed_only: bool = False
    language: str = "system"  # "system", "en" or "sv": applies at the next start
    geometry: str = ""  # base64 of QWidget.saveGeometry()
    splitter: str = ""  # base64 of the main splitter's saveState()

    def __post_init__(self) -> None:
        if not self.output_dir:
            object.__setattr__(self, "output_dir", str(default_output_dir()))
        try:
            Quality.parse(self.quality)
        except ValueError:
            object.__setattr__(self, "quality", "V2")
        if self.on_conflict not in {p.value for p in ConflictPolicy}:
            object.__setattr__(self, "on_conflict", ConflictPolicy.RENAME.value)
        if self.language not in (SYSTEM, *LANGUAGES):
            object.__setattr__(self, "language", SYSTEM)

    def replace(self, **changes: Any) -> UiSettings:
        return dataclasses.replace(self, **changes)


def pack(state: bytes | bytearray | memoryview) -> str:
    """Qt's saved window geometry or splitter state, as text for the JSON file."""
    return base64.b64encode(bytes(state)).decode("ascii")


def unpack(text: str) -> bytes:
    """The bytes pack() wrote; empty (Qt then keeps its defaults) when they are damaged."""
    try:
        return base64.b64decode(text.encode("ascii"))
    except (binascii.Error, ValueError):
        return b""


def settings_path() -> Path:
    return config_dir() / FILE_NAME


def load(path: Path | None = None) -> UiSettings:
    """The saved settings, or the defaults when there are none or the file is damaged."""
    path = path or settings_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return UiSettings()
    except (OSError, ValueError) as exc:
        log.warning("settings in %s could not be read (%s); using defaults", path, exc)
        return UiSettings()
    if not isinstance(raw, dict):
        return UiSettings()
    known = {f.name: f.type for f in dataclasses.fields(UiSettings)}
    values: dict[str, Any] = {}
    defaults = UiSettings()
    for name, value in raw.items():
        if name in known and isinstance(value, type(getattr(defaults, name))):
            values[name] = value
    return UiSettings(**values)


def save(settings: UiSettings, path: Path | None = None) -> None:
    """Write atomically (call it on a worker thread)."""
    path = path or settings_path()
    atomic_write_text(path, json.dumps(dataclasses.asdict(settings), indent=1))
