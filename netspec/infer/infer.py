"""Applying an operator's rules at one place in the network, and adding up the totals.

``apply`` is the only caller of operator rules during analysis. It turns a rule's
:class:`~netspec.ops.base.OpError` into a :class:`~netspec.errors.ShapeError` that names the
layer, points at the offending argument when the rule says which attribute failed, and says
where the input came from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from netspec.errors import ShapeError, Span
from netspec.expand.ir import BlockNode, Node, OpNode, SeqNode, walk
from netspec.expr.evaluate import Sym, concrete, summed, traced, unread
from netspec.ops.base import Ids, Op, OpError, Shape, Tensor, fmt_shape, is_ids
from netspec.ops.merge import Join, JoinAttrs


def apply(
    op: Op,
    attrs: Any,
    x: Shape,
    *,
    path: str,
    name: str,
    span: Span | None,
    functional: bool = False,
    attr_spans: Any = None,
    producer: str | None = None,
    memo: dict[Any, Any] | None = None,
) -> OpNode:
    """Run ``op``'s rules on input ``x``; the resulting node carries shapes and counts.

    Args:
        producer: what made ``x`` (a layer path, or ``None`` for the network input),
            mentioned when the rule fails.
        memo: the rules' results by (operator, attributes, input) — they are functions of
            these — for a network that applies the same layer many times.

    Raises:
        ShapeError: the rule rejects the input or the attributes.
    """
    if op.reads_ids != is_ids(x) and not op.keeps_ids:
        raise _dtype_error(op, x, span, path or name, producer)
    key = (op, attrs, x, is_ids(x))
    try:
        done = memo.get(key) if memo is not None else None
    except TypeError:  # attributes that cannot be hashed: nothing to remember them by
        done, memo = None, None
    if done is not None:
        y, tensors, macs, extra = done
        return OpNode(
            path, name, span, x, y, op=op, attrs=attrs, functional=functional,
            tensors=tensors, macs=macs, extra_ops=extra,
        )  # fmt: skip
    try:
        y = op.infer(attrs, x)
        if op.keeps_ids and is_ids(x):
            y = Ids(y)
        tensors = op.tensors(attrs, x)
        macs = op.macs(attrs, x, y)
        extra = op.extra_ops(attrs, x, y)
    except OpError as exc:
        where = (attr_spans.get(exc.attr or "") if attr_spans is not None else None) or span
        origin = f"`{producer}`" if producer else "the network input"
        hint = exc.hint
        context = f"the input {fmt_shape(x)} comes from {origin}"
        hint = f"{hint}; {context}" if hint else context
        raise ShapeError(exc.message, where, path or name, hint) from None
    _check_sizes(op, x, y, tensors, span, path or name)
    if memo is not None:
        memo[key] = (y, tensors, macs, extra)
    if functional and tensors:  # pragma: no cover - expand only makes stateless calls functional
        raise AssertionError(f"{path}: a functional call cannot own tensors")
    return OpNode(
        path,
        name,
        span,
        x,
        y,
        op=op,
        attrs=attrs,
        functional=functional,
        tensors=tensors,
        macs=macs,
        extra_ops=extra,
    )


def join(op: Join, attrs: JoinAttrs, *, path: str, name: str, span: Span | None) -> OpNode:
    """A merge entry (``from: [a, b]``) over tensors of the shapes ``attrs.shapes``: a call
    in ``forward`` with no state, its shape and operations its merge's rules.

    Raises:
        OpError: the merge refuses the shapes (the caller names them all).
    """
    x = attrs.shapes[0]
    y = op.infer(attrs, x)
    return OpNode(
        path, name, span, x, y, op=op, attrs=attrs, functional=True,
        extra_ops=op.extra_ops(attrs, x, y),
    )  # fmt: skip


def _dtype_error(
    op: Op, x: Shape, span: Span | None, where: str, producer: str | None
) -> ShapeError:
    """An integer tensor into an operator that computes on floats, or the reverse."""
    origin = f"`{producer}`" if producer else "the network input"
    if op.reads_ids:
        return ShapeError(
            f"{op.name} expects integer ids (token ids, input_dtype: int64), found a "
            f"floating-point {fmt_shape(x)} tensor from {origin}",
            span,
            where,
            hint="say the input is token ids with `input_dtype: int64` beside `input`"
            if producer is None
            else "an embedding looks ids up: it reads the network's integer input "
            "(input_dtype: int64), not the output of another layer",
        )
    return ShapeError(
        f"{op.name} expects a floating-point input, found integer ids {fmt_shape(x)} from "
        f"{origin} (input_dtype: int64)",
        span,
        where,
        hint="an embedding turns ids into vectors: e.g. embedding(10000, 128) first",
    )


MAX_ELEMENTS = 2**63 - 1
"""Most elements of one tensor: PyTorch's sizes are int64."""


