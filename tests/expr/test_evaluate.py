"""The evaluator: Python's semantics, so that an expression rendered into generated source
computes exactly what netspec computed — stricter only where netspec says it is (booleans are
not numbers, sizes are bounded) — plus partial evaluation, built-ins and error messages.

The properties compare netspec with a small model of Python (``python`` below): it evaluates a
tree with Python's own operators and Python's order of evaluation, and raises :class:`Refused`
at the first place where netspec is documented to be stricter than Python.
"""

from __future__ import annotations

import builtins
import math
import operator
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import fields
from typing import Any

import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st

from netspec.errors import ExprError, Source, Span
from netspec.expr import nodes as n
from netspec.expr.evaluate import (
    BUILTINS,
    MAX_INT,
    MAX_ITEMS,
    MAX_SOURCE_DEPTH,
    MAX_STEPS,
    MAX_STR,
    UNKNOWN,
    InputShape,
    Scope,
    Sym,
    SymbolicError,
    a_type,
    as_expr,
    evaluate,
    iterate,
    product,
    show,
    tracing,
)
from netspec.expr.evaluate import (
    COMPARISONS as COMPARE_OPS,
)
from netspec.expr.render import render, render_iterable
from netspec.source import fastparse, parser
from netspec.source.parser import parse_expr

# -- random expression trees -------------------------------------------------------------------

INT_NAMES = ("a", "b", "c")
NAMES = (*INT_NAMES, "xs", "undefined", "v")  # `undefined` is never bound, `v` only in […]
LOCAL = "v"
"""The variable of the random comprehensions: bound inside them, undefined outside."""
FUNCTIONS = ("min", "max", "abs", "len", "sum")
ARITHMETIC = ("+", "-", "*", "//", "%")
COMPARISONS = ("<", ">", "==", ">=", "<=", "!=", "in", "not in")

LEAVES: st.SearchStrategy[n.Expr] = st.one_of(
    st.integers(-20, 20).map(n.Const),
    st.sampled_from(NAMES).map(n.Name),
    st.booleans().map(n.Const),
)


def _compare(left: n.Expr, pairs: list[tuple[str, n.Expr]]) -> n.Expr:
    return n.Compare(left, tuple(op for op, _ in pairs), tuple(c for _, c in pairs))


def _call(name: str, args: list[n.Expr]) -> n.Expr:
    return n.Call(n.Name(name), tuple(args))


def _extend(children: st.SearchStrategy[n.Expr]) -> st.SearchStrategy[n.Expr]:
    # exponents stay small, so that Python itself never computes an enormous number
    exponent = st.one_of(st.integers(-2, 3).map(n.Const), st.sampled_from(INT_NAMES).map(n.Name))
    lists = st.lists(children, max_size=3).map(lambda items: n.ListExpr(tuple(items)))
    return st.one_of(
        st.builds(n.Binary, st.sampled_from(ARITHMETIC), children, children),
        st.builds(n.Binary, st.just("**"), children, exponent),
        _op_chains(children),
        st.builds(n.Unary, st.sampled_from(("-", "+")), children),
        st.builds(n.Not, children),
        st.builds(
            n.BoolOp,
            st.sampled_from(("and", "or")),
            st.lists(children, min_size=2, max_size=3).map(tuple),
        ),
        st.builds(
            _compare,
            children,
            st.lists(st.tuples(st.sampled_from(COMPARISONS), children), min_size=1, max_size=2),
        ),
        st.builds(n.IfExp, children, children, children),
        lists,
        st.builds(
            n.Index,
            st.one_of(lists, children),
            st.one_of(st.integers(-4, 4).map(n.Const), children),
        ),
        st.builds(_call, st.sampled_from(FUNCTIONS), st.lists(children, min_size=1, max_size=3)),
        st.builds(n.Index, st.one_of(lists, children), _slices(children)),
        st.builds(
            _comprehension,
            children,
            st.one_of(lists, children),
            st.lists(children, max_size=1),
            st.one_of(st.none(), st.one_of(lists, children)),
        ),
    )


def _op_chains(children: st.SearchStrategy[n.Expr]) -> st.SearchStrategy[n.Expr]:
    """Chains of one precedence just long enough to be one flat node (``OpChain``)."""

    def chains(length: int) -> st.SearchStrategy[n.Expr]:
        return st.builds(
            lambda group, items, picks: n.OpChain(
                tuple(items), tuple(group[p % len(group)] for p in picks)
            ),
            st.sampled_from([("+", "-"), ("*", "//", "%")]),
            st.lists(children, min_size=length, max_size=length),
            st.lists(st.integers(0, 2), min_size=length - 1, max_size=length - 1),
        )

    return st.integers(n.NESTED + 1, n.NESTED + 2).flatmap(chains)


def _slices(children: st.SearchStrategy[n.Expr]) -> st.SearchStrategy[n.Expr]:
    part = st.one_of(st.none(), st.integers(-4, 4).map(n.Const), children)
    return st.builds(n.Slice, part, part, part)


def _comprehension(
    element: n.Expr, iterable: n.Expr, conditions: list[n.Expr], inner: n.Expr | None
) -> n.Expr:
    """``[element for v in iterable if …]``, and a second ``for v in inner`` (which shadows
    the first) when ``inner`` is given."""
    clauses = [n.CompFor((LOCAL,), iterable, tuple(conditions))]
    if inner is not None:
        clauses.append(n.CompFor((LOCAL,), inner))
    return n.ListComp(element, tuple(clauses))


TREES = st.recursive(LEAVES, _extend, max_leaves=12)
BINDINGS = st.fixed_dictionaries(
    {
        "a": st.integers(-20, 20),
        "b": st.integers(-20, 20),
        "c": st.integers(-20, 20),
        "xs": st.lists(st.integers(-5, 5), max_size=4).map(tuple),  # lists are tuples
    }
)


# -- a model of Python, marking where netspec is stricter ---------------------------------------

PYTHON_ERRORS = (ArithmeticError, LookupError, NameError, TypeError, ValueError)
"""What Python raises where netspec must raise an ExprError."""


class Refused(Exception):
    """Python computes a value here, but netspec refuses: a boolean used as a number, a value
    out of bounds, or something other than numbers given to ``min``/``max``."""


_PY_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
}
_PY_ORDER = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}
_PY_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    **_PY_ORDER,
    "==": operator.eq,
    "!=": operator.ne,
    "in": lambda a, b: a in b,
    "not in": lambda a, b: a not in b,
}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bounded(value: Any) -> Any:
    if _number(value) and isinstance(value, int) and abs(value) > MAX_INT:
        raise Refused("an integer beyond 2**62")
    if isinstance(value, float) and not math.isfinite(value):
        raise Refused("a float that is not finite")
    if isinstance(value, tuple) and len(value) > MAX_ITEMS:
        raise Refused("a list beyond MAX_ITEMS")
    return value


def _py_arithmetic(op: str, a: Any, b: Any) -> Any:
    if op == "**" and _number(a) and _number(b):
        if isinstance(b, int) and abs(b) > 256 or abs(a) > MAX_INT:
            raise Refused("the power is too large")
    if op == "*":
        for seq, count in ((a, b), (b, a)):
            if isinstance(seq, tuple) and _number(count) and isinstance(count, int):
                if len(seq) * count > MAX_ITEMS:
                    raise Refused("a list beyond MAX_ITEMS")
    result = _PY_ARITHMETIC[op](a, b)
    if isinstance(a, bool) or isinstance(b, bool):
        raise Refused("a boolean used as a number")
    return _bounded(result)


def _py_builtin(name: str, args: list[Any]) -> Any:
    result = getattr(builtins, name)(*args)
    if name in ("min", "max"):
        items = args[0] if len(args) == 1 else args
        if not all(_number(item) for item in items):
            raise Refused(f"{name}() of something other than numbers")
    elif name == "abs" and isinstance(args[0], bool):
        raise Refused("a boolean used as a number")
    elif name == "sum":  # netspec adds up item by item, with its own rules for '+'
        total = args[1] if len(args) == 2 else 0
        for item in args[0]:
            total = _py_arithmetic("+", total, item)
    return _bounded(result)


