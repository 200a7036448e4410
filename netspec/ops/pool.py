"""Pooling: max and average pooling (1-d, 2-d and 3-d) and their adaptive forms."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from netspec.expr.evaluate import concrete, known, whole
from netspec.ops import spatial
from netspec.ops.base import (
    Attrs,
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
from netspec.ops.fields import AdaptiveSize, Divisor, Flag, OptSize, PoolPadding, Size


class MaxPoolAttrs(Attrs):
    kernel_size: Size
    """Window size: one integer, or one per spatial dimension."""
    stride: OptSize = None
    """Step between windows (none: the kernel size)."""
    padding: PoolPadding = 0
    """Implicit −∞ padding on both sides; at most half the kernel."""
    dilation: Size = 1
    """Spacing between window elements."""
    ceil_mode: Flag = False
    """Round the output size up instead of down (a last, partial window is kept only if it
    starts inside the input or the left padding)."""


class AvgPool1dAttrs(Attrs):
    kernel_size: Size
    """Window size."""
    stride: OptSize = None
    """Step between windows (none: the kernel size)."""
    padding: PoolPadding = 0
    """Implicit zero padding on both sides; at most half the kernel."""
    ceil_mode: Flag = False
    """Round the output size up instead of down."""
    count_include_pad: Flag = True
    """Whether the padding zeros count in the average's divisor."""


class AvgPool2dAttrs(AvgPool1dAttrs):
    divisor_override: Divisor = None
    """If set, divide every window's sum by this instead of its size."""


class _Pool(spatial.Ranked, Op):
    functional_name: ClassVar[str]
    category = "pool"
    kernel_within_input: ClassVar[bool] = False
    """Whether PyTorch also wants the input, unpadded, at least as large as the kernel (3-d
    average pooling checks it, whatever the padding and rounding)."""

    def _geometry(self, a: Any) -> tuple[Any, ...]:
        r = self.rank
        k = spatial.ntuple(a.kernel_size, r, "kernel_size", self.name)
        stride = a.stride if a.stride is not None else a.kernel_size
        s = spatial.ntuple(stride, r, "stride", self.name)
        p = spatial.ntuple(a.padding, r, "padding", self.name)
        d = spatial.ntuple(getattr(a, "dilation", 1), r, "dilation", self.name)
        return k, s, p, d

    def infer(self, a: Any, x: Shape) -> Shape:
        require_rank(self.name, x, (self.rank + 1,), self.layout)
        k, s, p, d = self._geometry(a)
        for ki, pi in zip(k, p, strict=True):
            if known(ki, pi) and pi > ki // 2:
                raise OpError(
                    f"{self.name}: padding {pi} is more than half the kernel size {ki}",
                    hint=f"PyTorch allows padding up to {concrete(ki) // 2} for this kernel",
                    attr="padding",
                )
        out: list[Any] = [x[0]]
        for axis, size, ki, si, pi, di in zip(self.axes, x[1:], k, s, p, d, strict=True):
            if self.kernel_within_input and known(size, ki) and size < ki:
                raise OpError(
                    f"{self.name}: the kernel ({ki}) is larger than the input {axis} {size}",
                    hint=f"the input is {fmt_shape(x)}; PyTorch's 3-d average pooling needs "
                    "each input size at least the kernel's, padding or not",
                    attr="kernel_size",
                )
            o = spatial.out_size(size, ki, si, pi, pi, di, a.ceil_mode)
            if known(o) and o < 1:
                raise OpError(
                    f"{self.name}: output {axis} would be {o}: the window "
                    f"({spatial.effective_kernel(ki, di)}) does not fit the input {axis} {size}"
                    + (f" + 2·{pi} padding" if pi else ""),
                    hint=f"the input is {fmt_shape(x)}; pool less, or earlier",
                    attr="kernel_size",
                )
            out.append(o)
        return tuple(out)

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        k, _, _, _ = self._geometry(a)
        return whole(numel(y)) * whole(math.prod(k))

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall(self.module_name, (a.kernel_size,), self.kwargs(a))

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        return PyCall(self.functional_name, (X, a.kernel_size), self.kwargs(a))

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        k, s, p, d = self._geometry(a)
        return [
            spatial.explain_size(axis, size, ki, si, pi, pi, di, o, a.ceil_mode)
            for axis, size, ki, si, pi, di, o in zip(
                self.axes, x[1:], k, s, p, d, y[1:], strict=True
            )
        ]


