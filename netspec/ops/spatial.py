"""The one spatial-size rule shared by every convolution and pooling operator.

PyTorch computes each output size as

    out = ⌊(in + pad_before + pad_after − dilation·(kernel − 1) − 1 [+ stride − 1]) / stride⌋ + 1

(the bracketed term in ceil mode only)
and, in ceil mode, drops the last window if it would start inside the right padding
(``(out − 1)·stride ≥ in + pad_before``). Both are here once, for numbers and for symbols.
"""

from __future__ import annotations

from typing import Any

from netspec.expr import nodes as n
from netspec.expr.evaluate import Sym, as_expr, concrete, known
from netspec.ops.base import Dim, OpError, items


def ntuple(value: Any, count: int, attr: str, op: str) -> tuple[Any, ...]:
    """``value`` as one entry per spatial dimension: ``3 → (3, 3)``, ``(3, 5) → (3, 5)``."""
    if isinstance(value, Sym):
        inner = concrete(value)
        if isinstance(value.expr, n.ListExpr):
            found = len(value.expr.items)
            if found != count:
                raise OpError(f"{op}: {attr} needs {count} values, found {found}", attr=attr)
            # each entry symbolic, its value known where the list's is (or where it is a
            # literal): an entry of a list that reads the input is not known until run time
            return items(value)
        if isinstance(inner, tuple):
            return tuple(Sym(n.Index(value.expr, n.Const(i)), v) for i, v in enumerate(inner))
        if not known(value):
            return (value,) * count
        return ntuple(inner, count, attr, op) if isinstance(inner, tuple) else (value,) * count
    if isinstance(value, tuple | list):
        if len(value) != count:
            dims = "one per spatial dimension"
            raise OpError(
                f"{op}: {attr} needs {count} value{'s' if count > 1 else ''} ({dims}), "
                f"found {len(value)}",
                attr=attr,
            )
        return tuple(value)
    return (value,) * count


def padding_pairs(value: Any, count: int, op: str) -> tuple[tuple[Any, Any], ...]:
    """Padding as ``(before, after)`` per spatial dimension.

    Accepts an integer (all sides), one integer per dimension (symmetric), or one
    ``[before, after]`` pair per dimension (asymmetric).
    """
    if isinstance(value, str):
        if value == "valid":
            return ((0, 0),) * count
        raise AssertionError(value)  # "same" is handled by the caller
    items = ntuple(value, count, "padding", op)
    pairs = []
    for item in items:
        if isinstance(item, tuple | list):
            if len(item) != 2:
                raise OpError(
                    f"{op}: a padding pair is [before, after], found {len(item)} values",
                    attr="padding",
                )
            pairs.append((item[0], item[1]))
        else:
            pairs.append((item, item))
    return tuple(pairs)


def is_asymmetric(pairs: tuple[tuple[Any, Any], ...]) -> bool:
    """Whether any dimension pads its two sides differently (or maybe differently)."""
    return any(as_expr(a) != as_expr(b) for a, b in pairs)


def out_size(
    size: Dim,
    kernel: Any,
    stride: Any,
    before: Any,
    after: Any,
    dilation: Any = 1,
    ceil_mode: bool = False,
) -> Dim:
    """PyTorch's output size of one spatial dimension (see the module docstring)."""
    span = dilation * (kernel - 1) + 1
    numerator = size + before + after - span
    if not ceil_mode:
        return numerator // stride + 1
    out = (numerator + stride - 1) // stride + 1
    last_start = (out - 1) * stride
    limit = size + before
    if known(last_start, limit):
        return out - 1 if concrete(last_start) >= concrete(limit) else out
    test = n.Compare(as_expr(last_start), (">=",), (as_expr(limit),))
    return Sym(n.IfExp(test, as_expr(out - 1), as_expr(out)))


def effective_kernel(kernel: Any, dilation: Any) -> Any:
    return dilation * (kernel - 1) + 1


def explain_size(
    axis: str,
    size: int,
    kernel: int,
    stride: int,
    before: int,
    after: int,
    dilation: int,
    result: int,
    ceil_mode: bool = False,
) -> str:
    """The textbook line ``H: (224 − 3 + 2·1) / 1 + 1 = 224`` for one dimension."""
    f = f"{kernel}" if dilation == 1 else f"{dilation}·({kernel}−1)+1"
    pad = f"2·{before}" if before == after else f"{before}+{after}"
    bracket = ("⌈", "⌉") if ceil_mode else ("⌊", "⌋")
    core = f"({size} − {f} + {pad}) / {stride}"
    if stride != 1 or ceil_mode:
        core = f"{bracket[0]}{core}{bracket[1]}"
    return f"{axis}: {core} + 1 = {result}"
