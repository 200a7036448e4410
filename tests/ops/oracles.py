"""Independent references for the operator tests, and one check that holds netspec to them.

The classes and functions at the top are torchvision's, as torchvision writes them (minus its
usage logging); torchvision itself is not imported. netspec's generated code must compute
exactly what they compute. :func:`agree` runs one operator call through netspec — static
analysis, the module ``build()`` makes, and the functional form a class body uses — and
compares everything with a reference module: output shape, state_dict entries, values, and
MACs with ``FlopCounterMode``.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec.expand.ir import OpNode
from netspec.expr.evaluate import show
from tests.conftest import spec_text

BATCH = 3

# -- torchvision's code ---------------------------------------------------------------------------


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """torchvision.models.shufflenetv2.channel_shuffle."""
    batchsize, num_channels, height, width = x.size()
    channels_per_group = num_channels // groups

    # reshape
    x = x.view(batchsize, groups, channels_per_group, height, width)

    x = torch.transpose(x, 1, 2).contiguous()

    # flatten
    x = x.view(batchsize, -1, height, width)

    return x


class ChannelShuffleTV(nn.Module):
    """torchvision's channel_shuffle as a module (ShuffleNetV2 calls the function)."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: Tensor) -> Tensor:
        return channel_shuffle(x, self.groups)


class Permute(nn.Module):
    """torchvision.ops.misc.Permute."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: Tensor) -> Tensor:
        return torch.permute(x, self.dims)


class LayerNorm2d(nn.LayerNorm):
    """torchvision.models.convnext.LayerNorm2d."""

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        x = x.permute(0, 3, 1, 2)
        return x


def stochastic_depth(input: Tensor, p: float, mode: str, training: bool = True) -> Tensor:
    """torchvision.ops.stochastic_depth."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
    if mode not in ["batch", "row"]:
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    if not training or p == 0.0:
        return input

    survival_rate = 1.0 - p
    if mode == "row":
        size = [input.shape[0]] + [1] * (input.ndim - 1)
    else:
        size = [1] * input.ndim
    noise = torch.empty(size, dtype=input.dtype, device=input.device)
    noise = noise.bernoulli_(survival_rate)
    if survival_rate > 0.0:
        noise.div_(survival_rate)
    return input * noise


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, input: Tensor) -> Tensor:
        return stochastic_depth(input, self.p, self.mode, self.training)


# -- the check -------------------------------------------------------------------------------------


def call_text(op: str, attrs: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={show(v)}" for k, v in attrs.items())
    return f"{op}({args})" if args else op


def assert_deploys(model: nn.Module, x: Tensor) -> None:
    """``model`` computes the same on ``x`` scripted, compiled (``fullgraph``) and exported."""
    with torch.no_grad():
        expected = model(x)
        torch.testing.assert_close(torch.jit.script(model)(x), expected)
        compiled = torch.compile(model, backend="eager", fullgraph=True)
        torch.testing.assert_close(compiled(x), expected)
        torch.testing.assert_close(torch.export.export(model, (x,)).module()(x), expected)


def explanations(spec: netspec.Spec) -> dict[str, list[str]]:
    """Each top-level layer's ``explain`` lines (as ``--explain`` shows them), by path."""
    return {
        node.path: node.op.explain(node.attrs, node.input, node.output)
        for node in spec.network.root.children
    }


def flop_macs(model: nn.Module, x: Tensor) -> int:
    """FlopCounterMode's total for one sample, halved: MACs in torchvision's convention.

    oneDNN is off while it counts: PyTorch's CPU LSTM is otherwise one fused oneDNN kernel
    FlopCounterMode has no formula for (it counts 0); without it the cells run as the matrix
    products netspec counts (convolutions and the rest count the same either way)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):
        model(x)
    total = counter.get_total_flops()
    assert total % (2 * x.shape[0]) == 0
    return total // (2 * x.shape[0])


def agree(
    op: str,
    attrs: dict[str, Any],
    shape: tuple[int, ...],
    reference: nn.Module,
    *,
    functional: str | None = None,
    exact: bool = True,
) -> tuple[nn.Module, nn.Module | None]:
    """Check netspec's ``op(**attrs)`` on a ``shape`` input against ``reference``.

    - the static output shape, state_dict entries (names, shapes, order) and MACs equal the
      reference's (MACs: FlopCounterMode's total / 2, of both the reference and the built
      module);
    - the built module, given the reference's (randomised) weights, computes the reference's
      output: exactly, or to float tolerance where ``exact`` is false;
    - for an operator without tensors, an unnamed use in a class body is a function call
      whose generated source contains ``functional`` and that computes the same.

    Both run in evaluation mode. Returns the built module and the functional one (if any).
    """
    call = json.dumps(call_text(op, attrs))
    ids = netspec.ops.REGISTRY[op].reads_ids  # integer ids in (an embedding)
    extra = {"input_dtype": "int64"} if ids else {}
    spec = netspec.loads(spec_text([f"- layer: {call}"], shape, **extra))
    node = spec.network.root.children[0]
    assert isinstance(node, OpNode) and not node.functional
    ref = reference.eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_()
    if ids:
        x = torch.randint(0, attrs["num_embeddings"], (BATCH, *shape))
    else:
        x = torch.randn(BATCH, *shape)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ref(x.clone())
    assert tuple(node.output) == tuple(expected.shape[1:]), "output shape"
    state = ref.state_dict()
    assert [(t.name, tuple(t.shape)) for t in node.tensors] == [
        (k, tuple(v.shape)) for k, v in state.items()
    ], "state_dict entries"
    assert node.parameters == sum(p.numel() for p in ref.parameters())
    built = spec.build().eval()
    built.get_submodule("layer").load_state_dict(state)
    with torch.no_grad():
        got = built(x.clone())
    _same(got, expected, exact)
    assert node.macs == flop_macs(ref, x.clone()) == flop_macs(built, x.clone()), "MACs"
    if node.tensors:
        return built, None
    # unnamed in a class body (the top of a spec with names): a function call in forward
    text = spec_text(["- first: identity", f"- {call}"], shape)
    fspec = netspec.loads(text)
    fnode = fspec.network.root.children[1]
    assert isinstance(fnode, OpNode) and fnode.functional
    if functional is not None:
        assert functional in fspec.source(), fspec.source()
    fbuilt = fspec.build().eval()
    with torch.no_grad():
        _same(fbuilt(x.clone()), expected, exact)
    assert flop_macs(fbuilt, x.clone()) == node.macs
    return built, fbuilt


def _same(got: Tensor, expected: Tensor, exact: bool) -> None:
    assert got.shape == expected.shape
    if exact:
        assert torch.equal(got, expected), (got - expected).abs().max()
    else:
        torch.testing.assert_close(got, expected)
