"""The expanded network: a closed set of node kinds with concrete attributes and shapes.

Expansion turns a spec (params, ``let``, loops, conditions, nested sequences) into a tree of
:class:`OpNode` leaves inside :class:`SeqNode` containers, every node with its module path,
its span in the spec, and its input and output shapes. :func:`lint` checks the invariants the
back ends rely on; tests run it on every spec they expand.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from netspec.errors import Span
from netspec.expand.lower import IN, ContainerKind, Join, Path, Split
from netspec.ops.base import Op, Shape, Tensor

if TYPE_CHECKING:
    from netspec.expr import nodes as n
    from netspec.expr.evaluate import Scope


@dataclass(eq=False, slots=True)
class Node:
    path: str
    """Module path from the root: ``features.3``; ``''`` for the root."""
    name: str
    """The attribute (or index) in the parent container."""
    span: Span | None
    input: Shape
    output: Shape


CHANNEL_READS = frozenset({"channels", "features", "rank"})
"""What the blocks of a network may read of their input (``in``) for it to be inferred again
for another input size (:mod:`~netspec.expand.reinfer`, which requires each block's input to
keep its rank and its first size, the channels or features); and what a layer's arguments may
read of it without an :class:`Again`."""


@dataclass(frozen=True, slots=True)
class Again:
    """A layer whose arguments read sizes of its block's input other than its channels
    (``upsample(size=[in.height, in.width])``): its call and the scope it was bound in, to bind
    it again for another input (:mod:`~netspec.expand.reinfer`)."""

    call: n.Expr
    origin: n.Origin
    scope: Scope = field(compare=False)
    """The frames the call was evaluated in; ``in`` is replaced in them to bind it again (an
    ``Again`` is its call: two bindings of it in frames that differ by ``in`` compare equal)."""
    reads: frozenset[str] = field(compare=False)
    """What the arguments read of ``in`` when bound (``height``, ``width``…; ``*``: ``in``
    itself); which ones may depend on the sizes (``in.height if in.height > 8 else
    in.width``)."""


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
    again: Again | None = field(default=None, kw_only=True)
    """Set where the arguments read sizes of the block's input other than its channels."""

    @property
    def parameters(self) -> int:
        return sum(t.numel for t in self.tensors if t.trainable)

    @property
    def call(self) -> str:
        return self.op.describe(self.attrs)

    @property
    def is_callable(self) -> bool:
        """Whether ``forward`` can call this layer as a function (``F.relu(x)``): it owns no
        tensors, and its operator has a functional form at its attributes and input. A layer
        written as a bare call in the spec must be; one that stops being is an error."""
        return not self.tensors and self.op.functional(self.attrs, self.input) is not None


@dataclass(eq=False, slots=True)
class SeqNode(Node):
    """A container applying its children in order."""

    kind: ContainerKind = field(kw_only=True)
    children: list[Node] = field(default_factory=list, kw_only=True)
    sources: dict[int, tuple[str, ...]] = field(default_factory=dict, kw_only=True)
    """The children that read earlier tensors (``from:``), by index: the names they read
    (``input``: the container's input). The others read their predecessor's output."""
    own: list[Tensor] = field(default_factory=list, kw_only=True)
    """Learned tensors of its own (a block's or the model's ``tensors:``): its own
    parameters, first in its state_dict."""


@dataclass(eq=False, slots=True)
class PathRun:
    """A path of a block (see :mod:`netspec.expand.lower`) as expanded: the nodes it made,
    none where a condition of the path is false."""

    step: Path
    input: Shape
    output: Shape
    nodes: list[Node]
    exists: bool = True


@dataclass(eq=False, slots=True)
class JoinRun:
    """A merge of a block as expanded (``applied`` false: a condition of it is false)."""

    step: Join
    output: Shape
    applied: bool = True
    ops: int = 0
    """Element-wise operations (for ``--macs all``)."""


@dataclass(eq=False, slots=True)
class SplitRun:
    """A split of a block's channels as expanded (``applied`` false: a condition of it is
    false, and every part is the whole input)."""

    step: Split
    input: Shape
    outputs: tuple[Shape, ...]
    applied: bool = True


