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
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from hypothesis import assume, given, note
from hypothesis import strategies as st

import netspec
from netspec.backends.module import compare_forward, compare_state, compile_source
from netspec.errors import NetspecError
from netspec.spec.load import bundled_names

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
        ("[1, 2.5]", "tuple[Any, ...]"),
        ("[[1], [2]]", "tuple[tuple, ...]"),
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
