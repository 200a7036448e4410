"""A block's output size in its caller's terms, where a loop inside the block computes it.

The caller's code needs the sizes a block gives (the next layer's input channels, a linear
layer's features). Where each iteration of a loop inside the block gives the same size, keeps
it, or adds the same amount, the caller writes the size after the loop without it; otherwise
the caller runs the block's loop again in its own ``__init__``, computing the sizes only, as
the block's class itself tracks them (``height = (height - 1) // (2 if i == 0 else 1) + 1``).
``codegen`` refused these specs (a positioned error) while ``check`` accepted them; each is now
held to the whole agreement check of ``tests/test_agreement.py``: the analysis, ``build()``
and the generated file, written and imported, agree on every state_dict entry, every leaf's
output shape and the output (and the file computes what the built module does), at the
defaults, at other params and another input, through the API and the command line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from hypothesis import given
from hypothesis import strategies as st

import netspec
import tests.test_agreement as agreement
from netspec.backends.module import compare_forward, compare_state, compile_source
from netspec.backends.python import emit
from netspec.backends.python.format import Stmt, prune
from netspec.errors import NetspecError
from netspec.spec.format import to_yaml
from netspec.spec.load import read_text
from netspec.spec.params import declared
from tests import strategies
from tests.strategies import Example

ZOO = Path(netspec.__file__).parent / "zoo"


def _example(
    text: str,
    name: str,
    overrides: dict[str, Any] | None = None,
    input_override: list[int] | None = None,
    fmt: str = "yaml",
) -> Example:
    """An example of the agreement test made from a spec's text (either format)."""
    spec = read_text(text, name).spec
    data = yaml.safe_load(to_yaml(spec))
    defaults = {k: p.default for k, p in declared(spec).items()}
    return Example(
        {"main": data}, fmt, defaults, overrides or {}, input_override, False, True, set()
    )


@pytest.fixture
def agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``check_example`` of the agreement test, outside hypothesis (its notes dropped)."""
    monkeypatch.setattr(agreement, "note", lambda *_: None)
    count = iter(range(1000))

    def run(ex: Example) -> None:
        folder = tmp_path / f"example{next(count)}"
        folder.mkdir()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            agreement.check_example(ex, folder)
        finally:
            torch.set_num_threads(threads)

    return run


def ruff_clean(tmp_path: Path, source: str) -> None:
    """Generated source passes ``ruff format --check`` and ``ruff check``."""
    path = tmp_path / "generated.py"
    path.write_text(source)
    for args in (["format", "--check", "--isolated"], ["check", "--isolated"]):
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *args, str(path)], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


# -- a block whose output size comes from a loop inside it ------------------------------------


def _efficientnet_without_residual(pool: str | None = None) -> str:
    """efficientnet.ns with its MBConv's ``residual`` line deleted (the spec of the strict
    xfail ``test_a_block_sized_by_an_inner_loop_compiles`` in tests/test_fuzz.py): a
    FusedMBConv is residual where its input has its output's channels, an MBConv never, so
    the size after a Stage's loop depends on the channels it starts from, in no closed form.
    With ``pool``, the model's average pool is that one, whose output — hence the classifier's
    features — reads the spatial sizes the Stages' loops compute."""
    text = (ZOO / "efficientnet.ns").read_text()
    text = text.replace("    residual use_res_connect\n", "", 1)
    assert "residual use_res_connect" in text  # FusedMBConv's is kept
    if pool is not None:
        top = "    avgpool: adaptive_avgpool2d(1)\n    flatten\n"
        assert text.count(top) == 1
        text = text.replace(top, f"    avgpool: {pool}\n    flatten\n")
    return text


def test_a_block_sized_by_an_inner_loop_compiles(agree: Any) -> None:
    text = _efficientnet_without_residual()
    source = netspec.loads(text, name="efficientnet.ns").source()
    assert "for i in range(num_layers - 1):" in source  # in Stage, not in its caller
    agree(_example(text, "efficientnet.ns", {}, [3, 64, 64], fmt="ns"))


def test_the_caller_computes_the_sizes_a_loop_inside_a_block_gives(
    agree: Any, tmp_path: Path
) -> None:
    """The classifier reads the height and width after every Stage: EfficientNet's own
    ``__init__`` runs each Stage's loop for them, for any ``arch`` (V2's stages start with
    residual FusedMBConvs) and any input."""
    text = _efficientnet_without_residual("avgpool2d(2)")
    source = netspec.loads(text, name="efficientnet.ns").source()
    top = source[source.index("class EfficientNet(") :]
    assert "for i in range(num_layers - 1):\n" in top
    assert "nn.Linear(\n                lastconv_channels * ((height - 2) // 2 + 1)" in top
    ruff_clean(tmp_path, source)
    agree(_example(text, "efficientnet.ns", {"arch": "v2_s", "num_classes": 10}, [3, 64, 64]))


