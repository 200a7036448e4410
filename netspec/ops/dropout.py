"""Regularisation: ``dropout`` and ``dropout2d`` (active in training mode only)."""

from __future__ import annotations

from typing import Any, ClassVar

from netspec.ops.base import TRAINING, Attrs, Op, PyCall, Shape, X, register, require_rank
from netspec.ops.fields import Flag, Probability


class DropoutAttrs(Attrs):
    p: Probability = 0.5
    """Probability of zeroing an element (or a channel, for dropout2d)."""
    inplace: Flag = False
    """Overwrite the input tensor instead of allocating the output."""


class _Dropout(Op):
    Attrs = DropoutAttrs
    category = "regularization"
    functional_name: ClassVar[str]

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall(self.module_name, (), self.kwargs(a))

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        kwargs = (*self.kwargs(a, skip=["inplace"]), ("training", TRAINING))
        if a.inplace:
            kwargs = (*kwargs, ("inplace", True))
        return PyCall(self.functional_name, (X,), kwargs)


@register
class Dropout(_Dropout):
    """Zero elements at random with probability ``p`` while training; scale the rest."""

    aliases_input = True
    name = "dropout"
    module_name = "nn.Dropout"
    functional_name = "F.dropout"


@register
class Dropout2d(_Dropout):
    """Zero whole channels at random with probability ``p`` while training."""

    aliases_input = True
    name = "dropout2d"
    module_name = "nn.Dropout2d"
    functional_name = "F.dropout2d"

    def infer(self, a: Any, x: Shape) -> Shape:
        require_rank(self.name, x, (3,), "channels × height × width")
        return x
