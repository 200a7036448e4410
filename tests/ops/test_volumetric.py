"""The 3-d operators on ``channels × depth × height × width`` samples — ``conv3d``,
``maxpool3d``, ``avgpool3d``, ``adaptive_avgpool3d``, ``adaptive_maxpool3d`` (``batchnorm3d``
and ``instance_norm3d`` are in test_norm.py) — against PyTorch's modules: state_dict, values,
MACs and the functional form, on inputs they fit; which inputs they refuse is
tests/ops/test_ops.py's."""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import netspec
from netspec.errors import NetspecError
from tests.conftest import spec_text
from tests.ops.oracles import agree, assert_deploys, explanations


def _attr(draw: st.DrawFn, values: list[int]) -> int | list[int]:
    if len(set(values)) == 1 and draw(st.booleans()):
        return values[0]
    return values


@st.composite
def conv3d_case(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[int, ...], nn.Module]:
    groups = draw(st.integers(1, 2))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kernel = [draw(st.integers(1, 3)) for _ in range(3)]
    stride = [draw(st.integers(1, 2)) for _ in range(3)]
    dilation = [draw(st.integers(1, 2)) for _ in range(3)]
    padding = [draw(st.integers(0, 1)) for _ in range(3)]
    sizes = [
        draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p, p + 1), 5))
        for k, d, p in zip(kernel, dilation, padding, strict=True)
    ]
    mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
    bias = draw(st.booleans())
    attrs: dict[str, Any] = {"out_channels": cout, "kernel_size": _attr(draw, kernel)}
    for name, values, default in (
        ("stride", stride, 1),
        ("padding", padding, 0),
        ("dilation", dilation, 1),
    ):
        if any(v != default for v in values) or draw(st.booleans()):
            attrs[name] = _attr(draw, values)
    if groups != 1:
        attrs["groups"] = groups
    if not bias:
        attrs["bias"] = False
    if mode != "zeros":
        attrs["padding_mode"] = mode
    module = nn.Conv3d(
        cin,
        cout,
        tuple(kernel),
        stride=tuple(stride),
        padding=tuple(padding),
        dilation=tuple(dilation),
        groups=groups,
        bias=bias,
        padding_mode=mode,
    )
    return attrs, (cin, *sizes), module


@given(conv3d_case())
def test_conv3d_equals_nn_conv3d(case: tuple[dict[str, Any], tuple[int, ...], nn.Module]) -> None:
    attrs, shape, module = case
    agree("conv3d", attrs, shape, module)


@st.composite
def pool3d_case(draw: st.DrawFn, kind: str) -> tuple[dict[str, Any], tuple[int, ...], nn.Module]:
    kernel = [draw(st.integers(1, 3)) for _ in range(3)]
    padding = [draw(st.integers(0, k // 2)) for k in kernel]
    dilation = [draw(st.integers(1, 2)) if kind == "max" else 1 for _ in range(3)]
    stride = draw(st.one_of(st.none(), st.lists(st.integers(1, 2), min_size=3, max_size=3)))
    ceil_mode = draw(st.booleans())
    # the window fits the padded input; 3-d average pooling also wants the kernel in the input
    sizes = [
        draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p, k if kind == "avg" else 1), 5))
        for k, p, d in zip(kernel, padding, dilation, strict=True)
    ]
    attrs: dict[str, Any] = {"kernel_size": _attr(draw, kernel), "ceil_mode": ceil_mode}
    if stride is not None:
        attrs["stride"] = stride
    if any(padding):
        attrs["padding"] = padding
    kw: dict[str, Any] = {
        "stride": None if stride is None else tuple(stride),
        "padding": tuple(padding),
        "ceil_mode": ceil_mode,
    }
    if kind == "max":
        if any(d != 1 for d in dilation):
            attrs["dilation"] = dilation
        return attrs, (2, *sizes), nn.MaxPool3d(tuple(kernel), dilation=tuple(dilation), **kw)
    include = draw(st.booleans())
    divisor = draw(st.sampled_from([None, None, 2, 5]))
    attrs["count_include_pad"] = include
    if divisor is not None:
        attrs["divisor_override"] = divisor
    module = nn.AvgPool3d(tuple(kernel), count_include_pad=include, divisor_override=divisor, **kw)
    return attrs, (2, *sizes), module


@pytest.mark.parametrize(("op", "kind"), [("maxpool3d", "max"), ("avgpool3d", "avg")])
def test_pool3d_equals_pytorch(op: str, kind: str) -> None:
    functional = {"max": "F.max_pool3d(", "avg": "F.avg_pool3d("}[kind]

    @given(pool3d_case(kind))
    def run(case: tuple[dict[str, Any], tuple[int, ...], nn.Module]) -> None:
        attrs, shape, module = case
        agree(op, attrs, shape, module, functional=functional)

    run()


