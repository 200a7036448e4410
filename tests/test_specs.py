"""The bundled specs against the facts they must reproduce.

The reference data in tests/reference (see its README) is torchvision's; every test below that
uses it is parametrised by discovery, so a spec added later is covered without editing this file:

- layout: every bundled spec with a manifest of the same name has exactly torchvision's input
  and output shapes, parameter count, MACs, state_dict keys, order and shapes, and leaf-module
  calls;
- zoo: every bundled spec named like a builder in zoo.md has that builder's parameters and MACs
  in `netspec check`'s static analysis;
- fingerprint: every bundled spec with a fingerprint, built for real and filled with the
  deterministic weights, computes torchvision's output;
- coverage: every classification CNN builder in zoo.md has a bundled spec, or is listed in
  NOT_YET_BUNDLED;
- hand-written: the specs of networks torchvision does not ship (DCGAN's generator and
  discriminator, M5, C3D, U-Net, the text classifier text_lstm) against the PyTorch modules
  their sources write, copied into this file: state_dict, parameters, MACs, params and outputs
  under the same weights.

Every spec's static MAC count must also equal PyTorch's FlopCounterMode total / 2, and its built
module must agree with its static analysis.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from typer.testing import CliRunner

import netspec
from netspec.backends.module import compare_forward, compare_state, leaf_calls
from netspec.cli import app
from netspec.expand.ir import leaves, lint
from netspec.spec.load import bundled_names, resolve
from tests.conftest import fingerprint, fingerprint_names, manifest_names, reference, zoo

BUNDLED = bundled_names()
LAYOUT = [name for name in BUNDLED if name in manifest_names()]
ZOO = [name for name in BUNDLED if name in zoo()]
FINGERPRINTED = [name for name in BUNDLED if name in fingerprint_names()]

# Classification CNN builders of zoo.md without a bundled spec yet, one per line with a comment
# saying what the family needs. A spec added for one of them must take it off this list
# (test_every_torchvision_cnn_is_bundled_or_listed fails until it does), so the list only
# shrinks. Every classification CNN of torchvision 0.28 has a spec now. The transformers
# (vit_*, swin_*, maxvit_*) and the segmentation models are outside this check.
NOT_YET_BUNDLED: list[str] = []


def meta_build(spec: netspec.Spec) -> torch.nn.Module:
    with torch.device("meta"):
        return spec.build()


def meta_input(net: Any, batch: int = 1) -> torch.Tensor:
    """A batch of the network's input on the meta device, of its dtype (token ids: int64).
    On the meta device an LSTM runs as matrix products, which FlopCounterMode counts."""
    dtype = torch.int64 if net.input_dtype == "int64" else torch.float32
    return torch.empty(batch, *net.input, dtype=dtype, device="meta")


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_spec_analyses_builds_and_agrees(name: str) -> None:
    spec = netspec.load(name)
    net = spec.network
    lint(net.root)
    model = meta_build(spec)
    assert compare_state(model, net) == []
    assert compare_forward(model, net) == []


@pytest.mark.parametrize("name", BUNDLED)
def test_static_macs_equal_flop_counter(name: str) -> None:
    spec = netspec.load(name)
    model = meta_build(spec).eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(meta_input(spec.network))
    assert spec.summary()["macs"] * 2 == counter.get_total_flops()


# -- layout: the manifests ------------------------------------------------------------------------


@pytest.mark.parametrize("name", LAYOUT)
def test_torchvision_layout(name: str) -> None:
    ref = reference(name)
    spec = netspec.load(name)
    net = spec.network
    assert list(net.input) == ref["input"][1:]
    assert list(net.output) == ref["output"][1:]
    assert net.totals.parameters == ref["parameters"]
    assert net.totals.macs == ref["macs"]
    model = meta_build(spec)
    state = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    assert state == ref["state_dict"]
    # PyTorch's leaves are modules without children (nn.MultiheadAttention holds out_proj);
    # an operator with children names the leaves its forward calls (Swin's PatchMerging)
    static_calls = []
    for leaf in leaves(net.root):
        if leaf.functional:
            continue
        if leaf.op.leaf:
            static_calls.append([leaf.path, [1, *leaf.output]])
        for path, shape in leaf.op.calls(leaf.attrs, leaf.input, leaf.output):
            static_calls.append([f"{leaf.path}.{path}", [1, *shape]])
    assert static_calls == ref["leaf_module_calls"]
    assert [[p, [1, *s]] for p, s in leaf_calls(model, net.input, batch=1)] == ref[
        "leaf_module_calls"
    ]


# -- zoo: parameters and MACs of every torchvision builder ----------------------------------------


@pytest.mark.parametrize("name", ZOO)
def test_check_matches_the_zoo(name: str) -> None:
    result = CliRunner().invoke(app, ["check", name, "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    row = zoo()[name]
    assert (summary["input"], summary["output"]) == (row["input"], row["output"])
    assert (summary["parameters"], summary["macs"]) == (row["parameters"], row["macs"])


# -- fingerprint: outputs under the deterministic weight fill ------------------------------------


def fill(key: str, shape: Sequence[int]) -> torch.Tensor:
    """The value of a state_dict entry under the reference fill (tests/reference/README.md)."""
    g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    if key.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=torch.long)
    r = torch.randn(shape, generator=g, dtype=torch.float64)
    if key.endswith("running_var"):
        t = 0.5 + r.abs()
    elif key.endswith("running_mean"):
        t = 0.1 * r
    elif len(shape) == 1 and key.endswith("weight"):
        t = 1 + 0.1 * r
    elif len(shape) == 1:
        t = 0.05 * r
    elif len(shape) >= 2:
        t = r * math.sqrt(1 / (math.prod(shape) / shape[0]))
    else:
        t = 0.02 * r
    return t.to(torch.float32)


def load_fill(model: torch.nn.Module) -> torch.nn.Module:
    """Replace every state_dict entry by its fill, through the module's own state_dict object
    (its metadata stays), and put the model in eval mode."""
    state = model.state_dict()
    for key, value in state.items():
        state[key] = fill(key, list(value.shape))
    model.load_state_dict(state)
    return model.eval()


def fixed_input(shape: Sequence[int], ids: int | None = None) -> torch.Tensor:
    """The reference input for a batched input shape (tests/reference/README.md); with
    ``ids``, token ids drawn from ``0 … ids − 1`` instead."""
    g = torch.Generator().manual_seed(0)
    if ids is not None:
        return torch.randint(0, ids, tuple(shape), generator=g)
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(torch.float32)


def run_filled(model: torch.nn.Module, shape: Sequence[int]) -> torch.Tensor:
    load_fill(model)
    with torch.no_grad():
        output: torch.Tensor = model(fixed_input(shape))
    return output


def fingerprinted(output: torch.Tensor, name: str) -> dict[str, torch.Tensor]:
    """What a fingerprint records of an output (tests/reference/README.md): a classifier's
    logits, flattened; a segmentation model's per-class means over H and W (`class_means`) and
    the scores of the middle row at every eighth column (`center_row`)."""
    if "output" in fingerprint(name):
        return {"output": output.flatten()}
    assert list(output.shape) == fingerprint(name)["output_shape"]
    return {
        "class_means": output.mean(dim=(2, 3)).flatten(),
        "center_row": output[0, :, output.shape[2] // 2, ::8].flatten(),
    }


def assert_matches_fingerprint(output: torch.Tensor, name: str) -> None:
    for key, mine in fingerprinted(output, name).items():
        expected = torch.tensor(fingerprint(name)[key], dtype=torch.float64)
        assert mine.shape == expected.shape, key
        diff = (mine.double() - expected).abs().max().item()
        bound = 1e-4 * expected.abs().max().item()
        assert diff <= bound, f"{name}: max |{key} - fingerprint| = {diff:.3g} > {bound:.3g}"


@pytest.mark.parametrize("name", FINGERPRINTED)
def test_output_matches_the_fingerprint(name: str) -> None:
    spec = netspec.load(name)
    assert list(spec.network.input) == fingerprint(name)["input"][1:]
    assert_matches_fingerprint(run_filled(spec.build(), fingerprint(name)["input"]), name)


def test_generated_file_computes_what_build_does(tmp_path: Path) -> None:
    """`netspec codegen`'s file, imported on its own, gives build()'s output under the fill,
    bit for bit (on one thread: with several, the BLAS libraries may split a reduction
    differently from one call to the next when the machine is busy)."""
    name = "densenet121"
    path = tmp_path / f"{name}.py"
    subprocess.run(
        [sys.executable, "-m", "netspec", "codegen", name, "--out", str(path)], check=True
    )
    module_spec = importlib.util.spec_from_file_location(name, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    spec = netspec.load(name)
    shape = fingerprint(name)["input"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        generated = run_filled(getattr(module, spec.class_name)(), shape)
        built = run_filled(spec.build(), shape)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(generated, built)
    assert_matches_fingerprint(generated, name)


# -- coverage -------------------------------------------------------------------------------------


def classification_cnns() -> list[str]:
    """zoo.md's classification builders that are CNNs: not the transformers, and not the
    segmentation models (whose output is a map, C×H×W)."""
    return [
        name
        for name, row in zoo().items()
        if not name.startswith(("vit_", "swin_", "maxvit_")) and len(row["output"]) == 1
    ]


def test_every_torchvision_cnn_is_bundled_or_listed() -> None:
    missing = [n for n in classification_cnns() if n not in BUNDLED and n not in NOT_YET_BUNDLED]
    assert missing == [], f"no bundled spec and not in NOT_YET_BUNDLED: {missing}"
    bundled = [n for n in NOT_YET_BUNDLED if n in BUNDLED]
    assert bundled == [], f"bundled now, take them off NOT_YET_BUNDLED: {bundled}"
    unknown = [n for n in NOT_YET_BUNDLED if n not in classification_cnns()]
    assert unknown == [], f"not a classification CNN builder of zoo.md: {unknown}"
    assert len(NOT_YET_BUNDLED) == len(set(NOT_YET_BUNDLED))


def test_reference_discovery_is_not_vacuous() -> None:
    """The discovered lists see the reference files (a moved folder would otherwise skip every
    test silently): zoo.md's table is read whole, and each manifest has its fingerprint."""
    text = (Path(__file__).parent / "reference" / "zoo.md").read_text()
    assert len(zoo()) == sum(line.startswith("| `") for line in text.splitlines()) > 80
    assert manifest_names() == fingerprint_names()
    assert {"alexnet", "resnet50", "densenet121", "vgg19"} <= set(LAYOUT) & set(FINGERPRINTED)
    assert set(LAYOUT) <= set(ZOO)


