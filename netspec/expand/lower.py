"""Lowering: what each construct of a block means, decided once.

A block in a spec is written with keys — ``body``, ``shortcut`` (``when``, ``project``),
``residual``, ``branches``, ``split``, ``merge``, ``then`` — and ``parallel`` entries in its
layers, whose meaning is a small dataflow program over named tensors: *paths* (layer lists
applied to one tensor, giving another), *splits* (a tensor's channels in equal parts, one per
path) and *merges* (an operator from :data:`~netspec.ops.merge.MERGES` joining several
tensors), each optionally guarded by conditions on the block's values. :func:`lower_block`
writes that program, and :func:`block_kind` the container a block becomes.

Both back ends consume the lowered form and nothing else of a block's keys: the expander
(:mod:`netspec.expand.expander`) interprets it at concrete values — the static analysis — and
the Python back end (:mod:`netspec.backends.python.emit`) prints it as ``__init__`` and
``forward``. So a residual ``merge: concat`` (a dense connection, ``cat([x, body(x)])``) means
the same to ``check``, ``build`` and ``codegen``, because it is written here only.

Tensors are named by the variables generated code uses for them: ``x`` the block's input,
``out`` the output of the body and of the merge in a block with a merge (a block without one
carries ``x`` through), ``identity`` the projected shortcut, a branch by its name. A name may
be assigned again (``out``), so consumers that track values number them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, RootModel

from netspec import ops
from netspec.errors import Span, SpecError, choices_hint, closest, did_you_mean
from netspec.expand.calls import check_form, resolve
from netspec.expr import nodes as n
from netspec.expr.evaluate import BUILTINS, show, type_name
from netspec.ops.merge import MERGES, Merge
from netspec.spec import models as m

IN = "x"
"""The block's input tensor."""
OUT = "out"
"""The tensor the body (and a merge) produce in a block with paths."""
IDENTITY = "identity"
"""The projected shortcut."""
INPUT = "input"
"""The name ``from:`` gives the input of the model or block whose layers it stands in."""

Role = Literal["body", "shortcut", "branch", "then"]
ContainerKind = Literal["sequential", "module", "class"]
"""How a layer list is built:

- ``sequential``: ``nn.Sequential`` of unnamed layers, children named ``0, 1, 2…``;
- ``module``: ``nn.Sequential`` of named layers (an ``OrderedDict``), every child named;
- ``class``: a module class with a ``forward`` — the top of a network that names its layers —
  where unnamed stateless layers are function calls and a stateless layer may be called twice.
"""


def has_names(entries: Sequence[Any]) -> bool:
    """Whether a layer list names any of its layers (looking through loops and conditions)."""
    return bool(layer_names(entries))


def layer_names(entries: Sequence[Any]) -> set[str]:
    """The names a layer list gives (through loops and conditions, not nested lists)."""
    out: set[str] = set()
    for entry in entries:
        if isinstance(entry, m.NamedEntry):
            out.add(entry.name.text)
        elif isinstance(entry, m.ForEntry | m.RepeatEntry):
            out |= layer_names(entry.do)
        elif isinstance(entry, m.IfEntry):
            out |= layer_names(entry.then) | layer_names(entry.else_)
        elif isinstance(entry, m.ParallelEntry):
            for path in entry.parallel:
                out |= layer_names(path)
    return out


def branch_items(block: m.BlockDef) -> list[tuple[str, Any]]:
    """A block's branches as (module name, layers): by their names, or numbered ``0, 1, 2…``
    where ``branches`` is a list (the children of an ``nn.ModuleList``)."""
    if block.branches is None:
        return []
    if isinstance(block.branches, list):
        return [(str(i), path) for i, path in enumerate(block.branches)]
    return list(block.branches.items())


def numbered_branches(block: m.BlockDef) -> bool:
    """Whether a block's branches are numbered (``branches`` a list): its class is then an
    ``nn.ModuleList`` whose items are the branches, in order, before any other child."""
    return isinstance(block.branches, list)


def block_layer_names(block: m.BlockDef) -> set[str]:
    """Every attribute a block's layers take: its layers' names (through parallel paths),
    its branches' and its shortcut projection's."""
    names = layer_names(block.body) | layer_names(block.then)
    names |= {name for name, _ in branch_items(block)}
    if block.shortcut is not None and block.shortcut.project is not None:
        names.add(block.shortcut.name)
    return names


def has_parallel(entries: Sequence[Any]) -> bool:
    """Whether a layer list splits into ``parallel`` paths (at its top, where they may be)."""
    return any(isinstance(entry, m.ParallelEntry) for entry in entries)


def container_kind(entries: Sequence[Any], top: bool, tensors: bool = False) -> ContainerKind:
    """The kind of container a layer list becomes (see :data:`ContainerKind`), decided from
    the spec's text so that every parameter value builds the same kind. A model with learned
    tensors of its own (``tensors``) is a class, whose forward applies them."""
    if top and tensors:
        return "class"
    if not has_names(entries):
        return "sequential"
    return "class" if top else "module"


@dataclass(frozen=True, slots=True)
class Path:
    """Layers applied to tensor ``src``, giving tensor ``dst``.

    With ``module`` ``None`` the layers are the block's own children (their names are the
    block's attributes); otherwise they form one child module of that name (a branch, the
    shortcut's projection). Where a condition of ``when`` is false, the path does not exist
    (no module) and ``dst`` is ``src``.
    """

    role: Role
    src: str
    dst: str
    entries: Sequence[Any]
    module: str | None = None
    var: str | None = None
    """A name for the path's result in generated code (an inline path's first layer)."""
    value: Any = None
    """The spec's value for a ``module`` path (a layer or a list of layers)."""
    when: tuple[tuple[str, m.Expression], ...] = ()
    """Conditions, each with the key it is written under (for messages)."""
    anchor: m.Node | None = None
    key: str = "body"
    """Where the path is written: ``anchor.key_span(key)``."""


@dataclass(frozen=True, slots=True)
class Join:
    """``dst = merge(inputs…)``; where a condition of ``when`` is false, ``dst`` is
    ``otherwise``."""

    merge: str
    """A name in :data:`~netspec.ops.merge.MERGES`."""
    inputs: tuple[str, ...]
    labels: tuple[str, ...]
    """What each input is, for messages (``body``, ``shortcut``, a branch's name)."""
    dst: str
    otherwise: str
    when: tuple[tuple[str, m.Expression], ...] = ()
    key: str = "shortcut"
    """The block key an error in the merge is reported at."""
    hint: str | None = None
    """What to do when the shapes do not merge (``None``: the merge's own hint)."""


