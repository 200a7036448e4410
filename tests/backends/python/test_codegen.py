"""The Python back end: generated source is what a person would write, and it is right.

- every bundled spec has a golden file (regenerate with ``NETSPEC_UPDATE_GOLDEN=1``), which
  ``ruff format --check`` and ``ruff check`` accept with their default settings;
- generation is deterministic and the file needs only torch;
- the generated constructor takes the spec's params: building with other values gives the
  network the static analysis predicts for those values — checked on the bundled specs and on
  random specs with loops, conditions and sizes that depend on the params.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
import yaml
from hypothesis import assume, given, note
from hypothesis import strategies as st

import netspec
from netspec.backends.module import compare_forward, compare_state, compile_source
from netspec.backends.python import emit
from netspec.errors import NetspecError
from netspec.expr import nodes
from netspec.expr import render as rendering
from netspec.spec.load import bundled_names
from tests.conftest import assert_codegen_refuses, spec_text

GOLDEN = Path(__file__).parent.parent.parent / "golden"


def _golden_name(name: str) -> str:
    return name.replace("/", "__") + ".py"


@pytest.mark.parametrize("name", bundled_names())
def test_golden_source(name: str) -> None:
    text = netspec.load(name).source()
    path = GOLDEN / _golden_name(name)
    if os.environ.get("NETSPEC_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file for {name}; run with NETSPEC_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{name}: generated source changed"


def test_no_bundled_class_holds_a_layer_refused_for_every_value() -> None:
    """A bundled spec's class raises only for values a param check refuses (a count, a
    choice, a requirement), never a layer's error positioned in the spec: the generated code
    for a layer check accepts at the defaults is no refusal (an attribute list of symbolic
    items was once validated as if it were wrong, in nearly every bundled class). An
    operator's check of values the class is given writes them (an f-string: `eps=…`)."""
    positioned = re.compile(r"raise ValueError\(\s*\"[^\"]*\.(yaml|ns):[0-9]+:[0-9]+: ")
    files = sorted(GOLDEN.glob("*.py"))
    assert len(files) == len(bundled_names())
    refusing = [p.name for p in files if positioned.search(p.read_text())]
    assert not refusing


def test_golden_files_are_ruff_clean() -> None:
    files = sorted(str(p) for p in GOLDEN.glob("*.py"))
    assert files
    for args in (["format", "--check", "--isolated"], ["check", "--isolated"]):
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *args, *files], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_vgg16_is_short() -> None:
    assert len(netspec.load("vgg16").source().splitlines()) <= 80


def test_deterministic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = netspec.load("vgg16_bn").source()
    monkeypatch.chdir(tmp_path)
    assert netspec.load("vgg16_bn").source() == first


def test_header_names_the_spec_and_its_digest() -> None:
    spec = netspec.load("alexnet")
    text = spec.source()
    assert "from alexnet.yaml" in text
    assert f"spec digest {spec.spec.digest()}" in text


def _import(path: Path) -> Any:
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["lenet5", "alexnet_paper", "vgg11_bn"])
def test_generated_file_stands_alone(tmp_path: Path, name: str) -> None:
    spec = netspec.load(name)
    text = spec.source()
    assert "netspec" not in "".join(line for line in text.splitlines() if "import" in line)
    path = tmp_path / "model.py"
    path.write_text(text)
    module = _import(path)
    with torch.device("meta"):
        model = getattr(module, spec.class_name)()
    assert compare_state(model, spec.network) == []


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("vgg", {"depth": 19, "batch_norm": True, "num_classes": 10}),
        ("vgg11", {"depth": 13, "dropout": 0.1}),
        ("lenet5", {"num_classes": 3}),
        ("alexnet", {"num_classes": 7}),
    ],
)
def test_constructor_takes_the_spec_params(
    tmp_path: Path, name: str, params: dict[str, Any]
) -> None:
    spec = netspec.load(name, **params)
    path = tmp_path / "model.py"
    path.write_text(netspec.load(name).source())
    with torch.device("meta"):
        model = getattr(_import(path), spec.class_name)(**params)
    assert compare_state(model, spec.network) == []
    assert compare_forward(model, spec.network) == []


# -- random specs ---------------------------------------------------------------------------------

channels = st.sampled_from(["width", "width * 2", "4", "max(width, 3)"])


@st.composite
def conv(draw: Any, channels: Any = channels) -> str:
    k = draw(st.sampled_from([1, 2, 3]))
    pad = draw(st.sampled_from([0, 1]))
    stride = draw(st.sampled_from([1, 1, 2]))
    return f"conv2d({draw(channels)}, {k}, stride={stride}, padding={pad})"


step = st.deferred(
    lambda: st.one_of(
        conv(),
        st.sampled_from(
            ["relu", "batchnorm2d", "maxpool2d(2)", "identity", "avgpool2d(3, stride=1, padding=1)"]
        ),
        st.builds(
            lambda body: {"if": "use_bn", "then": body}, st.lists(step, min_size=1, max_size=2)
        ),
        st.builds(
            lambda body, other: {"if": "depth > 1", "then": body, "else": other},
            st.lists(step, min_size=1, max_size=2),
            st.lists(step, max_size=2),
        ),
        st.builds(
            lambda body: {"repeat": "depth", "do": body}, st.lists(step, min_size=1, max_size=3)
        ),
        st.builds(
            lambda body: {"repeat": "depth", "as": "i", "do": body},
            st.lists(st.just("conv2d(width + i, 3, padding=1)"), min_size=1, max_size=2),
        ),
        st.builds(
            lambda body: {"for": "w in widths", "do": body},
            st.lists(st.one_of(conv(st.just("w")), st.just("relu")), min_size=1, max_size=2),
        ),
        st.builds(
            lambda k: f"conv2d(width, {k}, padding={k} // 2) if use_bn else relu",
            st.sampled_from([1, 3]),
        ),
    )
)

heads = st.sampled_from(
    [
        [{"pool": "adaptive_avgpool2d(1)"}, "flatten", {"fc": "linear(classes)"}],
        ["flatten", {"fc": "linear(classes)"}],  # in_features depend on every size before
        ["flatten", {"fc": "linear(classes * 2)"}, "relu", {"out": "linear(classes)"}],
        [],
    ]
)


@st.composite
def random_spec(draw: Any) -> str:
    data = {
        "netspec": 1,
        "name": "random",
        "input": [draw(st.integers(1, 3)), draw(st.integers(6, 16)), draw(st.integers(6, 16))],
        "params": {"width": 3, "use_bn": False, "depth": 1, "classes": 4},
        "let": {"widths": draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))},
        "layers": [
            {"stem": draw(conv())},
            {"body": draw(st.lists(step, max_size=5))},
            *draw(heads),
        ],
    }
    return yaml.safe_dump(data, sort_keys=False)


params = st.fixed_dictionaries(
    {
        "width": st.integers(1, 6),
        "use_bn": st.booleans(),
        "depth": st.integers(0, 3),
        "classes": st.integers(1, 5),
    }
)


@given(text=random_spec(), values=params)
def test_generated_code_builds_what_the_analysis_predicts(
    text: str, values: dict[str, Any]
) -> None:
    note(text)
    note(f"params: {values}")
    try:
        netspec.loads(text).check()  # the defaults must work: the source is generated there
        spec = netspec.loads(text, **values)
        net = spec.network
    except NetspecError:
        assume(False)
        return
    # the source generated at the defaults, its constructor called with the values: what a
    # user of a written file does (build() bakes the values in as defaults instead)
    source = netspec.loads(text).source()
    note(source)
    cls = getattr(compile_source(source), spec.class_name)
    defaults = netspec.loads(text).params
    with torch.device("meta"):
        model = cls(
            **{
                k: v
                for k, v in spec.params.items()
                if (v, type(v)) != (defaults[k], type(defaults[k]))
            }
        )
    assert compare_state(model, net) == []
    assert compare_forward(model, net) == []


def test_block_input_shape_and_rank_compile() -> None:
    """`in.shape` and `in.rank` become the block's input-size arguments in generated code."""
    text = (
        "netspec: 1\nname: r\ninput: [3, 28, 28]\nblocks:\n  B:\n    params: [c]\n"
        "    let:\n      k: in.shape[1] // 4\n      r: in.rank\n    body:\n"
        "      - conv2d(c * r, k)\nlayers:\n  - b: B(2)\n  - flatten\n"
    )
    spec = netspec.loads(text)
    source = spec.source()
    assert "in.shape" not in source and "in.rank" not in source
    model = spec.build()
    assert compare_state(model, spec.network) == []
    assert compare_forward(model, spec.network) == []


@pytest.mark.parametrize(
    ("default", "annotation"),
    [
        ("[null, null]", "tuple[None, ...]"),
        ("[1, 2.5]", "tuple[float, ...]"),  # a list of numbers holds floats
        ("[[1], [2]]", "tuple[tuple[int, ...], ...]"),
        ("[[1], [2.5]]", "tuple[tuple[Any, ...], ...]"),
        ("[1, null]", "tuple[int | None, ...]"),
    ],
)
def test_list_params_are_annotated_with_types_that_exist(default: str, annotation: str) -> None:
    text = (
        f"netspec: 1\nname: m\ninput: [3, 8, 8]\nparams:\n  xs: {default}\n"
        "layers:\n  - conv2d(4, 1)\n"
    )
    spec = netspec.loads(text)
    source = spec.source()
    assert f"xs: {annotation} = " in source
    namespace: dict[str, Any] = {}
    exec(compile(source, "m.py", "exec"), namespace)  # annotations evaluated, as in a file
    assert compare_state(namespace["M"](), spec.network) == []


