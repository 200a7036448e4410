"""The graph back end: DOT text naming every layer with its shape, clusters and folding,
branches side by side into their merge, residual and dense edges, escaping, pictures."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import netspec
from netspec.backends import graph
from netspec.cli import app
from netspec.expand.ir import leaves
from netspec.ops.base import fmt_shape
from tests.test_cli import assert_torch_free

LABEL = re.compile(r'^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)"', re.M)
EDGE = re.compile(r'^\s*(n\d+) -> (n\d+) \[label="((?:[^"\\]|\\.)*)"\];$', re.M)

RESIDUAL = """netspec: 1
name: res
input: [4, 8, 8]
blocks:
  Unit:
    params: [width, stride = 1]
    body:
      - conv: conv2d(width, 3, stride=stride, padding=1)
      - relu: relu
      - conv2: conv2d(width, 3, padding=1)
    shortcut:
      when: stride != 1 or in.channels != width
      project:
        - conv2d(width, 1, stride=stride)
    then:
      - relu: relu
  Dense:
    params: [growth]
    body:
      - conv: conv2d(growth, 3, padding=1)
    residual: true
    merge: concat
layers:
  - stem: conv2d(4, 1)
  - stage: stage(Unit, depth=2, width=8, stride=2)
  - dense: Dense(4)
  - flatten
  - fc: linear(10)
"""


def _labels(text: str) -> dict[str, list[str]]:
    """Each node's label, as lines."""
    return {node: label.split("\\n") for node, label in LABEL.findall(text)}


def _edges(text: str) -> list[tuple[str, str, str]]:
    return EDGE.findall(text)


def test_resnet50_names_every_top_level_layer_with_its_output_shape() -> None:
    net = netspec.load("resnet50").network
    text = graph.dot(net)
    labels = _labels(text)
    clusters = re.findall(r'^\s*label="((?:[^"\\]|\\.)*)";$', text, re.M)
    every = list(labels.values()) + [c.split("\\n") for c in clusters]
    for child in net.root.children:
        found = [lines for lines in every if lines[0] == child.name]
        assert len(found) == 1, child.name
        assert fmt_shape(child.output) in found[0], child.name
    assert text.count("subgraph cluster_") == 4  # layer1…layer4; their blocks folded
    assert "layer3.5\\nBottleneck(planes=256, stride=1) [add]\\n1024×14×14" in text


def test_googlenet_inception_block_has_four_branches_into_one_concat() -> None:
    net = netspec.load("googlenet").network
    text = graph.dot(net, depth=2)
    labels = _labels(text)
    concat = [n for n, lines in labels.items() if lines[0] == "concat"]
    assert len(concat) == 9  # one per Inception block
    first = concat[0]
    into = [(src, shape) for src, dst, shape in _edges(text) if dst == first]
    assert len(into) == 4
    assert [labels[src][0] for src, _ in into] == [f"inception3a.branch{i}" for i in range(1, 5)]
    assert [shape for _, shape in into] == ["64×28×28", "128×28×28", "32×28×28", "32×28×28"]
    # the four branches all read the block's input, the output of maxpool2
    pool = next(n for n, lines in labels.items() if lines[0] == "maxpool2")
    sources = {dst for src, dst, _ in _edges(text) if src == pool}
    assert sources == {src for src, _ in into}
    assert labels[first][1] == "256×28×28"


def test_residual_and_dense_connections_are_edges_into_their_merge() -> None:
    net = netspec.loads(RESIDUAL, name="res.yaml").network
    text = graph.dot(net, depth=0)
    labels = _labels(text)
    edges = _edges(text)
    merges = {n: lines[0] for n, lines in labels.items() if lines[0] in ("add", "concat")}
    assert sorted(merges.values()) == ["add", "add", "concat"]
    into = {m: sorted(labels[src][0] for src, dst, _ in edges if dst == m) for m in merges}
    adds = [v for m, v in into.items() if merges[m] == "add"]
    # the first block projects its shortcut; the second adds its own input (the relu before)
    assert adds == [
        ["stage.0.conv2", "stage.0.downsample.0"],
        ["stage.0.relu", "stage.1.conv2"],
    ]
    dense = next(v for m, v in into.items() if merges[m] == "concat")
    assert dense == ["dense.conv", "stage.1.relu"]
    # the input's channels first, as torch.cat([x, body(x)], 1)
    assert [shape for _, dst, shape in edges if merges.get(dst) == "concat"] == ["8×4×4", "4×4×4"]
    # the shared relu is called twice per block: two boxes at one path
    assert Counter(lines[0] for lines in labels.values())["stage.0.relu"] == 2


def test_every_edge_carries_its_shape_and_every_layer_is_a_box() -> None:
    net = netspec.loads(RESIDUAL, name="res.yaml").network
    text = graph.dot(net, depth=0)
    labels = _labels(text)
    layers = [lines for lines in labels.values() if len(lines) == 4]
    assert len(layers) == sum(1 for _ in leaves(net.root)) == 13
    for src, _, shape in _edges(text):
        assert shape, src
    fc = next(lines for lines in labels.values() if lines[0] == "fc")
    assert fc == ["fc", "linear(10)", "10", "params 1,930 · MACs 1,920"]


def test_folding() -> None:
    net = netspec.loads(RESIDUAL, name="res.yaml").network
    flat = graph.dot(net, depth=1)
    assert "subgraph" not in flat
    assert [lines[0] for lines in _labels(flat).values()] == [
        "input", "stem", "stage", "dense", "flatten", "fc", "output",
    ]  # fmt: skip
    assert graph.dot(net, depth=2).count("subgraph cluster_") == 2  # stage, dense