@dataclass(frozen=True, slots=True)
class Split:
    """``dsts = src.chunk(len(dsts), 1)``: the channels split into equal parts; where a
    condition of ``when`` is false, every part is ``src`` itself."""

    src: str
    dsts: tuple[str, ...]
    labels: tuple[str, ...]
    """The paths reading each part, for messages."""
    when: tuple[tuple[str, m.Expression], ...]
    anchor: m.Node
    key: str = "split"


Step = Path | Join | Split


@dataclass(frozen=True, slots=True)
class Lowered:
    """A block as a dataflow program: its steps in order and the tensor it returns."""

    kind: Literal["sequential", "class"]
    """``sequential``: a plain list of unnamed layers (an ``nn.Sequential``, children ``0, 1,
    2…``); ``class``: a module class with a ``forward``."""
    steps: tuple[Step, ...]
    output: str
    reads: frozenset[str] = frozenset()
    """The names its ``from:`` entries read (:func:`read_names` of its body and ``then``)."""


def stage_arguments(block: m.BlockDef, values: dict[str, Any], index: int) -> dict[str, Any]:
    """The arguments ``stage(Block, depth=n, **values)`` gives its block number ``index``: all
    of them to the first, those not in ``first_only`` to the rest."""
    if index == 0:
        return values
    return {k: v for k, v in values.items() if k not in block.first_only}


def block_kind(block: m.BlockDef) -> Literal["sequential", "class"]:
    """A block is an ``nn.Sequential`` exactly when it is an unnamed list of layers with no
    paths to join and no tensors of its own; decided from the spec's text, so every parameter
    value builds the same kind of container."""
    joined = block.branches is not None or block.shortcut is not None
    if joined or block.residual is not None or has_names(block.body) or has_names(block.then):
        return "class"
    if has_parallel(block.body) or has_parallel(block.then) or block.tensors:
        return "class"
    return "sequential"


def lower_block(block: m.BlockDef) -> Lowered:
    """The dataflow program of ``block`` (see the module docstring)."""
    kind = block_kind(block)
    steps: list[Step] = []
    if block.branches is not None:
        items = branch_items(block)
        names = tuple(name for name, _ in items)
        paths: list[tuple[Sequence[Any], str | None, Any]] = []
        for name, value in items:
            entries = value if isinstance(value, list) else [value]
            paths.append((entries, name, value))
        merge = block.merge or "concat"
        numbered = numbered_branches(block)
        _lower_paths(steps, IN, OUT, paths, names, merge, block.split, block, "branches", numbered)
        current = OUT
    elif block.shortcut is not None or block.residual is not None:
        residual = (("residual", block.residual),) if block.residual is not None else ()
        _lower_inline(steps, "body", IN, OUT, block.body, block, "body")
        identity = IN
        sc = block.shortcut
        if sc is not None and sc.project is not None:
            when = residual + ((("shortcut.when", sc.when),) if sc.when is not None else ())
            project = sc.project
            steps.append(
                Path("shortcut", IN, IDENTITY, project, sc.name, None, project, when, sc, "project")
            )
            identity = IDENTITY
        merge = block.merge or "add"
        key, side = ("shortcut", "shortcut") if sc is not None else ("residual", "input")
        # a dense connection keeps the input's channels first, as torch.cat([x, f(x)], 1)
        pair = ((identity, OUT), (side, "body"))
        if merge != "concat":
            pair = ((OUT, identity), ("body", side))
        hint = None
        if merge == "add":
            hint = (
                "project the shortcut (shortcut: {when: …, project: [conv2d(…, 1), "
                "batchnorm2d]}) or fix the body"
            )
        steps.append(Join(merge, pair[0], pair[1], OUT, OUT, residual, key, hint))
        current = OUT
    else:
        current = _lower_inline(steps, "body", IN, IN, block.body, block, "body")
    if block.then:
        current = _lower_inline(steps, "then", current, current, block.then, block, "then")
    reads = frozenset(read_names(block.body) | read_names(block.then))
    return Lowered(kind, tuple(steps), current, reads)


def _lower_inline(
    steps: list[Step],
    role: Role,
    src: str,
    dst: str,
    entries: Sequence[Any],
    anchor: m.Node,
    key: str,
) -> str:
    """Lower a layer list of the block's own children from ``src``; its ``parallel`` entries
    become paths and a merge. Returns the tensor holding the result (``dst``, or ``src`` for a
    list that ends where it starts)."""
    if not has_parallel(entries):
        steps.append(Path(role, src, dst, entries, anchor=anchor, key=key))
        return dst
    current = src
    run: list[Any] = []

    def flush(into: str) -> None:
        nonlocal current
        if run:
            steps.append(Path(role, current, into, list(run), anchor=anchor, key=key))
            current = into
            run.clear()

    for entry in entries:
        if not isinstance(entry, m.ParallelEntry):
            run.append(entry)
            continue
        flush(dst)
        into = dst if current != dst else f"parallel {len(steps)}"
        paths = [(path, None, None) for path in entry.parallel]
        labels = tuple(_path_label(path, i) for i, path in enumerate(entry.parallel))
        merge = entry.merge or "concat"
        _lower_paths(steps, current, into, paths, labels, merge, entry.split, entry, "parallel")
        current = into
    flush(dst)
    if current != dst:  # the list ends with a parallel entry
        last = steps[-1]
        assert isinstance(last, Join)
        steps[-1] = Join(
            last.merge, last.inputs, last.labels, dst, dst, last.when, last.key, last.hint
        )
        current = dst
    return current


