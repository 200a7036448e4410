"""Blocks against PyTorch: random residual blocks, stages and branch blocks.

Each example is written twice — as a netspec spec and as the PyTorch code a person would write
for it (an independent oracle, below). netspec's static shapes and parameter counts must equal
the oracle's on a real tensor, netspec must reject exactly the compositions PyTorch fails on,
and the module netspec builds must agree with its own analysis.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, note
from hypothesis import strategies as st
from torch import nn

import netspec
from netspec.backends.module import compare_forward, compare_state, compile_source
from netspec.errors import NetspecError


@dataclass(frozen=True)
class Conv:
    out: int
    kernel: int
    stride: int
    padding: int
    groups: int

    def spec(self) -> str:
        return (
            f"conv2d({self.out}, {self.kernel}, stride={self.stride}, "
            f"padding={self.padding}, groups={self.groups}, bias=false)"
        )

    def torch(self, channels: int) -> nn.Module:
        return nn.Conv2d(
            channels,
            self.out,
            self.kernel,
            self.stride,
            self.padding,
            groups=self.groups,
            bias=False,
        )


convs = st.builds(
    Conv,
    out=st.sampled_from([2, 3, 4, 6, 8]),
    kernel=st.sampled_from([1, 2, 3]),
    stride=st.sampled_from([1, 1, 2]),
    padding=st.sampled_from([0, 1]),
    groups=st.sampled_from([1, 1, 2]),
)


# -- residual blocks ---------------------------------------------------------------------------


class Residual(nn.Module):
    """The oracle: body, an optional projected shortcut, add (or concat: a dense connection,
    the shortcut's channels first), ReLU."""

    def __init__(
        self, channels: int, body: list[Conv], project: Conv | None, merge: str = "add"
    ) -> None:
        super().__init__()
        self.merge = merge
        layers: list[nn.Module] = []
        c = channels
        for conv in body:
            layers += [conv.torch(c), nn.BatchNorm2d(conv.out), nn.ReLU()]
            c = conv.out
        self.body = nn.Sequential(*layers[:-1])  # no ReLU before the add
        self.project = (
            nn.Sequential(project.torch(channels), nn.BatchNorm2d(project.out))
            if project is not None
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = self.project(x) if self.project is not None else x
        if self.merge == "concat":
            return torch.relu(torch.cat([identity, self.body(x)], 1))
        return torch.relu(self.body(x) + identity)


def residual_spec(
    body: list[Conv],
    project: Conv | None,
    depth: int | None,
    shape: tuple[int, ...],
    merge: str = "add",
) -> str:
    lines = ["netspec: 1", "name: t", f"input: {list(shape)}", "blocks:", "  Res:", "    body:"]
    for i, conv in enumerate(body):
        lines += [f"      - conv{i}: {conv.spec()}", f"      - bn{i}: batchnorm2d"]
        if i < len(body) - 1:
            lines.append("      - relu")
    if project is not None:
        lines += ["    shortcut:", "      project:", f"        - {project.spec()}"]
        lines.append("        - batchnorm2d")
    else:
        lines.append("    shortcut: {}")
    lines += [f"    merge: {merge}", "    then: [relu]", "layers:"]
    lines.append(f"  - blocks: stage(Res, depth={depth})" if depth else "  - block: Res")
    return "\n".join(lines) + "\n"


def oracle(make: Any, shape: tuple[int, ...]) -> tuple[str, Any, int]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = make()
            y = module.eval()(torch.randn(2, *shape))
        return "ok", tuple(y.shape[1:]), sum(p.numel() for p in module.parameters())
    except (RuntimeError, ValueError) as exc:
        return "error", str(exc), None


def compare(text: str, make: Any, shape: tuple[int, ...]) -> None:
    note(text)
    real = oracle(make, shape)
    try:
        spec = netspec.loads(text)
        net = spec.check()
        static = ("ok", tuple(net.output), net.totals.parameters)
    except NetspecError as exc:
        static = ("error", exc.render(), None)
    note(f"netspec: {static}\ntorch:   {real}")
    assert static[0] == real[0], f"netspec {static[0]}, torch {real[0]}"
    if static[0] == "ok":
        assert static[1:] == real[1:]
        with torch.device("meta"):
            built = spec.build()
        assert compare_state(built, net) == []
        assert compare_forward(built, net) == []


shapes = st.tuples(st.sampled_from([2, 4, 6]), st.integers(3, 9), st.integers(3, 9))


@given(
    body=st.lists(convs, min_size=1, max_size=3),
    project=st.one_of(st.none(), convs),
    shape=shapes,
    merge=st.sampled_from(["add", "concat"]),
)
def test_residual_blocks(
    body: list[Conv], project: Conv | None, shape: tuple[int, ...], merge: str
) -> None:
    compare(
        residual_spec(body, project, None, shape, merge),
        lambda: Residual(shape[0], body, project, merge),
        shape,
    )


@given(
    body=st.lists(convs, min_size=1, max_size=2),
    project=st.one_of(st.none(), convs),
    depth=st.integers(1, 3),
    shape=shapes,
)
def test_stages(body: list[Conv], project: Conv | None, depth: int, shape: tuple[int, ...]) -> None:
    def make() -> nn.Module:
        blocks = []
        channels = shape[0]
        for _ in range(depth):
            blocks.append(Residual(channels, body, project))
            channels = body[-1].out
        return nn.Sequential(*blocks)

    # every block of the stage gets the same arguments here (none are first-only)
    compare(residual_spec(body, project, depth, shape), make, shape)


# -- branches ------------------------------------------------------------------------------------


class Branches(nn.Module):
    def __init__(self, channels: int, branches: list[list[Conv]], merge: str) -> None:
        super().__init__()
        self.paths = nn.ModuleList()
        for path in branches:
            layers: list[nn.Module] = []
            c = channels
            for conv in path:
                layers.append(conv.torch(c))
                c = conv.out
            self.paths.append(nn.Sequential(*layers))
        self.merge = merge

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [path(x) for path in self.paths]
        if self.merge == "concat":
            return torch.cat(outs, 1)
        total = outs[0]
        for out in outs[1:]:
            total = total + out
        return total


@given(
    branches=st.lists(st.lists(convs, min_size=1, max_size=2), min_size=2, max_size=3),
    merge=st.sampled_from(["concat", "add"]),
    shape=shapes,
)
def test_branch_blocks(branches: list[list[Conv]], merge: str, shape: tuple[int, ...]) -> None:
    lines = [
        "netspec: 1",
        "name: t",
        f"input: {list(shape)}",
        "blocks:",
        "  Split:",
        "    branches:",
    ]
    for i, path in enumerate(branches):
        lines.append(f"      b{i}:")
        lines += [f"        - {conv.spec()}" for conv in path]
    lines += [f"    merge: {merge}", "layers:", "  - split: Split"]
    compare("\n".join(lines) + "\n", lambda: Branches(shape[0], branches, merge), shape)


@given(
    branches=st.lists(st.lists(convs, min_size=1, max_size=2), min_size=1, max_size=3),
    shape=shapes,
)
def test_numbered_branches_are_a_module_list(
    branches: list[list[Conv]], shape: tuple[int, ...]
) -> None:
    """`branches` as a list: the paths are items 0, 1… of an nn.ModuleList (ASPP's `convs`),
    with its keys and, under the same weights, its output."""
    lines = ["netspec: 1", "name: t", f"input: {list(shape)}", "blocks:", "  Convs:"]
    lines.append("    branches:")
    for path in branches:
        lines.append("      -")
        lines += [f"        - {conv.spec()}" for conv in path]
    lines += ["layers:", "  - convs: Convs"]
    text = "\n".join(lines) + "\n"
    compare(text, lambda: Branches(shape[0], branches, "concat"), shape)
    try:
        built = netspec.loads(text).build()
    except NetspecError:
        return  # refused alike, compare() checked
    real = Branches(shape[0], branches, "concat")
    assert [(k.removeprefix("convs."), v.shape) for k, v in built.state_dict().items()] == [
        (k.removeprefix("paths."), v.shape) for k, v in real.state_dict().items()
    ]
    assert isinstance(built.convs, nn.ModuleList)
    built.convs.load_state_dict({k.removeprefix("paths."): v for k, v in real.state_dict().items()})
    x = torch.randn(1, *shape)
    assert torch.equal(built(x), real(x))


# -- examples ------------------------------------------------------------------------------------


def test_shortcut_mismatch_names_both_shapes() -> None:
    text = residual_spec([Conv(8, 3, 1, 1, 1)], None, None, (4, 8, 8))
    with pytest.raises(NetspecError) as info:
        netspec.loads(text).check()
    message = info.value.message
    assert "body 8×8×8" in message and "shortcut 4×8×8" in message
    assert info.value.where == "block"


def test_concat_mismatch_names_every_branch() -> None:
    text = (
        "netspec: 1\nname: t\ninput: [4, 8, 8]\nblocks:\n  S:\n    branches:\n"
        "      a: conv2d(2, 1)\n      b: conv2d(2, 3)\n      c: conv2d(2, 3, padding=1)\n"
        "layers:\n  - s: S\n"
    )
    with pytest.raises(NetspecError) as info:
        netspec.loads(text).check()
    message = info.value.message
    assert "a 2×8×8" in message and "b 2×6×6" in message and "c 2×8×8" in message
    assert info.value.span is not None and info.value.span.line == 6


def test_first_only_arguments_go_to_the_first_block() -> None:
    text = """netspec: 1
name: t
input: [8, 16, 16]
blocks:
  B:
    params: [width, stride = 1, dilation = 1]
    first_only: [stride, dilation]
    body:
      - conv: conv2d(width, 3, stride=stride, padding=dilation, dilation=dilation)
layers:
  - stage1: stage(B, depth=3, width=8, stride=2, dilation=2)
"""
    layers = netspec.loads(text).summary()["layers"]
    assert [layer["call"] for layer in layers] == [
        "conv2d(8, 3, stride=2, padding=2, dilation=2)",
        "conv2d(8, 3, padding=1)",
        "conv2d(8, 3, padding=1)",
    ]
    assert [layer["path"] for layer in layers] == [
        "stage1.0.conv",
        "stage1.1.conv",
        "stage1.2.conv",
    ]


def test_block_input_shape_is_in_scope() -> None:
    text = """netspec: 1
name: t
input: [6, 10, 12]
blocks:
  Same:
    params: [scale = 1]
    body:
      - conv: conv2d(in.channels * scale, 1)
      - pool: adaptive_avgpool2d([in.height // 2, in.width // 3])
layers:
  - a: Same
  - b: Same(scale=2)
"""
    summary = netspec.loads(text).summary()
    assert summary["output"] == [12, 2, 1]


# -- one meaning for check, build and codegen -----------------------------------------------------

DENSE = """netspec: 1
name: cat_residual
input: [8, 4, 4]
blocks:
  Grow:
    residual: true
    merge: concat
    body:
      - conv: conv2d(4, 3, padding=1)
layers:
  - a: Grow()
  - b: Grow()
"""


def test_a_residual_concat_is_a_dense_connection() -> None:
    """``merge: concat`` on a residual block is ``cat([x, body(x)], 1)`` in the analysis, the
    built module and its values (DenseNet's layer)."""
    spec = netspec.loads(DENSE)
    net = spec.check()
    assert net.output == (16, 4, 4) and net.totals.parameters == 728
    model = spec.build(verify=True)
    x = torch.randn(2, 8, 4, 4)
    a = torch.cat([x, model.a.conv(x)], 1)
    expected = torch.cat([a, model.b.conv(a)], 1)
    assert torch.equal(model(x), expected)
    assert "torch.cat([x, out], 1)" in spec.source()


def test_a_residual_concat_without_a_projection_keeps_equal_channels_apart() -> None:
    text = DENSE.replace("conv2d(4, 3", "conv2d(8, 3").replace(
        "merge: concat", "merge: concat\n    shortcut: {}"
    )
    spec = netspec.loads(text)
    assert spec.check().output == (24, 4, 4)
    model = spec.build(verify=True)
    assert model(torch.zeros(1, 8, 4, 4)).shape == (1, 24, 4, 4)


def test_a_block_reading_a_top_level_let_keeps_its_defaults() -> None:
    """Spec-level names a block reads are keyword-only arguments of its class, so a `let` value
    (which has no default) may follow defaulted params."""
    text = (
        "netspec: 1\nname: m\ninput: [3, 8, 8]\nlet:\n  momentum: 0.2\nblocks:\n  B:\n"
        "    params: [c, k = 3]\n    body:\n      - conv: conv2d(c, k, padding=k // 2)\n"
        "      - bn: batchnorm2d(momentum=momentum)\nlayers:\n  - a: B(4)\n  - b: B(8, k=5)\n"
    )
    spec = netspec.loads(text)
    source = spec.source()
    compile(source, "m.py", "exec")
    assert "k: int = 3, *, momentum: Any" in source
    model = spec.build(verify=True)
    assert model.b.bn.momentum == 0.2


@pytest.mark.parametrize(
    ("branches", "reader"),
    [
        ('keep: identity\n      act: ["relu(inplace=true)", "conv2d(4, 1)"]', "branch 'keep'"),
        ('act: ["relu(inplace=true)", "conv2d(4, 1)"]\n      keep: identity', "branch 'keep'"),
        ('a: ["dropout(0.1)", "relu(inplace=true)"]\n      b: conv2d(4, 1)', "branch 'b'"),
    ],
)
def test_an_in_place_layer_on_a_shared_tensor_is_refused(branches: str, reader: str) -> None:
    text = (
        "netspec: 1\nname: m\ninput: [4, 8, 8]\nblocks:\n  B:\n    branches:\n"
        f"      {branches}\n    merge: add\nlayers:\n  - conv: conv2d(4, 3, padding=1)\n"
        "  - b: B()\n"
    )
    with pytest.raises(NetspecError) as info:
        netspec.loads(text).check()
    err = info.value
    assert "writes in place into B's input" in err.message and reader in err.message
    line = 7 if "inplace" in branches.split("\n")[0] else 8
    assert err.span is not None and err.span.line == line
    assert err.hint and "inplace=true" in err.hint


def test_an_in_place_body_refused_where_the_shortcut_reads_its_input() -> None:
    text = (
        "netspec: 1\nname: m\ninput: [4, 8, 8]\nblocks:\n  R:\n    body:\n"
        "      - act: relu(inplace=true)\n      - conv: conv2d(4, 3, padding=1)\n"
        "    shortcut: {}\nlayers:\n  - r: R()\n"
    )
    with pytest.raises(NetspecError, match="which the add also reads"):
        netspec.loads(text).check()
    # after a layer that makes a new tensor, in place is fine (ResNet's own ReLUs)
    safe = text.replace(
        "      - act: relu(inplace=true)\n      - conv: conv2d(4, 3, padding=1)\n",
        "      - conv: conv2d(4, 3, padding=1)\n      - act: relu(inplace=true)\n",
    )
    netspec.loads(safe).build(verify=True)


# -- steps whose conditions are decided only when the generated code runs -------------------------

CASES = Path(__file__).parent / "cases"


def agree(text: str, **values: Any) -> None:
    """The analysis at ``values``, the module built for them, and the class generated at the
    defaults constructed with them: one network."""
    spec = netspec.loads(text, **values)
    net = spec.check()
    built = spec.build(verify=True)
    assert compare_state(built, net) == [] and compare_forward(built, net) == []
    cls = getattr(compile_source(netspec.loads(text).source()), spec.class_name)
    made = cls(**values)
    assert compare_state(made, net) == [] and compare_forward(made, net) == []


@pytest.mark.parametrize(
    ("case", "values"),
    [
        ("noparam", {}),  # a residual concat on a condition of the block's own input
        ("dense", {"dense": True}),
        ("dense", {"dense": False}),
        ("sc_concat2", {"w": 4}),
        ("sc_concat2", {"w": 6}),
        ("bcast", {"res": True}),  # a 1-channel body broadcast against the input
        ("bcast", {"res": False}),
        ("bc2", {"c": 1}),  # an add of a size known only at run time and a known one
        ("bc2", {"c": 4}),
        ("leaf", {}),  # a block class whose layers are all calls in forward
    ],
)
def test_conditional_steps_agree_at_every_value(case: str, values: dict[str, Any]) -> None:
    agree((CASES / f"{case}.yaml").read_text(), **values)


def test_in_place_after_a_block_that_makes_a_new_tensor_is_allowed() -> None:
    """`then` of a block without a merge reads the body's output, not the block's input."""
    netspec.loads((CASES / "fp1.yaml").read_text()).build(verify=True)


def test_in_place_after_a_block_that_passes_its_input_on_is_refused() -> None:
    with pytest.raises(NetspecError, match="writes in place into Mixed's input, which branch 'b'"):
        netspec.loads((CASES / "fn2.yaml").read_text()).check()


PASSED_ON = {
    # a body a false condition leaves empty passes the input on to an in-place `then`
    "empty body": (
        "params:\n  d: 0\nblocks:\n  R:\n    body:\n      - grp:\n          - if: d > 0\n"
        "            then:\n              - conv: conv2d(4, 1)\n"
        "    then:\n      drop: dropout(inplace=true)\nlayers:\n  - r: R()\n",
        [{"d": 0}, {"d": 1}],
    ),
    # a merge of one path passes that path's output on to the in-place layer after it
    "one-path concat": (
        "blocks:\n  R:\n    body:\n      - parallel:\n          - - conv: conv2d(4, 1)\n"
        "      - relu(inplace=true)\nlayers:\n  - r: R()\n",
        [{}],
    ),
    # a residual the values leave out: the in-place `then` reads the body's output alone
    "residual left out": (
        "params:\n  d: 0\nblocks:\n  R:\n    residual: d > 0\n    body:\n"
        "      conv: conv2d(4, 1)\n    then: relu(inplace=true)\nlayers:\n  - R()\n",
        [{"d": 0}, {"d": 1}],
    ),
}


@pytest.mark.parametrize("case", PASSED_ON)
def test_in_place_after_a_step_passing_its_input_on_reads_that_value_alone(case: str) -> None:
    """A step that passes its input on (a body left empty, a merge of one path or one not
    made) computes nothing: the layer after it is the value's only reader inside the block,
    so writing into it in place is what PyTorch does with it, at every value of the params."""
    text, values = PASSED_ON[case]
    for chosen in values:
        agree(f"netspec: 1\nname: m\ninput: [4, 8, 8]\n{text}", **chosen)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        # the other path still reads the input the in-place path writes into
        (
            "blocks:\n  R:\n    body:\n      - parallel:\n          - []\n"
            "          - [relu(inplace=true)]\n        merge: add\nlayers:\n  - r: R()\n",
            "writes in place into R's input, which the add also reads",
        ),
        # a block passing its input on to an in-place `then`, whose caller reads it later
        (
            "blocks:\n  R:\n    body: identity\n    then: dropout(inplace=true)\nlayers:\n"
            "  - t: relu\n  - r: R()\n  - j: add\n    from: [r, t]\n",
            "writes in place into 't', which 'j' also reads",
        ),
    ],
)
def test_in_place_on_a_value_another_step_reads_stays_refused(layers: str, message: str) -> None:
    with pytest.raises(NetspecError, match=message):
        netspec.loads(f"netspec: 1\nname: m\ninput: [4, 8, 8]\n{layers}").check()


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("    branches: {}\n", "`branches` needs at least one path"),
        (
            '    body: [conv: "conv2d(4, 1)"]\n    shortcut: {when: true}\n',
            "there is no `project`",
        ),
        (
            '    body: [conv: "conv2d(4, 1)"]\n'
            '    shortcut: {name: conv, project: ["conv2d(4, 1)"]}\n',
            "named 'conv', like a layer of the block",
        ),
    ],
)
def test_block_keys_that_cannot_mean_anything_are_refused(block: str, message: str) -> None:
    text = f"netspec: 1\nname: m\ninput: [4, 8, 8]\nblocks:\n  B:\n{block}layers:\n  - b: B()\n"
    with pytest.raises(NetspecError, match=message) as info:
        netspec.loads(text).check()
    assert info.value.span is not None


