"""Every operator's static rules against PyTorch itself.

For random attributes and input shapes (valid and invalid), netspec's statically inferred
output shape and parameter count must equal those of the module PyTorch builds and runs on a
real tensor — and netspec must reject exactly the inputs PyTorch rejects. The PyTorch side is an
independent oracle written here, not netspec's generated code; the module netspec builds is
checked against the same tensor too.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, note
from hypothesis import strategies as st
from torch import nn

import netspec
from netspec import ops
from netspec.errors import NetspecError
from netspec.expand.ir import OpNode
from netspec.expr.evaluate import show
from tests.conftest import spec_text
from tests.ops import oracles

Oracle = Callable[
    [dict[str, Any], tuple[int, ...]], tuple[Callable[[torch.Tensor], Any], nn.Module]
]

BATCH = 2


def call_text(op: str, attrs: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={show(v)}" for k, v in attrs.items())
    return f"{op}({args})" if args else op


def sample(op: str, attrs: dict[str, Any], shape: tuple[int, ...]) -> torch.Tensor:
    """A batch of inputs for ``op``: integer ids (in the table) for an embedding."""
    if ops.REGISTRY[op].reads_ids:
        return torch.randint(0, max(1, attrs.get("num_embeddings", 1)), (BATCH, *shape))
    return torch.randn(BATCH, *shape)


def run_static(op: str, attrs: dict[str, Any], shape: tuple[int, ...]) -> Any:
    extra = {"input_dtype": "int64"} if ops.REGISTRY[op].reads_ids else {}
    text = spec_text([f"- layer: {json.dumps(call_text(op, attrs))}"], shape, **extra)
    try:
        spec = netspec.loads(text)
        node = spec.network.root.children[0]
        return ("ok", tuple(node.output), node.parameters, spec)
    except NetspecError as exc:
        return ("error", exc.render(), None, None)


def run_torch(oracle: Oracle, x: torch.Tensor, attrs: dict[str, Any]) -> Any:
    shape = tuple(x.shape[1:])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn, module = oracle(attrs, shape)
            y = fn(x)
        return ("ok", tuple(y.shape[1:]), sum(p.numel() for p in module.parameters()))
    except (RuntimeError, ValueError, TypeError, IndexError, NotImplementedError) as exc:
        return ("error", f"{type(exc).__name__}: {exc}", None)


def check(
    op: str, oracle: Oracle, attrs: dict[str, Any], shape: tuple[int, ...], notes: bool = True
) -> None:
    static = run_static(op, attrs, shape)
    x = sample(op, attrs, shape)
    real = run_torch(oracle, x, attrs)
    if notes:
        note(f"{call_text(op, attrs)} on input {shape}")
        note(f"netspec: {static[:3]}")
        note(f"torch:   {real}")
    assert static[0] == real[0], f"netspec {static[0]} but torch {real[0]}: {static[1]} / {real[1]}"
    if static[0] == "ok":
        assert static[1] == real[1], "output shape"
        assert static[2] == real[2], "parameter count"
        built = static[3].build()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = built(x)
        assert tuple(y.shape[1:]) == static[1], "netspec's built module"
        assert sum(p.numel() for p in built.parameters()) == static[2]


# -- oracles: the PyTorch code a user would write ------------------------------------------------


def _module(m: nn.Module) -> tuple[Callable[[torch.Tensor], Any], nn.Module]:
    return m, m


def conv_oracle(rank: int) -> Oracle:
    cls = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[rank]

    def make(a: dict[str, Any], x: tuple[int, ...]) -> Any:
        if len(x) != rank + 1:
            raise RuntimeError("wrong rank")
        kw = {k: v for k, v in a.items() if k not in ("out_channels", "kernel_size", "padding")}
        padding = a.get("padding", 0)
        if isinstance(padding, list) and any(isinstance(p, list) for p in padding):
            pairs = [p if isinstance(p, list) else [p, p] for p in padding]
            flat = [v for pair in reversed(pairs) for v in pair]
            mode = {"zeros": "constant"}.get(
                kw.get("padding_mode", "zeros"), kw.get("padding_mode")
            )
            conv = cls(x[0], a["out_channels"], a["kernel_size"], padding=0, **kw)
            return (lambda t: conv(F.pad(t, flat, mode=mode))), conv
        if isinstance(padding, list):
            padding = tuple(padding)
        return _module(cls(x[0], a["out_channels"], a["kernel_size"], padding=padding, **kw))

    return make


def conv_transpose_oracle(rank: int) -> Oracle:
    cls = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[rank]

    def make(a: dict[str, Any], x: tuple[int, ...]) -> Any:
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in a.items()}
        return _module(cls(x[0], kw.pop("out_channels"), kw.pop("kernel_size"), **kw))

    return batched(rank, make)


def batched(rank: int, oracle: Oracle) -> Oracle:
    """Require the batched input rank: PyTorch would read a lower-rank input as an unbatched
    sample (the batch as channels), which is not the same network; netspec always has a
    batch dimension."""

    def make(a: dict[str, Any], x: tuple[int, ...]) -> Any:
        if len(x) != rank + 1:
            raise RuntimeError(f"expected a batched {rank + 2}-d input, found {len(x) + 1}-d")
        return oracle(a, x)

    return make


def pool_oracle(cls: type[nn.Module], rank: int) -> Oracle:
    def make(a: dict[str, Any], x: tuple[int, ...]) -> Any:
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in a.items()}
        return _module(cls(**kw))

    return batched(rank, make)


def simple(factory: Callable[..., nn.Module], features: bool = False) -> Oracle:
    def make(a: dict[str, Any], x: tuple[int, ...]) -> Any:
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in a.items()}
        if features:
            return _module(factory(x[0], **kw))
        return _module(factory(**kw))

    return make


def linear_oracle(a: dict[str, Any], x: tuple[int, ...]) -> Any:
    return _module(nn.Linear(x[-1], **a))


def batchnorm_oracle(cls: type[nn.Module], ranks: tuple[int, ...]) -> Oracle:
    def make(a: dict[str, Any], x: tuple[int, ...]) -> Any:
        if len(x) not in ranks:  # BatchNorm2d checks this itself; 1d accepts (N, C) and (N, C, L)
            raise RuntimeError("wrong rank")
        return _module(cls(x[0], **a))

    return make


def instance_norm_oracle(cls: type[nn.Module], rank: int) -> Oracle:
    """nn.InstanceNormNd; PyTorch reads an input of one dimension fewer as an unbatched
    sample, which netspec's batched shapes do not mean."""
    return batched(rank, lambda a, x: _module(cls(x[0], **a)))


