"""An expanded network's figures as a program of its input sizes.

:func:`~netspec.expand.reinfer.reinfer` infers an expanded tree again for another input size,
running every operator rule again: about as long per row as the rules take. For many input
sizes at the same params (a sweep over ``input``), :func:`compile_sizes` runs ``reinfer`` once
more, over input sizes that are :class:`~netspec.expr.evaluate.Sym`\\ s named ``d1``, ``d2``…
with the input's values, while :func:`~netspec.expr.evaluate.tracing`. The same rules compute
the same values, and build as they go every shape, parameter count and MAC count as an
expression in those sizes. Every decision they take on a size (a comparison, a truth test) is
recorded as a guard, and every size read otherwise (``int()``, ``concrete``) pins it to its
value, so nothing is computed from a size that the guards do not cover.

The result is one Python function, generated from those expressions: it tests the guards in the
order the rules took them and, where all hold, gives the figures; where one fails — the rules
would decide otherwise, or refuse the input — it gives ``None``, and the caller infers or
expands again. It is checked at the input it was traced at against the network itself before it
is used. Nothing here imports torch.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from netspec.expand.expander import expand
from netspec.expand.ir import leaves
from netspec.expand.memo import Memo, freeze
from netspec.expand.reinfer import reinfer, same_kind
from netspec.expr import nodes as n
from netspec.expr.evaluate import (
    MAX_INT,
    TRACED_CALLS,
    Guard,
    Sym,
    call_function,
    summed,
    tracing,
    unread,
)
from netspec.infer import Network
from netspec.ops.base import Shape
from netspec.spec import models as m


@dataclass(frozen=True, slots=True)
class Figures:
    """What a sweep row reports of a network."""

    output: Shape
    parameters: int
    macs: int
    extra_ops: int
    activations: int
    """Elements of every layer's output (batch 1)."""

    @staticmethod
    def of(net: Network) -> Figures:
        t = net.totals
        active = summed(math.prod(leaf.output) for leaf in leaves(net.root))
        return Figures(net.output, t.parameters, t.macs, t.extra_ops, active)


MAX_NODES = 200_000
"""Most expression nodes one program computes (the rest are inferred again)."""
CHAIN = 64
"""Most operators of a chain written in one statement."""


class _Unsupported(Exception):
    """An expression the program's code does not write: no program."""


class Program:
    """``net``'s figures for other inputs of its rank and channels (see the module's notes),
    and with :func:`compile_params` for other values of some params too."""

    def __init__(
        self,
        x: Shape,
        code: str,
        function: Callable[..., Any],
        params: dict[str, Any] | None = None,
        sized: bool = True,
        fixed: dict[str, Any] | None = None,
    ) -> None:
        self.input = x
        """The input traced at."""
        self.code = code
        """The generated function's source (for tests and the curious)."""
        self._function = function
        self.params = {k: type(v) for k, v in (params or {}).items()}
        """The params it takes, by name, with the type of the value traced (a program traced
        at a float computes as floats do)."""
        self.sized = sized
        """Whether it takes the input's sizes (else it holds at the traced input only)."""
        self.fixed = freeze(fixed or {})
        """The other params' values, frozen: it holds at those alone."""
        self._names = tuple(fixed or ())

    def __call__(self, x: Shape, values: Mapping[str, Any] | None = None) -> Figures | None:
        """The figures at input ``x`` (and params ``values``), or ``None`` where the guards do
        not hold (or ``x`` is not of the traced input's kind, or a value of another type)."""
        if not (same_kind(self.input, x) if self.sized else self.input == x):
            return None
        if self._names:
            given = values or {}
            if freeze({k: given.get(k) for k in self._names}) != self.fixed:
                return None
        args: list[Any] = []
        for name, kind in self.params.items():
            value = values[name] if values is not None and name in values else None
            if type(value) is not kind:
                return None
            args.append(value)
        if self.sized:
            args.extend(x[1:])
        try:
            got = self._function(*args)
        except (ArithmeticError, ValueError, TypeError):
            return None
        if got is None:
            return None
        *output, parameters, macs, extra, active = got
        if any(abs(v) > MAX_INT for v in got):  # a spec's arithmetic refuses such values:
            return None  # the analysis says where
        return Figures(tuple(output), parameters, macs, extra, active)


