"""Rendering expressions as spec text and as Python source.

Spec text must parse back to the same tree; Python source must be what ``ruff format`` would
write (generated files are checked with it), with the fewest parentheses Python needs.
"""

from __future__ import annotations

import ast
import importlib.util
import math
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import fields, replace
from typing import Any

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from netspec.errors import NetspecError
from netspec.expr import nodes as n
from netspec.expr.evaluate import InputShape, Scope, Sym, evaluate
from netspec.expr.render import comprehension_parts, literal, python_string, render
from netspec.source.parser import parse_expr

# -- expected renderings -------------------------------------------------------------------------

RENDERINGS: list[tuple[str | n.Expr, str, str]] = [
    # (text or tree, spec syntax, Python source)
    ("true", "true", "True"),
    ("False", "false", "False"),
    ("none", "none", "None"),
    ("[1, 2]", "[1, 2]", "(1, 2)"),
    ("[x]", "[x]", "(x,)"),
    ("(x,)", "[x]", "(x,)"),
    ("[]", "[]", "()"),
    ("[[1], []]", "[[1], []]", "((1,), ())"),
    ("'M'", "'M'", '"M"'),
    ("'say \"hi\"'", "'say \"hi\"'", "'say \"hi\"'"),
    ('"it\'s"', '"it\'s"', '"it\'s"'),
    ("f(a, k=[1])", "f(a, k=[1])", "f(a, k=(1,))"),
    ("f()", "f()", "f()"),
    ("2 ** 10", "2 ** 10", "2**10"),
    ("x.y ** 2", "x.y ** 2", "x.y**2"),
    ("2 ** -1", "2 ** -1", "2**-1"),
    ("2 ** -x.y", "2 ** -x.y", "2**-x.y"),
    ("1.5 ** 2", "1.5 ** 2", "1.5**2"),
    ("a[0] ** 2", "a[0] ** 2", "a[0] ** 2"),
    ("f(x) ** 2", "f(x) ** 2", "f(x) ** 2"),
    ("(a + b) ** 2", "(a + b) ** 2", "(a + b) ** 2"),
    ("2 ** (a + b)", "2 ** (a + b)", "2 ** (a + b)"),
    ("(a ** b) ** c", "(a ** b) ** c", "(a**b) ** c"),
    ("a ** b ** c", "a ** b ** c", "a**b**c"),
    ("(-2) ** 2", "(-2) ** 2", "(-2) ** 2"),
    (n.Binary("**", n.Const(-2), n.Const(2)), "(-2) ** 2", "(-2) ** 2"),
    ("-(2 ** 2)", "-2 ** 2", "-(2**2)"),
    ("a ** -(b ** c)", "a ** -b ** c", "a ** -(b**c)"),
    ("not a ** b", "not a ** b", "not (a**b)"),
    ("a ** true", "a ** true", "a**True"),
    ("-2", "-2", "-2"),
    (n.Const(-2), "-2", "-2"),
    ("--2", "--2", "--2"),
    ("a - (b - c)", "a - (b - c)", "a - (b - c)"),
    ("a - b - c", "a - b - c", "a - b - c"),
    ("a - -b", "a - -b", "a - -b"),
    ("a * (b + c)", "a * (b + c)", "a * (b + c)"),
    ("a * b + c", "a * b + c", "a * b + c"),
    ("-(a + b)", "-(a + b)", "-(a + b)"),
    ("a // b % c", "a // b % c", "a // b % c"),
    ("a / (b * c)", "a / (b * c)", "a / (b * c)"),
    ("not (a and b)", "not (a and b)", "not (a and b)"),
    ("not a and b", "not a and b", "not a and b"),
    ("(a or b) and c", "(a or b) and c", "(a or b) and c"),
    ("a or b and c", "a or b and c", "a or b and c"),
    ("(a and b) and c", "(a and b) and c", "(a and b) and c"),
    ("not a < b", "not a < b", "not a < b"),
    ("(not a) < b", "(not a) < b", "(not a) < b"),
    ("-(not a)", "-(not a)", "-(not a)"),
    ("a < b < c", "a < b < c", "a < b < c"),
    ("(a < b) < c", "(a < b) < c", "(a < b) < c"),
    ("a < (b < c)", "a < (b < c)", "a < (b < c)"),
    ("a not in [1, 2]", "a not in [1, 2]", "a not in (1, 2)"),
    ("(a + 1) in xs", "a + 1 in xs", "a + 1 in xs"),
    ("a if b else c if d else e", "a if b else c if d else e", "a if b else c if d else e"),
    ("(a if b else c) if d else e", "(a if b else c) if d else e", "(a if b else c) if d else e"),
    ("a if (b if c else d) else e", "a if (b if c else d) else e", "a if (b if c else d) else e"),
    ("[a if b else c]", "[a if b else c]", "(a if b else c,)"),
    ("-(a if b else c)", "-(a if b else c)", "-(a if b else c)"),
    ("(a or b) if c else d", "a or b if c else d", "a or b if c else d"),
    ("xs[-1]", "xs[-1]", "xs[-1]"),
    ("(a + b)[0]", "(a + b)[0]", "(a + b)[0]"),
    ("(-a).b", "(-a).b", "(-a).b"),
    ("f(a)[0].b(c)", "f(a)[0].b(c)", "f(a)[0].b(c)"),
    ("in.channels * 2", "in.channels * 2", "in.channels * 2"),
    (n.Const(0.1), "0.1", "0.1"),
    (n.Const(1e-05), "1e-05", "1e-05"),
    (n.Const(1e16), "1e+16", "1e16"),
    (n.Attr(n.Const(3), "real"), "(3).real", "(3).real"),
    (n.Attr(n.Const(0.5), "real"), "0.5.real", "(0.5).real"),
    (n.Const((1, 2)), "[1, 2]", "(1, 2)"),  # type: ignore[arg-type]  # a list constant
    (n.DictExpr((n.Const("a"),), (n.ListExpr((n.Const(1),)),)), "{'a': [1]}", '{"a": (1,)}'),
    # slices: colons spaced as ruff spaces them
    ("xs[1:]", "xs[1:]", "xs[1:]"),
    ("xs[:-1]", "xs[:-1]", "xs[:-1]"),
    ("xs[::2]", "xs[::2]", "xs[::2]"),
    ("xs[:]", "xs[:]", "xs[:]"),
    ("xs[1:2:]", "xs[1:2]", "xs[1:2]"),
    ("xs[a:b:-1]", "xs[a:b:-1]", "xs[a:b:-1]"),
    ("xs[a+1:]", "xs[a + 1 :]", "xs[a + 1 :]"),
    ("xs[:n-1:2]", "xs[: n - 1 : 2]", "xs[: n - 1 : 2]"),
    ("xs[::n+1]", "xs[:: n + 1]", "xs[:: n + 1]"),
    ("xs[a+1::2]", "xs[a + 1 :: 2]", "xs[a + 1 :: 2]"),
    ("xs[len(ys):]", "xs[len(ys) :]", "xs[len(ys) :]"),
    ("xs[a.b:]", "xs[a.b :]", "xs[a.b :]"),
    ("xs[-(a + 1):]", "xs[-(a + 1) :]", "xs[-(a + 1) :]"),
    ("xs[:true]", "xs[:true]", "xs[:True]"),
    ("xs[a if b else c:]", "xs[a if b else c :]", "xs[a if b else c :]"),
    ("(a + b)[1:][0]", "(a + b)[1:][0]", "(a + b)[1:][0]"),
    # comprehensions: tuples in generated code, as lists are
    ("[v * 2 for v in xs]", "[v * 2 for v in xs]", "tuple(v * 2 for v in xs)"),
    (
        "[a for a, b in zip(xs, ys) if a > b]",
        "[a for a, b in zip(xs, ys) if a > b]",
        "tuple(a for a, b in zip(xs, ys) if a > b)",
    ),
    (
        "[v for v in xs if v if not v]",
        "[v for v in xs if v if not v]",
        "tuple(v for v in xs if v if not v)",
    ),
    (
        "[v for v in (a if b else c)]",
        "[v for v in (a if b else c)]",
        "tuple(v for v in (a if b else c))",
    ),
    (
        "[v for v in xs if (a if b else c)]",
        "[v for v in xs if (a if b else c)]",
        "tuple(v for v in xs if (a if b else c))",
    ),
    (
        "[a if b else c for v in xs]",
        "[a if b else c for v in xs]",
        "tuple(a if b else c for v in xs)",
    ),
    (
        "[v for v in a or b if a and b]",
        "[v for v in a or b if a and b]",
        "tuple(v for v in a or b if a and b)",
    ),
    ("[v for v in a in b]", "[v for v in a in b]", "tuple(v for v in a in b)"),
    (
        "[v for v in range(3) for w in zip(v)]",
        "[v for v in range(3) for w in zip(v)]",
        "tuple(v for v in range(3) for w in zip(v))",
    ),
    (
        "[[v for v in range(w)] for w in ws]",
        "[[v for v in range(w)] for w in ws]",
        "tuple(tuple(v for v in range(w)) for w in ws)",
    ),
    ("[[v] for v in xs]", "[[v] for v in xs]", "tuple((v,) for v in xs)"),
    ("[v for v in xs][1:]", "[v for v in xs][1:]", "tuple(v for v in xs)[1:]"),
    ("-[v for v in xs][0]", "-[v for v in xs][0]", "-tuple(v for v in xs)[0]"),
    # built-ins: math's functions through math, lists through tuple(…)
    ("ceil(x / 2)", "ceil(x / 2)", "math.ceil(x / 2)"),
    ("floor(x)", "floor(x)", "math.floor(x)"),
    ("log(x, 2)", "log(x, 2)", "math.log(x, 2)"),
    ("sqrt(x) ** 2", "sqrt(x) ** 2", "math.sqrt(x) ** 2"),
    ("sorted(xs, reverse=true)", "sorted(xs, reverse=true)", "tuple(sorted(xs, reverse=True))"),
    ("reversed(xs)[0]", "reversed(xs)[0]", "tuple(reversed(xs))[0]"),
    ("all(xs) or any(xs)", "all(xs) or any(xs)", "all(xs) or any(xs)"),
]


