"""Merges' shape rules on symbolic sizes and integer ids (``netspec/ops/merge.py``)."""

from __future__ import annotations

import pytest

from netspec.expr import nodes as n
from netspec.expr.evaluate import Sym, as_expr
from netspec.expr.render import render
from netspec.ops.base import Ids, OpError, is_ids
from netspec.ops.merge import MERGES, split_channels


def sym(text: str) -> Sym:
    from netspec.source.parser import parse_expr

    return Sym(n.strip(parse_expr(text)))


def shown(shape: tuple[object, ...]) -> list[str]:
    return [render(as_expr(d), python=True) for d in shape]


def test_a_shortcut_that_projects_unless_the_channels_match_adds_to_its_width() -> None:
    """``out if (stride != 1 or c != out) else c`` is ``out`` whichever side is taken, so its
    sum with the main path's ``out`` channels is ``out``, not ``max(…)`` of the two."""
    shortcut = sym("out if stride != 1 or c != out else c")
    y = MERGES["add"].infer([(shortcut, 4), (sym("out"), 4)])
    assert shown(y) == ["out", "4"]
    flipped = sym("out if out != c else c")
    assert shown(MERGES["mul"].infer([(flipped, 4), (sym("out"), 4)])) == ["out", "4"]


@pytest.mark.parametrize(
    "text",
    [
        "out if stride != 1 else c",  # c may differ from out where the test is false
        "out if c == out else c",
        "out if c != other else c",
        "out if stride != 1 and c != out else c",  # one false part need not be `c != out`
    ],
)
def test_a_choice_whose_sides_may_differ_stays_a_maximum(text: str) -> None:
    y = MERGES["add"].infer([(sym(text), 4), (sym("out"), 4)])
    assert shown(y)[0] == f"max({text}, out)"


def test_a_merge_of_a_merge_takes_the_largest_of_each_size_once() -> None:
    """``max(max(a, b), b)`` is ``max(a, b)``: a merge of two inputs merged again with one of
    them (a recursive block adding its other input level after level) keeps one maximum."""
    once = MERGES["add"].infer([(sym("a"), 4), (sym("b"), 4)])
    assert shown(once) == ["max(a, b)", "4"]
    again = MERGES["mul"].infer([once, (sym("b"), 4)])
    assert shown(again) == ["max(a, b)", "4"]
    assert shown(MERGES["add"].infer([again, (sym("c"), 4)])) == ["max(a, b, c)", "4"]


def test_ids_stay_ids_only_where_pytorch_keeps_them() -> None:
    ids = Ids((4, 5))
    assert is_ids(MERGES["add"].infer([ids, Ids((4, 5))]))
    assert not is_ids(MERGES["add"].infer([ids, (4, 5)]))  # type promotion
    assert is_ids(MERGES["crop"].infer([Ids((4, 9)), (4, 5)]))
    with pytest.raises(OpError, match="resize interpolates floating-point tensors"):
        MERGES["resize"].infer([Ids((4, 9)), (4, 5)])
    assert all(is_ids(part) for part in split_channels(Ids((4, 5)), 2))
    assert not any(is_ids(part) for part in split_channels((4, 5), 2))
