"""BatchGUI's words in the user's language: one gettext catalogue for every layer.

The core, the targets, the command line and the window all take their words from here,
so a reason made deep in the core reads the same in the window and in a terminal. Qt's
own tr() is not used (the core must stay free of Qt); the window only adds Qt's own
catalogue for Qt's standard buttons and dialogs (ui/app.py).

    from batchgui.i18n import _, tr, trn, N_, why

    _("Convert")                                    # a fixed text
    tr("got {got:.1f} s of {expected:.1f} s", got=4.7, expected=10.0)
    trn("{n} file", "{n} files", count)            # plural forms ("1 fil", "2 filer")
    LABELS = {"done": N_("done")}                   # marked here, translated where shown:
    _(LABELS["done"])                               #   import-time tables stay English
    why("input_truncated", "input looks truncated: got {got_s:.1f} s of {expected_s:.1f} s",
        got_s=4.7, expected_s=10.0)                 # a Reason: stable code + the sentence

Placeholders are `{name}` (format-spec allowed) in whole sentences, never pieces glued
together; numbers are written the language's way ("12,3" and "1 234" in Swedish). The
catalogues are built from `batchgui/resources/locale/*/LC_MESSAGES/batchgui.po` by
packaging/catalogues.py (which also extracts the strings; see its docstring).

Which language: `setup()` once at start (the CLI's --lang, the window's setting, else the
system's: LANGUAGE, LC_ALL, LC_MESSAGES, LANG as gettext reads them, without needing that
locale to be installed). Until then, English.
"""

from __future__ import annotations

import gettext
import logging
import os
import re
import string
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from batchgui.resources import locale_dir

log = logging.getLogger(__name__)

DOMAIN = "batchgui"
#: the languages BatchGUI speaks, each named in its own words (the language menu's labels)
LANGUAGES = {"en": "English", "sv": "Svenska"}
#: the language choice "whatever the system uses"
SYSTEM = "system"
#: environment variables that name the user's language, in gettext's order
LANGUAGE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"


# -- choosing the language ---------------------------------------------------------------------


def setup(choice: str | None = None, *, system_languages: Sequence[str] = ()) -> str:
    """Speak `choice` ('en', 'sv'), or the system's language for None or 'system'.

    `system_languages` (e.g. Qt's uiLanguages: 'sv-SE', ...) is asked when no environment
    variable names a language (Windows, macOS apps). Returns the language now used.
    """
    global _translation, _language
    wanted = [choice] if choice in LANGUAGES else preferred_languages(system_languages)
    language = pick_language(wanted)
    translation: gettext.NullTranslations = gettext.NullTranslations()
    if language != "en":
        path = locale_dir() / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
        try:
            with path.open("rb") as fh:
                translation = gettext.GNUTranslations(fh)
        except OSError:
            log.warning("no %s catalogue at %s (run packaging/catalogues.py compile); "
                        "using English", language, path)
            language = "en"
    _translation, _language = translation, language
    return language


def language() -> str:
    """The language in use: 'en' or 'sv'."""
    return _language


def preferred_languages(system_languages: Sequence[str] = ()) -> list[str]:
    """The user's languages, most wanted first, as gettext finds them.

    The first of LANGUAGE (a colon-separated list), LC_ALL, LC_MESSAGES and LANG that is
    set decides; the locale it names need not be installed. Without any: the system's
    list given by the caller, then (Windows) the user's display language.
    """
    for variable in LANGUAGE_VARIABLES:
        value = os.environ.get(variable)
        if value:
            return [part for part in value.split(":") if part]
    if system_languages:
        return list(system_languages)
    return _windows_languages()


def pick_language(wanted: Sequence[str]) -> str:
    """The first of `wanted` ('sv_SE.UTF-8', 'sv-SE', 'en_GB' ...) BatchGUI speaks; else 'en'.

    English is the language the app is written in, so 'en' (or C/POSIX) ends the search
    even when a Swedish catalogue would come later in the list.
    """
    for name in wanted:
        code = re.split(r"[_.@-]", name.strip(), maxsplit=1)[0].lower()
        if code in ("c", "posix"):
            return "en"
        if code in LANGUAGES:
            return code
    return "en"


def _windows_languages() -> list[str]:
    if sys.platform != "win32":
        return []
    import ctypes
    import locale

    try:
        lcid = ctypes.windll.kernel32.GetUserDefaultUILanguage()  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return []
    name = locale.windows_locale.get(lcid)
    return [name] if name else []


# -- the words ---------------------------------------------------------------------------------


def _(message: str) -> str:
    """`message` in the user's language (as it is when there is no translation)."""
    return _translation.gettext(message)


def N_(message: str) -> str:  # noqa: N802 (the name extractors know)
    """Mark `message` for translation without translating it now: for tables built at
    import time. Translate it with _() or tr() where it is shown."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The translated plural form for `n`, placeholders left as they are (see trn)."""
    return _translation.ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """`message` translated in a context, for one English word that means two things."""
    return _translation.pgettext(context, message)


def tr(message: str, /, **params: Any) -> str:
    """`message` translated, its {placeholders} filled from `params` (numbers localised)."""
    return _fill(_translation.gettext(message), message, params)


def trn(singular: str, plural: str, n: int, /, **params: Any) -> str:
    """The plural form for `n`, translated and filled; `{n}` is `n` itself."""
    return _fill(_translation.ngettext(singular, plural, n), singular if n == 1 else plural,
                 {"n": n, **params})


def fill(message: str, /, **params: Any) -> str:
    """An already translated `message` with its placeholders filled, numbers localised."""
    return _fill(message, message, params)