def _tree(source: str | n.Expr) -> n.Expr:
    return parse_expr(source) if isinstance(source, str) else source


def _id(row: tuple[str | n.Expr, str, str]) -> str:
    return row[1]


@pytest.mark.parametrize(("source", "spec", "python"), RENDERINGS, ids=map(_id, RENDERINGS))
def test_render_spec(source: str | n.Expr, spec: str, python: str) -> None:
    assert render(_tree(source)) == spec


@pytest.mark.parametrize(("source", "spec", "python"), RENDERINGS, ids=map(_id, RENDERINGS))
def test_render_python(source: str | n.Expr, spec: str, python: str) -> None:
    assert render(_tree(source), python=True) == python


def ruff_format(lines: list[str]) -> list[str]:
    """``lines`` (Python statements) as ``ruff format`` writes them with default settings."""
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "-"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
def test_expected_python_renderings_are_what_ruff_writes() -> None:
    """Checks the table itself: each Python rendering above is already ruff-formatted."""
    lines = [f"x = {python}" for _, _, python in RENDERINGS if "in." not in python]
    assert ruff_format(lines) == lines


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("-2 ** 2", -4),
        ("(-2) ** 2", 4),
        ("2 ** -1", 0.5),
        ("2 ** 3 ** 2", 512),
        ("(2 ** 3) ** 2", 64),
        ("-(2 ** 2) ** 2", -16),
        ("10 - (4 - 3)", 9),
        ("2 * (3 + 4)", 14),
        ("not (1 and 0)", True),
        ("(1 < 2) == true", True),
        ("1 if 0 else 2 if 0 else 3", 3),
        (n.Binary("**", n.Const(-2), n.Const(2)), 4),
        (n.Unary("-", n.Binary("**", n.Const(2), n.Const(2))), -4),
        (n.Binary("-", n.Const(1), n.Const(-1)), 2),
        (n.Index(n.ListExpr((n.Const(5), n.Const(6))), n.Const(-1)), 6),
    ],
)
def test_rendered_python_keeps_precedence(source: str | n.Expr, value: Any) -> None:
    tree = _tree(source)
    assert evaluate(tree, Scope()) == value
    assert eval(render(tree, python=True)) == value


