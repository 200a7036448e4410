"""A pooling window whose ``ceil_mode`` is a param (``maxpool2d(2, ceil_mode=c)``) compiles:
the generated class takes ``c`` and passes ``ceil_mode=c`` on, and the sizes the generator
works out after the window (a later layer's ``in_features``) are PyTorch's for either value —
its ceil-mode rule, dropping a last window that would start in the right padding, included.
Checked against the static analysis at each value and against PyTorch's own forward pass."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, note
from hypothesis import strategies as st
from torch import nn
from typer.testing import CliRunner

import netspec
from netspec.backends.module import compare_forward, compare_state
from netspec.cli import app
from netspec.errors import NetspecError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

_COUNT = itertools.count()


def generated(spec: netspec.Spec, folder: Path) -> Any:
    """The module of the written file ``codegen`` gives for ``spec``."""
    path = folder / f"pool_ceil_{next(_COUNT)}.py"
    path.write_text(spec.source())
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def assert_agrees(text: str, names: tuple[str, ...], folder: Path) -> str:
    """The file generated at the defaults builds, for every value of the flags ``names``, the
    module the analysis at those values describes: every state_dict entry, every module's
    output shape in a real forward pass and the output. Returns the source."""
    spec = netspec.loads(text, name="spec.yaml")
    module = generated(spec, folder)
    for values in itertools.product((True, False), repeat=len(names)):
        params = dict(zip(names, values, strict=True))
        network = spec.replace(**params).network
        model = getattr(module, spec.class_name)(**params)
        assert compare_state(model, network) == [], params
        assert compare_forward(model, network) == [], params
    return spec.source()


def one_pool(op: str, shape: tuple[int, ...], window: str, default: str = "false") -> str:
    return (
        f"netspec: 1\nname: t\ninput: {list(shape)}\nparams:\n  c: {default}\nlayers:\n"
        f"  - p: {op}({window}, ceil_mode=c)\n  - flatten\n  - fc: linear(3)\n"
    )


RANKS = {"1d": (2, 8), "2d": (2, 8, 7), "3d": (2, 8, 7, 8)}


@pytest.mark.parametrize("default", ["false", "true"])
@pytest.mark.parametrize("rank", sorted(RANKS))
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_a_ceil_mode_param_compiles(tmp_path: Path, kind: str, rank: str, default: str) -> None:
    shape = RANKS[rank]
    text = one_pool(f"{kind}pool{rank}", shape, "3, stride=2")
    text = text.replace("c: false", f"c: {default}")
    source = assert_agrees(text, ("c",), tmp_path)
    assert f"def __init__(self, c: bool = {default.title()}) -> None:" in source
    assert f"self.p = nn.{kind.title()}Pool{rank}(3, stride=2, ceil_mode=c)" in source
    # 8 → 3 (rounded down) or 4 (up); 7 → 3 either way: the features after the window
    width = {"1d": "(4 if c else 3)", "2d": "(4 if c else 3) * 3", "3d": None}[rank]
    if width is not None:
        assert f"nn.Linear(2 * {width}, 3)" in source
    # PyTorch's own window, at each value, gives the sizes the analysis gives
    cls = getattr(nn, f"{kind.title()}Pool{rank}")
    for c in (True, False):
        y = cls(3, stride=2, ceil_mode=c)(torch.zeros(1, *shape))
        network = netspec.loads(text, c=c).network
        assert tuple(network.root.children[0].output) == tuple(y.shape[1:])


@pytest.mark.parametrize(
    ("op", "shape", "window"),
    [
        # ceil mode's extra window would start at 6, in the right padding of 5 + 1: dropped
        ("maxpool2d", (1, 5, 5), "2, stride=2, padding=1"),
        ("avgpool1d", (1, 5), "2, stride=2, padding=1"),
        ("maxpool3d", (1, 5, 3, 5), "2, stride=2, padding=1"),
        ("maxpool1d", (1, 7), "3, stride=3, padding=1"),
    ],
)
def test_a_window_in_the_right_padding_is_dropped(
    tmp_path: Path, op: str, shape: tuple[int, ...], window: str
) -> None:
    """Where PyTorch drops the extra window, rounding up gives what rounding down gives: the
    size is one number, for either value."""
    source = assert_agrees(one_pool(op, shape, window), ("c",), tmp_path)
    assert " if c else " not in source
    cls = getattr(nn, op.replace("pool", "Pool").replace("max", "Max").replace("avg", "Avg"))
    kwargs = dict(stride=int(window.split("stride=")[1][0]), padding=1)
    sizes = {
        tuple(cls(int(window[0]), ceil_mode=c, **kwargs)(torch.zeros(1, *shape)).shape)
        for c in (True, False)
    }
    assert len(sizes) == 1


CHAIN = """netspec: 1
name: t
input: [3, 99, 99]
params:
  c: false
  d: true
