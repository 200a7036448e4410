"""The diff back end: two analysed networks compared layer by layer, by path.

Nodes are matched by their path in the module tree (``layer3.6.conv2``); a name called more
than once in one container (a shared ``relu``) is matched call by call (``relu``, ``relu#2``…).
A node is *changed* when its operator or call (a block's call, with its arguments), its input
or output shape, its trainable parameters or its MACs differ, or, for a container, when
anything inside it does. Rows come in call order: B's, with what only A has placed after its
predecessor in A.

Nothing here imports torch: both sides are analysed statically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from netspec.backends.summary import MacsConvention, _block_call, _subtotal, human
from netspec.errors import printable
from netspec.expand.ir import BlockNode, Node, OpNode, SeqNode, leaves
from netspec.infer import Network
from netspec.ops.base import Shape, fmt_shape

Status = Literal["added", "removed", "changed", "same"]

FIELDS = ("call", "input", "output", "parameters", "macs")
"""What is compared of two nodes at one path (``contents``: something inside a container)."""


@dataclass(frozen=True, slots=True)
class Facts:
    """What a diff compares of one node."""

    kind: Literal["layer", "block", "sequence"]
    op: str
    """The operator's name, the block's name, or ``Sequential``/``Module``."""
    call: str
    input: Shape
    output: Shape
    parameters: int
    macs: int
    layers: int
    """Operator calls in it (1 for a layer)."""
    children: int
    """Direct children (0 for a layer)."""

    def data(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "op": self.op,
            "call": self.call,
            "input": list(self.input),
            "output": list(self.output),
            "parameters": self.parameters,
            "macs": self.macs,
            "layers": self.layers,
            "children": self.children,
        }


@dataclass(slots=True)
class Row:
    """One path of either network."""

    path: str
    level: int
    """1 for a top-level layer (a stage), 2 for its children…"""
    status: Status
    a: Facts | None
    b: Facts | None
    changed: tuple[str, ...] = ()
    """The fields of :data:`FIELDS` that differ, and ``contents`` when something inside a
    container does."""

    @property
    def delta_parameters(self) -> int:
        return (self.b.parameters if self.b else 0) - (self.a.parameters if self.a else 0)

    @property
    def delta_macs(self) -> int:
        return (self.b.macs if self.b else 0) - (self.a.macs if self.a else 0)

    @property
    def facts(self) -> Facts:
        """B's facts, or A's for a removed node."""
        facts = self.b or self.a
        assert facts is not None
        return facts

    def data(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status,
            "kind": self.facts.kind,
            "changed": list(self.changed),
            "a": self.a.data() if self.a else None,
            "b": self.b.data() if self.b else None,
            "delta": {"parameters": self.delta_parameters, "macs": self.delta_macs},
        }


@dataclass(slots=True)
class Diff:
    """Two networks compared (see the module docstring)."""

    a: Network
    b: Network
    macs: MacsConvention
    stages: list[Row]
    """Every top-level layer of either network, ``same`` ones too."""
    rows: list[Row]
    """The rows that differ, down to the requested depth."""
    identical: bool
    a_label: str = ""
    b_label: str = ""
    params: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """The spec params whose values differ: name → (A's, B's); a param only one side
    declares has ``None`` on the other."""


def _label(node: SeqNode) -> str:
    if isinstance(node, BlockNode):
        return _block_call(node)
    return {"sequential": "Sequential", "module": "Sequential", "class": "Module"}[node.kind]


def _facts(node: Node, convention: MacsConvention, cache: dict[int, Facts]) -> Facts:
    done = cache.get(id(node))
    if done is not None:
        return done
    if isinstance(node, OpNode):
        macs = node.macs + (node.extra_ops if convention == "all" else 0)
        facts = Facts(
            "layer", node.op.name, node.call, node.input, node.output,
            node.parameters if not node.functional else 0, macs, 1, 0,
        )  # fmt: skip
    else:
        assert isinstance(node, SeqNode)
        params, macs = _subtotal(node, convention)
        kind: Literal["block", "sequence"] = "block" if isinstance(node, BlockNode) else "sequence"
        op = node.block if isinstance(node, BlockNode) else _label(node)
        count = sum(1 for _ in leaves(node))
        facts = Facts(
            kind, op, _label(node), node.input, node.output, params, macs, count,
            len(node.children),
        )  # fmt: skip
    cache[id(node)] = facts
    return facts


def _keyed(node: Node) -> list[tuple[str, Node]]:
    """A container's children by key: the name, and ``name#k`` for its k-th call (k ≥ 2)."""
    if not isinstance(node, SeqNode):
        return []
    seen: dict[str, int] = {}
    out = []
    for child in node.children:
        seen[child.name] = seen.get(child.name, 0) + 1
        count = seen[child.name]
        out.append((child.name if count == 1 else f"{child.name}#{count}", child))
    return out


