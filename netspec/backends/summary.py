"""The summary back end: a network's per-layer table, as data, JSON or a rich table."""

from __future__ import annotations

import json
from typing import Any, Literal

from netspec.errors import printable
from netspec.expand.ir import BlockNode, Node, OpNode, SeqNode, SplitRun, leaves, state, walk
from netspec.infer import Network
from netspec.ops.base import Shape, fmt_shape
from netspec.pause import collector_paused

MacsConvention = Literal["torchvision", "all"]

MACS_CONVENTIONS: dict[str, str] = {
    "torchvision": "multiply-adds of convolutions and linear layers only (torchvision's "
    "published GFLOPS; equals torch.utils.flop_counter total / 2)",
    "all": "torchvision's count plus bias additions, normalisation (2 per element), "
    "activations (1 per element, softmax 3), pooling (1 per window element) and merges",
}


def _macs(leaf: OpNode, convention: MacsConvention) -> int:
    return leaf.macs + (leaf.extra_ops if convention == "all" else 0)


@collector_paused  # as expansion is (see netspec.pause): it allocates a dict per layer
def data(
    net: Network, macs: MacsConvention = "torchvision", explain: bool = False
) -> dict[str, Any]:
    """The summary as plain data (what ``--format json`` prints).

    Shapes exclude the batch dimension; ``parameters`` counts trainable parameters. With
    ``explain`` each layer also carries ``explain``: the lines of arithmetic behind its size,
    parameters and MACs, as ``--explain`` prints them under the layer's row.
    """
    t = net.totals
    layers = []
    # copies of a block share their layers' attributes and tensors: each described once
    calls: dict[int, str] = {}
    counts: dict[int, int] = {}
    extra = macs == "all"
    tensors = []
    stack: list[Node] = [net.root]
    while stack:  # walk(net.root), inline: the leaves, and the blocks' own tensors
        leaf = stack.pop()
        if type(leaf) is not OpNode:
            if isinstance(leaf, SeqNode):  # a block's or the model's own tensors
                tensors += [
                    {
                        "path": f"{leaf.path}.{t.name}" if leaf.path else t.name,
                        "shape": list(t.shape),
                        "parameters": t.numel,
                    }
                    for t in leaf.own
                ]
                stack.extend(reversed(leaf.children))
            continue
        call = calls.get(id(leaf.attrs))
        if call is None:
            call = calls[id(leaf.attrs)] = leaf.call
        parameters = counts.get(id(leaf.tensors))
        if parameters is None:
            parameters = counts[id(leaf.tensors)] = leaf.parameters
        row = {
            "path": leaf.path,
            "op": leaf.op.name,
            "call": call,
            "module": not leaf.functional,
            "input": list(leaf.input),
            "output": list(leaf.output),
            "parameters": parameters,
            "macs": leaf.macs + leaf.extra_ops if extra else leaf.macs,
        }
        if explain:
            row["explain"] = leaf.op.explain(leaf.attrs, leaf.input, leaf.output)
        layers.append(row)
    return {
        "name": net.name,
        "description": net.description,
        "params": {k: jsonable(v) for k, v in net.params.items()},
        "let": {k: jsonable(value) for k, (_, value) in net.lets.items()},
        "input": list(net.input),
        "input_dtype": net.input_dtype,
        "output": list(net.output),
        "parameters": t.parameters,
        "buffers": t.buffers,
        "macs": t.macs + (t.extra_ops if macs == "all" else 0),
        "macs_convention": macs,
        "layers": layers,
        "tensors": tensors,
    }