def compile_sizes(net: Network) -> Program | None:
    """``net`` as a program of its input's sizes after the first, or ``None`` where its tree
    cannot be inferred again (:func:`~netspec.expand.reinfer.reinfer`: a block decided it from
    sizes of its input other than the channels) or the trace reads what the program cannot
    write."""
    x = net.input
    if len(x) < 2 or any(leaf.again is not None for leaf in leaves(net.root)):
        return None  # (an argument reading a traced size would have to be one: not yet)
    traced = (x[0], *(Sym(n.Name(f"d{i}"), d) for i, d in enumerate(x[1:], 1)))
    try:
        sizes = frozenset(f"d{i}" for i in range(1, len(x)))
        with tracing(sizes) as trace:  # reinfer's tests of the input and every rule's: guards
            again = reinfer(net, traced, _ByExpression())
            if again is None:
                return None
            f = Figures.of(again)
    except Exception:  # noqa: BLE001 - a rule not written for traced sizes: infer again
        return None
    results = [*f.output, f.parameters, f.macs, f.extra_ops, f.activations]
    try:
        code = _source([f"d{i}" for i in range(1, len(x))], trace.guards, results)
    except _Unsupported:
        return None
    function = _function(code, "<netspec sizes>")
    if function is None:  # pragma: no cover - CPython's limits
        return None
    program = Program(net.input, code, function)
    if program(x) != Figures.of(net):  # pragma: no cover - a rule's expression is wrong
        return None
    return program


def compile_params(
    spec: m.SpecFile, params: dict[str, Any], traced: Sequence[str], x: Shape | None
) -> Program | None:
    """``spec``'s figures as a program of the ``traced`` params (those among them whose values
    are numbers) and of the input's sizes after the first (``x``: the input given, or ``None``
    for the spec's own), or ``None`` where the expansion over those values as
    :class:`~netspec.expr.evaluate.Sym`\\ s fails, or the trace reads what the program cannot
    write.

    The whole expansion runs once over the traced values (named ``p0``, ``p1``… and ``d1``,
    ``d2``… in the program), as :func:`compile_sizes` infers a network again: what a spec's
    expressions compute of them stays an expression (spec functions of numbers included, see
    :data:`~netspec.expr.evaluate.TRACED_CALLS`), an operator's count argument stays one, its
    test a guard (:meth:`~netspec.ops.base.Op.validate_traced`); every other decision is a
    guard and every other value read pins its expression. The program therefore holds exactly
    where the expansion would decide as it did: the same layers, blocks and branches."""
    symbolic = dict(params)
    names: list[str] = []
    taken: dict[str, Any] = {}
    for name in traced:
        value = params[name]
        if type(value) in (int, float):
            symbolic[name] = Sym(n.Name(f"p{len(names)}"), value)
            names.append(f"p{len(names)}")
            taken[name] = value
    sized = x is not None and len(x) >= 2
    shape = x
    if x is not None and sized:
        shape = (x[0], *(Sym(n.Name(f"d{i}"), d) for i, d in enumerate(x[1:], 1)))
        names.extend(f"d{i}" for i in range(1, len(x)))
    if not names:
        return None
    integers = frozenset(
        [f"p{i}" for i, v in enumerate(taken.values()) if type(v) is int]
        + [name for name in names if name.startswith("d")]
    )
    try:
        with tracing(integers) as trace:
            net = expand(spec, symbolic, shape, reuse=False, memo=Memo(applied=_ByExpression()))
            f = Figures.of(net)
    except Exception:  # noqa: BLE001 - a rule not written for traced values: expand each time
        return None
    results = [*f.output, f.parameters, f.macs, f.extra_ops, f.activations]
    try:
        code = _source(names, trace.guards, results)
    except _Unsupported:
        return None
    function = _function(code, "<netspec params>")
    if function is None:  # pragma: no cover - CPython's limits
        return None
    traced_input = tuple(unread(d) for d in net.input)
    fixed = {k: v for k, v in params.items() if k not in taken}
    program = Program(traced_input, code, function, taken, sized, fixed)
    at = Figures(tuple(unread(d) for d in f.output), *(unread(v) for v in results[-4:]))
    if program(traced_input, params) != at:  # pragma: no cover - a wrong expression
        return None
    return program


