"""Transposed convolutions (netspec/ops/conv.py): ``conv_transpose1d``/``2d``/``3d`` against
``nn.ConvTranspose1d``/``2d``/``3d`` — PyTorch's size rule with stride, padding,
output_padding, dilation and groups; state_dict, values, MACs (FlopCounterMode's rule for a
transposed convolution: input elements × out_channels / groups × kernel elements), the
generated code, the explanation and the errors."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import netspec
from netspec.errors import NetspecError
from tests.conftest import spec_text
from tests.ops.oracles import agree, flop_macs

MODULES = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}


def _attr(draw: st.DrawFn, values: list[int]) -> int | list[int]:
    """One integer when the dimensions agree (sometimes), else one per dimension."""
    if len(set(values)) == 1 and draw(st.booleans()):
        return values[0]
    return values


@st.composite
def cases(draw: st.DrawFn, rank: int) -> tuple[dict[str, Any], tuple[int, ...], nn.Module]:
    """Valid attributes, an input shape they fit, and the PyTorch module they mean."""
    groups = draw(st.integers(1, 3))
    cin = groups * draw(st.integers(1, 3))
    cout = groups * draw(st.integers(1, 3))
    largest = {1: 6, 2: 5, 3: 3}[rank]
    sizes = [draw(st.integers(1, largest)) for _ in range(rank)]
    kernel = [draw(st.integers(1, 4)) for _ in range(rank)]
    stride = [draw(st.integers(1, 3)) for _ in range(rank)]
    dilation = [draw(st.integers(1, 2)) for _ in range(rank)]
    output_padding = [
        draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation, strict=True)
    ]
    full = [
        (n - 1) * s + d * (k - 1) + o + 1
        for n, s, d, k, o in zip(sizes, stride, dilation, kernel, output_padding, strict=True)
    ]
    padding = [draw(st.integers(0, min(2, (f - 1) // 2))) for f in full]
    bias = draw(st.booleans())
    attrs: dict[str, Any] = {"out_channels": cout, "kernel_size": _attr(draw, kernel)}
    for name, values, default in (
        ("stride", stride, 1),
        ("padding", padding, 0),
        ("output_padding", output_padding, 0),
        ("dilation", dilation, 1),
    ):
        if any(v != default for v in values) or draw(st.booleans()):
            attrs[name] = _attr(draw, values)
    if groups != 1 or draw(st.booleans()):
        attrs["groups"] = groups
    if not bias:
        attrs["bias"] = False
    module = MODULES[rank](
        cin,
        cout,
        tuple(kernel),
        stride=tuple(stride),
        padding=tuple(padding),
        output_padding=tuple(output_padding),
        groups=groups,
        bias=bias,
        dilation=tuple(dilation),
    )
    return attrs, (cin, *sizes), module


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_conv_transpose_equals_pytorch(rank: int) -> None:
    """Output shape, state_dict, values (exactly) and MACs equal nn.ConvTransposeNd's."""

    @given(cases(rank))
    def run(case: tuple[dict[str, Any], tuple[int, ...], nn.Module]) -> None:
        attrs, shape, module = case
        agree(f"conv_transpose{rank}d", attrs, shape, module)

    run()


def test_macs_follow_flop_counter_mode() -> None:
    """FlopCounterMode counts a transposed convolution by its input, not its output:
    in_elements × (out_channels / groups) × kernel, here 5·5·6 · (4/2)·3·3 = 2,700."""
    spec = netspec.loads(
        spec_text(["- up: conv_transpose2d(4, 3, stride=2, padding=1, groups=2)"], (6, 5, 5))
    )
    node = spec.network.root.children[0]
    assert node.output == (4, 9, 9)
    assert node.macs == 5 * 5 * 6 * 2 * 3 * 3 == 2_700
    model = spec.build()
    assert flop_macs(model, torch.randn(2, 6, 5, 5)) == 2_700


@pytest.mark.parametrize(
    ("call", "shape", "output"),
    [
        # DCGAN's generator: a 4×4 kernel, stride 2, padding 1 doubles the size
        ("conv_transpose2d(64, 4, stride=2, padding=1, bias=false)", (128, 8, 8), (64, 16, 16)),
        # FCN-32s' upsampling: stride 32, kernel 64 → (7 − 1)·32 + 64 = 256
        ("conv_transpose2d(21, 64, stride=32, bias=false)", (21, 7, 7), (21, 256, 256)),
        # output_padding picks the larger of the sizes a stride-2 convolution maps to 4
        ("conv_transpose2d(3, 3, stride=2, padding=1, output_padding=1)", (3, 4, 4), (3, 8, 8)),
        ("conv_transpose2d(3, 3, stride=2, padding=1)", (3, 4, 4), (3, 7, 7)),
        # output_padding below the dilation is allowed at stride 1
        ("conv_transpose1d(2, 3, dilation=2, output_padding=1)", (2, 5), (2, 10)),
        ("conv_transpose3d(2, [1, 2, 3], stride=[1, 2, 3])", (2, 2, 2, 2), (2, 2, 4, 6)),
    ],
)
def test_known_sizes(call: str, shape: tuple[int, ...], output: tuple[int, ...]) -> None:
    spec = netspec.loads(spec_text([f"- up: {json.dumps(call)}"], shape))
    assert spec.network.output == output
    model = spec.build(verify=True)
    assert tuple(model(torch.randn(1, *shape)).shape[1:]) == output