def jsonable(value: Any) -> Any:
    """A value of the language as JSON holds it: lists for tuples, text keys (the inverse
    of :func:`netspec.spec.params.plain`)."""
    if isinstance(value, tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def to_json(net: Network, macs: MacsConvention = "torchvision", explain: bool = False) -> str:
    return json.dumps(data(net, macs, explain), indent=2) + "\n"


def human(count: int) -> str:
    """``15.47 G``, ``3.50 M``, ``61.7 K``."""
    for unit, size in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(count) >= size:
            return f"{count / size:.2f} {unit}"
    return str(count)


def _block_call(node: BlockNode) -> str:
    from netspec.expr.evaluate import show

    args = ", ".join(f"{k}={show(v)}" for k, v in node.args.items())
    how = [f"split {len(r.step.dsts)}" for r in node.flow if isinstance(r, SplitRun) and r.applied]
    how += [node.merge] if node.merge else []
    merge = f" [{', '.join(how)}]" if how else ""
    return f"{node.block}({args}){merge}"


def _subtotal(node: Node, convention: MacsConvention) -> tuple[int, int]:
    params = sum(t.numel for t in state(node).values() if t.trainable)
    macs = 0
    for leaf in leaves(node):
        macs += _macs(leaf, convention)
    if convention == "all":
        macs += sum(n.merge_ops for n in walk(node) if isinstance(n, BlockNode))
    return params, macs


def _shape(shape: Shape) -> str:
    return fmt_shape(shape)


MAX_ROWS = 100
"""Rows a table shows before it folds deep containers (unless a depth is asked for)."""


def rows_at(root: Node, depth: int | None) -> int:
    """How many rows the table has when folded at ``depth`` (``None``: not folded)."""
    count = 0
    stack: list[tuple[Node, int]] = [(c, 1) for c in getattr(root, "children", [])]
    while stack:
        node, level = stack.pop()
        count += 1
        if isinstance(node, SeqNode) and (depth is None or level < depth):
            stack += [(c, level + 1) for c in node.children]
    return count


def auto_depth(root: Node, limit: int = MAX_ROWS) -> int | None:
    """The deepest folding that keeps the table within ``limit`` rows (``None``: no folding)."""
    if rows_at(root, None) <= limit:
        return None
    depth = 1
    while rows_at(root, depth + 1) <= limit:
        depth += 1
    return depth


MAX_RICH_ROWS = 2000
"""Tables up to this many rows are laid out by rich; longer ones (``--depth 0`` of a
100,000-layer chain) as plain aligned lines, in time linear in the rows."""

_COLUMNS = ("Layer", "Operator", "Output", "Params", "MACs")
_RIGHT = (False, False, False, True, True)


def _grid(rows: list[tuple[Any, ...]]) -> Any:
    from rich.table import Table

    grid = Table(show_lines=False, header_style="bold", pad_edge=False, box=None)
    grid.add_column("Layer", no_wrap=True)
    grid.add_column("Operator", overflow="fold")
    grid.add_column("Output", no_wrap=True)
    grid.add_column("Params", justify="right", no_wrap=True)
    grid.add_column("MACs", justify="right", no_wrap=True)
    for row in rows:
        grid.add_row(*row)
    return grid


class _Lines:
    """Plain lines for rich to print as they are (no wrapping: rich's text layout takes
    about a quarter of a millisecond per line)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.segment import Segment

        for line in self.lines:
            yield Segment(line)
            yield Segment.line()


def _plain_grid(rows: list[tuple[Any, ...]]) -> Any:
    """The table as unstyled aligned lines (the columns of :func:`_grid`)."""
    cells = [_COLUMNS, *(tuple(str(c) for c in row) for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(_COLUMNS))]
    lines = [
        "  ".join(
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(row, widths, _RIGHT, strict=True)
        ).rstrip()
        for row in cells
    ]
    return _Lines(lines)


def table(
    net: Network,
    macs: MacsConvention = "torchvision",
    depth: int | None = None,
    explain: bool = False,
) -> Any:
    """A rich renderable: the per-layer table and the totals.

    Args:
        depth: show containers down to this depth only (their rows carry subtotals); ``0``
            shows every layer; ``None`` folds a large network to about :data:`MAX_ROWS` rows.
        explain: add the arithmetic behind each layer's shape and parameters.
    """
    auto = depth is None
    if depth is None:
        depth = auto_depth(net.root)
    elif depth == 0:
        depth = None
    from rich.console import Group
    from rich.text import Text

    from netspec.expr.evaluate import show

    title = Text(printable(net.name), style="bold")
    if net.description:
        title.append(printable(f" — {net.description}"), style="")
    if net.params:
        title.append("\nparams ", style="bold")
        title.append(printable(" · ".join(f"{k}={show(v)}" for k, v in net.params.items())))
    shown: list[str] = []  # each `let` name with its value, and how it is computed
    for name, (text, value) in net.lets.items():
        plain = show(value)
        if len(plain) <= 40:
            shown.append(f"{name} = {plain}" if text == plain else f"{name} = {text} = {plain}")
    if len(shown) < len(net.lets):  # long lists (RegNet's widths): in the JSON report
        shown.append(f"{len(net.lets) - len(shown)} more with --format json")
    if shown:
        title.append("\nlet    ", style="bold")
        title.append(printable(" · ".join(shown)))
    ids = f"{net.input_dtype} ids" if net.input_dtype != "float32" else ""
    rows: list[tuple[Any, ...]] = [(Text("input", style="dim"), ids, _shape(net.input), "", "")]
    add = rows.append
    for own in net.root.own:  # the model's own learned tensors (ViT's class token)
        add(
            (
                Text(own.name),
                Text("learned tensor", style="dim"),
                _shape(own.shape),
                f"{own.numel:,}",
                "",
            )
        )

    def visit(node: Node, level: int) -> None:
        for child in node.children if isinstance(node, SeqNode) else []:
            indent = "  " * level
            if isinstance(child, SeqNode):
                params, m = _subtotal(child, macs)
                folded = depth is not None and level + 1 >= depth
                label = {"sequential": "Sequential", "module": "Sequential", "class": "Module"}[
                    child.kind
                ]
                if isinstance(child, BlockNode):
                    label = _block_call(child)
                add(
                    (
                        Text(indent + child.name, style="bold"),
                        Text(label + (" …" if folded else ""), style="dim"),
                        _shape(child.output),
                        f"{params:,}" if folded or params else "",
                        f"{m:,}" if folded else "",
                    )
                )
                if not folded:
                    for t in child.own:
                        add(
                            (
                                Text(indent + "  " + t.name),
                                Text("learned tensor", style="dim"),
                                _shape(t.shape),
                                f"{t.numel:,}",
                                "",
                            )
                        )
                    visit(child, level + 1)
                continue
            assert isinstance(child, OpNode)
            add(
                (
                    Text(indent + child.name, style="italic dim" if child.functional else ""),
                    child.call,
                    _shape(child.output),
                    f"{child.parameters:,}" if child.tensors else "",
                    f"{_macs(child, macs):,}" if _macs(child, macs) else "",
                )
            )
            if explain:
                for line in child.op.explain(child.attrs, child.input, child.output):
                    add(("", Text(indent + "  " + line, style="cyan"), "", "", ""))

    visit(net.root, 0)
    grid = _grid(rows) if len(rows) <= MAX_RICH_ROWS else _plain_grid(rows)
    t = net.totals
    total_macs = t.macs + (t.extra_ops if macs == "all" else 0)
    footer = Text()
    kind = f" ({ids})" if ids else ""
    footer.append(f"\ninput {_shape(net.input)}{kind} → output {_shape(net.output)}\n")
    footer.append("parameters ", style="bold")
    footer.append(f"{t.parameters:,}")
    footer.append(f" ({human(t.parameters)}, {t.parameters * 4 / 2**20:,.1f} MiB as float32)")
    if t.buffers:
        footer.append(f" · buffers {t.buffers:,}")
    footer.append("\nMACs ", style="bold")
    footer.append(f"{total_macs:,} ({human(total_macs)})")
    footer.append(f" · {MACS_CONVENTIONS[macs].split(' (')[0]}", style="dim")
    if auto and depth is not None:
        total = rows_at(net.root, None)
        footer.append(
            f"\n(folded to depth {depth} of {total:,} rows: --depth 0 shows every layer)",
            style="dim",
        )
    return Group(title, grid, footer)
