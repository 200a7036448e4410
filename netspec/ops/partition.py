"""MaxViT's attention layer: ``partition_attention`` (torchvision's ``PartitionAttentionLayer``),
on channels-first feature maps (channels × height × width).

The map is cut into partitions of ``partition_size × partition_size`` tokens — neighbouring
tokens (``'window'``: block attention) or tokens spread evenly over the whole map (``'grid'``:
grid attention, every (H / s)-th row and (W / s)-th column) — and each partition runs a
pre-norm transformer layer: multi-head self-attention with a learned relative position bias
(torchvision's ``RelativePositionalMultiHeadAttention``) and an MLP, each added to its input
through stochastic depth. The tokens go back to their places in the map after.

One operator rather than a block of the spec because the layer's partition and departition
are modules called with the partition counts it computes from its map
(``self.partition_op(x, p)``), the grid layer swaps its axes between them, and torchvision's
state_dict and leaf calls follow that class. Its ``relative_position_index`` buffer and the
bias it gathers are Swin's (``ops/window.py``), kept as a persistent ``s² × s²`` buffer as
torchvision keeps it.

Unlike Swin's windows, MaxViT does not pad: the partition size must divide the map's height
and width (torchvision asserts it). MACs are ``FlopCounterMode``'s: the query/key/value
projection, QKᵀ and AV per partition, the output projection (``merge``) and the MLP.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from netspec.expr.evaluate import concrete, known, whole
from netspec.ops.base import (
    HELPERS,
    Attrs,
    CheckedByClass,
    Op,
    OpError,
    PyCall,
    Shape,
    Tensor,
    register,
    require_divides,
    require_rank,
)
from netspec.ops.fields import Count, Probability


class PartitionAttentionAttrs(Attrs):
    head_dim: Count
    """Channels per attention head; it must divide the channels (heads = channels / head_dim)."""
    partition_size: Count
    """Side of each partition: ``'window'`` attends within windows of this many rows and
    columns, ``'grid'`` within a grid of this many rows and columns spread over the map. It
    must divide the map's height and width (MaxViT does not pad)."""
    partition_type: Annotated[Literal["window", "grid"], CheckedByClass()] = "window"
    """``'window'``: neighbouring tokens (block attention); ``'grid'``: tokens spread evenly
    over the map (grid attention, dilated by height / partition_size)."""
    mlp_ratio: Count = 4
    """Hidden width of the MLP, as a multiple of the channels."""
    attention_dropout: Probability = 0.0
    """Dropout after the attention, in training."""
    mlp_dropout: Probability = 0.0
    """Dropout after the MLP, in training."""
    stochastic_depth_prob: Probability = 0.0
    """Probability of dropping each residual branch (per sample), in training."""