def _check_sizes(
    op: Op, x: Shape, y: Shape, tensors: list[Any], span: Span | None, where: str
) -> None:
    """Refuse a tensor PyTorch could never make: more elements than int64 holds (the
    analysis itself counts in Python's unbounded integers)."""
    tracing = traced()
    for index in range(len(tensors) + 1):
        shape = y if index == 0 else tensors[index - 1].shape
        if tracing and any(isinstance(d, Sym) for d in shape):
            # traced sizes, tested by value. An output below the limit records no guard: a
            # program of traced values gives no figures above 2**62
            # (:class:`~netspec.expand.program.Program`), and the elements of every output
            # count towards its activations
            dims = [unread(d) for d in shape]
            if any(type(d) is not int for d in dims):
                continue
            if index == 0 and math.prod(dims) <= MAX_ELEMENTS:
                continue
            if not math.prod(shape) > MAX_ELEMENTS:  # (a tensor: a guard)
                continue
            shape = tuple(concrete(d) for d in shape)  # (pinned: refused at these values)
        elements = math.prod(shape)
        if type(elements) is not int:  # symbolic sizes: decided where known
            if not (isinstance(elements, Sym) and elements.known and elements > MAX_ELEMENTS):
                continue
            shape = tuple(concrete(d) for d in shape)
            elements = math.prod(shape)
        if elements > MAX_ELEMENTS:
            what = "output" if index == 0 else f"{tensors[index - 1].name!r} tensor"
            raise ShapeError(
                f"{op.name}: its {what} {_brief_shape(shape)} has {_about(math.prod(shape))} "
                "elements, more than PyTorch's int64 sizes hold (2⁶³ − 1)",
                span,
                where,
                hint=f"the input is {fmt_shape(x)}; no machine could build this tensor",
            )


def _about(count: int) -> str:
    """``count`` to three significant digits as ``{:.3g}`` writes a float (``1.92e+38``,
    ``1e+21``), for any integer: one past float's range (``8e300``·``8e300``) has no float, and
    converting it would raise OverflowError."""
    mantissa, e, exponent = f"{Decimal(count):.3g}".partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return mantissa + (f"e{int(exponent):+03d}" if e else "")


def _brief_shape(shape: Shape) -> str:
    """``fmt_shape``, a size beyond int64 written to three digits (``3×8e+300×8e+300``)."""
    return "×".join(_about(d) if d.bit_length() > 63 else str(d) for d in shape)


@dataclass(frozen=True)
class Totals:
    parameters: int
    """Trainable parameters (each shared module counted once)."""
    buffers: int
    """Elements of buffers (BatchNorm running statistics…)."""
    macs: int
    """Multiply-adds of convolutions and linear layers (torchvision's convention)."""
    extra_ops: int
    """Everything else (bias, normalisation, activations, pooling), for ``--macs all``."""


def totals(root: Node) -> Totals:
    """Add up a network's parameters, buffers and operations.

    One walk, no state_dict keys: a name repeats in a class only for one stateless module
    called twice (``_claim`` in the expander), so every tensor of a module or block is its own
    state_dict entry (:func:`~netspec.expand.ir.state` gives the same sums; tests hold them
    equal)."""
    params = buffers = macs = extra = 0
    symbolic: tuple[list[Any], ...] = ([], [], [], [])  # (added up by `summed`, see there)
    stack: list[Node] = [root]
    while stack:  # walk(root), inline: this runs for every analysis
        node = stack.pop()
        owned: Sequence[Tensor] = ()
        if type(node) is OpNode:
            if type(node.macs) is int and type(node.extra_ops) is int:
                macs += node.macs
                extra += node.extra_ops
            else:
                symbolic[2].append(node.macs)
                symbolic[3].append(node.extra_ops)
            if not node.functional:
                owned = node.tensors
        elif isinstance(node, SeqNode):
            if isinstance(node, BlockNode):
                merged = node.merge_ops
                if type(merged) is int:
                    extra += merged
                else:
                    symbolic[3].append(merged)
            owned = node.own
            stack.extend(node.children)
        for t in owned:
            size = math.prod(t.shape)
            if type(size) is not int:
                symbolic[0 if t.trainable else 1].append(size)
            elif t.trainable:
                params += size
            else:
                buffers += size
    if not any(symbolic):
        return Totals(params, buffers, macs, extra)
    sums = zip((params, buffers, macs, extra), symbolic, strict=True)
    return Totals(*(summed([known, *terms]) for known, terms in sums))


@dataclass
class Network:
    """A spec analysed for one set of parameter values and one input shape."""

    name: str
    description: str | None
    class_name: str
    input: Shape
    params: dict[str, Any]
    root: SeqNode
    lets: dict[str, tuple[str, Any]] = field(default_factory=dict)
    """``let`` values: name → (the expression as written, its value)."""
    input_dtype: str = "float32"
    """The input's data type: ``float32``, or ``int64`` (integer ids)."""
    input_reads_params: bool = False
    """Whether the spec's ``input`` reads params (``[3, size, size]``): an input given apart
    must agree with the sizes they give."""
    input_reads: frozenset[str] | None = None
    """What the expressions making the tree read of the blocks' inputs (``in.channels``:
    ``channels``; ``*`` where ``in`` itself is taken), ``None`` where that is not known; a
    layer's arguments reading more are noted at the layer instead
    (:class:`~netspec.expand.ir.Again`)."""
    totals: Totals = field(init=False)

    def __post_init__(self) -> None:
        self.totals = totals(self.root)

    @property
    def id_limit(self) -> int | None:
        """With integer input: one more than the largest id every layer reading the input
        accepts (the smallest ``num_embeddings`` among them), so ids ``0 … id_limit − 1``
        make a valid sample input; ``None`` for a floating-point input."""
        if self.input_dtype == "float32":
            return None
        limits = [
            int(node.attrs.num_embeddings)
            for node in walk(self.root)
            if isinstance(node, OpNode) and is_ids(node.input)
        ]
        return min(limits, default=1)

    @property
    def output(self) -> Shape:
        return self.root.output
