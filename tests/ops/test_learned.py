"""Learned tensors of a block applied by ``mul``/``add``, against PyTorch's broadcasting,
and by ``prepend``, against ``torch.cat`` of the tensor expanded over the batch.

A random tensor shape and input shape: netspec accepts exactly the tensors that broadcast into
the input without growing it (each size equal to the input's, aligned on the right, or 1; a
leading batch size of 1), and the built module computes ``x * t`` / ``x + t``; it prepends
exactly the tensors shaped like a batch of one that match the input but along the dimension,
computing ``torch.cat([t.expand(n, …), x], dim)``.
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


@st.composite
def prepend_cases(draw: st.DrawFn) -> tuple[list[int], list[int], int]:
    x = draw(inputs)
    dim = draw(st.integers(-len(x) - 1, len(x) + 1))
    t = [draw(st.sampled_from([1, 1, 2]))]
    t += [draw(st.sampled_from([size, size, size + 1, 2])) for size in x]
    if draw(st.booleans()):
        t = t[: draw(st.integers(1, len(t)))]  # another rank
    return x, t, dim


def prepend_spec(x: list[int], t: list[int], dim: int, top: bool) -> str:
    if top:  # the model's own tensor (ViT's class token)
        return f"""netspec: 1
name: learned
input: {x}
tensors:
  t: full({t}, 0.5)
layers:
  - prepend(t, dim={dim})
  - out: identity
"""
    return f"""netspec: 1
name: learned
input: {x}
blocks:
  Token:
    tensors:
      t: full({t}, 0.5)
    body:
      - prepend(t, dim={dim})
layers:
  - s: Token()
"""


@given(prepend_cases(), st.booleans())
def test_prepend_concatenates_as_pytorch(case: tuple[list[int], list[int], int], top: bool) -> None:
    x_shape, t_shape, dim = case
    x = torch.randn(2, *x_shape)
    t = torch.full(t_shape, 0.5)
    rank = len(x_shape) + 1
    try:
        if not -rank < dim < rank or dim % rank == 0 or t_shape[0] != 1:
            raise RuntimeError("not a dimension of the sample, or not a batch of one")
        expected = torch.cat([t.expand(2, *t_shape[1:]), x], dim)
        fits = True
    except (RuntimeError, IndexError):
        fits = False
    loaded = netspec.loads(prepend_spec(x_shape, t_shape, dim, top), name="learned.yaml")
    if not fits:
        with pytest.raises(NetspecError, match="prepend"):
            loaded.check()
        return
    net = loaded.check()
    assert net.output == tuple(expected.shape[1:])
    assert net.totals.parameters == t.numel()
    model = loaded.build(verify=True)
    assert list(model.state_dict()) == (["t"] if top else ["s.t"])
    assert torch.equal(model(x), expected)


@pytest.mark.parametrize("shape", ["shp", "sizes", "shp[:2] + [1]"])
def test_a_shape_is_written_out_size_by_size(shape: str) -> None:
    """The generated class writes a tensor's sizes one by one, so a shape given whole (a list
    param, a ``let``, an expression) is refused by check as by codegen, at the tensor."""
    text = (
        "netspec: 1\nname: t\ninput: [4, 4, 4]\nparams:\n  shp: [4, 1, 1]\n"
        f"let:\n  sizes: '[4, 1, 1]'\ntensors:\n  s: zeros({shape})\nlayers:\n  - mul(s)\n"
    )
    spec = netspec.loads(text)
    with pytest.raises(NetspecError, match="list of sizes written out") as checked:
        spec.check()
    with pytest.raises(NetspecError, match="list of sizes written out") as generated:
        spec.source()
    assert checked.value.span is not None
    assert checked.value.message == generated.value.message
    written = netspec.loads(text.replace(f"zeros({shape})", "zeros([shp[0], shp[1], 1])"))
    assert written.check().totals.parameters == 4
    assert "torch.zeros((shp[0], shp[1], 1))" in written.source()