@register
class PartitionAttention(Op):
    """MaxViT's attention layer (Tu et al., 2022; torchvision's ``PartitionAttentionLayer``)
    on a channels-first map: the map cut into windows or into a grid of
    ``partition_size × partition_size`` tokens, each partition a pre-norm transformer layer —
    multi-head self-attention with a learned relative position bias, then an MLP, each added
    to its input through stochastic depth."""

    name = "partition_attention"
    Attrs = PartitionAttentionAttrs
    category = "attention"
    module_name = "PartitionAttentionLayer"
    leaf = False

    def infer(self, a: Any, x: Shape) -> Shape:
        require_rank(self.name, x, (3,), "channels × height × width")
        c, height, width = x
        note = " (the channels are the input's first dimension: channels × height × width)"
        require_divides(self.name, "head_dim", a.head_dim, c, "channels", note)
        if known(height, width, a.partition_size) and (
            concrete(height) % concrete(a.partition_size)
            or concrete(width) % concrete(a.partition_size)
        ):
            h, w, s = concrete(height), concrete(width), concrete(a.partition_size)
            common = [d for d in range(1, min(h, w) + 1) if h % d == 0 and w % d == 0]
            shown = ", ".join(str(d) for d in common[:16]) + (", …" if len(common) > 16 else "")
            raise OpError(
                f"{self.name}: partition_size={s} must divide the map's height and width, "
                f"found {h}×{w}",
                hint=f"MaxViT does not pad (torchvision asserts it; Swin pads): give a "
                f"partition size dividing both ({shown}), or an input whose maps are "
                f"multiples of {s} at every stage",
                attr="partition_size",
            )
        return x

    def _sizes(self, a: Any, x: Shape) -> dict[str, Any]:
        c, height, width = x
        s = a.partition_size
        parts = (height // s) * (width // s)
        n = s * s
        heads = c // a.head_dim
        hidden = c * a.mlp_ratio
        tokens = parts * n
        products = {
            "qkv": tokens * c * 3 * c,
            "scores": parts * heads * n * n * a.head_dim,
            "values": parts * heads * n * n * a.head_dim,
            "merge": tokens * c * c,
            "mlp": tokens * c * hidden * 2,
        }
        return {"parts": parts, "n": n, "heads": heads, "hidden": hidden, **products}

    _PRODUCTS = ("qkv", "scores", "values", "merge", "mlp")

    def tensors(self, a: Any, x: Shape) -> list[Tensor]:
        c = x[0]
        s, heads, hidden = a.partition_size, c // a.head_dim, c * a.mlp_ratio
        attn = "attn_layer.1"
        return [
            Tensor("attn_layer.0.weight", (c,), True),
            Tensor("attn_layer.0.bias", (c,), True),
            Tensor(f"{attn}.relative_position_bias_table", ((2 * s - 1) ** 2, heads), True),
            Tensor(f"{attn}.relative_position_index", (s * s, s * s), False),
            Tensor(f"{attn}.to_qkv.weight", (3 * c, c), True),
            Tensor(f"{attn}.to_qkv.bias", (3 * c,), True),
            Tensor(f"{attn}.merge.weight", (c, c), True),
            Tensor(f"{attn}.merge.bias", (c,), True),
            Tensor("mlp_layer.0.weight", (c,), True),
            Tensor("mlp_layer.0.bias", (c,), True),
            Tensor("mlp_layer.1.weight", (hidden, c), True),
            Tensor("mlp_layer.1.bias", (hidden,), True),
            Tensor("mlp_layer.3.weight", (c, hidden), True),
            Tensor("mlp_layer.3.bias", (c,), True),
        ]

    def macs(self, a: Any, x: Shape, y: Shape) -> int:
        p = self._sizes(a, x)
        return whole(sum(p[k] for k in self._PRODUCTS))

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        c, height, width = x
        p = self._sizes(a, x)
        tokens = height * width
        scores = p["parts"] * p["heads"] * p["n"] * p["n"]
        attention = 4 * tokens * c + 5 * scores  # biases (3C in, C out); scale, bias, softmax
        norms = 2 * 5 * tokens * c
        mlp = tokens * (2 * p["hidden"] + c)  # bias, GELU; bias
        adds = 2 * tokens * c
        return whole(attention + norms + mlp + adds)

    def module(self, a: Any, x: Shape) -> PyCall:
        args = (x[0], a.head_dim, a.partition_size, a.partition_type)
        helpers = (
            "PartitionAttentionLayer",
            "RelativePositionalMultiHeadAttention",
            "relative_position_index",
            "relative_position_bias",
            "WindowPartition",
            "WindowDepartition",
            "SwapAxes",
            "StochasticDepth",
            "stochastic_depth",
        )
        kwargs = self.kwargs(a, skip=["partition_type"])
        return PyCall("PartitionAttentionLayer", args, kwargs, helpers=helpers)

    def calls(self, a: Any, x: Shape, y: Shape) -> list[tuple[str, Shape]]:
        c = x[0]
        p = self._sizes(a, x)
        parts, n, hidden = p["parts"], p["n"], p["hidden"]
        seq = (parts, n, c)
        grid = a.partition_type == "grid"
        cut = (n, parts, c) if grid else seq
        return [
            ("partition_op", cut),
            ("partition_swap", seq),
            ("attn_layer.0", seq),
            ("attn_layer.1.to_qkv", (parts, n, 3 * c)),
            ("attn_layer.1.merge", seq),
            ("attn_layer.2", seq),
            ("stochastic_dropout", seq),
            ("mlp_layer.0", seq),
            ("mlp_layer.1", (parts, n, hidden)),
            ("mlp_layer.2", (parts, n, hidden)),
            ("mlp_layer.3", seq),
            ("mlp_layer.4", seq),
            ("stochastic_dropout", seq),
            ("departition_swap", cut),
            ("departition_op", y),
        ]

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        c, height, width = x
        s, d = a.partition_size, a.head_dim
        p = self._sizes(a, x)
        parts, n, heads, hidden = p["parts"], p["n"], p["heads"], p["hidden"]
        plural = "" if parts == 1 else "s"
        if a.partition_type == "grid":
            where = (
                f"{parts} grid{plural} of {s}×{s} = {n} tokens, {height // s}×{width // s} apart"
            )
        else:
            where = f"{parts} window{plural} of {s}×{s} = {n} tokens"
        t = 2 * s - 1
        attn = 2 * c + t * t * heads + (c + 1) * 3 * c + (c + 1) * c
        mlp = 2 * c + (c + 1) * hidden + (hidden + 1) * c
        lines = [
            f"{height}×{width}: {where}",
            f"{n} tokens of {c} per partition; {heads} heads of {d} = {c} / {d}",
            f"params attn_layer: norm 2·{c} + bias table {t}·{t}·{heads} + "
            f"to_qkv ({c} + 1)·3·{c} + merge ({c} + 1)·{c} = {attn:,}",
            f"params mlp_layer: norm 2·{c} + ({c} + 1)·{hidden} + ({hidden} + 1)·{c} = {mlp:,}",
            f"MACs QKV: {parts}·{n}·{c}·3·{c} = {p['qkv']:,}",
            f"MACs QKᵀ: {parts}·{heads}·{n}·{n}·{d} = {p['scores']:,} "
            f"(scores {parts}·{heads}×{n}×{n})",
            f"MACs AV: {parts}·{heads}·{n}·{n}·{d} = {p['values']:,}",
            f"MACs merge: {parts}·{n}·{c}·{c} = {p['merge']:,}",
            f"MACs mlp: {parts}·{n}·{c}·{hidden}·2 = {p['mlp']:,}",
            f"MACs: {' + '.join(f'{p[k]:,}' for k in self._PRODUCTS)} = {self.macs(a, x, y):,}",
        ]
        return lines


HELPERS["WindowPartition"] = '''
class WindowPartition(nn.Module):
    """A channels-first map (batch × C × H × W) as partitions of tokens
    (batch × (H / ph)·(W / pw) × ph·pw × C): each ph × pw window, row by row."""

    def forward(self, x: torch.Tensor, ph: int, pw: int) -> torch.Tensor:
        b, c, h, w = x.shape
        x = x.reshape(b, c, h // ph, ph, w // pw, pw)
        x = x.permute(0, 2, 4, 3, 5, 1)
        return x.reshape(b, (h // ph) * (w // pw), ph * pw, c)
'''

HELPERS["WindowDepartition"] = '''
class WindowDepartition(nn.Module):
    """WindowPartition undone: gh × gw windows of ph × pw tokens back into a
    channels-first map (batch × C × gh·ph × gw·pw)."""

    def forward(
        self, x: torch.Tensor, ph: int, pw: int, gh: int, gw: int
    ) -> torch.Tensor:
        b, _, _, c = x.shape
        x = x.reshape(b, gh, gw, ph, pw, c)
        x = x.permute(0, 5, 1, 3, 2, 4)
        return x.reshape(b, c, gh * ph, gw * pw)
'''

HELPERS["SwapAxes"] = '''
class SwapAxes(nn.Module):
    """torch.swapaxes(x, a, b) as a module."""

    def __init__(self, a: int, b: int) -> None:
        super().__init__()
        self.a = a
        self.b = b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.swapaxes(x, self.a, self.b)
'''

HELPERS["RelativePositionalMultiHeadAttention"] = '''
class RelativePositionalMultiHeadAttention(nn.Module):
    """Multi-head self-attention over each partition of tokens (batch × partitions ×
    tokens × C), plus a learned bias per head for each relative position of two tokens
    in a partition_size × partition_size partition (MaxViT's, as torchvision's: the keys
    are scaled by C ** -0.5)."""

    relative_position_index: torch.Tensor

    def __init__(self, feat_dim: int, head_dim: int, partition_size: int) -> None:
        super().__init__()
        self.n_heads = feat_dim // head_dim
        self.head_dim = head_dim
        self.max_seq_len = partition_size * partition_size
        self.to_qkv = nn.Linear(feat_dim, self.n_heads * head_dim * 3)
        self.scale_factor = feat_dim**-0.5
        self.merge = nn.Linear(self.n_heads * head_dim, feat_dim)
        self.relative_position_bias_table = nn.Parameter(
            torch.empty((2 * partition_size - 1) ** 2, self.n_heads)
        )
        index = relative_position_index(partition_size)
        self.register_buffer(
            "relative_position_index", index.view(self.max_seq_len, self.max_seq_len)
        )
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, g, p, d = x.shape
        h, dh = self.n_heads, self.head_dim
        q, k, v = torch.chunk(self.to_qkv(x), 3, dim=-1)
        q = q.reshape(b, g, p, h, dh).permute(0, 1, 3, 2, 4)
        k = k.reshape(b, g, p, h, dh).permute(0, 1, 3, 2, 4)
        v = v.reshape(b, g, p, h, dh).permute(0, 1, 3, 2, 4)
        k = k * self.scale_factor
        scores = torch.einsum("bghid,bghjd->bghij", q, k)
        bias = relative_position_bias(
            self.relative_position_bias_table,
            self.relative_position_index,
            self.max_seq_len,
        )
        attn = F.softmax(scores + bias, dim=-1)
        out = torch.einsum("bghij,bghjd->bghid", attn, v)
        out = out.permute(0, 1, 3, 2, 4).reshape(b, g, p, d)
        return self.merge(out)
'''

HELPERS["PartitionAttentionLayer"] = '''
class PartitionAttentionLayer(nn.Module):
    """MaxViT's attention layer on a channels-first map: the map cut into partitions of
    partition_size × partition_size tokens (partition_type "window": neighbouring tokens;
    "grid": tokens spread evenly over the map), each a pre-norm transformer layer
    (relative-position attention, then an MLP, each added to its input through
    stochastic depth), the tokens put back in their places after. The partition size
    must divide the map's height and width."""

    def __init__(
        self,
        in_channels: int,
        head_dim: int,
        partition_size: int,
        partition_type: str,
        mlp_ratio: int = 4,
        attention_dropout: float = 0.0,
        mlp_dropout: float = 0.0,
        stochastic_depth_prob: float = 0.0,
    ) -> None:
        super().__init__()
        self.partition_size = partition_size
        self.grid = partition_type == "grid"
        self.partition_op = WindowPartition()
        self.departition_op = WindowDepartition()
        self.partition_swap = SwapAxes(-2, -3) if self.grid else nn.Identity()
        self.departition_swap = SwapAxes(-2, -3) if self.grid else nn.Identity()
        self.attn_layer = nn.Sequential(
            nn.LayerNorm(in_channels),
            RelativePositionalMultiHeadAttention(in_channels, head_dim, partition_size),
            nn.Dropout(attention_dropout),
        )
        self.mlp_layer = nn.Sequential(
            nn.LayerNorm(in_channels),
            nn.Linear(in_channels, in_channels * mlp_ratio),
            nn.GELU(),
            nn.Linear(in_channels * mlp_ratio, in_channels),
            nn.Dropout(mlp_dropout),
        )
        self.stochastic_dropout = StochasticDepth(stochastic_depth_prob, "row")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w, s = x.shape[-2], x.shape[-1], self.partition_size
        torch._assert(
            h % s == 0 and w % s == 0, "the partition size must divide the map's size"
        )
        # window: s × s neighbours; grid: s × s tokens, (h / s) × (w / s) apart
        ph, pw = (h // s, w // s) if self.grid else (s, s)
        x = self.partition_op(x, ph, pw)
        x = self.partition_swap(x)
        x = x + self.stochastic_dropout(self.attn_layer(x))
        x = x + self.stochastic_dropout(self.mlp_layer(x))
        x = self.departition_swap(x)
        return self.departition_op(x, ph, pw, h // ph, w // pw)
'''
