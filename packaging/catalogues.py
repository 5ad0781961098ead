"""The translation catalogues: extract the strings, merge them into each language, compile.

    python packaging/catalogues.py update    # code -> batchgui.pot -> sv.po (new: empty,
                                            #   changed: fuzzy with the old translation)
    python packaging/catalogues.py check     # nothing missing, fuzzy or empty; placeholders fit
    python packaging/catalogues.py compile   # sv.po -> sv/LC_MESSAGES/batchgui.mo
    python packaging/catalogues.py extract   # only write batchgui.pot

Sources (committed): batchgui/resources/locale/batchgui.pot and
batchgui/resources/locale/<lang>/LC_MESSAGES/batchgui.po. The compiled .mo files are
built, never committed: by setup.py's build step (`pip install .`, wheels, `pip install
-e .`), by packaging/bootstrap.py on every run, by packaging/bundle.py, and by the tests.

The strings come from every module of the package, marked with the functions of
batchgui/i18n.py, and from the standard library's argparse (usage:, options:, its error
messages), which the CLI sends through the same catalogue. Needs Babel (the `i18n` extra).
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "batchgui"
LOCALE = PACKAGE / "resources" / "locale"
DOMAIN = "batchgui"
TEMPLATE = LOCALE / f"{DOMAIN}.pot"
#: the marking functions of batchgui/i18n.py and where their messages are
KEYWORDS: dict[str, object] = {
    "_": None,
    "N_": None,
    "tr": None,
    "trn": (1, 2),
    "why": (2,),
    "whyn": (2, 3),
    "pgettext": ((1, "c"), 2),
    "ngettext": (1, 2),  # argparse
}
COMMENT_TAGS = ("TRANSLATORS:",)
#: the header's fixed creation date: the .pot changes only when its strings do
CREATED = datetime(2026, 1, 1, tzinfo=UTC)
WIDTH = 100


def _sources(package: Path) -> Iterable[tuple[Path, str]]:
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield path, path.relative_to(package.parent).as_posix()
    yield Path(argparse.__file__), "argparse.py"  # Python's own words in our --help


def extract_calls(fileobj, keywords, comment_tags, options):  # type: ignore[no-untyped-def]
    """Babel's extraction method, on Python's own parser: every call of a marking function,
    nested ones too (`tr("... {basis}", basis=_("a default"))`, which Babel's tokenizing
    extractor misses). Yields (line, function, its string arguments (None for others), [])."""
    tree = ast.parse(fileobj.read())
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else (
            func.attr if isinstance(func, ast.Attribute) else None)
        if name not in keywords:
            continue
        args = tuple(arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                     else None for arg in node.args)
        if any(arg is not None for arg in args):
            found.append((node.lineno, name, args, []))
    yield from sorted(found, key=lambda call: call[0])


def extract(package: Path = PACKAGE) -> Catalog:
    """A fresh template from the code: every marked string, with where it is used."""
    catalog = Catalog(project="BatchGUI", version="", copyright_holder="BatchGUI",
                      msgid_bugs_address="", creation_date=CREATED, charset="utf-8",
                      fuzzy=False)
    for path, location in _sources(package):
        for lineno, message, comments, context in extract_from_file(
                extract_calls, str(path), keywords=KEYWORDS, comment_tags=COMMENT_TAGS,
                options={}, strip_comment_tags=True):
            flags = _flags(message)
            catalog.add(message, None, [(location, lineno)], auto_comments=comments,
                        context=context, flags=flags)
    return catalog


def _flags(message: str | tuple[str, ...]) -> set[str]:
    text = message if isinstance(message, str) else " ".join(m for m in message if m)
    if re.search(r"%(\(\w+\))?[-#0 +]*\d*(\.\d+)?[sdrifg]", text):
        return {"python-format"}
    if re.search(r"\{\w*(![rsa])?(:[^{}]*)?\}", text):
        return {"python-brace-format"}
    return set()


def _po_text(catalog: Catalog, **options: object) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=WIDTH, **options)  # type: ignore[arg-type]
    return out.getvalue()


def write_template(catalog: Catalog, path: Path = TEMPLATE) -> bool:
    """Write the .pot; True when it changed."""
    text = _po_text(catalog)
    if path.exists() and path.read_bytes() == text:
        return False
    path.write_bytes(text)
    return True


def po_files(locale: Path = LOCALE) -> list[Path]:
    return sorted(locale.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def read(path: Path) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=path.parent.parent.name, domain=DOMAIN)


def update(template: Catalog, locale: Path = LOCALE) -> list[Path]:
    """Merge the template into every language: new strings empty, changed ones fuzzy."""
    changed = []
    for path in po_files(locale):
        catalog = read(path)
        catalog.update(template, update_header_comment=False)
        catalog.revision_date = CREATED
        text = _po_text(catalog, include_previous=True, ignore_obsolete=True)
        if path.read_bytes() != text:
            path.write_bytes(text)
            changed.append(path)
    return changed


def compile_all(out_root: Path | None = None, locale: Path = LOCALE, *,
                only_stale: bool = False) -> list[Path]:
    """<lang>/LC_MESSAGES/batchgui.po -> .mo under `out_root` (default: beside the .po).

    Fuzzy entries are left out (the English text shows until someone checks them)."""
    made = []
    for po in po_files(locale):
        mo = (out_root or locale) / po.relative_to(locale).with_suffix(".mo")
        if only_stale and mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        out = io.BytesIO()
        write_mo(out, read(po), use_fuzzy=False)
        mo.write_bytes(out.getvalue())
        made.append(mo)
    return made


_BRACE = re.compile(r"(?<!\{)\{(\w*)(?:![rsa])?(?::[^{}]*)?\}")
_PERCENT = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?([sdrifg%])")


def placeholders(text: str) -> set[str]:
    """The {names} and %-placeholders of a message (what a translation must keep)."""
    found = {"{" + m.group(1) + "}" for m in _BRACE.finditer(text)}
    found |= {"%" + (m.group(1) or m.group(2)) for m in _PERCENT.finditer(text)
              if m.group(2) != "%"}
    return found


def problems(catalog: Catalog, template: Catalog) -> list[str]:
    """What is wrong with a language's catalogue against the code's strings: a string
    missing, an entry fuzzy or empty, a placeholder lost or invented."""
    found = []
    for message in template:
        if not message.id:
            continue
        entry = catalog.get(message.id, message.context)
        label = _label(message)
        if entry is None:
            found.append(f"missing: {label}")
            continue
        if entry.fuzzy:
            found.append(f"fuzzy: {label}")
        strings = entry.string if isinstance(entry.string, (list, tuple)) else [entry.string]
        if not all(strings):
            found.append(f"empty: {label}")
            continue
        ids = message.id if isinstance(message.id, (list, tuple)) else [message.id]
        wanted = set().union(*(placeholders(i) for i in ids))
        for text in strings:
            got = placeholders(text)
            if got - wanted or (not isinstance(message.id, (list, tuple)) and wanted - got):
                found.append(f"placeholders differ: {label} -> {text!r}")
    return found


def _label(message: Message) -> str:
    text = message.id if isinstance(message.id, str) else message.id[0]
    where = message.locations[0] if message.locations else ("?", 0)
    context = f" [{message.context}]" if message.context else ""
    return f"{text!r}{context} ({where[0]}:{where[1]})"


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "extract":
        changed = write_template(extract())
        print(f"{TEMPLATE.relative_to(ROOT)} {'written' if changed else 'unchanged'}")
        return 0
    if command == "update":
        template = extract()
        write_template(template)
        for path in update(template):
            print(f"updated {path.relative_to(ROOT)}")
        return 0
    if command == "compile":
        for path in compile_all(only_stale="--if-stale" in argv):
            print(f"compiled {path.relative_to(ROOT)}")
        return 0
    if command == "check":
        template = extract()
        bad = [f"{path.parent.parent.name}: {p}" for path in po_files()
               for p in problems(read(path), template)]
        print("\n".join(bad) if bad else "every string is translated")
        return 1 if bad else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
