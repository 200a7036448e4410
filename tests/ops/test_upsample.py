"""Upsampling (netspec/ops/upsample.py): ``upsample`` against ``nn.Upsample`` in every mode,
by a size or a scale factor (PyTorch's ⌊size · factor⌋ in double precision), and
``pixel_shuffle``/``pixel_unshuffle`` against ``nn.PixelShuffle``/``nn.PixelUnshuffle`` —
shapes, values, MACs (FlopCounterMode counts none), the functional form, the generated code,
the explanation and the errors."""

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

MODES = {1: ["linear"], 2: ["bilinear", "bicubic"], 3: ["trilinear"]}
FACTORS = [1, 2, 3, 0.5, 1.5, 0.7, 1.7, 2.5, 1 / 3, 2.0]


@st.composite
def upsample_case(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[int, ...]]:
    """A valid upsample call and an input it fits."""
    rank = draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 3)), *(draw(st.integers(1, 6)) for _ in range(rank)))
    mode = draw(st.sampled_from(["nearest", "nearest-exact", "area", *MODES[rank]]))
    attrs: dict[str, Any] = {}
    if draw(st.booleans()):
        sizes = [draw(st.integers(1, 9)) for _ in range(rank)]
        one = len(set(sizes)) == 1 and draw(st.booleans())
        attrs["size"] = sizes[0] if one else sizes
    else:
        fits = [f for f in FACTORS if all(int(n * f) >= 1 for n in shape[1:])]
        factors = [draw(st.sampled_from(fits)) for _ in range(rank)]
        one = len(set(factors)) == 1 and draw(st.booleans())
        attrs["scale_factor"] = factors[0] if one else factors
        if draw(st.booleans()):
            attrs["recompute_scale_factor"] = draw(st.booleans())
    if mode != "nearest" or draw(st.booleans()):
        attrs["mode"] = mode
    if mode in ("linear", "bilinear", "bicubic", "trilinear") and draw(st.booleans()):
        attrs["align_corners"] = draw(st.booleans())
    return attrs, shape


def _module_args(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in attrs.items()}


@given(upsample_case())
def test_upsample_equals_nn_upsample(case: tuple[dict[str, Any], tuple[int, ...]]) -> None:
    """Output size, values (exactly: the same interpolation) and MACs (none), as a module and
    as an F.interpolate call."""
    attrs, shape = case
    agree("upsample", attrs, shape, nn.Upsample(**_module_args(attrs)), functional="F.interpolate(")


@given(
    channels=st.integers(1, 3),
    factor=st.integers(1, 3),
    height=st.integers(1, 4),
    width=st.integers(1, 4),
)
def test_pixel_shuffle_equals_pytorch(channels: int, factor: int, height: int, width: int) -> None:
    shape = (channels * factor * factor, height, width)
    attrs = {"upscale_factor": factor}
    agree("pixel_shuffle", attrs, shape, nn.PixelShuffle(factor), functional="F.pixel_shuffle(")
    back = (channels, height * factor, width * factor)
    attrs = {"downscale_factor": factor}
    agree(
        "pixel_unshuffle", attrs, back, nn.PixelUnshuffle(factor), functional="F.pixel_unshuffle("
    )


