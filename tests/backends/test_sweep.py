"""The sweep back end: grids, the order of rows, figures equal to `check` one configuration
at a time, failed combinations as rows, and the output formats."""

from __future__ import annotations

import csv
import io
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st
from typer.testing import CliRunner

import netspec
from netspec.backends import sweep
from netspec.cli import app
from netspec.errors import NetspecError, printable
from netspec.expand.expander import input_shape_of
from netspec.expand.program import compile_params
from netspec.spec.format import to_ns
from netspec.spec.load import load_spec, load_text, read_text, resolve
from netspec.spec.params import declared
from tests.strategies import PARAM_VALUES, Example, examples, literal

SMALL = (
    "netspec: 1\nname: small\ninput: [2, 12, 12]\nparams:\n  width: 4\n  kernel: 3\n"
    "layers:\n  - conv: conv2d(width, kernel)\n  - act: relu\n  - pool: maxpool2d(2)\n"
    "  - flatten\n  - fc: linear(5)\n"
)


def _check(spec: str, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["check", spec, "-f", "json", *args])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _sweeper(text: str) -> tuple[sweep.Sweeper, Any]:
    model = load_text(text, "small.yaml")
    params = declared(model)
    return sweep.Sweeper(model, params, {}, None), params


def test_values_split_at_commas_outside_brackets_and_quotes() -> None:
    assert sweep.split_values("0.5, 0.75,1.0") == ["0.5", "0.75", "1.0"]
    assert sweep.split_values("[3,4,6,3],[3, 4, 23, 3]") == ["[3,4,6,3]", "[3, 4, 23, 3]"]
    assert sweep.split_values("'a,b',relu") == ["'a,b'", "relu"]


def test_grid_errors_name_the_option() -> None:
    params = declared(load_text(SMALL, "small.yaml"))
    cases = {
        "width": "expects NAME=V1,V2",
        "widht=1,2": "no parameter 'widht'",
        "width=1,,2": "empty value",
        "width=ten": "undefined name 'ten'",
        "input=3x0x4": "positive size",
        "input=12,a": "positive size",
    }
    for item, message in cases.items():
        with pytest.raises(NetspecError) as info:
            sweep.parse_grid([item], params)
        assert message in info.value.message, item
        assert (info.value.where or "").startswith("--grid")
    with pytest.raises(NetspecError, match="given twice"):
        sweep.parse_grid(["width=1", "width=2"], params)
    with pytest.raises(NetspecError, match="more than the 10,000"):
        sweep.parse_grid(
            [
                f"width={','.join(map(str, range(1, 102)))}",
                f"kernel={','.join(map(str, range(1, 101)))}",
            ],
            params,
        )


def test_rows_are_the_product_in_order_the_last_axis_fastest() -> None:
    sweeper, params = _sweeper(SMALL)
    axes = sweep.parse_grid(["width=4,8", "input=12,3x16x16,20"], params)
    rows = sweeper.run(axes)
    assert [row.texts for row in rows] == [
        (w, i) for w in ("4", "8") for i in ("12", "3x16x16", "20")
    ]
    assert [row.input for row in rows] == [(2, 12, 12), (3, 16, 16), (2, 20, 20)] * 2
    assert sweeper.run(axes) == rows  # deterministic


def test_small_spec_figures_equal_check_one_at_a_time(tmp_path: Any) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    model = load_spec(resolve(str(path)))
    params = declared(model)
    axes = sweep.parse_grid(["width=4,8", "kernel=3,5,13", "input=12,16"], params)
    rows = sweep.Sweeper(model, params, {}, None).run(axes)
    assert len(rows) == 12
    for row in rows:
        width, kernel, size = row.texts
        args = [
            "--set",
            f"width={width}",
            "--set",
            f"kernel={kernel}",
            "--input",
            f"2,{size},{size}",
        ]
        result = CliRunner().invoke(app, ["check", str(path), "-f", "json", *args])
        if row.error is not None:  # a kernel of 13 does not fit 12×12
            assert result.exit_code == 2
            assert row.error in result.stderr.replace("\n", " ")
            assert row.hint is not None and f"hint: {row.hint}" in result.stderr
            assert (kernel, size) == ("13", "12")
            continue
        data = json.loads(result.stdout)
        assert row.input == tuple(data["input"]) and row.output == tuple(data["output"])
        assert (row.parameters, row.macs) == (data["parameters"], data["macs"])
        assert row.activation_bytes == 4 * sum(math.prod(x["output"]) for x in data["layers"])