def test_golden_files_type_check() -> None:
    """The generated files are typed code: mypy accepts them (a block parameter's annotation
    admits every value the spec passes, ``padding: Any = 0`` where a call gives ``[0, 3]``)."""
    files = sorted(str(p) for p in GOLDEN.glob("*.py"))
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", os.devnull, "--no-incremental"]
        + ["--follow-imports=silent", *files],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_defaulted_block_param_given_other_types_is_annotated_any() -> None:
    text = """netspec: 1
name: annot
input: [8, 16, 16]
blocks:
  Conv:
    params: [kernel_size, padding = 0]
    body:
      - conv: conv2d(8, kernel_size, padding=padding)
layers:
  - a: Conv(3)
  - b: Conv([1, 3], padding=[0, 1])
"""
    source = netspec.loads(text, name="annot.yaml").source()
    assert "kernel_size: Any, padding: Any = 0)" in source


# -- loops directly in a class --------------------------------------------------------------------

TOP_LOOPS = """netspec: 1
name: m5
input: [1, 400]
params:
  depth: 2
  width: 8
layers:
  - for: i in range(1, 3)
    do:
      - "conv{i}": conv1d(width * i, 3)
      - "bn{i}": batchnorm1d
      - relu
      - "pool{i}": maxpool1d(2)
  - repeat: depth
    as: j
    do:
      - "extra{j}": conv1d(16, 3, padding=1)
      - dropout(0.1 * j)
  - pool: adaptive_avgpool1d(1)
  - flatten
  - fc: linear(10)
"""
"""A loop whose iterations are fixed (written out) and one whose count is a param (a loop in
``__init__`` and in ``forward``), directly in a model that names its layers."""

UNROLLED = """\
        self.conv1 = nn.Conv1d(1, width, 3)  # -> [8, 398]
        self.bn1 = nn.BatchNorm1d(width)  # -> [8, 398]
        self.pool1 = nn.MaxPool1d(2)  # -> [8, 199]
        self.conv2 = nn.Conv1d(width, width * 2, 3)  # -> [16, 197]
        self.bn2 = nn.BatchNorm1d(width * 2)  # -> [16, 197]
        self.pool2 = nn.MaxPool1d(2)  # -> [16, 98]
"""
UNROLLED_FORWARD = """\
        x = self.conv1(x)
        x = self.bn1(x)
        x = F.relu(x)
        x = self.pool1(x)
        x = self.conv2(x)
        x = self.bn2(x)
        x = F.relu(x)
        x = self.pool2(x)
"""
LOOPED = """\
        for j in range(depth):
            setattr(self, f"extra{j}", nn.Conv1d(channels, 16, 3, padding=1))
            channels = 16
"""
LOOPED_FORWARD = """\
        for j in range(self.depth):
            x = getattr(self, f"extra{j}")(x)
            x = F.dropout(x, p=0.1 * j, training=self.training)
"""


