"""OData $filter and $select as the Batch service documents them.

From the Batch REST reference ("OData filters in Batch", "Create queries to list Batch
resources efficiently"):

- comparisons eq, ne, gt, ge, lt, le; `and`, `or`, `not`, parentheses; the function
  `startswith(property, 'prefix')`. Other functions answer 400.
- date/time literals are written `DateTime'2011-05-08T08:49:37Z'` (W3C-DTF, any number of
  fraction digits) or `DateTime'Sun, 08 May 2011 08:49:37 GMT'`; the prefix is
  case-insensitive. They compare with the entity's times as instants.
- property names are case-sensitive, property values are not (`state eq 'Completed'`
  matches). A property the entity does not have answers 400, in $filter and $select.
- $select names top-level properties only (`id,state,executionInfo`); a nested path such as
  `executionInfo/exitCode` answers 400 (OData v3 selects whole complex properties).

The service also limits which properties each list may filter on; the emulator accepts a
filter on any property the entity has (it does not answer 400 for an unindexed one).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from typing import Any

from .util import parse_time

# Top-level property names of each entity, from the REST reference (for 400 on unknown ones).
_FIELDS = {
    "tasks": "id displayName url eTag lastModified creationTime exitConditions state "
    "stateTransitionTime previousState previousStateTransitionTime commandLine "
    "containerSettings resourceFiles outputFiles environmentSettings affinityInfo constraints "
    "requiredSlots userIdentity executionInfo nodeInfo multiInstanceSettings stats dependsOn "
    "applicationPackageReferences authenticationTokenSettings",
    "jobs": "id displayName usesTaskDependencies url eTag lastModified creationTime state "
    "stateTransitionTime previousState previousStateTransitionTime priority "
    "allowTaskPreemption maxParallelTasks constraints jobManagerTask jobPreparationTask "
    "jobReleaseTask commonEnvironmentSettings poolInfo onAllTasksComplete onTaskFailure "
    "networkConfiguration metadata executionInfo stats",
    "pools": "id displayName url eTag lastModified creationTime state stateTransitionTime "
    "allocationState allocationStateTransitionTime vmSize virtualMachineConfiguration "
    "resizeTimeout resizeErrors resourceTags currentDedicatedNodes currentLowPriorityNodes "
    "targetDedicatedNodes targetLowPriorityNodes enableAutoScale autoScaleFormula "
    "autoScaleEvaluationInterval autoScaleRun enableInterNodeCommunication "
    "networkConfiguration startTask certificateReferences applicationPackageReferences "
    "taskSlotsPerNode taskSchedulingPolicy userAccounts metadata stats mountConfiguration "
    "identity targetNodeCommunicationMode currentNodeCommunicationMode upgradePolicy",
    "nodes": "id url state schedulingState stateTransitionTime lastBootTime allocationTime "
    "ipAddress ipv6Address affinityId vmSize totalTasksRun runningTasksCount "
    "runningTaskSlotsCount totalTasksSucceeded recentTasks startTask startTaskInfo "
    "certificateReferences errors isDedicated endpointConfiguration nodeAgentInfo "
    "virtualMachineInfo",
    "files": "name url isDirectory properties",
    "supportedimages": "nodeAgentSKUId imageReference osType capabilities "
    "batchSupportEndOfLife verificationType",
    "poolnodecounts": "poolId dedicated lowPriority",
    "poolusagemetrics": "poolId startTime endTime vmSize totalCoreHours",
}
FIELDS: dict[str, frozenset[str]] = {k: frozenset(v.split()) for k, v in _FIELDS.items()}


class QueryError(ValueError):
    """A $filter or $select the service would refuse (400 InvalidQueryParameterValue)."""


def select(
    obj: dict[str, Any], select_param: str | None, kind: str | None = None
) -> dict[str, Any]:
    """$select keeps only the named top-level properties, in the entity's own order."""
    if not select_param:
        return obj
    wanted = [s.strip() for s in select_param.split(",") if s.strip()]
    known = FIELDS.get(kind or "")
    for name in wanted:
        if "/" in name:
            raise QueryError(f"$select supports top-level properties only, not '{name}'")
        if known is not None and name not in known:
            raise QueryError(f"'{name}' is not a property of this entity")
    keep = set(wanted)
    return {k: v for k, v in obj.items() if k in keep}


