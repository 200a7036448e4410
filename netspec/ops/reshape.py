"""Shape plumbing: ``flatten``, ``reshape``, ``permute``, ``channel_shuffle``, ``identity``,
``zeropad1d`` and ``zeropad2d``."""

from __future__ import annotations

import operator
from typing import Annotated, Any, ClassVar

from pydantic import field_validator

from netspec.expr import nodes as n
from netspec.expr.evaluate import (
    Sym,
    SymbolicError,
    SymList,
    as_expr,
    compare,
    concrete,
    equal,
    known,
    product,
    show,
)
from netspec.ops import spatial
from netspec.ops.base import (
    HELPERS,
    Attrs,
    Expect,
    Op,
    OpError,
    PyCall,
    Shape,
    X,
    divisors_hint,
    fmt_shape,
    indices,
    items,
    numel,
    refuse_where,
    register,
    require_rank,
)
from netspec.ops.fields import Count, Int


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
    keeps_ids = True
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


class ReshapeAttrs(Attrs):
    shape: Annotated[
        tuple[Int, ...],
        Expect("a list of sizes, batch excluded (one of them may be -1): [512, 7, 7]"),
    ]
    """The new shape of each sample, the batch dimension excluded; one size may be ``-1``,
    inferred from the element count (PyTorch's rule)."""

    @field_validator("shape")
    @classmethod
    def _sizes(cls, shape: tuple[int, ...]) -> tuple[int, ...]:
        if not shape:
            raise ValueError("needs at least one size")
        if any(size < 1 and size != -1 for size in shape) or shape.count(-1) > 1:
            raise ValueError("needs positive sizes, at most one of them -1")
        return shape


_RESHAPE = '''
class Reshape(nn.Module):
    """Reshape each sample to ``shape``, the batch kept (one size may be -1)."""

    def __init__(self, shape: list[int] | tuple[int, ...]) -> None:
        super().__init__()
        self.shape = list(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.unflatten(torch.flatten(x, 1), 1, self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"
'''


@register
class Reshape(Op):
    """Give each sample a new shape with the same elements, in order (``torch.reshape``, the
    batch dimension kept)."""

    aliases_input = True
    name = "reshape"
    keeps_ids = True
    Attrs = ReshapeAttrs
    category = "shape"
    module_name = "Reshape"

    def _sizes(self, a: Any) -> tuple[tuple[Any, ...], int | None]:
        try:
            sizes = items(a.shape)
        except SymbolicError as exc:  # a list param: its length, the output's rank, may vary
            raise SymbolicError(
                exc.sym,
                hint="write the sizes out as a list of values or params (reshape([n, -1])): "
                "how many there are, the rank of the output, must not change with the params",
            ) from None
        free = [i for i, size in enumerate(sizes) if known(size) and concrete(size) == -1]
        return sizes, (free[0] if free else None)

    def infer(self, a: Any, x: Shape) -> Shape:
        sizes, free = self._sizes(a)
        total = numel(x)
        rest = product(s for i, s in enumerate(sizes) if i != free)
        hint = (
            "the sizes must multiply to the input's element count (batch excluded); one of "
            "them may be -1 to have it inferred"
        )
        if free is None:
            if not known(*sizes):
                return self._unknown_sizes(x, sizes)
            if known(total, rest) and not equal(total, rest):
                raise OpError(
                    f"reshape: shape {show(a.shape)} holds {rest} elements, but the input "
                    f"{fmt_shape(x)} has {total}",
                    hint=hint,
                    attr="shape",
                )
            return tuple(sizes)
        if known(total, rest) and total % rest:
            raise OpError(
                f"reshape: shape {show(a.shape)} cannot hold the input {fmt_shape(x)}: its "
                f"{total} elements are not a multiple of {rest}",
                hint=hint,
                attr="shape",
            )
        inferred = _quotient(x, [s for i, s in enumerate(sizes) if i != free])
        return tuple(inferred if i == free else s for i, s in enumerate(sizes))

    @staticmethod
    def _unknown_sizes(x: Shape, sizes: tuple[Any, ...]) -> Shape:
        """The shape where no size is a known ``-1`` and some are known only when generated
        code runs: each of those may be ``-1`` then, so it is written as the choice PyTorch
        makes, ``s if s != -1 else numel // the others`` (at most one is -1, as check
        requires; PyTorch refuses more)."""
        out = []
        for i, size in enumerate(sizes):
            if known(size):
                out.append(size)
                continue
            inferred = _quotient(x, [s for j, s in enumerate(sizes) if j != i])
            given = n.Compare(as_expr(size), ("!=",), (n.Const(-1),))
            out.append(Sym(n.IfExp(given, as_expr(size), as_expr(inferred))))
        return tuple(out)

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall("Reshape", (a.shape,), helpers=("Reshape",))

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        flat: Any = X if len(x) == 1 else PyCall("torch.flatten", (X, 1))
        return PyCall("torch.unflatten", (flat, 1, a.shape))

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        sizes, free = self._sizes(a)
        total = numel(x)
        lines = [f"elements: {'·'.join(str(d) for d in x)} = {total:,}"]
        if free is not None:
            others = [str(s) for i, s in enumerate(sizes) if i != free] or ["1"]
            lines.append(f"-1: {total:,} / {'·'.join(others)} = {y[free]:,}")
        return lines


