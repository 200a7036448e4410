"""The graph back end: an analysed network as a Graphviz DOT diagram.

Every operator call is a box (a module called twice, a shared ``relu``, is two boxes), labelled
with its path, its call, its output shape, its parameters and its MACs. A container — a block,
a stage, a named sequence — is a cluster around its layers down to a folding depth, and one box
below it. A block's dataflow is drawn from its lowered program (``BlockNode.flow``, see
:mod:`netspec.expand.lower`): its paths side by side from the tensor each reads, a split as a
node the parts leave, each merge (``add``, ``concat``, ``mul``) as a node every merged tensor
enters — so a residual connection is the edge from the block's input to its ``add``, a dense
one the edge to its ``concat``, and an Inception block four branches into one ``concat``. A
layer that reads an earlier tensor (``from:``) is fed by an edge from the layer it names, so a
U-Net's skips cross the diagram from each level down to its level up. Every edge is labelled
with the shape of the tensor it carries.

The text is written here, deterministically (nodes numbered in call order) and escaped;
Graphviz (the ``graphviz`` package and its ``dot`` program) is only needed for pictures.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass

from netspec.backends.summary import MacsConvention, _block_call, _subtotal, auto_depth
from netspec.errors import NetspecError, printable
from netspec.expand.ir import BlockNode, JoinRun, Node, OpNode, PathRun, SeqNode, SplitRun
from netspec.expand.lower import IN, INPUT
from netspec.infer import Network
from netspec.ops.base import Shape, fmt_shape

MAX_BOXES = 100
"""Boxes a diagram shows before it folds deep containers (unless a depth is asked for)."""

PICTURES = {"svg", "png", "pdf"}
"""Extensions written by Graphviz; ``.dot`` and ``.gv`` are the DOT text itself."""
TEXT = {"dot", "gv"}


def quote(text: str) -> str:
    """``text`` as a DOT string: quoted, with backslashes and quotes escaped, control and
    invisible characters shown as escapes, and line breaks as DOT's centred ``\\n``."""
    safe = printable(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + safe.replace("\r", "").replace("\n", "\\n").replace("\t", " ") + '"'


@dataclass(frozen=True, slots=True)
class _Port:
    """A tensor: the DOT node that produced it, and its shape."""

    node: str
    shape: Shape


def _counts(params: int, macs: int) -> str:
    return f"params {params:,} · MACs {macs:,}"


class _Writer:
    def __init__(self, macs: MacsConvention, depth: int | None) -> None:
        self.macs = macs
        self.depth = depth
        self.lines: list[str] = []
        self.edges: list[str] = []
        """Edges, written after every node at the top level: an edge inside a cluster would
        pull a node from outside into it."""
        self.ids = 0
        self.clusters = 0
        self.ports: dict[int, _Port] = {}
        """The output of each layer drawn in a chain, by the ``id`` of its node."""

    def _id(self) -> str:
        self.ids += 1
        return f"n{self.ids}"

    def box(self, indent: str, label: str, **attrs: str) -> str:
        name = self._id()
        extra = "".join(f", {k}={v}" for k, v in sorted(attrs.items()))
        self.lines.append(f"{indent}{name} [label={quote(label)}{extra}];")
        return name

    def edge(self, src: _Port, dst: str) -> None:
        self.edges.append(f"  {src.node} -> {dst} [label={quote(fmt_shape(src.shape))}];")

    def folded(self, node: SeqNode, level: int) -> bool:
        return self.depth is not None and level >= self.depth

    def node(
        self, node: Node, level: int, src: _Port, indent: str, others: Sequence[_Port] = ()
    ) -> _Port:
        """Draw ``node`` (at nesting ``level``, 1 for a top-level layer) fed by ``src`` (and
        ``others``, a block's other inputs); returns the port of its output."""
        if isinstance(node, OpNode):
            macs = node.macs + (node.extra_ops if self.macs == "all" else 0)
            label = "\n".join(
                [
                    node.path or node.name,
                    node.call,
                    fmt_shape(node.output),
                    _counts(node.parameters if not node.functional else 0, macs),
                ]
            )
            attrs = {"style": '"rounded,filled,dashed"'} if node.functional else {}
            name = self.box(indent, label, **attrs)
            self.edge(src, name)
            return _Port(name, node.output)
        assert isinstance(node, SeqNode)
        params, macs = _subtotal(node, self.macs)
        call = _block_call(node) if isinstance(node, BlockNode) else "Sequential"
        label = "\n".join([node.path, call, fmt_shape(node.output), _counts(params, macs)])
        if self.folded(node, level) or not node.children:
            name = self.box(indent, label + ("\n…" if node.children else ""), fillcolor='"#e8eef7"')
            for port in (src, *others):
                self.edge(port, name)
            return _Port(name, node.output)
        self.clusters += 1
        self.lines.append(f"{indent}subgraph cluster_{self.clusters} {{")
        inner = indent + "  "
        self.lines.append(f"{inner}label={quote(label)};")
        style = '"rounded,filled"' if isinstance(node, BlockNode) else "rounded"
        self.lines.append(f'{inner}style={style}; fillcolor="#f7f7f7";')
        if isinstance(node, BlockNode):
            out = self.flow(node, level, src, inner, others)
        else:
            out = self.chain(node, node.children, level + 1, src, inner, {})
        self.lines.append(f"{indent}}}")
        return out

    def chain(
        self,
        parent: SeqNode,
        children: list[Node],
        level: int,
        src: _Port,
        indent: str,
        named: dict[str, _Port],
    ) -> _Port:
        """Layers of ``parent`` one after the other, each fed by the one before it, or by the
        tensors its ``from:`` names (``named``: those so far, by layer name) — a skip across
        the network is an edge from the layer it reads."""
        reads = {id(parent.children[i]): names for i, names in parent.sources.items()}
        if reads:
            named.setdefault(INPUT, src)

        def read(name: str) -> _Port:
            if name in named:
                return named[name]
            # a child of a sequence (`backbone.4`): its own box where the sequence is unfolded,
            # else the sequence's, with the child's shape
            base, _, k = name.partition(".")
            seq = next(c for c in parent.children if c.name == base)
            assert isinstance(seq, SeqNode)
            child = seq.children[int(k)]
            return self.ports.get(id(child), _Port(named[base].node, child.output))

        port = src
        for child in children:
            names = reads.get(id(child), ())
            if names and isinstance(child, BlockNode) and child.others:  # several inputs
                port = self.node(child, level, read(names[0]), indent, [read(n) for n in names[1:]])
            elif names:
                port = self.node(child, level, read(names[0]), indent)
                for name in names[1:]:
                    self.edge(read(name), port.node)
            else:
                port = self.node(child, level, port, indent)
            named[child.name] = self.ports[id(child)] = port
        return port

    def flow(
        self, block: BlockNode, level: int, src: _Port, indent: str, others: Sequence[_Port] = ()
    ) -> _Port:
        """A block's lowered program: paths from the tensors they read, splits, merges."""
        tensors: dict[str, _Port] = {IN: src}
        named: dict[str, _Port] = {INPUT: src}
        named.update(zip(block.inputs, (src, *others), strict=False))
        last = IN
        for run in block.flow:
            if isinstance(run, PathRun):
                port = tensors[run.step.src]
                if run.exists:
                    port = self.chain(block, run.nodes, level + 1, port, indent, named)
                tensors[run.step.dst] = port
                last = run.step.dst
            elif isinstance(run, SplitRun):
                source = tensors[run.step.src]
                if not run.applied:
                    tensors.update({dst: source for dst in run.step.dsts})
                    continue
                parts = len(run.step.dsts)
                name = self.box(indent, f"split ×{parts}", shape="ellipse", style="solid")
                self.edge(source, name)
                for dst, shape in zip(run.step.dsts, run.outputs, strict=True):
                    tensors[dst] = _Port(name, shape)
            else:
                assert isinstance(run, JoinRun)
                step = run.step
                if not run.applied:
                    tensors[step.dst] = tensors[step.otherwise]
                else:
                    label = f"{step.merge}\n{fmt_shape(run.output)}"
                    name = self.box(indent, label, shape="ellipse", style="solid")
                    for tensor in step.inputs:
                        self.edge(tensors[tensor], name)
                    tensors[step.dst] = _Port(name, run.output)
                last = step.dst
        return tensors[last]


def dot(net: Network, depth: int | None = None, macs: MacsConvention = "torchvision") -> str:
    """The DOT text of ``net``.

    Args:
        depth: draw containers as clusters down to this nesting depth and as one box at it
            (1: every top-level layer a box); ``0`` draws every layer; ``None`` folds a large
            network to about :data:`MAX_BOXES` boxes.
    """
    if depth is None:
        depth = auto_depth(net.root, MAX_BOXES)
    elif depth == 0:
        depth = None
    writer = _Writer(macs, depth)
    t = net.totals
    total = t.macs + (t.extra_ops if macs == "all" else 0)
    title = (
        f"{net.name}: {fmt_shape(net.input)} → {fmt_shape(net.output)} · "
        f"{_counts(t.parameters, total)}"
    )
    lines = writer.lines
    lines += [
        "digraph netspec {",
        f"  label={quote(title)};",
        '  labelloc=t; rankdir=TB; fontname="Helvetica"; newrank=true;',
        '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", '
        "fontsize=10];",
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    start = writer.box("  ", f"input\n{fmt_shape(net.input)}", shape="ellipse", style="solid")
    port = writer.chain(net.root, net.root.children, 1, _Port(start, net.input), "  ", {})
    end = writer.box("  ", f"output\n{fmt_shape(net.output)}", shape="ellipse", style="solid")
    writer.edge(port, end)
    lines += writer.edges
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(text: str, fmt: str) -> bytes:
    """The picture Graphviz draws of DOT ``text`` (``svg``, ``png``, ``pdf``).

    Raises:
        NetspecError: the ``graphviz`` package or the ``dot`` program is missing, or ``dot``
            fails.
    """
    try:
        graphviz = importlib.import_module("graphviz")
    except ImportError:
        graphviz = None
    if graphviz is None or shutil.which("dot") is None:
        missing = "the graphviz Python package" if graphviz is None else "Graphviz's dot program"
        raise NetspecError(
            f"writing .{fmt} needs Graphviz, and {missing} is not installed",
            where="--out",
            hint="pip install 'netspec[graph]' and install Graphviz's dot (apt install graphviz, "
            "brew install graphviz, or graphviz.org/download); --out FILE.dot always works",
        )
    try:
        data = graphviz.Source(text).pipe(format=fmt)
    except Exception as exc:  # noqa: BLE001 - graphviz's ExecutableNotFound, CalledProcessError
        lines = str(exc).strip().splitlines()
        raise NetspecError(
            f"Graphviz's dot failed: {lines[0] if lines else type(exc).__name__}",
            where="--out",
            hint="write --out FILE.dot and run dot on it to see why",
        ) from None
    assert isinstance(data, bytes)
    return data
