"""The command line: commands, output, exit codes, and the catalogue of bad specs.

Every bad spec must exit with code 2 and print one error naming ``file:line:col`` and where
in the spec (the layer path, or the key path outside the layers), with no traceback.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from netspec.cli import app
from tests.backends.test_module import patch_source

runner = CliRunner()

HEAD = "netspec: 1\nname: t\ninput: [3, 32, 32]\n"


def run(*args: str) -> Any:
    return runner.invoke(app, list(args))


def assert_torch_free(args: list[str], status: int) -> None:
    """``netspec ARGS``, run in a fresh interpreter, exits with ``status`` without importing
    torch."""
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom netspec.cli import app\n"
        f"r = CliRunner().invoke(app, {args!r})\n"
        "print(r.exit_code, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == [str(status), "False"], out.stderr


# (id, spec text, line, col, where, text the message must contain)
BAD_SPECS: list[tuple[str, str, int, int, str, str]] = [
    (
        "unknown-operator",
        HEAD + "layers:\n  - conv1: conv2e(64, 3)\n",
        5,
        12,
        "conv1",
        "unknown operator 'conv2e'",
    ),
    (
        "misspelt-block",
        HEAD
        + "blocks:\n  Basic:\n    params: [c]\n    body:\n      - conv2d(c, 3)\n"
        + "layers:\n  - b: Basik(8)\n",
        10,
        8,
        "b",
        "unknown operator or block 'Basik'",
    ),
    (
        "concat-of-two-ranks",
        HEAD + "layers:\n  - c: conv2d(4, 3)\n  - f: flatten\n  - j: concat\n    from: [c, f]\n",
        7,
        8,
        "j",
        "paths concatenated along channels must have one rank (here 3-d and 1-d)",
    ),
    (
        "quoted-param-text",
        HEAD + "params:\n  mode: \"'bilinear'\"\nlayers:\n  - upsample(2, mode=mode)\n",
        5,
        3,
        "params.mode",
        "the value \"'bilinear'\" of 'mode' holds quote marks",
    ),
    ("unknown-key", HEAD + "laers:\n  - relu\n", 4, 1, "laers", "unknown key 'laers'"),
    (
        "unknown-key-in-loop",
        HEAD + "layers:\n  - f:\n      - for: i in range(2)\n        doo: [relu]\n",
        7,
        9,
        "f.0",
        "unknown key 'doo'",
    ),
    (
        "unknown-attribute",
        HEAD + "layers:\n  - conv1: conv2d(64, 3, paddin=1)\n",
        5,
        26,  # the misspelt keyword, not its value
        "conv1",
        "conv2d has no attribute 'paddin'",
    ),
    (
        "wrong-type-input",
        "netspec: 1\nname: t\ninput: [3, 22.5, 22]\nlayers: [relu]\n",
        3,
        8,
        "input",
        "input must be a list of 1 to 4 positive integers",
    ),
    (
        "wrong-type-attribute",
        HEAD + "layers:\n  - conv1: conv2d(64.5, 3)\n",
        5,
        19,
        "conv1",
        "out_channels expects a positive integer, found 64.5",
    ),
    (
        "attribute-word-misspelt",
        HEAD + "layers:\n  - conv1: conv2d(8, 3, padding_mode='reflects')\n",
        5,
        38,
        "conv1",
        "padding_mode expects 'zeros', 'reflect', 'replicate' or 'circular', found 'reflects'",
    ),
    ("wrong-type-layers", HEAD + "layers: relu\n", 4, 9, "layers", "expected a list"),
    (
        "missing-attribute",
        HEAD + "layers:\n  - conv1: conv2d(64)\n",
        5,
        12,
        "conv1",
        "conv2d needs kernel_size",
    ),
    (
        "undefined-name",
        HEAD + "params:\n  num_classes: 10\nlayers:\n  - flatten\n  - fc: linear(num_clases)\n",
        8,
        16,
        "fc",
        "undefined name 'num_clases'",
    ),
    (
        "channel-mismatch",
        HEAD + "layers:\n  - conv1: conv2d(64, 3)\n  - conv2: conv2d(64, 3, in_channels=128)\n",
        6,
        5,
        "conv2",
        "conv2d expects 128 input channels, but its input has 64",
    ),
    (
        "feature-mismatch",
        "netspec: 1\nname: t\ninput: [3, 200, 200]\nlayers:\n"
        '  - features: ["conv2d(512, 3, stride=36, padding=1)"]\n  - flatten\n'
        "  - fc1: linear(4096, in_features=25088)\n",
        7,
        5,
        "fc1",
        "linear expects 25088 input features, but its input has 18432",
    ),
    (
        "non-positive-output",
        HEAD + "layers:\n  - pool: maxpool2d(64)\n",
        5,
        21,
        "pool",
        "output H would be 0",
    ),
    (
        "kernel-larger-than-input",
        HEAD + "layers:\n  - conv1: conv2d(8, 40)\n",
        5,
        22,
        "conv1",
        "the kernel spans 40 but the padded input H is 32",
    ),
    (
        "groups-not-dividing",
        HEAD + "layers:\n  - conv1: conv2d(64, 3, groups=2)\n",
        5,
        33,
        "conv1",
        "groups=2 must divide the 3 input channels",
    ),
    ("malformed-yaml", HEAD + "layers: [relu\n", 4, 14, "document", "malformed YAML"),
    ("empty-file", "", 1, 1, "document", "the file is empty"),
    (
        "alias-bomb",
        "netspec: 1\nname: t\ninput: [1]\n"
        + "".join(
            f"{c}: &{c} [{', '.join([('*' + p) if p else '0'] * 9)}]\n"
            for c, p in zip("abcdefg", ["", "a", "b", "c", "d", "e", "f"], strict=True)
        )
        + "layers: *g\n",
        9,
        12,
        "document",
        "expands to more than 200,000 nodes",
    ),
    (
        "deep-nesting",
        HEAD + "layers: " + "[" * 10_000 + "]" * 10_000 + "\n",
        4,
        108,
        "document",
        "nesting deeper than 100 levels",
    ),
    (
        "expression-syntax",
        HEAD + "layers:\n  - conv1: conv2d(64,, 3)\n",
        5,
        22,
        "conv1",
        "invalid layer call",
    ),
    (
        "same-padding-stride",
        HEAD + "layers:\n  - conv1: conv2d(8, 3, stride=2, padding='same')\n",
        5,
        43,
        "conv1",
        "padding='same' needs stride 1",
    ),
    (
        "pool-padding",
        HEAD + "layers:\n  - pool: maxpool2d(2, padding=2)\n",
        5,
        32,
        "pool",
        "padding 2 is more than half the kernel size 2",
    ),
    (
        "wrong-rank",
        HEAD + "layers:\n  - flatten\n  - conv1: conv2d(8, 3)\n",
        6,
        5,
        "conv1",
        "conv2d expects a 3-d input",
    ),
    (
        "duplicate-name",
        HEAD + "layers:\n  - conv1: conv2d(8, 3)\n  - conv1: conv2d(8, 3)\n",
        6,
        5,
        "conv1",
        "the name 'conv1' is used twice",
    ),
    (
        "unnamed-stateful",
        HEAD + "layers:\n  - conv2d(8, 3)\n  - fc: linear(10)\n",
        5,
        5,
        "conv2d",
        "owns parameters, so it needs a name",
    ),
    (
        "nested-mixed-names",
        HEAD + "layers:\n  - stem:\n      - conv: conv2d(8, 3)\n      - relu\n",
        7,
        9,
        "stem",
        "has no name, but other layers in stem have names",
    ),
    (
        "top-level-loop-duplicate-name",
        HEAD
        + "layers:\n  - stem: conv2d(8, 3)\n  - repeat: 2\n    do:\n      - conv: conv2d(8, 3)\n",
        8,
        9,
        "conv",
        "the name 'conv' is used twice in the model",
    ),
    (
        "top-level-loop-unnamed-stateful",
        HEAD + "layers:\n  - stem: conv2d(8, 3)\n  - repeat: 2\n    do:\n      - relu\n"
        "      - conv2d(8, 3)\n",
        9,
        9,
        "conv2d",
        "this conv2d owns parameters, so it needs a name",
    ),
    (
        "top-level-loop-template-twice",
        HEAD + "layers:\n  - for: i in [1, 2, 1]\n    do:\n"
        '      - "conv{i}": conv2d(8, 3, padding=1)\n',
        7,
        9,
        "conv1",
        "the name 'conv1' is used twice in the model",
    ),
    (
        "top-level-loop-non-identifier",
        HEAD + 'layers:\n  - for: i in range(2)\n    do:\n      - "conv-{i}": conv2d(8, 3)\n',
        7,
        9,
        "conv-0",
        "layer name 'conv-0' is not an identifier, so it cannot be an attribute",
    ),
    (
        "negative-repeat",
        HEAD + "layers:\n  - repeat: -1\n    do: [relu]\n",
        5,
        13,
        "layers",
        "repeat expects a count ≥ 0, found -1",
    ),
    (
        "loop-over-number",
        HEAD + "layers:\n  - for: i in 3\n    do: [relu]\n",
        5,
        10,
        "layers",
        "a loop needs a list to iterate over, found 3",
    ),
    (
        "index-out-of-range",
        HEAD + "let:\n  widths: [8, 16]\nlayers:\n  - conv2d(widths[2], 3)\n",
        7,
        19,
        "0",
        "index 2 is out of range for a list of 2 items",
    ),
    (
        "division-by-zero",
        HEAD + "let:\n  w: 8 // 0\nlayers: [relu]\n",
        5,
        6,
        "let.w",
        "division by zero",
    ),
    (
        "language-version",
        "netspec: 2\nname: t\ninput: [1]\nlayers: [relu]\n",
        1,
        10,
        "netspec",
        "unsupported language version 2",
    ),
    (
        "missing-name",
        "netspec: 1\ninput: [1]\nlayers: [relu]\n",
        1,
        1,
        "document",
        "missing key 'name'",
    ),
    (
        "missing-input",
        "netspec: 1\nname: t\nlayers: [relu]\n",
        1,
        1,
        "document",
        "missing key 'input'",
    ),
    (
        "reserved-layer-name",
        HEAD + "layers:\n  - training: conv2d(8, 3)\n",
        5,
        5,
        "training",
        "attribute of torch.nn.Module",
    ),
    (
        "keyword-layer-name",
        HEAD + "layers:\n  - class: conv2d(8, 3)\n",
        5,
        5,
        "class",
        "is a Python keyword",
    ),
    (
        "reserved-param-name",
        HEAD + "params:\n  max: 3\nlayers: [relu]\n",
        5,
        3,
        "params.max",
        "would hide the built-in function max()",
    ),
    (
        "duplicate-yaml-key",
        HEAD + "layers: [relu]\nlayers: [relu]\n",
        5,
        1,
        "document",
        "duplicate key 'layers'",
    ),
    ("tab-indent", HEAD + "layers:\n\t- relu\n", 5, 1, "document", "a tab in the indentation"),
    (
        "yaml-tag",
        HEAD + "layers: !!python/object:os.system [relu]\n",
        4,
        9,
        "document",
        "YAML tag 'tag:yaml.org,2002:python/object:os.system' is not allowed",
    ),
    (
        "flatten-batch",
        HEAD + "layers:\n  - flatten(0)\n",
        5,
        13,
        "0",
        "start_dim=0 would merge the batch dimension",
    ),
    ("flow-list-comma", HEAD + "layers: [conv2d(8, 3), relu]\n", 4, 18, "0", "invalid layer call"),
    ("quoted-layer", HEAD + "layers:\n  - \"'relu'\"\n", 5, 6, "0", "expected a layer call"),
    (
        "unknown-function",
        HEAD + "let:\n  w: foo(3)\nlayers: [relu]\n",
        5,
        6,
        "let.w",
        "unknown function 'foo'",
    ),
    (
        "boolean-arithmetic",
        HEAD + "let:\n  w: true + 1\nlayers: [relu]\n",
        5,
        6,
        "let.w",
        "cannot apply '+' to a boolean and an integer",
    ),
    (
        "number-too-large",
        HEAD + "let:\n  w: 10 ** 100\nlayers: [relu]\n",
        5,
        6,
        "let.w",
        "the result is too large",
    ),
    (
        "positional-after-keyword",
        HEAD + "layers:\n  - conv1: conv2d(out_channels=8, 3)\n",
        5,
        35,
        "conv1",
        "a positional argument follows a keyword argument",
    ),
    (
        "too-many-arguments",
        HEAD + "layers:\n  - act: relu(true, 1)\n",
        5,
        21,
        "act",
        "relu takes at most 1 positional arguments",
    ),
    (
        "argument-twice",
        HEAD + "layers:\n  - conv1: conv2d(8, 3, out_channels=4)\n",
        5,
        38,
        "conv1",
        "conv2d got 'out_channels' twice",
    ),
    (
        "zero-input",
        "netspec: 1\nname: t\ninput: [3, 0, 32]\nlayers: [relu]\n",
        3,
        8,
        "input",
        "input must be a list of 1 to 4 positive integers",
    ),
    (
        "bad-name-template",
        HEAD + "layers:\n  - blocks:\n      - for: i in range(2)\n"
        '        do:\n          - "{i}conv": conv2d(8, 3)\n',
        8,
        13,
        "blocks.0conv",
        "layer name '0conv' is not a valid layer name",
    ),
    (
        "input-outside-block",
        HEAD + "let:\n  w: in.channels\nlayers: [relu]\n",
        5,
        6,
        "let.w",
        "`in` (the input shape) is only available inside a block",
    ),
    (
        "softmax-dim",
        HEAD + "layers:\n  - act: softmax(dim=5)\n",
        5,
        22,
        "act",
        "softmax: dim=5 is out of range for a 3-d input",
    ),
    ("top-level-list", "- relu\n", 1, 1, "document", "a spec is a mapping of keys"),
]


H = HEAD.replace("[3, 32, 32]", "[4, 8, 8]")
RES = (
    "blocks:\n  Res:\n    params: [planes, stride = 1]\n    body:\n"
    "      - conv: conv2d(planes, 3, stride=stride, padding=1)\n"
    "    shortcut: {}\n    then: [relu]\n"
)

# (id, spec text, line, col, where, text the message must contain) for the block language
BLOCK_BAD_SPECS: list[tuple[str, str, int, int, str, str]] = [
    (
        "parallel-paths-not-lists",
        H + "blocks:\n  P:\n    body:\n      - parallel:\n          - a: conv2d(2, 1)\n"
        "          - b: conv2d(2, 1)\nlayers:\n  - p: P\n",
        7,
        9,
        "blocks.P",
        "each path of `parallel` is a list of layers, found layers",
    ),
    (
        "shortcut-mismatch",
        H + RES + "layers:\n  - b: Res(8)\n",
        9,
        5,
        "b",
        "Res: paths added together must have the same shape (or shape",
    ),
    (
        "concat-spatial-mismatch",
        H + "blocks:\n  S:\n    branches:\n      a: conv2d(2, 1)\n      b: conv2d(2, 3)\n"
        "layers:\n  - s: S\n",
        6,
        5,
        "s",
        "S: paths concatenated along channels must agree on every oth",
    ),
    (
        "unknown-block",
        H + RES + "layers:\n  - l1: stage(Rse, depth=2, planes=4)\n",
        12,
        15,
        "l1",
        "unknown block 'Rse'",
    ),
    (
        "recursive-block",
        H + "blocks:\n  A:\n    body:\n      - a: A\nlayers:\n  - a: A\n",
        7,
        9,
        "blocks.A.a",
        "block A calls itself with no condition that can end the recursion (A → A)",
    ),
    (
        "mutual-recursion",
        H + "blocks:\n  A:\n    body: [b: B]\n  B:\n    body: [a: A]\nlayers:\n  - a: A\n",
        6,
        12,
        "blocks.A.b",
        "block A calls itself with no condition that can end the recursion (A → B → A)",
    ),
    (
        "unbounded-recursion",
        H + "blocks:\n  A:\n    params: [d]\n    body:\n      - conv: conv2d(4, 1)\n"
        "      - if: d > 0\n        then: [a: A(d - 1)]\nlayers:\n  - a: A(10**9)\n",
        10,
        16,
        ".".join(["a"] * 33),
        "unbounded recursion: A is still calling itself 32 blocks deep (A(d=1000000000) → "
        "A(d=999999999) → … → A(d=999999969) → A(d=999999968))",
    ),
    (
        "unknown-block-argument",
        H + RES + "layers:\n  - b: Res(plane=4)\n",
        12,
        12,  # at the keyword, as an operator's misspelt keyword is
        "b",
        "Res has no parameter 'plane'",
    ),
    ("missing-block-argument", H + RES + "layers:\n  - b: Res\n", 12, 5, "b", "Res needs 'planes'"),
    (
        "too-many-block-arguments",
        H + RES + "layers:\n  - b: Res(4, 1, 2)\n",
        12,
        18,
        "b",
        "Res takes at most 2 positional arguments (planes, stride), f",
    ),
    (
        "stage-depth-zero",
        H + RES + "layers:\n  - l1: stage(Res, depth=0, planes=4)\n",
        12,
        26,
        "l1",
        "a stage's depth must be ≥ 1, found 0",
    ),
    (
        "stage-without-depth",
        H + RES + "layers:\n  - l1: stage(Res, planes=4)\n",
        12,
        9,
        "l1",
        "stage needs depth=…, the number of blocks",
    ),
    (
        "stage-of-an-operator",
        H + RES + "layers:\n  - l1: stage(conv2d, depth=2)\n",
        12,
        15,
        "l1",
        "unknown block 'conv2d'",
    ),
    (
        "block-groups",
        H + "blocks:\n  G:\n    body:\n      - conv: conv2d(6, 3, groups=3)\nlayers:\n  - g: G\n",
        7,
        35,
        "g.conv",
        "conv2d: groups=3 must divide the 4 input channels",
    ),
    (
        "block-named-like-op",
        H + "blocks:\n  relu:\n    body: [identity]\nlayers: [relu]\n",
        5,
        3,
        "blocks.relu",
        "block name 'relu' is the name of an operator",
    ),
    (
        "duplicate-block-param",
        H + "blocks:\n  D:\n    params: [a, a]\n    body: [identity]\nlayers:\n  - d: D(1, 2)\n",
        6,
        17,
        "blocks.D",
        "parameter 'a' is declared twice",
    ),
    (
        "required-after-default",
        H
        + "blocks:\n  D:\n    params: [a = 1, b]\n    body: [identity]\nlayers:\n  - d: D(1, 2)\n",
        6,
        21,
        "blocks.D",
        "required parameter 'b' follows a parameter with a default",
    ),
    (
        "body-and-branches",
        H + "blocks:\n  D:\n    body: [identity]\n    branches:\n      a: identity\n"
        "layers:\n  - d: D\n",
        7,
        5,
        "blocks.D",
        "a block has a body or branches, not both",
    ),
    (
        "merge-without-paths",
        H + "blocks:\n  D:\n    body: [identity]\n    merge: add\nlayers:\n  - d: D\n",
        7,
        5,
        "blocks.D",
        "`merge` needs `branches` or a residual connection (`shortcut",
    ),
    (
        "first-only-unknown",
        H + "blocks:\n  D:\n    params: [stride = 1]\n    first_only: [strides]\n"
        "    body: [identity]\nlayers:\n  - d: D\n",
        7,
        5,
        "blocks.D",
        "first_only names 'strides', which is not a parameter of D",
    ),
    (
        "unnamed-block",
        H + RES + "layers:\n  - conv: conv2d(4, 1)\n  - Res(4)\n",
        13,
        5,
        "layers",
        "this block needs a name (its module attribute and the prefix",
    ),
    (
        "block-param-syntax",
        H + 'blocks:\n  D:\n    params: ["1x"]\n    body: [identity]\nlayers:\n  - d: D\n',
        6,
        15,
        "blocks.D.0",
        "invalid block parameter: unexpected '1': expected a name",
    ),
    (
        "block-unknown-key",
        H + "blocks:\n  D:\n    bdy: [identity]\nlayers:\n  - d: D\n",
        6,
        5,
        "blocks.D.bdy",
        "unknown key 'bdy'",
    ),
    (
        "input-attribute",
        H + "blocks:\n  D:\n    body:\n      - conv: conv2d(in.colors, 1)\nlayers:\n  - d: D\n",
        7,
        22,
        "d.conv",
        "`in` has no attribute 'colors' for a 3-d input",
    ),
    (
        "branch-keyword-name",
        H + "blocks:\n  D:\n    branches:\n      class: identity\nlayers:\n  - d: D\n",
        7,
        7,
        "blocks.D.class",
        "layer name 'class' is a Python keyword",
    ),
    (
        "residual-undefined",
        H + "blocks:\n  D:\n    residual: strde == 1\n    body: [identity]\nlayers:\n  - d: D\n",
        6,
        15,
        "blocks.D.residual",  # a misspelling of the block's text, refused where it is
        "undefined name 'strde'",
    ),
    (
        "loop-in-then-duplicate-name",
        H + "blocks:\n  B:\n    params: [c]\n    body:\n      - conv: conv2d(c, 1)\n"
        "    then:\n      - repeat: 2\n        do:\n          - act: conv2d(c, 1)\n"
        "layers:\n  - b: B(4)\n",
        12,
        13,
        "b.act",
        "the name 'act' is used twice in b",
    ),
    (
        "stage-depth-bool",
        H + RES + "layers:\n  - l1: stage(Res, depth=true, planes=4)\n",
        12,
        26,
        "l1",
        "a stage's depth must be ≥ 1, found true (boolean)",
    ),
]


def _error_line(output: str) -> str:
    return output.strip().splitlines()[0]


@pytest.mark.parametrize(
    ("text", "line", "col", "where", "message"),
    [case[1:] for case in BAD_SPECS],
    ids=[case[0] for case in BAD_SPECS],
)
def test_bad_spec(tmp_path: Path, text: str, line: int, col: int, where: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = run("check", str(path))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    first = _error_line(result.stderr)
    assert first.startswith(f"error: {path}:{line}:{col}: {where}: "), first
    assert message in first, first


def test_at_least_25_distinct_bad_specs() -> None:
    assert len({case[0] for case in BAD_SPECS}) >= 25


@pytest.mark.parametrize(
    ("text", "line", "col", "where", "message"),
    [case[1:] for case in BLOCK_BAD_SPECS],
    ids=[case[0] for case in BLOCK_BAD_SPECS],
)
def test_bad_block_spec(
    tmp_path: Path, text: str, line: int, col: int, where: str, message: str
) -> None:
    test_bad_spec(tmp_path, text, line, col, where, message)


def test_at_least_15_distinct_bad_block_specs() -> None:
    assert len({case[0] for case in BLOCK_BAD_SPECS}) >= 15


def test_errors_show_the_line_with_a_caret(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD + "layers:\n  - conv1: conv2e(64, 3)\n")
    lines = run("check", str(path)).stderr.splitlines()
    assert lines[1] == " 5 |   - conv1: conv2e(64, 3)"
    assert lines[2] == "   |            ^^^^^^"
    assert lines[3].startswith("hint: did you mean 'conv2d'?")


@pytest.mark.parametrize("case", ["alias-bomb", "deep-nesting", "unknown-operator"])
def test_bad_specs_in_a_real_process(tmp_path: Path, case: str) -> None:
    text = next(c[1] for c in BAD_SPECS if c[0] == case)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "netspec", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert re.match(rf"error: {re.escape(str(path))}:\d+:\d+: ", proc.stderr)


def test_bad_set_values() -> None:
    result = run("check", "vgg16", "--set", "depth=12")
    assert result.exit_code == 2
    assert "depth must be one of 11, 13, 16, 19, found 12" in result.stderr
    result = run("check", "vgg16", "--set", "num_clases=10")
    assert result.exit_code == 2
    assert (
        "no parameter 'num_clases'" in result.stderr
        and "did you mean 'num_classes'" in result.stderr
    )
    result = run("check", "vgg16", "--set", "num_classes")
    assert result.exit_code == 2 and "NAME=VALUE" in result.stderr
    result = run("check", "vgg16", "--set", "num_classes=ten")
    assert result.exit_code == 2 and "undefined name 'ten'" in result.stderr
    result = run("check", "vgg16", "--set", "dropout=[1]")
    assert result.exit_code == 2 and "dropout expects a number" in result.stderr


def test_a_param_given_two_values_by_one_option_is_refused() -> None:
    """``--set n=5 --set n=7``: which was meant? (the last used to win silently); the same
    value twice is harmless, and a diff's ``--set-a`` still overrides ``--set``."""
    twice = run("check", "lenet5", "--set", "num_classes=5", "--set", "num_classes = 7")
    assert twice.exit_code == 2
    assert twice.stderr.startswith(
        "error: --set num_classes: num_classes is given twice by --set: 'num_classes=5' and "
        "'num_classes = 7'\nhint: give each param once"
    )
    same = run("check", "lenet5", "-f", "json", "--set", "num_classes=5", "--set", "num_classes=5")
    assert same.exit_code == 0 and json.loads(same.stdout)["output"] == [5]
    swept = run("sweep", "lenet5", "--grid", "input=32", "--set", "num_classes=2", "--set",
                "num_classes=3")  # fmt: skip
    assert swept.exit_code == 2 and "num_classes is given twice by --set" in swept.stderr
    a_twice = run("diff", "lenet5", "--set-a", "num_classes=2", "--set-a", "num_classes=3")
    assert a_twice.exit_code == 2 and "num_classes is given twice by --set-a" in a_twice.stderr
    overridden = run("diff", "lenet5", "--set", "num_classes=5", "--set-a", "num_classes=7")
    assert overridden.exit_code == 1 and "output 7 → 5" in overridden.stdout


