"""Upsampling: ``upsample`` (``nn.Upsample``: interpolation to a size, or by a factor) and
``pixel_shuffle``/``pixel_unshuffle`` (channels to space and back)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from annotated_types import Gt
from pydantic import Strict

from netspec.expr import nodes as n
from netspec.expr.evaluate import UNKNOWN, Sym, concrete, known, whole
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
    items,
    numel,
    register,
    require_rank,
)
from netspec.ops.fields import Bool, Count, NonNegInt

Mode = Literal["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area"]
MODE_RANKS: dict[str, tuple[int, ...]] = {
    "nearest": (2, 3, 4),
    "nearest-exact": (2, 3, 4),
    "area": (2, 3, 4),
    "linear": (2,),
    "bilinear": (3,),
    "bicubic": (3,),
    "trilinear": (4,),
}
"""The sample ranks (batch excluded) PyTorch interpolates in each mode."""
_INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")
POINTS = {"linear": 2, "bilinear": 4, "bicubic": 16, "trilinear": 8}
"""Input values each output value weighs, for ``--macs all``."""

_Number = Annotated[Annotated[int, Strict()] | Annotated[float, Strict()], Gt(0)]
OutSize = Annotated[
    NonNegInt | tuple[NonNegInt, ...] | None,
    Expect("a non-negative integer, one per spatial dimension, or none"),
]
ScaleFactor = Annotated[
    _Number | tuple[_Number, ...] | None,
    Expect("a positive number, one per spatial dimension, or none"),
]
OptFlag = Annotated[Bool | None, Expect("true, false or none")]


class UpsampleAttrs(Attrs):
    size: OutSize = None
    """The output size: one integer for every spatial dimension, or one per dimension
    (``[in.height, in.width]`` in a block: back to the block's input size). Give ``size`` or
    ``scale_factor``."""
    scale_factor: ScaleFactor = None
    """A multiplier of each spatial size, one number or one per dimension: the output size is
    ⌊size · scale_factor⌋. Give ``size`` or ``scale_factor``."""
    mode: Mode = "nearest"
    """How output values are computed: ``'nearest'`` (or ``'nearest-exact'``), ``'linear'``
    (channels × length), ``'bilinear'`` or ``'bicubic'`` (channels × height × width),
    ``'trilinear'`` (channels × depth × height × width), or ``'area'`` (adaptive average
    pooling)."""
    align_corners: OptFlag = None
    """The interpolating modes only: align the centres of the corner pixels of input and
    output instead of their outer edges (none: false, PyTorch's default)."""
    recompute_scale_factor: OptFlag = None
    """With ``scale_factor``: interpolate with the scale the output size implies instead of
    the given one (the output size is the same)."""


def _given(value: Any) -> bool:
    """Whether an optional attribute is set (a symbolic value may turn out none at run time:
    it counts as set, as the generated code passes it on)."""
    return not (value is None or (isinstance(value, Sym) and value.known and value.value is None))


def _scaled(size: Any, factor: Any) -> Any:
    """PyTorch's output size ``⌊size · factor⌋`` (the product in double precision, truncated),
    an integer product where the factor is a whole number literal."""
    if isinstance(factor, Sym) and isinstance(n.strip(factor.expr), n.Const):
        factor = factor.value  # a literal in generated code
    if not isinstance(factor, Sym) and float(factor).is_integer():
        return size * int(factor)
    product = size * factor
    if not isinstance(product, Sym):
        return int(product)
    if product.known:
        return whole(product)  # int(…) of a traced size too, not its value
    return Sym(n.Call(n.Name("int"), (product.expr,)))


def _floats(value: Any) -> Any:
    """Scale factors as floats: ``2 → 2.0``, ``[2, 1.5] → (2.0, 1.5)``, ``s → float(s)`` (a
    symbolic value taken to be one number unless it is known to be a list)."""
    if value is None or isinstance(value, float):
        return value
    if isinstance(value, tuple | list):
        return tuple(_floats(v) for v in value)
    if not isinstance(value, Sym):
        return float(value)
    if isinstance(n.strip(value.expr), n.Const):  # a literal
        return _floats(value.value)
    if isinstance(value.expr, n.ListExpr) or isinstance(concrete(value), tuple):
        return tuple(_floats(v) for v in items(value))
    if known(value) and value.value is None:
        return value
    number = float(value.value) if known(value) else UNKNOWN
    return Sym(n.Call(n.Name("float"), (value.expr,)), number)


@register
class Upsample(Op):
    """Resize the spatial dimensions by interpolation, to a size or by a factor
    (``F.interpolate``): nearest, linear, bilinear, bicubic, trilinear or area."""

    name = "upsample"
    Attrs = UpsampleAttrs
    category = "upsampling"
    module_name = "nn.Upsample"

    def infer(self, a: Any, x: Shape) -> Shape:
        require_rank(self.name, x, (2, 3, 4), "channels and 1 to 3 spatial dimensions")
        mode = concrete(a.mode) if known(a.mode) else None
        if mode is not None and len(x) not in MODE_RANKS[mode]:
            want = " or ".join(spatial.LAYOUTS[r - 1] for r in MODE_RANKS[mode])
            raise OpError(
                f"upsample: mode '{mode}' needs a {want} input, found {fmt_shape(x)} ({len(x)}-d)",
                hint="'linear' is for channels × length, 'bilinear' and 'bicubic' for "
                "channels × height × width, 'trilinear' for channels × depth × height × width; "
                "'nearest' and 'area' for any",
                attr="mode",
            )
        has_size, has_scale = _given(a.size), _given(a.scale_factor)
        if has_size == has_scale:
            raise OpError(
                "upsample takes size or scale_factor, "
                + ("not both" if has_size else "and was given neither"),
                hint="e.g. upsample(scale_factor=2) or upsample(size=[56, 56])",
                attr="scale_factor" if has_size else None,
            )
        if mode in ("nearest", "nearest-exact", "area") and _given(a.align_corners):
            raise OpError(
                f"upsample: align_corners applies to the interpolating modes (linear, "
                f"bilinear, bicubic, trilinear), not to mode '{mode}'",
                attr="align_corners",
            )
        if has_size and known(a.recompute_scale_factor) and concrete(a.recompute_scale_factor):
            raise OpError(
                "upsample: recompute_scale_factor goes with scale_factor, not with size",
                attr="recompute_scale_factor",
            )
        rank = len(x) - 1
        axes = spatial.AXES[len(x) - 1]
        least = 0 if mode == "area" else 1  # area pooling to size 0 is an empty output
        if has_size:
            sizes = spatial.ntuple(a.size, rank, "size", self.name)
            for axis, o in zip(axes, sizes, strict=True):
                if known(o) and o < least:
                    raise OpError(
                        f"upsample: output {axis} would be {o}",
                        hint="only mode 'area' makes an empty output",
                        attr="size",
                    )
            return (x[0], *sizes)
        factors = spatial.ntuple(a.scale_factor, rank, "scale_factor", self.name)
        out: list[Any] = [x[0]]
        for axis, size, factor in zip(axes, x[1:], factors, strict=True):
            o = _scaled(size, factor)
            if known(o) and o < least:
                raise OpError(
                    f"upsample: output {axis} would be ⌊{size}·{factor}⌋ = {o}",
                    hint="a scale factor below 1 shrinks the input; only mode 'area' makes "
                    "an empty output",
                    attr="scale_factor",
                )
            out.append(o)
        return tuple(out)

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        if a.mode == "area":  # adaptive average pooling: every input value summed
            return max(whole(numel(x)), whole(numel(y)))
        return POINTS.get(a.mode, 0) * whole(numel(y))  # nearest: copies

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall("nn.Upsample", (), self.kwargs(a))

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        # F.interpolate wants float scale factors under TorchScript (nn.Upsample converts them)
        kwargs = tuple((k, _floats(v) if k == "scale_factor" else v) for k, v in self.kwargs(a))
        return PyCall("F.interpolate", (X,), kwargs)

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        axes = spatial.AXES[len(x) - 1]
        rank = len(x) - 1
        if _given(a.size):
            lines = [
                f"{axis}: {size} → {o} (size)"
                for axis, size, o in zip(axes, x[1:], y[1:], strict=True)
            ]
        else:
            lines = []
            factors = spatial.ntuple(a.scale_factor, rank, "scale_factor", self.name)
            for axis, size, factor, o in zip(axes, x[1:], factors, y[1:], strict=True):
                if float(factor).is_integer():
                    lines.append(f"{axis}: {size}·{int(factor)} = {o}")
                else:
                    lines.append(f"{axis}: ⌊{size}·{factor}⌋ = {o}")
        lines.append(
            f"MACs: 0 ({a.mode} interpolation multiplies no weights; FlopCounterMode counts none)"
        )
        return lines


class _PixelShuffle(Op):
    """``pixel_shuffle`` and ``pixel_unshuffle``: channels to space and back, by a factor r
    held in the attribute ``factor``."""

    category = "upsampling"
    factor: ClassVar[str]
    functional_name: ClassVar[str]
    upscale: ClassVar[bool]
    """Whether r² channels become an r × r block (shuffle), rather than the reverse."""

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall(self.module_name, (getattr(a, self.factor),))

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        return PyCall(self.functional_name, (X, getattr(a, self.factor)))

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        r = getattr(a, self.factor)
        channels, space = (" / ", "·") if self.upscale else ("·", " / ")
        return [
            f"C: {x[0]}{channels}{r}² = {y[0]}",
            f"H: {x[1]}{space}{r} = {y[1]}",
            f"W: {x[2]}{space}{r} = {y[2]}",
        ]


class PixelShuffleAttrs(Attrs):
    upscale_factor: Count
    """r: each r² channels become an r × r block of pixels (C·r² × H × W → C × H·r × W·r)."""


@register
class PixelShuffle(_PixelShuffle):
    """Rearrange channels into space (ESPCN's sub-pixel convolution): C·r² × H × W becomes
    C × H·r × W·r."""

    name = "pixel_shuffle"
    Attrs = PixelShuffleAttrs
    module_name = "nn.PixelShuffle"
    functional_name = "F.pixel_shuffle"
    factor = "upscale_factor"
    upscale = True

    def infer(self, a: Any, x: Shape) -> Shape:
        require_rank(self.name, x, (3,), "channels × height × width")
        c, r = x[0], a.upscale_factor
        square = r * r
        if known(c, square) and c % square:
            raise OpError(
                f"pixel_shuffle: upscale_factor={r} needs channels divisible by {r}² = "
                f"{square}, found {c}",
                hint=f"the layer before usually makes {square} times the channels wanted",
                attr="upscale_factor",
            )
        return (c // square, x[1] * r, x[2] * r)


class PixelUnshuffleAttrs(Attrs):
    downscale_factor: Count
    """r: each r × r block of pixels becomes r² channels (C × H × W → C·r² × H/r × W/r); it
    must divide the height and the width."""


@register
class PixelUnshuffle(_PixelShuffle):
    """Rearrange space into channels, the inverse of ``pixel_shuffle``: C × H × W becomes
    C·r² × H/r × W/r."""

    name = "pixel_unshuffle"
    Attrs = PixelUnshuffleAttrs
    module_name = "nn.PixelUnshuffle"
    functional_name = "F.pixel_unshuffle"
    factor = "downscale_factor"
    upscale = False

    def infer(self, a: Any, x: Shape) -> Shape:
        require_rank(self.name, x, (3,), "channels × height × width")
        r = a.downscale_factor
        for what, size in (("height", x[1]), ("width", x[2])):
            if known(size, r) and size % r:
                raise OpError(
                    f"pixel_unshuffle: downscale_factor={r} must divide the input {what}, "
                    f"found {size}",
                    hint="each r × r block of pixels becomes r² channels, so r must divide "
                    "both the height and the width",
                    attr="downscale_factor",
                )
        return (x[0] * r * r, x[1] // r, x[2] // r)