def python(node: n.Expr, env: Mapping[str, Any]) -> Any:
    """``node``'s value under Python's rules and order of evaluation.

    Raises:
        Refused: where netspec is stricter than Python.
        Exception: one of PYTHON_ERRORS, where Python fails.
    """
    node = n.strip(node)
    if isinstance(node, n.Const):
        return node.value
    if isinstance(node, n.Name):
        if node.id not in env:
            raise NameError(node.id)
        return env[node.id]
    if isinstance(node, n.Unary):
        value = python(node.operand, env)
        result = -value if node.op == "-" else +value
        if isinstance(value, bool):
            raise Refused("a boolean used as a number")
        return result
    if isinstance(node, n.Binary):
        return _py_arithmetic(node.op, python(node.left, env), python(node.right, env))
    if isinstance(node, n.OpChain):  # left to right, as Python computes a + b - c
        value = python(node.values[0], env)
        for op, item in zip(node.ops, node.values[1:], strict=True):
            value = _py_arithmetic(op, value, python(item, env))
        return value
    if isinstance(node, n.Not):
        return not python(node.operand, env)
    if isinstance(node, n.BoolOp):
        for item in node.values:
            value = python(item, env)
            if bool(value) == (node.op == "or"):
                return value
        return value
    if isinstance(node, n.Compare):  # a chain stops at its first false link, as in Python
        left = python(node.left, env)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = python(comparator, env)
            result = _PY_COMPARE[op](left, right)
            ordered = _number(left) and _number(right) or type(left) is type(right) is tuple
            if op in _PY_ORDER and not ordered:
                raise Refused(f"{op!r} between {a_type(left)} and {a_type(right)}")
            if not result:
                return False
            left = right
        return True
    if isinstance(node, n.IfExp):
        return python(node.body if python(node.test, env) else node.orelse, env)
    if isinstance(node, n.ListExpr):
        return tuple(python(item, env) for item in node.items)
    if isinstance(node, n.Index) and isinstance(node.index, n.Slice):
        value = python(node.value, env)
        parts = [None if p is None else python(p, env) for p in _slice_parts(node.index)]
        result = value[slice(*parts)]
        if any(isinstance(p, bool) for p in parts):
            raise Refused("a boolean used as a slice bound")
        if isinstance(value, dict):
            raise TypeError("a mapping cannot be sliced")  # Python 3.12 raises KeyError
        return _bounded(result)
    if isinstance(node, n.Index):
        value, index = python(node.value, env), python(node.index, env)
        result = value[index]
        if isinstance(index, bool):
            raise Refused("a boolean used as an index")
        return result
    if isinstance(node, n.ListComp):
        return _bounded(tuple(_py_comprehension(node, 0, env)))
    if isinstance(node, n.Call):
        assert isinstance(node.func, n.Name)
        return _py_builtin(node.func.id, [python(a, env) for a in node.args])
    raise AssertionError(f"no model for {node!r}")


def _slice_parts(node: n.Slice) -> tuple[n.Expr | None, ...]:
    return (node.lower, node.upper, node.step)


def _py_comprehension(node: n.ListComp, k: int, env: Mapping[str, Any]) -> Iterator[Any]:
    """The items of clauses ``k``… of ``node``, in Python's order of evaluation."""
    if k == len(node.clauses):
        yield python(node.element, env)
        return
    clause = node.clauses[k]
    for item in python(clause.iterable, env):
        (name,) = clause.targets
        inner = {**env, name: item}
        if all(python(c, inner) for c in clause.conditions):
            yield from _py_comprehension(node, k + 1, inner)


