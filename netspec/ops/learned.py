"""Learned tensors a block or a model owns, and the operators that apply them: ``mul``,
``add`` and ``prepend``.

A block declares tensors of its own under ``tensors:`` — ConvNeXt's ``layer_scale``, ViT's
position embedding — and so may a model (ViT's class token), each with an initialiser written
once here (:data:`INITS`): ``zeros(shape)``, ``ones(shape)``, ``full(shape, value)``,
``normal(shape, std)``. They are the module's own parameters, so they come first in its
state_dict (``features.1.0.layer_scale``, ``class_token``), before its children's.

Inside the block (or the model), a tensor's name is a :class:`TensorRef`; ``mul(layer_scale)``
multiplies the current tensor by it and ``add(pos_embedding)`` adds it, broadcast as PyTorch
does (the batch dimension aligned on the left); ``prepend(class_token)`` concatenates it,
expanded over the batch, before the input along a dimension (``torch.cat([t.expand(n, -1, -1),
x], dim=1)``). They are calls in ``forward`` (``torch.mul(x, self.layer_scale)``), never
modules, so they are written unnamed in the block's (or the model's) own layers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import field_validator

from netspec.expr import nodes as n
from netspec.expr.evaluate import Sym, as_expr, concrete, counted, known, show
from netspec.expr.render import render
from netspec.ops.base import (
    HELPERS,
    Attrs,
    Op,
    OpError,
    PyCall,
    Shape,
    X,
    fmt_shape,
    known_int,
    register,
)
from netspec.ops.fields import Int


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
        Init(
            "normal",
            ("std",),
            "torch.empty",
            "a tensor drawn from a normal distribution of mean 0 and deviation `std` (a "
            "position embedding)",
        ),
    )
}
"""Every initialiser a ``tensors:`` entry may call, by name."""


@dataclass(frozen=True, slots=True)
class TensorDecl:
    """A ``tensors:`` entry evaluated: its initialiser, shape and arguments."""

    init: Init
    shape: tuple[Any, ...]
    args: tuple[Any, ...]

    def value(self, literal: Callable[[Any], str]) -> str:
        """The tensor's initial value, the argument of its ``nn.Parameter``:
        ``torch.ones((96, 1, 1)) * 1e-06``."""
        dims = ", ".join(literal(d) for d in self.shape)
        shape = f"({dims},)" if len(self.shape) == 1 else f"({dims})"
        if self.init.name == "full":  # ones × value: a float tensor whatever the value's type
            return f"torch.ones({shape}) * {literal(self.args[0])}"
        if self.init.name == "normal":
            return f"torch.empty({shape}).normal_(std={literal(self.args[0])})"
        args = "".join(f", {literal(a)}" for a in self.args)
        return f"{self.init.torch}({shape}{args})"


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
    if not isinstance(shape_node, n.ListExpr):  # the sizes one by one, symbolic in the class
        raise OpError(
            f"{init.name} takes its shape as a list of sizes written out, found "
            f"{render(shape_node)}",
            hint=f"write each size, as in {init.name}([c, 1, 1]) (a list param's: "
            "[shape[0], shape[1], shape[2]]): the generated class writes them one by one",
        )
    shape: Any = tuple(evaluate(item) for item in shape_node.items)
    if not shape:
        raise OpError(f"{init.name} expects a shape (a list of sizes), found {show(shape)}")
    for dim in shape:
        if isinstance(dim, bool) or not (isinstance(dim, int | Sym)):
            raise OpError(f"a tensor's sizes are integers ≥ 1, found {show(shape)}")
        if isinstance(dim, Sym) and dim.known and not counted(dim):  # (traced: guards)
            raise OpError(f"a tensor's sizes are integers ≥ 1, found {show(shape)}")
        if known(dim) and dim < 1:
            raise OpError(f"a tensor's sizes are integers ≥ 1, found {show(shape)}")
    args = tuple(values[a] for a in init.args)
    for arg in args:
        value = concrete(arg) if isinstance(arg, Sym) else arg
        if known(arg) and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise OpError(f"{init.name} fills with a number, found {show(arg)}")
        if init.name == "normal" and known(arg) and value < 0:
            raise OpError(f"normal's std is a deviation ≥ 0, found {show(arg)}")
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


class PrependAttrs(Attrs):
    other: Any
    """A learned tensor of the block or model (a name under ``tensors:``), shaped like a batch
    of one: ``[1, 1, 768]`` before tokens × 768."""
    dim: Int = 1
    """The dimension to concatenate along, counted as PyTorch counts it (the batch is 0)."""

    @field_validator("other")
    @classmethod
    def _tensor(cls, value: Any) -> Any:
        return TensorAttrs._tensor(value)


_PREPEND = '''
def prepend(x: torch.Tensor, t: torch.Tensor, dim: int) -> torch.Tensor:
    """Concatenate t (a batch of one), expanded over x's batch, before x along dim."""
    return torch.cat([t.expand([x.shape[0]] + list(t.shape[1:])), x], dim)
