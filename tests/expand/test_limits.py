"""The expansion's bounds: a tree of blocks without layers is bounded like one of layers, a block
that contains itself with no condition to end it is a positioned error, and a recursion that
does not end within the nesting bound is one too (never a hang)."""

from __future__ import annotations

import pytest

import netspec
from netspec.errors import SpecError


def doubling(levels: int) -> str:
    """Blocks ``B1`` … ``Bn``, each calling the one below it twice: 2^n blocks, no layer."""
    blocks = "  B0:\n    body: []\n"
    for i in range(1, levels + 1):
        blocks += f"  B{i}:\n    body:\n      - a: B{i - 1}\n      - b: B{i - 1}\n"
    return f"netspec: 1\nname: t\ninput: [3, 8, 8]\nblocks:\n{blocks}layers:\n  - top: B{levels}\n"


def test_a_small_tree_of_blocks_without_layers_is_a_network() -> None:
    summary = netspec.loads(doubling(4)).summary()
    assert summary["parameters"] == 0 and summary["output"] == [3, 8, 8]


def test_blocks_doubling_level_after_level_are_bounded_like_layers() -> None:
    # 2^30 blocks without a single layer: refused once 100,000 are made, not expanded
    with pytest.raises(SpecError) as info:
        netspec.loads(doubling(30), name="bomb.yaml").check()
    err = info.value
    assert err.message == "the network expands to more than 100,000 layers and blocks"
    assert err.span is not None and err.span.line > 0
    assert err.hint is not None and "doubles the tree" in err.hint


@pytest.mark.parametrize(
    ("blocks", "cycle", "at"),
    [
        ("  A:\n    body: [a: A]\n", "A → A", (6, 12)),
        ("  A:\n    body: [b: B]\n  B:\n    body: [a: A]\n", "A → B → A", (6, 12)),
        # a condition that reads no argument of the block cannot end it either
        ("  A:\n    body:\n      - if: true\n        then: [a: A]\n", "A → A", (8, 16)),
        ("  A:\n    body:\n      - s: stage(A, depth=2)\n", "A → A", (7, 9)),
    ],
)
def test_a_block_that_contains_itself_unconditionally_is_refused_at_the_call(
    blocks: str, cycle: str, at: tuple[int, int]
) -> None:
    text = f"netspec: 1\nname: t\ninput: [3, 8, 8]\nblocks:\n{blocks}layers:\n  - a: A\n"
    with pytest.raises(SpecError) as info:
        netspec.loads(text, name="cycle.yaml").check()
    err = info.value
    assert err.message == (
        f"block A calls itself with no condition that can end the recursion ({cycle})"
    )
    assert err.span is not None and (err.span.line, err.span.col) == at
    assert err.hint is not None and "if: depth > 0" in err.hint


RECURSIVE = """netspec: 1
name: t
input: [3, 8, 8]
params:
  n: 3
blocks:
  A:
    params: [d]
    body:
      - conv: conv2d(3, 1)
      - if: d > 0
        then:
          - b: B(d - 1)
  B:
    params: [d]
    body: [a: A(d)]
layers:
  - a: A(n)
"""


def test_a_guarded_recursion_ends_where_its_condition_does() -> None:
    net = netspec.loads(RECURSIVE).network
    paths = [node.path for node in net.root.children[0].children]
    assert paths == ["a.conv", "a.b"]
    assert net.totals.parameters == 4 * 12  # A at 3, 2, 1 and 0


@pytest.mark.parametrize("n", ["32", "10**9", "10**18"])
def test_a_recursion_that_does_not_end_in_time_is_an_error_not_a_hang(n: str) -> None:
    with pytest.raises(SpecError) as info:
        netspec.loads(RECURSIVE, name="deep.yaml", n=eval(n)).check()  # noqa: S307
    err = info.value
    assert err.message.startswith("unbounded recursion: A is still calling itself 32 blocks deep")
    assert " → B(d=" in err.message and " → … → " in err.message
    # at the call that went too deep: B's call of A
    assert err.span is not None and (err.span.line, err.span.col) == (16, 12)
    assert err.hint is not None and "become false" in err.hint


def test_a_recursion_as_deep_as_the_bound_allows_is_a_network() -> None:
    # A and B alternate: 15 levels of A are 30 blocks nested, below MAX_BLOCK_DEPTH
    assert netspec.loads(RECURSIVE, n=14).network.totals.parameters == 15 * 12
