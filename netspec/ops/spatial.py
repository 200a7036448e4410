"""The one spatial-size rule shared by every convolution and pooling operator.

PyTorch computes each output size as

    out = ⌊(in + pad_before + pad_after − dilation·(kernel − 1) − 1 [+ stride − 1]) / stride⌋ + 1

(the bracketed term in ceil mode only)
and, in ceil mode, drops the last window if it would start inside the right padding
(``(out − 1)·stride ≥ in + pad_before``). Both are here once, for numbers and for symbols.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from netspec.expr import nodes as n
from netspec.expr.evaluate import (
    COMPARISONS,
    Sym,
    SymbolicError,
    SymEither,
    SymList,
    SymText,
    as_expr,
    binary,
    concrete,
    known,
)
from netspec.ops.base import Dim, OpError, items

LAYOUTS = {
    1: "channels × length",
    2: "channels × height × width",
    3: "channels × depth × height × width",
}
"""The input layout, in words, of an operator with 1, 2 or 3 spatial dimensions."""
AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
"""The spatial axes' letters, by the number of spatial dimensions."""


class Ranked:
    """A mixin for operators over a ``channels × spatial`` input with ``rank`` spatial
    dimensions: a subclass that sets ``rank`` gets its ``layout`` and ``axes`` from it."""

    rank: ClassVar[int]
    layout: ClassVar[str]
    axes: ClassVar[tuple[str, ...]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "rank" in cls.__dict__:
            cls.layout = LAYOUTS[cls.rank]
            cls.axes = AXES[cls.rank]


def ntuple(
    value: Any, count: int, attr: str, op: str, per: str = "one per spatial dimension"
) -> tuple[Any, ...]:
    """``value`` as one entry per spatial dimension: ``3 → (3, 3)``, ``(3, 5) → (3, 5)``
    (``per`` says what the entries are, for messages)."""
    if isinstance(value, Sym):
        inner = concrete(value)
        if isinstance(value.expr, n.ListExpr):
            found = len(value.expr.items)
            if found != count:
                raise OpError(f"{op}: {attr} needs {count} values, found {found}", attr=attr)
            # each entry symbolic, its value known where the list's is (or where it is a
            # literal): an entry of a list that reads the input is not known until run time
            return items(value)
        if isinstance(inner, tuple):
            return tuple(Sym(n.Index(value.expr, n.Const(i)), v) for i, v in enumerate(inner))
        if isinstance(value, SymEither):  # a number for some values, a list for others
            number = n.ListExpr((n.Name("int"), n.Name("float")))
            single = n.Call(n.Name("isinstance"), (value.expr, number))
            return tuple(
                Sym(n.IfExp(single, value.expr, n.Index(value.expr, n.Const(i))))
                for i in range(count)
            )
        if isinstance(value, SymList):  # one per dimension, or PyTorch refuses the list
            return tuple(Sym(n.Index(value.expr, n.Const(i))) for i in range(count))
        if isinstance(value, SymText):  # 'same' or 'valid': the sizes depend on which
            raise SymbolicError(value)
        if not known(value):
            return (value,) * count
        return ntuple(inner, count, attr, op, per) if isinstance(inner, tuple) else (value,) * count
    if isinstance(value, tuple | list):
        if len(value) != count:
            raise OpError(
                f"{op}: {attr} needs {count} value{'s' if count > 1 else ''} ({per}), "
                f"found {len(value)}",
                attr=attr,
            )
        return tuple(value)
    return (value,) * count


def padding_pairs(value: Any, count: int, op: str) -> tuple[tuple[Any, Any], ...]:
    """Padding as ``(before, after)`` per spatial dimension.

    Accepts an integer (all sides), one integer per dimension (symmetric), or one
    ``[before, after]`` pair per dimension (asymmetric).
    """
    if isinstance(value, str):
        if value == "valid":
            return ((0, 0),) * count
        raise AssertionError(value)  # "same" is handled by the caller
    items = ntuple(value, count, "padding", op)
    pairs = []
    for item in items:
        if isinstance(item, tuple | list):
            if len(item) != 2:
                raise OpError(
                    f"{op}: a padding pair is [before, after], found {len(item)} values",
                    attr="padding",
                )
            pairs.append((item[0], item[1]))
        else:
            pairs.append((item, item))
    return tuple(pairs)


def is_asymmetric(pairs: tuple[tuple[Any, Any], ...]) -> bool:
    """Whether any dimension pads its two sides differently (or maybe differently)."""
    return any(as_expr(a) != as_expr(b) for a, b in pairs)


def out_size(
    size: Dim,
    kernel: Any,
    stride: Any,
    before: Any,
    after: Any,
    dilation: Any = 1,
    ceil_mode: Any = False,
) -> Dim:
    """PyTorch's output size of one spatial dimension (see the module docstring).

    ``ceil_mode`` may be symbolic (a constructor argument of generated code): the size is then
    ``ceil_size if ceil_mode else floor_size``, each worked out where ``ceil_mode`` has that
    value (a size that came out of an earlier such window is decided), or the one size where
    both are the same.
    """
    args = (size, kernel, stride, before, after, dilation)
    if isinstance(ceil_mode, Sym) and not ceil_mode.known:
        ceil, floor = (
            _by_cases(_rule(mode), tuple(_assume(v, ceil_mode, mode) for v in args))
            for mode in (True, False)
        )
        return _either(ceil_mode, ceil, floor)
    if concrete(ceil_mode):
        return _by_cases(_rule(True), args)
    return _rounded(*args, ceil_mode=False)


def _rule(ceil_mode: bool) -> Callable[..., Dim]:
    """The rule rounding one way, for :func:`_by_cases`."""
    return lambda *args: _rounded(*args, ceil_mode=ceil_mode)


def _rounded(
    size: Dim, kernel: Any, stride: Any, before: Any, after: Any, dilation: Any, *, ceil_mode: bool
) -> Dim:
    """The rule itself, rounding down or (``ceil_mode``) up."""
    span = dilation * (kernel - 1) + 1
    numerator = size + before + after - span
    if not ceil_mode:
        return numerator // stride + 1
    out = (numerator + stride - 1) // stride + 1
    last_start = (out - 1) * stride
    limit = size + before
    if known(last_start, limit):
        return out - 1 if last_start >= limit else out
    test = n.Compare(as_expr(last_start), (">=",), (as_expr(limit),))
    return Sym(n.IfExp(test, as_expr(out - 1), as_expr(out)))


_ARITH = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "//": operator.floordiv,
    "%": operator.mod,
}
_COMPARE = COMPARISONS


