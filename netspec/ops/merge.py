"""Merges: how the paths of a block join (``merge: add | mul | concat``), each declared once.

A merge is an operator over several tensors. Its declaration carries everything about it — the
shape rule (written with ordinary arithmetic, guarded by :func:`known`, so the static analysis
runs it on integers and the code generator on symbolic sizes), the Python expression it
compiles to, and the element-wise operations it costs (for ``--macs all``). The expander and the
Python back end both apply merges through :data:`MERGES`; neither knows what a merge does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netspec.expr import nodes as n
from netspec.expr.evaluate import Sym, as_expr, concrete, equal, known, show, whole
from netspec.ops.base import HELPERS, Attrs, Ids, Op, OpError, Shape, fmt_shape, is_ids, numel
from netspec.ops.upsample import MODE_RANKS, POINTS

Options = Mapping[str, Any]
"""A merge's options by name (``resize``'s ``mode``), as given or defaulted."""


@dataclass(frozen=True, slots=True)
class Merge:
    name: str
    doc: str
    rule: Callable[[Sequence[Shape], Options], Shape]
    """The merged shape; raises :class:`OpError` where the inputs cannot be merged."""
    python: Callable[[Sequence[str], Options], str]
    """The Python expression merging the tensors held by these variables (options as Python
    literals)."""
    hint: str | None
    """What to do when the shapes do not merge."""
    counts_ops: bool = True
    """Whether each output element costs one operation per extra input (``--macs all``)."""
    arity: int | None = None
    """How many tensors it takes (``None``: two or more)."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Its options and their defaults (a merge in `from:` may be called with them)."""
    helpers: tuple[str, ...] = ()
    """Definitions of :data:`~netspec.ops.base.HELPERS` its code needs."""
    points: Callable[[Options], int] | None = None
    """Operations per output element (``--macs all``), where not one per extra input."""
    view: bool = False
    """Whether its result is a view of its first tensor (``crop``'s ``narrow``): a layer
    writing into it in place writes into that tensor."""
    copies_one: bool = False
    """Whether a merge of one tensor copies it (``torch.cat([x], 1)``); otherwise its code is
    the tensor itself (``add``, ``mul`` of one)."""
    keeps_inputs: bool = True
    """Whether autograd may keep its inputs for backward (a product's gradient reads the
    other factor; a sum and a concatenation keep none)."""

    def passes_on(self, inputs: int) -> bool:
        """Whether its result, from ``inputs`` tensors, is its first tensor or a view of it."""
        return self.view or (inputs == 1 and not self.copies_one)

    def infer(self, shapes: Sequence[Shape], options: Options | None = None) -> Shape:
        """The merged shape of ``shapes``; :class:`OpError` where they do not merge.

        It is integer ids where PyTorch's result is: a crop of ids, and a sum, product or
        concatenation of ids only (type promotion makes a mix floating point). Interpolating
        ids (``resize``) PyTorch refuses, and so does this."""
        y = tuple(self.rule(shapes, {**self.options, **(options or {})}))  # (a rule may
        # give back one of its inputs, ids or not)
        if self.name == "crop":
            return Ids(y) if is_ids(shapes[0]) else y
        if self.name == "resize" and is_ids(shapes[0]):
            raise OpError(
                "resize interpolates floating-point tensors, found integer ids",
                hint="an embedding turns ids into vectors",
            )
        return Ids(y) if all(is_ids(shape) for shape in shapes) else y

    def code(self, names: Sequence[str], options: Options | None = None) -> str:
        """The Python expression merging the tensors of ``names``."""
        return self.python(names, {**self.options, **(options or {})})

    def ops(self, output: Shape, inputs: int, options: Options | None = None) -> int:
        """Element-wise operations of this merge (``--macs all``)."""
        if self.points is not None:
            return whole(numel(output)) * self.points({**self.options, **(options or {})})
        return whole(numel(output)) * (inputs - 1) if self.counts_ops else 0

    def describe(self, names: Sequence[str], options: Options | None = None) -> str:
        """The merge as a spec writes it, with its inputs: ``concat(up4, enc4)``."""
        given = [f"{k}={show(v)}" for k, v in (options or {}).items() if v != self.options[k]]
        return f"{self.name}({', '.join([*names, *given])})"


def _same(a: Any, b: Any) -> bool:
    """Whether two sizes may be equal (unknown symbolic sizes are taken at their word)."""
    return not known(a, b) or equal(a, b)


def _one(size: Any) -> bool:
    return known(size) and equal(size, 1)