def test_bad_input_option() -> None:
    for bad in ("3,x,224", "3,,224", "3,-1,2", "", "3.5"):
        result = run("check", "vgg16", "--input", bad)
        assert result.exit_code == 2 and "--input expects positive integers" in result.stderr
    assert json.loads(run("check", "lenet5", "-f", "json", "-i", "1x28x28").stdout)["input"] == [
        1,
        28,
        28,
    ]
    result = run("check", "vgg16", "--input", "3,20,20")
    assert result.exit_code == 2
    assert "maxpool2d: output H would be 0" in result.stderr


def test_unknown_spec_name_suggests_bundled() -> None:
    result = run("check", "alexnt")
    assert result.exit_code == 2
    assert "did you mean 'alexnet'?" in result.stderr


def test_check_table() -> None:
    result = run("check", "vgg16")
    assert result.exit_code == 0
    out = result.stdout
    assert "features" in out and "classifier" in out
    assert "parameters 138,357,544" in out
    assert "MACs 15,470,264,320 (15.47 G)" in out


def test_check_json() -> None:
    result = run("check", "vgg16", "--format", "json", "--set", "num_classes=10")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert {"name", "input", "output", "parameters", "macs", "layers"} <= data.keys()
    assert data["name"] == "vgg16"
    assert data["input"] == [3, 224, 224] and data["output"] == [10]
    assert data["parameters"] == 134_301_514
    first = data["layers"][0]
    assert first == {
        "path": "features.0",
        "op": "conv2d",
        "call": "conv2d(64, 3, padding=1)",
        "module": True,
        "input": [3, 224, 224],
        "output": [64, 224, 224],
        "parameters": 1792,
        "macs": 86_704_128,
    }
    assert sum(layer["macs"] for layer in data["layers"]) == data["macs"]


