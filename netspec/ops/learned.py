"""Learned tensors a block owns, and the operators that apply them: ``mul`` and ``add``.

A block declares tensors of its own under ``tensors:`` — ConvNeXt's ``layer_scale``, later a
transformer's class token and position embedding — each with an initialiser written once here
(:data:`INITS`): ``zeros(shape)``, ``ones(shape)``, ``full(shape, value)``. They are the block
module's own parameters, so they come first in its state_dict (``features.1.0.layer_scale``),
before its children's.

Inside the block, a tensor's name is a :class:`TensorRef`; ``mul(layer_scale)`` multiplies the
current tensor by it and ``add(pos_embedding)`` adds it, broadcast as PyTorch does (the batch
dimension aligned on the left). They are calls in the block's ``forward`` (``torch.mul(x,
self.layer_scale)``), never modules, so they are written unnamed in the block's own layers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import field_validator

from netspec.expr import nodes as n
from netspec.expr.evaluate import Sym, concrete, known, show
from netspec.ops.base import Attrs, Op, OpError, PyCall, Shape, X, fmt_shape, register


@dataclass(frozen=True, slots=True)
class TensorRef:
    """A learned tensor of a block, as its layers see it: its attribute name and shape."""

    name: str
    shape: tuple[Any, ...]

    @property
    def code(self) -> Sym:
        """``self.<name>`` in generated code."""
        return Sym(n.Attr(n.Name("self"), self.name))

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Init:
    """A tensor initialiser: ``name(shape, *args)`` and the PyTorch call it compiles to."""

    name: str
    args: tuple[str, ...]
    """Arguments after the shape."""
    torch: str
    doc: str


INITS: dict[str, Init] = {
    i.name: i
    for i in (
        Init("zeros", (), "torch.zeros", "a tensor of zeros (a class token)"),
        Init("ones", (), "torch.ones", "a tensor of ones"),
        Init("full", ("value",), "torch.ones", "a tensor filled with `value` (a layer scale)"),
    )
}
"""Every initialiser a ``tensors:`` entry may call, by name."""


@dataclass(frozen=True, slots=True)
class TensorDecl:
    """A ``tensors:`` entry evaluated: its initialiser, shape and arguments."""

    init: Init
    shape: tuple[Any, ...]
    args: tuple[Any, ...]

    def code(self, literal: Callable[[Any], str]) -> str:
        """The PyTorch expression creating it: ``nn.Parameter(torch.ones((96, 1, 1)) * 1e-06)``."""
        dims = ", ".join(literal(d) for d in self.shape)
        shape = f"({dims},)" if len(self.shape) == 1 else f"({dims})"
        if self.init.name == "full":  # ones × value: a float tensor whatever the value's type
            return f"nn.Parameter(torch.ones({shape}) * {literal(self.args[0])})"
        args = "".join(f", {literal(a)}" for a in self.args)
        return f"nn.Parameter({self.init.torch}({shape}{args}))"


def declare(node: n.Expr, evaluate: Callable[[n.Expr], Any]) -> TensorDecl:
    """The tensor a ``tensors:`` expression declares, its arguments evaluated by
    ``evaluate`` (integers at analysis, symbolic sizes in generated code).

    Raises:
        OpError: not a call of an initialiser, or a shape that is not a list of sizes ≥ 1.
    """
    call = node.node if isinstance(node, n.Located) else node
    if not (isinstance(call, n.Call) and isinstance(call.func, n.Name) and call.func.id in INITS):
        forms = ", ".join(f"`{i.name}({', '.join(('[…]', *i.args))})`" for i in INITS.values())
        raise OpError("a learned tensor is declared by an initialiser call", hint=f"write {forms}")
    init = INITS[call.func.id]
    names = ("shape", *init.args)
    given = dict(zip(names, call.args, strict=False))
    given.update(call.kwargs)
    if len(call.args) > len(names) or set(given) != set(names):
        raise OpError(
            f"{init.name} takes ({', '.join(names)})",
            hint=f"e.g. {init.name}({', '.join(('[64, 1, 1]', *('1e-6' for _ in init.args)))})",
        )
    values = {k: evaluate(v) for k, v in given.items() if k != "shape"}
    shape_node = given["shape"]
    shape_node = shape_node.node if isinstance(shape_node, n.Located) else shape_node
    if isinstance(shape_node, n.ListExpr):  # sizes one by one (symbolic in generated code)
        shape: Any = tuple(evaluate(item) for item in shape_node.items)
    else:
        shape = evaluate(shape_node)
    if not isinstance(shape, tuple | list) or not shape:
        raise OpError(f"{init.name} expects a shape (a list of sizes), found {show(shape)}")
    for dim in shape:
        if isinstance(dim, bool) or not (isinstance(dim, int | Sym)):
            raise OpError(f"a tensor's sizes are integers ≥ 1, found {show(shape)}")
        if known(dim) and concrete(dim) < 1:
            raise OpError(f"a tensor's sizes are integers ≥ 1, found {show(shape)}")
    args = tuple(values[a] for a in init.args)
    for arg in args:
        value = concrete(arg) if isinstance(arg, Sym) else arg
        if known(arg) and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise OpError(f"{init.name} fills with a number, found {show(arg)}")
    return TensorDecl(init, tuple(shape), args)


class TensorAttrs(Attrs):
    other: Any
    """A learned tensor of the block (a name under the block's ``tensors:``)."""

    @field_validator("other")
    @classmethod
    def _tensor(cls, value: Any) -> Any:
        if not isinstance(value, TensorRef):
            raise ValueError("expects a learned tensor of the block (a name under `tensors:`)")
        return value


def _broadcast_into(x: Shape, t: Sequence[Any], verb: str) -> None:
    """Check that tensor shape ``t`` broadcasts into the batch of ``x`` without growing it."""
    full = (1, *x)  # the batch, as a size the tensor may only match by 1
    if len(t) > len(full):
        raise OpError(
            f"a tensor {fmt_shape(tuple(t))} cannot be {verb} an input of {fmt_shape(x)} "
            f"(it has more dimensions)",
            hint="give the tensor at most the input's dimensions (plus a leading 1)",
        )
    for i, (size, dim) in enumerate(zip(reversed(t), reversed(full), strict=False)):
        batch = i == len(full) - 1
        fits = not known(size) or concrete(size) == 1
        fits = fits or (not batch and (not known(dim) or concrete(size) == concrete(dim)))
        if not fits:
            raise OpError(
                f"a tensor {fmt_shape(tuple(t))} does not broadcast against the input "
                f"{fmt_shape(x)}",
                hint="each size of the tensor must equal the input's (aligned on the right) "
                "or be 1",
            )


def _ref(value: Any) -> TensorRef:
    """The tensor an attribute names (generated code wraps it with its expression)."""
    ref = value if isinstance(value, TensorRef) else concrete(value)
    if not isinstance(ref, TensorRef):  # pragma: no cover - the attribute model checks it
        raise OpError(f"expected a learned tensor of the block, found {show(value)}")
    return ref


class _TensorOp(Op):
    Attrs = TensorAttrs
    category = "tensor"
    module_form = False  # a call in forward only: the tensor is an attribute of the block
    verb: ClassVar[str]
    torch: ClassVar[str]

    def infer(self, a: Any, x: Shape) -> Shape:
        _broadcast_into(x, _ref(a.other).shape, self.verb)
        return x

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        return PyCall(self.torch, (X, _ref(a.other).code))

    def describe(self, a: Any) -> str:
        return f"{self.name}({_ref(a.other).name})"


@register
class Mul(_TensorOp):
    """Multiply by a learned tensor of the block, broadcast: ConvNeXt's layer scale."""

    name = "mul"
    verb = "multiplied into"
    torch = "torch.mul"

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        ref = _ref(a.other)
        return [f"{fmt_shape(x)} × {ref.name} {fmt_shape(ref.shape)} → {fmt_shape(y)}"]


@register
class Add(_TensorOp):
    """Add a learned tensor of the block, broadcast: a position embedding."""

    name = "add"
    verb = "added to"
    torch = "torch.add"

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        ref = _ref(a.other)
        return [f"{fmt_shape(x)} + {ref.name} {fmt_shape(ref.shape)} → {fmt_shape(y)}"]
