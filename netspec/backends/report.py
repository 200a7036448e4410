"""The report back end: an analysed network as one self-contained HTML page.

The page holds everything it shows — the header (name, description, params, input → output,
parameters, MACs), bar charts of parameters and MACs per top-level layer (SVG written here),
the diagram (the SVG Graphviz draws of :func:`netspec.backends.graph.dot`, or, without
Graphviz, a note saying how to get it and the DOT text), and the per-layer table with every
layer, its containers folding and unfolding in the page and each layer's arithmetic
(``--explain``) shown on a click. CSS and JavaScript are inline; a Content-Security-Policy
allows no fetch of any kind and only the page's own script and style (by their digests), so
the page opens offline and nothing a spec's text reaches can run.

The output is deterministic: the same network (and the same Graphviz) gives the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import html
import importlib.util
import re
import shutil
from dataclasses import dataclass
from typing import Any

from netspec.backends import graph
from netspec.backends.summary import (
    MACS_CONVENTIONS,
    MacsConvention,
    _block_call,
    _macs,
    _subtotal,
    auto_depth,
    human,
)
from netspec.errors import NetspecError, printable
from netspec.expand.ir import BlockNode, Node, OpNode, SeqNode, leaves
from netspec.infer import Network
from netspec.ops.base import Tensor, fmt_shape

MAX_BARS = 40
"""Bars a chart shows; beyond, the largest ``MAX_BARS − 1`` and one for the others."""

MAX_DIAGRAM_BOXES = 2000
"""Boxes the diagram may have for Graphviz to draw it (a larger one is left out, with a
note: ``netspec graph --depth N`` draws it folded)."""

_BOX = re.compile(r"^\s*n\d+ \[label=", re.M)


@dataclass(frozen=True, slots=True)
class Report:
    """The page, and why it has no diagram (``None``: Graphviz drew it)."""

    html: str
    missing_diagram: str | None


def _e(text: Any) -> str:
    """Text for HTML: control and invisible characters escaped as in the terminal, then
    ``<``, ``>``, ``&`` and quotes as entities."""
    return html.escape(printable(str(text)), quote=True)


# -- the diagram -----------------------------------------------------------------------------


def _svg(data: bytes) -> str:
    """Graphviz's SVG, for inlining: without the XML prolog, doctype and comments (its version
    among them), as one ``<svg>`` element."""
    text = data.decode("utf-8")
    text = re.sub(r"<!--.*?-->", "", text[text.index("<svg") :], flags=re.S)
    head = '<svg class="graph" role="img" aria-label="diagram of the network"'
    return head + text.removeprefix("<svg").strip() + "\n"


def _missing_graphviz() -> str | None:
    """What of Graphviz is missing to draw the diagram (``None``: nothing)."""
    if importlib.util.find_spec("graphviz") is None:
        return "the graphviz Python package is not installed"
    if shutil.which("dot") is None:
        return "Graphviz's dot program is not installed"
    return None


def _diagram(net: Network, depth: int | None, macs: MacsConvention) -> tuple[str, str | None]:
    """The diagram section's body, and why Graphviz did not draw it (``None``: it did)."""
    text = graph.dot(net, depth, macs)
    boxes = len(_BOX.findall(text))
    missing = _missing_graphviz()
    if boxes > MAX_DIAGRAM_BOXES:
        why = f"the diagram has {boxes:,} boxes, more than the {MAX_DIAGRAM_BOXES:,} drawn here"
        how = "netspec graph --depth N --out FILE.svg draws it folded to depth N"
    elif missing is not None:
        why = f"it is drawn by Graphviz, and {missing}"
        how = (
            "pip install 'netspec[graph]' and install Graphviz's dot program (apt install "
            "graphviz, brew install graphviz, or graphviz.org/download), then write the report "
            "again"
        )
    else:
        try:
            return _svg(graph.render(text, "svg")), None
        except NetspecError as exc:
            why = exc.message
            how = "netspec graph SPEC --out FILE.dot, then dot on it, shows why"
    body = (
        f'<p class="note" id="no-diagram">No diagram: {_e(why)}.</p>\n'
        f'<p class="note">To get the picture: {_e(how)}. The DOT text below is the diagram: '
        "any Graphviz program draws it (<code>dot -Tsvg model.dot -o model.svg</code>).</p>\n"
        f'<details><summary>DOT text</summary><pre class="dot">{_e(text)}</pre></details>\n'
    )
    return body, why