def run_python(source: str, env: Mapping[str, Any], namespace: dict[str, Any] | None = None) -> Any:
    """``source`` evaluated by Python itself, as generated code would (where the names it reads
    are visible inside comprehensions too: locals of a function, not of ``eval``)."""
    with warnings.catch_warnings():  # `1[0]` is a SyntaxWarning before it is a TypeError
        warnings.simplefilter("ignore", SyntaxWarning)
        code = compile(source, "<rendered>", "eval")
    return eval(code, {"math": math, **(namespace or {}), **env})


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types: ``True`` is not ``1`` and ``1`` is not ``1.0``."""
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def subtrees(node: n.Expr) -> Iterator[n.Expr]:
    """``node`` and every expression inside it (the names of called functions excepted)."""
    yield node
    for field in fields(node):
        if field.name == "func":
            continue
        child = getattr(node, field.name)
        for item in child if isinstance(child, tuple) else (child,):
            if isinstance(item, n.Expr):
                yield from subtrees(item)


def fails(node: n.Expr, env: Mapping[str, Any]) -> bool:
    try:
        evaluate(node, Scope(env))
    except ExprError:
        return True
    return False


def ev(text: str, **names: Any) -> Any:
    return evaluate(parse_expr(text), Scope(names))


# -- rendered Python computes what netspec computes ----------------------------------------


@given(tree=TREES, env=BINDINGS)
def test_rendered_python_computes_what_netspec_computes(tree: n.Expr, env: dict[str, Any]) -> None:
    source = render(tree, python=True)
    note(f"python: {source}")
    try:
        expected = python(tree, env)
    except Refused as why:
        note(f"netspec is stricter: {why}")
        with pytest.raises(ExprError):
            evaluate(tree, Scope(env))
        return
    except PYTHON_ERRORS as exc:
        note(f"python fails: {exc!r}")
        with pytest.raises(ExprError):
            evaluate(tree, Scope(env))
        with pytest.raises(PYTHON_ERRORS):
            run_python(source, env)
        return
    value = evaluate(tree, Scope(env))
    assert same(value, expected), (value, expected)
    assert same(run_python(source, env), expected)


def test_the_model_marks_what_netspec_refuses() -> None:
    env = {"a": 1, "xs": (1, 2)}
    for text in ["true + 1", "-true", "xs[true]", "true < 2", "abs(false)", "min(1, true)"]:
        with pytest.raises(Refused):
            python(parse_expr(text), env)
        with pytest.raises(ExprError):
            ev(text, **env)
    assert python(parse_expr("1 > 2 > xs[9]"), env) is False  # Python's chain stops early
    with pytest.raises(IndexError):
        python(parse_expr("xs[9]"), env)


# -- partial evaluation ---------------------------------------------------------------------


@given(tree=TREES, env=BINDINGS, unknown=st.sets(st.sampled_from((*INT_NAMES, "xs"))))
def test_residual_of_partial_evaluation_computes_the_concrete_value(
    tree: n.Expr, env: dict[str, Any], unknown: set[str]
) -> None:
    symbolic = {k: Sym(n.Name(k)) if k in unknown else v for k, v in env.items()}
    try:
        partial = evaluate(tree, Scope(symbolic))
    except ExprError as exc:
        # partial evaluation looks at both branches of an unknown condition; it may fail only
        # where some part of the expression really fails
        assert any(fails(sub, env) for sub in subtrees(tree)), exc
        return
    try:
        concrete = evaluate(tree, Scope(env))
    except ExprError:
        return  # the residual is free to fail (or not) at run time
    if not isinstance(partial, Sym):
        assert same(partial, concrete)
        return
    residual = render(partial.expr, python=True)
    note(f"residual: {residual}")
    assert same(run_python(residual, env), concrete)
    if partial.known:
        assert same(partial.value, concrete)


@given(tree=TREES, env=BINDINGS, held=st.sets(st.sampled_from((*INT_NAMES, "xs"))))
def test_symbols_with_known_values_compute_the_concrete_value(
    tree: n.Expr, env: dict[str, Any], held: set[str]
) -> None:
    symbolic = {k: Sym(n.Name(k), v) if k in held else v for k, v in env.items()}
    try:
        concrete = evaluate(tree, Scope(env))
    except ExprError:
        with pytest.raises(ExprError):
            evaluate(tree, Scope(symbolic))
        return
    result = evaluate(tree, Scope(symbolic))
    if isinstance(result, Sym):
        assert result.known
        assert same(result.value, concrete)
        assert same(run_python(render(result.expr, python=True), env), concrete)
    else:
        assert same(result, concrete)


def _python_value(value: Any, env: Mapping[str, Any]) -> Any:
    """What a traced result computes at ``env``: a ``Sym`` its expression, a tuple item by
    item, anything else itself."""
    if isinstance(value, Sym):
        return run_python(render(value.expr, python=True), env)
    if isinstance(value, tuple):
        return tuple(_python_value(v, env) for v in value)
    return value


@given(
    tree=TREES,
    env=BINDINGS,
    other=BINDINGS,
    held=st.sets(st.sampled_from(INT_NAMES), min_size=1),
)
def test_a_traced_result_holds_wherever_its_guards_do(
    tree: n.Expr, env: dict[str, Any], other: dict[str, Any], held: set[str]
) -> None:
    """Evaluated while tracing, with some integers traced: the result computes the concrete
    value, and at other values of the traced names where every recorded guard holds, what its
    expressions compute is what evaluating there gives (the soundness a program of params
    rests on, :func:`~netspec.expand.program.compile_params`)."""
    symbolic = {k: Sym(n.Name(k), v) if k in held else v for k, v in env.items()}
    try:
        concrete = evaluate(tree, Scope(env))
    except ExprError:
        return
    with tracing() as trace:
        try:
            result = evaluate(tree, Scope(symbolic))
        except (ExprError, TypeError):  # (a traced value used as a key: no program)
            return
    assert same(_python_value(result, env), concrete)
    moved = {**env, **{k: other[k] for k in held}}
    for op, left, right, truth in trace.guards:
        try:
            if op == "truth":
                test = bool(run_python(render(left, python=True), moved))
            elif op == "int":  # (a value's kind: see evaluate.counted)
                test = type(run_python(render(left, python=True), moved)) is int
            else:
                a = run_python(render(left, python=True), moved)
                b = run_python(render(right, python=True), moved)
                test = bool(COMPARE_OPS[op](a, b))
        except (ArithmeticError, TypeError, ValueError):  # (a guard failing does not hold)
            event("a guard fails to compute")
            return
        if test != truth:
            return
    try:
        there = evaluate(tree, Scope(moved))
    except ExprError:
        return  # (the language's bounds, which a program leaves to its caller: see Program)
    event("the guards hold at other values" if moved != env else "the same values")
    assert same(_python_value(result, moved), there), (trace.guards, moved)


X = Sym(n.Name("x"))


@pytest.mark.parametrize(
    ("build", "residual"),
    [
        (lambda: X + 0, "x"),
        (lambda: 0 + X, "x"),
        (lambda: X - 0, "x"),
        (lambda: 0 - X, "-x"),
        (lambda: -X, "-x"),
        (lambda: X * 1, "x"),
        (lambda: 1 * X, "x"),
        (lambda: X // 1, "x"),
        (lambda: X * 0, "x * 0"),
        (lambda: (X + 2) - 3, "x - 1"),
        (lambda: (X - 2) + 2, "x"),
        (lambda: (X + 2) + 3, "x + 5"),
        (lambda: (X + 2 * 1 - 3) // 1 + 1, "x"),  # conv arithmetic: padding 1, kernel 3
        (lambda: (X + 2 * 0 - 3) // 2 + 1, "(x - 3) // 2 + 1"),
        (lambda: Sym(n.Const(2)) + 3, "5"),
        (lambda: Sym(n.Const(2)) - 3, "2 - 3"),  # only non-negative literals are folded
        (lambda: 2 * X % 3, "2 * x % 3"),
        (lambda: 7 // X, "7 // x"),
        (lambda: 7 % X, "7 % x"),
        (lambda: 7 - X, "7 - x"),
    ],
)
def test_symbolic_arithmetic_folds_identities(build: Callable[[], Any], residual: str) -> None:
    result = build()
    assert isinstance(result, Sym)
    assert not result.known
    assert render(result.expr, python=True) == residual


@pytest.mark.parametrize(
    ("text", "x"),
    [("(x ** -1) // 1", 2), ("(x ** -1 + 2) - 3", 3), ("(x ** -1 - 2) + 2", 3)],
)
def test_folded_residual_computes_the_value_for_floats(text: str, x: int) -> None:
    """The identities used in folding must hold for every number Python computes."""
    tree = parse_expr(text)
    concrete = evaluate(tree, Scope({"x": x}))
    residual = evaluate(tree, Scope({"x": Sym(n.Name("x"))}))
    assert same(run_python(render(residual.expr, python=True), {"x": x}), concrete)
    assert same(evaluate(tree, Scope({"x": Sym(n.Name("x"), x)})).value, concrete)


def test_partial_evaluation_keeps_unknown_structure() -> None:
    scope = Scope({"x": Sym(n.Name("x")), "k": 3, "xs": (1, 2)})
    cases = {
        "x if k > 2 else 1 // 0": "x",  # a known condition picks its branch
        "1 if x > 0 else k": "1 if x > 0 else 3",
        "k and x": "x",
        "0 or x": "x",
        "x and k": "x and 3",
        "x or 0 or k": "x or 0 or 3",
        "0 and x": "0",
        "not x": "not x",
        "[x, k]": "(x, 3)",
        "xs[x]": "(1, 2)[x]",
        "max(x, k)": "max(x, 3)",
        "x < k <= 9": "x < 3 <= 9",
        "-x": "-x",
        "x.width": "x.width",
    }
    for text, residual in cases.items():
        result = evaluate(parse_expr(text), scope)
        assert render(as_expr(result), python=True) == residual, text


def test_known_symbols_compute_values() -> None:
    scope = Scope({"x": Sym(n.Name("x"), 4), "xs": Sym(n.Name("xs"), (1, 2, 3))})
    cases: dict[str, Any] = {
        "x * 2 + 1": 9,
        "xs[x - 3]": 2,
        "len(xs) + x": 7,
        "[x, 1]": (4, 1),
        "not x": False,
        "x > 3 > 1": True,
        "-x": -4,
    }
    for text, value in cases.items():
        result = evaluate(parse_expr(text), scope)
        assert isinstance(result, Sym) and same(result.value, value), text
    assert evaluate(parse_expr("x if x > 3 else 0"), scope) is scope.names["x"]
    with pytest.raises(ExprError, match="division by zero"):
        evaluate(parse_expr("xs[0] // (x - 4)"), scope)


def test_sym_protocol() -> None:
    unknown, known = Sym(n.Name("h")), Sym(n.Binary("+", n.Name("h"), n.Const(1)), 8)
    assert repr(unknown) == "Sym(h)" and repr(known) == "Sym(h + 1 = 8)"
    assert str(unknown) == "h" and str(known) == "8"
    assert f"{unknown:>3}" == "  h" and f"[{known}]" == "[8]"
    assert not unknown.known and known.known and unknown.value is UNKNOWN
    assert repr(UNKNOWN) == "UNKNOWN"
    assert bool(known) and known > 7 and known >= 8 and known < 9 and known <= 8
    assert list(range(known))[-1] == 7  # __index__
    with pytest.raises(SymbolicError, match="not known until the generated code runs"):
        bool(unknown)
    with pytest.raises(TypeError):
        _ = unknown < 3
    assert (known * 2).value == 16 and (known - 1).value == 7 and (-known).value == -8
    assert (20 // known).value == 2 and (20 % known).value == 4 and (known % 3).value == 2


def test_product_keeps_symbolic_factors_visible() -> None:
    c = Sym(n.Name("channels"))
    flat = product([c, 7, 7])
    assert isinstance(flat, Sym) and render(flat.expr) == "channels * 7 * 7" and not flat.known
    assert render(product([1, c, 1]).expr) == "channels"
    assert product([Sym(n.Name("c"), 2), 7]).value == 14
    assert product([2, 3, 4]) == 24 and product([]) == 1 and product([1, 1]) == 1
    assert product([5]) == 5


# -- long chains of one precedence ------------------------------------------------------------

LONG_CHAINS: list[tuple[str, Any]] = [
    (" + ".join(["1"] * 1900), 1900),  # tests/test_fuzz.py's
    ("+".join(["1"] * 1900), 1900),
    (" + ".join(["1"] * 10_000), 10_000),
    (" * ".join(["1"] * 1900), 1),
    ("*".join(["1"] * 10_000), 1),
    (" * ".join(["2"] * 62), 2**62),  # the largest integer a spec may compute
    ("3" + " * 2 // 2" * 5_000, 3),
    ("0" + " + 3 - 1" * 5_000, 10_000),
    ("1" + " - -1" * 9_999, 10_000),
    ("100" + " % 7 * 5" * 3_000, 30),  # 2 * 5, 3 * 5, 1 * 5, 5 * 5, 4 * 5, 6 * 5: a cycle of 6
    ("1.5" + " / 2 * 2" * 5_000, 1.5),
    ("1" + " / 3" * 1900, 0.0),  # underflows, as in Python
    ("'a'" + " + 'b'" * 900, "a" + "b" * 900),
    ("()" + " + (1,)" * 1000, (1,) * 1000),
]


def _python_fold(text: str) -> Any:
    """``text`` (numbers and one precedence) computed left to right by Python itself."""
    tokens = text.split()
    value = eval(tokens[0])
    for op, item in zip(tokens[1::2], tokens[2::2], strict=True):
        value = _PY_ARITHMETIC[op](value, eval(item))
    return value


@pytest.mark.parametrize("parse", ["fast", "lark"])
@pytest.mark.parametrize(("text", "value"), LONG_CHAINS, ids=[t[:24] for t, _ in LONG_CHAINS])
def test_long_chains_evaluate_left_to_right(text: str, value: Any, parse: str) -> None:
    tree = fastparse.parse(text, "expr") if parse == "fast" else parser._parse_lark(text, "expr")
    assert isinstance(tree, n.OpChain)
    result = evaluate(n.Located(tree, _origin(text)), Scope())
    assert same(result, value)
    if " " in text:  # spaced: Python computes it the same, step by step
        assert same(result, _python_fold(text))
    if len(tree.values) < 2000:  # CPython's compiler recurses along a chain (~3,000 at most)
        assert same(run_python(render(tree, python=True), {}), value)


def test_a_long_chain_s_residual_is_one_flat_node() -> None:
    text = " + ".join(["w"] * 1900)
    known = evaluate(parse_expr(text), Scope({"w": Sym(n.Name("w"), 3)}))
    assert isinstance(known, Sym) and same(known.value, 5700)
    assert isinstance(known.expr, n.OpChain) and render(known.expr) == text
    unknown = evaluate(parse_expr(text), Scope({"w": Sym(n.Name("w"))}))
    assert isinstance(unknown, Sym) and not unknown.known and render(unknown.expr) == text
    # what the operands before the first symbolic one give is computed
    mixed = evaluate(parse_expr("1 + 2 * 3 + " + text + " - 1"), Scope({"w": Sym(n.Name("w"))}))
    assert render(mixed.expr) == f"7 + {text} - 1"
    # arithmetic on it continues the flat node (an operator rule's `+ 1`), not a nest of it
    more = unknown + 1
    assert isinstance(more.expr, n.OpChain) and len(more.expr.values) == 1901
    # a short chain's residual is the nested operations it always was (generated code lays
    # them out), up to NESTED operands
    short = evaluate(parse_expr(" * ".join(["w"] * n.NESTED)), Scope({"w": Sym(n.Name("w"))}))
    assert isinstance(short.expr, n.Binary) and isinstance(short.expr.left, n.Binary)
    longer = evaluate(parse_expr(" * ".join(["w"] * n.NESTED)), Scope({"w": Sym(n.Name("w"))}))
    assert isinstance((longer * 2).expr, n.OpChain)
    assert render((longer * 2).expr) == " * ".join(["w"] * n.NESTED) + " * 2"


def test_a_failure_in_a_long_chain_is_positioned_at_the_chain_up_to_it() -> None:
    head = " + ".join(["1"] * 1000)
    text = f"{head} + 'a'" + " + 1" * 1000
    with pytest.raises(ExprError) as info:
        evaluate(parse_expr(text, _origin(text)), Scope())
    assert info.value.message == "cannot apply '+' to an integer and a string"
    span = info.value.span
    assert span is not None and (span.col, span.end_col) == (10, 10 + len(head) + len(" + 'a'"))
    text = f"{head} - 1 // 0" + " + 1" * 1000
    with pytest.raises(ExprError) as info:
        evaluate(parse_expr(text, _origin(text)), Scope())
    span = info.value.span
    assert info.value.message == "division by zero"
    assert span is not None and (span.col, span.end_col) == (13 + len(head), 19 + len(head))


def test_a_residual_that_python_cannot_compile_is_refused_positioned() -> None:
    """Generated code writes a residual as it is, and Python's compiler recurses along a chain
    (one level per operation): the code generator refuses a chain deeper than that, with its
    position; the analysis computes it."""
    scope = Scope({"w": Sym(n.Name("w"))})
    text = " + ".join(["w"] * MAX_SOURCE_DEPTH)
    written = evaluate(parse_expr(text), scope)
    assert run_python(render(written.expr, python=True), {"w": 2}) == 2 * MAX_SOURCE_DEPTH
    inner = " * ".join(["w"] * 1_500)
    for text, value in (
        (" + ".join(["w"] * (MAX_SOURCE_DEPTH + 1)), MAX_SOURCE_DEPTH + 1),
        (f"w + ({inner})" + " + w" * 1_000, 1_002),  # one chain in another: 2,501 deep
    ):
        with pytest.raises(ExprError) as info:
            evaluate(parse_expr(text, _origin(text)), scope)
        assert "too long to write into generated code" in info.value.message
        assert info.value.hint is not None and "sum([a, b, c])" in info.value.hint
        span = info.value.span
        assert span is not None and (span.col, span.end_col) == (10, 10 + len(text))
        assert evaluate(parse_expr(text), Scope({"w": 1})) == value  # the analysis computes it


@pytest.mark.parametrize("op", ["+", "<", "and"])
def test_a_long_chain_steps_once_per_operator(op: str) -> None:
    """A chain of thousands of operators is evaluated in a loop: in a comprehension, its
    operators count against the budget like the comprehension's own steps."""
    chain = f" {op} ".join(["v"] * 1000)  # 999 operators: with the comprehension's own step,
    assert len(ev(f"[{chain} for v in range(1, 990)]")) == 989  # 1,000 a step
    with pytest.raises(ExprError, match="too much work"):
        ev(f"[{chain} for v in range(1, 1001)]")


