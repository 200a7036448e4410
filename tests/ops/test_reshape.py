"""Shape operators (netspec/ops/reshape.py): ``channel_shuffle`` against torchvision's
ShuffleNetV2 function and ``nn.ChannelShuffle``, ``permute`` against torchvision's
``Permute``, ``reshape`` against ``torch.reshape`` and ``flatten`` against ``nn.Flatten``, on
inputs of any rank — values, MACs, functional forms, errors and explanations."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from typer.testing import CliRunner

import netspec
from netspec.cli import app
from netspec.errors import NetspecError
from tests.conftest import assert_codegen_refuses, spec_text
from tests.ops import oracles
from tests.ops.oracles import agree, explanations

any_rank = st.integers(1, 4).flatmap(lambda r: st.tuples(*[st.integers(1, 5)] * r))


def error(call: str, shape: tuple[int, ...]) -> NetspecError:
    with pytest.raises(NetspecError) as info:
        netspec.loads(spec_text([f"- a: {call}"], shape)).check()
    return info.value


# -- channel_shuffle -----------------------------------------------------------------------------


@st.composite
def shuffle_case(draw: st.DrawFn, rank: int | None = None) -> tuple[int, tuple[int, ...]]:
    groups = draw(st.integers(1, 4))
    channels = groups * draw(st.integers(1, 4))
    r = rank if rank is not None else draw(st.integers(2, 4))
    return groups, (channels, *draw(st.tuples(*[st.integers(1, 4)] * (r - 1))))


@given(shuffle_case(rank=3))
def test_channel_shuffle_equals_torchvision(case: tuple[int, tuple[int, ...]]) -> None:
    """Exactly ShuffleNetV2's view → transpose → contiguous → view, in both forms."""
    groups, shape = case
    agree(
        "channel_shuffle",
        {"groups": groups},
        shape,
        oracles.ChannelShuffleTV(groups),
        functional=f"channel_shuffle(x, {groups})",
    )


@given(shuffle_case())
def test_channel_shuffle_any_spatial_rank_equals_nn_channel_shuffle(
    case: tuple[int, tuple[int, ...]],
) -> None:
    groups, shape = case
    agree("channel_shuffle", {"groups": groups}, shape, nn.ChannelShuffle(groups))


def test_channel_shuffle_order() -> None:
    """Channels 0…5 in 2 groups [0 1 2 | 3 4 5] come out interleaved: 0 3 1 4 2 5."""
    model = netspec.loads(spec_text(["- s: channel_shuffle(2)"], (6, 1, 1))).build()
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert model(x).flatten().tolist() == [0, 3, 1, 4, 2, 5]


def test_channel_shuffle_on_a_non_contiguous_input() -> None:
    """After a permute the input is not contiguous; the shuffle still applies (as reshape)."""
    spec = netspec.loads(
        spec_text(["- p: permute([0, 3, 1, 2])", "- s: channel_shuffle(3)"], (4, 5, 6))
    )
    x = torch.randn(2, 4, 5, 6)
    expected = oracles.channel_shuffle(x.permute(0, 3, 1, 2).contiguous(), 3)
    assert torch.equal(spec.build()(x), expected)


def test_channel_shuffle_errors() -> None:
    e = error("channel_shuffle(3)", (8, 4, 4))
    assert e.message == "channel_shuffle: groups=3 must divide the 8 input channels"
    assert e.hint is not None and e.hint.startswith("divisors of 8: 1, 2, 4, 8")
    e = error("channel_shuffle(2)", (8,))
    assert e.message.startswith("channel_shuffle expects a 2-d or 3-d or 4-d input")
    e = error("channel_shuffle(0)", (8, 4, 4))
    assert e.message == "channel_shuffle: groups expects a positive integer, found 0"


# -- permute ---------------------------------------------------------------------------------------


@st.composite
def permute_case(draw: st.DrawFn) -> tuple[list[int], tuple[int, ...]]:
    shape = draw(any_rank)
    rank = len(shape) + 1
    rest = draw(st.permutations(range(1, rank)))
    negative = draw(st.lists(st.booleans(), min_size=rank, max_size=rank))
    dims = [d - rank if neg else d for d, neg in zip([0, *rest], negative, strict=True)]
    return dims, shape


@given(permute_case())
def test_permute_equals_torchvision(case: tuple[list[int], tuple[int, ...]]) -> None:
    dims, shape = case
    agree("permute", {"dims": dims}, shape, oracles.Permute(dims), functional="torch.permute(x, ")


