"""Shrink the ICU data library that PySide6's Qt Core needs (32 MB) to what we use.

    python packaging/trim_icu.py PATH/TO/libicudata.so.NN [LANG ...]

Qt Core links ICU; ICU's data library is one read-only blob (`icudtNN_dat`) holding
every locale, every legacy character set converter, the CJK/Thai word dictionaries
and the transliterators. BatchGUI needs ICU's core tables, the root locale (the
fallback for every language) and the languages it speaks (English, Swedish). The
rest goes: sorting, case and word breaks for any other language fall back to the
root rules, which is what ICU does for a language it does not know.

Qt calls ICU for four things only: collation (`ucol_*`), case mapping
(`u_strToUpper/Lower`), calendars and time-zone names (`ucal_*`) and character set
converters (`ucnv_*`); those are the ICU functions its libraries import. So the
trees ICU reads for anything else (word breaks, number spelling, unit, currency,
language and region names, transliteration, stringprep, spoof checks) go whole.
The build checks the imports of the Qt libraries beside the ICU data and stops if
Qt starts calling another part of ICU, so a Qt upgrade cannot lose data silently.

ICU's own `icupkg` (Debian: icu-devtools) removes the items; `gcc` turns the blob
back into a shared library with the same name and symbol, as ICU's build does.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: languages whose locale data stay (root always does)
DEFAULT_LANGUAGES = ("en", "sv")
#: a locale item's name: language, then script/region/variant parts (en_GB, sr_Latn_BA)
LOCALE = re.compile(r"[a-z]{2,3}(_[A-Za-z0-9]*)*")
#: names in the locale trees that are not locales
NOT_LOCALES = {"res_index", "pool"}
#: the ICU functions Qt calls, by prefix (see the module docstring)
QT_ICU_CALLS = ("ucol_", "u_strToUpper", "u_strToLower", "ucal_", "ucnv_", "UCNV_")
#: whole kinds of items none of those calls read
DROPPED_FOLDERS = {"translit", "brkitr", "rbnf", "unit", "curr", "lang", "region"}
#: legacy charset tables (UTF-8 and friends are built in); word dictionaries;
#: stringprep profiles; spoof-check data
DROPPED_EXTENSIONS = {".cnv", ".dict", ".spp", ".cfu"}
DROPPED_NAMES = {"unames.icu"}  # Unicode character names


def tools_missing() -> list[str]:
    return [tool for tool in ("icupkg", "gcc", "nm", "readelf") if not shutil.which(tool)]


def keep_item(item: str, languages: tuple[str, ...]) -> bool:
    """Whether one item of the ICU package (e.g. "coll/sv.res") stays."""
    folder, _, name = item.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    if folder in DROPPED_FOLDERS or dot + ext in DROPPED_EXTENSIONS or name in DROPPED_NAMES:
        return False
    if ext == "res" and stem not in NOT_LOCALES and LOCALE.fullmatch(stem):
        return stem == "root" or stem.split("_")[0] in languages
    return True


def qt_icu_calls(folder: Path, version: str) -> set[str]:
    """The ICU functions the Qt libraries in `folder` import (names without _NN)."""
    calls: set[str] = set()
    for library in sorted(folder.glob("libQt6*.so*")):
        out = subprocess.run(["nm", "-D", "--undefined-only", str(library)], check=True,
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            name = line.split()[-1]
            if name.endswith(f"_{version}"):
                calls.add(name.removesuffix(f"_{version}"))
    return calls


def check_qt_calls(library: Path, version: str) -> None:
    """Stop when Qt calls a part of ICU whose data this script removes."""
    unexpected = {c for c in qt_icu_calls(library.parent, version)
                  if not c.startswith(QT_ICU_CALLS)}
    if unexpected:
        raise SystemExit(
            f"Qt now calls ICU functions this trim does not keep data for: "
            f"{', '.join(sorted(unexpected))}. Review packaging/trim_icu.py.")


def blob_span(library: Path, symbol: str) -> tuple[int, int]:
    """File offset and size of the data symbol (read with binutils' readelf)."""
    symbols = subprocess.run(["readelf", "-W", "--dyn-syms", str(library)], check=True,
                             capture_output=True, text=True).stdout
    sections = subprocess.run(["readelf", "-W", "-S", str(library)], check=True,
                              capture_output=True, text=True).stdout
    for line in symbols.splitlines():
        fields = line.split()
        if fields and fields[-1] == symbol:
            address, size = int(fields[1], 16), int(fields[2], 0)
            break
    else:
        raise SystemExit(f"{library}: no symbol {symbol}")
    for line in sections.splitlines():
        match = re.search(r"\]\s+\.rodata\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
        if match:
            section_address, section_offset = int(match[1], 16), int(match[2], 16)
            return address - section_address + section_offset, size
    raise SystemExit(f"{library}: no .rodata section")


def trim(library: Path, languages: tuple[str, ...] = DEFAULT_LANGUAGES) -> tuple[int, int]:
    """Replace `library` with a trimmed copy; returns (bytes before, bytes after)."""
    version = re.fullmatch(r"libicudata\.so\.(\d+)", library.name)
    if not version:
        raise SystemExit(f"{library}: not an ICU data library (libicudata.so.NN)")
    symbol = f"icudt{version[1]}_dat"
    check_qt_calls(library, version[1])
    before = library.stat().st_size
    offset, size = blob_span(library, symbol)
    with tempfile.TemporaryDirectory(prefix="batchgui-icu-") as tmp:
        work = Path(tmp)
        # icupkg wants the file named after the package (icudt73l.dat, l: little-endian)
        package = f"icudt{version[1]}{'l' if sys.byteorder == 'little' else 'b'}.dat"
        (work / "in").mkdir()
        (work / "out").mkdir()
        full, small = work / "in" / package, work / "out" / package
        with library.open("rb") as f:
            f.seek(offset)
            full.write_bytes(f.read(size))
        listing = subprocess.run(["icupkg", "-l", str(full)], check=True, capture_output=True,
                                 text=True).stdout.split()
        dropped = [item for item in listing if not keep_item(item, languages)]
        (work / "drop.txt").write_text("\n".join(dropped) + "\n")
        # --ignore-deps: brkitr/root.res names the word dictionaries; without them ICU
        # breaks CJK/Thai text by its rules instead (Qt finds words with its own tables)
        subprocess.run(["icupkg", "--ignore-deps", "-r", str(work / "drop.txt"), str(full),
                        str(small)], check=True, capture_output=True)
        (work / "data.S").write_text(
            "\t.section .rodata\n"
            f"\t.globl {symbol}\n\t.type {symbol}, @object\n\t.balign 16\n"
            f'{symbol}:\n\t.incbin "{small}"\n\t.size {symbol}, . - {symbol}\n'
            '\t.section .note.GNU-stack,"",@progbits\n'
        )
        out = work / library.name
        subprocess.run(["gcc", "-shared", "-nostdlib", f"-Wl,-soname,{library.name}",
                        "-Wl,-z,noexecstack", "-o", str(out), str(work / "data.S")],
                       check=True, capture_output=True)
        library.unlink()  # a new file, never written through a link into the venv
        shutil.copyfile(out, library)
        library.chmod(0o755)
    return before, library.stat().st_size


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    missing = tools_missing()
    if missing:
        raise SystemExit("needs " + " and ".join(missing))
    langs = tuple(sys.argv[2:]) or DEFAULT_LANGUAGES
    old, new = trim(Path(sys.argv[1]), langs)
    print(f"{sys.argv[1]}: {old / 1e6:.1f} MB -> {new / 1e6:.1f} MB")