# -- errors, messages and positions ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "names", "message", "hint"),
    [
        ("a + widht", {"a": 1, "width": 2}, "undefined name 'widht'", None),
        ("M", {}, "undefined name 'M'", "names in scope: none; strings need quotes, as in 'M'"),
        ("zzz", {"a": 1}, "undefined name 'zzz'", "names in scope: a; strings need quotes"),
        ("mni", {}, "undefined name 'mni'", "did you mean 'min'?"),
        ("min + 1", {}, "min is a function; call it, as in min(…)", None),
        ("true + 1", {}, "cannot apply '+' to a boolean and an integer", "booleans are not"),
        ("[1] - 1", {}, "cannot apply '-' to a list and an integer", None),
        ("'a' + 1", {}, "cannot apply '+' to a string and an integer", None),
        ("[1] * true", {}, "cannot apply '*' to a list and a boolean", "use `1 if flag else 0`"),
        ("-[1]", {}, "cannot apply unary '-' to a list", None),
        ("+true", {}, "cannot apply unary '+' to a boolean", None),
        ("1 / 0", {}, "division by zero", None),
        ("1 // 0", {}, "division by zero", None),
        ("1.5 % 0.0", {}, "division by zero", None),
        ("0 ** -1", {}, "zero cannot be raised to a negative power", None),
        ("2 ** 257", {}, "the power is too large", None),
        ("(2 ** 62 * 2.0) ** 2", {}, "the power is too large", None),
        ("2 ** 63", {}, "the result is too large (more than 2**62)", None),
        ("2 ** 62 + 1", {}, "the result is too large (more than 2**62)", None),
        ("1e308 * 10", {}, "the result is not a finite number", None),
        (
            "[1, 2][5]",
            {},
            "index 5 is out of range for a list of 2 items",
            "valid indices are 0 to 1",
        ),
        ("[1, 2][-3]", {}, "index -3 is out of range", "valid indices are 0 to 1"),
        ("[][0]", {}, "index 0 is out of range for a list of 0 items", "the list is empty"),
        ("[1][true]", {}, "a list index must be an integer, found true", None),
        ("[1][0.0]", {}, "a list index must be an integer, found 0.0", None),
        ("3[0]", {}, "an integer cannot be indexed", None),
        ("m['z']", {"m": {"a": 1, "b": 2}}, "key 'z' is not in the mapping", "keys: 'a', 'b'"),
        ("a(1)", {"a": 1}, "'a' is a value, not a function", None),
        ("conv2d(3)", {}, "unknown function 'conv2d'", "layers cannot be used inside"),
        ("xs[0](1)", {"xs": (1,)}, "only named functions can be called", None),
        ("min(1, k=2)", {}, "min() takes no keyword arguments", None),
        ("abs(1, 2)", {}, "abs() takes 1 argument", None),
        ("range()", {}, "range() takes 1 to 3 arguments, found 0", None),
        ("range(1, 2, 0)", {}, "range() step must not be zero", None),
        ("range(true)", {}, "range() expects an integer, found true (boolean)", None),
        ("range(100001)", {}, "range() is longer than 100,000 items", None),
        ("[0] * 100001", {}, "the list would be longer than 100,000 items", None),
        ("xs + xs", {"xs": (0,) * 60_000}, "the list is longer than 100,000 items", None),
        ("('a' * 5001) + ('a' * 5000)", {}, "the string is longer than 10,000 characters", None),
        ("in.channels", {}, "`in` (the input shape) is only available inside a block", None),
        ("a.width", {"a": 1}, "an integer has no attribute 'width'", None),
        ("1 in 5", {}, "'in' needs a list, mapping or string on its right, found an integer", None),
        ("1 in 'abc'", {}, "'in' a string needs a string on its left, found an integer", None),
        ("1 < true", {}, "cannot compare an integer with a boolean using '<'", None),
        ("[1] < 2", {}, "cannot compare a list with an integer using '<'", None),
        ("min([])", {}, "min() of an empty list", None),
        ("max(1, [2])", {}, "max() expects numbers, found [2] (list)", None),
        ("len(3)", {}, "len() expects a list, found 3 (integer)", None),
        ("int('3')", {}, "int() expects a number, found '3' (string)", None),
        ("round(1.5, 'x')", {}, "round(): ", None),
        ("int(1e300)", {}, "the result is too large (more than 2**62)", None),
        ("sum([2 ** 62, 1])", {}, "the result is too large (more than 2**62)", None),
        ("enumerate([1], true)", {}, "enumerate() expects an integer, found true (boolean)", None),
        ("make_divisible('a', 8)", {}, "make_divisible() expects a number, found 'a'", None),
        ("make_divisible(10, 0)", {}, "make_divisible() divisor must be positive", None),
        (
            "exact_div(225, 16)",
            {},
            "exact_div(): 225 is not divisible by 16 (remainder 1)",
            "the nearest multiples of 16: 224 and 240",
        ),
        ("exact_div(8, 0)", {}, "exact_div() divides by a positive integer, found 0", None),
        ("exact_div(8.0, 2)", {}, "exact_div() expects an integer, found 8.0", None),
    ],
)
def test_error_messages(text: str, names: dict[str, Any], message: str, hint: str | None) -> None:
    with pytest.raises(ExprError) as info:
        ev(text, **names)
    assert message in info.value.message
    if hint is not None:
        assert info.value.hint is not None and hint in info.value.hint


