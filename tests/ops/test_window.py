"""Swin's operators — ``shifted_window_attention`` (v1 and ``_v2``), ``patch_merging`` (v1 and
``_v2``) and ``swin_block_v2`` — on their own: state_dict, parameters and MACs
(``FlopCounterMode``'s, the window products included) for maps a window divides and maps it
does not (padded, as torchvision pads), the leaf modules each calls, the arithmetic
``--explain`` shows, the refusals, and outputs equal to those of torchvision's code
(tests/ops/oracles.py) under the same weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import netspec
from netspec.backends.module import leaf_calls
from netspec.cli import app
from netspec.errors import NetspecError
from tests.conftest import spec_text
from tests.ops import oracles

CASES = [
    # height, width, channels, the call
    (14, 14, 12, "shifted_window_attention(3, 7)"),
    (14, 14, 12, "shifted_window_attention(3, 7, 3)"),
    (9, 11, 8, "shifted_window_attention(2, 4, 2)"),  # padded to 12×12
    (3, 5, 8, "shifted_window_attention(4, 7, 3)"),  # one window: not shifted
    (14, 14, 12, "shifted_window_attention_v2(3, 7, 3)"),
    (9, 11, 8, "shifted_window_attention_v2(2, 4, 2)"),
    (7, 9, 6, "patch_merging"),  # odd: padded to 8×10
    (8, 8, 6, "patch_merging_v2"),
    (9, 11, 8, "swin_block_v2(2, 4, 2, mlp_ratio=2.0)"),
]


@pytest.mark.parametrize(("h", "w", "c", "call"), CASES)
def test_state_macs_calls_and_a_forward_agree(h: int, w: int, c: int, call: str) -> None:
    oracles.layer_agrees(call, (h, w, c))


def test_the_attention_keeps_torchvisions_state_dict() -> None:
    spec = netspec.loads(spec_text(["- attn: shifted_window_attention(3, 7)"], (14, 14, 12)))
    state = [(k, tuple(v.shape)) for k, v in spec.build().state_dict().items()]
    assert state == [
        ("attn.relative_position_bias_table", (169, 3)),
        ("attn.relative_position_index", (2401,)),
        ("attn.qkv.weight", (36, 12)),
        ("attn.qkv.bias", (36,)),
        ("attn.proj.weight", (12, 12)),
        ("attn.proj.bias", (12,)),
    ]
    v2 = netspec.loads(spec_text(["- attn: shifted_window_attention_v2(3, 8)"], (16, 16, 12)))
    assert [k for k in v2.build().state_dict()] == [
        "attn.logit_scale",
        "attn.relative_coords_table",
        "attn.relative_position_index",
        "attn.qkv.weight",
        "attn.qkv.bias",
        "attn.proj.weight",
        "attn.proj.bias",
        "attn.cpb_mlp.0.weight",
        "attn.cpb_mlp.0.bias",
        "attn.cpb_mlp.2.weight",
    ]


def test_the_relative_position_index_is_torchvisions() -> None:
    """torchvision's construction, written out: (dy + w − 1)·(2w − 1) + (dx + w − 1)."""
    w = 3
    model = netspec.loads(
        spec_text([f"- attn: shifted_window_attention(1, {w})"], (3, 3, 4))
    ).build()
    coords = [(i // w, i % w) for i in range(w * w)]
    expected = [
        (a[0] - b[0] + w - 1) * (2 * w - 1) + (a[1] - b[1] + w - 1) for a in coords for b in coords
    ]
    index = model.attn.relative_position_index
    assert index.dtype == torch.int64
    assert index.tolist() == expected


def test_a_window_as_large_as_the_map_is_not_shifted() -> None:
    """With one window there are no seams: the shift changes nothing (torchvision's rule)."""
    spec = netspec.loads(spec_text(["- attn: shifted_window_attention(2, 7)"], (5, 6, 8)))
    shifted = spec.replace().build()
    plain = netspec.loads(
        spec_text(["- attn: shifted_window_attention(2, 7, 3)"], (5, 6, 8))
    ).build()
    plain.load_state_dict(shifted.state_dict())
    x = torch.randn(2, 5, 6, 8)
    with torch.no_grad():
        torch.testing.assert_close(plain.eval()(x), shifted.eval()(x))


def test_explain_shows_the_window_arithmetic() -> None:
    spec = netspec.loads(spec_text(["- attn: shifted_window_attention(3, 7, 3)"], (56, 56, 96)))
    node = spec.network.root.children[0]
    lines = node.op.explain(node.attrs, node.input, node.output)
    assert lines[0] == "56×56: 64 windows of 7×7 = 49 tokens, shifted by 3"
    assert lines[1] == "49 tokens of 96 per window; 3 heads of 96 / 3 = 32"
    assert "MACs QKᵀ: 64·3·49·49·32 = 14,751,744 (scores 64·3×49×49)" in lines
    assert "MACs AV: 64·3·49·49·32 = 14,751,744" in lines
    assert lines[-1].endswith(f"= {node.macs:,}")
    padded = netspec.loads(
        spec_text(["- attn: shifted_window_attention_v2(6, 8, 4)"], (28, 28, 192))
    ).network.root.children[0]
    lines = padded.op.explain(padded.attrs, padded.input, padded.output)
    assert lines[0] == "28×28, padded to 32×32: 16 windows of 8×8 = 64 tokens, shifted by 4"
    assert "MACs bias MLP: 15·15·2·512 + 15·15·512·6 = 921,600" in lines


def test_the_cli_explains_the_window_attention() -> None:
    result = CliRunner().invoke(app, ["check", "swin_t", "--explain", "--depth", "4"])
    assert result.exit_code == 0, result.output
    assert "56×56: 64 windows of 7×7 = 49 tokens, shifted by 3" in result.output
    assert "MACs QKᵀ: 64·3·49·49·32 = 14,751,744 (scores 64·3×49×49)" in result.output
    assert "7×7: 1 window of 7×7 = 49 tokens, not shifted" in result.output


@pytest.mark.parametrize(
    ("call", "shape", "words", "hint"),
    [
        (
            "shifted_window_attention(5, 7)",
            (14, 14, 12),
            "shifted_window_attention: num_heads=5 must divide the channels 12",
            "divisors of 12",
        ),
        (
            "shifted_window_attention(3, 7, 7)",
            (14, 14, 12),
            "shift_size=7 must be at least 0 and less than window_size=7",
            "window_size // 2 = 3",
        ),
        (
            "shifted_window_attention_v2(3, 1)",
            (14, 14, 12),
            "window_size=1 leaves no relative positions",
            "a window of at least 2",
        ),
        (
            "shifted_window_attention(3, 7)",
            (12, 14, 14),
            "num_heads=3 must divide the channels 14",
            "divisors of 14",
        ),
        (
            "shifted_window_attention(3, 7)",
            (196, 12),
            "expects a 3-d input (height × width × channels, channels last), found 196×12",
            "fewer dimensions",
        ),
        (
            "patch_merging",
            (2, 14, 14, 12),
            "patch_merging expects a 3-d input (height × width × channels, channels last)",
            "flatten",
        ),
        (
            "swin_block_v2(5, 8)",
            (16, 16, 12),
            "swin_block_v2: num_heads=5 must divide the channels 12",
            "divisors of 12",
        ),
        (  # the operator written, not the attention it holds (shifted_window_attention_v2)
            "swin_block_v2(3, 1)",
            (14, 14, 12),
            "swin_block_v2: window_size=1 leaves no relative positions",
            "a window of at least 2",
        ),
    ],
)
def test_bad_values_exit_2_at_their_position(
    call: str, shape: tuple[int, ...], words: str, hint: str, tmp_path: Path
) -> None:
    oracles.refused_at_its_position(call, shape, words, hint, tmp_path)


def test_channels_first_input_is_refused_with_its_sizes() -> None:
    """A map left channels first (the permute forgotten) reads 56 as the channels."""
    text = spec_text(
        ["- conv: conv2d(96, 4, stride=4)", "- attn: shifted_window_attention(3, 7)"], (3, 224, 224)
    )
    with pytest.raises(NetspecError) as info:
        netspec.loads(text).check()
    message = info.value.render()
    assert "num_heads=3 must divide the channels 56" in message
    assert "read channels last" in message


# -- against torchvision's code (tests/ops/oracles.py) ---------------------------------------------


@pytest.mark.parametrize(
    ("h", "w", "c", "heads", "window", "shift"),
    [(14, 14, 12, 3, 7, 0), (14, 14, 12, 3, 7, 3), (9, 11, 8, 2, 4, 2), (3, 5, 8, 4, 7, 3)],
)
def test_the_attention_computes_torchvisions(
    h: int, w: int, c: int, heads: int, window: int, shift: int
) -> None:
    reference = oracles.ShiftedWindowAttention(c, [window, window], [shift, shift], heads)
    attrs = {"num_heads": heads, "window_size": window, "shift_size": shift}
    oracles.agree("shifted_window_attention", attrs, (h, w, c), reference)


@pytest.mark.parametrize(
    ("name", "cls"), [("patch_merging", "PatchMerging"), ("patch_merging_v2", "PatchMergingV2")]
)
@pytest.mark.parametrize("shape", [(8, 8, 6), (7, 9, 4)])
def test_patch_merging_computes_torchvisions(
    name: str, cls: str, shape: tuple[int, int, int]
) -> None:
    oracles.agree(name, {}, shape, getattr(oracles, cls)(shape[-1]))


V2_CASES = [(14, 14, 12, 3, 7, 3), (9, 11, 8, 2, 4, 2), (4, 4, 8, 2, 4, 2)]


@pytest.mark.parametrize(("h", "w", "c", "heads", "window", "shift"), V2_CASES)
@pytest.mark.parametrize("block", [False, True])
def test_v2_computes_torchvisions(
    h: int, w: int, c: int, heads: int, window: int, shift: int, block: bool
) -> None:
    """The attention and the block against torchvision's, weights randomised (the logit scale
    and the keys' bias included). The position-bias MLP runs once per call, not per sample,
    so the MACs are compared for a batch of one."""
    torch.manual_seed(0)
    size = [window, window]
    if block:
        name, call = "swin_block_v2", f"swin_block_v2({heads}, {window}, {shift}, mlp_ratio=2.0)"
        reference = oracles.SwinTransformerBlockV2(c, heads, size, [shift, shift], mlp_ratio=2.0)
    else:
        name, call = "attn", f"shifted_window_attention_v2({heads}, {window}, {shift})"
        reference = oracles.ShiftedWindowAttentionV2(c, size, [shift, shift], heads)
    reference.eval()
    with torch.no_grad():
        for p in reference.parameters():
            p.normal_()
    spec = netspec.loads(spec_text([f"- layer: {call}"], (h, w, c)))
    node = spec.network.root.children[0]
    state = reference.state_dict()
    assert [(t.name, tuple(t.shape)) for t in node.tensors] == [
        (k, tuple(v.shape)) for k, v in state.items()
    ], name
    built = spec.build().eval()
    built.layer.load_state_dict(state)
    x = torch.randn(3, h, w, c)
    with torch.no_grad():
        assert torch.equal(built(x), reference(x))
    one = x[:1]
    assert oracles.flop_macs(built, one) == oracles.flop_macs(reference, one) == node.macs
    calls = [
        (f"layer.{p}", tuple(s)) for p, s in node.op.calls(node.attrs, node.input, node.output)
    ]
    assert leaf_calls(built, node.input) == calls


def test_the_v2_block_explains_its_attention_and_mlp() -> None:
    spec = netspec.loads(spec_text(["- blk: swin_block_v2(6, 8, 4)"], (28, 28, 192)))
    node = spec.network.root.children[0]
    lines = node.op.explain(node.attrs, node.input, node.output)
    assert "28×28, padded to 32×32: 16 windows of 8×8 = 64 tokens, shifted by 4" in lines
    assert "64 tokens of 192 per window; 6 heads of 192 / 6 = 32" in lines
    assert "MACs QKᵀ: 16·6·64·64·32 = 12,582,912 (scores 16·6×64×64)" in lines
    assert "MACs mlp: 28·28·192·768·2 = 231,211,008" in lines
    assert lines[-1] == f"MACs block: {node.macs - 231_211_008:,} + 231,211,008 = {node.macs:,}"


def test_the_v2_blocks_mlp_ratio_may_be_a_param() -> None:
    """As swin_block's spec takes it (``linear(int(dim * mlp_ratio))``): the generated class is
    given the ratio and its block computes ``int(dim * mlp_ratio)``; at every ratio the class
    built from the file generated at the defaults is what the analysis says of that ratio."""
    from netspec.backends.module import compare_forward, compare_state, compile_source

    text = (
        "netspec: 1\nname: t\ninput: [6, 6, 8]\nparams:\n  r: 4.0\nlayers:\n"
        "  - a: swin_block_v2(2, 4, 0, r)\n  - b: swin_block_v2(2, 4, 2, mlp_ratio=r / 2)\n"
        "  - flatten\n  - fc: linear(3)\n"
    )
    spec = netspec.loads(text, name="spec.yaml")
    source = spec.source()
    assert "SwinTransformerBlockV2(8, 2, 4, 0, mlp_ratio=r)" in source
    module = compile_source(source)
    for r in (4.0, 2.5, 1.0, 0.5):
        network = spec.replace(r=r).network
        model = module.T(r=r)
        assert compare_state(model, network) == [], r
        assert compare_forward(model, network) == [], r
