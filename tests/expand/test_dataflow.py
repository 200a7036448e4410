"""Dataflow: ``from:`` reads an earlier tensor, or merges several (``concat``, ``add``, ``mul``,
``crop``, ``resize``). The analysis, the built module and the generated file read the same
tensors; what ``from:`` may not read is refused at its position, with exit status 2."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import netspec
from netspec.backends.module import compare_forward, compare_state, compile_source
from netspec.cli import app
from netspec.errors import NetspecError
from netspec.spec import format as fmt
from netspec.spec import models as m
from netspec.spec.load import read_text

SPEC = """netspec: 1
name: tiny_unet
input: [1, 40, 40]
blocks:
  Double:
    params: [c]
    body:
      - conv1: conv2d(c, 3)
      - relu1: relu(inplace=true)
      - conv2: conv2d(c, 3)
      - relu2: relu(inplace=true)
  Gate:
    body:
      - squeeze: conv2d(in.channels, 1)
      - act: sigmoid
      - scaled: mul
        from: [act, input]
layers:
  - enc1: Double(8)
  - pool1: maxpool2d(2)
  - enc2: Double(16)
  - gate: Gate()
  - up: conv_transpose2d(8, 2, stride=2)
  - skip: crop
    from: [enc1, up]
  - cat: concat
    from: [skip, up]
  - dec: Double(8)
  - head: conv2d(2, 1)
  - out: resize(mode='bilinear', align_corners=false)
    from: [head, input]
"""


def reference(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The network written by hand from the module's children."""
    enc1 = model.enc1(x)
    y = model.enc2(model.pool1(enc1))
    gate = model.gate
    y = torch.sigmoid(gate.squeeze(y)) * y
    up = model.up(y)
    top = (enc1.shape[2] - up.shape[2]) // 2
    left = (enc1.shape[3] - up.shape[3]) // 2
    skip = enc1[:, :, top : top + up.shape[2], left : left + up.shape[3]]
    y = model.head(model.dec(torch.cat([skip, up], 1)))
    return torch.nn.functional.interpolate(
        y, size=x.shape[2:], mode="bilinear", align_corners=False
    )


def test_shapes_and_counts() -> None:
    spec = netspec.loads(SPEC)
    net = spec.network
    by_path = {c.path: c for c in net.root.children}
    assert by_path["enc1"].output == (8, 36, 36)
    assert by_path["up"].output == (8, 28, 28)
    assert by_path["skip"].output == (8, 28, 28)  # enc1's centre
    assert by_path["cat"].output == (16, 28, 28)
    assert by_path["dec"].output == (8, 24, 24)
    assert net.output == (2, 40, 40)  # back to the input's size
    assert by_path["cat"].call == "concat(skip, up)"
    assert by_path["out"].call == "resize(head, input, mode='bilinear', align_corners=false)"


def test_the_module_computes_what_the_spec_says() -> None:
    model = netspec.loads(SPEC).build(verify=True)
    torch.manual_seed(0)
    x = torch.randn(2, 1, 40, 40)
    with torch.no_grad():
        assert torch.allclose(model(x), reference(model, x), atol=1e-6)
        # any input size: the crop and the resize follow the tensors
        x = torch.randn(1, 1, 48, 44)
        assert model(x).shape == (1, 2, 48, 44)
        assert torch.allclose(model(x), reference(model, x), atol=1e-6)


def test_generated_forward_reads_named_tensors() -> None:
    source = netspec.loads(SPEC).source()
    assert "x_in = x\n" in source
    assert "enc1 = self.enc1(x)\n" in source
    assert "skip = center_crop(enc1, up)\n" in source
    assert "x = torch.cat([skip, up], 1)\n" in source
    flat = " ".join(source.split()).replace("( ", "(")  # a long call is split one line per argument
    assert 'F.interpolate(head, size=x_in.shape[2:], mode="bilinear"' in flat
    assert "scaled = " not in source  # a merge nothing reads again writes the current tensor
    assert "x = act * x_in" in source


def test_export_follows_the_crop_and_the_resize() -> None:
    model = netspec.loads(SPEC).build().eval()
    x = torch.randn(1, 1, 40, 40)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        assert torch.allclose(exported.module()(x), model(x))


def test_both_formats_say_the_same() -> None:
    yaml_spec = read_text(SPEC, "t.yaml").spec
    ns_text = fmt.to_ns(yaml_spec)
    assert "skip: crop from [enc1, up]" in ns_text
    ns_spec = read_text(ns_text, "t.ns").spec
    assert m.canonical(ns_spec) == m.canonical(yaml_spec)
    assert fmt.to_yaml(ns_spec) == fmt.to_yaml(yaml_spec)


