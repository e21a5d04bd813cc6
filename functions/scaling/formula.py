"""The arithmetic subset of expr-lang that `scalingModifiers.formula` is written in.

KEDA compiles the formula with expr-lang (github.com/expr-lang/expr) against the trigger names,
runs it with each trigger's metric as a float64 and wraps it in `float(...)`
(pkg/scaling/modifiers/formula.go, apis/keda/v1alpha1/scaledobject_webhook.go). Supported here:
numbers, trigger names, `+ - * / ** ^`, unary `- + ! not`, comparisons, `&& and || or`, `?:`,
`??`, parentheses and `min max abs ceil floor round float int`. Precedences and associativity
follow expr's parser/operator/operator.go: `**`/`^` bind tighter than unary minus and are
right-associative, so `-2 ** 2` is -4. Anything else (strings, arrays, closures, `%` on the
float trigger values) is rejected with FormulaError rather than guessed at.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping

from functions.scaling.errors import FormulaError

Value = float | bool
Env = Mapping[str, float]
Node = Callable[[Env], Value]


_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)"
    r"|(?P<op>\*\*|\?\?|&&|\|\||==|!=|<=|>=|[-+*/^()<>!?:,%]))"
)
# Binary precedence from expr's operator.go (higher binds tighter); all left-associative
# except the exponent.
_BINARY = {
    "or": 10, "||": 10, "and": 15, "&&": 15,
    "==": 20, "!=": 20, "<": 20, ">": 20, "<=": 20, ">=": 20,
    "+": 30, "-": 30, "*": 60, "/": 60, "%": 60, "**": 100, "^": 100, "??": 500,
}  # fmt: skip
_UNARY = {"not": 50, "!": 50, "-": 90, "+": 90}
_RIGHT = {"**", "^"}


def _round_half_away(x: float) -> float:
    # Go's math.Round, which expr's round() uses: halves go away from zero.
    return float(math.copysign(math.floor(abs(x) + 0.5), x))


_FUNCTIONS: dict[str, Callable[..., float]] = {
    "min": min, "max": max, "abs": abs, "ceil": math.ceil, "floor": math.floor,
    "round": _round_half_away, "float": float, "int": math.trunc,
}  # fmt: skip


def _num(v: Value, what: str) -> float:
    if isinstance(v, bool):
        raise FormulaError(f"{what} needs a number, got a boolean")
    return v


def _div(a: float, b: float) -> float:
    # expr divides as float64: x/0 is +-Inf (or NaN for 0/0), not an error.
    if b == 0:
        return math.nan if a == 0 else math.copysign(math.inf, a)
    return a / b


_ARITH: dict[str, Callable[[float, float], Value]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": _div,
    "**": lambda a, b: a**b, "^": lambda a, b: a**b,
    "<": lambda a, b: a < b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}  # fmt: skip


class _Parser:
    def __init__(self, text: str, names: frozenset[str]) -> None:
        self.text = text
        self.names = names
        self.tokens: list[str] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                if not text[pos:].strip():
                    break
                raise FormulaError(f"unexpected {text[pos:].strip()[:10]!r} in formula {text!r}")
            self.tokens.append(m.group(m.lastgroup or "op"))
            pos = m.end()
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            want = f"{expected!r}" if expected else "more"
            raise FormulaError(f"expected {want} in formula {self.text!r}")
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.ternary()
        if self.peek() is not None:
            raise FormulaError(f"unexpected {self.peek()!r} in formula {self.text!r}")
        return node

    def ternary(self) -> Node:
        cond = self.binary(0)
        if self.peek() != "?":
            return cond
        self.take("?")
        yes = self.ternary()
        self.take(":")
        no = self.ternary()
        return lambda env: yes(env) if cond(env) else no(env)

    def binary(self, min_prec: int) -> Node:
        left = self.unary()
        while (op := self.peek()) in _BINARY and _BINARY[op] >= min_prec:
            self.take()
            prec = _BINARY[op]
            right = self.binary(prec if op in _RIGHT else prec + 1)
            left = self._combine(op, left, right)
        return left

    def _combine(self, op: str, left: Node, right: Node) -> Node:
        if op in ("or", "||"):
            return lambda env: bool(left(env)) or bool(right(env))
        if op in ("and", "&&"):
            return lambda env: bool(left(env)) and bool(right(env))
        if op == "==":
            return lambda env: left(env) == right(env)
        if op == "!=":
            return lambda env: left(env) != right(env)
        if op == "??":
            return left  # trigger values are never nil here (no fallback is modelled)
        if op == "%":
            raise FormulaError("'%' needs integers in expr-lang, and trigger values are floats")
        fn = _ARITH[op]
        return lambda env: fn(_num(left(env), op), _num(right(env), op))

    def unary(self) -> Node:
        op = self.peek()
        if op in _UNARY:
            self.take()
            operand = self.binary(_UNARY[op])
            if op in ("not", "!"):
                return lambda env: not operand(env)
            if op == "-":
                return lambda env: -_num(operand(env), "-")
            return operand
        return self.primary()

    def primary(self) -> Node:
        tok = self.take()
        if tok == "(":
            node = self.ternary()
            self.take(")")
            return node
        if tok[0].isdigit() or tok[0] == ".":
            value = float(tok)
            return lambda env: value
        if tok in ("true", "false"):
            flag = tok == "true"
            return lambda env: flag
        if tok in _FUNCTIONS and self.peek() == "(":
            return self.call(tok)
        if tok[0].isalpha() or tok[0] in "_$":
            if tok not in self.names:
                known = ", ".join(sorted(self.names)) or "none"
                raise FormulaError(f"unknown trigger name {tok!r} in formula (triggers: {known})")
            return lambda env: env[tok]
        raise FormulaError(f"unexpected {tok!r} in formula {self.text!r}")

    def call(self, name: str) -> Node:
        self.take("(")
        args: list[Node] = []
        while self.peek() != ")":
            args.append(self.ternary())
            if self.peek() != ")":
                self.take(",")
        self.take(")")
        fn = _FUNCTIONS[name]
        if not args or (name not in ("min", "max") and len(args) != 1):
            raise FormulaError(f"wrong number of arguments to {name}()")
        return lambda env: float(fn(*(_num(a(env), name) for a in args)))


def compile_formula(text: str, names: frozenset[str] | set[str]) -> Callable[[Env], float]:
    """Parse `text` once; return a function of the trigger values that yields a float."""
    node = _Parser(text, frozenset(names)).parse()

    def evaluate(env: Env) -> float:
        value = node(env)
        if isinstance(value, bool):
            raise FormulaError(f"formula {text!r} returned a boolean, not a number")
        return float(value)

    return evaluate
