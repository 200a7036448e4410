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
from hypothesis import given, note
from hypothesis import strategies as st

from netspec.errors import ExprError, Source, Span
from netspec.expr import nodes as n
from netspec.expr.evaluate import (
    BUILTINS,
    MAX_INT,
    MAX_ITEMS,
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
)
from netspec.expr.render import render
from netspec.source.parser import parse_expr

# -- random expression trees -------------------------------------------------------------------

INT_NAMES = ("a", "b", "c")
NAMES = (*INT_NAMES, "xs", "undefined")  # `undefined` is never bound
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
    )


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
    if isinstance(node, n.Index):
        value, index = python(node.value, env), python(node.index, env)
        result = value[index]
        if isinstance(index, bool):
            raise Refused("a boolean used as an index")
        return result
    if isinstance(node, n.Call):
        assert isinstance(node.func, n.Name)
        return _py_builtin(node.func.id, [python(a, env) for a in node.args])
    raise AssertionError(f"no model for {node!r}")


def run_python(source: str, env: Mapping[str, Any], namespace: dict[str, Any] | None = None) -> Any:
    """``source`` evaluated by Python itself, as generated code would."""
    with warnings.catch_warnings():  # `1[0]` is a SyntaxWarning before it is a TypeError
        warnings.simplefilter("ignore", SyntaxWarning)
        code = compile(source, "<rendered>", "eval")
    return eval(code, dict(namespace or {}), dict(env))


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
    # generated code calls the Python built-in (or the definition netspec writes out)
    produced = run_python(render(parse_expr(text), python=True), {}, generated_namespace())
    if name in ("range", "zip", "enumerate"):  # iterated over in generated code
        produced = tuple(produced)
    assert same(produced, expected)


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
