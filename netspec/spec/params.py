"""Spec parameters: their types, and binding overrides from ``--set`` or keyword arguments.

A parameter's type is its default's type (integer, number, boolean, text or list). An override
must have that type (an integer is accepted for a number), and one of the declared ``choices``
if there are any; a declared ``require``, a condition over the params' values, must hold.
``--set`` values are read with the expression grammar, so ``--set depths=[3,4,23,3]`` and
``--set width=2*64`` work; a bare word is text for a text parameter.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netspec.errors import ExprError, NetspecError, Span, SpecError, choices_hint
from netspec.expr import nodes as n
from netspec.expr.evaluate import MAX_INT, MAX_ITEMS, MAX_STR, Scope, evaluate, show
from netspec.expr.render import render
from netspec.source.parser import parse_expr
from netspec.spec import models as m


@dataclass(frozen=True)
class Param:
    """A declared parameter."""

    name: str
    default: Any
    kind: str
    """``int``, ``float``, ``bool``, ``str`` or ``list``."""
    doc: str | None = None
    choices: tuple[Any, ...] | None = None
    span: Span | None = None
    require: m.Expression | None = None
    """A condition on the values given (see :func:`meets_requirement`)."""


def _freeze(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


MAX_NESTING = 100
"""Deepest nesting of lists a value given from Python may have (as in a spec's YAML)."""


class NotPlain(Exception):
    """A value given from Python that is not a value of the language, or is past its bounds."""


def plain(value: Any) -> Any:
    """``value`` as a value of the language, the way a spec or ``--set`` could have given it:
    ``None``, a boolean, an integer of at most 2**62, a finite float, text (at most 10,000
    characters, UTF-8), a list (a tuple; at most 100,000 items in all, 100 levels deep) or a
    mapping of those — each of the exact built-in type, so that no subclass's ``__repr__``
    reaches generated source.

    Raises:
        NotPlain: what is wrong, in words.
    """
    budget = [MAX_ITEMS]

    def walk(item: Any, depth: int) -> Any:
        if item is None or isinstance(item, bool):
            return item
        if isinstance(item, int):
            number = int.__index__(item)
            if abs(number) > MAX_INT:
                raise NotPlain("the integer is too large (more than 2**62)")
            return number
        if isinstance(item, float):
            real = float.__float__(item)
            if not math.isfinite(real):
                raise NotPlain(f"{real!r} is not a finite number")
            return real
        if isinstance(item, str):
            text = str.__str__(item)
            if len(text) > MAX_STR:
                raise NotPlain(f"the text is longer than {MAX_STR:,} characters")
            if not text.isascii():
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    raise NotPlain(
                        "the text holds half of a UTF-16 surrogate pair, not a character"
                    ) from None
            return text
        if isinstance(item, list | tuple | dict):
            if depth >= MAX_NESTING:
                raise NotPlain(f"the value nests deeper than {MAX_NESTING} levels")
            budget[0] -= len(item)
            if budget[0] < 0:
                raise NotPlain(f"the value holds more than {MAX_ITEMS:,} items in all")
            if isinstance(item, dict):
                out = {}
                for key, inner in item.items():
                    key = walk(key, depth + 1)
                    if isinstance(key, tuple | dict):
                        raise NotPlain("a mapping's keys are numbers, true/false, text or none")
                    out[key] = walk(inner, depth + 1)
                return out
            return tuple(walk(inner, depth + 1) for inner in item)
        raise NotPlain(
            f"a value of type {type(item).__name__} is not one of the language's "
            "(numbers, true/false, text, none, lists)"
        )

    return walk(value, 0)


def _kind(value: Any) -> str:
    """``int``, ``float``, ``bool``, ``str`` or ``list`` (a parameter's kinds), or ``other``."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list | tuple):
        return "list"
    return "other"  # none, a mapping, or anything else a keyword argument may be


def _fits(kind: str, want: str) -> bool:
    """Whether a value of ``kind`` suits ``want`` (an integer suits a number)."""
    return kind == want or (want == "float" and kind == "int")


_WORDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "str": "text",
    "list": "a list",
}

_PLURAL = {
    "int": "integers",
    "float": "numbers",
    "bool": "true/false values",
    "str": "text values",
    "list": "lists",
}


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
"""Text wrapped in one pair of quotes, which a param's text holds only by mistake."""


def _unquoted_hint(inner: str, span: Span | None) -> str:
    """How to write text in a param, in the format of the file that declares it."""
    if span is not None and span.file.endswith(".ns"):
        return f'write the text in one pair of quotes: "{inner}"'
    return f"write the text as '{inner}' (YAML's own quotes are not part of it)"


def declared(spec: m.SpecFile) -> dict[str, Param]:
    """The parameters a spec declares, in order, with their defaults checked.

    Raises:
        SpecError: a default is not among its choices, or a ``require`` reads no param.
    """
    out: dict[str, Param] = {}
    for name, raw in spec.params.items():
        span = spec.key_span(f"params.{name}")
        if isinstance(raw, m.ParamDecl):
            default = _freeze(raw.default)
            choices = tuple(_freeze(c) for c in raw.choices) if raw.choices is not None else None
            kind = _kind(default)
            param = Param(name, default, kind, raw.doc, choices, raw.span or span, raw.require)
        else:
            default = _freeze(raw)
            param = Param(name, default, _kind(default), span=span)
        if param.kind == "list" and item_kind(param.default) == "float":
            # a list of numbers, integers among them, holds floats, as a value given for it
            # is bound (`[2, 0.5]` is (2.0, 0.5): `8 // r[0]` is 4.0 at the default too)
            param = dataclasses.replace(param, default=tuple(float(v) for v in param.default))
        for text in (param.default, *(param.choices or ())):
            if isinstance(text, str) and _QUOTED.fullmatch(text):  # `mode: "'bilinear'"`
                raise SpecError(
                    f"the value {show(text)} of {name!r} holds quote marks as part of its text",
                    param.span,
                    f"params.{name}",
                    hint=_unquoted_hint(text[1:-1], param.span),
                )
        if param.choices is not None and param.default not in param.choices:
            raise SpecError(
                f"the default {show(param.default)} of {name!r} is not one of its choices "
                f"{', '.join(show(c) for c in param.choices)}",
                param.span,
                f"params.{name}",
            )
        out[name] = param
    for param in out.values():
        code = param.require
        if code is not None and not n.value_names(code.expr):  # (unknown names: at bind)
            raise SpecError(
                "require is a condition on the params' values, and this one reads none",
                code.span,
                f"params.{param.name}.require",
                hint=f"compare the param, as in require: {_example_condition(param)}",
            )
    return out


def check(param: Param, value: Any, where: str) -> Any:
    """``value`` if it suits ``param`` (lists frozen, integers widened for numbers).

    Raises:
        NetspecError: wrong type, or not one of the choices.
    """
    try:
        value = plain(value)
    except NotPlain as exc:
        raise NetspecError(f"{param.name}: {exc}", where=where, hint=param.doc) from None
    if not _fits(_kind(value), param.kind):
        raise NetspecError(
            f"{param.name} expects {_WORDS[param.kind]} (like its default {show(param.default)}), "
            f"found {show(value)}",
            where=where,
            hint=param.doc,
        )
    if param.kind == "float":
        value = float(value)
    elif param.kind == "list":
        want = item_kind(param.default)
        if want is not None:
            for item in value:
                if not _fits(_kind(item), want):
                    raise NetspecError(
                        f"{param.name} is a list of {_PLURAL[want]}, found {show(item)} "
                        f"in {show(value)}",
                        where=where,
                        hint=param.doc,
                    )
            if want == "float":
                value = tuple(float(item) for item in value)
    if param.choices is not None and value not in param.choices:
        raise NetspecError(
            f"{choices_message(param)}, found {show(value)}", where=where, hint=param.doc
        )
    return value


def choices_message(param: Param) -> str:
    """What a value outside ``param``'s choices is told (by ``check``, and by the generated
    class, which cannot say the value in the spec's words)."""
    assert param.choices is not None
    return f"{param.name} must be one of {', '.join(show(c) for c in param.choices)}"


def requirement_message(param: Param) -> str:
    """What values failing ``param``'s ``require`` are told (by ``check``, with the values, and
    by the generated class)."""
    assert param.require is not None
    return f"{param.name} requires {render(param.require.expr)}"


def _example_condition(param: Param) -> str:
    """A ``require`` condition on ``param``, for hints."""
    examples = {"list": f"len({param.name}) == 3", "bool": f"{param.name} or …", "str": ""}
    return examples.get(param.kind) or (
        f"{param.name} != ''" if param.kind == "str" else f"{param.name} > 0"
    )


def meets_requirement(param: Param, values: Mapping[str, Any]) -> None:
    """Check ``param``'s ``require``, a condition on the params' ``values`` (every param
    bound): it must be true.

    Raises:
        NetspecError: it is false (at the condition, naming the values it read), or it is not
            a truth value, or it cannot be evaluated.
    """
    code = param.require
    if code is None:
        return
    where = f"params.{param.name}.require"
    try:
        holds = evaluate(code.expr, Scope(dict(values)))
    except ExprError as exc:
        raise exc.locate(code.span, where) from None
    if not isinstance(holds, bool):
        raise SpecError(
            f"require is a condition, true or false, found {show(holds)}",
            code.span,
            where,
            hint=f"compare, as in require: {_example_condition(param)}",
        )
    if not holds:
        read = n.value_names(code.expr)
        found = ", ".join(f"{k} = {show(v)}" for k, v in values.items() if k in read)
        raise SpecError(
            f"{requirement_message(param)}, found {found}", code.span, where, hint=param.doc
        )


def item_kind(default: Any) -> str | None:
    """The kind every item of a list default has (integers and numbers mixed: numbers), or
    ``None`` when the items differ or there are none: then items are not checked."""
    kinds = {_kind(v) for v in default}
    if kinds == {"int", "float"}:
        return "float"
    return kinds.pop() if len(kinds) == 1 else None


def _unknown(name: str, params: Mapping[str, Param], origin: str) -> NetspecError:
    hint = choices_hint(name, params, "parameters")
    return NetspecError(f"the spec has no parameter {name!r}", where=f"{origin} {name}", hint=hint)


def bind(
    params: Mapping[str, Param], overrides: Mapping[str, Any], origin: str = "--set"
) -> dict[str, Any]:
    """Every parameter's value: its default unless overridden.

    Args:
        params: the declared parameters.
        overrides: values by name (from ``--set`` after :func:`parse_assignment`, or keywords).
        origin: how overrides were given, for messages (``--set`` or ``keyword``).

    Raises:
        NetspecError: an unknown parameter, a value of the wrong type, or values that fail a
            parameter's ``require``.
    """
    values = {name: p.default for name, p in params.items()}
    for name, value in overrides.items():
        if name not in params:
            raise _unknown(name, params, origin)
        values[name] = check(params[name], value, f"{origin} {name}")
    for param in params.values():
        meets_requirement(param, values)
    return values


def parse_assignment(text: str, params: Mapping[str, Param] | None = None) -> tuple[str, Any]:
    """Read ``NAME=VALUE`` as given to ``--set``.

    The name is checked before the value is read, when ``params`` are given: a misspelt
    name is reported as such, not as a value that does not parse.

    Raises:
        NetspecError: no ``=``, an unknown name, or a value that is not a literal.
    """
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise NetspecError(
            f"--set expects NAME=VALUE, found {text!r}", hint="e.g. --set num_classes=10"
        )
    if params is not None and name not in params:
        raise _unknown(name, params, "--set")
    return name, parse_value(raw.strip(), name, params.get(name) if params else None)


def parse_value(raw: str, name: str, param: Param | None = None) -> Any:
    """A ``--set`` value: a literal or constant expression; for a text param, also text that
    is no literal, as written (``mode=slow``, ``tag=fast-x``: a value names nothing, so such
    text cannot be meant as an expression)."""
    where = f"--set {name}"
    text = param is not None and param.kind == "str"
    keywords = ("true", "false", "none", "True", "False", "None")
    if text and raw.isidentifier() and raw not in keywords:
        return raw
    try:
        node = parse_expr(raw, n.Origin(raw, None), "value")
        return evaluate(node, Scope())
    except (ExprError, NetspecError) as exc:
        if text and raw and raw[0] not in "'\"[(" and raw.isprintable():
            return raw  # not an attempt at a literal: quotes and brackets say one is meant
        if not isinstance(exc, ExprError):
            raise NetspecError(f"{name}: {exc.message}", where=where, hint=exc.hint) from None
        raise NetspecError(
            f"{name}: {exc.message}",
            where=where,
            hint="values are literals: 10, 0.5, true, none (YAML's null), [3, 4, 6, 3], 'text'",
        ) from None