def test_the_text_is_deterministic_and_escaped() -> None:
    net = netspec.load("googlenet").network
    assert graph.dot(net) == graph.dot(netspec.load("googlenet").network)
    assert graph.quote('a "b" \\c\nd\x1b') == '"a \\"b\\" \\\\c\\nd\\\\x1b"'


DOT = shutil.which("dot") is not None and importlib.util.find_spec("graphviz") is not None


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_dot_reads_the_text_without_complaint(tmp_path: Path) -> None:
    for name in ("resnet50", "googlenet", "shufflenet_v2", "densenet121"):
        text = graph.dot(netspec.load(name).network, depth=0)
        proc = subprocess.run(
            ["dot", "-Tsvg", "-o", str(tmp_path / "x.svg")],
            input=text,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0 and not proc.stderr, (name, proc.stderr)


@pytest.mark.skipif(not DOT, reason="needs the graphviz package and Graphviz's dot")
def test_svg_output(tmp_path: Path) -> None:
    out = tmp_path / "googlenet.svg"
    result = CliRunner().invoke(app, ["graph", "googlenet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    svg = out.read_text("utf-8")
    assert "<svg" in svg and "inception3a.branch4" in svg and "concat" in svg


def test_pictures_without_graphviz_say_how_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    for ext in ("svg", "png"):
        result = CliRunner().invoke(app, ["graph", "lenet5", "--out", str(tmp_path / f"m.{ext}")])
        assert result.exit_code == 2
        assert f"writing .{ext} needs Graphviz" in result.stderr
        assert "pip install 'netspec[graph]'" in result.stderr and "dot" in result.stderr
        assert not (tmp_path / f"m.{ext}").exists()
    dot = CliRunner().invoke(app, ["graph", "lenet5", "--out", str(tmp_path / "m.dot")])
    assert dot.exit_code == 0, dot.output
    assert (tmp_path / "m.dot").read_text().startswith("digraph netspec {")


def test_graph_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["graph", "lenet5"])
    assert out.exit_code == 0 and out.stdout.startswith("digraph netspec {")
    target = tmp_path / "m.dot"
    target.write_text("mine")
    refused = runner.invoke(app, ["graph", "lenet5", "--out", str(target)])
    assert refused.exit_code == 2 and "exists" in refused.stderr
    assert target.read_text() == "mine"
    assert runner.invoke(app, ["graph", "lenet5", "--out", str(target), "--force"]).exit_code == 0
    assert target.read_text() == out.stdout
    wrong = runner.invoke(app, ["graph", "lenet5", "--out", str(tmp_path / "m.jpg")])
    assert wrong.exit_code == 2 and ".dot, .gv, .svg, .png or .pdf" in wrong.stderr
    bad = runner.invoke(app, ["graph", "lenet5", "--set", "num_classes=0"])
    assert bad.exit_code == 2 and "Traceback" not in bad.stderr
    args: Any = ["graph", "lenet5", "--input", "1,36,36", "--depth", "0"]
    assert "input\\n1×36×36" in runner.invoke(app, args).stdout


def test_graph_does_not_import_torch() -> None:
    assert_torch_free(["graph", "googlenet"], 0)


def test_skips_are_edges_from_the_layers_they_read() -> None:
    """U-Net's copy and crop: each level down feeds its level up across the diagram, and a
    merge entry is entered by every tensor it names, in order."""
    net = netspec.load("unet").network
    text = graph.dot(net, depth=1)
    labels = _labels(text)
    into: dict[str, list[tuple[str, str]]] = {}
    out_of: Counter[str] = Counter()
    for src, dst, shape in _edges(text):
        into.setdefault(labels[dst][0], []).append((labels[src][0], shape))
        out_of[labels[src][0]] += 1
    assert into["crop4"] == [("down4", "512×64×64"), ("up4", "512×56×56")]
    assert into["cat4"] == [("crop4", "512×56×56"), ("up4", "512×56×56")]
    assert into["crop1"] == [("down1", "64×568×568"), ("up1", "64×392×392")]
    for level in range(1, 5):
        assert out_of[f"down{level}"] == 2  # the pool after it, and its crop


def test_a_child_read_and_a_block_of_two_inputs_are_edges() -> None:
    """LRASPP's head: folded, it is entered by the backbone's child 4 and by the backbone;
    unfolded, child 4's own box feeds the head's layers that read ``low``, and the backbone's
    output those that read ``high``."""
    net = netspec.load("lraspp_mobilenet_v3_large").network
    text = graph.dot(net, depth=1)
    labels = _labels(text)
    into = [(labels[s][0], shape) for s, d, shape in _edges(text) if labels[d][0] == "classifier"]
    assert into == [("backbone", "40×28×28"), ("backbone", "960×14×14")]
    text = graph.dot(net, depth=2)
    labels = _labels(text)
    edges = [(labels[s][0], labels[d][0], shape) for s, d, shape in _edges(text)]
    assert ("backbone.4", "classifier.up", "40×28×28") in edges
    assert ("backbone.4", "classifier.low_classifier", "40×28×28") in edges
    assert ("backbone.4", "backbone.5", "40×28×28") in edges
    assert ("backbone.16", "classifier.cbr", "960×14×14") in edges
    assert ("backbone.16", "classifier.scale", "960×14×14") in edges
