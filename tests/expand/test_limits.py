"""The expansion's bounds: a tree of blocks without layers is bounded like one of layers, and a
block that contains itself is a positioned error."""

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
    ("blocks", "cycle"),
    [
        ("  A:\n    body: [a: A]\n", "A → A"),
        ("  A:\n    body: [b: B]\n  B:\n    body: [a: A]\n", "A → B → A"),
    ],
)
def test_a_block_that_contains_itself_is_refused_at_the_block(blocks: str, cycle: str) -> None:
    text = f"netspec: 1\nname: t\ninput: [3, 8, 8]\nblocks:\n{blocks}layers:\n  - a: A\n"
    with pytest.raises(SpecError) as info:
        netspec.loads(text, name="cycle.yaml").check()
    err = info.value
    assert err.message == f"block A uses itself ({cycle})"
    assert err.span is not None and (err.span.line, err.span.col) == (5, 3)
