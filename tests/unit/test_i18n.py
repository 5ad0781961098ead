"""Which language, plural forms, and numbers, money and dates the language's way.

Swedish numbers and money are written by batchgui/i18n.py itself (not Babel at run time);
here they are checked against Babel's CLDR data, which the i18n extra installs.
"""

from __future__ import annotations

import locale
from datetime import date, datetime

import pytest
from babel.numbers import format_currency, format_decimal

from batchgui import i18n
from batchgui.i18n import _, money, number, percent, tr, trn, why
from tests.i18n_helpers import language

FILES = ("{n} file", "{n} files")


@pytest.mark.parametrize(("code", "words"), [
    ("en", ["0 files", "1 file", "2 files", "5 files"]),
    ("sv", ["0 filer", "1 fil", "2 filer", "5 filer"]),
])
def test_plural_forms_for_0_1_2_and_5_files(code: str, words: list[str]) -> None:
    with language(code):
        assert [trn(*FILES, n) for n in (0, 1, 2, 5)] == words


@pytest.mark.parametrize(("code", "words"), [
    ("en", ["Done: 0 of 0 files converted", "Done: 1 of 1 file converted",
            "Done: 2 of 2 files converted", "Done: 5 of 5 files converted"]),
    ("sv", ["Klart: 0 av 0 filer konverterade", "Klart: 1 av 1 fil konverterad",
            "Klart: 2 av 2 filer konverterade", "Klart: 5 av 5 filer konverterade"]),
])
def test_a_run_s_last_word_has_the_plural_of_its_count(code: str, words: list[str]) -> None:
    with language(code):
        said = [trn("Done: {done} of {n} file converted", "Done: {done} of {n} files converted",
                    n, done=n) for n in (0, 1, 2, 5)]
    assert said == words


def test_swedish_numbers_sizes_durations_and_money() -> None:
    from batchgui.core.estimate import about_money, format_duration
    from batchgui.ui.file_list import human_size

    with language("sv"):
        assert i18n.megabytes(12_345_678) == "12,3 MB"
        assert human_size(12_345_678) == "12,3 MB"
        assert human_size(999) == "999 byte"
        assert number(1234567.891, 2) == "1\u00a0234\u00a0567,89"
        assert percent(0.42) == "42\u00a0%"
        assert tr("{speed:.1f}× realtime", speed=3.25) == "3,2× realtid"
        assert format_duration(14 * 60) == "cirka 14 min"
        assert format_duration(65 * 60, about=False) == "1 h 5 min"
        assert about_money(0.6, "USD") == "cirka 0,60\u00a0US$"
        assert about_money(0.004, "SEK") == "mindre än 0,01\u00a0kr"
        assert i18n.day(date(2026, 11, 29)) == "2026-11-29"
        assert i18n.day_and_time(datetime(2026, 11, 29, 14, 5)) == "2026-11-29 14:05"
        reason = why("input_truncated", "input looks truncated: got {got_s:.1f} s of "
                     "{expected_s:.1f} s", got_s=4.7, expected_s=10.0)
    assert reason.text == "indata verkar avkortade: fick 4,7 s av 10,0 s"
    assert reason.code == "input_truncated" and reason.params == {"got_s": 4.7,
                                                                  "expected_s": 10.0}


def test_english_keeps_the_app_s_own_style() -> None:
    from batchgui.core.estimate import about_money

    with language("en"):
        assert i18n.megabytes(12_345_678) == "12.3 MB"
        assert number(1234567.891, 2) == "1,234,567.89"
        assert percent(0.42) == "42 %"
        assert about_money(0.6, "USD") == "about $0.60"
        assert money(12.3, "SEK") == "12.30 SEK"


@pytest.mark.parametrize("value", [0, 5, 999, 1000, 1234, 12345.5, 1234567.891, -16, -0.5])
@pytest.mark.parametrize("decimals", [0, 1, 2])
def test_swedish_numbers_are_cldr_s(value: float, decimals: int) -> None:
    """The same characters Babel (CLDR) writes: decimal comma, no-break space in groups."""
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    with language("sv"):
        assert number(value, decimals) == format_decimal(value, pattern, locale="sv")


def test_swedish_money_is_cldr_s_for_every_currency_azure_offers() -> None:
    from batchgui.targets.azure.prices import CURRENCIES

    with language("sv"):
        for code in CURRENCIES:
            digits = 0 if code in i18n.WHOLE_UNIT_CURRENCIES else 2
            want = format_currency(1234.5, code, locale="sv", currency_digits=False,
                                   format="#,##0" + ("." + "0" * digits if digits else "")
                                   + "\u00a0¤")
            assert money(1234.5, code) == want, code


@pytest.mark.parametrize(("env", "chosen"), [
    ({"LANG": "sv_SE.UTF-8"}, "sv"),
    ({"LC_MESSAGES": "sv_FI.UTF-8", "LANG": "en_US.UTF-8"}, "sv"),
    ({"LC_ALL": "en_GB.UTF-8", "LANG": "sv_SE.UTF-8"}, "en"),
    ({"LANGUAGE": "sv", "LC_ALL": "en_US.UTF-8"}, "sv"),
    ({"LANGUAGE": "de:sv", "LANG": "de_DE.UTF-8"}, "sv"),  # no German: the next one
    ({"LANGUAGE": "en:sv", "LANG": "sv_SE.UTF-8"}, "en"),  # English first means English
    ({"LANG": "C"}, "en"),
    ({"LANG": "de_DE.UTF-8"}, "en"),
    ({}, "en"),
])
def test_the_system_language_is_read_as_gettext_reads_it(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], chosen: str
) -> None:
    for variable in i18n.LANGUAGE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    try:
        assert i18n.setup() == chosen
        assert i18n.language() == chosen
    finally:
        i18n.setup("en")


def test_swedish_needs_no_compiled_swedish_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many computers (and containers) have no sv_SE locale compiled; the words come anyway."""
    with pytest.raises(locale.Error):
        locale.setlocale(locale.LC_ALL, "sv_SE.UTF-8")  # not compiled on this machine
    monkeypatch.delenv("LANGUAGE", raising=False)
    monkeypatch.setenv("LANG", "sv_SE.UTF-8")
    try:
        assert i18n.setup() == "sv"
        assert _("Cleaning up") == "Städar upp"
    finally:
        i18n.setup("en")


def test_a_choice_wins_over_the_system(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGUAGE", "sv")
    try:
        assert i18n.setup("en") == "en" and _("Cleaning up") == "Cleaning up"
        assert i18n.setup("system") == "sv"
    finally:
        i18n.setup("en")


def test_a_translation_that_breaks_its_placeholders_falls_back_to_english(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken:
        def gettext(self, message: str) -> str:
            return "Klart: {oops}"

    monkeypatch.setattr(i18n, "_translation", Broken())
    assert tr("Done: {what}", what="x") == "Done: x"


def test_a_reason_survives_the_journal_and_old_plain_reasons_get_a_code(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from batchgui.core.journal import _dec_reason, _enc_reason

    reason = why("mp3_exists", "an MP3 with this name is already in the output folder")
    assert _dec_reason(_enc_reason(reason)) == reason
    old = _dec_reason("the file is empty (0 bytes)")
    assert old is not None and old.code == "unknown" and old.text.startswith("the file")
