"""Loading specs (netspec.spec.load): reading, resolving, extends, error translation, binding.

The catalogue of bad specs in tests/test_cli.py checks the CLI's report for the common
mistakes; these tests go into the loader itself: each error path's message, hint, key path
and line:col, how ``extends`` chains are found and merged, and what binding attaches to the
models.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import netspec
from netspec.errors import NetspecError, SourceError, SpecError
from netspec.expr import nodes as n
from netspec.expr.evaluate import Scope, evaluate
from netspec.expr.render import render
from netspec.spec import models as m
from netspec.spec.load import (
    FLOW_LIST_HINT,
    MAX_EXTENDS,
    bundled_dir,
    bundled_names,
    display_name,
    load_spec,
    load_text,
    read_file,
    read_text,
    resolve,
)
from netspec.spec.params import declared

HEAD = "netspec: 1\nname: t\ninput: [3, 8, 8]\n"
SPEC_KEYS = (
    "blocks, class_name, description, extends, input, input_dtype, layers, let, name, netspec, "
    "params, tensors"
)
BLOCK_KEYS = (
    "body, branches, doc, expansion, first_only, inputs, let, merge, params, residual, shortcut, "
    "split, …"
)


def error_of(text: str, name: str = "x.yaml") -> NetspecError:
    with pytest.raises(NetspecError) as info:
        load_text(text, name)
    return info.value


def at(error: NetspecError) -> tuple[int, int]:
    assert error.span is not None, error.headline()
    return error.span.line, error.span.col


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def file_error(path: Path) -> NetspecError:
    with pytest.raises(NetspecError) as info:
        load_spec(path)
    return info.value


# ---------------------------------------------------------------------------------------------
# the document itself


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("hello\n", "the text 'hello'"),
        ("42\n", "42"),
        ("true\n", "true"),
        ("- a\n- b\n", "a list"),
        ("[netspec, 1]\n", "a list"),
    ],
)
def test_a_spec_is_a_mapping(text: str, found: str) -> None:
    error = error_of(text)
    assert isinstance(error, SpecError)
    assert error.message == (
        f"a spec is a mapping of keys (netspec, name, input, layers, …), found {found}"
    )
    assert error.where == "document" and at(error) == (1, 1)


@pytest.mark.parametrize(
    ("text", "key", "hint", "pos"),
    [
        (
            "name: t\ninput: [1]\nlayers: [relu]\n",
            "netspec",
            "start the file with `netspec: 1` (the language version)",
            (1, 1),
        ),
        ("netspec: 1\ninput: [1]\nlayers: [relu]\n", "name", "add `name: my_model`", (1, 1)),
        (
            "netspec: 1\nname: t\nlayers: [relu]\n",
            "input",
            "add `input: [3, 224, 224]`, or `extends:` a spec that has it",
            (2, 1),  # the document's own span: it starts after the comment
        ),
        (
            "netspec: 1\nname: t\ninput: [1]\n",
            "layers",
            "add `layers: [...]`, or `extends:` a spec that has it",
            (2, 1),
        ),
    ],
)
def test_missing_required_keys(text: str, key: str, hint: str, pos: tuple[int, int]) -> None:
    error = error_of("# a comment first\n" + text)
    assert error.message == f"missing key {key!r}"
    assert error.where == "document" and at(error) == pos
    assert error.hint is not None and error.hint.startswith(hint)


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(HEAD.encode() + b"# caf\xe9\nlayers: [relu]\n")
    error = file_error(path)
    assert isinstance(error, SourceError)
    assert error.message == f"the file is not UTF-8 text (byte {len(HEAD) + 5})"
    assert error.where == "document" and at(error) == (1, 1)


def test_reading_a_folder_is_an_error_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(NetspecError) as info:
        read_file(tmp_path)
    assert info.value.message.startswith(f"cannot read {display_name(tmp_path)}: ")
    assert info.value.span is None


def test_display_name_is_relative_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "sub/s.yaml", HEAD + "layrs: [relu]\n")
    monkeypatch.chdir(tmp_path)
    assert display_name(path) == os.path.join("sub", "s.yaml")
    assert file_error(path).headline().startswith("sub/s.yaml:4:1: layrs: unknown key 'layrs'")
    monkeypatch.chdir(tmp_path / "sub")
    assert display_name(tmp_path / "elsewhere.yaml") == str(tmp_path / "elsewhere.yaml")


def test_read_text_keeps_tree_path_and_source() -> None:
    loaded = read_text(HEAD + "layers: [relu]\n", "mem.yaml")
    assert loaded.path is None
    assert loaded.spec.span is not None and loaded.spec.span.file == "mem.yaml"
    assert loaded.tree.span.source.text.startswith("netspec: 1")


# ---------------------------------------------------------------------------------------------
# validation errors, translated to positions


@pytest.mark.parametrize(
    ("body", "pos", "where", "key", "hint"),
    [
        ("nmae: t\n", (4, 1), "nmae", "nmae", f"did you mean 'name'? valid keys here: {SPEC_KEYS}"),
        ("Layers: [relu]\n", (4, 1), "Layers", "Layers", "did you mean 'layers'?"),
        ("depth: 3\n", (4, 1), "depth", "depth", f"valid keys here: {SPEC_KEYS}; parameters"),
        (
            "layers:\n  - s:\n      - for: i in [1]\n        doo: [relu]\n",
            (7, 9),
            "s.0",
            "doo",
            "did you mean 'do'? valid keys here: do, for",
        ),
        (
            "layers:\n  - s:\n      - repeat: 2\n        As: i\n        do: [relu]\n",
            (7, 9),
            "s.0",
            "As",
            "did you mean 'as'? valid keys here: as, do, repeat",
        ),
        (
            "layers:\n  - s:\n      - if: true\n        thn: [relu]\n        els: [relu]\n",
            (7, 9),
            "s.0",
            "thn",
            "did you mean 'then'? valid keys here: else, if, then",
        ),
    ],
)
def test_unknown_keys(body: str, pos: tuple[int, int], where: str, key: str, hint: str) -> None:
    error = error_of(HEAD + body + ("" if "layers" in body else "layers: [relu]\n"))
    assert isinstance(error, SpecError)
    assert error.message == f"unknown key {key!r}"
    assert at(error) == pos and error.where == where
    assert error.hint is not None and error.hint.startswith(hint), error.hint


def test_params_pointer_only_at_the_top_level() -> None:
    top = error_of(HEAD + "num_classes: 10\nlayers: [relu]\n")
    assert top.hint is not None and top.hint.endswith("; parameters go under `params:`")
    nested = error_of(
        HEAD + "layers:\n  - s:\n      - for: i in [1]\n        num: 1\n        do: []\n"
    )
    assert nested.hint == "valid keys here: do, for"


def test_a_misspelt_key_is_not_also_reported_missing() -> None:
    error = error_of(HEAD + "layers:\n  - s:\n      - if: true\n        thne: [relu]\n")
    assert error.message == "unknown key 'thne'" and at(error) == (7, 9)
    assert error.hint is not None and error.hint.startswith("did you mean 'then'?")


@pytest.mark.parametrize(
    ("body", "key", "pos"),
    [
        ("layers:\n  - s:\n      - if: true\n        then_: [relu]\n", "then_", (7, 9)),
        ("class_name_: X\nlayers: [relu]\n", "class_name_", (4, 1)),
        (
            "layers:\n  - s:\n      - for: i in [1]\n        for_: j in [2]\n        do: []\n",
            "for_",
            (7, 9),
        ),
    ],
)
def test_keys_ending_in_an_underscore_are_reported_as_written(
    body: str, key: str, pos: tuple[int, int]
) -> None:
    # BUG: the locator strips a trailing `_` (for python-safe field names), so `then_` is
    # reported as "unknown key 'then'" with the hint "did you mean 'then'?", `class_name_` at
    # its value's position, and `for_` at the position of the real `for` key.
    error = error_of(HEAD + body)
    assert error.message == f"unknown key {key!r}"
    assert at(error) == pos


@pytest.mark.parametrize(
    "body",
    [
        "  - s:\n      - if: false\n        then: [relu]\n        else_: [tanh]\n",
        "  - s:\n      - repeat: 2\n        as_: k\n        do: [relu]\n",
    ],
)
def test_python_field_names_are_not_spec_keys(body: str) -> None:
    # BUG: pydantic's populate_by_name makes `else_` and `as_` synonyms of `else` and `as`.
    # The binder matches keys by alias only, so the `else_` layers are never bound and
    # `check()` fails with an internal RuntimeError ("layer 'tanh' was never bound").
    error = error_of(HEAD + "layers:\n" + body)
    assert error.message.startswith("unknown key '")


@pytest.mark.parametrize(
    ("body", "pos", "where", "key"),
    [
        ("layers:\n  - s:\n      - repeat: 2\n", (6, 9), "s", "do"),
        ("layers:\n  - s:\n      - for: i in [1]\n", (6, 9), "s", "do"),
        ("layers:\n  - s:\n      - if: true\n        else: [relu]\n", (6, 9), "s.0", "then"),
    ],
)
def test_missing_keys_in_control_blocks(
    body: str, pos: tuple[int, int], where: str, key: str
) -> None:
    error = error_of(HEAD + body)
    assert error.message == f"missing key {key!r}" and at(error) == pos and error.where == where


def test_the_earliest_of_several_errors_is_reported() -> None:
    first = error_of(HEAD + "nme: x\nlaers: [relu]\n")
    assert first.message == "unknown key 'nme'" and at(first) == (4, 1)
    first = error_of(HEAD + "laers: [relu]\nnme: x\n")
    assert first.message == "unknown key 'laers'" and at(first) == (4, 1)
    deep = error_of(HEAD + "description: [x]\nlayers:\n  - 3\n")
    assert deep.message == "expected text, found a list" and at(deep) == (4, 14)


@pytest.mark.parametrize(
    ("text", "pos", "where", "message"),
    [
        (
            "netspec: 1\nname: 3\ninput: [1]\nlayers: [relu]\n",
            (2, 7),
            "name",
            "expected text, found 3",
        ),
        (
            HEAD + "description: {a: 1}\nlayers: [relu]\n",
            (4, 14),
            "description",
            "expected text, found a mapping",
        ),
        (
            HEAD + "params: [a]\nlayers: [relu]\n",
            (4, 9),
            "params",
            "expected a mapping, found a list",
        ),
        (HEAD + "let: 3\nlayers: [relu]\n", (4, 6), "let", "expected a mapping, found 3"),
        (
            HEAD + "blocks:\n  B: relu\nlayers: [relu]\n",
            (5, 6),
            "blocks.B",
            "expected a mapping, found the text 'relu'",
        ),
        (HEAD + "extends: [a]\n", (4, 10), "extends", "expected text, found a list"),
        (HEAD + "layers: {a: relu}\n", (4, 9), "layers", "expected a list, found a mapping"),
        (
            HEAD + "blocks:\n  B:\n    first_only: stride\n    body: [relu]\nlayers: [relu]\n",
            (6, 17),
            "blocks.B.first_only",
            "expected a list, found the text 'stride'",
        ),
        (
            HEAD + "blocks:\n  B:\n    body: [relu]\n    merge: max\nlayers: [relu]\n",
            (7, 12),
            "blocks.B.merge",
            "expected 'add' or 'mul' or 'concat', found the text 'max'",
        ),
        (
            HEAD + "blocks:\n  B:\n    params: [3]\n    body: [relu]\nlayers: [relu]\n",
            (6, 14),
            "blocks.B.params.0",
            "a block parameter is text: `name` or `name = default`, found 3",
        ),
        (
            HEAD + "layers:\n  - s:\n      - repeat: 2\n        as: 2x\n        do: [relu]\n",
            (7, 13),
            "s.0",
            "as must be a Python identifier (ASCII letters, digits and _), found '2x'",
        ),
        (
            "netspec: 1\nname: my-net\ninput: [1]\nlayers: [relu]\n",
            (2, 7),
            "name",
            "name must be a Python identifier (ASCII letters, digits and _), found 'my-net'",
        ),
        (
            HEAD + "class_name: My Net\nlayers: [relu]\n",
            (4, 13),
            "class_name",
            "class_name must be a Python identifier (ASCII letters, digits and _), found 'My Net'",
        ),
    ],
)
def test_wrong_types(text: str, pos: tuple[int, int], where: str, message: str) -> None:
    error = error_of(text)
    assert isinstance(error, SpecError)
    assert error.message == message and at(error) == pos and error.where == where


@pytest.mark.parametrize(("value", "shown"), [("2", "2"), ("'1'", "'1'"), ("false", "false")])
def test_unsupported_language_versions(value: str, shown: str) -> None:
    error = error_of(f"netspec: {value}\nname: t\ninput: [1]\nlayers: [relu]\n")
    assert error.message == f"unsupported language version {shown}"
    assert error.hint == "this netspec reads `netspec: 1`"
    assert at(error) == (1, 10) and error.where == "netspec"


def test_boolean_true_is_not_language_version_1() -> None:
    # BUG: pydantic's lax Literal[1] accepts `true` (True == 1), so `netspec: true` loads.
    error = error_of("netspec: true\nname: t\ninput: [1]\nlayers: [relu]\n")
    assert error.message == "unsupported language version true"


# -- layer entries


def test_bare_value_as_a_layer() -> None:
    error = error_of(HEAD + "layers:\n  - relu\n  - 3\n")
    assert error.message.startswith("expected a layer: `op(args)`, `name: op(args)`")
    assert error.message.endswith(", found 3")
    assert error.hint == "a layer is an operator call such as conv2d(64, 3), not a bare value"
    assert at(error) == (6, 5) and error.where == "1"


def test_two_layers_in_one_item() -> None:
    error = error_of(HEAD + "layers:\n  - a: relu\n    b: relu\n")
    assert error.message.endswith(", found a mapping")
    assert error.hint == "one layer per list item: start each layer with `- `"
    assert at(error) == (5, 5)


def test_flow_list_split_by_a_comma_hints_at_quoting() -> None:
    error = error_of(HEAD + "layers: [relu, 5, conv2d(8, 3)]\n")
    assert error.hint == FLOW_LIST_HINT
    assert error.message.endswith(", found 5") and at(error) == (4, 16)


def test_null_layer_value() -> None:
    error = error_of(HEAD + "layers:\n  - conv:\n")
    assert error.message == (
        "expected a layer call, a list of layers, or a for/repeat/if block, found none"
    )
    assert error.where == "conv" and at(error) == (5, 10)


def test_branch_value_that_is_not_a_layer() -> None:
    error = error_of(HEAD + "blocks:\n  B:\n    branches:\n      a: 3\nlayers: [relu]\n")
    assert error.message.endswith("found 3") and error.where == "blocks.B.branches.a"
    assert at(error) == (7, 10)


CALL_HINT = "a layer is an operator or block call such as conv2d(64, 3) or relu"


@pytest.mark.parametrize(
    ("layer", "found", "hint"),
    [
        ("1 + 2", "'1 + 2'", CALL_HINT),
        ("a.b", "'a.b'", CALL_HINT),
        ("conv2d(8, 3)(1)", "'conv2d(8, 3)(1)'", CALL_HINT),
        ("\"'relu'\"", "\"'relu'\"", "write the operator without quotes, e.g. relu"),
        ("relu if true else 3", "'3'", CALL_HINT),
        ("3 if true else relu", "'3'", CALL_HINT),
    ],
)
def test_layer_calls_must_be_calls(layer: str, found: str, hint: str) -> None:
    error = error_of(HEAD + f"layers:\n  - {layer}\n")
    assert isinstance(error, SpecError)
    assert error.message == f"expected a layer call, found {found}"
    assert error.hint == hint
    assert error.span is not None and error.span.line == 5


def test_layer_form_error_points_at_the_bad_branch() -> None:
    error = error_of(HEAD + "layers:\n  - relu if true else 3\n")
    assert at(error) == (5, 23)  # the `3`
    error = error_of(HEAD + "layers:\n  - 'relu if true else 3'\n")
    assert at(error) == (5, 24)  # one to the right: the opening quote


def test_unclosed_call_in_a_flow_list_gets_the_quoting_hint() -> None:
    error = error_of(HEAD + "layers: [conv2d(8, 3), relu]\n")
    assert isinstance(error, SourceError)
    assert error.hint == FLOW_LIST_HINT
    quoted = error_of(HEAD + "layers: ['conv2d(8, 3', relu]\n")
    assert quoted.hint != FLOW_LIST_HINT  # a quoted call was not split by YAML
    unclosed = error_of(HEAD + "layers:\n  - fc: linear(10\n")  # a block list: no comma
    assert unclosed.hint != FLOW_LIST_HINT and "expected ')'" in unclosed.message


def test_non_text_layer_key() -> None:
    # BUG: a layer named by an integer key (`- 3: relu`) is reported against its value:
    # "expected text, found the text 'relu'", pointing at `relu`.
    error = error_of(HEAD + "layers:\n  - 3: relu\n")
    assert at(error) == (5, 5)
    assert "'relu'" not in error.message


def test_non_text_parameter_key() -> None:
    # BUG: `true: 1` under params reports "params.1: expected text, found 1" at the value;
    # the key is what is wrong.
    error = error_of(HEAD + "params:\n  true: 1\nlayers: [relu]\n")
    assert at(error) == (5, 3)
    assert "found 1" not in error.message


# -- param declarations


def test_unknown_key_in_a_param_declaration() -> None:
    # BUG: the union `value | declaration` hides the real error; the report is
    # "params.d: expected an integer, found a mapping" at the mapping.
    error = error_of(HEAD + "params:\n  d:\n    default: 1\n    dco: x\nlayers: [relu]\n")
    assert error.message == "unknown key 'dco'"
    assert at(error) == (7, 5)
    assert error.hint == "did you mean 'doc'? valid keys here: choices, default, doc, require"


def test_param_declaration_without_default() -> None:
    # BUG: reported as "expected an integer, found a mapping".
    error = error_of(HEAD + "params:\n  d:\n    doc: how deep\nlayers: [relu]\n")
    assert error.message == "missing key 'default'"


def test_param_declaration_with_a_wrong_doc_type() -> None:
    # BUG: reported as "expected an integer, found a mapping" at the mapping (6:5).
    error = error_of(HEAD + "params:\n  d:\n    default: 1\n    doc: [a]\nlayers: [relu]\n")
    assert error.message == "expected text, found a list" and at(error) == (7, 10)


def test_param_value_of_no_parameter_type() -> None:
    error = error_of(HEAD + "params:\n  d: null\nlayers: [relu]\n")
    assert error.where == "params.d" and at(error) == (5, 6)
    assert error.message.endswith("found none")
    # BUG: the message says "expected an integer", the first of the union's members; a
    # parameter may be an integer, a number, true/false, text, a list or a declaration.
    assert not error.message.startswith("expected an integer")


# -- unknown keys in blocks


def test_unknown_key_in_a_block_lists_the_block_keys() -> None:
    error = error_of(HEAD + "blocks:\n  D:\n    bdy: [relu]\nlayers: [relu]\n")
    assert error.message == "unknown key 'bdy'"
    assert at(error) == (6, 5) and error.where == "blocks.D.bdy"
    # BUG: the hint lists the top-level spec keys (no 'body' among them, so no suggestion).
    assert error.hint == f"did you mean 'body'? valid keys here: {BLOCK_KEYS}"


def test_unknown_key_in_a_shortcut_lists_the_shortcut_keys() -> None:
    error = error_of(
        HEAD + "blocks:\n  D:\n    body: [relu]\n    shortcut:\n      projct: [relu]\n"
        "layers: [relu]\n"
    )
    assert error.message == "unknown key 'projct'" and at(error) == (8, 7)
    # BUG: the hint lists the top-level spec keys.
    assert error.hint == "did you mean 'project'? valid keys here: name, project, when"


# ---------------------------------------------------------------------------------------------
# binding: spans and parsed code

BOUND = """netspec: 1
name: t
input: [3, 8, 8]
params:
  depth:
    default: 2
    doc: d
