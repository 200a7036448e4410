"""The ``.ns`` text format: its reader, its syntax errors, and fuzzing of both formats.

Fuzzing feeds random and mutated spec texts (truncations, swapped and dropped tokens, random
bytes, deep nesting, huge numbers) through the whole static pipeline, YAML and ``.ns`` alike:
each must load and check, or fail with a positioned :class:`NetspecError` — never another
exception.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

import netspec
from netspec.errors import NetspecError
from netspec.source import ns
from netspec.source.yaml import MAX_DEPTH, YMap, YScalar, YSeq
from netspec.spec.load import bundled_dir

SPECS = bundled_dir()

LENET = (SPECS / "lenet5.ns").read_text("utf-8")


def _error(text: str, name: str = "bad.ns") -> NetspecError:
    with pytest.raises(NetspecError) as info:
        netspec.loads(text, name=name).check()
    return info.value


# -- the reader ----------------------------------------------------------------------------------


def test_reads_to_the_same_tree_shape_as_yaml() -> None:
    tree = ns.compose(
        'netspec 1\nname x\ninput [1, 8, 8]\nparams {\n  k = 3 "kernel"\n}\n'
        "layers {\n  conv: conv2d(4, k)\n  relu\n}\n",
        "x.ns",
    )
    assert isinstance(tree, YMap)
    keys = [k.value for k, _ in tree.items]
    assert keys == ["netspec", "name", "input", "params", "layers"]
    layers = dict((k.value, v) for k, v in tree.items)["layers"]
    assert isinstance(layers, YSeq) and len(layers.items) == 2
    first = layers.items[0]
    assert isinstance(first, YMap)
    key, value = first.items[0]
    assert key.value == "conv" and isinstance(value, YScalar) and value.value == "conv2d(4, k)"
    # positions point into the .ns text
    assert (key.span.line, key.span.col) == (8, 3)
    assert (value.span.line, value.span.col) == (8, 9)


def test_statements_may_wrap_inside_brackets_and_share_lines_with_semicolons() -> None:
    text = (
        "netspec 1; name x; input [1,\n  8, 8]\nlayers {\n  conv: conv2d(\n    4,\n    3,\n"
        "  )\n  relu; flatten  # two on a line\n}\n"
    )
    spec = netspec.loads(text, name="x.ns")
    assert [row["op"] for row in spec.summary()["layers"]] == ["conv2d", "relu", "flatten"]


NUMBERED = (
    "netspec 1\nname x\ninput [4, 8, 8]\nblock Convs {\n  branches {\n"
    "    {\n      conv2d(2, 1)\n    }\n    {\n      conv2d(3, 3, padding=1)\n      relu\n    }\n"
    "  }\n}\nlayers {\n  convs: Convs\n}\n"
)


def test_numbered_branches_are_paths_in_braces() -> None:
    """`branches { {…} {…} }`: the paths numbered, as the YAML list of lists."""
    spec = netspec.loads(NUMBERED, name="x.ns")
    assert list(spec.build().state_dict()) == [
        "convs.0.0.weight", "convs.0.0.bias", "convs.1.0.weight", "convs.1.0.bias",
    ]  # fmt: skip


def test_named_and_numbered_branches_do_not_mix() -> None:
    text = NUMBERED.replace("    {\n      conv2d(2, 1)\n    }\n", "    a: conv2d(2, 1)\n")
    exc = _error(text)
    assert "all named" in exc.message


def test_errors_in_expressions_point_into_the_ns_file() -> None:
    err = _error("netspec 1\nname x\ninput [1, 8, 8]\nlayers {\n    conv: conv2d(widht, 3)\n}\n")
    assert err.span is not None
    assert (err.span.line, err.span.col) == (5, 18)
    assert "undefined name 'widht'" in err.message
    rendered = err.render()
    assert "bad.ns:5:18" in rendered and "conv2d(widht, 3)" in rendered


# -- syntax errors -------------------------------------------------------------------------------

SYNTAX_ERRORS = [
    # (text, line, column, message, hint)
    *(  # a sequence's child read by a name, not its index: said as YAML's `from:` says it
        (
            "netspec 1\nname x\ninput [1, 8, 8]\nlayers {\n    s: [conv2d(1, 1), relu]\n"
            f"    c: concat from {sources}\n}}\n",
            6,
            col,
            "`from` names a tensor by a layer's name (an identifier), or a child of a "
            "sequence by its index (`backbone.4`), found 's.x1'",
            "write s.0, s.1, … (the child's index in s), or a layer's name",
        )
        for sources, col in (("[s, s.x1]", 26), ("s.x1", 22), ("[s.0, s . x1]", 30))
    ),
    (  # a parallel's paths not closed: its '{' named, not "a name cannot be it here"
        "netspec 1\nname x\ninput [1, 8, 8]\nlayers {\n    parallel merge add {\n"
        "        { c: conv2d(1, 1) }\n        {}\n    parallel merge add {\n        {}\n"
        "        {}\n    }\n}\n",
        8,
        5,
        "unexpected 'parallel': a parallel holds its paths only, each in { … }",
        "the '{' at line 5, column 24 is not closed; close it with '}' before this line",
    ),
    (
        "netspec 1\nname x\ninput [1, 8, 8]\nlayers {\n    conv: conv2d(4, 3\n    relu\n}\n",
        6,
        5,
        "unexpected 'relu': expected ',' or ')' or an operator",
        "the '(' at line 5, column 17 is not closed",
    ),
    (
        "netspec 1\nname x\ninput [1, 8, 8]\nlayers {\n    relu\n",
        5,
        9,
        "the file ends too early: expected '}' or a statement",
        "the '{' at line 4, column 8 is not closed",
    ),
    (
        "netspec 1\nname x\ninput [1, 8, 8]\nblock B(c) {\n    conv2d(c, 3)\n\n"
        "layers {\n    b: B(2)\n}\n",
        7,
        1,
        "unexpected 'layers': a section before it is not closed",
        "the '{' at line 4, column 12 is not closed",
    ),
    (
        "netspec 1\nname x\ninput [1, 8, 8]\nlayer {\n    relu\n}\n",
        4,
        1,
        "unexpected 'layer': expected a statement or the end of the file",
        "did you mean 'layers'?",
    ),
    (
        "netspec 1\nname x\ninput [1, 8, 8]\nlayers {\n    relu $\n}\n",
        5,
        10,
        "unexpected character '$'",
        None,
    ),
    (
        "netspec 1\nname x\ninput [1, 8, 8]\nparams {\n  a = 1 b\n}\nlayers {\n  relu\n}\n",
        5,
        9,
        "unexpected 'b': expected an operator or the end of the statement",
        "one statement per line (or separate them with ';')",
    ),
    (  # YAML's `name: value` in .ns params
        "netspec 1\nname x\ninput [1, 8, 8]\nparams {\n    width: 8  # w\n}\nlayers {\n  relu\n}\n",
        5,
        10,
        "unexpected ':': a parameter is declared with '=' in .ns",
        "write width = 8",
    ),
    (  # a param declared without '='
        "netspec 1\nname x\ninput [1, 8, 8]\nparams {\n    w 4\n}\nlayers {\n  relu\n}\n",
        5,
        7,
        "unexpected '4': a parameter is declared with '=' in .ns",
        "write w = 4",
    ),
    (  # extends takes a quoted string
        "netspec 1\nname x\nextends base\ninput [1, 8, 8]\nlayers {\n  relu\n}\n",
        3,
        9,
        "unexpected 'base': `extends` takes a quoted string",
        'write extends "base"',
    ),
    (  # a YAML file named .ns
        "# a spec\nnetspec: 1\nname: x\ninput: [1, 8, 8]\nlayers:\n  - relu\n",
        2,
        8,
        "unexpected ':': this is YAML (`netspec: 1`), not .ns text (`netspec 1`)",
        "rename it to FILE.yaml (then `netspec fmt FILE.yaml --out FILE.ns` converts it)",
    ),
    (  # a name template unquoted
        "netspec 1\nname x\ninput [1, 8, 8]\nlayers {\n    for i in range(2) {\n"
        "        conv{i + 1}: conv2d(8, 3, padding=1)\n    }\n}\n",
        6,
        16,
        "unexpected '+': a name template is quoted in .ns",
        'write "conv{i + 1}": conv2d(8, 3, padding=1)',
    ),
    (
        "netspec 1\nname x\ninput [1, 8, 8]\nlayers {\n    for in range(2) {\n    }\n}\n",
        5,
        12,
        "unexpected 'range' in a loop",
        "it reads `for NAME in EXPR { … }`",
    ),
    (
        "netspec 1\nname x\ninput [1, 8, 8]\nlayers {\n    repeat: relu\n}\n",
        5,
        5,
        "'repeat' is a word of the .ns format and cannot name a layer there",
        "`repeat:` starts a repeat in YAML as well; the `repeat` statement takes no ':'",
    ),
    (  # quoted too: a layer list's `repeat:` starts a repeat in YAML as well
        'netspec 1\nname x\ninput [1, 8, 8]\nlayers {\n    "repeat": conv2d(4, 1)\n}\n',
        5,
        5,
        "'repeat' is a word of the .ns format and cannot name a layer there",
        "rename it: in a layer list, `repeat:` starts a repeat in YAML as well",
    ),
    (
        "netspec 1\nname x\ninput [1, 8, 8]\nlayers {\n    relu\n    then: relu\n}\n",
        6,
        5,
        "'then' is a word of the .ns format and cannot name a layer there unquoted",
        'quote it, as `netspec fmt` writes it: "then": …',
    ),
    (  # a section that is really not closed: the let's '{', not a let mapping named layers
        "netspec 1\nname x\ninput [1, 8, 8]\nlet {\n    w = 2\n\nlayers {\n    relu\n}\n",
        7,
        1,
        "unexpected 'layers': a section before it is not closed",
        "the '{' at line 4, column 5 is not closed",
    ),
    (
        "netspec 1\nname x\ninput [1, 8, 8]\nparams {\n    w = 2\n\nlayers {\n    relu\n}\n",
        7,
        1,
        "unexpected 'layers': a section before it is not closed",
        "the '{' at line 4, column 8 is not closed",
    ),
    (  # a top-level statement inside a section that is closed
        "netspec 1\ninput [1, 8, 8]\nlayers {\n    name x\n    relu\n}\n",
        4,
        5,
        "unexpected 'name' inside a section: it is a statement of the top level",
        "move it out of the section opened by the '{' at line 3, column 8",
    ),
    (
        'netspec 1\nname x\ninput [1, 8, 8]\nlayers {\n    "relu\n}\n',
        5,
        5,
        "unexpected character '\"'",
        "a string is not closed",
    ),
    ("# nothing but a comment\n", 1, 1, "the file is empty", "a spec starts with"),
]


@pytest.mark.parametrize(("text", "line", "col", "message", "hint"), SYNTAX_ERRORS)
def test_syntax_errors_in_words_with_a_caret(
    text: str, line: int, col: int, message: str, hint: str | None
) -> None:
    err = _error(text)
    assert err.span is not None
    assert (err.span.line, err.span.col) == (line, col)
    assert message in err.message
    assert not re.search(r"\b(__ANON|_NL|RPAR|LSQB|NAME|\$END)\b", err.message)
    if hint is None:
        assert err.hint is None
    else:
        assert err.hint is not None and hint in err.hint
    rendered = err.render().splitlines()
    if message != "the file is empty":
        # the offending line, then a caret under the column
        source_line = text.splitlines()[line - 1]
        assert any(row.endswith(source_line) for row in rendered)
        caret = next(row for row in rendered if row.rstrip().endswith("^"))
        assert caret.index("^") - caret.index("|") - 2 == col - 1


# -- words of the format used as names ------------------------------------------------------------

_HEAD = "netspec 1\nname x\ninput [1, 8, 8]\n"
_TAIL = "layers {\n    relu\n}\n"
NAME_PLACES = {
    # place: (text, with @ where the word stands; its line and column; what it names; whether
    # .ns can quote such a name)
    "a param": (_HEAD + "params {\n    @ = 2\n}\n" + _TAIL, 5, 5, "a parameter", False),
    "a param after another": (
        _HEAD + "params { a = 1; @ = 2 }\n" + _TAIL,
        4,
        17,
        "a parameter",
        False,
    ),
    "a let value": (_HEAD + "let {\n    @ = 2\n}\n" + _TAIL, 5, 5, "a let value", False),
    "a let mapping": (
        _HEAD + "let {\n    @ {\n        a: 1\n    }\n}\n" + _TAIL,
        5,
        5,
        "a let value",
        False,
    ),
    "a layer": (_HEAD + "layers {\n    relu\n    @: relu\n}\n", 6, 5, "a layer", True),
    "a layer first in its section": (_HEAD + "layers { @: relu }\n", 4, 10, "a layer", True),
    "a nested layer": (
        _HEAD + "layers {\n    seq: {\n        a: relu\n        @: relu\n    }\n}\n",
        7,
        9,
        "a layer",
        True,
    ),
    "a layer of a block": (
        _HEAD + "block B {\n    relu\n    @: relu\n}\n" + _TAIL,
        6,
        5,
        "a layer",
        True,
    ),
    "a block": (_HEAD + "block @(c) {\n    relu\n}\n" + _TAIL, 4, 7, "a block", False),
    "a block parameter": (
        _HEAD + "block B(c, @ = 1) {\n    relu\n}\n" + _TAIL,
        4,
        12,
        "a block parameter",
        False,
    ),
    "a branch": (
        _HEAD + "block B {\n    branches {\n        a: relu\n        @: relu\n    }\n}\n" + _TAIL,
        7,
        9,
        "a branch",
        True,
    ),
}


@pytest.mark.parametrize("word", sorted(ns.KEYWORDS))
@pytest.mark.parametrize("place", list(NAME_PLACES))
def test_a_word_of_the_format_as_a_name_is_refused_at_the_word(place: str, word: str) -> None:
    text, line, col, what, quotable = NAME_PLACES[place]
    text = text.replace("@", word)
    err = _error(text)
    assert err.span is not None
    assert (err.span.line, err.span.col) == (line, col), err.render()
    assert err.message.startswith(f"'{word}' is a word of the .ns format and cannot name {what}")
    assert "not closed" not in err.message and "not closed" not in (err.hint or "")
    assert err.hint is not None
    if keyword.iskeyword(word):  # no spec, YAML or .ns, can use it as a name
        assert "Python keyword" in err.hint
    elif word == "repeat" and what == "a layer":  # `repeat:` in a layer list is a repeat
        assert err.message.endswith("there")
        assert err.hint.startswith("rename it: in a layer list, `repeat:` starts a repeat")
    elif quotable:  # the grammar reads a quoted layer or branch name, and fmt writes it so
        assert err.message.endswith("there unquoted")
        assert f'quote it, as `netspec fmt` writes it: "{word}": …' in err.hint
        netspec.loads(re.sub(rf"\b{word}:", f'"{word}":', text, count=1), name="ok.ns").check()
    else:
        assert err.hint == "rename it, or keep this spec in YAML"
    rendered = err.render()
    assert f"bad.ns:{line}:{col}:" in rendered and "Traceback" not in rendered


@pytest.mark.parametrize(
    ("place", "yaml_part"),
    [
        ("a param", "params:\n  layers: 2\n"),
        ("a let value", "let:\n  layers: 2\n"),
        ("a block", "blocks:\n  layers:\n    params: [c]\n    body: [relu]\n"),
        ("a block parameter", "blocks:\n  B:\n    params: [c, layers = 1]\n    body: [relu]\n"),
    ],
)
def test_the_reader_and_fmt_refuse_a_reserved_name_in_the_same_words(
    place: str, yaml_part: str
) -> None:
    from netspec.spec import format as fmt
    from netspec.spec.load import read_text

    yaml_spec = "netspec: 1\nname: x\ninput: [1, 8, 8]\n" + yaml_part + "layers: [relu]\n"
    with pytest.raises(NetspecError) as written:
        fmt.to_ns(read_text(yaml_spec, "x.yaml").spec)
    read = _error(NAME_PLACES[place][0].replace("@", "layers"))
    assert read.message == written.value.message
    assert read.hint == written.value.hint == "rename it, or keep this spec in YAML"


def test_a_word_of_the_format_as_a_mapping_key_is_quoted() -> None:
    text = _HEAD + "let {\n    m {\n        a: 1\n        layers: 2\n    }\n}\n" + _TAIL
    err = _error(text)
    assert err.span is not None and (err.span.line, err.span.col) == (7, 9)
    assert (
        err.message == "'layers' is a word of the .ns format and cannot name a key there unquoted"
    )
    assert err.hint is not None and '"layers": …' in err.hint
    netspec.loads(text.replace("layers: 2", '"layers": 2'), name="ok.ns").check()


def test_a_statement_word_written_with_a_colon_is_read_as_a_name() -> None:
    err = _error(_HEAD + "block B {\n    relu\n    merge: add\n}\n" + _TAIL)
    assert err.span is not None and (err.span.line, err.span.col) == (6, 5)
    assert err.hint is not None and "the `merge` statement takes no ':'" in err.hint


def test_the_cli_shows_a_reserved_name_at_the_word(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from netspec.cli import app

    path = tmp_path / "x.ns"
    path.write_text(_HEAD + "params {\n    layers = 2\n}\n" + _TAIL, "utf-8")
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 2, result.output
    assert f"{path}:5:5: document: 'layers' is a word of the .ns format" in result.output
    assert "rename it, or keep this spec in YAML" in result.output
    assert "Traceback" not in result.output and "not closed" not in result.output


def test_deep_nesting_is_refused_with_a_position() -> None:
    text = "netspec 1\nname x\ninput [1, 8, 8]\nlayers {\n  x: " + "[" * 5000 + "\n}\n"
    err = _error(text)
    assert f"deeper than {MAX_DEPTH}" in err.message
    assert err.span is not None and err.span.line == 5


def test_huge_numbers_are_refused_with_a_position() -> None:
    err = _error("netspec 1\nname x\ninput [1, 8, 8]\nlayers {\n  linear(" + "9" * 400 + ")\n}\n")
    assert "too large" in err.message
    assert err.span is not None and err.span.line == 5


# -- fuzzing -------------------------------------------------------------------------------------

SEEDS = {
    path.name: path.read_text("utf-8")
    for name in ("lenet5", "examples/inception_block", "mobilenet_v1", "vgg", "resnet18")
    for path in (SPECS / f"{name}.yaml", SPECS / f"{name}.ns")
}
TOKEN = re.compile(r"\w+|[^\w\s]|\s+")


def _check_outcome(text: str, name: str) -> None:
    """Success, or a NetspecError positioned inside the text (or naming no position at all
    only for errors about other files, such as an unknown ``extends``)."""
    try:
        spec = netspec.loads(text, name=name)
        spec.check()
    except NetspecError as exc:
        message = exc.render()
        assert message and "Traceback" not in message
        if exc.span is not None and exc.span.source.name == name:
            lines = text.splitlines() or [""]
            assert 1 <= exc.span.line <= len(lines) + 1, message
            assert exc.span.col >= 1, message


@st.composite
def mutated(draw: Any) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(SEEDS)))
    tokens = TOKEN.findall(SEEDS[name])
    for _ in range(draw(st.integers(1, 4))):
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))
        kind = draw(st.sampled_from(["drop", "swap", "dup", "insert", "number", "truncate"]))
        if kind == "drop":
            del tokens[i]
        elif kind == "swap" and i + 1 < len(tokens):
            tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
        elif kind == "dup":
            tokens.insert(i, tokens[i])
        elif kind == "insert":
            tokens.insert(
                i,
                draw(
                    st.one_of(
                        st.sampled_from(
                            list("{}[](),:;=#'\"-\n\t") + ["for", "if", "in", "else", "*", "**"]
                        ),
                        st.text(max_size=3),
                    )
                ),
            )
        elif kind == "number":
            tokens.insert(i, draw(st.sampled_from(["9" * 40, "1e400", "-0", "0.0", "2**62"])))
        else:
            tokens = tokens[:i]
    suffix = ".ns" if name.endswith(".ns") else ".yaml"
    return "".join(tokens), "fuzz" + suffix


FUZZ = settings(
    max_examples=max(2000, settings.default.max_examples),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(case=mutated())
@example(case=("netspec 1\nname x\ninput [1, 8, 8]\nlayers {\n" + "{" * 200, "fuzz.ns"))
@example(case=("layers:\n" + "  - [" * 300, "fuzz.yaml"))
def test_mutated_specs_give_a_result_or_a_positioned_error(case: tuple[str, str]) -> None:
    text, name = case
    note(text)
    _check_outcome(text, name)


@FUZZ
@given(
    data=st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200).map(lambda b: b.decode("utf-8", "replace")),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    ),
    suffix=st.sampled_from([".ns", ".yaml"]),
)
def test_random_text_gives_a_positioned_error(data: str, suffix: str) -> None:
    _check_outcome(data, "fuzz" + suffix)


def test_every_bundled_ns_file_checks(tmp_path: Path) -> None:
    for path in sorted(SPECS.rglob("*.ns")):
        netspec.load(path).check()


@pytest.mark.parametrize(
    ("value", "message"), [("1e400", "is too large"), ("9" * 5000, "is too large")]
)
def test_numbers_beyond_the_language_are_refused_at_the_number(value: str, message: str) -> None:
    text = (
        f"netspec 1\nname t\ninput [4]\nparams {{\n    p = {value}\n}}\n"
        "layers {\n    linear(2)\n}\n"
    )
    with pytest.raises(NetspecError, match=message) as info:
        netspec.loads(text, name="t.ns")
    assert info.value.span is not None and (info.value.span.line, info.value.span.col) == (5, 9)


# -- comprehensions and slices in both formats ---------------------------------------------------

COMPREHENSIONS_YAML = """\
netspec: 1
name: widths
input: [3, 8, 8]
params:
  depth: 3
  width_mult: 1.0