def _without_param_loop(text: str) -> str:
    start = text.index("  - repeat: depth")
    return text[:start] + text[text.index("  - pool:") :]


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_loops_in_a_class_are_written_out_or_stay_loops(tmp_path: Path) -> None:
    """A loop directly in a class: written out as ``self.conv1 = …`` where its iterations do
    not depend on the constructor's arguments (TorchScript compiles it), a loop setting and
    getting attributes by name where they do (eager, compile and export; not TorchScript).
    Either way the state_dict keys are the names (``conv1.weight``), with no container."""
    source = netspec.loads(TOP_LOOPS).source()
    assert UNROLLED in source and UNROLLED_FORWARD in source
    assert LOOPED in source and LOOPED_FORWARD in source
    assert "ModuleList" not in source
    for values in ({}, {"depth": 3, "width": 4}, {"depth": 0}):
        spec = netspec.loads(TOP_LOOPS, **values)
        net = spec.check()
        built = spec.build(verify=True)
        assert compare_state(built, net) == [] and compare_forward(built, net) == []
        depth = values.get("depth", 2)
        keys = [k for k in built.state_dict() if k.endswith(".weight")]
        assert keys == [
            *("conv1.weight", "bn1.weight", "conv2.weight", "bn2.weight"),
            *(f"extra{j}.weight" for j in range(depth)),
            "fc.weight",
        ]
        # the file generated at the defaults, given the values
        made = getattr(compile_source(source), spec.class_name)(**values)
        assert compare_state(made, net) == [] and compare_forward(made, net) == []
        assert made(torch.randn(2, 1, 400)).shape == (2, 10)
    # TorchScript: the written-out form compiles; the loop getting attributes by name cannot
    plain = netspec.loads(_without_param_loop(TOP_LOOPS))
    assert "setattr" not in plain.source()
    scripted = torch.jit.script(plain.build())
    assert scripted(torch.randn(2, 1, 400)).shape == (2, 10)
    looped = netspec.loads(TOP_LOOPS, depth=3).build().eval()
    with pytest.raises(Exception, match="getattr"):
        torch.jit.script(looped)
    x = torch.randn(2, 1, 400)
    with torch.no_grad():
        expected = looped(x)
        compiled = torch.compile(looped, backend="eager", fullgraph=True)
        assert torch.equal(compiled(x), expected)
        exported = torch.export.export(looped, (x,))
        assert torch.allclose(exported.module()(x), expected, atol=1e-6)
    # both are typed code
    files = [tmp_path / "looped.py", tmp_path / "plain.py"]
    files[0].write_text(source)
    files[1].write_text(plain.source())
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", os.devnull, "--no-incremental"]
        + ["--follow-imports=silent", *map(str, files)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


BLOCK_LOOPS = """netspec: 1
name: blk
input: [4, 8, 8]
params:
  depth: 2
blocks:
  Res:
    params: [c, n = 2]
    body:
      - conv: conv2d(c, 3, padding=1)
      - for: out in range(n)
        do:
          - "c{out}": conv2d(c, 3, padding=1)
          - relu
    shortcut: {}
    then:
      - repeat: 2
        as: j
        do:
          - "act{j}": relu
          - layer_norm(elementwise_affine=false)
      - for: k in range(depth)
        do:
          - if: k % 2 == 0
            then:
              - "post{k}": conv2d(c, 3, padding=1)
            else:
              - "post{k}": conv2d(c, 1)
          - layer_norm(elementwise_affine=false)
layers:
  - a: Res(4)
  - b: Res(4, n=depth)
  - flatten
  - for: i in range(depth)
    do:
      - "fc{i}": linear(4 + i)
      - layer_norm(elementwise_affine=false)
"""
"""Loops in a block's own layers (its body and ``then``): one written out, others that stay
loops, one with a variable that ``forward`` must rename (``out`` is its tensor); and at the top
a loop whose sizes change from one iteration to the next, which a call in ``forward`` reads."""


def test_loops_in_a_block_class(tmp_path: Path) -> None:
    source = netspec.loads(BLOCK_LOOPS).source()
    assert "self.act0 = nn.ReLU()" in source and "self.act1 = nn.ReLU()" in source
    assert 'setattr(self, f"c{out}", ' in source and "for out_ in range(self.n):" in source
    assert "F.layer_norm(x, (x.shape[1],))" in source
    cls = compile_source(source).Blk
    for values in ({}, {"depth": 1}, {"depth": 3}, {"depth": 0}):
        spec = netspec.loads(BLOCK_LOOPS, **values)
        net = spec.check()
        built = spec.build(verify=True)
        assert compare_state(built, net) == [] and compare_forward(built, net) == []
        made = cls(**values)
        assert compare_state(made, net) == [] and compare_forward(made, net) == []


def test_a_stage_size_that_a_boolean_param_decides_is_computed_not_miscompiled() -> None:
    """The output size of a stage inside a block, in its caller's terms: each block gives
    ``(c if use_bn else in.channels) + c`` channels, neither constant nor a fixed step, so the
    caller's code cannot write it without the loop. It once passed for "settled" (sizes were
    tried with every name at 1 to 4, so ``use_bn`` was always true) and the caller built the
    wrong layer after it; then a param's sample values were of its kind (both truth values) and
    codegen refused it; now the caller runs the stage's loop for the size. Found by the
    thorough agreement run."""
    text = """netspec: 1
name: net
input: [2, 4, 4]
params:
  use_bn: false
blocks:
  U:
    params: [c]
    branches:
      a:
        - if: use_bn
          then:
            - conv2d(c, 1)
      b: conv2d(c, 1)
    merge: concat
  R:
    params: [c]
    body:
      - stg: stage(U, depth=3, c=c)
layers:
  - r: R(3)
  - head: conv2d(5, 1)
"""
    spec = netspec.loads(text)
    assert spec.check().output == (5, 4, 4)
    source = spec.source()
    assert (
        "        channels = (3 if use_bn else 2) + 3\n"
        "        for _ in range(3 - 1):\n"
        "            channels = (3 if use_bn else channels) + 3\n"
        "        self.r = R(2, 3, use_bn=use_bn)  # -> [11, 4, 4]\n"
        "        self.head = nn.Conv2d(channels, 5, 1)  # -> [5, 4, 4]\n"
    ) in source
    cls = compile_source(source).Net
    for use_bn in (False, True):
        net = netspec.loads(text, use_bn=use_bn).check()
        made = cls(use_bn=use_bn)
        assert compare_state(made, net) == [] and compare_forward(made, net) == []
        built = netspec.loads(text, use_bn=use_bn).build(verify=True)
        assert compare_state(built, net) == []


def test_a_long_chain_of_params_is_split_like_a_short_one(tmp_path: Path) -> None:
    from tests.backends.python.test_block_sizes import ruff_clean  # noqa: PLC0415

    """A sum of more than eight terms is one flat node; generated code lays it out one term
    per line, as ruff does, and the module agrees with the analysis."""
    terms = " + ".join(["first_width_parameter", "second_width_parameter"] * 5)
    text = (
        "netspec: 1\nname: chainy\ninput: [3, 8, 8]\nparams:\n  first_width_parameter: 2\n"
        f"  second_width_parameter: 3\nlayers:\n  - conv: conv2d({terms}, 3)\n"
    )
    spec = netspec.loads(text, name="chainy.yaml")
    source = spec.source()
    assert "            + second_width_parameter,\n" in source
    ruff_clean(tmp_path, source)
    assert spec.build(verify=True).conv.out_channels == 25


def test_values_nothing_reads_are_not_computed(tmp_path: Path) -> None:
    """A ``let`` the layers do not use (the model's or a block's) is not assigned in the
    generated constructor, where ruff would call it an unused variable; one that refuses
    values (``exact_div``) stays as the call, so the class refuses what ``check`` refuses."""
    from tests.backends.python.test_block_sizes import ruff_clean  # noqa: PLC0415

    text = (
        "netspec: 1\nname: lets\ninput: [3, 8, 8]\nparams:\n  width: 16\n  heads: 4\n"
        "let:\n  head_dim: exact_div(width, heads)\n  spare: width * 4\n  used: width * 2\n"
        "blocks:\n  B:\n    params: [c]\n    let:\n      unread: c * 3\n      half: c // 2\n"
        "    body:\n      - conv2d(half, 1)\n      - relu\n"
        "layers:\n  - conv2d(used, 3)\n  - B(width)\n"
    )
    spec = netspec.loads(text)
    source = spec.source()
    assert "spare" not in source and "unread" not in source
    assert "        exact_div(width, heads)\n" in source
    assert "used = width * 2" in source and "half = c // 2" in source
    ruff_clean(tmp_path, source)
    namespace: dict[str, Any] = {}
    exec(compile(source, "lets.py", "exec"), namespace)
    with pytest.raises(ValueError, match="not divisible"):
        namespace["Lets"](heads=5)
    assert compare_state(namespace["Lets"](), spec.network) == []


def test_a_size_a_loop_keeps_through_a_permute_in_one_branch_is_set_before_the_loop() -> None:
    """A loop that may run no time, holding a condition whose one branch permutes the
    channels away and back around a ``layer_norm``: the channels come out of the body as
    they went in, but in a variable the condition assigns. The constructor once read that
    variable after the loop, unset where the loop ran no time (``UnboundLocalError`` at
    ``n=0``); a size the loop keeps is now read after it as it was before it."""
    text = """netspec: 1
name: net
params:
  n: 1
  flag: true
input: [8, 16, 16]
layers:
  - conv: conv2d(8, 3, padding=1)
  - repeat: n
    as: i
    do:
      - if: flag
        then:
          - permute(dims=[0, 2, 3, 1])
          - norm{i}: layer_norm(8)
          - permute(dims=[0, 3, 1, 2])
        else:
          - maxpool2d(2)
  - flatten
  - fc: linear(10)
"""
    source = netspec.loads(text).source()
    assert "        self.fc = nn.Linear(8 * height * width, 10)" in source
    cls = compile_source(source).Net
    for n, flag in itertools.product((0, 1, 2), (False, True)):
        net = netspec.loads(text, n=n, flag=flag).check()
        made = cls(n=n, flag=flag)
        assert compare_state(made, net) == [] and compare_forward(made, net) == []


def test_a_long_choice_is_split_and_branches_calling_the_same_are_one_call(
    tmp_path: Path,
) -> None:
    """A choice of modules too long for a line is bracketed and split, as ruff lays it out; a
    condition whose branches both call the module of one name (a projection, or
    ``nn.Identity``: MaxViT's ``proj``) is one call in ``forward``, with no flag, and the
    module is typed ``nn.Module`` where first made (mypy would refuse an ``nn.Identity``
    assigned where an ``nn.Conv2d`` was)."""
    from tests.backends.python.test_block_sizes import ruff_clean  # noqa: PLC0415

    text = (
        "netspec: 1\nname: choices\ninput: [8, 8, 8]\nparams:\n  out: 8\n  stride: 1\n"
        "  drop_probability_of_the_branch: 0.0\n"
        "blocks:\n  B:\n    params: [out_channels, stride, drop_probability]\n    body:\n"
        "      - parallel:\n"
        "          - - if: stride != 1 or in.channels != out_channels\n"
        "              then:\n                - proj: conv2d(out_channels, 1, stride=stride)\n"
        "              else:\n                - proj: identity\n"
        "          - - conv: conv2d(out_channels, 3, stride=stride, padding=1)\n"
        "            - stochastic_depth: stochastic_depth(drop_probability, 'row') if "
        "drop_probability > 0 else identity\n"
        "        merge: add\n"
        "layers:\n  - block: B(out, stride, drop_probability_of_the_branch)\n"
    )
    spec = netspec.loads(text)
    source = spec.source()
    assert "        self.stochastic_depth = (\n" in source
    assert "            if drop_probability > 0\n" in source
    assert "        branch = self.proj(branch)\n" in source
    assert source.count("self.proj(") == 1 and "self.flag" not in source
    assert "            self.proj: nn.Module = nn.Conv2d(" in source  # for mypy: two classes
    ruff_clean(tmp_path, source)
    for values in ({}, {"out": 16, "stride": 2, "drop_probability_of_the_branch": 0.1}):
        netspec.loads(text, **values).build(verify=True)


def test_an_argument_after_a_default_read_from_the_input_is_a_keyword() -> None:
    """A block param whose default reads ``in.*`` is passed as a keyword in the caller's terms;
    a later param given by keyword (``B(k=1)``) is a keyword too: the call was written
    ``B(w, out=w * 2, 1)``, which Python refuses."""
    text = (
        "netspec: 1\nname: t\ninput: [6, 8, 8]\nparams:\n  w: 6\nblocks:\n  B:\n"
        "    params: [out = in.channels * 2, k = in.channels // 3]\n"
        "    body:\n      - conv: conv2d(out, k, padding=k // 2)\n"
        "layers:\n  - stem: conv2d(w, 1)\n  - b1: B(k=1)\n  - b2: B(w, 3)\n"
        "  - flatten\n  - fc: linear(2)\n"
    )
    spec = netspec.loads(text, name="spec.yaml")
    source = spec.source()
    assert "B(w, out=w * 2, k=1)" in source
    cls = getattr(compile_source(source), spec.class_name)
    for w in (3, 6, 7):
        model = cls(w=w)
        net = spec.replace(w=w).network
        assert compare_state(model, net) == []
        assert compare_forward(model, net) == []


def class_agrees(spec: netspec.Spec, source: str, *values: dict[str, Any]) -> None:
    """The class of ``source`` (``spec``'s) builds, at each of ``values``, the module check
    analyses at them: state and forward."""
    cls = getattr(compile_source(source), spec.class_name)
    for values_ in values:
        model, net = cls(**values_), spec.replace(**values_).network
        assert compare_state(model, net) == [] and compare_forward(model, net) == [], values_


def test_an_argument_after_a_given_constant_default_is_a_keyword() -> None:
    """``params: [out, stride = 1, e = t]``: the signature puts ``e`` (its default the spec's
    ``t``) before ``stride``, so ``B(4, 2, 3)`` passes stride by keyword, and ``e`` after it
    must be one too: the call was written ``B(3, 4, stride=2, 3)`` (a SyntaxError: an
    internal error of build)."""
    text = (
        "netspec: 1\nname: t\ninput: [3, 8, 8]\nparams:\n  t: 1\nblocks:\n  B:\n"
        "    params: [out, stride = 1, e = t]\n    first_only: [stride, e]\n"
        "    body:\n      - conv: conv2d(out * e, 3, stride=stride, padding=1)\n"
        "layers:\n  - b: B(4, 2, 3)\n  - s: stage(B, depth=2, out=4, stride=2, e=2)\n"
    )
    spec = netspec.loads(text, name="spec.yaml")
    source = spec.source()
    assert "B(3, 4, stride=2, e=3)" in source
    class_agrees(spec, source, {"t": 1}, {"t": 2})


TWICE = {
    # a list param's values may repeat
    "list": (
        "params:\n  ks: [1, 3]\n",
        "  - for: k in ks\n    do:\n      - conv{k}: conv2d(4, k, padding=k // 2)\n",
        {"ks": (1, 1)},
        {"ks": (3, 1)},
    ),
    # a range from a param may reach a name written beside it
    "beside": (
        "params:\n  start: 2\n",
        "  - conv1: conv2d(4, 1)\n  - for: i in range(start, 4)\n    do:\n"
        "      - conv{i}: conv2d(4, 3, padding=1)\n",
        {"start": 1},
        {"start": 3},
    ),
    # no loop variable in the name: each run makes the same name
    "repeat": (
        "params:\n  n: 1\n  tag: 0\n",
        "  - repeat: n\n    do:\n      - conv{tag}: conv2d(4, 1)\n",
        {"n": 2},
        {"n": 0},
    ),
}


@pytest.mark.parametrize("case", sorted(TWICE))
@pytest.mark.parametrize("sequence", [False, True])
def test_a_name_a_template_makes_twice_is_refused_by_the_class(case: str, sequence: bool) -> None:
    """A template whose names may repeat at values the class is given (a loop that stays a
    loop): the class refuses the second, as check does; it built one module called twice
    (`setattr` again), or dropped one (`OrderedDict` of the pairs), silently."""
    head, body, twice, once = TWICE[case]
    if sequence:
        body = "  - seq:\n" + "".join(f"    {line}\n" for line in body.splitlines())
    text = f"netspec: 1\nname: t\ninput: [4, 8, 8]\n{head}layers:\n{body}"
    spec = netspec.loads(text, name="spec.yaml")
    source = spec.source()
    cls = getattr(compile_source(source), spec.class_name)
    with pytest.raises(NetspecError, match="is used twice"):
        spec.replace(**twice).network  # noqa: B018
    with pytest.raises(ValueError, match="is used twice"):
        cls(**twice)
    class_agrees(spec, source, {}, once)


def test_a_list_of_numbers_given_integers_is_read_as_floats() -> None:
    """A list param whose default holds floats is read as floats, its integers too, as
    check binds it: ``8 // v`` is ``4.0`` for ``v = 2``, which check refuses as a size and
    the class, keeping the integer 2, built as ``4``."""
    text = (
        "netspec: 1\nname: t\ninput: [4, 8, 8]\nparams:\n  r: [1.0]\nlayers:\n"
        "  - for: v in r\n    do:\n      - conv2d(4 if v == 1.0 else 8 // v, 1)\n"
    )
    spec = netspec.loads(text, name="spec.yaml")
    cls = getattr(compile_source(spec.source()), spec.class_name)
    with pytest.raises(NetspecError, match="expects a positive integer, found 4.0"):
        spec.replace(r=[1, 2]).network  # noqa: B018
    with pytest.raises(TypeError):  # torch's: a size of 4.0
        cls(r=[1, 2])
    class_agrees(spec, spec.source(), {"r": [1, 1]})


@pytest.mark.parametrize(
    "layers",
    [
        "  - select(1, 0) if cls else identity\n",
        "  - if: cls\n    then:\n      - select(1, 0)\n    else:\n      - identity\n",
    ],
)
def test_choices_of_two_ranks_are_a_positioned_codegen_error(layers: str) -> None:
    """A condition whose arms give different ranks: a generated class cannot follow it (a
    known gap); the refusal names the condition's line and says what to do (it had no
    position, for a choice, and no hint)."""
    text = f"netspec: 1\nname: t\ninput: [4, 8]\nparams:\n  cls: true\nlayers:\n{layers}"
    spec = netspec.loads(text, name="spec.yaml")
    assert spec.check().output == (8,)
    with pytest.raises(NetspecError) as info:
        spec.source()
    assert "give outputs of different rank (2 and 3 with the batch)" in info.value.message
    assert info.value.span is not None and info.value.span.line == 7
    assert info.value.hint is not None and "same rank" in info.value.hint


def test_a_value_kept_for_forward_is_no_name_a_template_makes() -> None:
    """A layer ``n`` and a loop of ``n_{i}`` over ``range(n)``: the class kept the param for
    forward's loop as ``self.n_1``, which the loop's second layer replaced (forward then read a
    conv as the loop's count: an internal error of build). It keeps it under a name with `_`
    first, which no layer has."""
    text = (
        "netspec: 1\nname: t\ninput: [4, 8, 8]\nparams:\n  n: 2\nlayers:\n"
        "  - n: conv2d(4, 1)\n  - for: i in range(n)\n    do:\n"
        "      - n_{i}: conv2d(4, 3, padding=1)\n"
    )
    spec = netspec.loads(text, name="spec.yaml")
    source = spec.source()
    assert "self._n = n" in source
    class_agrees(spec, source, {"n": 0}, {"n": 2}, {"n": 3})


def test_templates_led_by_a_param_compile() -> None:
    """A template starting with a part the code computes (``{prefix}_{i}``): the class's
    fresh names avoided what it may make by taking `_` first, which it also matched, forever
    (build hung)."""
    text = (
        "netspec: 1\nname: t\ninput: [4, 8, 8]\nparams:\n  n: 2\n  prefix: conv\nlayers:\n"
        '  - for: i in range(n)\n    do:\n      - "{prefix}_{i}": conv2d(4, 1)\n'
    )
    spec = netspec.loads(text, name="spec.yaml")
    class_agrees(spec, spec.source(), {}, {"n": 3, "prefix": "c"})


def test_names_a_loop_makes_once_are_not_tested() -> None:
    """``denselayer{j + 1}`` over ``range``, ``block{i + 1}-{j}`` in a ``repeat … as j``:
    names of their own on each run, made without a test."""
    for name in ("densenet121", "regnet_y_400mf", "efficientnet_b0"):
        assert "is used twice" not in netspec.load(name).source()


LIST_PARAM_SPECS = {
    # a list param as a per-dimension attribute: the sizes after it index it
    "kernel": ("input: [3, 11, 9]", "conv: conv2d(4, k)", "[3, 2]", [[1, 1], [2, 3], [5, 4]]),
    "stride": ("input: [3, 11, 9]", "pool: maxpool2d(3, stride=k)", "[2, 1]", [[1, 3], [2, 2]]),
    "padding": ("input: [3, 6]", "conv: conv1d(2, 3, padding=k)", "[1]", [[0], [2]]),
    "output_size": ("input: [3, 8, 8]", "pool: adaptive_avgpool2d(k)", "[2, 3]", [[1, 4], [5, 5]]),
    "zeropad": ("input: [3, 4, 4]", "pad: zeropad2d(k)", "[0, 1, 2, 3]", [[1, 1, 1, 1]]),
    "scale": ("input: [3, 4, 5]", "up: upsample(scale_factor=k)", "[2, 3]", [[1, 1], [3, 2]]),
}


@pytest.mark.parametrize("case", sorted(LIST_PARAM_SPECS))
def test_a_list_param_given_one_value_per_dimension_compiles(case: str) -> None:
    """A param whose value is a list, given where an operator takes one number or one per
    spatial dimension (``conv2d(4, k)`` with ``k: [3, 2]``), is indexed in the generated sizes
    (``k[0]``, ``k[1]``), directly, through a ``let`` and as a block's argument: they took it
    for one number (``4 * k * k``), and the file failed when constructed, at the defaults too."""
    head, layer, default, others = LIST_PARAM_SPECS[case]
    name, call = layer.split(": ", 1)
    texts = [
        f"netspec: 1\nname: t\n{head}\nparams:\n  k: {default}\n"
        f"layers:\n  - {layer}\n  - flatten\n  - fc: linear(2)\n",
        f"netspec: 1\nname: t\n{head}\nparams:\n  j: {default}\nlet:\n  k: j\n"
        f"layers:\n  - {layer}\n  - flatten\n  - fc: linear(2)\n",
        f"netspec: 1\nname: t\n{head}\nparams:\n  j: {default}\nblocks:\n  B:\n    params: [k]\n"
        f"    body:\n      - {name}: {call}\n      - fc: conv{len(head.split(',')) - 1}d(2, 1)\n"
        "layers:\n  - b: B(j)\n  - flatten\n  - fc: linear(2)\n",
    ]
    for text, key in zip(texts, "kjj", strict=True):
        spec = netspec.loads(text, name="spec.yaml")
        cls = getattr(compile_source(spec.source()), spec.class_name)
        for value in [yaml.safe_load(default), *others]:
            net = spec.replace(**{key: value}).network
            model = cls(**{key: tuple(value)})
            assert compare_state(model, net) == [], (text, value)
            assert compare_forward(model, net) == [], (text, value)


@pytest.mark.parametrize("default", ["same", "valid"])
def test_padding_given_as_a_text_param_compiles(default: str) -> None:
    """``padding=p`` with ``p: same`` (or ``valid``): the sizes after the convolution are
    written as the choice between the two (they were written ``9 + p + p - k + 1``, a file
    that failed when constructed), for odd and even kernels and dilations."""
    text = (
        f"netspec: 1\nname: t\ninput: [3, 9, 8]\nparams:\n  p: {default}\n  k: 3\n  d: 1\n"
        "layers:\n  - conv: conv2d(4, k, padding=p, dilation=d)\n  - flatten\n  - fc: linear(2)\n"
    )
    spec = netspec.loads(text, name="spec.yaml")
    cls = getattr(compile_source(spec.source()), spec.class_name)
    for p, k, d in itertools.product(["same", "valid"], [1, 2, 3, 4], [1, 2]):
        net = spec.replace(p=p, k=k, d=d).network
        model = cls(p=p, k=k, d=d)
        assert compare_state(model, net) == [], (p, k, d)
        assert compare_forward(model, net) == [], (p, k, d)


@pytest.mark.parametrize(
    ("params", "layer", "values"),
    [
        # a loop's variable over a list of lists
        (
            "kernels: [[1, 3], [3, 1]]",
            "- for: i, ks in enumerate(kernels)\n    do:\n      - conv{i}: conv2d(4, ks)",
            [{"kernels": [[2, 2]]}, {"kernels": [[1, 1], [3, 2], [2, 3]]}],
        ),
        # an item of a list of lists
        ("ks: [[3, 1]]", "- c: conv2d(4, ks[0])", [{"ks": [[1, 2], [5, 5]]}]),
        # a choice between two lists
        (
            "ks: [3, 1]\n  flip: false",
            "- c: conv2d(4, ks if not flip else [ks[1], ks[0]])",
            [{"flip": True}, {"ks": [2, 3], "flip": True}],
        ),
    ],
)
def test_a_list_computed_from_the_params_given_per_dimension_compiles(
    params: str, layer: str, values: list[dict[str, Any]]
) -> None:
    """An expression of the params whose value is a list at the defaults, given where an
    operator takes one number or one per dimension, is indexed in the sizes after it (they
    took it for one number: ``13 - ks + 1``, a file that failed when constructed)."""
    text = (
        f"netspec: 1\nname: t\ninput: [3, 13, 11]\nparams:\n  {params}\n"
        f"layers:\n  {layer}\n  - flatten\n  - fc: linear(2)\n"
    )
    spec = netspec.loads(text, name="spec.yaml")
    cls = getattr(compile_source(spec.source()), spec.class_name)
    for value in [{}, *values]:
        net = spec.replace(**value).network
        model = cls(**{k: _tuples(v) for k, v in value.items()})
        assert compare_state(model, net) == [], value
        assert compare_forward(model, net) == [], value


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


MIXED_KIND_SPECS = {
    # a block param its calls give a number and a list, used as a kernel size
    "block": (
        "layers:\n  - a: B(3)\n  - b: B([3, 5])\n    from: input\n  - c: add\n    from: [a, b]\n"
        "blocks:\n  B:\n    params: [k]\n    body:\n      - conv: conv2d(4, k)\n"
        "      - flatten\n      - fc: linear(2)\n",
        [{}],
    ),
    # a let that is a number or a list as a param decides
    "let": (
        "params:\n  n: 0\nlet:\n  k: 3 if n == 0 else [3, 5]\n"
        "layers:\n  - conv: conv2d(4, k)\n  - flatten\n  - fc: linear(2)\n",
        [{"n": 0}, {"n": 1}],
    ),
    # the same choice written in the call, and a stride
    "inline": (
        "params:\n  n: 1\nlayers:\n  - pool: maxpool2d(2, stride=[1, 2] if n == 0 else 2)\n"
        "  - flatten\n  - fc: linear(2)\n",
        [{"n": 0}, {"n": 1}],
    ),
    # the choice in a block, read by its caller's sizes (the caller's dry run of the block)
    "caller": (
        "params:\n  n: 0\nlayers:\n  - a: B\n  - flatten\n  - fc: linear(2)\nblocks:\n  B:\n"
        "    body:\n      - conv: conv2d(4, 3 if n == 0 else [3, 5])\n",
        [{"n": 0}, {"n": 1}],
    ),
    # a block's let of either kind, as a block param decides
    "block let": (
        "params:\n  m: 0\nlayers:\n  - a: B(m)\nblocks:\n  B:\n    params: [n]\n"
        "    let:\n      k: 3 if n == 0 else [3, 5]\n    body:\n      - conv: conv2d(4, k)\n"
        "      - flatten\n      - fc: linear(2)\n",
        [{"m": 0}, {"m": 1}],
    ),
}


@pytest.mark.parametrize("case", sorted(MIXED_KIND_SPECS))
def test_a_value_of_either_kind_given_per_dimension_compiles(case: str) -> None:
    """A value that is a number for some values of the params and a list for others, given
    where an operator takes one number or one per dimension, is tested in the generated sizes
    (``k if isinstance(k, (int, float)) else k[0]``): they took it for a number, and the file
    failed when constructed with a list."""
    text, values = MIXED_KIND_SPECS[case]
    spec = netspec.loads(f"netspec: 1\nname: t\ninput: [3, 8, 8]\n{text}", name="spec.yaml")
    source = spec.source()
    assert "isinstance(" in source
    cls = getattr(compile_source(source), spec.class_name)
    for these in values:
        net = spec.replace(**these).network
        model = cls(**these)
        assert compare_state(model, net) == [], these
        assert compare_forward(model, net) == [], these


def test_a_value_of_either_kind_given_to_a_block_of_one_is_refused() -> None:
    """A block whose calls give it one kind at the defaults has a class written for that kind;
    an argument of either kind is refused at the call, with what would compile."""
    text = (
        "netspec: 1\nname: t\ninput: [3, 8, 8]\nparams:\n  n: 0\nlet:\n"
        "  k: 3 if n == 0 else [3, 5]\nlayers:\n  - a: B(k)\nblocks:\n  B:\n    params: [k]\n"
        "    body:\n      - conv: conv2d(4, k)\n      - flatten\n      - fc: linear(2)\n"
    )
    assert_codegen_refuses(
        text,
        "spec.yaml:9:8: a: B: its argument k is `k`, a number",
        "give B a number in one call and a list in another",
    )


def test_a_number_param_given_an_integer_is_a_float_as_check_binds_it() -> None:
    """check binds ``--set r=3`` of a number param as 3.0; the class given ``r=3`` computed
    with the integer, and built a module (kernel 3) where check refused the spec (kernel 3.0).
    It now converts as check does, and refuses too; an unread number param is not converted."""
    text = (
        "netspec: 1\nname: t\ninput: [3, 8, 8]\nparams:\n  r: 2.0\n  unused: 0.5\nlayers:\n"
        "  - conv: conv2d(4, max(r, 3) if r > 2.5 else 3)\n"
    )
    spec = netspec.loads(text, name="spec.yaml")
    source = spec.source()
    assert "        r = float(r)\n" in source
    assert "float(unused)" not in source
    cls = getattr(compile_source(source), spec.class_name)
    with pytest.raises(NetspecError, match=r"kernel_size expects .*, found 3\.0"):
        spec.replace(r=3).check()
    with pytest.raises(TypeError):
        cls(r=3)
    for r in (2, 2.0):
        net = spec.replace(r=r).network
        assert compare_state(cls(r=r), net) == [], r


# -- params as check reads them ---------------------------------------------------------------


def _generated(spec: netspec.Spec) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(spec.source(), "m.py", "exec"), namespace)
    return namespace[spec.class_name]