def _merged(a: list[str], b: list[str]) -> list[str]:
    """Keys in B's order, each key only A has placed after its nearest predecessor in A that
    B has too (at the start where there is none)."""
    in_b = set(b)
    after: dict[str | None, list[str]] = {}
    previous: str | None = None
    for key in a:
        if key in in_b:
            previous = key
        else:
            after.setdefault(previous, []).append(key)
    out = list(after.get(None, []))
    in_a = set(a)
    for key in b:
        out.append(key)
        if key in in_a:
            out.extend(after.get(key, []))
    return out


class _Comparer:
    def __init__(self, convention: MacsConvention, depth: int | None, collapse: bool) -> None:
        self.convention = convention
        self.depth = depth
        self.collapse = collapse
        self.cache: dict[int, Facts] = {}
        self.rows: list[Row] = []

    def facts(self, node: Node) -> Facts:
        return _facts(node, self.convention, self.cache)

    def shown(self, level: int) -> bool:
        return self.depth is None or level <= self.depth

    def one_side(self, node: Node, path: str, level: int, status: Status) -> None:
        """A node (and, unless collapsed, what is inside it) only one network has."""
        stack = [(node, path, level)]
        while stack:
            current, where, depth = stack.pop()
            if not self.shown(depth):
                continue
            facts = self.facts(current)
            a, b = (facts, None) if status == "removed" else (None, facts)
            self.rows.append(Row(where, depth, status, a, b))
            if not self.collapse:
                stack.extend(
                    (child, f"{where}.{key}", depth + 1) for key, child in reversed(_keyed(current))
                )

    def both(self, a: Node, b: Node, path: str, level: int) -> bool:
        """Compare two nodes at one path; rows for them and what is inside them, in order.
        Returns whether anything differs."""
        fa, fb = self.facts(a), self.facts(b)
        changed = [name for name in FIELDS if getattr(fa, name) != getattr(fb, name)]
        row = Row(path, level, "same", fa, fb)
        if self.shown(level):
            self.rows.append(row)
        inner = False
        if isinstance(a, SeqNode) and isinstance(b, SeqNode):
            kids_a, kids_b = dict(_keyed(a)), dict(_keyed(b))
            for key in _merged(list(kids_a), list(kids_b)):
                child_a, child_b = kids_a.get(key), kids_b.get(key)
                where = f"{path}.{key}" if path else key
                if child_a is not None and child_b is not None:
                    inner |= self.both(child_a, child_b, where, level + 1)
                elif child_a is not None:
                    inner = True
                    self.one_side(child_a, where, level + 1, "removed")
                else:
                    assert child_b is not None
                    inner = True
                    self.one_side(child_b, where, level + 1, "added")
        elif isinstance(a, SeqNode) != isinstance(b, SeqNode) and "call" not in changed:
            changed.insert(0, "call")
        if inner:
            changed.append("contents")
        row.changed = tuple(changed)
        row.status = "changed" if changed else "same"
        return bool(changed)


def compare(
    a: Network,
    b: Network,
    macs: MacsConvention = "torchvision",
    depth: int | None = None,
    collapse: bool = True,
) -> Diff:
    """Compare ``a`` with ``b``.

    Args:
        depth: list rows down to this nesting depth (1: the top-level layers); ``None`` every
            depth. Whether the networks are identical is decided on every layer regardless.
        collapse: a container only one network has is one row, not a row per layer in it.
    """
    comparer = _Comparer(macs, depth, collapse)
    identical = not comparer.both(a.root, b.root, "", 0)
    identical = identical and a.input == b.input
    rows = [row for row in comparer.rows if row.level > 0 and row.status != "same"]
    stages = [row for row in comparer.rows if row.level == 1]  # depth is None or at least 1
    params = {
        name: (a.params.get(name), b.params.get(name))
        for name in [*a.params, *(k for k in b.params if k not in a.params)]
        if a.params.get(name) != b.params.get(name) or (name in a.params) != (name in b.params)
    }
    return Diff(a, b, macs, stages, rows, identical, a.name, b.name, params)


