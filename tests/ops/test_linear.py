"""``linear`` (netspec/ops/linear.py) on inputs of any rank against ``nn.Linear``: ConvNeXt
applies it to the H × W × C samples a permute makes. Shapes, state_dict, values and MACs
(FlopCounterMode counts the matrix product of every position)."""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import netspec
from tests.conftest import spec_text
from tests.ops.oracles import agree

any_rank = st.integers(1, 4).flatmap(lambda r: st.tuples(*[st.integers(1, 5)] * r))


@given(
    shape=any_rank,
    attrs=st.fixed_dictionaries(
        {"out_features": st.integers(1, 6)}, optional={"bias": st.booleans()}
    ),
)
def test_linear_on_any_rank_equals_nn_linear(attrs: dict[str, Any], shape: tuple[int, ...]) -> None:
    reference = nn.Linear(shape[-1], **attrs)
    agree("linear", attrs, shape, reference)


def test_convnext_block_body() -> None:
    """ConvNeXt's block body (depthwise conv, permute, layer norm, linear, GELU, linear,
    permute back) against the same layers written by hand in PyTorch."""
    spec = netspec.loads(
        spec_text(
            [
                "- dw: conv2d(8, 7, padding=3, groups=8)",
                "- to_last: permute([0, 2, 3, 1])",
                "- norm: layer_norm(eps=1e-6)",
                "- fc1: linear(32)",
                "- act: gelu",
                "- fc2: linear(8)",
                "- to_first: permute([0, 3, 1, 2])",
            ],
            (8, 6, 6),
        )
    )
    net = spec.network
    assert [tuple(n.output) for n in net.root.children] == [
        (8, 6, 6), (6, 6, 8), (6, 6, 8), (6, 6, 32), (6, 6, 32), (6, 6, 8), (8, 6, 6),
    ]  # fmt: skip
    reference = nn.Sequential(
        nn.Conv2d(8, 8, 7, padding=3, groups=8),
        nn.Identity(),
        nn.LayerNorm(8, eps=1e-6),
        nn.Linear(8, 32),
        nn.GELU(),
        nn.Linear(32, 8),
    )
    model = spec.build().eval()
    names = {"dw": "0", "norm": "2", "fc1": "3", "fc2": "5"}
    renamed = {
        f"{names[k.split('.')[0]]}.{k.split('.')[1]}": k for k in model.state_dict()
    }  # the reference's key → netspec's
    assert set(renamed) == set(reference.state_dict())
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    state = model.state_dict()
    reference.load_state_dict({k: state[v] for k, v in renamed.items()})
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        y = reference[0](x).permute(0, 2, 3, 1)
        for layer in reference[2:]:
            y = layer(y)
        expected = y.permute(0, 3, 1, 2)
        torch.testing.assert_close(model(x), expected)
    assert net.totals.macs == 8 * 6 * 6 * 7 * 7 + 2 * 6 * 6 * 8 * 32
