"""Layer normalisation (netspec/ops/norm.py): ``layer_norm`` against ``nn.LayerNorm`` and
``layer_norm2d`` against torchvision's ``LayerNorm2d`` — state_dict, values, MACs, functional
form, errors and explanations."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import netspec
from netspec.errors import NetspecError
from tests.conftest import spec_text
from tests.ops import oracles
from tests.ops.oracles import agree

any_rank = st.integers(1, 4).flatmap(lambda r: st.tuples(*[st.integers(1, 5)] * r))


@st.composite
def layer_norm_case(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[int, ...]]:
    """An input shape and attributes that fit it: normalized_shape left out, or the last
    dimension as an integer, or the last dimensions as a list."""
    shape = draw(any_rank)
    attrs: dict[str, Any] = {}
    kind = draw(st.sampled_from(["none", "int", "list"]))
    if kind == "int":
        attrs["normalized_shape"] = shape[-1]
    elif kind == "list":
        count = draw(st.integers(1, len(shape)))
        attrs["normalized_shape"] = list(shape[len(shape) - count :])
    attrs.update(
        draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "eps": st.sampled_from([1e-5, 1e-6]),
                    "elementwise_affine": st.booleans(),
                    "bias": st.booleans(),
                },
            )
        )
    )
    return attrs, shape


@given(layer_norm_case())
def test_layer_norm_equals_nn_layer_norm(case: tuple[dict[str, Any], tuple[int, ...]]) -> None:
    attrs, shape = case
    kw = dict(attrs)
    normalized = kw.pop("normalized_shape", shape[-1])
    agree("layer_norm", attrs, shape, nn.LayerNorm(normalized, **kw), functional="F.layer_norm(")


def test_layer_norm_over_channels_last() -> None:
    """ConvNeXt's block norm: after a permute to channels last, layer_norm normalises the
    channels of each pixel; weight and bias have one entry per channel."""
    spec = netspec.loads(
        spec_text(["- perm: permute([0, 2, 3, 1])", "- norm: layer_norm(eps=1e-6)"], (8, 5, 5))
    )
    node = spec.network.root.children[1]
    assert [(t.name, t.shape) for t in node.tensors] == [("weight", (8,)), ("bias", (8,))]
    assert "nn.LayerNorm(8, eps=1e-06)" in spec.source()


def test_layer_norm_source() -> None:
    text = spec_text(["- a: layer_norm([4, 5], bias=false)"], (3, 4, 5))
    assert "nn.LayerNorm((4, 5), bias=False)" in netspec.loads(text).source()
    text = spec_text(["- a: identity", "- layer_norm(elementwise_affine=false, eps=0.001)"], (6, 4))
    assert "F.layer_norm(x, (4,), eps=0.001)" in netspec.loads(text).source()


def test_layer_norm_symbolic_size_in_a_block() -> None:
    """Inside a block used at two widths, the size comes from the block's input."""
    text = """netspec: 1
name: t
input: [6, 4, 4]
blocks:
  Mix:
    params: [width]
    body:
      - conv: conv2d(width, 1)
      - perm: permute([0, 2, 3, 1])
      - norm: layer_norm
      - fc: linear(width)
      - back: permute([0, 3, 1, 2])
layers:
  - a: Mix(8)
  - b: Mix(12)
"""
    spec = netspec.loads(text)
    source = spec.source()
    assert "nn.LayerNorm(width)" in source
    model = spec.build()
    assert model(torch.randn(2, 6, 4, 4)).shape == (2, 12, 4, 4)


