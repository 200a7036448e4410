"""The rule of the compiler: the analysis, the built module and the generated file agree.

A property test over the whole language (``tests/strategies.py`` draws the specs): for each
random spec, in YAML or ``.ns``, with random non-default params and sometimes another input
shape, with ``extends`` sometimes,

1. the static analysis (``spec.check()``, ``spec.summary()``) is the reference: every module's
   state_dict entries and shapes, every leaf module's output shape, the output, the counts;
2. ``spec.build()`` has exactly that state_dict, those leaf outputs in a forward pass and that
   output;
3. ``spec.source()``, written to a file and imported as a module of its own, builds the same
   with no arguments, and computes the same values as the built module given its state;
4. the generated class given the declared defaults as keywords builds what the analysis says
   of the defaults (or refuses, when the analysis refuses them), and the class generated at the
   defaults given the overrides builds what the analysis says of the overrides;
5. the other format of the spec analyses the same, and ``netspec check --set … --input …
   --format json`` and ``netspec codegen`` print the same as the API.

A second test checks that the generator reaches every construct of the JSON Schema.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import traceback
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from hypothesis import given, note
from torch import nn
from typer.testing import CliRunner

import netspec
from netspec.backends.module import sample_input
from netspec.cli import app
from netspec.errors import CodegenError, NetspecError
from netspec.ops import HELPERS
from netspec.spec.format import to_ns
from netspec.spec.load import read_text
from tests.strategies import (
    SCHEMA,
    Example,
    examples,
    generate,
    literal,
    schema_constructs,
    spec_constructs,
)

T = TypeVar("T")
CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
WORK = Path(tempfile.gettempdir()) / f"netspec-agreement-{os.getpid()}"
"""Where examples are written: the same path for every example of this process, so that a
replayed example generates the same source (error messages name the spec's path) and hypothesis
sees the same failure."""


# -- what the analysis says, what a module does -----------------------------------------------


@dataclass
class Facts:
    state: dict[str, tuple[int, ...]]
    """state_dict key → shape."""
    calls: dict[str, list[tuple[int, ...]]]
    """leaf module path → output shape of each call (batch excluded), in call order."""
    leaves: set[str]
    """paths of leaf modules (every one of which is called)."""
    output: tuple[int, ...]
    parameters: int
    buffers: int


def analysed(spec: netspec.Spec) -> Facts:
    """What the static analysis says the module is."""
    net = spec.check()
    summary = spec.summary()
    state: dict[str, tuple[int, ...]] = {}
    calls: dict[str, list[tuple[int, ...]]] = defaultdict(list)

    def walk(node: Any) -> None:
        children = getattr(node, "children", None)
        if children is not None:
            for t in getattr(node, "own", ()):  # a block's learned tensors
                state[f"{node.path}.{t.name}" if node.path else t.name] = tuple(t.shape)
            for child in children:
                walk(child)
            return
        if node.functional:
            return
        calls[node.path].append(tuple(node.output))
        for t in node.tensors:
            state[f"{node.path}.{t.name}" if node.path else t.name] = tuple(t.shape)

    walk(net.root)
    layers = {(row["path"], tuple(row["output"])) for row in summary["layers"] if row["module"]}
    assert layers == {(p, s) for p, shapes in calls.items() for s in shapes}, "summary vs IR"
    assert tuple(summary["output"]) == tuple(net.output)
    return Facts(
        state,
        dict(calls),
        set(calls),
        tuple(summary["output"]),
        summary["parameters"],
        summary["buffers"],
    )


def observed(model: nn.Module, x: torch.Tensor) -> tuple[Facts, Any]:
    """What a module is and does in one forward pass (eval mode, batch 2)."""
    state = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    calls: dict[str, list[tuple[int, ...]]] = defaultdict(list)
    leaves = set()
    hooks = []
    for path, module in model.named_modules():
        operator = (
            type(module).__module__.startswith("torch.nn") or type(module).__name__ in HELPERS
        )
        # an operator's own children are its parts (nn.MultiheadAttention's out_proj)
        within = any(path.startswith(f"{leaf}.") for leaf in leaves)
        if operator and not isinstance(module, CONTAINERS) and not within:
            leaves.add(path)

            def hook(_m: Any, _i: Any, out: Any, path: str = path) -> None:
                out = out[0] if isinstance(out, tuple) else out  # nn.MultiheadAttention's
                calls[path].append(tuple(out.shape[1:]))

            hooks.append(module.register_forward_hook(hook))
    model.eval()
    try:
        with torch.no_grad():
            y = model(x.clone())
    finally:
        for h in hooks:
            h.remove()
    parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    buffers = sum(b.numel() for b in model.buffers())
    return Facts(state, dict(calls), leaves, tuple(y.shape[1:]), parameters, buffers), y


def differences(want: Facts, got: Facts) -> list[str]:
    out = []
    for key in sorted(want.state.keys() - got.state.keys()):
        out.append(f"state: missing {key} {want.state[key]}")
    for key in sorted(got.state.keys() - want.state.keys()):
        out.append(f"state: unexpected {key} {got.state[key]}")
    for key in sorted(want.state.keys() & got.state.keys()):
        if want.state[key] != got.state[key]:
            out.append(f"state: {key} analysed {want.state[key]}, module {got.state[key]}")
    for path in sorted(want.leaves ^ got.leaves):
        where = "only analysed" if path in want.leaves else "only in the module"
        out.append(f"leaf module {path!r}: {where}")
    for path in sorted(want.calls.keys() | got.calls.keys()):
        if want.calls.get(path, []) != got.calls.get(path, []):
            out.append(
                f"calls of {path!r}: analysed {want.calls.get(path, [])}, "
                f"module {got.calls.get(path, [])}"
            )
    if want.output != got.output:
        out.append(f"output: analysed {list(want.output)}, module {list(got.output)}")
    if want.parameters != got.parameters:
        out.append(f"parameters: analysed {want.parameters}, module {got.parameters}")
    if want.buffers != got.buffers:
        out.append(f"buffers: analysed {want.buffers}, module {got.buffers}")
    return out


def attempt(what: str, fn: Callable[[], T]) -> T:
    """``fn()``; an exception becomes an AssertionError saying what failed and where, raised
    here (outside the handler, so without the exception as its context): one failure site per
    step, so that hypothesis tells failures apart by step, not by generated file name."""
    try:
        return fn()
    except AssertionError:
        raise
    except CodegenError as exc:
        raise AssertionError(f"{what} raised CodegenError: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any exception is the failure being reported
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        message = (
            f"{what} raised {type(exc).__name__}: {exc}\n"
            f"  at {frame.filename}:{frame.lineno}: {(frame.line or '').strip()}"
        )
    raise AssertionError(message)


def refuses(fn: Callable[[], Any]) -> bool:
    try:
        fn()
    except Exception:  # noqa: BLE001 - torch's and netspec's errors vary
        return True
    return False


def agree(what: str, make: Callable[[], nn.Module], want: Facts, x: torch.Tensor) -> Any:
    """Build a module and run it: it must be what the analysis says."""
    got, y = attempt(what, lambda: observed(make(), x))
    problems = differences(want, got)
    assert not problems, f"{what} disagrees with the analysis:\n" + "\n".join(problems)
    return y


def import_class(folder: Path, source: str, spec: netspec.Spec) -> type[nn.Module]:
    """Write generated source to a file and import it as a module of its own."""
    path = folder / f"generated_{hashlib.sha256(source.encode()).hexdigest()[:16]}.py"
    path.write_text(source)
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    cls = getattr(module, spec.class_name)
    assert isinstance(cls, type) and issubclass(cls, nn.Module)
    return cls


# -- the example's files ----------------------------------------------------------------------


def write(ex: Example, folder: Path) -> tuple[Path, Path]:
    """Write the example's files (the base of ``extends`` in both formats); return the main
    file in the example's format and in the other one."""
    texts = ex.yaml_texts()
    for stem, text in texts.items():
        (folder / f"{stem}.yaml").write_text(text)
        (folder / f"{stem}.ns").write_text(to_ns(read_text(text, f"{stem}.yaml").spec))
    main, other = ("main.ns", "main.yaml") if ex.fmt == "ns" else ("main.yaml", "main.ns")
    return folder / main, folder / other


def load(ex: Example, path: Path, overrides: dict[str, Any], call_input: Any) -> netspec.Spec:
    if ex.by_path:
        return netspec.load(path, input_shape=call_input, **overrides)
    return netspec.loads(path.read_text(), name=path.name, input_shape=call_input, **overrides)


def cli_value(value: Any) -> str:
    return value if isinstance(value, str) else literal(value)


# -- the property -----------------------------------------------------------------------------


@given(ex=examples())
def test_analysis_build_and_generated_file_agree(ex: Example) -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: more threads cost more than they save
    try:
        check_example(ex, WORK)
    finally:
        torch.set_num_threads(threads)
        shutil.rmtree(WORK, ignore_errors=True)


def check_example(ex: Example, folder: Path) -> None:
    path, other_path = write(ex, folder)
    note(f"{path.name}:\n{path.read_text()}")
    over, call_input = ex.overrides, ex.input_override
    generator = torch.Generator().manual_seed(0)

    # the defaults at the spec's input, and the call: overrides at the call's input (both valid
    # by construction)
    spec_a = attempt("the analysis at the defaults", lambda: load(ex, path, {}, None))
    facts_a = attempt("the analysis at the defaults", lambda: analysed(spec_a))
    spec_b = attempt("the analysis of the call", lambda: load(ex, path, over, call_input))
    facts_b = attempt("the analysis of the call", lambda: analysed(spec_b))
    shape_b = tuple(spec_b.check().input)
    x_b = sample_input(spec_b.check(), 2, generator=generator)
    assert tuple(x_b.shape[1:]) == shape_b

    # the two formats are the same spec
    other = attempt("the other format", lambda: load(ex, other_path, over, call_input))
    assert attempt("the other format", other.summary) == spec_b.summary(), (
        "YAML and .ns analyse differently"
    )

    # the built module
    built = attempt("build()", spec_b.build)
    y_built = agree("build()", lambda: built, facts_b, x_b)

    # the generated file, standing alone
    source_b = attempt("source()", spec_b.source)
    note(source_b)
    cls_b = attempt("importing the generated file", lambda: import_class(folder, source_b, spec_b))
    generated = attempt("the generated class", cls_b)
    agree("the generated class", lambda: generated, facts_b, x_b)
    generated.load_state_dict(built.state_dict())
    generated.eval()
    with torch.no_grad():
        y_generated = generated(x_b.clone())
    # the same code with the same state computes the same values (NaN where PyTorch makes one:
    # a dilated max-pool window entirely in the padding gives -inf)
    torch.testing.assert_close(y_generated, y_built, rtol=0, atol=0, equal_nan=True)

    # the generated class given the declared defaults: the analysis of the defaults
    if over:
        try:
            facts_d: Facts | None = analysed(load(ex, path, {}, call_input))
        except NetspecError:
            facts_d = None
        if facts_d is None:
            assert refuses(lambda: observed(cls_b(**ex.defaults), x_b)), (
                "the analysis refuses the defaults at the call's input; the generated class "
                "given them builds and runs"
            )
        else:
            make = lambda: cls_b(**ex.defaults)  # noqa: E731
            agree("the class given the defaults", make, facts_d, x_b)

    # the class generated at the defaults, given the overrides
    if over or call_input is not None:
        source_a = attempt("source() at the defaults", spec_a.source)
        cls_a = attempt("importing the file", lambda: import_class(folder, source_a, spec_a))
        x_a = sample_input(spec_a.check(), 2, generator=generator)
        agree("the class generated at the defaults", cls_a, facts_a, x_a)
        if over:
            facts_c = analysed(load(ex, path, over, None))
            make = lambda: cls_a(**over)  # noqa: E731
            agree("the class generated at the defaults, given the overrides", make, facts_c, x_a)

    # a value its choices or `require` refuse: check refuses it, and so does the class (with
    # the same words, before it builds anything)
    for name, bad in ex.refused:
        note(f"refused: {name}={bad!r}")
        try:
            load(ex, path, {**over, name: bad}, call_input)
        except NetspecError as exc:
            words = exc.message.partition(", found")[0]
        else:
            raise AssertionError(f"check accepts {name}={bad!r}, which its spec refuses")
        try:
            cls_b(**{name: bad})
        except ValueError as exc:
            assert str(exc).partition(", found")[0] == words, (str(exc), words)
        else:
            raise AssertionError(f"the generated class accepts {name}={bad!r}; check refuses it")

    # a value an operator refuses where the values reach it, which PyTorch would take (a
    # negative `eps`): check refuses it exactly where the class does, in the same words
    for name, bad in dict.fromkeys(ex.probes):
        note(f"probed: {name}={bad!r}")
        try:
            probed = load(ex, path, {**over, name: bad}, call_input)
        except NetspecError:
            continue  # the param's choices or `require` refuse it (see ex.refused)
        try:
            analysed(probed)
        except NetspecError as exc:
            try:
                observed(cls_b(**{name: bad}), x_b)
            except ValueError as raised:
                assert str(raised).endswith(exc.message), (str(raised), exc.message)
            else:
                raise AssertionError(f"the generated class takes {name}={bad!r}; check refuses it")
        else:
            given = {name: bad}
            attempt(f"the class given {name}={bad!r}", lambda: observed(cls_b(**given), x_b))  # noqa: B023 - called at once

    if ex.cli:
        args = [arg for k, v in over.items() for arg in ("--set", f"{k}={cli_value(v)}")]
        if call_input is not None:
            args += ["--input", ",".join(str(d) for d in call_input)]
        runner = CliRunner()
        result = runner.invoke(app, ["check", str(path), "--format", "json", *args])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == spec_b.summary(), "netspec check --format json"
        result = runner.invoke(app, ["codegen", str(path), *args])
        assert result.exit_code == 0, result.output
        by_path = netspec.load(path, input_shape=call_input, **over)
        assert result.stdout == by_path.source(), "netspec codegen"


# -- the generator covers the language ---------------------------------------------------------

ALLOWED: dict[str, str] = {}
"""Schema constructs the generator does not produce, each with the reason."""

_PARALLEL_ELSEWHERE = (
    "the schema lets a `parallel` entry stand wherever a layer may, but its paths are a "
    "block's own children: netspec refuses it outside a block's body, `then` and the paths of "
    "another `parallel` (tests/spec/test_load.py checks the refusals)"
)


def _allowed(expected: set[str]) -> dict[str, str]:
    """:data:`ALLOWED` and the places a ``parallel`` entry cannot be."""
    out = dict(ALLOWED)
    for construct in expected:
        where, _, what = construct.partition(":")
        if what == "ParallelEntry" and not where.startswith(("BlockDef.body", "BlockDef.then")):
            if not where.startswith("ParallelEntry.parallel"):
                out[construct] = _PARALLEL_ELSEWHERE
    return out


TAGS = {
    # how a spec is written and called
    "format:yaml",
    "format:ns",
    "extends",
    "extends:no-suffix",
    "extends:override-param",
    "extends:override-block",
    "call:params",
    "call:input",
    "call:input+params",
    "call:defaults-fail-at-call-input",
    "cli",
    "param:declared",
    "param:require",
    "param:refused",
    "norm:eps-param",
    "let:reads-let",
    "let:mapping",
    "expr:long-chain",
    "let:table-lookup",
    # layers
    "top:class",
    "top:seq",
    "nested:module",
    "nested:seq",
    "named-loop",
    "named-if",
    "if-else",
    "layer-choice",
    "layer-choice:block",
    "name-template",
    "call:positional+keyword",
    "mapping-call",
    "single-entry",
    "functional-call",
    "shared-stateless-name",
    "shared-stateless-name:differently-written",
    "layer_norm:affine-param",
    "declared-size-check",
    "padding:same",
    "conv:groups",
    "loop:repeat",
    "loop:repeat-as",
    "loop:range",
    "loop:enumerate",
    "loop:in",
    "loop:zip",
    "loop:table",
    "lone-loop",
    "loop:in-named-list",
    "loop:in-class",
    "loop:in-block-class",
    "cond:loop-index",
    "loop:in-block",
    "loop:in-stage",
    "n_down",
    "world:2d",
    "world:1d",
    "world:3d",
    "flatten:flat",
    "flatten:2d-to-1d",
    "flatten:3d-to-2d",
    "flatten:3d-to-1d",
    "grows:conv_transpose",
    "grows:upsample",
    "grows:pixel_shuffle",
    "conv_transpose:groups",
    "linear-on-1d",
    "head:flatten+linear",
    "unsafe:pool",
    "unsafe:crop",
    "unsafe:valid",
    # blocks
    "block:plain",
    "block:proj",
    "block:ident",
    "block:branches",
    "block:nested",
    "block:recursive",
    "block:recursive-choice",
    "block:recursive-from-in-branch",
    "block:call",
    "block:mapping-call",
    "block:keyword-arg",
    "block:default-param",
    "block:default-param+top-let",
    "block:reads-param",
    "block:reads-let",
    "block:let-in.channels",
    "block:expansion",
    "block:stride-param",
    "block:then",
    "block:first_only",
    "block:calls-block",
    "block:stage-in-block",
    "stage",
    "residual:true",
    "residual:false",
    "residual:expr",
    "residual:param",
    "residual:shortcut",
    "residual:when",
    "shortcut:when",
    "shortcut:name",
    "shortcut:project",
    "shortcut:named-project",
    "shortcut:project-control",
    "branch:string",
    "branch:list",
    "branch:named-list",
    "branch:for",
    "branch:repeat",
    "branch:if",
    "branch:mapping",
    "merge:add+residual",
    "merge:concat+residual",
    "merge:default+residual",
    "merge:add+branches",
    "merge:concat+branches",
    "merge:default+branches",
    "merge:mul+residual",
    "merge:mul+branches",
    "block:parallel",
    "parallel:nested",
    "parallel:split",
    "branches:split",
    "branches:numbered",
    "block:tensors",
    "tensor:zeros",
    "tensor:ones",
    "tensor:full",
    "tensor:normal",
    "model:tensors",
    "prepend",
    "attention",
    "windows",
    "windows-in-loop",
    "from:in-if-branch",
    "block:mutual-recursion",
    "block:recursive-size-function",
    "patch-merging",
    "partitions",
    "partitions-in-loop",
    "select:1d-to-flat",
    "select:dim-param",
    "softmax:dim-param",
    "permute:dims-param",
    "prepend:dim-param",
    "reshape:size-param",
    "swin_block_v2:mlp-ratio-param",
    "kernel:either-kind",
    "merge:add+parallel",
    "merge:mul+parallel",
    "merge:concat+parallel",
    "merge:default+parallel",
    "from:add",
    "from:mul",
    "from:crop",
    "from:single",
    "from:concat",
    "from:resize",
    "from:input",
    "from:block-input",
    "from:in-block",
    "from:child",
    "from:child-in-loop",
    "from:block-inputs",
    "from:block-inputs-recursive",
    "input:ids",
    "rnn:lstm",
    "rnn:gru",
    "rnn:last",
    "rnn:proj",
    "rnn:bidirectional-param",
    "conv:padding-reads-in",
    "block:if-reads-in-size",
}
"""What the generator must reach besides the schema's constructs (recorded as it draws)."""


def test_the_generator_covers_the_language() -> None:
    expected = schema_constructs(SCHEMA)
    seen: set[str] = set()
    tags: set[str] = set()
    for seed in range(1000):
        ex = generate(seed)
        for data in ex.files.values():
            seen |= spec_constructs(data)
        tags |= ex.tags
    allowed = _allowed(expected)
    stale = sorted(set(allowed) - expected) + sorted(set(allowed) & seen)
    assert not stale, f"allow-list entries not in the schema or generated after all: {stale}"
    missing = sorted(expected - seen - set(allowed))
    assert not missing, "schema constructs never generated:\n" + "\n".join(missing)
    missing_tags = sorted(TAGS - tags)
    assert not missing_tags, "constructs never generated:\n" + "\n".join(missing_tags)