LIST_COMPARED = """netspec: 1
name: m
input: [3, 8, 8]
params:
  sizes: [4, 8]
  rows: [[1, 2], [3, 4]]
  odd: [[1], 2]
layers:
  - conv2d(sizes[0], 3)
  - if: sizes == [4, 8] and rows == [[1, 2], [3, 4]] and odd == [[1], 2]
    then: [relu]
    else: [sigmoid]
"""


@pytest.mark.parametrize("given", ["list", "tuple"])
def test_a_list_param_given_as_a_list_builds_what_check_says(given: str) -> None:
    """Check holds a list as a tuple; so does the class, whatever it is given (in Python
    ``[4, 8] == (4, 8)`` is false: the class built a sigmoid where check says relu)."""
    spec = netspec.loads(LIST_COMPARED)
    source = spec.source()
    assert "sizes = tuple(sizes)" in source
    assert "rows = _as_tuples(rows)" in source  # items are lists: at any depth
    assert "odd = _as_tuples(odd)" in source and "def _as_tuples(value: Any) -> Any:" in source
    cls = _generated(spec)
    wrap = list if given == "list" else tuple
    model = cls(sizes=wrap([4, 8]), rows=wrap([wrap([1, 2]), wrap([3, 4])]), odd=[wrap([1]), 2])
    assert isinstance(model[1], torch.nn.ReLU)
    assert compare_state(model, spec.network) == []
    other = netspec.loads(LIST_COMPARED, sizes=[4, 9])
    assert isinstance(cls(sizes=[4, 9])[1], torch.nn.Sigmoid)
    assert other.summary()["layers"][1]["op"] == "sigmoid"