@pytest.mark.parametrize(
    ("call", "shape", "message", "hint"),
    [
        (
            "layer_norm(5)",
            (3, 4),
            "layer_norm: normalized_shape 5 must equal the input's last dimension, found 4 in 3×4",
            "leave normalized_shape out",
        ),
        (
            "layer_norm([3, 5])",
            (3, 4),
            "layer_norm: normalized_shape [3, 5] must equal the input's last 2 dimensions, "
            "found 3×4 in 3×4",
            "leave normalized_shape out",
        ),
        (
            "layer_norm([2, 3, 4])",
            (3, 4),
            "layer_norm: normalized_shape [2, 3, 4] has 3 dimensions, but the input 3×4 has 2 "
            "(batch excluded)",
            "the last dimensions of each sample",
        ),
        (
            "layer_norm(eps=0)",
            (3, 4),
            "layer_norm: eps expects a positive number, found 0",
            None,
        ),
        (
            "layer_norm2d",
            (3, 4),
            "layer_norm2d expects a 3-d input (channels × height × width), found 3×4 (2-d)",
            "fewer dimensions",
        ),
    ],
)
def test_layer_norm_errors(
    call: str, shape: tuple[int, ...], message: str, hint: str | None
) -> None:
    with pytest.raises(NetspecError) as info:
        netspec.loads(spec_text([f"- a: {call}"], shape)).check()
    assert info.value.message == message
    if hint is None:
        assert info.value.hint is None
    else:
        assert info.value.hint is not None and hint in info.value.hint


@given(
    shape=st.tuples(st.integers(1, 6), st.integers(1, 5), st.integers(1, 5)),
    eps=st.sampled_from([None, 1e-6]),
)
def test_layer_norm2d_equals_torchvision(shape: tuple[int, int, int], eps: float | None) -> None:
    attrs = {} if eps is None else {"eps": eps}
    reference = oracles.LayerNorm2d(shape[0], **attrs)
    built, _ = agree("layer_norm2d", attrs, shape, reference)
    layer = built.get_submodule("layer")
    assert isinstance(layer, nn.LayerNorm)
    assert layer.normalized_shape == (shape[0],) and layer.eps == (eps or 1e-5)


def test_layer_norm2d_equals_layer_norm_over_channels_last() -> None:
    """layer_norm2d is permute, layer_norm, permute back — with the same weights."""
    torch.manual_seed(0)
    one = netspec.loads(spec_text(["- norm: layer_norm2d(eps=1e-6)"], (8, 5, 5))).build()
    three = netspec.loads(
        spec_text(
            [
                "- to_last: permute([0, 2, 3, 1])",
                "- norm: layer_norm(eps=1e-6)",
                "- to_first: permute([0, 3, 1, 2])",
            ],
            (8, 5, 5),
        )
    ).build()
    with torch.no_grad():
        for p in one.parameters():
            p.normal_()
    three.load_state_dict(one.state_dict())
    x = torch.randn(2, 8, 5, 5)
    assert torch.equal(one(x), three(x))


def test_layer_norm2d_source_and_state() -> None:
    spec = netspec.loads(spec_text(["- norm: layer_norm2d(eps=1e-6)"], (96, 8, 8)))
    source = spec.source()
    assert "class LayerNorm2d(nn.LayerNorm):" in source
    assert "self.norm = LayerNorm2d(96, eps=1e-06)" in source
    assert list(spec.build().state_dict()) == ["norm.weight", "norm.bias"]
    assert spec.summary()["parameters"] == 2 * 96


def test_explanations() -> None:
    spec = netspec.loads(
        spec_text(
            [
                "- ln2: layer_norm2d",
                "- perm: permute([0, 2, 3, 1])",
                "- ln: layer_norm(bias=false)",
                "- ln_plain: layer_norm([4, 8], elementwise_affine=false)",
            ],
            (8, 3, 4),
        )
    )
    net = spec.network
    lines = {
        node.path: node.op.explain(node.attrs, node.input, node.output)
        for node in net.root.children
    }
    assert lines["ln2"] == [
        "mean and variance over the 8 channels, at each of 3·4 = 12 positions",
        "params: 2·8 = 16 (scale and shift per channel)",
    ]
    assert lines["ln"] == [
        "mean and variance over the last dimension (8), at each of 12 positions",
        "params: 1·8 = 8 (scale per element)",
    ]
    assert lines["ln_plain"] == [
        "mean and variance over the last 2 dimensions (4·8), at each of 3 positions"
    ]
