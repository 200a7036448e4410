"""The bundled specs against the facts they must reproduce.

torchvision-layout specs must have exactly torchvision's state_dict keys and shapes, parameter
count and leaf-module output shapes (reference manifests in tests/reference); every spec's
static MAC count must equal PyTorch's FlopCounterMode total / 2, and its built module must agree
with its static analysis.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec.backends.module import compare_forward, compare_state, leaf_calls
from netspec.expand.ir import leaves, lint
from netspec.spec.load import bundled_names
from tests.conftest import reference

TORCHVISION = [
    "alexnet",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "wide_resnet50_2",
    "googlenet",
    "mobilenet_v2",
]


def meta_build(spec: netspec.Spec) -> torch.nn.Module:
    with torch.device("meta"):
        return spec.build()


@pytest.mark.parametrize("name", bundled_names())
def test_bundled_spec_analyses_builds_and_agrees(name: str) -> None:
    spec = netspec.load(name)
    net = spec.network
    lint(net.root)
    model = meta_build(spec)
    assert compare_state(model, net) == []
    assert compare_forward(model, net) == []


@pytest.mark.parametrize("name", bundled_names())
def test_static_macs_equal_flop_counter(name: str) -> None:
    spec = netspec.load(name)
    model = meta_build(spec).eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty(1, *spec.network.input, device="meta"))
    assert spec.summary()["macs"] * 2 == counter.get_total_flops()


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_layout(name: str) -> None:
    ref = reference(name)
    spec = netspec.load(name)
    net = spec.network
    assert list(net.input) == ref["input"][1:]
    assert list(net.output) == ref["output"][1:]
    assert net.totals.parameters == ref["parameters"]
    model = meta_build(spec)
    state = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    assert state == ref["state_dict"]
    static_calls = [
        [leaf.path, [1, *leaf.output]] for leaf in leaves(net.root) if not leaf.functional
    ]
    assert static_calls == ref["leaf_module_calls"]
    assert [[p, [1, *s]] for p, s in leaf_calls(model, net.input, batch=1)] == ref[
        "leaf_module_calls"
    ]


def torchvision_vgg_state(depth: int, batch_norm: bool) -> list[list[Any]]:
    """torchvision's VGG state_dict, derived the way its `make_layers` builds the network
    (configurations A, B, D, E of torchvision/models/vgg.py)."""
    cfgs = {
        11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
        13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
        16: [
            64,
            64,
            "M",
            128,
            128,
            "M",
            256,
            256,
            256,
            "M",
            512,
            512,
            512,
            "M",
            512,
            512,
            512,
            "M",
        ],
        19: [
            64,
            64,
            "M",
            128,
            128,
            "M",
            256,
            256,
            256,
            256,
            "M",
            512,
            512,
            512,
            512,
            "M",
            512,
            512,
            512,
            512,
            "M",
        ],
    }
    state: list[list[Any]] = []
    index, channels = 0, 3
    for v in cfgs[depth]:
        if v == "M":
            index += 1
            continue
        state += [
            [f"features.{index}.weight", [v, channels, 3, 3]],
            [f"features.{index}.bias", [v]],
        ]
        if batch_norm:
            bn = f"features.{index + 1}"
            state += [
                [f"{bn}.weight", [v]],
                [f"{bn}.bias", [v]],
                [f"{bn}.running_mean", [v]],
                [f"{bn}.running_var", [v]],
                [f"{bn}.num_batches_tracked", []],
            ]
        index += 3 if batch_norm else 2
        channels = v
    for i, (n_in, n_out) in zip(
        (0, 3, 6), ((25088, 4096), (4096, 4096), (4096, 1000)), strict=True
    ):
        state += [[f"classifier.{i}.weight", [n_out, n_in]], [f"classifier.{i}.bias", [n_out]]]
    return state


@pytest.mark.parametrize("name", ["vgg11", "vgg11_bn", "vgg13", "vgg16", "vgg16_bn", "vgg19"])
def test_vgg_derivation_matches_the_manifests(name: str) -> None:
    depth = int(name[3:5])
    assert torchvision_vgg_state(depth, name.endswith("_bn")) == reference(name)["state_dict"]


@pytest.mark.parametrize(
    ("name", "parameters"),
    # parameter counts as published in torchvision's model documentation
    [("vgg13_bn", 133_053_736), ("vgg19_bn", 143_678_248)],
)
def test_vgg_bn_variants_without_manifest(name: str, parameters: int) -> None:
    spec = netspec.load(name)
    model = meta_build(spec)
    state = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    assert state == torchvision_vgg_state(int(name[3:5]), True)
    assert spec.network.totals.parameters == parameters


def test_vgg16_numbers() -> None:
    summary = netspec.load("vgg16").summary()
    assert summary["parameters"] == 138_357_544
    assert summary["macs"] == 15_470_264_320  # torchvision's "15.47 GFLOPS"


def test_lenet5_textbook_table() -> None:
    summary = netspec.load("lenet5").summary()
    params = [
        layer["parameters"]
        for layer in summary["layers"]
        if layer["op"] != "tanh" and layer["op"] != "flatten"
    ]
    assert params == [156, 0, 2416, 0, 48120, 10164, 850]
    assert summary["parameters"] == 61_706
    shapes = {layer["path"]: layer["output"] for layer in summary["layers"]}
    assert shapes["c1"] == [6, 28, 28] and shapes["s4"] == [16, 5, 5]


def test_alexnet_spatial_sizes() -> None:
    layers = netspec.load("alexnet").summary()["layers"]
    sizes = [layer["output"][1] for layer in layers if layer["op"] in ("conv2d", "maxpool2d")]
    assert sizes == [55, 27, 27, 13, 13, 13, 13, 6]
    assert netspec.load("alexnet").summary()["parameters"] == 61_100_840


def test_alexnet_paper() -> None:
    summary = netspec.load("alexnet_paper").summary()
    assert summary["input"] == [3, 227, 227]
    sizes = {
        layer["path"]: layer["output"][1:]
        for layer in summary["layers"]
        if layer["module"] and len(layer["output"]) == 3
    }
    assert sizes["conv1"] == [55, 55] and sizes["pool1"] == [27, 27]
    assert sizes["conv2"] == [27, 27] and sizes["pool2"] == [13, 13]
    assert sizes["conv3"] == sizes["conv4"] == sizes["conv5"] == [13, 13]
    assert sizes["pool5"] == [6, 6]
    assert summary["parameters"] == 60_965_224
    groups = {layer["path"]: layer["call"] for layer in summary["layers"]}
    assert "groups=2" in groups["conv2"] and "groups=2" in groups["conv5"]
    assert "groups" not in groups["conv3"]


def test_vgg_variants_are_few_lines_over_one_definition() -> None:
    from netspec.spec.load import bundled_dir

    for name in bundled_names():
        if name.startswith("vgg") and name != "vgg":
            text = (bundled_dir() / f"{name}.yaml").read_text()
            assert "\nextends: vgg\n" in text
            assert len(text.strip().splitlines()) <= 10
            ns = (bundled_dir() / f"{name}.ns").read_text()
            assert '\nextends "vgg"\n' in ns
            assert len(ns.strip().splitlines()) <= 10


def test_weights_load_unchanged_between_equal_layouts() -> None:
    """torchvision-layout state_dicts load into the built module by key, without renaming."""
    spec = netspec.load("alexnet")
    source = spec.build()
    target = spec.build()
    target.load_state_dict(source.state_dict())
    x = torch.randn(1, 3, 224, 224)
    source.eval()
    target.eval()
    assert torch.equal(source(x), target(x))
