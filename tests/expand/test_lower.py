"""What lowering decides from the text, for every value of the params: here, which layers
need a name (``check_names``). A layer the values do not take (under a condition false at the
defaults, in a loop that runs no times) is held to the rule too: the generated class builds it
at other values, where ``check`` refused it and the class was wrong (``x = B(3)`` in forward,
an unnamed module appended to a list of named ones)."""

from __future__ import annotations

import re

import pytest

import netspec
from netspec.errors import SpecError
from tests.conftest import spec_text

BLOCK = "blocks:\n  B:\n    body:\n      - conv2d(3, 1)\nparams:\n  flag: false"


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (
            ["- s:", "    - a: relu", "    - if: flag", "      then:", "        - conv2d(3, 1)"],
            "this conv2d has no name, but other layers in s have names",
        ),
        (
            ["- a: relu", "- s:", "    - b: relu", "    - repeat: 0", "      do: [tanh]"],
            "this tanh has no name, but other layers in s have names",
        ),
        (["- a: relu", "- if: flag", "  then:", "    - B()"], "this block needs a name"),
        (["- a: relu", "- repeat: 0", "  do:", "    - B()"], "this block needs a name"),
        (["- a: relu", "- B() if flag else relu"], "this block needs a name"),
        (
            ["- a: relu", "- if: flag", "  then:", "    - stage(B, depth=2)"],
            "this stage needs a name",
        ),
    ],
    ids=["nested-if", "nested-loop", "class-if", "class-loop", "class-choice", "stage"],
)
def test_a_layer_the_values_do_not_take_is_named_as_the_text_says(
    layers: list[str], message: str
) -> None:
    """Refused when the spec is read, at every value, with the layer's position."""
    text = spec_text(layers, (3, 8, 8)).replace("layers:\n", f"{BLOCK}\nlayers:\n")
    with pytest.raises(SpecError, match=message) as caught:
        netspec.loads(text)
    assert caught.value.span is not None and caught.value.span.line > 3


def test_a_block_body_is_held_to_the_rule_where_its_condition_is_false() -> None:
    text = (
        "netspec: 1\nname: t\ninput: [3, 8, 8]\nparams:\n  flag: false\nblocks:\n  C:\n"
        "    body:\n      - conv2d(3, 1)\n  B:\n    body:\n      - a: relu\n      - if: flag\n"
        "        then:\n          - C()\nlayers:\n  - b: B()\n"
    )
    with pytest.raises(SpecError, match="this block needs a name") as caught:
        netspec.loads(text)
    assert caught.value.where == "blocks.B"


@pytest.mark.parametrize(
    "layers",
    [
        ["- a: relu", "- if: flag", "  then:", "    - relu"],  # a call in forward
        ["- s:", "    - if: flag", "      then:", "        - B()", "    - relu"],  # numbered
        ["- if: flag", "  then:", "    - B()"],  # an nn.Sequential: numbered
    ],
)
def test_where_a_layer_may_be_unnamed_it_still_may(layers: list[str]) -> None:
    text = spec_text(layers, (3, 8, 8)).replace("layers:\n", f"{BLOCK}\nlayers:\n")
    for flag in (False, True):
        netspec.loads(text, flag=flag).check()
    assert netspec.loads(text).source()


@pytest.mark.parametrize(
    ("layers", "name"),
    [
        (["- a: relu if flag else gelux"], "gelux"),  # a choice's arm not taken
        (["- if: flag", "  then:", "    - bn: batchnorm"], "batchnorm"),  # a branch
        (["- repeat: 0", "  do:", "    - tanhh"], "tanhh"),  # a loop that never runs
        (["- s:", "    - relu", "    - sigmoid if flag else swish"], "swish"),
    ],
    ids=["choice", "if", "loop", "sequence"],
)
def test_a_misspelt_operator_is_refused_wherever_it_is_written(
    layers: list[str], name: str
) -> None:
    """An unknown name is an error of the text: check passed where the values did not reach
    it, and build and codegen refused it (or the class raised at other values)."""
    text = spec_text(layers, (3, 8, 8)).replace("layers:\n", f"{BLOCK}\nlayers:\n")
    with pytest.raises(SpecError, match=f"unknown operator '{name}'") as caught:
        netspec.loads(text)
    span = caught.value.span
    assert span is not None
    assert text.splitlines()[span.line - 1][span.col - 1 :].startswith(name)  # at the name