def _fill(translated: str, original: str, params: Mapping[str, Any]) -> str:
    try:
        return _FORMATTER.vformat(translated, (), params)
    except (KeyError, IndexError, ValueError, AttributeError):
        # a broken translation must never break the app: the English sentence instead
        log.warning("translation of %r does not fit its placeholders", original)
        return _FORMATTER.vformat(original, (), params)


# -- reasons -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    """Why a file or a run did not work (or a note on one that did), for people and scripts.

    `code` is stable and English ('input_truncated'): --report carries it next to `text`,
    the sentence in the user's language. `params` are the plain values the sentence was
    made from (numbers as numbers), for the report too.
    """

    code: str
    text: str
    params: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __str__(self) -> str:
        return self.text

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "text": self.text, "params": dict(self.params)}

    @classmethod
    def from_json(cls, data: object) -> Reason | None:
        if isinstance(data, dict) and isinstance(data.get("text"), str):
            params = data.get("params")
            return cls(str(data.get("code") or "unknown"), data["text"],
                       params if isinstance(params, dict) else {})
        return None


def why(code: str, message: str, /, **params: Any) -> Reason:
    """A Reason: `message` translated and filled from `params`, with its stable `code`."""
    return Reason(code, tr(message, **params), params)


def whyn(code: str, singular: str, plural: str, n: int, /, **params: Any) -> Reason:
    """A Reason whose sentence has a plural form for `n` (`{n}` in the message)."""
    return Reason(code, trn(singular, plural, n, **params), {"n": n, **params})


# -- numbers, money, dates ---------------------------------------------------------------------
# Written here for the two languages rather than with Babel at run time: the few patterns
# below are all BatchGUI needs (CLDR's, checked against Babel in tests/unit/test_i18n.py),
# and Babel's code and locale data would cost about 1.2 MB of the bundle and 100 ms of
# start-up.


@dataclass(frozen=True)
class _NumberStyle:
    decimal: str
    group: str
    percent: str  # "{}" is the number


#: English keeps the app's own style (a space before %, as SI writes it); Swedish is CLDR's
_STYLES = {
    "en": _NumberStyle(".", ",", "{} %"),
    "sv": _NumberStyle(",", "\u00a0", "{}\u00a0%"),
}
_NUMBER = re.compile(r"^(\s*[-+]?)(\d+)(\.\d+)?(\D*)$")


def localize_number(text: str) -> str:
    """A number Python formatted ('12345.6', '-3', ' 42') in the language's way."""
    match = _NUMBER.match(text)
    if match is None:  # 1e+20, nan, inf: left as they are
        return text
    style = _STYLES.get(_language, _STYLES["en"])
    sign, whole, decimals, rest = match.groups()
    if len(whole) > 3:
        head = len(whole) % 3 or 3
        whole = whole[:head] + "".join(style.group + whole[i:i + 3]
                                       for i in range(head, len(whole), 3))
    return sign + whole + (style.decimal + decimals[1:] if decimals else "") + rest


class _Formatter(string.Formatter):
    """str.format with numbers in the language's way; {x:.1f} keeps its meaning."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if format_spec.endswith("%"):
                precision = re.search(r"\.(\d+)%$", format_spec)
                return percent(value, int(precision.group(1)) if precision else 0)
            return localize_number(format(value, format_spec))
        return super().format_field(value, format_spec)


_FORMATTER = _Formatter()


def number(value: float, decimals: int = 0) -> str:
    """12345.6 -> '12,345.6' / '12 345,6' (with `decimals` digits after the point)."""
    return localize_number(f"{value:.{decimals}f}")


def percent(fraction: float, decimals: int = 0) -> str:
    """0.42 -> '42 %' (a no-break space in Swedish)."""
    style = _STYLES.get(_language, _STYLES["en"])
    return style.percent.format(number(fraction * 100, decimals))


def megabytes(n_bytes: float) -> str:
    """Bytes in MB (1 MB = 1,000,000 bytes): '12.3 MB' / '12,3 MB'."""
    return tr("{mb:.1f} MB", mb=n_bytes / 1e6)


#: currencies written without decimals (Azure's price list has none for them)
WHOLE_UNIT_CURRENCIES = frozenset({"JPY", "KRW"})
_SYMBOL_BEFORE_EN = {"USD": "$", "EUR": "€", "GBP": "£"}
#: CLDR's Swedish currency symbols for the currencies Azure's price list offers; the
#: others are written with their code
_SYMBOL_AFTER_SV = {"USD": "US$", "BRL": "BR$", "CAD": "CA$", "DKK": "Dkr", "EUR": "€",
                    "NOK": "Nkr", "SEK": "kr"}


def money(amount: float, currency: str) -> str:
    """An amount in a currency: '$0.60', '12.30 SEK' / '0,60 US$', '12,30 kr'."""
    code = currency.upper()
    digits = 0 if code in WHOLE_UNIT_CURRENCIES else 2
    value = number(amount, digits)
    if _language == "sv":
        return f"{value}\u00a0{_SYMBOL_AFTER_SV.get(code, code)}"
    if code in _SYMBOL_BEFORE_EN:
        return _SYMBOL_BEFORE_EN[code] + value
    return f"{value} {code}"


def day(value: date) -> str:
    """A date: ISO 8601 in both languages ('2026-11-29' is how Swedish writes dates, and
    unlike 11/29/26 no English reader can misread it)."""
    return value.strftime("%Y-%m-%d")


def day_and_time(value: datetime) -> str:
    """'2026-11-29 14:05' (24-hour clock, as Swedish writes it and as the app always did)."""
    return value.strftime("%Y-%m-%d %H:%M")
