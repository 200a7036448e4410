"""Canonical printing and conversion: YAML <-> .ns is lossless, and formatting is idempotent.

"Lossless" means: the converted spec is equal as an AST (:func:`netspec.spec.models.canonical`,
which ignores positions and layout) and builds a module with the identical state_dict.
"""

from __future__ import annotations

import keyword
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import netspec
from netspec.errors import NetspecError
from netspec.spec import format as fmt
from netspec.spec import models as m
from netspec.spec.load import bundled_dir, read_file, read_text

SPECS = bundled_dir()
YAML_FILES = sorted(SPECS.rglob("*.yaml"))


def _read(text: str, name: str) -> m.SpecFile:
    return read_text(text, name).spec


def _state(text: str, name: str) -> list[tuple[str, tuple[int, ...]]] | str:
    """The state_dict (keys and shapes) of the module a spec text builds, or its error."""
    try:
        spec = netspec.loads(text, name=name)
        spec.check()
    except NetspecError as exc:
        return exc.message
    with torch.device("meta"):
        model = spec.build()
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def _id(path: Path) -> str:
    return path.relative_to(SPECS).with_suffix("").as_posix()


# -- the bundled specs ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", YAML_FILES, ids=_id)
def test_bundled_specs_ship_in_both_formats_as_the_same_spec(path: Path) -> None:
    ns_path = path.with_suffix(".ns")
    assert ns_path.is_file(), f"{ns_path.name} is missing"
    assert m.canonical(read_file(path).spec) == m.canonical(read_file(ns_path).spec)
    # and the merged specs (through `extends`) are the same too, down to the module
    yaml_spec, ns_spec = netspec.load(path), netspec.load(ns_path)
    assert m.canonical(yaml_spec.spec) == m.canonical(ns_spec.spec)
    assert yaml_spec.summary() | {"name": None} == ns_spec.summary() | {"name": None}


@pytest.mark.parametrize("path", YAML_FILES, ids=_id)
def test_bundled_specs_are_canonical(path: Path) -> None:
    for file in (path, path.with_suffix(".ns")):
        text, _ = fmt.formatted(file)
        assert file.read_text("utf-8") == text, f"{file.name}: run `netspec fmt --write` on it"


@pytest.mark.parametrize("path", YAML_FILES, ids=_id)
def test_bundled_round_trips(path: Path) -> None:
    original = read_file(path).spec
    ns_text = fmt.to_ns(original)
    via_ns = _read(ns_text, "x.ns")
    back = fmt.to_yaml(via_ns)
    again = _read(back, "x.yaml")
    assert m.canonical(original) == m.canonical(via_ns) == m.canonical(again)
    # idempotent in both formats
    assert fmt.to_ns(via_ns) == ns_text
    assert fmt.to_yaml(again) == back
    assert fmt.to_ns(again) == ns_text


@pytest.mark.parametrize("path", YAML_FILES, ids=_id)
def test_converted_bundled_specs_build_the_same_module(path: Path) -> None:
    """The shipped .ns file, and the YAML converted now, build the YAML's state_dict."""
    original = netspec.load(path)
    with torch.device("meta"):
        expected = [(k, tuple(v.shape)) for k, v in original.build().state_dict().items()]
        for spec in (netspec.load(path.with_suffix(".ns")),):
            got = [(k, tuple(v.shape)) for k, v in spec.build().state_dict().items()]
            assert got == expected
    if read_file(path).spec.extends is None:  # a converted text has no folder for `extends`
        text = path.read_text("utf-8")
        converted = fmt.to_ns(_read(text, path.name))
        assert _state(converted, "x.ns") == expected


# -- comments and layout -------------------------------------------------------------------------

COMMENTED = """\
# yaml-language-server: $schema=netspec.schema.json
# LeNet, abridged
netspec: 1
name: small   # the name
input: [1, 28, 28]
params:
  classes: 10       # outputs
let:
  widths: [4, 8]    # channels
layers:
  # the features
  - c1: conv2d(widths[0], 5)   # 24x24
  - relu
  - flatten
  # the head
  - fc: linear(classes)
# the end
"""