def _assume(value: Any, flag: Sym, truth: bool) -> Any:
    """``value`` where ``flag`` is ``truth``: every ``a if flag else b`` (and ``not flag``) in
    its expression is decided, and what that makes known is folded (``(4 if c else 3) - 1``
    where ``c`` is true is ``3``). Sound for any ``flag``: an expression has one value where it
    is evaluated, so every occurrence of ``flag`` in one size has the same value."""
    if not isinstance(value, Sym) or value.known:
        return value
    result = _decided(value.expr, n.strip(flag.expr), truth)
    return value if result is None else result


def _decided(expr: n.Expr, test: n.Expr, truth: bool) -> Any:
    """The value of ``expr`` (an integer, a boolean or a ``Sym``) where ``test`` is ``truth``,
    or None where that changes nothing. Arithmetic, comparisons and conditions are rebuilt
    with the evaluator's folding; any other node is left as it is."""
    node = n.strip(expr)
    if isinstance(node, n.Not) and n.strip(node.operand) == test:
        return not truth
    if isinstance(node, n.IfExp):
        if n.strip(node.test) == test:
            branch = node.body if truth else node.orelse
            found = _decided(branch, test, truth)
            return _value(branch) if found is None else found
        parts = [_decided(e, test, truth) for e in (node.test, node.body, node.orelse)]
        if all(p is None for p in parts):
            return None
        cond, body, orelse = (
            _value(e) if p is None else p
            for e, p in zip((node.test, node.body, node.orelse), parts, strict=True)
        )
        if known(cond):
            return body if concrete(cond) else orelse
        return Sym(n.IfExp(as_expr(cond), as_expr(body), as_expr(orelse)))
    if isinstance(node, n.Binary) and node.op in _ARITH:
        left, right = _decided(node.left, test, truth), _decided(node.right, test, truth)
        if left is None and right is None:
            return None
        a = _value(node.left) if left is None else left
        b = _value(node.right) if right is None else right
        if known(a, b) and not (node.op in ("//", "%") and concrete(b) == 0):
            return _ARITH[node.op](concrete(a), concrete(b))
        if known(a, b):  # a case that cannot happen: left to the generated code
            return Sym(n.Binary(node.op, as_expr(a), as_expr(b)))
        return binary(node.op, a, b, bounded=False)
    if isinstance(node, n.Compare) and len(node.ops) == 1 and node.ops[0] in _COMPARE:
        left = _decided(node.left, test, truth)
        right = _decided(node.comparators[0], test, truth)
        if left is None and right is None:
            return None
        a = _value(node.left) if left is None else left
        b = _value(node.comparators[0]) if right is None else right
        if known(a, b):
            return _COMPARE[node.ops[0]](concrete(a), concrete(b))
        return Sym(n.Compare(as_expr(a), node.ops, (as_expr(b),)))
    return None