def test_rows_inferred_again_for_another_size_equal_check(tmp_path: Any) -> None:
    """Rows differing only in the input size are an earlier row's network inferred again; a
    size that network does not fit is expanded, and its error is the one check reports."""
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    model = load_spec(resolve(str(path)))
    params = declared(model)
    axes = sweep.parse_grid(["kernel=13", "input=16,12,20,14"], params)
    rows = sweep.Sweeper(model, params, {}, None).run(axes)
    assert [row.error is None for row in rows] == [True, False, True, True]
    for row in rows:
        size = row.texts[1]
        args = ["--set", "kernel=13", "--input", f"2,{size},{size}"]
        result = CliRunner().invoke(app, ["check", str(path), "-f", "json", *args])
        if row.error is not None:
            assert result.exit_code == 2
            assert row.error in result.stderr.replace("\n", " ")
            continue
        data = json.loads(result.stdout)
        assert row.output == tuple(data["output"])
        assert (row.parameters, row.macs) == (data["parameters"], data["macs"])
        assert row.activation_bytes == 4 * sum(math.prod(x["output"]) for x in data["layers"])


def test_mobilenet_v2_figures_equal_check_one_at_a_time() -> None:
    model = load_spec(resolve("mobilenet_v2"))
    params = declared(model)
    axes = sweep.parse_grid(["width_mult=0.5,0.75,1.0", "input=160,192,224"], params)
    rows = sweep.Sweeper(model, params, {}, None).run(axes)
    assert len(rows) == 9 and all(row.error is None for row in rows)
    for row in rows:
        width, size = row.texts
        data = _check("mobilenet_v2", "--set", f"width_mult={width}", "--input", f"3,{size},{size}")
        assert row.input == tuple(data["input"]) == (3, int(size), int(size))
        assert row.output == tuple(data["output"])
        assert (row.parameters, row.macs) == (data["parameters"], data["macs"])
        assert row.activation_bytes == 4 * sum(math.prod(x["output"]) for x in data["layers"])
    assert rows[-1].parameters == 3_504_872 and rows[-1].macs == 300_774_272