@register
class MaxPool1d(_Pool):
    """Maximum over sliding windows of a ``channels × length`` input."""

    name = "maxpool1d"
    Attrs = MaxPoolAttrs
    rank = 1
    module_name = "nn.MaxPool1d"
    functional_name = "F.max_pool1d"


@register
class MaxPool2d(_Pool):
    """Maximum over sliding windows of a ``channels × height × width`` input."""

    name = "maxpool2d"
    Attrs = MaxPoolAttrs
    rank = 2
    module_name = "nn.MaxPool2d"
    functional_name = "F.max_pool2d"


@register
class MaxPool3d(_Pool):
    """Maximum over sliding windows of a ``channels × depth × height × width`` input."""

    name = "maxpool3d"
    Attrs = MaxPoolAttrs
    rank = 3
    module_name = "nn.MaxPool3d"
    functional_name = "F.max_pool3d"


@register
class AvgPool1d(_Pool):
    """Average over sliding windows of a ``channels × length`` input."""

    name = "avgpool1d"
    Attrs = AvgPool1dAttrs
    rank = 1
    module_name = "nn.AvgPool1d"
    functional_name = "F.avg_pool1d"


@register
class AvgPool2d(_Pool):
    """Average over sliding windows of a ``channels × height × width`` input."""

    name = "avgpool2d"
    Attrs = AvgPool2dAttrs
    rank = 2
    module_name = "nn.AvgPool2d"
    functional_name = "F.avg_pool2d"


@register
class AvgPool3d(_Pool):
    """Average over sliding windows of a ``channels × depth × height × width`` input."""

    name = "avgpool3d"
    Attrs = AvgPool2dAttrs
    kernel_within_input = True
    rank = 3
    module_name = "nn.AvgPool3d"
    functional_name = "F.avg_pool3d"


class AdaptiveAttrs(Attrs):
    output_size: AdaptiveSize
    """Output size: one integer, or one per spatial dimension (none keeps that input size)."""


class _Adaptive(_Pool):
    Attrs = AdaptiveAttrs

    def infer(self, a: Any, x: Shape) -> Shape:
        require_rank(self.name, x, (self.rank + 1,), self.layout)
        sizes = spatial.ntuple(a.output_size, self.rank, "output_size", self.name)
        if self.rank == 1 and None in sizes:
            raise OpError(
                f"{self.name}: output_size must be an integer (none is only for 2-d and "
                "3-d pooling)",
                attr="output_size",
            )
        return (x[0], *(size if o is None else o for o, size in zip(sizes, x[1:], strict=True)))

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        return whole(numel(x))

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall(self.module_name, (a.output_size,))

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        return PyCall(self.functional_name, (X, a.output_size))

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        return [f"output {fmt_shape(y[1:])} whatever the input size (windows adapt)"]


@register
class AdaptiveAvgPool1d(_Adaptive):
    """Average pooling to a fixed output length."""

    name = "adaptive_avgpool1d"
    rank = 1
    module_name = "nn.AdaptiveAvgPool1d"
    functional_name = "F.adaptive_avg_pool1d"


@register
class AdaptiveAvgPool2d(_Adaptive):
    """Average pooling to a fixed output size (``adaptive_avgpool2d(1)``: global pooling)."""

    name = "adaptive_avgpool2d"
    rank = 2
    module_name = "nn.AdaptiveAvgPool2d"
    functional_name = "F.adaptive_avg_pool2d"


@register
class AdaptiveMaxPool1d(_Adaptive):
    """Max pooling to a fixed output length."""

    name = "adaptive_maxpool1d"
    rank = 1
    module_name = "nn.AdaptiveMaxPool1d"
    functional_name = "F.adaptive_max_pool1d"


@register
class AdaptiveMaxPool2d(_Adaptive):
    """Max pooling to a fixed output size."""

    name = "adaptive_maxpool2d"
    rank = 2
    module_name = "nn.AdaptiveMaxPool2d"
    functional_name = "F.adaptive_max_pool2d"


@register
class AdaptiveAvgPool3d(_Adaptive):
    """Average pooling of a ``channels × depth × height × width`` input to a fixed size."""

    name = "adaptive_avgpool3d"
    rank = 3
    module_name = "nn.AdaptiveAvgPool3d"
    functional_name = "F.adaptive_avg_pool3d"


@register
class AdaptiveMaxPool3d(_Adaptive):
    """Max pooling of a ``channels × depth × height × width`` input to a fixed size."""

    name = "adaptive_maxpool3d"
    rank = 3
    module_name = "nn.AdaptiveMaxPool3d"
    functional_name = "F.adaptive_max_pool3d"