# -- JSON ------------------------------------------------------------------------------------


def _side(net: Network, label: str, macs: MacsConvention) -> dict[str, Any]:
    from netspec.backends.summary import jsonable

    t = net.totals
    return {
        "name": net.name,
        "spec": label,
        "params": {k: jsonable(v) for k, v in net.params.items()},
        "input": list(net.input),
        "output": list(net.output),
        "parameters": t.parameters,
        "buffers": t.buffers,
        "macs": t.macs + (t.extra_ops if macs == "all" else 0),
        "layers": sum(1 for _ in leaves(net.root)),
    }


def data(diff: Diff) -> dict[str, Any]:
    """The diff as plain data (what ``--format json`` prints)."""
    from netspec.backends.summary import jsonable

    a = _side(diff.a, diff.a_label, diff.macs)
    b = _side(diff.b, diff.b_label, diff.macs)
    return {
        "identical": diff.identical,
        "macs_convention": diff.macs,
        "a": a,
        "b": b,
        "delta": {k: b[k] - a[k] for k in ("parameters", "buffers", "macs", "layers")},
        "params": {
            k: {"a": jsonable(va), "b": jsonable(vb)} for k, (va, vb) in diff.params.items()
        },
        "stages": [row.data() for row in diff.stages],
        "layers": [row.data() for row in diff.rows],
    }


def to_json(diff: Diff) -> str:
    return json.dumps(data(diff), indent=2) + "\n"


# -- table -----------------------------------------------------------------------------------


def _signed(value: int) -> str:
    if value > 0:
        return f"+{value:,}"
    if value < 0:
        return f"−{-value:,}"
    return "0"


def _pct(a: int, b: int) -> str:
    if a == 0:
        return ""
    change = (b - a) / a * 100
    return f", {'+' if change >= 0 else '−'}{abs(change):.2f}%"


def _total(a: int, b: int) -> str:
    """``25,557,032 → 44,549,160 (+18,992,128, +74.31%; 25.56 M → 44.55 M)``."""
    if a == b:
        return f"{a:,} ({human(a)})"
    return f"{a:,} → {b:,} ({_signed(b - a)}{_pct(a, b)}; {human(a)} → {human(b)})"


def _arrow(a: str, b: str) -> str:
    return a if a == b else f"{a} → {b}"


def _stage_count(row: Row) -> str:
    sides = [f for f in (row.a, row.b)]
    shown = [str(f.children) if f and f.kind != "layer" else "–" for f in sides]
    if row.a is None:
        return shown[1]
    if row.b is None:
        return shown[0]
    counts = [f.children for f in sides if f and f.kind != "layer"]
    if len(counts) == 2 and counts[0] != counts[1]:
        return f"{shown[0]} → {shown[1]} ({_signed(counts[1] - counts[0])})"
    return _arrow(shown[0], shown[1])


def _cell_shape(row: Row) -> str:
    if row.a is None or row.b is None:
        facts = row.a or row.b
        assert facts is not None
        return fmt_shape(facts.output)
    return _arrow(fmt_shape(row.a.output), fmt_shape(row.b.output))


def _cell_count(row: Row, name: str) -> str:
    a = getattr(row.a, name) if row.a else None
    b = getattr(row.b, name) if row.b else None
    if a is None:
        return _signed(b or 0) if b else ""
    if b is None:
        return _signed(-a) if a else ""
    if a == b:
        return f"{b:,}" if b else ""
    return f"{a:,} → {b:,}"


def _cell_call(row: Row) -> str:
    a = row.a.call if row.a else None
    b = row.b.call if row.b else None
    facts = row.b or row.a
    folded = facts is not None and facts.kind != "layer" and (row.a is None or row.b is None)
    text = _arrow(a, b) if a is not None and b is not None else (b or a or "")
    if folded and facts is not None:
        text += f" … {facts.layers:,} layer{'s' if facts.layers != 1 else ''}"
    return text