def test_the_summary_names_the_merge_of_each_block() -> None:
    from netspec.backends.summary import _block_call
    from netspec.expand.ir import BlockNode, walk

    net = netspec.load("googlenet").check()
    block = next(b for b in walk(net.root) if isinstance(b, BlockNode) and b.path == "inception3a")
    assert block.merge == "concat" and "[concat]" in _block_call(block)


REGRESSIONS = json.loads((CASES / "agreement_regressions.json").read_text())


@pytest.mark.parametrize("key", sorted(REGRESSIONS))
def test_specs_the_agreement_test_found_agree(key: str) -> None:
    """Minimal specs on which the analysis, build() and the generated file once disagreed."""
    case = REGRESSIONS[key]
    if case["input"] is None:
        agree(case["text"], **case["values"])
        return
    spec = netspec.loads(case["text"], input_shape=case["input"], **case["values"])
    net = spec.check()
    model = spec.build(verify=True)
    assert compare_state(model, net) == [] and compare_forward(model, net) == []


# -- gates, parallel paths, channel splits, learned tensors ---------------------------------------

GATE = """netspec: 1
name: gate
input: [8, 6, 6]
blocks:
  SE:
    params: [squeeze]
    residual: true
    merge: mul
    body:
      - avgpool: adaptive_avgpool2d(1)
      - fc1: conv2d(squeeze, 1)
      - activation: relu
      - fc2: conv2d(in.channels, 1)
      - scale_activation: sigmoid
layers:
  - se: SE(4)
"""