class _ByExpression(dict[Any, Any]):
    """Operator rules' results by (operator, attributes, input), a traced size or count keyed
    by its expression's structure (constants with their types): the same rule on the same
    expressions decides the same and computes the same, so a repeated layer (a stage's blocks
    after its first) takes the first one's results, its guards already recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.structures: dict[int, tuple[Any, Any]] = {}
        """Each expression node's structure, by the node's ``id`` (with the node, kept
        alive)."""

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(self._key(key), default)

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(self._key(key), value)

    def _key(self, key: tuple[Any, Any, Shape, bool]) -> tuple[Any, ...]:
        op, attrs, x, ids = key
        dims = tuple(self._structure(d.expr) if isinstance(d, Sym) else d for d in x)
        if any(isinstance(v, Sym) for v in attrs.__dict__.values()):  # a traced count
            fields = attrs.__dict__.items()
            attrs = tuple(
                (k, self._structure(v.expr) if isinstance(v, Sym) else v) for k, v in fields
            )
        return (op, attrs, dims, ids)

    def _structure(self, node: Any) -> Any:
        known = self.structures.get(id(node))
        if known is not None and known[0] is node:
            return known[1]
        if isinstance(node, n.Const):
            made: Any = (n.Const, type(node.value), node.value)
        elif isinstance(node, n.Expr):
            fields = [f for f in node.__dataclass_fields__ if f not in _AT]
            made = (type(node), *(self._structure(getattr(node, f)) for f in fields))
        elif isinstance(node, tuple):
            made = tuple(self._structure(item) for item in node)
        else:  # an operator's or a name's text
            return node
        self.structures[id(node)] = (node, made)  # (the node kept: its id stays its own)
        return made


def _function(code: str, where: str) -> Callable[..., Any] | None:
    """The function ``figures`` that ``code`` defines, or ``None`` past CPython's limits."""
    namespace: dict[str, Any] = {"__builtins__": _BUILTINS}
    try:
        exec(compile(code, where, "exec"), namespace)  # noqa: S102 (our own code)
    except (SyntaxError, RecursionError, MemoryError):  # pragma: no cover - CPython's limits
        return None
    return cast(Callable[..., Any], namespace["figures"])


_AT = frozenset({"start", "end"})
"""An expression node's position, not part of what it computes."""


_BUILTINS: dict[str, Any] = {
    **{name: functools.partial(call_function, name) for name in TRACED_CALLS},
    "int": int,  # (the spec's functions of these names compute as Python's on numbers,
    "max": max,  # their bounds guards of the trace; rules' arithmetic calls them unbounded)
    "min": min,
    "abs": abs,
    "bool": bool,
}
_CALLS = frozenset(_BUILTINS)
_BUILTINS["type"] = type  # (a guard's test of a count's kind; no spec function)
_BINARY = frozenset({"+", "-", "*", "/", "//", "%", "**"})
_COMPARE = frozenset({"<", "<=", ">", ">=", "==", "!="})


def _source(names: list[str], guards: list[Guard], results: list[Any]) -> str:
    """The function ``figures(d1, d2, …)``: the guards in order, then the results."""
    writer = _Writer(names)
    for op, left, right, truth in guards:
        if op == "truth":
            test = writer.value(left)
        elif op == "int":  # (a count's kind: see evaluate.counted)
            test = f"type({writer.value(left)}) is int"
        elif op in _COMPARE:
            test = f"{writer.value(left)} {op} {writer.value(right)}"
        else:  # pragma: no cover - Trace records no other
            raise _Unsupported(op)
        writer.guard(test, truth)
    if any(not isinstance(r, Sym | int) or isinstance(r, bool) for r in results):
        raise _Unsupported(repr(results))
    values = [writer.value(r.expr) if isinstance(r, Sym) else repr(r) for r in results]
    body = "\n".join(writer.lines)
    return f"def figures({', '.join(names)}):\n{body}\n    return ({', '.join(values)},)\n"


