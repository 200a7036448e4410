"""Normalisation: ``batchnorm1d``, ``batchnorm2d`` and ``local_response_norm``."""

from __future__ import annotations

from typing import Any, ClassVar

from netspec.ops.base import Attrs, Op, PyCall, Shape, Tensor, X, numel, register, require_rank
from netspec.ops.fields import Count, Declared, Flag, Float, PositiveFloat


class BatchNormAttrs(Attrs):
    eps: PositiveFloat = 1e-5
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
    Attrs = BatchNormAttrs
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
        return 2 * int(numel(x))  # a scale and a shift per element, once folded for inference

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
        return int(numel(x)) * int(a.size + 3)

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall("nn.LocalResponseNorm", (a.size,), self.kwargs(a))

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        return PyCall("F.local_response_norm", (X, a.size), self.kwargs(a))