# -- the charts ------------------------------------------------------------------------------


def _stages(net: Network, macs: MacsConvention) -> list[tuple[str, int, int]]:
    """Each top-level layer: its name, parameters and MACs."""
    out = []
    for child in net.root.children:
        if isinstance(child, OpNode):
            out.append((child.name, child.parameters, _macs(child, macs)))
        else:
            params, count = _subtotal(child, macs)
            out.append((child.name, params, count))
    return out


def _bars(items: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """At most :data:`MAX_BARS` bars, in call order: the largest, then one for the rest."""
    if len(items) <= MAX_BARS:
        return items
    ranked = sorted(range(len(items)), key=lambda i: (-items[i][1], i))
    keep = set(ranked[: MAX_BARS - 1])
    rest = [items[i][1] for i in range(len(items)) if i not in keep]
    kept = [item for i, item in enumerate(items) if i in keep]
    return [*kept, (f"{len(rest):,} others", sum(rest))]


def _share(value: int, total: int) -> str:
    if not total:
        return "–"
    if 0 < value < total / 1000:
        return "<0.1%"
    return f"{100 * value / total:.1f}%"


def _chart(title: str, unit: str, items: list[tuple[str, int]], total: int, css: str) -> str:
    """A horizontal bar chart as inline SVG: one bar per item, scaled to the largest."""
    bars = _bars(items)
    row, label_w, bar_w, width = 22, 150, 330, 640
    height = row * len(bars) + 8
    top = max((value for _, value in bars), default=0)
    parts = [
        f'<figure class="chart {css}"><figcaption>{_e(title)}</figcaption>',
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(title)}">',
    ]
    for index, (name, value) in enumerate(bars):
        y = 4 + index * row
        share = _e(_share(value, total))
        length = bar_w * value / top if top else 0.0
        shown = name if len(name) <= 20 else name[:19] + "…"
        parts.append(
            f'<g class="bar"><title>{_e(name)}: {value:,} {unit} ({share})</title>'
            f'<text class="label" x="{label_w - 8}" y="{y + 15}" text-anchor="end">'
            f"{_e(shown)}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{length:.2f}" height="15" rx="2"/>'
            f'<text class="value" x="{label_w + length + 6:.2f}" y="{y + 15}">'
            f"{_e(human(value))} · {share}</text></g>"
        )
    parts.append("</svg></figure>")
    return "\n".join(parts)


# -- the table -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Row:
    level: int
    kind: str
    """``container``, ``layer``, ``call`` (a function in ``forward``), ``tensor``, ``input``."""
    name: str
    op: str
    output: str
    params: str
    macs: str
    path: str = ""
    input: str = ""
    parent: int = 0
    """The index (from 1) of the container row it is in; 0 at the top."""
    folded: bool = False
    explain: tuple[str, ...] = ()


