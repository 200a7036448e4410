"""An expanded network inferred again for another input size, without expanding the spec again.

Expanding a spec decides everything that makes the tree — loops, conditions, names, each
layer's operator and attributes, which blocks are copied — from the params and the ``let``
values, and from what the blocks' expressions read of their input shapes (``in``). Where
those reads are the channels alone (``in.channels``: MobileNetV2's hidden width and residual
condition), an input that differs only in its other sizes makes the same decisions at every
block whose input keeps its channels: the same tree, with other shapes. ``reinfer`` walks an
expanded tree in call order and runs its operator, split and merge rules again on the new
shapes — the functions expanding calls (``apply``, ``Merge.infer``, ``split_channels``,
``OpNode.is_callable``), on exactly the inputs expanding again would give them — and gives
the network expanding again would give.

It gives ``None`` instead wherever it cannot promise that: a block whose input's channels or
rank changed, ``from:`` readers, integer ids, a rule that fails (expanding again reports the
error, positioned as only expansion can), or a layer whose form would change (a function
call that would own tensors). ``netspec sweep`` uses it for rows that differ from an earlier
row only in the input size; tests hold it to equal expansion node by node.
"""

from __future__ import annotations

import math
from typing import Any

from netspec.errors import NetspecError
from netspec.expand.ir import BlockNode, JoinRun, Node, OpNode, PathRun, Run, SeqNode, SplitRun
from netspec.expand.lower import IN
from netspec.expr.evaluate import Sym
from netspec.infer import Network, apply
from netspec.infer.infer import MAX_ELEMENTS
from netspec.ops.base import OpError, Shape
from netspec.ops.merge import MERGES, split_channels

CHANNEL_READS = frozenset({"channels", "features", "rank"})
"""What blocks may read of ``in`` (see :func:`netspec.expand.expander.expand`'s
``input_reads``) for their expansion to be inferred again: sizes the walk keeps (it requires
each block's input to keep its rank and its first size, the channels or features)."""


class _Differs(Exception):
    """The tree for the new input may differ from the old one's: expand instead."""


def reinfer(net: Network, x: Shape, memo: dict[Any, Any] | None = None) -> Network | None:
    """``net`` (expanded with blocks that read of ``in`` only :data:`CHANNEL_READS`) for
    the input ``x`` instead: the network :func:`~netspec.expand.expander.expand` gives for
    the same spec and params at ``x``, or ``None`` where that cannot be promised (see the
    module's notes). ``memo``: operator rules' results, as for
    :func:`~netspec.infer.apply`."""
    if net.input_dtype != "float32" or net.input_reads_params or not same_kind(net.input, x):
        return None  # (params giving input sizes: expansion holds x to them)
    try:
        root = _node(net.root, x, memo)
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


def _node(node: Node, x: Shape, memo: dict[Any, Any] | None) -> Node:
    kind = type(node)
    if kind is OpNode:
        assert isinstance(node, OpNode)
        return _op(node, x, memo)
    assert isinstance(node, SeqNode)
    if node.sources:  # tensors read by name: not walked here
        raise _Differs
    if kind is SeqNode:
        twin = SeqNode(
            node.path, node.name, node.span, x, x, kind=node.kind, own=node.own,
        )  # fmt: skip
        twin.children, twin.output = _chain(node.children, x, memo)
        return twin
    if kind is not BlockNode:
        raise _Differs
    assert isinstance(node, BlockNode)
    return _block(node, x, memo)


def _chain(nodes: list[Node], x: Shape, memo: dict[Any, Any] | None) -> tuple[list[Node], Shape]:
    out: list[Node] = []
    for child in nodes:
        twin = _node(child, x, memo)
        out.append(twin)
        x = twin.output
    return out, x


def _op(node: OpNode, x: Shape, memo: dict[Any, Any] | None) -> OpNode:
    if _plain(x) and x == node.input:  # the same rule on the same input: its results, again
        return OpNode(
            node.path, node.name, node.span, x, node.output, op=node.op, attrs=node.attrs,
            functional=node.functional, tensors=node.tensors, macs=node.macs,
            extra_ops=node.extra_ops,
        )  # fmt: skip
    try:
        twin = apply(
            node.op, node.attrs, x, path=node.path, name=node.name, span=node.span, memo=memo
        )
    except NetspecError:
        raise _Differs from None
    if [t.name for t in twin.tensors] != [t.name for t in node.tensors]:
        raise _Differs  # which tensors a layer owns decides whether it may be shared or a call
    if node.functional:
        if not twin.is_callable:
            raise _Differs
        twin.functional = True
    return twin


def _block(node: BlockNode, x: Shape, memo: dict[Any, Any] | None) -> BlockNode:
    if not same_kind(node.input, x):
        raise _Differs  # what the block read of its input may differ
    twin = BlockNode(
        node.path, node.name, node.span, x, x, kind=node.kind, own=node.own, block=node.block,
        args=dict(node.args), merge=node.merge,
    )  # fmt: skip
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
            made, y = _chain(run.nodes, start, memo)
            children += made
            tensors[step.dst] = y
            flow.append(PathRun(step, start, y, made))
        elif type(run) is JoinRun:
            join = run.step
            if not run.applied:
                tensors[join.dst] = tensors[join.otherwise]
                flow.append(JoinRun(join, tensors[join.dst], applied=False))
                continue
            merge = MERGES[join.merge]
            shapes = [tensors[t] for t in join.inputs]
            try:
                y = merge.infer(shapes)  # as expanding infers it
            except OpError:
                raise _Differs from None
            tensors[join.dst] = y
            flow.append(JoinRun(join, y, ops=merge.ops(y, len(shapes))))
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