MAX_CASES = 16
"""Most cases :func:`_by_cases` works out apart (a size that reads more conditions is
worked out on its expression, conditions and all)."""


def _by_cases(rule: Callable[..., Any], args: tuple[Any, ...], cases: int = MAX_CASES) -> Any:
    """``rule(*args)``, worked out apart for each value of a condition the arguments hold
    (``7 if d else 6``), joined into ``a if d else b``: PyTorch's ceil-mode rule reads the
    input size four times, so a size given as a condition would otherwise be written out four
    times, again at each later window."""
    test = next((t for v in args if isinstance(v, Sym) for t in _tests(v.expr)), None)
    if test is None or cases < 2:
        return rule(*args)
    flag = Sym(test)
    yes, no = (
        _by_cases(rule, tuple(_assume(v, flag, truth) for v in args), cases // 2)
        for truth in (True, False)
    )
    return _either(flag, yes, no)


def _either(flag: Sym, yes: Any, no: Any) -> Any:
    """``yes if flag else no``, or the one value where both are the same."""
    if (known(yes, no) and concrete(yes) == concrete(no)) or as_expr(yes) == as_expr(no):
        return yes
    return Sym(n.IfExp(flag.expr, as_expr(yes), as_expr(no)))


def _tests(expr: n.Expr) -> Iterator[n.Expr]:
    """The conditions of the ``a if test else b`` in ``expr`` that :func:`_assume` decides:
    those it reaches through arithmetic, comparisons and other conditions."""
    stack = [expr]
    while stack:
        node = n.strip(stack.pop())
        if isinstance(node, n.IfExp):
            test = n.strip(node.test)
            yield n.strip(test.operand) if isinstance(test, n.Not) else test
            stack += [node.orelse, node.body, node.test]
        elif isinstance(node, n.Binary) and node.op in _ARITH:
            stack += [node.right, node.left]
        elif isinstance(node, n.Compare) and len(node.ops) == 1 and node.ops[0] in _COMPARE:
            stack += [node.comparators[0], node.left]


def _value(expr: n.Expr) -> Any:
    """An unchanged part of an expression as a value: a literal integer, or a ``Sym``."""
    node = n.strip(expr)
    if isinstance(node, n.Const) and type(node.value) is int:
        return node.value
    return Sym(expr)


def effective_kernel(kernel: Any, dilation: Any) -> Any:
    return dilation * (kernel - 1) + 1


def explain_size(
    axis: str,
    size: int,
    kernel: int,
    stride: int,
    before: int,
    after: int,
    dilation: int,
    result: int,
    ceil_mode: bool = False,
) -> str:
    """The textbook line ``H: (224 − 3 + 2·1) / 1 + 1 = 224`` for one dimension."""
    f = f"{kernel}" if dilation == 1 else f"({dilation}·({kernel}−1)+1)"  # subtracted whole
    pad = f"2·{before}" if before == after else f"{before}+{after}"
    bracket = ("⌈", "⌉") if ceil_mode else ("⌊", "⌋")
    core = f"({size} − {f} + {pad}) / {stride}"
    if stride != 1 or ceil_mode:
        core = f"{bracket[0]}{core}{bracket[1]}"
    return f"{axis}: {core} + 1 = {result}"
