"""Swin Transformer's operators, on channels-last feature maps (height × width × channels):
``shifted_window_attention`` and ``shifted_window_attention_v2`` (multi-head self-attention
within windows, torchvision's ``ShiftedWindowAttention`` and ``ShiftedWindowAttentionV2``), and
``patch_merging`` and ``patch_merging_v2`` (each 2×2 neighbourhood concatenated and projected
to twice the channels, torchvision's ``PatchMerging`` and ``PatchMergingV2``), and
``swin_block_v2`` (torchvision's ``SwinTransformerBlockV2``: one operator, because its
state_dict declares ``norm1`` before the attention it normalises the output of).

Each builds a class defined in the generated file (:data:`HELPERS`), with torchvision's
state_dict: the attention's ``relative_position_bias_table`` and ``relative_position_index``
buffer (v2: ``logit_scale``, the ``relative_coords_table`` and ``relative_position_index``
buffers, and the ``cpb_mlp`` that computes the bias), ``qkv`` and ``proj``; the merge's
``reduction`` and ``norm``. The buffers are computed from the window size in the constructor.

As torchvision's, the attention pads the map on the bottom and right to a multiple of the
window and crops the output back, so any size is accepted; a window at least as large as the
padded map is not shifted. MACs are ``FlopCounterMode``'s: the query/key/value projection, the
scores QKᵀ and the weighted values AV per window, the output projection, and (v2) the bias MLP.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from netspec.expr import nodes as n
from netspec.expr.evaluate import Sym, as_expr, compare, concrete, known, outside, whole
from netspec.ops.base import (
    HELPERS,
    Attrs,
    Op,
    OpError,
    PyCall,
    Shape,
    Tensor,
    fmt_shape,
    refuse_where,
    register,
    require_divides,
    require_rank,
)
from netspec.ops.fields import Count, Int, PositiveFloat, Probability

_CPB_HIDDEN = 512
"""Width of v2's continuous position bias MLP (torchvision's)."""


class WindowAttentionAttrs(Attrs):
    num_heads: Count
    """Number of attention heads; it must divide the channels (the input's last dimension)."""
    window_size: Count
    """Side of the square windows the map is cut into; attention stays within a window."""
    shift_size: Int = 0
    """How far the windows are shifted (torchvision's ``shift_size``, 0 ≤ shift < window):
    the map is rolled by −shift before the partition and back after, and a mask keeps tokens
    from attending across the roll's seams. Swin alternates 0 and ``window_size // 2``."""
    attention_dropout: Probability = 0.0
    """Dropout on the attention weights, in training."""
    dropout: Probability = 0.0
    """Dropout on the output projection, in training."""


def _ceil_to(size: Any, multiple: Any) -> Any:
    return -(-size // multiple) * multiple


class _WindowAttention(Op):
    Attrs = WindowAttentionAttrs
    category = "attention"
    leaf = False  # qkv and proj are child modules (their weights are used, not called)
    cosine: ClassVar[bool]

    def _check(self, a: Any, x: Shape, name: str | None = None) -> None:
        """The input and attributes checked, messages naming ``name`` (the operator that
        holds this attention: ``swin_block_v2``), else this operator."""
        name = name or self.name
        require_rank(name, x, (3,), "height × width × channels, channels last")
        note = (
            f"; the input {fmt_shape(x)} is read channels last (height × width × channels: "
            "`permute([0, 2, 3, 1])` after a convolution)"
        )
        require_divides(name, "num_heads", a.num_heads, x[-1], "channels", note)
        # PyTorch takes either value (a shift of a window or more masks the wrong tokens)
        shift, window = a.shift_size, a.window_size
        refuse_where(
            outside(0, shift, window),
            lambda: OpError(
                f"{name}: shift_size={shift} must be at least 0 and less than window_size={window}",
                hint=f"Swin alternates 0 and window_size // 2 = {window // 2}",
                attr="shift_size",
            ),
        )
        if self.cosine:
            refuse_where(
                compare(window, "<", 2),
                lambda: OpError(
                    f"{name}: window_size={window} leaves no relative positions to "
                    "scale (the coordinates are divided by window_size - 1)",
                    hint="give a window of at least 2",
                    attr="window_size",
                ),
            )

    def infer(self, a: Any, x: Shape) -> Shape:
        self._check(a, x)
        return x

    def tensors(self, a: Any, x: Shape) -> list[Tensor]:
        c, w, h = x[-1], a.window_size, a.num_heads
        if self.cosine:
            own = [
                Tensor("logit_scale", (h, 1, 1), True),
                Tensor("relative_coords_table", (1, 2 * w - 1, 2 * w - 1, 2), False),
            ]
        else:
            own = [Tensor("relative_position_bias_table", ((2 * w - 1) ** 2, h), True)]
        out = [
            *own,
            Tensor("relative_position_index", (w**4,), False),
            Tensor("qkv.weight", (3 * c, c), True),
            Tensor("qkv.bias", (3 * c,), True),
            Tensor("proj.weight", (c, c), True),
            Tensor("proj.bias", (c,), True),
        ]
        if self.cosine:
            out += [
                Tensor("cpb_mlp.0.weight", (_CPB_HIDDEN, 2), True),
                Tensor("cpb_mlp.0.bias", (_CPB_HIDDEN,), True),
                Tensor("cpb_mlp.2.weight", (h, _CPB_HIDDEN), True),
            ]
        return out

    def _parts(self, a: Any, x: Shape) -> dict[str, Any]:
        """The sizes and the MACs of each product."""
        height, width, c = x
        w, h = a.window_size, a.num_heads
        ph, pw = _ceil_to(height, w), _ceil_to(width, w)
        windows = (ph // w) * (pw // w)
        n = w * w
        d = c // h
        tokens = ph * pw
        parts = {
            "qkv": tokens * c * 3 * c,
            "scores": windows * h * n * n * d,
            "values": windows * h * n * n * d,
            "out": tokens * c * c,
        }
        if self.cosine:
            t = (2 * w - 1) ** 2
            parts["bias"] = t * 2 * _CPB_HIDDEN + t * _CPB_HIDDEN * h
        sizes = {"ph": ph, "pw": pw, "windows": windows, "n": n, "d": d, "tokens": tokens}
        return {**parts, **sizes}

    _PRODUCTS = ("qkv", "scores", "values", "out", "bias")

    def macs(self, a: Any, x: Shape, y: Shape) -> int:
        p = self._parts(a, x)
        return whole(sum(p[k] for k in self._PRODUCTS if k in p))

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        p = self._parts(a, x)
        scores = p["windows"] * a.num_heads * p["n"] * p["n"]
        bias = 4 * p["tokens"] * x[-1]  # 3C in, C out per token
        return whole(bias + 5 * scores)  # scale, position bias, softmax (3)

    def module(self, a: Any, x: Shape) -> PyCall:
        cls = "ShiftedWindowAttentionV2" if self.cosine else "ShiftedWindowAttention"
        args = (x[-1], a.window_size, a.shift_size, a.num_heads)
        kwargs = self.kwargs(a, skip=["shift_size"])
        helpers: tuple[str, ...] = (
            cls,
            "shifted_window_attention",
            "relative_position_index",
            "relative_position_bias",
        )
        if self.cosine:  # a subclass of V1's
            helpers = (*helpers, "ShiftedWindowAttention", "relative_coords_table")
        return PyCall(cls, args, kwargs, helpers=helpers)

    def calls(self, a: Any, x: Shape, y: Shape) -> list[tuple[str, Shape]]:
        if not self.cosine:
            return []
        t = 2 * a.window_size - 1
        return [
            ("cpb_mlp.0", (t, t, _CPB_HIDDEN)),
            ("cpb_mlp.1", (t, t, _CPB_HIDDEN)),
            ("cpb_mlp.2", (t, t, a.num_heads)),
        ]

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        height, width, c = x
        w, h = a.window_size, a.num_heads
        p = self._parts(a, x)
        n, d, windows = p["n"], p["d"], p["windows"]
        padded = "" if (p["ph"], p["pw"]) == (height, width) else f", padded to {p['ph']}×{p['pw']}"
        shift = (
            f"shifted by {a.shift_size}"
            if a.shift_size and (w < p["ph"] or w < p["pw"])
            else "not shifted"
        )
        lines = [
            f"{height}×{width}{padded}: {windows} window{'' if windows == 1 else 's'} of "
            f"{w}×{w} = {n} tokens, {shift}",
            f"{n} tokens of {c} per window; {h} heads of {c} / {h} = {d}",
        ]
        if self.cosine:
            t = 2 * w - 1
            params = h + (2 + 1) * _CPB_HIDDEN + _CPB_HIDDEN * h + (c + 1) * 3 * c + (c + 1) * c
            lines.append(
                f"params: logit_scale {h} + cpb_mlp (2 + 1)·{_CPB_HIDDEN} + {_CPB_HIDDEN}·{h} + "
                f"qkv ({c} + 1)·3·{c} + proj ({c} + 1)·{c} = {params:,}"
            )
            lines.append(
                f"MACs bias MLP: {t}·{t}·2·{_CPB_HIDDEN} + {t}·{t}·{_CPB_HIDDEN}·{h} = "
                f"{p['bias']:,}"
            )
        else:
            t = 2 * w - 1
            params = t * t * h + (c + 1) * 3 * c + (c + 1) * c
            lines.append(
                f"params: bias table {t}·{t}·{h} + qkv ({c} + 1)·3·{c} + proj ({c} + 1)·{c} = "
                f"{params:,}"
            )
        lines += [
            f"MACs QKV: {p['tokens']}·{c}·3·{c} = {p['qkv']:,}",
            f"MACs QKᵀ: {windows}·{h}·{n}·{n}·{d} = {p['scores']:,} (scores {windows}·{h}×{n}×{n})",
            f"MACs AV: {windows}·{h}·{n}·{n}·{d} = {p['values']:,}",
            f"MACs out: {p['tokens']}·{c}·{c} = {p['out']:,}",
        ]
        terms = [p[k] for k in self._PRODUCTS if k in p]
        lines.append(f"MACs: {' + '.join(f'{v:,}' for v in terms)} = {self.macs(a, x, y):,}")
        return lines


@register
class ShiftedWindowAttention(_WindowAttention):
    """Multi-head self-attention within (shifted) windows of a channels-last map, with a
    learned relative position bias: Swin Transformer's (Liu et al., 2021)."""

    name = "shifted_window_attention"
    module_name = "ShiftedWindowAttention"
    cosine = False


@register
class ShiftedWindowAttentionV2(_WindowAttention):
    """Swin V2's window attention (Liu et al., 2022): scaled cosine attention (a learned
    ``logit_scale`` per head) and a position bias computed by an MLP from log-spaced relative
    coordinates; no bias on the keys."""

    name = "shifted_window_attention_v2"
    module_name = "ShiftedWindowAttentionV2"
    cosine = True


_ATTN_V2 = ShiftedWindowAttentionV2()


class PatchMergingAttrs(Attrs):
    pass


class _PatchMerging(Op):
    Attrs = PatchMergingAttrs
    category = "attention"
    leaf = False
    norm_after: ClassVar[bool]

    def infer(self, a: Any, x: Shape) -> Shape:
        require_rank(self.name, x, (3,), "height × width × channels, channels last")
        height, width, c = x
        return (-(-height // 2), -(-width // 2), 2 * c)

    def tensors(self, a: Any, x: Shape) -> list[Tensor]:
        c = x[-1]
        norm = 2 * c if self.norm_after else 4 * c
        return [
            Tensor("reduction.weight", (2 * c, 4 * c), True),
            Tensor("norm.weight", (norm,), True),
            Tensor("norm.bias", (norm,), True),
        ]

    def macs(self, a: Any, x: Shape, y: Shape) -> int:
        return whole(y[0] * y[1] * 4 * x[-1] * 2 * x[-1])

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        return whole(y[0] * y[1] * (2 if self.norm_after else 4) * x[-1] * 5)

    def module(self, a: Any, x: Shape) -> PyCall:
        cls = "PatchMergingV2" if self.norm_after else "PatchMerging"
        return PyCall(cls, (x[-1],), helpers=(cls, "patch_merging"))

    def calls(self, a: Any, x: Shape, y: Shape) -> list[tuple[str, Shape]]:
        merged = (y[0], y[1], 4 * x[-1])
        if self.norm_after:
            return [("reduction", y), ("norm", y)]
        return [("norm", merged), ("reduction", y)]

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        height, width, c = x
        odd = " (padded to even)" if known(height, width) and (height % 2 or width % 2) else ""
        norm = f"norm over {2 * c} after" if self.norm_after else f"norm over {4 * c} before"
        return [
            f"{height}×{width}{odd} → {fmt_shape(y[:2])}: each 2×2 neighbourhood's 4·{c} = "
            f"{4 * c} channels, {norm} the reduction to {2 * c}",
            f"params: reduction {4 * c}·{2 * c} + norm 2·{2 * c if self.norm_after else 4 * c}",
            f"MACs: {y[0]}·{y[1]}·{4 * c}·{2 * c} = {self.macs(a, x, y):,}",
        ]


@register
class PatchMerging(_PatchMerging):
    """Halve a channels-last map's height and width and double its channels: each 2×2
    neighbourhood concatenated (4C), layer-normalised, then projected to 2C without bias
    (Swin's downsampling, torchvision's ``PatchMerging``)."""

    name = "patch_merging"
    module_name = "PatchMerging"
    norm_after = False


@register
class PatchMergingV2(_PatchMerging):
    """Swin V2's patch merging: the 2×2 neighbourhoods projected to 2C, then layer-normalised
    (torchvision's ``PatchMergingV2``)."""

    name = "patch_merging_v2"
    module_name = "PatchMergingV2"
    norm_after = True


HELPERS["relative_position_index"] = '''
def relative_position_index(window_size: int) -> torch.Tensor:
    """For each pair (i, j) of a window's tokens, flattened: the row of the relative
    position bias table for j's offset from i, (dy + w - 1) * (2w - 1) + (dx + w - 1)."""
    w = window_size
    r = torch.arange(w)
    coords = torch.stack(torch.meshgrid(r, r, indexing="ij")).flatten(1)  # 2 × w²
    offsets = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)  # w² × w² × 2
    index = (offsets[:, :, 0] + w - 1) * (2 * w - 1) + offsets[:, :, 1] + w - 1
    return index.flatten()
'''

HELPERS["relative_position_bias"] = '''
def relative_position_bias(
    table: torch.Tensor, index: torch.Tensor, n: int
) -> torch.Tensor:
    """The bias of each head for every pair of a window's n tokens (1 × heads × n × n):
    the rows of the table (one per relative position, a column per head) that the
    relative_position_index names."""
    bias = table[index.view(-1)].view(n, n, -1)
    return bias.permute(2, 0, 1).contiguous().unsqueeze(0)
'''

HELPERS["relative_coords_table"] = '''
def relative_coords_table(window_size: int) -> torch.Tensor:
    """Every relative offset of a window (1 × (2w - 1) × (2w - 1) × 2), scaled to [-8, 8]
    and spaced logarithmically: sign(t) * log2(|t| + 1) / 3 (Swin V2)."""
    r = torch.arange(-(window_size - 1), window_size, dtype=torch.float32)
    table = (
        torch.stack(torch.meshgrid([r, r], indexing="ij")).permute(1, 2, 0).unsqueeze(0)
    )
    table = table / (window_size - 1) * 8
    return torch.sign(table) * torch.log2(torch.abs(table) + 1.0) / 3.0
'''

HELPERS["shifted_window_attention"] = '''
def shifted_window_attention(
    x: torch.Tensor,
    qkv_weight: torch.Tensor,
    qkv_bias: torch.Tensor | None,
    proj_weight: torch.Tensor,
    proj_bias: torch.Tensor | None,
    position_bias: torch.Tensor,
    window_size: int,
    shift_size: int,
    num_heads: int,
    attention_dropout: float,
    dropout: float,
    training: bool,
    logit_scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """Multi-head self-attention within windows of window_size × window_size tokens of a
    channels-last map x (batch × H × W × C), as torchvision's Swin Transformer computes it.

    The map is padded on the bottom and right to a multiple of the window (and cropped back
    after). With shift_size > 0 it is rolled by -shift_size first and back after, and a mask
    of -100 keeps each token from attending to tokens the roll brought from elsewhere; a
    window as large as the map is not shifted. With logit_scale (Swin V2) the scores are
    cosine similarities times exp(logit_scale) (at most 100) and the keys have no bias.
    """
    b, h, w, c = x.shape
    pad_right = (window_size - w % window_size) % window_size
    pad_bottom = (window_size - h % window_size) % window_size
    x = F.pad(x, (0, 0, 0, pad_right, 0, pad_bottom))
    _, ph, pw, _ = x.shape
    shift_h = 0 if window_size >= ph else shift_size
    shift_w = 0 if window_size >= pw else shift_size
    if shift_h + shift_w > 0:
        x = torch.roll(x, shifts=(-shift_h, -shift_w), dims=(1, 2))

    # partition into windows: (batch · windows) × tokens × C
    rows, cols = ph // window_size, pw // window_size
    n = window_size * window_size
    x = x.view(b, rows, window_size, cols, window_size, c)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(b * rows * cols, n, c)

    if logit_scale is not None and qkv_bias is not None:
        keys = torch.zeros_like(qkv_bias[c : 2 * c])
        qkv_bias = torch.cat([qkv_bias[:c], keys, qkv_bias[2 * c :]])
    heads = F.linear(x, qkv_weight, qkv_bias)  # (batch · windows) × tokens × 3C
    heads = heads.reshape(x.size(0), n, 3, num_heads, c // num_heads).permute(
        2, 0, 3, 1, 4
    )
    q, k, v = heads[0], heads[1], heads[2]
    if logit_scale is not None:
        attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
        attn = attn * torch.clamp(logit_scale, max=math.log(100.0)).exp()
    else:
        q = q * (c // num_heads) ** -0.5
        attn = q.matmul(k.transpose(-2, -1))
    attn = attn + position_bias

    if shift_h + shift_w > 0:
        # the regions the roll brought together, numbered; tokens of different ones are masked
        mask = x.new_zeros((ph, pw))
        count = 0
        for h0, h1 in (
            (0, ph - window_size),
            (ph - window_size, ph - shift_h),
            (ph - shift_h, ph),
        ):
            for w0, w1 in (
                (0, pw - window_size),
                (pw - window_size, pw - shift_w),
                (pw - shift_w, pw),
            ):
                mask[h0:h1, w0:w1] = count
                count += 1
        mask = mask.view(rows, window_size, cols, window_size).permute(0, 2, 1, 3)
        mask = mask.reshape(rows * cols, n)
        mask = mask.unsqueeze(1) - mask.unsqueeze(2)
        mask = mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)
        attn = attn.view(b, rows * cols, num_heads, n, n) + mask.unsqueeze(1).unsqueeze(
            0
        )
        attn = attn.view(-1, num_heads, n, n)

    attn = F.softmax(attn, dim=-1)
    attn = F.dropout(attn, p=attention_dropout, training=training)
    x = attn.matmul(v).transpose(1, 2).reshape(x.size(0), n, c)
    x = F.linear(x, proj_weight, proj_bias)
    x = F.dropout(x, p=dropout, training=training)

    # the windows back into the map, unrolled and cropped
    x = x.view(b, rows, cols, window_size, window_size, c).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(b, ph, pw, c)
    if shift_h + shift_w > 0:
        x = torch.roll(x, shifts=(shift_h, shift_w), dims=(1, 2))
    return x[:, :h, :w, :].contiguous()
'''

HELPERS["ShiftedWindowAttention"] = '''
class ShiftedWindowAttention(nn.Module):
    """Multi-head self-attention within (shifted) windows, plus a learned bias per head for
    each relative position of two tokens in a window (Swin Transformer, Liu et al., 2021).
    See shifted_window_attention."""

    relative_position_index: torch.Tensor
    logit_scale: torch.Tensor | None

    def __init__(
        self,
        dim: int,
        window_size: int,
        shift_size: int,
        num_heads: int,
        attention_dropout: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.window_size = window_size
        self.shift_size = shift_size
        self.num_heads = num_heads
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.define_position_bias()
        self.register_buffer(
            "relative_position_index", relative_position_index(window_size)
        )

    def define_position_bias(self) -> None:
        """The learned table: a row per relative position, a column per head."""
        self.logit_scale = None
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * self.window_size - 1) ** 2, self.num_heads)
        )
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def position_bias(self) -> torch.Tensor:
        return relative_position_bias(
            self.relative_position_bias_table,
            self.relative_position_index,
            self.window_size * self.window_size,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return shifted_window_attention(
            x,
            self.qkv.weight,
            self.qkv.bias,
            self.proj.weight,
            self.proj.bias,
            self.position_bias(),
            self.window_size,
            self.shift_size,
            self.num_heads,
            self.attention_dropout,
            self.dropout,
            self.training,
            logit_scale=self.logit_scale,
        )
'''

# a subclass of ShiftedWindowAttention, which the generated file defines before it (helpers are
# written in the order of their names)
HELPERS["ShiftedWindowAttentionV2"] = '''
class ShiftedWindowAttentionV2(ShiftedWindowAttention):
    """Swin V2's window attention (Liu et al., 2022): scaled cosine attention, and a position
    bias per head computed by a small MLP (cpb_mlp) from log-spaced relative coordinates,
    16 · sigmoid(·), in place of the learned table. See shifted_window_attention."""

    relative_coords_table: torch.Tensor

    def __init__(
        self,
        dim: int,
        window_size: int,
        shift_size: int,
        num_heads: int,
        attention_dropout: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(
            dim, window_size, shift_size, num_heads, attention_dropout, dropout
        )
        with torch.no_grad():
            self.qkv.bias[dim : 2 * dim].zero_()

    def define_position_bias(self) -> None:
        """logit_scale per head, the relative coordinates and the MLP that maps them."""
        self.logit_scale = nn.Parameter(
            torch.log(10 * torch.ones((self.num_heads, 1, 1)))
        )
        self.register_buffer(
            "relative_coords_table", relative_coords_table(self.window_size)
        )
        self.cpb_mlp = nn.Sequential(
            nn.Linear(2, 512),
            nn.ReLU(inplace=True),
            nn.Linear(512, self.num_heads, bias=False),
        )

    def position_bias(self) -> torch.Tensor:
        table = self.cpb_mlp(self.relative_coords_table).view(-1, self.num_heads)
        n = self.window_size * self.window_size
        return 16 * torch.sigmoid(
            relative_position_bias(table, self.relative_position_index, n)
        )
'''

HELPERS["patch_merging"] = '''
def patch_merging(x: torch.Tensor) -> torch.Tensor:
    """Each 2×2 neighbourhood of a channels-last map as one position of 4C channels, in the
    order (0, 0), (1, 0), (0, 1), (1, 1); an odd height or width is padded with zeros."""
    h, w = x.shape[-3], x.shape[-2]
    x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
    x0 = x[..., 0::2, 0::2, :]
    x1 = x[..., 1::2, 0::2, :]
    x2 = x[..., 0::2, 1::2, :]
    x3 = x[..., 1::2, 1::2, :]
    return torch.cat([x0, x1, x2, x3], -1)
'''

HELPERS["PatchMerging"] = '''
class PatchMerging(nn.Module):
    """Swin's downsampling: halve the height and width and double the channels of a
    channels-last map; the 2×2 neighbourhoods (4C) are normalised, then reduced to 2C."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reduction(self.norm(patch_merging(x)))
'''

HELPERS["PatchMergingV2"] = '''
class PatchMergingV2(nn.Module):
    """Swin V2's downsampling: the 2×2 neighbourhoods (4C) reduced to 2C, then normalised."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(2 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.reduction(patch_merging(x)))
'''


class SwinBlockV2Attrs(Attrs):
    num_heads: Count
    """Number of attention heads; it must divide the channels (the input's last dimension)."""
    window_size: Count
    """Side of the square attention windows."""
    shift_size: Int = 0
    """How far the windows are shifted (0 ≤ shift < window; Swin alternates 0 and
    ``window_size // 2``)."""
    mlp_ratio: PositiveFloat = 4.0
    """Hidden width of the MLP, as a multiple of the channels (truncated to an integer)."""
    dropout: Probability = 0.0
    """Dropout after the attention's projection and in the MLP, in training."""
    attention_dropout: Probability = 0.0
    """Dropout on the attention weights, in training."""
    stochastic_depth_prob: Probability = 0.0
    """Probability of dropping each residual branch (per sample), in training."""


@register
class SwinBlockV2(Op):
    """Swin V2's block (torchvision's ``SwinTransformerBlockV2``) on a channels-last map:
    ``x + sd(norm1(attn(x)))``, then ``x + sd(norm2(mlp(x)))`` — normalisation after each
    sub-layer (res-post-norm). One operator rather than a block of the spec because its
    state_dict declares ``norm1`` before ``attn`` although ``forward`` calls it after, and a
    block of the spec declares its modules in the order it calls them."""

    name = "swin_block_v2"
    Attrs = SwinBlockV2Attrs
    category = "attention"
    module_name = "SwinTransformerBlockV2"
    leaf = False

    def _attn(self, a: Any) -> Any:
        return ShiftedWindowAttentionV2.Attrs.model_construct(
            num_heads=a.num_heads,
            window_size=a.window_size,
            shift_size=a.shift_size,
            attention_dropout=a.attention_dropout,
            dropout=a.dropout,
        )

    def _hidden(self, a: Any, x: Shape) -> Any:
        """The MLP's hidden width, ``int(c * mlp_ratio)`` (in generated code, where either is
        known only when constructed, that expression)."""
        if known(x[-1], a.mlp_ratio):
            return int(concrete(x[-1]) * concrete(a.mlp_ratio))
        return Sym(n.Call(n.Name("int"), (as_expr(x[-1] * a.mlp_ratio),)))

    def infer(self, a: Any, x: Shape) -> Shape:
        _ATTN_V2._check(self._attn(a), x, self.name)
        c = x[-1]
        # the width is checked where both are known; with a ratio given only when the
        # generated class is constructed, the class computes int(c * mlp_ratio) itself, as
        # swin_block's spec does with linear(int(dim * mlp_ratio))
        if known(c, a.mlp_ratio) and not (
            math.isfinite(concrete(c) * concrete(a.mlp_ratio))
            and int(concrete(c) * concrete(a.mlp_ratio)) >= 1
        ):
            raise OpError(
                f"{self.name}: mlp_ratio={a.mlp_ratio} makes an MLP of int({c}·{a.mlp_ratio}) "
                "hidden units; it needs at least 1",
                hint="torchvision's Swin uses 4.0",
                attr="mlp_ratio",
            )
        return x

    def tensors(self, a: Any, x: Shape) -> list[Tensor]:
        c = x[-1]
        hidden = self._hidden(a, x)
        attn = [
            Tensor(f"attn.{t.name}", t.shape, t.trainable)
            for t in _ATTN_V2.tensors(self._attn(a), x)
        ]
        return [
            Tensor("norm1.weight", (c,), True),
            Tensor("norm1.bias", (c,), True),
            *attn,
            Tensor("norm2.weight", (c,), True),
            Tensor("norm2.bias", (c,), True),
            Tensor("mlp.0.weight", (hidden, c), True),
            Tensor("mlp.0.bias", (hidden,), True),
            Tensor("mlp.3.weight", (c, hidden), True),
            Tensor("mlp.3.bias", (c,), True),
        ]

    def _mlp_macs(self, a: Any, x: Shape) -> Any:
        height, width, c = x
        return height * width * c * self._hidden(a, x) * 2

    def macs(self, a: Any, x: Shape, y: Shape) -> int:
        return whole(_ATTN_V2.macs(self._attn(a), x, y) + self._mlp_macs(a, x))

    def extra_ops(self, a: Any, x: Shape, y: Shape) -> int:
        height, width, c = x
        norms = 2 * 5 * height * width * c
        mlp = height * width * (self._hidden(a, x) * 2 + c)  # bias, GELU; bias
        adds = 2 * height * width * c
        return whole(_ATTN_V2.extra_ops(self._attn(a), x, y) + norms + mlp + adds)

    def module(self, a: Any, x: Shape) -> PyCall:
        args = (x[-1], a.num_heads, a.window_size, a.shift_size)
        helpers = (
            "SwinTransformerBlockV2",
            "ShiftedWindowAttentionV2",
            "ShiftedWindowAttention",
            "shifted_window_attention",
            "relative_position_index",
            "relative_position_bias",
            "relative_coords_table",
            "StochasticDepth",
            "stochastic_depth",
        )
        return PyCall(
            "SwinTransformerBlockV2", args, self.kwargs(a, skip=["shift_size"]), helpers=helpers
        )

    def calls(self, a: Any, x: Shape, y: Shape) -> list[tuple[str, Shape]]:
        hidden = (*x[:2], self._hidden(a, x))
        inner = [(f"attn.{p}", s) for p, s in _ATTN_V2.calls(self._attn(a), x, y)]
        return [
            *inner,
            ("norm1", x),
            ("stochastic_depth", x),
            ("mlp.0", hidden),
            ("mlp.1", hidden),
            ("mlp.2", hidden),
            ("mlp.3", x),
            ("mlp.4", x),
            ("norm2", x),
            ("stochastic_depth", x),
        ]

    def explain(self, a: Any, x: Shape, y: Shape) -> list[str]:
        height, width, c = x
        hidden = self._hidden(a, x)
        mlp = self._mlp_macs(a, x)
        return [
            "attn (shifted_window_attention_v2), norm1 after it; mlp, norm2 after it; each "
            "added to its input",
            *_ATTN_V2.explain(self._attn(a), x, y),
            f"MACs mlp: {height}·{width}·{c}·{hidden}·2 = {mlp:,}",
            f"MACs block: {_ATTN_V2.macs(self._attn(a), x, y):,} + {mlp:,} = "
            f"{self.macs(a, x, y):,}",
        ]


HELPERS["SwinTransformerBlockV2"] = '''
class SwinTransformerBlockV2(nn.Module):
    """Swin V2's block on a channels-last map: window attention, then an MLP, each followed
    by a layer norm and added to its input through stochastic depth (res-post-norm)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int,
        shift_size: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        stochastic_depth_prob: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = ShiftedWindowAttentionV2(
            dim,
            window_size,
            shift_size,
            num_heads,
            attention_dropout=attention_dropout,
            dropout=dropout,
        )
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.stochastic_depth(self.norm1(self.attn(x)))
        x = x + self.stochastic_depth(self.norm2(self.mlp(x)))
        return x
'''
