"""Small helpers shared by the emulator: the service clock, ETags, ISO durations, errors."""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import re
import threading
import time
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

_etag_lock = threading.Lock()
_etag_counter = itertools.count()


def utcnow() -> _dt.datetime:
    """The service clock: every time the emulator writes comes from here."""
    return _dt.datetime.now(_dt.UTC)


def iso(t: _dt.datetime | None) -> str | None:
    """Batch writes times like 2025-09-04T21:42:36.476262Z."""
    if t is None:
        return None
    return t.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc1123(t: _dt.datetime) -> str:
    return format_datetime(t.astimezone(_dt.UTC), usegmt=True)


_ISO_TIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|z|[+-]\d{2}:?\d{2})?$"
)


def parse_time(text: str) -> _dt.datetime:
    """W3C-DTF (2011-05-08T08:49:37.1234567Z, any number of fraction digits) or RFC 1123
    (Sun, 08 May 2011 08:49:37 GMT), as the Batch docs allow in $filter; ValueError else."""
    text = text.strip()
    m = _ISO_TIME.match(text)
    if m:
        day, hh, mm, ss, frac, zone = m.groups()
        micro = int((frac or "0")[:6].ljust(6, "0"))
        tz = _dt.UTC
        if zone and zone not in ("Z", "z"):
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            tz = _dt.timezone(sign * _dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        base = _dt.datetime.fromisoformat(day)
        return base.replace(
            hour=int(hh), minute=int(mm), second=int(ss or 0), microsecond=micro, tzinfo=tz
        ).astimezone(_dt.UTC)
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"not a date/time: {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.UTC)
    return parsed.astimezone(_dt.UTC)


def new_etag() -> str:
    """ETags look like 0x8DE62C0DB2C0952 (a FILETIME-ish hex number); ours only need to change."""
    with _etag_lock:
        n = next(_etag_counter)
    filetime = int(time.time() * 10_000_000) + 116444736000000000
    return "0x%X" % (filetime + n)


_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)

UNBOUNDED = "P10675199DT2H48M5.4775807S"


def parse_duration(text: str | None) -> float | None:
    """ISO 8601 duration (as Batch uses: PT15M, P7D, PT0.5S, PT06M00S) in seconds; None if
    absent or unbounded; ValueError if it is not a duration."""
    if not text:
        return None
    if text == UNBOUNDED:
        return None
    m = _DURATION.match(str(text))
    if not m or text in ("P", "PT"):
        raise ValueError(text)
    parts = {k: float(v) if v else 0.0 for k, v in m.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


class BatchApiError(Exception):
    """An error answer in the service's shape (code, message, values as key/value pairs)."""

    def __init__(
        self, status: int, code: str, message: str, values: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.values = values or []


def not_found(kind: str) -> BatchApiError:
    return BatchApiError(404, f"{kind}NotFound", f"The specified {kind.lower()} does not exist.")


def conflict(code: str, message: str) -> BatchApiError:
    return BatchApiError(409, code, message)


def invalid_property(name: str, reason: str) -> BatchApiError:
    return BatchApiError(
        400,
        "InvalidPropertyValue",
        "The value provided for one of the properties in the request body is invalid.",
        [("PropertyName", name), ("Reason", reason)],
    )


def missing_property(name: str) -> BatchApiError:
    return BatchApiError(
        400,
        "MissingRequiredProperty",
        "A required property was not specified in the request body.",
        [("PropertyName", name)],
    )


def duration_property(path: str, value: Any) -> float | None:
    """Parse an ISO 8601 duration from a request body, or answer 400 like the service."""
    try:
        return parse_duration(value)
    except ValueError:
        raise invalid_property(path, f"'{value}' is not a valid ISO 8601 duration") from None


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")