def _lower_paths(
    steps: list[Step],
    src: str,
    dst: str,
    paths: Sequence[tuple[Sequence[Any], str | None, Any]],
    labels: tuple[str, ...],
    merge: str,
    split: m.Expression | None,
    anchor: m.Node,
    key: str,
    numbered: bool = False,
) -> None:
    """Paths over ``src`` side by side (each a child module, or the block's own layers where
    its name is ``None``), optionally reading equal parts of its channels, joined into
    ``dst``. A numbered child path always exists (a module missing from a list would renumber
    the others): a condition over its layers stays inside it."""
    base = len(steps)
    sources = [src] * len(paths)
    if split is not None:
        sources = [f"part {base}.{i}" for i in range(len(paths))]
        steps.append(Split(src, tuple(sources), labels, (("split", split),), anchor))
    tensors: list[str] = []
    for i, ((entries, module, value), source) in enumerate(zip(paths, sources, strict=True)):
        tensor = f"path {base}.{i}"  # never one of the block's named tensors
        when: tuple[tuple[str, m.Expression], ...] = ()
        if module is not None:
            if not numbered:
                entries, when = _guarded(entries, f"branches.{module}")
            value = value if not when else list(entries)
            steps.append(
                Path("branch", source, tensor, entries, module, None, value, when, anchor, key)
            )
            tensors.append(tensor)
            continue
        start = len(steps)
        _lower_inline(steps, "branch", source, tensor, entries, anchor, key)
        first = _first_name(entries)
        if first:  # the path's result is named after its first layer in generated code
            steps[start:] = [
                _named_var(step, first) if getattr(step, "dst", None) == tensor else step
                for step in steps[start:]
            ]
        tensors.append(tensor)
    steps.append(Join(merge, tuple(tensors), labels, dst, dst, key=key))


def _guarded(
    entries: Sequence[Any], key: str
) -> tuple[Sequence[Any], tuple[tuple[str, m.Expression], ...]]:
    """A child-module path whose layers are all under one condition exists only where the
    condition holds: no module, no call, its input passed on (ShuffleNetV2's ``branch1``)."""
    if len(entries) == 1 and isinstance(entries[0], m.IfEntry) and not entries[0].else_:
        return entries[0].then, ((f"{key} if", entries[0].if_),)
    return entries, ()


def _named_var(step: Step, name: str) -> Step:
    if not isinstance(step, Path):
        return step
    return Path(
        step.role, step.src, step.dst, step.entries, step.module, name, step.value,
        step.when, step.anchor, step.key,
    )  # fmt: skip


def _first_name(entries: Sequence[Any]) -> str | None:
    for entry in entries:
        if isinstance(entry, m.NamedEntry) and not entry.name.is_template:
            return entry.name.text
    return None


def _path_label(entries: Sequence[Any], index: int) -> str:
    first = _first_name(entries)
    return f"path {index + 1} ({first})" if first else f"path {index + 1}"


# -- dataflow: `from:` ------------------------------------------------------------------------
#
# A named entry that stands directly in a class's layer list (the model's layers, a block's
# body and `then`), or in a branch of a condition there, may read an earlier tensor instead of
# the previous layer's output: `from: name` reads the output of the layer so named (or `input`,
# the list's input); `from: [a, b, …]` makes the entry a merge of those tensors (a name of
# :data:`~netspec.ops.merge.MERGES`). The names a list's `from:`s read are decided from the
# text, so the analysis and the generated `forward` (which keeps each such tensor in a variable
# of its name) read the same tensors for every parameter value. A name is visible from the entry
# after it to the end of its list, and inside the branches of the conditions that follow it in
# that list (whenever a branch runs, the layers before its condition have run); a name given in
# a branch is visible to the end of that branch only. Inside a loop or a nested list nothing
# is read. `from:
# name.k` reads the output of child k of the sequence so named (a backbone's stage, as
# torchvision's IntermediateLayerGetter returns it).


def read_names(entries: Sequence[Any]) -> set[str]:
    """The names the ``from:`` entries of a class's layer list read (``input`` included),
    through the branches of its conditions."""
    out: set[str] = set()
    for entry in entries:
        if isinstance(entry, m.NamedEntry) and entry.sources is not None:
            out.update(entry.sources.names)
        elif isinstance(entry, m.IfEntry):
            out |= read_names(entry.then) | read_names(entry.else_)
    return out


def _readable(entries: Sequence[Any], out: dict[str, m.NamedEntry]) -> None:
    """The entries whose names a ``from:`` may read somewhere (see above), by name."""
    for entry in entries:
        if isinstance(entry, m.NamedEntry) and not entry.name.is_template:
            out.setdefault(entry.name.text, entry)
        elif isinstance(entry, m.IfEntry):
            _readable(entry.then, out)
            _readable(entry.else_, out)


def check_sources(lists: Sequence[Sequence[Any]], where: str, inputs: Sequence[str] = ()) -> None:
    """Refuse a ``from:`` that reads what it may not (see above): ``lists`` are the layer
    lists of one class in order (a block's body, then its ``then``), whose names follow each
    other; every other list reached from them (loops, nested lists, branches) holds no
    ``from:``, and the branches of their conditions follow the rule of their own. ``inputs``
    are a block's named inputs, readable everywhere."""
    direct: dict[str, m.NamedEntry] = {}
    for entries in lists:
        _readable(entries, direct)
    nested, made = _nested_names(lists)
    for name in inputs:
        if name in direct:
            raise SpecError(
                f"{name!r} names one of the block's inputs and one of its layers",
                direct[name].span,
                where,
                hint="rename the layer",
            )
    ended: set[str] = set()
    seen: set[str] = set(inputs)
    for entries in lists:
        _check_list(entries, seen, ended, direct, nested, made, where)


def _check_list(
    entries: Sequence[Any],
    seen: set[str],
    ended: set[str],
    direct: dict[str, m.NamedEntry],
    nested: dict[str, str],
    made: list[str],
    where: str,
) -> None:
    """Check one list of readable entries; ``seen`` gains the names it gives, ``ended`` the
    names its conditions' branches gave (read after the condition: an error)."""
    for entry in entries:
        if isinstance(entry, m.NamedEntry):
            if entry.sources is not None:
                _check_reads(entry, seen, direct, nested, made, ended, where)
            refuse_sources(entry.value, where)
            if not entry.name.is_template:
                seen.add(entry.name.text)
        elif isinstance(entry, m.IfEntry):
            for branch in (entry.then, entry.else_):
                inner = set(seen)
                _check_list(branch, inner, ended, direct, nested, made, where)
                for name in inner - seen:  # neither after the condition nor in the other branch
                    ended.add(name)
        else:
            refuse_sources(entry, where)


