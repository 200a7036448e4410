"""Attention: ``multihead_attention`` (``nn.MultiheadAttention``, batch first, self-attention).

The input is a sequence, tokens × embedding (the batch first, as ``batch_first=True`` reads
it); query, key and value are all the input, and the output has the input's shape. The module
keeps ``nn.MultiheadAttention``'s layout — ``in_proj_weight`` (3E × E), ``in_proj_bias``,
``out_proj.weight``, ``out_proj.bias`` — so torchvision's weights load unchanged. Its
``forward`` returns a tuple (the output and the attention weights), so the model's
``forward`` calls it as torchvision's ViT does, ``self.attn(x, x, x, need_weights=False)[0]``;
an ``nn.Sequential`` cannot, which is why it stands named in a class's layers.

MACs are ``FlopCounterMode``'s: the packed query/key/value projection (tokens · E · 3E), the
scores QKᵀ (heads · tokens · tokens · head dim), the weighted values AV (the same) and the
output projection (tokens · E · E).
"""

from __future__ import annotations

from typing import Any

from netspec.expr.evaluate import whole
from netspec.ops.base import (
    Attrs,
    Op,
    PyCall,
    Shape,
    Tensor,
    register,
    require_divides,
    require_rank,
)
from netspec.ops.fields import Count, Declared, Flag, Probability


class MultiheadAttentionAttrs(Attrs):
    num_heads: Count
    """Number of attention heads; it must divide the embedding dimension (the input's last)."""
    dropout: Probability = 0.0
    """Dropout on the attention weights, in training."""
    bias: Flag = True
    """Whether the input and output projections learn biases."""
    embed_dim: Declared = None
    """The embedding dimension, inferred from the input; give it (by keyword) only to have it
    checked."""


@register
class MultiheadAttention(Op):
    """Multi-head self-attention over a sequence (tokens × embedding), ``nn.MultiheadAttention``
    with ``batch_first=True``: softmax(QKᵀ / √d)·V per head, then an output projection."""

    name = "multihead_attention"
    Attrs = MultiheadAttentionAttrs
    category = "attention"
    module_name = "nn.MultiheadAttention"
    call_form = "{module}({x}, {x}, {x}, need_weights=False)[0]"
    leaf = False  # out_proj is a child module (never called as one)

    def _head_dim(self, a: Any, x: Shape) -> Any:
        e = x[-1]
        require_divides(self.name, "num_heads", a.num_heads, e, "embedding dimension")
        return e // a.num_heads

    def infer(self, a: Any, x: Shape) -> Shape:
        require_rank(self.name, x, (2,), "tokens × embedding")
        self.check_declared(a.embed_dim, x[-1], "embedding dimensions", x)
        self._head_dim(a, x)
        return x

    def tensors(self, a: Any, x: Shape) -> list[Tensor]:
        e = x[-1]
        out = [Tensor("in_proj_weight", (3 * e, e), True)]
        out += [Tensor("in_proj_bias", (3 * e,), True)] if a.bias else []
        out.append(Tensor("out_proj.weight", (e, e), True))
        out += [Tensor("out_proj.bias", (e,), True)] if a.bias else []
        return out

    def _parts(self, a: Any, x: Shape) -> tuple[int, int, int, int]:
        """MACs of the projection in, the scores, the weighted values and the projection out."""
        tokens, e = x
        d = self._head_dim(a, x)
        scores = a.num_heads * tokens * tokens * d
        return tokens * e * 3 * e, scores, scores, tokens * e * e

    def macs(self, a: Any, x: Shape, y: Shape) -> int:
        return whole(sum(self._parts(a, x)))

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        tokens, e = x
        bias = 4 * tokens * e if a.bias else 0  # 3E in, E out per token
        softmax = 3 * a.num_heads * tokens * tokens
        scale = a.num_heads * tokens * tokens  # the scores divided by √d
        return whole(bias + softmax + scale)

    def module(self, a: Any, x: Shape) -> PyCall:
        kwargs = (*self.kwargs(a), ("batch_first", True))
        # the dimension as the spec names it where it gives it (checked equal to the input's)
        embed_dim = x[-1] if a.embed_dim is None else a.embed_dim
        return PyCall("nn.MultiheadAttention", (embed_dim, a.num_heads), kwargs)

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        tokens, e = x
        h = a.num_heads
        d = self._head_dim(a, x)
        qkv, scores, values, out = self._parts(a, x)
        b = 1 if a.bias else 0
        bias = " + 1" if a.bias else ""
        params = (e + b) * 3 * e + (e + b) * e
        return [
            f"{tokens} tokens of {e}; {h} heads of {e} / {h} = {d}",
            f"params: in_proj ({e}{bias})·3·{e} + out_proj ({e}{bias})·{e} = {params:,}",
            f"MACs QKV: {tokens}·{e}·3·{e} = {qkv:,}",
            f"MACs QKᵀ: {h}·{tokens}·{tokens}·{d} = {scores:,} (scores {h}×{tokens}×{tokens})",
            f"MACs AV: {h}·{tokens}·{tokens}·{d} = {values:,}",
            f"MACs out: {tokens}·{e}·{e} = {out:,}",
            f"MACs: {qkv:,} + {scores:,} + {values:,} + {out:,} = {self.macs(a, x, y):,}",
        ]
