"""``multihead_attention`` against ``nn.MultiheadAttention`` (batch first, self-attention):
layout, parameters and MACs (``FlopCounterMode``'s, the attention products included), the
output under the same weights, the arithmetic ``--explain`` shows, and the refusals (heads that
do not divide the embedding, a sequence it cannot be called from, a sample that is not
tokens × embedding)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from typer.testing import CliRunner

import netspec
from netspec.cli import app
from netspec.errors import NetspecError
from netspec.expand.ir import state
from tests.conftest import spec_text


def flops(model: nn.Module, shape: tuple[int, ...]) -> int:
    """FlopCounterMode's total for one call on the meta device, as torchvision's MACs are
    measured (tests/reference): there scaled_dot_product_attention runs as its matrix
    products, while on the CPU it is a fused kernel FlopCounterMode has no formula for."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty(shape, device="meta"))
    return int(counter.get_total_flops())


@pytest.mark.parametrize(
    ("tokens", "dim", "heads", "bias"),
    [(197, 768, 12, True), (5, 12, 3, False), (1, 8, 8, True), (10, 6, 1, True)],
)
def test_layout_macs_and_output_are_pytorchs(tokens: int, dim: int, heads: int, bias: bool) -> None:
    call = f"multihead_attention({heads}, bias={'true' if bias else 'false'})"
    spec = netspec.loads(spec_text([f"- attn: {call}"], (tokens, dim)))
    node = spec.network.root.children[0]
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(dim, heads, bias=bias, batch_first=True)
    assert [(f"attn.{k}", tuple(v.shape)) for k, v in ref.state_dict().items()] == [
        (k, tuple(t.shape)) for k, t in state(spec.network.root).items()
    ]
    assert node.parameters == sum(p.numel() for p in ref.parameters())
    with torch.device("meta"):
        meta_ref = nn.MultiheadAttention(dim, heads, bias=bias, batch_first=True).eval()
        meta_model = spec.build().eval()
    counted = flops(lambda t: meta_ref(t, t, t, need_weights=False)[0], (1, tokens, dim))  # type: ignore[arg-type]
    assert spec.summary()["macs"] * 2 == counted
    assert flops(meta_model, (1, tokens, dim)) == counted
    x = torch.randn(1, tokens, dim)
    model = spec.build(verify=True)
    model.load_state_dict({f"attn.{k}": v for k, v in ref.state_dict().items()})
    with torch.no_grad():
        expected = ref.eval()(x, x, x, need_weights=False)[0]
        torch.testing.assert_close(model.eval()(x), expected)


def test_explain_shows_the_attention_arithmetic() -> None:
    spec = netspec.loads(spec_text(["- attn: multihead_attention(12)"], (197, 768)))
    node = spec.network.root.children[0]
    lines = node.op.explain(node.attrs, node.input, node.output)
    assert lines[0] == "197 tokens of 768; 12 heads of 768 / 12 = 64"
    assert "MACs QKᵀ: 12·197·197·64 = 29,805,312 (scores 12×197×197)" in lines
    assert "MACs AV: 12·197·197·64 = 29,805,312" in lines
    assert lines[-1].endswith(f"= {node.macs:,}")
    assert node.macs == 197 * 768 * 3 * 768 + 2 * 29_805_312 + 197 * 768 * 768


def test_heads_that_do_not_divide_the_embedding_are_refused(tmp_path: object) -> None:
    text = spec_text(["- attn: multihead_attention(5)"], (10, 768))
    with pytest.raises(NetspecError) as info:
        netspec.loads(text, name="m.yaml").check()
    message = info.value.render()
    assert "m.yaml:5:" in message
    assert "num_heads=5 must divide the embedding dimension 768" in message
    assert "divisors of 768" in message


def test_the_cli_exits_2_naming_both_numbers(tmp_spec: object) -> None:
    path = tmp_spec(spec_text(["- attn: multihead_attention(5)"], (10, 12)))  # type: ignore[operator]
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    assert "num_heads=5 must divide the embedding dimension 12" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("shape", [(12,), (3, 4, 12)])
def test_a_sample_must_be_tokens_by_embedding(shape: tuple[int, ...]) -> None:
    with pytest.raises(NetspecError, match=r"expects a 2-d input \(tokens × embedding\)"):
        netspec.loads(spec_text(["- attn: multihead_attention(2)"], shape)).check()


def test_a_sequence_cannot_call_it() -> None:
    """nn.Sequential calls a module on one tensor and passes on what it returns: a tuple."""
    for layers in (["- seq:", "    - a: multihead_attention(2)"], ["- multihead_attention(2)"]):
        text = spec_text(layers, (4, 8))
        with pytest.raises(NetspecError, match="nn.Sequential cannot"):
            netspec.loads(text).check()


def test_a_declared_embedding_is_checked_and_named_in_the_code() -> None:
    good = netspec.loads(
        spec_text(["- attn: multihead_attention(2, embed_dim=width)"], (4, 8), params="{width: 8}")
    )
    assert "nn.MultiheadAttention(width, 2, batch_first=True)" in good.source()
    bad = spec_text(["- attn: multihead_attention(2, embed_dim=6)"], (4, 8))
    with pytest.raises(NetspecError, match="expects 6 embedding dimensions, but its input has 8"):
        netspec.loads(bad).check()


def test_a_choice_cannot_hold_it() -> None:
    """`a if cond else b` is one call in forward whichever side is taken: refused by check
    whichever side the params choose, since the generated class takes any value."""
    for call in (
        "multihead_attention(2) if use else identity",
        "identity if use else multihead_attention(2)",
    ):
        text = spec_text([f"- attn: {call}"], (4, 8), params="{use: true}")
        with pytest.raises(NetspecError, match="cannot be one side of a choice"):
            netspec.loads(text).check()


def test_it_works_in_loops_conditions_and_branches() -> None:
    """Wherever it stands named in a class — a loop kept as a loop, an `if`, a branch of a
    block — forward calls it as nn.MultiheadAttention must be called."""
    text = """netspec: 1
name: placed
input: [6, 8]
params:
  use: true
  n: 2
blocks:
  B:
    branches:
      a: multihead_attention(2)
      b: [identity]
    merge: add
layers:
  - b: B()
  - for: i in range(n)
    do:
      - attn{i}: multihead_attention(4)
  - if: use
    then:
      - last: multihead_attention(1)
"""
    spec = netspec.loads(text)
    source = spec.source()
    assert "a = self.a(x, x, x, need_weights=False)[0]" in source
    assert 'x = getattr(self, f"attn{i}")(x, x, x, need_weights=False)[0]' in source
    assert "x = self.last(x, x, x, need_weights=False)[0]" in source
    for values in ({}, {"use": False, "n": 3}):
        other = spec.replace(**values)
        other.build(verify=True)