def test_densenet_params() -> None:
    """DenseNet's params reach the network: channels grow by growth_rate per dense layer and
    halve at each transition (none after the last block), a dense layer's output starts with its
    input, and drop_rate > 0 is dropout in training only."""
    spec = netspec.load(
        "densenet",
        input_shape=(3, 64, 64),
        growth_rate=12,
        block_config=[2, 3, 4],
        num_init_features=24,
        bn_size=2,
        drop_rate=0.5,
        num_classes=10,
    )
    model = spec.build()
    state = model.state_dict()
    assert "features.transition2.conv.weight" in state
    assert not any(key.startswith("features.transition3.") for key in state)
    # 24 + 2·12 = 48 → 24; 24 + 3·12 = 60 → 30; 30 + 4·12 = 78
    assert state["features.transition1.conv.weight"].shape == (24, 48, 1, 1)
    assert state["features.transition2.conv.weight"].shape == (30, 60, 1, 1)
    assert state["features.denseblock3.denselayer4.conv1.weight"].shape == (24, 66, 1, 1)
    assert state["classifier.weight"].shape == (10, 78)
    layer = model.get_submodule("features.denseblock1.denselayer2").eval()
    x = torch.randn(2, 36, 16, 16)
    with torch.no_grad():
        y = layer(x)
    assert y.shape == (2, 48, 16, 16) and torch.equal(y[:, :36], x)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert not torch.equal(model.train()(x), model(x))
        assert torch.equal(model.eval()(x), model(x))


