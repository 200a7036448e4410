"""Normalisation: ``batchnorm1d``/``2d``/``3d``, ``instance_norm1d``/``2d``/``3d``,
``group_norm``, ``layer_norm``, ``layer_norm2d`` and ``local_response_norm``."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from netspec.expr import nodes as n
from netspec.expr.evaluate import Sym, concrete, known, show, whole
from netspec.ops.base import (
    HELPERS,
    Attrs,
    Expect,
    Op,
    OpError,
    PyCall,
    Shape,
    Tensor,
    X,
    divisors_hint,
    fmt_shape,
    items,
    numel,
    register,
    require_rank,
)
from netspec.ops.fields import Count, Declared, Eps, Flag, Float, PosInt


class BatchNormAttrs(Attrs):
    eps: Eps = 1e-5
    """Added to the variance for numerical stability."""
    momentum: Float | None = 0.1
    """Weight of the current batch in the running statistics (none: cumulative average)."""
    affine: Flag = True
    """Whether to learn a per-channel scale (weight) and shift (bias)."""
    track_running_stats: Flag = True
    """Whether to keep running mean and variance buffers for evaluation."""
    num_features: Declared = None
    """Channels, inferred; give it (by keyword) only to have it checked."""


class _BatchNorm(Op):
    ranks: ClassVar[tuple[int, ...]]
    layout: ClassVar[str]
    Attrs: ClassVar[type[Attrs]] = BatchNormAttrs
    category = "norm"

    def infer(self, a: Any, x: Shape) -> Shape:
        require_rank(self.name, x, self.ranks, self.layout)
        self.check_declared(a.num_features, x[0], "channels", x)
        return x

    def tensors(self, a: Any, x: Shape) -> list[Tensor]:
        c = x[0]
        out = []
        if a.affine:
            out += [Tensor("weight", (c,), True), Tensor("bias", (c,), True)]
        if a.track_running_stats:
            out += [
                Tensor("running_mean", (c,), False),
                Tensor("running_var", (c,), False),
                Tensor("num_batches_tracked", (), False),
            ]
        return out

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        return 2 * whole(numel(x))  # a scale and a shift per element, once folded for inference

    def module(self, a: Any, x: Shape) -> PyCall:
        cls = self.module_name
        return PyCall(cls, (x[0],), self.kwargs(a))

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        if not a.affine:
            return []
        return [f"params: 2·{x[0]} = {2 * x[0]:,} (scale and shift per channel)"]


@register
class BatchNorm1d(_BatchNorm):
    """Batch normalisation over ``features`` or ``channels × length`` inputs."""

    name = "batchnorm1d"
    ranks = (1, 2)
    layout = "features, or channels × length"
    module_name = "nn.BatchNorm1d"


@register
class BatchNorm2d(_BatchNorm):
    """Batch normalisation over ``channels × height × width`` inputs."""

    name = "batchnorm2d"
    ranks = (3,)
    layout = "channels × height × width"
    module_name = "nn.BatchNorm2d"


@register
class BatchNorm3d(_BatchNorm):
    """Batch normalisation over ``channels × depth × height × width`` inputs."""

    name = "batchnorm3d"
    ranks = (4,)
    layout = "channels × depth × height × width"
    module_name = "nn.BatchNorm3d"


class InstanceNormAttrs(Attrs):
    eps: Eps = 1e-5
    """Added to the variance for numerical stability."""
    momentum: Float | None = 0.1
    """Weight of the current batch in the running statistics, if they are tracked (none:
    cumulative average)."""
    affine: Flag = False
    """Whether to learn a per-channel scale (weight) and shift (bias)."""
    track_running_stats: Flag = False
    """Whether to keep running mean and variance buffers, used instead of each sample's
    statistics in evaluation mode."""
    num_features: Declared = None
    """Channels, inferred; give it (by keyword) only to have it checked."""


class _InstanceNorm(_BatchNorm):
    """Normalisation of each channel of each sample over its own spatial positions."""

    Attrs = InstanceNormAttrs
    functional_name: ClassVar[str] = "F.instance_norm"

    def infer(self, a: Any, x: Shape) -> Shape:
        super().infer(a, x)
        positions = numel(x[1:])
        if known(positions) and positions < 2:
            raise OpError(
                f"{self.name} needs more than one value per channel to normalise, found "
                f"{fmt_shape(x[1:])} = {positions} in the input {fmt_shape(x)}",
                hint="a single value normalises to 0; PyTorch refuses it in training, and "
                "always without track_running_stats (normalise before pooling to 1)",
            )
        return x

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        if a.affine or a.track_running_stats:
            return None  # it owns tensors: a module
        skip = ["momentum", "affine", "track_running_stats"]
        return PyCall(self.functional_name, (X,), self.kwargs(a, skip))

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        positions = numel(x[1:])
        over = "·".join(str(d) for d in x[1:])
        count = f"{over} = {positions:,}" if len(x) > 2 else f"{positions:,}"
        lines = [
            f"mean and variance over the {count} positions of each of the {x[0]} channels, "
            "in each sample"
        ]
        return lines + super().explain(a, x, y)


@register
class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of a ``channels × length`` input (``nn.InstanceNorm1d``)."""

    name = "instance_norm1d"
    ranks = (2,)
    layout = "channels × length"
    module_name = "nn.InstanceNorm1d"