# -- round trips ---------------------------------------------------------------------------------

NAME_IDS = ("a", "b", "width", "x_1", "_y")
ATTRS = ("channels", "width", "shape")
OPERATORS = ("+", "-", "*", "/", "//", "%", "**")
COMPARISONS = ("<", ">", "==", ">=", "<=", "!=", "in", "not in")

PARSED_LEAVES: st.SearchStrategy[n.Expr] = st.one_of(
    st.integers(0, 10**6).map(n.Const),
    st.floats(min_value=0, allow_nan=False, allow_infinity=False)
    .filter(lambda v: math.copysign(1, v) > 0)
    .map(n.Const),
    st.sampled_from([True, False, None]).map(n.Const),
    st.text(max_size=6).map(n.Const),
    st.sampled_from(NAME_IDS).map(n.Name),
    st.just(n.InputRef()),
)


def _call(name: str, args: list[n.Expr], kwargs: dict[str, n.Expr]) -> n.Expr:
    return n.Call(n.Name(name), tuple(args), tuple(kwargs.items()))


def _compare(left: n.Expr, pairs: list[tuple[str, n.Expr]]) -> n.Expr:
    return n.Compare(left, tuple(op for op, _ in pairs), tuple(c for _, c in pairs))


def _binary(op: str, left: n.Expr, right: n.Expr) -> n.Expr:
    """``left op right`` in the parser's shape: a chain of one precedence nested to the left,
    one flat node past NESTED operands."""
    if op in n.CHAINED:
        return n.chain((left, right), (op,), positioned=False)
    return n.Binary(op, left, right)


