"""A small evaluator for Batch autoscale formulas.

What it supports (enough for formulas that set node counts from constants and simple
expressions; anything else is an evaluation error, never a silent guess):

- statements `$Name = expression;` (and bare expressions), `//` comments;
- numbers, strings, the keywords requeue, terminate, taskcompletion and retaineddata,
  variables with or without `$`; `+ - * / %`, unary `-` and `!`, comparisons `< <= > >= == !=`,
  `&& ||`, `cond ? a : b`, parentheses;
- functions max, min, avg, sum (over any number of values), abs, ceil, floor, round;
  TimeInterval_Second/Minute/Hour/Day/Week (in seconds);
- service variables: $CurrentDedicatedNodes, $CurrentLowPriorityNodes, $TaskSlotsPerNode,
  and reading $TargetDedicatedNodes / $TargetLowPriorityNodes (the pool's current targets,
  until the formula assigns them); $TargetDedicated is the old name of
  $TargetDedicatedNodes and is accepted like the service does;
- the sampled task variables $ActiveTasks, $RunningTasks, $PendingTasks (active + running),
  $SucceededTasks, $FailedTasks through `.GetSample(...)` (which answers the current value:
  the emulator keeps no history) and `.GetSamplePercent(...)` (always 100).

Not supported: other service variables ($CPUPercent, $NetworkInBytes, ...), vectors and
sample windows, `time()`, doubleVec functions. Using one answers
AutoScalingFormulaEvaluationError with the position, like an undefined symbol.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

SETTABLE = ("$TargetDedicatedNodes", "$TargetLowPriorityNodes", "$NodeDeallocationOption")
ALIASES = {"$targetdedicated": "$TargetDedicatedNodes"}
DEALLOCATION = ("requeue", "terminate", "taskcompletion", "retaineddata")
SAMPLED = ("$ActiveTasks", "$RunningTasks", "$PendingTasks", "$SucceededTasks", "$FailedTasks")
INTERVALS = {
    "timeinterval_second": 1,
    "timeinterval_minute": 60,
    "timeinterval_hour": 3600,
    "timeinterval_day": 86400,
    "timeinterval_week": 604800,
}
FUNCTIONS = ("max", "min", "avg", "sum", "abs", "ceil", "floor", "round")


class FormulaError(Exception):
    """kind is "syntax" or "evaluation"; line/col are 1-based like the service's message."""

    def __init__(self, kind: str, line: int, col: int, text: str) -> None:
        super().__init__(f"Line {line}, Col {col}: {text}")
        self.kind = kind

    def error_json(self) -> dict[str, Any]:
        """The `error` of an AutoScaleRun (its values use `name`, as recorded)."""
        if self.kind == "syntax":
            code, message = (
                "AutoScalingFormulaSyntaxError",
                "The specified auto-scaling formula has a syntax error",
            )
        else:
            code, message = (
                "AutoScalingFormulaEvaluationError",
                "The specified auto-scaling formula has evaluation error",
            )
        values = [{"name": "Message", "value": str(self)}]
        return {"code": code, "message": message, "values": values}


@dataclass
class PoolFacts:
    """What a formula may read about its pool."""

    current_dedicated: int = 0
    current_low_priority: int = 0
    target_dedicated: int = 0
    target_low_priority: int = 0
    slots_per_node: int = 1
    tasks: dict[str, int] = field(default_factory=dict)  # $ActiveTasks etc. -> count


_TOKEN = re.compile(
    r"(?P<ws>[ \t\r]+)|(?P<nl>\n)|(?P<comment>//[^\n]*)|(?P<num>\d+(?:\.\d+)?)"
    r"|(?P<str>\"[^\"]*\")|(?P<name>\$?[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>&&|\|\||==|!=|<=|>=|[-+*/%<>!?:=;(),.])"
)


def _tokens(text: str) -> list[tuple[str, str, int, int]]:
    out: list[tuple[str, str, int, int]] = []
    line, line_start, pos = 1, 0, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise FormulaError("syntax", line, pos - line_start + 1, f"Unexpected '{text[pos]}'")
        kind = m.lastgroup or ""
        if kind == "nl":
            line, line_start = line + 1, m.end()
        elif kind not in ("ws", "comment"):
            out.append((kind, m.group(kind), line, pos - line_start + 1))
        pos = m.end()
    out.append(("end", "", line, pos - line_start + 1))
    return out