def test_a_residual_mul_is_a_gate() -> None:
    """``merge: mul`` multiplies the input by the body's C×1×1 output, broadcast (not adds)."""
    spec = netspec.loads(GATE)
    net = spec.check()
    assert net.output == (8, 6, 6) and net.totals.parameters == (8 * 4 + 4) + (4 * 8 + 8)
    model = spec.build(verify=True)
    se = model.se
    x = torch.randn(2, 8, 6, 6)
    scale = torch.sigmoid(se.fc2(torch.relu(se.fc1(x.mean((2, 3), keepdim=True)))))
    assert torch.allclose(model(x), scale * x)
    assert "out * x" in spec.source()


def test_a_gate_that_does_not_broadcast_names_both_shapes() -> None:
    text = GATE.replace("fc2: conv2d(in.channels, 1)", "fc2: conv2d(3, 1)")
    with pytest.raises(NetspecError) as info:
        netspec.loads(text).check()
    error = info.value
    assert "multiplied together" in error.message
    assert "3×1×1" in error.message and "8×6×6" in error.message
    assert error.span is not None and error.hint and "broadcast" in error.hint


FIRE = """netspec: 1
name: fire_net
input: [6, 5, 5]
blocks:
  Fire:
    params: [s, e]
    body:
      - squeeze: conv2d(s, 1)
      - squeeze_activation: relu(inplace=true)
      - parallel:
          - - expand1x1: conv2d(e, 1)
          - - expand3x3: conv2d(e, 3, padding=1)
            - parallel:
                - - a: conv2d(2, 1)
                - - maxpool2d(3, stride=1, padding=1)
                  - b: conv2d(2, 1)
layers:
  - fire: Fire(3, 4)
"""


