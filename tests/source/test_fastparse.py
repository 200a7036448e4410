"""The hand-written parser (``netspec/source/fastparse.py``) against lark's, the reference.

Wherever lark takes a text, the fast parser builds the same tree — the same node classes, field
values and ``start``/``end`` offsets (node equality leaves offsets out, so trees are compared
as a full :func:`dump`) — or leaves the text to lark; wherever lark refuses a text, the fast
parser leaves it to lark, so the error users see is lark's. Checked on every expression text of
the bundled specs, on generated expressions of the whole grammar in each start rule, and on
token soups and mutated texts; and the entry point (``_parse_cached``) gives the same outcome,
errors included, with the fast parser as without it.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
from hypothesis import currently_in_test_context, event, example, given, note
from hypothesis import strategies as st

from netspec.expr import nodes as n
from netspec.source import fastparse, parser
from netspec.source.parser import MAX_DEPTH, MAX_LENGTH, _Syntax
from netspec.spec import load
from tests.source.test_parser import FUZZ, OPERATOR_SOUP
from tests.strategies import generate

STARTS = ("expr", "for_header", "param_decl")


# -- comparing -----------------------------------------------------------------------------------


def dump(tree: Any) -> list[tuple[Any, ...]]:
    """Every node of ``tree`` in order: class, offsets, and each field (a child as a marker,
    a value with its type: ``Const(True)`` is not ``Const(1)``). Iterative: trees of long
    operator chains are thousands of levels deep."""
    out: list[tuple[Any, ...]] = []
    stack = [tree]
    while stack:
        item = stack.pop()
        row: list[Any] = [type(item).__name__]
        if isinstance(item, n.Expr):
            row += [item.start, item.end]
        children: list[Any] = []
        for field in dataclasses.fields(item):
            if field.name not in ("start", "end"):
                row += [field.name, _flat(getattr(item, field.name), children)]
        out.append(tuple(row))
        stack.extend(reversed(children))
    return out


def _flat(value: Any, children: list[Any]) -> Any:
    if dataclasses.is_dataclass(value):
        children.append(value)
        return "<node>"
    if isinstance(value, tuple):
        return tuple(_flat(v, children) for v in value)
    return (type(value).__name__, repr(value))


def lark(text: str, start: str) -> Any:
    """lark's tree of ``text``, or the error it raises."""
    try:
        return parser._parse_lark(text, start)
    except _Syntax as exc:
        return exc


def error(exc: _Syntax) -> tuple[Any, ...]:
    return (exc.offset, exc.message, exc.hint, exc.width)


def entry(text: str, start: str, fast: bool) -> Any:
    """What ``_parse_cached`` gives for ``text`` (uncached), with or without the fast parser:
    a dump, or the error's fields."""
    with mock.patch.object(fastparse, "parse", fastparse.parse if fast else lambda *a: None):
        try:
            return dump(parser._parse_cached.__wrapped__(text, start))
        except _Syntax as exc:
            return error(exc)


def agree(text: str, start: str, must_take: bool = False) -> Any:
    """The fast parser gives lark's tree, or nothing where lark refuses the text (and, unless
    ``must_take``, where lark takes it); the entry point's outcome is the same either way."""
    expected = lark(text, start)
    got = fastparse.parse(text, start)
    if isinstance(expected, _Syntax):
        assert got is None, f"lark refuses {text!r} ({expected.message}); fast gives {got!r}"
        outcome = "both refuse"
    elif got is None:
        assert not must_take, f"the fast parser leaves {text!r} to lark"
        outcome = "left to lark"
    else:
        assert dump(got) == dump(expected), text
        outcome = "the same tree"
    if not isinstance(expected, _Syntax):  # what lets the parsers skip _depth on short texts
        assert parser._depth(expected) <= len(text)
        if got is not None:  # (the fast parser's bound: its tokens)
            assert parser._depth(got) <= len(fastparse._tokens(text)[0]) - 1
    if currently_in_test_context():
        note(f"{start}: {text!r}: {outcome}")
        event(f"{start}: {outcome}")
    if len(text) <= 200:  # the whole entry point (long chains: see the limits below)
        assert entry(text, start, fast=True) == entry(text, start, fast=False)
    return got