let:
  w: 'depth * 2'
blocks:
  B:
    params: [planes, stride = 1]
    body:
      - conv: conv2d(planes, 3, stride=stride)
layers:
  - stem:
      - for: i, w2 in enumerate([1, 2])
        do:
          - "b{i + 1}": B(w2)
  - c: {conv2d: {out_channels: 8, kernel_size: 1}}
  - s:
      - repeat: 2
        as: k
        do: [relu]
"""


@pytest.fixture(scope="module")
def bound() -> m.SpecFile:
    return load_text(BOUND, "b.yaml")


def test_values_are_bound_with_spans(bound: m.SpecFile) -> None:
    assert bound.input is not None and bound.input.span is not None
    assert (bound.input.span.line, bound.input.span.col) == (3, 8)
    assert evaluate(bound.input.expr, Scope()) == (3, 8, 8)
    w = bound.let["w"]
    assert w.span is not None and (w.span.line, w.span.col) == (9, 6)
    assert render(w.expr) == "depth * 2"


def test_key_spans(bound: m.SpecFile) -> None:
    spans = {k: bound.key_span(k) for k in ("layers", "params.depth", "let", "nowhere")}
    assert {k: (s.line, s.col) for k, s in spans.items() if s} == {
        "layers": (15, 1),
        "params.depth": (5, 3),
        "let": (8, 1),
        "nowhere": (1, 1),  # an absent key falls back to the spec's own span
    }
    decl = bound.params["depth"]
    assert isinstance(decl, m.ParamDecl) and decl.span is not None
    assert (decl.span.line, decl.span.col) == (5, 3) and decl.doc == "d"


def test_blocks_are_bound(bound: m.SpecFile) -> None:
    block = bound.blocks["B"]
    assert block.span is not None and (block.span.line, block.span.col) == (11, 3)
    assert [p.name for p in block.params] == ["planes", "stride"]
    assert block.params[0].node is None
    assert block.params[1].node is not None and evaluate(block.params[1].node, Scope()) == 1


def test_loops_templates_and_mapping_calls_are_bound(bound: m.SpecFile) -> None:
    assert bound.layers is not None
    stem, c, s = bound.layers
    assert isinstance(stem, m.NamedEntry) and stem.name.text == "stem"
    (loop,) = stem.value
    assert isinstance(loop, m.ForEntry) and loop.for_.names == ("i", "w2")
    assert evaluate(loop.for_.expr, Scope()) == ((0, 1), (1, 2))
    (block_call,) = loop.do
    assert isinstance(block_call, m.NamedEntry) and block_call.name.is_template
    literal, expr = block_call.name.parts
    assert literal == "b" and isinstance(expr, n.Located) and render(expr) == "i + 1"
    assert isinstance(c, m.NamedEntry) and isinstance(c.value, m.MappingCall)
    call = c.value.call
    assert call is not None and call.span is not None and (call.span.line, call.span.col) == (20, 9)
    node = n.strip(call.expr)
    assert isinstance(node, n.Call) and [k for k, _ in node.kwargs] == [
        "out_channels",
        "kernel_size",
    ]
    assert isinstance(s, m.NamedEntry)
    (rep,) = s.value
    assert isinstance(rep, m.RepeatEntry) and rep.as_ == "k"


def test_same_text_same_digest() -> None:
    a = load_text(BOUND, "one.yaml")
    b = load_text(BOUND, "two.yaml")
    c = load_text(BOUND + "# changed\n", "one.yaml")
    assert a.digest() == b.digest() != c.digest()
    assert len(a.digest()) == 12


# -- errors while binding code


@pytest.mark.parametrize(
    ("entry", "pos", "message", "hint"),
    [
        ('"b{i}}"', (8, 11), "unbalanced braces in layer name 'b{i}}'", "block{i + 1}"),
        (
            '"b.{i}"',
            (8, 11),
            "layer name template 'b.{i}' has characters a name cannot have",
            "use letters",
        ),
        ("a{}", (8, 13), "invalid name template: the expression is empty", None),
        ("b{i +}", (8, 16), "invalid name template: the text ends too early", "unclosed bracket"),
    ],
)
def test_name_template_errors(
    entry: str, pos: tuple[int, int], message: str, hint: str | None
) -> None:
    text = (
        HEAD + f"layers:\n  - s:\n      - for: i in [1]\n        do:\n          - {entry}: relu\n"
    )
    text = text.replace("          - ", "        - ")
    error = error_of(text)
    assert error.message.startswith(message) and at(error) == pos
    assert (error.hint is None) if hint is None else (error.hint and hint in error.hint)


def test_quoted_name_template_positions_its_expression() -> None:
    plain = error_of(
        HEAD + "layers:\n  - s:\n      - for: i in [1]\n        do:\n        - b{i +}: relu\n"
    )
    quoted = error_of(
        HEAD + 'layers:\n  - s:\n      - for: i in [1]\n        do:\n        - "b{i +}": relu\n'
    )
    assert at(plain) == (8, 16)
    # BUG: the template's origin ignores the opening quote, so every position in a quoted
    # template is one column to the left (8:16, not 8:17).
    assert at(quoted) == (8, 17)


def test_loop_header_must_be_text() -> None:
    for header in ("3", "[1, 2]"):
        error = error_of(HEAD + f"layers:\n  - s:\n      - for: {header}\n        do: [relu]\n")
        assert error.message == "a loop is written `for: name in list`"
        assert error.where == "for" and at(error) == (6, 14)


def test_syntax_error_in_a_layer_call_keeps_its_path() -> None:
    error = error_of(HEAD + "layers:\n  - s:\n      - repeat: 2 +\n        do: [relu]\n")
    assert error.where == "s.0" and at(error) == (6, 20)
    assert error.message.startswith("invalid expression: the text ends too early")


@pytest.mark.parametrize(
    ("body", "pos", "where"),
    [
        ("let:\n  w: 3 +\nlayers: [relu]\n", (5, 9), "let.w"),
        ("layers:\n  - c: {conv2d: {out_channels: '8 +', kernel_size: 3}}\n", (5, 36), "c"),
    ],
)
def test_syntax_errors_outside_layers_have_a_path(
    body: str, pos: tuple[int, int], where: str
) -> None:
    error = error_of(HEAD + body)
    assert isinstance(error, SourceError) and at(error) == pos
    assert error.message.startswith("invalid expression: the text ends too early")
    # BUG: parse errors in `let` values and mapping-call attributes carry no key path
    # (where is None), unlike errors when the same value is evaluated (`let.w`).
    assert error.where == where


def test_syntax_error_in_input_has_a_path() -> None:
    error = error_of("netspec: 1\nname: t\ninput: '[3,'\nlayers: [relu]\n")
    assert at(error) == (3, 12)
    # BUG: where is None; every other key-level error names its key.
    assert error.where == "input"


# ---------------------------------------------------------------------------------------------
# resolving spec references


def test_bundled_names() -> None:
    names = bundled_names()
    assert names == sorted(names)
    assert {"vgg16", "lenet5", "examples/inception_block"} <= set(names)
    assert not any(Path(name).name.startswith("_") for name in names)


@pytest.mark.parametrize(
    ("ref", "rel"),
    [
        ("vgg16", "vgg16.yaml"),
        ("vgg16.yaml", "vgg16.yaml"),
        ("examples/inception_block", "examples/inception_block.yaml"),
    ],
)
def test_resolve_bundled(
    ref: str, rel: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve(ref) == bundled_dir() / rel


def test_local_files_come_before_bundled_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = write(tmp_path, "vgg16.yaml", HEAD + "layers: [relu]\n")
    monkeypatch.chdir(tmp_path)
    assert resolve("vgg16") == Path("vgg16.yaml")
    assert resolve("vgg16", tmp_path / "other") == Path("vgg16.yaml")
    assert resolve("vgg16", tmp_path) == local


def test_relative_to_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    near = write(tmp_path, "a/base.yaml", HEAD)
    write(tmp_path, "base.yaml", HEAD)
    monkeypatch.chdir(tmp_path)
    assert resolve("base", tmp_path / "a") == near
    assert resolve("base") == Path("base.yaml")


def test_explicit_yml_extension(tmp_path: Path) -> None:
    path = write(tmp_path, "net.yml", HEAD)
    assert resolve("net.yml", tmp_path) == path


def test_resolve_unknown_suggests_a_bundled_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NetspecError) as info:
        resolve("resnet5O")
    assert info.value.message == "no spec file 'resnet5O' and no bundled spec by that name"
    assert info.value.hint is not None and info.value.hint.startswith(
        "did you mean 'resnet50'? bundled specs: alexnet, "
    )
    with pytest.raises(NetspecError) as info:
        resolve("zzzz")
    assert info.value.hint is not None and info.value.hint.startswith("bundled specs: alexnet")


def test_resolve_a_folder(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    with pytest.raises(NetspecError) as info:
        resolve("specs", tmp_path)
    assert info.value.message == "specs is a folder, not a spec file"


def test_absolute_paths_never_fall_back_to_bundled_specs(tmp_path: Path) -> None:
    with pytest.raises(NetspecError, match="no spec file"):
        resolve(str(tmp_path / "vgg16"))


# ---------------------------------------------------------------------------------------------
# extends

BASE = """netspec: 1
name: base
class_name: BaseNet
description: the base
input: [4]
params:
  depth:
    default: 2
    choices: [1, 2, 3]
    doc: how deep
  width: 8
