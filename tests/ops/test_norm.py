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
from tests.ops.oracles import agree, explanations

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
    lines = explanations(spec)
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


# -- group and instance normalisation, batchnorm3d ----------------------------------------------

ranked = st.integers(1, 4).flatmap(
    lambda r: st.tuples(st.integers(1, 3), *[st.integers(1, 4)] * (r - 1))
)


@st.composite
def group_norm_case(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[int, ...]]:
    groups = draw(st.integers(1, 4))
    shape = draw(ranked)
    shape = (groups * shape[0], *shape[1:])
    attrs: dict[str, Any] = {"num_groups": groups}
    attrs.update(
        draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "eps": st.sampled_from([1e-5, 1e-3]),
                    "affine": st.booleans(),
                    "bias": st.booleans(),
                },
            )
        )
    )
    return attrs, shape


@given(group_norm_case())
def test_group_norm_equals_nn_group_norm(case: tuple[dict[str, Any], tuple[int, ...]]) -> None:
    """State, values and MACs (none) on inputs of any rank; without affine, F.group_norm."""
    attrs, shape = case
    kw = dict(attrs)
    reference = nn.GroupNorm(kw.pop("num_groups"), shape[0], **kw)
    agree("group_norm", attrs, shape, reference, functional="F.group_norm(")


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_instance_norm_equals_nn_instance_norm(rank: int) -> None:
    """State (running statistics when tracked), values in evaluation mode and MACs (none);
    without tensors, F.instance_norm."""
    cls = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}[rank]
    shape_st = st.tuples(st.integers(1, 4), *[st.integers(2, 4)] * rank)
    attrs_st = st.fixed_dictionaries(
        {},
        optional={
            "eps": st.sampled_from([1e-5, 1e-3]),
            "momentum": st.sampled_from([0.1, None]),
            "affine": st.booleans(),
            "track_running_stats": st.booleans(),
        },
    )

    @given(attrs=attrs_st, shape=shape_st)
    def run(attrs: dict[str, Any], shape: tuple[int, ...]) -> None:
        reference = cls(shape[0], **attrs)
        agree(f"instance_norm{rank}d", attrs, shape, reference, functional="F.instance_norm(")

    run()


@given(
    shape=st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
    attrs=st.fixed_dictionaries(
        {}, optional={"affine": st.booleans(), "track_running_stats": st.booleans()}
    ).filter(lambda a: a.get("affine", True) or a.get("track_running_stats", True)),
)
def test_batchnorm3d_equals_nn_batchnorm3d(attrs: dict[str, Any], shape: tuple[int, ...]) -> None:
    """(Batch normalisation has no functional form: without tensors it still needs a name.)"""
    agree("batchnorm3d", attrs, shape, nn.BatchNorm3d(shape[0], **attrs))


def test_instance_norm_trains_and_its_source() -> None:
    spec = netspec.loads(
        spec_text(
            [
                "- a: instance_norm2d(affine=true)",
                "- instance_norm2d(eps=0.001)",
                "- b: instance_norm2d(track_running_stats=true, momentum=none)",
                "- g: group_norm(2, bias=false)",
                "- group_norm(4, affine=false)",
            ],
            (4, 3, 3),
        )
    )
    source = spec.source()
    assert "nn.InstanceNorm2d(4, affine=True)" in source
    assert "F.instance_norm(x, eps=0.001)" in source
    assert "nn.InstanceNorm2d(4, momentum=None, track_running_stats=True)" in source
    assert "nn.GroupNorm(2, 4, bias=False)" in source
    assert "F.group_norm(x, 4)" in source
    model = spec.build().train()
    loss = model(torch.randn(2, 4, 3, 3)).sum()
    loss.backward()
    assert list(model.state_dict()) == [
        "a.weight",
        "a.bias",
        "b.running_mean",
        "b.running_var",
        "b.num_batches_tracked",
        "g.weight",
    ]


def test_norm_explanations() -> None:
    spec = netspec.loads(
        spec_text(
            [
                "- g: group_norm(2)",
                "- g1: group_norm(1, bias=false)",
                "- i: instance_norm2d(affine=true)",
                "- i_plain: instance_norm2d",
            ],
            (6, 3, 4),
        )
    )
    lines = explanations(spec)
    assert lines["g"] == [
        "6 channels = 2 groups of 3; mean and variance over each group's 3·3·4 = 36 values, "
        "in each sample",
        "params: 2·6 = 12 (scale and shift per channel)",
    ]
    assert lines["g1"] == [
        "6 channels = 1 group of 6; mean and variance over each group's 6·3·4 = 72 values, "
        "in each sample",
        "params: 1·6 = 6 (scale per channel)",
    ]
    assert lines["i"] == [
        "mean and variance over the 3·4 = 12 positions of each of the 6 channels, in each sample",
        "params: 2·6 = 12 (scale and shift per channel)",
    ]
    assert lines["i_plain"] == lines["i"][:1]


@pytest.mark.parametrize(
    ("call", "shape", "message", "hint"),
    [
        (
            "group_norm(4)",
            (6, 3, 3),
            "group_norm: num_groups=4 must divide the 6 input channels",
            "divisors of 6: 1, 2, 3, 6",
        ),
        (
            "group_norm(2, num_channels=8)",
            (6, 3, 3),
            "group_norm expects 8 channels, but its input has 6",
            "inferred",
        ),
        (
            "instance_norm2d",
            (6, 1, 1),
            "instance_norm2d needs more than one value per channel to normalise, found 1×1 = 1 "
            "in the input 6×1×1",
            "PyTorch refuses it in training",
        ),
        (
            "instance_norm3d",
            (6, 3, 3),
            "instance_norm3d expects a 4-d input (channels × depth × height × width), found "
            "6×3×3 (3-d)",
            "for a 3-d input use instance_norm2d",
        ),
        (
            "instance_norm1d",
            (6,),
            "instance_norm1d expects a 2-d input (channels × length), found 6 (1-d)",
            "fewer dimensions",
        ),
        (
            "batchnorm3d",
            (6, 3, 3),
            "batchnorm3d expects a 4-d input (channels × depth × height × width), found 6×3×3 "
            "(3-d)",
            "for a 3-d input use batchnorm2d",
        ),
    ],
)
def test_group_and_instance_norm_errors(
    call: str, shape: tuple[int, ...], message: str, hint: str
) -> None:
    with pytest.raises(NetspecError) as info:
        netspec.loads(spec_text([f"- a: {call}"], shape)).check()
    assert info.value.message == message
    assert info.value.hint is not None and hint in info.value.hint
