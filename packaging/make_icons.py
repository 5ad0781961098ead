"""Render the app icon (one SVG) into every file a desktop wants, at build time.

    python packaging/make_icons.py OUT_DIR

Writes, from batchgui/resources/icons/batchgui.svg (itself a copy of the source in
resources/icons/):

- OUT_DIR/hicolor/scalable/apps/<APP_ID>.svg and hicolor/<N>x<N>/apps/<APP_ID>.png
  for the Linux icon theme (N in PNG_SIZES);
- OUT_DIR/batchgui.ico (Windows: the .exe's icon, several sizes in one file);
- OUT_DIR/batchgui.icns (macOS: the .app's icon).

Qt (QtSvg) draws the pictures; the ICO and ICNS files are PNGs in the simple
containers those formats define, written here, so nothing beyond the app's own
libraries is needed. Needs no display.
"""

from __future__ import annotations

import os
import shutil
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "batchgui" / "resources" / "icons" / "batchgui.svg"
APP_ID = "io.github.batchgui.BatchGUI"
PNG_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)


def render(svg: Path, size: int):  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def png_bytes(image) -> bytes:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico: a directory of PNG images (allowed since Windows Vista)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = 6 + 16 * len(pngs)
    entries, payload = b"", b""
    for size, png in sorted(pngs.items()):
        side = 0 if size >= 256 else size  # 0 means 256 in an ICO directory
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset)
        payload += png
        offset += len(png)
    return header + entries + payload


#: macOS icon types that hold a PNG, by pixel size (the @2x kinds share sizes)
ICNS_TYPES = {16: [b"icp4"], 32: [b"icp5", b"ic11"], 64: [b"icp6", b"ic12"],
              128: [b"ic07"], 256: [b"ic08", b"ic13"], 512: [b"ic09", b"ic14"],
              1024: [b"ic10"]}


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """A macOS .icns: typed chunks, each a PNG."""
    body = b""
    for size, png in sorted(pngs.items()):
        for kind in ICNS_TYPES[size]:
            body += kind + struct.pack(">I", 8 + len(png)) + png
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def make_icons(out: Path, svg: Path = SVG) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    scalable = out / "hicolor" / "scalable" / "apps"
    scalable.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(svg, scalable / f"{APP_ID}.svg")
    for size in PNG_SIZES:
        folder = out / "hicolor" / f"{size}x{size}" / "apps"
        folder.mkdir(parents=True, exist_ok=True)
        if not render(svg, size).save(str(folder / f"{APP_ID}.png")):
            raise SystemExit(f"could not write the {size}px PNG")
    (out / "batchgui.ico").write_bytes(
        ico_bytes({s: png_bytes(render(svg, s)) for s in ICO_SIZES}))
    (out / "batchgui.icns").write_bytes(
        icns_bytes({s: png_bytes(render(svg, s)) for s in ICNS_TYPES}))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    make_icons(Path(sys.argv[1]))