def _check_reads(
    entry: m.NamedEntry,
    seen: set[str],
    direct: dict[str, m.NamedEntry],
    nested: dict[str, str],
    made: list[str],
    ended: set[str],
    where: str,
) -> None:
    sources = entry.sources
    assert sources is not None
    own = entry.name.text
    at = f"{where}.{own}" if where != "layers" else own
    for read, span in zip(sources.names, sources.spans, strict=True):
        name, dot, _ = read.partition(".")
        if dot:  # a child of a sequence: its output is read from the sequence's
            base = direct.get(name) if name in seen else None
            _check_tap(read, base, name in seen and name not in direct, span, at)
        if name == INPUT:
            if INPUT in direct or INPUT in nested:
                raise SpecError(
                    "`from: input` reads the input of the list, but a layer here is also "
                    "named 'input'",
                    span,
                    at,
                    hint="rename the layer called 'input'",
                )
            continue
        if name in seen:
            continue
        if name == own:
            raise SpecError(
                f"{own!r} reads its own output (`from: {name}`): a cycle",
                span,
                at,
                hint="read a layer before this one, or `input`",
            )
        if name in ended:
            raise SpecError(
                f"{own!r} reads {name!r}, which is inside a condition before it: a layer "
                "given in a branch is read only later in that branch",
                span,
                at,
                hint=f"move {name!r} out of the condition, or read it inside the branch",
            )
        later = direct.get(name)
        if later is not None:
            line = f" (line {later.span.line})" if later.span is not None else ""
            raise SpecError(
                f"{own!r} reads {name!r}, which comes after it{line}: a tensor does not exist "
                "before its layer runs",
                span,
                at,
                hint=f"read a layer written before this one, or move this entry after {name!r}",
            )
        templated = any(re.fullmatch(pattern, name) for pattern in made)
        if templated and did_you_mean(name, [*seen, INPUT]) is None:  # not a typo
            raise SpecError(
                f"{own!r} reads {name!r}, a name a template makes (in a loop): `from:` reads "
                "the names written as they are",
                span,
                at,
                hint="put the loop in a named list (`stages:`) and read its child by position "
                "(`from: stages.0`)",
            )
        if name in nested:
            raise SpecError(
                f"{own!r} reads {name!r}, which is inside {nested[name]}: only layers written "
                "directly in this list (or earlier in the same branch) can be read",
                span,
                at,
                hint=f"move {name!r} out of {nested[name]}, or read the layer that holds it",
            )
        raise SpecError(
            f"{own!r} reads {name!r}, but no layer before it has that name",
            span,
            at,
            hint=choices_hint(name, [*seen, INPUT], "tensors it can read"),
        )


def _check_tap(
    read: str, base: m.NamedEntry | None, given: bool, span: Span | None, at: str
) -> None:
    """``from: backbone.4`` reads a child of a sequence written earlier in the list."""
    name = read.partition(".")[0]
    if name == INPUT or given:
        raise SpecError(
            f"`from: {read}` reads a child of the input"
            f"{'' if name == INPUT else f' {name!r}'}, which has none",
            span,
            at,
            hint="read `input`, or a child of a sequence (`backbone.4`)",
        )
    if base is not None and not isinstance(base.value, list):
        raise SpecError(
            f"`from: {read}` reads a child of {name!r}, which is one layer, not a sequence",
            span,
            at,
            hint=f"read {name!r} itself",
        )


REPEAT_COUNT = "repeat expects a count ≥ 0"
"""How check refuses a repeat's count, and the generated class a count its params give
(each followed by ``, found …``)."""

STAGE_DEPTH = "a stage's depth must be ≥ 1"
"""How check refuses a stage's depth below 1, and the generated class a depth its params
give."""


def count_refusal(message: str, value: Any) -> str:
    """Check's refusal of a count (``REPEAT_COUNT``, ``STAGE_DEPTH``): an integer below the
    least in the generated class's words, a value of another kind with its kind."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{message}, found {show(value)}"
    return f"{message}, found {show(value)} ({type_name(value)})"


def missing_child(name: str, k: int | str) -> str:
    """What ``from: name.k`` is told where sequence ``name`` has no child ``k`` (check, and the
    generated class, follow it with the count)."""
    return f"`from: {name}.{k}` reads child {k} of {name!r}, which has"


def taps(reads: frozenset[str] | set[str], name: str) -> list[int]:
    """The children of sequence ``name`` whose outputs ``from:``s read (``name.4``), in order."""
    prefix = f"{name}."
    return sorted(int(r[len(prefix) :]) for r in reads if r.startswith(prefix))


def _nested_names(lists: Sequence[Sequence[Any]]) -> tuple[dict[str, str], list[str]]:
    """Names given below the readable entries of ``lists`` (in loops, nested lists and
    parallel paths), and what they are inside (for messages); and the patterns of the names
    the templates of their loops make (``stage{i}``)."""
    out: dict[str, str] = {}
    made: list[str] = []
    for entries in lists:
        _visit_nested(list(entries), "", out, made)
    return out, made


def _visit_nested(entries: Any, inside: str, out: dict[str, str], made: list[str]) -> None:
    """:func:`_nested_names` of ``entries``, ``inside`` what (``""``: readable). (A function of
    the module, not one inside the other calling itself: such a closure is a reference cycle,
    left to the cyclic collector.)"""
    for entry in entries if isinstance(entries, list) else [entries]:
        if isinstance(entry, m.NamedEntry):
            if inside and not entry.name.is_template:
                out.setdefault(entry.name.text, inside)
            elif inside == "a loop":
                made.append(entry.name.pattern(lambda _: "[A-Za-z0-9_]+"))
            if not isinstance(entry.value, m.LayerRef | m.MappingCall):
                within = inside or f"the sequence {entry.name.text!r}"
                _visit_nested(entry.value, within, out, made)
        elif isinstance(entry, m.ForEntry | m.RepeatEntry):
            _visit_nested(entry.do, inside or "a loop", out, made)
        elif isinstance(entry, m.IfEntry):
            _visit_nested(entry.then, inside, out, made)
            _visit_nested(entry.else_, inside, out, made)
        elif isinstance(entry, m.ParallelEntry):
            for path in entry.parallel:
                _visit_nested(path, inside or "a parallel path", out, made)


def refuse_sources(entries: Any, where: str) -> None:
    """No ``from:`` below the readable entries of a class's list (see above)."""
    for entry in entries if isinstance(entries, list) else [entries]:
        if isinstance(entry, m.NamedEntry):
            if entry.sources is not None:
                raise SpecError(
                    "`from:` stands directly in the model's layers or a block's body or "
                    "`then` (or in a branch of a condition there), not inside a loop, a nested "
                    "list or a parallel path",
                    entry.sources.span or entry.span,
                    where,
                    hint="move the entry to the top of the list, or make the layers a block "
                    "whose body reads its own tensors",
                )
            refuse_sources(entry.value, where)
        elif isinstance(entry, m.ForEntry | m.RepeatEntry):
            refuse_sources(entry.do, where)
        elif isinstance(entry, m.IfEntry):
            refuse_sources(entry.then, where)
            refuse_sources(entry.else_, where)
        elif isinstance(entry, m.ParallelEntry):
            for path in entry.parallel:
                refuse_sources(path, where)