def test_comments_survive_formatting_and_conversion() -> None:
    spec = _read(COMMENTED, "small.yaml")
    out = fmt.to_yaml(spec)
    comments = [line.split("#", 1)[1] for line in COMMENTED.splitlines() if "#" in line]
    for comment in comments:
        assert comment in out
    ns = fmt.to_ns(spec)
    for comment in comments[1:]:  # the schema line means nothing in .ns text
        assert comment in ns
    assert "yaml-language-server" not in ns
    back = fmt.to_yaml(_read(ns, "small.ns"))
    for comment in comments[1:]:
        assert comment in back
    # attached where they were: before the layer, or at the end of its line
    lines = out.splitlines()
    assert lines[lines.index("  # the head") + 1] == "  - fc: linear(classes)"
    assert "  - c1: conv2d(widths[0], 5)  # 24x24" in lines


def test_comments_of_a_declarations_lines_end_its_ns_line() -> None:
    """A YAML param declaration takes several lines, .ns one: the comments ending them end
    that line, in their order (a comment on ``require`` moved below the params, and a
    bundled spec lost one)."""
    text = (
        "netspec: 1\nname: p\ninput: [8]\nparams:\n  rates:  # dilations\n"
        "    default: [1, 2]\n    require: len(rates) == 2  # one per branch\n"
        "  classes: 3  # outputs\nlayers:\n  - fc: linear(classes)  # the head\n"
    )
    ns = fmt.to_ns(_read(text, "p.yaml"))
    lines = ns.splitlines()
    assert lines[lines.index("params {") + 1].endswith(
        "len(rates) == 2  # dilations  # one per branch"
    )
    assert "    classes = 3  # outputs" in lines
    back = fmt.to_yaml(_read(ns, "p.ns"))
    assert "# dilations  # one per branch" in back and "# the head" in back


BLOCK_COMMENTS = """\
netspec: 1
name: m
input: [3, 8, 8]
blocks:
  B:  # my block
    params: [c]  # channels
    body:
      - conv: conv2d(c, 1)  # first conv
layers:
  - b: B(4)
  - flatten
  - fc: linear(2)
"""


def test_comments_of_a_block_stay_on_its_lines_through_ns() -> None:
    """A block's name and params are one .ns line, its first layer has no `body:` there: the
    comments went to `blocks:` and `body:` and moved again on every round."""
    ns = fmt.to_ns(_read(BLOCK_COMMENTS, "m.yaml"))
    assert ns.splitlines()[3:6] == [
        "block B(c) {  # my block  # channels",
        "    conv: conv2d(c, 1)  # first conv",
        "}",
    ]
    back = fmt.to_yaml(_read(ns, "m.ns"))
    assert back == BLOCK_COMMENTS
    assert fmt.to_ns(_read(back, "m.yaml")) == ns


KEY_COMMENTS = """\
netspec: 1
name: k
input: [3, 8, 8]
blocks:
  Basic:
    params: [planes, stride = 1]
    body:
      - conv1: conv2d(planes, 3, stride=stride, padding=1)
    shortcut:
      when: stride != 1  # when
      project:  # project
        - conv2d(planes, 1, stride=stride)
    then:  # then
      - relu
layers:
  - repeat: 2  # repeat
    as: i  # as
    do:  # do
      - c{i}: conv2d(4, 1)
  - if: true
    then:  # then of if
      - relu
    else:  # else
      - identity
  - s1: stage(Basic, depth=2, planes=4, stride=2)
"""


def test_comments_on_the_keys_of_compound_entries_stay_on_their_lines() -> None:
    """``when``, ``project``, a block's ``then``, a repeat's ``as`` and ``do``: their comments
    moved into the layers below."""
    assert fmt.to_yaml(_read(KEY_COMMENTS, "k.yaml")) == KEY_COMMENTS
    ns = fmt.to_ns(_read(KEY_COMMENTS, "k.yaml"))
    lines = ns.splitlines()
    assert "    shortcut when stride != 1 {  # when  # project" in lines
    assert "    then {  # then" in lines
    assert "    repeat 2 as i {  # repeat  # as  # do" in lines
    assert "    if true {  # then of if" in lines
    assert "    } else {  # else" in lines
    back = fmt.to_yaml(_read(ns, "k.ns"))
    assert "    as: i  # as" in back.splitlines()  # one comment each, in order
    assert fmt.to_yaml(_read(back, "k.yaml")) == back
    assert fmt.to_ns(_read(back, "k.yaml")) == ns


