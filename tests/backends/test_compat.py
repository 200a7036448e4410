"""Every bundled spec's generated code works with the rest of PyTorch.

For each spec, on a small input where the spec allows one: the generated file (imported on its
own) and the built module have the same state_dict and, with the same weights, identical
outputs; both survive ``torch.save``/``torch.load`` and ``copy.deepcopy``; the module traces in
full under ``torch.compile`` and ``torch.export.export``, scripts with ``torch.jit.script``,
exports to ONNX, and trains.
"""

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

import netspec
from netspec.backends.module import sample_input
from netspec.errors import NetspecError
from netspec.expand.ir import leaves
from netspec.spec.load import bundled_names, resolve

REFERENCE = Path(__file__).parent.parent / "reference" / "torchvision"


def family_names() -> list[str]:
    """One bundled spec per network family — those that extend no other — and the builders
    with a torchvision manifest (a variant of a family, such as EfficientNetV2's fused
    blocks). A builder that only sets its family's params generates the same classes (its
    source differs in defaults), so running PyTorch's tools and a training step on these
    covers the code of every bundled file."""
    return [
        name
        for name in bundled_names()
        if (REFERENCE / f"{name}.json").exists()
        or not any(line.startswith("extends:") for line in resolve(name).read_text().splitlines())
    ]