def test_a_misspelt_operator_in_a_block_is_refused_where_no_call_reaches_it() -> None:
    text = (
        "netspec: 1\nname: t\ninput: [3, 8, 8]\nparams:\n  flag: false\nblocks:\n  B:\n"
        "    body:\n      - relu if flag else gelux\n  Unused:\n    body:\n      - conv2e(3, 1)\n"
        "layers:\n  - b: B()\n"
    )
    with pytest.raises(SpecError, match="unknown operator 'gelux'") as caught:
        netspec.loads(text)
    assert caught.value.where == "blocks.B.0"


@pytest.mark.parametrize(
    ("layers", "at", "message"),
    [
        (["- conv2d(3 if flag else nosuch, 1)"], "nosuch", "undefined name 'nosuch'"),
        (["- conv2d(3 if not flag or nosuch else 4, 1)"], "nosuch", "undefined name 'nosuch'"),
        (["- conv2d(max([nosuch for i in range(0)] + [3]), 1)"], "nosuch", "undefined"),
        (["- if: flag", "  then:", "    - conv2d(wdth, 1)"], "wdth", "undefined name 'wdth'"),
        (["- repeat: 0", "  do:", "    - conv2d(j, 1)"], "j", "undefined name 'j'"),
        (["- conv2d(in.channels if flag else 3, 1)"], "in.", "`in` (the input shape) is only"),
        (["- b{nosuch}: relu if flag else tanh"], "nosuch", "undefined name 'nosuch'"),
    ],
    ids=["arm", "or", "comprehension", "branch", "loop", "in", "template"],
)
def test_a_name_the_spec_never_gives_is_refused_wherever_it_is_written(
    layers: list[str], at: str, message: str
) -> None:
    """Check passed where the values did not reach it; build refused it, or wrote Python that
    did not run (``in.channels`` at the model's level: an internal error)."""
    _refused_at(
        spec_text(layers, (3, 8, 8)).replace("layers:\n", f"{BLOCK}\nlayers:\n"), message, at
    )


TWO_BLOCKS = """netspec: 1
name: t
input: [3, 8, 8]
params:
  width: 8
blocks:
  A:
    params: [channels]
    body:
      - conv2d(channels, 1)
  B:
    params: [planes]
    body:
      - conv2d(CODE, 1)
layers:
  - a: A(width)
  - b: B(LAYER)
"""


@pytest.mark.parametrize(
    ("code", "layer", "hint"),
    [
        ("planse", "width", "did you mean 'planes'?"),  # the block's own
        ("widht", "width", "did you mean 'width'?"),  # the spec's
        (
            "channel",
            "width",
            "'channels' is a name of block A, which block B cannot read (its own: planes)",
        ),
        ("planes", "channel", "'channels' is a name of block A, which the model's layers"),
    ],
    ids=["own", "spec", "other-block", "model"],
)
def test_a_misspelt_name_is_told_what_may_be_read_there(code: str, layer: str, hint: str) -> None:
    """The guess is a name visible where the typo is written; a name only another block
    gives is named as that block's, not suggested as if it could be read."""
    with pytest.raises(SpecError) as caught:
        netspec.loads(TWO_BLOCKS.replace("CODE", code).replace("LAYER", layer))
    assert caught.value.hint is not None and hint in caught.value.hint


@pytest.mark.parametrize(
    "layers",
    [
        ["- conv2d(3 if flag else width, 1)"],  # a param
        ["- for: w in [3, 4]", "  do:", "    - conv2d(w if flag else 3, 1)"],  # a loop's
        ["- conv2d(max([i for i in range(3)]), 1)"],  # a comprehension's own
        ["- s: stage(C, depth=1, c=3 if flag else width)"],  # a block's parameter
        ["- conv2d(3, 1)", "- conv2d(len(ks), 1)"],  # a let
    ],
)
def test_names_the_spec_gives_are_read_wherever_they_are(layers: list[str]) -> None:
    extra = "blocks:\n  C:\n    params: [c]\n    body:\n      - conv2d(c, 1)\n"
    head = "params:\n  flag: false\n  width: 3\nlet:\n  ks: [1, 2]\n"
    text = spec_text(layers, (3, 8, 8)).replace("layers:\n", f"{head}{extra}layers:\n")
    netspec.loads(text).check()