def _op_chain(group: tuple[str, ...], values: list[n.Expr], picks: list[int]) -> n.Expr:
    return n.chain(values, [group[p % len(group)] for p in picks], positioned=False)


def _parsed_extend(children: st.SearchStrategy[n.Expr]) -> st.SearchStrategy[n.Expr]:
    return st.one_of(
        st.builds(n.Attr, children, st.sampled_from(ATTRS)),
        st.builds(n.Index, children, children),
        st.builds(
            _call,
            st.sampled_from(("f", "max", "conv2d")),
            st.lists(children, max_size=2),
            st.dictionaries(st.sampled_from(("k", "stride", "padding")), children, max_size=2),
        ),
        st.builds(n.Unary, st.sampled_from(("-", "+")), children),
        st.builds(_binary, st.sampled_from(OPERATORS), children, children),
        st.integers(n.NESTED + 1, n.NESTED + 3).flatmap(
            lambda length: st.builds(
                _op_chain,
                st.sampled_from([("+", "-"), ("*", "/", "//", "%")]),
                st.lists(children, min_size=length, max_size=length),
                st.lists(st.integers(0, 3), min_size=length - 1, max_size=length - 1),
            )
        ),
        st.builds(n.Not, children),
        st.builds(
            n.BoolOp,
            st.sampled_from(("and", "or")),
            st.lists(children, min_size=2, max_size=3).map(tuple),
        ),
        st.builds(
            _compare,
            children,
            st.lists(st.tuples(st.sampled_from(COMPARISONS), children), min_size=1, max_size=3),
        ),
        st.builds(n.IfExp, children, children, children),
        st.lists(children, max_size=3).map(lambda items: n.ListExpr(tuple(items))),
        st.builds(
            n.Index,
            children,
            st.builds(n.Slice, _optional(children), _optional(children), _optional(children)),
        ),
        st.builds(
            lambda element, clauses: n.ListComp(element, tuple(clauses)),
            children,
            st.lists(
                st.builds(
                    n.CompFor,
                    st.lists(st.sampled_from(NAME_IDS), min_size=1, max_size=2).map(tuple),
                    children,
                    st.lists(children, max_size=2).map(tuple),
                ),
                min_size=1,
                max_size=2,
            ),
        ),
    )


def _optional(children: st.SearchStrategy[n.Expr]) -> st.SearchStrategy[n.Expr | None]:
    return st.one_of(st.none(), children)