_TOKEN = re.compile(
    r"\s*(?:(?P<dt>[Dd][Aa][Tt][Ee][Tt][Ii][Mm][Ee]'[^']*')|(?P<str>'(?:[^']|'')*')"
    r"|(?P<num>-?\d+(?:\.\d+)?)|(?P<lp>\()|(?P<rp>\))|(?P<comma>,)"
    r"|(?P<word>[A-Za-z_$][\w/.$-]*))"
)
_CMP = ("eq", "ne", "gt", "ge", "lt", "le")


def _tokenize(text: str) -> list[tuple[str, str]]:
    pos = 0
    out: list[tuple[str, str]] = []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise QueryError(f"cannot parse $filter near {text[pos:]!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], known: frozenset[str] | None) -> None:
        self.toks = tokens
        self.i = 0
        self.known = known

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise QueryError("unexpected end of $filter")
        self.i += 1
        return tok

    def parse(self) -> Any:
        node = self.or_expr()
        if self.peek() is not None:
            raise QueryError(f"unexpected token {self.peek()!r}")
        return node

    def or_expr(self) -> Any:
        left = self.and_expr()
        while (t := self.peek()) and t[0] == "word" and t[1].lower() == "or":
            self.take()
            left = ("or", left, self.and_expr())
        return left

    def and_expr(self) -> Any:
        left = self.unary()
        while (t := self.peek()) and t[0] == "word" and t[1].lower() == "and":
            self.take()
            left = ("and", left, self.unary())
        return left

    def unary(self) -> Any:
        t = self.peek()
        if t and t[0] == "word" and t[1].lower() == "not":
            self.take()
            return ("not", self.unary())
        return self.comparison()

    def comparison(self) -> Any:
        left = self.operand()
        t = self.peek()
        if t and t[0] == "word" and t[1].lower() in _CMP:
            self.take()
            return ("cmp", t[1].lower(), left, self.operand())
        return left

    def operand(self) -> Any:
        kind, val = self.take()
        if kind == "lp":
            node = self.or_expr()
            if self.take()[0] != "rp":
                raise QueryError("missing )")
            return node
        if kind == "str":
            return ("lit", val[1:-1].replace("''", "'"))
        if kind == "dt":
            try:
                return ("lit", parse_time(val[len("datetime'") : -1]))
            except ValueError as exc:
                raise QueryError(str(exc)) from None
        if kind == "num":
            return ("lit", float(val) if "." in val else int(val))
        if kind == "word":
            if val in ("true", "false"):
                return ("lit", val == "true")
            if val == "null":
                return ("lit", None)
            nxt = self.peek()
            if nxt and nxt[0] == "lp":  # function call
                if val.lower() != "startswith":
                    raise QueryError(f"the function '{val}' is not supported")
                self.take()
                args = [self.or_expr()]
                while (t := self.peek()) and t[0] == "comma":
                    self.take()
                    args.append(self.or_expr())
                if self.take()[0] != "rp" or len(args) != 2:
                    raise QueryError("startswith takes a property and a string")
                return ("call", "startswith", args)
            if self.known is not None and val.split("/")[0] not in self.known:
                raise QueryError(f"'{val}' is not a property of this entity")
            return ("field", val)
        raise QueryError(f"unexpected token {val!r}")


def _lookup(obj: dict[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in path.split("/"):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _as_time(v: Any) -> _dt.datetime | None:
    if isinstance(v, _dt.datetime):
        return v
    if isinstance(v, str):
        try:
            return parse_time(v)
        except ValueError:
            return None
    return None


def _compare(op: str, a: Any, b: Any) -> bool:
    if isinstance(a, _dt.datetime) or isinstance(b, _dt.datetime):
        a, b = _as_time(a), _as_time(b)
    elif isinstance(a, str) and isinstance(b, str):
        a, b = a.lower(), b.lower()  # property values are case-insensitive
    if op == "eq":
        return bool(a == b)
    if op == "ne":
        return bool(a != b)
    if a is None or b is None:
        return False
    try:
        return bool({"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op])
    except TypeError:
        return False


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
        value, prefix = (_eval(a, obj) for a in node[2])
        return isinstance(value, str) and value.lower().startswith(str(prefix).lower())
    if op == "cmp":
        return _compare(node[1], _eval(node[2], obj), _eval(node[3], obj))
    raise QueryError(f"bad node {op}")


def compile_filter(text: str | None, kind: str | None = None) -> Callable[[dict[str, Any]], bool]:
    """A predicate over an entity's JSON (always True without a filter); QueryError if the
    service would refuse the filter."""
    if not text or not text.strip():
        return lambda obj: True
    tree = _Parser(_tokenize(text), FIELDS.get(kind or "")).parse()
    return lambda obj: bool(_eval(tree, obj))