def _quotient(x: Shape, sizes: list[Any]) -> Any:
    """The element count of ``x`` divided by the product of ``sizes`` (a divisor), sizes that
    are dimensions of ``x`` cancelled first so that a symbolic result stays short."""
    left = list(x)
    rest = []
    for size in sizes:
        same = [i for i, d in enumerate(left) if as_expr(d) == as_expr(size)]
        if same:
            del left[same[0]]
        else:
            rest.append(size)
    return numel(tuple(left)) // product(rest) if rest else numel(tuple(left))


class PermuteAttrs(Attrs):
    dims: Annotated[
        tuple[Int, ...],
        Expect("a list of dimensions, the batch (0) first: [0, 2, 3, 1]"),
    ]
    """The order of the input's dimensions in the output, counted as PyTorch counts them: the
    batch is dimension 0 and stays first (``[0, 2, 3, 1]``: channels last)."""


_PERMUTE = '''
class Permute(nn.Module):
    """Reorder the dimensions, the batch (0) included: torch.permute(x, dims)."""

    def __init__(self, dims: list[int] | tuple[int, ...]) -> None:
        super().__init__()
        self.dims = list(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.permute(x, self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"
'''


@register
class Permute(Op):
    """Reorder the dimensions (``torch.permute``), e.g. channels first to channels last."""

    aliases_input = True
    name = "permute"
    keeps_ids = True
    Attrs = PermuteAttrs
    category = "shape"
    module_name = "Permute"

    def _entries(self, a: Any, x: Shape) -> tuple[Any, ...]:
        """The entries of ``dims``: one per dimension of the input, batch included, where
        ``dims`` is a list known only when generated code runs (a list param: ``p[0]``,
        ``p[1]``…, after the class has refused another length, as check does)."""
        dims = a.dims
        if (
            isinstance(dims, SymList)
            and not known(dims)
            and not isinstance(n.strip(dims.expr), n.ListExpr)
        ):
            rank = len(x) + 1
            length = Sym(n.Call(n.Name("len"), (dims.expr,)))
            refuse_where(compare(length, "!=", rank), lambda: self._length_error(dims, length, x))
            return tuple(Sym(n.Index(dims.expr, n.Const(i))) for i in range(rank))
        return items(dims)

    def _dims(self, a: Any, x: Shape) -> tuple[Any, ...]:
        """``dims`` with negative entries counted from the end, checked against the input;
        where an entry is known only when generated code runs, the entries as they are."""
        entries = self._entries(a, x)
        rank = len(x) + 1
        if not known(*entries):
            if len(entries) != rank:
                raise self._length_error(a.dims, len(entries), x)
            # PyTorch moves the batch without a word
            moved = compare(entries[0], "not in", (0, -rank))
            refuse_where(moved, lambda: self._batch_error(a.dims))
            return entries
        dims = indices(entries)
        if len(dims) != rank:
            raise self._length_error(dims, len(dims), x)
        norm = tuple(d + rank if d < 0 else d for d in dims)
        if sorted(norm) != list(range(rank)):
            raise OpError(
                f"permute: dims {show(dims)} is not a permutation of 0…{rank - 1}, the "
                f"dimensions of the input {fmt_shape(x)} with the batch",
                hint="give every dimension exactly once; the batch is dimension 0",
                attr="dims",
            )
        if norm[0] != 0:
            raise self._batch_error(dims)
        return norm

    @staticmethod
    def _batch_error(dims: Any) -> OpError:
        return OpError(
            f"permute: dims {show(dims)} moves the batch dimension (dims[0] must be 0)",
            hint="moving the batch is not supported: netspec's shapes exclude the batch, "
            "which stays first",
            attr="dims",
        )

    @staticmethod
    def _length_error(dims: Any, count: Any, x: Shape) -> OpError:
        rank = len(x) + 1
        example = [0, *range(2, rank), 1] if rank > 2 else list(range(rank))
        return OpError(
            f"permute: dims {show(dims)} has length {count}, but the input {fmt_shape(x)} has "
            f"{rank} dimensions with the batch",
            hint=f"give every dimension once, the batch (0) first: e.g. {show(example)}",
            attr="dims",
        )

    def infer(self, a: Any, x: Shape) -> Shape:
        dims = self._dims(a, x)
        if known(*dims):
            return tuple(x[d - 1] for d in dims[1:])
        # an entry known only when generated code runs: the size it picks, as an index into
        # the input's sizes (d % rank counts a negative entry from the end, as PyTorch does)
        rank = len(x) + 1
        sizes = n.ListExpr(tuple(as_expr(size) for size in x))
        same = len({as_expr(size) for size in x}) == 1
        out = []
        for d in dims[1:]:
            if known(d):
                out.append(x[operator.index(concrete(d)) % rank - 1])
            elif same:
                out.append(x[0])
            else:
                counted = n.Binary("%", as_expr(d), n.Const(rank))
                out.append(Sym(n.Index(sizes, n.Binary("-", counted, n.Const(1)))))
        return tuple(out)

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall("Permute", (a.dims,), helpers=("Permute",))

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        return PyCall("torch.permute", (X, a.dims))

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        order = ", ".join(str(d) for d in self._dims(a, x)[1:])
        return [
            f"{fmt_shape(x)} → {fmt_shape(y)}: input dimensions {order} in that order (the "
            "batch, 0, stays first)"
        ]