PARSED_TREES = st.recursive(PARSED_LEAVES, _parsed_extend, max_leaves=10)
"""Trees the parser can produce: no negative literals, no mappings, named callees."""


def _has_comprehension(tree: n.Expr) -> bool:
    return any(isinstance(s, n.ListComp) for s in subtrees(tree))


@given(PARSED_TREES)
def test_spec_rendering_parses_back_to_the_same_tree(tree: n.Expr) -> None:
    text = render(tree)
    note(text)
    assert parse_expr(text).node == tree


def _compares_with_none(tree: n.Expr) -> bool:
    return any(
        isinstance(s, n.Compare)
        and any(isinstance(c, n.Const) and c.value is None for c in s.comparators)
        for s in subtrees(tree)
    )


@given(
    PARSED_TREES.filter(lambda tree: not _has_comprehension(tree) and not _compares_with_none(tree))
)
def test_python_rendering_parses_back_to_the_same_tree(tree: n.Expr) -> None:
    """The grammar accepts Python spellings too: tuples, ``True``, ``None``, double quotes
    (not a comprehension's: ``tuple(v for v in xs)`` is Python's, not netspec's; nor ``x is
    None``, which generated code writes for the spec's ``x == none``)."""
    text = render(tree, python=True)
    note(text)
    assert parse_expr(text).node == tree


@given(PARSED_TREES)
def test_python_rendering_is_python(tree: n.Expr) -> None:
    text = render(_without_input(tree), python=True)
    note(text)
    ast.parse(text, mode="eval")


def _without_input(node: n.Expr) -> n.Expr:
    """``node`` reading ``in`` from a variable ``shape``, as generated code does."""
    if isinstance(node, n.InputRef):
        return n.Name("shape")
    return replace(node, **{f.name: _swap_input(getattr(node, f.name)) for f in fields(node)})


def _swap_input(value: Any) -> Any:
    if isinstance(value, n.Expr):
        return _without_input(value)
    if isinstance(value, tuple):
        return tuple(_swap_input(v) for v in value)
    return value


def subtrees(node: n.Expr, callees: bool = True) -> Iterator[n.Expr]:
    """``node`` and every expression inside it (called functions only if ``callees``)."""
    yield node
    for field in fields(node):
        if field.name == "func" and not callees:
            continue
        child = getattr(node, field.name)
        for item in child if isinstance(child, tuple) else (child,):
            if isinstance(item, tuple):
                item = item[1]  # a keyword argument
            if isinstance(item, n.Expr):
                yield from subtrees(item, callees)


# -- long chains of one precedence ----------------------------------------------------------------

LONG_TEXTS = [
    " + ".join(["1"] * 1900),  # tests/test_fuzz.py's sum, 7,597 characters
    " + ".join(["x"] * 10_000),
    " * ".join(["w"] * 10_000),
    "a" + " - b * c + d // 2 % e" * 2_500,  # products inside a sum
    "(a + b) * c" + " * d" * 5_000,  # a sum inside a product
    "a - (b - c)" + " - d" * 5_000,  # a chain inside a chain, on the right
    "-x" + " - -x" * 5_000,
    " + ".join(["1"] * 5_000) + " < " + " * ".join(["f(x, k=-a)"] * 5_000),
]


@pytest.mark.parametrize("text", LONG_TEXTS, ids=[t[:24] for t in LONG_TEXTS])
def test_a_long_chain_renders_as_written_and_parses_back(text: str) -> None:
    tree = parse_expr(text).node
    assert any(isinstance(s, n.OpChain) for s in _walk(tree))
    for python in (False, True):
        rendered = render(tree, python=python)
        assert rendered == text
        assert parse_expr(rendered).node == tree


def test_a_chain_in_brackets_that_a_chain_continues_renders_without_them() -> None:
    text = "(" + " + ".join(["x"] * 5_000) + ") - y"
    assert render(parse_expr(text)) == text[1:].replace(") - y", " - y")