CHECKED = """netspec: 1
name: m
input: [3, 8, 8]
params:
  depth:
    default: 2
    choices: [1, 2, 3]
  act:
    default: relu
    choices: [relu, gelu]
  rates:
    default: [1, 2]
    require: len(rates) == 2 and rates != [2, 1]
  width:
    default: 8
    require: not width % 4
layers:
  - conv2d(width, 3, padding=rates[0], dilation=rates[0])
  - repeat: depth
    do: [relu]
"""


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"depth": 4}, "depth must be one of 1, 2, 3, found 4"),
        ({"act": "tanh"}, "act must be one of 'relu', 'gelu', found 'tanh'"),
        ({"rates": [1, 2, 3]}, "rates requires len(rates) == 2 and rates != [2, 1], found rates"),
        ({"rates": [2, 1]}, "rates requires len(rates) == 2 and rates != [2, 1], found rates"),
        ({"width": 6}, "width requires not width % 4, found width = 6"),
    ],
)
def test_the_class_refuses_what_check_refuses_in_its_words(
    given: dict[str, Any], words: str
) -> None:
    with pytest.raises(NetspecError) as info:
        netspec.loads(CHECKED, **given)
    assert info.value.message.startswith(words)
    cls = _generated(netspec.loads(CHECKED))
    with pytest.raises(ValueError) as raised:
        cls(**given)
    assert str(raised.value).startswith(words)
    assert str(raised.value).partition(", found")[0] == info.value.message.partition(", found")[0]


def test_the_checks_read_as_python() -> None:
    source = netspec.loads(CHECKED).source()
    assert "if depth not in (1, 2, 3):" in source
    assert 'if act not in ("relu", "gelu"):' in source
    assert "if not (len(rates) == 2 and rates != (2, 1)):" in source
    assert "if width % 4:" in source  # `not not …` is the condition itself