@pytest.mark.parametrize(
    ("call", "shape", "output"),
    [
        ("upsample(scale_factor=2)", (3, 5, 7), (3, 10, 14)),
        ("upsample(scale_factor=[2, 1.5], mode='bilinear')", (3, 5, 7), (3, 10, 10)),
        # in double precision 100·0.29 is 28.999…: PyTorch's size is 28, not 29
        ("upsample(scale_factor=0.29)", (1, 100), (1, 28)),
        ("upsample(scale_factor=1.4)", (1, 5), (1, 7)),
        ("upsample(size=4, mode='trilinear', align_corners=true)", (2, 2, 3, 3), (2, 4, 4, 4)),
        ("upsample(size=[9, 3], mode='area')", (2, 4, 6), (2, 9, 3)),
        ("pixel_shuffle(3)", (18, 4, 5), (2, 12, 15)),
        ("pixel_unshuffle(2)", (3, 8, 6), (12, 4, 3)),
    ],
)
def test_known_sizes(call: str, shape: tuple[int, ...], output: tuple[int, ...]) -> None:
    spec = netspec.loads(spec_text([f"- up: {json.dumps(call)}"], shape))
    assert spec.network.output == output
    model = spec.build(verify=True)
    assert tuple(model(torch.randn(1, *shape)).shape[1:]) == output


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_source() -> None:
    spec = netspec.loads(
        spec_text(
            [
                "- up: upsample(scale_factor=2, mode='bilinear', align_corners=false)",
                "- upsample(size=[6, 8])",
                "- upsample(scale_factor=[2, 1.5])",
                "- shuffle: pixel_shuffle(2)",
                "- pixel_unshuffle(2)",
            ],
            (4, 3, 4),
        )
    )
    source = spec.source()
    assert 'nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)' in source
    assert "F.interpolate(x, size=(6, 8))" in source
    # TorchScript wants floats for F.interpolate's scale factors
    assert "F.interpolate(x, scale_factor=(2.0, 1.5))" in source
    assert "nn.PixelShuffle(2)" in source
    assert "F.pixel_unshuffle(x, 2)" in source
    model = spec.build().eval()
    x = torch.randn(2, 4, 3, 4)
    assert_deploys(model, x)


def test_resize_to_the_block_input() -> None:
    """Segmentation heads resize their logits to the input's size: in a block,
    ``size=[in.height, in.width]`` is the block's input size, for any input."""
    text = """netspec: 1
name: seg
input: [3, 20, 28]
params:
  scale: 2
blocks:
  Head:
    params: [classes]
    body:
      - backbone: conv2d(8, 3, stride=4, padding=1)
      - classifier: conv2d(classes, 1)
      - resize: upsample(size=[in.height, in.width], mode='bilinear', align_corners=false)
layers:
  - up: upsample(scale_factor=scale)
  - head: Head(5)
"""
    spec = netspec.loads(text)
    assert spec.network.output == (5, 40, 56)
    source = spec.source()
    assert "size=(in_height, in_width)" in source
    assert "Head(3, int(20 * scale), int(28 * scale), 5)" in source
    model = spec.build(verify=True)
    assert model(torch.randn(1, 3, 20, 28)).shape == (1, 5, 40, 56)
    other = spec.replace(scale=3)
    assert other.network.output == (5, 60, 84)
    assert other.build(verify=True)(torch.randn(1, 3, 20, 28)).shape == (1, 5, 60, 84)


def test_symbolic_scale_factor() -> None:
    """A scale factor that is a parameter: the generated code computes ⌊size · factor⌋ as
    PyTorch does, for the default and for other values."""
    text = """netspec: 1
name: t
input: [2, 7, 5]
params:
  factor: 1.5
blocks:
  Up:
    params: [f]
    body:
      - up: upsample(scale_factor=f)
      - pixel_unshuffle(1)
layers:
  - a: Up(factor)
  - flatten
  - fc: linear(3)
"""
    spec = netspec.loads(text)
    assert spec.network.output == (3,)
    assert spec.network.root.children[0].output == (2, 10, 7)
    source = spec.source()
    assert "int(" in source
    for factor in (1.5, 2, 0.7, 2.5):
        other = spec.replace(factor=factor)
        model = other.build(verify=True)
        y = model(torch.randn(2, 2, 7, 5))
        assert tuple(y.shape[1:]) == other.network.output


