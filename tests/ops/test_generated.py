"""The generated code of the operators that bring their own helper definitions (``Permute``,
``Reshape``, ``LayerNorm2d``, ``ChannelShuffle``/``channel_shuffle``,
``StochasticDepth``/``stochastic_depth``) works with the rest of PyTorch, as the bundled
specs' code must (tests/backends/test_compat.py): in module and functional form, inside a
block compiled once for two widths (symbolic sizes), and from a written file that imports
only torch and passes ruff."""

from __future__ import annotations

import copy
import importlib.util
import io
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec.backends.module import compare_forward, compare_state
from netspec.ops import HELPERS

SPEC = """netspec: 1
name: mixer
input: [4, 8, 8]
params:
  groups: 2
  rate: 0.1
  width: 8
blocks:
  Block:
    doc: a ConvNeXt block with a channel shuffle
    params: [p]
    residual: true
    body:
      - dw: conv2d(in.channels, 3, padding=1, groups=in.channels)
      - shuffle: channel_shuffle(groups)
      - to_last: permute([0, 2, 3, 1])
      - norm: layer_norm(eps=1e-6)
      - fc1: linear(4 * in.channels)
      - act: gelu
      - fc2: linear(in.channels)
      - to_first: permute([0, 3, 1, 2])
      - drop: stochastic_depth(p)
  Down:
    params: [c]
    body:
      - layer_norm2d(eps=1e-6)
      - conv2d(c, 2, stride=2)
layers:
  - stem: conv2d(width, 1)
  - ln: layer_norm2d
  - stage1: Block(rate)
  - down: Down(2 * width)
  - stage2: Block(rate)
  - channel_shuffle(4)
  - hardsigmoid
  - stochastic_depth(rate, mode='batch')
  - permute([0, 2, 3, 1])
  - rs: reshape([-1, 2 * width])
  - layer_norm(elementwise_affine=false)
  - reshape([2 * width, -1])
  - flat: flatten
  - head: linear(10)
  - gate: hardsigmoid(inplace=true)
"""

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def spec() -> netspec.Spec:
    return netspec.loads(SPEC, name="mixer.yaml")


@pytest.fixture
def generated(spec: netspec.Spec, tmp_path: Path) -> Any:
    path = tmp_path / "mixer_model.py"
    path.write_text(spec.source())
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[path.stem] = module  # pickling a class needs its module importable
    module_spec.loader.exec_module(module)
    yield module
    del sys.modules[path.stem]


def test_every_helper_is_used(spec: netspec.Spec) -> None:
    source = spec.source()
    for name in ("Permute", "Reshape", "LayerNorm2d", "ChannelShuffle", "StochasticDepth"):
        assert f"\nclass {name}(" in source
    for name in ("channel_shuffle", "stochastic_depth"):
        assert f"\ndef {name}(" in source
        assert f"x = {name}(x, " in source  # the functional form
    assert "torchvision" not in source


def test_helpers_are_ruff_clean(tmp_path: Path) -> None:
    """A file that uses the helpers, and every helper definition, pass ruff with its default
    settings (as the golden files of the bundled specs must)."""
    model = tmp_path / "model.py"
    model.write_text(netspec.loads(SPEC).source())
    imports = (
        "import math\nfrom typing import Any\n\nimport torch\nimport torch.nn.functional as F\n"
        "from torch import nn"
    )
    helpers = tmp_path / "helpers.py"
    helpers.write_text(
        imports + "".join(f"\n\n\n{HELPERS[name].strip()}" for name in sorted(HELPERS)) + "\n"
    )
    for args in (["format", "--check", "--isolated"], ["check", "--isolated"]):
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *args, str(model), str(helpers)],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_written_file_computes_what_build_computes(spec: netspec.Spec, generated: Any) -> None:
    torch.manual_seed(0)
    built = spec.build().eval()
    model = generated.Mixer().eval()
    model.load_state_dict(built.state_dict())
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        expected = built(x)
        assert torch.equal(model(x), expected)
        for m in (built, model):
            buffer = io.BytesIO()
            torch.save(m, buffer)
            buffer.seek(0)
            assert torch.equal(torch.load(buffer, weights_only=False)(x), expected)
            assert torch.equal(copy.deepcopy(m)(x), expected)


def test_other_params_build_what_the_analysis_predicts(spec: netspec.Spec, generated: Any) -> None:
    for values in ({"groups": 4, "width": 16}, {"groups": 1, "width": 4, "rate": 0.0}):
        other = spec.replace(**values)
        model = generated.Mixer(**values)
        assert compare_state(model, other.network) == []
        assert compare_forward(model, other.network) == []


def test_pytorch_tools(spec: netspec.Spec) -> None:
    torch.manual_seed(0)
    model = spec.build().eval()
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        expected = model(x)
        compiled = torch.compile(model, backend="eager", fullgraph=True)
        assert torch.equal(compiled(x), expected)
        scripted = torch.jit.script(model)
        torch.testing.assert_close(scripted(x), expected)
        exported = torch.export.export(model, (x,))
        torch.testing.assert_close(exported.module()(x), expected)


def test_scripted_training_mode_drops_like_eager(spec: netspec.Spec) -> None:
    model = spec.build().train()
    scripted = torch.jit.script(copy.deepcopy(model))
    x = torch.randn(4, 4, 8, 8)
    torch.manual_seed(3)
    expected = model(x)
    torch.manual_seed(3)
    torch.testing.assert_close(scripted(x), expected)


def test_onnx_export(spec: netspec.Spec, tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    model = spec.build().eval()
    path = tmp_path / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.randn(2, 4, 8, 8),),
            str(path),
            dynamo=False,
            export_params=False,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        )
    graph = onnx.load(str(path)).graph
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_trains(spec: netspec.Spec) -> None:
    torch.manual_seed(0)
    model = spec.build().train()
    x = torch.randn(4, 4, 8, 8)
    target = torch.randint(0, 10, (4,))
    optimiser = torch.optim.SGD(model.parameters(), lr=1e-2)
    loss = torch.nn.functional.cross_entropy(model(x), target)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    optimiser.step()
    assert any(not torch.equal(before[k], v) for k, v in model.named_parameters())


def test_macs_on_the_meta_device(spec: netspec.Spec) -> None:
    """As the bundled-spec test measures them: built on the meta device, in training mode."""
    with torch.device("meta"):
        model = spec.build()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty(1, 4, 8, 8, device="meta"))
    assert spec.summary()["macs"] * 2 == counter.get_total_flops()
