"""An expanded network inferred again for another input size, without expanding the spec again.

Expanding a spec decides everything that makes the tree — loops, conditions, names, each
layer's operator and attributes, which blocks are copied — from the params and the ``let``
values, and from what the blocks' expressions read of their input shapes (``in``). Where
those reads are the channels alone (``in.channels``: MobileNetV2's hidden width and residual
condition), an input that differs only in its other sizes makes the same decisions at every
block whose input keeps its channels: the same tree, with other shapes. ``reinfer`` walks an
expanded tree in call order and runs its operator, split and merge rules again on the new
shapes — the functions expanding calls (``apply``, ``join``, ``Merge.infer``,
``split_channels``, ``OpNode.is_callable``), on exactly the inputs expanding again would give
them — and gives the network expanding again would give. A ``from:`` child reads the tensors
it names in the new tree (see :class:`_Reads`). A layer whose arguments read other sizes of its
block's input (``upsample(size=[in.height, in.width])``, DeepLabV3's image pooling) is bound
again, as expanding binds it, with ``in`` the block's new input (see
:class:`~netspec.expand.ir.Again`): its attributes are the only ones that change.

It gives ``None`` instead wherever it cannot promise that: a tree decided from sizes of a
block's input other than the channels (:attr:`Network.input_reads`), a block whose inputs'
channels or rank changed, a ``from:`` name that does not find what expansion read, integer
ids, a rule that fails (expanding again reports the error, positioned as only expansion can),
or a layer whose form would change (a function call that would own tensors). ``netspec sweep``
uses it for rows that differ from an earlier row only in the input size; tests hold it to
equal expansion node by node.
"""

from __future__ import annotations

import math
from typing import Any

from netspec.errors import NetspecError
from netspec.expand import calls, ir
from netspec.expand.ir import BlockNode, JoinRun, Node, OpNode, PathRun, Run, SeqNode, SplitRun
from netspec.expand.lower import IN, INPUT
from netspec.expr.evaluate import INPUT_READS, InputShape, Sym
from netspec.infer import Network, apply
from netspec.infer.infer import MAX_ELEMENTS, join
from netspec.ops.base import OpError, Shape
from netspec.ops.merge import MERGES, Join, JoinAttrs, split_channels


class _Differs(Exception):
    """The tree for the new input may differ from the old one's: expand instead."""


def reinfer(net: Network, x: Shape, memo: dict[Any, Any] | None = None) -> Network | None:
    """``net`` for the input ``x`` instead: the network
    :func:`~netspec.expand.expander.expand` gives for the same spec and params at ``x``, or
    ``None`` where that cannot be promised (see the module's notes). ``memo``: operator rules'
    results, as for :func:`~netspec.infer.apply`."""
    if not inferable_again(net) or not same_kind(net.input, x):
        return None
    try:
        root = _node(net.root, x, memo, None)
    except _Differs:
        return None
    assert isinstance(root, SeqNode)
    return Network(
        name=net.name,
        description=net.description,
        class_name=net.class_name,
        input=x,
        params=dict(net.params),
        root=root,
        lets=dict(net.lets),
        input_dtype=net.input_dtype,
        input_reads=net.input_reads,
    )


def inferable_again(net: Network) -> bool:
    """Whether :func:`reinfer` may give ``net`` for other input sizes: a floating-point input
    whose sizes no param gives (expansion holds an input to the sizes params give), and a tree
    its blocks decided from no more of their inputs than :data:`~netspec.expand.ir.CHANNEL_READS`
    (:attr:`Network.input_reads`, known only for a network made by expansion)."""
    return (
        net.input_dtype == "float32"
        and not net.input_reads_params
        and net.input_reads is not None
        and net.input_reads <= ir.CHANNEL_READS
    )


def same_kind(old: Shape, new: Shape) -> bool:
    r"""Same rank, same first size (channels or features), every size a positive integer, and
    no more elements than an expansion accepts (``_check_input`` refuses the others). Sizes
    may be traced :class:`~netspec.expr.evaluate.Sym`\ s (see :mod:`netspec.expand.program`):
    these tests are then its guards."""
    return (
        type(new) is tuple
        and len(new) == len(old)
        and new[0] == old[0]
        and all((type(d) is int or type(d) is Sym) and d > 0 for d in new)
        and math.prod(new) <= MAX_ELEMENTS
    )


def _plain(x: Shape) -> bool:
    """Whether every size is an integer (not traced: a traced size is a new value)."""
    for d in x:
        if type(d) is not int:
            return False
    return True