let:
  widths: "[make_divisible(c * width_mult, 8) for c in [16, 24, 40, 80]]"
  depths: "[ceil(n * 1.5) for n in [1, 2, 2]]"
  pairs: "[[w, d] for w, d in zip(widths, depths) if d > 1]"
  ids: "[sum(depths[:s]) + i for s in range(len(depths)) for i in range(depths[s])]"
  probs: "[0.2 * b / sum(depths) for b in ids]"
  last: widths[-1:]
blocks:
  Pair:
    params:
      - out
      - keep = 2
    body:
      - conv2d(out, 1)
      - if: all([layers > 0 for layers in range(keep)][::2])
        then:
          - relu
layers:
  - for: w in widths[:depth]
    do:
      - Pair(w)
  - if: any([p > 0.1 for p in probs])
    then:
      - Pair(last[0])
  - flatten
"""

COMPREHENSIONS_NS = """\
netspec 1
name widths
input [3, 8, 8]
params {
    depth = 3
    width_mult = 1.0
}
let {
    widths = [make_divisible(c * width_mult, 8) for c in [16, 24, 40, 80]]
    depths = [ceil(n * 1.5) for n in [1, 2, 2]]
    pairs = [[w, d] for w, d in zip(widths, depths) if d > 1]
    ids = [
        sum(depths[:s]) + i
        for s in range(len(depths))
        for i in range(depths[s])
    ]
    probs = [0.2 * b / sum(depths) for b in ids]
    last = widths[-1:]
}
block Pair(out, keep = 2) {
    conv2d(out, 1)
    if all([layers > 0 for layers in range(keep)][::2]) {
        relu
    }
}
layers {
    for w in widths[:depth] {
        Pair(w)
    }
    if any([p > 0.1 for p in probs]) {
        Pair(last[0])
    }
    flatten
}
"""


def test_comprehensions_and_slices_read_the_same_in_both_formats() -> None:
    """`for`, `in`, `if` and `:` inside brackets belong to the expression, not to a `.ns`
    statement: the file reads as the YAML does, words of the format included."""
    from netspec.spec import models as m

    from_yaml = netspec.loads(COMPREHENSIONS_YAML, name="widths.yaml")
    from_ns = netspec.loads(COMPREHENSIONS_NS, name="widths.ns")
    assert m.canonical(from_yaml.spec) == m.canonical(from_ns.spec)
    assert from_yaml.summary() == from_ns.summary()
    lets = from_ns.network.lets
    assert lets["ids"][1] == tuple(range(8)) and lets["last"][1] == (80,)


def test_comprehensions_and_slices_survive_the_formatter() -> None:
    """``netspec fmt`` re-renders each expression from its tree: a comprehension comes back the
    same, in YAML (quoted: it starts with '[') and in .ns."""
    from netspec.spec import format as fmt
    from netspec.spec import models as m
    from netspec.spec.load import read_text

    spec = read_text(COMPREHENSIONS_YAML, "widths.yaml").spec
    as_ns = fmt.to_ns(spec)
    assert "widths = [make_divisible(c * width_mult, 8) for c in [16, 24, 40, 80]]" in as_ns
    assert "for w in widths[:depth] {" in as_ns
    back = fmt.to_yaml(read_text(as_ns, "widths.ns").spec)
    assert '  widths: "[make_divisible(c * width_mult, 8) for c in [16, 24, 40, 80]]"' in back
    assert "  last: widths[-1:]" in back
    assert m.canonical(read_text(back, "widths.yaml").spec) == m.canonical(spec)
    assert fmt.to_ns(read_text(as_ns, "widths.ns").spec) == as_ns


@pytest.mark.parametrize(
    ("line", "row", "column", "message"),
    [
        ("y = [v for v in ws", 6, 1, "unexpected '}'"),
        (
            "y = [v for len in ws]",
            5,
            16,
            "the comprehension variable 'len' would hide the built-in",
        ),
        ("y = sum(v for v in ws)", 5, 15, "unexpected 'for'"),
        ("y = ws[1:2:3:4]", 5, 17, "unexpected ':'"),
    ],
)
def test_comprehension_errors_in_ns_are_positioned(
    line: str, row: int, column: int, message: str
) -> None:
    text = f"netspec 1\nname x\ninput [1, 8, 8]\nlet {{\n    {line}\n}}\nlayers {{\n    relu\n}}\n"
    err = _error(text)
    assert message in err.message
    assert err.span is not None and (err.span.line, err.span.col) == (row, column)