def test_macs_all_counts_more() -> None:
    tv = json.loads(run("check", "alexnet", "-f", "json").stdout)
    everything = json.loads(run("check", "alexnet", "-f", "json", "--macs", "all").stdout)
    assert everything["macs_convention"] == "all"
    assert everything["macs"] > tv["macs"]


def test_input_override() -> None:
    data = json.loads(run("check", "alexnet", "-f", "json", "--input", "3,256,256").stdout)
    assert data["input"] == [3, 256, 256]
    assert data["layers"][0]["output"] == [64, 63, 63]


def test_explain_and_depth() -> None:
    out = run("check", "lenet5", "--explain").stdout
    assert "H: (32 − 5 + 2·0) / 1 + 1 = 28" in out
    assert "params: (1·5·5 + 1)·6 = 156" in out
    folded = run("check", "vgg16", "--depth", "1").stdout
    assert "features.0" not in folded and "Sequential …" in folded


def test_json_explain_carries_each_layers_arithmetic() -> None:
    """``--explain`` with JSON: each layer's lines, the table's words exactly; without it
    no layer has the key."""
    table = run("check", "lenet5", "--explain").stdout
    data = json.loads(run("check", "lenet5", "-f", "json", "--explain").stdout)
    first = data["layers"][0]
    assert first["explain"][0] == "H: (32 − 5 + 2·0) / 1 + 1 = 28"
    assert "params: (1·5·5 + 1)·6 = 156" in first["explain"]
    assert all(line in table for row in data["layers"] for line in row.get("explain", []))
    plain = json.loads(run("check", "lenet5", "-f", "json").stdout)
    assert not any("explain" in row for row in plain["layers"])
    assert [dict(row, explain=None) for row in plain["layers"]] == [
        dict(row, explain=None) for row in data["layers"]
    ]