blocks:
  P:
    params: [m]
    body:
      - p: maxpool2d(3, stride=2, padding=1, ceil_mode=m)
      - q: avgpool2d(2, ceil_mode=m)
      - conv: conv2d(4, 1)
layers:
  - m0: maxpool2d(2, stride=2, ceil_mode=c)
  - b1: P(c)
  - b2: P(d)
  - b3: P(not c)
  - flatten
  - fc: linear(5)
"""


def test_a_chain_of_windows_on_params(tmp_path: Path) -> None:
    """Windows after windows, in blocks compiled once for every flag (``not c`` as well): a
    size stays a condition on the flags, not a condition on a condition on a size."""
    source = assert_agrees(CHAIN, ("c", "d"), tmp_path)
    assert "self.m0 = nn.MaxPool2d(2, stride=2, ceil_mode=c)" in source
    assert "self.b3 = P(4, not c)" in source
    # 99 → 49 or 50 → 25 → 13 → 7 or 6 → 4 → 2 or 1
    size = "((2 if d else 1) if not c else 1)"
    assert f"nn.Linear(\n            4 * {size} * {size}, 5\n        )" in source


def test_a_block_on_a_symbolic_size(tmp_path: Path) -> None:
    """A block compiled once for inputs of two sizes: its windows' sizes are worked out on
    ``in.height`` (symbolic), the ceil-mode rule's last-window test included."""
    text = """netspec: 1
name: t
input: [2, 21, 20]
params:
  c: true
blocks:
  B:
    params: [m]
    body:
      - p: maxpool2d(2, stride=2, padding=1, ceil_mode=m)
      - conv: conv2d(in.channels, 1)
layers:
  - b1: B(c)
  - b2: B(not c)
  - b3: B(c)
  - pool: maxpool2d(2, ceil_mode=c)
  - flatten
  - fc: linear(3)
"""
    assert_agrees(text, ("c",), tmp_path)


def test_netspec_build_with_either_value(tmp_path: Path) -> None:
    path = tmp_path / "chain.yaml"
    path.write_text(CHAIN)
    runner = CliRunner()
    for c, d in itertools.product(("true", "false"), repeat=2):
        args = ["build", str(path), "--set", f"c={c}", "--set", f"d={d}", "--verify"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "state_dict and forward shapes match the static analysis" in result.output
    result = runner.invoke(app, ["codegen", str(path)])
    assert result.exit_code == 0, result.output
    assert "def __init__(self, c: bool = False, d: bool = True) -> None:" in result.stdout


FLAGS = ["c", "not c", "d", "true", "false"]


@st.composite
def pool_specs(draw: st.DrawFn) -> str:
    """Pools of every kind and rank whose ceil_mode is a param (or a literal), at the top and
    in a block, with convolutions between, then a linear layer reading the size."""
    r = draw(st.sampled_from([1, 2, 3]))
    dims = draw(st.lists(st.integers(5, 30), min_size=r, max_size=r))

    def layer(flags: list[str]) -> str:
        if draw(st.integers(0, 3)) == 0:
            k = draw(st.integers(1, 3))
            return f"conv{r}d(2, {k}, padding={draw(st.integers(0, 1))})"
        kind = draw(st.sampled_from(["max", "avg"]))
        k = draw(st.integers(1, 4))
        stride = draw(st.integers(1, 3))
        pad = draw(st.integers(0, k // 2))
        flag = draw(st.sampled_from(flags))
        return f"{kind}pool{r}d({k}, stride={stride}, padding={pad}, ceil_mode={flag})"

    body = [layer([*FLAGS, "m"]) for _ in range(draw(st.integers(1, 3)))]
    top = [
        f"b{i}: B({draw(st.sampled_from(FLAGS))})"
        if draw(st.booleans())
        else f"l{i}: {layer(FLAGS)}"
        for i in range(draw(st.integers(1, 4)))
    ]
    c, d = (draw(st.sampled_from(["true", "false"])) for _ in "cd")
    return (
        f"netspec: 1\nname: t\ninput: [2, {', '.join(map(str, dims))}]\n"
        f"params:\n  c: {c}\n  d: {d}\n"
        "blocks:\n  B:\n    params: [m]\n    body:\n"
        + "".join(f"      - x{j}: {line}\n" for j, line in enumerate(body))
        + "layers:\n"
        + "".join(f"  - {line}\n" for line in top)
        + "  - flatten\n  - fc: linear(3)\n"
    )


@given(text=pool_specs())
def test_generated_pool_sizes_agree_for_every_flag(tmp_path_factory: Any, text: str) -> None:
    note(text)
    try:  # a spec some values of the flags make invalid (a window larger than its input)
        for c, d in itertools.product((True, False), repeat=2):
            netspec.loads(text, c=c, d=d).check()
    except NetspecError:
        return
    source = assert_agrees(text, ("c", "d"), tmp_path_factory.mktemp("gen"))
    assert len(source) < 4000, source
