"""The positioned YAML reader: spans of keys and values, core-schema typing, limits, refusals.

Lines and columns are 1-based and count characters; a span's end is exclusive (the column just
after the last character), as PyYAML's marks are. Every problem is a :class:`SourceError` with a
position that a caret can be drawn under: the fuzz properties at the bottom feed random text,
random bytes and mutations of a bundled spec and accept nothing else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

import netspec
from netspec.errors import NetspecError, SourceError
from netspec.source import yaml as ysrc
from netspec.source.yaml import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_NODES,
    YMap,
    YNode,
    YScalar,
    YSeq,
    compose,
    locate,
    to_data,
)

RESNET50 = (Path(netspec.__file__).parent / "zoo" / "resnet50.yaml").read_text("utf-8")


def fails(text: str) -> SourceError:
    with pytest.raises(SourceError) as info:
        compose(text, "spec.yaml")
    return info.value


def at(err: NetspecError) -> tuple[int, int]:
    assert err.span is not None, err.message
    return err.span.line, err.span.col


def extent(node: YNode) -> tuple[int, int, int | None, int | None]:
    s = node.span
    return s.line, s.col, s.end_line, s.end_col


def typed(value: Any) -> Any:
    """``value`` with each scalar tagged by its type, so that ``1 == True == 1.0`` cannot pass."""
    if isinstance(value, dict):
        return {typed(k): typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


def only(node: YNode, *keys: Any) -> YNode:
    for key in keys:
        if isinstance(node, YMap):
            child = node.get(key)
            assert child is not None, key
            node = child
        else:
            assert isinstance(node, YSeq)
            node = node.items[key]
    return node


# -- positions ---------------------------------------------------------------------------------

NESTED = """\
name: t
params:
  depth: [1, 2.5, "3"]
  act:
    - relu
    - {k: v}