def test_a_single_name_reads_that_tensor() -> None:
    text = SPEC.replace("  - head: conv2d(2, 1)\n", "  - head: conv2d(2, 1)\n    from: cat\n")
    spec = netspec.loads(text)
    head = next(c for c in spec.network.root.children if c.path == "head")
    assert head.input == (16, 28, 28)  # cat's output, not dec's
    model = spec.build(verify=True)
    assert model.head.in_channels == 16


def test_a_kept_size_that_a_loop_changes_is_kept_as_it_was() -> None:
    """A tensor kept for a later ``from:`` keeps its sizes, whatever a loop after it does."""
    text = """netspec: 1
name: kept
input: [3, 16, 16]
params:
  widths: [4, 6]
layers:
  - stem: conv2d(5, 3, padding=1)
  - for: w in widths
    do:
      - conv{w}: conv2d(w, 3, padding=1)
  - back: conv2d(7, 1)
    from: stem
"""
    spec = netspec.loads(text)
    model = spec.build(verify=True)
    assert model.back.in_channels == 5
    model = netspec.loads(text, widths=[2, 3, 9]).build(verify=True)
    assert model.back.in_channels == 5


# -- refusals: each at its position, exit status 2 ---------------------------------------------

BAD = [
    ("    from: [enc1, up]", "    from: [enc9, up]", "no layer before it has that name", 25),
    ("    from: [skip, up]", "    from: [skip, dec]", "which comes after it", 27),
    ("    from: [skip, up]", "    from: [cat, up]", "reads its own output", 27),
    ("    from: [enc1, up]", "    from: [up, enc1]", "the crop is larger than the tensor", 24),
    ("    from: [head, input]", "    from: [head]", "two or more tensors", 31),
    ("    from: [skip, up]", "    from: 3", "expects a tensor's name or a list of names", 27),
    ("    from: [skip, up]", "    from: []", "expects a tensor's name or a list of names", 27),
    ("    from: [skip, up]", "    from: [skip, 2]", "expects a tensor's name or a list", 27),
    ("    from: [skip, up]", "    from: [skip, up-1]", "a layer's name (an identifier)", 27),
    ("  - skip: crop\n", "  - skip: crop(2)\n", "options, given by name", 24),
    ("  - skip: crop\n", "  - skip: crop(mode=1)\n", "crop has no option 'mode'", 24),
    ("mode='bilinear'", "mode=name", "is a literal value", 30),
    ("mode='bilinear'", "mode='trilinear'", "interpolates 4-d tensors", 30),
    ("    from: [enc1, up]", "    from: [enc1, up, head]", "which comes after it", 25),
    ("  - cat: concat\n", "  - cat: conv2d(3, 1)\n", "is a merge of those tensors", 26),
    ("  - cat: concat\n", "  - cat: [relu]\n", "is a merge of those tensors", 26),
    ("    from: [enc1, up]", "    from: [enc1, up, enc2]", "crop takes 2 tensors, found 3", 25),
    ("    from: [skip, up]", "    from: [skip, enc2]", "must agree on every other dimension", 26),
    (
        "  - pool1: maxpool2d(2)\n",
        "  - pool1: relu(inplace=true)\n  - pool1b: maxpool2d(2)\n",
        "writes in place into 'enc1', which 'skip' also reads",
        20,
    ),
    ("  - dec: Double(8)\n", "  - dec: Double(8)\n    from: conv1\n", "no layer before", 29),
    ("      - act: sigmoid\n", "      - act: sigmoid\n        from: enc1\n", "no layer", 16),
    (
        "  - head: conv2d(2, 1)\n",
        "  - for: i in [1]\n    do:\n      - head: conv2d(2, 1)\n",
        "which is inside a loop",
        33,
    ),
    (  # a typo near a template a loop makes: still the typo's hint
        "  - head: conv2d(2, 1)\n",
        "  - for: i in [1]\n    do:\n      - s{i}: conv2d(2, 1)\n  - out: relu\n    from: dek\n",
        "'out' reads 'dek', but no layer before it has that name",
        33,
    ),
    (  # a name a loop's template makes: read it through a named list's child
        "  - head: conv2d(2, 1)\n",
        "  - for: i in [1]\n    do:\n      - head{i}: conv2d(2, 1)\n  - out: relu\n"
        "    from: head1\n",
        "'out' reads 'head1', a name a template makes (in a loop)",
        33,
    ),
    (
        "  - head: conv2d(2, 1)\n",
        "  - if: true\n    then:\n      - head: conv2d(2, 1)\n        from: cat\n",
        "which is inside a condition before it",  # `out` reads it after the condition
        34,
    ),
    (
        "  - head: conv2d(2, 1)\n",
        "  - for: i in [1]\n    do:\n      - if: true\n        then:\n"
        "          - head2: conv2d(2, 1)\n            from: cat\n  - head: conv2d(2, 1)\n",
        "not inside a loop",
        34,
    ),
    (
        "  - head: conv2d(2, 1)\n",
        "  - if: true\n    then:\n      - h1: conv2d(2, 1)\n    else:\n"
        "      - h2: conv2d(2, 1)\n        from: h1\n  - head: conv2d(2, 1)\n",
        "which is inside a condition before it",  # the other branch's
        34,
    ),
    (
        "  - head: conv2d(2, 1)\n",
        "  - if: true\n    then:\n      - h1: conv2d(2, 1)\n        from: h2\n"
        "      - h2: conv2d(2, 1)\n  - head: conv2d(2, 1)\n",
        "which comes after it",
        32,
    ),
    ("  - enc1: Double(8)\n", "  - seq:\n      - enc1: Double(8)\n", "inside the sequence", 26),
    (
        "  - head: conv2d(2, 1)\n",
        "  - input: conv2d(2, 1)\n  - head: conv2d(2, 1)\n",
        "also named 'input'",
        32,
    ),
]