def _rows(net: Network, macs: MacsConvention, depth: int | None) -> list[_Row]:
    rows: list[_Row] = []

    def visit(node: SeqNode, level: int, parent: int) -> None:
        for child in node.children:
            _row(child, level, parent)

    def _tensor(t: Tensor, level: int, path: str, parent: int) -> None:
        rows.append(
            _Row(
                level,
                "tensor",
                t.name,
                "learned tensor",
                fmt_shape(t.shape),
                f"{t.numel:,}",
                "",
                path=path,
                parent=parent,
            )
        )

    def _row(child: Node, level: int, parent: int) -> None:
        if isinstance(child, SeqNode):
            params, count = _subtotal(child, macs)
            label = {"sequential": "Sequential", "module": "Sequential", "class": "Module"}[
                child.kind
            ]
            if isinstance(child, BlockNode):
                label = _block_call(child)
            rows.append(
                _Row(
                    level,
                    "container",
                    child.name,
                    label,
                    fmt_shape(child.output),
                    f"{params:,}",
                    f"{count:,}",
                    path=child.path,
                    input=fmt_shape(child.input),
                    parent=parent,
                    folded=bool(child.children) and level == depth,
                )
            )
            index = len(rows)
            for t in child.own:
                _tensor(t, level + 1, f"{child.path}.{t.name}", index)
            visit(child, level + 1, index)
            return
        assert isinstance(child, OpNode)
        count = _macs(child, macs)
        rows.append(
            _Row(
                level,
                "call" if child.functional else "layer",
                child.name,
                child.call,
                fmt_shape(child.output),
                f"{child.parameters:,}" if child.tensors else "",
                f"{count:,}" if count else "",
                path=child.path or child.name,
                input=fmt_shape(child.input),
                parent=parent,
                explain=tuple(child.op.explain(child.attrs, child.input, child.output)),
            )
        )

    for t in net.root.own:  # the model's own learned tensors (ViT's class token)
        _tensor(t, 1, t.name, 0)
    visit(net.root, 1, 0)
    return rows


def _hidden(rows: list[_Row]) -> list[bool]:
    """Which rows a folded container hides (the page's script computes the same)."""
    out = []
    below: int | None = None
    for row in rows:
        if below is not None and row.level > below:
            out.append(True)
            continue
        below = row.level if row.kind == "container" and row.folded else None
        out.append(False)
    return out


def _table(net: Network, rows: list[_Row]) -> str:
    lines = [
        '<table id="layers-table" class="layers">',
        "<thead><tr><th>Layer</th><th>Operator</th><th>Output</th>"
        '<th class="num">Params</th><th class="num">MACs</th></tr></thead>',
        "<tbody>",
        f'<tr class="input" data-level="0"><td class="name">input</td><td></td>'
        f'<td class="shape">{_e(fmt_shape(net.input))}</td><td></td><td></td></tr>',
    ]
    for index, (row, hidden) in enumerate(zip(rows, _hidden(rows), strict=True), 1):
        attrs = f' id="r{index}" class="{row.kind}" data-level="{row.level}"'
        attrs += f' data-path="{_e(row.path)}"'
        attrs += f' data-parent="r{row.parent}"' if row.parent else ""
        attrs += " hidden" if hidden else ""
        name = _e(row.name)
        if row.kind == "container":
            expanded = "false" if row.folded else "true"
            name = (
                f'<button type="button" class="fold" aria-expanded="{expanded}" '
                f'aria-label="fold or unfold {_e(row.path)}"></button>{name}'
            )
        op = _e(row.op)
        if row.explain:
            op = (
                f'<button type="button" class="why" aria-expanded="false" aria-controls="x{index}" '
                f'title="show the arithmetic">{op}</button>'
            )
        shape = f' title="input {_e(row.input)}"' if row.input else ""
        lines.append(
            f'<tr{attrs}><td class="name">{name}</td><td class="op">{op}</td>'
            f'<td class="shape"{shape}>{_e(row.output)}</td>'
            f'<td class="num">{row.params}</td><td class="num">{row.macs}</td></tr>'
        )
        if row.explain:
            math = "<br>".join(_e(line) for line in row.explain)
            lines.append(
                f'<tr id="x{index}" class="explain" data-level="{row.level}" hidden>'
                f'<td></td><td colspan="4"><div class="math">{math}</div></td></tr>'
            )
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines)


# -- the page --------------------------------------------------------------------------------