def _stage_table(stages: list[Row]) -> Any:
    from rich.table import Table
    from rich.text import Text

    grid = Table(header_style="bold", pad_edge=False, box=None)
    for title, right in (
        ("Stage", False),
        ("Change", False),
        ("Blocks", True),
        ("Output", False),
        ("Params Δ", True),
        ("MACs Δ", True),
    ):
        grid.add_column(title, justify="right" if right else "left", no_wrap=True)
    for row in stages:
        if row.status == "same":
            continue
        grid.add_row(
            Text(printable(row.path), style="bold"),
            Text(row.status, style=_STYLE[row.status]),
            _stage_count(row),
            _cell_shape(row),
            _signed(row.delta_parameters),
            _signed(row.delta_macs),
        )
    return grid


_STYLE = {"added": "green", "removed": "red", "changed": "yellow", "same": "dim"}


def _layer_table(rows: list[Row]) -> Any:
    from rich.table import Table
    from rich.text import Text

    grid = Table(header_style="bold", pad_edge=False, box=None)
    grid.add_column("Layer", no_wrap=True)
    grid.add_column("Change", no_wrap=True)
    grid.add_column("Operator", overflow="fold")
    grid.add_column("Output", no_wrap=True)
    grid.add_column("Params", justify="right", no_wrap=True)
    grid.add_column("MACs", justify="right", no_wrap=True)
    for row in rows:
        container = row.facts.kind != "layer"
        grid.add_row(
            Text(printable("  " * (row.level - 1) + row.path), style="bold" if container else ""),
            Text(row.status, style=_STYLE[row.status]),
            Text(printable(_cell_call(row)), style="dim" if container else ""),
            _cell_shape(row),
            _cell_count(row, "parameters"),
            _cell_count(row, "macs"),
        )
    return grid


def table(diff: Diff) -> Any:
    """A rich renderable: what differs, per stage, per layer and in total."""
    from rich.console import Group
    from rich.text import Text

    from netspec.expr.evaluate import show

    a, b = diff.a, diff.b
    title = Text()
    title.append("A ", style="bold")
    title.append(printable(diff.a_label))
    title.append("  →  ")
    title.append("B ", style="bold")
    title.append(printable(diff.b_label))
    for name, (va, vb) in diff.params.items():
        title.append("\nparam ", style="bold")
        left = show(va) if va is not None else "(none)"
        right = show(vb) if vb is not None else "(none)"
        title.append(printable(f"{name}: {left} → {right}"))
    if a.input != b.input:
        title.append("\ninput ", style="bold")
        title.append(f"{fmt_shape(a.input)} → {fmt_shape(b.input)}")
    parts: list[Any] = [title]
    changed = [s for s in diff.stages if s.status != "same"]
    ta, tb = a.totals, b.totals
    ma = ta.macs + (ta.extra_ops if diff.macs == "all" else 0)
    mb = tb.macs + (tb.extra_ops if diff.macs == "all" else 0)
    if diff.identical:
        parts.append(Text("\nidentical: every layer's call, shapes, parameters and MACs agree"))
    else:
        parts.append(Text(""))
        if changed:
            parts.append(_stage_table(diff.stages))
        same = len(diff.stages) - len(changed)
        parts.append(
            Text(
                f"{len(changed)} of {len(diff.stages)} stages differ"
                + (f"; {same} unchanged" if same else ""),
                style="dim",
            )
        )
        if diff.rows:
            parts.append(Text(""))
            parts.append(_layer_table(diff.rows))
    la, lb = (sum(1 for _ in leaves(n.root)) for n in (a, b))
    footer = Text()
    footer.append("\nparameters ", style="bold")
    footer.append(_total(ta.parameters, tb.parameters))
    footer.append("\nMACs ", style="bold")
    footer.append(_total(ma, mb))
    footer.append("\noutput ", style="bold")
    footer.append(_arrow(fmt_shape(a.output), fmt_shape(b.output)))
    footer.append(" · ")
    footer.append("layers ", style="bold")
    footer.append(_arrow(f"{la:,}", f"{lb:,}") + (f" ({_signed(lb - la)})" if la != lb else ""))
    parts.append(footer)
    return Group(*parts)