def group_norm_oracle(a: dict[str, Any], x: tuple[int, ...]) -> Any:
    kw = dict(a)
    return _module(nn.GroupNorm(kw.pop("num_groups"), x[0], **kw))


def upsample_oracle(a: dict[str, Any], x: tuple[int, ...]) -> Any:
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in a.items()}
    return _module(nn.Upsample(**kw))


def zeropad_oracle(cls: type[nn.Module], rank: int) -> Oracle:
    """nn.ZeroPadNd; a result of a size below 1 netspec refuses, as every size below 1, where
    PyTorch goes on with an empty tensor (a crop of all of it that padding refills, ``(-8, 1)``
    on 8, is PyTorch's)."""

    def make(a: dict[str, Any], x: tuple[int, ...]) -> Any:
        padding = a["padding"]
        sides = padding if isinstance(padding, list) else [padding] * (2 * rank)
        for d in range(rank if len(x) >= rank else 0):  # sides come last dimension first
            if x[-1 - d] + sides[2 * d] + sides[2 * d + 1] < 1:
                raise RuntimeError(f"the padding {sides[2 * d : 2 * d + 2]} leaves nothing")
        return _module(cls(tuple(padding) if isinstance(padding, list) else padding))

    return make


def permute_oracle(a: dict[str, Any], x: tuple[int, ...]) -> Any:
    """torchvision's Permute; moving the batch (a valid permutation whose first entry is not
    the batch) gives another network, which netspec refuses by design."""
    dims, rank = a["dims"], len(x) + 1
    if sorted(d % rank if -rank <= d < rank else d for d in dims) == list(range(rank)):
        if dims[0] % rank != 0:
            raise ValueError("moves the batch dimension")
    return _module(oracles.Permute(dims))


def attention_oracle(a: dict[str, Any], x: tuple[int, ...]) -> Any:
    """torchvision's ViT's self-attention: batch first, so a sequence per sample (tokens ×
    embedding); PyTorch would read a 2-d batch as one unbatched sequence, another network."""
    if len(x) != 2:
        raise RuntimeError("batch_first self-attention takes tokens × embedding per sample")
    try:
        m = nn.MultiheadAttention(x[-1], batch_first=True, **a)
    except AssertionError as exc:  # embed_dim must be divisible by num_heads
        raise ValueError(str(exc)) from None
    return (lambda t: m(t, t, t, need_weights=False)[0]), m


def window_oracle(v2: bool) -> Oracle:
    """torchvision's Swin window attention on a channels-last map per sample; netspec refuses
    by design a shift outside 0 … window − 1 (torchvision computes a meaningless mask) and,
    for V2, a window of 1 (its coordinates are divided by window − 1: NaN)."""
    cls = oracles.ShiftedWindowAttentionV2 if v2 else oracles.ShiftedWindowAttention

    def make(a: dict[str, Any], x: tuple[int, ...]) -> Any:
        if len(x) != 3:
            raise ValueError("a channels-last map per sample")
        w, shift = a["window_size"], a.get("shift_size", 0)
        if not 0 <= shift < w:
            raise ValueError("the shift must be below the window")
        if v2 and w < 2:
            raise ValueError("a V2 window of at least 2")
        kw = {k: v for k, v in a.items() if k not in ("num_heads", "window_size", "shift_size")}
        return _module(cls(x[-1], [w, w], [shift, shift], a["num_heads"], **kw))

    return make


def merging_oracle(v2: bool) -> Oracle:
    cls = oracles.PatchMergingV2 if v2 else oracles.PatchMerging

    def make(a: dict[str, Any], x: tuple[int, ...]) -> Any:
        if len(x) != 3:  # torchvision's would take more leading dimensions: another network
            raise ValueError("a channels-last map per sample")
        return _module(cls(x[-1]))

    return make


def swin_block_v2_oracle(a: dict[str, Any], x: tuple[int, ...]) -> Any:
    kw = dict(a)
    heads, w, shift = kw.pop("num_heads"), kw.pop("window_size"), kw.pop("shift_size", 0)
    window_oracle(True)({"num_heads": heads, "window_size": w, "shift_size": shift}, x)
    return _module(oracles.SwinTransformerBlockV2(x[-1], heads, [w, w], [shift, shift], **kw))


