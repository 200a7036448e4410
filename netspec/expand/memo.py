"""What analyses share: hashable forms of values, and the results expansions of one spec at
different values may reuse (``netspec sweep``)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from netspec.errors import Span


@dataclass
class Memo:
    """What expansions of one spec at different values can share (``netspec sweep``): results
    that are functions of their keys alone, whatever the params."""

    applied: dict[Any, Any] = field(default_factory=dict)
    """Operator rules' results by (operator, attributes, input), see
    :func:`~netspec.infer.apply`."""
    validated: dict[Any, Any] = field(default_factory=dict)
    """Operator attributes by (operator, frozen argument values)."""
    spans: dict[tuple[int, int], Span | None] = field(default_factory=dict)
    """The span of each layer call (by the ``id`` of its entry and of its callee's name)."""


_SCALARS = frozenset({int, float, str, bool, type(None)})


def freeze(value: Any) -> Any:
    """A hashable, type-exact form of a value: ``True``, ``1`` and ``1.0`` differ, as do a
    list and a tuple (they render differently); a dict's items keep their order."""
    kind = type(value)
    if kind in _SCALARS:
        return (kind.__name__, value)
    if kind is dict:  # most values given are scalars, or a dict of them: those inline
        items = []
        for k, v in value.items():
            kv = type(v)
            items.append(
                (
                    ("str", k) if type(k) is str else freeze(k),
                    (kv.__name__, v) if kv in _SCALARS else freeze(v),
                )
            )
        return ("dict", tuple(items))
    if isinstance(value, dict):
        return ("dict", tuple((freeze(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(freeze(v) for v in value))
    return (type(value).__name__, value)


def frozen_dict(frozen: dict[str, Any], leave_out: frozenset[str] = frozenset()) -> Any:
    """:func:`freeze` of the arguments whose values' frozen forms are ``frozen`` (by name),
    leaving out those named in ``leave_out``."""
    return ("dict", tuple((("str", k), v) for k, v in frozen.items() if k not in leave_out))


def cached(memo: dict[Any, Any], key: Any) -> Any:
    """``memo[key]``, or ``None`` where it is missing or the key cannot be hashed."""
    try:
        return memo.get(key)
    except TypeError:
        return None


def cache(memo: dict[Any, Any], key: Any, value: Any) -> None:
    """``memo[key] = value``, unless the key cannot be hashed."""
    with contextlib.suppress(TypeError):
        memo[key] = value
