"""Activations (netspec/ops/activation.py) against PyTorch's modules, on inputs of any rank:
values, MACs (none: FlopCounterMode counts no activation) and the functional form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import netspec
from tests.conftest import spec_text
from tests.ops.oracles import agree

any_rank = st.integers(1, 4).flatmap(lambda r: st.tuples(*[st.integers(1, 5)] * r))

ACTIVATIONS: dict[str, tuple[Callable[..., nn.Module], str, st.SearchStrategy[Any]]] = {
    "relu": (nn.ReLU, "F.relu(", st.fixed_dictionaries({}, optional={"inplace": st.booleans()})),
    "relu6": (nn.ReLU6, "F.relu6(", st.fixed_dictionaries({}, optional={"inplace": st.booleans()})),
    "silu": (nn.SiLU, "F.silu(", st.fixed_dictionaries({}, optional={"inplace": st.booleans()})),
    "hardswish": (
        nn.Hardswish,
        "F.hardswish(",
        st.fixed_dictionaries({}, optional={"inplace": st.booleans()}),
    ),
    "hardsigmoid": (
        nn.Hardsigmoid,
        "F.hardsigmoid(",
        st.fixed_dictionaries({}, optional={"inplace": st.booleans()}),
    ),
    "sigmoid": (nn.Sigmoid, "torch.sigmoid(", st.just({})),
    "tanh": (nn.Tanh, "torch.tanh(", st.just({})),
    "leaky_relu": (
        nn.LeakyReLU,
        "F.leaky_relu(",
        st.fixed_dictionaries({}, optional={"negative_slope": st.sampled_from([0.01, 0.2])}),
    ),
    "gelu": (
        nn.GELU,
        "F.gelu(",
        st.fixed_dictionaries({}, optional={"approximate": st.sampled_from(["none", "tanh"])}),
    ),
    "softmax": (nn.Softmax, "F.softmax(", st.fixed_dictionaries({"dim": st.sampled_from([-1, 1])})),
    "log_softmax": (
        nn.LogSoftmax,
        "F.log_softmax(",
        st.fixed_dictionaries({"dim": st.sampled_from([-1, 1])}),
    ),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_on_any_rank_equals_pytorch(name: str) -> None:
    """The module and the function call compute PyTorch's values exactly, on inputs of rank 1
    to 4 (ConvNeXt applies GELU to H × W × C samples), with no MACs."""
    factory, functional, attrs_st = ACTIVATIONS[name]

    @given(attrs=attrs_st, shape=any_rank)
    def run(attrs: dict[str, Any], shape: tuple[int, ...]) -> None:
        agree(name, attrs, shape, factory(**attrs), functional=functional)

    run()


def test_hardsigmoid_values() -> None:
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between."""
    spec = netspec.loads(spec_text(["- act: hardsigmoid"], (5,)))
    model = spec.build()
    x = torch.tensor([[-4.0, -3.0, 0.0, 1.5, 3.5]])
    assert torch.equal(model(x), torch.tensor([[0.0, 0.0, 0.5, 0.75, 1.0]]))


def test_hardsigmoid_in_place() -> None:
    spec = netspec.loads(spec_text(["- act: hardsigmoid(inplace=true)"], (4,)))
    assert "nn.Hardsigmoid(inplace=True)" in spec.source()
    model = spec.build()
    x = torch.randn(2, 4)
    y = model(x)
    assert y.data_ptr() == x.data_ptr()
    functional = netspec.loads(
        spec_text(["- first: identity", "- hardsigmoid(inplace=true)"], (4,))
    )
    assert "F.hardsigmoid(x, inplace=True)" in functional.source()


def test_hardsigmoid_counts_one_operation_per_element_in_macs_all() -> None:
    spec = netspec.loads(spec_text(["- act: hardsigmoid"], (3, 4, 4)))
    assert spec.summary()["macs"] == 0
    assert spec.summary("all")["macs"] == 3 * 4 * 4


def test_log_softmax_source_and_macs_all() -> None:
    spec = netspec.loads(
        spec_text(
            ["- scores: log_softmax(dim=1)", "- log_softmax"],
            (10,),
        )
    )
    source = spec.source()
    assert "nn.LogSoftmax(dim=1)" in source
    assert "F.log_softmax(x, dim=-1)" in source
    assert spec.summary()["macs"] == 0
    assert spec.summary("all")["macs"] == 2 * 3 * 10
