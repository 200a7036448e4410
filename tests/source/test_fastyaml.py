"""The line reader (``netspec/source/fastyaml.py``) against PyYAML's events, the reference.

Wherever the reader takes a text, it builds the tree the reference composes — the same node
classes, values (of the same types), quoting styles, sizes and spans, end marks included — and
wherever the reference refuses a text, the reader leaves it (so the error users see is the
reference's). Checked on every bundled spec, on texts written to probe each rule of the part
of YAML the reader takes, on generated documents laid out in the ways specs are, and on
mutations of bundled specs; and :func:`netspec.source.yaml.compose` gives the same outcome,
errors included, with the reader as without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import currently_in_test_context, given, note
from hypothesis import strategies as st

import netspec
from netspec.errors import Source, SourceError
from netspec.source import fastyaml
from netspec.source import yaml as ysrc
from netspec.source.yaml import YMap, YNode, YScalar, YSeq
from tests.source.test_yaml import DOCUMENTS, YAMLISH, Writer

ZOO = Path(netspec.__file__).parent / "zoo"
BUNDLED = sorted(ZOO.rglob("*.yaml"))


def dump(node: YNode) -> list[tuple[Any, ...]]:
    """Every node of ``node`` in document order: class, span, size, and a scalar's value (with
    its type: ``1`` is not ``True``) and style."""
    out: list[tuple[Any, ...]] = []
    stack = [node]
    while stack:
        item = stack.pop()
        s = item.span
        row = (type(item).__name__, s.line, s.col, s.end_line, s.end_col, item.size)
        if isinstance(item, YScalar):
            out.append((*row, type(item.value).__name__, repr(item.value), item.style))
        elif isinstance(item, YSeq):
            out.append(row)
            stack.extend(reversed(item.items))
        else:
            assert isinstance(item, YMap)
            out.append(row)
            stack.extend(reversed([part for pair in item.items for part in pair]))
    return out


def reference(text: str) -> list[tuple[Any, ...]] | str:
    """The reference's tree of ``text`` (composed from PyYAML's events), or its error."""
    try:
        with mock.patch.object(fastyaml, "compose", lambda source: None):
            return dump(ysrc.compose(text, "spec.yaml"))
    except SourceError as exc:
        return f"{exc.span}: {exc.message}"


def agree(text: str, must_take: bool = False) -> bool:
    """The reader gives the reference's tree, or leaves the text (always, where the reference
    refuses it; unless ``must_take``, where it takes it); and ``compose`` gives the same outcome
    either way. Whether the reader took the text."""
    if currently_in_test_context():
        note(repr(text))
    expected = reference(text)
    got = fastyaml.compose(Source("spec.yaml", text))
    if isinstance(expected, str):
        assert got is None, f"the reference refuses {text!r} ({expected}); the reader takes it"
    elif got is None:
        assert not must_take, f"the reader leaves {text!r} to the reference"
    else:
        assert dump(got) == expected, text
    try:
        outcome: Any = dump(ysrc.compose(text, "spec.yaml"))
    except SourceError as exc:
        outcome = f"{exc.span}: {exc.message}"
    assert outcome == expected
    return got is not None


# -- the bundled specs ---------------------------------------------------------------------------


def test_every_bundled_spec_is_read_to_the_same_tree() -> None:
    assert len(BUNDLED) > 100
    for path in BUNDLED:
        agree(path.read_text("utf-8"), must_take=True)


# -- each rule -------------------------------------------------------------------------------------

TAKEN = [
    "a: 1\n",
    "a: 1",  # no line break at the end: the end is at the start of the line after
    "a: 1\n\n\n# the end\n",
    "a: 1\n# a comment\n  # another, indented\nb: 2\n",
    "a:\n  b: 1\n  c:\n    d: 2\ne: 3\n",
    "a:\n    b: 1\n    c: 2\n",
    "a:\n  - 1\n  - 2\nb: 3\n",
    "a:\n  -   x\n  -  y  # a comment\n",
    "a:\n  - b: 1\n    c: 2\n  - d: 3\n",
    "a:\n  - b:\n      - 1\n    c: 2\n",
    "a:\n  -\n    - 1\n    - 2\n  -\n    b: 1\n",
    "a:\n  - # a comment\n    - 1\n",
    "a: [1, 2, 3]\n",
    "a: []\n",
    "a: [1, 2,]\n",
    "a: [ 1 ,2 , 3 ]  # spaced\n",
    "a: [[1, 2], [], [3, [4]]]\n",
    "a: [out_channels, stride = 1, groups = 1]\n",
    "a: [\"'MBConv'\", 1, 'x', '']\n",
    "a: [-1, -x, 1.5, true, null, ~]\n",
    "a: 'it''s'\n",
    "a: ''\n",
    'a: "x: y # z"\n',
    'a: ""  # empty\n',
    "a: b#c\n",
    "a: conv2d(64, 3, padding=1)  # a call\n",
    "a: x:y\n",
    "a: -1\n",
    "a: -x\n",
    "a: 1e-05\n",
    "a: .5\n",
    "a: 0x1F\n",
    "a: 1_000\n",
    "a: yes\n",
    "a: True\n",
    "a: ~\n",
    "a: null\n",
    "a:    spaced out   \n",
    "a : 1\n",
    "1: a\n2: b\n",
    "true: 1\nnull: 2\n",
    "a b c: 1\n",
    "block{i + 1}-{j}: 1\n",
    "é: ü — ×\n",
    "a:\n  - [1, 2]\n  - 'x'\n",
    "a:\n  b:\n    - c:\n        - d: 1\n  e: 2\n",
]


@pytest.mark.parametrize("text", TAKEN)
def test_the_yaml_specs_are_written_in_is_read_to_the_same_tree(text: str) -> None:
    agree(text, must_take=True)


LEFT = [
    "",
    "# only a comment\n",
    "- a\n",  # a sequence, not a mapping
    "  a: 1\n",  # an indented document
    "a\n",
    "a: 1\nb\n",
    "a: b\n  c\n",  # a plain scalar continued on the next line
    "a: 'b\n  c'\n",
    'a: "b\n  c"\n',
    'a: "\\n"\n',
    "a:\n",
    "a:\nb: 1\n",
    "a:\n- 1\n",  # a sequence as indented as its key
    "a: 1\na: 2\n",
    "a: 1\n1.0: 2\n1: 3\n",
    "a: &x 1\nb: *x\n",
    "a: !!str 1\n",
    "a: |\n  text\n",
    "a: >\n  text\n",
    "a: {b: 1}\n",
    "a: [1,\n  2]\n",
    "a: [1, [2]\n",
    "a: [a: 1]\n",
    "a: [x # y]\n",
    "a: [,]\n",
    "a: [1,,2]\n",
    "a: 1e999\n",
    "a: b: c\n",
    "a: b:\n",
    "a: - b\n",
    "a: @x\n",
    "a: `x\n",
    "a: %x\n",
    "a: ?x\n",
    "a: 'x' y\n",
    "a: 'x'#y\n",
    "a: [1]x\n",
    "'a': 1\n",
    '"a": 1\n',
    "- a: 1\n",
    "a:\n  - - 1\n",
    "a:\n  -\n  - 1\n",
    "a:\n  b: 1\n c: 2\n",
    "a:\n  b: 1\n  - c\n",
    "---\na: 1\n",
    "a: 1\n...\n",
    "%YAML 1.2\n---\na: 1\n",
    "a: 1\r\nb: 2\r\n",
    "a:\tb\n",
    "\ufeffa: 1\n",
    "a: 1\x85b: 2\n",
    "a: \x01\n",
    "a: \u2028\n",
    "a: \xa0\n",
    "#a: 1\n" + "x" * 2000 + ": 1\n",
]


@pytest.mark.parametrize("text", LEFT)
def test_anything_else_is_left_to_the_reference(text: str) -> None:
    assert fastyaml.compose(Source("spec.yaml", text)) is None
    agree(text)


def test_the_limits_are_the_reference_s(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "a: [1, 2, 3]\nb: [4, 5, 6]\n"
    monkeypatch.setattr(ysrc, "MAX_NODES", 11)
    assert agree(text)
    monkeypatch.setattr(ysrc, "MAX_NODES", 10)
    assert not agree(text)
    keys = "".join(" " * 2 * i + f"k{i}:\n" for i in range(ysrc.MAX_DEPTH + 1))
    assert not agree(keys + " " * 300 + "x: 1\n")  # the reference says it is too deep


def test_only_libyaml_s_marks_are_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pure-Python parser marks some ends otherwise: the reader is libyaml's fast path."""
    monkeypatch.setattr(ysrc, "_Loader", ysrc.yaml.SafeLoader)
    with mock.patch.object(fastyaml, "compose", side_effect=AssertionError("not called")):
        ysrc.compose("a: 1", "spec.yaml")