class ChannelShuffleAttrs(Attrs):
    groups: Count
    """Number of channel groups to interleave; it must divide the channels."""


_CHANNEL_SHUFFLE = '''
def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave ``groups`` groups of channels (ShuffleNet): view, transpose, view."""
    batchsize, num_channels = x.shape[0], x.shape[1]
    x = x.reshape([batchsize, groups, num_channels // groups] + list(x.shape[2:]))
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view([batchsize, num_channels] + list(x.shape[3:]))
'''

_CHANNEL_SHUFFLE_MODULE = '''
class ChannelShuffle(nn.Module):
    """Interleave ``groups`` groups of channels (ShuffleNet): see channel_shuffle."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
'''


@register
class ChannelShuffle(Op):
    """Split the channels into ``groups`` groups and interleave them (ShuffleNet's channel
    shuffle: view as groups × channels per group, transpose, flatten back)."""

    aliases_input = True  # one group (or one channel per group) leaves the input as it is
    name = "channel_shuffle"
    keeps_ids = True
    Attrs = ChannelShuffleAttrs
    category = "shape"
    module_name = "ChannelShuffle"

    def infer(self, a: Any, x: Shape) -> Shape:
        if len(x) < 2:
            require_rank(self.name, x, (2, 3, 4), "channels × spatial dimensions")
        c = x[0]
        if known(c, a.groups) and c % a.groups:
            raise OpError(
                f"channel_shuffle: groups={a.groups} must divide the {c} input channels",
                hint=divisors_hint(concrete(c)),
                attr="groups",
            )
        return x

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall("ChannelShuffle", (a.groups,), helpers=("ChannelShuffle", "channel_shuffle"))

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        return PyCall("channel_shuffle", (X, a.groups), helpers=("channel_shuffle",))

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        c, g = x[0], a.groups
        return [
            f"{c} channels = {g} groups of {c // g}; output channel i·{g} + j is input "
            f"channel j·{c // g} + i"
        ]


HELPERS["Reshape"] = _RESHAPE
HELPERS["Permute"] = _PERMUTE
HELPERS["channel_shuffle"] = _CHANNEL_SHUFFLE
HELPERS["ChannelShuffle"] = _CHANNEL_SHUFFLE_MODULE


class NoAttrs(Attrs):
    pass


@register
class Identity(Op):
    """Pass the input through unchanged (a placeholder that keeps module indices)."""

    aliases_input = True
    name = "identity"
    keeps_ids = True
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
        sides = ("left, right", "left, right, top, bottom", "left, right, top, bottom, front, back")
        return spatial.ntuple(a.padding, 2 * self.rank, "padding", self.name, sides[self.rank - 1])

    def infer(self, a: Any, x: Shape) -> Shape:
        if len(x) < self.rank:
            require_rank(self.name, x, (self.rank + 1,), self.layout)
        sides = self._sides(a)
        out = list(x)
        for d in range(self.rank):  # sides come last dimension first
            before, after = sides[2 * d], sides[2 * d + 1]
            pos = len(x) - 1 - d
            size = x[pos] + before + after
            # PyTorch crops (negative sides) before it pads, so the crop alone must fit, and
            # the result must keep something: at least 1, as every size (PyTorch would go on
            # with 0); a crop of everything that padding then refills is PyTorch's too
            if known(size):
                crop = -min(concrete(before), 0) - min(concrete(after), 0)
                have = x[pos]
                if have - crop < 0 or size < 1:
                    what = "more than it has" if crop > have else "leaving nothing"
                    raise OpError(
                        f"{self.name}: padding ({before}, {after}) crops {crop} from the "
                        f"input's size {x[pos]} in {fmt_shape(x)}, {what}",
                        hint=f"a negative side crops; crop at most {have - 1} in all from this "
                        "size, so that at least 1 remains",
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
