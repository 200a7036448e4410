"""Shape plumbing: ``flatten``, ``identity``, ``zeropad1d`` and ``zeropad2d``."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from netspec.expr.evaluate import concrete, known
from netspec.ops import spatial
from netspec.ops.base import (
    Attrs,
    Expect,
    Op,
    OpError,
    PyCall,
    Shape,
    X,
    fmt_shape,
    numel,
    register,
    require_rank,
)
from netspec.ops.fields import Int


class FlattenAttrs(Attrs):
    start_dim: Int = 1
    """First dimension to flatten, counted as PyTorch counts it (the batch is dimension 0)."""
    end_dim: Int = -1
    """Last dimension to flatten (−1: the last)."""


@register
class Flatten(Op):
    """Merge dimensions ``start_dim…end_dim`` into one (by default: all but the batch)."""

    aliases_input = True
    name = "flatten"
    Attrs = FlattenAttrs
    category = "shape"
    module_name = "nn.Flatten"

    def _range(self, a: Any, x: Shape) -> tuple[int, int]:
        rank = len(x) + 1
        start = a.start_dim + rank if a.start_dim < 0 else a.start_dim
        end = a.end_dim + rank if a.end_dim < 0 else a.end_dim
        for attr, value in (("start_dim", start), ("end_dim", end)):
            if not 0 <= value < rank:
                raise OpError(
                    f"flatten: {attr}={getattr(a, attr)} is out of range for a {len(x)}-d input "
                    f"(with the batch, dimensions {-rank} to {rank - 1})",
                    attr=attr,
                )
        if start == 0:
            raise OpError(
                "flatten: start_dim=0 would merge the batch dimension",
                hint="netspec shapes exclude the batch; start at dimension 1",
                attr="start_dim",
            )
        if start > end:
            raise OpError(
                f"flatten: start_dim={a.start_dim} comes after end_dim={a.end_dim}",
                attr="start_dim",
            )
        return start, end

    def infer(self, a: Any, x: Shape) -> Shape:
        start, end = self._range(a, x)
        i, j = start - 1, end  # positions in the batch-less shape
        return (*x[:i], numel(x[i:j]), *x[j:])

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall("nn.Flatten", (), self.kwargs(a))

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        args: tuple[Any, ...] = (X, a.start_dim) if a.end_dim == -1 else (X, a.start_dim, a.end_dim)
        return PyCall("torch.flatten", args)

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        start, end = self._range(a, x)
        merged = x[start - 1 : end]
        if len(merged) < 2:
            return []
        return [f"{'·'.join(str(d) for d in merged)} = {numel(merged):,} features"]


class NoAttrs(Attrs):
    pass


@register
class Identity(Op):
    """Pass the input through unchanged (a placeholder that keeps module indices)."""

    aliases_input = True
    name = "identity"
    Attrs = NoAttrs
    category = "shape"
    module_name = "nn.Identity"

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall("nn.Identity")

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        return PyCall("")


PadAmount = Annotated[
    Int | tuple[Int, ...],
    Expect("an integer, or one per side (PyTorch's order: left, right[, top, bottom])"),
]


class ZeroPadAttrs(Attrs):
    padding: PadAmount
    """Zeros added per side, in PyTorch's order (left, right, top, bottom); negative crops."""


class _ZeroPad(Op):
    rank: ClassVar[int]
    layout: ClassVar[str]
    Attrs = ZeroPadAttrs
    category = "shape"

    def _sides(self, a: Any) -> tuple[Any, ...]:
        return spatial.ntuple(a.padding, 2 * self.rank, "padding", self.name)

    def infer(self, a: Any, x: Shape) -> Shape:
        if len(x) < self.rank:
            require_rank(self.name, x, (self.rank + 1,), self.layout)
        sides = self._sides(a)
        out = list(x)
        for d in range(self.rank):  # sides come last dimension first
            before, after = sides[2 * d], sides[2 * d + 1]
            pos = len(x) - 1 - d
            size = x[pos] + before + after
            # PyTorch crops (negative sides) before it pads, so the crop alone must fit too
            cropped = (
                x[pos] + min(concrete(before), 0) + min(concrete(after), 0)
                if known(before, after)
                else 0
            )
            if known(size) and (concrete(size) < 0 or concrete(cropped) < 0):
                raise OpError(
                    f"{self.name}: padding ({before}, {after}) crops more than the input's "
                    f"size {x[pos]} in {fmt_shape(x)}",
                    attr="padding",
                )
            out[pos] = size
        return tuple(out)

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall(self.module_name, (a.padding,))

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        return PyCall("F.pad", (X, self._sides(a)))


@register
class ZeroPad1d(_ZeroPad):
    """Pad the last dimension with zeros: ``padding`` is (left, right) or one integer."""

    name = "zeropad1d"
    rank = 1
    layout = "channels × length"
    module_name = "nn.ZeroPad1d"


@register
class ZeroPad2d(_ZeroPad):
    """Pad height and width with zeros: ``padding`` is (left, right, top, bottom) or one integer."""

    name = "zeropad2d"
    rank = 2
    layout = "channels × height × width"
    module_name = "nn.ZeroPad2d"