def test_a_grid_of_widths_is_compiled_once_and_its_rows_equal_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A grid of 16 rows or more is compiled once into a program of the width and the input's
    sizes (:func:`~netspec.expand.program.compile_params`); its rows are check's, including a
    width whose tree differs (0.1: two stages' channels round to the same 8, so a block has a
    residual) and a size of 1 (every map 1×1: rules decide otherwise)."""
    made: list[Any] = []

    def counted(*args: Any) -> Any:
        made.append(compile_params(*args))
        return made[-1]

    monkeypatch.setattr(sweep, "compile_params", counted)
    model = load_spec(resolve("mobilenet_v2"))
    params = declared(model)
    widths = "width_mult=0.35,0.5,0.6,0.75,0.9,1.0,1.1,1.4,0.1"
    axes = sweep.parse_grid([widths, "input=224,160,97,1"], params)
    rows = sweep.Sweeper(model, params, {}, None).run(axes)
    assert len(made) == 2 and made[0] is not None  # a second where the first did not hold
    for row in rows:
        width, size = row.texts
        args = ["--set", f"width_mult={width}", "--input", f"3,{size},{size}"]
        if row.error is not None:
            result = CliRunner().invoke(app, ["check", "mobilenet_v2", "-f", "json", *args])
            assert result.exit_code == 2
            assert row.error in " ".join(result.stderr.split("\n"))
            continue
        data = _check("mobilenet_v2", *args)
        assert row.input == tuple(data["input"]) == (3, int(size), int(size))
        assert row.output == tuple(data["output"])
        assert (row.parameters, row.macs) == (data["parameters"], data["macs"])
        assert row.activation_bytes == 4 * sum(math.prod(x["output"]) for x in data["layers"])


_TRACED_CASES = [
    # a count whose kind changes with the value (2.5 where width < 3): refused there
    ("width: 4", "[flatten, 'linear(max(width, 2.5))']", "width=4,5,6,2,3"),
    ("width: 4", "[flatten, 'linear(2 ** (width - 3))']", "width=4,5,6,2,3"),
    # the spec's arithmetic refuses what Python computes (too large, not finite)
    ("width: 4", "[flatten, 'linear((width * 2**61) // 2**58)']", "width=1,2,4"),
    ("width: 1.0", "[flatten, 'linear(int(min(width * 1e308, 64.0)))']", "width=0.5,1.0,2.0"),
    ("width: 1.0", "[flatten, 'linear(int(width * 1e20) // 2**60 + 1)']", "width=0.01,0.5,1.0"),
    # folds that hold for integers only: (x + 2) - 3 of a float, x // 1 of a float
    ("width: 1.0", "[flatten, 'linear(int(((width + 2) - 3) * -10))']", "width=0.5,0.2,0.7"),
    ("width: 4", "[flatten, 'linear(int(max(width, 2.5) // 1 * 2))']", "width=4,2,3"),
    # a learned tensor's size given a float
    (
        "width: 8",
        "[{c: 'conv2d(8, 1)'}, 'mul(scale)']\ntensors: {scale: 'zeros([width / 2, 1, 1])'}",
        "width=8,16,3",
    ),
    # a param that is not a number varies too: the program holds at its first value only
    (
        "{width: 4, bn: true}",
        "[flatten, 'linear(width)', 'batchnorm1d if bn else relu']",
        "bn=true,false",
    ),
]


@pytest.mark.parametrize(("params", "layers", "axis"), _TRACED_CASES)
def test_traced_rows_equal_check_where_values_change_kind_or_bounds(
    params: str, layers: str, axis: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows of a program of the params equal check's, or its error, where a traced value's
    kind, the spec's bounds or a param that is not a number would decide otherwise than at
    the row it was compiled at (every grid compiled, however few its rows)."""
    params = params if params.startswith("{") else "{" + params + "}"
    text = f"netspec: 1\nname: traced\ninput: [8, 4, 4]\nparams: {params}\nlayers: {layers}\n"
    path = tmp_path / "traced.yaml"
    path.write_text(text)
    monkeypatch.setattr(sweep, "TRACE_FROM", 0)
    model = load_spec(resolve(str(path)))
    declared_ = declared(model)
    grid = [axis, "width=4,6"] if axis.startswith("bn") else [axis]
    rows = sweep.Sweeper(model, declared_, {}, None).run(sweep.parse_grid(grid, declared_))
    for row in rows:
        names = [g.split("=")[0] for g in grid]
        over = {k: v for k, v in zip(names, row.values, strict=True)}
        try:
            summary = netspec.load(path, **over).summary()
        except NetspecError as exc:
            assert row.error == " ".join(printable(exc.headline()).split("\n")), row
            continue
        assert row.error is None, row
        assert row.output == tuple(summary["output"])
        assert (row.parameters, row.macs) == (summary["parameters"], summary["macs"]), row