def test_parallel_paths_are_the_blocks_own_layers() -> None:
    spec = netspec.loads(FIRE)
    net = spec.check()
    assert net.output == (4 + 2 + 2, 5, 5)
    model = spec.build(verify=True)
    keys = [k for k in model.state_dict() if k.endswith("weight")]
    assert keys == [f"fire.{n}.weight" for n in ("squeeze", "expand1x1", "expand3x3", "a", "b")]
    f = model.fire
    x = torch.randn(2, 6, 5, 5)
    s = torch.relu(f.squeeze(x))
    t = f.expand3x3(s)
    pooled = torch.nn.functional.max_pool2d(t, 3, stride=1, padding=1)
    expected = torch.cat([f.expand1x1(s), torch.cat([f.a(t), f.b(pooled)], 1)], 1)
    assert torch.allclose(model(x), expected)


def test_parallel_entries_elsewhere_are_refused_at_their_position() -> None:
    text = "netspec: 1\nname: p\ninput: [4, 8, 8]\nlayers:\n  - parallel:\n      - [relu]\n"
    with pytest.raises(NetspecError, match="written directly in a block's layers") as info:
        netspec.loads(text).check()
    assert info.value.span is not None and info.value.span.line == 5


SPLIT = """netspec: 1
name: split
input: [8, 4, 4]
blocks:
  Unit:
    params: [stride]
    branches:
      left:
        - if: stride > 1
          then:
            - conv2d(in.channels, 1, stride=stride)
      right:
        - conv2d(4, 3, stride=stride, padding=1)
    split: stride == 1
    then:
      - channel_shuffle(2)
layers:
  - a: Unit(1)
  - b: Unit(2)
"""