def test_permute_source() -> None:
    spec = netspec.loads(spec_text(["- p: permute([0, 2, 3, 1])"], (3, 4, 5)))
    source = spec.source()
    assert "class Permute(nn.Module):" in source
    assert "self.p = Permute((0, 2, 3, 1))  # -> [4, 5, 3]" in source
    assert "torchvision" not in source


@pytest.mark.parametrize(
    ("call", "shape", "message", "hint"),
    [
        (
            "permute([0, 2, 1])",
            (3, 4, 5),
            "permute: dims [0, 2, 1] has length 3, but the input 3×4×5 has 4 dimensions with "
            "the batch",
            "give every dimension once, the batch (0) first: e.g. [0, 2, 3, 1]",
        ),
        (
            "permute([0, 2, 2, 1])",
            (3, 4, 5),
            "permute: dims [0, 2, 2, 1] is not a permutation of 0…3, the dimensions of the input "
            "3×4×5 with the batch",
            "give every dimension exactly once; the batch is dimension 0",
        ),
        (
            "permute([0, 2, 4, 1])",
            (3, 4, 5),
            "permute: dims [0, 2, 4, 1] is not a permutation of 0…3, the dimensions of the input "
            "3×4×5 with the batch",
            "give every dimension exactly once; the batch is dimension 0",
        ),
        (
            "permute([1, 0, 2, 3])",
            (3, 4, 5),
            "permute: dims [1, 0, 2, 3] moves the batch dimension (dims[0] must be 0)",
            "moving the batch is not supported: netspec's shapes exclude the batch, which "
            "stays first",
        ),
        (
            "permute(3)",
            (3, 4, 5),
            "permute: dims expects a list of dimensions, the batch (0) first: [0, 2, 3, 1], "
            "found 3",
            None,
        ),
    ],
)
def test_permute_errors(call: str, shape: tuple[int, ...], message: str, hint: str | None) -> None:
    e = error(call, shape)
    assert e.message == message
    if hint is None:
        assert e.hint is None
    else:  # infer adds where the input comes from
        assert e.hint is not None and e.hint.startswith(hint)


# -- reshape ---------------------------------------------------------------------------------------


@st.composite
def reshape_case(draw: st.DrawFn) -> tuple[list[int], tuple[int, ...]]:
    shape = draw(any_rank)
    total = math.prod(shape)
    sizes: list[int] = []
    left = total
    for _ in range(draw(st.integers(0, 3))):
        size = draw(st.sampled_from([d for d in range(1, left + 1) if left % d == 0]))
        sizes.append(size)
        left //= size
    sizes = list(draw(st.permutations([*sizes, left])))
    if draw(st.booleans()):
        sizes[draw(st.integers(0, len(sizes) - 1))] = -1
    return sizes, shape