@pytest.mark.parametrize("command", ["check", "build"])
def test_json_refuses_depth(command: str) -> None:
    """``--depth`` folds a table; JSON lists every layer: refused (exit 2, before building)
    rather than ignored."""
    result = run(command, "lenet5", "-f", "json", "--depth", "1")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--depth: folds a table, and --format json lists every layer" in (result.stderr)


def test_tables_in_a_pipe_have_no_trailing_spaces() -> None:
    """A table's last column was padded to its widest cell on every line (`list` wrote 256
    columns a line)."""
    for args in (["list"], ["check", "lenet5"], ["sweep", "lenet5", "--grid", "num_classes=2"]):
        out = run(*args).stdout
        assert out and all(line == line.rstrip() for line in out.splitlines()), args


def test_small_words_of_errors() -> None:
    """An empty spec name is not "a folder"; a value outside an option's choices is not
    worded as pydantic words it ("Value error, …")."""
    empty = run("check", "")
    assert empty.exit_code == 2 and "error: the spec's name is empty" in empty.stderr
    wrong = run("fmt", "--to", "xml", "x.yaml")
    assert wrong.exit_code == 2 and "Value error" not in wrong.stderr
    assert "'xml' is not one of 'yaml', 'ns'" in wrong.stderr


def test_build_checks_the_module() -> None:
    result = run("build", "lenet5", "--verify")
    assert result.exit_code == 0, result.output
    assert "state_dict and forward shapes match the static analysis" in result.stdout