def test_names_and_substitution_reach_every_operand_of_a_long_chain() -> None:
    text = " + ".join(f"v{i}" for i in range(5_000)) + " + abs(w)"
    tree = parse_expr(text)
    names = {f"v{i}" for i in range(5_000)}
    assert n.value_names(tree) == names | {"w"}
    assert n.free_names(tree) == names | {"abs", "w"}
    replaced = n.substitute(tree, {f"v{i}": n.Const(i) for i in range(5_000)})
    assert render(replaced) == " + ".join(map(str, range(5_000))) + " + abs(w)"
    assert evaluate(replaced, Scope({"w": 1})) == sum(range(5_000)) + 1
    assert (
        evaluate(tree, Scope({f"v{i}": i for i in range(5_000)} | {"w": 1}))
        == sum(range(5_000)) + 1
    )


def _walk(tree: n.Expr) -> Iterator[n.Expr]:
    """Every node of ``tree``, without recursion."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for field in fields(node):
            child = getattr(node, field.name)
            for item in child if isinstance(child, tuple) else (child,):
                if isinstance(item, tuple):
                    item = item[1]
                if isinstance(item, n.Expr):
                    stack.append(item)


# -- strings and literals ------------------------------------------------------------------------


PYTHON_STRINGS = [
    ("M", '"M"'),
    ("", '""'),
    ('say "hi"', "'say \"hi\"'"),
    ("it's", '"it\'s"'),
    ("a\"b'c", '"a\\"b\'c"'),
    ("''\"", '"\'\'\\""'),
    ("a\nb\tc\r\\", '"a\\nb\\tc\\r\\\\"'),
    ("\x00\x7f", '"\\x00\\x7f"'),
    ("é→", '"é→"'),
    ("\u200b", '"\\u200b"'),
    ('""\'', "'\"\"\\''"),
]


@pytest.mark.parametrize(("value", "expected"), PYTHON_STRINGS)
def test_python_string(value: str, expected: str) -> None:
    assert python_string(value) == expected


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
def test_expected_python_strings_are_what_ruff_writes() -> None:
    lines = [f"x = {expected}" for _, expected in PYTHON_STRINGS]
    assert ruff_format(lines) == lines
    assert [ast.literal_eval(line[4:]) for line in lines] == [v for v, _ in PYTHON_STRINGS]


@given(st.text())
def test_python_string_is_a_literal_of_the_value(value: str) -> None:
    text = python_string(value)
    assert ast.literal_eval(text) == value
    assert text.isprintable()


@given(st.text())
def test_spec_string_parses_back(value: str) -> None:
    assert parse_expr(render(n.Const(value))).node == n.Const(value)


@pytest.mark.parametrize(
    ("value", "python", "spec"),
    [
        ((1,), "(1,)", "[1]"),
        ((), "()", "[]"),
        ([1, 2], "(1, 2)", "[1, 2]"),
        (((1, 2), (3,)), "((1, 2), (3,))", "[[1, 2], [3]]"),
        ({"a": (1, 2)}, '{"a": (1, 2)}', "{'a': [1, 2]}"),
        ({"k": None, 2: "v"}, '{"k": None, 2: "v"}', "{'k': none, 2: 'v'}"),
        ({}, "{}", "{}"),
        (None, "None", "none"),
        (True, "True", "true"),
        (-3, "-3", "-3"),
        (0.1, "0.1", "0.1"),
        ("x'y\"", '"x\'y\\""', "'x\\'y\"'"),
        (InputShape((3, 8, 8)), "in", "in"),
        (Sym(n.Name("c")), "c", "c"),
        ((Sym(n.Name("c"), 4), 3), "(c, 3)", "[c, 3]"),
    ],
)
def test_literal(value: object, python: str, spec: str) -> None:
    assert literal(value) == python
    assert literal(value, python=False) == spec


@given(
    st.recursive(
        st.one_of(st.integers(-100, 100), st.booleans(), st.none(), st.text(max_size=4)),
        lambda inner: st.lists(inner, max_size=3).map(tuple),
        max_leaves=8,
    )
)
def test_literal_evaluates_to_the_value(value: Any) -> None:
    assert eval(literal(value)) == value
    assert evaluate(parse_expr(literal(value, python=False)), Scope()) == value


# -- substitute, value_names, free_names ---------------------------------------------------------


def test_substitute_replaces_names_but_not_called_functions() -> None:
    tree = parse_expr("f(f, k=f) + in.channels * in.width + xs[f]")
    mapping: dict[str, n.Expr] = {"f": n.Name("g"), "in.channels": n.Name("c_in")}
    assert render(n.substitute(tree, mapping)) == "f(g, k=g) + c_in * in.width + xs[g]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-a", "-2"),
        ("not a", "not 2"),
        ("a[b]", "2[3]"),
        ("x.y + a", "x.y + 2"),
        ("a and b or a", "2 and 3 or 2"),
        ("a < b in [a]", "2 < 3 in [2]"),
        ("a if b else a", "2 if 3 else 2"),
        ("[a, [b]]", "[2, [3]]"),
        ("max(a, k=b)", "max(2, k=3)"),
        ("a ** b // a", "2 ** 3 // 2"),
    ],
)
def test_substitute_reaches_every_kind_of_node(text: str, expected: str) -> None:
    replaced = n.substitute(parse_expr(text), {"a": n.Const(2), "b": n.Const(3)})
    assert not {"a", "b"} & n.value_names(replaced)
    assert render(replaced) == expected


def test_substitute_in_mappings() -> None:
    tree = n.DictExpr((n.Name("k"),), (n.Name("v"),))
    assert n.substitute(tree, {"k": n.Const("a"), "v": n.Const(1)}) == n.DictExpr(
        (n.Const("a"),), (n.Const(1),)
    )


@pytest.mark.parametrize(
    ("text", "values", "free"),
    [
        ("f(a, k=b) + c[d]", {"a", "b", "c", "d"}, {"f", "a", "b", "c", "d"}),
        ("max(min(a), b)", {"a", "b"}, {"max", "min", "a", "b"}),
        ("in.channels * x.y", {"x"}, {"x"}),
        ("a if b else -c", {"a", "b", "c"}, {"a", "b", "c"}),
        ("not a < [b, c] and d or e", {"a", "b", "c", "d", "e"}, {"a", "b", "c", "d", "e"}),
        ("1 + 2", set(), set()),
        ("len", {"len"}, {"len"}),
    ],
)
def test_value_names_and_free_names(text: str, values: set[str], free: set[str]) -> None:
    tree = parse_expr(text)
    assert n.value_names(tree) == values
    assert n.free_names(tree) == free


def test_names_inside_mappings_and_nested_located_nodes() -> None:
    tree = n.DictExpr((n.Name("k"),), (parse_expr("v + f(w)"),))
    assert n.value_names(tree) == {"k", "v", "w"}
    assert n.free_names(tree) == {"k", "v", "f", "w"}


@given(PARSED_TREES)
def test_value_names_are_the_names_read_as_values(tree: n.Expr) -> None:
    assert n.free_names(tree) == _read(tree, callees=True)
    assert n.value_names(tree) == _read(tree, callees=False)
    if not _has_comprehension(tree):
        assert n.free_names(tree) == {s.id for s in subtrees(tree) if isinstance(s, n.Name)}


def _read(node: n.Expr, callees: bool, bound: frozenset[str] = frozenset()) -> set[str]:
    """The names ``node`` reads that are not bound around them, by Python's scoping: a
    comprehension's variables are bound in its later clauses and its element."""
    if isinstance(node, n.Name):
        return set() if node.id in bound else {node.id}
    if isinstance(node, n.ListComp):
        out: set[str] = set()
        for clause in node.clauses:
            out |= _read(clause.iterable, callees, bound)
            bound = bound | set(clause.targets)
            for condition in clause.conditions:
                out |= _read(condition, callees, bound)
        return out | _read(node.element, callees, bound)
    out = set()
    for field in fields(node):
        if field.name == "func" and not callees:
            continue
        child = getattr(node, field.name)
        for item in child if isinstance(child, tuple) else (child,):
            if isinstance(item, tuple):
                item = item[1]  # a keyword argument
            if isinstance(item, n.Expr):
                out |= _read(item, callees, bound)
    return out