"""


def test_positions_of_keys_values_and_containers_in_block_style() -> None:
    root = compose(NESTED, "spec.yaml")
    assert isinstance(root, YMap)
    assert root.span.source.name == "spec.yaml"
    assert [k.value for k, _ in root.items] == ["name", "params"]
    name_key = root.key_node("name")
    assert name_key is not None and extent(name_key) == (1, 1, 1, 5)
    assert extent(only(root, "name")) == (1, 7, 1, 8)
    params_key = root.key_node("params")
    assert params_key is not None and extent(params_key) == (2, 1, 2, 7)
    params = only(root, "params")
    assert isinstance(params, YMap)
    assert (params.span.line, params.span.col) == (3, 3)  # a block mapping starts at its first key
    depth_key = params.key_node("depth")
    assert depth_key is not None and extent(depth_key) == (3, 3, 3, 8)
    depth = only(params, "depth")
    assert isinstance(depth, YSeq)
    assert extent(depth) == (3, 10, 3, 23)  # a flow sequence spans its brackets
    assert [extent(item) for item in depth.items] == [
        (3, 11, 3, 12),
        (3, 14, 3, 17),
        (3, 19, 3, 22),
    ]
    act = only(params, "act")
    assert (act.span.line, act.span.col) == (5, 5)  # a block sequence starts at its first '-'
    assert extent(only(act, 0)) == (5, 7, 5, 11)
    inner = only(act, 1)
    assert isinstance(inner, YMap) and extent(inner) == (6, 7, 6, 13)
    k = inner.key_node("k")
    assert k is not None and extent(k) == (6, 8, 6, 9)
    assert extent(only(inner, "k")) == (6, 11, 6, 12)


def test_positions_in_flow_style_on_one_line() -> None:
    root = compose("{a: [x, {b: 1}], c: 'q'}", "spec.yaml")
    assert isinstance(root, YMap)
    assert extent(root) == (1, 1, 1, 25)
    a = only(root, "a")
    assert extent(a) == (1, 5, 1, 16)
    assert extent(only(a, 0)) == (1, 6, 1, 7)
    assert extent(only(a, 1)) == (1, 9, 1, 15)
    assert extent(only(a, 1, "b")) == (1, 13, 1, 14)
    assert extent(only(root, "c")) == (1, 21, 1, 24)


def test_quoted_scalars_span_their_quotes_and_are_unescaped() -> None:
    root = compose("a: 'it''s'\nb: \"tab\\there\"\n", "spec.yaml")
    a, b = only(root, "a"), only(root, "b")
    assert isinstance(a, YScalar) and isinstance(b, YScalar)
    assert (a.value, a.style, extent(a)) == ("it's", "'", (1, 4, 1, 11))
    assert (b.value, b.style, extent(b)) == ("tab\there", '"', (2, 4, 2, 15))


def test_multi_line_scalars_span_every_line_they_take() -> None:
    text = (
        "plain: first\n  second\n"  # lines 1-2
        'quoted: "one\n  two"\n'  # lines 3-4
        "literal: |\n  l1\n  l2\n"  # lines 5-7
        "folded: >\n  f1\n  f2\n"  # lines 8-10
        "after: 1\n"  # line 11
    )
    root = compose(text, "spec.yaml")
    values = {k.value: v for k, v in root.items} if isinstance(root, YMap) else {}
    got = {k: (v.value, v.style, extent(v)) for k, v in values.items() if isinstance(v, YScalar)}
    assert got == {
        "plain": ("first second", "", (1, 8, 2, 9)),
        "quoted": ("one two", '"', (3, 9, 4, 7)),
        "literal": ("l1\nl2\n", "|", (5, 10, 8, 1)),
        "folded": ("f1 f2\n", ">", (8, 9, 11, 1)),
        "after": (1, "", (11, 8, 11, 9)),
    }


def test_columns_count_characters_not_bytes() -> None:
    root = compose("k: é😀 z\nl: [ü, x]\n", "spec.yaml")
    assert extent(only(root, "k")) == (1, 4, 1, 8)
    items = only(root, "l")
    assert isinstance(items, YSeq)
    assert [extent(i) for i in items.items] == [(2, 5, 2, 6), (2, 8, 2, 9)]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_every_kind_of_line_break_counts_one_line(newline: str) -> None:
    text = newline.join(["# comment", "", "a: 1", "b:", "  - x   # trailing"]) + newline
    root = compose(text, "spec.yaml")
    assert extent(only(root, "a")) == (3, 4, 3, 5)
    assert extent(only(root, "b", 0)) == (5, 5, 5, 6)
    assert root.span.source.line(5) == "  - x   # trailing"


def test_sizes_count_every_node_with_aliases_expanded() -> None:
    root = compose("a: &x [1, 2]\nb: *x\n", "spec.yaml")
    # map + key a + [1, 2] (3 nodes) + key b + the alias, expanded (3 nodes)
    assert root.size == 9
    assert only(root, "b") is only(root, "a")  # an alias shares its anchor's node


# -- random documents with known positions -----------------------------------------------------

IDENTS = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda s: s not in ("true", "false", "null")
)
QUOTABLE = st.text(
    st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",), exclude_characters="\x7f"),
    max_size=8,
)
SCALARS = st.one_of(
    st.integers(-(10**12), 10**12).map(lambda i: ("scalar", i, str(i))),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: ("scalar", f, repr(f))),
    st.booleans().map(lambda b: ("scalar", b, str(b).lower())),
    st.sampled_from(["null", "~", "Null"]).map(lambda s: ("scalar", None, s)),
    IDENTS.map(lambda s: ("scalar", s, s)),
    QUOTABLE.map(lambda s: ("scalar", s, json.dumps(s))),  # JSON strings are YAML strings
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=8).map(
        lambda s: ("scalar", s, "'" + s.replace("'", "''") + "'")
    ),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.tuples(st.just("seq"), st.booleans(), st.lists(children, max_size=4)),
        st.tuples(
            st.just("map"),
            st.booleans(),
            st.dictionaries(IDENTS, children, max_size=4).map(lambda d: list(d.items())),
        ),
    )


DOCUMENTS = st.tuples(
    st.just("map"),
    st.booleans(),
    st.dictionaries(
        IDENTS, st.recursive(SCALARS, _containers, max_leaves=12), min_size=1, max_size=4
    ).map(lambda d: list(d.items())),
)


class Writer:
    """Writes a document tree as YAML, noting where each scalar and container lands."""

    def __init__(self) -> None:
        self.lines = [""]
        self.seen: list[tuple[Any, ...]] = []

    def pos(self) -> tuple[int, int]:
        return len(self.lines), len(self.lines[-1]) + 1

    def put(self, text: str) -> None:
        self.lines[-1] += text

    def scalar(self, value: Any, text: str) -> None:
        line, col = self.pos()
        self.put(text)
        self.seen.append(("scalar", typed(value), line, col, line, col + len(text)))

    def inline(self, node: Any) -> None:
        kind = node[0]
        if kind == "scalar":
            self.scalar(node[1], node[2])
            return
        line, col = self.pos()
        mark = len(self.seen)
        self.seen.append(())  # filled in once the end is known
        items = node[2]
        self.put("[" if kind == "seq" else "{")
        for i, item in enumerate(items):
            if i:
                self.put(", ")
            if kind == "seq":
                self.inline(item)
            else:
                self.scalar(item[0], item[0])
                self.put(": ")
                self.inline(item[1])
        self.put("]" if kind == "seq" else "}")
        end_line, end_col = self.pos()
        self.seen[mark] = (kind, line, col, end_line, end_col)

    def block(self, node: Any, indent: int) -> None:
        """A non-empty block container, starting on a fresh line."""
        kind, _, items = node
        self.seen.append((kind, len(self.lines), indent + 1))
        for item in items:
            self.put(" " * indent)
            if kind == "seq":
                self.put("-")
                child = item
            else:
                self.scalar(item[0], item[0])
                self.put(":")
                child = item[1]
            if child[0] == "scalar" or child[1] or not child[2]:
                self.put(" ")
                self.inline(child)
                self.lines.append("")
            else:
                self.lines.append("")
                self.block(child, indent + 2)

    def text(self) -> str:
        return "\n".join(self.lines).rstrip("\n") + "\n"


def walk(node: YNode) -> Iterator[tuple[Any, ...]]:
    """What :class:`Writer` notes, read back from a composed tree in document order."""
    s = node.span
    if isinstance(node, YScalar):
        yield ("scalar", typed(node.value), s.line, s.col, s.end_line, s.end_col)
        return
    kind = "seq" if isinstance(node, YSeq) else "map"
    flow = node.span.source.text.splitlines()[s.line - 1][s.col - 1] in "[{"
    yield (kind, s.line, s.col, s.end_line, s.end_col) if flow else (kind, s.line, s.col)
    if isinstance(node, YSeq):
        for item in node.items:
            yield from walk(item)
    elif isinstance(node, YMap):
        for key, value in node.items:
            yield from walk(key)
            yield from walk(value)


def plain(node: Any) -> Any:
    kind = node[0]
    if kind == "scalar":
        return node[1]
    if kind == "seq":
        return [plain(item) for item in node[2]]
    return {key: plain(value) for key, value in node[2]}


@given(DOCUMENTS)
def test_generated_documents_read_back_with_exact_positions(doc: Any) -> None:
    writer = Writer()
    if doc[1]:
        writer.inline(doc)
    else:
        writer.block(doc, 0)
    text = writer.text()
    note(text)
    root = compose(text, "gen.yaml")
    assert list(walk(root)) == writer.seen
    assert typed(to_data(root)) == typed(plain(doc))


# -- typing ------------------------------------------------------------------------------------


def value_of(text: str) -> Any:
    node = only(compose(f"k: {text}\n", "spec.yaml"), "k")
    assert isinstance(node, YScalar)
    return node.value


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1", 1),
        ("-2", -2),
        ("+3", 3),
        ("0", 0),
        ("007", 7),
        ("1" * 40, int("1" * 40)),
        ("1.5", 1.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("-0.0", -0.0),
        ("1e3", 1000.0),
        ("-1.5E-3", -0.0015),
        ("2e+2", 200.0),
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        ("null", None),
        ("Null", None),
        ("NULL", None),
        ("~", None),
        ("", None),
    ],
)
def test_plain_scalars_follow_the_core_schema(text: str, expected: Any) -> None:
    assert typed(value_of(text)) == typed(expected)


@pytest.mark.parametrize(
    "text",
    [
        # YAML 1.1 booleans are strings under the core schema
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        # mixed case is not a core-schema constant
        "tRUE",
        "nULL",
        # netspec resolves decimal numbers only (module docstring): these stay strings
        "0x10",
        "0o7",
        "1_000",
        ".inf",
        "-.inf",
        ".nan",
        # neither numbers nor constants
        "1.2.3",
        "e3",
        "1e",
        ".",
        "12:30",
        "2024-01-01",
        "1" * 41,  # an absurdly long integer is left to the consumer, as a string
    ],
)
def test_other_plain_scalars_are_strings(text: str) -> None:
    assert typed(value_of(text)) == typed(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ('"1"', "1"),
        ("'1.5'", "1.5"),
        ('"true"', "true"),
        ("'null'", "null"),
        ('""', ""),
        ("''", ""),
        ("|\n  1\n", "1\n"),
        (">\n  true\n", "true\n"),
    ],
)
def test_quoted_and_block_scalars_are_always_strings(text: str, expected: str) -> None:
    assert typed(value_of(text)) == typed(expected)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("!!str 1", "1"),
        ("!!str true", "true"),
        ('!!int "3"', 3),
        ("!!int -3", -3),
        ("!!float 2", 2.0),
        ("!!float 2.5", 2.5),
        ("!!bool true", True),
        ('!!null ""', None),
        ("! 1", "1"),  # the non-specific tag: a string
    ],
)
def test_standard_tags_resolve_their_scalars(text: str, expected: Any) -> None:
    assert typed(value_of(text)) == typed(expected)


@pytest.mark.parametrize(
    "text, shown",
    [
        ("!!int x", "'x' is not a valid !!int"),
        ("!!int 1.5", "'1.5' is not a valid !!int"),
        ("!!int true", "'true' is not a valid !!int"),
        ("!!float true", "'true' is not a valid !!float"),
        ("!!float x", "'x' is not a valid !!float"),
        ("!!bool 1", "'1' is not a valid !!bool"),
        ("!!null 0", "'0' is not a valid !!null"),
    ],
)
def test_standard_tags_refuse_values_of_another_type(text: str, shown: str) -> None:
    err = fails(f"a: 1\nk: {text}\n")
    assert err.message == shown
    assert at(err) == (2, 4)


def test_keys_are_typed_like_values() -> None:
    root = compose('2: int\n"2": str\ntrue: bool\n~: none\n', "spec.yaml")
    assert isinstance(root, YMap)
    keys = [typed(k.value) for k, _ in root.items]
    assert keys == [("int", 2), ("str", "2"), ("bool", True), ("NoneType", None)]


def test_tagged_collections() -> None:
    assert to_data(compose("!!map {a: !!seq [1]}", "spec.yaml")) == {"a": [1]}


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, pos, shown",
    [
        ("a: 1\nb: 2\na: 3\n", (3, 1), "duplicate key 'a' (first at line 1)"),
        ('a: 1\n"a": 2\n', (2, 1), "duplicate key 'a' (first at line 1)"),
        ("x:\n  y: {k: 1, k: 2}\n", (2, 13), "duplicate key 'k' (first at line 2)"),
        ("x:\n  - n: 1\n    m: 2\n    n: 3\n", (4, 5), "duplicate key 'n' (first at line 2)"),
        ("1: a\n1.0: b\n", (2, 1), "duplicate key 1.0 (first at line 1)"),  # one dict key
        ("true: a\n1: b\n", (2, 1), "duplicate key 1 (first at line 1)"),  # True == 1 too
    ],
)
def test_duplicate_keys(text: str, pos: tuple[int, int], shown: str) -> None:
    err = fails(text)
    assert err.message == shown
    assert at(err) == pos
    assert err.where == "document"
    assert err.hint == "each key may appear once in a mapping"


def test_a_duplicate_key_through_an_alias_points_at_the_alias() -> None:
    # BUG: an alias reuses its anchor's node, span included, so the error points at the first
    # key (1:1) instead of the repeated one (`*k` at 2:1).
    err = fails("&k a: 1\n*k : 2\n")
    assert err.message == "duplicate key 'a' (first at line 1)"
    assert at(err) == (2, 1)


def test_keys_that_differ_in_type_are_not_duplicates() -> None:
    assert to_data(compose('1: a\n"1": b\n', "spec.yaml")) == {1: "a", "1": "b"}


def test_error_render_shows_the_line_and_a_caret() -> None:
    err = fails("a: 1\n  \nbb: 2\nbb: 3\n")
    assert err.render() == (
        "spec.yaml:4:1: document: duplicate key 'bb' (first at line 3)\n"
        " 4 | bb: 3\n"
        "   | ^^\n"
        "hint: each key may appear once in a mapping"
    )


@pytest.mark.parametrize(
    "text, pos",
    [
        ("a:\n\t- 1\n", (2, 1)),
        ("a: 1\n  \tb: 2\n", (2, 3)),
        ("a:\n  b:\n   \t c: 1\n", (3, 4)),
        ("a: |\n  \tx\n", (2, 3)),  # PyYAML refuses this one too
    ],
)
def test_tabs_in_indentation_are_refused_plainly(text: str, pos: tuple[int, int]) -> None:
    err = fails(text)
    assert err.message == "a tab in the indentation; YAML indents with spaces only"
    assert at(err) == pos
    assert err.where == "document"


def test_tabs_that_are_not_indentation_are_content_or_separation() -> None:
    assert to_data(compose('a: "x\ty"\nb:\t1\nc: [1,\t2]\n', "spec.yaml")) == {
        "a": "x\ty",
        "b": 1,
        "c": [1, 2],
    }


@pytest.mark.parametrize(
    "text, pos, tag",
    [
        ("a: !!python/object:os.system x\n", (1, 4), "tag:yaml.org,2002:python/object:os.system"),
        (
            "a: !!python/object/apply:os.system [echo hi]\n",
            (1, 4),
            "tag:yaml.org,2002:python/object/apply:os.system",
        ),
        ("x: 1\nb: !!python/name:os.system\n", (2, 4), "tag:yaml.org,2002:python/name:os.system"),
        ("a: !custom 1\n", (1, 4), "!custom"),
        ("a:\n  - !Ref {k: 1}\n", (2, 5), "!Ref"),
        ("!!set {a, b}\n", (1, 1), "tag:yaml.org,2002:set"),
        ("a: !!binary aGk=\n", (1, 4), "tag:yaml.org,2002:binary"),
        ("a: !!timestamp 2020-01-01\n", (1, 4), "tag:yaml.org,2002:timestamp"),
        ("a: !!omap [{x: 1}]\n", (1, 4), "tag:yaml.org,2002:omap"),
        ("%TAG !e! tag:example.com,2000:\n---\na: !e!foo 1\n", (3, 4), "tag:example.com,2000:foo"),
    ],
)
def test_tags_other_than_the_standard_ones_are_refused(
    text: str, pos: tuple[int, int], tag: str
) -> None:
    err = fails(text)
    assert err.message == f"YAML tag {tag!r} is not allowed in a spec"
    assert at(err) == pos
    assert err.hint == "specs are plain data; remove the tag"


@pytest.mark.parametrize("text", ["[a]: 1\n", "{a: 1}: 2\n", "? [a]\n: 1\n", "? {b: 1}\n: 2\n"])
def test_mapping_keys_must_be_scalars(text: str) -> None:
    err = fails(text)
    assert err.message == "a mapping key must be a plain value, not a list or mapping"
    assert err.span is not None and err.span.line == 1


def test_aliases_expand_to_independent_copies() -> None:
    data = to_data(compose("a: &x {k: [1]}\nb: *x\nc: [*x]\n", "spec.yaml"))
    assert data == {"a": {"k": [1]}, "b": {"k": [1]}, "c": [{"k": [1]}]}
    data["a"]["k"].append(2)
    assert data["b"] == {"k": [1]}


def test_an_unknown_alias_is_refused_where_it_is_used() -> None:
    err = fails("a: 1\nb: *nope\n")
    assert err.message == "unknown alias *nope"
    assert at(err) == (2, 4)


def test_a_recursive_alias_is_refused() -> None:
    # BUG: `&x [*x]` composes to a cyclic tree, and to_data() then overflows the stack.
    with pytest.raises(SourceError) as info:
        to_data(compose("a: &x [1, *x]\n", "spec.yaml"))
    assert "alias" in info.value.message
    assert at(info.value) == (1, 11)


BILLION_LAUGHS = (
    'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    + "".join(
        f"{c}: &{c} [" + ", ".join([f"*{p}"] * 9) + "]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
)


def test_an_alias_bomb_fails_fast_at_the_limit() -> None:
    start = time.perf_counter()
    err = fails(BILLION_LAUGHS)
    assert time.perf_counter() - start < 1.0
    assert err.message == f"the document expands to more than {MAX_NODES:,} nodes"
    assert err.hint == "YAML aliases (*name) may not multiply the document beyond this limit"
    # the map and a..e hold 74,738 nodes; f's first `*e` brings 141,170, its second 207,600.
    # BUG: the error points at `&e` (5:4), the anchored node, not at the alias that went over.
    assert at(err) == (6, 12)


def test_the_node_limit_points_at_the_alias_that_exceeds_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ysrc, "MAX_NODES", 10)
    # map, key a, [1, 2, 3] (4 nodes), key b, [ (8 so far), then *a adds 4: 12 > 10
    err = fails("a: &a [1, 2, 3]\nb: [*a, *a]\n")
    assert err.message == "the document expands to more than 10 nodes"
    # BUG: the error points at the anchored node (1:4), not at the alias that went over (2:5)
    assert at(err) == (2, 5)


def test_the_node_limit_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ysrc, "MAX_NODES", 11)
    assert compose("a: [1, 2, 3]\nb: [4, 5, 6]\n", "spec.yaml").size == 11
    err = fails("a: [1, 2, 3]\nb: [4, 5, 6, 7]\n")
    assert err.message == "the document expands to more than 11 nodes"
    assert at(err) == (2, 14)  # the 12th node


def test_the_real_node_limit() -> None:
    # 199 copies of a 1,000-node list, then a list padded to exactly MAX_NODES nodes in all
    head = "a: &a [" + ", ".join(["1"] * 999) + "]\nb: [" + ", ".join(["*a"] * 198) + "]\n"
    padding = MAX_NODES - compose(head, "spec.yaml").size - 2  # key c and its list
    fits = head + "c: [" + ", ".join(["0"] * padding) + "]\n"
    assert compose(fits, "spec.yaml").size == MAX_NODES
    err = fails(head + "c: [" + ", ".join(["0"] * (padding + 1)) + "]\n")
    assert err.message == f"the document expands to more than {MAX_NODES:,} nodes"
    assert at(err) == (3, 5 + 3 * padding)  # the last "0"


def test_a_mapping_of_many_keys_composes_and_finds_a_late_duplicate() -> None:
    # Duplicate keys are found with a dict, not by scanning every earlier key: 60,000 keys
    # (well inside MAX_BYTES and MAX_NODES) compose in well under a second, where a scan
    # took minutes. No timing here (speed is the benchmark's business): a quadratic check
    # would make this test the slowest of the suite by far.
    keys = "".join(f"k{i}: {i}\n" for i in range(60_000))
    tree = compose(keys, "spec.yaml")
    assert isinstance(tree, YMap) and len(tree.items) == 60_000
    err = fails(keys + "k17: 0\n")
    assert err.message.startswith("duplicate key 'k17' (first at line 18)")
    assert at(err) == (60_001, 1)


@pytest.mark.parametrize("loader", ["CSafeLoader", "SafeLoader"])
@pytest.mark.parametrize("opening", ["[", "{a: "])
def test_deep_nesting_fails_at_the_first_level_too_many(
    monkeypatch: pytest.MonkeyPatch, loader: str, opening: str
) -> None:
    # Thousands deep: PyYAML >= 6.0.4 (libyaml 0.2.6) stops flow nesting at 1,000 levels
    # itself, in its scanner, before handing on the event for the first bracket; earlier
    # versions and the pure-Python parser do not. netspec's error is the same for all.
    if not hasattr(ysrc.yaml, loader):  # pragma: no cover - PyYAML built without libyaml
        pytest.skip(f"this PyYAML has no {loader}")
    monkeypatch.setattr(ysrc, "_Loader", getattr(ysrc.yaml, loader))
    err = fails("a:\n  b: " + opening * 10_000)
    assert err.message == f"nesting deeper than {MAX_DEPTH} levels"
    assert at(err) == (2, 6 + len(opening) * (MAX_DEPTH - 2))  # two levels are block ones
    assert err.hint == "a spec this deep is almost certainly generated by mistake"
    assert err.where == "document"
    assert at(fails("[" * 10_000)) == (1, MAX_DEPTH + 1)


@pytest.mark.parametrize(
    "text, message, pos",
    [
        ("[" * 150 + "@", f"nesting deeper than {MAX_DEPTH} levels", (1, MAX_DEPTH + 1)),
        ("{" + "[" * 1500, "a mapping key must be a plain value, not a list or mapping", (1, 2)),
        ("{a: 1, a: 2, @}", "duplicate key 'a' (first at line 1)", (1, 8)),
        ("[" * 150 + '"\\q"', f"nesting deeper than {MAX_DEPTH} levels", (1, MAX_DEPTH + 1)),
        ("a: 1\nb: [" + "[" * 150 + "&", f"nesting deeper than {MAX_DEPTH} levels", (2, 103)),
    ],
)
def test_netspecs_own_error_before_a_problem_pyyaml_finds_comes_first(
    text: str, message: str, pos: tuple[int, int]
) -> None:
    # PyYAML reads ahead of the events it hands on (a line, up to 1,024 characters), so a
    # problem it finds there can come before the events that would fail netspec's own checks
    # earlier in the text. The first problem in the text is reported.
    err = fails(text)
    assert err.message.startswith(message), err.message
    assert at(err) == pos


@pytest.mark.parametrize("depth", [50, 150])
def test_a_syntax_error_before_pyyamls_own_nesting_limit_is_the_one_reported(depth: int) -> None:
    # A stray `}` and then thousands of brackets: PyYAML >= 6.0.4 reaches its own limit of
    # 1,000 levels in its read-ahead before its parser gets to the `}`. What is reported is
    # the first problem in the text, as with any other PyYAML: the `}`, or level 101.
    err = fails("[" * depth + "}" + "[" * 5_000)
    if depth < MAX_DEPTH:
        assert err.message.startswith("malformed YAML: ")
        assert "nesting" not in err.message  # the `}`, not PyYAML's own limit
        assert at(err) == (1, depth + 1)
    else:
        assert err.message == f"nesting deeper than {MAX_DEPTH} levels"
        assert at(err) == (1, MAX_DEPTH + 1)


def test_nesting_is_allowed_up_to_the_limit() -> None:
    assert compose("[" * MAX_DEPTH + "]" * MAX_DEPTH, "spec.yaml").size == MAX_DEPTH
    flow = "{a: " * MAX_DEPTH + "1" + "}" * MAX_DEPTH
    assert isinstance(compose(flow, "spec.yaml"), YMap)
    err = fails("{a: " * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1))
    assert at(err) == (1, 4 * MAX_DEPTH + 1)


def test_deep_block_nesting_is_refused_on_its_line() -> None:
    def deep(levels: int) -> str:
        return "".join(" " * i + f"k{i}:\n" for i in range(levels)) + " " * levels + "v\n"

    assert isinstance(compose(deep(MAX_DEPTH), "spec.yaml"), YMap)
    err = fails(deep(MAX_DEPTH + 1))
    assert err.message == f"nesting deeper than {MAX_DEPTH} levels"
    assert at(err) == (MAX_DEPTH + 1, MAX_DEPTH + 1)
    err = fails("".join(" " * i + "-\n" for i in range(300)))
    assert at(err) == (MAX_DEPTH + 1, MAX_DEPTH + 1)


def test_the_byte_limit_is_in_bytes_of_utf8() -> None:
    assert isinstance(compose("a: " + "x" * (MAX_BYTES - 3), "spec.yaml"), YMap)
    err = fails("a: " + "x" * (MAX_BYTES - 2))
    assert err.message == "the file is larger than 4 MiB"
    assert at(err) == (1, 1)
    many = "a: " + "é" * (MAX_BYTES // 2)  # fewer characters than the limit, more bytes
    assert len(many) < MAX_BYTES
    assert fails(many).message == "the file is larger than 4 MiB"


@pytest.mark.parametrize(
    "text", ["", "   \n", "\n\n", "# only a comment\n", "---\n", "---\n...\n", "~\n", "null"]
)
def test_an_empty_file_is_refused(text: str) -> None:
    err = fails(text)
    assert err.message == "the file is empty"
    assert at(err) == (1, 1)
    assert err.hint is not None and "`netspec: 1`" in err.hint


def test_a_second_document_is_refused() -> None:
    err = fails("a: 1\n---\nb: 2\n")
    assert err.message == "a spec file holds one YAML document; found a second '---'"
    assert at(err) == (2, 1)


@pytest.mark.parametrize(
    "text, pos, shown",
    [
        ("a: b: c\n", (1, 5), "mapping values are not allowed in this context"),
        ("a: 1\n  b: 2\n", (2, 4), "mapping values are not allowed in this context"),
        ("- a\nb: 1\n", (2, 1), "did not find expected '-' indicator"),
        ('a: "abc', (1, 8), "found unexpected end of stream while scanning a quoted scalar"),
        ("a: [1, 2]]\n", (1, 10), "did not find expected key while parsing a block mapping"),
        ("a: @x\n", (1, 4), "found character that cannot start any token"),
        ("a: 1\n...\nb: 2\n", (3, 1), "did not find expected <document start>"),
        ("%FOO bar\n---\na: 1\n", (1, 5), "found unknown directive name"),
        ("a: [1, 2\n", (1, 9), "did not find expected ',' or ']'"),  # the end of the text
    ],
)
def test_malformed_yaml_is_positioned(text: str, pos: tuple[int, int], shown: str) -> None:
    err = fails(text)
    assert err.message.startswith("malformed YAML: ")
    assert shown in err.message
    assert "\n" not in err.message
    assert at(err) == pos
    assert err.where == "document"


@pytest.mark.parametrize(
    "text, pos",
    [("[1, 2", (1, 6)), ("a: 1\nb: {c: 1", (2, 9)), ("a:\n  - [x", (2, 7))],
)
def test_an_unclosed_bracket_at_the_end_of_the_text_is_positioned_inside_it(
    text: str, pos: tuple[int, int]
) -> None:
    # BUG: without a final newline, libyaml's mark is one line past the end of the text
    # ("[1, 2" -> 2:1), so the report has no source line and no caret.
    err = fails(text)
    assert "did not find expected" in err.message
    assert at(err) == pos


def test_a_control_character_is_positioned_and_named_plainly() -> None:
    # BUG: PyYAML's ReaderError has no mark: reported at 1:1, and the message carries
    # PyYAML's own `\n  in "<unicode string>", position 10`.
    err = fails("a: 1\nb: 2 \x0c\n")
    assert "#x000c" in err.message
    assert "\n" not in err.message and "<unicode string>" not in err.message
    assert at(err) == (2, 6)


def test_a_lone_surrogate_is_a_source_error() -> None:
    # BUG: the C parser raises UnicodeEncodeError (the byte check already uses surrogatepass).
    err = fails("a: \ud800\n")
    assert err.span is not None


# -- to_data, YMap, locate ---------------------------------------------------------------------


def test_to_data_returns_plain_python_values() -> None:
    data = to_data(compose(NESTED, "spec.yaml"))
    assert typed(data) == typed(
        {"name": "t", "params": {"depth": [1, 2.5, "3"], "act": ["relu", {"k": "v"}]}}
    )
    assert to_data(compose("[1, [], {}]", "spec.yaml")) == [1, [], {}]
    assert to_data(compose("just text", "spec.yaml")) == "just text"


def test_ymap_lookups() -> None:
    root = compose("a: 1\n2: b\n", "spec.yaml")
    assert isinstance(root, YMap)
    assert isinstance(root.get("a"), YScalar)
    assert root.get("missing") is None and root.key_node("missing") is None
    two = root.key_node(2)
    assert two is not None and extent(two) == (2, 1, 2, 2)


LOCATE = """\
params:
  depth: 3