def torchvision_vgg_state(depth: int, batch_norm: bool) -> list[list[Any]]:
    """torchvision's VGG state_dict, derived the way its `make_layers` builds the network
    (configurations A, B, D, E of torchvision/models/vgg.py)."""
    cfgs: dict[int, list[int | str]] = {
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
        if isinstance(v, str):  # "M", a max pooling
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


# -- beyond torchvision: hand-written reference modules ------------------------------------------
#
# Specs of networks torchvision does not ship are checked against the PyTorch modules their
# sources write, copied below (the layout, not the training code): the same state_dict (keys,
# order, shapes), the same parameter count and MACs, and the same output under the
# deterministic fill.


class DCGANGenerator(torch.nn.Module):
    """The Generator of PyTorch's DCGAN tutorial (pytorch.org/tutorials/beginner/
    dcgan_faces_tutorial.html), with nz, ngf and nc as arguments instead of globals."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3) -> None:
        super().__init__()
        nn = torch.nn
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class DCGANDiscriminator(torch.nn.Module):
    """The Discriminator of PyTorch's DCGAN tutorial."""

    def __init__(self, nc: int = 3, ndf: int = 64) -> None:
        super().__init__()
        nn = torch.nn
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class TutorialM5(torch.nn.Module):
    """M5 as PyTorch's tutorial "Speech Command Classification with torchaudio" writes it
    (pytorch.org/tutorials/intermediate/speech_command_classification_with_torchaudio_tutorial.html)."""

    def __init__(
        self, n_input: int = 1, n_output: int = 35, stride: int = 16, n_channel: int = 32
    ) -> None:
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Conv1d(n_input, n_channel, kernel_size=80, stride=stride)
        self.bn1 = nn.BatchNorm1d(n_channel)
        self.pool1 = nn.MaxPool1d(4)
        self.conv2 = nn.Conv1d(n_channel, n_channel, kernel_size=3)
        self.bn2 = nn.BatchNorm1d(n_channel)
        self.pool2 = nn.MaxPool1d(4)
        self.conv3 = nn.Conv1d(n_channel, 2 * n_channel, kernel_size=3)
        self.bn3 = nn.BatchNorm1d(2 * n_channel)
        self.pool3 = nn.MaxPool1d(4)
        self.conv4 = nn.Conv1d(2 * n_channel, 2 * n_channel, kernel_size=3)
        self.bn4 = nn.BatchNorm1d(2 * n_channel)
        self.pool4 = nn.MaxPool1d(4)
        self.fc1 = nn.Linear(2 * n_channel, n_output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        F = torch.nn.functional
        x = self.pool1(F.relu(self.bn1(self.conv1(x))))
        x = self.pool2(F.relu(self.bn2(self.conv2(x))))
        x = self.pool3(F.relu(self.bn3(self.conv3(x))))
        x = self.pool4(F.relu(self.bn4(self.conv4(x))))
        x = F.avg_pool1d(x, x.shape[-1])
        x = x.permute(0, 2, 1)
        x = self.fc1(x)
        return F.log_softmax(x, dim=2)


class ReferenceC3D(torch.nn.Module):
    """C3D (Tran et al., 2015, figure 3): eight 3×3×3 convolutions (padding 1) with five
    max pools, pool1 1×2×2 and the rest 2×2×2 (pool5 padded in height and width so that a
    16×112×112 clip ends as 512×1×4×4), then fc6, fc7 (4096 each, ReLU and dropout) and fc8,
    with the layer names of the paper."""

    def __init__(self, num_classes: int = 487) -> None:
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Conv3d(3, 64, kernel_size=3, padding=1)
        self.pool1 = nn.MaxPool3d(kernel_size=(1, 2, 2), stride=(1, 2, 2))
        self.conv2 = nn.Conv3d(64, 128, kernel_size=3, padding=1)
        self.pool2 = nn.MaxPool3d(kernel_size=2, stride=2)
        self.conv3a = nn.Conv3d(128, 256, kernel_size=3, padding=1)
        self.conv3b = nn.Conv3d(256, 256, kernel_size=3, padding=1)
        self.pool3 = nn.MaxPool3d(kernel_size=2, stride=2)
        self.conv4a = nn.Conv3d(256, 512, kernel_size=3, padding=1)
        self.conv4b = nn.Conv3d(512, 512, kernel_size=3, padding=1)
        self.pool4 = nn.MaxPool3d(kernel_size=2, stride=2)
        self.conv5a = nn.Conv3d(512, 512, kernel_size=3, padding=1)
        self.conv5b = nn.Conv3d(512, 512, kernel_size=3, padding=1)
        self.pool5 = nn.MaxPool3d(kernel_size=2, stride=2, padding=(0, 1, 1))
        self.fc6 = nn.Linear(8192, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, num_classes)
        self.dropout = nn.Dropout(p=0.5)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu(self.conv1(x)))
        x = self.pool2(self.relu(self.conv2(x)))
        x = self.pool3(self.relu(self.conv3b(self.relu(self.conv3a(x)))))
        x = self.pool4(self.relu(self.conv4b(self.relu(self.conv4a(x)))))
        x = self.pool5(self.relu(self.conv5b(self.relu(self.conv5a(x)))))
        x = x.view(-1, 8192)
        x = self.dropout(self.relu(self.fc6(x)))
        x = self.dropout(self.relu(self.fc7(x)))
        return self.fc8(x)


class ReferenceUNet(torch.nn.Module):
    """U-Net as the paper draws it (Ronneberger et al., 2015, figure 1): unpadded 3×3
    convolutions with ReLU, 2×2 max pooling, 2×2 up-convolutions halving the channels, the
    contracting path's feature map cropped to the expanding path's and concatenated before it,
    a 1×1 convolution to the classes."""

    def __init__(self, num_classes: int = 2, base: int = 64, padding: int = 0) -> None:
        super().__init__()

        nn = torch.nn

        def double(c_in: int, c_out: int) -> torch.nn.Module:
            return _Double(c_in, c_out, padding)

        widths = [base * 2**i for i in range(5)]
        self.down1 = double(1, widths[0])
        self.down2 = double(widths[0], widths[1])
        self.down3 = double(widths[1], widths[2])
        self.down4 = double(widths[2], widths[3])
        self.bottom = double(widths[3], widths[4])
        self.up4 = nn.ConvTranspose2d(widths[4], widths[3], 2, stride=2)
        self.dec4 = double(widths[4], widths[3])
        self.up3 = nn.ConvTranspose2d(widths[3], widths[2], 2, stride=2)
        self.dec3 = double(widths[3], widths[2])
        self.up2 = nn.ConvTranspose2d(widths[2], widths[1], 2, stride=2)
        self.dec2 = double(widths[2], widths[1])
        self.up1 = nn.ConvTranspose2d(widths[1], widths[0], 2, stride=2)
        self.dec1 = double(widths[1], widths[0])
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    @staticmethod
    def crop(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        dh, dw = x.shape[2] - like.shape[2], x.shape[3] - like.shape[3]
        return x[:, :, dh // 2 : dh // 2 + like.shape[2], dw // 2 : dw // 2 + like.shape[3]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d1 = self.down1(x)
        pool = torch.nn.functional.max_pool2d
        d2 = self.down2(pool(d1, 2))
        d3 = self.down3(pool(d2, 2))
        d4 = self.down4(pool(d3, 2))
        x = self.bottom(pool(d4, 2))
        for up, dec, skip in (
            (self.up4, self.dec4, d4),
            (self.up3, self.dec3, d3),
            (self.up2, self.dec2, d2),
            (self.up1, self.dec1, d1),
        ):
            x = up(x)
            x = dec(torch.cat([self.crop(skip, x), x], 1))
        return self.head(x)


class _Double(torch.nn.Module):
    def __init__(self, c_in: int, c_out: int, padding: int) -> None:
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=padding)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=padding)
        self.relu2 = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu2(self.conv2(self.relu1(self.conv1(x))))


class ReferenceRecursiveUNet(torch.nn.Module):
    """The same U-Net written recursively, as PyTorch code often writes it (the "U-Net skip
    connection block" of pix2pix's networks.py, for instance): a level holds the next one
    between its way down and its way up, down to the bottom level."""

    def __init__(
        self, num_classes: int = 2, base: int = 64, padding: int = 0, depth: int = 4
    ) -> None:
        super().__init__()
        self.level1 = _Level(1, base, depth, padding)
        self.head = torch.nn.Conv2d(base, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.level1(x))


class _Level(torch.nn.Module):
    def __init__(self, c_in: int, channels: int, depth: int, padding: int) -> None:
        super().__init__()
        nn = torch.nn
        self.down = _Double(c_in, channels, padding)
        self.inner: torch.nn.Module | None = None
        if depth > 0:
            self.pool = nn.MaxPool2d(2)
            self.inner = _Level(channels, channels * 2, depth - 1, padding)
            self.up = nn.ConvTranspose2d(channels * 2, channels, 2, stride=2)
            self.dec = _Double(channels * 2, channels, padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        down = self.down(x)
        if self.inner is None:
            return down
        up = self.up(self.inner(self.pool(down)))
        return self.dec(torch.cat([ReferenceUNet.crop(down, up), up], 1))


class TextClassifierLSTM(torch.nn.Module):
    """The text classifier as PyTorch code commonly writes it: an embedding with padding id
    0, an LSTM (batch first, dropout between layers, both directions), the output at the last
    step (``out[:, -1, :]``), dropout and a linear layer over both directions' features."""

    def __init__(
        self,
        vocab_size: int = 20000,
        embed_dim: int = 128,
        hidden_size: int = 256,
        num_layers: int = 2,
        bidirectional: bool = True,
        dropout: float = 0.3,
        num_classes: int = 4,
    ) -> None:
        super().__init__()
        nn = torch.nn
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(
            embed_dim,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout,
            bidirectional=bidirectional,
        )
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embedding(x))
        return self.fc(self.dropout(out[:, -1, :]))


# name: (the reference module's class, its parameters as published, the output of one sample)
HAND_WRITTEN: dict[str, tuple[type[torch.nn.Module], int, list[int]]] = {
    "dcgan_generator": (DCGANGenerator, 3_576_704, [3, 64, 64]),
    "dcgan_discriminator": (DCGANDiscriminator, 2_765_568, [1, 1, 1]),
    "m5": (TutorialM5, 26_915, [1, 35]),  # the tutorial's (batch, 1, 35) log-probabilities
    "c3d": (ReferenceC3D, 79_991_015, [487]),  # Sports-1M's 487 classes
    "unet": (ReferenceUNet, 31_030_658, [2, 388, 388]),  # the paper's 572×572 → 388×388
    "unet_recursive": (ReferenceRecursiveUNet, 31_030_658, [2, 388, 388]),  # the same network
    "text_lstm": (TextClassifierLSTM, 4_929_540, [4]),  # AG News' 4 classes
}
SMALLER = {"unet": [1, 188, 188], "unet_recursive": [1, 188, 188]}
"""Inputs the arithmetic test uses instead of the spec's (U-Net's 572×572 is 150 GMACs)."""


def state_layout(model: torch.nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def generated_class(spec: netspec.Spec) -> Any:
    """The model class of the file `netspec codegen` writes for the spec (at its defaults)."""
    namespace: dict[str, Any] = {"__name__": f"generated_{spec.name}"}
    exec(compile(spec.source(), f"<{spec.name}.py>", "exec"), namespace)
    return namespace[spec.class_name]


@pytest.mark.parametrize("name", list(HAND_WRITTEN))
def test_hand_written_layout(name: str) -> None:
    """The spec's analysis, its built module and the file `codegen` writes have the reference
    module's state_dict (keys, order, shapes), parameters and MACs; the .ns twin analyses the
    same."""
    reference_class, parameters, output = HAND_WRITTEN[name]
    spec = netspec.load(name)
    net = spec.network
    assert (net.totals.parameters, list(net.output)) == (parameters, output)
    with torch.device("meta"):
        reference_model = reference_class().eval()
        generated = generated_class(spec)()
    assert sum(p.numel() for p in reference_model.parameters()) == parameters
    assert state_layout(meta_build(spec)) == state_layout(reference_model)
    assert state_layout(generated) == state_layout(reference_model)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        reference_model(meta_input(net))
    assert net.totals.macs * 2 == counter.get_total_flops()
    twin = netspec.load(resolve(name).with_suffix(".ns"))
    assert twin.summary() | {"name": None} == spec.summary() | {"name": None}


@pytest.mark.parametrize("name", list(HAND_WRITTEN))
def test_hand_written_arithmetic(name: str) -> None:
    """Filled with the deterministic weights, the built module and the reference (loaded
    with the same state_dict, key by key) compute the same output for a batch of two (C3D for
    one clip at its full 3×16×112×112: 38.5 GMACs, some seconds of CPU)."""
    reference_class, _, output = HAND_WRITTEN[name]
    spec = netspec.load(name, input_shape=SMALLER.get(name))
    output = list(spec.network.output) if name in SMALLER else output
    batch = 1 if name == "c3d" else 2
    shape = [batch, *spec.network.input]
    built = load_fill(spec.build())
    reference_model = reference_class()
    reference_model.load_state_dict(built.state_dict())
    x = fixed_input(shape, spec.network.id_limit)
    with torch.no_grad():
        got = built(x)
        expected = reference_model.eval()(x)
    assert got.shape == expected.shape == (batch, *output)
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-5 * expected.abs().max().item())


@pytest.mark.parametrize(
    ("name", "params", "reference"),
    [
        ("dcgan_generator", {"nz": 128, "ngf": 32, "nc": 1}, lambda: DCGANGenerator(128, 32, 1)),
        ("dcgan_discriminator", {"nc": 1, "ndf": 16}, lambda: DCGANDiscriminator(1, 16)),
        ("m5", {"n_channel": 16, "num_classes": 10}, lambda: TutorialM5(n_output=10, n_channel=16)),
        ("m5", {"n_input": 2, "stride": 8}, lambda: TutorialM5(n_input=2, stride=8)),
        ("c3d", {"num_classes": 101}, lambda: ReferenceC3D(101)),  # UCF101
        ("unet", {"padding": 1, "base": 16, "num_classes": 3}, lambda: ReferenceUNet(3, 16, 1)),
        (
            "unet_recursive",
            {"padding": 1, "base": 16, "num_classes": 3, "depth": 2},
            lambda: ReferenceRecursiveUNet(3, 16, 1, depth=2),
        ),
        ("unet_recursive", {"depth": 0}, lambda: ReferenceRecursiveUNet(depth=0)),
        (
            "text_lstm",
            {"vocab_size": 1000, "hidden_size": 64, "num_layers": 1, "bidirectional": False},
            lambda: TextClassifierLSTM(1000, hidden_size=64, num_layers=1, bidirectional=False),
        ),
    ],
)
def test_hand_written_params(name: str, params: dict[str, Any], reference: Any) -> None:
    """The specs' params are the references' arguments — the input's channels follow nz, nc
    and n_input — in the analysis, the built module and the generated constructor."""
    spec = netspec.load(name, **params)
    with torch.device("meta"):
        reference_model = reference()
        generated = generated_class(netspec.load(name))(**params)
    expected = state_layout(reference_model)
    assert state_layout(meta_build(spec)) == expected == state_layout(generated)
    assert spec.network.totals.parameters == sum(p.numel() for p in reference_model.parameters())


def test_the_recursive_unet_is_the_unet() -> None:
    """One level containing the next is the paper's U-Net: the same totals as the flat spec
    (its state_dict keys nest: ``level1.inner.down.conv1.weight``), and its generated file is
    one class per kind of level, the recursion written as the paper draws it."""
    flat, recursive = netspec.load("unet").summary(), netspec.load("unet_recursive").summary()
    for key in ("parameters", "macs", "output", "input"):
        assert recursive[key] == flat[key]
    source = netspec.load("unet_recursive").source()
    classes = [line for line in source.splitlines() if line.startswith("class ")]
    assert classes == [
        "class DoubleConv(nn.Module):",
        "class Level(nn.Module):",
        "class RecursiveUNet(nn.Module):",
    ]
    assert "        if depth > 0:\n" in source
    assert "self.inner: nn.Module | None = Level(" in source
    assert "crop = center_crop(down, up)" in source
    keys = list(meta_build(netspec.load("unet_recursive")).state_dict())
    assert "level1.inner.inner.inner.inner.down.conv2.bias" in keys  # the bottom level
    assert not any(".inner.inner.inner.inner.inner." in key for key in keys)


def test_m5_outputs_log_probabilities_per_sample() -> None:
    """M5's output is the tutorial's: batch × 1 × classes, log-probabilities over the last
    dimension, for a batch of one-second clips at 8 kHz."""
    model = netspec.load("m5").build().eval()
    with torch.no_grad():
        out = model(torch.randn(3, 1, 8000))
    assert out.shape == (3, 1, 35)
    assert torch.allclose(out.exp().sum(dim=2), torch.ones(3, 1), atol=1e-5)


def test_c3d_sizes() -> None:
    """C3D's pools: the first keeps the 16 frames, the others halve all three dimensions,
    and pool5's padding makes 7×7 into 4×4, so fc6 reads 512·1·4·4 = 8192 features."""
    sizes = {
        layer["path"]: layer["output"]
        for layer in netspec.load("c3d").summary()["layers"]
        if layer["path"].startswith("pool")
    }
    assert sizes == {
        "pool1": [64, 16, 56, 56],
        "pool2": [128, 8, 28, 28],
        "pool3": [256, 4, 14, 14],
        "pool4": [512, 2, 7, 7],
        "pool5": [512, 1, 4, 4],
    }


def test_the_dcgan_generator_in_the_docs_is_the_bundled_one() -> None:
    text = (Path(__file__).parent.parent / "docs" / "language.md").read_text("utf-8")
    for suffix, lang in ((".yaml", "yaml"), (".ns", "ns")):
        bundled = resolve("dcgan_generator").with_suffix(suffix).read_text("utf-8")
        assert f"```{lang}\n{bundled}```\n" in text


# -- Vision Transformers --------------------------------------------------------------------------


def test_vit_builders_are_one_family() -> None:
    """Each ViT builder sets the family's params and nothing else, in both formats."""
    for name in ("vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14"):
        sets_its_family_params_only(name)


def test_vit_generated_file_reads_like_torchvisions(tmp_path: Path) -> None:
    """The encoder block is a class with its forward, the encoder a loop over its blocks,
    and the file imports on its own and computes build()'s output."""
    source = netspec.load("vit_b_16").source()
    assert "class EncoderBlock(nn.Module):" in source
    assert "self.self_attention(ln_1, ln_1, ln_1, need_weights=False)[0]" in source
    assert "for i in range(num_layers):" in source
    assert "encoder_layer_11" not in source  # a loop, not an unrolled graph
    assert "self.class_token = nn.Parameter(torch.zeros((1, 1, hidden_dim)))" in source
    small = netspec.load("vit_b_16", image_size=32, num_layers=2, num_classes=10)
    path = tmp_path / "vit.py"
    path.write_text(small.source())
    module_spec = importlib.util.spec_from_file_location("vit_generated", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    generated = getattr(module, small.class_name)()
    built = small.build()
    assert compare_state(generated, small.network) == []
    x = fixed_input([2, 3, 32, 32])
    generated.load_state_dict(built.state_dict())
    with torch.no_grad():
        expected = built.eval()(x)
        torch.testing.assert_close(generated.eval()(x), expected)
        exported = torch.export.export(generated, (x,))
        torch.testing.assert_close(exported.module()(x), expected)


def test_vit_explain_shows_the_attention_arithmetic() -> None:
    result = CliRunner().invoke(app, ["check", "vit_b_16", "--explain", "--depth", "0"])
    assert result.exit_code == 0, result.output
    assert "197 tokens of 768; 12 heads of 768 / 12 = 64" in result.output
    assert "MACs QKᵀ: 12·197·197·64 = 29,805,312 (scores 12×197×197)" in result.output
    assert "MACs AV: 12·197·197·64 = 29,805,312" in result.output
    assert "class_token 1×1×768 expanded over the batch, then 196×768: 1 + 196 = 197" in (
        result.output
    )


@pytest.mark.parametrize(
    ("args", "marker", "words"),
    [
        (["--set", "image_size=225"], "exact_div(", ["225 is not divisible by 16"]),
        (["--set", "patch_size=15"], "exact_div(", ["224 is not divisible by 15"]),
        (
            ["--set", "num_heads=5"],
            "self_attention:",
            ["num_heads=5 must divide the embedding dimension 768", "divisors of 768"],
        ),
    ],
)
def test_vit_bad_values_are_positioned_errors(
    args: list[str], marker: str, words: list[str]
) -> None:
    text = resolve("vit").read_text()
    line = text[: text.index(marker)].count("\n") + 1
    result = CliRunner().invoke(app, ["check", "vit", *args])
    assert result.exit_code == 2
    assert f"vit.yaml:{line}:" in result.output
    for word in words:
        assert word in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("layer", "words"),
    [
        ("select(1, 197)", "select: index 197 is out of range for dimension 1 of size 197"),
        ("select(3, 0)", "select: dim=3 is out of range for a 2-d input 197×768"),
        ("select(0, 0)", "select: dim=0 would index the batch"),
        ("permute([0, 2, 3, 1])", "has length 4, but the input 197×768 has 3 dimensions"),
    ],
)
def test_vit_token_plumbing_errors(layer: str, words: str, tmp_path: Path) -> None:
    text = resolve("vit").read_text().replace("  - select(1, 0)\n", f"  - {layer}\n", 1)
    assert layer in text
    path = tmp_path / "vit.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    assert words in result.output
    assert f"vit.yaml:{text[: text.index(layer)].count(chr(10)) + 1}:" in result.output


def test_vit_representation_size_adds_torchvisions_pre_logits() -> None:
    """torchvision's `representation_size`: a linear layer and a tanh before the head."""
    spec = netspec.load("vit_b_16", representation_size=512)
    model = meta_build(spec)
    assert list(model.state_dict())[-4:] == [
        "heads.pre_logits.weight",
        "heads.pre_logits.bias",
        "heads.head.weight",
        "heads.head.bias",
    ]
    assert [type(m).__name__ for m in model.heads] == ["Linear", "Tanh", "Linear"]
    head = 768 * 1000 + 1000
    assert spec.summary()["parameters"] == 86_567_656 - head + (768 + 1) * 512 + (512 + 1) * 1000


SWIN = ("swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b")


def test_swin_builders_are_one_family() -> None:
    """Each Swin builder sets the family's params and nothing else, in both formats."""
    for name in SWIN:
        sets_its_family_params_only(name)


def sets_its_family_params_only(name: str) -> None:
    """The builder's files, in both formats, extend the family and set params, nothing else."""
    for suffix in (".yaml", ".ns"):
        lines = resolve(name).with_suffix(suffix).read_text().splitlines()
        keys = {line.split()[0].rstrip(":") for line in lines if not line[0].isspace()}
        assert keys <= {"#", "netspec", "name", "class", "class_name", "description"} | {
            "extends",
            "params",
            "}",
        }
        assert "extends" in keys


@pytest.mark.parametrize("name", ["swin_t", "swin_v2_t"])
def test_swin_generated_file_reads_like_torchvisions(name: str, tmp_path: Path) -> None:
    """The block is a class with its forward, a stage a loop over its blocks; the file
    imports on its own, computes build()'s output, compiles and exports (a small config:
    two stages, windows of 4 on an 8×8 map, so that the second stage pads and is not
    shifted)."""
    source = netspec.load(name).source()
    if name == "swin_t":
        assert "class SwinTransformerBlock(nn.Module):" in source
        assert "norm1 = self.attn(norm1)" in source
    assert "class SwinTransformerBlockV2(nn.Module):" in source  # the family's classes
    assert "def shifted_window_attention(" in source
    assert "for j in range(depth):" in source  # a loop, not an unrolled graph
    small = netspec.load(
        name,
        image_size=32,
        embed_dim=16,
        depths=[2, 2],
        num_heads=[2, 4],
        window_size=4,
        num_classes=10,
    )
    generated_file_runs(small, tmp_path / f"{name}.py", [2, 3, 32, 32])


def generated_file_runs(spec: netspec.Spec, path: Path, shape: list[int]) -> None:
    """The spec's generated file, written to ``path``, imports on its own, builds the analysed
    state_dict, computes build()'s output on the fixed input of ``shape``, and compiles
    (fullgraph) and exports to the same."""
    path.write_text(spec.source())
    module_spec = importlib.util.spec_from_file_location(f"{path.stem}_generated", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    generated = getattr(module, spec.class_name)()
    built = spec.build()
    assert compare_state(generated, spec.network) == []
    assert compare_forward(built, spec.network) == []
    x = fixed_input(shape)
    generated.load_state_dict(built.state_dict())
    with torch.no_grad():
        expected = built.eval()(x)
        torch.testing.assert_close(generated.eval()(x), expected)
        compiled = torch.compile(generated, backend="eager", fullgraph=True)
        torch.testing.assert_close(compiled(x), expected)
        exported = torch.export.export(generated, (x,))
        torch.testing.assert_close(exported.module()(x), expected)


@pytest.mark.parametrize(
    ("args", "marker", "words"),
    [
        (
            ["--set", "num_heads=[3, 5, 12, 24]"],
            "attn:",
            ["num_heads=5 must divide the channels 192", "divisors of 192"],
        ),
        (
            ["--set", "use_v2=true", "--set", "num_heads=[3, 5, 12, 24]"],
            "swin_block_v2(",
            ["num_heads=5 must divide the channels 192", "divisors of 192"],
        ),
        (
            ["--set", "window_size=1", "--set", "use_v2=true"],
            "swin_block_v2(",
            ["window_size=1 leaves no relative positions", "a window of at least 2"],
        ),
    ],
)
def test_swin_bad_values_are_positioned_errors(
    args: list[str], marker: str, words: list[str]
) -> None:
    positioned_error("swin", "swin", marker, args, words)


def positioned_error(
    family: str, builder: str, marker: str, args: list[str], words: list[str]
) -> None:
    """``netspec check builder args`` exits 2 at the line of the family spec where ``marker``
    is first written, with ``words`` in its message and hint."""
    text = resolve(family).read_text()
    line = text[: text.index(marker)].count("\n") + 1
    result = CliRunner().invoke(app, ["check", builder, *args])
    assert result.exit_code == 2, result.output
    assert f"{family}.yaml:{line}:" in result.output
    for word in words:
        assert word in result.output
    assert "Traceback" not in result.output


def test_swin_accepts_maps_its_windows_do_not_divide() -> None:
    """torchvision pads each stage's map to a multiple of the window (and crops back): so
    does netspec, so a 256×256 image (64, 32, 16, 8 per stage against windows of 7) is a
    valid Swin-T input, as it is torchvision's."""
    spec = netspec.load("swin_t", image_size=256)
    assert spec.network.output == (1000,)
    with torch.device("meta"):
        model = spec.build().eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty(1, 3, 256, 256, device="meta"))
    assert spec.summary()["macs"] * 2 == counter.get_total_flops()


def test_maxvit_t_sets_the_family_params_only() -> None:
    sets_its_family_params_only("maxvit_t")


def test_maxvit_generated_file_reads_like_torchvisions(tmp_path: Path) -> None:
    """MBConv, MaxVitLayer, MaxVitBlock and PartitionAttentionLayer are classes with their own
    forward, a block a loop over its layers; the file imports on its own, computes build()'s
    output, compiles (fullgraph) and exports (a small config: two stages on a 64×64 image,
    partitions of 4 on 16×16 and 8×8 maps)."""
    source = netspec.load("maxvit_t").source()
    for cls in ("MBConv", "MaxVitLayer", "MaxVitBlock", "PartitionAttentionLayer"):
        assert f"class {cls}(nn.Module):" in source
    assert "class RelativePositionalMultiHeadAttention(nn.Module):" in source
    assert "for j in range(depth):" in source  # a loop, not an unrolled graph
    assert "        branch = self.proj(branch)\n" in source  # proj, a Sequential or nn.Identity
    small = netspec.load(
        "maxvit_t",
        image_size=64,
        stem_channels=16,
        block_channels=[16, 32],
        block_layers=[2, 1],
        head_dim=8,
        partition_size=4,
        num_classes=10,
    )
    generated_file_runs(small, tmp_path / "maxvit_small.py", [2, 3, 64, 64])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            # 256 → 64, 32, 16, 8 per stage: 7 divides none (torchvision refuses it too)
            ["--set", "image_size=256"],
            [
                "partition_size=7 must divide the map's height and width, found 64×64",
                "dividing both (1, 2, 4, 8, 16, 32, 64)",
            ],
        ),
        (
            ["--set", "head_dim=48"],
            ["head_dim=48 must divide the channels 64", "divisors of 64"],
        ),
    ],
)
def test_maxvit_bad_values_are_positioned_errors(args: list[str], words: list[str]) -> None:
    positioned_error("maxvit", "maxvit_t", "window_attention: partition_attention(", args, words)