def test_source_names_only_non_default_arguments() -> None:
    spec = netspec.loads(
        spec_text(
            [
                "- a: conv_transpose2d(8, 3, stride=2, padding=1, output_padding=1)",
                "- b: conv_transpose2d(4, 2, groups=4, bias=false, dilation=2)",
                "- c: conv_transpose2d(4, 1)",
            ],
            (4, 5, 5),
        )
    )
    source = spec.source()
    assert "nn.ConvTranspose2d(4, 8, 3, stride=2, padding=1, output_padding=1)" in source
    assert "nn.ConvTranspose2d(8, 4, 2, groups=4, bias=False, dilation=2)" in source
    assert "nn.ConvTranspose2d(4, 4, 1)" in source


def test_symbolic_sizes_in_a_block() -> None:
    """A block compiled once computes its sizes from its input: the decoder below, used at two
    input sizes and widths, builds what the analysis says."""
    text = """netspec: 1
name: t
input: [8, 5, 5]
blocks:
  Up:
    params: [width, stride = 2]
    body:
      - up: conv_transpose2d(width, 3, stride=stride, padding=1, output_padding=stride - 1)
      - act: relu
layers:
  - a: Up(6)
  - b: Up(4, stride=3)
  - head: conv2d(2, 1)
"""
    spec = netspec.loads(text)
    assert spec.network.output == (2, 30, 30)
    source = spec.source()
    assert "in_channels, width, 3, stride=stride, padding=1, output_padding=stride - 1" in source
    assert "self.b = Up(6, 4, stride=3)  # -> [4, 30, 30]" in source
    model = spec.build(verify=True)
    assert model(torch.randn(2, 8, 5, 5)).shape == (2, 2, 30, 30)


def test_explanation() -> None:
    spec = netspec.loads(
        spec_text(["- up: conv_transpose2d(4, 3, stride=2, padding=1, groups=2)"], (6, 5, 5))
    )
    node = spec.network.root.children[0]
    assert node.op.explain(node.attrs, node.input, node.output) == [
        "H: (5 − 1)·2 − 2·1 + 1·(3 − 1) + 0 + 1 = 9",
        "W: (5 − 1)·2 − 2·1 + 1·(3 − 1) + 0 + 1 = 9",
        "params: 6·(4/2)·3·3 + 4 = 112",
        "MACs: 5·5·6·2·3·3 = 2,700 (each input element times 2·3·3 weights)",
    ]
    assert (
        node.parameters
        == 112
        == sum(p.numel() for p in nn.ConvTranspose2d(6, 4, 3, groups=2).parameters())
    )


@pytest.mark.parametrize(
    ("call", "shape", "message", "hint"),
    [
        (
            "conv_transpose2d(4, 3, stride=2, output_padding=2)",
            (3, 8, 8),
            "conv_transpose2d: output_padding 2 in H must be smaller than the stride (2) or "
            "the dilation (1)",
            "at most stride − 1",
        ),
        (
            "conv_transpose1d(4, 3, output_padding=1)",
            (3, 8),
            "conv_transpose1d: output_padding 1 must be smaller than the stride (1) or the "
            "dilation (1)",
            "at most stride − 1",
        ),
        (
            "conv_transpose2d(4, 1, padding=2)",
            (3, 3, 3),
            "conv_transpose2d: output H would be -1: padding 2 removes 2·2 = 4 of the 3 the "
            "kernel spreads the input H 3 over",
            "padding here may be at most 1",
        ),
        (  # an empty output, which PyTorch refuses
            "conv_transpose1d(6, 2, padding=1)",
            (4, 1),
            "conv_transpose1d: output L would be 0: padding 1 removes 2·1 = 2 of the 2 the "
            "kernel spreads the input L 1 over",
            "padding here may be at most 0",
        ),
        (
            "conv_transpose2d(4, 3, groups=2)",
            (3, 8, 8),
            "conv_transpose2d: groups=2 must divide the 3 input channels",
            "divisors of 3: 1, 3",
        ),
        (
            "conv_transpose2d(5, 3, groups=3)",
            (3, 8, 8),
            "conv_transpose2d: groups=3 must divide out_channels=5",
            "divisors of 5: 1, 5",
        ),
        (
            "conv_transpose3d(4, 3)",
            (3, 8, 8),
            "conv_transpose3d expects a 4-d input (channels × depth × height × width), found "
            "3×8×8 (3-d)",
            "for a 3-d input use conv_transpose2d",
        ),
        (
            "conv_transpose2d(4, 3, in_channels=4)",
            (3, 8, 8),
            "conv_transpose2d expects 4 input channels, but its input has 3",
            "inferred",
        ),
    ],
)
def test_errors(call: str, shape: tuple[int, ...], message: str, hint: str) -> None:
    with pytest.raises(NetspecError) as info:
        netspec.loads(spec_text([f"- a: {json.dumps(call)}"], shape)).check()
    assert info.value.message == message
    assert info.value.hint is not None and hint in info.value.hint


def test_parameters_formula() -> None:
    """in_channels × out_channels/groups × kernel (+ out_channels): the weight is laid out
    in × out/groups × k, the transpose of a convolution's."""
    spec = netspec.loads(
        spec_text(["- up: conv_transpose3d(6, [1, 2, 3], groups=3)"], (9, 2, 2, 2))
    )
    node = spec.network.root.children[0]
    assert [(t.name, t.shape) for t in node.tensors] == [
        ("weight", (9, 2, 1, 2, 3)),
        ("bias", (6,)),
    ]
    assert node.parameters == 9 * 2 * math.prod((1, 2, 3)) + 6
