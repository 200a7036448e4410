"""netspec's expression evaluator — never Python's ``eval``.

Values follow Python's semantics exactly (so an expression rendered into generated source
computes the same thing), with three differences that make specs safer: lists are immutable
tuples, booleans are not numbers, and sizes are bounded (integers, sequence lengths, ranges),
so a hostile spec cannot exhaust memory through an expression.

The same evaluator does *partial* evaluation for the code generator: a name bound to a
:class:`Sym` (a constructor parameter, a loop variable of generated code) is not known, and
every operation on it yields a :class:`Sym` whose ``expr`` is the residual expression to
write into Python source and whose ``value`` is still computed when every operand is known.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

from netspec.errors import ExprError, did_you_mean
from netspec.expr import nodes as n

MAX_INT = 2**62
"""Largest magnitude of an integer a spec may compute."""
MAX_ITEMS = 100_000
"""Longest list (or range) a spec may compute."""
MAX_STR = 10_000
"""Longest string a spec may compute."""
MAX_STEPS = 1_000_000
"""Most work one evaluation may do: the items of every list and string it builds, plus one per
step of a comprehension (so a comprehension can neither loop for long nor build much), plus one
per operator of a chain longer than :data:`~netspec.expr.nodes.NESTED` operands (arithmetic,
comparisons, ``and``/``or``: a text of 100,000 characters may hold 50,000 operators)."""
MAX_SOURCE_DEPTH = 2_000
"""Deepest Python tree a residual may have. Generated code writes a residual as it is, and
CPython's compiler recurses along a chain of operators — ``a + b + …`` is one level per operator
in Python's tree, however flat netspec's — up to about 3,000 levels (at the default recursion
limit, Python 3.10 to 3.13)."""


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
"""The value of a :class:`Sym` that is not known until the generated code runs."""


class SymbolicError(TypeError):
    """A rule needed the value of a symbolic quantity that is not known."""

    def __init__(self, sym: Sym, hint: str | None = None) -> None:
        super().__init__(f"the value of {sym!r} is not known until the generated code runs")
        self.sym = sym
        self.hint = hint
        """What the rule needs instead, for the code generator's refusal (``None``: a
        constant)."""


class Guard(tuple[str, n.Expr, n.Expr, bool]):
    """A decision taken on a traced :class:`Sym`'s value: ``left op right`` came out
    ``truth`` (``op`` is a comparison, or ``"truth"`` for ``bool(left)``, whose ``right`` is
    unused)."""

    __slots__ = ()


class Trace:
    """What a run over :class:`Sym` values with known values decided on them (see
    :func:`tracing`): every comparison, truth test and value read, in order.

    The run's results are then expressions in the ``Sym``s' names, valid wherever the same
    guards hold: each value read that no arithmetic carried (``int(s)``, ``concrete(s)``,
    ``str(s)``) pins the expression to that value, so nothing the run computed from a value
    escapes the guards."""

    __slots__ = ("guards", "integers")

    def __init__(self, integers: frozenset[str] = frozenset()) -> None:
        self.guards: list[Guard] = []
        self.integers = integers
        """The traced names whose values are integers wherever the trace is used (sizes,
        params taken at one type): what a fold may treat as an integer (see ``_fold``)."""

    def decided(self, op: str, left: n.Expr, right: Any, truth: bool) -> None:
        self.guards.append(Guard((op, left, as_expr(right), truth)))

    def pin(self, expr: n.Expr, value: Any) -> None:
        if not isinstance(expr, n.Const):
            self.guards.append(Guard(("==", expr, n.Const(value), True)))


_TRACE: ContextVar[Trace | None] = ContextVar("netspec_trace", default=None)
"""The trace being recorded (in this thread or task), or ``None``: see :func:`tracing`."""


_FIELDS: ContextVar[list[n.Expr] | None] = ContextVar("netspec_fields", default=None)
"""The fields written so far while :class:`as_fields` runs, else ``None``."""

FIELD_START, FIELD_END = "\x00", "\x01"
"""What encloses a field's number in a message written :class:`as_fields`."""


class as_fields:  # noqa: N801 (a context manager, used as ``with as_fields() as fields``)
    """While the block runs (in this thread or task), an unknown :class:`Sym` written into
    text (``str``, ``format``, :func:`show`) is a *field*: its number in the list the block
    is given, between :data:`FIELD_START` and :data:`FIELD_END`; the list holds its
    expression, for the code generator to write as a replacement field of the class's
    message (``{shift_size!r}``). A message an operator rule makes of values the class learns
    only when constructed is thus check's own words, their values filled in when the class
    runs. A field is written as Python's ``repr``, which is how :func:`show` writes numbers
    and text: a rule writes any other value into such a message with :func:`show`."""

    def __enter__(self) -> list[n.Expr]:
        fields: list[n.Expr] = []
        self._token = _FIELDS.set(fields)
        return fields

    def __exit__(self, *exc: object) -> None:
        _FIELDS.reset(self._token)


def _field(value: Sym, fields: list[n.Expr]) -> str:
    """An unknown value as a field (see :class:`as_fields`), as :func:`show` writes the
    value: a list as a list (a list param is a tuple in the class)."""
    expr = value.expr
    if isinstance(value, SymList) and not isinstance(n.strip(expr), n.ListExpr):
        expr = n.Call(n.Name("list"), (expr,))
    fields.append(expr)
    return f"{FIELD_START}{len(fields) - 1}{FIELD_END}"


class tracing:  # noqa: N801 (a context manager, used as ``with tracing() as trace``)
    """Record what is decided on :class:`Sym` values while the block runs (in this thread
    or task only)."""

    def __init__(self, integers: frozenset[str] = frozenset()) -> None:
        self.integers = integers
        """The traced names that are integers (see :attr:`Trace.integers`)."""

    def __enter__(self) -> Trace:
        trace = Trace(self.integers)
        self._token = _TRACE.set(trace)
        return trace

    def __exit__(self, *exc: object) -> None:
        _TRACE.reset(self._token)


def traced() -> bool:
    """Whether a trace is being recorded (in this thread or task): see :func:`tracing`."""
    return _TRACE.get() is not None


def counted(value: Sym) -> bool:
    """Whether a traced value is a positive integer, decided: its kind and its sign are both
    guards (a count's expression may give a float at other values: ``max(w, 2.5)``)."""
    whole_ = value._decide("int", None, type(value._value) is int)
    return whole_ and bool(value > 0)


def unread(value: Any) -> Any:
    """A ``Sym``'s value without reading it (no pin while :func:`tracing`), or ``value``: for
    arithmetic that carries the expression along, or to test the value's kind."""
    return value._value if isinstance(value, Sym) else value