@given(
    tree=PARSED_TREES,
    values=st.fixed_dictionaries(
        {
            name: st.one_of(st.integers(-9, 9), st.booleans(), st.text(max_size=2))
            for name in NAME_IDS
        }
    ),
)
def test_substituting_constants_is_binding_names(tree: n.Expr, values: dict[str, Any]) -> None:
    consts: dict[str, n.Expr] = {k: n.Const(v) for k, v in values.items()}
    scope = Scope(values, input=InputShape((3, 8, 8)))
    assert _outcome(n.substitute(tree, consts), scope) == _outcome(tree, scope)


def _outcome(tree: n.Expr, scope: Scope) -> tuple[str, Any]:
    try:
        return ("value", evaluate(tree, scope))
    except NetspecError as exc:
        return ("error", exc.message)
    except (ArithmeticError, TypeError, ValueError) as exc:  # an evaluator bug, but the same one
        return ("crash", type(exc))


# -- comprehensions: scoping in substitute ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mapping", "expected"),
    [
        # the variable hides the mapping inside the brackets; the first iterable is outside
        (
            "[v + a for v in range(v)]",
            {"v": n.Const(3), "a": n.Const(2)},
            "[v + 2 for v in range(3)]",
        ),
        (
            "[v for w in xs for v in w]",
            {"v": n.Const(1), "w": n.Const(2)},
            "[v for w in xs for v in w]",
        ),
        ("[v for w in xs if w > v]", {"v": n.Const(1)}, "[1 for w in xs if w > 1]"),
        # a replacement that reads a variable's name: the variable is renamed, nothing captured
        ("[v + a for v in xs]", {"a": n.Name("v")}, "[v_1 + v for v_1 in xs]"),
        ("[v_1 + v + a for v in xs]", {"a": n.Name("v")}, "[v_1 + v_2 + v for v_2 in xs]"),
        ("[in.channels * c for c in xs]", {"in.channels": n.Name("c")}, "[c * c_1 for c_1 in xs]"),
        ("xs[a:b:a]", {"a": n.Const(1), "b": n.Name("c")}, "xs[1:c:1]"),
    ],
)
def test_substitute_respects_comprehension_scopes(
    text: str, mapping: dict[str, n.Expr], expected: str
) -> None:
    assert render(n.substitute(parse_expr(text), mapping)) == expected