def inputs_block(value: Any, blocks: Mapping[str, m.BlockDef]) -> str | None:
    """The block of several inputs an entry's value calls (``LRASPPHead(128)``), if it is
    one: a ``from: [a, b]`` entry then passes it those tensors instead of merging them."""
    if not isinstance(value, m.LayerRef):
        return None
    call = n.strip(value.expr)
    func = call.func if isinstance(call, n.Call) else call
    if isinstance(func, n.Name) and func.id in blocks and blocks[func.id].inputs:
        return func.id
    return None


def merge_call(ref: m.LayerRef, sources: m.Sources, where: str) -> tuple[Merge, dict[str, Any]]:
    """The merge a ``from: [a, b, …]`` entry names (``concat``, ``resize(mode='bilinear')``)
    and its options (literal values, so every parameter value merges alike); a merge of a
    fixed number of tensors (``crop``, ``resize``) is given that many."""
    located = ref.expr
    call = n.strip(located)
    func = call.func if isinstance(call, n.Call) else call
    span = located.origin.span_at(call.start, call.end) if call.start is not None else ref.span
    name = func.id if isinstance(func, n.Name) else None
    merge = MERGES.get(name) if name is not None else None
    if merge is None:
        raise SpecError(
            f"an entry with `from: [...]` is a merge of those tensors, found "
            f"{located.origin.text.strip()!r}",
            span or ref.span,
            where,
            hint=choices_hint(name or "", MERGES, "merges"),
        )
    options: dict[str, Any] = {}
    if isinstance(call, n.Call):
        if call.args:
            raise SpecError(
                f"{merge.name} takes its tensors from `from:`; its other arguments are "
                "options, given by name",
                span,
                where,
                hint=f"e.g. {merge.name}({', '.join(f'{k}=…' for k in merge.options)})"
                if merge.options
                else f"write `{merge.name}` alone",
            )
        for key, _ in call.kwargs:
            if key not in merge.options:
                raise SpecError(
                    f"{merge.name} has no option {key!r}",
                    span,
                    where,
                    hint=choices_hint(key, merge.options, "options"),
                )
        for key, value in call.kwargs:
            if n.free_names(value) or not isinstance(value, n.Const):
                raise SpecError(
                    f"{merge.name}'s option {key!r} is a literal value, found "
                    f"{located.origin.text[value.start : value.end]!r}",
                    located.origin.span_at(value.start, value.end) or span,
                    where,
                    hint=f"e.g. {key}={MERGE_EXAMPLES.get(key, '…')}",
                )
            options[key] = value.value
    if merge.arity is not None and len(sources.names) != merge.arity:
        raise SpecError(
            f"{merge.name} takes {merge.arity} tensors, found {len(sources.names)} in `from:`",
            sources.span,
            where,
            hint=f"{merge.name}: {merge.doc}",
        )
    return merge, options


MERGE_EXAMPLES = {"mode": "'bilinear'", "align_corners": "false"}


# -- recursion --------------------------------------------------------------------------------
#
# A block may call itself, directly or through others (a U-Net level holding the next level),
# where the recursion can end: every cycle of calls passes through a call that stands under a
# condition reading the calling block's arguments or its input (`if: depth > 0`, or a choice
# `Level(c * 2, depth - 1) if depth > 0 else identity`). A cycle of calls none of which is so
# guarded is taken whenever its first block is, and never ends: it is refused from the text.
# How deep a guarded recursion may go is the expander's bound (MAX_BLOCK_DEPTH).


@dataclass(frozen=True, slots=True)
class BlockCall:
    """A call of a block (by name, or through ``stage``) written in another block."""

    callee: str
    span: Span | None
    where: str
    guarded: bool
    """Whether it stands under a condition on the caller's arguments or input."""


Visit = Callable[[n.Expr, Span | None, str, bool], None]
"""What :func:`_walk` calls for each layer call: the call (a choice's arms one by one), the
span of its entry, its layer path, and whether a condition reading ``guard``'s names chooses
it."""


def _walk(
    entries: Any,
    where: str,
    guarded: bool,
    guard: Callable[[n.Expr], bool],
    visit: Visit,
    numbered: bool = True,
) -> None:
    """Each layer call of ``entries`` (in loops, conditions, named sequences and parallel
    paths), and each arm of a choice (``a if c else b``); an unnamed layer's path is its
    index in a list (``numbered``) until a loop or a condition in it."""

    for index, entry in enumerate(entries if isinstance(entries, list) else [entries]):
        at = (f"{where}.{index}" if where else str(index)) if numbered else where
        if isinstance(entry, m.LayerRef):
            _visit_arms(entry.expr, entry.span, at, guarded, guard, visit)
        elif isinstance(entry, m.MappingCall) and entry.call is not None:
            _visit_arms(entry.call.expr, entry.call.span or entry.span, at, guarded, guard, visit)
        elif isinstance(entry, m.NamedEntry):
            at = f"{where}.{entry.name.text}" if where else entry.name.text
            value = entry.value
            if isinstance(value, m.LayerRef):
                if entry.sources is None or not entry.sources.merged:  # (a merge is no call)
                    _visit_arms(value.expr, entry.span, at, guarded, guard, visit)
            elif isinstance(value, m.MappingCall) and value.call is not None:
                _visit_arms(value.call.expr, entry.span, at, guarded, guard, visit)
            else:
                _walk(value, at, guarded, guard, visit)
        elif isinstance(entry, m.ForEntry | m.RepeatEntry):
            numbered = False
            _walk(entry.do, where, guarded, guard, visit, False)
        elif isinstance(entry, m.IfEntry):
            numbered = False
            inner = guarded or guard(entry.if_.expr)
            _walk(entry.then, where, inner, guard, visit, False)
            _walk(entry.else_, where, inner, guard, visit, False)
        elif isinstance(entry, m.ParallelEntry):
            numbered = False
            for path in entry.parallel:
                _walk(path, where, guarded, guard, visit, False)