class Sym:
    """A value of generated code: its residual expression and, when known, its value.

    Arithmetic on a ``Sym`` builds a residual expression (with trivial folding such as
    ``x * 1 → x``), so op shape rules written with ``+ - * // %`` work unchanged on
    symbolic dimensions.

    While :func:`tracing`, a decision on a known ``Sym`` (a comparison, ``bool``, ``==``) is
    recorded as a guard, and reading its value otherwise (``.value``, ``int()``, ``str()``)
    pins it; arithmetic reads values without either.
    """

    __slots__ = ("_value", "expr")

    def __init__(self, expr: n.Expr, value: Any = UNKNOWN) -> None:
        self.expr = expr
        self._value = value

    @property
    def value(self) -> Any:
        v = self._value
        if v is not UNKNOWN:
            trace = _TRACE.get()
            if trace is not None:
                trace.pin(self.expr, v)
        return v

    @property
    def known(self) -> bool:
        return self._value is not UNKNOWN

    def __repr__(self) -> str:
        from netspec.expr.render import render

        shown = "" if not self.known else f" = {self._value!r}"
        return f"Sym({render(self.expr)}{shown})"

    def _known(self) -> Any:
        if self._value is not UNKNOWN:
            return self._value
        raise SymbolicError(self)

    def _decide(self, op: str, other: Any, truth: bool) -> bool:
        trace = _TRACE.get()
        if trace is not None:
            trace.decided(op, self.expr, other, truth)
        return truth

    def __bool__(self) -> bool:
        return self._decide("truth", None, bool(self._known()))

    def __str__(self) -> str:
        if self.known:
            return str(self.value)
        fields = _FIELDS.get()
        if fields is not None:
            return _field(self, fields)
        from netspec.expr.render import render

        return render(self.expr)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __index__(self) -> int:
        self._known()
        return int(self.value)

    def __lt__(self, o: Any) -> bool:
        return self._decide("<", o, bool(self._known() < _raw_known(o)))

    def __le__(self, o: Any) -> bool:
        return self._decide("<=", o, bool(self._known() <= _raw_known(o)))

    def __gt__(self, o: Any) -> bool:
        return self._decide(">", o, bool(self._known() > _raw_known(o)))

    def __ge__(self, o: Any) -> bool:
        return self._decide(">=", o, bool(self._known() >= _raw_known(o)))

    def __eq__(self, o: object) -> bool:
        # identity, as for any object, but while tracing a known value compared with a
        # number is compared (and the decision recorded), as the value itself would be
        if self._traced_with(o):
            return self._decide("==", o, bool(self._value == unread(o)))
        return self is o

    def __ne__(self, o: object) -> bool:
        if self._traced_with(o):
            return self._decide("!=", o, bool(self._value != unread(o)))
        return self is not o

    def _traced_with(self, o: object) -> bool:
        """Whether ``self == o`` compares values: while tracing, a known value and a number
        (a boolean too, as Python compares them)."""
        if self._value is UNKNOWN or _TRACE.get() is None:
            return False
        other = o._value if isinstance(o, Sym) else o
        return isinstance(other, int | float) and isinstance(self._value, int | float)

    def __hash__(self) -> int:
        # by identity; a traced value is never a key (a lookup would decide unrecorded)
        if self._value is not UNKNOWN and _TRACE.get() is not None:
            raise TypeError("a traced value is not hashable")
        return object.__hash__(self)

    def _op(self, op: str, other: Any, swap: bool = False) -> Any:
        # Python arithmetic written in an operator's rules, not a spec's expression: its value
        # is what the static analysis computed with plain integers (and the generated code
        # computes), unbounded by the language's limits on values a spec computes
        a, b = (other, self) if swap else (self, other)
        return binary(op, a, b, bounded=False)

    def __add__(self, o: Any) -> Any:
        return self._op("+", o)

    def __radd__(self, o: Any) -> Any:
        return self._op("+", o, True)

    def __sub__(self, o: Any) -> Any:
        return self._op("-", o)

    def __rsub__(self, o: Any) -> Any:
        return self._op("-", o, True)

    def __mul__(self, o: Any) -> Any:
        return self._op("*", o)

    def __rmul__(self, o: Any) -> Any:
        return self._op("*", o, True)

    def __floordiv__(self, o: Any) -> Any:
        return self._op("//", o)

    def __rfloordiv__(self, o: Any) -> Any:
        return self._op("//", o, True)

    def __mod__(self, o: Any) -> Any:
        return self._op("%", o)

    def __rmod__(self, o: Any) -> Any:
        return self._op("%", o, True)

    # `/` and `**` on traced values only (a rule's table of relative positions,
    # `(2 * w - 1) ** 2`): on the generated class's unknown values they stay refused
    def __truediv__(self, o: Any) -> Any:
        return self._traced_op("/", o)

    def __rtruediv__(self, o: Any) -> Any:
        return self._traced_op("/", o, True)

    def __pow__(self, o: Any) -> Any:
        return self._traced_op("**", o)

    def __rpow__(self, o: Any) -> Any:
        return self._traced_op("**", o, True)

    def _traced_op(self, op: str, other: Any, swap: bool = False) -> Any:
        if not (known(self, other) and traced()):
            return NotImplemented
        return self._op(op, other, swap)

    def __neg__(self) -> Any:
        return self._op("-", 0, True)


class SymList(Sym):
    """A symbolic value known to be a list whose length and items are not (a param or ``let``
    whose value is a list): an operator rule that takes one number or one per dimension indexes
    it (``p[0]``, ``p[1]``) instead of taking it for one number."""

    __slots__ = ()


class SymText(Sym):
    """A symbolic value known to be text (``padding='same'`` given by a param): no rule may
    take it for a number."""

    __slots__ = ()


class SymEither(Sym):
    """A symbolic value that is a number for some values of the params and a list for others
    (a block param its calls give both, a ``let`` that is one or the other as a param
    decides): a rule that takes one number or one per dimension writes the test of which it
    is (``k if isinstance(k, (int, float)) else k[0]``); one that needs a list's length
    cannot know it."""

    __slots__ = ()


def sym_like(value: Any, expr: n.Expr) -> Sym:
    """An unknown value of the kind ``value`` is (a list, text or a number), as ``expr``."""
    return type(value)(expr) if isinstance(value, SymList | SymText | SymEither) else Sym(expr)


def sym_of(expr: n.Expr, example: Any) -> Sym:
    """An unknown value written ``expr`` whose value is of ``example``'s kind (a list, text or a
    number): the kind the value has at the spec's defaults."""
    if isinstance(example, tuple | list):
        return SymList(expr)
    if isinstance(example, str):
        return SymText(expr)
    return Sym(expr)


def known(*values: Any) -> bool:
    """Whether every value is concrete (no unknown :class:`Sym` among them)."""
    for v in values:  # a loop, not all(…): operator rules ask this many times per layer
        if isinstance(v, Sym) and v._value is UNKNOWN:
            return False
    return True


COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
"""The comparisons of two numbers, by operator."""
_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    **COMPARISONS,
    "in": lambda a, b: a in b,
    "not in": lambda a, b: a not in b,
}
_MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def compare(a: Any, op: str, b: Any) -> Any:
    """``a op b`` in an operator rule's check (a comparison, or ``in`` a list of constants):
    a truth value where both are known (a decision on a traced value recorded, as a
    comparison of it records one), else the test as a symbolic value, which the generated
    class makes (see :func:`~netspec.ops.base.refuse_where`)."""
    if not known(a, b):
        return Sym(n.Compare(as_expr(a), (op,), (as_expr(b),)))
    truth = bool(_TESTS[op](unread(a), unread(b)))
    if isinstance(a, Sym):
        return a._decide(op, b, truth)
    if isinstance(b, Sym):
        return b._decide(_MIRROR[op], a, truth)
    return truth


def outside(low: Any, value: Any, high: Any) -> Any:
    """Whether ``value`` is outside ``[low, high)``: a truth value where the three are known
    (see :func:`compare`), else the test as a symbolic value (``not low <= value < high``,
    ``value >= high`` where ``value`` is known)."""
    if known(low, value):  # (a known value is tested against the other bound only)
        return True if compare(value, "<", low) else compare(value, ">=", high)
    if known(value, high):
        return True if compare(value, ">=", high) else compare(value, "<", low)
    chain = n.Compare(as_expr(low), ("<=", "<"), (as_expr(value), as_expr(high)))
    return Sym(n.Not(chain))


def concrete(value: Any) -> Any:
    """The concrete value of ``value`` (a ``Sym``'s value), or ``UNKNOWN``."""
    return value.value if isinstance(value, Sym) else value


def whole(value: Any) -> int:
    """``int(value)`` for a count an operator rule computes (MACs, elements): a known
    :class:`Sym` stays an expression (``int(…)`` where its value is not an integer already),
    so that a traced count is not pinned to its value; it stands for an integer, as a
    symbolic dimension does.

    Raises:
        SymbolicError: ``value`` is not known.
    """
    if not isinstance(value, Sym):
        return int(value)
    raw = value._known()
    if type(raw) is int:
        return cast(int, value)
    return cast(int, Sym(n.Call(n.Name("int"), (value.expr,)), int(raw)))


def equal(a: Any, b: Any) -> bool:
    """``a == b`` for known values, :class:`Sym` or not, by value (a traced ``Sym``'s
    comparison is a guard)."""
    if isinstance(a, Sym):
        if isinstance(b, Sym) and a.expr is b.expr:  # one expression: one value, always
            return True
        return a._decide("==", b, bool(a._known() == _raw_known(b)))
    if isinstance(b, Sym):
        return b._decide("==", a, bool(b._known() == a))
    return bool(a == b)


def _raw_known(value: Any) -> Any:
    """``value``'s value for a decision (a ``Sym``'s, unread: the decision is the guard)."""
    return value._known() if isinstance(value, Sym) else value


def as_expr(value: Any) -> n.Expr:
    """An expression that evaluates to ``value`` (a ``Sym``'s residual, or a literal)."""
    if isinstance(value, Sym):
        return value.expr
    if isinstance(value, tuple | list):
        return n.ListExpr(tuple(as_expr(v) for v in value))
    if isinstance(value, dict):
        return n.DictExpr(
            tuple(as_expr(k) for k in value), tuple(as_expr(v) for v in value.values())
        )
    if isinstance(value, InputShape):
        return n.InputRef()
    return n.Const(value)


@dataclass(frozen=True, slots=True)
class InputShape:
    """The value of ``in`` inside a block: the shape entering it (batch excluded)."""

    dims: tuple[Any, ...]

    def attribute(self, name: str) -> Any:
        dims = self.dims
        table = _INPUT_ATTRS.get(len(dims), {})
        if name == "shape":
            return dims
        if name == "rank":
            return len(dims)
        if name in table:
            return dims[table[name]]
        valid = sorted(table) + ["rank", "shape"]
        raise _Fail(
            f"`in` has no attribute {name!r} for a {len(dims)}-d input",
            hint=f"valid here: {', '.join('in.' + v for v in valid)}",
        )


_INPUT_ATTRS: dict[int, dict[str, int]] = {
    1: {"features": 0, "channels": 0},
    2: {"channels": 0, "length": 1},
    3: {"channels": 0, "height": 1, "width": 2},
    4: {"channels": 0, "depth": 1, "height": 2, "width": 3},
}