def test_deeplabv3_rows_are_inferred_again_and_equal_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """DeepLabV3's image pooling resizes to its block's input size, an argument of that layer
    alone: the rows after the first are its network inferred again (the layer bound again at
    each size), and equal check's."""
    inferred: list[bool] = []
    reinfer = sweep.reinfer

    def counted(*args: Any) -> Any:
        again = reinfer(*args)
        inferred.append(again is not None)
        return again

    monkeypatch.setattr(sweep, "reinfer", counted)
    model = load_spec(resolve("deeplabv3_mobilenet_v3_large"))
    params = declared(model)
    axes = sweep.parse_grid(["input=224,97,160"], params)
    rows = sweep.Sweeper(model, params, {}, None).run(axes)
    assert inferred == [True, True]
    for row in rows:
        size = row.texts[0]
        data = _check("deeplabv3_mobilenet_v3_large", "--input", f"3,{size},{size}")
        assert row.output == tuple(data["output"]) == (21, int(size), int(size))
        assert (row.parameters, row.macs) == (data["parameters"], data["macs"])
        assert row.activation_bytes == 4 * sum(math.prod(x["output"]) for x in data["layers"])


def test_rows_of_a_compiled_network_equal_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """With many input sizes a width, a width's network is compiled into a program of its
    input sizes (:mod:`netspec.expand.program`); its rows are still check's, including the
    sizes whose decisions differ (1: every map 1×1) and the sizes the spec refuses."""
    made: list[Any] = []
    compile_sizes = sweep.compile_sizes

    def counted(net: Any) -> Any:
        program = compile_sizes(net)
        made.append(program)
        return program

    monkeypatch.setattr(sweep, "compile_sizes", counted)
    model = load_spec(resolve("vgg16"))
    params = declared(model)
    sizes = [224, 64, 1, 16, 32, 33, 48, 96, 100, 127, 128, 160, 192, 256, 300]
    axes = sweep.parse_grid(["num_classes=10", f"input={','.join(map(str, sizes))}"], params)
    rows = sweep.Sweeper(model, params, {}, None).run(axes)
    assert len(made) >= 1 and all(program is not None for program in made)
    assert sum(row.error is not None for row in rows) == 2  # 1 and 16: pooled to nothing
    for row in rows:
        size = row.texts[1]
        args = ["--set", "num_classes=10", "--input", f"3,{size},{size}"]
        result = CliRunner().invoke(app, ["check", "vgg16", "-f", "json", *args])
        if row.error is not None:
            assert result.exit_code == 2
            assert row.error in " ".join(result.stderr.split("\n"))
            continue
        data = json.loads(result.stdout)
        assert row.output == tuple(data["output"])
        assert (row.parameters, row.macs) == (data["parameters"], data["macs"])
        assert row.activation_bytes == 4 * sum(math.prod(x["output"]) for x in data["layers"])