@register
class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of a ``channels × height × width`` input (style transfer)."""

    name = "instance_norm2d"
    ranks = (3,)
    layout = "channels × height × width"
    module_name = "nn.InstanceNorm2d"


@register
class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of a ``channels × depth × height × width`` input."""

    name = "instance_norm3d"
    ranks = (4,)
    layout = "channels × depth × height × width"
    module_name = "nn.InstanceNorm3d"


class GroupNormAttrs(Attrs):
    num_groups: Count
    """Number of groups the channels are divided into (it must divide them); each sample is
    normalised per group (1 group: over all channels, like layer_norm over C × H × W; one
    group per channel: like instance_norm)."""
    eps: Eps = 1e-5
    """Added to the variance for numerical stability."""
    affine: Flag = True
    """Whether to learn a per-channel scale (weight) and shift (bias)."""
    bias: Flag = True
    """Whether to learn the shift (with ``affine``)."""
    num_channels: Declared = None
    """Channels, inferred; give it (by keyword) only to have it checked."""


@register
class GroupNorm(Op):
    """Group normalisation (Wu & He, 2018): the channels of each sample in ``num_groups``
    groups, each normalised over its channels and positions (``nn.GroupNorm``)."""

    name = "group_norm"
    Attrs = GroupNormAttrs
    category = "norm"
    module_name = "nn.GroupNorm"

    def infer(self, a: Any, x: Shape) -> Shape:
        require_rank(self.name, x, (1, 2, 3, 4), "channels, then any spatial dimensions")
        c = x[0]
        self.check_declared(a.num_channels, c, "channels", x)
        if known(c, a.num_groups) and concrete(c) % concrete(a.num_groups):
            raise OpError(
                f"group_norm: num_groups={a.num_groups} must divide the {c} input channels",
                hint=divisors_hint(concrete(c)),
                attr="num_groups",
            )
        return x

    def tensors(self, a: Any, x: Shape) -> list[Tensor]:
        if not a.affine:
            return []
        weight = Tensor("weight", (x[0],), True)
        return [weight, Tensor("bias", (x[0],), True)] if a.bias else [weight]

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        return 2 * whole(numel(x))  # normalisation: a scale and a shift per element

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall("nn.GroupNorm", (a.num_groups, x[0]), self.kwargs(a))

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        if a.affine:
            return None  # it owns a weight: a module
        skip = ["affine", "bias"]
        return PyCall("F.group_norm", (X, a.num_groups), self.kwargs(a, skip))

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        c, g = x[0], a.num_groups
        per = c // g
        values = numel((per, *x[1:]))
        over = "·".join(str(d) for d in (per, *x[1:]))
        lines = [
            f"{c} channels = {g} group{'s' if g != 1 else ''} of {per}; mean and variance over "
            f"each group's {over} = {values:,} values, in each sample"
        ]
        if a.affine:
            per_channel = 2 if a.bias else 1
            what = "scale and shift" if a.bias else "scale"
            lines.append(f"params: {per_channel}·{c} = {per_channel * c:,} ({what} per channel)")
        return lines


class LRNAttrs(Attrs):
    size: Count
    """Number of neighbouring channels used for normalisation."""
    alpha: Float = 1e-4
    """Multiplicative factor."""
    beta: Float = 0.75
    """Exponent."""
    k: Float = 1.0
    """Additive factor."""


@register
class LocalResponseNorm(Op):
    """Local response normalisation across channels (AlexNet, 2012)."""

    name = "local_response_norm"
    Attrs = LRNAttrs
    category = "norm"
    module_name = "nn.LocalResponseNorm"

    def infer(self, a: Any, x: Shape) -> Shape:
        require_rank(self.name, x, (2, 3, 4), "channels × spatial dimensions")
        return x

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        return whole(numel(x)) * int(a.size + 3)

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall("nn.LocalResponseNorm", (a.size,), self.kwargs(a))

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        return PyCall("F.local_response_norm", (X, a.size), self.kwargs(a))


NormalizedShape = Annotated[
    PosInt | tuple[PosInt, ...] | None,
    Expect("a positive integer, a list of them (the last dimensions of the input), or none"),
]


class LayerNormAttrs(Attrs):
    normalized_shape: NormalizedShape = None
    """The last dimensions to normalise over: none (the default) for the last dimension,
    inferred; an integer or a list is checked against the input's last dimensions."""
    eps: Eps = 1e-5
    """Added to the variance for numerical stability."""
    elementwise_affine: Flag = True
    """Whether to learn a scale (weight) and shift (bias) per normalised element."""
    bias: Flag = True
    """Whether to learn the shift (with ``elementwise_affine``)."""