# -- every expression of every bundled spec --------------------------------------------------------


@functools.cache
def bundled_texts() -> list[tuple[str, str]]:
    """Every ``(text, start)`` the loader parses while loading every bundled spec."""
    seen: set[tuple[str, str]] = set()
    real = parser._parse_cached

    def spy(text: str, start: str) -> Any:
        seen.add((text, start))
        return real(text, start)

    root = load.bundled_dir()
    with mock.patch.object(parser, "_parse_cached", spy):
        for path in sorted(p for suffix in (".yaml", ".ns") for p in root.rglob(f"*{suffix}")):
            load.load_spec(path)
    return sorted(seen)


def test_every_bundled_text_parses_to_the_same_tree() -> None:
    found = bundled_texts()
    assert len(found) > 300
    assert {start for _, start in found} == set(STARTS)
    for text, start in found:
        agree(text, start, must_take=True)
        for other in STARTS:  # and what the other rules make of it
            if other != start:
                agree(text, other)


# -- generated texts of the whole grammar ----------------------------------------------------------

NAMES = ["a", "b", "xs", "w_1", "_x", "info", "iffy", "notx", "orbit", "andy", "format", "fork"]
NAMES += ["true", "True", "false", "False", "none", "None", "elsewhere", "in_", "is_", "x"]
ATTRIBUTES = NAMES + ["class", "is", "lambda", "def", "import", "channels"]  # names after `.`
TARGETS = ["v", "w", "i", "j", "k2", "x", "a_", "row"]  # comprehension variables
INTS = ["0", "1", "2", "007", "64", "1" * 30]
FLOATS = ["1.5", ".5", "1.", "1e3", "2.5E-1", "3e+2", "0.0", "1.e5"]
STRINGS = ["'a'", '"b"', "''", "'it\\'s'", '"a\\nb"', '"\\u00e9"', "'\\x41'", "'é'", '"\\\\"']
COMPARISONS = ["<", ">", "==", ">=", "<=", "!=", "in", "not in"]
LEAVES = {"name": NAMES, "int": INTS, "float": FLOATS, "string": STRINGS}
SPACES = ["", "", " ", " ", "  ", "\n", "\t", "\r\n", "\f", " \n  "]
_GLUE = set("()[],")


