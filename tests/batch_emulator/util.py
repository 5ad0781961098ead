"""Small helpers shared by the emulator: times, ETags, ISO durations, OData $filter/$select."""

from __future__ import annotations

import datetime as _dt
import itertools
import re
import threading
import time
from email.utils import format_datetime
from typing import Any

_etag_lock = threading.Lock()
_etag_counter = itertools.count()


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def iso(t: _dt.datetime | None) -> str | None:
    """Batch writes times like 2025-09-04T21:42:36.476262Z."""
    if t is None:
        return None
    return t.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc1123(t: _dt.datetime) -> str:
    return format_datetime(t.astimezone(_dt.UTC), usegmt=True)


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
    """ISO 8601 duration (as Batch uses: PT15M, P7D, PT0.5S) in seconds; None if absent."""
    if not text:
        return None
    if text == UNBOUNDED:
        return None
    m = _DURATION.match(text)
    if not m:
        raise ValueError(text)
    parts = {k: float(v) if v else 0.0 for k, v in m.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def select(obj: dict[str, Any], select_param: str | None) -> dict[str, Any]:
    """$select keeps only the named top-level properties (Batch supports no nested paths)."""
    if not select_param:
        return obj
    wanted = [s.strip() for s in select_param.split(",") if s.strip()]
    return {k: obj[k] for k in wanted if k in obj}


# ---------------------------------------------------------------------------------------------
# A tiny OData $filter evaluator: enough for `state eq 'completed'`,
# `executionInfo/result eq 'failure'`, `startswith(id,'x')`, and/or/not, parentheses.

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<lp>\()|(?P<rp>\))|(?P<comma>,)"
    r"|(?P<word>[A-Za-z_$][\w/.$-]*))"
)


class FilterError(ValueError):
    pass


def _tokenize(text: str) -> list[tuple[str, str]]:
    pos = 0
    out: list[tuple[str, str]] = []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError(f"cannot parse $filter near {text[pos:]!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
    return out


def _lookup(obj: dict[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in path.split("/"):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _norm(v: Any) -> Any:
    if isinstance(v, str):
        return v.lower()
    if isinstance(v, bool):
        return v
    return v


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.toks = tokens
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise FilterError("unexpected end of $filter")
        self.i += 1
        return tok

    def parse(self) -> Any:
        node = self.or_expr()
        if self.peek() is not None:
            raise FilterError(f"unexpected token {self.peek()!r}")
        return node

    def or_expr(self) -> Any:
        left = self.and_expr()
        while (t := self.peek()) and t == ("word", "or"):
            self.take()
            left = ("or", left, self.and_expr())
        return left

    def and_expr(self) -> Any:
        left = self.unary()
        while (t := self.peek()) and t == ("word", "and"):
            self.take()
            left = ("and", left, self.unary())
        return left

    def unary(self) -> Any:
        t = self.peek()
        if t == ("word", "not"):
            self.take()
            return ("not", self.unary())
        return self.comparison()

    def comparison(self) -> Any:
        left = self.operand()
        t = self.peek()
        if t and t[0] == "word" and t[1] in ("eq", "ne", "gt", "ge", "lt", "le"):
            self.take()
            return ("cmp", t[1], left, self.operand())
        return left

    def operand(self) -> Any:
        kind, val = self.take()
        if kind == "lp":
            node = self.or_expr()
            if self.take()[0] != "rp":
                raise FilterError("missing )")
            return node
        if kind == "str":
            return ("lit", val[1:-1].replace("''", "'"))
        if kind == "num":
            return ("lit", float(val) if "." in val else int(val))
        if kind == "word":
            if val in ("true", "false"):
                return ("lit", val == "true")
            if val == "null":
                return ("lit", None)
            if val.startswith("datetime"):
                raise FilterError("datetime literals are not supported by the emulator")
            if self.peek() and self.peek()[0] == "lp":  # function call
                self.take()
                args = [self.or_expr()]
                while self.peek() and self.peek()[0] == "comma":
                    self.take()
                    args.append(self.or_expr())
                if self.take()[0] != "rp":
                    raise FilterError("missing ) after function arguments")
                return ("call", val, args)
            return ("field", val)
        raise FilterError(f"unexpected token {val!r}")


def _eval(node: Any, obj: dict[str, Any]) -> Any:
    op = node[0]
    if op == "lit":
        return node[1]
    if op == "field":
        return _lookup(obj, node[1])
    if op == "or":
        return bool(_eval(node[1], obj)) or bool(_eval(node[2], obj))
    if op == "and":
        return bool(_eval(node[1], obj)) and bool(_eval(node[2], obj))
    if op == "not":
        return not _eval(node[1], obj)
    if op == "call":
        name = node[1].lower()
        args = [_eval(a, obj) for a in node[2]]
        if name == "startswith":
            return isinstance(args[0], str) and args[0].startswith(str(args[1]))
        if name == "endswith":
            return isinstance(args[0], str) and args[0].endswith(str(args[1]))
        if name == "substringof":
            return isinstance(args[1], str) and str(args[0]) in args[1]
        raise FilterError(f"function {name} is not supported by the emulator")
    if op == "cmp":
        a = _norm(_eval(node[2], obj))
        b = _norm(_eval(node[3], obj))
        cmp = node[1]
        if cmp == "eq":
            return a == b
        if cmp == "ne":
            return a != b
        if a is None or b is None:
            return False
        try:
            return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[cmp]
        except TypeError:
            return False
    raise FilterError(f"bad node {op}")


def compile_filter(text: str | None):
    """Return a predicate over a JSON dict (True for every object when there is no filter)."""
    if not text or not text.strip():
        return lambda obj: True
    tree = _Parser(_tokenize(text)).parse()
    return lambda obj: bool(_eval(tree, obj))