layers:
  - for: i in x
    do: [relu, conv]
  - 7: seven
"""


@pytest.mark.parametrize(
    "loc, path, keys",
    [
        ((), (), []),
        (("params", "depth"), ("params", "depth"), ["params", "depth"]),
        (("layers", 0, "for_"), ("layers", 0, "for"), ["layers", "0", "for"]),  # python-safe name
        (("layers", 1, "7"), ("layers", 1, 7), ["layers", "1", "7"]),  # a digit string: an int key
        (("layers", 0, "Loop", "do", 1), ("layers", 0, "do", 1), ["layers", "0", "do", "1"]),
        (("layers", 9), ("layers",), ["layers"]),  # out of range: the deepest node reached
        (("layers", -1), ("layers",), ["layers"]),
        (("params", 0, "depth"), ("params", "depth"), ["params", "depth"]),  # not an index here
        (("params", "depth", "deeper"), ("params", "depth"), ["params", "depth"]),
    ],
)
def test_locate_follows_validation_paths(
    loc: tuple[int | str, ...], path: tuple[Any, ...], keys: list[str]
) -> None:
    # components that name nothing at the current node (pydantic's union tags, say) are skipped
    root = compose(LOCATE, "spec.yaml")
    node, followed = locate(root, loc)
    assert node is only(root, *path)
    assert followed == keys


def test_locate_prefers_a_key_spelled_with_the_underscore() -> None:
    root = compose("for: a\nfor_: b\n", "spec.yaml")
    node, _ = locate(root, ("for_",))
    assert isinstance(node, YScalar) and node.value == "b"


def test_locate_reports_a_key_that_ends_in_an_underscore_as_written() -> None:
    # BUG: keys are rstrip("_")-ed even when the key itself is `foo_` (not a python-safe alias),
    # so `foo_: 1` is reported as "unknown key 'foo'" at path `foo`.
    root = compose("foo_: 1\n", "spec.yaml")
    node, keys = locate(root, ("foo_",))
    assert isinstance(node, YScalar) and node.value == 1
    assert keys == ["foo_"]


# -- fuzz: nothing but a positioned SourceError ------------------------------------------------

YAMLISH = st.text(
    st.sampled_from(list(" \n:-[]{},#&*!|>'\"?%@`\t\\ab1.~") + ["\r", "\x85", "\u2028", "é"]),
    max_size=40,
)


@st.composite
def mutations(draw: st.DrawFn) -> str:
    """The bundled ResNet-50 spec, truncated or with a few characters replaced/swapped/cut."""
    text = list(RESNET50)
    if draw(st.booleans()):
        return "".join(text[: draw(st.integers(0, len(text)))])
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text) - 1))
        op = draw(st.sampled_from(["replace", "swap", "delete", "insert"]))
        char = draw(st.sampled_from(list(" \n:-[]{},#&*!|>'\"?\t") + ["\x00", "é"]))
        if op == "replace":
            text[i] = char
        elif op == "swap":
            j = draw(st.integers(0, len(text) - 1))
            text[i], text[j] = text[j], text[i]
        elif op == "delete":
            del text[i]
        else:
            text.insert(i, char)
    return "".join(text)


FUZZ = {
    "text": st.text(max_size=60),
    "yamlish": YAMLISH,
    "bytes-utf8": st.binary(max_size=60).map(lambda b: b.decode("utf-8", "replace")),
    "bytes-latin1": st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
    "resnet50-mutated": mutations(),
}


def outcome(text: str) -> SourceError | None:
    """Compose ``text``; a success must convert to data, a failure must be a positioned error."""
    note(repr(text))
    try:
        to_data(compose(text, "fuzz.yaml"))
    except SourceError as err:
        assert err.span is not None and err.span.source.text == text, err.message
        note(f"{err.span}: {err.message}")
        return err
    return None


def caret_fits(text: str, line: int, col: int) -> bool:
    """Whether ``line:col`` is a character of ``text`` or the end of one of its lines."""
    lines = text.splitlines()  # how Source.line counts, so the caret lands on the right line
    if 1 <= line <= len(lines):
        return 1 <= col <= len(lines[line - 1]) + 1
    ends_with_break = not lines or text.splitlines(True)[-1] != lines[-1]
    return (line, col) == (len(lines) + 1, 1) and ends_with_break


@pytest.mark.parametrize("kind", list(FUZZ))
@given(data=st.data())
def test_fuzz_never_raises_anything_but_a_source_error(kind: str, data: st.DataObject) -> None:
    outcome(data.draw(FUZZ[kind]))


@pytest.mark.parametrize("kind", list(FUZZ))
@given(data=st.data())
def test_fuzz_errors_point_inside_the_text_with_a_one_line_message(
    kind: str, data: st.DataObject
) -> None:
    text = data.draw(FUZZ[kind])
    err = outcome(text)
    if err is not None:
        assert err.span is not None
        assert caret_fits(text, err.span.line, err.span.col), (err.span.line, err.span.col)
        assert "\n" not in err.message and "<unicode string>" not in err.message
        assert err.render().startswith("fuzz.yaml:")


def test_the_bundled_spec_composes() -> None:
    root = compose(RESNET50, "resnet50.yaml")
    assert isinstance(root, YMap)
    assert to_data(root)["name"] == "resnet50"


@pytest.mark.parametrize("text", ["a: 1e400\n", "a: [1, -1e999]\n", "a: !!float 2e308\n"])
def test_numbers_too_large_for_a_float_are_refused_at_the_number(text: str) -> None:
    err = fails(text)
    assert "is too large" in err.message
    assert err.span is not None and err.span.line == 1 and text[err.span.col - 1] in "-12!"
