"""The module back end: the generated source, executed.

``build`` renders the same source ``netspec codegen`` writes (at the spec's defaults), executes
it once per distinct source, and instantiates the class with the requested parameters — so a
built module and a generated file cannot disagree, and the forward pass is plain PyTorch code.

The source is registered with :mod:`linecache` under a stable name and its module is put in
``sys.modules``, so tracebacks, ``inspect.getsource`` and ``torch.jit.script`` see real lines.
Modules pickle (``torch.save(model)``, ``copy.deepcopy``) by reducing to the source and their
state, the way ``torch.fx.GraphModule`` does; unpickling needs netspec, not the spec file.
"""

from __future__ import annotations

import hashlib
import linecache
import sys
import types
from typing import TYPE_CHECKING, Any

from netspec.backends.python import generate
from netspec.expand.expander import expand
from netspec.expand.ir import modules
from netspec.infer import Network
from netspec.ops.base import Shape
from netspec.spec import models as m
from netspec.spec.params import declared

if TYPE_CHECKING:
    import torch

_MODULES: dict[str, types.ModuleType] = {}


def compile_source(source: str, label: str = "model") -> types.ModuleType:
    """Execute generated source once (cached by content) and return its module."""
    import torch

    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]
    cached = _MODULES.get(digest)
    if cached is not None:
        return cached
    safe = "".join(ch if ch.isalnum() else "_" for ch in label)
    name = f"netspec_generated.{safe}_{digest}"
    filename = f"<netspec:{label}:{digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - our own generated code
    for value in list(module.__dict__.values()):
        if (
            isinstance(value, type)
            and issubclass(value, torch.nn.Module)
            and value.__module__ == name
        ):
            value.__reduce__ = _reduce  # type: ignore[method-assign]
            value.__netspec_source__ = source  # type: ignore[attr-defined]
            value.__netspec_label__ = label  # type: ignore[attr-defined]
    _MODULES[digest] = module
    return module


def _reduce(self: Any) -> tuple[Any, ...]:
    cls = type(self)
    return (
        _rebuild,
        (cls.__netspec_source__, cls.__netspec_label__, cls.__qualname__, self.__dict__),
    )


def _rebuild(source: str, label: str, qualname: str, state: dict[str, Any]) -> Any:
    """Unpickle a built module: re-execute its source, restore its state."""
    cls = getattr(compile_source(source, label), qualname)
    obj = cls.__new__(cls)
    obj.__setstate__(state)
    return obj


_SOURCES: dict[tuple[int, Shape | None], tuple[m.SpecFile, str, str]] = {}
"""Generated sources by spec object (kept alive with its entry, so its id stays its own)."""


def source_for(spec: m.SpecFile, input_override: Shape | None = None) -> tuple[str, str]:
    """The source ``build`` executes for ``spec`` (generated at its defaults) and its class;
    generated once per spec object, so building a model again costs what PyTorch does."""
    key = (id(spec), input_override)
    hit = _SOURCES.get(key)
    if hit is not None and hit[0] is spec:
        return hit[1], hit[2]
    params = {name: p.default for name, p in declared(spec).items()}
    net = expand(spec, params, input_override)
    gen = generate(spec, net, input_override)
    if len(_SOURCES) >= 64:
        _SOURCES.clear()
    _SOURCES[key] = (spec, gen.text, gen.class_name)
    return gen.text, gen.class_name


def build(
    spec: m.SpecFile, net: Network, params: dict[str, Any], input_override: Shape | None = None
) -> torch.nn.Module:
    """Instantiate ``spec``'s generated class with ``params``."""
    defaults = {name: p.default for name, p in declared(spec).items()}
    text, class_name = source_for(spec, input_override)
    cls = getattr(compile_source(text, spec.name or "model"), class_name)
    overrides = {
        k: v
        for k, v in params.items()
        if defaults.get(k) != v or type(defaults.get(k)) is not type(v)
    }
    return cls(**overrides)  # type: ignore[no-any-return]


def compare_state(model: torch.nn.Module, net: Network) -> list[str]:
    """Differences between a module's state_dict and the static analysis (empty: none)."""
    expected: dict[str, tuple[int, ...]] = {}
    for path, leaf in modules(net.root).items():
        for t in leaf.tensors:
            expected[f"{path}.{t.name}" if path else t.name] = tuple(t.shape)
    actual = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = []
    for key in sorted(expected.keys() - actual.keys()):
        problems.append(f"missing from the module: {key} {list(expected[key])}")
    for key in sorted(actual.keys() - expected.keys()):
        problems.append(f"not in the static analysis: {key} {list(actual[key])}")
    for key in sorted(expected.keys() & actual.keys()):
        if expected[key] != actual[key]:
            problems.append(f"{key}: static {list(expected[key])}, module {list(actual[key])}")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if trainable != net.totals.parameters:
        problems.append(f"parameters: static {net.totals.parameters:,}, module {trainable:,}")
    return problems


def leaf_calls(model: torch.nn.Module, shape: Shape, batch: int = 2) -> list[tuple[str, Shape]]:
    """Run one forward pass (eval mode, no grad) and record every leaf module call's output
    shape (batch excluded), in call order."""
    import torch

    calls: list[tuple[str, Shape]] = []
    hooks = []
    for path, mod in model.named_modules():
        # leaves are modules without children (an empty nn.Sequential is a container still)
        if next(mod.children(), None) is None and not isinstance(mod, torch.nn.Sequential):

            def hook(_m: Any, _i: Any, out: Any, path: str = path) -> None:
                calls.append((path, tuple(out.shape[1:])))

            hooks.append(mod.register_forward_hook(hook))
    training = model.training
    first = next(iter(model.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(batch, *shape, device=device))
    finally:
        model.train(training)
        for h in hooks:
            h.remove()
    return calls


def compare_forward(model: torch.nn.Module, net: Network) -> list[str]:
    """Differences between a real forward pass and the static shapes (empty: none)."""
    from netspec.expand.ir import leaves

    expected = [(leaf.path, tuple(leaf.output)) for leaf in leaves(net.root) if not leaf.functional]
    actual = leaf_calls(model, net.input)
    problems = []
    for i, (want, got) in enumerate(zip(expected, actual, strict=False)):
        if want != got:
            problems.append(
                f"call {i}: static {want[0]} -> {list(want[1])}, module {got[0]} -> {list(got[1])}"
            )
            break
    if len(expected) != len(actual):
        problems.append(f"{len(expected)} module calls expected, {len(actual)} made")
    return problems
