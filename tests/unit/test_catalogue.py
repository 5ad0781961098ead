"""The catalogues follow the code: every string the code marks (and argparse's own words)
is in the Swedish catalogue, translated, not fuzzy, with the same placeholders.

A fresh template is extracted from the code here, so a string added without running
`python packaging/catalogues.py update` and translating it fails this test.
"""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog

from tests.i18n_helpers import ROOT, catalogues_module

catalogues = catalogues_module()


def _keys(catalog: Catalog) -> set[tuple[str | None, str]]:
    return {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in catalog if m.id}


def test_every_string_of_the_code_is_translated_into_swedish() -> None:
    template = catalogues.extract()
    assert len(template) > 800  # the extraction found the app's strings (and argparse's)
    swedish = catalogues.read(catalogues.LOCALE / "sv" / "LC_MESSAGES" / "batchgui.po")
    assert catalogues.problems(swedish, template) == []
    assert swedish.plural_forms == "nplurals=2; plural=(n != 1);"


def test_the_committed_template_has_the_code_s_strings() -> None:
    """batchgui.pot is the source translators start from: it must not lag behind."""
    committed = catalogues.read(catalogues.TEMPLATE)
    assert _keys(committed) == _keys(catalogues.extract())


def test_the_check_catches_a_missing_a_fuzzy_an_empty_and_a_wrong_entry() -> None:
    template = Catalog(locale="sv")
    for text in ("Cleaning up", "Saving…", "Checking the files…", "Done: {done} of {n}"):
        template.add(text)
    swedish = Catalog(locale="sv")
    swedish.add("Cleaning up", "Städar upp")
    swedish.add("Saving…", "Sparar…", flags={"fuzzy"})
    swedish.add("Checking the files…", "")
    swedish.add("Done: {done} of {n}", "Klart: {klara} av {n}")
    found = "\n".join(catalogues.problems(swedish, Catalog(locale="sv")) or
                      catalogues.problems(swedish, template))
    assert "fuzzy: 'Saving…'" in found
    assert "empty: 'Checking the files…'" in found
    assert "placeholders differ: 'Done: {done} of {n}'" in found
    swedish.delete("Cleaning up")
    assert "missing: 'Cleaning up'" in "\n".join(catalogues.problems(swedish, template))


def test_messages_are_filled_by_the_catalogue_s_functions_never_by_str_format() -> None:
    """`_("... {n}").format(n=...)` would skip the language's numbers (and break silently on
    a translation's typo); tr()/trn()/why() fill placeholders. No f-string is translated."""
    offenders = []
    pattern = re.compile(r"\b(_|tr|trn|ngettext|pgettext)\(\s*f[\"']|"
                         r"\b_\((?:[^()]|\([^()]*\))*\)\.format\(")
    for path in sorted((ROOT / "batchgui").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for match in pattern.finditer(text):
            offenders.append(f"{Path(path).relative_to(ROOT)}: {match.group(0)[:60]}")
    assert offenders == []


def test_i18n_imports_nothing_of_the_app_but_its_resources() -> None:
    """Every layer (the core too) may use i18n, so it may use none of them."""
    import ast

    tree = ast.parse((ROOT / "batchgui" / "i18n.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("batchgui")}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names if alias.name.startswith("batchgui")}
    assert imported == {"batchgui.resources"}