def _visit_arms(
    node: n.Expr,
    span: Span | None,
    at: str,
    guarded: bool,
    guard: Callable[[n.Expr], bool],
    visit: Visit,
) -> None:
    """``visit`` a layer call of :func:`_walk`, or each arm of a choice (``a if c else b``).
    (A function of the module, not one inside :func:`_walk` calling itself: such a closure is
    a reference cycle, left to the cyclic collector at every walk.)"""
    inner = n.strip(node)
    if isinstance(inner, n.IfExp):
        chosen = guarded or guard(inner.test)
        located = node if isinstance(node, n.Located) else None
        for arm in (inner.body, inner.orelse):
            arm = n.Located(arm, located.origin) if located else arm
            _visit_arms(arm, span, at, chosen, guard, visit)
        return
    visit(node, span, at, guarded)


def _walk_block(
    name: str, block: m.BlockDef, guard: Callable[[n.Expr], bool], visit: Visit
) -> None:
    """:func:`_walk` over a block's layers (body, ``then``, branches, shortcut)."""
    where = f"blocks.{name}"
    _walk(list(block.body), where, False, guard, visit)
    _walk(list(block.then), where, False, guard, visit)
    for branch, value in branch_items(block):
        _walk(value, f"{where}.{branch}", False, guard, visit)
    if block.shortcut is not None and block.shortcut.project is not None:
        when = block.shortcut.when
        _walk(block.shortcut.project, where, when is not None and guard(when.expr), guard, visit)


def block_calls(name: str, block: m.BlockDef, blocks: dict[str, m.BlockDef]) -> list[BlockCall]:
    """The calls of blocks that ``block``'s layers make (body, ``then``, branches, shortcut)."""
    own = {p.name for p in block.params} | set(block.let) | {"in", "expansion"}
    out: list[BlockCall] = []

    def guard(expr: n.Expr) -> bool:
        return bool(n.value_names(expr) & own)

    def visit(node: n.Expr, span: Span | None, where: str, guarded: bool) -> None:
        node = n.strip(node)
        func = node.func if isinstance(node, n.Call) else node
        if not isinstance(func, n.Name):
            return
        callee = func.id
        if callee == "stage" and isinstance(node, n.Call) and node.args:
            first = n.strip(node.args[0])
            callee = first.id if isinstance(first, n.Name) else ""
        if callee in blocks:
            out.append(BlockCall(callee, span, where, guarded))

    _walk_block(name, block, guard, visit)
    return out


def check_callees(spec: m.SpecFile) -> None:
    """Refuse a layer call naming no operator, block or ``stage``, or giving its callee an
    argument it does not take, wherever it is written — in a branch or a choice's arm the
    values do not take too: a misspelling is an error of the text, whatever the values (check
    accepted what build and codegen refused, or the class built without the argument).

    Raises:
        SpecError: the first such call, at its name.
    """

    def visit(node: n.Expr, span: Span | None, where: str, guarded: bool) -> None:
        _check_call(node, span, where, spec.blocks)

    for name, block in spec.blocks.items():
        _walk_block(name, block, lambda _: False, visit)
    _walk(list(spec.layers or []), "", False, lambda _: False, visit)


def _check_call(
    node: n.Expr, span: Span | None, where: str, blocks: Mapping[str, m.BlockDef]
) -> None:
    """Refuse a layer call (an arm of a choice) naming no operator, block or ``stage``, or
    giving its callee an argument it does not take (:func:`~netspec.expand.calls.check_form`):
    what the text says of every value."""
    inner = n.strip(node)
    func = inner.func if isinstance(inner, n.Call) else inner
    if not isinstance(func, n.Name):
        return
    origin = node.origin if isinstance(node, n.Located) else n.Origin(func.id, span)
    at = where or "layers"
    if func.id == "stage":  # (a stage without its block is the expander's to say)
        first = inner.args[0] if isinstance(inner, n.Call) and inner.args else None
        callee = first.id if isinstance(first, n.Name) else ""
        block = blocks.get(callee)
        if block is not None:
            names = [p.name for p in block.params]
            check_form(callee, names, {*names, "depth"}, "parameter", inner, origin, at, 1)
        return
    block = blocks.get(func.id)
    if block is not None:
        names = [p.name for p in block.params]
        check_form(func.id, names, names, "parameter", inner, origin, at)
        return
    op = ops.get(func.id)
    if op is None:
        resolve(inner, origin, at, blocks)  # the error a call gets
        return
    fields = op.Attrs.model_fields
    check_form(op.name, op.positional(), fields, "attribute", inner, origin, at)


def check_value_names(spec: m.SpecFile) -> None:
    """Refuse a name no param, ``let``, tensor, loop, block parameter, block ``let`` or
    ``expansion`` of the spec gives, and ``in`` outside a block, wherever they are written —
    in a branch or an arm the values do not take too, as a misspelt layer is (check accepted
    what build and codegen refused, or wrote as Python that did not run). Which of the spec's
    names are visible where is the evaluator's to say; a name the spec never gives is a
    misspelling everywhere.

    Raises:
        SpecError: the first such name, at its position.
    """
    top = set(spec.params) | set(spec.let) | set(spec.tensors)
    own = {name: _block_names(block) for name, block in spec.blocks.items()}
    known = top | set(BUILTINS) | set().union(*own.values())
    codes: list[tuple[m.Code, str, bool]] = []
    for key in ("input", "params", "let", "tensors"):  # in the order a spec is written
        _collect(getattr(spec, key), key, False, codes, known, spec.blocks)
    for name, block in spec.blocks.items():
        _collect(block, f"blocks.{name}", True, codes, known, spec.blocks)
    _collect(spec.layers or [], "", False, codes, known, spec.blocks)
    for code, where, in_block in codes:
        for node, origin in _reads(code, known, in_block):
            if isinstance(node, n.InputRef):
                message = "`in` (the input shape) is only available inside a block"
                hint = "at the model's level the input is `input:`; name its sizes with params"
            else:
                message = f"undefined name {node.id!r}"
                hint = _misspelt(node.id, where, in_block, top, own, known)
            span = origin.span_at(node.start, node.end) if origin is not None else None
            raise SpecError(message, span or code.span, where, hint=hint)