def test_build_json_is_pure_json() -> None:
    result = run("build", "lenet5", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["parameters"] == 61_706


LOOPS = (
    "netspec: 1\nname: m5\ninput: [1, 800]\nparams:\n  depth: 2\nlayers:\n"
    "  - for: i in range(1, 3)\n    do:\n"
    '      - "conv{i}": conv1d(8 * i, 3)\n      - "bn{i}": batchnorm1d\n      - relu\n'
    '      - "pool{i}": maxpool1d(4)\n'
    "  - repeat: depth\n    as: j\n    do:\n"
    '      - "extra{j}": conv1d(16, 3, padding=1)\n'
    "  - flatten\n  - fc: linear(10)\n"
)
"""Loops directly in the model's layers: one with fixed iterations, one whose count is a
param (M5's ``conv1, bn1, pool1, …``)."""


def test_loops_in_a_model_that_names_its_layers(tmp_path: Path) -> None:
    """A loop at the top level builds, its names the model's attributes and state_dict keys."""
    path = tmp_path / "m5.yaml"
    path.write_text(LOOPS)
    for extra in ([], ["--set", "depth=3"]):
        result = run("build", str(path), "--verify", "--format", "json", *extra)
        assert result.exit_code == 0, result.output
        paths = [row["path"] for row in json.loads(result.stdout)["layers"]]
        depth = 3 if extra else 2
        assert paths == [
            *("conv1", "bn1", "relu", "pool1", "conv2", "bn2", "relu", "pool2"),
            *(f"extra{j}" for j in range(depth)),
            *("flatten", "fc"),
        ]
    source = run("codegen", str(path)).stdout
    assert "self.conv2 = nn.Conv1d(8, 16, 3)" in source  # the fixed loop, written out
    assert 'setattr(self, f"extra{j}", nn.Conv1d(' in source  # the param's, a loop


KERNEL = (
    "netspec: 1\nname: k\ninput: [3, 16, 16]\nparams:\n  k: 7\n"
    "layers:\n  - conv: conv2d(8, k)\n  - flatten\n  - fc: linear(10)\n"
)
"""A kernel of 7 by default: an input of 5×5 needs ``--set k=3``."""


def test_build_agrees_with_check_for_set_and_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netspec.backends import module as module_backend

    path = tmp_path / "k.yaml"
    path.write_text(KERNEL)
    args = (str(path), "--set", "k=3", "--input", "3,5,5")
    checked = run("check", *args, "-f", "json")
    assert checked.exit_code == 0, checked.output
    executed: list[str] = []
    real = module_backend.compile_source

    def spy(source: str, label: str = "model") -> Any:
        executed.append(source)
        return real(source, label)

    monkeypatch.setattr(module_backend, "compile_source", spy)
    built = run("build", *args, "-f", "json", "--verify")
    assert built.exit_code == 0, built.output
    assert json.loads(built.stdout) == json.loads(checked.stdout)
    assert json.loads(built.stdout)["parameters"] == 954
    # build executes exactly what codegen writes for the same arguments
    written = run("codegen", *args)
    assert written.exit_code == 0, written.output
    assert executed == [written.stdout]
    # at the default k=7 the input is too small: build says so as check does
    for command in ("check", "build"):
        result = run(command, str(path), "--input", "3,5,5")
        assert result.exit_code == 2
        assert "the kernel spans 7 but the padded input H is 5" in result.stderr


def test_build_that_disagrees_is_an_internal_error(
    tmp_spec: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_spec(
        HEAD.replace("[3, 32, 32]", "[8]") + "layers:\n  - a: linear(4)\n  - b: linear(3)\n"
    )
    patch_source(monkeypatch, "nn.Linear(8, 4)", "nn.Linear(8, 5)")
    result = run("build", str(path), "-f", "json")
    assert result.exit_code == 1
    assert result.stdout == ""
    first = result.stderr.splitlines()[0]
    assert first == (
        "internal error: the built module disagrees with the static analysis: "
        "a.weight: static [4, 8], module [5, 8]"
    )
    assert "a.bias: static [4], module [5]" in result.stderr
    assert "This is a bug in netspec" in result.stderr and "Traceback" not in result.stderr


def test_build_verify_checks_the_final_output(
    tmp_spec: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_spec(HEAD.replace("[3, 32, 32]", "[8]") + "layers:\n  - a: linear(4)\n")
    patch_source(monkeypatch, "        return x\n", "        return x[:, :2]\n")
    assert run("build", str(path)).exit_code == 0  # the state_dict agrees
    result = run("build", str(path), "--verify")
    assert result.exit_code == 1
    assert "output: static [4], module [2]" in result.stderr


def test_list() -> None:
    result = run("list")
    assert result.exit_code == 0
    for name in ("lenet5", "alexnet", "alexnet_paper", "vgg16_bn"):
        assert name in result.stdout
    names = [row["name"] for row in json.loads(run("list", "-f", "json").stdout)]
    assert "vgg19_bn" in names


def test_build_by_path_from_the_readme() -> None:
    root = Path(__file__).parent.parent
    result = run("check", str(root / "specs" / "vgg16.yaml"))
    assert result.exit_code == 0


def test_help_lists_commands() -> None:
    out = run("--help").stdout
    for command in ("build", "check", "list"):
        assert command in out


def test_internal_errors_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    import netspec.expand.expander as expander

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(expander._Expander, "run", boom)
    result = run("check", "lenet5")
    assert result.exit_code == 1
    assert "internal error: ZeroDivisionError: simulated bug" in result.stderr
    assert "Traceback" not in result.stderr


# -- fmt and schema --------------------------------------------------------------------------------

MESSY = (
    "# a comment\nnetspec: 1\nname: t\ninput: '[3,32,32]'\n"
    "layers:\n  - c: conv2d( 8,3 )   # conv\n  - relu\n"
)
CANONICAL = (
    "# a comment\nnetspec: 1\nname: t\ninput: [3, 32, 32]\n"
    "layers:\n  - c: conv2d(8, 3)  # conv\n  - relu\n"
)


def test_fmt_prints_the_canonical_form(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(MESSY)
    result = run("fmt", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout == CANONICAL
    assert path.read_text() == MESSY  # printing changes nothing


def test_fmt_check_and_write(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(MESSY)
    result = run("fmt", "--check", str(path))
    assert result.exit_code == 1
    assert "would reformat" in result.output
    result = run("fmt", "--write", str(path))
    assert result.exit_code == 0, result.output
    assert path.read_text() == CANONICAL
    assert run("fmt", "--check", str(path)).exit_code == 0


def test_fmt_converts_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(MESSY)
    result = run("fmt", "--to", "ns", "--write", str(path))
    assert result.exit_code == 0, result.output
    ns = tmp_path / "t.ns"
    assert ns.read_text() == (
        "# a comment\nnetspec 1\nname t\ninput [3, 32, 32]\n"
        "layers {\n    c: conv2d(8, 3)  # conv\n    relu\n}\n"
    )
    again = run("fmt", "--to", "ns", "--write", str(path))
    assert again.exit_code == 2
    assert "exists" in again.output and "--force" in again.output
    assert run("fmt", "--to", "ns", "--write", "--force", str(path)).exit_code == 0
    back = run("fmt", "--to", "yaml", str(ns))
    assert back.exit_code == 0 and back.stdout == CANONICAL
    # every command takes the .ns file
    checked = run("check", str(ns), "--format", "json")
    assert checked.exit_code == 0 and json.loads(checked.stdout)["output"] == [8, 30, 30]


def test_fmt_refuses_what_makes_no_sense(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(CANONICAL)
    b.write_text(CANONICAL)
    several = run("fmt", str(a), str(b))
    assert several.exit_code == 2 and "several files need --check or --write" in several.output
    assert run("fmt", "--check", str(a), str(b)).exit_code == 0
    converting_check = run("fmt", "--check", "--to", "ns", str(a))
    assert converting_check.exit_code == 2 and "--check compares" in converting_check.output
    both = run("fmt", "--check", "--write", str(a))
    assert both.exit_code == 2 and "choose one of" in both.output


def test_fmt_out_takes_the_format_its_extension_names(tmp_path: Path) -> None:
    """`fmt --out m.ns m.yaml` wrote YAML into m.ns, a file netspec could not read back."""
    path = tmp_path / "t.yaml"
    path.write_text(CANONICAL)
    ns = tmp_path / "t.ns"
    assert run("fmt", "--out", str(ns), str(path)).exit_code == 0
    assert ns.read_text().startswith("# a comment\nnetspec 1\n")
    assert run("check", str(ns)).exit_code == 0
    back = tmp_path / "back.yml"
    assert run("fmt", "--out", str(back), str(ns)).exit_code == 0
    assert back.read_text() == CANONICAL
    crossed = run("fmt", "--to", "ns", "--out", str(tmp_path / "x.yaml"), str(path))
    assert crossed.exit_code == 2 and not (tmp_path / "x.yaml").exists()
    assert "--to ns writes .ns text, and --out" in crossed.stderr
    upper = tmp_path / "M.NS"  # read as YAML (.ns is the lower-case name): written so
    assert run("fmt", "--out", str(upper), str(path)).exit_code == 0
    assert run("check", str(upper)).exit_code == 0
    plain = tmp_path / "x.txt"  # no format in the name: --to, else the file's own
    assert run("fmt", "--to", "ns", "--out", str(plain), str(path)).exit_code == 0
    assert plain.read_text().startswith("# a comment\nnetspec 1\n")


def test_fmt_of_several_files_tells_every_error(tmp_path: Path) -> None:
    """`fmt --write a b c` with b unreadable: a and c are formatted and b's error told
    (it stopped at b, leaving c unformatted and untold); exit 2."""
    a, b, c = tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "c.ns"
    a.write_text(MESSY)
    b.write_text("netspec: 1\nname: b\ninput: [3\n")
    c.write_text("netspec 1\nname c\nlayers {\n    conv2d(8, 3\n}\n")
    result = run("fmt", "--write", str(a), str(b), str(c))
    assert result.exit_code == 2
    assert a.read_text() != MESSY
    assert "b.yaml:" in result.stderr and "c.ns:5:1" in result.stderr
    assert "2 of 3 files failed" in result.stderr


def test_fmt_reports_spec_errors_with_positions(tmp_path: Path) -> None:
    path = tmp_path / "bad.ns"
    path.write_text("netspec 1\nname t\nlayers {\n    conv2d(8, 3\n}\n")
    result = run("fmt", str(path))
    assert result.exit_code == 2
    assert "bad.ns:5:1" in result.output and "not closed" in result.output
    assert "Traceback" not in result.output


def test_fmt_out_writes_atomically_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(MESSY)
    out = tmp_path / "out.ns"
    out.write_text("mine")
    refused = run("fmt", "--to", "ns", "--out", str(out), str(path))
    assert refused.exit_code == 2 and out.read_text() == "mine"
    assert run("fmt", "--to", "ns", "--out", str(out), "--force", str(path)).exit_code == 0
    assert out.read_text().startswith("# a comment\nnetspec 1\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.ns", "t.yaml"]  # no temp files


def test_schema_command(tmp_path: Path) -> None:
    result = run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "netspec spec"
    assert "conv2d" in schema["$defs"]["MappingCall"]["properties"]
    out = tmp_path / "netspec.schema.json"
    assert run("schema", "--out", str(out)).exit_code == 0
    assert json.loads(out.read_text()) == schema
    assert run("schema", "--out", str(out)).exit_code == 2  # exists: needs --force


def test_a_misspelt_param_in_a_variant_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "v.yaml").write_text("netspec: 1\nname: v\nextends: vgg\nparams:\n  detph: 11\n")
    result = run("check", str(tmp_path / "v.yaml"))
    assert result.exit_code == 2
    assert "v.yaml:5:3: params.detph: 'detph' is not a parameter of the spec" in result.output
    assert "did you mean 'depth'?" in result.output


def test_table_prints_brackets_as_written(tmp_path: Path) -> None:
    """Calls are text, never console markup: `[none, 2]` must not vanish as a style tag."""
    path = tmp_path / "p.yaml"
    path.write_text(
        HEAD.replace("32, 32", "9, 9") + "layers:\n  - pool: adaptive_avgpool2d([none, 2])\n"
    )
    result = run("check", str(path))
    assert result.exit_code == 0, result.output
    assert "adaptive_avgpool2d([none, 2])" in result.output


# -- the zoo's constructs: bad input is positioned, names both sizes, and has a hint ------------

_Z = "netspec: 1\nname: t\ninput: [8, 6, 6]\n"
CONSTRUCT_BAD_SPECS = [
    (
        "gate-does-not-broadcast",
        _Z + "blocks:\n  SE:\n    residual: true\n    merge: mul\n    body:\n"
        "      - pool: adaptive_avgpool2d(1)\n      - fc: conv2d(3, 1)\nlayers:\n  - se: SE\n",
        6,
        5,
        "se",
        "found body 3×1×1, input 8×6×6",
    ),
    (
        "split-does-not-divide",
        _Z + "blocks:\n  U:\n    split: true\n    branches:\n      a: [identity]\n"
        "      b: [identity]\n      c: [identity]\nlayers:\n  - u: U\n",
        6,
        5,
        "u",
        "the input's 8 channels do not split into 3 equal parts",
    ),
    (
        "permute-not-a-permutation",
        _Z + "layers:\n  - p: permute([0, 2, 2, 1])\n",
        5,
        16,
        "p",
        "dims [0, 2, 2, 1] is not a permutation of 0…3, the dimensions of the input 8×6×6",
    ),
    (
        "permute-moves-the-batch",
        _Z + "layers:\n  - p: permute([1, 0, 2, 3])\n",
        5,
        16,
        "p",
        "moves the batch dimension",
    ),
    (
        "shuffle-groups-do-not-divide",
        _Z + "layers:\n  - s: channel_shuffle(3)\n",
        5,
        24,
        "s",
        "groups=3 must divide the 8 input channels",
    ),
    (
        "tensor-does-not-broadcast",
        _Z + "blocks:\n  S:\n    tensors:\n      g: full([3, 1, 1], 0.5)\n    body:\n"
        "      - mul(g)\nlayers:\n  - s: S\n",
        9,
        9,
        "s.mul",
        "a tensor 3×1×1 does not broadcast against the input 8×6×6",
    ),
    (
        "parallel-outside-a-block",
        _Z + "layers:\n  - parallel:\n      - [relu]\n",
        5,
        5,
        "layers",
        "parallel paths are written directly in a block's layers",
    ),
]


# the operators of upsampling, 3-d data and group/instance normalisation (issue 11)
CONSTRUCT_BAD_SPECS += [
    (
        "group-norm-groups-do-not-divide",
        _Z + "layers:\n  - g: group_norm(3)\n",
        5,
        19,
        "g",
        "group_norm: num_groups=3 must divide the 8 input channels",
    ),
    (
        "pixel-shuffle-channels-not-a-multiple-of-r2",
        _Z + "layers:\n  - p: pixel_shuffle(3)\n",
        5,
        22,
        "p",
        "pixel_shuffle: upscale_factor=3 needs channels divisible by 3² = 9, found 8",
    ),
    (
        "pixel-unshuffle-does-not-divide",
        _Z + "layers:\n  - p: pixel_unshuffle(4)\n",
        5,
        24,
        "p",
        "pixel_unshuffle: downscale_factor=4 must divide the input height, found 6",
    ),
    (
        "conv-transpose-output-padding-too-large",
        _Z + "layers:\n  - up: conv_transpose2d(4, 3, stride=2, output_padding=2)\n",
        5,
        57,
        "up",
        "conv_transpose2d: output_padding 2 in H must be smaller than the stride (2) or the "
        "dilation (1)",
    ),
    (
        "conv-transpose-padding-too-large",
        _Z + "layers:\n  - up: conv_transpose2d(4, 1, padding=4)\n",
        5,
        40,
        "up",
        "conv_transpose2d: output H would be -2: padding 4 removes 2·4 = 8 of the 6",
    ),
    (
        "3d-convolution-on-2d-data",
        _Z + "layers:\n  - c: conv3d(4, 3)\n",
        5,
        5,
        "c",
        "conv3d expects a 4-d input (channels × depth × height × width), found 8×6×6 (3-d)",
    ),
    (
        "3d-pooling-on-2d-data",
        _Z + "layers:\n  - p: maxpool3d(2)\n",
        5,
        5,
        "p",
        "maxpool3d expects a 4-d input (channels × depth × height × width), found 8×6×6 (3-d)",
    ),
    (
        "upsample-mode-for-another-rank",
        _Z + "layers:\n  - up: upsample(scale_factor=2, mode='trilinear')\n",
        5,
        39,
        "up",
        "upsample: mode 'trilinear' needs a channels × depth × height × width input, found "
        "8×6×6 (3-d)",
    ),
    (
        "upsample-to-nothing",
        _Z + "layers:\n  - up: upsample(scale_factor=0.1)\n",
        5,
        31,
        "up",
        "upsample: output H would be ⌊6·0.1⌋ = 0",
    ),
    (
        "instance-norm-of-one-value",
        _Z + "layers:\n  - pool: adaptive_avgpool2d(1)\n  - norm: instance_norm2d\n",
        6,
        5,
        "norm",
        "instance_norm2d needs more than one value per channel to normalise, found 1×1 = 1 in "
        "the input 8×1×1",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "col", "where", "message"),
    [case[1:] for case in CONSTRUCT_BAD_SPECS],
    ids=[case[0] for case in CONSTRUCT_BAD_SPECS],
)
def test_bad_construct_spec(
    tmp_path: Path, text: str, line: int, col: int, where: str, message: str
) -> None:
    test_bad_spec(tmp_path, text, line, col, where, message)
    result = run("check", str(tmp_path / "bad.yaml"))
    assert "hint: " in result.stderr


# -- diff ------------------------------------------------------------------------------------------


def _checked(*args: str) -> dict[str, Any]:
    result = run("check", *args, "-f", "json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_diff_resnet50_resnet101_changes_layer3_only() -> None:
    result = run("diff", "resnet50", "resnet101", "-f", "json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    a, b = _checked("resnet50"), _checked("resnet101")
    assert data["delta"]["parameters"] == b["parameters"] - a["parameters"] == 18_992_128
    assert data["delta"]["macs"] == b["macs"] - a["macs"] == 3_712_221_184
    changed = [s for s in data["stages"] if s["status"] != "same"]
    assert [s["path"] for s in changed] == ["layer3"]
    layer3 = changed[0]
    assert layer3["b"]["children"] - layer3["a"]["children"] == 17
    assert layer3["delta"] == {"parameters": 18_992_128, "macs": 3_712_221_184}
    assert data["params"] == {"depths": {"a": [3, 4, 6, 3], "b": [3, 4, 23, 3]}}
    table = run("diff", "resnet50", "resnet101", "--depth", "2")
    assert table.exit_code == 1
    out = table.stdout
    assert re.search(r"^layer3\s+changed\s+6 → 23 \(\+17\)\s+1024×14×14\s+\+18,992,128\s+"
                     r"\+3,712,221,184$", out, re.M)  # fmt: skip
    assert "1 of 11 stages differ; 10 unchanged" in out
    added = re.findall(r"^\s+(layer3\.\d+)\s+added\s+Bottleneck", out, re.M)
    assert added == [f"layer3.{i}" for i in range(6, 23)]
    assert "parameters 25,557,032 → 44,549,160 (+18,992,128" in out
    assert "MACs 4,089,184,256 → 7,801,405,440 (+3,712,221,184" in out


def test_diff_one_spec_with_set_b_equals_two_specs() -> None:
    two = json.loads(run("diff", "resnet50", "resnet101", "-f", "json").stdout)
    one = run("diff", "resnet50", "--set-b", "depths=[3,4,23,3]", "-f", "json")
    assert one.exit_code == 1
    same = json.loads(one.stdout)
    assert same["stages"] == two["stages"] and same["delta"] == two["delta"]
    assert same["b"]["spec"] == "resnet50 --set depths=[3,4,23,3]"
    again = run("diff", "resnet50", "resnet50", "--set-a", "num_classes=10", "-f", "json")
    assert [s["path"] for s in json.loads(again.stdout)["stages"] if s["status"] != "same"] == [
        "fc"
    ]


def test_diff_identical_exits_0_and_errors_exit_2() -> None:
    same = run("diff", "lenet5", "lenet5", "--set", "num_classes=3")
    assert same.exit_code == 0, same.output
    assert "identical" in same.stdout
    differ = run("diff", "lenet5", "--input-b", "1,36,36")
    assert differ.exit_code == 1
    assert "input 1×32×32 → 1×36×36" in differ.stdout
    bad = run("diff", "vgg16", "--set-b", "depth=12")
    assert bad.exit_code == 2
    assert "depth must be one of 11, 13, 16, 19, found 12" in bad.stderr
    assert "hint: in B (vgg16 --set depth=12)" in bad.stderr
    assert "error: --set-b depth: " in bad.stderr  # the option that gave the value
    unknown = run("diff", "vgg16", "--set", "depth=13", "--set-a", "dpth=11")
    assert unknown.exit_code == 2 and "error: --set-a dpth: " in unknown.stderr
    shared = run("diff", "vgg16", "--set", "depth=12", "--set-a", "num_classes=3")
    assert "error: --set depth: " in shared.stderr and "in A (" in shared.stderr
    # a value that does not parse: the option of that value, not of the last one given
    parsed = run("diff", "vgg16", "--set", "num_classes=[", "--set-a", "num_classes=3")
    assert "error: --set num_classes: " in parsed.stderr
    bare = run("diff", "vgg16", "--set-a", "nope")
    assert "error: --set-a expects NAME=VALUE, found 'nope'" in bare.stderr
    missing = run("diff", "lenet5", "alexnt")
    assert missing.exit_code == 2 and "did you mean 'alexnet'?" in missing.stderr
    assert "Traceback" not in bad.stderr + missing.stderr


def test_diff_of_spec_files(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.ns"
    a.write_text(HEAD + "layers:\n  - conv: conv2d(8, 3)\n  - flatten\n  - fc: linear(10)\n")
    b.write_text(
        "netspec 1\nname t\ninput [3, 32, 32]\nlayers {\n    conv: conv2d(8, 3)\n"
        "    act: relu\n    flatten\n}\n"
    )
    result = run("diff", str(a), str(b), "-f", "json")
    assert result.exit_code == 1, result.output
    rows = [(r["path"], r["status"]) for r in json.loads(result.stdout)["layers"]]
    assert rows == [("act", "added"), ("fc", "removed")]


def test_diff_does_not_import_torch() -> None:
    assert_torch_free(["diff", "resnet50", "resnet101"], 1)


# -- sweep -----------------------------------------------------------------------------------------


def test_sweep_table_csv_and_json() -> None:
    grid = ("--grid", "width_mult=0.5,1.0", "--grid", "input=160,224")
    table = run("sweep", "mobilenet_v2", *grid)
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "width_mult", "input", "Input", "Output", "Params", "MACs", "Activations",
    ]  # fmt: skip
    assert lines[-1].split()[:6] == ["1.0", "224", "3×224×224", "1000", "3,504,872", "300,774,272"]
    rows = list(csv.reader(io.StringIO(run("sweep", "mobilenet_v2", *grid, "-f", "csv").stdout)))
    assert [row[:3] for row in rows[1:]] == [
        ["0.5", "160", "3x160x160"],
        ["0.5", "224", "3x224x224"],
        ["1.0", "160", "3x160x160"],
        ["1.0", "224", "3x224x224"],
    ]
    data = json.loads(run("sweep", "mobilenet_v2", *grid, "-f", "json").stdout)
    assert data["grid"] == {"width_mult": [0.5, 1.0], "input": [160, 224]}
    assert data["rows"][3]["macs"] == 300_774_272


def test_sweep_writes_a_file_and_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "sweep.csv"
    args = ("sweep", "lenet5", "--grid", "num_classes=10,20", "-f", "csv", "--out", str(out))
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("num_classes,input_shape,output_shape,parameters,macs,")
    assert "wrote" in result.stderr and "2 configurations" in result.stderr
    again = run(*args)
    assert again.exit_code == 2 and "exists" in again.stderr
    assert run(*args, "--force").exit_code == 0
    # the extension of --out says the format where --format does not (it wrote a table)
    named = tmp_path / "sweep.json"
    assert run("sweep", "lenet5", "--grid", "num_classes=2", "--out", str(named)).exit_code == 0
    assert json.loads(named.read_text())["rows"][0]["values"] == {"num_classes": 2}
    crossed = run("sweep", "lenet5", "--grid", "num_classes=2", "-f", "csv", "--out", str(named))
    assert crossed.exit_code == 2 and "disagree" in crossed.stderr


def test_sweep_failed_rows_and_errors() -> None:
    some = run("sweep", "vgg16", "--grid", "input=16,32", "-f", "csv")
    assert some.exit_code == 0
    rows = list(csv.reader(io.StringIO(some.stdout)))
    assert rows[0][-2:] == ["error", "hint"]
    assert rows[1][-2].endswith("maxpool2d: output H would be 0: the window (2) does not fit "
                                "the input H 1")  # fmt: skip
    assert rows[1][-1].startswith("the input is 512×1×1; pool less, or earlier")
    assert rows[2][-2:] == ["", ""] and "1 failed" in some.stderr
    every = run("sweep", "vgg16", "--grid", "depth=12,14")
    assert every.exit_code == 2
    assert "depth must be one of 11, 13, 16, 19, found 12" in every.stdout
    both = run("sweep", "vgg16", "--grid", "depth=11", "--set", "depth=13")
    assert both.exit_code == 2 and "given by --set and by --grid" in both.stderr
    unknown = run("sweep", "vgg16", "--grid", "dept=11")
    assert unknown.exit_code == 2 and "error: --grid dept: the spec has no parameter" in (
        unknown.stderr
    )
    assert "Traceback" not in unknown.stderr + both.stderr + every.stderr


def test_sweep_help_says_what_activation_memory_is() -> None:
    text = " ".join(run("sweep", "--help").stdout.split())
    assert "float32, batch 1" in text and "input=3x160x160" in text


def test_sweep_does_not_import_torch() -> None:
    assert_torch_free(["sweep", "mobilenet_v2", "--grid", "input=160,224"], 0)


def test_help_lists_the_comparison_commands() -> None:
    out = run("--help").stdout
    for command in ("diff", "sweep", "graph"):
        assert re.search(rf"^  {command}\s", out, re.M), command
    assert "[B]" in run("diff", "--help").stdout


def test_a_reader_that_stops_early_ends_the_command_quietly() -> None:
    """`netspec check … --format json | head`: the reader closes the pipe; the command ends
    with a shell's SIGPIPE status (141) and no message (it reported an internal error)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "netspec", "check", "efficientnet_b7", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the report is written: its write finds no reader
    errors = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, errors
    assert errors == ""


@pytest.mark.parametrize(
    "command", [["check", "resnet152", "--depth", "0", "-e"], ["check", "resnet152", "-f", "json"]]
)
def test_a_reader_that_stops_partway_through_a_long_output(command: list[str]) -> None:
    """`netspec check … | head -c 10` on an output longer than a pipe holds (64 KiB): the
    write the reader leaves partway is not taken as whole (the command exited 0, its output
    cut), and rich's own ending of a broken pipe (exit 1) is not used: 141, no message."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "netspec", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert len(proc.stdout.read(10)) == 10
    proc.stdout.close()
    errors = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, errors
    assert errors == ""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
@pytest.mark.parametrize("command", [["codegen", "lenet5"], ["check", "lenet5"]])
def test_a_full_disk_under_the_output_is_an_error_of_the_machine(command: list[str]) -> None:
    """`netspec codegen … > model.py` on a full disk: exit 2 saying so (it reported a bug in
    netspec, exit 1)."""
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "netspec", *command],
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    assert done.returncode == 2
    assert done.stderr.decode() == "error: cannot write the output: No space left on device\n"


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        (  # torch reflects about the edge: a padding below the input size
            "r.yaml",
            "netspec: 1\nname: t\ninput: [2, 4, 4]\nlayers:\n"
            "  - c: conv2d(3, 3, padding=[[5, 5], [1, 1]], padding_mode='reflect')\n",
            "c: conv2d: reflect padding of 5 needs an input H of at least 6, found 4",
        ),
        (
            "c.yaml",
            "netspec: 1\nname: t\ninput: [2, 4, 4]\nlayers:\n"
            "  - c: conv2d(3, 3, padding=5, padding_mode='circular')\n",
            "c: conv2d: circular padding of 5 needs an input H of at least 5, found 4",
        ),
        (
            "l.yaml",
            "netspec: 1\nname: t\ninput: [4, 8, 8]\nlayers:\n  - for: i in range(1)\n"
            "    do:\n      - s: relu\n  - t: relu\n  - m: add\n    from: [s, t]\n",
            "hint: move 's' out of a loop, or read the layer that holds it",
        ),
        (  # the hint in the file's format
            "v.ns",
            "name t\ninput [3, 8, 8]\nlayers {\n    relu\n}\n",
            "hint: start the file with `netspec 1` (the language version)",
        ),
    ],
)
def test_messages_say_what_holds(tmp_path: Path, name: str, text: str, words: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    result = run("check", str(path))
    assert result.exit_code == 2
    assert words in result.output
