"""The module back end: the generated source, executed.

``build`` renders the source ``netspec codegen`` writes for the same parameters and input (the
requested values are the constructor's defaults), executes it once per distinct source and
instantiates the class — so a built module and a generated file cannot disagree, and the
forward pass is plain PyTorch code. Every built module is then checked against the static
analysis (state_dict keys and shapes, trainable parameters; with ``verify`` also a forward
pass); a difference is a bug in netspec, raised as :class:`~netspec.errors.InternalError`.

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
from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any

from netspec.backends.python import generate
from netspec.errors import InternalError, NetspecError
from netspec.expand.expander import expand
from netspec.expand.ir import state
from netspec.expand.memo import freeze
from netspec.infer import Network
from netspec.ops.base import Shape
from netspec.spec import models as m

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
    # dont_inherit: this file's `from __future__ import annotations` must not apply to the
    # source, or annotations a written file evaluates would never be evaluated here
    code = compile(source, filename, "exec", dont_inherit=True)
    try:
        exec(code, module.__dict__)  # noqa: S102 - our own generated code
    except BaseException:
        del sys.modules[name]
        raise
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
        # the class's own state (nn.LSTM leaves out its weak references to its weights)
        (cls.__netspec_source__, cls.__netspec_label__, cls.__qualname__, self.__getstate__()),
    )


def _rebuild(source: str, label: str, qualname: str, state: dict[str, Any]) -> Any:
    """Unpickle a built module: re-execute its source, restore its state."""
    cls = getattr(compile_source(source, label), qualname)
    obj = cls.__new__(cls)
    obj.__setstate__(state)
    return obj


_SourceKey = tuple[int, Hashable, Shape | None]
_SOURCES: dict[_SourceKey, tuple[m.SpecFile, str, str]] = {}
"""Generated sources by (spec object, parameter values, input); the entry keeps the spec
alive, so its id stays its own."""


def source_for(
    spec: m.SpecFile,
    params: Mapping[str, Any],
    input_override: Shape | None = None,
    net: Network | None = None,
) -> tuple[str, str]:
    """The source ``build`` executes for ``spec`` at ``params`` and ``input_override`` — what
    ``netspec codegen`` writes for them, the values being the constructor's defaults — and its
    class name. Generated once per (spec object, values, input), so building again costs what
    PyTorch does.

    Args:
        net: ``spec`` expanded at these values, when the caller has it (else expanded here).

    Raises:
        NetspecError: the spec is invalid at these values, or cannot be compiled.
    """
    key: _SourceKey = (id(spec), freeze(dict(params)), input_override)
    hit = _SOURCES.get(key)
    if hit is not None and hit[0] is spec:
        return hit[1], hit[2]
    if net is None:
        net = expand(spec, dict(params), input_override)
    gen = generate(spec, net, input_override)
    if len(_SOURCES) >= 64:
        _SOURCES.clear()
    _SOURCES[key] = (spec, gen.text, gen.class_name)
    return gen.text, gen.class_name


def build(
    spec: m.SpecFile,
    net: Network,
    params: Mapping[str, Any],
    input_override: Shape | None = None,
    verify: bool = False,
) -> torch.nn.Module:
    """Execute the source generated for ``params`` and ``input_override``, instantiate its
    class, and check the module against ``net`` (the analysis at the same values).

    Args:
        verify: also run one forward pass and compare every module's output shape and the
            model's output shape (see :func:`check_built`).

    Raises:
        NetspecError: the spec is invalid at these values.
        InternalError: the module disagrees with the analysis (a bug in netspec).
    """
    text, class_name = source_for(spec, params, input_override, net)
    cls = getattr(compile_source(text, spec.name or "model"), class_name)
    try:
        model: torch.nn.Module = cls()  # the defaults are the requested values
    except (MemoryError, RuntimeError) as exc:
        if not isinstance(exc, MemoryError) and "allocate" not in str(exc):
            raise
        gib = (net.totals.parameters + net.totals.buffers) * 4 / 2**30
        raise NetspecError(
            f"this machine cannot allocate the model: {net.totals.parameters:,} parameters "
            f"and {net.totals.buffers:,} buffer elements ({gib:,.1f} GiB in float32)",
            where=net.name,
            hint="`netspec check` analyses it without allocating; build a smaller "
            "configuration (--set) or on a larger machine",
        ) from None
    check_built(model, net, verify)
    return model


def check_built(model: torch.nn.Module, net: Network, verify: bool = False) -> None:
    """Compare a built module with the static analysis: its state_dict (every key and shape)
    and trainable parameter count; with ``verify``, also one forward pass (every leaf module's
    output shape and the final output shape).

    Raises:
        InternalError: a difference, the first one named in the message (a bug in netspec).
    """
    problems = compare_state(model, net)
    if verify and not problems:
        problems = compare_forward(model, net)
    if problems:
        raise InternalError(
            f"the built module disagrees with the static analysis: {problems[0]}", problems
        )


def compare_state(model: torch.nn.Module, net: Network) -> list[str]:
    """Differences between a module's state_dict and the static analysis (empty: none): keys
    in the analysis's order, then keys only the module has, then the parameter count."""
    expected = {key: tuple(t.shape) for key, t in state(net.root).items()}
    actual = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = []
    for key, shape in expected.items():  # in state_dict order, so the first is the first key
        if key not in actual:
            problems.append(f"missing from the module: {key} {list(shape)}")
        elif actual[key] != shape:
            problems.append(f"{key}: static {list(shape)}, module {list(actual[key])}")
    for key, shape in actual.items():
        if key not in expected:
            problems.append(f"not in the static analysis: {key} {list(shape)}")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if trainable != net.totals.parameters:
        problems.append(f"parameters: static {net.totals.parameters:,}, module {trainable:,}")
    return problems