class _Fail(Exception):
    """Raised inside evaluation; :class:`Located` turns it into a positioned ExprError."""

    def __init__(self, message: str, node: n.Expr | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.node = node
        self.hint = hint


class Scope:
    """Names visible to an expression: a chain of frames, innermost first."""

    __slots__ = ("names", "parent", "input")

    def __init__(
        self,
        names: Mapping[str, Any] | None = None,
        parent: Scope | None = None,
        input: Any = None,
    ) -> None:
        self.names: dict[str, Any] = dict(names or {})
        self.parent = parent
        self.input: Any = input if input is not None or parent is None else parent.input

    def child(self, names: Mapping[str, Any] | None = None, input: Any = None) -> Scope:
        return Scope(names, self, input)

    @staticmethod
    def frame(names: dict[str, Any], parent: Scope) -> Scope:
        """A child of ``parent`` holding ``names`` itself (a dict nobody else changes), not a
        copy of it."""
        scope = Scope.__new__(Scope)
        scope.names = names
        scope.parent = parent
        scope.input = parent.input
        return scope

    def with_input(self, value: Any) -> Scope:
        """These frames with ``in`` another value: each frame that sees this scope's ``in``
        (a block's, and the loops' in it) copied, its names too, onto the first frame that
        does not (the spec's params and ``let``)."""
        old = self.input
        frames: list[Scope] = []
        scope: Scope | None = self
        while scope is not None and scope.input is old:
            frames.append(scope)
            scope = scope.parent
        for frame in reversed(frames):
            copy = Scope.__new__(Scope)
            copy.names = dict(frame.names)  # (a block's names record reads: not these)
            copy.parent = scope
            copy.input = value
            scope = copy
        assert scope is not None
        return scope

    def lookup(self, name: str) -> Any:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        raise KeyError(name)

    def visible(self) -> set[str]:
        out: set[str] = set()
        scope: Scope | None = self
        while scope is not None:
            out.update(scope.names)
            scope = scope.parent
        return out


# ---------------------------------------------------------------------------------------------
# value checks


def type_name(value: Any) -> str:
    if isinstance(value, Sym):
        return type_name(value._value) if value.known else "value"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, tuple | list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    if value is None:
        return "none"
    if isinstance(value, InputShape):
        return "input shape"
    return type(value).__name__


def a_type(value: Any) -> str:
    """The type of ``value`` with its article: ``an integer``, ``a list``."""
    name = type_name(value)
    return ("an " if name[0] in "aeiou" else "a ") + name


def show(value: Any) -> str:
    """A value as the spec would write it (``true``, ``[1, 2]``, ``'M'``)."""
    if isinstance(value, Sym):
        fields = _FIELDS.get()
        if not value.known and fields is not None:
            return _field(value, fields)
        from netspec.expr.render import render

        return render(value.expr)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{show(k)}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


_BUDGET: ContextVar[list[int] | None] = ContextVar("netspec_expr_budget", default=None)
"""The steps left to the evaluation in progress (a one-item list), or None outside one."""


def _charge(steps: int) -> None:
    budget = _BUDGET.get()
    if budget is None:
        return
    budget[0] -= steps
    if budget[0] < 0:
        raise _Fail(
            f"the expression does too much work (more than {MAX_STEPS:,} steps)",
            hint="a comprehension steps once per item of each `for`, every list it builds "
            "counts its items, and a long chain of operators counts each; iterate over shorter "
            "lists",
        )


def _check_size(value: Any) -> Any:
    kind = type(value)
    if kind is int:  # the common case, answered first
        if abs(value) > MAX_INT:
            raise _Fail("the result is too large (more than 2**62)")
        return value
    if kind is float:
        if not math.isfinite(value):
            raise _Fail("the result is not a finite number")
        return value
    if isinstance(value, tuple | str):
        _charge(len(value))
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        raise _Fail("the result is too large (more than 2**62)")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Fail("the result is not a finite number")
    if isinstance(value, tuple) and len(value) > MAX_ITEMS:
        raise _Fail(f"the list is longer than {MAX_ITEMS:,} items")
    if isinstance(value, tuple | dict) and _too_large(value):
        raise _Fail(
            f"the value holds more than {MAX_ITEMS:,} items in all (its lists, counted with "
            "the lists inside them)",
            hint="a list of lists repeats what it holds: printing or comparing it would take "
            "that long",
        )
    if isinstance(value, str) and len(value) > MAX_STR:
        raise _Fail(f"the string is longer than {MAX_STR:,} characters")
    return value


def _too_large(value: tuple[Any, ...] | dict[Any, Any]) -> bool:
    """Whether ``value`` holds more than :data:`MAX_ITEMS` items counting nested lists and
    mappings each time they appear (a list may hold the same list many times: ten levels
    of ten is 10¹⁰ items to print). The walk stops at the limit, so it costs at most that."""
    count = 0
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            count += len(item)
            stack.extend(i for i in item if isinstance(i, tuple | dict))
        elif isinstance(item, dict):
            count += len(item)
            stack.extend(i for i in item.values() if isinstance(i, tuple | dict))
        if count > MAX_ITEMS:
            return True
    return False


def _number_op(op: str, a: Any, b: Any) -> Any:
    """``a op b`` for two numbers that :func:`_arith` has let through."""
    try:
        return _ARITH[op](a, b)
    except OverflowError:
        raise _Fail("the result is too large to be a finite number") from None


_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
}


def _arith(op: str, a: Any, b: Any) -> Any:
    if _is_number(a) and _is_number(b):
        if op in ("/", "//", "%") and b == 0:
            raise _Fail("division by zero")
        if op == "**":
            if isinstance(b, int) and abs(b) > 256 or abs(a) > MAX_INT:
                raise _Fail("the power is too large")
            if a == 0 and b < 0:
                raise _Fail("zero cannot be raised to a negative power")
            if a < 0 and not float(b).is_integer():
                raise _Fail("a negative number raised to a fractional power is not a real number")
        return _check_size(_number_op(op, a, b))
    if op == "+" and isinstance(a, tuple) and isinstance(b, tuple):
        return _check_size(a + b)
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return _check_size(a + b)
    if op == "*" and isinstance(a, tuple | str) and isinstance(b, int) and not isinstance(b, bool):
        if abs(b) > MAX_INT:  # Python cannot repeat a sequence that often, even an empty one
            raise _Fail("the repeat count is too large (more than 2**62)")
        if isinstance(a, str) and len(a) * max(b, 0) > MAX_STR:
            raise _Fail(f"the string is longer than {MAX_STR:,} characters")
        if len(a) * max(b, 0) > MAX_ITEMS:
            raise _Fail(f"the list would be longer than {MAX_ITEMS:,} items")
        return _check_size(a * b)
    if op == "*" and isinstance(b, tuple | str) and isinstance(a, int) and not isinstance(a, bool):
        return _arith(op, b, a)
    hint = None
    if isinstance(a, bool) or isinstance(b, bool):
        hint = "booleans are not numbers in netspec; use `1 if flag else 0`"
    raise _Fail(f"cannot apply {op!r} to {a_type(a)} and {a_type(b)}", hint=hint)


def _int_const(expr: n.Expr) -> int | None:
    if (
        isinstance(expr, n.Const)
        and isinstance(expr.value, int)
        and not isinstance(expr.value, bool)
    ):
        return expr.value
    return None


_INT_CALLS = frozenset({"len", "int", "make_divisible", "ceil", "floor"})

_LOCAL = "\N{PRIME}"
"""Marks the placeholder names of a comprehension's variables while its residual is built."""


def _integral(value: Any) -> bool:
    """Whether ``value`` is an integer: known values by their type, residuals by their shape.

    Unknown names are sizes and counts, integers; ``/``, floats and negative powers are not.
    Folding ``x // 1 → x`` or re-associating ``(x + 2) - 3`` is only exact for integers.
    """
    if isinstance(value, Sym) and value.known and _TRACE.get() is None:
        value = value._value  # its type: the same wherever the expression is evaluated
    if not isinstance(value, Sym):
        return isinstance(value, int) and not isinstance(value, bool)
    return _integral_expr(value.expr)


def _integral_expr(expr: n.Expr) -> bool:
    expr = n.strip(expr)
    if isinstance(expr, n.Name):
        trace = _TRACE.get()  # (traced, a name is an integer where the trace says so)
        if trace is not None:
            return expr.id in trace.integers
        return _LOCAL not in expr.id  # a comprehension's variable may hold anything
    if isinstance(expr, n.Attr | n.InputRef):
        return True
    if isinstance(expr, n.Const):
        return isinstance(expr.value, int) and not isinstance(expr.value, bool)
    if isinstance(expr, n.Unary):
        return _integral_expr(expr.operand)
    if isinstance(expr, n.Binary):
        if expr.op == "**":
            exponent = _int_const(expr.right)
            return exponent is not None and exponent >= 0 and _integral_expr(expr.left)
        return expr.op in _INTEGRAL_OPS and all(_integral_expr(e) for e in (expr.left, expr.right))
    if isinstance(expr, n.OpChain):
        return all(op in _INTEGRAL_OPS for op in expr.ops) and all(
            _integral_expr(e) for e in expr.values
        )
    if isinstance(expr, n.Index):
        # an item of a list of sizes, as a name is a size; a slice is a list
        return not isinstance(n.strip(expr.index), n.Slice)
    if isinstance(expr, n.IfExp):
        return _integral_expr(expr.body) and _integral_expr(expr.orelse)
    callee = n.strip(expr.func) if isinstance(expr, n.Call) else None
    if isinstance(expr, n.Call) and isinstance(callee, n.Name):
        func = callee.id
        if func in ("min", "max", "abs"):
            return all(_integral_expr(a) for a in expr.args)
        if func == "round":
            return len(expr.args) == 1 and not expr.kwargs
        return func in _INT_CALLS
    return False