# what an operator checks that PyTorch does not, of values a param gives: the class refuses
# them as check does, in check's words (`refuse_where`, `CheckedByClass`)
UNCHECKED = [
    ("g: group_norm(2, eps=e)", "{e: 1.0e-5}", {"e": -1.0}, "eps expects a positive number"),
    ("g: group_norm(2, eps=e)", "{e: 1.0e-5}", {"e": 0.0}, "eps expects a positive number"),
    ("batchnorm2d(eps=e)", "{e: 1.0e-5}", {"e": -0.5}, "eps expects a positive number"),
    (
        "avgpool2d(2, divisor_override=d)",
        "{d: 2}",
        {"d": -1},
        "divisor_override expects a positive integer or none, found -1",
    ),
    ("select(s, 0)", "{s: 1}", {"s": 0}, "select: dim=0 would index the batch"),
    ("select(s, 0)", "{s: 1}", {"s": -4}, "select: dim=0 would index the batch"),
    (
        "permute(p)",
        "{p: [0, 2, 3, 1]}",
        {"p": [1, 0, 2, 3]},
        "permute: dims [1, 0, 2, 3] moves the batch dimension",
    ),
]
"""Spec layers on an 8×8×8 input, their params, a value check refuses, and check's words."""


@pytest.mark.parametrize(("layer", "params", "given", "words"), UNCHECKED)
def test_the_class_refuses_what_an_operator_checks_and_torch_does_not(
    layer: str, params: str, given: dict[str, Any], words: str
) -> None:
    """The generated class built and ran these (PyTorch accepts them: a negative `eps`, a
    negated average, the batch indexed or moved); check refused them."""
    text = spec_text([f"- {layer}"], (8, 8, 8), params=params)
    spec = netspec.loads(text)
    cls = _generated(spec)
    cls()  # the defaults pass
    with pytest.raises(NetspecError, match=re.escape(words)) as info:
        netspec.loads(text, **given).check()
    with pytest.raises(ValueError, match=re.escape(words)) as raised:
        cls(**given)
    assert str(raised.value).endswith(info.value.message)


def test_the_windowed_attention_checks_are_the_class_s_too(tmp_path: Path) -> None:
    """A shift of a window or more, a cosine window of 1 and an unknown partition type:
    check refused them, the class built them (torch masks the wrong tokens, divides by
    zero, or takes the window partition)."""
    text = spec_text(
        [
            "- p: partition_attention(4, 2, partition_type=kind)",
            "- a: shifted_window_attention(2, 3, shift_size=shift)",
            "- b: shifted_window_attention_v2(window_size=w, num_heads=2)",
        ],
        (4, 4, 8),
        params="{kind: window, shift: 1, w: 2}",
    )
    from tests.backends.python.test_block_sizes import ruff_clean  # noqa: PLC0415

    spec = netspec.loads(text)
    source = spec.source()
    assert "if not 0 <= shift < 3:" in source
    assert "shift_size={shift!r} must be at least 0" in source
    ruff_clean(tmp_path, source)
    cls = _generated(spec)
    cls(kind="grid", shift=2, w=4)
    for values, words in [
        ({"kind": "dilated"}, "partition_type expects 'window' or 'grid', found 'dilated'"),
        ({"shift": 3}, "shift_size=3 must be at least 0 and less than window_size=3"),
        ({"shift": -1}, "shift_size=-1 must be at least 0 and less than window_size=3"),
        ({"w": 1}, "window_size=1 leaves no relative positions to scale"),
    ]:
        with pytest.raises(NetspecError) as info:
            netspec.loads(text, **values).check()
        assert words in info.value.message
        with pytest.raises(ValueError) as raised:
            cls(**values)
        assert str(raised.value).endswith(info.value.message)


@pytest.mark.parametrize(
    ("layer", "params", "accepted"),
    [
        ("select(s, 0)", "{s: 1}", [{"s": -3}, {"s": -1}, {"s": 3}]),
        ("avgpool2d(2, divisor_override=d)", "{d: 2}", [{"d": 1}]),
        ("batchnorm2d(eps=e)", "{e: 1.0e-5}", [{"e": 1e-12}]),
        ("permute(p)", "{p: [0, 2, 3, 1]}", [{"p": [-4, 1, 3, 2]}]),
    ],
)
def test_the_class_takes_the_values_next_to_those_it_refuses(
    layer: str, params: str, accepted: list[dict[str, Any]]
) -> None:
    """The values beside a refused one (a dimension counted from the end, the least eps):
    check takes them, and so does the class."""
    text = spec_text([f"- {layer}"], (8, 8, 8), params=params)
    cls = _generated(netspec.loads(text))
    for values in accepted:
        spec = netspec.loads(text, **values)
        spec.check()
        model = cls(**values).eval()
        with torch.no_grad():
            assert tuple(model(torch.zeros(2, 8, 8, 8)).shape[1:]) == spec.check().output


CHOSEN = """netspec: 1
name: t
input: [8, 8, 8]
params: {e: 1.0e-5, s: 1, use: true, other: true}
layers:
  - n: batchnorm2d(eps=e) if use else identity
  - g: group_norm(2, eps=e) if use else (batchnorm2d(eps=-e) if other else identity)
  - select(s, 0) if not use else select(2, 0)
"""


def test_an_arm_s_checks_are_made_where_the_values_choose_it(tmp_path: Path) -> None:
    """The class refused a negative eps in the arm not taken (check does not look at it):
    the checks of a conditional layer's arms are in an `if` of its test, one test where the
    arm has one (not an `if` in an `if`, which ruff refuses)."""
    from tests.backends.python.test_block_sizes import ruff_clean  # noqa: PLC0415

    source = netspec.loads(CHOSEN).source()
    ruff_clean(tmp_path, source)
    assert "if use and not e > 0.0:" in source
    cls = _generated(netspec.loads(CHOSEN))
    for values in [
        {"e": -1.0, "use": False, "other": False},
        {"use": False, "other": False},
        {"s": 0, "use": True},
        {"e": -1.0, "use": False, "other": True},  # -e is positive: the arm taken takes it
    ]:
        netspec.loads(CHOSEN, **values).check()
        cls(**values)
    for values, words in [
        ({"e": -1.0}, "batchnorm2d: eps expects a positive number, found -1.0"),
        ({"use": False}, "batchnorm2d: eps expects a positive number, found -1e-05"),
        ({"s": 0, "use": False, "other": False}, "select: dim=0 would index the batch"),
    ]:
        with pytest.raises(NetspecError) as info:
            netspec.loads(CHOSEN, **values).check()
        assert info.value.message == words
        with pytest.raises(ValueError) as raised:
            cls(**values)
        assert str(raised.value).endswith(words)


@pytest.mark.parametrize(
    ("layer", "params", "given", "words", "written"),
    [
        (  # a list written out is a list in the message, as check shows it
            "permute([a, b, 3, 2])",
            "{a: 0, b: 1}",
            {"a": 1, "b": 0},
            "permute: dims [1, 0, 3, 2] moves the batch dimension",
            "{[a, b, 3, 2]!r}",
        ),
        (  # a list param's length first: the class indexed an empty one
            "permute(p)",
            "{p: [0, 2, 3, 1]}",
            {"p": []},
            "permute: dims [] has length 0, but the input 8×8×8 has 4 dimensions",
            "{len(p)!r}",
        ),
        (  # a value whose text no f-string holds: the message joined with its repr
            "p: partition_attention(4, 2, partition_type=k if g else 'window')",
            "{k: grid, g: true}",
            {"k": "dilated"},
            "partition_type expects 'window' or 'grid', found 'dilated'",
            'repr(k if g else "window")',
        ),
    ],
)
def test_a_check_s_values_are_written_as_check_writes_them(
    tmp_path: Path, layer: str, params: str, given: dict[str, Any], words: str, written: str
) -> None:
    from tests.backends.python.test_block_sizes import ruff_clean  # noqa: PLC0415

    shape = (4, 4, 8) if "partition" in layer else (8, 8, 8)
    text = spec_text([f"- {layer}"], shape, params=params)
    source = netspec.loads(text).source()
    assert written in source
    ruff_clean(tmp_path, source)
    with pytest.raises(NetspecError) as info:
        netspec.loads(text, **given).check()
    assert words in info.value.message
    with pytest.raises(ValueError) as raised:
        _generated(netspec.loads(text))(**given)
    assert str(raised.value).endswith(info.value.message)


def test_a_long_require_of_all_reads_as_black_writes_it() -> None:
    """``all``/``any`` are true or false by their form: ``not all(…)``, split at the call's
    brackets where the line is long (as ruff formats it)."""
    text = """netspec: 1
name: m
input: [3, 8, 8]
params:
  widths:
    default: [8, 16, 32]
    require: all([w % 8 == 0 and w >= 8 for w in widths]) or any([w == 0 for w in widths])
  stages:
    default: [[8, 16], [16, 32], [32, 64]]
    require: all([row[1] == stages[i + 1][0] for i, row in enumerate(stages[:-1])])
layers:
  - conv2d(widths[0], 3)
"""
    source = netspec.loads(text).source()
    assert "        if not all(\n            tuple(row[1] == stages[i + 1][0] for" in source
    assert "if not (\n" in source  # the `or` of two calls: split one operand a line
    for args in (["format", "--check", "--isolated", "-"], ["check", "--isolated", "-"]):
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *args], input=source, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    cls = _generated(netspec.loads(text))
    with pytest.raises(ValueError, match="stages requires all"):
        cls(stages=[[8, 16], [17, 32], [32, 64]])
    with pytest.raises(ValueError, match="widths requires all"):
        cls(widths=[8, 12, 32])


def test_deeplabv3_takes_three_atrous_rates() -> None:
    """Its ASPP writes out a branch per rate: a fourth rate is refused, not ignored."""
    with pytest.raises(NetspecError, match=r"atrous_rates requires len\(atrous_rates\) == 3"):
        netspec.load("deeplabv3_resnet50", atrous_rates=[6, 12, 18, 24])
    spec = netspec.load("deeplabv3_resnet50", atrous_rates=[6, 12, 18])
    assert spec.params["atrous_rates"] == (6, 12, 18)
    source = spec.source()
    assert "if len(atrous_rates) != 3:" in source