def test_a_split_gives_each_branch_its_part_of_the_channels() -> None:
    spec = netspec.loads(SPLIT)
    net = spec.check()
    assert net.output == (8 + 4, 2, 2)
    model = spec.build(verify=True)
    assert not hasattr(model.a, "left") or model.a.left is None  # no module where stride is 1
    x = torch.randn(2, 8, 4, 4)
    x1, x2 = x.chunk(2, 1)
    a = torch.cat([x1, model.a.right(x2)], 1)
    a = a.view(2, 2, 4, 4, 4).transpose(1, 2).reshape(2, 8, 4, 4)
    b = torch.cat([model.b.left(a), model.b.right(a)], 1)
    b = b.view(2, 2, 6, 2, 2).transpose(1, 2).reshape(2, 12, 2, 2)
    assert torch.equal(model(x), b)
    assert "x1, x2 = x.chunk(2, 1)" in spec.source()


def test_a_split_into_one_path_gives_it_the_whole_input() -> None:
    """A split into one part is the tensor itself: not ``chunk(1, 1)``, a tuple (the generated
    ``forward`` passed it on to the convolution, a TypeError), nor its item, a view of a
    multi-output function, which a later in-place layer cannot write into."""
    text = (
        "netspec: 1\nname: m\ninput: [4, 8, 8]\nblocks:\n  R:\n    branches:\n      b0:\n"
        "        - l1: conv2d(4, 1)\n    merge: add\n    split: true\nlayers:\n  - r: R()\n"
    )
    spec = netspec.loads(text)
    assert "x1 = x\n" in spec.source()
    model = spec.build(verify=True)
    x = torch.randn(2, 4, 8, 8)
    assert torch.equal(model(x), model.r.b0(x))
    torch.jit.script(model)
    # a block passing its one part on, then an in-place layer: trains
    passing = text.replace("        - l1: conv2d(4, 1)\n", "        - identity\n")
    passing += "  - act: relu(inplace=true)\n"
    passing = passing.replace("layers:\n  - r: R()", "layers:\n  - c0: conv2d(4, 1)\n  - r: R()")
    trained = netspec.loads(passing).build(verify=True)
    trained(torch.randn(2, 4, 8, 8)).sum().backward()


