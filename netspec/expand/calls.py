"""Layer calls: resolving ``conv2d(64, 3, padding=1)`` to an operator and its attributes.

Shared by expansion (concrete values) and code generation (symbolic values), so a call means
the same thing in a summary and in generated source.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, cast

from netspec import ops
from netspec.errors import ExprError, Span, SpecError, choices_hint, did_you_mean
from netspec.expr import nodes as n
from netspec.expr.evaluate import Scope, evaluate, evaluate_in
from netspec.ops.base import Op

Wrap = Callable[[n.Expr, Any], Any]
"""Turns an argument's expression and value into the value an attribute holds."""


class Spans:
    """Where each argument of a call is, worked out only when an error asks."""

    __slots__ = ("_args", "_origin")

    def __init__(self, origin: n.Origin) -> None:
        self._args: dict[str, n.Expr] = {}
        self._origin = origin

    def add(self, key: str, node: n.Expr) -> None:
        self._args[key] = node

    def get(self, key: str, default: Span | None = None) -> Span | None:
        node = self._args.get(key)
        return _span_of(node, self._origin) if node is not None else default

    def key(self, key: str, default: Span | None = None) -> Span | None:
        """Where the keyword ``key=`` of an argument is (a misspelt one is pointed at), else
        the argument's span."""
        node = self._args.get(key)
        if node is None:
            return default
        origin = node.origin if isinstance(node, n.Located) else self._origin
        start = node.node.start if isinstance(node, n.Located) else node.start
        before = origin.text[:start].rstrip()
        if before.endswith("=") and before[:-1].rstrip().endswith(key):
            end = len(before[:-1].rstrip())
            return origin.span_at(end - len(key), end) or self.get(key, default)
        return self.get(key, default)


def evaluate_at(node: n.Expr, origin: n.Origin | None, scope: Scope, where: str | None) -> Any:
    """Evaluate a sub-expression of a text, positioning errors through ``origin``."""
    kind = type(node)
    if kind is n.Const:  # a literal or a name in scope: nothing to position
        return cast(n.Const, node).value
    if kind is n.Name:
        ident = cast(n.Name, node).id
        frame: Scope | None = scope
        while frame is not None:
            names = frame.names
            if ident in names:
                return names[ident]
            frame = frame.parent
    try:
        if origin is not None and kind is not n.Located:
            return evaluate_in(node, origin, scope)
        return evaluate(node, scope)
    except ExprError as exc:
        raise exc.locate(None, where) from None


def func_name(call: n.Expr) -> n.Name:
    """The name a layer call applies (``conv2d`` in ``conv2d(64, 3)`` and in ``conv2d``)."""
    func = call.func if isinstance(call, n.Call) else call
    assert isinstance(func, n.Name), call
    return func


def resolve(call: n.Expr, origin: n.Origin, where: str, blocks: Collection[str] = ()) -> Op:
    """The operator a call names (``blocks``: the spec's blocks, which a misspelt name may
    have meant).

    Raises:
        SpecError: no operator by that name (with the closest names).
    """
    func = func_name(call)
    op = ops.get(func.id)
    if op is None:
        guess = did_you_mean(func.id, blocks)
        if guess and guess == did_you_mean(func.id, [*blocks, *ops.names()]):
            # TemporalBlok(…): a block misspelt, closer to it than to any operator
            raise SpecError(
                f"unknown operator or block {func.id!r}",
                origin.span_at(func.start, func.end),
                where,
                hint=choices_hint(func.id, blocks, "blocks"),
            )
        raise SpecError(
            f"unknown operator {func.id!r}",
            origin.span_at(func.start, func.end),
            where,
            hint=choices_hint(func.id, ops.names(), "operators"),
        )
    return op


def bind(
    op: Op,
    call: n.Expr,
    origin: n.Origin,
    scope: Scope,
    where: str,
    wrap: Wrap | None = None,
) -> tuple[dict[str, Any], Spans]:
    """Evaluate a call's arguments and match them to ``op``'s attributes.

    Returns the attribute values given and the span of each, for messages.

    Raises:
        SpecError: too many positional arguments, or one attribute given twice.
        ExprError: an argument cannot be evaluated.
    """
    return bind_names(op.name, op.positional(), call, origin, scope, where, wrap)


def bind_names(
    callee: str,
    positional: list[str],
    call: n.Expr,
    origin: n.Origin,
    scope: Scope,
    where: str,
    wrap: Wrap | None = None,
    skip: int = 0,
) -> tuple[dict[str, Any], Spans]:
    """Like :func:`bind`, for any callee with ``positional`` argument names; the first ``skip``
    positional arguments are not bound (``stage``'s block)."""
    values: dict[str, Any] = {}
    spans = Spans(origin)
    if not isinstance(call, n.Call):
        return values, spans
    args = call.args[skip:]
    if len(args) > len(positional):
        raise _too_many(callee, positional, call, origin, where, skip)
    nodes = spans._args
    for key, arg in (*zip(positional, args, strict=False), *call.kwargs):
        if key in values:
            raise SpecError(
                f"{callee} got {key!r} twice (by position and by keyword)",
                _span_of(arg, origin),
                where,
            )
        value = evaluate_at(arg, origin, scope, where)
        values[key] = wrap(arg, value) if wrap else value
        nodes[key] = arg
    return values, spans


def _too_many(
    callee: str, positional: list[str], call: n.Call, origin: n.Origin, where: str, skip: int
) -> SpecError:
    args = call.args[skip:]
    extra = args[len(positional)]
    return SpecError(
        f"{callee} takes at most {len(positional)} positional arguments "
        f"({', '.join(positional)}), found {len(args)}",
        origin.span_at(extra.start, extra.end) or origin.span_at(call.start, call.end),
        where,
    )


def check_form(
    callee: str,
    positional: list[str],
    keywords: Collection[str],
    noun: str,
    call: n.Expr,
    origin: n.Origin,
    where: str,
    skip: int = 0,
) -> None:
    """Refuse, from the text alone, a call of ``callee`` with more positional arguments than
    ``positional`` names, or a keyword that is none of ``keywords`` (its ``noun``s: an
    operator's attributes, a block's parameters): what binding it says wherever the call is
    written, in a branch the values do not take too (the generated class would build the layer
    without the misspelt argument).

    Raises:
        SpecError: the first such argument, at it (a keyword at its name).
    """
    if not isinstance(call, n.Call):
        return
    if len(call.args) - skip > len(positional):
        raise _too_many(callee, positional, call, origin, where, skip)
    for key, arg in call.kwargs:
        if key not in keywords:
            spans = Spans(origin)
            spans.add(key, arg)
            raise SpecError(
                f"{callee} has no {noun} {key!r}",
                spans.key(key, _span_of(arg, origin)),
                where,
                hint=choices_hint(key, keywords, f"{noun}s"),
            )


def _span_of(node: n.Expr, origin: n.Origin) -> Span | None:
    if isinstance(node, n.Located):
        return node.origin.span_at(node.node.start, node.node.end) or node.origin.span
    return origin.span_at(node.start, node.end)