def _block_names(block: m.BlockDef) -> set[str]:
    """The names a block gives its own code: parameters, ``let``, tensors, ``expansion``."""
    names = {p.name for p in block.params} | set(block.let) | set(block.tensors)
    return names | ({"expansion"} if block.expansion is not None else set())


def _misspelt(
    name: str,
    where: str,
    in_block: bool,
    top: set[str],
    own: dict[str, set[str]],
    known: set[str],
) -> str:
    """The hint for an undefined ``name`` written ``where``: the likeliest name visible there
    (the spec's, the loops', and inside a block its own), else the block a name like it
    belongs to."""
    block = where.split(".")[1] if in_block and where.startswith("blocks.") else ""
    loops = known - top - set(BUILTINS) - set().union(*own.values())
    mine = own.get(block, set())
    visible = top | loops | mine
    guess = did_you_mean(name, visible)
    if guess:
        return (
            f"{guess} (a name is refused wherever it is written, in a branch or an arm the "
            "values do not take too)"
        )
    for other, names in own.items():
        elsewhere = closest(name, names - visible)
        if elsewhere and other != block:
            here = f"block {block}" if block else "the model's layers"
            given = f" (its own: {', '.join(sorted(mine))})" if mine else ""
            return (
                f"'{elsewhere}' is a name of block {other}, which {here} cannot read{given}; "
                "a block reads its own names and the spec's params and let values"
            )
    return (
        "no param, let value, loop variable or block parameter has that name; strings need "
        "quotes, as in 'M'"
    )


_LEAVES = frozenset({str, int, float, bool, type(None)})
"""Values :func:`_collect` finds no code in."""


def _collect(
    obj: Any,
    where: str,
    in_block: bool,
    out: list[tuple[m.Code, str, bool]],
    known: set[str],
    blocks: Mapping[str, m.BlockDef],
    loop: bool = False,
) -> None:
    """Every piece of code in ``obj`` (``where`` it is: a layer's path, a key's, whether in a
    block), in order; the loop variables of its loops into ``known`` (``loop``: inside one,
    where an unnamed layer's path is no longer its index)."""
    kind = type(obj)
    if kind in _LEAVES:  # most of what a spec holds (a failing isinstance against a
        return  # pydantic model class goes through its metaclass: tested last)
    if isinstance(obj, m.Code):
        out.append((obj, where or "layers", in_block))
        return
    if isinstance(obj, m.NamedEntry):
        where = f"{where}.{obj.name.text}" if where else obj.name.text
        out.append((obj.name, where, in_block))
        value = obj.value
        if obj.sources is not None and obj.sources.merged and isinstance(value, m.LayerRef):
            if not inputs_block(value, blocks):  # a merge: its options are literals
                merge_call(value, obj.sources, where)
                return
            _check_call(value.expr, value.span, where, blocks)  # a block's call
    if isinstance(obj, m.ForEntry):
        known.update(obj.for_.names)
        loop = True
    elif isinstance(obj, m.RepeatEntry):
        known.update([obj.as_] if obj.as_ else [])
        loop = True
    if isinstance(obj, RootModel):
        _collect(obj.root, where, in_block, out, known, blocks, loop)
    elif isinstance(obj, m.BlockDef):
        for field in type(obj).model_fields:
            layers = field in ("body", "then", "branches", "shortcut")
            at = where if layers else f"{where}.{field}"
            _collect(getattr(obj, field), at, in_block, out, known, blocks, loop)
    elif isinstance(obj, BaseModel):
        for field in type(obj).model_fields:
            _collect(getattr(obj, field), where, in_block, out, known, blocks, loop)
    elif isinstance(obj, list | tuple):
        for index, item in enumerate(obj):  # an unnamed layer's path is its index, as _walk's
            numbered = isinstance(item, m.LayerRef | m.MappingCall) and not loop
            at = (f"{where}.{index}" if where else str(index)) if numbered else where
            _collect(item, at, in_block, out, known, blocks, loop)
    elif isinstance(obj, dict):
        keyed = where in ("let", "tensors", "params") or where.endswith((".let", ".tensors"))
        for key, item in obj.items():
            _collect(item, f"{where}.{key}" if keyed else where, in_block, out, known, blocks, loop)


def _reads(code: m.Code, known: set[str], in_block: bool) -> list[tuple[Any, n.Origin | None]]:
    """The names ``code`` reads as values that are not ``known``, and (outside a block) its
    ``in``s, each with the origin that positions it: a layer call's callee (an operator, a
    block, ``stage``'s block) is no value."""
    if isinstance(code, m.NameTemplate):
        roots: list[n.Expr] = [p for p in code.parts if not isinstance(p, str)]
    elif code.node is None:
        return []
    elif isinstance(code, m.LayerRef):
        roots = _call_values(code.node)
    else:
        roots = [code.node]
    # `in` is a word of its text (as in `for x in xs`, too) where it may be read
    inputs = not in_block and _IN_WORD.search(str(code.raw)) is not None
    found: list[tuple[Any, n.Origin | None]] = []
    for root in roots:
        unknown = n.value_names(root) - known
        if unknown or inputs:  # (the common case, every name known and no `in`: done)
            _find(root, None, unknown, in_block, found)
    return found


_IN_WORD = re.compile(r"\bin\b")


def _call_values(node: n.Expr) -> list[n.Expr]:
    """The value expressions of a layer call: its arguments (after ``stage``'s block), and a
    choice's test and each arm's."""
    located = node if isinstance(node, n.Located) else None
    inner = n.strip(node)

    def at(expr: n.Expr) -> n.Expr:
        return n.Located(expr, located.origin) if located is not None else expr

    if isinstance(inner, n.IfExp):
        return [at(inner.test), *_call_values(at(inner.body)), *_call_values(at(inner.orelse))]
    if isinstance(inner, n.Call):
        stage = isinstance(inner.func, n.Name) and inner.func.id == "stage"
        return [at(a) for a in inner.args[1 if stage else 0 :]] + [at(v) for _, v in inner.kwargs]
    return []