def test_undefined_name_hint_guesses_and_lists_the_scope() -> None:
    inner = Scope({"width": 2}, parent=Scope({f"n{i}": i for i in range(12)}))
    with pytest.raises(ExprError) as info:
        evaluate(parse_expr("widht"), inner)
    assert info.value.hint == (
        "did you mean 'width'? names in scope: n0, n1, n10, n11, n2, n3, n4, n5, n6, n7"
    )


def test_unknown_function_hint_lists_every_builtin() -> None:
    with pytest.raises(ExprError) as info:
        ev("relu(1)")
    assert info.value.hint is not None and info.value.hint.endswith(", ".join(sorted(BUILTINS)))


def test_too_large_string_is_refused() -> None:
    """Every string a spec computes is bounded by MAX_STR, however it is built."""
    assert len(ev("'a' * 10000")) == MAX_STR
    with pytest.raises(ExprError, match="the string is longer than 10,000 characters"):
        ev("'a' * 10001")


def test_limits_are_inclusive() -> None:
    assert ev("2 ** 62") == MAX_INT and ev("-(2 ** 62)") == -MAX_INT
    assert len(ev("range(100000)")) == MAX_ITEMS
    assert len(ev("[0] * 100000")) == MAX_ITEMS


@pytest.mark.parametrize("text", ["1000.5 ** 256", "2.0 ** 2000.0", "(20 ** -20) ** -20"])
def test_float_overflow_is_an_expr_error(text: str) -> None:
    with pytest.raises(ExprError):
        ev(text)


@pytest.mark.parametrize("text", ["[1] < [[2]]", "[[1]] >= [1]"])
def test_comparing_unlike_list_items_is_an_expr_error(text: str) -> None:
    with pytest.raises(ExprError):
        ev(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1 > 2 > 1 // 0", False), ("xs[0] > 1 > xs[5]", False), ("1 < 0 < undefined", False)],
)
def test_comparison_chains_stop_at_the_first_false_link(text: str, value: bool) -> None:
    """Python never evaluates the rest of a chain once a link is false."""
    env = {"xs": (0,)}
    assert run_python(render(parse_expr(text), python=True), env) is value
    assert ev(text, **env) is value


def _origin(text: str, style: str = "") -> n.Origin:
    """``text`` as the value on line 3 of f.yaml, starting at column 10."""
    quote = style if style in ("'", '"') else ""
    source = Source("f.yaml", f"netspec: 1\nlet:\n  value: {quote}{text}{quote}\n")
    return n.Origin(text, Span(source, 3, 10), style)


@pytest.mark.parametrize(
    ("text", "names", "part"),
    [
        ("a + widht", {"a": 1, "width": 2}, "widht"),
        ("1 + (2 // 0)", {}, "2 // 0"),
        ("[1, 2][a]", {"a": 7}, "a"),
        ("max(a, true) * 2", {"a": 1}, "max(a, true)"),
        ("a < true", {"a": 1}, "a < true"),
        ("-[a]", {"a": 1}, "-[a]"),
        ("[a] * true", {"a": 1}, "[a] * true"),
        ("in.channels", {}, "in"),
    ],
)
def test_errors_are_positioned_at_the_failing_part(
    text: str, names: dict[str, Any], part: str
) -> None:
    with pytest.raises(ExprError) as info:
        evaluate(parse_expr(text, _origin(text)), Scope(names))
    span = info.value.span
    assert span is not None and span.file == "f.yaml" and span.line == 3
    assert (span.col, span.end_col) == (10 + text.index(part), 10 + text.index(part) + len(part))


def test_error_report_points_a_caret_at_the_misspelt_name() -> None:
    text = "a + widht"
    with pytest.raises(ExprError) as info:
        evaluate(parse_expr(text, _origin(text)), Scope({"a": 1, "width": 2}))
    assert str(info.value) == "f.yaml:3:14: undefined name 'widht'"
    assert info.value.render().splitlines()[1:] == [
        " 3 |   value: a + widht",
        "   |              ^^^^^",
        "hint: did you mean 'width'? names in scope: a, width",
    ]


def test_quoted_and_multiline_positions() -> None:
    with pytest.raises(ExprError) as info:
        evaluate(parse_expr("a + b", _origin("a + b", '"')), Scope({"a": 1}))
    assert info.value.span is not None and info.value.span.col == 10 + 1 + 4
    with pytest.raises(ExprError) as info:
        evaluate(parse_expr("a +\n b", _origin("a +\n b", "|")), Scope({"a": 1}))
    assert info.value.span is not None and (info.value.span.col, info.value.span.end_col) == (
        10,
        None,
    )
    with pytest.raises(ExprError) as info:  # no origin: no position
        ev("1 // 0")
    assert info.value.span is None


# -- built-ins ---------------------------------------------------------------------------------

BUILTIN_SAMPLES: dict[str, tuple[str, Any]] = {
    "min": ("min(3, 1.5, 2)", 1.5),
    "max": ("max([4, 9, -1])", 9),
    "abs": ("abs(-3)", 3),
    "len": ("len([1, 2, 3])", 3),
    "range": ("range(1, 7, 2)", (1, 3, 5)),
    "sum": ("sum([1, 2, 3], 10)", 16),
    "zip": ("zip([1, 2], [3, 4, 5])", ((1, 3), (2, 4))),
    "enumerate": ("enumerate([5, 6], 1)", ((1, 5), (2, 6))),
    "int": ("int(-2.7)", -2),
    "float": ("float(3)", 3.0),
    "round": ("round(2.5)", 2),
    "make_divisible": ("make_divisible(37.5, 8)", 40),
    "exact_div": ("exact_div(224, 16)", 14),
    "ceil": ("ceil(2.1)", 3),
    "floor": ("floor(-2.1)", -3),
    "log": ("log(8, 2)", 3.0),
    "sqrt": ("sqrt(2.25)", 1.5),
    "sorted": ("sorted([3, 1, 2], reverse=true)", (3, 2, 1)),
    "reversed": ("reversed([1, 2, 3])", (3, 2, 1)),
    "all": ("all([1, 'a', [0]])", True),
    "any": ("any([0, '', []])", False),
}


def generated_namespace() -> dict[str, Any]:
    """The definitions generated code carries for built-ins that Python lacks."""
    namespace: dict[str, Any] = {}
    for builtin in BUILTINS.values():
        if builtin.source:
            exec(builtin.source, namespace)
    return namespace


def test_every_builtin_has_a_sample() -> None:
    assert set(BUILTIN_SAMPLES) == set(BUILTINS)


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtin(name: str) -> None:
    builtin = BUILTINS[name]
    assert builtin.name == name and builtin.doc.strip()
    assert 1 <= builtin.min_args <= builtin.max_args
    text, expected = BUILTIN_SAMPLES[name]
    value = ev(text)
    assert same(value, expected)
    # generated code calls the Python built-in (or math's, or the definition netspec writes)
    source = render(parse_expr(text), python=True)
    if builtin.python:
        assert source.startswith(f"{builtin.python}(")
    produced = run_python(source, {}, generated_namespace())
    assert same(produced, expected)
    if builtin.iterator:  # a list in netspec: a tuple in generated code, but not as a loop's
        assert source.startswith("tuple(")
        assert render_iterable(parse_expr(text)).startswith(f"{name}(")


@pytest.mark.parametrize(
    "text",
    [
        "len(zip(xs, xs))",
        "zip(xs, xs)[0]",
        "enumerate(xs)[1]",
        "range(2) + [5]",
        "range(3) == [0, 1, 2]",
        "len(range(4))",
        "range(4)[-1]",
    ],
)
def test_list_builtins_compute_in_python_what_netspec_computes(text: str) -> None:
    """Their results are lists in netspec, so the rendered call must give a list in Python."""
    env = {"xs": (1, 2, 3)}
    expected = ev(text, **env)
    assert same(run_python(render(parse_expr(text), python=True), env), expected)


def test_list_builtins_return_tuples() -> None:
    assert ev("range(3)") == (0, 1, 2)
    assert ev("zip([1, 2], 'ab')") == ((1, "a"), (2, "b"))
    assert ev("enumerate(m)", m={"a": 1}) == ((0, "a"),)
    assert ev("[1] + [2]") == (1, 2)
    assert ev("xs * 2", xs=(1,)) == (1, 1)
    assert ev("2 * [1, 2]") == (1, 2, 1, 2)
    assert ev("sum([[1], [2]], [])") == (1, 2)