# -- generated documents ---------------------------------------------------------------------------


@given(DOCUMENTS)
def test_generated_documents_agree(doc: Any) -> None:
    writer = Writer()
    if doc[1]:
        writer.inline(doc)
    else:
        writer.block(doc, 0)
    agree(writer.text())


SPEC_SCALARS = st.sampled_from(
    ["1", "-1", "0.5", "1e-05", "true", "null", "~", "relu", "conv2d(64, 3, padding=1)",
     "in.channels * 2", "a if b else c", "'q'", "''", '"d"', '"a # b"', "'it''s'", "x:y",
     "b#c", "[1, 2]", "[]", "[a, [b, c], 'd']", "[1, 2,]", "é ×"]
)  # fmt: skip
SPEC_KEYS = st.sampled_from(["a", "b", "conv1", "block{i + 1}", "w_0", "1", "true", "x y"])


@st.composite
def layouts(draw: st.DrawFn) -> str:
    """A document as specs lay them out, with the freedoms YAML leaves: indentation widths,
    spaces after ``:`` and ``-``, comments, blank lines, ``- key:`` and ``-`` alone."""
    lines: list[str] = []

    def comment() -> str:
        return draw(st.sampled_from(["", "", "", "  # note", " #", "   # a: b"]))

    def between(indent: int) -> None:
        for _ in range(draw(st.integers(0, 1))):
            lines.append(draw(st.sampled_from(["", "#", " " * indent + "# c", "   "])))

    def mapping(indent: int, depth: int, first: str = "") -> None:
        keys = draw(st.lists(SPEC_KEYS, min_size=1, max_size=3, unique=True))
        for i, key in enumerate(keys):
            lead = first if i == 0 and first else " " * indent
            value(lead + key + ":", indent, depth)
            between(indent)

    def sequence(indent: int, depth: int) -> None:
        for _ in range(draw(st.integers(1, 3))):
            dash = "-" + " " * draw(st.integers(1, 3))
            form = draw(st.sampled_from(["value", "value", "mapping", "alone"]))
            if form == "mapping" and depth > 0:
                mapping(indent + len(dash), depth - 1, " " * indent + dash)
            elif form == "alone" and depth > 0:
                lines.append(" " * indent + "-" + comment())
                block(indent + draw(st.integers(1, 3)), depth - 1)
            else:
                lines.append(" " * indent + dash + draw(SPEC_SCALARS) + comment())
            between(indent)

    def block(indent: int, depth: int) -> None:
        if draw(st.booleans()):
            sequence(indent, depth)
        else:
            mapping(indent, depth)

    def value(head: str, indent: int, depth: int) -> None:
        if depth > 0 and draw(st.booleans()):
            lines.append(head + comment())
            block(indent + draw(st.integers(1, 4)), depth - 1)
        else:
            lines.append(head + " " * draw(st.integers(1, 2)) + draw(SPEC_SCALARS) + comment())

    mapping(0, 3)
    end = draw(st.sampled_from(["\n", "", "\n\n", "\n# end\n"]))
    return "\n".join(lines) + end