SECTION_END_COMMENTS = """\
netspec 1
name n
input [3, 8, 8]
params {
    width = 4  # width
    # the last in params
}  # end of params
layers {
    repeat 2 {
        relu
        # the last in the loop
    }  # end of the loop
    fc: linear(10)
    # the last in layers
}
"""


def test_comments_that_end_an_ns_section_stay_inside_it() -> None:
    """A comment on the last line in braces, or on the closing `}`, moved out of them."""
    assert fmt.to_ns(_read(SECTION_END_COMMENTS, "n.ns")) == SECTION_END_COMMENTS


def test_a_comment_above_a_declarations_first_key_stays_with_it() -> None:
    """A declaration is one .ns line: a whole-line comment among its YAML lines goes above
    that line (it went to the next param)."""
    text = (
        "netspec: 1\nname: r\ninput: [8]\nparams:\n  ratio:\n    # keep it small\n"
        "    default: 0.5  # default\n    doc: a ratio  # doc\n  width: 4\n"
        "layers:\n  - fc: linear(width)\n"
    )
    assert fmt.to_yaml(_read(text, "r.yaml")) == text
    ns = fmt.to_ns(_read(text, "r.yaml"))
    lines = ns.splitlines()
    start = lines.index("params {")
    assert lines[start + 1 : start + 4] == [
        "    # keep it small",
        '    ratio = 0.5 "a ratio"  # default  # doc',
        "    width = 4",
    ]


def test_formatting_normalises_layout_and_expressions() -> None:
    messy = (
        "netspec: 1\nname: x\ninput: '[1,8,8]'\nlayers:\n"
        "  - conv:   conv2d( 4,3 ,padding = 1)\n  - 'relu'\n  - {if: 'true', then: relu}\n"
    )
    out = fmt.to_yaml(_read(messy, "x.yaml"))
    assert out == (
        "netspec: 1\nname: x\ninput: [1, 8, 8]\nlayers:\n"
        "  - conv: conv2d(4, 3, padding=1)\n  - relu\n  - if: true\n    then:\n      - relu\n"
    )


def test_layer_names_that_are_words_of_the_ns_format_are_quoted() -> None:
    text = (
        "netspec: 1\nname: x\ninput: [1, 8, 8]\nblocks:\n  B:\n    body:\n"
        "      - then: relu\n  C:\n    branches:\n      input: relu\n"
        "layers:\n  - block: B\n  - c: C\n"
    )
    spec = _read(text, "x.yaml")
    ns = fmt.to_ns(spec)
    assert '"then": relu' in ns and '"input": relu' in ns and '"block": B' in ns
    assert m.canonical(_read(ns, "x.ns")) == m.canonical(spec)


def test_let_mapping_keys_that_are_words_of_the_ns_format_are_quoted() -> None:
    text = (
        "netspec: 1\nname: lm\ninput: [3, 8, 8]\nlet:\n  m: {layers: 4, then: 2}\n"
        "layers:\n  - conv2d(m['layers'], 3)\n"
    )
    ns = fmt.to_ns(_read(text, "lm.yaml"))
    assert '"layers": 4' in ns and '"then": 2' in ns
    assert m.canonical(_read(ns, "lm.ns")) == m.canonical(_read(text, "lm.yaml"))


def test_value_names_that_are_words_of_the_ns_format_are_refused() -> None:
    for section in ("params", "let"):
        text = f"netspec: 1\nname: x\ninput: [1, 8, 8]\n{section}:\n  layers: 3\nlayers: [relu]\n"
        with pytest.raises(NetspecError, match="word of the .ns format") as info:
            fmt.to_ns(_read(text, "x.yaml"))
        assert info.value.where == f"{section}.layers"
        assert info.value.hint == "rename it, or keep this spec in YAML"


