"""Convolutions: ``conv1d``, ``conv2d`` and ``conv3d`` (``nn.Conv1d``/``2d``/``3d``), and the
transposed convolutions ``conv_transpose1d``/``2d``/``3d`` (``nn.ConvTranspose1d``/…)."""

from __future__ import annotations

import math
from typing import Any, Literal

from netspec.expr import nodes as n
from netspec.expr.evaluate import Sym, SymText, as_expr, concrete, known, whole
from netspec.ops import spatial
from netspec.ops.base import (
    HELPERS,
    Attrs,
    Op,
    OpError,
    PyCall,
    Shape,
    Tensor,
    divisors_hint,
    fmt_shape,
    numel,
    register,
    require_rank,
)
from netspec.ops.fields import Count, Declared, Flag, Padding, PoolPadding, Size

_PADDED = '''
class Padded{cls}(nn.{cls}):
    """nn.{cls} that pads its input itself (asymmetrically if need be)."""

    def __init__(
        self,
        *args: Any,
        pad: tuple[int, ...],
        pad_mode: str = "constant",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.pad = pad  # F.pad order: last dimension first, (before, after) each
        # F.pad's name for the padding_mode torch's convolutions call "zeros"
        self.pad_mode = "constant" if pad_mode == "zeros" else pad_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, self.pad, mode=self.pad_mode)
        return self._conv_forward(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", pad={{self.pad}}"
'''


class ConvAttrs(Attrs):
    out_channels: Count
    """Number of output channels (filters). Input channels are inferred."""
    kernel_size: Size
    """Kernel size: one integer, or one per spatial dimension."""
    stride: Size = 1
    """Step between windows."""
    padding: Padding = 0
    """Zeros added to each side: an integer, one per dimension, ``[before, after]`` pairs per
    dimension (asymmetric), ``'valid'`` (none) or ``'same'`` (output size = input size;
    stride 1 only)."""
    dilation: Size = 1
    """Spacing between kernel elements."""
    groups: Count = 1
    """Blocked connections: input and output channels must both divide by it
    (``groups = channels`` is a depthwise convolution)."""
    bias: Flag = True
    """Whether to learn an additive bias."""
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"
    """How padding is filled."""
    in_channels: Declared = None
    """Input channels, inferred; give it (by keyword) only to have it checked."""