@register
class LayerNorm(Op):
    """Layer normalisation over the last dimensions of each position (``nn.LayerNorm``): the
    last dimension by default, so ``layer_norm`` after ``permute([0, 2, 3, 1])`` normalises
    the channels of each pixel."""

    name = "layer_norm"
    Attrs = LayerNormAttrs
    category = "norm"
    module_name = "nn.LayerNorm"

    def _normalized(self, a: Any, x: Shape) -> tuple[Any, ...]:
        """The normalised shape: the given one, or the input's last dimension."""
        given = a.normalized_shape
        if given is None:
            return (x[-1],)
        if isinstance(given, Sym) and not isinstance(given.expr, n.ListExpr):
            if not isinstance(concrete(given), tuple):
                return (given,)  # a size known only when the generated code runs
        return items(given)

    def infer(self, a: Any, x: Shape) -> Shape:
        if not x:
            raise OpError(f"layer_norm expects at least a 1-d input, found {fmt_shape(x)}")
        shape = self._normalized(a, x)
        given = show(a.normalized_shape)
        if len(shape) > len(x):
            raise OpError(
                f"layer_norm: normalized_shape {given} has {len(shape)} dimensions, but the "
                f"input {fmt_shape(x)} has {len(x)} (batch excluded)",
                hint="normalized_shape names the last dimensions of each sample; leave it out "
                "to normalise over the last one",
                attr="normalized_shape",
            )
        last = x[len(x) - len(shape) :]
        if any(
            known(s, d) and concrete(s) != concrete(d) for s, d in zip(shape, last, strict=True)
        ):
            ending = "dimension" if len(shape) == 1 else f"{len(shape)} dimensions"
            raise OpError(
                f"layer_norm: normalized_shape {given} must equal the input's last {ending}, "
                f"found {fmt_shape(last)} in {fmt_shape(x)}",
                hint="leave normalized_shape out to normalise over the last dimension, "
                "whatever its size",
                attr="normalized_shape",
            )
        return x

    def tensors(self, a: Any, x: Shape) -> list[Tensor]:
        if not a.elementwise_affine:
            return []
        shape = self._normalized(a, x)
        weight = Tensor("weight", shape, True)
        return [weight, Tensor("bias", shape, True)] if a.bias else [weight]

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        return 2 * whole(numel(x))  # normalisation: a scale and a shift per element

    def _shape_arg(self, a: Any, x: Shape) -> Any:
        return x[-1] if a.normalized_shape is None else a.normalized_shape

    def module(self, a: Any, x: Shape) -> PyCall:
        kwargs = self.kwargs(a, skip=["normalized_shape"])
        return PyCall("nn.LayerNorm", (self._shape_arg(a, x),), kwargs)

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        if a.elementwise_affine:
            return None  # it owns a weight: a module
        skip = ["normalized_shape", "elementwise_affine", "bias"]
        return PyCall("F.layer_norm", (X, self._normalized(a, x)), self.kwargs(a, skip))

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        shape = self._normalized(a, x)
        count = numel(shape)
        over = "·".join(str(s) for s in shape)
        last = "the last dimension" if len(shape) == 1 else f"the last {len(shape)} dimensions"
        positions = numel(x[: len(x) - len(shape)])
        lines = [
            f"mean and variance over {last} ({over}), at each of {positions:,} position"
            + ("s" if positions != 1 else "")
        ]
        if a.elementwise_affine:
            per = 2 if a.bias else 1
            what = "scale and shift" if a.bias else "scale"
            lines.append(f"params: {per}·{over} = {per * count:,} ({what} per element)")
        return lines


class LayerNorm2dAttrs(Attrs):
    eps: Eps = 1e-5
    """Added to the variance for numerical stability (ConvNeXt uses 1e-6)."""


_LAYER_NORM_2D = '''
class LayerNorm2d(nn.LayerNorm):
    """nn.LayerNorm over the channels of each pixel of N × C × H × W (ConvNeXt)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        x = x.permute(0, 3, 1, 2)
        return x
'''


@register
class LayerNorm2d(Op):
    """Layer normalisation over the channels of each pixel of a ``channels × height × width``
    input (ConvNeXt's channels-first ``LayerNorm2d``: channels last, ``nn.LayerNorm``, back)."""

    name = "layer_norm2d"
    Attrs = LayerNorm2dAttrs
    category = "norm"
    module_name = "LayerNorm2d"

    def infer(self, a: Any, x: Shape) -> Shape:
        require_rank(self.name, x, (3,), "channels × height × width")
        return x

    def tensors(self, a: Any, x: Shape) -> list[Tensor]:
        return [Tensor("weight", (x[0],), True), Tensor("bias", (x[0],), True)]

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        return 2 * whole(numel(x))  # normalisation: a scale and a shift per element

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall("LayerNorm2d", (x[0],), self.kwargs(a), helpers=("LayerNorm2d",))

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        return [
            f"mean and variance over the {x[0]} channels, at each of {x[1]}·{x[2]} = "
            f"{x[1] * x[2]:,} positions",
            f"params: 2·{x[0]} = {2 * x[0]:,} (scale and shift per channel)",
        ]


HELPERS["LayerNorm2d"] = _LAYER_NORM_2D
