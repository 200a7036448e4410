"""Element-wise activations: relu, relu6, leaky_relu, gelu, silu, sigmoid, tanh, hardswish,
hardsigmoid, softmax, log_softmax. Each keeps the shape (of any rank), owns no tensors, and has
a functional form."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from netspec.expr.evaluate import concrete, known, whole
from netspec.ops.base import Attrs, Op, OpError, PyCall, Shape, X, numel, register
from netspec.ops.fields import Flag, Float, Int


class InplaceAttrs(Attrs):
    inplace: Flag = False
    """Overwrite the input tensor instead of allocating the output."""


class NoAttrs(Attrs):
    pass


class _Activation(Op):
    category = "activation"
    functional_name: ClassVar[str]
    cost: ClassVar[int] = 1

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        return self.cost * whole(numel(x))

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall(self.module_name, (), self.kwargs(a))

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        return PyCall(self.functional_name, (X,), self.kwargs(a))


class _KeepsOutput(_Activation):
    """An activation whose gradient autograd computes from its output (PyTorch's
    ``derivatives.yaml``: relu, sigmoid, tanh, softmax, log_softmax)."""

    def keeps_output(self, a: Any) -> bool:
        return True

    def keeps_input(self, a: Any) -> bool:
        return False


def _simple(
    name: str,
    module: str,
    functional: str,
    attrs: type[Attrs],
    doc: str,
    base: type[_Activation] = _Activation,
) -> None:
    cls = type(
        name.title().replace("_", ""),
        (base,),
        {
            "name": name,
            "module_name": module,
            "functional_name": functional,
            "Attrs": attrs,
            "__doc__": doc,
        },
    )
    register(cls)


_simple("relu", "nn.ReLU", "F.relu", InplaceAttrs, "max(0, x).", _KeepsOutput)
_simple("relu6", "nn.ReLU6", "F.relu6", InplaceAttrs, "min(max(0, x), 6) (MobileNet).")
_simple("silu", "nn.SiLU", "F.silu", InplaceAttrs, "x·sigmoid(x), also called swish.")
_simple("hardswish", "nn.Hardswish", "F.hardswish", InplaceAttrs, "x·relu6(x + 3)/6 (MobileNetV3).")
_simple(
    "hardsigmoid",
    "nn.Hardsigmoid",
    "F.hardsigmoid",
    InplaceAttrs,
    "relu6(x + 3)/6, a piecewise-linear sigmoid (MobileNetV3's squeeze-and-excitation gate).",
)
_simple("sigmoid", "nn.Sigmoid", "torch.sigmoid", NoAttrs, "1 / (1 + e^(−x)).", _KeepsOutput)
_simple("tanh", "nn.Tanh", "torch.tanh", NoAttrs, "Hyperbolic tangent.", _KeepsOutput)


class LeakyReLUAttrs(Attrs):
    negative_slope: Float = 0.01
    """Slope for negative inputs."""
    inplace: Flag = False
    """Overwrite the input tensor instead of allocating the output."""


@register
class LeakyReLU(_Activation):
    """x for x ≥ 0, negative_slope·x otherwise."""

    name = "leaky_relu"
    Attrs = LeakyReLUAttrs
    module_name = "nn.LeakyReLU"
    functional_name = "F.leaky_relu"

    def keeps_output(self, a: Any) -> bool:
        return self.in_place(a)  # in place, its gradient is read off its output


class GELUAttrs(Attrs):
    approximate: Literal["none", "tanh"] = "none"
    """``'tanh'`` uses the tanh approximation."""


@register
class GELU(_Activation):
    """Gaussian error linear unit."""

    name = "gelu"
    Attrs = GELUAttrs
    module_name = "nn.GELU"
    functional_name = "F.gelu"


class SoftmaxAttrs(Attrs):
    dim: Int = -1
    """Dimension to normalise, counted as PyTorch counts it (the batch is dimension 0)."""


@register
class Softmax(_KeepsOutput):
    """Normalised exponentials along one dimension."""

    name = "softmax"
    Attrs = SoftmaxAttrs
    module_name = "nn.Softmax"
    functional_name = "F.softmax"
    cost = 3  # exponent, sum, division

    def infer(self, a: Any, x: Shape) -> Shape:
        # the shape is kept whatever the dimension: one known only when generated code runs
        # (a constructor parameter) is PyTorch's to check then
        rank = len(x) + 1
        if known(a.dim) and not -rank <= concrete(a.dim) < rank:
            raise OpError(
                f"{self.name}: dim={a.dim} is out of range for a {len(x)}-d input "
                f"(with the batch, dimensions {-rank} to {rank - 1})",
                hint="dim=1 is the channel/feature dimension; dim=-1 the last one",
                attr="dim",
            )
        return x

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall(self.module_name, (), (("dim", a.dim),))

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        return PyCall(self.functional_name, (X,), (("dim", a.dim),))


@register
class LogSoftmax(Softmax):
    """The logarithm of softmax along one dimension, computed stably (the input
    ``F.nll_loss`` expects)."""

    name = "log_softmax"
    module_name = "nn.LogSoftmax"
    functional_name = "F.log_softmax"
    cost = 3  # as softmax: exponent, sum, and a logarithm and subtraction for the division