class _Conv(spatial.Ranked, Op):
    Attrs = ConvAttrs
    category = "conv"

    def _geometry(self, a: Any, x: Shape) -> tuple[Any, ...]:
        r = self.rank
        k = spatial.ntuple(a.kernel_size, r, "kernel_size", self.name)
        s = spatial.ntuple(a.stride, r, "stride", self.name)
        d = spatial.ntuple(a.dilation, r, "dilation", self.name)
        if isinstance(a.padding, str) and a.padding == "same":
            if not all(known(v) and concrete(v) == 1 for v in s):
                raise OpError(
                    f"{self.name}: padding='same' needs stride 1, found stride={a.stride}",
                    hint="use explicit padding with a stride (e.g. padding=1 for a 3×3 kernel)",
                    attr="padding",
                )
            pairs = tuple(_same_pair(ki, di) for ki, di in zip(k, d, strict=True))
        elif isinstance(a.padding, SymText):  # 'same' or 'valid', given when constructed
            same = n.Compare(a.padding.expr, ("==",), (n.Const("same"),))
            pairs = tuple(
                (
                    Sym(n.IfExp(same, as_expr(b), n.Const(0))),
                    Sym(n.IfExp(same, as_expr(e), n.Const(0))),
                )
                for b, e in (_same_pair(ki, di) for ki, di in zip(k, d, strict=True))
            )
        else:
            pairs = spatial.padding_pairs(a.padding, r, self.name)
        return k, s, d, pairs

    def infer(self, a: Any, x: Shape) -> Shape:
        require_rank(self.name, x, (self.rank + 1,), self.layout)
        c = x[0]
        self.check_declared(a.in_channels, c, "input channels", x)
        k, s, d, pairs = self._geometry(a, x)
        _check_groups(self.name, a, c, hint_out=False)
        out: list[Any] = [a.out_channels]
        for axis, size, ki, si, di, (before, after) in zip(
            self.axes, x[1:], k, s, d, pairs, strict=True
        ):
            if a.padding_mode in ("reflect", "circular") and known(size, before, after):
                pad = max(concrete(before), concrete(after))
                # torch reflects about the edge (pad < size) and wraps around (pad <= size)
                least = pad + 1 if a.padding_mode == "reflect" else pad
                if size < least:
                    raise OpError(
                        f"{self.name}: {a.padding_mode} padding of {pad} needs an input {axis} "
                        f"of at least {least}, found {size}",
                        attr="padding",
                    )
            o = spatial.out_size(size, ki, si, before, after, di)
            if known(o) and o < 1:
                span = spatial.effective_kernel(ki, di)
                padded = size + before + after
                raise OpError(
                    f"{self.name}: the kernel spans {span} but the padded input {axis} is "
                    f"{padded}" + (f" ({size} + {before} + {after})" if padded != size else ""),
                    hint=f"the input is {fmt_shape(x)}; reduce the kernel or stride, or pad more",
                    attr="kernel_size",
                )
            out.append(o)
        return tuple(out)

    def tensors(self, a: Any, x: Shape) -> list[Tensor]:
        k = spatial.ntuple(a.kernel_size, self.rank, "kernel_size", self.name)
        weight = Tensor("weight", (a.out_channels, x[0] // a.groups, *k), True)
        return [weight, Tensor("bias", (a.out_channels,), True)] if a.bias else [weight]

    def macs(self, a: Any, x: Shape, y: Shape) -> int:
        k = spatial.ntuple(a.kernel_size, self.rank, "kernel_size", self.name)
        return whole(numel(y) * (x[0] // a.groups) * math.prod(k))

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        return whole(numel(y)) if a.bias else 0

    def module(self, a: Any, x: Shape) -> PyCall:
        k, s, d, pairs = self._geometry(a, x)
        skip = ["padding_mode"] if a.padding_mode == "zeros" else []
        cls = f"Conv{self.rank}d"
        if not isinstance(a.padding, str | SymText) and spatial.is_asymmetric(pairs):
            flat: list[Any] = []
            for before, after in reversed(pairs):  # F.pad wants the last dimension first
                flat += [before, after]
            mode = {"zeros": "constant"}.get(a.padding_mode, a.padding_mode)
            kwargs = self.kwargs(a, skip=["padding", "padding_mode"])
            extra = (("pad", tuple(flat)),) + ((("pad_mode", mode),) if mode != "constant" else ())
            return PyCall(
                f"Padded{cls}",
                (x[0], a.out_channels, a.kernel_size),
                kwargs + extra,
                helpers=(f"Padded{cls}",),
            )
        kwargs = self.kwargs(a, skip)
        if not isinstance(a.padding, str) and any(isinstance(p, tuple) for p in _items(a.padding)):
            # symmetric [before, after] pairs: PyTorch takes one integer per dimension
            kwargs = tuple(
                (k, tuple(b for b, _ in pairs) if k == "padding" else v) for k, v in kwargs
            )
        return PyCall(f"nn.{cls}", (x[0], a.out_channels, a.kernel_size), kwargs)

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        k, s, d, pairs = self._geometry(a, x)
        lines = [
            spatial.explain_size(axis, size, ki, si, b, e, di, o)
            for axis, size, ki, si, di, (b, e), o in zip(
                self.axes, x[1:], k, s, d, pairs, y[1:], strict=True
            )
        ]
        cin = x[0] // a.groups
        kk = "·".join(str(v) for v in k)
        group = f"{x[0]}/{a.groups}" if a.groups != 1 else f"{x[0]}"
        bias = " + 1" if a.bias else ""
        params = (cin * math.prod(k) + (1 if a.bias else 0)) * a.out_channels
        lines.append(f"params: ({group}·{kk}{bias})·{a.out_channels} = {params:,}")
        spatial_out = "·".join(str(v) for v in y[1:])
        lines.append(f"MACs: {spatial_out}·{a.out_channels}·{cin}·{kk} = {self.macs(a, x, y):,}")
        return lines


def _check_groups(op: str, a: Any, c: Any, *, hint_out: bool) -> None:
    """That ``groups`` divides the ``c`` input channels and ``out_channels``; ``hint_out``:
    list out_channels' divisors in the second error too."""
    # (`c % groups` and not the values' remainder: a traced count is decided on, not read)
    if known(c, a.groups) and c % a.groups:
        raise OpError(
            f"{op}: groups={a.groups} must divide the {c} input channels",
            hint=divisors_hint(concrete(c)),
            attr="groups",
        )
    if known(a.out_channels, a.groups) and a.out_channels % a.groups:
        raise OpError(
            f"{op}: groups={a.groups} must divide out_channels={a.out_channels}",
            hint=divisors_hint(concrete(a.out_channels)) if hint_out else None,
            attr="groups",
        )


def _items(padding: Any) -> tuple[Any, ...]:
    return tuple(padding) if isinstance(padding, tuple) else (padding,)


def _same_pair(kernel: Any, dilation: Any) -> tuple[Any, Any]:
    total = dilation * (kernel - 1)
    return (total // 2, total - total // 2)


@register
class Conv1d(_Conv):
    """1-D convolution over a ``channels × length`` input."""

    name = "conv1d"
    rank = 1
    module_name = "nn.Conv1d"


@register
class Conv2d(_Conv):
    """2-D convolution over a ``channels × height × width`` input."""

    name = "conv2d"
    rank = 2
    module_name = "nn.Conv2d"


@register
class Conv3d(_Conv):
    """3-D convolution over a ``channels × depth × height × width`` input."""

    name = "conv3d"
    rank = 3
    module_name = "nn.Conv3d"


for _rank in (1, 2, 3):
    HELPERS[f"PaddedConv{_rank}d"] = _PADDED.format(cls=f"Conv{_rank}d")


class ConvTransposeAttrs(Attrs):
    out_channels: Count
    """Number of output channels. Input channels are inferred."""
    kernel_size: Size
    """Kernel size: one integer, or one per spatial dimension."""
    stride: Size = 1
    """Step between the windows each input element spreads into (the upsampling factor)."""
    padding: PoolPadding = 0
    """Removed from both sides of each output dimension: ``dilation·(kernel − 1) − padding``
    zeros pad the input, so ``padding`` undoes a convolution's padding."""
    output_padding: PoolPadding = 0
    """Added to one side of each output dimension, to choose among the input sizes a strided
    convolution maps to the same size; smaller than the stride or the dilation."""
    groups: Count = 1
    """Blocked connections: input and output channels must both divide by it."""
    bias: Flag = True
    """Whether to learn an additive bias."""
    dilation: Size = 1
    """Spacing between kernel elements."""
    in_channels: Declared = None
    """Input channels, inferred; give it (by keyword) only to have it checked."""


class _ConvTranspose(spatial.Ranked, Op):
    """A transposed convolution (the gradient of a convolution with respect to its input).

    PyTorch's size rule, per spatial dimension:
    ``out = (in − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1``.
    """

    Attrs = ConvTransposeAttrs
    category = "conv"

    def _geometry(self, a: Any) -> tuple[tuple[Any, ...], ...]:
        r, name = self.rank, self.name
        return (
            spatial.ntuple(a.kernel_size, r, "kernel_size", name),
            spatial.ntuple(a.stride, r, "stride", name),
            spatial.ntuple(a.padding, r, "padding", name),
            spatial.ntuple(a.output_padding, r, "output_padding", name),
            spatial.ntuple(a.dilation, r, "dilation", name),
        )

    def infer(self, a: Any, x: Shape) -> Shape:
        require_rank(self.name, x, (self.rank + 1,), self.layout)
        c = x[0]
        self.check_declared(a.in_channels, c, "input channels", x)
        _check_groups(self.name, a, c, hint_out=True)
        out: list[Any] = [a.out_channels]
        geometry = zip(self.axes, x[1:], *self._geometry(a), strict=True)
        for axis, size, ki, si, pi, oi, di in geometry:
            where = f" in {axis}" if self.rank > 1 else ""
            if known(oi, si, di) and oi >= max(si, di):
                raise OpError(
                    f"{self.name}: output_padding {oi}{where} must be smaller than the stride "
                    f"({si}) or the dilation ({di})",
                    hint="output_padding adds at most stride − 1 to pick one of the output "
                    "sizes a strided convolution maps to the same input size",
                    attr="output_padding",
                )
            full = (size - 1) * si + di * (ki - 1) + oi + 1
            o = full - 2 * pi
            if known(o) and o < 1:  # PyTorch refuses an empty output (of one sample)
                raise OpError(
                    f"{self.name}: output {axis} would be {o}: padding {pi} removes 2·{pi} = "
                    f"{2 * concrete(pi)} of the {full} the kernel spreads the input {axis} "
                    f"{size} over",
                    hint=f"padding here may be at most {(concrete(full) - 1) // 2}",
                    attr="padding",
                )
            out.append(o)
        return tuple(out)

    def tensors(self, a: Any, x: Shape) -> list[Tensor]:
        k = spatial.ntuple(a.kernel_size, self.rank, "kernel_size", self.name)
        weight = Tensor("weight", (x[0], a.out_channels // a.groups, *k), True)
        return [weight, Tensor("bias", (a.out_channels,), True)] if a.bias else [weight]

    def macs(self, a: Any, x: Shape, y: Shape) -> int:
        # FlopCounterMode's rule for a transposed convolution: every input element times
        # its group's filters, (out_channels / groups) × kernel each.
        k = spatial.ntuple(a.kernel_size, self.rank, "kernel_size", self.name)
        return whole(numel(x) * (a.out_channels // a.groups) * math.prod(k))

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        return whole(numel(y)) if a.bias else 0

    def module(self, a: Any, x: Shape) -> PyCall:
        cls = f"nn.ConvTranspose{self.rank}d"
        return PyCall(cls, (x[0], a.out_channels, a.kernel_size), self.kwargs(a))

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        lines = [
            f"{axis}: ({size} − 1)·{si} − 2·{pi} + {di}·({ki} − 1) + {oi} + 1 = {o}"
            for axis, size, ki, si, pi, oi, di, o in zip(
                self.axes, x[1:], *self._geometry(a), y[1:], strict=True
            )
        ]
        k = spatial.ntuple(a.kernel_size, self.rank, "kernel_size", self.name)
        kk = "·".join(str(v) for v in k)
        per = a.out_channels // a.groups
        group = f"({a.out_channels}/{a.groups})" if a.groups != 1 else f"{a.out_channels}"
        bias = f" + {a.out_channels}" if a.bias else ""
        params = sum(t.numel for t in self.tensors(a, x))
        lines.append(f"params: {x[0]}·{group}·{kk}{bias} = {params:,}")
        spatial_in = "·".join(str(v) for v in x[1:])
        lines.append(
            f"MACs: {spatial_in}·{x[0]}·{per}·{kk} = {self.macs(a, x, y):,} (each input "
            f"element times {per}·{kk} weights)"
        )
        return lines


@register
class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution over a ``channels × length`` input (learned upsampling)."""

    name = "conv_transpose1d"
    rank = 1
    module_name = "nn.ConvTranspose1d"


@register
class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution over a ``channels × height × width`` input (learned
    upsampling: FCN's and U-Net's decoders)."""

    name = "conv_transpose2d"
    rank = 2
    module_name = "nn.ConvTranspose2d"


@register
class ConvTranspose3d(_ConvTranspose):
    """3-D transposed convolution over a ``channels × depth × height × width`` input."""

    name = "conv_transpose3d"
    rank = 3
    module_name = "nn.ConvTranspose3d"