def _bad(old: str, new: str) -> str:
    assert old in SPEC, old
    return SPEC.replace(old, new, 1)


@pytest.mark.parametrize(("old", "new", "words", "line"), BAD)
def test_refusals_are_positioned(old: str, new: str, words: str, line: int) -> None:
    with pytest.raises(NetspecError, match=re.escape(words)) as info:
        netspec.loads(_bad(old, new)).check()
    assert info.value.span is not None
    assert info.value.span.line == line, info.value


@pytest.mark.parametrize(("old", "new", "words", "line"), BAD[:8])
def test_refusals_exit_2_without_a_traceback(
    old: str, new: str, words: str, line: int, tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(_bad(old, new))
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    assert f"bad.yaml:{line}:" in result.output
    assert "Traceback" not in result.output


# -- a sequence's children, and blocks of several inputs -----------------------------------------

SEG = """netspec: 1
name: tiny_seg
input: [3, 32, 32]
params:
  widths: [8, 16, 32]
blocks:
  Head:
    inputs: [low, high]
    params: [num_classes, inter = 8]
    body:
      - cbr:
          - conv2d(inter, 1, bias=false)
          - batchnorm2d
          - relu(inplace=true)
        from: high
      - scale:
          - adaptive_avgpool2d(1)
          - conv2d(inter, 1, bias=false)
          - sigmoid
        from: high
      - gated: mul
        from: [cbr, scale]
      - up: resize(mode='bilinear', align_corners=false)
        from: [gated, low]
      - low_classifier: conv2d(num_classes, 1)
        from: low
      - high_classifier: conv2d(num_classes, 1)
        from: up
      - out: add
        from: [low_classifier, high_classifier]
layers:
  - backbone:
      - conv2d(8, 3, padding=1)
      - for: w in widths
        do:
          - conv2d(w, 3, stride=2, padding=1)
          - relu
  - classifier: Head(5)
    from: [backbone.3, backbone]
  - out: resize(mode='bilinear', align_corners=false)
    from: [classifier, input]
"""


def seg_reference(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """LRASPP's head written by hand, on the backbone's child 3 and its output."""
    f = torch.nn.functional
    low = model.backbone[:4](x)
    high = model.backbone[4:](low)
    head = model.classifier
    y = head.cbr(high) * head.scale(high)
    y = f.interpolate(y, size=low.shape[-2:], mode="bilinear", align_corners=False)
    y = head.low_classifier(low) + head.high_classifier(y)
    return f.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


def test_a_child_of_a_sequence_and_a_block_of_two_inputs() -> None:
    spec = netspec.loads(SEG)
    classifier = next(c for c in spec.network.root.children if c.path == "classifier")
    assert classifier.input == (16, 8, 8)  # backbone.3: the conv before the 2nd stride
    assert classifier.others == ((32, 4, 4),)  # the backbone's output
    assert classifier.output == (5, 8, 8)
    model = spec.build(verify=True).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        for shape in [(2, 3, 32, 32), (1, 3, 40, 24)]:
            x = torch.randn(shape)
            assert torch.allclose(model(x), seg_reference(model, x), atol=1e-6)
    # other widths: the generated class sizes child 3 when its loop runs
    other = netspec.loads(SEG, widths=[4, 6, 12]).build(verify=True)
    assert other.classifier.low_classifier.in_channels == 6


def test_generated_code_names_the_inputs_and_keeps_the_child() -> None:
    source = netspec.loads(SEG).source()
    assert "def forward(self, x: torch.Tensor, high: torch.Tensor) -> torch.Tensor:" in source
    assert "        low = x\n" in source
    assert "low_channels: int, high_channels: int" in source
    assert "for i, layer in enumerate(self.backbone):" in source
    assert "classifier = self.classifier(backbone_3, backbone)" in source
    model = netspec.loads(SEG).build().eval()
    scripted = torch.jit.script(model)  # the loop over the children scripts
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(scripted(x), model(x), atol=1e-6)


def test_both_formats_say_the_same_of_children_and_inputs() -> None:
    yaml_spec = read_text(SEG, "t.yaml").spec
    ns_text = fmt.to_ns(yaml_spec)
    assert "classifier: Head(5) from [backbone.3, backbone]" in ns_text
    assert "    inputs low, high\n" in ns_text
    ns_spec = read_text(ns_text, "t.ns").spec
    assert m.canonical(ns_spec) == m.canonical(yaml_spec)
    assert fmt.to_yaml(ns_spec) == fmt.to_yaml(yaml_spec)


SEG_BAD = [
    (
        "[backbone.3, backbone]",
        "[backbone.9, backbone]",
        "reads child 9 of 'backbone', which has 7",
        39,
    ),
    ("[backbone.3, backbone]", "[input.0, backbone]", "a child of the input, which has none", 39),
    ("[backbone.3, backbone]", "[backbone.x, backbone]", "by its index (`backbone.4`)", 39),
    ("[classifier, input]", "[classifier.1, input]", "which is one layer, not a sequence", 41),
    ("        from: low\n", "        from: low.0\n", "a child of the input 'low'", 26),
    ("    from: [backbone.3, backbone]", "    from: backbone", "takes 2 inputs (low, high)", 38),
    ("[backbone.3, backbone]", "[backbone.1, backbone.3, backbone]", "takes 2 inputs", 38),
    ("    inputs: [low, high]", "    inputs: [low]", "two or more inputs, found 1", 8),
    ("    inputs: [low, high]", "    inputs: [low, low]", "input 'low' is named twice", 8),
    ("    inputs: [low, high]", "    inputs: [input, high]", "cannot be called 'input'", 8),
    ("      - gated: mul", "      - high: relu\n      - gated: mul", "one of its layers", 21),
    (
        "          - relu\n  - classifier",
        "          - relu(inplace=true)\n  - classifier",
        "writes in place into 'backbone.3'",
        37,
    ),
]


@pytest.mark.parametrize(("old", "new", "words", "line"), SEG_BAD)
def test_children_and_inputs_refusals_are_positioned(
    old: str, new: str, words: str, line: int, tmp_path: Path
) -> None:
    assert old in SEG, old
    text = SEG.replace(old, new, 1)
    with pytest.raises(NetspecError, match=re.escape(words)) as info:
        netspec.loads(text).check()
    assert info.value.span is not None
    assert info.value.span.line == line, info.value
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 2 and f"bad.yaml:{line}:" in result.output
    assert "Traceback" not in result.output


# -- `from:` in a condition's branches ------------------------------------------------------------

BRANCHED = """netspec: 1
name: branched
input: [2, 12, 12]
params:
  deep: true
blocks:
  Skip:
    params: [c, deep]
    body:
      - first: conv2d(c, 3, padding=1)
      - if: deep
        then:
          - second: conv2d(c, 3, padding=1)
          - both: add
            from: [first, second]
          - third: conv2d(c, 1)
          - joined: concat
            from: [both, third]
        else:
          - other: conv2d(c, 1)
          - joined2: concat
            from: [input, other]
      - last: conv2d(4, 1)
layers:
  - skip: Skip(6, deep)
  - top: conv2d(2, 1)
  - if: deep
    then:
      - back: add
        from: [top, input]
"""


@pytest.mark.parametrize("deep", [True, False])
def test_a_branch_reads_its_own_names_and_those_before_its_condition(deep: bool) -> None:
    spec = netspec.loads(BRANCHED, deep=deep)
    skip = next(c for c in spec.network.root.children if c.path == "skip")
    assert skip.children[-1].input == ((12 if deep else 8), 12, 12)
    built = spec.build(verify=True)
    namespace: dict[str, object] = {}
    exec(compile(netspec.loads(BRANCHED).source(), "<branched>", "exec"), namespace)
    generated = namespace["Branched"](deep=deep)  # type: ignore[operator]
    layout = [(k, v.shape) for k, v in built.state_dict().items()]
    assert [(k, v.shape) for k, v in generated.state_dict().items()] == layout
    generated.load_state_dict(built.state_dict())
    x = torch.randn(2, 2, 12, 12)
    with torch.no_grad():
        expected = model_reference(built, x, deep)
        assert torch.allclose(built(x), expected, atol=1e-6)
        assert torch.allclose(generated(x), expected, atol=1e-6)


def model_reference(model: torch.nn.Module, x: torch.Tensor, deep: bool) -> torch.Tensor:
    skip = model.skip
    first = skip.first(x)
    if deep:
        both = first + skip.second(first)
        y = torch.cat([both, skip.third(both)], 1)
    else:
        y = torch.cat([x, skip.other(first)], 1)
    top = model.top(skip.last(y))
    return top + x if deep else top


# -- recursion: a level that contains the next one ------------------------------------------------

LEVELS = """netspec: 1
name: levels
input: [1, 32, 32]
params:
  depth: 2
blocks:
  Level:
    params: [c, depth]
    body:
      - down: conv2d(c, 3, padding=1)
      - if: depth > 0
        then:
          - pool: maxpool2d(3, stride=1, padding=1)
          - inner: Level(c + 4, depth - 1)
          - up: conv2d(c, 1)
          - cat: concat
            from: [down, up]
          - dec: conv2d(c, 3, padding=1)
layers:
  - level1: Level(4, depth)
  - head: conv2d(2, 1)
"""

# (what to replace, with what, the message's words, line, column)
RECURSION_BAD = [
    ("depth > 0", "true", "calls itself with no condition that can end the recursion", 14, 13),
    ("depth > 0", "depth > 0 or c > 0", "unbounded recursion", 14, 13),
    ("depth - 1)", "depth)", "unbounded recursion: Level is still calling itself 32", 14, 13),
    ("depth - 1)", "depth + 1)", "(Level(c=4, depth=2) → Level(c=8, depth=3) → …", 14, 13),
    ("  depth: 2\n", "  depth: 1000000000\n", "Level(c=4, depth=1000000000) →", 14, 13),
    ("  depth: 2\n", "  depth: 32\n", "32 blocks deep", 14, 13),
    (
        "          - inner: Level(c + 4, depth - 1)\n",
        "          - inner: Other(c + 4, depth - 1)\n",
        "calls itself with no condition that can end the recursion (Level → Other → Level)",
        14,
        13,
    ),
    (
        "          - inner: Level(c + 4, depth - 1)\n",
        "          - inner: Level(c + 4, depth - 1) if c > 0 else identity\n",
        "unbounded recursion",
        14,
        13,
    ),
    ("            from: [down, up]", "            from: [down, dec]", "comes after it", 17, 26),
]
OTHER = """  Other:
    params: [c, depth]
    body:
      - l: Level(c, depth)
"""


def _recursion_bad(old: str, new: str) -> str:
    assert old in LEVELS, old
    text = LEVELS.replace(old, new, 1)
    if "Other(" in text:  # no condition on either side of the cycle
        text = text.replace("layers:\n", OTHER + "layers:\n", 1).replace("depth > 0", "true")
    if "if c > 0 else" in text:  # the choice is the only condition, and c only grows
        text = text.replace("depth > 0", "true", 1)
    return text


def test_a_recursive_level_is_a_u_net() -> None:
    spec = netspec.loads(LEVELS)
    model = spec.build(verify=True)
    assert [k for k in model.state_dict() if k.endswith("weight")] == [
        "level1.down.weight",
        "level1.inner.down.weight",
        "level1.inner.inner.down.weight",
        "level1.inner.up.weight",
        "level1.inner.dec.weight",
        "level1.up.weight",
        "level1.dec.weight",
        "head.weight",
    ]
    assert spec.network.output == (2, 32, 32)
    source = spec.source()
    assert source.count("class Level(nn.Module):") == 1
    assert "if depth > 0:" in source and "self.inner: nn.Module | None = Level(" in source
    namespace: dict[str, object] = {}
    exec(compile(source, "<levels>", "exec"), namespace)
    for depth in (0, 1, 3):  # the generated constructor recurses as deep as it is told
        built = netspec.loads(LEVELS, depth=depth).build(verify=True)
        generated = namespace["Levels"](depth=depth)  # type: ignore[operator]
        layout = [(k, v.shape) for k, v in built.state_dict().items()]
        assert [(k, v.shape) for k, v in generated.state_dict().items()] == layout
        generated.load_state_dict(built.state_dict())
        x = torch.randn(1, 1, 32, 32)
        with torch.no_grad():
            assert torch.allclose(generated(x), built(x), atol=1e-6)


MUTUAL = """netspec: 1
name: mutual
input: [4, 6, 6]
params:
  D: 3
blocks:
  A:
    params: [c, d]
    body:
      - first: conv2d(c * 3, 1)
      - if: d > 1
        then:
          - inner: B(c, d - 1)
  B:
    params: [c, d]
    body:
      - first: conv2d(c, 1)
      - if: d > 1
        then:
          - inner: A(c, d - 1)
      - post: conv2d(c * POST, 1)
layers:
  - top: B(2, D)
  - flatten
  - fc: linear(3)
"""
POST_LINE = "      - post: conv2d(c * POST, 1)\n"


VALID = """netspec: 1
name: vnet
params:
  n: 2
input: [3, 64, 64]
blocks:
  B:
    params: [d]
    body:
      - conv: conv2d(3, 3)
      - if: d > 0
        then:
          - inner: B(d - 1)
layers:
  - b: B(n)
  - flatten
  - fc: linear(2)
"""


def test_a_size_the_recursion_changes_level_by_level_is_a_function_of_the_sizes() -> None:
    """Each level's valid convolution trims 2: the ``linear`` needs the sizes after ``n + 1``
    of them, which no formula of the generated code's gives without the recursion. The file
    computes them as a person would, with a function of the sizes alone, cached."""
    source = netspec.loads(VALID).source()
    assert (
        "@functools.cache\n"
        "def b_sizes(\n"
        "    in_channels: int, in_height: int, in_width: int, d: int\n"
        ") -> tuple[int, int, int]:\n"
    ) in source
    assert "b_sizes(3, in_height - 2, in_width - 2, d - 1)[1] if d > 0 else in_height - 2" in (
        source
    )
    assert "* (b_sizes(3, 62, 62, n - 1)[1] if n > 0 else 62)" in source
    cls = compile_source(source).Vnet
    for depth in range(8):
        net = netspec.loads(VALID, n=depth).check()
        assert net.root.children[0].output == (3, 62 - 2 * depth, 62 - 2 * depth)
        made = cls(n=depth)
        assert compare_state(made, net) == [] and compare_forward(made, net) == []


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ("a param", VALID.replace("  n: 2\n", "  n: 2\n  b_sizes: 1\n")),
        (
            "a let",
            VALID.replace("input: [3, 64, 64]\n", "input: [3, 64, 64]\nlet:\n  b_sizes: 1\n"),
        ),
        (
            "a block's param",
            VALID.replace("    params: [d]\n", "    params: [d, b_sizes = 1]\n"),
        ),
    ],
)
def test_a_size_function_is_named_apart_from_the_specs_names(where: str, text: str) -> None:
    """A name of the spec's that the size function would take (``b_sizes``, a local of the
    classes that call it) leaves it ``b_sizes_1``: the classes called the local, an int (an
    internal error from build, a file whose class did not construct)."""
    source = netspec.loads(text).source()
    assert "def b_sizes_1(" in source and "def b_sizes(" not in source, where
    cls = compile_source(source).Vnet
    for depth in (0, 3):
        net = netspec.loads(text, n=depth).check()
        made = cls(n=depth)
        assert compare_state(made, net) == [] and compare_forward(made, net) == []