RECURRENT = {"lstm", "gru"}
"""Operators whose modules torch.compile traces with a graph break and TorchScript cannot
compile (see test_pytorch_tools)."""

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    """Bit-identical outputs need one thread: with several, the BLAS libraries may split a
    reduction differently from one call to the next when the machine is busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def small(name: str, resize: bool = True) -> netspec.Spec:
    """The spec, cheaper to run: the smallest of a few input sizes it accepts (or the first
    larger one), 10 classes, and one block per stage. Generated source does not depend on
    parameter values (they are the constructor's defaults), so the code under test is the same
    file as at full size."""
    default = netspec.load(name)
    params: dict[str, Any] = {}
    if "num_classes" in default.params:
        params["num_classes"] = 10
    for key in ("depths", "block_layers"):  # blocks per stage (MaxViT: layers per stage)
        depths = default.params.get(key)
        if isinstance(depths, tuple):
            params[key] = [1] * len(depths)
    if resize and "partition_size" in default.params:  # MaxViT's: one that divides every
        params["partition_size"] = 2  # stage's map at 64×64 (16, 8, 4, 2; 7 needs 224)
    if "num_layers" in default.params:  # a transformer's encoder blocks
        params["num_layers"] = 1
    channels, *rest = default.network.input
    # 64 first: at 32×32 the last stage of some nets is 1×1, where batch norm in training
    # normalises over the batch alone and one step of SGD need not descend; only sizes below
    # the spec's own (a generator's 1×1 input grows into its image); a clip keeps its frames
    order = (64, 96, 32) if len(rest) == 2 else (32, 64)  # a clip costs its frames over again
    sizes = tuple(s for s in order if rest and s < min(rest[-2:])) if resize else ()
    if sizes and len(rest) == 2:  # then, upwards, the first a network of valid convolutions
        sizes += tuple(range(max(order) + 4, min(rest), 4))  # takes (U-Net: 188, not 572)
    frames = tuple(rest[:-2])
    for size in sizes if len(rest) in (2, 3) else ():
        if "image_size" in default.params:  # a size the model's own tensors are made for
            params["image_size"] = size
        try:
            spec = netspec.load(name, input_shape=(channels, *frames, size, size), **params)
            spec.check()
            return spec
        except NetspecError:
            continue
    params.pop("image_size", None)  # the spec's own, with its own input
    return netspec.load(name, **params)


def import_generated(spec: netspec.Spec, tmp_path: Path) -> Any:
    path = tmp_path / f"{spec.name.replace('/', '_')}_model.py"
    path.write_text(spec.source())
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[path.stem] = module  # pickling a class needs its module importable
    module_spec.loader.exec_module(module)
    return getattr(module, spec.class_name)


def roundtrip(model: torch.nn.Module) -> torch.nn.Module:
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    loaded: torch.nn.Module = torch.load(buffer, weights_only=False)
    return loaded


@pytest.mark.parametrize("name", family_names())
def test_pytorch_tools(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    spec = small(name)
    shape = spec.network.input
    built = spec.build().eval()
    generated = import_generated(spec, tmp_path)().eval()
    assert [(k, v.shape) for k, v in generated.state_dict().items()] == [
        (k, v.shape) for k, v in built.state_dict().items()
    ]
    generated.load_state_dict(built.state_dict())
    x = sample_input(spec.network)
    assert tuple(x.shape[1:]) == tuple(shape)
    # torch.compile cannot trace nn.LSTM/nn.GRU in one graph ("Attempted to wrap RNN, GRU, or
    # LSTM"), and TorchScript cannot compile the helper's super().forward: a recurrent model
    # compiles with graph breaks, and exports
    recurrent = any(leaf.op.name in RECURRENT for leaf in leaves(spec.network.root))
    # build() executes the very source of the generated file: the two classes have one
    # bytecode, so tracing them (torch.compile, torch.export) once covers both; pickling and
    # TorchScript read where a class lives (its module, its source lines): both are run there
    assert type(built).__netspec_source__ == spec.source()  # type: ignore[attr-defined]
    with torch.no_grad():
        expected = built(x)
        assert torch.equal(generated(x), expected)
        for model in (built, generated):
            assert torch.equal(roundtrip(model)(x), expected)
            assert torch.equal(copy.deepcopy(model)(x), expected)
            if not recurrent:
                scripted = torch.jit.script(model)
                assert torch.allclose(scripted(x), expected, atol=1e-6)
        # in eval mode without grad, eager nn.MultiheadAttention takes its fused fast path,
        # which torch.compile does not trace: the two agree to rounding, not bit for bit
        fused = any(isinstance(m, torch.nn.MultiheadAttention) for m in built.modules())
        compiled = torch.compile(generated, backend="eager", fullgraph=not recurrent)
        if fused:
            assert torch.allclose(compiled(x), expected, atol=1e-6)
        else:
            assert torch.equal(compiled(x), expected)
        exported = torch.export.export(generated, (x,))
        assert torch.allclose(exported.module()(x), expected, atol=1e-6)


@pytest.mark.parametrize("name", family_names())
def test_onnx_export(name: str, tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    spec = small(name, resize=False)  # some adaptive pools only export at their real size
    model = spec.build().eval()
    path = tmp_path / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the TorchScript-based exporter, without weights: quick for every spec; the CLI test
        # below runs the default (dynamo) exporter end to end
        torch.onnx.export(
            model,
            (sample_input(spec.network),),
            str(path),
            dynamo=False,
            export_params=False,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        )
    graph = onnx.load(str(path)).graph
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_export_command(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    reference = pytest.importorskip("onnx.reference")
    path = tmp_path / "lenet.onnx"
    proc = subprocess.run(
        [sys.executable, "-m", "netspec", "export", "lenet5", "--onnx", str(path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    model = onnx.load(str(path))
    batch = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param  # a dynamic batch axis
    torch.manual_seed(0)
    x = torch.randn(3, 1, 32, 32)
    (out,) = reference.ReferenceEvaluator(model).run(None, {model.graph.input[0].name: x.numpy()})
    assert out.shape == (3, 10)
    again = subprocess.run(
        [sys.executable, "-m", "netspec", "export", "lenet5", "--onnx", str(path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 2 and "--force" in again.stderr


def test_compile_with_inductor() -> None:
    """The default torch.compile backend, once, on a small model (it compiles C++)."""
    model = netspec.load("lenet5").build().eval()
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(torch.compile(model)(x), model(x), atol=1e-5)


@pytest.mark.parametrize("name", family_names())
def test_trains(name: str) -> None:
    """One optimizer step changes the weights and lowers the loss on the same batch (the same
    seed gives the same dropout masks; batch norm uses the batch's statistics both times). The
    gradient is clipped so the step stays small enough to be a descent step."""
    spec = small(name)
    torch.manual_seed(0)
    model = spec.build().train()
    x = sample_input(spec.network, 4)
    out = spec.network.output
    if len(out) == 1:  # class scores
        target = torch.randint(0, out[0], (4,))
        loss_fn: Any = torch.nn.functional.cross_entropy
    else:  # a feature map (a block on its own)
        target = torch.randn(4, *out)
        loss_fn = torch.nn.functional.mse_loss
    optimiser = torch.optim.SGD(model.parameters(), lr=1e-3)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    torch.manual_seed(1)
    loss = loss_fn(model(x), target)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimiser.step()
    assert any(not torch.equal(before[k], v) for k, v in model.named_parameters())
    torch.manual_seed(1)
    with torch.no_grad():
        assert loss_fn(model(x), target) < loss


@pytest.mark.parametrize("opset", [11, 0, 999])
def test_export_writes_the_opset_asked_for_or_refuses(tmp_path: Path, opset: int) -> None:
    """torch's exporter falls back to its own opset with a warning only (netspec hides its
    warnings): the file had opset 18 where 11 was asked for, and the command said it wrote it."""
    onnx = pytest.importorskip("onnx")
    path = tmp_path / "lenet.onnx"
    proc = subprocess.run(
        [sys.executable, "-m", "netspec", "export", "lenet5", "--onnx", str(path)]
        + ["--opset", str(opset)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode == 0:  # an exporter that can convert to it
        versions = [o.version for o in onnx.load(str(path)).opset_import if o.domain == ""]
        assert versions == [opset]
        return
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: --opset: ")
    said = {11: "not 11", 0: "found 0", 999: "knows opsets up to"}[opset]
    assert said in proc.stderr
    if opset == 999:  # refused before building: no hint of a newer one
        assert "ask for an older one" in proc.stderr
    assert not path.exists() and list(tmp_path.iterdir()) == []  # nothing left behind
