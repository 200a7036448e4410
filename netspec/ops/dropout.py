"""Regularisation: ``dropout``, ``dropout2d`` and ``stochastic_depth`` (active in training
mode only)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from netspec.expr.evaluate import concrete, known
from netspec.ops.base import (
    HELPERS,
    TRAINING,
    Attrs,
    Op,
    PyCall,
    Shape,
    X,
    register,
    require_rank,
)
from netspec.ops.fields import Flag, Probability


class DropoutAttrs(Attrs):
    p: Probability = 0.5
    """Probability of zeroing an element (or a channel, for dropout2d)."""
    inplace: Flag = False
    """Overwrite the input tensor instead of allocating the output."""


def _positive(p: Any) -> bool:
    """Whether a probability may be above 0 (one known only when the class runs may be)."""
    return not known(p) or concrete(p) > 0


class _Dropout(Op):
    Attrs = DropoutAttrs
    category = "regularization"
    functional_name: ClassVar[str]

    def passes_on(self, a: Any, training: bool) -> bool:
        return not training or not _positive(a.p)  # (PyTorch returns the input at p = 0)

    def writes_in_place(self, a: Any, training: bool) -> bool:
        return training and _positive(a.p) and self.in_place(a)

    def keeps_input(self, a: Any) -> bool:
        return False  # (its mask)

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


class StochasticDepthAttrs(Attrs):
    p: Probability
    """Probability of dropping (zeroing) the input while training."""
    mode: Literal["row", "batch"] = "row"
    """``'row'``: drop each sample of the batch on its own; ``'batch'``: the whole batch at
    once."""


_STOCHASTIC_DEPTH = '''
def stochastic_depth(
    x: torch.Tensor, p: float, mode: str, training: bool = True
) -> torch.Tensor:
    """Stochastic depth ("Deep Networks with Stochastic Depth", Huang et al., 2016).

    While training, zero the input of each sample (mode "row") or of the whole batch
    (mode "batch") with probability p, and divide what is kept by the survival rate
    1 - p, so that the expected value is unchanged. In evaluation, or with p = 0,
    return the input itself. On the residual branch of a block, it drops the branch
    and keeps the shortcut.
    """
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
    if mode not in ["batch", "row"]:
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    if not training or p == 0.0:
        return x
    survival_rate = 1.0 - p
    if mode == "row":
        size = [x.shape[0]] + [1] * (x.ndim - 1)
    else:
        size = [1] * x.ndim
    noise = torch.empty(size, dtype=x.dtype, device=x.device)
    noise = noise.bernoulli_(survival_rate)
    if survival_rate > 0.0:
        noise.div_(survival_rate)
    return x * noise
'''

_STOCHASTIC_DEPTH_MODULE = '''
class StochasticDepth(nn.Module):
    """Stochastic depth as a module: drop the input with probability p while training.

    p: the probability of zeroing the input. mode: "row" drops each sample of the
    batch on its own, "batch" the whole batch at once. See stochastic_depth.
    """

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return stochastic_depth(x, self.p, self.mode, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"
'''


@register
class StochasticDepth(Op):
    """Drop the whole input of a sample (or of the batch) with probability ``p`` while
    training, scaling what is kept by 1/(1 − p); the identity in evaluation
    (torchvision's ``StochasticDepth``, used on residual branches)."""

    aliases_input = True
    name = "stochastic_depth"
    Attrs = StochasticDepthAttrs
    category = "regularization"
    module_name = "StochasticDepth"

    def passes_on(self, a: Any, training: bool) -> bool:
        return not training or not _positive(a.p)

    def keeps_input(self, a: Any) -> bool:
        return False  # (its noise)

    def module(self, a: Any, x: Shape) -> PyCall:
        return PyCall(
            "StochasticDepth", (a.p, a.mode), helpers=("StochasticDepth", "stochastic_depth")
        )

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        return PyCall("stochastic_depth", (X, a.p, a.mode, TRAINING), helpers=("stochastic_depth",))

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        unit = "each sample" if a.mode == "row" else "the whole batch"
        return [
            f"training: {unit} kept with probability 1 - {a.p} = {1 - a.p:g}, scaled by "
            f"1/{1 - a.p:g}; evaluation: the identity"
        ]


HELPERS["stochastic_depth"] = _STOCHASTIC_DEPTH
HELPERS["StochasticDepth"] = _STOCHASTIC_DEPTH_MODULE