def torchvision_make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """torchvision.models._utils._make_divisible, verbatim."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


@given(
    value=st.one_of(st.integers(-64, 4096), st.floats(-64, 4096)),
    divisor=st.integers(1, 64),
    min_value=st.one_of(st.none(), st.integers(0, 128)),
)
def test_make_divisible_is_torchvisions(value: float, divisor: int, min_value: int | None) -> None:
    args = (value, divisor) if min_value is None else (value, divisor, min_value)
    expected = torchvision_make_divisible(*args)
    tree = n.Call(n.Name("make_divisible"), tuple(n.Const(a) for a in args))
    assert same(evaluate(tree, Scope()), expected)
    generated = run_python(render(tree, python=True), {}, generated_namespace())
    assert same(generated, expected)


@pytest.mark.parametrize(
    ("width", "channels"),
    [(0.25, 32), (0.35, 32), (0.5, 32), (0.75, 32), (1.0, 32), (1.4, 32), (0.5, 1280)],
)
def test_make_divisible_on_mobilenet_widths(width: float, channels: int) -> None:
    for divisor in (4, 8, 16):
        expected = torchvision_make_divisible(channels * width, divisor)
        assert ev(f"make_divisible({channels} * {width}, {divisor})") == expected


@given(st.lists(st.floats(-1e6, 1e6), max_size=6))
def test_sum_of_floats_is_pythons(values: list[float]) -> None:
    tree = n.Call(n.Name("sum"), (n.ListExpr(tuple(n.Const(v) for v in values)),))
    assert same(evaluate(tree, Scope()), sum(values))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("int(2.7)", 2),
        ("int(-2.7)", -2),
        ("float(2)", 2.0),
        ("round(3.5)", 4),
        ("round(2.675, 2)", round(2.675, 2)),
        ("round(25, -1)", 20),
        ("abs(-2.5)", 2.5),
        ("min([3, 1, 2])", 1),
        ("max(1, 2.5)", 2.5),
        ("len('abc')", 3),
        ("range(3, 0, -1)", (3, 2, 1)),
        ("zip([1, 2])", ((1,), (2,))),
        ("sum([])", 0),
        ("sum([0.5, 0.25])", 0.75),
    ],
)
def test_builtin_values(text: str, value: Any) -> None:
    assert same(ev(text), value)


# -- values, scopes and the input shape ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("7 // -2", -4),
        ("-7 % 3", 2),
        ("7 / 2", 3.5),
        ("2 ** -1", 0.5),
        ("2 ** 3 ** 2", 512),
        ("-2 ** 2", -4),
        ("(-2) ** 2", 4),
        ("1 < 2 < 3", True),
        ("1 < 3 < 2", False),
        ("0 or [] or 'x'", "x"),
        ("1 and 0 and 2", 0),
        ("not []", True),
        ("2 in [1, 2]", True),
        ("'b' not in 'abc'", False),
        ("[1, 2] < [1, 3]", True),
        ("'ab' + 'c'", "abc"),
        ("1 if [] else 2", 2),
        ("[1, [2, 3]][1][0]", 2),
        ("'abc'[-1]", "c"),
        ("true == 1", True),
        ("none == none", True),
    ],
)
def test_python_semantics(text: str, value: Any) -> None:
    assert same(ev(text), value)
    assert same(run_python(render(parse_expr(text), python=True), {}), value)


def test_scopes_chain_and_shadow() -> None:
    outer = Scope({"a": 1, "b": 2}, input=InputShape((3, 8, 8)))
    inner = outer.child({"a": 10})
    assert evaluate(parse_expr("a + b"), inner) == 12
    assert inner.visible() == {"a", "b"} and inner.lookup("b") == 2
    assert inner.input == InputShape((3, 8, 8))
    assert outer.child(input=InputShape((4,))).input == InputShape((4,))
    with pytest.raises(KeyError):
        inner.lookup("c")


@pytest.mark.parametrize(
    ("dims", "attrs"),
    [
        ((10,), {"features": 10, "channels": 10}),
        ((3, 100), {"channels": 3, "length": 100}),
        ((3, 32, 24), {"channels": 3, "height": 32, "width": 24}),
        ((3, 4, 32, 24), {"channels": 3, "depth": 4, "height": 32, "width": 24}),
    ],
)
def test_input_shape_attributes(dims: tuple[int, ...], attrs: dict[str, int]) -> None:
    scope = Scope(input=InputShape(dims))
    for attr, value in attrs.items():
        assert evaluate(parse_expr(f"in.{attr}"), scope) == value
    assert evaluate(parse_expr("in.shape"), scope) == dims
    assert evaluate(parse_expr("in.rank"), scope) == len(dims)
    assert evaluate(parse_expr("in"), scope) == InputShape(dims)


def test_input_shape_attribute_errors() -> None:
    with pytest.raises(ExprError) as info:
        evaluate(parse_expr("in.length"), Scope(input=InputShape((3, 8, 8))))
    assert info.value.message == "`in` has no attribute 'length' for a 3-d input"
    assert info.value.hint == "valid here: in.channels, in.height, in.width, in.rank, in.shape"
    with pytest.raises(ExprError) as info:
        evaluate(parse_expr("in.channels"), Scope(input=InputShape((1, 2, 3, 4, 5))))
    assert info.value.hint == "valid here: in.rank, in.shape"


def test_symbolic_input_attributes() -> None:
    shape = Sym(n.Name("shape"))
    result = evaluate(parse_expr("s.channels * 2"), Scope({"s": shape}))
    assert render(result.expr) == "shape.channels * 2"


@pytest.mark.parametrize(
    ("value", "shown", "typed"),
    [
        (True, "true", "a boolean"),
        (False, "false", "a boolean"),
        (None, "none", "a none"),
        (3, "3", "an integer"),
        (2.5, "2.5", "a number"),
        ("M", "'M'", "a string"),
        ((1, "M", (True,)), "[1, 'M', [true]]", "a list"),
        ({"a": None}, "{'a': none}", "a mapping"),
        (Sym(n.Binary("*", n.Name("c"), n.Const(2))), "c * 2", "a value"),
        (Sym(n.Name("c"), 4), "c", "an integer"),
    ],
)
def test_show_and_a_type(value: Any, shown: str, typed: str) -> None:
    assert show(value) == shown
    assert a_type(value) == typed


def test_iterate() -> None:
    assert list(iterate((1, 2))) == [1, 2]
    assert list(iterate({"a": 1, "b": 2})) == ["a", "b"]
    assert list(iterate("ab")) == ["a", "b"]
    with pytest.raises(
        ExprError, match=r"a loop needs a list to iterate over, found 3 \(integer\)"
    ):
        iterate(3)


# -- math built-ins, sorted, reversed, all, any ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("ceil(2.0)", 2),
        ("ceil(-0.5)", 0),
        ("ceil(7)", 7),
        ("floor(2.9)", 2),
        ("floor(-0.5)", -1),
        ("log(1)", 0.0),
        ("log(100, 10)", 2.0),
        ("log(2.0 ** 10, 2)", 10.0),
        ("sqrt(0)", 0.0),
        ("sqrt(16)", 4.0),
        ("sorted([2.5, 1, -3])", (-3, 1, 2.5)),
        ("sorted(['b', 'a'])", ("a", "b")),
        ("sorted([[2], [1, 5]])", ((1, 5), (2,))),
        ("sorted([])", ()),
        ("sorted('cab')", ("a", "b", "c")),
        ("reversed('ab')", ("b", "a")),
        ("reversed([])", ()),
        ("all([])", True),
        ("any([])", False),
        ("all([1, 0])", False),
        ("any([none, 2])", True),
        ("abs(-2)", 2),
    ],
)
def test_new_builtin_values_are_pythons(text: str, value: Any) -> None:
    assert same(ev(text), value)
    assert same(run_python(render(parse_expr(text), python=True), {}), value)


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("ceil('a')", "ceil() expects a number, found 'a' (string)", None),
        ("floor(true)", "floor() expects a number, found true (boolean)", None),
        ("ceil(1e300)", "the result is too large (more than 2**62)", None),
        ("log(0)", "log() of 0: the logarithm is only defined for positive numbers", None),
        ("log(-1.5)", "log() of -1.5", None),
        ("log(8, 1)", "log() base 1: a base must be positive and not 1", None),
        ("log(8, 0)", "log() base 0", None),
        ("log(8, '2')", "log() expects a number, found '2' (string)", None),
        ("sqrt(-1)", "sqrt() of -1: a negative number has no real square root", None),
        ("sorted(3)", "sorted() expects a list, found 3 (integer)", None),
        ("sorted([1, 'a'])", "sorted() cannot order integer and string items", "numbers, of"),
        ("sorted([true, false])", "sorted() cannot order boolean items", None),
        ("sorted([[1], ['a']])", "the lists' items differ in type", None),
        ("sorted([1], reverse=1)", "sorted() reverse must be true or false, found 1", None),
        ("sorted([1], key=1)", "sorted() takes no keyword argument 'key'", "reverse"),
        ("reversed(1)", "reversed() expects a list, found 1 (integer)", None),
        ("all(1)", "all() expects a list", None),
        ("ceil(1, 2)", "ceil() takes 1 argument, found 2", None),
        ("log()", "log() takes 1 to 2 arguments, found 0", None),
    ],
)
def test_new_builtin_errors(text: str, message: str, hint: str | None) -> None:
    with pytest.raises(ExprError) as info:
        ev(text)
    assert message in info.value.message
    if hint is not None:
        assert info.value.hint is not None and hint in info.value.hint


@given(st.floats(-1e15, 1e15))
def test_ceil_and_floor_are_maths(x: float) -> None:
    for name in ("ceil", "floor"):
        tree = n.Call(n.Name(name), (n.Const(x),))
        assert same(evaluate(tree, Scope()), getattr(math, name)(x))
        assert same(run_python(render(tree, python=True), {}), getattr(math, name)(x))


@given(
    st.floats(1e-300, 1e300), st.one_of(st.none(), st.floats(1e-3, 1e3).filter(lambda b: b != 1))
)
def test_log_is_maths(x: float, base: float | None) -> None:
    args = (n.Const(x),) if base is None else (n.Const(x), n.Const(base))
    tree = n.Call(n.Name("log"), args)
    expected = math.log(x) if base is None else math.log(x, base)
    assert same(evaluate(tree, Scope()), expected)
    assert same(run_python(render(tree, python=True), {}), expected)


def test_integer_builtins_fold_as_integers() -> None:
    """``ceil(x) // 1`` is ``ceil(x)``: the folding rules know which calls give integers."""
    x = Sym(n.Name("x"))
    scope = Scope({"x": x})
    for text, residual in [
        ("ceil(x) // 1", "math.ceil(x)"),
        ("floor(x) // 1", "math.floor(x)"),
        ("round(x) // 1", "round(x)"),
        ("round(x, 1) // 1", "round(x, 1) // 1"),
        ("sqrt(x) // 1", "math.sqrt(x) // 1"),
    ]:
        assert render(evaluate(parse_expr(text), scope).expr, python=True) == residual