_INTEGRAL_OPS = frozenset({"+", "-", "*", "//", "%"})
"""The operators that give an integer from integers."""


def _fold(op: str, a: Any, b: Any) -> n.Expr:
    """The residual of ``a op b`` with identities removed and literal arithmetic folded."""
    ea, eb = as_expr(a), as_expr(b)
    ca, cb = _int_const(ea), _int_const(eb)
    if ca is not None and cb is not None:
        try:
            folded = _arith(op, ca, cb)
        except _Fail:
            folded = None
        if isinstance(folded, int) and folded >= 0:
            return n.Const(folded)
    if cb == 0 and op in ("+", "-"):
        return ea
    if ca == 0 and op == "+":
        return eb
    if ca == 0 and op == "-":
        return n.Unary("-", eb)
    if cb == 1 and (op == "*" or op == "//" and _integral(a)):
        return ea
    if ca == 1 and op == "*":
        return eb
    # (x + 2) - 3 → x - 1: the shape of conv arithmetic with literal attributes
    if (
        op in ("+", "-")
        and cb is not None
        and isinstance(ea, n.Binary)
        and ea.op in ("+", "-")
        and _integral_expr(ea.left)
    ):
        inner = _int_const(ea.right)
        if inner is not None:
            total = (inner if ea.op == "+" else -inner) + (cb if op == "+" else -cb)
            if total == 0:
                return ea.left
            return n.Binary("+" if total > 0 else "-", ea.left, n.Const(abs(total)))
    if op == "**":
        return n.Binary(op, ea, eb)
    return n.chain((ea, eb), (op,), positioned=False)  # nested, or one flat node if long


def binary(op: str, a: Any, b: Any, bounded: bool = True) -> Any:
    """``a op b`` for an arithmetic operator, symbolic if either side is.

    Args:
        bounded: apply the language's limits (a spec's expression); without, the known value
            of a symbolic result is Python's (an operator rule's arithmetic on a ``Sym``).
    """
    if isinstance(a, Sym) or isinstance(b, Sym):
        value = UNKNOWN
        if known(a, b):
            if bounded and op == "**" and traced():  # (read: a power too large is refused
                return _arith(op, concrete(a), concrete(b))  # before it is computed)
            ca, cb = unread(a), unread(b)
            value = _arith(op, ca, cb) if bounded else _ARITH[op](ca, cb)
        result = Sym(_fold(op, a, b), value)
        if bounded:
            _within_bounds(result)
        return result
    return _arith(op, a, b)


def _within_bounds(result: Sym) -> None:
    """While tracing, guards that a spec's traced arithmetic stays within the bounds it
    refuses beyond (``_check_size``: an integer above 2**62, a float not finite): the
    result's kind, and ``abs(result)`` within that kind's bound."""
    trace = _TRACE.get()
    if trace is not None and result.known:
        value = result._value
        integer = type(value) is int
        trace.decided("int", result.expr, None, integer)
        limit = MAX_INT if integer else sys.float_info.max
        trace.decided("<=", n.Call(n.Name("abs"), (result.expr,)), limit, abs(value) <= limit)


def product(values: Any) -> Any:
    """The product of ``values``; symbolic operands stay visible (``channels * 7 * 7``)."""
    items = list(values)
    for v in items:
        if type(v) is not int:
            break
    else:  # plain integers, the common case (sizes)
        return math.prod(items)
    if len(items) > 1:  # a visible `* 1` says nothing
        items = [v for v in items if not _is_one(v)] or [1]
    if not any(isinstance(v, Sym) for v in items):
        total = 1
        for v in items:
            total = total * v
        return total
    if not items:
        return 1
    expr = as_expr(items[0])
    value = unread(items[0])
    for item in items[1:]:
        expr = n.Binary("*", expr, as_expr(item))
        value = UNKNOWN if value is UNKNOWN or not known(item) else value * unread(item)
    return Sym(expr, value)


def summed(values: Iterable[Any]) -> Any:
    """The sum of ``values``; the symbolic ones' expressions as one chain (a running sum of
    ``Sym``\\ s would copy the chain so far at every step: quadratic in a network's layers),
    the numbers added up last."""
    total: Any = 0
    terms: list[n.Expr] = []
    value: Any = 0
    for v in values:
        if isinstance(v, Sym):
            terms.append(v.expr)
            value = UNKNOWN if value is UNKNOWN or v._value is UNKNOWN else value + v._value
        else:
            total += v
    if not terms:
        return total
    if total != 0:
        terms.append(as_expr(total))
        value = UNKNOWN if value is UNKNOWN else value + total
    return Sym(n.chain(terms, ("+",) * (len(terms) - 1), positioned=False), value)


def _is_one(value: Any) -> bool:
    """Whether ``value`` is the number 1, a factor a product leaves out (not a traced
    ``Sym``: keeping a factor is right at any value)."""
    if isinstance(value, Sym) and _TRACE.get() is not None:
        return False
    raw = unread(value)
    return type(raw) is not bool and raw == 1


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "==":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op in ("in", "not in"):
        if not isinstance(b, tuple | dict | str):
            raise _Fail(f"'in' needs a list, mapping or string on its right, found {a_type(b)}")
        if isinstance(b, str) and not isinstance(a, str):
            raise _Fail(f"'in' a string needs a string on its left, found {a_type(a)}")
        result = a in b
        return result if op == "in" else not result
    ok = (_is_number(a) and _is_number(b)) or (type(a) is type(b) and isinstance(a, str | tuple))
    if not ok:
        raise _Fail(f"cannot compare {a_type(a)} with {a_type(b)} using {op!r}")
    try:
        return bool(
            {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}[op](a, b)
        )
    except TypeError:  # lists whose items cannot be ordered against each other
        raise _Fail(
            f"cannot compare {show(a)} with {show(b)} using {op!r}: their items differ in type"
        ) from None


# ---------------------------------------------------------------------------------------------
# built-in functions