def test_explanations() -> None:
    spec = netspec.loads(
        spec_text(
            [
                "- a: upsample(scale_factor=[2, 0.7], mode='bicubic')",
                "- b: upsample(size=[6, 6])",
                "- c: pixel_unshuffle(3)",
                "- d: pixel_shuffle(3)",
            ],
            (2, 5, 10),
        )
    )
    lines = explanations(spec)
    assert lines["a"] == [
        "H: 5·2 = 10",
        "W: ⌊10·0.7⌋ = 7",
        "MACs: 0 (bicubic interpolation multiplies no weights; FlopCounterMode counts none)",
    ]
    assert lines["b"] == [
        "H: 10 → 6 (size)",
        "W: 7 → 6 (size)",
        "MACs: 0 (nearest interpolation multiplies no weights; FlopCounterMode counts none)",
    ]
    assert lines["c"] == ["C: 2·3² = 18", "H: 6 / 3 = 2", "W: 6 / 3 = 2"]
    assert lines["d"] == ["C: 18 / 3² = 2", "H: 2·3 = 6", "W: 2·3 = 6"]


def test_macs_all_counts_interpolation() -> None:
    """``--macs all``: the input values each output value weighs (nearest copies)."""
    for mode, points in (("nearest", 0), ("bilinear", 4), ("bicubic", 16)):
        spec = netspec.loads(
            spec_text([f"- up: upsample(scale_factor=2, mode='{mode}')"], (3, 4, 4))
        )
        assert spec.summary()["macs"] == 0
        assert spec.summary("all")["macs"] == points * 3 * 8 * 8


@pytest.mark.parametrize(
    ("call", "shape", "message", "hint"),
    [
        (
            "pixel_shuffle(2)",
            (6, 4, 4),
            "pixel_shuffle: upscale_factor=2 needs channels divisible by 2² = 4, found 6",
            "makes 4 times the channels wanted",
        ),
        (
            "pixel_unshuffle(2)",
            (3, 4, 5),
            "pixel_unshuffle: downscale_factor=2 must divide the input width, found 5",
            "r must divide both the height and the width",
        ),
        (
            "pixel_shuffle(2)",
            (8, 4, 4, 4),
            "pixel_shuffle expects a 3-d input (channels × height × width), found 8×4×4×4 (4-d)",
            "flatten the input first",
        ),
        (
            "upsample(scale_factor=2, mode='bilinear')",
            (3, 4, 4, 4),
            "upsample: mode 'bilinear' needs a channels × height × width input, found 3×4×4×4 "
            "(4-d)",
            "'trilinear' for channels × depth × height × width",
        ),
        (
            "upsample(size=[4, 4, 4])",
            (3, 4, 4),
            "upsample: size needs 2 values (one per spatial dimension), found 3",
            None,
        ),
        (
            "upsample(scale_factor=0.2)",
            (3, 4, 8),
            "upsample: output H would be ⌊4·0.2⌋ = 0",
            "a scale factor below 1 shrinks the input",
        ),
        (
            "upsample",
            (3, 4, 4),
            "upsample takes size or scale_factor, and was given neither",
            "upsample(scale_factor=2)",
        ),
        (
            "upsample(size=4, scale_factor=2)",
            (3, 4, 4),
            "upsample takes size or scale_factor, not both",
            "upsample(scale_factor=2)",
        ),
        (
            "upsample(scale_factor=2, align_corners=true)",
            (3, 4, 4),
            "upsample: align_corners applies to the interpolating modes (linear, bilinear, "
            "bicubic, trilinear), not to mode 'nearest'",
            None,
        ),
        (
            "upsample(size=4, recompute_scale_factor=true)",
            (3, 4, 4),
            "upsample: recompute_scale_factor goes with scale_factor, not with size",
            None,
        ),
        (
            "upsample(scale_factor=true)",
            (3, 4, 4),
            "upsample: scale_factor expects a positive number, one per spatial dimension, or "
            "none, found true",
            None,
        ),
    ],
)
def test_errors(call: str, shape: tuple[int, ...], message: str, hint: str | None) -> None:
    with pytest.raises(NetspecError) as info:
        netspec.loads(spec_text([f"- a: {json.dumps(call)}"], shape)).check()
    assert info.value.message == message
    if hint is not None:
        assert info.value.hint is not None and hint in info.value.hint