def test_maxvit_explains_its_attention() -> None:
    result = CliRunner().invoke(app, ["check", "maxvit_t", "--explain", "--depth", "0"])
    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.output.splitlines()]
    assert "56×56: 64 windows of 7×7 = 49 tokens" in lines
    assert "56×56: 64 grids of 7×7 = 49 tokens, 8×8 apart" in lines
    assert "49 tokens of 64 per partition; 2 heads of 32 = 64 / 32" in lines
    assert "MACs QKᵀ: 64·2·49·49·32 = 9,834,496 (scores 64·2×49×49)" in lines
    assert "7×7: 1 grid of 7×7 = 49 tokens, 1×1 apart" in lines


def test_the_text_classifier_in_the_docs_is_the_bundled_one() -> None:
    text = (Path(__file__).parent.parent / "docs" / "language.md").read_text("utf-8")
    for suffix, lang in ((".yaml", "yaml"), (".ns", "ns")):
        bundled = resolve("text_lstm").with_suffix(suffix).read_text("utf-8")
        assert f"```{lang}\n{bundled}```\n" in text
    explained = CliRunner().invoke(app, ["check", "text_lstm", "--explain"]).stdout
    lines = [line.strip() for line in explained.splitlines()]
    start = text.index("lstm   lstm(256")
    shown = text[start : text.index("```", start)].splitlines()
    assert all(" ".join(line.split()) in {" ".join(x.split()) for x in lines} for line in shown)