@pytest.mark.parametrize(
    ("op", "cls", "functional"),
    [
        ("adaptive_avgpool3d", nn.AdaptiveAvgPool3d, "F.adaptive_avg_pool3d("),
        ("adaptive_maxpool3d", nn.AdaptiveMaxPool3d, "F.adaptive_max_pool3d("),
    ],
)
def test_adaptive_pool3d_equals_pytorch(op: str, cls: type[nn.Module], functional: str) -> None:
    entry = st.one_of(st.integers(1, 4), st.none())
    sizes = st.one_of(st.integers(1, 4), st.lists(entry, min_size=3, max_size=3))
    shape_st = st.tuples(st.integers(1, 3), *[st.integers(1, 5)] * 3)

    @given(size=sizes, shape=shape_st)
    def run(size: Any, shape: tuple[int, ...]) -> None:
        reference = cls(tuple(size) if isinstance(size, list) else size)
        agree(op, {"output_size": size}, shape, reference, functional=functional)

    run()


def test_a_3d_network_in_a_block() -> None:
    """A 3-d block compiled once for two widths: in.depth is the block's input depth."""
    text = """netspec: 1
name: video
input: [3, 8, 16, 16]
params:
  width: 8
blocks:
  Down:
    params: [c]
    body:
      - conv: conv3d(c, 3, stride=[1, 2, 2], padding=1, bias=false)
      - bn: batchnorm3d
      - relu: relu(inplace=true)
      - pool: maxpool3d([in.depth // 2, 1, 1])
layers:
  - a: Down(width)
  - b: Down(2 * width)
  - avgpool: adaptive_avgpool3d(1)
  - flatten
  - fc: linear(10)
"""
    spec = netspec.loads(text)
    net = spec.network
    assert [tuple(n.output) for n in net.root.children if n.path in ("a", "b")] == [
        (8, 2, 8, 8),
        (16, 2, 4, 4),
    ]
    source = spec.source()
    assert "in_channels, c, 3, stride=(1, 2, 2), padding=1, bias=False" in source
    assert "nn.MaxPool3d((in_depth // 2, 1, 1))" in source
    assert "nn.BatchNorm3d(c)" in source
    model = spec.build(verify=True)
    assert model(torch.randn(2, 3, 8, 16, 16)).shape == (2, 10)
    wide = spec.replace(width=4)
    assert wide.build(verify=True)(torch.randn(1, 3, 8, 16, 16)).shape == (1, 10)


def test_explanations() -> None:
    spec = netspec.loads(
        spec_text(
            ["- conv: conv3d(4, [3, 1, 1], padding=[1, 0, 0])", "- pool: maxpool3d(2)"],
            (2, 4, 6, 6),
        )
    )
    lines = explanations(spec)
    assert lines["conv"] == [
        "D: (4 − 3 + 2·1) / 1 + 1 = 4",
        "H: (6 − 1 + 2·0) / 1 + 1 = 6",
        "W: (6 − 1 + 2·0) / 1 + 1 = 6",
        "params: (2·3·1·1 + 1)·4 = 28",
        "MACs: 4·6·6·4·2·3·1·1 = 3,456",
    ]
    assert lines["pool"] == [
        "D: ⌊(4 − 2 + 2·0) / 2⌋ + 1 = 2",
        "H: ⌊(6 − 2 + 2·0) / 2⌋ + 1 = 3",
        "W: ⌊(6 − 2 + 2·0) / 2⌋ + 1 = 3",
    ]


@pytest.mark.parametrize(
    ("call", "shape", "message"),
    [
        (
            "conv3d(4, 3)",
            (2, 6, 6),
            "conv3d expects a 4-d input (channels × depth × height × width), found 2×6×6 (3-d)",
        ),
        (
            "maxpool3d(2)",
            (2, 6),
            "maxpool3d expects a 4-d input (channels × depth × height × width), found 2×6 (2-d)",
        ),
        (
            "avgpool3d(3, padding=1)",
            (2, 2, 6, 6),
            "avgpool3d: the kernel (3) is larger than the input D 2",
        ),
        (
            "conv3d(4, [3, 3])",
            (2, 4, 6, 6),
            "conv3d: kernel_size needs 3 values (one per spatial dimension), found 2",
        ),
        (
            "adaptive_avgpool3d([1, 2])",
            (2, 4, 6, 6),
            "adaptive_avgpool3d: output_size needs 3 values (one per spatial dimension), found 2",
        ),
    ],
)
def test_errors(call: str, shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(NetspecError) as info:
        netspec.loads(spec_text([f"- a: {json.dumps(call)}"], shape)).check()
    assert info.value.message == message


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_pytorch_tools() -> None:
    """The 3-d operators' generated code, as modules and as calls, scripts, compiles and
    exports."""
    spec = netspec.loads(
        spec_text(
            [
                "- conv: conv3d(4, 3, padding=1, padding_mode='replicate')",
                "- up: conv_transpose3d(4, 2, stride=2)",
                "- maxpool3d(2, ceil_mode=true)",
                "- avgpool3d(2, divisor_override=3)",
                "- norm: instance_norm3d(affine=true)",
                "- upsample(scale_factor=2, mode='trilinear')",
                "- adaptive_maxpool3d([2, 3, 2])",
                "- bn: batchnorm3d",
                "- adaptive_avgpool3d(1)",
            ],
            (2, 4, 6, 6),
        )
    )
    model = spec.build(verify=True).eval()
    x = torch.randn(2, 2, 4, 6, 6)
    assert_deploys(model, x)
