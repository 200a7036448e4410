"""The module back end: built modules are ordinary, well-behaved PyTorch modules."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import io
import pickle
import runpy
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest
import torch

import netspec
from netspec.backends import module as module_backend
from netspec.backends.module import compare_forward, compare_state, compile_source
from netspec.errors import InternalError, NetspecError, ShapeError


@pytest.fixture(scope="module")
def lenet() -> torch.nn.Module:
    torch.manual_seed(0)
    return netspec.load("lenet5").build().eval()


def test_build_executes_exactly_the_generated_source() -> None:
    spec = netspec.load("alexnet_paper")
    model = spec.build()
    assert inspect.getsource(type(model)) in spec.source()
    assert type(model).__netspec_source__ == spec.source()  # type: ignore[attr-defined]


def test_one_class_per_distinct_source() -> None:
    first = netspec.load("vgg11").build()
    again = netspec.load("vgg11").build()
    second = netspec.load("vgg11", num_classes=3).build()
    assert type(first) is type(again)
    # the requested values are the constructor's defaults, as in `codegen --set`
    assert type(first) is not type(second)
    assert second.classifier[-1].out_features == 3
    assert type(second)().classifier[-1].out_features == 3


def test_source_is_compiled_once() -> None:
    text = netspec.load("lenet5").source()
    assert compile_source(text, "lenet5") is compile_source(text, "lenet5")


def _same(a: torch.nn.Module, b: torch.nn.Module) -> None:
    x = torch.randn(2, 1, 32, 32)
    assert type(a).__name__ == type(b).__name__
    assert a.state_dict().keys() == b.state_dict().keys()
    assert torch.equal(a.eval()(x), b.eval()(x))


def test_torch_save_and_load(lenet: torch.nn.Module) -> None:
    buffer = io.BytesIO()
    torch.save(lenet, buffer)
    buffer.seek(0)
    _same(lenet, torch.load(buffer, weights_only=False))


def test_pickle_and_deepcopy(lenet: torch.nn.Module) -> None:
    _same(lenet, pickle.loads(pickle.dumps(lenet)))
    _same(lenet, copy.deepcopy(lenet))


def test_unpickles_in_a_fresh_process(lenet: torch.nn.Module, tmp_path: object) -> None:
    data = pickle.dumps(lenet)
    script = (
        "import pickle, sys, torch\n"
        "model = pickle.loads(sys.stdin.buffer.read())\n"
        "print(type(model).__name__, sum(p.numel() for p in model.parameters()))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], input=data, capture_output=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode().split() == ["LeNet5", "61706"]


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_torchscript(lenet: torch.nn.Module) -> None:
    scripted = torch.jit.script(lenet)
    x = torch.randn(2, 1, 32, 32)
    assert torch.equal(scripted(x), lenet(x))


def test_tracebacks_show_generated_lines() -> None:
    model = netspec.load("lenet5").build()
    try:
        model(torch.randn(1, 3, 32, 32))  # wrong channels: fails inside forward
    except RuntimeError:
        text = "".join(traceback.format_exc())
    else:  # pragma: no cover
        raise AssertionError("expected a failure")
    assert "<netspec:lenet5:" in text
    assert "x = self.c1(x)" in text


def test_train_step_changes_weights_and_reduces_loss() -> None:
    torch.manual_seed(0)
    model = netspec.load("lenet5").build()
    x, y = torch.randn(8, 1, 32, 32), torch.randint(0, 10, (8,))
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05)
    before = model.c1.weight.detach().clone()
    loss0 = torch.nn.functional.cross_entropy(model(x), y)
    for _ in range(3):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimiser.step()
    assert not torch.equal(before, model.c1.weight)
    assert torch.nn.functional.cross_entropy(model(x), y) < loss0


def test_compare_reports_differences() -> None:
    spec = netspec.load("lenet5")
    other = netspec.load("lenet5", num_classes=3).build()
    problems = compare_state(other, spec.network)
    assert any("output.weight" in p for p in problems)
    assert any(p.startswith("parameters:") for p in problems)
    assert compare_forward(other, spec.network) != []


# -- build() is generated at the requested values and checked against the analysis ------------

KERNEL = (
    "netspec: 1\nname: k\ninput: [3, 16, 16]\nparams:\n  k: 7\n"
    "layers:\n  - conv: conv2d(8, k)\n  - flatten\n  - fc: linear(10)\n"
)
"""A kernel of 7 by default: an input of 5×5 needs ``k=3``."""


def test_build_uses_the_requested_params_and_input() -> None:
    spec = netspec.loads(KERNEL, input_shape=(3, 5, 5), k=3)
    summary = spec.summary()
    model = spec.build(verify=True)
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == {
        "conv.weight": [8, 3, 3, 3],
        "conv.bias": [8],
        "fc.weight": [10, 72],
        "fc.bias": [10],
    }
    assert sum(p.numel() for p in model.parameters()) == summary["parameters"] == 954
    assert list(model(torch.zeros(2, 3, 5, 5)).shape[1:]) == summary["output"] == [10]
    # the defaults do not fit that input: build refuses exactly as check does
    default = netspec.loads(KERNEL, input_shape=(3, 5, 5))
    with pytest.raises(ShapeError) as checked:
        default.check()
    with pytest.raises(ShapeError) as built:
        default.build()
    assert built.value.render() == checked.value.render()


def test_build_executes_what_codegen_writes_for_the_same_values() -> None:
    spec = netspec.loads(KERNEL, input_shape=(3, 5, 5), k=3)
    model = spec.build()
    assert type(model).__netspec_source__ == spec.source()  # type: ignore[attr-defined]
    assert "k: int = 3" in spec.source()
    assert type(model)().conv.kernel_size == (3, 3)  # the class alone builds the same module


def test_sources_are_generated_once_per_spec_params_and_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[Any] = []
    real = module_backend.generate

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module_backend, "generate", counting)
    spec = netspec.loads(KERNEL, input_shape=(3, 5, 5), k=3)
    spec.build()
    spec.build()
    assert spec.source() == type(spec.build()).__netspec_source__  # type: ignore[attr-defined]
    assert len(calls) == 1
    spec.replace(k=3).build()  # another Spec object, the same spec, the same values
    assert len(calls) == 1
    spec.replace(k=5).build()
    netspec.Spec(spec.spec, {"k": 3}).build()  # the spec's own input
    assert len(calls) == 3


def patch_source(monkeypatch: pytest.MonkeyPatch, old: str, new: str) -> None:
    """Make the Python back end write ``new`` where it writes ``old`` (a simulated bug)."""
    real = module_backend.generate

    def patched(*args: Any, **kwargs: Any) -> Any:
        gen = real(*args, **kwargs)
        assert old in gen.text
        return dataclasses.replace(gen, text=gen.text.replace(old, new))

    monkeypatch.setattr(module_backend, "generate", patched)


TWO = "netspec: 1\nname: two\ninput: [8]\nlayers:\n  - a: linear(4)\n  - relu\n  - b: linear(3)\n"


def test_a_module_that_disagrees_is_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    patch_source(monkeypatch, "self.a = nn.Linear(8, 4)", "self.a = nn.Linear(8, 5)")
    with pytest.raises(InternalError) as info:
        netspec.loads(TWO).build()
    error = info.value
    assert not isinstance(error, NetspecError)  # never mistaken for a problem with the spec
    assert error.message.startswith("the built module disagrees with the static analysis")
    assert "a.weight: static [4, 8], module [5, 8]" in error.message  # the first key
    assert "a.bias: static [4], module [5]" in error.details
    assert any(d.startswith("parameters:") for d in error.details)


def test_verify_compares_the_final_output(monkeypatch: pytest.MonkeyPatch) -> None:
    # every module's output is right, only what forward returns is not
    patch_source(monkeypatch, "        return x\n", "        return x[:, :2]\n")
    spec = netspec.loads(TWO)
    spec.build()  # the state_dict agrees
    with pytest.raises(InternalError, match=r"output: static \[3\], module \[2\]"):
        spec.build(verify=True)


def test_compare_forward_reports_the_output_shape() -> None:
    spec = netspec.loads(TWO)
    other = netspec.loads(TWO.replace("linear(3)", "linear(2)")).build()
    problems = compare_forward(other, spec.network)
    assert problems[-1] == "output: static [3], module [2]"


def test_built_source_evaluates_annotations_as_a_written_file(tmp_path: Path) -> None:
    """module.py's own ``from __future__ import annotations`` must not leak into the source
    it executes: an annotation a written file evaluates, build() evaluates too."""
    text = "import torch\n\nvalue: undefined_annotation = 1\n"
    path = tmp_path / "written.py"
    path.write_text(text)
    with pytest.raises(NameError, match="undefined_annotation"):
        runpy.run_path(str(path))
    with pytest.raises(NameError, match="undefined_annotation"):
        compile_source(text, "annotations")
    assert not any("annotations_" in name for name in sys.modules)  # nothing half-made kept