def assert_class_agrees(text: str, source: str, values: list[dict[str, object]]) -> None:
    """The class of ``source`` (generated at ``text``'s defaults), made at each of
    ``values``, is what the analysis at those values describes: every state_dict entry, every
    module's output in a forward pass, the output."""
    spec = netspec.loads(text)
    cls = getattr(compile_source(source), spec.class_name)
    for given in values:
        net = netspec.loads(text, **given).check()
        made = cls(**given)
        assert compare_state(made, net) == [] and compare_forward(made, net) == [], given


LISTS = (
    VALID.replace("  n: 2\n", "  n: 2\n  ws: [[3], [4], [5]]\n")
    .replace("params: [d]", "params: [ws, d]")
    .replace("conv2d(3, 3)", "conv2d(ws[d][0], 3)")
    .replace("B(d - 1)", "B(ws, d - 1)")
    .replace("B(n)", "B(ws, n)")
)


def test_a_size_function_takes_a_list_of_lists_as_tuples_of_tuples() -> None:
    """Its cache keys on its arguments: a list of lists is passed as a tuple of tuples (the
    constructor may be given lists), and the file is right at every depth and list."""
    assert LISTS != VALID
    source = netspec.loads(LISTS).source()
    assert "    ws: tuple[tuple[int, ...], ...],\n" in source
    assert "tuple(tuple(item0) for item0 in ws)" in source
    lists = ([[3], [4], [5]], [[2, 9], [6], [1], [8], [5]])
    assert_class_agrees(LISTS, source, [{"n": d, "ws": ws} for ws in lists for d in range(len(ws))])


