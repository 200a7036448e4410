"""Indexing: ``select`` (``torch.select``: one position of a dimension, which disappears).

A transformer classifier reads its class token so: torchvision's ViT writes ``x[:, 0]``,
which is ``select(1, 0)`` — dimension 1 (the tokens; the batch is dimension 0), position 0.
"""

from __future__ import annotations

from typing import Any

from netspec.expr import nodes as n
from netspec.expr.evaluate import Sym, as_expr, compare, concrete, known
from netspec.ops.base import (
    HELPERS,
    Attrs,
    Op,
    OpError,
    PyCall,
    Shape,
    X,
    fmt_shape,
    known_int,
    refuse_where,
    register,
)
from netspec.ops.fields import Int


class SelectAttrs(Attrs):
    dim: Int
    """The dimension to index, counted as PyTorch counts it: the batch is dimension 0 (and
    cannot be selected), ``-1`` the last."""
    index: Int
    """The position kept, from ``-size`` to ``size - 1`` (``-1``: the last)."""


_SELECT = '''
class Select(nn.Module):
    """One position of a dimension, which disappears: torch.select(x, dim, index)."""

    def __init__(self, dim: int, index: int) -> None:
        super().__init__()
        self.dim = dim
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.select(x, self.dim, self.index)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, index={self.index}"
'''


@register
class Select(Op):
    """Keep one position of a dimension and drop the dimension (``torch.select``,
    ``x[:, 0]``): a transformer's class token."""

    aliases_input = True  # a view of the input
    name = "select"
    Attrs = SelectAttrs
    category = "shape"
    module_name = "Select"

    def _dim(self, a: Any, x: Shape) -> int:
        """``dim`` counted from the front, batch excluded (0: the sample's first dimension)."""
        rank = len(x) + 1
        dim = known_int(a.dim)
        d = dim + rank if dim < 0 else dim
        if not 0 <= d < rank:
            raise OpError(
                f"select: dim={dim} is out of range for a {len(x)}-d input {fmt_shape(x)} "
                f"(with the batch, dimensions {-rank} to {rank - 1})",
                attr="dim",
            )
        if d == 0:
            raise _batch_selected()
        return d - 1

    def infer(self, a: Any, x: Shape) -> Shape:
        if not x:
            raise OpError("select expects an input with a dimension to index, found a scalar")
        if not known(a.dim):  # PyTorch selects from the batch without a word
            refuse_where(compare(a.dim, "in", (0, -len(x) - 1)), _batch_selected)
            return self._unknown_dim(a.dim, x)
        d = self._dim(a, x)
        size, index = x[d], a.index
        if known(size, index) and not -size <= index < size:
            raise OpError(
                f"select: index {index} is out of range for dimension {a.dim} of size {size} "
                f"(the input is {fmt_shape(x)})",
                hint=f"an index from {-concrete(size)} to {concrete(size) - 1}",
                attr="index",
            )
        return (*x[:d], *x[d + 1 :])

    @staticmethod
    def _unknown_dim(dim: Any, x: Shape) -> Shape:
        """The shape where ``dim`` is known only when generated code runs (a constructor
        parameter): one dimension fewer, size ``k`` the input's ``k`` where the dimension
        dropped comes after it, else the input's ``k + 1`` (PyTorch checks ``dim`` then)."""
        rank = len(x) + 1
        expr = as_expr(dim)
        counted = n.IfExp(  # as PyTorch counts it from the front, batch included
            n.Compare(expr, (">=",), (n.Const(0),)), expr, n.Binary("+", expr, n.Const(rank))
        )
        out = []
        for k in range(len(x) - 1):
            after = Sym(n.Compare(counted, (">",), (n.Const(k + 1),)))
            same = (known(x[k], x[k + 1]) and concrete(x[k]) == concrete(x[k + 1])) or (
                as_expr(x[k]) == as_expr(x[k + 1])
            )
            out.append(x[k] if same else Sym(n.IfExp(after.expr, as_expr(x[k]), as_expr(x[k + 1]))))
        return tuple(out)

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall("Select", (a.dim, a.index), helpers=("Select",))

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        return PyCall("torch.select", (X, a.dim, a.index))

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        d = self._dim(a, x)
        return [
            f"{fmt_shape(x)} → {fmt_shape(y)}: position {a.index} of {x[d]} in dimension {d + 1}"
        ]


def _batch_selected() -> OpError:
    return OpError(
        "select: dim=0 would index the batch",
        hint="netspec shapes exclude the batch; select a dimension from 1 on",
        attr="dim",
    )


HELPERS["Select"] = _SELECT