OPTIONAL_DOWN = """
netspec: 1
name: t
input: [2, 8, 8]
params:
  deep: false
  widths: [1, 2]
blocks:
  B:
    body:
      - if: deep
        then:
          for: w in widths
          do:
            - conv{w}: conv2d(2, 3, stride=2, padding=1)
layers:
  - b: B()
  - layer_norm(elementwise_affine=false)
"""


@pytest.mark.parametrize("deep", [False, True])
def test_a_size_a_block_computes_on_one_branch_only_is_stored_on_both(
    agree: Any, tmp_path: Path, deep: bool
) -> None:
    """The block halves the size only where ``deep``: the caller runs its loop in an ``if``,
    and forward's ``layer_norm`` reads the size it gives, stored for forward in ``__init__``.
    The variable the loop assigns was unbound on the other path, and the class raised
    ``UnboundLocalError`` at the defaults; it now holds the other branch's size there."""
    source = netspec.loads(OPTIONAL_DOWN).source()
    init = source[source.index("class T(") :]
    assert "        if deep:\n            width = 8\n" in init
    assert (
        "        else:\n            width = 8\n" in init and "        self.width = width\n" in init
    )
    ruff_clean(tmp_path, source)
    agree(_example(OPTIONAL_DOWN, "t.yaml", {"deep": deep}))


HALVED_WHERE_EQUAL = """
netspec: 1
name: t
input: [2, 64, 64]
params:
  widths: [1, 2, 3]
  c0: 2
blocks:
  U:
    params: [c]
    body:
      - conv: conv2d(c, 1)
    then:
      for: w in widths
      do:
        - pick{w}: conv2d(c, 3, stride=2, padding=1) if in.channels == c else KEEP
layers:
  - s: stage(U, depth=2, c=c0)
  - layer_norm(elementwise_affine=false)
""".replace("KEEP", "maxpool2d(2, stride=1, padding=1, dilation=2)")


@pytest.mark.parametrize("c0", [2, 3])
def test_a_loop_halving_a_size_where_two_names_are_equal_is_run_again(agree: Any, c0: int) -> None:
    """Each iteration of U's loop halves the size where its input has ``c`` channels, and
    keeps it otherwise. The samples that test whether one iteration settles the size gave the
    two names different values only (``in.channels == c`` never held), so the stage's caller
    halved the size once per block instead of once per iteration: the class built
    ``layer_norm`` over 4 where the tensor's last size is 1. It now runs the loop again."""
    source = netspec.loads(HALVED_WHERE_EQUAL).source()
    top = source[source.index("class T(") :]
    assert "for w_1 in widths:\n                width_2 = (width_2 - 1) // 2 + 1" in top
    agree(_example(HALVED_WHERE_EQUAL, "t.yaml", {"c0": c0}))


# -- a block whose first loop iteration differs from the rest, called in a loop -----------------

FIRST_DIFFERS = """netspec: 1
name: first_differs
input: [3, 32, 32]
params:
  depth: 2
  blocks: 2
  width: 4
  classes: 10
blocks:
  Down:
    doc: a stage whose first convolution alone is strided
    params: [c, n, stride = 2]
    body:
      - repeat: n
        as: i
        do:
          - conv2d(c, 3, stride=stride if i == 0 else 1, padding=1, bias=false)
          - batchnorm2d
          - relu(inplace=true)
layers:
  - stem: conv2d(width, 3, padding=1)
  - stages:
      - repeat: depth
        as: i
        do:
          - Down(width * 2 ** (i + 1), blocks)
  - layer_norm(elementwise_affine=false)
  - flatten
  - fc: linear(classes)
"""
"""``stride if i == 0 else 1`` in a block's loop, the block called in a loop of the model whose
variable has the same name, the sizes after it read by a call in ``forward`` and by the
classifier's features."""

FIRST_DIFFERS_INIT = """\
        stages: list[nn.Module] = []
        if depth < 0:
            raise ValueError(f"repeat expects a count ≥ 0, found {depth!r}")
        channels = width
        height = 32
        width_1 = 32
        for i in range(depth):
            height_1 = height
            width_2 = width_1
            for i_1 in range(blocks):
                height_1 = (height_1 - 1) // (2 if i_1 == 0 else 1) + 1
                width_2 = (width_2 - 1) // (2 if i_1 == 0 else 1) + 1
            stages.append(Down(channels, width * 2 ** (i + 1), blocks))
            channels = width * 2 ** (i + 1) if blocks > 0 else channels
            height = height_1
            width_1 = width_2
        self.stages = nn.Sequential(*stages)  # -> [16, 8, 8]
        self.width_1 = width_1
        self.fc = nn.Linear(channels * height * width_1, classes)  # -> [10]
"""


