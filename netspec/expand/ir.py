"""The expanded network: a closed set of node kinds with concrete attributes and shapes.

Expansion turns a spec (params, ``let``, loops, conditions, nested sequences) into a tree of
:class:`OpNode` leaves inside :class:`SeqNode` containers, every node with its module path,
its span in the spec, and its input and output shapes. :func:`lint` checks the invariants the
back ends rely on; tests run it on every spec they expand.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from netspec.errors import Span
from netspec.ops.base import Op, Shape, Tensor

ContainerKind = Literal["sequential", "module", "class"]
"""How a container is built:

- ``sequential``: ``nn.Sequential`` of unnamed layers, children named ``0, 1, 2…``;
- ``module``: ``nn.Sequential`` of named layers (an ``OrderedDict``), every child named;
- ``class``: a module class with a ``forward`` — the top of a network that names its layers —
  where unnamed stateless layers are function calls and a stateless layer may be called twice.
"""


@dataclass(eq=False, slots=True)
class Node:
    path: str
    """Module path from the root: ``features.3``; ``''`` for the root."""
    name: str
    """The attribute (or index) in the parent container."""
    span: Span | None
    input: Shape
    output: Shape


@dataclass(eq=False, slots=True)
class OpNode(Node):
    """One operator application."""

    op: Op = field(kw_only=True)
    attrs: Any = field(kw_only=True)
    functional: bool = field(default=False, kw_only=True)
    """A function call in ``forward`` (no module, so no path in the module tree)."""
    tensors: list[Tensor] = field(default_factory=list, kw_only=True)
    macs: int = field(default=0, kw_only=True)
    extra_ops: int = field(default=0, kw_only=True)

    @property
    def parameters(self) -> int:
        return sum(t.numel for t in self.tensors if t.trainable)

    @property
    def call(self) -> str:
        return self.op.describe(self.attrs)


@dataclass(eq=False, slots=True)
class SeqNode(Node):
    """A container applying its children in order."""

    kind: ContainerKind = field(kw_only=True)
    children: list[Node] = field(default_factory=list, kw_only=True)


@dataclass(eq=False, slots=True)
class BlockNode(SeqNode):
    """An instance of a block: its children in call order, and which path each belongs to.

    ``children`` is ``body + shortcut + branches + then``; the segments say how they connect:
    the body, the shortcut and each branch start from the block's input, and ``then`` from the
    merged shape.
    """

    block: str = field(kw_only=True)
    args: dict[str, Any] = field(default_factory=dict, kw_only=True)
    body: list[Node] = field(default_factory=list, kw_only=True)
    shortcut: list[Node] | None = field(default=None, kw_only=True)
    """The identity path's modules (``[]``: the input itself); ``None``: no residual."""
    branches: list[Node] | None = field(default=None, kw_only=True)
    merge: str | None = field(default=None, kw_only=True)
    merged: Shape | None = field(default=None, kw_only=True)
    """The shape after the merge (the input of ``then``)."""
    then: list[Node] = field(default_factory=list, kw_only=True)
    merge_ops: int = field(default=0, kw_only=True)
    """Element-wise additions of the merge (for ``--macs all``)."""


def walk(node: Node) -> Iterator[Node]:
    """Every node, parents before children, in call order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, SeqNode):
            stack.extend(reversed(current.children))


def leaves(node: Node) -> Iterator[OpNode]:
    """Every operator application, in call order."""
    for item in walk(node):
        if isinstance(item, OpNode):
            yield item


def modules(node: Node) -> dict[str, OpNode]:
    """Operator nodes that are modules, by path (a shared module appears once)."""
    out: dict[str, OpNode] = {}
    for leaf in leaves(node):
        if not leaf.functional:
            out.setdefault(leaf.path, leaf)
    return out


class LintError(AssertionError):
    """An IR invariant does not hold: a bug in netspec, never in the spec."""


def lint(root: Node) -> None:
    """Check the IR's invariants.

    - each child's input is its predecessor's output (the container's input for the first),
      and the container's output is its last child's;
    - paths are the parent's path plus the name; children of a ``sequential`` are named by
      index; names in ``module`` containers are unique;
    - a name repeats in a ``class`` container only for the same stateless module;
    - every module path maps to one set of tensors.

    Raises:
        LintError: an invariant fails.
    """
    seen: dict[str, OpNode] = {}
    for node in walk(root):
        if isinstance(node, OpNode):
            if node.functional and node.tensors:
                raise LintError(f"{node.path}: a functional call owns tensors")
            if not node.functional:
                other = seen.setdefault(node.path, node)
                if other is not node and (other.tensors or node.tensors):
                    raise LintError(f"{node.path}: a stateful module is reached twice")
                if other is not node and other.call != node.call:
                    raise LintError(f"{node.path}: one name, two different modules")
            continue
        if not isinstance(node, SeqNode):
            raise LintError(f"{node.path}: unknown node kind {type(node).__name__}")
        if isinstance(node, BlockNode):
            _lint_block(node)
        shape = node.input
        names: set[str] = set()
        for index, child in enumerate(node.children):
            if isinstance(node, BlockNode):
                shape = child.input  # segments are checked by _lint_block
            if child.input != shape:
                raise LintError(f"{child.path}: input {child.input} but predecessor gave {shape}")
            shape = child.output
            expected = f"{node.path}.{child.name}" if node.path else child.name
            if not (isinstance(child, OpNode) and child.functional) and child.path != expected:
                raise LintError(f"{child.path}: path is not parent path + name ({expected})")
            if node.kind == "sequential" and child.name != str(index):
                raise LintError(f"{child.path}: sequential child {index} named {child.name!r}")
            if node.kind == "module":
                if child.name in names:
                    raise LintError(f"{child.path}: duplicate name in a module container")
                names.add(child.name)
        if not isinstance(node, BlockNode) and shape != node.output:
            raise LintError(f"{node.path or '<root>'}: output {node.output} but last child {shape}")


def _chain(nodes: list[Node], shape: Shape, where: str) -> Shape:
    for child in nodes:
        if child.input != shape:
            raise LintError(f"{child.path}: input {child.input} but {where} gave {shape}")
        shape = child.output
    return shape


def _lint_block(node: BlockNode) -> None:
    segments = [*node.body, *(node.shortcut or []), *(node.branches or []), *node.then]
    if [id(c) for c in segments] != [id(c) for c in node.children]:
        raise LintError(f"{node.path}: children are not body + shortcut + branches + then")
    body = _chain(node.body, node.input, "the block input")
    if node.branches is not None:
        outs = [_chain([b], node.input, "the block input") for b in node.branches]
        if node.merged is None or not outs:
            raise LintError(f"{node.path}: branches without a merged shape")
    elif node.shortcut is not None:
        _chain(node.shortcut, node.input, "the block input")
        if node.merged is None:
            raise LintError(f"{node.path}: a residual connection without a merged shape")
    elif node.merged is not None and node.merged != body:
        raise LintError(f"{node.path}: merged shape {node.merged} but body gave {body}")
    merged = node.merged if node.merged is not None else body
    if _chain(node.then, merged, "the merge") != node.output:
        raise LintError(f"{node.path}: output {node.output} does not follow from its paths")