@pytest.mark.parametrize(
    ("layers", "at", "message"),
    [
        (["- if: flag", "  then:", "    - conv2d(3, 1, paddin=1)"], "paddin", "no attribute"),
        (["- a: relu if flag else maxpool2d(2, foo=2)"], "foo", "maxpool2d has no attribute"),
        (["- if: flag", "  then:", "    - b: C(3, kk=1)"], "kk", "C has no parameter 'kk'"),
        (["- if: flag", "  then:", "    - s: stage(C, depth=2, c=3, stride=2)"], "stride", "C"),
        (["- if: flag", "  then:", "    - relu(true, 1)"], "1", "relu takes at most 1 position"),
    ],
    ids=["keyword", "choice", "block", "stage", "positional"],
)
def test_an_argument_a_callee_does_not_take_is_refused_wherever_it_is_written(
    layers: list[str], at: str, message: str
) -> None:
    """The generated class built ``nn.Conv2d(3, 3, 1)`` at ``flag=True``, the misspelt
    ``padding`` dropped, where check refused it."""
    extra = (
        "params:\n  flag: false\nblocks:\n  C:\n    params: [c]\n    body:\n      - conv2d(c, 1)\n"
    )
    _refused_at(spec_text(layers, (3, 8, 8)).replace("layers:\n", f"{extra}layers:\n"), message, at)


def _refused_at(text: str, message: str, at: str) -> None:
    """Reading ``text`` is refused with ``message``, positioned where ``at`` is written."""
    with pytest.raises(SpecError, match=re.escape(message)) as caught:
        netspec.loads(text)
    span = caught.value.span
    assert span is not None
    assert text.splitlines()[span.line - 1][span.col - 1 :].startswith(at)


INPUTS_BLOCK = (
    "params:\n  flag: false\nblocks:\n  H:\n    params: [c]\n    inputs: [lo, hi]\n    body:\n"
    "      - p: conv2d(c, 1)\n        from: hi\n      - y: add\n        from: [p, lo]\n"
)


@pytest.mark.parametrize(
    ("entry", "at", "message"),
    [
        ("h: H(nosuch)", "nosuch", "undefined name 'nosuch'"),
        ("h: H(4, kk=2)", "kk", "H has no parameter 'kk'"),
        ("h: add(foo=1)", "add", "add has no option 'foo'"),
    ],
    ids=["block-name", "block-keyword", "merge-option"],
)
def test_an_entry_reading_several_tensors_is_checked_wherever_it_is_written(
    entry: str, at: str, message: str
) -> None:
    """``from: [a, b]`` passes the tensors to a block of several inputs, or merges them: the
    call's names and arguments, or the merge's options, are the text's to say."""
    layers = ["- a: conv2d(4, 1)", "- b: conv2d(4, 1)", "- if: flag", "  then:"]
    layers += [f"    - {entry}", "      from: [a, b]"]
    text = spec_text(layers, (4, 8, 8)).replace("layers:\n", f"{INPUTS_BLOCK}layers:\n")
    _refused_at(text, message, at)


def test_an_unnamed_layers_misspelt_name_is_reported_at_its_index() -> None:
    text = spec_text(["- relu", "- dropout(p=pp)"], (3, 8, 8))
    with pytest.raises(SpecError, match="undefined name 'pp'") as caught:
        netspec.loads(text)
    assert caught.value.where == "1"


def test_a_stage_without_its_block_is_told_what_a_stage_takes() -> None:
    """Not "unknown operator 'stage'", as the check of callees said of it for a while."""
    text = spec_text(["- s: stage(depth=2)"], (3, 8, 8))
    with pytest.raises(SpecError, match="stage takes a block name first"):
        netspec.loads(text).check()