class _Gen:
    """Token lists of the grammar's rules, drawn by hypothesis (every text one lark takes)."""

    def __init__(self, draw: st.DrawFn, size: int) -> None:
        self.draw = draw
        self.size = size  # nodes still allowed: past it, only atoms

    def pick(self, options: list[str]) -> str:
        return self.draw(st.sampled_from(options))

    def some(self, most: int) -> int:
        if self.size <= 0:
            return 0
        return self.draw(st.integers(0, most))

    def test(self, depth: int) -> list[str]:
        out = self.or_test(depth)
        if self.some(1):
            out += ["if", *self.or_test(depth), "else", *self.test(depth)]
        return out

    def chain(self, item: Callable[[], list[str]], ops: list[str], most: int) -> list[str]:
        out = item()
        for _ in range(self.some(most)):
            self.size -= 1
            out += [*self.pick(ops).split(), *item()]
        return out

    def or_test(self, depth: int) -> list[str]:
        return self.chain(lambda: self.and_test(depth), ["or"], 2)

    def and_test(self, depth: int) -> list[str]:
        return self.chain(lambda: self.not_test(depth), ["and"], 2)

    def not_test(self, depth: int) -> list[str]:
        return ["not"] * self.some(2) + self.comparison(depth)

    def comparison(self, depth: int) -> list[str]:
        return self.chain(lambda: self.arith(depth), COMPARISONS, 2)

    def arith(self, depth: int) -> list[str]:
        return self.chain(lambda: self.term(depth), ["+", "-"], self.longest())

    def term(self, depth: int) -> list[str]:
        return self.chain(lambda: self.factor(depth), ["*", "/", "//", "%"], self.longest())

    def longest(self) -> int:
        """The most operators of a chain of one precedence: now and then one long enough to be
        one flat node (``OpChain``)."""
        return self.draw(st.sampled_from([2, 2, 2, n.NESTED + 1]))

    def factor(self, depth: int) -> list[str]:
        signs = [self.pick(["+", "-"]) for _ in range(self.some(2))]
        out = signs + self.postfix(depth)
        if self.some(1):
            out += ["**", *self.factor(depth)]
        return out

    def postfix(self, depth: int) -> list[str]:
        out = self.atom(depth)
        for _ in range(self.some(2) if depth > 0 else 0):
            self.size -= 1
            kind = self.pick(["call", "index", "attr"])
            if kind == "attr":
                out += [".", self.pick(ATTRIBUTES)]
            elif kind == "index":
                out += ["[", *self.subscript(depth - 1), "]"]
            else:
                out += ["(", *self.arguments(depth - 1), ")"]
        return out

    def subscript(self, depth: int) -> list[str]:
        if not self.some(1):
            return self.test(depth)
        parts = [self.test(depth) if self.some(1) else [] for _ in range(3)]
        out = parts[0] + [":"] + parts[1]
        if self.some(1):
            out += [":", *parts[2]]
        return out

    def arguments(self, depth: int) -> list[str]:
        args = [self.test(depth) for _ in range(self.some(3))]
        keys = self.draw(st.lists(st.sampled_from(ATTRIBUTES), max_size=3, unique=True))
        args += [[key, "=", *self.test(depth)] for key in keys]
        out = [token for i, arg in enumerate(args) for token in ([","] if i else []) + arg]
        if args and self.some(1):
            out.append(",")
        return out

    def atom(self, depth: int) -> list[str]:
        self.size -= 1
        kinds = ["name", "int", "float", "string", "in"]
        if depth > 0 and self.size > 0:
            kinds += ["list", "comprehension", "brackets", "tuple"]
        kind = self.pick(kinds)
        if kind in ("name", "int", "float", "string"):
            return [
                self.pick({"name": NAMES, "int": INTS, "float": FLOATS, "string": STRINGS}[kind])
            ]
        if kind == "in":
            return ["in"]
        if kind == "brackets":
            return ["(", *self.test(depth - 1), ")"]
        if kind == "comprehension":
            out = ["[", *self.test(depth - 1)]
            for _ in range(1 + self.some(1)):
                out += ["for", *self.targets(), "in", *self.or_test(depth - 1)]
                for _ in range(self.some(2)):
                    out += ["if", *self.or_test(depth - 1)]
            return out + ["]"]
        items = [self.test(depth - 1) for _ in range(self.some(3))]
        if kind == "tuple" and items:
            items = items + [[]] if len(items) == 1 else items  # `(a,)`: the comma makes it
        out = [token for i, item in enumerate(items) for token in ([","] if i else []) + item]
        if items and self.some(1) and out[-1] != ",":
            out.append(",")
        return ["[", *out, "]"] if kind == "list" else ["(", *out, ")"]

    def targets(self) -> list[str]:
        names = self.draw(st.lists(st.sampled_from(TARGETS), min_size=1, max_size=3))
        return [token for i, name in enumerate(names) for token in ([","] if i else []) + [name]]

    def text(self, tokens: list[str]) -> str:
        """The tokens with whitespace between them: none only where no two tokens can merge."""
        out = [self.pick(SPACES)]
        for i, token in enumerate(tokens):
            if i:
                glued = tokens[i - 1][-1] in _GLUE or token[0] in _GLUE
                out.append(self.pick(SPACES) if glued else self.pick(SPACES[2:]))
            out.append(token)
        out.append(self.pick(SPACES))
        return "".join(out)