def test_an_in_place_layer_on_a_part_of_a_split_is_refused() -> None:
    """``x.chunk(2, 1)`` gives views of one tensor, which autograd refuses to let a layer
    write into (``relu_`` on one raises while training); refused from the text, as the other
    in-place rules are, so also where a condition leaves the split out."""
    text = (
        "netspec: 1\nname: m\ninput: [4, 8, 8]\nparams:\n  s: true\nblocks:\n  R:\n"
        "    branches:\n      a: conv2d(2, 1)\n      b:\n        - relu(inplace=true)\n"
        "        - conv2d(2, 1)\n    merge: concat\n    split: s\nlayers:\n  - r: R()\n"
    )
    for values in ({}, {"s": False}):
        with pytest.raises(NetspecError) as info:
            netspec.loads(text, **values).check()
        assert "writes in place into a part of R's channel split" in info.value.message
        assert info.value.span is not None and info.value.span.line == 11
    x = torch.randn(1, 4, 2, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="view"):
        x.chunk(2, 1)[1].relu_()
    netspec.loads(text.replace("relu(inplace=true)", "relu")).build(verify=True)


def test_a_split_that_does_not_divide_the_channels_names_both_numbers() -> None:
    text = SPLIT.replace("input: [8, 4, 4]", "input: [7, 4, 4]")
    with pytest.raises(NetspecError) as info:
        netspec.loads(text).check()
    assert "7 channels do not split into 2" in info.value.message
    assert info.value.span is not None and info.value.span.line == 14 and info.value.hint


SCALE = """netspec: 1
name: scaled_net
input: [4, 3, 3]
blocks:
  Scaled:
    params: [dim, init = 0.5]
    tensors:
      layer_scale: full([dim, 1, 1], init)
    residual: true
    body:
      - block:
          - conv2d(dim, 3, padding=1)
      - mul(layer_scale)
layers:
  - s: Scaled(4)
"""


def test_a_learned_tensor_is_the_blocks_own_parameter() -> None:
    spec = netspec.loads(SCALE)
    net = spec.check()
    assert net.totals.parameters == 4 + (4 * 9 * 4 + 4)
    model = spec.build(verify=True)
    assert list(model.state_dict())[0] == "s.layer_scale"  # a module's own tensors come first
    assert torch.equal(model.s.layer_scale, torch.full((4, 1, 1), 0.5))
    x = torch.randn(2, 4, 3, 3)
    assert torch.allclose(model(x), model.s.layer_scale * model.s.block(x) + x)
    source = spec.source()
    assert "self.layer_scale = nn.Parameter(torch.ones((dim, 1, 1)) * init)" in source


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("full([dim, 1, 1], init)", "full([3, 1, 1], init)"), "does not broadcast"),
        (("full([dim, 1, 1], init)", "randn([dim])"), "declared by an initialiser call"),
        (("full([dim, 1, 1], init)", "full(dim, init)"), "list of sizes written out, found dim"),
        (("full([dim, 1, 1], init)", "full([dim] + [1, 1], init)"), "written out, found \\[dim\\]"),
        (("      - mul(layer_scale)", "      - m: mul(layer_scale)"), "stands unnamed"),
        (("padding=1)\n", "padding=1)\n          - mul(layer_scale)\n"), "stands unnamed"),
        (("      - mul(layer_scale)", "      - dropout(layer_scale)"), "takes no learned tensor"),
        (("tensors:\n      layer_scale", "tensors:\n      block"), "named like a layer"),
    ],
)  # fmt: skip
def test_learned_tensors_used_wrongly_are_refused(change: tuple[str, str], message: str) -> None:
    text = SCALE.replace(*change)
    assert text != SCALE
    with pytest.raises(NetspecError, match=message) as info:
        netspec.loads(text).check()
    assert info.value.span is not None


# -- in-place layers after a layer whose output autograd keeps ----------------------------------

PRODUCERS: dict[str, tuple[str, Any]] = {
    "relu": ("relu", lambda: [nn.ReLU()]),
    "relu in place": ("relu(inplace=true)", lambda: [nn.ReLU(inplace=True)]),
    "relu6": ("relu6", lambda: [nn.ReLU6()]),
    "leaky_relu": ("leaky_relu", lambda: [nn.LeakyReLU()]),
    "leaky_relu in place": ("leaky_relu(inplace=true)", lambda: [nn.LeakyReLU(inplace=True)]),
    "sigmoid": ("sigmoid", lambda: [nn.Sigmoid()]),
    "tanh": ("tanh", lambda: [nn.Tanh()]),
    "silu in place": ("silu(inplace=true)", lambda: [nn.SiLU(inplace=True)]),
    "hardswish": ("hardswish", lambda: [nn.Hardswish()]),
    "hardsigmoid in place": ("hardsigmoid(inplace=true)", lambda: [nn.Hardsigmoid(inplace=True)]),
    "gelu": ("gelu", lambda: [nn.GELU()]),
    "softmax": ("softmax(dim=1)", lambda: [nn.Softmax(dim=1)]),
    "log_softmax": ("log_softmax(dim=1)", lambda: [nn.LogSoftmax(dim=1)]),
    "batchnorm": ("batchnorm2d", lambda: [nn.BatchNorm2d(4)]),
    "maxpool": ("maxpool2d(3, 1, 1)", lambda: [nn.MaxPool2d(3, 1, 1)]),
    # a layer passing its input on between them: the tensor written is the kept one
    "relu, identity": ("relu\n  - identity", lambda: [nn.ReLU(), nn.Identity()]),
    "relu, dropout": ("relu\n  - dropout(0.5)", lambda: [nn.ReLU(), nn.Dropout(0.5)]),
    # dropout with p = 0 passes its input on while training too
    "relu, dropout(0)": ("relu\n  - dropout(0.0)", lambda: [nn.ReLU(), nn.Dropout(0.0)]),
    "sigmoid, dropout, conv": (
        "sigmoid\n  - dropout(0.5)\n  - conv2d(4, 1)",
        lambda: [nn.Sigmoid(), nn.Dropout(0.5), nn.Conv2d(4, 4, 1)],
    ),
}
"""What runs between a convolution and an in-place layer: the spec's lines and PyTorch's."""
WRITERS: dict[str, Any] = {
    "relu(inplace=true)": lambda: nn.ReLU(inplace=True),
    "relu6(inplace=true)": lambda: nn.ReLU6(inplace=True),
    "leaky_relu(inplace=true)": lambda: nn.LeakyReLU(inplace=True),
    "silu(inplace=true)": lambda: nn.SiLU(inplace=True),
    "hardswish(inplace=true)": lambda: nn.Hardswish(inplace=True),
    "hardsigmoid(inplace=true)": lambda: nn.Hardsigmoid(inplace=True),
    "dropout(0.5, inplace=true)": lambda: nn.Dropout(0.5, inplace=True),
    "dropout2d(0.5, inplace=true)": lambda: nn.Dropout2d(0.5, inplace=True),
    "dropout(0.0, inplace=true)": lambda: nn.Dropout(0.0, inplace=True),  # writes nothing
}