# -- random specs ---------------------------------------------------------------------------------

WORDS = ["alpha", "beta", "w", "k", "n_blocks", "ratio", "mode", "feat", "h2"]
names = st.sampled_from(WORDS)
layer_names = st.sampled_from(["conv", "bn", "act", "head", "body", "block1", "x_2"])
numbers = st.one_of(
    st.integers(-1000, 10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=64).filter(lambda f: abs(f) < 1e300),
)
texts = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12
)  # any text, quoted by the printers
literals = st.recursive(
    st.one_of(numbers, st.booleans(), texts),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)
expressions = st.one_of(
    st.sampled_from(
        [
            "alpha * 2",
            "max(alpha, 3) // 2",
            "[1, 2][0]",
            "alpha if beta else 3",
            "-alpha",
            "(alpha + 1) * 2",
            "2 ** -1",
            "not beta and true",
            "'text' + \"x\"",
            "len([1, 2]) % 2",
            "in.channels * 2",
            "1e-05",
        ]
    ),
    numbers.map(repr),
)
ops = st.sampled_from(
    [
        "relu",
        "conv2d(alpha, 3, padding=1)",
        "batchnorm2d",
        "linear(10, bias=false)",
        "maxpool2d(2, stride=2)",
        "dropout(0.5)",
        "Blk(4)",
        "stage(Blk, depth=2, c=8)",
        "relu if beta else identity",
    ]
)
mapping_calls = st.sampled_from(
    [
        {"conv2d": {"out_channels": 8, "kernel_size": 3}},
        {"linear": {"out_features": "alpha * 2"}},
        {"Blk": {"c": 4}},
    ]
)


def entries(depth: int) -> Any:
    leaf = st.one_of(ops, mapping_calls)
    if depth == 0:
        return st.one_of(leaf, st.builds(lambda k, v: {k: v}, layer_names, leaf))
    inner = st.lists(entries(depth - 1), max_size=3)
    nonempty = st.lists(entries(depth - 1), min_size=1, max_size=3)
    return st.one_of(
        leaf,
        st.builds(lambda k, v: {k: v}, layer_names, st.one_of(leaf, nonempty)),
        st.builds(lambda k, v: {"layer{i}": v} if k else {"b_{i + 1}": v}, st.booleans(), leaf),
        st.builds(lambda v: {"for": "i in range(2)", "do": v}, inner),
        st.builds(lambda v: {"for": "i, c in enumerate([4, 8])", "do": v}, nonempty),
        st.builds(lambda v: {"repeat": 2, "do": v}, inner),
        st.builds(lambda v: {"repeat": "alpha", "as": "i", "do": v}, inner),
        st.builds(lambda t: {"if": "beta", "then": t}, nonempty),
        st.builds(lambda t, e: {"if": "alpha > 1", "then": t, "else": e}, inner, nonempty),
    )