Run = PathRun | JoinRun | SplitRun


@dataclass(eq=False, slots=True)
class BlockNode(SeqNode):
    """An instance of a block: its children in call order, and the dataflow that connects them.

    ``flow`` is the block's lowered program at these values: each path with the nodes it made
    (``children`` is their concatenation), each merge with its shape.
    """

    block: str = field(kw_only=True)
    args: dict[str, Any] = field(default_factory=dict, kw_only=True)
    flow: list[Run] = field(default_factory=list, kw_only=True)
    merge: str | None = field(default=None, kw_only=True)
    """The merge applied, if any (shown by the summary)."""
    others: tuple[Shape, ...] = field(default=(), kw_only=True)
    """A block of several inputs (``inputs:``): the shapes of those after the first."""
    inputs: tuple[str, ...] = field(default=(), kw_only=True)
    """Their names, the first's included."""

    @property
    def merge_ops(self) -> int:
        """Element-wise operations of the block's merges (for ``--macs all``)."""
        return sum(run.ops for run in self.flow if isinstance(run, JoinRun))


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


def state(node: Node) -> dict[str, Tensor]:
    """Every state_dict entry of the module tree, by key, in ``state_dict()`` order: a
    module's own tensors, then its children's (a shared module once)."""
    out: dict[str, Tensor] = {}
    stack: list[Node] = [node]
    while stack:  # walk(node), inline: this runs for every analysis
        item = stack.pop()
        if type(item) is OpNode:
            if item.tensors and not item.functional:
                path = item.path
                for t in item.tensors:
                    out.setdefault(f"{path}.{t.name}" if path else t.name, t)
            continue
        if isinstance(item, SeqNode):
            for t in item.own:
                out.setdefault(f"{item.path}.{t.name}" if item.path else t.name, t)
            stack.extend(reversed(item.children))
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
            if child.input != shape and index not in node.sources:
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


def _chain(nodes: list[Node], shape: Shape, where: str, reading: set[int]) -> Shape:
    """The shape ``nodes`` give from ``shape``; those in ``reading`` (by ``id``: ``from:``
    entries) start from the tensors they name instead."""
    for child in nodes:
        if child.input != shape and id(child) not in reading:
            raise LintError(f"{child.path}: input {child.input} but {where} gave {shape}")
        shape = child.output
    return shape


def _lint_block(node: BlockNode) -> None:
    made = [c for run in node.flow if isinstance(run, PathRun) for c in run.nodes]
    if [id(c) for c in made] != [id(c) for c in node.children]:
        raise LintError(f"{node.path}: children are not the nodes of its paths")
    tensors: dict[str, Shape] = {IN: node.input}
    last = IN
    reading = {id(node.children[i]) for i in node.sources}
    for run in node.flow:
        if isinstance(run, PathRun):
            step = run.step
            if tensors.get(step.src) != run.input:
                raise LintError(f"{node.path}: path {step.dst} does not start from {step.src}")
            out = _chain(run.nodes, run.input, f"tensor {step.src}", reading)
            if out != run.output or (not run.exists and (run.nodes or out != run.input)):
                raise LintError(f"{node.path}: path {step.dst} gives {out}, recorded {run.output}")
            tensors[step.dst], last = run.output, step.dst
        elif isinstance(run, SplitRun):
            if tensors.get(run.step.src) != run.input:
                raise LintError(f"{node.path}: a split does not start from {run.step.src}")
            tensors.update(zip(run.step.dsts, run.outputs, strict=True))
        else:
            if any(name not in tensors for name in run.step.inputs):
                raise LintError(f"{node.path}: a merge reads a tensor no step made")
            if not run.applied and tensors[run.step.otherwise] != run.output:
                raise LintError(f"{node.path}: a merge not applied changes the shape")
            tensors[run.step.dst], last = run.output, run.step.dst
    if tensors[last] != node.output:
        raise LintError(f"{node.path}: output {node.output} does not follow from its paths")