# -- a name a loop that stays a loop makes ----------------------------------------------------

LOOP_NAMED = """netspec: 1
name: m
input: [4, 8, 8]
params:
  n: {n}
layers:
  - {before}
  - for: i in range(n)
    do:
      - {inside}
"""


@pytest.mark.parametrize(
    ("before", "inside"),
    [
        ("conv: conv2d(4, 3, padding=1)", "c: conv2d(4, 3, padding=1)"),  # weights
        ("conv: conv2d(4, 3, padding=1)", 'seq: ["conv2d(4, 1)", relu]'),  # a sequence
    ],
)
def test_a_name_a_kept_loop_makes_again_is_refused_by_the_class(before: str, inside: str) -> None:
    """The class generated where the loop runs at most once refuses a count check refuses (it
    assigned the attribute again: one conv called n times, or only the last activation)."""
    spec = netspec.loads(LOOP_NAMED.format(n=1, before=before, inside=inside))
    cls = _generated(spec)
    assert compare_state(cls(), spec.network) == []
    with pytest.raises(NetspecError, match="is used twice"):
        netspec.loads(LOOP_NAMED.format(n=2, before=before, inside=inside)).check()
    with pytest.raises(ValueError, match=r"is used twice \(a loop makes it on each run\)"):
        cls(n=2)


def test_a_name_made_before_a_kept_loop_and_in_it_is_refused_by_codegen() -> None:
    """Where the loop runs no time at the defaults, check accepts; the class could not make it
    again on the loop's first run: codegen says so."""
    text = LOOP_NAMED.format(n=0, before="bn: batchnorm2d", inside="bn: batchnorm2d")
    head = (
        "spec.yaml:10:9: bn: the name 'bn' is given to nn.BatchNorm2d(4) and to nn.BatchNorm2d(…)"
    )
    assert_codegen_refuses(text, head, "own name")


@pytest.mark.parametrize(
    "inside",
    [
        "act: relu",
        "act: relu if n > 0 else sigmoid",  # a choice: the same layer on every run
        "act: leaky_relu(0.1 if i < 5 else 0.2)",  # reads the loop's variable, equal here
    ],
)
def test_a_stateless_layer_a_kept_loop_makes_each_time_is_one_module(inside: str) -> None:
    text = LOOP_NAMED.format(n=1, before="conv: conv2d(4, 1)", inside=inside)
    cls = _generated(netspec.loads(text))
    # tested only where the loop's variable (or a choice) may make it differently
    assert ("_may_share" in netspec.loads(text).source()) == (inside != "act: relu")
    three = netspec.loads(text.replace("n: 1", "n: 3"))
    model = cls(n=3)
    assert compare_state(model, three.network) == []
    assert compare_forward(model, three.network) == []


@pytest.mark.parametrize(
    "inside",
    [
        "act: leaky_relu(0.1 if i < 2 else 0.2)",
        "act: relu if i < 2 else relu(inplace=true)",  # a choice
        "act: dropout(0.5, i > 1)",  # in place from the third run
        # settings a module's repr leaves out
        "act: avgpool2d(3, stride=1, padding=1, count_include_pad=i < 2)",
        "act: upsample(scale_factor=1, mode='bilinear', align_corners=i < 2)",
        # a condition reading the loop's variable
        {"if": "i < 2", "then": [{"act": "leaky_relu(0.1)"}], "else": [{"act": "leaky_relu(0.2)"}]},
        # chosen by a param, not the loop: a layer with weights made twice
        "act: relu if i < 2 else conv2d(4, 1)",
    ],
)
def test_a_stateless_layer_a_kept_loop_makes_differently_is_refused_by_the_class(
    inside: str | dict[str, Any],
) -> None:
    """Check refuses one name for two different layers; the class called the last one made
    on every run (the first two runs with the third's slope)."""
    body = inside if isinstance(inside, str) else json.dumps(inside)
    name = "act"
    text = LOOP_NAMED.format(n=1, before="conv: conv2d(4, 1)", inside=body)
    cls = _generated(netspec.loads(text))
    two = netspec.loads(text.replace("n: 1", "n: 2"))
    assert compare_forward(cls(n=2), two.network) == []
    with pytest.raises(NetspecError) as info:
        netspec.loads(text.replace("n: 1", "n: 3")).check()
    assert info.value.message == f"the name {name!r} is used twice in the model"
    with pytest.raises(ValueError) as raised:
        cls(n=3)
    words = f"the name {name!r} is used twice (a loop makes it differently on two runs)"
    assert str(raised.value).endswith(f": {name}: {words}")


def test_a_choice_a_param_makes_in_a_kept_loop_is_one_stateless_module_or_refused() -> None:
    """``relu if flag else conv2d(4, 1)``: one ReLU called on each run, or check's refusal
    of a conv made twice (the class built one conv and called it twice, sharing weights)."""
    text = LOOP_NAMED.format(
        n=1, before="conv: conv2d(4, 1)", inside="act: relu if flag else conv2d(4, 1)"
    )
    text = text.replace("  n: 1", "  n: 1\n  flag: true")
    cls = _generated(netspec.loads(text))
    three = netspec.loads(text, n=3)
    assert compare_forward(cls(n=3), three.network) == []
    with pytest.raises(NetspecError, match="is used twice"):
        netspec.loads(text, n=2, flag=False).check()
    with pytest.raises(ValueError, match=r"'act' is used twice \(a loop makes it differently"):
        cls(n=2, flag=False)


def test_a_stateless_layer_equal_on_every_run_is_not_refused() -> None:
    """``leaky_relu(1 if i < 1 else 1.0)``: check finds the slopes equal (1 == 1.0), so does
    the class (their reprs differ)."""
    text = LOOP_NAMED.format(
        n=3, before="conv: conv2d(4, 1)", inside="act: leaky_relu(1 if i < 1 else 1.0)"
    )
    spec = netspec.loads(text)
    assert compare_forward(_generated(spec)(), spec.network) == []


def test_a_child_read_from_a_sequence_too_short_is_refused_by_the_class() -> None:
    """``from: backbone.2`` where the params give the sequence two children: check refuses;
    the class read its input instead (``backbone_2 = x`` before the loop), adding it to the
    head's output where the channels agree — another model."""
    text = """netspec: 1
name: m
input: [4, 16, 16]
params:
  n: 3
layers:
  - backbone:
      - repeat: n
        do:
          - conv2d(4, 3, padding=1)
  - head: conv2d(4, 1)
  - out: add
    from: [head, backbone.2]
"""
    cls = _generated(netspec.loads(text))
    assert compare_state(cls(n=4), netspec.loads(text, n=4).network) == []
    with pytest.raises(NetspecError, match=r"reads child 2 of 'backbone', which has 2"):
        netspec.loads(text, n=2).check()
    with pytest.raises(ValueError, match=r"reads child 2 of 'backbone', which has 2$"):
        cls(n=2)


COUNTED = """netspec: 1
name: m
input: [4, 8, 8]
params:
  n: 3
  depths: [2, 1]
blocks:
  B:
    params: [c]
    body:
      - conv2d(c, 3, padding=1)
      - relu
layers:
  - body:
      - repeat: n - 1
        do:
          - conv2d(4, 3, padding=1)
  - stage1: stage(B, depth=depths[0], c=4)
  - stage2: stage(B, depth=depths[1], c=4)
"""


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"n": 0}, "repeat expects a count ≥ 0, found -1"),
        ({"depths": [0, 1]}, "a stage's depth must be ≥ 1, found 0"),
        ({"depths": [2, -1]}, "a stage's depth must be ≥ 1, found -1"),
    ],
)
def test_a_count_the_params_give_is_refused_by_the_class_as_check_refuses_it(
    given: dict[str, Any], words: str
) -> None:
    """The class built ``range(-1)`` as no layer, and a stage of depth 0 as one block (its
    first is made before the loop over the rest): check refuses both."""
    with pytest.raises(NetspecError) as info:
        netspec.loads(COUNTED, **given).check()
    assert info.value.message.startswith(words)
    cls = _generated(netspec.loads(COUNTED))
    with pytest.raises(ValueError) as raised:
        cls(**given)
    assert str(raised.value) == words
    fine = {"n": 1, "depths": [1, 3]}
    assert compare_state(cls(**fine), netspec.loads(COUNTED, **fine).network) == []


def test_a_count_whose_text_an_f_string_cannot_hold_is_shown_by_its_repr() -> None:
    text = COUNTED.replace("n - 1", "n if mode == 'x' else n - 2").replace(
        "  n: 3", "  n: 3\n  mode: x"
    )
    assert "+ repr(" in netspec.loads(text).source()
    with pytest.raises(ValueError) as raised:
        _generated(netspec.loads(text))(mode="y", n=1)
    assert str(raised.value) == "repeat expects a count ≥ 0, found -1"


def test_a_count_written_in_the_spec_needs_no_test() -> None:
    source = netspec.loads(COUNTED.replace("n - 1", "2")).source()
    assert "repeat expects" not in source
    assert "if depths[0] < 1:" in source