def partition_attention_oracle(a: dict[str, Any], x: tuple[int, ...]) -> Any:
    """torchvision's MaxViT attention layer, given the map's size (its grid_size). It asserts
    that the partition size divides the map (MaxVit's constructor raises ValueError for it);
    a grid layer of torchvision's needs a square map, which the attributes drawn respect."""
    if len(x) != 3:
        raise ValueError("a channels-first map per sample")
    kw = dict(a)
    head_dim, size = kw.pop("head_dim"), kw.pop("partition_size")
    kind = kw.pop("partition_type", "window")
    if "stochastic_depth_prob" in kw:
        kw["p_stochastic_dropout"] = kw.pop("stochastic_depth_prob")
    if x[1] % size or x[2] % size:
        raise ValueError("the partition size must divide the map")
    grid = (x[1], x[2])
    return _module(oracles.PartitionAttentionLayer(x[0], head_dim, size, kind, grid, **kw))


def partition_attrs(shape: tuple[int, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """Windows on any map; a grid on square maps only (torchvision's grid layer cuts both
    sides by the height's count)."""
    square = len(shape) == 3 and shape[1] == shape[2]
    return st.fixed_dictionaries(
        {"head_dim": st.sampled_from([1, 2, 4, 3]), "partition_size": st.integers(1, 4)},
        optional={
            "partition_type": st.sampled_from(["window", "grid"] if square else ["window"]),
            "mlp_ratio": st.integers(1, 3),
            "attention_dropout": st.sampled_from([0.0, 0.1]),
            "mlp_dropout": st.sampled_from([0.0, 0.1]),
            "stochastic_depth_prob": st.sampled_from([0.0, 0.2]),
        },
    )


def select_oracle(a: dict[str, Any], x: tuple[int, ...]) -> Any:
    """``torch.select``; selecting from the batch gives another network, refused by design."""
    rank = len(x) + 1
    if a["dim"] % rank == 0 and -rank <= a["dim"] < rank:
        raise ValueError("selects from the batch")
    return (lambda t: torch.select(t, a["dim"], a["index"])), nn.Identity()


def reshape_oracle(a: dict[str, Any], x: tuple[int, ...]) -> Any:
    return (lambda t: t.reshape(t.shape[0], *a["shape"])), nn.Identity()


def layer_norm_oracle(a: dict[str, Any], x: tuple[int, ...]) -> Any:
    """nn.LayerNorm; a normalized_shape longer than the sample would reach into the batch,
    which netspec's batch-free shapes refuse."""
    kw = dict(a)
    shape = kw.pop("normalized_shape", None)
    shape = x[-1] if shape is None else shape
    if isinstance(shape, list) and len(shape) > len(x):
        raise ValueError("normalized_shape reaches into the batch")
    return _module(nn.LayerNorm(shape, **kw))


def layer_norm2d_oracle(a: dict[str, Any], x: tuple[int, ...]) -> Any:
    return _module(oracles.LayerNorm2d(x[0], **a))


def stochastic_depth_oracle(a: dict[str, Any], x: tuple[int, ...]) -> Any:
    return _module(oracles.StochasticDepth(a["p"], a.get("mode", "row")))


# -- strategies ------------------------------------------------------------------------------------

small = st.integers(1, 8)


def embedding_oracle(a: dict[str, Any], x: tuple[int, ...]) -> Any:
    try:
        return _module(nn.Embedding(**a))
    except AssertionError as exc:  # PyTorch asserts padding_idx is in the table
        raise ValueError(str(exc)) from None


def recurrent_oracle(cls: type[nn.RNNBase]) -> Oracle:
    """``nn.LSTM``/``nn.GRU`` batch first, returning every step's output or the last step's."""

    def make(a: dict[str, Any], x: tuple[int, ...]) -> Any:
        kw = {k: v for k, v in a.items() if k != "output"}
        module = cls(x[-1], batch_first=True, **kw)
        if a.get("output") == "last":
            return (lambda t: module(t)[0][:, -1]), module
        return (lambda t: module(t)[0]), module

    return batched(1, make)


def recurrent_attrs(proj: bool) -> st.SearchStrategy[dict[str, Any]]:
    required = st.fixed_dictionaries({"hidden_size": st.integers(1, 6)})
    rest = optional(
        num_layers=st.integers(1, 3),
        bias=st.booleans(),
        dropout=st.sampled_from([0.0, 0.25]),
        bidirectional=st.booleans(),
        output=st.sampled_from(["sequence", "last"]),
        **({"proj_size": st.integers(0, 6)} if proj else {}),
    )
    return st.tuples(required, rest).map(lambda t: {**t[0], **t[1]})


def shapes(rank: int, spatial: int = 12) -> st.SearchStrategy[tuple[int, ...]]:
    """Mostly ``rank + 1`` dims (channels first); sometimes one more (up to the 4 a sample
    may have) or one fewer."""
    ranks = st.sampled_from([rank + 1] * 8 + [max(1, rank), min(rank + 2, 4)])
    return ranks.flatmap(
        lambda r: (
            st.tuples(small, *[st.integers(1, spatial)] * (r - 1)) if r > 1 else st.tuples(small)
        )
    )


def sizes(rank: int, lo: int = 1, hi: int = 5) -> st.SearchStrategy[Any]:
    one = st.integers(lo, hi)
    return st.one_of(one, st.lists(one, min_size=rank, max_size=rank))


def optional(**strategies: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=strategies)


def conv_attrs(rank: int) -> st.SearchStrategy[dict[str, Any]]:
    pad_one = st.integers(0, 3)
    pair = st.lists(st.integers(0, 3), min_size=2, max_size=2)
    padding = st.one_of(
        pad_one,
        st.lists(pad_one, min_size=rank, max_size=rank),
        st.lists(st.one_of(pair, pad_one), min_size=rank, max_size=rank),
        st.sampled_from(["same", "valid"]),
    )
    required = st.fixed_dictionaries(
        {"out_channels": st.sampled_from([1, 2, 3, 4, 6, 8]), "kernel_size": sizes(rank, 0, 5)}
    )
    rest = optional(
        stride=sizes(rank, 0, 3),
        padding=padding,
        dilation=sizes(rank, 1, 3),
        groups=st.integers(1, 4),
        bias=st.booleans(),
        padding_mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
    )
    return st.tuples(required, rest).map(lambda t: {**t[0], **t[1]})


def conv_transpose_attrs(rank: int) -> st.SearchStrategy[dict[str, Any]]:
    required = st.fixed_dictionaries(
        {"out_channels": st.sampled_from([1, 2, 3, 4, 6, 8]), "kernel_size": sizes(rank, 0, 4)}
    )
    rest = optional(
        stride=sizes(rank, 0, 3),
        padding=sizes(rank, 0, 3),
        output_padding=sizes(rank, 0, 3),
        dilation=sizes(rank, 1, 3),
        groups=st.integers(1, 4),
        bias=st.booleans(),
    )
    return st.tuples(required, rest).map(lambda t: {**t[0], **t[1]})


def upsample_attrs(shape: tuple[int, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly a size or a scale factor (one value, or one per spatial dimension) and a mode for
    the input's rank; sometimes both, neither, lists of another length, any mode, and the
    options PyTorch refuses in some modes."""
    rank = max(len(shape) - 1, 1)
    fitting = {1: ["linear"], 2: ["bilinear", "bicubic"], 3: ["trilinear"]}.get(len(shape) - 1)
    modes = ["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area"]
    mode = st.sampled_from(["nearest", "nearest-exact", "area", *(fitting or [])])
    mode = st.one_of(mode, mode, st.sampled_from(modes))
    one_size = st.integers(0, 8)
    size = st.one_of(
        one_size,
        st.lists(one_size, min_size=rank, max_size=rank),
        st.lists(one_size, min_size=1, max_size=3),
    )
    factor = st.sampled_from([2, 3, 1, 0.5, 1.5, 0.3, 2.5, 1.0])
    scale = st.one_of(
        factor,
        st.lists(factor, min_size=rank, max_size=rank),
        st.lists(factor, min_size=1, max_size=3),
    )
    main = st.one_of(
        st.fixed_dictionaries({"size": size}),
        st.fixed_dictionaries({"scale_factor": scale}),
        st.fixed_dictionaries({"size": size}),
        st.fixed_dictionaries({"scale_factor": scale}),
        st.fixed_dictionaries({"size": size, "scale_factor": scale}),
        st.just({}),
    )
    rest = st.fixed_dictionaries(
        {"mode": mode},
        optional={
            "align_corners": st.one_of(st.none(), st.booleans()),
            "recompute_scale_factor": st.one_of(st.none(), st.booleans()),
        },
    )
    return st.tuples(main, rest).map(lambda t: {**t[0], **t[1]})


def pool_attrs(rank: int, dilation: bool, avg: bool, divisor: bool) -> st.SearchStrategy[Any]:
    extra: dict[str, st.SearchStrategy[Any]] = {
        "stride": st.one_of(st.none(), sizes(rank, 0, 4)),
        "padding": sizes(rank, 0, 3),
        "ceil_mode": st.booleans(),
    }
    if dilation:
        extra["dilation"] = sizes(rank, 0, 3)
    if avg:
        extra["count_include_pad"] = st.booleans()
    if divisor:
        extra["divisor_override"] = st.one_of(st.none(), st.integers(1, 4))
    return st.tuples(
        st.fixed_dictionaries({"kernel_size": sizes(rank, 0, 5)}), optional(**extra)
    ).map(lambda t: {**t[0], **t[1]})


def adaptive_attrs(rank: int) -> st.SearchStrategy[dict[str, Any]]:
    entry = st.one_of(st.integers(1, 6), st.none())
    size = st.one_of(st.integers(1, 6), st.lists(entry, min_size=rank, max_size=rank))
    return st.fixed_dictionaries({"output_size": size})


@dataclass(frozen=True)
class ForShape:
    """An attribute strategy that depends on the input shape (drawn first)."""

    attrs: Callable[[tuple[int, ...]], st.SearchStrategy[dict[str, Any]]]


def permute_dims(shape: tuple[int, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """Permutations of the input's dimensions (batch included), mostly keeping the batch first,
    entries sometimes counted from the end; sometimes of another rank, or any short list
    (repeats, out of range)."""

    def permutation(rank: int) -> st.SearchStrategy[list[int]]:
        keep = st.permutations(range(1, rank)).map(lambda p: [0, *p])
        order = st.one_of(keep, keep, keep, st.permutations(range(rank)).map(list))
        negative = st.lists(st.booleans(), min_size=rank, max_size=rank)
        return st.tuples(order, negative).map(
            lambda t: [d - rank if neg else d for d, neg in zip(*t, strict=True)]
        )

    rank = len(shape) + 1
    valid = permutation(rank)
    dims = st.one_of(
        valid,
        valid,
        valid,
        st.integers(1, 5).flatmap(permutation),
        st.lists(st.integers(-5, 5), min_size=1, max_size=5),
    )
    return st.fixed_dictionaries({"dims": dims})


@st.composite
def fitting_shape(draw: st.DrawFn, total: int) -> list[int]:
    """Sizes that multiply to ``total``, in any order, one of them sometimes -1."""
    sizes: list[int] = []
    left = total
    for _ in range(draw(st.integers(0, 2))):
        size = draw(st.sampled_from([d for d in range(1, left + 1) if left % d == 0]))
        sizes.append(size)
        left //= size
    sizes = list(draw(st.permutations([*sizes, left])))
    if draw(st.booleans()):
        sizes[draw(st.integers(0, len(sizes) - 1))] = -1
    return sizes


def reshape_shapes(shape: tuple[int, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """Shapes that fit the input, or any short list of sizes (which may not fit, or repeat
    -1, or hold sizes PyTorch refuses)."""
    other = st.lists(st.sampled_from([-1, 1, 2, 3, 4, 6, 8, 0, -2]), min_size=1, max_size=3)
    fit = fitting_shape(math.prod(shape))
    return st.fixed_dictionaries({"shape": st.one_of(fit, fit, other)})


any_shape = st.integers(1, 4).flatmap(lambda r: st.tuples(*[st.integers(1, 6)] * r))
shuffle_shape = st.one_of(
    st.tuples(st.sampled_from([1, 2, 3, 4, 8, 9, 12, 16, 18, 27]), *[st.integers(1, 5)] * 2),
    any_shape,
)
unshuffle_shape = st.one_of(st.tuples(st.integers(1, 4), *[st.integers(1, 9)] * 2), any_shape)
norm_options = optional(
    eps=st.sampled_from([1e-5, 1e-3]),
    momentum=st.sampled_from([0.1, None]),
    affine=st.booleans(),
    track_running_stats=st.booleans(),
)
inplace = optional(inplace=st.booleans())
nothing = st.just({})
# a channels-last map (height × width × channels) of a few windows, or any other shape
window_shape = st.one_of(
    st.tuples(st.integers(1, 9), st.integers(1, 9), st.sampled_from([2, 4, 6, 8])), any_shape
)
window_attrs = st.fixed_dictionaries(
    {"num_heads": st.integers(1, 4), "window_size": st.integers(1, 5)},
    optional={
        "shift_size": st.integers(0, 5),
        "attention_dropout": st.sampled_from([0.0, 0.1]),
        "dropout": st.sampled_from([0.0, 0.1]),
    },
)

CASES: dict[str, tuple[st.SearchStrategy[Any] | ForShape, st.SearchStrategy[Any], Oracle]] = {
    "conv1d": (conv_attrs(1), shapes(1), conv_oracle(1)),
    "conv2d": (conv_attrs(2), shapes(2), conv_oracle(2)),
    "conv3d": (conv_attrs(3), shapes(3, 6), conv_oracle(3)),
    "conv_transpose1d": (conv_transpose_attrs(1), shapes(1), conv_transpose_oracle(1)),
    "conv_transpose2d": (conv_transpose_attrs(2), shapes(2, 8), conv_transpose_oracle(2)),
    "conv_transpose3d": (conv_transpose_attrs(3), shapes(3, 4), conv_transpose_oracle(3)),
    "linear": (
        st.fixed_dictionaries({"out_features": small}, optional={"bias": st.booleans()}),
        any_shape,
        linear_oracle,
    ),
    "batchnorm1d": (
        optional(
            eps=st.sampled_from([1e-5, 1e-3]),
            momentum=st.sampled_from([0.1, None]),
            affine=st.booleans(),
            track_running_stats=st.booleans(),
        ),
        any_shape,
        batchnorm_oracle(nn.BatchNorm1d, (1, 2)),
    ),
    "batchnorm2d": (
        optional(affine=st.booleans(), track_running_stats=st.booleans()),
        any_shape,
        batchnorm_oracle(nn.BatchNorm2d, (3,)),
    ),
    "batchnorm3d": (
        optional(affine=st.booleans(), track_running_stats=st.booleans()),
        st.one_of(shapes(3, 4), any_shape),
        batchnorm_oracle(nn.BatchNorm3d, (4,)),
    ),
    # In training PyTorch refuses a single value per channel (1×1 inputs): so does netspec.
    "instance_norm1d": (norm_options, shapes(1, 6), instance_norm_oracle(nn.InstanceNorm1d, 1)),
    "instance_norm2d": (norm_options, shapes(2, 6), instance_norm_oracle(nn.InstanceNorm2d, 2)),
    "instance_norm3d": (norm_options, shapes(3, 4), instance_norm_oracle(nn.InstanceNorm3d, 3)),
    "group_norm": (
        st.fixed_dictionaries(
            {"num_groups": st.integers(1, 6)},
            optional={
                "eps": st.sampled_from([1e-5, 1e-3]),
                "affine": st.booleans(),
                "bias": st.booleans(),
            },
        ),
        any_shape,
        group_norm_oracle,
    ),
    "layer_norm": (
        optional(
            normalized_shape=st.one_of(
                st.none(), st.integers(1, 6), st.lists(st.integers(1, 6), min_size=1, max_size=3)
            ),
            eps=st.sampled_from([1e-5, 1e-6]),
            elementwise_affine=st.booleans(),
            bias=st.booleans(),
        ),
        any_shape,
        layer_norm_oracle,
    ),
    "layer_norm2d": (
        optional(eps=st.sampled_from([1e-5, 1e-6])),
        shapes(2, 6),
        layer_norm2d_oracle,
    ),
    "local_response_norm": (
        st.fixed_dictionaries(
            {"size": st.integers(1, 6)},
            optional={"alpha": st.just(1e-3), "beta": st.just(0.5), "k": st.just(2.0)},
        ),
        any_shape,
        simple(nn.LocalResponseNorm),
    ),
    "relu": (inplace, any_shape, simple(nn.ReLU)),
    "relu6": (inplace, any_shape, simple(nn.ReLU6)),
    "silu": (inplace, any_shape, simple(nn.SiLU)),
    "hardswish": (inplace, any_shape, simple(nn.Hardswish)),
    "hardsigmoid": (inplace, any_shape, simple(nn.Hardsigmoid)),
    "sigmoid": (nothing, any_shape, simple(nn.Sigmoid)),
    "tanh": (nothing, any_shape, simple(nn.Tanh)),
    "leaky_relu": (
        optional(negative_slope=st.sampled_from([0.01, 0.2]), inplace=st.booleans()),
        any_shape,
        simple(nn.LeakyReLU),
    ),
    "gelu": (optional(approximate=st.sampled_from(["none", "tanh"])), any_shape, simple(nn.GELU)),
    "softmax": (optional(dim=st.integers(-5, 5)), any_shape, simple(nn.Softmax)),
    "log_softmax": (optional(dim=st.integers(-5, 5)), any_shape, simple(nn.LogSoftmax)),
    "dropout": (
        optional(p=st.sampled_from([0.0, 0.5, 1.0]), inplace=st.booleans()),
        any_shape,
        simple(nn.Dropout),
    ),
    # PyTorch deprecates (and warns it will reject) dropout2d on anything but C×H×W samples.
    "dropout2d": (
        optional(p=st.sampled_from([0.0, 0.5])),
        any_shape,
        batched(2, simple(nn.Dropout2d)),
    ),
    "stochastic_depth": (
        st.fixed_dictionaries(
            {"p": st.sampled_from([0.0, 0.2, 0.5, 1.0, 1.5, -0.1])},
            optional={"mode": st.sampled_from(["row", "batch", "col"])},
        ),
        any_shape,
        stochastic_depth_oracle,
    ),
    "maxpool1d": (pool_attrs(1, True, False, False), shapes(1), pool_oracle(nn.MaxPool1d, 1)),
    "maxpool2d": (pool_attrs(2, True, False, False), shapes(2), pool_oracle(nn.MaxPool2d, 2)),
    "avgpool1d": (pool_attrs(1, False, True, False), shapes(1), pool_oracle(nn.AvgPool1d, 1)),
    "avgpool2d": (pool_attrs(2, False, True, True), shapes(2), pool_oracle(nn.AvgPool2d, 2)),
    "maxpool3d": (pool_attrs(3, True, False, False), shapes(3, 7), pool_oracle(nn.MaxPool3d, 3)),
    "avgpool3d": (pool_attrs(3, False, True, True), shapes(3, 7), pool_oracle(nn.AvgPool3d, 3)),
    "adaptive_avgpool1d": (adaptive_attrs(1), shapes(1), pool_oracle(nn.AdaptiveAvgPool1d, 1)),
    "adaptive_avgpool2d": (adaptive_attrs(2), shapes(2), pool_oracle(nn.AdaptiveAvgPool2d, 2)),
    "adaptive_maxpool1d": (adaptive_attrs(1), shapes(1), pool_oracle(nn.AdaptiveMaxPool1d, 1)),
    "adaptive_maxpool2d": (adaptive_attrs(2), shapes(2), pool_oracle(nn.AdaptiveMaxPool2d, 2)),
    "adaptive_avgpool3d": (
        adaptive_attrs(3),
        shapes(3, 7),
        pool_oracle(nn.AdaptiveAvgPool3d, 3),
    ),
    "adaptive_maxpool3d": (
        adaptive_attrs(3),
        shapes(3, 7),
        pool_oracle(nn.AdaptiveMaxPool3d, 3),
    ),
    # nn.Upsample interpolates batched inputs of 1 to 3 spatial dimensions only
    "upsample": (ForShape(upsample_attrs), any_shape, upsample_oracle),
    "pixel_shuffle": (
        st.fixed_dictionaries({"upscale_factor": st.integers(1, 3)}),
        shuffle_shape,
        batched(2, simple(nn.PixelShuffle)),
    ),
    "pixel_unshuffle": (
        st.fixed_dictionaries({"downscale_factor": st.integers(1, 3)}),
        unshuffle_shape,
        batched(2, simple(nn.PixelUnshuffle)),
    ),
    # Flattening the batch (start_dim 0) is outside netspec's batch-free shapes by design.
    "flatten": (
        optional(start_dim=st.integers(1, 4), end_dim=st.integers(-4, 4)),
        any_shape,
        simple(nn.Flatten),
    ),
    "identity": (nothing, any_shape, simple(nn.Identity)),
    # nn.ChannelShuffle as the oracle of which inputs are valid: channels first, any spatial rank
    "channel_shuffle": (
        st.fixed_dictionaries({"groups": st.integers(1, 6)}),
        st.one_of(shapes(2, 6), any_shape),
        simple(nn.ChannelShuffle),
    ),
    "permute": (ForShape(permute_dims), any_shape, permute_oracle),
    "select": (
        st.fixed_dictionaries({"dim": st.integers(-4, 4), "index": st.integers(-7, 7)}),
        any_shape,
        select_oracle,
    ),
    "multihead_attention": (
        st.fixed_dictionaries(
            {"num_heads": st.integers(1, 4)},
            optional={"dropout": st.sampled_from([0.0, 0.1]), "bias": st.booleans()},
        ),
        st.one_of(st.tuples(st.integers(1, 5), st.sampled_from([4, 6, 8, 9])), any_shape),
        attention_oracle,
    ),
    "shifted_window_attention": (window_attrs, window_shape, window_oracle(False)),
    "shifted_window_attention_v2": (window_attrs, window_shape, window_oracle(True)),
    "patch_merging": (nothing, window_shape, merging_oracle(False)),
    "patch_merging_v2": (nothing, window_shape, merging_oracle(True)),
    "swin_block_v2": (
        st.tuples(
            window_attrs,
            optional(
                mlp_ratio=st.sampled_from([1.0, 2.0, 4.0]),
                stochastic_depth_prob=st.sampled_from([0.0, 0.2]),
            ),
        ).map(lambda t: {**t[0], **t[1]}),
        window_shape,
        swin_block_v2_oracle,
    ),
    "partition_attention": (
        ForShape(partition_attrs),
        # a channels-first map of a few partitions, or any other shape
        st.one_of(
            st.integers(1, 8).flatmap(
                lambda s: st.tuples(st.sampled_from([4, 6, 8]), st.just(s), st.just(s))
            ),
            st.tuples(st.sampled_from([4, 8]), st.integers(1, 8), st.integers(1, 8)),
            any_shape,
        ),
        partition_attention_oracle,
    ),
    # An empty shape (one scalar per sample) is outside netspec's shapes by design.
    "reshape": (ForShape(reshape_shapes), any_shape, reshape_oracle),
    "embedding": (
        st.tuples(
            st.fixed_dictionaries(
                {"num_embeddings": st.integers(1, 20), "embedding_dim": st.integers(1, 8)}
            ),
            optional(padding_idx=st.integers(-25, 25)),
        ).map(lambda t: {**t[0], **t[1]}),
        any_shape,
        embedding_oracle,
    ),
    # sequence × features, batch first; a 1-d input would be an unbatched sequence to PyTorch
    "lstm": (recurrent_attrs(True), shapes(1, 6), recurrent_oracle(nn.LSTM)),
    "gru": (recurrent_attrs(False), shapes(1, 6), recurrent_oracle(nn.GRU)),
    "zeropad1d": (
        st.fixed_dictionaries(
            {
                "padding": st.one_of(
                    st.integers(-3, 3), st.lists(st.integers(-3, 3), min_size=2, max_size=2)
                )
            }
        ),
        shapes(1, 6),
        zeropad_oracle(nn.ZeroPad1d, 1),
    ),
    "zeropad2d": (
        st.fixed_dictionaries(
            {
                "padding": st.one_of(
                    st.integers(-3, 3), st.lists(st.integers(-3, 3), min_size=4, max_size=4)
                )
            }
        ),
        shapes(2, 6),
        zeropad_oracle(nn.ZeroPad2d, 2),
    ),
}


APPLIED_IN_BLOCKS = {"add", "mul", "prepend"}
"""Operators that apply a block's (or the model's) learned tensor: their property test builds
blocks (tests/ops/test_learned.py)."""


def test_every_operator_has_a_property_test() -> None:
    assert sorted(set(CASES) | APPLIED_IN_BLOCKS) == ops.names()


@pytest.mark.parametrize("name", sorted(CASES))
def test_static_rules_match_pytorch(name: str) -> None:
    attrs_st, shape_st, oracle = CASES[name]
    if isinstance(attrs_st, ForShape):  # attributes drawn to suit the input shape

        @given(data=st.data())
        def run_for_shape(data: st.DataObject) -> None:
            shape = data.draw(shape_st, label="shape")
            check(name, oracle, data.draw(attrs_st.attrs(shape), label="attrs"), shape)

        run_for_shape()
        return

    @given(attrs=attrs_st, shape=shape_st)
    def run(attrs: dict[str, Any], shape: tuple[int, ...]) -> None:
        check(name, oracle, attrs, shape)

    run()


@pytest.mark.parametrize(
    ("op", "attrs", "shape", "expected"),
    [
        # ceil mode keeps a last partial window only if it starts inside the input
        ("maxpool2d", {"kernel_size": 3, "stride": 2, "ceil_mode": True}, (1, 6, 6), (1, 3, 3)),
        # ... a window starting in the right padding is dropped: (5 + 2 − 2)/2 rounds up to 3,
        # +1 = 4, but the 4th window would start at 6 ≥ 5 + 1
        (
            "maxpool2d",
            {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True},
            (1, 5, 5),
            (1, 3, 3),
        ),
        (
            "maxpool2d",
            {"kernel_size": 3, "stride": 2, "ceil_mode": True},
            (64, 112, 112),
            (64, 56, 56),
        ),
        ("conv2d", {"out_channels": 4, "kernel_size": 3, "dilation": 2}, (2, 9, 9), (4, 5, 5)),
        (
            "conv2d",
            {"out_channels": 4, "kernel_size": 3, "padding": [[1, 0], [0, 2]]},
            (2, 8, 8),
            (4, 7, 8),
        ),
        ("conv2d", {"out_channels": 4, "kernel_size": 4, "padding": "same"}, (2, 7, 7), (4, 7, 7)),
        ("conv2d", {"out_channels": 6, "kernel_size": 3, "groups": 3}, (3, 5, 5), (6, 3, 3)),
        (
            "avgpool2d",
            {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
            (1, 7, 7),
            (1, 4, 4),
        ),
    ],
)
def test_known_cases(
    op: str, attrs: dict[str, Any], shape: tuple[int, ...], expected: tuple[int, ...]
) -> None:
    oracle = CASES[op][2]
    check(op, oracle, attrs, shape, notes=False)
    assert run_static(op, attrs, shape)[1] == expected


def test_one_value_per_dimension_of_a_symbolic_list_or_text() -> None:
    """``ntuple`` takes an unknown value for one number only where it may be one: a value known
    to be a list is indexed, one entry per dimension; one known to be text is not a size."""
    from netspec.expr import nodes as n
    from netspec.expr.evaluate import Sym, SymbolicError, SymList, SymText, as_expr
    from netspec.expr.render import render
    from netspec.ops import spatial

    k = n.Name("k")
    assert [render(as_expr(v)) for v in spatial.ntuple(SymList(k), 2, "kernel_size", "c")] == [
        "k[0]",
        "k[1]",
    ]
    assert [render(as_expr(v)) for v in spatial.ntuple(Sym(k), 2, "kernel_size", "c")] == [
        "k",
        "k",
    ]
    with pytest.raises(SymbolicError):
        spatial.ntuple(SymText(k), 2, "padding", "c")


@pytest.mark.parametrize(
    ("layer", "shape", "hint"),
    [
        ("conv2d(4, 3)", [3, 4, 8, 8], "for a 4-d input use conv3d"),
        ("maxpool3d(2)", [3, 8, 8], "for a 3-d input use maxpool2d"),
        ("adaptive_avgpool2d(1)", [3, 8], "for a 2-d input use adaptive_avgpool1d"),
        ("conv1d(4, 3)", [8], "fewer dimensions than this layer needs; is a flatten too early?"),
    ],
)
def test_a_layer_given_another_rank_names_the_operator_for_it(
    layer: str, shape: list[int], hint: str
) -> None:
    """The same operator for the rank found, where there is one; a flatten too early for a
    vector."""
    text = f"netspec: 1\nname: a\ninput: {shape}\nlayers:\n  - l: {layer}\n"
    with pytest.raises(NetspecError) as info:
        netspec.loads(text).check()
    assert hint in (info.value.hint or ""), info.value.hint


@pytest.mark.parametrize(
    ("call", "size"),
    [
        ("conv2d(8, 4, padding='same', dilation=2)", 23),
        ("conv2d(8, 3, stride=2, padding=1, dilation=3)", 30),
        ("maxpool2d(3, stride=2, padding=1, dilation=2, ceil_mode=true)", 30),
        ("maxpool2d(2, dilation=2)", 17),
    ],
)
def test_explain_size_lines_compute_the_size_they_state(call: str, size: int) -> None:
    """Each ``--explain`` size line, read as arithmetic, gives the size it states (a dilated
    kernel's extent is subtracted whole: ``(2·(4−1)+1)``)."""
    net = netspec.loads(spec_text([f"- {call}"], (3, size, size))).network
    (leaf,) = net.root.children
    assert isinstance(leaf, OpNode)
    explained = leaf.op.explain(leaf.attrs, leaf.input, leaf.output)
    lines = [line for line in explained if line[:2] in ("H:", "W:")]
    assert lines
    for line in lines:
        formula, _, stated = line[3:].rpartition(" = ")
        python = (
            formula.replace("·", "*").replace("−", "-").replace("⌊", "math.floor(")
            .replace("⌋", ")").replace("⌈", "math.ceil(").replace("⌉", ")")
        )  # fmt: skip
        assert eval(python, {"math": math}) == int(stated), line  # noqa: S307 - our own text


def test_every_attribute_the_class_checks_gives_it_a_check() -> None:
    """An attribute marked ``CheckedByClass`` whose annotation gave no test would be skipped
    silently (the class taking what check refuses): each gives one, for a value of its kind
    known only when the class is constructed, with check's words."""
    from netspec.expr import nodes as n  # noqa: PLC0415
    from netspec.expr.evaluate import Sym, SymText  # noqa: PLC0415
    from netspec.ops.base import REGISTRY, CheckedByClass  # noqa: PLC0415

    marked = 0
    for op in REGISTRY.values():
        for name, info in op.Attrs.model_fields.items():
            if not any(isinstance(meta, CheckedByClass) for meta in info.metadata):
                continue
            marked += 1
            kind = SymText if isinstance(info.default, str) else Sym
            (check,) = op.deferred({name: kind(n.Name("v"))})
            assert check.error.message.startswith(f"{op.name}: {name} expects "), op.name
            assert check.error.attr == name
    assert marked >= 8  # the norms' eps, pooling's divisor_override, partition_type