def _broadcasting(verb: str) -> Callable[[Sequence[Shape], Options], Shape]:
    """The shape rule of an element-wise merge: paths ``verb`` together broadcast."""

    def rule(shapes: Sequence[Shape], options: Options) -> Shape:
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
            for part in _max_parts(_either_same(d)):
                if all(as_expr(part) != as_expr(e) for e in distinct):
                    distinct.append(part)
        if len(distinct) == 1:
            out.append(distinct[0])
        else:
            out.append(Sym(n.Call(n.Name("max"), tuple(as_expr(d) for d in distinct), ())))
    return tuple(out)


def _max_parts(size: Any) -> list[Any]:
    """The sizes a ``max(…)`` of sizes takes the largest of (a merge of a merge: the largest of
    ``max(a, b)`` and ``b`` is ``max(a, b)``, which a recursive block's closed form needs to
    see); ``[size]`` for any other size."""
    expr = n.strip(as_expr(size))
    if isinstance(expr, n.Call) and expr.func == n.Name("max") and not expr.kwargs:
        return [Sym(a) for a in expr.args]
    return [size]


def _either_same(size: Any) -> Any:
    """``a if (… or b != a) else b`` is ``a``: where the test is false, ``b`` equals ``a`` (a
    shortcut that projects unless the channels already match gives ``out_channels`` either
    way, so its sum with the main path is not ``max(…)`` of the two)."""
    expr = n.strip(as_expr(size))
    if not isinstance(expr, n.IfExp):
        return size
    test = n.strip(expr.test)
    tests = test.values if isinstance(test, n.BoolOp) and test.op == "or" else (test,)
    sides = {n.strip(expr.body), n.strip(expr.orelse)}
    for t in map(n.strip, tests):
        if (
            isinstance(t, n.Compare)
            and t.ops == ("!=",)
            and {n.strip(t.left), n.strip(t.comparators[0])} == sides
        ):
            return Sym(n.strip(expr.body))
    return size


def _concat(shapes: Sequence[Shape], options: Options) -> Shape:
    """Concatenation along channels: every other dimension must agree."""
    first = shapes[0]
    for s in shapes[1:]:
        if len(s) != len(first):
            raise OpError(
                "paths concatenated along channels must have one rank (here "
                f"{len(first)}-d and {len(s)}-d)",
                hint="one path flattens or pools away dimensions the other keeps",
            )
        if any(not _same(a, b) for a, b in zip(s[1:], first[1:], strict=True)):
            raise OpError("paths concatenated along channels must agree on every other dimension")
    channels = first[0]
    for s in shapes[1:]:
        channels = channels + s[0]
    return (channels, *first[1:])


def _spatial_like(verb: str) -> Callable[[Sequence[Shape], Options], tuple[Shape, Shape]]:
    """Check that two tensors have the same rank and spatial dimensions to match."""

    def check(shapes: Sequence[Shape], options: Options) -> tuple[Shape, Shape]:
        a, b = shapes
        if len(a) != len(b) or len(a) < 2:
            raise OpError(
                f"{verb} a tensor to another's spatial size needs two tensors of one rank with "
                f"channels and spatial dimensions, found {fmt_shape(a)} and {fmt_shape(b)}"
            )
        return a, b

    return check


def _crop(shapes: Sequence[Shape], options: Options) -> Shape:
    """The centre of the first tensor, cut to the spatial size of the second."""
    a, b = _spatial_like("cropping")(shapes, options)
    for big, small in zip(a[1:], b[1:], strict=True):
        if known(big, small) and small > big:
            raise OpError(
                f"cropping {fmt_shape(a)} to the spatial size of {fmt_shape(b)}: the crop is "
                "larger than the tensor",
                hint="crop the larger tensor to the smaller (`from: [larger, smaller]`)",
            )
    return (a[0], *b[1:])


def _resize(shapes: Sequence[Shape], options: Options) -> Shape:
    """The first tensor interpolated to the spatial size of the second (``F.interpolate``)."""
    a, b = _spatial_like("resizing")(shapes, options)
    mode, align = options["mode"], options["align_corners"]
    if mode not in MODE_RANKS:
        raise OpError(f"mode expects one of {', '.join(map(repr, MODE_RANKS))}, found {show(mode)}")
    if len(a) not in MODE_RANKS[mode]:
        raise OpError(
            f"mode {mode!r} interpolates "
            + " or ".join(f"{r}-d" for r in MODE_RANKS[mode])
            + f" tensors, found {fmt_shape(a)} ({len(a)}-d)"
        )
    if align is not None and not isinstance(align, bool):
        raise OpError(f"align_corners expects true, false or none, found {show(align)}")
    if align is not None and mode not in POINTS:
        raise OpError(
            f"align_corners applies to the interpolating modes only, not {mode!r}",
            hint="leave align_corners out",
        )
    return (a[0], *b[1:])


def _resize_code(names: Sequence[str], options: Options) -> str:
    a, b = names
    align = options["align_corners"]
    extra = f", align_corners={align!r}" if align is not None else ""
    return f'F.interpolate({a}, size={b}.shape[2:], mode="{options["mode"]}"{extra})'


