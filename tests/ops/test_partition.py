"""MaxViT's ``partition_attention`` on its own: state_dict (torchvision's, the
``relative_position_index`` buffer kept as the s² × s² matrix torchvision keeps), parameters
and MACs (``FlopCounterMode``'s, QKᵀ and AV per partition included) for window and grid
partitions, the leaf modules it calls, the arithmetic ``--explain`` shows, the refusals (a
partition size that does not divide the map: MaxViT does not pad), and outputs equal to those
of torchvision's code (tests/ops/oracles.py) under the same weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import netspec
from tests.conftest import spec_text
from tests.ops import oracles

CASES = [
    # channels, height, width, the call
    (12, 14, 14, "partition_attention(4, 7)"),
    (12, 14, 14, "partition_attention(4, 7, 'grid')"),
    (8, 12, 8, "partition_attention(2, 4, mlp_ratio=2)"),  # windows on a map that is not square
    (8, 12, 8, "partition_attention(2, 4, 'grid')"),  # a grid 3×2 apart
    (8, 4, 4, "partition_attention(8, 4, 'grid', stochastic_depth_prob=0.2)"),  # one partition
]


@pytest.mark.parametrize(("c", "h", "w", "call"), CASES)
def test_state_macs_calls_and_a_forward_agree(c: int, h: int, w: int, call: str) -> None:
    oracles.layer_agrees(call, (c, h, w))


def test_the_layer_keeps_torchvisions_state_dict() -> None:
    spec = netspec.loads(spec_text(["- attn: partition_attention(4, 7, 'grid')"], (12, 14, 14)))
    state = [(k, tuple(v.shape)) for k, v in spec.build().state_dict().items()]
    reference = oracles.PartitionAttentionLayer(12, 4, 7, "grid", (14, 14))
    assert state == [(f"attn.{k}", tuple(v.shape)) for k, v in reference.state_dict().items()]
    assert ("attn.attn_layer.1.relative_position_index", (49, 49)) in state


def test_the_relative_position_index_is_torchvisions() -> None:
    """Swin's index (shared code), shaped as MaxViT keeps it: one row per token."""
    model = netspec.loads(spec_text(["- attn: partition_attention(2, 3)"], (4, 6, 6))).build()
    index = model.attn.attn_layer[1].relative_position_index
    assert index.dtype == torch.int64
    assert torch.equal(index, oracles._get_relative_position_index(3, 3))


@pytest.mark.parametrize(
    ("c", "h", "w", "head_dim", "size", "kind"),
    [
        (12, 14, 14, 4, 7, "window"),
        (12, 14, 14, 4, 7, "grid"),
        (8, 12, 12, 2, 3, "grid"),  # a grid of 3×3 tokens, 4 apart
        (8, 12, 8, 4, 4, "window"),
        (16, 7, 7, 8, 7, "grid"),  # one partition: grid and window alike
    ],
)
def test_the_layer_computes_torchvisions(
    c: int, h: int, w: int, head_dim: int, size: int, kind: str
) -> None:
    reference = oracles.PartitionAttentionLayer(c, head_dim, size, kind, (h, w), mlp_ratio=2)
    attrs = {"head_dim": head_dim, "partition_size": size, "partition_type": kind, "mlp_ratio": 2}
    built, _ = oracles.agree("partition_attention", attrs, (c, h, w), reference)
    oracles.assert_deploys(built, torch.randn(2, c, h, w))


def test_explain_shows_the_partition_arithmetic() -> None:
    spec = netspec.loads(spec_text(["- attn: partition_attention(32, 7, 'grid')"], (64, 56, 56)))
    node = spec.network.root.children[0]
    lines = node.op.explain(node.attrs, node.input, node.output)
    assert lines[0] == "56×56: 64 grids of 7×7 = 49 tokens, 8×8 apart"
    assert lines[1] == "49 tokens of 64 per partition; 2 heads of 32 = 64 / 32"
    assert "MACs QKᵀ: 64·2·49·49·32 = 9,834,496 (scores 64·2×49×49)" in lines
    assert "MACs AV: 64·2·49·49·32 = 9,834,496" in lines
    assert lines[-1].endswith(f"= {node.macs:,}")
    window = netspec.loads(spec_text(["- attn: partition_attention(32, 7)"], (512, 7, 7)))
    node = window.network.root.children[0]
    lines = node.op.explain(node.attrs, node.input, node.output)
    assert lines[0] == "7×7: 1 window of 7×7 = 49 tokens"
    attn, mlp = (int(line.rsplit("= ", 1)[1].replace(",", "")) for line in lines[2:4])
    assert attn + mlp == node.parameters
    assert lines[3] == "params mlp_layer: norm 2·512 + (512 + 1)·2048 + (2048 + 1)·512 = 2,100,736"


@pytest.mark.parametrize(
    ("call", "shape", "words", "hint"),
    [
        (
            "partition_attention(5, 7)",
            (12, 14, 14),
            "partition_attention: head_dim=5 must divide the channels 12",
            "divisors of 12",
        ),
        (
            "partition_attention(4, 7, 'grid')",
            (12, 16, 14),
            "partition_size=7 must divide the map's height and width, found 16×14",
            "dividing both (1, 2)",
        ),
        (
            "partition_attention(4, 7)",
            (12, 196),
            "expects a 3-d input (channels × height × width), found 12×196",
            "fewer dimensions",
        ),
        (
            "partition_attention(4, 7, 'diagonal')",
            (12, 14, 14),
            "partition_type expects 'window' or 'grid', found 'diagonal'",
            "values: grid, window",
        ),
    ],
)
def test_bad_values_exit_2_at_their_position(
    call: str, shape: tuple[int, ...], words: str, hint: str, tmp_path: Path
) -> None:
    oracles.refused_at_its_position(call, shape, words, hint, tmp_path)