def _node(
    node: Node,
    x: Shape,
    memo: dict[Any, Any] | None,
    inner: Shape | None,
    others: tuple[Shape, ...] = (),
) -> Node:
    """``node`` on ``x`` (``inner``: the input of the innermost block around it, ``in``)."""
    kind = type(node)
    if kind is OpNode:
        assert isinstance(node, OpNode)
        return _op(node, x, memo, inner)
    assert isinstance(node, SeqNode)
    if kind is SeqNode:
        twin = SeqNode(
            node.path, node.name, node.span, x, x, kind=node.kind, own=node.own,
            sources=node.sources,
        )  # fmt: skip
        reads = _Reads(node, {INPUT: (node.input, x)}) if node.sources else None
        twin.children, twin.output = _chain(node.children, x, memo, inner, reads)
        return twin
    if kind is not BlockNode:
        raise _Differs
    assert isinstance(node, BlockNode)
    return _block(node, x, memo, others)


class _Reads:
    """The tensors the ``from:`` children of a class (:attr:`SeqNode.sources`) read, found
    by name in the tree inferred again: the class's inputs, an earlier child (the only one
    of that name: a stateless module called twice is refused), a child of an earlier sequence
    (``seq.k``). What each name finds in the old tree must be what its expansion read there,
    or the walk gives up."""

    def __init__(self, old: SeqNode, inputs: dict[str, tuple[Shape, Shape]]) -> None:
        self.old = old
        self.inputs = inputs
        """By name: the class's inputs' old and new shapes."""
        self.made: list[Node] = []
        """The new children so far, in the old children's order."""

    def shapes(self, index: int) -> tuple[Shape, ...]:
        """The new shapes of the tensors child ``index`` reads, in the order it names them."""
        child = self.old.children[index]
        found = [self._find(name, index) for name in self.old.sources[index]]
        if isinstance(child, OpNode) and isinstance(child.op, Join):
            read: tuple[Shape, ...] = child.attrs.shapes
        elif isinstance(child, BlockNode) and child.others:
            read = (child.input, *child.others)
        else:
            read = (child.input,)
        if tuple(old for old, _ in found) != read:
            raise _Differs
        return tuple(new for _, new in found)

    def _find(self, name: str, index: int) -> tuple[Shape, Shape]:
        """The old and new shapes of the tensor ``name``, read by child ``index``."""
        base, dot, k = name.partition(".")
        earlier = [j for j, c in enumerate(self.old.children[:index]) if c.name == base]
        if not dot and name in self.inputs:
            if earlier:
                raise _Differs
            return self.inputs[name]
        if len(earlier) != 1:
            raise _Differs
        old, new = self.old.children[earlier[0]], self.made[earlier[0]]
        if not dot:
            return old.output, new.output
        if not (isinstance(old, SeqNode) and isinstance(new, SeqNode) and k.isdigit()):
            raise _Differs
        at = int(k)
        if at >= len(old.children) or at >= len(new.children):
            raise _Differs
        return old.children[at].output, new.children[at].output


def _chain(
    nodes: list[Node],
    x: Shape,
    memo: dict[Any, Any] | None,
    inner: Shape | None,
    reads: _Reads | None = None,
) -> tuple[list[Node], Shape]:
    """``nodes`` in order from ``x``; with ``reads``, the next children of a class, whose
    ``from:`` children read the tensors they name instead."""
    out: list[Node] = []
    for child in nodes:
        if reads is None:
            twin = _node(child, x, memo, inner)
        else:
            index = len(reads.made)
            if index in reads.old.sources:
                twin = _reading(child, reads.shapes(index), memo, inner)
            else:
                twin = _node(child, x, memo, inner)
            reads.made.append(twin)
        out.append(twin)
        x = twin.output
    return out, x


def _reading(
    child: Node, shapes: tuple[Shape, ...], memo: dict[Any, Any] | None, inner: Shape | None
) -> Node:
    """A ``from:`` child on the tensors of ``shapes``: a merge of them, or a layer, sequence or
    block on the first (a block of several inputs: on all, in order)."""
    if isinstance(child, OpNode) and isinstance(child.op, Join):
        attrs = JoinAttrs(child.attrs.names, shapes, child.attrs.options)
        try:
            return join(child.op, attrs, path=child.path, name=child.name, span=child.span)
        except OpError:
            raise _Differs from None
    return _node(child, shapes[0], memo, inner, shapes[1:])


def _op(node: OpNode, x: Shape, memo: dict[Any, Any] | None, inner: Shape | None) -> OpNode:
    attrs = node.attrs
    if node.again is not None:
        attrs = _attrs_again(node, inner)
    if _plain(x) and x == node.input and attrs is node.attrs:
        # the same rule on the same input: its results, again
        return OpNode(
            node.path, node.name, node.span, x, node.output, op=node.op, attrs=node.attrs,
            functional=node.functional, tensors=node.tensors, macs=node.macs,
            extra_ops=node.extra_ops, again=node.again,
        )  # fmt: skip
    try:
        twin = apply(node.op, attrs, x, path=node.path, name=node.name, span=node.span, memo=memo)
    except NetspecError:
        raise _Differs from None
    twin.again = node.again
    if [t.name for t in twin.tensors] != [t.name for t in node.tensors]:
        raise _Differs  # which tensors a layer owns decides whether it may be shared or a call
    if node.functional:
        if not twin.is_callable:
            raise _Differs
        twin.functional = True
    return twin


