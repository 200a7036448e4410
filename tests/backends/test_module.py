"""The module back end: built modules are ordinary, well-behaved PyTorch modules."""

from __future__ import annotations

import copy
import inspect
import io
import pickle
import subprocess
import sys
import traceback

import pytest
import torch

import netspec
from netspec.backends.module import compare_forward, compare_state, compile_source


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
    second = netspec.load("vgg11", num_classes=3).build()
    assert type(first) is type(second)
    assert second.classifier[-1].out_features == 3


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
