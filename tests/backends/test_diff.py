"""The diff back end: matching by path, what counts as added, removed and changed, stages,
totals, folding and the JSON form."""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console

import netspec
from netspec.backends import diff

HEAD = "netspec: 1\nname: t\ninput: [3, 16, 16]\nlayers:\n"
BASE = HEAD + "  - conv: conv2d(8, 3, padding=1)\n  - act: relu\n  - flatten\n  - fc: linear(10)\n"


def _net(text: str, **params: Any) -> Any:
    return netspec.loads(text, name="t.yaml", **params).network


def _compare(a: str, b: str, **options: Any) -> diff.Diff:
    return diff.compare(_net(a), _net(b), **options)


def _render(result: diff.Diff) -> str:
    out = io.StringIO()
    Console(file=out, width=1000, highlight=False, markup=False).print(diff.table(result))
    return out.getvalue()


def test_a_network_is_identical_to_itself() -> None:
    result = _compare(BASE, BASE)
    assert result.identical
    assert result.rows == []
    assert [s.status for s in result.stages] == ["same"] * 4
    assert "identical" in _render(result)


def test_an_added_layer() -> None:
    added = BASE.replace("  - act: relu\n", "  - act: relu\n  - drop: dropout(0.5)\n")
    result = _compare(BASE, added)
    assert not result.identical
    assert [(r.path, r.status) for r in result.rows] == [("drop", "added")]
    row = result.rows[0]
    assert row.a is None and row.b is not None and row.b.call == "dropout"
    assert [s.path for s in result.stages] == ["conv", "act", "drop", "flatten", "fc"]


def test_a_removed_layer_keeps_its_place() -> None:
    removed = BASE.replace("  - act: relu\n", "")
    result = _compare(BASE, removed)
    assert [(r.path, r.status) for r in result.rows] == [("act", "removed")]
    assert [s.path for s in result.stages] == ["conv", "act", "flatten", "fc"]


def test_a_changed_shape_changes_the_layers_after_it() -> None:
    wider = BASE.replace("conv2d(8,", "conv2d(16,")
    result = _compare(BASE, wider)
    by_path = {r.path: r for r in result.rows}
    assert set(by_path) == {"conv", "act", "flatten", "fc"}
    assert by_path["conv"].changed == ("call", "output", "parameters", "macs")
    assert by_path["act"].changed == ("input", "output")
    assert by_path["fc"].changed == ("input", "parameters", "macs")
    assert by_path["fc"].delta_parameters == 8 * 16 * 16 * 10
    a, b = _net(BASE), _net(wider)
    assert sum(r.delta_parameters for r in result.stages) == (
        b.totals.parameters - a.totals.parameters
    )
    assert sum(r.delta_macs for r in result.stages) == b.totals.macs - a.totals.macs


def test_a_changed_argument_that_keeps_the_shape() -> None:
    result = _compare(BASE, BASE.replace("linear(10)", "linear(10, bias=false)"))
    assert [(r.path, r.changed) for r in result.rows] == [("fc", ("call", "parameters"))]
    assert result.rows[0].delta_parameters == -10


def test_the_input_shape_is_compared() -> None:
    a = _net(BASE)
    b = netspec.loads(BASE, name="t.yaml", input_shape=[3, 8, 8]).network
    result = diff.compare(a, b)
    assert not result.identical
    assert result.rows[0].changed[:3] == ("input", "output", "macs")


BLOCKS = (
    "netspec: 1\nname: s\ninput: [4, 8, 8]\nparams:\n  depth: 2\n"
    "blocks:\n  Unit:\n    params: [width]\n    body:\n"
    "      - conv: conv2d(width, 3, padding=1)\n      - act: relu\n      - act: relu\n"
    "    residual: in.channels == width\n"
    "layers:\n  - stem: conv2d(4, 1)\n  - stage: stage(Unit, depth=depth, width=4)\n"
    "  - head: conv2d(2, 1)\n"
)