@st.composite
def params(draw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in draw(st.lists(names, unique=True, max_size=4)):
        value = draw(literals)
        if draw(st.booleans()):
            decl: dict[str, Any] = {"default": value}
            if draw(st.booleans()):
                decl["doc"] = draw(texts)
            if isinstance(value, int) and not isinstance(value, bool) and draw(st.booleans()):
                decl["choices"] = sorted({value, value + 1})
            out[name] = decl
        else:
            out[name] = value
    return out


@st.composite
def blocks(draw: Any) -> dict[str, Any]:
    block: dict[str, Any] = {}
    if draw(st.booleans()):
        block["doc"] = draw(texts)
    block["params"] = draw(st.sampled_from([["c"], ["c", "stride = 1"], ["c = alpha * 2"], []]))
    if draw(st.booleans()):
        block["expansion"] = draw(st.sampled_from([1, 4, "alpha"]))
    if draw(st.booleans()):
        block["let"] = {"width": draw(expressions)}
    if draw(st.booleans()):
        block["branches"] = {
            "b1": draw(st.lists(entries(1), min_size=1, max_size=2)),
            "b2": draw(ops),
        }
        block["merge"] = draw(st.sampled_from(["concat", "add"]))
    else:
        block["body"] = draw(st.lists(entries(1), min_size=1, max_size=3))
        if draw(st.booleans()):
            shortcut: dict[str, Any] = {}
            if draw(st.booleans()):
                shortcut["when"] = "stride != 1 or in.channels != c"
            if draw(st.booleans()):
                shortcut["project"] = ["conv2d(c, 1, stride=stride)", "batchnorm2d"]
            if draw(st.booleans()):
                shortcut["name"] = "proj"
            block["shortcut"] = shortcut
    if draw(st.booleans()):
        block["then"] = draw(st.lists(ops, min_size=1, max_size=2))
    if draw(st.booleans()):
        block["first_only"] = draw(st.sampled_from([["stride"], ["stride", "c"], []]))
    return {"Blk": block}


@st.composite
def specs(draw: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"netspec": 1, "name": draw(st.sampled_from(["rand", "r_2"]))}
    if draw(st.booleans()):
        spec["class_name"] = "Rand"
    if draw(st.booleans()):
        spec["description"] = draw(texts)
    spec["input"] = draw(st.sampled_from([[3, 16, 16], [1, 8, 8], "[3, alpha + 14, 16]"]))
    spec["params"] = {"alpha": 4, "beta": True} | draw(params())
    if draw(st.booleans()):
        spec["let"] = {
            name: draw(st.one_of(expressions, literals))
            for name in draw(st.lists(st.sampled_from(["u", "v", "widths"]), unique=True))
        }
        if draw(st.booleans()):
            spec["let"]["table"] = {11: [1, 2], 13: {"a": 1.5, "b": "text"}, -2: []}
    if draw(st.booleans()):
        spec["blocks"] = draw(blocks())
    spec["layers"] = draw(st.lists(entries(2), max_size=5))
    return spec


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=specs())
def test_random_specs_round_trip(data: dict[str, Any]) -> None:
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    note(text)
    try:
        original = _read(text, "rand.yaml")
    except NetspecError:
        return  # the strategy writes some specs netspec refuses (e.g. names it reserves)
    try:
        ns_text = fmt.to_ns(original)
    except NetspecError as exc:
        assert "word of the .ns format" in exc.message
        return
    note(ns_text)
    via_ns = _read(ns_text, "rand.ns")
    yaml_text = fmt.to_yaml(via_ns)
    note(yaml_text)
    again = _read(yaml_text, "rand.yaml")
    assert m.canonical(original) == m.canonical(via_ns) == m.canonical(again)
    assert fmt.to_ns(via_ns) == ns_text  # idempotent
    assert fmt.to_ns(again) == ns_text
    assert fmt.to_yaml(again) == yaml_text
    assert fmt.to_yaml(original) == yaml_text


@settings(deadline=None, max_examples=25)
@given(data=specs())
def test_random_specs_build_the_same_module_in_both_formats(data: dict[str, Any]) -> None:
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    try:
        ns_text = fmt.to_ns(_read(text, "rand.yaml"))
    except NetspecError:
        return
    assert _state(text, "rand.yaml") == _state(ns_text, "rand.ns")


def test_the_strategy_writes_specs_netspec_accepts() -> None:
    """Most random specs must be valid, or the round-trip property would test little."""
    accepted = 0

    @settings(max_examples=50, deadline=None, database=None)
    @given(data=specs())
    def count(data: dict[str, Any]) -> None:
        nonlocal accepted
        try:
            _read(yaml.safe_dump(data, sort_keys=False), "rand.yaml")
            accepted += 1
        except NetspecError:
            pass

    count()
    assert accepted >= 35


def test_reserved_words_list_is_not_python_keywords_only() -> None:
    from netspec.source.ns import KEYWORDS

    assert {"for", "if", "else", "in", "as"} <= KEYWORDS
    assert not ({"layers", "params", "block"} & set(keyword.kwlist))
    assert {"layers", "params", "block"} <= KEYWORDS