class _Writer:
    """Python statements computing expressions, each compound node once (``t0 = …``),
    operands before the nodes that read them (an explicit stack: residuals nest as deep as
    the network)."""

    def __init__(self, names: list[str]) -> None:
        self.names = set(names)
        self.lines: list[str] = []
        self.done: dict[int, str] = {}
        self.by_code: dict[str, str] = {}
        self.guarded: set[str] = set()
        self.keep: list[n.Expr] = []  # ids stay valid while the nodes live

    def value(self, root: n.Expr) -> str:
        stack: list[tuple[n.Expr, bool]] = [(root, False)]
        while stack:
            node, ready = stack.pop()
            if id(node) in self.done:
                continue
            parts = _parts(node)
            if not ready:
                stack.append((node, True))
                stack.extend((p, False) for p in parts if id(p) not in self.done)
                continue
            self.done[id(node)] = self._write(node)
            self.keep.append(node)
            if len(self.done) > MAX_NODES:
                raise _Unsupported("too many nodes")
        return self.done[id(root)]

    def _write(self, node: n.Expr) -> str:
        if isinstance(node, n.Const):
            value = node.value
            if isinstance(value, float) and not math.isfinite(value):
                raise _Unsupported(repr(value))
            if not isinstance(value, int | float | bool) and value is not None:
                raise _Unsupported(repr(value))
            return f"({value!r})" if isinstance(value, int | float) and value < 0 else repr(value)
        if isinstance(node, n.Name):
            if node.id not in self.names:
                raise _Unsupported(node.id)
            return node.id
        v = self.done
        if isinstance(node, n.Binary):
            if node.op not in _BINARY:
                raise _Unsupported(node.op)
            code = f"{v[id(node.left)]} {node.op} {v[id(node.right)]}"
        elif isinstance(node, n.OpChain):  # one precedence, left to right: as Python reads it
            code = v[id(node.values[0])]
            for index, (op, item) in enumerate(zip(node.ops, node.values[1:], strict=True)):
                if op not in _BINARY:
                    raise _Unsupported(op)
                if index and index % CHAIN == 0:  # a statement per stretch: CPython's
                    code = self._line(code)  # compiler recurses along a chain
                code = f"{code} {op} {v[id(item)]}"
        elif isinstance(node, n.Unary):
            code = f"{node.op}{v[id(node.operand)]}"
        elif isinstance(node, n.Not):
            code = f"not {v[id(node.operand)]}"
        elif isinstance(node, n.BoolOp):
            code = f" {node.op} ".join(v[id(item)] for item in node.values)
        elif isinstance(node, n.IfExp):
            code = f"{v[id(node.body)]} if {v[id(node.test)]} else {v[id(node.orelse)]}"
        elif isinstance(node, n.Compare):
            if any(op not in _COMPARE for op in node.ops):
                raise _Unsupported(node.ops)
            code = v[id(node.left)] + "".join(
                f" {op} {v[id(c)]}" for op, c in zip(node.ops, node.comparators, strict=True)
            )
        elif isinstance(node, n.Call):
            func = node.func
            if not isinstance(func, n.Name) or func.id not in _CALLS or node.kwargs:
                raise _Unsupported(func)
            code = f"{func.id}({', '.join(v[id(a)] for a in node.args)})"
        else:
            raise _Unsupported(type(node).__name__)
        return self._line(code)

    def _line(self, code: str) -> str:
        """A name for ``code``'s value: a new statement, or the one that computes it."""
        name = self.by_code.get(code)  # the same computation written elsewhere: once
        if name is None:
            name = self.by_code[code] = f"t{len(self.by_code)}"
            self.lines.append(f"    {name} = {code}")
        return name

    def guard(self, test: str, truth: bool) -> None:
        """``return None`` unless ``test`` is ``truth`` (a test already made: nothing)."""
        line = f"    if {'not ' if truth else ''}({test}):\n        return None"
        if line not in self.guarded:
            self.guarded.add(line)
            self.lines.append(line)


def _parts(node: n.Expr) -> tuple[n.Expr, ...]:
    """The operands :meth:`_Writer._write` reads."""
    if isinstance(node, n.Binary):
        return (node.left, node.right)
    if isinstance(node, n.OpChain | n.BoolOp):
        return node.values
    if isinstance(node, n.Unary | n.Not):
        return (node.operand,)
    if isinstance(node, n.IfExp):
        return (node.test, node.body, node.orelse)
    if isinstance(node, n.Compare):
        return (node.left, *node.comparators)
    if isinstance(node, n.Call):
        return node.args
    return ()