def backward_fails(modules: list[nn.Module]) -> bool:
    """Whether PyTorch's ``backward()`` through ``modules`` fails on a tensor an in-place
    layer modified, in training or in eval mode (where dropout passes its input on)."""
    return backward_of(nn.Sequential(nn.Conv2d(4, 4, 1), *modules))


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("producer", PRODUCERS)
def test_an_in_place_layer_is_refused_exactly_where_backward_fails(
    producer: str, writer: str
) -> None:
    """PyTorch is the oracle: netspec refuses an in-place layer writing into a tensor autograd
    keeps (``relu``'s, ``sigmoid``'s output…) exactly where ``backward()`` fails, and
    accepts the others, whose built module trains."""
    lines, modules = PRODUCERS[producer]
    text = (
        "netspec: 1\nname: m\ninput: [4, 6, 6]\nlayers:\n  - conv2d(4, 1)\n"
        f"  - {lines}\n  - {writer}\n"
    )
    if backward_fails([*modules(), WRITERS[writer]()]):
        with pytest.raises(NetspecError) as info:
            netspec.loads(text).check()
        err = info.value
        assert "which PyTorch keeps to compute its gradient" in err.message
        assert err.span is not None and err.span.line == 7 + lines.count("\n")
        assert err.hint is not None and "drop inplace=true here" in err.hint
    else:
        model = netspec.loads(text).build(verify=True)
        model(torch.randn(2, 4, 6, 6)).sum().backward()


KEPT = "netspec: 1\nname: m\ninput: [4, 6, 6]\n"


@pytest.mark.parametrize(
    ("spec", "where", "kept"),
    [
        # a block ending in a kept output, then one beginning with an in-place layer; the
        # second call of Act is a copy of the first (same input), which meets the sigmoid
        (
            "blocks:\n  Gate:\n    body:\n      - conv: conv2d(4, 1)\n      - sig: sigmoid\n"
            "  Act:\n    body:\n      - act: relu(inplace=true)\n      - conv: conv2d(4, 1)\n"
            "layers:\n  - a1: Act()\n  - g: Gate()\n  - a2: Act()\n",
            "a2.act",
            "'g.sig'",
        ),
        # a block's `then` after its body, no merge between them
        (
            "blocks:\n  B:\n    body:\n      - conv: conv2d(4, 1)\n      - t: tanh\n"
            "    then:\n      - act: hardswish(inplace=true)\nlayers:\n  - b: B()\n",
            "b.act",
            "'b.t'",
        ),
        # `from:` reading a softmax's output, its only reader
        (
            "layers:\n  - s: softmax(dim=1)\n  - c: conv2d(4, 1)\n    from: input\n"
            "  - r: relu(inplace=true)\n    from: s\n  - j: add\n    from: [c, r]\n",
            "r",
            "'s'",
        ),
    ],
)
def test_an_in_place_layer_is_refused_after_a_kept_output_across_structure(
    spec: str, where: str, kept: str
) -> None:
    for reuse in (True, False):
        with pytest.raises(NetspecError) as info:
            netspec.loads(KEPT + spec).check() if reuse else expand_fresh(KEPT + spec)
        assert info.value.where == where, info.value
        assert f"({kept})" in info.value.message


def expand_fresh(text: str) -> None:
    """Expand ``text`` with no block copied from another expansion of it."""
    from netspec.expand.expander import expand  # noqa: PLC0415

    spec = netspec.loads(text)
    expand(spec.spec, dict(spec.params), reuse=False)


@pytest.mark.parametrize(
    "spec",
    [
        # a merge makes a new tensor: ResNet's `out += identity; relu(out)`, here in place
        "blocks:\n  R:\n    residual: true\n    body:\n      - conv: conv2d(4, 1)\n"
        "      - sig: sigmoid\n    then:\n      - act: relu(inplace=true)\nlayers:\n  - r: R()\n",
        # a squeeze-and-excitation gate multiplies: the product is a new tensor
        "blocks:\n  SE:\n    residual: true\n    body:\n      - pool: adaptive_avgpool2d(1)\n"
        "      - fc: conv2d(4, 1)\n      - gate: sigmoid\n    merge: mul\n"
        "layers:\n  - se: SE()\n  - act: relu(inplace=true)\n",
    ],
)
def test_an_in_place_layer_after_a_merge_of_kept_outputs_trains(spec: str) -> None:
    model = netspec.loads(KEPT + spec).build(verify=True)
    model(torch.randn(2, 4, 6, 6)).sum().backward()