def _header(net: Network, macs: MacsConvention, layers: int) -> str:
    from netspec.expr.evaluate import show

    t = net.totals
    total = t.macs + (t.extra_ops if macs == "all" else 0)
    facts = []
    if net.params:
        values = " · ".join(f"{k}={show(v)}" for k, v in net.params.items())
        facts.append(("params", _e(values)))
    computed = [
        f"{name} = {text} = {show(value)}"
        for name, (text, value) in net.lets.items()
        if text != show(value) and len(show(value)) <= 40
    ]
    if computed:
        facts.append(("let", _e(" · ".join(computed))))
    facts.append(("input → output", f"{_e(fmt_shape(net.input))} → {_e(fmt_shape(net.output))}"))
    params = (
        f"{t.parameters:,} ({human(t.parameters)}, {t.parameters * 4 / 2**20:,.1f} MiB as float32)"
    )
    if t.buffers:
        params += f" · buffers {t.buffers:,}"
    facts.append(("parameters", params))
    facts.append(
        (
            "MACs",
            f'{total:,} ({human(total)}) <span class="muted">· {_e(MACS_CONVENTIONS[macs])}</span>',
        )
    )
    facts.append(("layers", f"{layers:,} operator calls"))
    lines = ["<header>", f"<h1>{_e(net.name)}</h1>"]
    if net.description:
        lines.append(f'<p class="description">{_e(net.description)}</p>')
    lines.append('<dl class="facts">')
    lines += [f"<dt>{key}</dt><dd>{value}</dd>" for key, value in facts]
    lines += ["</dl>", "</header>"]
    return "\n".join(lines)