@st.composite
def texts(draw: st.DrawFn, start: str) -> str:
    """A text of the grammar's rule ``start``, of every construct the grammar has."""
    gen = _Gen(draw, draw(st.integers(1, 30)))
    depth = draw(st.integers(0, 4))
    if start == "for_header":
        names = draw(st.lists(st.sampled_from(ATTRIBUTES), min_size=1, max_size=3))
        heads = [token for i, name in enumerate(names) for token in ([","] if i else []) + [name]]
        return gen.text(heads + ["in", *gen.test(depth)])
    if start == "param_decl":
        default = ["=", *gen.test(depth)] if draw(st.booleans()) else []
        return gen.text([draw(st.sampled_from(ATTRIBUTES)), *default])
    return gen.text(gen.test(depth))


@pytest.mark.parametrize("start", STARTS)
@given(data=st.data())
def test_generated_texts_parse_to_the_same_tree(start: str, data: st.DataObject) -> None:
    agree(data.draw(texts(start)), start, must_take=True)


@given(OPERATOR_SOUP)
@example("a + not (b)")
@example("c + not -1")
def test_operator_soup_parses_the_same(text: str) -> None:  # test_parser's precedence soup
    agree(text, "expr")


def spec_strings(data: Any) -> Iterator[str]:
    """Every string in the YAML data of a generated spec: names, calls, expressions…"""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list | tuple):
            stack += item


@pytest.mark.parametrize("seed", range(8))
def test_the_texts_of_generated_specs_parse_the_same(seed: int) -> None:
    # tests/strategies.py's random specs, as test_agreement.py draws them
    for data in generate(seed).files.values():
        for text in set(spec_strings(data)):
            for start in STARTS:
                agree(text, start)


# -- what lark refuses, the fast parser leaves to it -----------------------------------------------
# -- what lark refuses, the fast parser leaves to it -----------------------------------------------

TOKENS = ["a", "xs", "f", "1", "2.5", ".5", "1.", "1e3", "'s'", '"t"', "true", "none", "is"]
TOKENS += ["class", "len", "self", "__x", "in", "not", "and", "or", "if", "else", "for"]
TOKENS += ["+", "-", "*", "/", "//", "%", "**", "<", ">", "==", "!=", "<=", ">=", "=", "!"]
TOKENS += ["(", ")", "[", "]", ",", ".", ":", "{", "}", "'", '"', "$", "#", "\\", "é", ";"]


@st.composite
def soups(draw: st.DrawFn) -> str:
    """Grammar tokens (and a few others) in any order, spaced or glued."""
    tokens = draw(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=12))
    return "".join(token + draw(st.sampled_from(["", " ", "\n"])) for token in tokens)


WORD = r"[0-9.][\w.]*|\w+|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\*\*|//|[=<>!]=|\S"
"""A token of a valid text, roughly (to mutate texts word by word)."""


@st.composite
def mutated(draw: st.DrawFn, start: str) -> str:
    """A valid text (bundled or generated), cut short or changed in a few words or characters:
    a word left out, repeated, swapped with the next, or another put in or in its place."""
    if draw(st.booleans()):
        text = draw(st.sampled_from([t for t, s in bundled_texts() if s == start]))
    else:
        text = draw(texts(start))
    if draw(st.integers(0, 3)) == 0:
        return text[: draw(st.integers(0, len(text)))]
    by_characters = draw(st.integers(0, 3)) == 0
    pieces = list(text) if by_characters else re.findall(WORD, text)
    for _ in range(draw(st.integers(1, 2))):
        i = draw(st.integers(0, max(0, len(pieces) - 1)))
        op = draw(st.sampled_from(["delete", "repeat", "swap", "insert", "replace"]))
        if op in ("insert", "replace") or not pieces:
            new = draw(st.sampled_from(TOKENS + list(" \t\n")))
            pieces[i : i + (op == "replace")] = [new]
        elif op == "delete":
            del pieces[i]
        elif op == "repeat":
            pieces.insert(i, pieces[i])
        else:
            pieces[i : i + 2] = pieces[i : i + 2][::-1]
    return ("" if by_characters else " ").join(pieces)