@pytest.mark.parametrize(
    ("overrides", "input_override"),
    [
        ({}, None),
        ({"depth": 3, "blocks": 1}, [3, 40, 24]),
        ({"depth": 0}, None),
        ({"blocks": 0, "width": 3}, [3, 17, 9]),
    ],
)
def test_a_first_iteration_that_differs_compiles(
    agree: Any, overrides: dict[str, Any], input_override: list[int] | None
) -> None:
    agree(_example(FIRST_DIFFERS, "first.yaml", overrides, input_override))


def test_the_sizes_of_a_first_iteration_that_differs_read_as_written(tmp_path: Path) -> None:
    source = netspec.loads(FIRST_DIFFERS).source()
    assert FIRST_DIFFERS_INIT in source
    assert "x = F.layer_norm(x, (self.width_1,))" in source
    ruff_clean(tmp_path, source)
    cls = compile_source(source).FirstDiffers
    for values in ({"depth": 1, "blocks": 3}, {"depth": 3, "width": 2}):
        net = netspec.loads(FIRST_DIFFERS, **values).check()
        made = cls(**values)
        assert compare_state(made, net) == [] and compare_forward(made, net) == []


NESTED = """netspec: 1
name: nested_sizes
input: [3, 24, 24]
params:
  widths: [4, 8, 8]
  blocks: 2
  pool: true
blocks:
  Down:
    params: [c, n, stride = 2]
    body:
      - repeat: n
        as: i
        do:
          - conv2d(c, 3, stride=stride if i == 0 else 1, padding=1)
          - relu
  Halve:
    params: [c]
    body:
      - conv2d(c, 1)
      - maxpool2d(2, ceil_mode=true)
  Res:
    doc: a residual block whose body's first convolution alone is strided
    params: [c, n]
    body:
      - convs:
          - repeat: n
            as: i
            do:
              - conv2d(c, 3, stride=2 if i == 0 else 1, padding=1, bias=false)
              - batchnorm2d
    shortcut:
      project:
        - conv2d(c, 1, stride=2, bias=false)
        - batchnorm2d
    then:
      - relu
  Encoder:
    doc: a stage per width, a Down or a Halve; its sizes come from loops inside loops
    params: [n]
    body:
      - for: i, w in enumerate(widths)
        do:
          - Down(w, n) if i % 2 == 0 or not pool else Halve(w)
      - Res(widths[-1], n)
layers:
  - enc: Encoder(blocks)
  - flatten
  - fc: linear(10)
"""
"""Blocks whose sizes come from their loops, called in a loop of a block (a choice of two
blocks there, the sizes computed in the branch that makes the block), and in a residual block,
the model calling the outer block: the model runs the inner loops inside the outer one."""


@pytest.mark.parametrize(
    ("overrides", "input_override"),
    [
        ({}, None),
        ({"blocks": 1, "pool": False}, [3, 31, 17]),
        ({"widths": [6], "blocks": 3}, None),
    ],
)
def test_loops_inside_blocks_inside_loops_compile(
    agree: Any, overrides: dict[str, Any], input_override: list[int] | None
) -> None:
    agree(_example(NESTED, "nested.yaml", overrides, input_override, fmt="ns"))


def test_a_block_in_a_choice_has_its_sizes_computed_in_its_branch(tmp_path: Path) -> None:
    source = netspec.loads(NESTED).source()
    top = source[source.index("class NestedSizes(") :]
    assert (
        "        for i, w in enumerate(widths):\n"
        "            if i % 2 == 0 or not pool:\n"
        "                height_1 = height\n"
        "                width_1 = width\n"
        "                for i_1 in range(blocks):\n"
        "                    height_1 = (height_1 - 1) // (2 if i_1 == 0 else 1) + 1\n"
    ) in top
    # the channels need no loop: each iteration gives the same
    assert "channels = (w if blocks > 0 else channels) if i % 2 == 0 or not pool else w" in top
    encoder = source[source.index("class Encoder(") : source.index("class NestedSizes(")]
    assert "range(n)" not in encoder  # its own sizes (channels) need no loop
    ruff_clean(tmp_path, source)


# -- random specs: loops inside blocks that change the sizes ------------------------------------


class _SizedLoops(strategies.SpecGen):
    """The whole-language generator of the agreement test, except that a loop inside a block
    may change the spatial size (there it keeps it, since codegen once refused the rest): the
    sizes after such a block are in no closed form in general, and its callers compute them."""

    def loop(self, ctx: Any, flow: Any, kind: str, names: Any) -> Any:
        if ctx.block is None or flow.fixed:
            return super().loop(ctx, flow, kind, names)
        sub = flow.sub
        flow.sub = lambda fixed=None: sub(fixed=False)
        try:
            return super().loop(ctx, flow, kind, names)
        finally:
            del flow.sub


