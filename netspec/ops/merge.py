"""Merges: how the paths of a block join (``merge: add | mul | concat``), each declared once.

A merge is an operator over several tensors. Its declaration carries everything about it — the
shape rule (written with ordinary arithmetic, guarded by :func:`known`, so the static analysis
runs it on integers and the code generator on symbolic sizes), the Python expression it
compiles to, and the element-wise operations it costs (for ``--macs all``). The expander and the
Python back end both apply merges through :data:`MERGES`; neither knows what a merge does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from netspec.expr import nodes as n
from netspec.expr.evaluate import Sym, as_expr, concrete, known
from netspec.ops.base import OpError, Shape, numel


@dataclass(frozen=True, slots=True)
class Merge:
    name: str
    doc: str
    infer: Callable[[Sequence[Shape]], Shape]
    """The merged shape; raises :class:`OpError` where the inputs cannot be merged."""
    code: Callable[[Sequence[str]], str]
    """The Python expression merging the tensors held by these variables."""
    hint: str | None
    """What to do when the shapes do not merge."""
    counts_ops: bool = True
    """Whether each output element costs one operation per extra input (``--macs all``)."""

    def ops(self, output: Shape, inputs: int) -> int:
        """Element-wise operations of this merge (``--macs all``)."""
        return int(numel(output)) * (inputs - 1) if self.counts_ops else 0


def _same(a: Any, b: Any) -> bool:
    """Whether two sizes may be equal (unknown symbolic sizes are taken at their word)."""
    return not known(a, b) or concrete(a) == concrete(b)


def _one(size: Any) -> bool:
    return known(size) and concrete(size) == 1


def _broadcasting(verb: str) -> Callable[[Sequence[Shape]], Shape]:
    """The shape rule of an element-wise merge: paths ``verb`` together broadcast."""

    def rule(shapes: Sequence[Shape]) -> Shape:
        return _broadcast(shapes, verb)

    return rule


def _broadcast(shapes: Sequence[Shape], verb: str) -> Shape:
    """PyTorch's broadcasting of same-rank shapes (batch aligned): each dimension equal across
    the shapes, or 1 in some of them."""
    first = shapes[0]
    if all(s == first for s in shapes) and all(type(d) is int for d in first):
        return first  # the common case, equal concrete shapes
    failure = f"paths {verb} together must have the same shape (or shapes PyTorch broadcasts)"
    if any(len(s) != len(shapes[0]) for s in shapes):
        # a different rank would broadcast against the batch dimension
        raise OpError(failure)
    out = []
    for dims in zip(*shapes, strict=True):
        sizes = [d for d in dims if not _one(d)]
        if any(not _same(a, b) for a in sizes for b in sizes):
            raise OpError(failure)
        fixed = [d for d in sizes if known(d)]
        if fixed or not sizes:
            out.append(fixed[0] if fixed else dims[0])
            continue
        # sizes known only when the generated code runs: any of them may be 1, so the result
        # is the largest (where they are not 1 they must be equal, which PyTorch checks)
        distinct: list[Any] = []
        for d in sizes:
            if all(as_expr(d) != as_expr(e) for e in distinct):
                distinct.append(d)
        if len(distinct) == 1:
            out.append(distinct[0])
        else:
            out.append(Sym(n.Call(n.Name("max"), tuple(as_expr(d) for d in distinct), ())))
    return tuple(out)


def _concat(shapes: Sequence[Shape]) -> Shape:
    """Concatenation along channels: every other dimension must agree."""
    first = shapes[0]
    for s in shapes[1:]:
        if len(s) != len(first) or any(
            not _same(a, b) for a, b in zip(s[1:], first[1:], strict=True)
        ):
            raise OpError("paths concatenated along channels must agree on every other dimension")
    channels = first[0]
    for s in shapes[1:]:
        channels = channels + s[0]
    return (channels, *first[1:])


MERGES: dict[str, Merge] = {
    merge.name: merge
    for merge in (
        Merge(
            "add",
            "element-wise sum of the paths (broadcast as PyTorch does)",
            _broadcasting("added"),
            lambda names: " + ".join(names),
            None,
        ),
        Merge(
            "mul",
            "element-wise product of the paths (broadcast as PyTorch does): a gate, such as "
            "squeeze-and-excitation's `scale * x`",
            _broadcasting("multiplied"),
            lambda names: " * ".join(names),
            "make the gate's shape broadcast against the input: its channels equal the "
            "input's, its other sizes equal or 1 (adaptive_avgpool2d(1) before it)",
        ),
        Merge(
            "concat",
            "concatenation of the paths along channels, in order",
            _concat,
            lambda names: f"torch.cat([{', '.join(names)}], 1)",
            "give every path the same stride and padding",
            counts_ops=False,
        ),
    )
}
"""Every merge, by the name a spec gives it (``merge: add``)."""


def split_channels(shape: Shape, parts: int) -> tuple[Shape, ...]:
    """The shapes of ``x.chunk(parts, 1)`` where the channels divide into equal parts (the
    split of ``split:``, ShuffleNetV2's channel split)."""
    if not shape:
        raise OpError("a channel split needs an input with channels, found a scalar")
    channels = shape[0]
    if known(channels) and concrete(channels) % parts:
        raise OpError(
            f"the input's {concrete(channels)} channels do not split into {parts} equal parts "
            f"(one per path)",
            hint=f"give the block an input whose channels are a multiple of {parts}",
        )
    part = channels // parts
    return tuple((part, *shape[1:]) for _ in range(parts))


def split_code(source: str, parts: Sequence[str]) -> str:
    """The Python statement splitting ``source`` into the variables ``parts``."""
    return f"{', '.join(parts)} = {source}.chunk({len(parts)}, 1)"