class _Evaluator:
    def __init__(self, text: str, facts: PoolFacts) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.facts = facts
        self.vars: dict[str, Any] = {}  # assigned, in order (canonical names)

    # -- token helpers
    def peek(self) -> tuple[str, str, int, int]:
        return self.toks[self.i]

    def take(self, value: str | None = None) -> tuple[str, str, int, int]:
        tok = self.toks[self.i]
        if value is not None and tok[1] != value:
            raise FormulaError("syntax", tok[2], tok[3], f"Expected '{value}'")
        self.i += 1
        return tok

    def is_op(self, *values: str) -> bool:
        kind, val, _, _ = self.peek()
        return kind == "op" and val in values

    # -- statements
    def run(self) -> dict[str, Any]:
        while self.peek()[0] != "end":
            if self.is_op(";"):
                self.take()
                continue
            self.statement()
            if self.peek()[0] != "end":
                self.take(";")
        return self.vars

    def statement(self) -> None:
        kind, val, _, _ = self.peek()
        nxt = self.toks[self.i + 1]
        if kind == "name" and nxt[0] == "op" and nxt[1] == "=":
            self.take()
            self.take("=")
            self.vars[self.canonical(val)] = self.expr()
        else:
            self.expr()

    @staticmethod
    def canonical(name: str) -> str:
        low = name.lower()
        if low in ALIASES:
            return ALIASES[low]
        for known in SETTABLE:
            if known.lower() == low:
                return known
        return name

    # -- expressions
    def expr(self) -> Any:
        cond = self.or_expr()
        if self.is_op("?"):
            self.take()
            a = self.expr()
            self.take(":")
            b = self.expr()
            return a if cond else b
        return cond

    def or_expr(self) -> Any:
        left = self.and_expr()
        while self.is_op("||"):
            self.take()
            right = self.and_expr()
            left = 1 if (left or right) else 0
        return left

    def and_expr(self) -> Any:
        left = self.cmp_expr()
        while self.is_op("&&"):
            self.take()
            right = self.cmp_expr()
            left = 1 if (left and right) else 0
        return left

    def cmp_expr(self) -> Any:
        left = self.add_expr()
        if self.is_op("<", "<=", ">", ">=", "==", "!="):
            op = self.take()[1]
            right = self.add_expr()
            result = {
                "<": lambda: left < right,
                "<=": lambda: left <= right,
                ">": lambda: left > right,
                ">=": lambda: left >= right,
                "==": lambda: left == right,
                "!=": lambda: left != right,
            }[op]()
            return 1 if result else 0
        return left

    def add_expr(self) -> Any:
        left = self.mul_expr()
        while self.is_op("+", "-"):
            op, tok = self.take()[1], self.peek()
            right = self.mul_expr()
            left = self.arith(op, left, right, tok)
        return left

    def mul_expr(self) -> Any:
        left = self.unary()
        while self.is_op("*", "/", "%"):
            op, tok = self.take()[1], self.peek()
            right = self.unary()
            left = self.arith(op, left, right, tok)
        return left

    def arith(self, op: str, a: Any, b: Any, tok: tuple[str, str, int, int]) -> Any:
        if isinstance(a, str) or isinstance(b, str):
            raise FormulaError("evaluation", tok[2], tok[3], "Arithmetic on a string")
        if op in ("/", "%") and b == 0:
            raise FormulaError("evaluation", tok[2], tok[3], "Division by zero")
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        return a / b if op == "/" else a % b

    def unary(self) -> Any:
        if self.is_op("-"):
            self.take()
            return -self.unary()
        if self.is_op("!"):
            self.take()
            return 0 if self.unary() else 1
        return self.primary()

    def primary(self) -> Any:
        kind, val, line, col = self.take()
        if kind == "num":
            return float(val) if "." in val else int(val)
        if kind == "str":
            return val[1:-1]
        if kind == "op" and val == "(":
            v = self.expr()
            self.take(")")
            return v
        if kind == "name":
            if self.is_op("("):
                return self.call(val, line, col)
            if self.is_op("."):
                return self.method(val, line, col)
            return self.lookup(val, line, col)
        raise FormulaError("syntax", line, col, f"Unexpected '{val or 'end of formula'}'")

    def args(self) -> list[Any]:
        self.take("(")
        out: list[Any] = []
        if not self.is_op(")"):
            out.append(self.expr())
            while self.is_op(","):
                self.take()
                out.append(self.expr())
        self.take(")")
        return out

    def call(self, name: str, line: int, col: int) -> Any:
        fn = name.lower()
        args = self.args()
        if fn not in FUNCTIONS:
            raise FormulaError("evaluation", line, col, f"Undefined function: {name}")
        if not args or any(isinstance(a, str) for a in args):
            raise FormulaError("evaluation", line, col, f"Bad arguments to {name}")
        if fn in ("max", "min", "sum"):
            return {"max": max, "min": min, "sum": sum}[fn](args)
        if fn == "avg":
            return sum(args) / len(args)
        one = args[0]
        return {"abs": abs, "ceil": math.ceil, "floor": math.floor, "round": round}[fn](one)

    def method(self, name: str, line: int, col: int) -> Any:
        self.take(".")
        method = self.take()[1]
        self.args()
        sampled = {s.lower(): s for s in SAMPLED}.get(name.lower())
        if sampled is None:
            raise FormulaError("evaluation", line, col, f"Undefined symbol: {name}")
        if method.lower() == "getsample":
            return self.facts.tasks.get(sampled, 0)
        if method.lower() == "getsamplepercent":
            return 100
        raise FormulaError("evaluation", line, col, f"{method} is not supported by the emulator")

    def lookup(self, name: str, line: int, col: int) -> Any:
        canonical = self.canonical(name)
        if canonical in self.vars:
            return self.vars[canonical]
        low = name.lower()
        f = self.facts
        service = {
            "$currentdedicatednodes": f.current_dedicated,
            "$currentlowprioritynodes": f.current_low_priority,
            "$targetdedicatednodes": f.target_dedicated,
            "$targetdedicated": f.target_dedicated,
            "$targetlowprioritynodes": f.target_low_priority,
            "$taskslotspernode": f.slots_per_node,
            "$nodedeallocationoption": "requeue",
        }
        if low in service:
            return service[low]
        if low in INTERVALS:
            return INTERVALS[low]
        if low in DEALLOCATION:  # `$NodeDeallocationOption = taskcompletion;`
            return low
        raise FormulaError("evaluation", line, col, f"Undefined symbol: {name}")