def leaf_calls(
    model: torch.nn.Module, shape: Shape, batch: int = 2, input_dtype: str = "float32"
) -> list[tuple[str, Shape]]:
    """Run one forward pass (eval mode, no grad) and record every leaf module call's output
    shape (batch excluded), in call order."""
    return _forward(model, shape, batch, input_dtype=input_dtype)[0]


def sample_input(
    net: Network,
    batch: int = 2,
    *,
    generator: torch.Generator | None = None,
    device: Any = None,
) -> torch.Tensor:
    """A random batch of inputs ``net`` accepts: standard normal values, or for an integer
    input (``input_dtype: int64``) ids drawn uniformly from ``0 … net.id_limit − 1``, ids
    every embedding reading the input has a vector for."""
    import torch

    shape = (batch, *net.input)
    limit = net.id_limit
    if limit is not None:
        return torch.randint(0, limit, shape, generator=generator, device=device)
    return torch.randn(shape, generator=generator, device=device)


def _forward(
    model: torch.nn.Module,
    shape: Shape,
    batch: int = 2,
    paths: set[str] | None = None,
    input_dtype: str = "float32",
) -> tuple[list[tuple[str, Shape]], Any]:
    """One forward pass (eval mode, no grad) on zeros (id 0 for an integer input, an id
    every embedding has): every leaf module call's output shape (batch excluded) in call
    order — or, given ``paths``, every call of those modules — and the model's output."""
    import torch

    calls: list[tuple[str, Shape]] = []
    hooks = []
    for path, mod in model.named_modules():
        # leaves are modules without children (an empty nn.Sequential is a container still)
        leaf = next(mod.children(), None) is None and not isinstance(mod, torch.nn.Sequential)
        if path in paths if paths is not None else leaf:

            def hook(_m: Any, _i: Any, out: Any, path: str = path) -> None:
                out = out[0] if isinstance(out, tuple) else out  # nn.MultiheadAttention's
                calls.append((path, tuple(out.shape[1:])))

            hooks.append(mod.register_forward_hook(hook))
    training = model.training
    first = next(iter(model.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")
    try:
        model.eval()
        with torch.no_grad():
            dtype = torch.int64 if input_dtype == "int64" else torch.float32
            output = model(torch.zeros(batch, *shape, dtype=dtype, device=device))
    finally:
        model.train(training)
        for h in hooks:
            h.remove()
    return calls, output


def compare_forward(model: torch.nn.Module, net: Network) -> list[str]:
    """Differences between a real forward pass and the static shapes (empty: none): the first
    leaf module call that differs, the number of calls, and the model's output shape."""
    import torch

    from netspec.expand.ir import leaves

    expected = [(leaf.path, tuple(leaf.output)) for leaf in leaves(net.root) if not leaf.functional]
    # the operator modules the analysis lists (a block class whose layers are all calls in its
    # forward has no children, but is not an operator)
    actual, output = _forward(
        model, net.input, paths={path for path, _ in expected}, input_dtype=net.input_dtype
    )
    problems = []
    for i, (want, got) in enumerate(zip(expected, actual, strict=False)):
        if want != got:
            problems.append(
                f"call {i}: static {want[0]} -> {list(want[1])}, module {got[0]} -> {list(got[1])}"
            )
            break
    if len(expected) != len(actual):
        problems.append(f"{len(expected)} module calls expected, {len(actual)} made")
    if not isinstance(output, torch.Tensor):
        problems.append(f"output: static {list(net.output)}, module {type(output).__name__}")
    elif tuple(output.shape[1:]) != tuple(net.output):
        problems.append(f"output: static {list(net.output)}, module {list(output.shape[1:])}")
    return problems