def test_text_lstm_reads_token_ids_of_any_length() -> None:
    """The sequence length is a param (and the input): the LSTM's parameters do not depend on
    it, its MACs grow with it, and the built module classifies a batch of ids."""
    short, long = netspec.load("text_lstm", seq_len=16), netspec.load("text_lstm", seq_len=512)
    assert short.network.totals.parameters == long.network.totals.parameters == 4_929_540
    lstm = 2_359_296  # one step of both layers and directions
    assert (short.network.totals.macs, long.network.totals.macs) == (
        16 * lstm + 2_048,
        512 * lstm + 2_048,
    )
    model = short.build(verify=True).eval()
    with torch.no_grad():
        assert model(torch.randint(0, 20_000, (3, 16))).shape == (3, 4)
    with pytest.raises(RuntimeError):  # a float tensor is not ids (PyTorch refuses it too)
        model(torch.randn(3, 16))


def test_convnext_stages_must_chain() -> None:
    """A stage's input channels are what the downsampling before it gives: a block_setting
    whose rows do not chain (torchvision builds it, and its forward fails) is refused by check
    at the condition, and by the generated class."""
    bad = "[[96, 192, 3], [200, 384, 3], [384, 768, 9], [768, none, 3]]"
    text = resolve("convnext").read_text()
    line = text[: text.index("require: all(")].count("\n") + 1
    result = CliRunner().invoke(app, ["check", "convnext", "--set", f"block_setting={bad}"])
    assert result.exit_code == 2
    assert f"convnext.yaml:{line}:" in result.output
    assert "block_setting requires all(" in result.output
    cls = type(netspec.load("convnext_tiny").build())
    with pytest.raises(ValueError, match="block_setting requires all"):
        cls(block_setting=[[96, 192, 3], [200, 384, 3], [384, 768, 9], [768, None, 3]])