# -- slices --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("xs[1:]", (2, 3, 4, 5)),
        ("xs[:-1]", (1, 2, 3, 4)),
        ("xs[::2]", (1, 3, 5)),
        ("xs[::-1]", (5, 4, 3, 2, 1)),
        ("xs[1:4:2]", (2, 4)),
        ("xs[:]", (1, 2, 3, 4, 5)),
        ("xs[10:]", ()),
        ("xs[-100:2]", (1, 2)),
        ("xs[none:2]", (1, 2)),
        ("xs[a:a + 2]", (3, 4)),
        ("'abcd'[1:3]", "bc"),
        ("range(10)[2:8:3]", (2, 5)),
        ("sum(xs[:a])", 3),
        ("xs[1:][0]", 2),
    ],
)
def test_slices(text: str, value: Any) -> None:
    env = {"xs": (1, 2, 3, 4, 5), "a": 2}
    assert same(ev(text, **env), value)
    assert same(run_python(render(parse_expr(text), python=True), env), value)


@pytest.mark.parametrize(
    ("text", "message", "part", "hint"),
    [
        ("xs[1:2:0]", "a slice step must not be zero", "0", None),
        ("xs[1.5:]", "a slice bound must be an integer (or none), found 1.5", "1.5", "int(…)"),
        ("xs[:true]", "a slice bound must be an integer (or none), found true", "true", None),
        ("xs[:'a']", "a slice bound must be an integer (or none), found 'a'", "'a'", None),
        ("m[1:]", "a mapping cannot be sliced", "m[1:]", "take part of a list or string"),
        ("3[1:]", "an integer cannot be sliced", "3[1:]", None),
    ],
)
def test_slice_errors_are_positioned(text: str, message: str, part: str, hint: str | None) -> None:
    with pytest.raises(ExprError) as info:
        evaluate(parse_expr(text, _origin(text)), Scope({"xs": (1, 2), "m": {"a": 1}}))
    assert info.value.message == message
    assert hint is None or (info.value.hint is not None and hint in info.value.hint)
    span = info.value.span
    assert span is not None
    start = 10 + text.index(part)
    assert (span.col, span.end_col) == (start, start + len(part))


def test_symbolic_slices() -> None:
    xs, a = Sym(n.Name("xs")), Sym(n.Name("a"))
    cases = {
        "xs[1:]": ({"xs": xs}, "xs[1:]"),
        "ys[a:]": ({"ys": (1, 2, 3), "a": a}, "(1, 2, 3)[a:]"),
        "ys[: a + 1 : 2]": ({"ys": (1, 2), "a": a}, "(1, 2)[: a + 1 : 2]"),
        "xs[::2][0]": ({"xs": xs}, "xs[::2][0]"),
    }
    for text, (names, residual) in cases.items():
        result = evaluate(parse_expr(text), Scope(names))
        assert isinstance(result, Sym) and not result.known
        assert render(result.expr, python=True) == residual
    known = evaluate(parse_expr("xs[1:]"), Scope({"xs": Sym(n.Name("xs"), (1, 2, 3))}))
    assert known.value == (2, 3) and render(known.expr) == "xs[1:]"


# -- comprehensions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("[v * 2 for v in xs]", (2, 4, 6)),
        ("[v for v in xs if v != 2]", (1, 3)),
        ("[v for v in xs if v > 1 if v < 3]", (2,)),
        ("[a + b for a, b in zip(xs, [10, 20, 30])]", (11, 22, 33)),
        ("[i * v for i, v in enumerate(xs)]", (0, 2, 6)),
        ("[[i, j] for i in range(3) for j in range(i)]", ((1, 0), (2, 0), (2, 1))),
        ("[v for v in range(3) for v in range(v)]", (0, 0, 1)),  # the second `v` shadows
        ("[[w for w in range(v)] for v in xs]", ((0,), (0, 1), (0, 1, 2))),
        ("[c for c in 'ab']", ("a", "b")),
        ("[k for k in m]", ("p", "q")),
        ("[v for v in []]", ()),
        ("[v if v > 1 else 0 for v in xs]", (0, 2, 3)),
        ("[v for v in xs if v > 5] + [0]", (0,)),
        ("len([1 for v in range(100000)])", 100_000),
        ("sum([v for v in xs[1:]])", 5),
        ("[x for x in xs][-1]", 3),  # `x` (the generated `forward`'s tensor) is allowed here
    ],
)
def test_comprehension_values_are_pythons(text: str, value: Any) -> None:
    env = {"xs": (1, 2, 3), "m": {"p": 1, "q": 2}}
    assert same(ev(text, **env), value)
    assert same(run_python(render(parse_expr(text), python=True), env), value)


def test_a_comprehension_variable_is_local() -> None:
    """Python's scoping: the variable is bound inside the brackets only, shadows an outer name
    there, and the first iterable is read outside it."""
    assert ev("[v for v in range(v)]", v=3) == (0, 1, 2)
    assert ev("[v + w for w in range(2)]", v=10, w=99) == (10, 11)
    with pytest.raises(ExprError, match="undefined name 'v'"):
        ev("[v for v in xs] + [v]", xs=(1,))
    with pytest.raises(ExprError, match="undefined name 'w'"):
        ev("[w for v in range(w) for w in range(2)]")


def test_comprehension_names() -> None:
    tree = parse_expr("[a * v for v in range(v) if v > b for w in f(v, c)]")
    assert n.free_names(tree) == {"a", "v", "range", "b", "f", "c"}
    assert n.value_names(tree) == {"a", "v", "b", "c"}
    assert n.bound_names(tree) == {"v", "w"}
    assert n.value_names(parse_expr("[v for v in xs]")) == {"xs"}


@pytest.mark.parametrize(
    ("text", "message", "part", "hint"),
    [
        (
            "[v for v in 3]",
            "a comprehension needs a list to iterate over, found 3 (integer)",
            "3",
            None,
        ),
        (
            "[a for a, b in xs]",
            "cannot unpack 1 into 2 names (a, b)",
            "for a, b in xs",
            "each item must be a list of 2",
        ),
        (
            "[a for a, b in [[1, 2, 3]]]",
            "cannot unpack [1, 2, 3] into 2 names (a, b)",
            "for a, b in [[1, 2, 3]]",
            None,
        ),
        ("[v // 0 for v in xs]", "division by zero", "v // 0", None),
        ("[v for v in xs if v < 'a']", "cannot compare an integer with a string", "v < 'a'", None),
        ("[undefined for v in xs]", "undefined name 'undefined'", "undefined", None),
        (
            "[v for v in range(100000) for w in range(100) if w < 0]",
            "the expression does too much work (more than 1,000,000 steps)",
            "[v for v in range(100000) for w in range(100) if w < 0]",
            "iterate over shorter lists",
        ),
        (
            "[range(100000) for v in range(20)]",
            "the expression does too much work",
            "range(100000)",
            None,
        ),
        (
            "[v for v in range(100000)] + [0]",
            "the list is longer than 100,000 items",
            "[v for v in range(100000)] + [0]",
            None,
        ),
    ],
)
def test_comprehension_errors_are_positioned(
    text: str, message: str, part: str, hint: str | None
) -> None:
    with pytest.raises(ExprError) as info:
        evaluate(parse_expr(text, _origin(text)), Scope({"xs": (1, 2)}))
    assert message in info.value.message
    assert hint is None or (info.value.hint is not None and hint in info.value.hint)
    span = info.value.span
    assert span is not None
    start = 10 + text.index(part)
    assert (span.col, span.end_col) == (start, start + len(part))


