"""An expanded network inferred again for another input size equals the network expanding
again gives, node by node, wherever ``reinfer`` gives one; where expanding fails, it gives
none (expansion reports the error)."""

from __future__ import annotations

from typing import Any

import pytest

import netspec
from netspec.errors import NetspecError
from netspec.expand.expander import expand
from netspec.expand.ir import lint
from netspec.expand.memo import Memo
from netspec.expand.reinfer import CHANNEL_READS, reinfer
from netspec.ops.base import Shape
from netspec.spec.load import bundled_names
from tests.expand.test_expander import _dump


def _sizes(shape: Shape) -> list[Shape]:
    """Other inputs of the same rank and channels: smaller, larger, tiny (often refused)."""
    channels, *rest = shape
    if not rest:
        return []
    out: list[Shape] = []
    for size in (lambda d: max(1, d // 2), lambda d: d + 16, lambda d: 3, lambda d: 1):
        out.append((channels, *(size(d) for d in rest)))
    out.append((channels, *rest[:-1], rest[-1] + 7))  # not square
    return out


def _expand(spec: Any, params: dict[str, Any], shape: Shape) -> Any:
    try:
        return expand(spec, params, shape)
    except NetspecError as exc:
        return exc


@pytest.mark.parametrize("name", bundled_names())
def test_inferred_again_equals_expanded_again(name: str) -> None:
    spec = netspec.load(name)
    reads: set[str] = set()
    net = expand(spec.spec, spec.params, input_reads=reads)
    if not reads <= CHANNEL_READS:  # its blocks read sizes of their input reinfer changes
        return
    for shape in _sizes(net.input):
        again = reinfer(net, shape, Memo().applied)
        fresh = _expand(spec.spec, spec.params, shape)
        if isinstance(fresh, NetspecError):
            assert again is None, f"{name} at {shape}: expansion fails ({fresh.message})"
            continue
        if again is None:
            continue
        lint(again.root)
        assert _dump(again.root) == _dump(fresh.root)
        assert (again.totals, again.output, again.input) == (fresh.totals, fresh.output, shape)
        assert (again.params, again.lets) == (fresh.params, fresh.lets)


@pytest.mark.parametrize("name", ["mobilenet_v2", "resnet50", "vgg16", "efficientnet_b0"])
def test_common_networks_are_inferred_again(name: str) -> None:
    """The cases the sweep relies on are taken, not refused."""
    spec = netspec.load(name)
    reads: set[str] = set()
    net = expand(spec.spec, spec.params, input_reads=reads)
    assert reads <= CHANNEL_READS
    again = reinfer(net, (3, 160, 160))
    assert again is not None
    assert _dump(again.root) == _dump(expand(spec.spec, spec.params, (3, 160, 160)).root)


BLOCK = """
netspec: 1
name: reads
input: [4, 16, 16]
blocks:
  Unit:
    params: [width]
    body:
      - if: READ
        then:
          - conv2d(width, 3, padding=1)
        else:
          - conv2d(width, 1)
layers:
  - a: Unit(8)
  - b: Unit(8)
"""


@pytest.mark.parametrize(
    ("read", "taken"),
    [
        ("in.channels == 4", True),
        ("in.height > 8", False),
        ("in.shape[0] == 4", False),
        ("len(in.shape) == 3", False),
        ("true", True),
    ],
)
def test_what_blocks_read_of_their_input_is_recorded(read: str, taken: bool) -> None:
    spec = netspec.loads(BLOCK.replace("READ", read))
    reads: set[str] = set()
    expand(spec.spec, spec.params, input_reads=reads)
    assert (reads <= CHANNEL_READS) is taken


def test_a_block_whose_input_channels_change_is_not_inferred_again() -> None:
    text = (
        BLOCK.replace("READ", "in.channels == 4")
        .replace("  - a: Unit(8)", "  - flatten\n  - a: Unit(8)")
        .replace("input: [4, 16, 16]", "input: [4, 2, 2]")
    )
    text = text.replace("conv2d(width, 3, padding=1)", "linear(width)").replace(
        "conv2d(width, 1)", "linear(width + 1)"
    )
    spec = netspec.loads(text)
    net = expand(spec.spec, spec.params)
    assert reinfer(net, (4, 3, 3)) is None  # a's input has 36 features, not 16


def test_an_input_expansion_refuses_for_its_size_is_not_inferred_again() -> None:
    """An input of more elements than PyTorch's sizes hold is refused by expansion; a sweep
    row gets that refusal, not a network inferred from an earlier row."""
    net = netspec.loads(
        "netspec: 1\nname: t\ninput: [3, 8, 8]\nlayers:\n  - conv2d(4, 1)\n"
    ).network
    assert reinfer(net, (3, 2**40, 2**40)) is None
    assert reinfer(net, (3, 16, 16)) is not None