def _find(
    node: n.Expr,
    origin: n.Origin | None,
    names: set[str],
    in_block: bool,
    out: list[tuple[Any, n.Origin | None]],
) -> None:
    """The ``Name``s of ``names`` under ``node`` and, outside a block, its ``in``s, with the
    origins that position them."""
    if isinstance(node, n.Located):
        _find(node.node, node.origin, names, in_block, out)
        return
    if (isinstance(node, n.InputRef) and not in_block) or (
        isinstance(node, n.Name) and node.id in names
    ):
        out.append((node, origin))
        return
    for slot in getattr(node, "__slots__", ()):
        if slot == "func" and isinstance(node, n.Call):
            continue  # a called function's name is no value
        child = getattr(node, slot, None)
        if isinstance(child, n.Expr):
            _find(child, origin, names, in_block, out)
        elif isinstance(child, tuple):
            for c in child:
                if isinstance(c, n.Expr):
                    _find(c, origin, names, in_block, out)
                elif isinstance(c, tuple):  # keyword arguments: (name, value)
                    for v in c:
                        if isinstance(v, n.Expr):
                            _find(v, origin, names, in_block, out)


def check_recursion(blocks: dict[str, m.BlockDef]) -> None:
    """Refuse a cycle of block calls that no condition on the blocks' arguments can end (see
    above), at the first call of the cycle."""
    edges = {
        name: [c for c in block_calls(name, block, blocks) if not c.guarded]
        for name, block in blocks.items()
    }
    done: set[str] = set()
    for start in blocks:
        if start in done:
            continue
        # an iterative depth-first search along unguarded calls
        path: list[tuple[str, BlockCall | None]] = [(start, None)]
        on_path = {start}
        todo: list[list[BlockCall]] = [list(edges[start])]
        while todo:
            if not todo[-1]:
                todo.pop()
                name, _ = path.pop()
                on_path.discard(name)
                done.add(name)
                continue
            call = todo[-1].pop(0)
            if call.callee in on_path:
                index = next(i for i, (b, _) in enumerate(path) if b == call.callee)
                cycle = [b for b, _ in path[index:]] + [call.callee]
                first = path[index + 1][1] if index + 1 < len(path) else call
                assert first is not None
                chain = " → ".join(cycle)
                raise SpecError(
                    f"block {call.callee} calls itself with no condition that can end the "
                    f"recursion ({chain})",
                    first.span,
                    first.where,
                    hint="put the call under an `if:` on the block's arguments that becomes "
                    "false, e.g. `if: depth > 0` with `then: [inner: "
                    f"{call.callee}(depth - 1)]`",
                )
            if call.callee in done:
                continue
            path.append((call.callee, call))
            on_path.add(call.callee)
            todo.append(list(edges[call.callee]))


# -- names a list's layers need -------------------------------------------------------------
#
# Whether a layer must be named depends on the container its list becomes (ContainerKind),
# which is decided from the text; so is this rule, for every layer written, whether or not the
# values take it: a layer under a condition false at the defaults, or in a loop that runs no
# times, is held to it too, since the generated class builds it at other values.


def check_names(spec: m.SpecFile) -> None:
    """Refuse a layer written without a name where its list's container needs one: a block or
    a stage in a list that is not an ``nn.Sequential`` (its name is its module attribute and
    the prefix of its state_dict keys), and any layer in a nested list that names others.
    Checked on the merged spec (``extends`` brings blocks and layers together)."""
    layers = spec.layers or []
    _check_unnamed(
        layers, container_kind(layers, top=True, tensors=bool(spec.tensors)), spec.blocks, ""
    )
    for name, block in spec.blocks.items():
        lowered = lower_block(block)
        for step in lowered.steps:
            if not isinstance(step, Path):
                continue
            if step.module is None:
                _check_unnamed(step.entries, lowered.kind, spec.blocks, f"blocks.{name}")
            else:
                value = step.value
                _check_nested(value, spec.blocks, f"blocks.{name}.{step.module}")


def _check_nested(value: Any, blocks: Mapping[str, m.BlockDef], path: str) -> None:
    """A nested list (or a single layer standing for one) given as a named child."""
    if isinstance(value, list):
        _check_unnamed(value, container_kind(value, top=False), blocks, path)


def _check_unnamed(
    entries: Sequence[Any], kind: ContainerKind, blocks: Mapping[str, m.BlockDef], path: str
) -> None:
    for entry in entries:
        if isinstance(entry, m.NamedEntry):
            name = entry.name.text
            _check_nested(entry.value, blocks, f"{path}.{name}" if path else name)
        elif isinstance(entry, m.ForEntry | m.RepeatEntry):
            _check_unnamed(entry.do, kind, blocks, path)
        elif isinstance(entry, m.IfEntry):
            _check_unnamed(entry.then, kind, blocks, path)
            _check_unnamed(entry.else_, kind, blocks, path)
        elif isinstance(entry, m.ParallelEntry):
            for each in entry.parallel:
                _check_unnamed(each, kind, blocks, path)
        elif kind != "sequential":
            ref = entry.call if isinstance(entry, m.MappingCall) else entry
            if isinstance(ref, m.LayerRef):
                for call in _alternatives(ref.expr.node):
                    problem = unnamed_problem(call, kind, blocks, ref.expr.origin, path)
                    if problem is not None:
                        raise problem


def _alternatives(node: n.Expr) -> list[n.Expr]:
    """The calls a layer may be: both sides of each choice ``a if cond else b``."""
    if isinstance(node, n.IfExp):
        return [*_alternatives(node.body), *_alternatives(node.orelse)]
    return [node]


def unnamed_problem(
    call: n.Expr,
    kind: ContainerKind,
    blocks: Mapping[str, m.BlockDef],
    origin: n.Origin,
    path: str,
) -> SpecError | None:
    """The error of ``call`` written without a name in a list that becomes a ``kind``
    container at ``path`` (``None`` where it may be unnamed): an unnamed layer of an
    ``nn.Sequential`` is numbered, one of a class is a function call in its ``forward``."""
    func = call.func if isinstance(call, n.Call) else call
    if kind == "sequential" or not isinstance(func, n.Name):
        return None
    span = origin.span_at(func.start, func.end)
    if func.id == "stage" or func.id in blocks:
        return SpecError(
            f"this {'stage' if func.id == 'stage' else 'block'} needs a name (its module "
            "attribute and the prefix of its state_dict keys)",
            span,
            path or "layers",
            hint=f"e.g. `layer1: {origin.text.strip()}`",
        )
    op = ops.get(func.id)
    if kind == "module" and op is not None:
        return SpecError(
            f"this {op.name} has no name, but other layers in {path or 'this list'} have names",
            span,
            path or "layers",
            hint="in a nested list, name every layer or none (e.g. `relu1: relu`)",
        )
    return None