@pytest.mark.parametrize("start", STARTS)
@given(data=st.data())
def test_soups_and_mutations_are_refused_where_lark_refuses_them(
    start: str, data: st.DataObject
) -> None:
    kind = data.draw(st.sampled_from(["soup", "mutated", *FUZZ]))
    strategy = {"soup": soups(), "mutated": mutated(start), **FUZZ}[kind]
    agree(data.draw(strategy), start)


QUIRKS = ["x.if", "f(if=1)", "f(for=1, and=2)", "x infox", "1orx", "x notin y", "x.in"]
"""Texts lark takes because its contextual lexer reads a keyword as a name where no keyword
fits, or splits a name where no name fits; the fast parser leaves them to lark."""

REFUSED = ["f(x=1, x=2)", "f(x=1, 2)", "[v for len in xs]", "[v for in in xs]", "1" * 31]
REFUSED += ["x.5", "'\\N{nope}'", "f(if)", "is", "a if b", "(a for a in b)", "x = 1", "f(in=1)"]
REFUSED += ["f(a,,b)", "[a,,b]", "(a,,)", "(,)", "[,]", "f(a b)", "xs[1:2:3:4]", "xs[1,2]"]
REFUSED += ["[v for v in xs if]", "[v for v, in xs]", "a if b else", "not", "x.", "f(x=)"]
REFUSED += ["1e999", "x\v", "a == not b", "- not a", "[a, b for a in c]", "xs[]", "f(,)", "x ==1"]
"""Texts the grammar or a builder of nodes refuses, in one start rule or in all."""


@pytest.mark.parametrize("start", STARTS)
@pytest.mark.parametrize("text", QUIRKS + REFUSED)
def test_quirks_and_errors_are_lark_s(start: str, text: str) -> None:
    agree(text, start)


@pytest.mark.parametrize("text", QUIRKS + ["if, in in xs"])
def test_lark_quirks_are_left_to_lark(text: str) -> None:
    start = "for_header" if " in xs" in text else "expr"
    assert not isinstance(lark(text, start), _Syntax)
    assert fastparse.parse(text, start) is None
    assert entry(text, start, fast=True) == entry(text, start, fast=False)


# -- limits: no recursion along chains, a bounded one along brackets ------------------------------

CHAINS: dict[str, Callable[[int], str]] = {
    "sum": lambda k: "1" + "+1" * k,
    "product": lambda k: "a" + " * a" * k,
    "or": lambda k: "a" + " or a" * k,
    "comparison": lambda k: "a" + " < a" * k,
    "unary": lambda k: "-" * k + "1",
    "not": lambda k: "not " * k + "x",
    "power": lambda k: "2" + "**2" * k,
    "signed power": lambda k: "2" + "**-2" * k,
    "conditional": lambda k: "a if b else " * k + "c",
    "attributes": lambda k: "a" + ".b" * k,
    "indexing": lambda k: "a" + "[0]" * k,
    "calls": lambda k: "f" + "()" * k,
}


@pytest.mark.parametrize("chain", CHAINS)
def test_chains_of_the_longest_text_parse_without_recursion(chain: str) -> None:
    make = CHAINS[chain]
    k = (MAX_LENGTH - len(make(0))) // (len(make(1)) - len(make(0)))
    text = make(k)
    assert len(text) <= MAX_LENGTH < len(make(k + 1))
    got = fastparse.parse(text, "expr")
    assert got is not None
    assert dump(got) == dump(parser._parse_lark(text, "expr"))
    assert entry(text, "expr", fast=True) == entry(text, "expr", fast=False)
    if chain in ("sum", "product", "or", "comparison"):  # n-ary: one node, one level
        assert parser._depth(parser._parse_cached.__wrapped__(text, "expr")) == 2
    else:
        with pytest.raises(_Syntax, match="nests deeper"):
            parser._parse_cached.__wrapped__(text, "expr")


