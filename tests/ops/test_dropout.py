"""Stochastic depth (netspec/ops/dropout.py) against torchvision's ``StochasticDepth``: the
identity in evaluation (exactly), the same random draws as torchvision in training, the
expected statistics, no MACs, and its errors."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import netspec
from netspec.errors import NetspecError
from tests.conftest import spec_text
from tests.ops import oracles
from tests.ops.oracles import agree, flop_macs

any_rank = st.integers(1, 4).flatmap(lambda r: st.tuples(*[st.integers(1, 5)] * r))
attrs_st = st.fixed_dictionaries(
    {"p": st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0])},
    optional={"mode": st.sampled_from(["row", "batch"])},
)


def models(attrs: dict[str, Any], shape: tuple[int, ...]) -> tuple[Any, Any]:
    """The module form (a named layer) and the functional form (unnamed, in a class body)."""
    call = oracles.call_text("stochastic_depth", attrs)
    module = netspec.loads(spec_text([f"- sd: {call}"], shape)).build()
    functional = netspec.loads(spec_text(["- first: identity", f"- {call}"], shape)).build()
    return module, functional


@given(attrs=attrs_st, shape=any_rank)
def test_evaluation_is_the_identity(attrs: dict[str, Any], shape: tuple[int, ...]) -> None:
    reference = oracles.StochasticDepth(attrs["p"], attrs.get("mode", "row"))
    built, functional = agree(
        "stochastic_depth", attrs, shape, reference, functional="stochastic_depth(x, "
    )
    x = torch.randn(4, *shape)
    assert built(x) is x
    assert functional is not None and functional(x) is x


@given(attrs=attrs_st, shape=any_rank, seed=st.integers(0, 2**16))
def test_training_draws_what_torchvision_draws(
    attrs: dict[str, Any], shape: tuple[int, ...], seed: int
) -> None:
    """Under the same seed, both forms drop and scale exactly as torchvision does."""
    reference = oracles.StochasticDepth(attrs["p"], attrs.get("mode", "row")).train()
    x = torch.randn(6, *shape)
    torch.manual_seed(seed)
    expected = reference(x)
    for model in models(attrs, shape):
        model.train()
        torch.manual_seed(seed)
        assert torch.equal(model(x), expected)


@pytest.mark.parametrize("form", ["module", "functional"])
def test_training_statistics_by_row(form: str) -> None:
    """mode='row': each sample is zeroed with probability p, the others scaled by 1/(1 − p)."""
    p, n = 0.3, 4000
    model = dict(zip(["module", "functional"], models({"p": p}, (2, 3)), strict=True))[form]
    model.train()
    torch.manual_seed(0)
    x = torch.rand(n, 2, 3) + 0.5  # no zeros of its own
    y = model(x)
    dropped = (y == 0).all(dim=(1, 2))
    kept = (y != 0).all(dim=(1, 2))
    assert bool((dropped | kept).all())  # a whole sample or nothing
    assert abs(dropped.float().mean().item() - p) < 0.03
    torch.testing.assert_close(y[kept], x[kept] / (1 - p))
    assert abs(y.mean().item() - x.mean().item()) < 0.05  # the expectation is kept


def test_training_statistics_by_batch() -> None:
    """mode='batch': the whole batch is dropped or kept together, with probability p."""
    p = 0.4
    model, _ = models({"p": p, "mode": "batch"}, (3,))
    model.train()
    torch.manual_seed(0)
    x = torch.rand(5, 3) + 0.5
    outcomes = []
    for _ in range(2000):
        y = model(x)
        if bool((y == 0).all()):
            outcomes.append(1.0)
        else:
            torch.testing.assert_close(y, x / (1 - p))
            outcomes.append(0.0)
    assert abs(sum(outcomes) / len(outcomes) - p) < 0.04


def test_extremes_in_training() -> None:
    x = torch.randn(8, 3, 2)
    never, _ = models({"p": 0.0}, (3, 2))
    assert never.train()(x) is x
    always, _ = models({"p": 1.0}, (3, 2))
    assert torch.equal(always.train()(x), torch.zeros_like(x))


def test_no_macs_in_training_either() -> None:
    model, functional = models({"p": 0.5}, (4, 3, 3))
    x = torch.randn(2, 4, 3, 3)
    assert flop_macs(model.train(), x) == flop_macs(functional.train(), x) == 0


def test_runs_on_the_meta_device_in_training_mode() -> None:
    """The bundled-spec MAC test runs built models on the meta device, in training mode."""
    with torch.device("meta"):
        model, functional = models({"p": 0.2}, (4, 3, 3))
        for m in (model, functional):
            assert m.train()(torch.empty(2, 4, 3, 3)).shape == (2, 4, 3, 3)


def test_source_and_parameter_probability() -> None:
    text = """netspec: 1
name: t
input: [4, 3, 3]
params:
  rate: 0.2
layers:
  - sd: stochastic_depth(rate)
  - stochastic_depth(rate, mode='batch')
"""
    spec = netspec.loads(text)
    source = spec.source()
    assert "class StochasticDepth(nn.Module):" in source
    assert "\ndef stochastic_depth(\n    x: torch.Tensor, p: float, mode: str" in source
    assert 'self.sd = StochasticDepth(rate, "row")' in source
    assert 'x = stochastic_depth(x, self.rate, "batch", self.training)' in source
    model = spec.replace(rate=0.7).build()
    assert model.sd.p == 0.7 and model.sd.mode == "row"
    assert repr(model.sd) == "StochasticDepth(p=0.7, mode=row)"
    assert spec.summary()["parameters"] == 0


def test_the_helper_refuses_what_torchvision_refuses() -> None:
    """A probability given at run time (a constructor argument) is checked by the helper."""
    spec = netspec.loads(
        "netspec: 1\nname: t\ninput: [3]\nparams:\n  rate: 0.2\nlayers:\n"
        "  - sd: stochastic_depth(rate)\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(spec.source(), "t.py", "exec"), namespace)
    model = namespace["T"](rate=1.5)
    with pytest.raises(ValueError, match="drop probability has to be between 0 and 1"):
        model(torch.randn(2, 3))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            "stochastic_depth(1.5)",
            "stochastic_depth: p expects a probability between 0 and 1, found 1.5",
        ),
        (
            "stochastic_depth(-0.1)",
            "stochastic_depth: p expects a probability between 0 and 1, found -0.1",
        ),
        ("stochastic_depth(0.1, mode='col')", "stochastic_depth: mode expects"),
        ("stochastic_depth", "stochastic_depth needs p (a probability between 0 and 1)"),
    ],
)
def test_errors(call: str, message: str) -> None:
    with pytest.raises(NetspecError) as info:
        netspec.loads(spec_text([f"- sd: {call}"], (3,))).check()
    assert info.value.message.startswith(message), info.value.message


def test_explanation() -> None:
    spec = netspec.loads(
        spec_text(["- a: stochastic_depth(0.25)", "- b: stochastic_depth(0.5, 'batch')"], (3,))
    )
    lines = [
        node.op.explain(node.attrs, node.input, node.output) for node in spec.network.root.children
    ]
    assert lines == [
        [
            "training: each sample kept with probability 1 - 0.25 = 0.75, scaled by 1/0.75; "
            "evaluation: the identity"
        ],
        [
            "training: the whole batch kept with probability 1 - 0.5 = 0.5, scaled by 1/0.5; "
            "evaluation: the identity"
        ],
    ]