_CENTER_CROP = '''
def center_crop(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The centre of ``x``, cut to the spatial size of ``like`` (channels kept)."""
    for dim in range(2, x.dim()):
        start = (x.shape[dim] - like.shape[dim]) // 2
        x = x.narrow(dim, start, like.shape[dim])
    return x
'''
HELPERS["center_crop"] = _CENTER_CROP


MERGES: dict[str, Merge] = {
    merge.name: merge
    for merge in (
        Merge(
            "add",
            "element-wise sum of the paths (broadcast as PyTorch does)",
            _broadcasting("added"),
            lambda names, _: " + ".join(names),
            None,
            keeps_inputs=False,
        ),
        Merge(
            "mul",
            "element-wise product of the paths (broadcast as PyTorch does): a gate, such as "
            "squeeze-and-excitation's `scale * x`",
            _broadcasting("multiplied"),
            lambda names, _: " * ".join(names),
            "make the gate's shape broadcast against the input: its channels equal the "
            "input's, its other sizes equal or 1 (adaptive_avgpool2d(1) before it)",
        ),
        Merge(
            "concat",
            "concatenation of the paths along channels, in order",
            _concat,
            lambda names, _: f"torch.cat([{', '.join(names)}], 1)",
            "give every path the same stride and padding",
            counts_ops=False,
            copies_one=True,
            keeps_inputs=False,
        ),
        Merge(
            "crop",
            "the centre of the first tensor, cut to the spatial size of the second (U-Net's "
            "copy and crop); a start of ⌊(size − target) / 2⌋ in each spatial dimension",
            _crop,
            lambda names, _: f"center_crop({names[0]}, {names[1]})",
            None,
            counts_ops=False,
            arity=2,
            helpers=("center_crop",),
            view=True,
        ),
        Merge(
            "resize",
            "the first tensor interpolated to the spatial size of the second (`F.interpolate`; "
            "a segmentation head's output back to the size of the input)",
            _resize,
            _resize_code,
            None,
            arity=2,
            options={"mode": "nearest", "align_corners": None},
            points=lambda o: POINTS.get(o["mode"], 0),
        ),
    )
}
"""Every merge, by the name a spec gives it (``merge: add``)."""


def split_channels(shape: Shape, parts: int) -> tuple[Shape, ...]:
    """The shapes of ``x.chunk(parts, 1)`` where the channels divide into equal parts (the
    split of ``split:``, ShuffleNetV2's channel split); parts of integer ids are ids."""
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
    kind = Ids if is_ids(shape) else tuple
    return tuple(kind((part, *shape[1:])) for _ in range(parts))


def split_code(source: str, parts: Sequence[str]) -> str:
    """The Python statement splitting ``source`` into the variables ``parts`` (one part: the
    tensor itself, which ``chunk(1, 1)`` would give as a view, one a later in-place layer
    could not write into)."""
    if len(parts) == 1:
        return f"{parts[0]} = {source}"
    return f"{', '.join(parts)} = {source}.chunk({len(parts)}, 1)"


@dataclass(frozen=True, slots=True)
class JoinAttrs:
    """What a merge entry (``from: [a, b]``) joins: the tensors' names and shapes, in order,
    and the merge's options."""

    names: tuple[str, ...]
    shapes: tuple[Shape, ...]
    options: tuple[tuple[str, Any], ...] = ()


class Join(Op):
    """A merge written as a layer of a class (``cat4: concat`` with ``from: [up4, enc4]``): a
    call in ``forward`` over earlier tensors, with no module and no state. Not an operator a
    spec calls by name (it is not in the registry): the expander makes one per merge entry."""

    Attrs = Attrs  # unused: a merge entry's attributes are a JoinAttrs
    category = "merge"
    module_form = False

    def __init__(self, merge: Merge) -> None:
        self.merge = merge
        self.name = merge.name  # type: ignore[misc]
        self.aliases_input = merge.view  # type: ignore[misc]  # (its first input: crop's)

    def keeps_input(self, a: Any) -> bool:
        return self.merge.keeps_inputs

    def infer(self, a: Any, x: Shape) -> Shape:
        return self.merge.infer(a.shapes, dict(a.options))

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        return self.merge.ops(y, len(a.shapes), dict(a.options))

    def describe(self, a: Any) -> str:
        return self.merge.describe(a.names, dict(a.options))

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        inputs = ", ".join(
            f"{name} {fmt_shape(s)}" for name, s in zip(a.names, a.shapes, strict=True)
        )
        return [f"{self.merge.name} of {inputs} → {fmt_shape(y)}"]


JOINS: dict[str, Join] = {name: Join(merge) for name, merge in MERGES.items()}
"""The operator of a merge entry, by merge."""