class TorchReshape(nn.Module):
    def __init__(self, shape: list[int]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.reshape(x, (x.shape[0], *self.shape))


@given(reshape_case())
def test_reshape_equals_torch_reshape(case: tuple[list[int], tuple[int, ...]]) -> None:
    sizes, shape = case
    agree("reshape", {"shape": sizes}, shape, TorchReshape(sizes), functional="torch.unflatten(")


def test_reshape_after_a_permute_copies_like_torch() -> None:
    """A reshape of a non-contiguous tensor (after a permute) reads it in its logical order."""
    spec = netspec.loads(
        spec_text(["- p: permute([0, 2, 3, 1])", "- r: reshape([-1, 3])"], (3, 4, 5))
    )
    x = torch.randn(2, 3, 4, 5)
    assert torch.equal(spec.build()(x), x.permute(0, 2, 3, 1).reshape(2, -1, 3))


def test_reshape_keeps_a_batch_of_none() -> None:
    model = netspec.loads(spec_text(["- r: reshape([-1, 2])"], (3, 4))).build()
    assert model(torch.randn(0, 3, 4)).shape == (0, 6, 2)


def test_reshape_source() -> None:
    spec = netspec.loads(spec_text(["- r: reshape([4, -1])", "- reshape([2, 2, 15])"], (3, 4, 5)))
    source = spec.source()
    assert "self.r = Reshape((4, -1))  # -> [4, 15]" in source
    assert "x = torch.unflatten(torch.flatten(x, 1), 1, (2, 2, 15))" in source
    flat = netspec.loads(spec_text(["- a: identity", "- reshape([3, 4])"], (12,))).source()
    assert "x = torch.unflatten(x, 1, (3, 4))" in flat


@pytest.mark.parametrize(
    ("call", "shape", "message"),
    [
        (
            "reshape([4, 5])",
            (3, 8, 8),
            "reshape: shape [4, 5] holds 20 elements, but the input 3×8×8 has 192",
        ),
        (
            "reshape([5, -1])",
            (3, 8, 8),
            "reshape: shape [5, -1] cannot hold the input 3×8×8: its 192 elements are not a "
            "multiple of 5",
        ),
        (
            "reshape([-1, -1])",
            (3, 8, 8),
            "reshape: shape needs positive sizes, at most one of them -1, found [-1, -1]",
        ),
        (
            "reshape([0, 4])",
            (3, 8, 8),
            "reshape: shape needs positive sizes, at most one of them -1, found [0, 4]",
        ),
        ("reshape([])", (3, 8, 8), "reshape: shape needs at least one size, found []"),
    ],
)
def test_reshape_errors(call: str, shape: tuple[int, ...], message: str) -> None:
    e = error(call, shape)
    assert e.message == message
    if "holds" in message or "multiple" in message:
        assert e.hint is not None and "one of them may be -1" in e.hint


# -- flatten on any rank ---------------------------------------------------------------------------


@st.composite
def flatten_case(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[int, ...]]:
    shape = draw(any_rank)
    rank = len(shape) + 1
    start = draw(st.integers(1, rank - 1))
    end = draw(st.integers(start, rank - 1))
    attrs: dict[str, Any] = {}
    if start != 1 or draw(st.booleans()):
        attrs["start_dim"] = start
    if end != rank - 1 or draw(st.booleans()):
        attrs["end_dim"] = end - rank if draw(st.booleans()) else end
    return attrs, shape


@given(flatten_case())
def test_flatten_any_dims_equals_nn_flatten(case: tuple[dict[str, Any], tuple[int, ...]]) -> None:
    attrs, shape = case
    agree("flatten", attrs, shape, nn.Flatten(**attrs), functional="torch.flatten(x, ")


# -- explanations ----------------------------------------------------------------------------------


def test_explanations() -> None:
    spec = netspec.loads(
        spec_text(
            [
                "- shuffle: channel_shuffle(2)",
                "- perm: permute([0, 2, 3, 1])",
                "- r: reshape([-1, 6])",
                "- r2: reshape([4, 2, 6])",
            ],
            (6, 2, 4),
        )
    )
    lines = explanations(spec)
    assert lines == {
        "shuffle": ["6 channels = 2 groups of 3; output channel i·2 + j is input channel j·3 + i"],
        "perm": [
            "6×2×4 → 2×4×6: input dimensions 2, 3, 1 in that order (the batch, 0, stays first)"
        ],
        "r": ["elements: 2·4·6 = 48", "-1: 48 / 6 = 8"],
        "r2": ["elements: 8·6 = 48"],
    }


@pytest.mark.parametrize(
    ("call", "shape", "sides"),
    [
        ("zeropad1d([1, 2, 3])", (3, 8), "2 values (left, right)"),
        ("zeropad2d([1, 2])", (3, 8, 8), "4 values (left, right, top, bottom)"),
    ],
)
def test_a_padding_of_the_wrong_length_says_its_sides(
    call: str, shape: tuple[int, ...], sides: str
) -> None:
    """Two values per spatial dimension, the last first: it said 'one per spatial dimension'."""
    assert f"padding needs {sides}, found" in error(call, shape).message


# -- zeropad: a crop must leave something ----------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "shape", "message", "hint"),
    [
        (
            "zeropad2d([-4, -4, -4, -4])",
            (3, 8, 8),
            "zeropad2d: padding (-4, -4) crops 8 from the input's size 8 in 3×8×8, leaving nothing",
            "crop at most 7 in all from this size, so that at least 1 remains",
        ),
        (
            "zeropad2d([0, 0, -8, 0])",
            (3, 8, 5),
            "zeropad2d: padding (-8, 0) crops 8 from the input's size 8 in 3×8×5, leaving nothing",
            "crop at most 7 in all",
        ),
        (
            "zeropad2d([-2, -3, 0, 0])",
            (3, 8, 5),
            "zeropad2d: padding (-2, -3) crops 5 from the input's size 5 in 3×8×5, leaving nothing",
            "crop at most 4 in all",
        ),
        (
            "zeropad2d(-4)",
            (3, 8, 8),
            "zeropad2d: padding (-4, -4) crops 8 from the input's size 8 in 3×8×8, leaving nothing",
            "crop at most 7 in all",
        ),
        (
            "zeropad1d([-4, -4])",
            (3, 8),
            "zeropad1d: padding (-4, -4) crops 8 from the input's size 8 in 3×8, leaving nothing",
            "crop at most 7 in all",
        ),
        (
            "zeropad1d([-9, 2])",
            (3, 8),
            "zeropad1d: padding (-9, 2) crops 9 from the input's size 8 in 3×8, more than it has",
            "crop at most 7 in all",
        ),
        (
            "zeropad1d(-1)",
            (3, 1),
            "zeropad1d: padding (-1, -1) crops 2 from the input's size 1 in 3×1, more than it has",
            "crop at most 0 in all",
        ),
    ],
)
def test_a_crop_that_leaves_nothing_is_refused(
    tmp_path: Any, call: str, shape: tuple[int, ...], message: str, hint: str
) -> None:
    """Every other operator refuses a size below 1; PyTorch would crop to an empty tensor (or,
    cropping more than there is, fail when the model runs)."""
    e = error(call, shape)
    assert e.message == message
    assert e.hint is not None and hint in e.hint
    path = tmp_path / "spec.yaml"
    path.write_text(spec_text([f"- a: {call}"], shape))
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {path}:5:"), result.stderr
    assert "crops" in result.stderr and "hint: a negative side crops" in result.stderr


