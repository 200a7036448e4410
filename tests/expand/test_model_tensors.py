"""A model's own learned tensors (``tensors:`` at the top, ViT's class token): first in the
model's state_dict, applied by the model's own layers, refused where their names clash or
where something other than the model's forward would have to apply them."""

from __future__ import annotations

import pytest
import torch

import netspec
from netspec.errors import NetspecError
from netspec.spec import format as fmt
from netspec.spec import models as m
from netspec.spec.load import read_text

SPEC = """netspec: 1
name: token
input: [4, 8]
params:
  dim: 4
tensors:
  cls: zeros([1, dim, 1])
  scale: ones([1])
layers:
  - prepend(cls, dim=2)
  - mul(scale)
  - proj: linear(3)
"""


def test_they_come_first_in_the_state_dict_and_the_table() -> None:
    spec = netspec.loads(SPEC)
    model = spec.build(verify=True)
    assert list(model.state_dict()) == ["cls", "scale", "proj.weight", "proj.bias"]
    assert spec.network.output == (4, 3)
    assert spec.summary()["parameters"] == 4 + 1 + (9 + 1) * 3
    tensors = [(t["path"], t["shape"]) for t in spec.summary()["tensors"]]
    assert tensors == [("cls", [1, 4, 1]), ("scale", [1])]
    x = torch.randn(2, 4, 8)
    with torch.no_grad():
        expected = model.proj(torch.cat([model.cls.expand(2, -1, -1), x], 2) * model.scale)
        assert torch.equal(model(x), expected)


def test_a_model_with_tensors_is_a_class_whatever_its_layers_names() -> None:
    text = SPEC.replace("  - proj: linear(3)\n", "  - relu\n")
    model = netspec.loads(text).build(verify=True)
    assert not isinstance(model, torch.nn.Sequential)
    assert list(model.state_dict()) == ["cls", "scale"]


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("  scale: ones([1])", "  proj: ones([1])", "named like a layer of the model"),
        ("  scale: ones([1])", "  dim: ones([1])", "named like a parameter of the model"),
        ("  - mul(scale)", "  - seq: [mul(scale)]", "stands unnamed among"),
        ("  - mul(scale)", "  - s: mul(scale)", "stands unnamed among"),
        ("  - prepend(cls, dim=2)", "  - prepend(cls, dim=1)", "does not match the input"),
        ("  - prepend(cls, dim=2)", "  - prepend(cls, dim=0)", "dim=0 is out of range"),
    ],
)
def test_refusals(old: str, new: str, words: str) -> None:
    text = SPEC.replace(old, new).replace("mul(proj)", "mul(scale)")
    assert text != SPEC
    with pytest.raises(NetspecError, match=words):
        netspec.loads(text).check()


def test_blocks_do_not_see_them() -> None:
    """A block's forward has no attribute of the model: the name is unknown there."""
    text = SPEC.replace("layers:\n", "blocks:\n  B:\n    body:\n      - mul(scale)\nlayers:\n")
    text = text.replace("  - proj: linear(3)\n", "  - b: B()\n  - proj: linear(3)\n")
    with pytest.raises(NetspecError, match="scale"):
        netspec.loads(text).check()


def test_both_formats_say_the_same() -> None:
    yaml_spec = read_text(SPEC, "t.yaml").spec
    ns_text = fmt.to_ns(yaml_spec)
    assert "tensors {\n    cls = zeros([1, dim, 1])\n    scale = ones([1])\n}" in ns_text
    ns_spec = read_text(ns_text, "t.ns").spec
    assert m.canonical(ns_spec) == m.canonical(yaml_spec)
    assert fmt.to_yaml(ns_spec) == fmt.to_yaml(yaml_spec)