def _int_arg(fn: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _Fail(f"{fn}() expects an integer, found {show(v)} ({type_name(v)})")
    return v


def _iterable(fn: str, v: Any) -> tuple[Any, ...]:
    if isinstance(v, tuple | str):
        return tuple(v)
    if isinstance(v, dict):
        return tuple(v)
    raise _Fail(f"{fn}() expects a list, found {show(v)} ({type_name(v)})")


def _minmax(fn: str, args: tuple[Any, ...]) -> Any:
    items = _iterable(fn, args[0]) if len(args) == 1 else args
    if not items:
        raise _Fail(f"{fn}() of an empty list")
    for item in items:
        if not _is_number(item):
            raise _Fail(f"{fn}() expects numbers, found {show(item)} ({type_name(item)})")
    return min(items) if fn == "min" else max(items)


def _range(*args: Any) -> tuple[int, ...]:
    if not 1 <= len(args) <= 3:
        raise _Fail(f"range() takes 1 to 3 arguments, found {len(args)}")
    ints = [_int_arg("range", a) for a in args]
    if len(ints) == 3 and ints[2] == 0:
        raise _Fail("range() step must not be zero")
    r = range(*ints)
    if len(r) > MAX_ITEMS:
        raise _Fail(f"range() is longer than {MAX_ITEMS:,} items")
    return tuple(r)


def _sum(items: Any, start: Any = 0) -> Any:
    total = start
    for item in _iterable("sum", items):
        # (a traced item stays an expression; unknown ones are refused, as before)
        total = binary("+", total, item) if traced() else _arith("+", total, item)
    return total


def _make_divisible(value: Any, divisor: Any, min_value: Any = None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor`` without dropping below 90%.

    The rule of MobileNet (and torchvision's ``_make_divisible``).
    """
    if not _is_number(value):
        raise _Fail(f"make_divisible() expects a number, found {show(value)}")
    d = _int_arg("make_divisible", divisor)
    if d <= 0:
        raise _Fail("make_divisible() divisor must be positive")
    low = d if min_value is None else _int_arg("make_divisible", min_value)
    new = max(low, int(value + d / 2) // d * d)
    if new < 0.9 * value:
        new += d
    return new


def _number_arg(fn: str, v: Any) -> int | float:
    if not _is_number(v):
        raise _Fail(f"{fn}() expects a number, found {show(v)} ({type_name(v)})")
    number: int | float = v
    return number


def _log(value: Any, base: Any = None) -> float:
    x = _number_arg("log", value)
    if x <= 0:
        raise _Fail(f"log() of {show(x)}: the logarithm is only defined for positive numbers")
    if base is None:
        return math.log(x)
    b = _number_arg("log", base)
    if b <= 0 or b == 1:
        raise _Fail(f"log() base {show(b)}: a base must be positive and not 1")
    return math.log(x, b)


def _sqrt(value: Any) -> float:
    x = _number_arg("sqrt", value)
    if x < 0:
        raise _Fail(f"sqrt() of {show(x)}: a negative number has no real square root")
    return math.sqrt(x)


def _sorted(items: Any, reverse: Any = False) -> tuple[Any, ...]:
    values = _iterable("sorted", items)
    if not isinstance(reverse, bool):
        raise _Fail(f"sorted() reverse must be true or false, found {show(reverse)}")
    if not (
        all(_is_number(v) for v in values)
        or all(isinstance(v, str) for v in values)
        or all(isinstance(v, tuple) for v in values)
    ):
        kinds = sorted({type_name(v) for v in values})
        raise _Fail(
            f"sorted() cannot order {' and '.join(kinds)} items against each other",
            hint="sort a list of numbers, of strings or of lists",
        )
    try:
        return tuple(sorted(values, reverse=reverse))
    except TypeError:  # lists whose items cannot be ordered against each other
        raise _Fail("sorted(): the lists' items differ in type and cannot be ordered") from None


@dataclass(frozen=True, slots=True)
class Builtin:
    """A function callable from specs, and how generated code calls it."""

    name: str
    fn: Callable[..., Any]
    min_args: int
    max_args: int
    doc: str
    source: str = ""
    """The function's definition for generated code, when it is not a Python built-in."""
    python: str = ""
    """The function generated code calls, when it is not ``name`` (``math.ceil``)."""
    iterator: bool = False
    """Python's function gives an iterator or a Python list where netspec's gives a list:
    generated code wraps the call in ``tuple(...)``, except as the iterable of a loop."""
    keywords: tuple[str, ...] = ()
    """The keyword arguments it takes (``sorted(xs, reverse=true)``)."""
    refuses: bool = False
    """It exists to refuse some values (``exact_div``): a ``let`` calling it is kept in
    generated code even where nothing reads its value."""
    truth: bool = False
    """It gives true or false whatever its arguments (``all``): generated code tests it with
    ``not``, as a comparison."""


def _b(
    name: str,
    fn: Callable[..., Any],
    lo: int,
    hi: int,
    doc: str,
    source: str = "",
    python: str = "",
    iterator: bool = False,
    keywords: tuple[str, ...] = (),
    refuses: bool = False,
    truth: bool = False,
) -> None:
    BUILTINS[name] = Builtin(
        name, fn, lo, hi, doc, source, python, iterator, keywords, refuses, truth
    )


BUILTINS: dict[str, Builtin] = {}
_b("min", lambda *a: _minmax("min", a), 1, 64, "smallest of its arguments (or of one list)")
_b("max", lambda *a: _minmax("max", a), 1, 64, "largest of its arguments (or of one list)")
_b("abs", lambda a: abs(a) if _is_number(a) else _arith("-", a, 0), 1, 1, "absolute value")
_b("len", lambda a: len(_iterable("len", a)), 1, 1, "length of a list")
_b(
    "range",
    _range,
    1,
    3,
    "the integers range(stop) / range(start, stop[, step]), as a list",
    iterator=True,
)
_b("sum", _sum, 1, 2, "sum of a list")
_b(
    "zip",
    lambda *a: tuple(zip(*[_iterable("zip", x) for x in a], strict=False)),
    1,
    8,
    "pairs up lists item by item",
    iterator=True,
)
_b(
    "enumerate",
    lambda a, s=0: tuple(enumerate(_iterable("enumerate", a), _int_arg("enumerate", s))),
    1,
    2,
    "(index, item) pairs of a list",
    iterator=True,
)
_b(
    "sorted",
    _sorted,
    1,
    1,
    "the items of a list in ascending order (`reverse=true`: descending)",
    iterator=True,
    keywords=("reverse",),
)
_b(
    "reversed",
    lambda a: tuple(reversed(_iterable("reversed", a))),
    1,
    1,
    "the items of a list in reverse order",
    iterator=True,
)
_b(
    "all",
    lambda a: all(_iterable("all", a)),
    1,
    1,
    "whether every item of a list is true",
    truth=True,
)
_b(
    "any",
    lambda a: any(_iterable("any", a)),
    1,
    1,
    "whether some item of a list is true",
    truth=True,
)
_b(
    "int",
    lambda a: int(a) if _is_number(a) else _fail_convert("int", a),
    1,
    1,
    "convert to an integer, rounding toward zero",
)
_b(
    "float",
    lambda a: float(a) if _is_number(a) else _fail_convert("float", a),
    1,
    1,
    "convert to a float",
)


def _round(a: Any, digits: Any = None) -> Any:
    """``round(a, digits)`` as Python's, refusing an integer rounded to more than 40 digits
    before the point: Python works out ``10 ** -digits`` for it (``round(1, -10**9)`` would
    not end — in the analysis, or in generated code that rounds a parameter). Integers a spec
    holds are below 10**31, so such a rounding could only give 0."""
    if not _is_number(a):
        return _fail_convert("round", a)
    if isinstance(a, int) and type(digits) is int and digits < -40:
        raise _Fail(
            f"round() of an integer to {digits} digits: at most 40 digits before the point",
            hint="an integer of a spec is below 10**31; round(x, -40) is already 0",
        )
    return round(a, digits)


_b(
    "round",
    _round,
    1,
    2,
    "round half to even, as Python does",
)
_b(
    "ceil",
    lambda a: math.ceil(_number_arg("ceil", a)),
    1,
    1,
    "the smallest integer not below a number (math.ceil)",
    python="math.ceil",
)
_b(
    "floor",
    lambda a: math.floor(_number_arg("floor", a)),
    1,
    1,
    "the largest integer not above a number (math.floor)",
    python="math.floor",
)
_b(
    "log",
    _log,
    1,
    2,
    "natural logarithm; log(x, base) in another base (math.log)",
    python="math.log",
)
_b("sqrt", _sqrt, 1, 1, "square root (math.sqrt)", python="math.sqrt")
_MAKE_DIVISIBLE = '''
def make_divisible(value: float, divisor: int, min_value: int | None = None) -> int:
    """Round to a multiple of divisor, never below 90% of value (as MobileNet does)."""
    low = divisor if min_value is None else min_value
    new = max(low, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new
'''
_b(
    "make_divisible",
    _make_divisible,
    2,
    3,
    "round a channel count to a multiple of `divisor`, never below 90% (MobileNet)",
    source=_MAKE_DIVISIBLE,
)


def _exact_div(a: Any, b: Any) -> int:
    """``a // b`` for integers, refusing a remainder (a size that must divide another)."""
    x, d = _int_arg("exact_div", a), _int_arg("exact_div", b)
    if d <= 0:
        raise _Fail(f"exact_div() divides by a positive integer, found {d}")
    if x % d:
        raise _Fail(
            f"exact_div(): {x} is not divisible by {d} (remainder {x % d})",
            hint=f"the nearest multiples of {d}: {x - x % d} and {x - x % d + d}",
        )
    return x // d


_EXACT_DIV = '''
def exact_div(a: int, b: int) -> int:
    """a // b, refusing a remainder (a size that must divide another)."""
    if b <= 0 or a % b:
        raise ValueError(f"exact_div(): {a} is not divisible by {b}")
    return a // b
'''
_b(
    "exact_div",
    _exact_div,
    2,
    2,
    "`a // b`, an error naming both unless `b` divides `a` (an image into patches)",
    source=_EXACT_DIV,
    refuses=True,
)


def _fail_convert(fn: str, a: Any) -> Any:
    raise _Fail(f"{fn}() expects a number, found {show(a)} ({type_name(a)})")


def _call_builtin(b: Builtin, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    unknown = [k for k in kwargs if k not in b.keywords] if kwargs else None
    if unknown and not b.keywords:
        raise _Fail(f"{b.name}() takes no keyword arguments")
    if unknown:
        raise _Fail(
            f"{b.name}() takes no keyword argument {unknown[0]!r}",
            hint="its keyword arguments: " + ", ".join(b.keywords),
        )
    if not b.min_args <= len(args) <= b.max_args:
        want = str(b.min_args) if b.min_args == b.max_args else f"{b.min_args} to {b.max_args}"
        noun = "argument" if want == "1" else "arguments"
        raise _Fail(f"{b.name}() takes {want} {noun}, found {len(args)}")
    try:
        return _check_size(b.fn(*args, **kwargs))
    except _Fail:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise _Fail(f"{b.name}(): {exc}") from None


# ---------------------------------------------------------------------------------------------
# the evaluator


def evaluate(node: n.Expr, scope: Scope) -> Any:
    """The value of ``node`` in ``scope``.

    Raises:
        ExprError: positioned at the sub-expression that failed.
    """
    # most arguments are a name or a literal: answered without setting up a step budget
    inner = node
    while type(inner) is n.Located:
        inner = inner.node
    kind = type(inner)
    if kind is n.Const:
        return cast(n.Const, inner).value
    if kind is n.Name:
        ident = cast(n.Name, inner).id
        scope_: Scope | None = scope
        while scope_ is not None:
            if ident in scope_.names:
                return scope_.names[ident]
            scope_ = scope_.parent
        # undefined: the full path below says so, positioned
    token = _BUDGET.set([MAX_STEPS])
    try:
        return _eval(node, scope)
    except _Fail as exc:  # no Located wrapper on the way up: no position to give
        raise ExprError(exc.message, hint=exc.hint) from None
    finally:
        _BUDGET.reset(token)


def _eval(node: n.Expr, scope: Scope) -> Any:
    return _DISPATCH[type(node)](node, scope)


def evaluate_in(node: n.Expr, origin: n.Origin, scope: Scope) -> Any:
    """``evaluate(n.Located(node, origin), scope)`` without making the wrapper: ``node`` is a
    part of the text of ``origin`` (a call's argument), where errors are positioned.

    Raises:
        ExprError: positioned at the sub-expression that failed.
    """
    token = _BUDGET.set([MAX_STEPS])
    try:
        return _at(node, origin, scope)
    finally:
        _BUDGET.reset(token)


def _located(node: n.Located, scope: Scope) -> Any:
    return _at(node.node, node.origin, scope)


def _at(node: n.Expr, origin: n.Origin, scope: Scope) -> Any:
    try:
        return _eval(node, scope)
    except _Fail as exc:
        failed = exc.node if exc.node is not None else node
        span = origin.span_at(failed.start, failed.end)
        raise ExprError(exc.message, span, hint=exc.hint) from None


def _const(node: n.Const, scope: Scope) -> Any:
    return node.value


def _name(node: n.Name, scope: Scope) -> Any:
    ident = node.id
    frame: Scope | None = scope
    while frame is not None:
        names = frame.names
        if ident in names:
            return names[ident]
        frame = frame.parent
    if node.id in BUILTINS:
        raise _Fail(f"{node.id} is a function; call it, as in {node.id}(…)", node)
    visible = scope.visible()
    raise _Fail(f"undefined name {node.id!r}", node, hint=_name_hint(node.id, visible))


def _name_hint(name: str, visible: set[str]) -> str:
    guess = did_you_mean(name, visible | set(BUILTINS))
    known_names = ", ".join(sorted(visible)[:10]) if visible else "none"
    base = f"{guess} " if guess else ""
    tail = "; strings need quotes, as in 'M'" if not guess else ""
    return f"{base}names in scope: {known_names}{tail}"


INPUT_READS: ContextVar[set[str] | None] = ContextVar("netspec_input_reads", default=None)
"""The observer of what expressions read of ``in``, where one is set: it receives the name of
each attribute read (``in.channels``: ``channels``), or ``*`` where ``in`` itself is taken as a
value (everything of it may be read). The expander sets one per expansion, and one while it
binds a layer's arguments (a context variable: expansions in other threads keep their own)."""


def _input(node: n.InputRef, scope: Scope) -> Any:
    if scope.input is None:
        raise _Fail("`in` (the input shape) is only available inside a block", node)
    reads = INPUT_READS.get()
    if reads is not None:
        reads.add("*")
    return scope.input


def _attr(node: n.Attr, scope: Scope) -> Any:
    inner = node.value
    if type(inner) is n.InputRef and scope.input is not None:
        value = scope.input  # `in.<attribute>`: what is read is the attribute, noted below
    else:
        value = _eval(inner, scope)
    if isinstance(value, Sym) and not value.known:
        return Sym(n.Attr(value.expr, node.attr))
    if isinstance(value, InputShape):
        if type(inner) is n.InputRef:
            reads = INPUT_READS.get()
            if reads is not None:
                reads.add(node.attr)
        try:
            return value.attribute(node.attr)
        except _Fail as exc:
            exc.node = node
            raise
    raise _Fail(f"{a_type(value)} has no attribute {node.attr!r}", node)


def _index(node: n.Index, scope: Scope) -> Any:
    value = _eval(node.value, scope)
    part = n.strip(node.index)
    if isinstance(part, n.Slice):
        return _slice(node, part, value, scope)
    index = _eval(node.index, scope)
    if isinstance(value, Sym) or isinstance(index, Sym):
        result = UNKNOWN
        if known(value, index):
            result = _index_value(node, concrete(value), concrete(index))
            if traced():  # the index read (pinned): the item holds where it does
                return result
        return Sym(n.Index(as_expr(value), as_expr(index)), result)
    return _index_value(node, value, index)


def _index_value(node: n.Index, value: Any, index: Any) -> Any:
    if isinstance(value, tuple | str):
        if isinstance(index, bool) or not isinstance(index, int):
            raise _Fail(f"a list index must be an integer, found {show(index)}", node.index)
        if not -len(value) <= index < len(value):
            raise _Fail(
                f"index {index} is out of range for a list of {len(value)} items",
                node.index,
                hint=f"valid indices are 0 to {len(value) - 1}" if value else "the list is empty",
            )
        return value[index]
    if isinstance(value, dict):
        if index in value:
            return value[index]
        keys = [show(k) for k in value]
        raise _Fail(
            f"key {show(index)} is not in the mapping",
            node.index,
            hint=f"keys: {', '.join(keys[:12])}",
        )
    raise _Fail(f"{a_type(value)} cannot be indexed", node)


def _slice(node: n.Index, part: n.Slice, value: Any, scope: Scope) -> Any:
    nodes = (part.lower, part.upper, part.step)
    bounds = tuple(None if p is None else _eval(p, scope) for p in nodes)
    if isinstance(value, Sym) or any(isinstance(b, Sym) for b in bounds):
        result = UNKNOWN
        if known(value, *bounds):
            result = _slice_value(node, nodes, concrete(value), tuple(map(concrete, bounds)))
            if traced():  # the bounds read (pinned): the items hold where they do
                return result
        residual = n.Slice(
            *(None if p is None else as_expr(b) for p, b in zip(nodes, bounds, strict=True))
        )
        return Sym(n.Index(as_expr(value), residual), result)
    return _slice_value(node, nodes, value, bounds)


def _slice_value(
    node: n.Index, nodes: tuple[n.Expr | None, ...], value: Any, bounds: tuple[Any, ...]
) -> Any:
    if not isinstance(value, tuple | str):
        raise _Fail(
            f"{a_type(value)} cannot be sliced",
            node,
            hint="slices such as xs[1:], xs[:-1] and xs[::2] take part of a list or string",
        )
    for part, bound in zip(nodes, bounds, strict=True):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
            raise _Fail(
                f"a slice bound must be an integer (or none), found {show(bound)}",
                part,
                hint=None if not _is_number(bound) else "round it with int(…)",
            )
    if bounds[2] == 0:
        raise _Fail("a slice step must not be zero", nodes[2])
    return _check_size(value[slice(*bounds)])


def _call(node: n.Call, scope: Scope) -> Any:
    func = node.func
    if not isinstance(func, n.Name):
        raise _Fail("only named functions can be called", node)
    builtin = BUILTINS.get(func.id)
    if builtin is None:
        try:
            scope.lookup(func.id)
            raise _Fail(f"{func.id!r} is a value, not a function", func)
        except KeyError:
            pass
        raise _Fail(
            f"unknown function {func.id!r}",
            func,
            hint="layers cannot be used inside expressions; functions: "
            + ", ".join(sorted(BUILTINS)),
        )
    args = tuple([_eval(a, scope) for a in node.args])
    if not node.kwargs:
        for a in args:  # (a loop: a generator costs more than the test on one or two)
            if isinstance(a, Sym):
                break
        else:  # the common case: known positional arguments
            try:
                return _call_builtin(builtin, args, {})
            except _Fail as exc:
                if exc.node is None:
                    exc.node = node
                raise
    kwargs = {k: _eval(v, scope) for k, v in node.kwargs}
    if any(isinstance(a, Sym) for a in args + tuple(kwargs.values())):
        value = UNKNOWN
        if not kwargs and func.id in TRACED_CALLS and _traced_numbers(args):
            # a function of numbers only: the call stays in the trace's expression, as
            # arithmetic does (pinning its arguments would tie the trace to their values)
            value = _with_node(node, _call_builtin, builtin, tuple(unread(a) for a in args), {})
            result = Sym(n.Call(func, tuple(as_expr(a) for a in args)), value)
            _within_bounds(result)
            return result
        if known(*args, *kwargs.values()):
            value = _with_node(
                node,
                _call_builtin,
                builtin,
                tuple(concrete(a) for a in args),
                {k: concrete(v) for k, v in kwargs.items()},
            )
            if traced():  # its arguments read (pinned): the value holds where they do
                return value
        residual = n.Call(
            func, tuple(as_expr(a) for a in args), tuple((k, as_expr(v)) for k, v in kwargs.items())
        )
        return Sym(residual, value)
    return _with_node(node, _call_builtin, builtin, args, kwargs)


TRACED_CALLS = frozenset(
    {"min", "max", "abs", "int", "float", "round", "ceil", "floor", "make_divisible"}
)
"""Functions of numbers a traced value passes through unpinned (see :class:`Trace`): their
result is a number whatever the numbers given, and a program that calls the same function
computes it (:mod:`~netspec.expand.program`)."""


def call_function(name: str, *args: Any) -> Any:
    """The spec function ``name`` (one of :data:`TRACED_CALLS`) called on numbers as a spec's
    expression calls it, its refusal a ``ValueError``: for programs that compute what a trace
    recorded (:mod:`~netspec.expand.program`)."""
    try:
        return _call_builtin(BUILTINS[name], args, {})
    except _Fail as exc:
        raise ValueError(exc.message) from None


def _traced_numbers(args: tuple[Any, ...]) -> bool:
    """Whether ``args`` are numbers, one at least a traced :class:`Sym` (a known value while
    :func:`tracing`)."""
    if not traced():
        return False
    for a in args:
        raw = unread(a)
        if raw is UNKNOWN or type(raw) not in _NUMBERS or isinstance(a, SymList | SymText):
            return False
    return True


def _with_node(node: n.Expr, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except _Fail as exc:
        if exc.node is None:
            exc.node = node
        raise


def _unary(node: n.Unary, scope: Scope) -> Any:
    value = _eval(node.operand, scope)
    if isinstance(value, Sym):
        result = _with_node(node, _unary_value, node.op, value.value) if value.known else UNKNOWN
        return Sym(n.Unary(node.op, value.expr), result)
    return _with_node(node, _unary_value, node.op, value)


def _unary_value(op: str, value: Any) -> Any:
    if not _is_number(value):
        raise _Fail(f"cannot apply unary {op!r} to {a_type(value)}")
    return -value if op == "-" else value


def _binary(node: n.Binary, scope: Scope) -> Any:
    a = _eval(node.left, scope)
    b = _eval(node.right, scope)
    if type(a) in _NUMBERS and type(b) in _NUMBERS:  # plain numbers: no residual to build
        op = node.op
        try:
            if op in _PLAIN:  # (as _arith computes them, without its tests for the others)
                return _check_size(_number_op(op, a, b))
            return _arith(op, a, b)
        except _Fail as exc:
            if exc.node is None:
                exc.node = node
            raise
    return _with_node(node, binary, node.op, a, b)


_NUMBERS = frozenset({int, float})

_PLAIN = frozenset({"+", "-", "*"})
"""The operators :func:`_arith` tests nothing for on two numbers (no zero divisor, no power
out of range)."""


def _chain(node: n.OpChain, scope: Scope) -> Any:
    """A long chain ``a + b - c …`` in a loop, left to right as Python computes it, one step of
    the budget per operator. What the operands before the first symbolic one give is computed
    (most often they all are known); from there, see :func:`_chain_residual`."""
    values = node.values
    _with_node(node, _charge, len(node.ops))
    value = _eval(values[0], scope)
    for i in range(1, len(values)):
        item = _eval(values[i], scope)
        if isinstance(value, Sym) or isinstance(item, Sym):
            return _chain_residual(node, i, value, item, scope)
        value = _chain_step(node, i, value, item)
    return value


def _chain_step(node: n.OpChain, i: int, a: Any, b: Any) -> Any:
    """``a`` (what ``values[:i]`` gave) combined with ``values[i]``'s value ``b``, a failure
    positioned at the chain up to ``values[i]``, as its nested operation's would be."""
    try:
        return _arith(node.ops[i - 1], a, b)
    except _Fail as exc:
        if exc.node is None:
            exc.node = n.chain(node.values[: i + 1], node.ops[:i])
        raise


def _chain_residual(node: n.OpChain, i: int, first: Any, item: Any, scope: Scope) -> Sym:
    """The rest of a chain from operand ``i`` (whose value is ``item``), after what the ones
    before it gave (``first``), one of them symbolic: the residual is the rest as written, its
    value computed while every operand is known. Nothing is folded: a residual of 10,000
    operands is built in one pass, not in 10,000 steps that each copy it."""
    exprs = [as_expr(first), as_expr(item)]
    value = _chain_step(node, i, concrete(first), concrete(item)) if known(first, item) else UNKNOWN
    for j in range(i + 1, len(node.values)):
        item = _eval(node.values[j], scope)
        exprs.append(as_expr(item))
        if value is not UNKNOWN:
            value = _chain_step(node, j, value, concrete(item)) if known(item) else UNKNOWN
    residual = n.chain(exprs, node.ops[i - 1 :], positioned=False)
    depth = _source_depth(residual)
    if depth > MAX_SOURCE_DEPTH:
        raise _Fail(
            f"the expression is too long to write into generated code: Python nests a chain's "
            f"operations, this one {depth:,} deep, and its compiler stops at about 3,000",
            node,
            hint=f"generated code holds at most {MAX_SOURCE_DEPTH:,} levels; add up a list "
            "instead, as in sum([a, b, c])",
        )
    return Sym(residual, value)


def _source_depth(node: n.Expr) -> int:
    """How deep Python's tree of ``node`` written as source is: a chain of ``k`` operands is
    ``k - 1`` nested operations there, its first operand the deepest."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(node, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, n.OpChain):
            last = len(item.values) - 1
            stack += [(v, level + last - max(k, 1) + 1) for k, v in enumerate(item.values)]
            continue
        for slot in getattr(item, "__slots__", ()):
            child = getattr(item, slot, None)
            if isinstance(child, n.Expr):
                stack.append((child, level + 1))
            elif isinstance(child, tuple):
                stack += [(c, level + 1) for c in child if isinstance(c, n.Expr)]
                stack += [(c[1], level + 1) for c in child if isinstance(c, tuple) and len(c) == 2]
    return deepest


def _not(node: n.Not, scope: Scope) -> Any:
    value = _eval(node.operand, scope)
    if isinstance(value, Sym) and not value.known:
        return Sym(n.Not(value.expr))
    if isinstance(value, Sym):
        return Sym(n.Not(value.expr), not value.value)
    return not _truth(value)


def _truth(value: Any) -> bool:
    if isinstance(value, Sym):
        # a known value's truth is a decision (a guard while tracing), not a value read
        return bool(value) if value.known else bool(value.value)
    return bool(value)


def _boolop(node: n.BoolOp, scope: Scope) -> Any:
    if len(node.values) > n.NESTED:  # a long chain steps once per operator, as OpChain does
        _with_node(node, _charge, len(node.values) - 1)
    result: Any = None
    residual: list[n.Expr] = []
    for item in node.values:
        value = _eval(item, scope)
        if isinstance(value, Sym) and not value.known:
            residual.append(value.expr)
            result = value
            continue
        if residual:  # after an unknown operand, the rest stays in the residual
            residual.append(as_expr(value))
            continue
        result = value
        if node.op == "and" and not _truth(value):
            return value
        if node.op == "or" and _truth(value):
            return value
    if residual:
        if len(residual) == 1:
            return result
        return Sym(n.BoolOp(node.op, tuple(residual)))
    return result


def _compare_node(node: n.Compare, scope: Scope) -> Any:
    if len(node.ops) >= n.NESTED:  # a long chain steps once per operator, as OpChain does
        _with_node(node, _charge, len(node.ops))
    values = [_eval(node.left, scope)]
    false = False  # a link known to be false: the chain is, whatever follows
    for i, comparator in enumerate(node.comparators):
        if false:  # Python stops here; the residual keeps the rest as written
            try:
                values.append(_eval(comparator, scope))
            except _Fail:
                values.append(Sym(n.strip(comparator)))
            continue
        values.append(_eval(comparator, scope))
        a, b = values[i], values[i + 1]
        # (values unread: the result is a Sym whose truth, when taken, is the decision)
        if known(a, b) and not _compare_values(node, [unread(a), unread(b)], node.ops[i:][:1]):
            if not any(isinstance(v, Sym) for v in values):
                return False
            false = True
    if not any(isinstance(v, Sym) for v in values):
        return True
    result: Any = False if false else UNKNOWN
    if not false and known(*values):
        result = _compare_values(node, [unread(v) for v in values])
    residual = n.Compare(as_expr(values[0]), node.ops, tuple(as_expr(v) for v in values[1:]))
    return Sym(residual, result)


def _compare_values(node: n.Compare, values: list[Any], ops: tuple[str, ...] | None = None) -> bool:
    for i, op in enumerate(node.ops if ops is None else ops):
        try:
            ok = _compare(op, values[i], values[i + 1])
        except _Fail as exc:
            exc.node = node
            raise
        if not ok:
            return False
    return True


def _ifexp(node: n.IfExp, scope: Scope) -> Any:
    test = _eval(node.test, scope)
    if isinstance(test, Sym) and not test.known:
        body = _eval(node.body, scope)
        orelse = _eval(node.orelse, scope)
        return Sym(n.IfExp(test.expr, as_expr(body), as_expr(orelse)))
    return _eval(node.body if _truth(test) else node.orelse, scope)


def _list(node: n.ListExpr, scope: Scope) -> Any:
    items = tuple(_eval(i, scope) for i in node.items)
    if any(isinstance(i, Sym) and not i.known for i in items):
        return Sym(n.ListExpr(tuple(as_expr(i) for i in items)))
    if any(isinstance(i, Sym) for i in items) and not traced():  # (traced: a list of them)
        return Sym(n.ListExpr(tuple(as_expr(i) for i in items)), tuple(concrete(i) for i in items))
    return _check_size(items)


class _Undecided(Exception):
    """A comprehension needs a value not known until the generated code runs (an iterable, a
    condition): it can only be written out as a comprehension."""


def _listcomp(node: n.ListComp, scope: Scope) -> Any:
    """A comprehension: evaluated item by item when its iterables and conditions are known.

    With symbolic operands its residual is the same comprehension, written in terms of the
    names it reads (or, if that cannot be written, the list of its items' residuals).
    """
    items: list[Any] = []
    seen = [False]  # whether a symbolic iterable or condition took part
    try:
        _comprehend(node, 0, scope, items, seen)
    except _Undecided:
        residual = _comprehension_residual(node, scope)
        return () if residual is None else Sym(residual)
    if not seen[0] and not any(isinstance(i, Sym) for i in items):
        return _with_node(node, _check_size, tuple(items))
    value = UNKNOWN
    if known(*items):
        if traced():  # a list of its items, traced or not (its iterables and tests decided)
            return _with_node(node, _check_size, tuple(items))
        value = _with_node(node, _check_size, tuple(concrete(i) for i in items))
    try:
        expr = _comprehension_residual(node, scope)
    except _Fail:  # a part fails for some values: write out the items computed
        expr = n.ListExpr(tuple(as_expr(i) for i in items))
    return Sym(n.ListExpr(()) if expr is None else expr, value)


def _comprehend(node: n.ListComp, k: int, scope: Scope, items: list[Any], seen: list[bool]) -> None:
    """Append the items of clauses ``k``… of ``node`` in ``scope`` to ``items``."""
    if k == len(node.clauses):  # (a comprehension has a clause: not reached from _listcomp)
        _element(node, scope, items)
        return
    clause = node.clauses[k]
    iterable = _eval(clause.iterable, scope)
    if isinstance(iterable, Sym):
        seen[0] = True
        if not iterable.known:
            raise _Undecided
        iterable = iterable.value
    budget = _BUDGET.get()
    last = k + 1 == len(node.clauses)  # the innermost clause: its items are elements
    conditions = clause.conditions
    target = clause.targets[0] if len(clause.targets) == 1 else None
    for item in _comprehension_items(clause, iterable):
        if budget is not None:  # one step per item (as _charge(1) counts it, inline)
            budget[0] -= 1
            if budget[0] < 0:
                _with_node(node, _charge, 0)  # raises: the budget is spent
        frame = Scope.frame({target: item} if target else _bind(clause, item, seen), scope)
        for condition in conditions:
            test = _eval(condition, frame)
            if isinstance(test, Sym):
                seen[0] = True
                if not test.known:
                    raise _Undecided
            if not _truth(test):
                break
        else:
            if last:
                _element(node, frame, items)
            else:
                _comprehend(node, k + 1, frame, items, seen)


def _element(node: n.ListComp, scope: Scope, items: list[Any]) -> None:
    """Append the element of ``node`` in ``scope`` (its innermost frame) to ``items``."""
    items.append(_eval(node.element, scope))
    if len(items) > MAX_ITEMS:
        raise _Fail(f"the comprehension gives more than {MAX_ITEMS:,} items", node)


def _comprehension_items(clause: n.CompFor, iterable: Any) -> tuple[Any, ...]:
    if isinstance(iterable, tuple | str | dict):
        return tuple(iterable)
    raise _Fail(
        f"a comprehension needs a list to iterate over, found {_brief(iterable)} "
        f"({type_name(iterable)})",
        clause.iterable,
    )


def _bind(clause: n.CompFor, item: Any, seen: list[bool]) -> dict[str, Any]:
    names = clause.targets
    if len(names) == 1:
        return {names[0]: item}
    if isinstance(item, Sym):
        seen[0] = True
        if not item.known:
            raise _Undecided
        item = item.value
    if not isinstance(item, tuple) or len(item) != len(names):
        raise _Fail(
            f"cannot unpack {_brief(item)} into {len(names)} names ({', '.join(names)})",
            clause,
            hint=f"each item must be a list of {len(names)}, as zip(…) and enumerate(…) give",
        )
    return dict(zip(names, item, strict=True))


def _comprehension_residual(node: n.ListComp, scope: Scope) -> n.Expr | None:
    """``node`` with what is known folded in, its variables unknown; ``None`` when a condition
    is known to be false (the list is empty)."""
    frame = scope
    clauses: list[n.CompFor] = []
    local: dict[str, str] = {}  # placeholder → the variable's name
    for clause in node.clauses:
        iterable = _eval(clause.iterable, frame)
        if not isinstance(iterable, Sym):
            _comprehension_items(clause, iterable)  # fails as the evaluation would
        placeholders = []
        for target in clause.targets:
            placeholder = f"{target}{_LOCAL}{len(local)}"
            local[placeholder] = target
            placeholders.append(placeholder)
        frame = frame.child(
            {t: Sym(n.Name(p)) for t, p in zip(clause.targets, placeholders, strict=True)}
        )
        conditions = []
        for condition in clause.conditions:
            test = _eval(condition, frame)
            if isinstance(test, Sym) and not test.known:
                conditions.append(test.expr)
            elif not _truth(test):
                return None
        clauses.append(n.CompFor(tuple(placeholders), as_expr(iterable), tuple(conditions)))
    residual = n.ListComp(as_expr(_eval(node.element, frame)), tuple(clauses))
    # each variable keeps its name unless the residual already uses that name
    taken = n.free_names(residual) | n.bound_names(residual)
    names: dict[str, str] = {}
    for placeholder, target in local.items():
        name, i = target, 0
        while name in taken:
            i += 1
            name = f"{target}_{i}"
        taken.add(name)
        names[placeholder] = name
    renamed: n.ListComp = _rename(residual, names)
    return renamed


def _rename(node: Any, names: dict[str, str]) -> Any:
    """``node`` with the placeholders in ``names`` renamed, where bound and where read (they
    are unique, so no scope needs minding)."""
    if isinstance(node, n.Name):
        return n.Name(names.get(node.id, node.id))
    if isinstance(node, n.CompFor):
        return n.CompFor(
            tuple(names.get(t, t) for t in node.targets),
            _rename(node.iterable, names),
            tuple(_rename(c, names) for c in node.conditions),
        )
    if isinstance(node, n.Expr):
        changes = {}
        for field in dataclasses.fields(node):
            if field.name in ("start", "end", "func"):
                continue
            changes[field.name] = _rename(getattr(node, field.name), names)
        return dataclasses.replace(node, **changes)
    if isinstance(node, tuple):
        return tuple(_rename(item, names) for item in node)
    return node


def _brief(value: Any, depth: int = 0) -> str:
    """``show(value)``, shortened: at most a few items of each list."""
    if isinstance(value, tuple):
        if depth > 2:
            return "[…]"
        head = ", ".join(_brief(v, depth + 1) for v in value[:4])
        return "[" + head + (", …" if len(value) > 4 else "") + "]"
    text = show(value) if not isinstance(value, dict) else "{…}"
    return text if len(text) <= 40 else text[:39] + "…"


def _not_alone(node: n.Expr, scope: Scope) -> Any:
    raise _Fail("a slice or a comprehension's `for` is only written inside brackets", node)


def _dict(node: n.DictExpr, scope: Scope) -> Any:
    keys = [_eval(k, scope) for k in node.keys]
    values = [_eval(v, scope) for v in node.values]
    if traced() and known(*keys, *values):  # keys read (pinned), values kept
        return dict(zip([concrete(k) for k in keys], values, strict=True))
    if any(isinstance(x, Sym) for x in keys + values):
        value = UNKNOWN
        if known(*keys, *values):
            value = dict(
                zip([concrete(k) for k in keys], [concrete(v) for v in values], strict=True)
            )
        return Sym(
            n.DictExpr(tuple(as_expr(k) for k in keys), tuple(as_expr(v) for v in values)), value
        )
    return dict(zip(keys, values, strict=True))


_DISPATCH: dict[type, Callable[[Any, Scope], Any]] = {
    n.Located: _located,
    n.Const: _const,
    n.Name: _name,
    n.InputRef: _input,
    n.Attr: _attr,
    n.Index: _index,
    n.Call: _call,
    n.Unary: _unary,
    n.Binary: _binary,
    n.OpChain: _chain,
    n.Not: _not,
    n.BoolOp: _boolop,
    n.Compare: _compare_node,
    n.IfExp: _ifexp,
    n.ListExpr: _list,
    n.ListComp: _listcomp,
    n.DictExpr: _dict,
    n.Slice: _not_alone,
    n.CompFor: _not_alone,
}


def iterate(value: Any, what: str = "loop") -> Iterator[Any]:
    """The items a ``for`` loop visits in ``value`` (a list, a mapping's keys, a string)."""
    if isinstance(value, tuple | str):
        return iter(value)
    if isinstance(value, dict):
        return iter(value)
    raise ExprError(
        f"a {what} needs a list to iterate over, found {show(value)} ({type_name(value)})"
    )


def fail(message: str, node: n.Expr | None = None, hint: str | None = None) -> _Fail:
    """An evaluation failure to raise from code that runs inside :func:`evaluate`."""
    return _Fail(message, node, hint)