def test_renamed_variables_keep_the_meaning() -> None:
    tree = n.substitute(parse_expr("[v * a for v in xs if v > a]"), {"a": n.Name("v")})
    assert evaluate(tree, Scope({"v": 2, "xs": (1, 2, 3)})) == (6,)
    assert evaluate(
        parse_expr("[v * a for v in xs if v > a]"), Scope({"a": 2, "xs": (1, 2, 3)})
    ) == (6,)


def test_comprehension_parts_are_what_ruff_puts_on_lines_of_their_own() -> None:
    tree = parse_expr("[int(w * m) for w, t in zip(ws, ts[:-1]) if t if w > 0 for v in range(w)]")
    node = n.strip(tree)
    assert isinstance(node, n.ListComp)
    element, parts = comprehension_parts(node)
    assert element == "int(w * m)"
    assert parts == ["for w, t in zip(ws, ts[:-1])", "if t", "if w > 0", "for v in range(w)"]
    assert render(tree, python=True) == f"tuple({' '.join([element, *parts])})"
    long = n.ListComp(
        n.Call(n.Name("int"), (n.Binary("*", n.Name("width"), n.Name("bottleneck_multiplier")),)),
        node.clauses,
    )
    element, parts = comprehension_parts(long)
    lines = ["stage_widths = tuple(", *(f"    {p}" for p in [element, *parts]), ")"]
    assert ruff_format(lines) == lines


def test_python_compares_with_none_by_identity() -> None:
    """``== none`` and ``!= none`` are ``is None`` / ``is not None`` in Python (the same test,
    as Python code is written)."""
    assert render(parse_expr("c != none").node, python=True) == "c is not None"
    assert render(parse_expr("c == none").node, python=True) == "c is None"
    assert render(parse_expr("c == none").node) == "c == none"