def test_the_work_of_one_evaluation_is_bounded() -> None:
    """A comprehension can neither loop for long nor build much: every step and every item of
    every list built counts, and the count starts afresh with each evaluation."""
    assert len(ev("[v for v in range(100000)]")) == MAX_ITEMS  # 300,000 steps
    assert len(ev("[v for v in range(100000)]")) == MAX_ITEMS  # a new evaluation, a new count
    with pytest.raises(ExprError, match="too much work"):
        ev("[[0] * 100000 for v in range(10)]")
    with pytest.raises(ExprError, match="too much work"):
        ev("[[w for w in range(1000)] for v in range(1000)]")
    assert ev("[[w for w in range(300)] for v in range(300)]")[-1][-1] == 299
    assert MAX_STEPS == 1_000_000
    with pytest.raises(ExprError, match="more than 100,000 items"):
        ev("[v for v in range(1000) for w in range(101)]")


def test_a_short_mention_of_a_long_item_in_messages() -> None:
    with pytest.raises(ExprError) as info:
        ev("[a for a, b in [range(1000)]]")
    assert info.value.message == "cannot unpack [0, 1, 2, 3, …] into 2 names (a, b)"


# -- comprehensions with symbolic values ---------------------------------------------------------


D, M = Sym(n.Name("depth")), Sym(n.Name("mult"))


@pytest.mark.parametrize(
    ("text", "names", "residual"),
    [
        # an unknown iterable: the same comprehension, with what is known folded in
        (
            "[i * 2 + 1 for i in range(depth)]",
            {"depth": D},
            "tuple(i * 2 + 1 for i in range(depth))",
        ),
        ("[v for v in xs if v > k]", {"xs": D, "k": 3}, "tuple(v for v in depth if v > 3)"),
        ("[v for v in xs if k]", {"xs": D, "k": True}, "tuple(v for v in depth)"),
        (
            "[a + b for a, b in zip(xs, ys)]",
            {"xs": D, "ys": (1, 2)},
            "tuple(a + b for a, b in zip(depth, (1, 2)))",
        ),
        (
            "[[w + v for w in range(v)] for v in range(depth)]",
            {"depth": D},
            "tuple(tuple(w + v for w in range(v)) for v in range(depth))",
        ),
        # a known iterable, unknown items: still the comprehension, not the items unrolled
        (
            "[make_divisible(c * mult, 8) for c in [16, 24]]",
            {"mult": M},
            "tuple(make_divisible(c * mult, 8) for c in (16, 24))",
        ),
        (
            "[ceil(n * mult) for n in ns]",
            {"mult": M, "ns": (1, 2)},
            "tuple(math.ceil(n * mult) for n in (1, 2))",
        ),
        # an unknown condition
        ("[v for v in [1, 2] if v > depth]", {"depth": D}, "tuple(v for v in (1, 2) if v > depth)"),
        # a variable spelt like a name the residual reads is renamed
        (
            "[v + a for v in range(3)]",
            {"a": Sym(n.Name("v"))},
            "tuple(v_1 + v for v_1 in (0, 1, 2))",
        ),
        # no integer folding of a variable that may hold a float: (v + 2) - 3 stays
        ("[(v + 2) - 3 for v in xs]", {"xs": D}, "tuple(v + 2 - 3 for v in depth)"),
    ],
)
def test_symbolic_comprehensions_stay_comprehensions(
    text: str, names: dict[str, Any], residual: str
) -> None:
    result = evaluate(parse_expr(text), Scope(names))
    assert isinstance(result, Sym) and not result.known
    assert render(result.expr, python=True) == residual
    assert not any(
        "\N{PRIME}" in name for name in n.free_names(result.expr) | n.bound_names(result.expr)
    )


def test_symbolic_comprehensions_compute_what_python_computes() -> None:
    env = {"depth": 4, "mult": 0.75}
    for text in [
        "[i * 2 + 1 for i in range(depth)]",
        "[make_divisible(c * mult, 8) for c in [16, 24, 40]]",
        "[ceil(n * mult) for n in [1, 2, 3]]",
        "[[w + v for w in range(v)] for v in range(depth)]",
        "[v for v in range(10) if v > depth]",
        "[v * mult for v in sorted(range(depth), reverse=true)[1:]]",
    ]:
        expected = ev(text, **env)
        symbolic = evaluate(parse_expr(text), Scope({k: Sym(n.Name(k)) for k in env}))
        source = render(symbolic.expr, python=True)
        assert same(run_python(source, env, generated_namespace()), expected), source


def test_a_condition_known_false_gives_the_empty_list() -> None:
    assert ev("[v for v in xs if k]", xs=D, k=False) == ()
    assert ev("[v for v in xs if v > 1 if k]", xs=D, k=0) == ()


def test_known_symbols_in_comprehensions() -> None:
    xs = Sym(n.Name("xs"), (1, 2, 3))
    result = evaluate(parse_expr("[v * 2 for v in xs if v > 1]"), Scope({"xs": xs}))
    assert isinstance(result, Sym) and same(result.value, (4, 6))
    assert render(result.expr, python=True) == "tuple(v * 2 for v in xs if v > 1)"
    # a part that fails for values the iteration never reaches: the items are written out
    result = evaluate(parse_expr("[1 // 0 if v > 5 else v for v in xs]"), Scope({"xs": xs}))
    assert same(result.value, (1, 2, 3)) and render(result.expr, python=True) == "(1, 2, 3)"
    # items that are symbols of the input shape
    shape = (Sym(n.Name("c")), Sym(n.Name("h")))
    result = evaluate(parse_expr("[d * 2 for d in s]"), Scope({"s": shape}))
    assert render(result.expr, python=True) == "tuple(d * 2 for d in (c, h))"
    result = evaluate(parse_expr("[a for a, b in [s]]"), Scope({"s": Sym(n.Name("s"))}))
    assert render(result.expr, python=True) == "tuple(a for a, b in (s,))"


def test_slices_and_comprehensions_alone_are_refused() -> None:
    """The parser never makes them outside brackets; a tree built by hand gets an error."""
    for node in (n.Slice(n.Const(1)), n.CompFor(("v",), n.Name("xs"))):
        with pytest.raises(ExprError, match="only written inside brackets"):
            evaluate(node, Scope({"xs": ()}))


# -- checks of values the generated class learns (compare, outside, as_fields) --------------


def test_compare_decides_known_values_and_writes_the_test_of_unknown_ones() -> None:
    from netspec.expr.evaluate import compare, tracing  # noqa: PLC0415

    assert compare(3, "<", 4) is True
    w = Sym(n.Name("w"))
    assert render(compare(w, "<", 2).expr, python=True) == "w < 2"
    assert render(compare(2, ">=", w).expr, python=True) == "2 >= w"
    traced = Sym(n.Name("w"), 7)
    with tracing() as trace:
        assert compare(2, ">", traced) is False  # recorded as 7 < 2 on the traced value
        assert compare(traced, "==", 7) is True
    assert [(g[0], render(g[1]), g[3]) for g in trace.guards] == [
        ("<", "w", False),
        ("==", "w", True),
    ]


def test_outside_writes_only_the_bound_an_unknown_value_is_tested_against() -> None:
    from netspec.expr.evaluate import outside  # noqa: PLC0415

    s, w = Sym(n.Name("s")), Sym(n.Name("w"))
    assert outside(0, 3, 3) is True and outside(0, 2, 3) is False and outside(0, -1, 3) is True
    assert render(outside(0, s, w).expr, python=True) == "not 0 <= s < w"
    assert render(outside(0, 2, w).expr, python=True) == "2 >= w"
    assert outside(0, -1, w) is True  # below the known bound whatever w is
    assert render(outside(0, s, 7).expr, python=True) == "not 0 <= s < 7"


def test_unknown_values_written_as_fields_number_their_expressions() -> None:
    from netspec.expr.evaluate import FIELD_END, FIELD_START, SymList, as_fields  # noqa: PLC0415

    s, dims = Sym(n.Name("s")), SymList(n.Name("dims"))
    with as_fields() as fields:
        text = f"shift_size={s} of {Sym(n.Name('k'), 3)}, dims {show(dims)}"
    assert text == f"shift_size={FIELD_START}0{FIELD_END} of 3, dims {FIELD_START}1{FIELD_END}"
    assert [render(f, python=True) for f in fields] == ["s", "list(dims)"]
    assert f"{s}" == "s"  # outside the block, the expression as the spec writes it