@st.composite
def _sized_examples(draw: Any) -> Example:
    return _SizedLoops(strategies.DrawChooser(draw)).example()


WORK = Path(tempfile.gettempdir()) / f"netspec-block-sizes-{os.getpid()}"
"""One folder per process for the drawn examples (a replayed example has the same paths)."""


@given(ex=_sized_examples())
def test_blocks_sized_by_their_loops_agree(ex: Example) -> None:
    """The agreement test's property, on specs of the whole language whose blocks' loops
    change sizes."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        agreement.check_example(ex, WORK)
    finally:
        torch.set_num_threads(threads)
        shutil.rmtree(WORK, ignore_errors=True)


def test_random_blocks_whose_callers_run_their_loops_agree(
    agree: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seeded draws of that generator (the derandomized property above draws small specs,
    whose sizes have closed forms), until 12 have a caller that runs a loop of a block for its
    sizes (about one in fourteen): each held to the whole agreement check."""
    ran: list[bool] = []
    real = emit.Module.block_output

    def block_output(self: emit.Module, *args: Any) -> Any:
        shape, sizes = real(self, *args)
        ran.append(bool(sizes))
        return shape, sizes

    monkeypatch.setattr(emit.Module, "block_output", block_output)
    checked = 0
    for seed in range(1000):
        ex = _SizedLoops(strategies.RandomChooser(seed)).example()
        texts = ex.yaml_texts()
        if "base" in texts:
            continue
        ran.clear()
        try:
            spec = netspec.loads(
                texts["main"], name="main.yaml", input_shape=ex.input_override, **ex.overrides
            )
            spec.check()
            spec.source()
        except NetspecError:
            continue
        if any(ran):
            agree(ex)
            checked += 1
            if checked == 12:
                break
    assert checked == 12


# -- regressions ----------------------------------------------------------------------------------

SAME_NAME = """netspec: 1
name: same_name
input: [3, 8, 8]
params:
  depth: 2
blocks:
  Grow:
    params: [c, n]
    body:
      - repeat: n
        as: i
        do:
          - conv2d(c + i, 3, padding=1)
          - relu
layers:
  - body:
      - repeat: depth
        as: i
        do:
          - Grow(4 * (i + 1), 2)
  - head: conv2d(5, 1)
"""
"""A block's loop variable named like its caller's: the size after the block's loop (its last
iteration's ``c + i``) once substituted the block's last ``i`` into the caller's ``i`` too —
``channels = 4 * (2 - 1 + 1) + (2 - 1)``, right only where ``depth`` is 2, so that ``netspec
build --set depth=3`` failed with an internal error. The block's loop variables are named apart
from the caller's now."""


@pytest.mark.parametrize("depth", [2, 3, 0])
def test_a_block_loop_variable_named_like_the_callers(agree: Any, depth: int) -> None:
    source = netspec.loads(SAME_NAME).source()
    assert "channels = 4 * (i + 1) + (2 - 1) if 2 > 0 else channels" in source
    agree(_example(SAME_NAME, "same.yaml", {"depth": depth} if depth != 2 else {}))


def test_sizes_carried_through_a_loop_in_two_variables_are_pruned_together() -> None:
    """``height`` and ``height_1`` read only by each other's assignments: neither is needed."""
    body = [
        Stmt("height_1 = height", reads=frozenset({"height"}), writes="height_1"),
        Stmt(
            "for i in range(n):",
            reads=frozenset({"n"}),
            block=True,
            body=[
                Stmt("height_1 = height_1 - 1", reads=frozenset({"height_1"}), writes="height_1")
            ],
        ),
        Stmt("height = height_1", reads=frozenset({"height_1"}), writes="height"),
        Stmt("self.fc = nn.Linear(channels, 10)", reads=frozenset({"channels"})),
        Stmt("channels = 4", writes="channels"),
    ]
    kept = prune(body, {"height", "height_1", "channels"})
    assert [s.prefix for s in kept] == ["self.fc = nn.Linear(channels, 10)", "channels = 4"]


def test_the_generated_files_type_check(tmp_path: Path) -> None:
    """The files with sizes computed by the caller's loops type-check (mypy, one run)."""
    sources = {
        "efficientnet_pool": netspec.loads(
            _efficientnet_without_residual("avgpool2d(2)"), name="efficientnet.ns"
        ).source(),
        "first_differs": netspec.loads(FIRST_DIFFERS).source(),
        "nested_sizes": netspec.loads(NESTED).source(),
    }
    files = []
    for name, source in sources.items():
        files.append(tmp_path / f"{name}.py")
        files[-1].write_text(source)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", os.devnull, "--no-incremental"]
        + ["--follow-imports=silent", *map(str, files)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