@pytest.mark.parametrize(
    ("call", "shape"),
    [
        ("zeropad2d([-3, -4, -4, -3])", (3, 8, 8)),
        ("zeropad2d([-7, 0, 0, -7])", (3, 8, 8)),
        ("zeropad2d([-7, 3, 2, -7])", (3, 8, 8)),
        ("zeropad1d([-3, -4])", (3, 8)),
        ("zeropad1d([-2, 5])", (3, 3)),
        ("zeropad1d(0)", (3, 1)),
        # cropped away, then padded: nothing of the input, but a size, as in PyTorch
        ("zeropad1d([-8, 1])", (3, 8)),
    ],
)
def test_a_crop_that_leaves_one_is_pytorchs(call: str, shape: tuple[int, ...]) -> None:
    spec = netspec.loads(spec_text([f"- a: {call}"], shape))
    padding = spec.network.root.children[0].attrs.padding
    cls = nn.ZeroPad2d if call.startswith("zeropad2d") else nn.ZeroPad1d
    y = cls(tuple(padding) if isinstance(padding, tuple | list) else padding)(
        torch.zeros(2, *shape)
    )
    assert tuple(spec.network.root.output) == tuple(y.shape[1:])
    assert min(y.shape[1:]) >= 1


def _params_agree(text: str, values: list[dict[str, Any]]) -> str:
    """The class generated at the defaults, given each of ``values``, builds and runs as the
    analysis at those values says; returns the source."""
    from netspec.backends.module import compare_forward, compare_state, compile_source

    spec = netspec.loads(text, name="spec.yaml")
    source = spec.source()
    module = compile_source(source)
    for these in values:
        network = spec.replace(**these).network
        model = module.T(**these)
        assert compare_state(model, network) == [], these
        assert compare_forward(model, network) == [], these
    return source


def test_reshape_sizes_given_as_params_may_be_minus_one() -> None:
    """With no -1 written, any size given by a param may be -1 when the class is constructed
    (check accepts it): each is written as PyTorch's choice."""
    text = (
        "netspec: 1\nname: t\ninput: [3, 4, 5]\nparams:\n  a: 12\n  b: 5\nlayers:\n"
        "  - reshape([a, b])\n  - fc: linear(3)\n"
    )
    values = [{"a": 12, "b": 5}, {"a": 6, "b": 10}, {"a": 3, "b": -1}, {"a": -1, "b": 2}]
    source = _params_agree(text, values)
    assert "nn.Linear(b if b != -1 else 3 * 4 * 5 // a, 3)" in source


def test_reshape_sizes_beside_a_minus_one_given_as_params() -> None:
    text = (
        "netspec: 1\nname: t\ninput: [3, 4, 5]\nparams:\n  a: 12\nlayers:\n"
        "  - reshape([a, -1])\n  - fc: linear(3)\n"
    )
    _params_agree(text, [{"a": 12}, {"a": 3}, {"a": 60}])


def test_reshape_to_a_list_param_is_refused_by_codegen() -> None:
    """Its length, the rank of the output, would change with the value given: codegen refuses
    it at its position and says what would compile."""
    text = (
        "netspec: 1\nname: t\ninput: [3, 4, 5]\nparams:\n  s: [12, -1]\nlayers:\n"
        "  - reshape(s)\n  - fc: linear(3)\n"
    )
    assert_codegen_refuses(
        text,
        "spec.yaml:7:5: layers: reshape: the shape of its",
        "write the sizes out as a list",
    )