'''


@register
class Prepend(Op):
    """Concatenate a learned tensor before the input along a dimension, the tensor expanded
    over the batch: ViT's class token, ``torch.cat([class_token.expand(n, -1, -1), x],
    dim=1)``."""

    name = "prepend"
    Attrs = PrependAttrs
    category = "tensor"
    module_form = False

    def _dim(self, a: Any, x: Shape) -> int:
        """``dim`` in the batch-less shape."""
        rank = len(x) + 1
        dim = known_int(a.dim)
        d = dim + rank if dim < 0 else dim
        if not 1 <= d < rank:
            raise OpError(
                f"prepend: dim={dim} is out of range for a {len(x)}-d input {fmt_shape(x)} "
                f"(with the batch, dimensions 1 to {rank - 1}, or {-rank + 1} to -1)",
                attr="dim",
            )
        return d - 1

    def infer(self, a: Any, x: Shape) -> Shape:
        t = _ref(a.other).shape
        d = self._dim(a, x) if known(a.dim) else None
        shape = f"a tensor {fmt_shape(tuple(t))}"
        if len(t) != len(x) + 1 or (known(t[0]) and concrete(t[0]) != 1):
            example = ", ".join("1" if i == d else str(s) for i, s in enumerate(x))
            raise OpError(
                f"prepend: {shape} is not a batch of one like the input {fmt_shape(x)}",
                hint=f"give it the input's {len(x)} dimensions after a leading 1"
                + (f" (e.g. [1, {example}])" if d is not None else ""),
            )
        if d is None:
            return self._unknown_dim(a.dim, x, t)
        for i, (size, dim) in enumerate(zip(t[1:], x, strict=True)):
            if i != d and known(size, dim) and concrete(size) != concrete(dim):
                raise OpError(
                    f"prepend: {shape} does not match the input {fmt_shape(x)} outside "
                    f"dimension {d + 1}",
                    hint="every size but the concatenated one must be the input's",
                )
        return tuple(s + t[d + 1] if i == d else s for i, s in enumerate(x))

    @staticmethod
    def _unknown_dim(dim: Any, x: Shape, t: Shape) -> Shape:
        """The shape where ``dim`` is known only when generated code runs (a constructor
        parameter): the rank is kept, and size ``k`` is the input's plus the tensor's where
        ``dim`` counts to it (``dim % rank``: 1 and -(rank - 1) both name the first size after
        the batch), else the input's; ``torch.cat`` checks the other sizes then."""
        rank = len(x) + 1
        counted = n.Binary("%", as_expr(dim), n.Const(rank))
        out = []
        for k, size in enumerate(x):
            here = n.Compare(counted, ("==",), (n.Const(k + 1),))
            out.append(Sym(n.IfExp(here, as_expr(size + t[k + 1]), as_expr(size))))
        return tuple(out)

    def functional(self, a: Any, x: Shape) -> PyCall | None:
        return PyCall("prepend", (X, _ref(a.other).code, a.dim), helpers=("prepend",))

    def describe(self, a: Any) -> str:
        ref = _ref(a.other)
        return f"prepend({ref.name})" if a.dim == 1 else f"prepend({ref.name}, dim={a.dim})"

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        ref = _ref(a.other)
        d = self._dim(a, x)
        return [
            f"{ref.name} {fmt_shape(ref.shape)} expanded over the batch, then {fmt_shape(x)}: "
            f"{ref.shape[d + 1]} + {x[d]} = {y[d]} in dimension {d + 1}"
        ]


HELPERS["prepend"] = _PREPEND