let:
  a: 1
  b: 2
blocks:
  B:
    body: [relu]
  C:
    body: [identity]
layers:
  - fc: linear(width)
"""


def test_extends_merges_key_by_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "base.yaml", BASE)
    child = write(
        tmp_path,
        "sub/child.yaml",
        "netspec: 1\nname: child\nextends: ../base.yaml\nparams:\n  depth: 3\n  width: 16\n"
        "  extra: true\nlet:\n  b: 5\n  c: 6\nblocks:\n  C:\n    body: [relu, relu]\n"
        "  D:\n    body: [relu]\n",
    )
    monkeypatch.chdir(tmp_path / "sub")  # relative to the file, not the working directory
    spec = load_spec(child)
    assert spec.extends is None
    assert (spec.name, spec.class_name, spec.description) == ("child", "BaseNet", "the base")
    assert list(spec.params) == ["depth", "width", "extra"]
    depth = spec.params["depth"]
    assert isinstance(depth, m.ParamDecl)
    assert (depth.default, depth.choices, depth.doc) == (3, [1, 2, 3], "how deep")
    assert {k: v.raw for k, v in spec.let.items()} == {"a": 1, "b": 5, "c": 6}
    assert list(spec.blocks) == ["B", "C", "D"]
    assert len(spec.blocks["C"].body) == 2  # the child's C replaces the base's
    assert spec.layers is not None and len(spec.layers) == 1
    assert spec.span is not None and spec.span.file.endswith("child.yaml")
    values = declared(spec)
    assert {k: p.default for k, p in values.items()} == {"depth": 3, "width": 16, "extra": True}
    assert values["depth"].span is not None and values["depth"].span.file.endswith("child.yaml")
    assert (values["depth"].span.line, values["depth"].span.col) == (5, 3)


def test_the_base_default_span_stays_in_the_base(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", "netspec: 1\nname: child\nextends: base\n")
    span = declared(load_spec(child))["depth"].span
    assert span is not None and span.file.endswith("base.yaml") and (span.line, span.col) == (7, 3)


def test_child_keys_replace_the_base_keys(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", BASE)
    child = write(
        tmp_path,
        "child.yaml",
        "netspec: 1\nname: child\nextends: base\ninput: [6]\nlayers:\n  - a: linear(2)\n  - relu\n",
    )
    spec = load_spec(child)
    assert spec.input is not None and spec.input.raw == [6]
    assert spec.layers is not None and len(spec.layers) == 2


def test_override_outside_the_base_choices_is_reported_in_the_child(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", BASE)
    child = write(
        tmp_path, "child.yaml", "netspec: 1\nname: child\nextends: base\nparams:\n  depth: 7\n"
    )
    with pytest.raises(SpecError) as info:
        declared(load_spec(child))
    error = info.value
    assert error.message == "the default 7 of 'depth' is not one of its choices 1, 2, 3"
    assert error.span is not None and error.span.file.endswith("child.yaml")
    assert at(error) == (5, 3) and error.where == "params.depth"


def test_extends_through_the_api_with_overrides(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", BASE)
    child = write(
        tmp_path, "child.yaml", "netspec: 1\nname: child\nextends: base\nparams:\n  width: 4\n"
    )
    spec = netspec.load(child, depth=1)
    assert spec.params == {"depth": 1, "width": 4}
    assert spec.summary()["output"] == [4]
    with pytest.raises(NetspecError, match="depth must be one of 1, 2, 3, found 5"):
        netspec.load(child, depth=5)


def test_extends_a_bundled_spec_by_name(tmp_path: Path) -> None:
    child = write(
        tmp_path,
        "mine.yaml",
        "netspec: 1\nname: mine\nextends: vgg11\nparams:\n  num_classes: 10\n",
    )
    spec = load_spec(child)
    params = declared(spec)
    assert params["num_classes"].default == 10 and params["depth"].default == 11
    assert spec.class_name == "VGG11"  # not given here, so the base's


def test_a_local_file_shadows_a_bundled_name(tmp_path: Path) -> None:
    write(tmp_path, "vgg11.yaml", "netspec: 1\nname: local\ninput: [2]\nlayers: [relu]\n")
    child = write(tmp_path, "mine.yaml", "netspec: 1\nname: mine\nextends: vgg11\n")
    spec = load_spec(child)
    assert spec.input is not None and spec.input.raw == [2]


def test_each_level_resolves_relative_to_its_own_file(tmp_path: Path) -> None:
    write(tmp_path, "a/b/root.yaml", "netspec: 1\nname: root\ninput: [5]\nlayers: [relu]\n")
    write(tmp_path, "a/mid.yaml", "netspec: 1\nname: mid\nextends: b/root.yaml\nparams:\n  p: 1\n")
    leaf = write(tmp_path, "c/leaf.yaml", "netspec: 1\nname: leaf\nextends: ../a/mid\n")
    spec = load_spec(leaf)
    assert spec.name == "leaf" and spec.input is not None and spec.input.raw == [5]
    assert list(spec.params) == ["p"]
    assert len(spec._sources) == 3


def test_digest_covers_the_whole_chain(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", "netspec: 1\nname: child\nextends: base\n")
    before = load_spec(child).digest()
    base.write_text(BASE.replace("width: 8", "width: 9"))
    assert load_spec(child).digest() != before


def test_required_keys_missing_from_the_whole_chain(tmp_path: Path) -> None:
    write(tmp_path, "half.yaml", "netspec: 1\nname: half\ninput: [1]\n")
    child = write(tmp_path, "child.yaml", "netspec: 1\nname: c\nextends: half\n")
    error = file_error(child)
    assert error.message == "missing key 'layers'" and at(error) == (1, 1)
    assert error.hint == "add `layers: [...]`, or `extends:` a spec that has it"


def test_a_base_without_layers_can_be_completed_by_the_child(tmp_path: Path) -> None:
    # BUG: `input` and `layers` are required of the root of the chain, not of the merged
    # spec: a base holding only params and blocks cannot be extended, even by a child that
    # gives the layers ("half.yaml:1:1: document: missing key 'layers'").
    write(tmp_path, "half.yaml", "netspec: 1\nname: half\ninput: [1]\n")
    full = write(tmp_path, "full.yaml", "netspec: 1\nname: c\nextends: half\nlayers: [relu]\n")
    assert load_spec(full).layers == [m.LayerRef("relu")]


def test_every_file_of_a_chain_needs_netspec_and_name(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", "netspec: 1\nextends: base\n")
    error = file_error(child)
    assert error.message == "missing key 'name'"
    assert error.span is not None and error.span.file.endswith("child.yaml")


def test_an_error_in_the_base_is_reported_in_the_base(tmp_path: Path) -> None:
    write(tmp_path, "bad.yaml", "netspec: 1\nname: b\ninput: [1]\nlayrs: [relu]\n")
    child = write(tmp_path, "child.yaml", "netspec: 1\nname: c\nextends: bad\n")
    error = file_error(child)
    assert error.message == "unknown key 'layrs'" and at(error) == (4, 1)
    assert error.span is not None and error.span.file.endswith("bad.yaml")
    assert error.hint is not None and error.hint.startswith("did you mean 'layers'?")


def test_extends_a_missing_file(tmp_path: Path) -> None:
    child = write(tmp_path, "child.yaml", "netspec: 1\nname: c\nextends: vgg17.yaml\n")
    error = file_error(child)
    assert isinstance(error, SpecError)
    assert error.message == "no spec file 'vgg17.yaml' and no bundled spec by that name"
    assert error.where == "extends" and at(error) == (3, 1)
    assert error.hint is not None and error.hint.startswith("did you mean 'vgg1")


def test_extends_a_folder(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    child = write(tmp_path, "child.yaml", "netspec: 1\nname: c\nextends: base\n")
    error = file_error(child)
    assert error.message == "base is a folder, not a spec file" and error.where == "extends"


def test_extends_itself(tmp_path: Path) -> None:
    path = write(tmp_path, "me.yaml", "netspec: 1\nname: me\nextends: me.yaml\n")
    error = file_error(path)
    assert error.message == "extends forms a cycle: me.yaml → me.yaml"
    assert error.where == "extends" and at(error) == (3, 1)


def test_extends_cycle_is_reported_where_it_closes(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "netspec: 1\nname: a\nextends: b\n")
    write(tmp_path, "sub/b.yaml", "netspec: 1\nname: b\nextends: ../c.yaml\n")
    write(tmp_path, "b.yaml", "netspec: 1\nname: b\nextends: sub/b\n")
    write(tmp_path, "c.yaml", "netspec: 1\nname: c\n# a comment\nextends: a\n")
    error = file_error(a)
    assert error.message == "extends forms a cycle: a.yaml → b.yaml → b.yaml → c.yaml → a.yaml"
    assert error.span is not None and error.span.file.endswith("c.yaml")
    assert at(error) == (4, 1)


def test_extends_depth_limit(tmp_path: Path) -> None:
    last = MAX_EXTENDS + 2
    for i in range(last + 1):
        tail = f"extends: l{i + 1}\n" if i < last else "input: [1]\nlayers: [relu]\n"
        write(tmp_path, f"l{i}.yaml", f"netspec: 1\nname: l{i}\n" + tail)
    ok = load_spec(tmp_path / f"l{last - MAX_EXTENDS}.yaml")  # exactly MAX_EXTENDS levels
    assert ok.name == f"l{last - MAX_EXTENDS}" and len(ok._sources) == MAX_EXTENDS + 1
    error = file_error(tmp_path / f"l{last - MAX_EXTENDS - 1}.yaml")
    assert error.message == f"more than {MAX_EXTENDS} levels of extends"
    assert error.where == "extends" and at(error) == (3, 1)


def test_load_text_extends_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "base.yaml", BASE)
    monkeypatch.chdir(tmp_path)
    spec = load_text("netspec: 1\nname: t\nextends: base\n", "mem.yaml")
    assert spec.input is not None and spec.input.raw == [4]
    monkeypatch.chdir(tmp_path.parent)
    error = error_of("netspec: 1\nname: t\nextends: base\n", "mem.yaml")
    assert error.where == "extends" and error.span is not None and error.span.file == "mem.yaml"


def test_load_spec_by_reference_string(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "net.yaml", "netspec: 1\nname: net\ninput: [1]\nlayers: [relu]\n")
    monkeypatch.chdir(tmp_path)
    assert load_spec("net").name == "net"
    assert load_spec("vgg16").name == "vgg16"
    with pytest.raises(NetspecError) as info:
        load_spec("lenet")
    assert info.value.hint is not None and info.value.hint.startswith("did you mean 'lenet5'?")
