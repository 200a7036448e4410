"""The Python API: ``netspec.load(...)`` and the :class:`Spec` it returns."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netspec.backends import summary as summary_backend
from netspec.errors import NetspecError
from netspec.expand.expander import class_name, expand
from netspec.infer import Network
from netspec.spec import models as m
from netspec.spec.load import load_spec, load_text
from netspec.spec.params import NotPlain, Param, bind, declared, plain

if TYPE_CHECKING:
    import torch


class Spec:
    """A validated spec with its parameter values bound.

    Static analysis (:meth:`network`, :meth:`summary`) never imports torch; :meth:`build` does.
    """

    def __init__(
        self,
        spec: m.SpecFile,
        overrides: Mapping[str, Any] | None = None,
        input_shape: Sequence[int] | None = None,
        origin: str = "keyword",
    ) -> None:
        self.spec = spec
        self.declared: dict[str, Param] = declared(spec)
        self.params: dict[str, Any] = bind(self.declared, dict(overrides or {}), origin)
        self._overrides = dict(overrides or {})
        self._input = _input_shape(input_shape)

    @property
    def name(self) -> str:
        return self.spec.name or "model"

    @property
    def description(self) -> str | None:
        return self.spec.description

    @property
    def class_name(self) -> str:
        return class_name(self.spec)

    def replace(self, **params: Any) -> Spec:
        """The same spec with more parameter overrides."""
        return Spec(self.spec, {**self._overrides, **params}, self._input)

    @cached_property
    def network(self) -> Network:
        """The expanded, shape-inferred network (computed once)."""
        return expand(self.spec, self.params, self._input)

    def check(self) -> Network:
        """Validate, expand and infer statically (what ``netspec check`` does).

        Raises:
            NetspecError: the spec is invalid at these parameter values.
        """
        return self.network

    def summary(
        self, macs: summary_backend.MacsConvention = "torchvision", explain: bool = False
    ) -> dict[str, Any]:
        """The per-layer summary as data: name, input, output, parameters, MACs, layers (with
        ``explain``, each layer's arithmetic as ``check --explain`` shows it).

        Raises:
            NetspecError: the spec is invalid at these parameter values, or ``macs`` is neither
                ``"torchvision"`` nor ``"all"``.
            TypeError: ``macs`` is not text.
        """
        if not isinstance(macs, str):
            raise TypeError(f"summary() takes macs='torchvision' or 'all', found {_kind(macs)}")
        if macs not in ("torchvision", "all"):
            raise NetspecError(
                f"macs must be 'torchvision' or 'all', found {macs!r}",
                where="macs",
                hint="'torchvision' counts convolutions and linear layers; 'all' everything",
            )
        if not isinstance(explain, bool):
            raise TypeError(f"summary() takes explain=True or False, found {_kind(explain)}")
        return summary_backend.data(self.network, macs, explain)

    def source(self) -> str:
        """Self-contained PyTorch source defining this spec's model class (the params and input
        given here become the constructor's defaults): what ``netspec codegen`` writes and
        :meth:`build` executes."""
        from netspec.backends.module import source_for

        return source_for(self.spec, self.params, self._input, self.network)[0]

    def build(self, verify: bool = False) -> torch.nn.Module:
        """Build the ``nn.Module`` by executing :meth:`source`, and check it against the static
        analysis: its state_dict (every key and shape) and trainable parameter count, and with
        ``verify`` one forward pass (every module's output shape and the model's output shape).

        Raises:
            NetspecError: the spec is invalid at these parameters and input.
            InternalError: the module disagrees with the analysis — a bug in netspec, never
                returned as a silently different module.
        """
        from netspec.backends.module import build

        if not isinstance(verify, bool):
            raise TypeError(f"build() takes verify=True or False, found {_kind(verify)}")
        return build(self.spec, self.network, self.params, self._input, verify)

    def __repr__(self) -> str:
        return f"<netspec.Spec {self.name} {self.params}>"


def load(
    spec: str | os.PathLike[str],
    *,
    input_shape: Sequence[int] | None = None,
    **params: Any,
) -> Spec:
    """Load a spec by path or bundled name, with parameter overrides.

    >>> net = load("vgg16", num_classes=10)
    >>> net.summary()["parameters"]
    134301514

    Raises:
        NetspecError: the spec is invalid, or a parameter value does not fit.
    """
    if not isinstance(spec, str | os.PathLike):
        raise TypeError(f"load() takes a path or a bundled spec's name, found {_kind(spec)}")
    ref = spec if isinstance(spec, str) else Path(spec)
    return Spec(load_spec(ref), params, input_shape)


def loads(
    text: str | bytes,
    *,
    name: str = "<spec>",
    input_shape: Sequence[int] | None = None,
    **params: Any,
) -> Spec:
    """Like :func:`load`, for spec text; ``name`` (``model.ns``, ``model.yaml``) says its
    format, and without an extension the text itself does (``netspec 1`` is ``.ns``).

    ``text`` may be ``bytes`` of UTF-8.

    Raises:
        NetspecError: the spec is invalid (or its bytes are not UTF-8), or a parameter value
            does not fit.
        TypeError: ``text`` is neither text nor bytes.
    """
    if not isinstance(name, str):
        raise TypeError(f"loads() takes name= as text (model.yaml, model.ns), found {_kind(name)}")
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NetspecError(f"the spec is not UTF-8 text (byte {exc.start})") from None
    if not isinstance(text, str):
        raise TypeError(f"loads() takes the spec's text, found {_kind(text)}")
    return Spec(load_text(str.__str__(text), str.__str__(name)), params, input_shape)


_MAX_DIM = 2**63 - 1
"""Largest size PyTorch's int64 shapes hold."""


def _input_shape(shape: Sequence[int] | None) -> tuple[int, ...] | None:
    """``input_shape`` as a tuple, its sizes checked as far as the analysis cannot: a list or
    tuple (text or bytes are sequences too, but not of sizes) of the language's values, sizes
    that fit int64 (the expander checks each is a positive integer, and their product).

    Raises:
        TypeError: not a list or tuple.
        NetspecError: a size beyond int64.
    """
    if shape is None:
        return None
    if not isinstance(shape, list | tuple):
        raise TypeError(
            f"input_shape takes a list of sizes such as [3, 224, 224], found {_kind(shape)}"
        )
    out = tuple(shape)
    for size in out:
        if isinstance(size, int) and not isinstance(size, bool) and abs(size) > _MAX_DIM:
            raise NetspecError(
                f"an input size of {size.bit_length()} bits is more than PyTorch's int64 sizes "
                "hold (2⁶³ − 1)",
                where="input",
                hint="input_shape is one sample's shape, without the batch dimension",
            )
    try:
        return tuple(plain(out))
    except NotPlain as exc:
        raise NetspecError(f"input_shape: {exc}", where="input") from None


def _kind(value: Any) -> str:
    return "None" if value is None else f"a value of type {type(value).__name__}"