def evaluate(formula: str, facts: PoolFacts) -> dict[str, Any]:
    """Run the formula; the three settable values (defaults from the pool) plus every user
    variable in assignment order. FormulaError on a syntax or evaluation error."""
    assigned = _Evaluator(formula or "", facts).run()
    out: dict[str, Any] = {
        "$TargetDedicatedNodes": assigned.get("$TargetDedicatedNodes", facts.target_dedicated),
        "$TargetLowPriorityNodes": assigned.get(
            "$TargetLowPriorityNodes", facts.target_low_priority
        ),
        "$NodeDeallocationOption": assigned.get("$NodeDeallocationOption", "requeue"),
    }
    for key in ("$TargetDedicatedNodes", "$TargetLowPriorityNodes"):
        value = out[key]
        if isinstance(value, str) or value < 0:
            raise FormulaError("evaluation", 1, 1, f"{key} must be a number of nodes, not {value}")
        out[key] = int(value)
    option = str(out["$NodeDeallocationOption"]).lower()
    if option not in DEALLOCATION:
        raise FormulaError("evaluation", 1, 1, f"Invalid $NodeDeallocationOption: {option}")
    out["$NodeDeallocationOption"] = option
    for key, value in assigned.items():
        if key not in out:
            out[key] = value
    return out


def results_text(values: dict[str, Any]) -> str:
    """`$TargetDedicatedNodes=3;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue`."""
    def fmt(v: Any) -> str:
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    return ";".join(f"{k}={fmt(v)}" for k, v in values.items())