def _attrs_again(node: OpNode, inner: Shape | None) -> Any:
    """The attributes of a layer whose arguments read its block's input (its
    :class:`~netspec.expand.ir.Again`), for that block's input ``inner``: its call bound again
    with ``in`` that input (the binding and validation expanding it does; only the error's
    position is left to expansion)."""
    again = node.again
    assert again is not None
    if inner is None or not _plain(inner):
        raise _Differs  # (a traced size: the program cannot write a size an argument reads)
    scope = again.scope.with_input(InputShape(inner))
    try:
        values, _ = calls.bind(node.op, again.call, again.origin, scope, node.path)
        attrs = node.op.validate(values)
    except (NetspecError, OpError):
        raise _Differs from None
    if node.op.in_place(attrs) != node.op.in_place(node.attrs):
        raise _Differs  # which layers write in place decides what expansion checks of them
    return attrs


def block_again(node: BlockNode, x: Shape, memo: dict[Any, Any] | None) -> BlockNode | None:
    """``node``, an expanded block of one input whose tree read nothing of it (no ``in``), on
    the input ``x`` of the same rank, of any sizes and channels: the block expanding it there
    gives, or ``None`` where a rule refuses ``x`` (expanding reports the error, positioned),
    a block inside it has an input of other channels, or its layers would change form."""
    if node.others or not (
        type(x[0]) is int and x[0] > 0 and same_kind(node.input, (node.input[0], *x[1:]))
    ):
        return None
    token = INPUT_READS.set(None)  # what binding again reads is no read of the tree's
    try:
        return _block(node, x, memo, kept=False)
    except _Differs:
        return None
    finally:
        INPUT_READS.reset(token)


def _block(
    node: BlockNode,
    x: Shape,
    memo: dict[Any, Any] | None,
    others: tuple[Shape, ...] = (),
    kept: bool = True,
) -> BlockNode:
    """``node`` on ``x`` (and ``others``); ``kept``: where its inputs must keep their channels
    (what the block read of them may differ otherwise)."""
    if kept and (
        len(others) != len(node.others)
        or not all(
            same_kind(old, new)
            for old, new in zip((node.input, *node.others), (x, *others), strict=True)
        )
    ):
        raise _Differs  # what the block read of its inputs may differ
    twin = BlockNode(
        node.path, node.name, node.span, x, x, kind=node.kind, own=node.own, block=node.block,
        args=dict(node.args), merge=node.merge, sources=node.sources, others=others,
        inputs=node.inputs,
    )  # fmt: skip
    reads = None
    if node.sources:
        given = zip(node.inputs, (node.input, *node.others), (x, *others), strict=False)
        named = {name: (old, new) for name, old, new in given}
        reads = _Reads(node, {INPUT: (node.input, x), **named})
    tensors: dict[str, Shape] = {IN: x}
    flow: list[Run] = []
    children: list[Node] = []
    for run in node.flow:
        if type(run) is PathRun:
            step = run.step
            start = tensors[step.src]
            if not run.exists:
                tensors[step.dst] = start
                flow.append(PathRun(step, start, start, [], exists=False))
                continue
            made, y = _chain(run.nodes, start, memo, x, reads)
            children += made
            tensors[step.dst] = y
            flow.append(PathRun(step, start, y, made))
        elif type(run) is JoinRun:
            merging = run.step
            if not run.applied:
                tensors[merging.dst] = tensors[merging.otherwise]
                flow.append(JoinRun(merging, tensors[merging.dst], applied=False))
                continue
            merge = MERGES[merging.merge]
            shapes = [tensors[t] for t in merging.inputs]
            try:
                y = merge.infer(shapes)  # as expanding infers it
            except OpError:
                raise _Differs from None
            tensors[merging.dst] = y
            flow.append(JoinRun(merging, y, ops=merge.ops(y, len(shapes))))
        else:
            assert isinstance(run, SplitRun)
            split = run.step
            start = tensors[split.src]
            if not run.applied:
                parts = (start,) * len(split.dsts)
                tensors.update(dict.fromkeys(split.dsts, start))
                flow.append(SplitRun(split, start, parts, applied=False))
                continue
            try:
                parts = split_channels(start, len(split.dsts))
            except OpError:
                raise _Differs from None
            tensors.update(zip(split.dsts, parts, strict=True))
            flow.append(SplitRun(split, start, parts))
    twin.children = children
    twin.flow = flow
    last = flow[-1]
    assert not isinstance(last, SplitRun)
    twin.output = tensors[last.step.dst]
    return twin