def test_a_require_true_or_false_only_by_its_value_is_tested_for_true() -> None:
    """``flag or width`` is ``width`` where flag is false: check refuses a condition that is
    not true or false, so the class tests ``is not True`` (Python's truth would accept 8)."""
    text = """netspec: 1
name: m
input: [3, 8, 8]
params:
  flag: true
  width:
    default: 8
    require: flag or width
layers:
  - conv2d(width, 3)
"""
    source = netspec.loads(text).source()
    assert "if (flag or width) is not True:" in source
    cls = _generated(netspec.loads(text))
    with pytest.raises(NetspecError, match="require is a condition, true or false, found 8"):
        netspec.loads(text, flag=False)
    with pytest.raises(ValueError, match="width requires flag or width"):
        cls(flag=False)


@pytest.mark.parametrize(
    ("default", "given", "same"),
    [
        ("[]", [[1, 2]], False),
        ("[1, 'a']", [[1], "a"], False),
        ("[[1, 2], [3, 4]]", [[[1], 2]], False),
        ("[[1, 2], [3, 4]]", [[1, 2], [3, 4]], True),
    ],
)
def test_a_list_param_is_a_tuple_at_every_depth_its_default_allows(
    default: str, given: Any, same: bool
) -> None:
    text = f"""netspec: 1
name: m
input: [3, 8, 8]
params:
  xs: {default}
layers:
  - conv2d(4, 3)
  - if: xs == {default}
    then: [relu]
    else: [sigmoid]
"""
    spec = netspec.loads(text, xs=given)
    model = _generated(netspec.loads(text))(xs=given)
    want = "relu" if same else "sigmoid"
    assert spec.summary()["layers"][1]["op"] == want
    assert type(model[1]).__name__ == {"relu": "ReLU", "sigmoid": "Sigmoid"}[want]
    assert compare_state(model, spec.network) == []


def test_a_long_condition_is_split_as_black_splits_it(tmp_path: Path) -> None:
    from tests.backends.python.test_block_sizes import ruff_clean  # noqa: PLC0415

    text = """netspec: 1
name: m
input: [3, 8, 8]
params:
  width:
    default: 8
    require: width % 4 == 0 and width >= 4 and width <= 4096 and width != 12 and width != 20
let:
  ok: width % 4 == 0 and width >= 4 and width <= 4096 and width != 12 and width != 20 and True
layers:
  - conv2d(width if ok else 4, 3)
"""
    source = netspec.loads(text).source()
    assert "        if not (\n            width % 4 == 0\n            and width >= 4\n" in source
    assert "        ok = (\n            width % 4 == 0\n" in source
    ruff_clean(tmp_path, source)


@pytest.mark.parametrize(
    "layer",
    [
        "d: conv2d(8, 9) if big else identity",
        "d: identity if not big else conv2d(8, 9)",
        "maxpool2d(9) if big else relu",  # unnamed: a call in forward
    ],
)
def test_a_choice_whose_arm_the_values_do_not_take_fails_raises_only_there(layer: str) -> None:
    """A kernel wider than the input in the arm not taken: check accepts the defaults, but the
    class raised its error whatever the values (and `build` reported an internal error)."""
    text = spec_text(["- c: conv2d(8, 3)", f"- {layer}"], (3, 8, 8), params="{big: false}")
    spec = netspec.loads(text)
    model = spec.build()
    assert compare_forward(model, spec.network) == []
    words = "the kernel spans 9" if "conv" in layer else "does not fit the input H 6"
    with pytest.raises(NetspecError, match=words):
        netspec.loads(text, big=True).check()
    with pytest.raises(ValueError, match=words):
        _generated(spec)(big=True)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_asymmetric_padding_takes_its_mode_from_a_param(mode: str) -> None:
    """The padded convolution was given torch's `zeros` as F.pad's mode where a param gave
    it (a literal was translated): its first forward failed."""
    text = spec_text(
        ["- c: conv2d(3, 3, padding=[[1, 2], [0, 1]], padding_mode=mode)"],
        (2, 9, 11),
        params="{mode: zeros}",
    )
    cls = _generated(netspec.loads(text))
    model = cls(mode=mode).eval()
    x = torch.randn(1, 2, 9, 11)
    padded = F.pad(x, (0, 1, 1, 2), mode="constant" if mode == "zeros" else mode)
    expected = F.conv2d(padded, model.c.weight, model.c.bias)
    with torch.no_grad():
        assert torch.equal(model(x), expected)
    assert compare_state(model, netspec.loads(text, mode=mode).network) == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("conv2d(8, 1, stride=0)", "conv2d: stride expects a positive integer"),
        ("maxpool2d(0)", "maxpool2d: kernel_size expects a positive integer"),
        ("group_norm(0)", "group_norm: num_groups expects a positive integer"),
        ("conv2d(8, 3, dilation=0)", "conv2d: dilation expects a positive integer"),
    ],
)
def test_a_layer_refused_in_a_branch_not_taken_is_refused_by_the_class_there(
    tmp_path: Path, call: str, message: str
) -> None:
    """Codegen divided by the zero stride (an internal error) or wrote the layer for torch to
    refuse; the class now raises check's error where the values take the branch."""
    text = spec_text(["- if: p", "  then:", f"    - {call}"], (4, 8, 8), params="{p: false}")
    spec = netspec.loads(text)
    spec.check()
    with pytest.raises(NetspecError, match=re.escape(message)):
        spec.replace(p=True).check()
    path = tmp_path / "m.py"
    path.write_text(spec.source())
    cls = _import(path).T
    cls()  # the branch not taken
    with pytest.raises(ValueError, match=re.escape(message)):
        cls(p=True)


# -- sizes that share their parts -----------------------------------------------------------------

CELLS = """netspec: 1
name: cells
input: [3, 64]
params:
  width: 4
  use_bn: false
blocks:
  Cell:
    params: [c]
    body:
      - pick: avgpool1d(3, stride=1) if use_bn else conv1d(c, 1)
      - if: in.channels == c
        then:
          - avgpool1d(3, stride=1)
      - if: in.channels == 2 * c
        then:
          - maxpool1d(3, stride=1)
        else:
          - avgpool1d(3, stride=1, padding=1)
      - proj: conv1d(width, 1)
  Pair:
    params: [c]
    body:
      - cells: stage(Cell, depth=2, c=c)
layers:
  - stem: conv1d(width, 1)
"""


def _cells(count: int) -> str:
    """``count`` cells one after the other, then a stage of two, then a classifier (which
    does not read the length: the generated file stays small)."""
    cells = "".join(f"  - cell{i}: Cell({2 if i % 2 else 4})\n" for i in range(count))
    head = "  - pair: Pair(4)\n  - adaptive_avgpool1d(1)\n  - flatten\n  - fc: linear(10)\n"
    return CELLS + cells + head


def test_the_sizes_of_cells_one_after_another_grow_by_one_cell_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cell's length is its input's, shortened or not by conditions on ``in.channels`` and
    a choice: every arm reads the length before, so as a tree the size doubles with each
    condition, as parts shared by the arms it grows by one cell's. The emitter tidied each
    arm's size into a copy of its own, and the copies doubled the parts with each condition,
    eightfold a cell, and the work of everything walking them with them. Counted, not timed:
    the expression parts made while generating, and the blocks' dry runs, grow by about as
    many with each further cell; and the class builds what check analyses, at the defaults
    and at other values."""
    made = [0]
    for kind in (nodes.IfExp, nodes.Binary, nodes.Compare, nodes.Call, nodes.BoolOp, nodes.Not):

        def counted(self: Any, *args: Any, __init: Any = kind.__init__, **kwargs: Any) -> None:
            made[0] += 1
            __init(self, *args, **kwargs)

        monkeypatch.setattr(kind, "__init__", counted)
    dry = [0]
    real = emit.Module.block_output

    def block_output(self: emit.Module, *args: Any) -> Any:
        dry[0] += 1
        return real(self, *args)

    monkeypatch.setattr(emit.Module, "block_output", block_output)
    counts = []
    for count in (1, 2, 3):
        spec = netspec.loads(_cells(count), name="cells.yaml")
        spec.check()
        made[0] = dry[0] = 0
        source = spec.source()
        counts.append((made[0], dry[0]))
    (parts, runs), (parts2, runs2), (parts3, runs3) = counts
    assert 0 < parts3 - parts2 <= 2 * (parts2 - parts), counts  # (was 8 times: 27534, 220206)
    assert 0 < runs3 - runs2 <= 2 * (runs2 - runs), counts
    class_agrees(spec, source, {}, {"width": 2}, {"width": 8, "use_bn": True})


def test_a_size_is_written_once_per_part() -> None:
    """A length twelve conditions on the channels may each shorten, each arm reading the
    length before: 139,238 characters of text from 73 parts. Its text and its layout are made
    once per part (rendering them, each arm again and each level again to check the layout
    against the text, was half a million parts rendered); the text is the renderer's."""
    size: nodes.Expr = nodes.Name("length")
    for i in range(12):
        shorter = nodes.Binary("-", size, nodes.Const(2))
        test = nodes.Compare(nodes.Name("channels"), ("==",), (nodes.Const(i),))
        size = nodes.IfExp(test, shorter, size)
    rendered = [0]
    real = rendering.Renderer._node

    def counted(self: Any, node: nodes.Expr) -> str:
        rendered[0] += 1
        return str(real(self, node))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rendering.Renderer, "_node", counted)
        laid = emit._expr(size)
    text = rendering.render(size, python=True)
    assert laid.flat() == text and len(text) == 139238
    assert rendered[0] <= 2 * 73, rendered[0]  # (some at two precedences)
    assert nodes.free_names(size) == {"length", "channels"}
    assert emit._tidy(size) is size  # nothing to fold: the same parts, shared as they were