def test_an_in_place_layer_after_an_lstm_is_refused() -> None:
    """The fused recurrent kernels (cuDNN's; the CPU's LSTM) compute gradients from the
    output: writing into it fails in backward, whichever device runs it."""
    text = (
        "netspec: 1\nname: m\ninput: [5, 8]\nlayers:\n  - rnn: lstm(6)\n"
        "  - drop: dropout(0.5, inplace=true)\n"
    )
    with pytest.raises(NetspecError, match=r"output of lstm\(.*\) \('rnn'\)"):
        netspec.loads(text).check()
    assert backward_fails_on_lstm()


def backward_fails_on_lstm() -> bool:
    rnn = nn.LSTM(8, 6, batch_first=True)
    out = rnn(torch.randn(2, 5, 8))[0]
    nn.functional.dropout(out, 0.5, True, inplace=True)
    try:
        out.sum().backward()
    except RuntimeError as exc:
        return "modified by an inplace operation" in str(exc)
    return False


def test_an_in_place_layer_reading_a_tensor_an_earlier_entry_read_is_refused() -> None:
    """The last of a tensor's readers may not write into it where an earlier reader, a
    convolution, keeps it to compute its weights' gradient: backward fails."""
    text = (
        "netspec: 1\nname: m\ninput: [4, 6, 6]\nlayers:\n  - t: batchnorm2d\n"
        "  - a: conv2d(4, 1)\n  - r: relu(inplace=true)\n    from: t\n  - j: add\n"
        "    from: [a, r]\n"
    )
    with pytest.raises(NetspecError, match="into 't', which 'a' reads before it and may keep"):
        netspec.loads(text).check()
    bn, conv = nn.BatchNorm2d(4), nn.Conv2d(4, 4, 1)
    t = bn(torch.randn(2, 4, 6, 6))
    a = conv(t)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        (a + t.relu_()).sum().backward()
    netspec.loads(text.replace("relu(inplace=true)", "relu")).build(verify=True)


STRUCTURED: dict[str, tuple[str, str, bool]] = {
    # (layers and blocks, the in-place layer's path, whether PyTorch's backward fails)
    "a block's second input": (
        "blocks:\n  B:\n    inputs: [a, b]\n    body:\n      - r: relu(inplace=true)\n"
        "        from: b\n      - j: add\n        from: [a, r]\nlayers:\n  - c: conv2d(4, 1)\n"
        "  - s: sigmoid\n  - c2: conv2d(4, 1)\n    from: c\n  - blk: B()\n    from: [c2, s]\n",
        "blk.r",
        True,
    ),
    "a child of a sequence in a block": (
        "blocks:\n  B:\n    body:\n      - seq:\n          - conv2d(4, 1)\n          - sigmoid\n"
        "      - r: relu(inplace=true)\n        from: seq.1\n      - c: conv2d(4, 1)\n"
        "layers:\n  - b: B()\n",
        "b.r",
        True,
    ),
    # crop gives a view of its first tensor
    "after a crop of a kept output": (
        "layers:\n  - c: conv2d(4, 1)\n  - s: sigmoid\n  - c2: conv2d(4, 3)\n  - k: crop\n"
        "    from: [s, c2]\n  - r: relu(inplace=true)\n",
        "r",
        True,
    ),
    "after a crop of a tensor a convolution read": (
        "layers:\n  - d: conv2d(4, 1)\n  - e: conv2d(4, 3)\n  - k: crop\n    from: [d, e]\n"
        "  - r: relu(inplace=true)\n  - j: add\n    from: [r, e]\n",
        "r",
        True,
    ),
    # a concatenation of one path copies it
    "after a concat of one path": (
        "blocks:\n  B:\n    branches:\n      b1:\n        - c: conv2d(4, 1)\n        - s: sigmoid\n"
        "    merge: concat\nlayers:\n  - blk: B()\n  - r: relu(inplace=true)\n",
        "r",
        False,
    ),
    # the last reader of a tensor whose earlier reader keeps its own output, not the tensor
    "the last reader, after a sigmoid reading the tensor": (
        "layers:\n  - t: conv2d(4, 1)\n  - a: sigmoid\n    from: t\n  - r: relu(inplace=true)\n"
        "    from: t\n  - j: mul\n    from: [a, r]\n",
        "r",
        False,
    ),
    # a block passing on the one part of its split (the tensor itself)
    "after a one-part split passed on": (
        "blocks:\n  B:\n    branches:\n      b1:\n        - identity\n    merge: add\n"
        "    split: true\nlayers:\n  - c: conv2d(4, 1)\n  - b: B()\n  - r: relu(inplace=true)\n",
        "r",
        False,
    ),
}


@pytest.mark.parametrize("case", STRUCTURED)
def test_in_place_writes_through_structure_are_refused_where_backward_fails(case: str) -> None:
    """netspec's verdict against PyTorch's: the spec built with the layer out of place, then
    its module switched to in place, trained and evaluated."""
    layers, path, fails = STRUCTURED[case]
    text = KEPT + layers
    calm = netspec.loads(text.replace("relu(inplace=true)", "relu")).build(verify=True)
    calm.get_submodule(path).inplace = True
    assert backward_of(calm) == fails
    if fails:
        with pytest.raises(NetspecError) as info:
            netspec.loads(text).check()
        assert info.value.where == path
    else:
        backward_of(netspec.loads(text).build(verify=True))


def backward_of(model: nn.Module) -> bool:
    """Whether ``backward()`` fails on an in-place write, in training or in eval mode."""
    for training in (True, False):
        model.train(training)
        try:
            model(torch.randn(2, 4, 6, 6)).sum().backward()
        except RuntimeError as exc:
            if "modified by an inplace operation" not in str(exc):
                raise
            return True
    return False