PAIR = """netspec: 1
name: pairs
input: [3, 16, 16]
params:
  n: 2
blocks:
  B:
    params: [d]
    inputs: [a, b]
    body:
      - conv: conv2d(3, 3, padding=1)
        from: a
      - cat: concat
        from: [conv, b]
      - if: d > 0
        then:
          - inner: B(d - 1)
            from: [cat, b]
layers:
  - first: conv2d(3, 1)
  - blk: B(n)
    from: [first, input]
  - flatten
  - fc: linear(2)
"""


@pytest.mark.parametrize(
    "change",
    [("", ""), ("  - flatten\n  - fc: linear(2)\n", ""), ("conv2d(3, 1)", "conv2d(5, 1)")],
    ids=["concat-of-the-other", "no-reader", "other-channels"],
)
def test_a_recursive_block_of_several_inputs_generates_a_file_right_at_every_depth(
    change: tuple[str, str],
) -> None:
    """Its inner level is given the other input's sizes too (``B(3 + b_channels, b_channels,
    d - 1)``), and its closed form is found in terms of both inputs' sizes: the file once
    failed to generate at all (an internal error), then, with the form found, called the
    inner level without the other input's channels."""
    text = PAIR.replace(*change)
    source = netspec.loads(text).source()
    if change[0] == "":
        assert "B(3 + b_channels, b_channels, d - 1)" in source
    assert_class_agrees(text, source, [{"n": depth} for depth in range(6)])