def _digest(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def _style(levels: int) -> str:
    indent = "\n".join(
        f'tr[data-level="{level}"] > td.name {{ padding-left: {0.4 + 1.2 * (level - 1):.1f}em; }}'
        for level in range(2, levels + 1)
    )
    return CSS + indent + "\n"


def html_page(
    net: Network, macs: MacsConvention = "torchvision", depth: int | None = None
) -> Report:
    """The report of ``net``.

    Args:
        depth: fold the table's containers at this nesting depth when the page opens, and draw
            the diagram's as one box at it (1: every top-level layer); ``0`` unfolds every
            layer; ``None`` folds a large network to about 100 rows and boxes.
    """
    fold = auto_depth(net.root) if depth is None else (None if depth == 0 else depth)
    rows = _rows(net, macs, fold)
    diagram, missing = _diagram(net, depth, macs)
    t = net.totals
    total = t.macs + (t.extra_ops if macs == "all" else 0)
    stages = _stages(net, macs)
    charts = "\n".join(
        [
            _chart(
                "Parameters by top-level layer",
                "parameters",
                [(name, p) for name, p, _ in stages],
                t.parameters,
                "params",
            ),
            _chart(
                f"MACs by top-level layer ({macs})",
                "MACs",
                [(name, m) for name, _, m in stages],
                total,
                "macs",
            ),
        ]
    )
    style = _style(max((row.level for row in rows), default=1))
    policy = (
        f"default-src 'none'; script-src '{_digest(SCRIPT)}'; style-src '{_digest(style)}'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    layer_count = sum(1 for _ in leaves(net.root))
    folded = "every layer shown" if fold is None else f"folded at depth {fold} when opened"
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="generator" content="netspec report">',
            f"<title>{_e(net.name)} · netspec report</title>",
            f"<style>{style}</style>",
            "</head>",
            "<body>",
            _header(net, macs, layer_count),
            '<nav><a href="#charts">Charts</a> · <a href="#diagram">Diagram</a> · '
            '<a href="#layers">Layers</a></nav>',
            '<section id="charts"><h2>Where the parameters and MACs are</h2>',
            '<div class="charts">',
            charts,
            "</div></section>",
            '<section id="diagram"><h2>Diagram</h2>',
            '<div class="tools"><button type="button" id="zoom">Actual size</button>'
            '<span class="muted">Click a box to find its row in the table.</span></div>'
            if missing is None
            else "",
            f'<div class="diagram" id="diagram-box">{diagram}</div>',
            "</section>",
            '<section id="layers"><h2>Layers</h2>',
            '<div class="tools">'
            '<button type="button" id="expand-all">Expand all</button>'
            '<button type="button" id="collapse-all">Collapse all</button>'
            '<button type="button" id="explain-all">Show all arithmetic</button>'
            '<button type="button" id="explain-none">Hide arithmetic</button>'
            f'<span class="muted">{len(rows):,} rows, {folded}. Click ▸ to unfold a block or '
            "stage, an operator to see its arithmetic.</span></div>",
            _table(net, rows),
            "</section>",
            '<footer class="muted">Written by <code>netspec report</code>: '
            "static analysis of the spec (PyTorch is not run). Shapes exclude the batch "
            "dimension; parameters are trainable parameters, each shared module once.</footer>",
            f"<script>{SCRIPT}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )
    return Report(page, missing)


CSS = """
:root { color-scheme: light dark; --fg: #1d1f23; --muted: #6a6f78; --line: #e3e5e8;
  --bg: #ffffff; --alt: #f6f7f9; --accent: #3367d6; --bar-p: #5b8def; --bar-m: #e8923c;
  --hit: #fff3b0; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e6e6; --muted: #9aa0a8; --line: #33363b; --bg: #17181b; --alt: #1f2125;
    --accent: #8ab4f8; --hit: #4a4420; }
  .diagram svg { background: #ffffff; border-radius: 4px; }
}
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); margin: 0 auto; padding: 1.5em 2em 3em;
  max-width: 1200px; }
h1 { margin: 0 0 0.2em; font-size: 1.8em; }
h2 { font-size: 1.2em; margin: 1.8em 0 0.6em; border-bottom: 1px solid var(--line);
  padding-bottom: 0.2em; }
a { color: var(--accent); }
code, pre, .math, td.shape, td.num, td.op { font-family: ui-monospace, SFMono-Regular, Menlo,
  Consolas, monospace; font-size: 12.5px; }
.description { margin: 0 0 0.8em; color: var(--muted); font-size: 1.05em; }
.muted { color: var(--muted); }
.note { background: var(--alt); border-left: 3px solid var(--accent); padding: 0.5em 0.8em; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1.2em;
  margin: 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
nav { margin: 1em 0 0; }
.charts { display: flex; flex-wrap: wrap; gap: 1em 2em; }
figure.chart { margin: 0; flex: 1 1 480px; max-width: 640px; }
figure.chart figcaption { font-weight: 600; margin-bottom: 0.3em; }
figure.chart svg { width: 100%; height: auto; }
figure.chart text { font-size: 12px; fill: var(--fg); }
figure.chart text.value { fill: var(--muted); }
figure.params rect { fill: var(--bar-p); }
figure.macs rect { fill: var(--bar-m); }
.tools { display: flex; flex-wrap: wrap; gap: 0.5em; align-items: center; margin: 0 0 0.6em; }
.tools button { font: inherit; padding: 0.15em 0.7em; border: 1px solid var(--line);
  border-radius: 4px; background: var(--alt); color: var(--fg); cursor: pointer; }
.diagram { overflow: auto; max-height: 80vh; border: 1px solid var(--line); border-radius: 4px;
  padding: 0.5em; }
.diagram svg.graph { max-width: 100%; height: auto; }
.diagram.full svg.graph { max-width: none; }
.diagram svg.graph g.node, .diagram svg.graph g.cluster { cursor: pointer; }
pre.dot { max-height: 30em; overflow: auto; background: var(--alt); padding: 0.6em; }
table.layers { border-collapse: collapse; width: 100%; }
table.layers th { text-align: left; position: sticky; top: 0; background: var(--bg);
  border-bottom: 2px solid var(--line); padding: 0.3em 0.6em; }
table.layers td { padding: 0.15em 0.6em; border-bottom: 1px solid var(--line);
  vertical-align: top; }
table.layers th.num, table.layers td.num { text-align: right; white-space: nowrap; }
td.shape, td.name { white-space: nowrap; }
tr.container > td { background: var(--alt); }
tr.container > td.name { font-weight: 600; }
tr.container > td.num { color: var(--muted); }
tr.call > td.name { font-style: italic; color: var(--muted); }
tr.tensor > td.op, tr.input > td.name { color: var(--muted); }
tr.explain > td { border-bottom: none; padding-top: 0; }
tr:not(.container) > td.name::before { content: ""; display: inline-block; width: 1.3em; }
tr.hit > td { background: var(--hit); }
.math { color: var(--accent); padding: 0.1em 0 0.3em 1em; }
button.fold { border: none; background: none; padding: 0; margin: 0 0.3em 0 0; width: 1em;
  cursor: pointer; color: var(--fg); font: inherit; }
button.fold::before { content: "▾"; }
button.fold[aria-expanded="false"]::before { content: "▸"; }
button.why { border: none; background: none; padding: 0; font: inherit; color: inherit;
  text-align: left; cursor: pointer; text-decoration: underline dotted var(--muted); }
button.why[aria-expanded="true"] { color: var(--accent); }
footer { margin-top: 2em; font-size: 0.9em; }
@media print { .tools, nav { display: none; } .diagram { max-height: none; } }
"""

SCRIPT = """
(() => {
  "use strict";
  const table = document.getElementById("layers-table");
  const rows = Array.from(table.tBodies[0].rows);
  const folds = () => table.querySelectorAll("button.fold");
  const whys = () => table.querySelectorAll("button.why");
  const open = (button) => button.getAttribute("aria-expanded") === "true";
  const set = (button, value) => button.setAttribute("aria-expanded", String(value));

  // A row is hidden under a folded container; an arithmetic row also when its layer's
  // arithmetic is not asked for.
  function refresh() {
    let below = Infinity;
    let layerHidden = false;
    for (const row of rows) {
      if (row.classList.contains("explain")) {
        const why = row.previousElementSibling.querySelector("button.why");
        row.hidden = layerHidden || !open(why);
        continue;
      }
      const level = Number(row.dataset.level);
      if (level > below) {
        row.hidden = layerHidden = true;
        continue;
      }
      below = Infinity;
      row.hidden = layerHidden = false;
      const fold = row.querySelector("button.fold");
      if (fold && !open(fold)) below = level;
    }
  }

  // Fold the containers at one depth, and unfold the others (unfolding one of them later
  // shows all of it); Infinity unfolds every container, 0 folds every one.
  function foldTo(depth) {
    for (const button of folds()) {
      const level = Number(button.closest("tr").dataset.level);
      set(button, depth !== 0 && level !== depth);
    }
    refresh();
  }

  function explainAll(value) {
    for (const button of whys()) set(button, value);
    refresh();
  }

  function reveal(path) {
    const row = rows.find((r) => r.dataset.path === path && !r.classList.contains("explain"));
    if (!row) return false;
    for (let up = row; up && up.dataset.parent; ) {
      up = document.getElementById(up.dataset.parent);
      if (up) set(up.querySelector("button.fold"), true);
    }
    refresh();
    for (const old of table.querySelectorAll("tr.hit")) old.classList.remove("hit");
    row.classList.add("hit");
    row.scrollIntoView({ block: "center" });
    return true;
  }

  function fromHash() {
    const words = new URLSearchParams(location.search.slice(1) + "&" + location.hash.slice(1));
    const expand = words.get("expand");
    if (expand === "all") foldTo(Infinity);
    else if (expand && /^[0-9]+$/.test(expand)) foldTo(Number(expand));
    if (words.get("collapse") === "all") foldTo(0);
    if (words.get("explain") === "all") explainAll(true);
    if (words.get("layer")) reveal(words.get("layer"));
  }

  table.addEventListener("click", (event) => {
    const button = event.target.closest("button.fold, button.why");
    if (!button) return;
    set(button, !open(button));
    refresh();
  });
  document.getElementById("expand-all").addEventListener("click", () => foldTo(Infinity));
  document.getElementById("collapse-all").addEventListener("click", () => foldTo(0));
  document.getElementById("explain-all").addEventListener("click", () => explainAll(true));
  document.getElementById("explain-none").addEventListener("click", () => explainAll(false));

  const box = document.getElementById("diagram-box");
  const zoom = document.getElementById("zoom");
  if (zoom) {
    zoom.addEventListener("click", () => {
      box.classList.toggle("full");
      zoom.textContent = box.classList.contains("full") ? "Fit to width" : "Actual size";
    });
  }
  box.addEventListener("click", (event) => {
    const shape = event.target.closest("g.node, g.cluster");
    const text = shape && shape.querySelector("text");
    if (text) reveal(text.textContent.trim());
  });

  window.addEventListener("hashchange", fromHash);
  refresh();
  fromHash();
  window.netspecReport = { refresh, foldTo, explainAll, reveal };
  document.documentElement.dataset.ready = "true";
})();
"""