def test_the_fast_parser_checks_the_depth_where_asked() -> None:
    """The entry point's limit, checked by the fast parser on texts of more tokens than it
    (every node owns a token): the same error as lark's path gives."""
    deep = "-" * MAX_DEPTH + "1"  # one level more than the limit
    assert fastparse.parse(deep[1:], "expr", MAX_DEPTH) is not None
    assert fastparse.parse(deep, "expr") is not None
    with pytest.raises(_Syntax, match="nests deeper") as info:
        fastparse.parse(deep, "expr", MAX_DEPTH)
    assert error(info.value) == entry(deep, "expr", fast=False)


LONG = {
    "sum of 1,900": " + ".join(["1"] * 1900),  # tests/test_fuzz.py's, 7,597 characters
    "glued sum of 1,900": "+".join(["1"] * 1900),
    "sum of 10,000": " + ".join(["1"] * 10_000),
    "product of 1,900": " * ".join(["2"] * 1900),
    "product of 10,000": "*".join(["x"] * 10_000),
    "both precedences": "a" + " - b * c + d // 2 % e" * 2_500,
    "signed operands": "1" + " - -x" * 9_999,
    "a bracketed start": "(" + " + ".join(["1"] * 5_000) + ") - " + " - ".join(["2"] * 5_000),
    "in brackets": "f(" * 20 + " * ".join(["1"] * 10_000) + ")" * 20,
    "in a comparison": " + ".join(["a"] * 5_000) + " < " + " + ".join(["b"] * 5_000),
}


@pytest.mark.parametrize("text", LONG.values(), ids=list(LONG))
def test_long_chains_parse_to_the_same_tree(text: str) -> None:
    """Sums and products of thousands of terms: one flat node in both parsers, offsets
    included, through the entry point too; and in every start rule."""
    got = agree(text, "expr", must_take=True)
    assert any(isinstance(node, n.OpChain) and len(node.values) > 1000 for node in nodes(got))
    assert entry(text, "expr", fast=True) == entry(text, "expr", fast=False)
    agree(f"v in {text}", "for_header", must_take=True)
    agree(f"k = {text}", "param_decl", must_take=True)


def nodes(tree: Any) -> Iterator[Any]:
    """Every node of ``tree``, without recursion."""
    stack = [tree]
    while stack:
        item = stack.pop()
        yield item
        for field in dataclasses.fields(item):
            value = getattr(item, field.name)
            for child in value if isinstance(value, tuple) else (value,):
                if dataclasses.is_dataclass(child):
                    stack.append(child)


OPENERS = ["(", "[", "f(", "xs[", "[v for v in "]
NESTS: dict[str, Callable[[int], str]] = {
    "brackets": lambda k: "(" * k + "1" + ")" * k,
    "lists": lambda k: "[" * k + "1" + "]" * k,
    "tuples": lambda k: "(-a, " * k + "1" + ")" * k,
    "calls": lambda k: "f(x, k=not a or " * k + "1" + ")" * k,
    "indexes": lambda k: "a[1:" * k + "1" + "]" * k,
    "comprehensions": lambda k: "[v for v in " * k + "xs" + "]" * k,
    "conditions": lambda k: "[a for v in xs if " * k + "c" + "]" * k,
    "mixed": lambda k: (
        "".join(OPENERS[i % 5] for i in range(k))
        + "1"
        + "".join(")])]]"[i % 5] for i in reversed(range(k)))
    ),
}


@pytest.mark.parametrize("nest", NESTS)
def test_the_deepest_brackets_parse_in_a_few_hundred_frames(nest: str) -> None:
    text = NESTS[nest](MAX_DEPTH)
    parser._precheck(text)  # as deep as the entry point lets a text be
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_frames() + 8 * MAX_DEPTH)  # 8 frames a bracket at the most
    try:
        got = fastparse.parse(text, "expr")
    finally:
        sys.setrecursionlimit(limit)
    assert got is not None
    assert dump(got) == dump(parser._parse_lark(text, "expr"))


def _frames() -> int:
    """How many frames the stack holds."""
    frame: Any = sys._getframe()
    count = 0
    while frame is not None:
        count += 1
        frame = frame.f_back
    return count