def test_a_program_that_never_holds_is_compiled_at_most_twice_a_width(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A rule that reads a size's value pins its program to that size: the sweep stops
    compiling such a network after a second try, and its rows are inferred again."""
    tries: list[Any] = []

    class Pinned:
        def __call__(self, shape: Any) -> None:
            return None

    def pinned(net: Any) -> Pinned:
        tries.append(net.input)
        return Pinned()

    monkeypatch.setattr(sweep, "compile_sizes", pinned)
    monkeypatch.setattr(sweep, "compile_params", lambda *args: None)  # (not traced: by width)
    model = load_spec(resolve("resnet18"))
    params = declared(model)
    sizes = ",".join(str(size) for size in range(64, 64 + 4 * 20, 4))
    axes = sweep.parse_grid(["num_classes=10,20", f"input={sizes}"], params)
    rows = sweep.Sweeper(model, params, {}, None).run(axes)
    assert len(rows) == 40 and all(row.error is None for row in rows)
    assert [shape[1] for shape in tries] == [64, 68, 64, 68]  # two a width


def test_macs_all_and_a_base_input() -> None:
    model = load_text(SMALL, "small.yaml")
    params = declared(model)
    axes = sweep.parse_grid(["input=16"], params)
    tv = sweep.Sweeper(model, params, {}, (1, 8, 8)).run(axes)[0]
    everything = sweep.Sweeper(model, params, {}, (1, 8, 8), "all").run(axes)[0]
    assert tv.input == (1, 16, 16)  # --input's channels, the grid's size
    assert everything.macs is not None and tv.macs is not None and everything.macs > tv.macs


def test_an_input_written_with_params() -> None:
    text = SMALL.replace("input: [2, 12, 12]", "input: '[channels, 12, 12]'").replace(
        "params:\n", "params:\n  channels: 2\n"
    )
    sweeper, params = _sweeper(text)
    rows = sweeper.run(sweep.parse_grid(["channels=1,3", "input=10"], params))
    assert [row.input for row in rows] == [(1, 10, 10), (3, 10, 10)]


def test_csv_and_json() -> None:
    sweeper, params = _sweeper(SMALL)
    axes = sweep.parse_grid(["kernel=3,13"], params)
    rows = sweeper.run(axes)
    table = list(csv.reader(io.StringIO(sweep.to_csv(axes, rows))))
    assert table[0] == ["kernel", *sweep.COLUMNS]
    assert table[1][:2] == ["3", "2x12x12"] and table[1][-2:] == ["", ""]
    assert table[2][1:6] == ["", "", "", "", ""] and "kernel spans 13" in table[2][-2]
    assert table[2][-1] == rows[1].hint and rows[1].hint
    data = json.loads(sweep.to_json("small", axes, rows, "torchvision"))
    assert set(data) == {"spec", "macs_convention", "activation_bytes", "grid", "rows"}
    assert data["grid"] == {"kernel": [3, 13]}
    keys = {"values", "input", "output", "parameters", "macs", "activation_bytes", "error", "hint"}
    assert all(set(row) == keys for row in data["rows"])
    assert data["rows"][0]["values"] == {"kernel": 3} and data["rows"][0]["error"] is None
    assert data["rows"][1]["parameters"] is None and "kernel spans 13" in data["rows"][1]["error"]
    assert data["rows"][1]["hint"] == rows[1].hint and data["rows"][0]["hint"] is None


NUMERIC = ("width", "depth", "k", "n_down", "classes", "drop")
"""The drawn specs' numeric params (``tests/strategies.py``: every spec declares them all)."""


def _write(ex: Example, folder: Path) -> Path:
    """The example's files (its base, for ``extends``, in both formats); its main file."""
    for stem, text in ex.yaml_texts().items():
        (folder / f"{stem}.yaml").write_text(text)
        (folder / f"{stem}.ns").write_text(to_ns(read_text(text, f"{stem}.yaml").spec))
    return folder / ("main.ns" if ex.fmt == "ns" else "main.yaml")


@given(ex=examples(), data=st.data())
def test_drawn_specs_rows_equal_check_one_at_a_time(ex: Example, data: Any) -> None:
    """A sweep of a drawn spec (``tests/strategies.py``, the whole language) over one of its
    numeric params and the input — sizes keeping the channels (``input=N``, rows the sweep
    infers again from the row before where it can), whole shapes, other channels — gives in
    every row the figures ``check`` gives for those values alone (the API, which is what
    ``check --format json`` prints), or the error it reports; in a third of the sweeps every
    network is compiled into a program of its input sizes, in another the spec into a program
    of the param and the input's sizes, however few the rows."""
    note(repr(ex))
    name = data.draw(st.sampled_from(NUMERIC))
    with tempfile.TemporaryDirectory() as folder:
        path = _write(ex, Path(folder))
        model = load_spec(resolve(str(path)))
        params = declared(model)
        allowed = params[name].choices or PARAM_VALUES[name]
        values = data.draw(st.permutations(allowed))[: data.draw(st.integers(1, 3))]
        sizes = data.draw(st.lists(st.integers(1, 20), min_size=1, max_size=4, unique=True))
        base = None if ex.input_override is None else tuple(ex.input_override)
        overrides = {k: v for k, v in ex.overrides.items() if k != name}
        try:  # the spec's own input (given whole, and with one more channel)
            spec_input = input_shape_of(model, netspec.load(path, **overrides).params)
        except NetspecError:
            spec_input = None
        shapes = [] if spec_input is None else [spec_input]
        if spec_input is not None and data.draw(st.booleans()):
            shapes.append((spec_input[0] + 1, *spec_input[1:]))
        texts = [str(size) for size in sizes] + ["x".join(map(str, s)) for s in shapes]
        texts = list(dict.fromkeys(texts))  # a 1-d input's shape is written as its size
        grid = [f"{name}={','.join(literal(v) for v in values)}", f"input={','.join(texts)}"]
        if data.draw(st.booleans()):  # the param alone: the spec's input, or --input
            grid, texts = grid[:1], [""]
        note(f"grid {grid}, --input {base}, overrides {overrides}")
        axes = sweep.parse_grid(grid, params)
        # at any number of rows: every network compiled into a program of its input sizes,
        # or the spec into one of the param and the input's sizes, or neither
        how = data.draw(st.sampled_from(["inferred again", "input sizes", "param and sizes"]))
        made: list[Any] = []

        def traced(*args: Any) -> Any:
            made.append(compile_params(*args))
            return made[-1]

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sweep, "COMPILE_FROM", 0 if how == "input sizes" else 10**9)
            patch.setattr(sweep, "TRACE_FROM", 0 if how == "param and sizes" else 10**9)
            patch.setattr(sweep, "compile_params", traced)
            rows = sweep.Sweeper(model, params, overrides, base).run(axes)
        event(f"networks {how}" if how == "inferred again" else f"programs of {how}")
        if any(program is not None for program in made):
            event("a program of the param and sizes compiled")
        assert len(rows) == len(values) * len(texts)
        for row in rows:
            value, size = (*row.values, None)[:2]
            over = {**overrides, name: value}
            try:
                spec = netspec.load(path, **over)
                if size is None:
                    shape = base or input_shape_of(spec.spec, spec.params)
                elif isinstance(size, tuple):
                    shape = size
                else:
                    own = base or input_shape_of(spec.spec, spec.params)
                    shape = (own[0], *[size] * (len(own) - 1)) if len(own) > 1 else (size,)
                summary = netspec.load(path, input_shape=shape, **over).summary()
            except NetspecError as exc:
                assert row.error == " ".join(printable(exc.headline()).split("\n")), row
                assert row.hint == (" ".join(printable(exc.hint).split("\n")) if exc.hint else None)
                event("a row fails")
                continue
            event("a row analysed")
            assert row.error is None, (row, shape)
            assert row.input == tuple(summary["input"]) == shape
            assert row.output == tuple(summary["output"])
            assert (row.parameters, row.macs) == (summary["parameters"], summary["macs"])
            layers = summary["layers"]
            assert row.activation_bytes == 4 * sum(math.prod(x["output"]) for x in layers)


@pytest.mark.parametrize(
    ("grid", "words", "hint"),
    [
        ("num_classes=10,12,10", "the value 10 is given twice", "give each value once"),
        (  # the --input habit: three input sizes, two of them equal
            "input=1,32,32",
            "the value 32 is given twice",
            "input=N sets every spatial size to N; a whole shape is written with x: input=1x32x32",
        ),
        ("num_classes=10,5+5", "the value 5+5 is given twice (first as 10)", None),
    ],
)
def test_an_axis_gives_each_value_once(grid: str, words: str, hint: str | None) -> None:
    """Two rows saying the same thing, or `input=1,32,32` read as three input sizes, were a
    table with exit 0."""
    model = load_spec("lenet5")
    with pytest.raises(NetspecError) as caught:
        sweep.parse_grid([grid], declared(model))
    assert caught.value.message == words
    assert caught.value.where == f"--grid {grid.partition('=')[0]}"
    if hint is not None:
        assert caught.value.hint == hint