SHRINKING = """netspec: 1
name: shrinking
input: [3, 24, 24]
params:
  n: 2
blocks:
  B:
    params: [d]
    inputs: [a, b]
    body:
      - cat: concat
        from: [a, b]
      - conv: conv2d(4, 3)
      - crop: maxpool2d(3, stride=1)
        from: b
      - if: d > 0
        then:
          - inner: B(d - 1)
            from: [conv, crop]
layers:
  - first: conv2d(2, 1)
  - blk: B(n)
    from: [first, input]
  - flatten
  - fc: linear(2)
"""


@pytest.mark.parametrize("size", [24, 31])
def test_a_recursive_block_of_several_inputs_whose_sizes_shrink_has_a_size_function(
    size: int,
) -> None:
    """Each level's valid convolution trims its output, so the size ``fc`` reads has no
    formula: the file computes it with a function of both inputs' sizes (once refused, as the
    function took one input's), and is right at every depth and at another input size."""
    text = SHRINKING.replace("[3, 24, 24]", f"[3, {size}, {size}]")
    source = netspec.loads(text).source()
    assert "    b_channels: int,\n" in source and "def b_sizes(" in source
    assert_class_agrees(text, source, [{"n": depth} for depth in range(size // 2 - 1)])


def random_pair_recursion(seed: int) -> str:
    """A random block of two inputs calling itself under ``if: d > 0``: padded and valid
    convolutions of its first input, crops and 1×1 convolutions of its second, concats and
    adds of the two, and either tensor as its output, read by a ``linear`` after ``flatten``
    (the whole-language generator's recursive two-input block keeps its sizes)."""
    r = random.Random(seed)
    body: list[str] = []
    a, b = "a", "b"
    for i in range(r.randint(1, 3)):
        kind = r.choice(["same", "valid", "crop", "conv_b", "concat", "add"])
        name = f"l{i}"
        if kind == "same":
            body.append(f"- {name}: conv2d({r.choice([2, 3, 'in.channels'])}, 3, padding=1)")
        elif kind == "valid":
            body.append(f"- {name}: conv2d({r.choice([2, 3, 4])}, 3)")
        elif kind == "crop":
            body.append(f"- {name}: maxpool2d(3, stride=1)")
        elif kind == "conv_b":
            body.append(f"- {name}: conv2d({r.choice([2, 3])}, 1)")
        else:
            body.append(f"- {name}: {kind}")
        if kind in ("crop", "conv_b"):
            body.append(f"  from: {b}")
            b = name
        else:
            body.append(f"  from: [{a}, {b}]" if kind in ("concat", "add") else f"  from: {a}")
            a = name
    body += ["- if: d > 0", "  then:", "    - inner: B(d - 1)", f"      from: [{a}, {b}]"]
    if r.random() < 0.5:
        body += ["- out: relu", f"  from: {r.choice([a, b])}"]
    size = r.choice([20, 24, 27])
    return (
        f"netspec: 1\nname: pairs\ninput: [3, {size}, {size}]\nparams:\n  n: 2\nblocks:\n"
        "  B:\n    params: [d]\n    inputs: [a, b]\n    body:\n"
        + "".join(f"      {line}\n" for line in body)
        + f"layers:\n  - first: conv2d({r.choice([2, 3])}, 1)\n  - blk: B(n)\n"
        "    from: [first, input]\n  - flatten\n  - fc: linear(2)\n"
    )


@pytest.mark.parametrize("seed", range(24))
def test_random_recursions_of_two_inputs_generate_files_right_at_every_depth(seed: int) -> None:
    """Where check accepts the spec, the file it generates (a size function of both inputs'
    sizes where a size changes level by level) is what the analysis says at depths 0-6."""
    text = random_pair_recursion(seed)
    try:
        netspec.loads(text).check()
    except NetspecError:
        return  # shapes that do not merge: check refuses, nothing to generate
    source = netspec.loads(text).source()
    depths = []
    for depth in range(7):
        try:
            netspec.loads(text, n=depth).check()
        except NetspecError:
            continue
        depths.append({"n": depth})
    assert_class_agrees(text, source, depths)


GATED = """netspec: 1
name: gated
input: [2, 7, 7]
params:
  n: 1
blocks:
  Pair:
    params: [d]
    inputs: [a, b]
    body:
      - g: sigmoid
        from: b
      - s: add
        from: [a, g]
      - if: d > 0
        then:
          - inner: Pair(d - 1)
            from: [s, g]
layers:
  - tap: [relu, tanh, sigmoid]
  - join: Pair(n)
    from: [tap.0, tap]
  - flatten
  - fc: linear(2)
"""


def test_a_recursive_closed_form_may_be_a_maximum() -> None:
    """Adding its inputs, whose sizes are known only when the code runs, gives each size as
    ``max(a, b)``; level after level that stays ``max(a, b)`` (not ``max(max(a, b), b)``), a
    closed form the file writes, where it once refused the block."""
    source = netspec.loads(GATED).source()
    assert "b_sizes" not in source and "max(" not in source.split("class Gated")[1]
    assert_class_agrees(GATED, source, [{"n": depth} for depth in range(5)])


@pytest.mark.parametrize("post", [True, False])
def test_mutual_recursion_generates_a_file_right_at_every_depth(post: bool) -> None:
    """With ``post``, B ends with its own convolution, so its channels are one formula
    whatever A gives; A's are B's or its own, found by induction inside B's. Without it, A
    and B give 2 and 6 channels by turns as the depth grows: no formula, so the file computes
    them with a function of the sizes. A's form was once found inside B's induction, under
    B's first assumption (that it keeps its input's size), and kept after that assumption
    was dropped: the file was right up to D=4 and built a wrong ``fc`` at D=5. Checked at
    depths the file was not written for."""
    text = MUTUAL.replace("POST", "2") if post else MUTUAL.replace(POST_LINE, "")
    source = netspec.loads(text).source()
    assert ("def b_sizes(" in source) is not post
    cls = compile_source(source).Mutual
    channels = []
    for depth in range(8):
        net = netspec.loads(text, D=depth).check()
        channels.append(net.root.children[0].output[0])
        made = cls(D=depth)
        assert compare_state(made, net) == [] and compare_forward(made, net) == []
    assert channels == ([4] * 8 if post else [2, 2, 6, 2, 6, 2, 6, 2])


@pytest.mark.parametrize(("old", "new", "words", "line", "col"), RECURSION_BAD)
def test_recursion_refusals_exit_2_at_the_call(
    old: str, new: str, words: str, line: int, col: int, tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(_recursion_bad(old, new))
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    first = result.output.splitlines()[0]
    assert first.startswith(f"error: {path}:{line}:{col}: "), first
    assert words in result.output
    assert "hint:" in result.output


def test_a_child_before_a_loop_keeps_the_sizes_it_had() -> None:
    """Child 0 comes before the sequence's loop: its sizes are known where it is appended, and
    the loop's appends do not capture them again (regression: the generated constructor read
    a variable only the loop would have set)."""
    text = (
        "netspec: 1\nname: t\ninput: [3, 8, 8]\nparams:\n  widths: [4]\nlayers:\n"
        "  - seq:\n      - conv2d(6, 1)\n      - for: w in widths\n        do:\n"
        "          - conv2d(w, 1)\n  - low: conv2d(2, 1)\n    from: seq.0\n"
    )
    for widths in ([4], [4, 5], []):
        model = netspec.loads(text, widths=widths).build(verify=True)
        assert model.low.in_channels == 6
    assert "if len(seq) ==" not in netspec.loads(text).source()
