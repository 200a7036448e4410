"""Attribute types shared by operator declarations, each with its expectation in words."""

from __future__ import annotations

from typing import Annotated, Literal

from annotated_types import Ge, Gt, Le
from pydantic import BeforeValidator, Strict

from netspec.ops.base import CheckedByClass, Expect, KwOnly

PosInt = Annotated[int, Strict(), Gt(0)]
NonNegInt = Annotated[int, Strict(), Ge(0)]
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]


def _number(value: object) -> object:
    """A number attribute's value as given: ``true``/``false`` are not numbers (PyTorch's
    recurrent layers refuse a boolean dropout), integers are."""
    if isinstance(value, bool):
        raise ValueError("expects a number (true and false are not numbers)")
    return value


Number = BeforeValidator(_number)
Prob = Annotated[float, Number, Ge(0.0), Le(1.0)]

Count = Annotated[PosInt, Expect("a positive integer")]
OptCount = Annotated[PosInt | None, Expect("a positive integer or none")]
Divisor = Annotated[OptCount, CheckedByClass()]
"""A pooling's ``divisor_override``: PyTorch divides by any value but 0."""
Size = Annotated[
    PosInt | tuple[PosInt, ...],
    Expect("a positive integer, or one per spatial dimension"),
]
OptSize = Annotated[
    PosInt | tuple[PosInt, ...] | None,
    Expect("a positive integer, one per spatial dimension, or none"),
]
Padding = Annotated[
    NonNegInt | Literal["same", "valid"] | tuple[NonNegInt | tuple[NonNegInt, NonNegInt], ...],
    Expect(
        "a non-negative integer, one per spatial dimension, [before, after] pairs, "
        "'same' or 'valid'"
    ),
]
PoolPadding = Annotated[
    NonNegInt | tuple[NonNegInt, ...],
    Expect("a non-negative integer, or one per spatial dimension"),
]
AdaptiveSize = Annotated[
    PosInt | tuple[PosInt | None, ...],
    Expect("a positive integer, or one per spatial dimension (none keeps the input size)"),
]
Flag = Annotated[Bool, Expect("true or false")]
Probability = Annotated[Prob, Expect("a probability between 0 and 1")]
PositiveFloat = Annotated[float, Number, Gt(0.0), Expect("a positive number")]
Eps = Annotated[PositiveFloat, CheckedByClass()]
"""A normalisation's ``eps``: PyTorch divides by the root of a variance plus any value."""
Float = Annotated[float, Number, Expect("a number")]
Declared = Annotated[
    PosInt | None,
    KwOnly(),
    Expect("a positive integer (a check: the value is inferred from the input)"),
]