def test_blocks_added_are_one_row_each_unless_every_layer_is_asked_for() -> None:
    a, b = _net(BLOCKS), _net(BLOCKS, depth=4)
    result = diff.compare(a, b)
    assert [(r.path, r.status) for r in result.rows] == [
        ("stage", "changed"),
        ("stage.2", "added"),
        ("stage.3", "added"),
    ]
    assert result.rows[0].changed == ("parameters", "macs", "contents")
    stage = next(s for s in result.stages if s.path == "stage")
    assert stage.a is not None and stage.b is not None
    assert (stage.a.children, stage.b.children) == (2, 4)
    assert stage.delta_parameters == 2 * (4 * 4 * 9 + 4)
    every = diff.compare(a, b, depth=None, collapse=False)
    assert [r.path for r in every.rows] == [
        "stage",
        *(f"stage.{i}{leaf}" for i in (2, 3) for leaf in ("", ".conv", ".act", ".act#2")),
    ]
    top = diff.compare(a, b, depth=1)
    assert [r.path for r in top.rows] == ["stage"]
    assert not top.identical


def test_a_change_below_the_depth_still_makes_the_networks_differ() -> None:
    a = _net(BLOCKS)
    b = _net(BLOCKS.replace("      - act: relu\n      - act: relu\n", "      - act: relu6\n"))
    result = diff.compare(a, b, depth=1)
    assert not result.identical
    assert [(r.path, r.changed) for r in result.rows] == [("stage", ("contents",))]


def test_a_shared_module_is_matched_call_by_call() -> None:
    a = _net(BLOCKS)
    b = _net(BLOCKS.replace("      - act: relu\n      - act: relu\n", "      - act: relu\n"))
    result = diff.compare(a, b, collapse=False)
    assert [(r.path, r.status) for r in result.rows if r.a and r.a.kind == "layer"] == [
        ("stage.0.act#2", "removed"),
        ("stage.1.act#2", "removed"),
    ]


def test_json_schema() -> None:
    wider = BASE.replace("conv2d(8,", "conv2d(16,")
    result = _compare(BASE, wider)
    result.a_label, result.b_label = "a.yaml", "b.yaml"
    data = json.loads(diff.to_json(result))
    assert set(data) == {
        "identical", "macs_convention", "a", "b", "delta", "params", "stages", "layers",
    }  # fmt: skip
    assert data["identical"] is False and data["macs_convention"] == "torchvision"
    side = {"name", "spec", "params", "input", "output", "parameters", "buffers", "macs", "layers"}
    assert set(data["a"]) == set(data["b"]) == side
    assert data["a"]["spec"] == "a.yaml"
    assert data["delta"] == {
        k: data["b"][k] - data["a"][k] for k in ("parameters", "buffers", "macs", "layers")
    }
    row_keys = {"path", "status", "kind", "changed", "a", "b", "delta"}
    facts = {
        "kind", "op", "call", "input", "output", "parameters", "macs", "layers", "children",
    }  # fmt: skip
    for row in data["stages"] + data["layers"]:
        assert set(row) == row_keys
        for side_facts in (row["a"], row["b"]):
            assert side_facts is None or set(side_facts) == facts
    conv = data["layers"][0]
    assert conv["path"] == "conv" and conv["status"] == "changed"
    assert conv["a"]["output"] == [8, 16, 16] and conv["b"]["output"] == [16, 16, 16]
    assert conv["delta"] == {"parameters": 16 * 28 - 8 * 28, "macs": conv["delta"]["macs"]}


def test_param_differences_are_listed() -> None:
    result = diff.compare(_net(BLOCKS), _net(BLOCKS, depth=3))
    assert result.params == {"depth": (2, 3)}
    assert "param depth: 2 → 3" in _render(result)


def test_the_table_names_stages_and_totals() -> None:
    result = diff.compare(_net(BLOCKS), _net(BLOCKS, depth=3))
    text = _render(result)
    assert "1 of 3 stages differ; 2 unchanged" in text
    assert "2 → 3 (+1)" in text
    assert "parameters 326 → 474 (+148, +45.40%; 326 → 474)" in text
