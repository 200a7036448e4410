"""Learned tensors of a block applied by ``mul``/``add``, against PyTorch's broadcasting.

A random tensor shape and input shape: netspec accepts exactly the tensors that broadcast into
the input without growing it (each size equal to the input's, aligned on the right, or 1; a
leading batch size of 1), and the built module computes ``x * t`` / ``x + t``.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import netspec
from netspec.errors import NetspecError

inputs = st.lists(st.integers(1, 4), min_size=1, max_size=3)


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[int], list[int], str]:
    x = draw(inputs)
    rank = draw(st.integers(1, len(x) + 1))
    full = [1, *x]  # the batch, which a tensor may only match by 1
    t = [draw(st.sampled_from([full[-rank + i], 1, full[-rank + i] + 1])) for i in range(rank)]
    return x, t, draw(st.sampled_from(["mul", "add"]))


def spec(x: list[int], t: list[int], op: str) -> str:
    return f"""netspec: 1
name: learned
input: {x}
blocks:
  Scale:
    tensors:
      t: full({t}, 0.5)
    body:
      - {op}(t)
layers:
  - s: Scale()
"""


@given(cases())
def test_tensors_apply_as_pytorch_broadcasts(case: tuple[list[int], list[int], str]) -> None:
    x_shape, t_shape, op = case
    x = torch.randn(2, *x_shape)
    t = torch.full(t_shape, 0.5)
    try:
        expected = x * t if op == "mul" else x + t
        fits = expected.shape == x.shape and (len(t_shape) <= len(x_shape) or t_shape[0] == 1)
    except RuntimeError:
        fits = False
    loaded = netspec.loads(spec(x_shape, t_shape, op), name="learned.yaml")
    if not fits:
        with pytest.raises(NetspecError, match="broadcast|more dimensions"):
            loaded.check()
        return
    net = loaded.check()
    assert net.output == tuple(x_shape)
    assert net.totals.parameters == t.numel()
    model = loaded.build(verify=True)
    assert torch.equal(model(x), expected)
