"""A network's totals (netspec/infer/infer.py ``totals``) add up every tensor once: the same
sums as the state_dict entries (``netspec.expand.ir.state``), which name a module called twice
once."""

from __future__ import annotations

import pytest

import netspec
from netspec.expand.ir import state
from netspec.infer import Network
from netspec.infer.infer import totals
from netspec.spec.load import bundled_names
from tests.conftest import spec_text


def _state_sums(net: Network) -> tuple[int, int]:
    entries = state(net.root).values()
    return (
        sum(t.numel for t in entries if t.trainable),
        sum(t.numel for t in entries if not t.trainable),
    )


@pytest.mark.parametrize("name", bundled_names())
def test_totals_equal_the_state_dict_of_every_bundled_spec(name: str) -> None:
    net = netspec.load(name).network
    t = totals(net.root)
    assert (t.parameters, t.buffers) == _state_sums(net)


def test_a_module_called_twice_is_counted_once() -> None:
    text = spec_text(
        [
            "- conv: conv2d(8, 3, padding=1)",
            "- act: relu",
            "- conv2: conv2d(8, 3, padding=1)",
            "- act: relu",
            "- norm: batchnorm2d",
        ],
        (3, 8, 8),
    )
    net = netspec.loads(text).network
    t = totals(net.root)
    assert (t.parameters, t.buffers) == _state_sums(net) == (3 * 9 * 8 + 8 + 8 * 9 * 8 + 8 + 16, 17)