@given(layouts())
def test_documents_laid_out_as_specs_are_read_to_the_same_tree(text: str) -> None:
    agree(text, must_take=True)


@st.composite
def mutations(draw: st.DrawFn) -> str:
    """A bundled spec with a few characters replaced, inserted or cut, a line repeated or cut,
    or indented otherwise."""
    text = draw(st.sampled_from(BUNDLED)).read_text("utf-8")
    lines = text.split("\n")
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["char", "char", "repeat", "cut", "indent", "dedent"]))
        if op == "repeat":
            lines.insert(i, lines[i])
        elif op == "cut":
            del lines[i]
        elif op == "indent":
            lines[i] = " " * draw(st.integers(1, 3)) + lines[i]
        elif op == "dedent":
            lines[i] = lines[i][draw(st.integers(1, 3)) :]
        else:
            line = list(lines[i])
            j = draw(st.integers(0, len(line)))
            char = draw(st.sampled_from(list(" :-[]{},#&*!|>'\"?%@`\t\\x1") + ["\x00", "é"]))
            if j < len(line) and draw(st.booleans()):
                line[j] = char
            else:
                line.insert(j, char)
            lines[i] = "".join(line)
    return "\n".join(lines)


@given(mutations())
def test_mutated_specs_agree(text: str) -> None:
    agree(text)


@given(YAMLISH)
def test_yamlish_text_agrees(text: str) -> None:
    agree(text)
