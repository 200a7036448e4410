"""Fully connected layer: ``linear`` (``nn.Linear``)."""

from __future__ import annotations

from typing import Any

from netspec.expr.evaluate import whole
from netspec.ops.base import Attrs, Op, OpError, PyCall, Shape, Tensor, fmt_shape, numel, register
from netspec.ops.fields import Count, Declared, Flag


class LinearAttrs(Attrs):
    out_features: Count
    """Number of output features. Input features are inferred from the last dimension."""
    bias: Flag = True
    """Whether to learn an additive bias."""
    in_features: Declared = None
    """Input features, inferred; give it (by keyword) only to have it checked."""


@register
class Linear(Op):
    """Affine map of the last dimension: ``y = x·Wᵀ + b``."""

    name = "linear"
    Attrs = LinearAttrs
    category = "linear"
    module_name = "nn.Linear"

    def infer(self, a: Any, x: Shape) -> Shape:
        if not x:
            raise OpError(f"linear expects at least a 1-d input (features), found {fmt_shape(x)}")
        self.check_declared(a.in_features, x[-1], "input features", x)
        return (*x[:-1], a.out_features)

    def tensors(self, a: Any, x: Shape) -> list[Tensor]:
        weight = Tensor("weight", (a.out_features, x[-1]), True)
        return [weight, Tensor("bias", (a.out_features,), True)] if a.bias else [weight]

    def macs(self, a: Any, x: Shape, y: Shape) -> int:
        return whole(numel(x[:-1]) * x[-1] * a.out_features)

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        return whole(numel(y)) if a.bias else 0

    def module(self, a: Any, x: Shape) -> PyCall:
        # the features as the spec names them where it gives them (checked equal to the input's)
        features = x[-1] if a.in_features is None else a.in_features
        return PyCall("nn.Linear", (features, a.out_features), self.kwargs(a))

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        bias = " + 1" if a.bias else ""
        params = (x[-1] + (1 if a.bias else 0)) * a.out_features
        rows = f"{numel(x[:-1])}·" if len(x) > 1 else ""
        return [
            f"params: ({x[-1]}{bias})·{a.out_features} = {params:,}",
            f"MACs: {rows}{x[-1]}·{a.out_features} = {self.macs(a, x, y):,}",
        ]
