"""Loading specs: text → positioned YAML → validated models → code bound to its position.

``load_spec`` is the entry point: it finds a spec (a path, or a bundled spec's name), reads it
and the specs it ``extends``, validates each against :mod:`netspec.spec.models`, parses every
expression and layer call with the grammar, and merges the chain into one :class:`SpecFile`.
Validation errors from pydantic are translated back to the line and column of the offending
key or value.
"""

from __future__ import annotations

import functools
import keyword
import os
import re
import types
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, ForwardRef, Union, get_args, get_origin

from pydantic import BaseModel, RootModel, ValidationError

from netspec.errors import (
    NetspecError,
    Source,
    SourceError,
    Span,
    SpecError,
    choices_hint,
    did_you_mean,
)
from netspec.expand.lower import (
    INPUT,
    block_layer_names,
    branch_items,
    check_callees,
    check_names,
    check_recursion,
    check_sources,
    check_value_names,
    layer_names,
    refuse_sources,
)
from netspec.expr import nodes as n
from netspec.expr.evaluate import show
from netspec.pause import collector_paused
from netspec.source import yaml as ysrc
from netspec.source.parser import parse_expr, parse_for_header, parse_param
from netspec.spec import models as m
from netspec.spec.names import (
    check_block_name,
    check_layer_name,
    check_value_name,
    class_name_problem,
)

MAX_EXTENDS = 16
"""Longest chain of ``extends``."""

FLOW_LIST_HINT = (
    'in a YAML flow list [a, b] every comma splits an item: quote the call ("conv2d(64, 3)") '
    "or write a block list with one `- item` per line"
)


def bundled_dir() -> Path:
    """The folder of the specs that ship with netspec."""
    return Path(str(resources.files("netspec").joinpath("zoo")))


FORMATS = (".yaml", ".ns")
"""Spec file extensions; the format of a file is its extension's (``.yml`` is YAML too)."""


def is_ns(path: Path | str) -> bool:
    return str(path).endswith(".ns")


def _has_suffix(name: str) -> bool:
    return name.endswith((*FORMATS, ".yml"))


def looks_like_ns(text: str) -> bool:
    """Whether spec text without a file name is ``.ns`` rather than YAML: its first statement
    is not a YAML key (``netspec 1``, not ``netspec: 1``)."""
    for line in text.splitlines():
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        if stripped.startswith(("-", "{", "[", "---", "%")):
            return False
        return re.match(r"^([\w\"'.]+)\s*:", stripped) is None
    return False


def bundled_names() -> list[str]:
    """Names of the bundled specs (``examples/…`` included), sorted; each ships as ``.yaml``
    and ``.ns``."""
    root = bundled_dir()
    out = set()
    for suffix in FORMATS:
        for path in root.rglob(f"*{suffix}"):
            rel = path.relative_to(root).with_suffix("")
            if not rel.name.startswith("_"):
                out.add(rel.as_posix())
    return sorted(out)


def resolve(ref: str, relative_to: Path | None = None, prefer: str = ".yaml") -> Path:
    """The file a spec reference names: a path (relative to ``relative_to`` if given), the same
    path with a spec extension (``prefer``'s first: ``extends: vgg`` in a ``.ns`` file means
    ``vgg.ns``), or a bundled spec's name (``vgg16``, ``examples/inception_block``).

    Raises:
        NetspecError: nothing by that name.
    """
    if not ref.strip():
        raise NetspecError(
            "the spec's name is empty",
            hint="give a spec file, or a bundled spec's name (`netspec list` lists them)",
        )
    suffixes = (prefer, *(s for s in FORMATS if s != prefer))
    candidates = []
    path = Path(ref)
    bases = [relative_to / path] if relative_to is not None and not path.is_absolute() else []
    bases.append(path)
    for base in bases:
        candidates.append(base)
        if base.name and base.suffix not in (*FORMATS, ".yml"):
            candidates += [base.with_name(base.name + s) for s in suffixes]
    for candidate in candidates:  # a file, or a pipe (`netspec check <(…)`, /dev/stdin)
        if _is(candidate, Path.exists) and not _is(candidate, Path.is_dir):
            return candidate
    if not path.is_absolute():
        names = [ref] if path.suffix in FORMATS else [ref + s for s in suffixes]
        for name in names:
            bundled = bundled_dir() / name
            if _is(bundled, Path.is_file):
                return bundled
    names = bundled_names()
    guess = did_you_mean(Path(ref).stem, names) if len(ref) <= 200 else None
    hint = (guess + " " if guess else "") + "bundled specs: " + ", ".join(names)
    shown = ref if len(ref) <= 80 else ref[:77] + "…"
    if _is(candidates[0], Path.is_dir):
        raise NetspecError(f"{shown} is a folder, not a spec file", hint=hint)
    raise NetspecError(f"no spec file {shown!r} and no bundled spec by that name", hint=hint)


def _is(path: Path, test: Any) -> bool:
    """``test(path)``, false where the system cannot tell (a name too long for it, …)."""
    try:
        return bool(test(path))
    except (OSError, ValueError):
        return False


def display_name(path: Path) -> str:
    """How errors name a file: relative to the working directory when under it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(path)
    return str(path) if rel.startswith("..") else rel


@dataclass
class Loaded:
    """A spec file as read: its model, its YAML tree and where it came from."""

    spec: m.SpecFile
    tree: ysrc.YNode
    path: Path | None


def read_text(text: str, name: str, path: Path | None = None) -> Loaded:
    """Validate and bind one spec text (no ``extends`` resolution).

    Raises:
        NetspecError: the text is not a valid spec.
    """
    if is_ns(path or name) or (path is None and not _has_suffix(name) and looks_like_ns(text)):
        from netspec.source import ns

        tree = ns.compose(text, name)
    else:
        tree = ysrc.compose(text, name)
    if not isinstance(tree, ysrc.YMap):
        raise SpecError(
            "a spec is a mapping of keys (netspec, name, input, layers, …), "
            f"found {_kind_of(tree)}",
            tree.span,
            "document",
        )
    early = _check_version(tree)
    try:
        spec = m.SpecFile.model_validate(ysrc.to_data(tree))
    except ValidationError as exc:
        raise _translate(exc, tree, early) from None
    if early is not None:
        raise early
    _Binder().bind(spec, tree)
    _check_file(spec, tree)
    spec._sources = [tree.span.source]
    return Loaded(spec, tree, path)


def read_file(path: Path) -> Loaded:
    """Read and validate one spec file (no ``extends`` resolution).

    At most :data:`~netspec.source.yaml.MAX_BYTES` are read: a larger file is refused before
    its content is (a file whose size the system does not report, a pipe or ``/proc``, is read
    up to the limit and one byte more).
    """
    name = display_name(path)
    return read_text(_read_bounded(path, name), name, path)


def _read_bounded(path: Path, name: str) -> str:
    """The text of ``path`` (named ``name`` in errors), read up to the limit."""
    document = Span(Source(name, ""), 1, 1)
    too_large = f"the file is larger than {ysrc.MAX_BYTES // (1024 * 1024)} MiB"
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > ysrc.MAX_BYTES:
                raise SourceError(too_large, document, "document")
            # the size the system reports and a byte more, then on up to the limit if there is
            # more (a file that grew, or one whose size is not reported): one read of the
            # limit would allocate its 4 MiB for every file
            data = handle.read(size + 1)
            if len(data) > size:
                data += handle.read(ysrc.MAX_BYTES + 1 - len(data))
    except OSError as exc:
        raise NetspecError(f"cannot read {name}: {exc.strerror or exc}") from None
    if len(data) > ysrc.MAX_BYTES:
        raise SourceError(too_large, document, "document")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"the file is not UTF-8 text (byte {exc.start})", document, "document"
        ) from None


@collector_paused
def load_spec(ref: str | Path) -> m.SpecFile:
    """Find, read and validate a spec and every spec it extends; return the merged spec.

    Raises:
        NetspecError: the spec or one of its bases is invalid, or the chain is cyclic.
    """
    path = ref if isinstance(ref, Path) else resolve(ref)
    return _load_complete(read_file(path))


@collector_paused
def load_text(text: str, name: str = "<spec>") -> m.SpecFile:
    """Like :func:`load_spec` for spec text (``extends`` resolves from the working directory)."""
    return _load_complete(read_text(text, name))


def _load_complete(loaded: Loaded) -> m.SpecFile:
    """The merged chain of ``loaded``, with the keys a model needs present after merging
    (each file may leave out what its base provides, or what a spec extending it adds)."""
    spec = _load_chain(loaded, [])
    _require(spec, loaded.tree, ("input", "layers"))
    _check_shadowing(spec)
    _check_model_tensors(spec)
    check_recursion(spec.blocks)  # on the merged spec: `extends` brings blocks together
    check_names(spec)
    check_callees(spec)
    check_value_names(spec)
    return spec


def _check_model_tensors(spec: m.SpecFile) -> None:
    """The model's own tensors are attributes of its class beside its layers, and names its
    layers read beside the params and ``let``: a tensor named like one of them is refused.
    Checked on the merged spec, since ``extends`` brings them together."""
    from netspec.expand.lower import layer_names

    taken = layer_names(spec.layers or [])
    for tensor in spec.tensors:
        what = next(
            (
                w
                for w, names in (
                    ("a layer", taken),
                    ("a parameter", spec.params),
                    ("a let value", spec.let),
                )
                if tensor in names
            ),
            None,
        )
        if what is not None:
            raise SpecError(
                f"the tensor {tensor!r} is named like {what} of the model",
                spec.key_span(f"tensors.{tensor}"),
                f"tensors.{tensor}",
                hint="a tensor is an attribute of the model and a name its layers read: give "
                "it a name of its own",
            )


def _check_shadowing(spec: m.SpecFile) -> None:
    """Refuse names that would hide a class in generated code: a block named like the model's
    class, and a value (a parameter, ``let`` name, block parameter or loop variable — a
    constructor argument or a local there) named like a block, whose class it would hide.
    Checked on the merged spec, since ``extends`` brings blocks and params together."""
    from netspec.expand.expander import class_name

    if not spec.blocks:
        return
    model = class_name(spec)
    if model in spec.blocks:
        raise SpecError(
            f"block {model} has the name of the model's class",
            spec.blocks[model].span,
            f"blocks.{model}",
            hint="set `class_name:` to another name, or rename the block",
        )
    for name, what, span, where in _value_names(spec):
        if name in spec.blocks:
            raise SpecError(
                f"{what} {name!r} has the name of block {name}, whose class it would hide in "
                "the generated code",
                span,
                where,
                hint="rename one of them (blocks are CamelCase by convention)",
            )


def _value_names(spec: m.SpecFile) -> Any:
    """Every value name a spec gives: the name, what it is, its span and where it is."""
    for name in spec.params:
        yield name, "parameter", spec.key_span(f"params.{name}"), f"params.{name}"
    for name in spec.let:
        yield name, "let name", spec.key_span(f"let.{name}"), f"let.{name}"
    stack: list[Any] = [spec.layers, *spec.blocks.items()]
    while stack:
        item = stack.pop()
        kind = type(item)  # (not isinstance: a slow path with a pydantic model's class)
        if kind is tuple and len(item) == 2 and type(item[1]) is m.BlockDef:
            block_name, block = item
            for param in block.params:
                span = param.span or block.span
                yield param.name, "block parameter", span, f"blocks.{block_name}"
            for name in block.let:
                span = block.key_span(f"let.{name}")
                yield name, "let name", span, f"blocks.{block_name}.let.{name}"
            item, kind = block, m.BlockDef
        if kind is m.ForEntry:
            for name in item.for_.names:
                yield name, "loop variable", item.for_.span or item.span, "for"
        elif kind is m.RepeatEntry and item.as_ is not None:
            yield item.as_, "loop variable", item.key_span("as"), "as"
        if kind is list or kind is tuple:
            stack.extend(item)
        elif kind is dict:
            stack.extend(item.values())
        elif not isinstance(item, m.Code | str | None) and isinstance(item, BaseModel):
            stack.extend(getattr(item, field) for field in kind.model_fields)


def _load_chain(loaded: Loaded, seen: list[Path]) -> m.SpecFile:
    spec = loaded.spec
    if spec.extends is None:
        return spec
    where = "extends"
    span = spec.key_span("extends")
    if len(seen) >= MAX_EXTENDS:
        raise SpecError(f"more than {MAX_EXTENDS} levels of extends", span, where)
    base_dir = loaded.path.parent if loaded.path is not None else Path.cwd()
    try:
        prefer = loaded.path.suffix if loaded.path is not None and is_ns(loaded.path) else ".yaml"
        base_path = resolve(spec.extends, base_dir, prefer)
    except NetspecError as exc:
        raise SpecError(exc.message, span, where, exc.hint) from None
    resolved = base_path.resolve()
    chain = [*seen, loaded.path.resolve()] if loaded.path is not None else seen
    if resolved in chain:
        cycle = " → ".join(p.name for p in [*chain, resolved])
        raise SpecError(f"extends forms a cycle: {cycle}", span, where)
    base = _load_chain(_read_base(base_path, span), chain)
    return _merge(base, spec, last=not seen)


def _read_base(path: Path, span: Span | None) -> Loaded:
    """Read a spec that ``extends`` names. It may be any spec file (``.yaml``, ``.yml``,
    ``.ns``) or a bundled name; anything else — a file of another kind, a file that is not a
    netspec spec — is refused at the ``extends`` line *without* showing its content: the
    errors of a base quote its lines, and a spec checked where it is not trusted must not be
    able to print ``/etc/passwd`` or ``/proc/self/environ`` that way."""
    name = display_name(path)
    hint = "extends names a spec: a .yaml or .ns file with a `netspec` key, or a bundled spec"
    if path.suffix not in (*FORMATS, ".yml"):
        raise SpecError(f"{name} is not a spec file (.yaml, .yml or .ns)", span, "extends", hint)
    text = _read_bounded(path, name)
    if not _declares_netspec(text, path):
        raise SpecError(f"{name} is not a netspec spec (no `netspec:` key)", span, "extends", hint)
    return read_text(text, name, path)


def _declares_netspec(text: str, path: Path) -> bool:
    """Whether a line of ``text`` starts with the ``netspec`` key (``netspec 1`` in ``.ns``)."""
    key = re.compile(r"netspec\s+\d" if is_ns(path) else r"netspec\s*:")
    return any(key.match(line) for line in text.splitlines())


def _merge(base: m.SpecFile, child: m.SpecFile, last: bool = False) -> m.SpecFile:
    """``child`` over ``base``; ``last``: nothing extends ``child`` (so nothing else can use
    a parameter it adds)."""
    update: dict[str, Any] = {}
    for field in child.model_fields_set:
        if field in ("params", "let", "blocks", "extends"):
            continue
        update[field] = getattr(child, field)
    params = dict(base.params)
    own_code = child.layers is not None or child.let or child.blocks
    for name, value in child.params.items():
        old = params.get(name)
        if name not in params and not own_code and last:
            # a variant that only sets params: a new one is used by nothing — a typo
            raise SpecError(
                f"{name!r} is not a parameter of the spec this one extends",
                child.key_span(f"params.{name}"),
                f"params.{name}",
                hint=choices_hint(name, base.params, "parameters"),
            )
        if isinstance(old, m.ParamDecl):
            # a declaration's keys merge too: a variant that sets the default, or its doc,
            # keeps the base's choices and require
            given = (
                {k: getattr(value, k) for k in value.model_fields_set}
                if isinstance(value, m.ParamDecl)
                else {"default": value}
            )
            decl = old.model_copy(update=given)
            decl._span = child.key_span(f"params.{name}") or old.span
            if isinstance(value, m.ParamDecl):
                decl._key_spans = {**old._key_spans, **value._key_spans}
            value = decl
        params[name] = value
    update["params"] = params
    update["let"] = {**base.let, **child.let}
    update["blocks"] = {**base.blocks, **child.blocks}
    update["extends"] = None
    merged = base.model_copy(update=update)
    merged._span = child.span
    merged._key_spans = {**base._key_spans, **child._key_spans}
    merged._sources = [*child._sources, *base._sources]
    return merged


def _require(spec: m.SpecFile, tree: ysrc.YNode, keys: tuple[str, ...]) -> None:
    for key in keys:
        if getattr(spec, key) is None:
            example = {"input": "input: [3, 224, 224]", "layers": "layers: [...]"}[key]
            raise SpecError(
                f"missing key {key!r}",
                tree.span,
                "document",
                hint=f"add `{example}`, or `extends:` a spec that has it",
            )


def _check_file(spec: m.SpecFile, tree: ysrc.YNode) -> None:
    if spec.class_name is not None:
        problem = class_name_problem(spec.class_name)
        if problem:
            raise SpecError(
                f"class_name {spec.class_name!r} {problem}",
                spec.key_span("class_name"),
                "class_name",
                hint="choose another name, e.g. MyNet",
            )
    check_parallel(spec.layers, False, "layers")
    if spec.layers:
        check_sources([spec.layers], "layers")
    for key in ("netspec", "name"):
        if getattr(spec, key) is None:
            colon = "" if tree.span.source.ns else ":"  # as the file's format writes it
            hint = {
                "netspec": f"start the file with `netspec{colon} 1` (the language version)",
                "name": f"add `name{colon} my_model` (a Python identifier)",
            }[key]
            raise SpecError(f"missing key {key!r}", Span(tree.span.source, 1, 1), "document", hint)


def check_parallel(entries: Any, allowed: bool, where: str) -> None:
    """``parallel`` paths are the children of a block: they are written at the top of a
    block's layers (its body, ``then``, or a path of another ``parallel``), where lowering
    turns them into paths and a merge, and nowhere else."""
    for entry in entries if isinstance(entries, list) else [entries]:
        kind = type(entry)  # (not isinstance: a slow path with a pydantic model's class)
        if kind is m.ParallelEntry:
            if not allowed:
                raise SpecError(
                    "parallel paths are written directly in a block's layers (its body, "
                    "`then`, or a path of another `parallel`), not here",
                    entry.span,
                    where,
                    hint="define a block whose body holds the `parallel` entry and call it "
                    "here; for paths that are modules of their own, use the block's "
                    "`branches:`",
                )
            if not entry.parallel:
                raise SpecError(
                    "`parallel` needs at least one path",
                    entry.key_span("parallel"),
                    where,
                    hint="write each path as a list: parallel: [[a: conv2d(8, 1)], [b: relu]]",
                )
            for path in entry.parallel:
                check_parallel(path, True, where)
        elif kind is m.ForEntry or kind is m.RepeatEntry:
            check_parallel(entry.do, False, where)
        elif kind is m.IfEntry:
            check_parallel(entry.then, False, where)
            check_parallel(entry.else_, False, where)
        elif kind is m.NamedEntry and not isinstance(entry.value, m.LayerRef | m.MappingCall):
            if allowed and entry.name.text == "parallel" and isinstance(entry.value, list):
                # paths written without their own lists read as one sequence named `parallel`
                raise SpecError(
                    "each path of `parallel` is a list of layers, found layers: this reads as "
                    "one sequence of layers named 'parallel'",
                    entry.span,
                    where,
                    hint="write each path as a list (`- - a: conv2d(8, 1)`, then `- - b: relu`), "
                    "or give the sequence another name",
                )
            check_parallel(entry.value, False, where)


def _check_version(tree: ysrc.YMap) -> SpecError | None:
    """``netspec: true``, which the models' ``Literal[1]`` would take for 1."""
    node = tree.get("netspec")
    if isinstance(node, ysrc.YScalar) and isinstance(node.value, bool):
        return _version_error(node)
    return None


def _version_error(node: ysrc.YNode) -> SpecError:
    found = show(node.value) if isinstance(node, ysrc.YScalar) else _kind_of(node)
    return SpecError(
        f"unsupported language version {found}",
        node.span,
        "netspec",
        hint="this netspec reads `netspec: 1`",
    )


def _kind_of(node: ysrc.YNode) -> str:
    if isinstance(node, ysrc.YSeq):
        return "a list"
    if isinstance(node, ysrc.YMap):
        return "a mapping"
    if isinstance(node, ysrc.YScalar):
        if not isinstance(node.value, str):
            return show(node.value)
        text = node.value if len(node.value) <= 60 else node.value[:57] + "…"
        return f"the text {text!r}"
    return "something else"  # pragma: no cover


# ---------------------------------------------------------------------------------------------
# pydantic errors → positioned messages

_TYPE_WORDS = {
    "string_type": "text",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
}

_VALUE_TAGS = frozenset({"int", "float", "bool", "str", "list[any]"})
"""The members of a parameter value's union, as pydantic names them in an error's path."""

_PARAM_VALUE = "a parameter value (an integer, a number, true or false, text or a list)"

_CONTROL_KEYS = ("for", "repeat", "if", "then", "else", "do")


def _translate(exc: ValidationError, tree: ysrc.YNode, early: SpecError | None = None) -> SpecError:
    """The earliest of the validation errors (and of ``early``), as a positioned message."""
    errors = _merge_param_unions(exc.errors(include_url=False), tree)
    # A misspelt key shows up twice: as unknown and as the missing key it was meant to be.
    misspelt = {tuple(e["loc"][:-1]) for e in errors if e["type"] == "extra_forbidden"}
    errors = [
        e for e in errors if not (e["type"] == "missing" and tuple(e["loc"][:-1]) in misspelt)
    ]
    candidates = [_one(err, tree) for err in errors]
    if early is not None:
        candidates.append(early)
    best: tuple[tuple[int, int], SpecError] | None = None
    for error in candidates:
        span = error.span
        key = (span.line, span.col) if span else (0, 0)
        if best is None or key < best[0]:
            best = (key, error)
    assert best is not None
    return best[1]


def _merge_param_unions(errors: list[Any], tree: ysrc.YNode) -> list[Any]:
    """Parameter errors, with pydantic's one error per member of a union made into one.

    A parameter is a value (integer, number, true/false, text, list) or a declaration (a
    mapping with ``default``). A mapping is meant as a declaration, so only the declaration's
    own errors count; any other value that fails fits none of the members, and neither does a
    declaration's ``default`` or choice that fails: one ``param_value`` error says so.
    """
    params = tree.get("params") if isinstance(tree, ysrc.YMap) else None
    out: list[Any] = []
    merged: set[tuple[Any, ...]] = set()
    for err in errors:
        loc = tuple(err["loc"])
        cut: int | None = None
        if len(loc) >= 3 and loc[0] == "params" and loc[2] in (*_VALUE_TAGS, "ParamDecl"):
            value = params.get(loc[1]) if isinstance(params, ysrc.YMap) else None
            if not isinstance(value, ysrc.YMap):
                cut = 2
            elif loc[2] != "ParamDecl":
                continue
            elif len(loc) >= 5 and loc[3] == "default" and loc[4] in _VALUE_TAGS:
                cut = 4
            elif len(loc) >= 6 and loc[3] == "choices" and loc[5] in _VALUE_TAGS:
                cut = 5
        if cut is None:
            out.append(err)
        elif loc[:cut] not in merged:
            merged.add(loc[:cut])
            out.append({"type": "param_value", "loc": loc[:cut], "input": err.get("input")})
    return out


def _one(err: Any, tree: ysrc.YNode) -> SpecError:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "invalid_key" or (loc and loc[-1] == "[key]"):
        return _key_error(loc[:-1] if loc[-1] == "[key]" else loc, tree)
    node = _locate(tree, loc)
    where = _where(tree, loc)
    value = err.get("input")
    if kind == "extra_forbidden":
        parent = _locate(tree, loc[:-1])
        key_node = parent.key_node(loc[-1]) if isinstance(parent, ysrc.YMap) else None
        key = _key_text(key_node) if key_node is not None else str(loc[-1])
        model = _model_at(loc[:-1])
        allowed = [f.alias or k for k, f in model.model_fields.items()] if model else []
        keys_hint = choices_hint(key, allowed, "valid keys here") if allowed else None
        if model is m.SpecFile and parent is tree:
            keys_hint = f"{keys_hint}; parameters go under `params:`"
        span = key_node.span if key_node is not None else node.span
        return SpecError(f"unknown key {key!r}", span, where, keys_hint)
    if kind == "missing":
        return SpecError(f"missing key {str(loc[-1])!r}", node.span, where)
    if kind == "param_value":
        if len(loc) == 2:
            return SpecError(
                f"expected {_PARAM_VALUE} or a declaration with a `default`, "
                f"found {_kind_of(node)}",
                node.span,
                where,
                hint="a parameter's default gives its type: `depth: 16`, or "
                "`depth: {default: 16, doc: …}`",
            )
        return SpecError(
            f"expected {_PARAM_VALUE}, found {_kind_of(node)}",
            node.span,
            where,
        )
    if kind in ("layer_entry", "union_tag_not_found", "union_tag_invalid"):
        hint: str | None = None
        control = _misspelt_control(node)
        if control is not None:
            hint = f"a {control} block starts with `{control}:`"
        elif isinstance(node, ysrc.YMap) and len(node.items) > 1:
            hint = "one layer per list item: start each layer with `- `"
        elif isinstance(node, ysrc.YScalar) and not isinstance(node.value, str):
            hint = "a layer is an operator call such as conv2d(64, 3), not a bare value"
        parent = _locate(tree, loc[:-1])
        if isinstance(parent, ysrc.YSeq) and any(
            isinstance(i, ysrc.YScalar) and str(i.value).count("(") > str(i.value).count(")")
            for i in parent.items
        ):
            hint = FLOW_LIST_HINT
        message = str(err.get("msg") or "expected a layer")
        return SpecError(f"{message}, found {_kind_of(node)}", node.span, where, hint)
    if kind == "layer_value":
        return SpecError(f"{err['msg']}, found {_kind_of(node)}", node.span, where)
    if kind == "literal_error" and loc == ("netspec",):
        return _version_error(node)
    if kind == "literal_error":
        expected = str((err.get("ctx") or {}).get("expected", "")).replace("'", "")
        words = " or ".join(repr(w.strip()) for w in re.split(r",| or ", expected) if w.strip())
        return SpecError(f"expected {words}, found {_kind_of(node)}", node.span, where)
    if kind == "string_pattern_mismatch":
        return SpecError(
            f"{loc[-1] if loc else 'the value'} must be a Python identifier "
            f"(ASCII letters, digits and _), found {value!r}",
            node.span,
            where,
        )
    if kind in _TYPE_WORDS:
        return SpecError(f"expected {_TYPE_WORDS[kind]}, found {_kind_of(node)}", node.span, where)
    if kind == "value_error":
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        return SpecError(f"{msg}, found {_kind_of(node)}", node.span, where)
    return SpecError(f"invalid value: {err.get('msg')}", node.span, where)


def _misspelt_control(node: ysrc.YNode) -> str | None:
    """``for``, ``repeat`` or ``if`` when ``node`` is a mapping with one of them written with
    a trailing ``_`` (``for_:``, a Python field's name), which is not a spec key."""
    if isinstance(node, ysrc.YMap):
        for key, _ in node.items:
            if isinstance(key.value, str) and key.value.endswith("_"):
                word = key.value.rstrip("_")
                if word in ("for", "repeat", "if"):
                    return word
    return None


def _key_error(loc: tuple[Any, ...], tree: ysrc.YNode) -> SpecError:
    """A mapping key that is not text (``3:``, ``true:``): reported at the key."""
    parent = _locate(tree, loc[:-1])
    key_node = parent.key_node(loc[-1]) if isinstance(parent, ysrc.YMap) else None
    node = key_node if key_node is not None else parent
    return SpecError(
        f"a key must be a name (text), found {_kind_of(node)}",
        node.span,
        _where(tree, loc),
        hint="keys are names such as conv1 or depth; YAML reads unquoted numbers, true, "
        "false and null as values",
    )


def _key_text(key: ysrc.YScalar) -> str:
    return key.value if isinstance(key.value, str) else show(key.value)


def _child(node: ysrc.YNode, part: Any) -> tuple[ysrc.YScalar | None, ysrc.YNode] | None:
    """The key (``None`` in a list) and child that one part of an error's path names, if any;
    parts naming nothing here (union tags that pydantic inserts) give ``None``."""
    if isinstance(node, ysrc.YMap):
        for key, child in node.items:
            if key.value == part:
                return key, child
        if isinstance(part, str) and part.isdigit():
            for key, child in node.items:
                if key.value == int(part):
                    return key, child
    elif isinstance(node, ysrc.YSeq) and isinstance(part, int) and 0 <= part < len(node.items):
        return None, node.items[part]
    return None


def _locate(tree: ysrc.YNode, loc: tuple[Any, ...]) -> ysrc.YNode:
    """The deepest node an error's path reaches (keys are matched exactly, as written)."""
    node = tree
    for part in loc:
        step = _child(node, part)
        if step is not None:
            node = step[1]
    return node


def _where(tree: ysrc.YNode, loc: tuple[Any, ...]) -> str:
    """A readable path for a validation error: ``params.depth``, ``features.3``."""
    parts: list[str] = []
    node = tree
    in_layers = False
    for part in loc:
        step = _child(node, part)
        if step is None:
            continue
        key_node, child = step
        if key_node is not None:
            key = _key_text(key_node)
            if key == "layers" and node is tree:
                in_layers = True
            elif not in_layers or key in _CONTROL_KEYS:
                parts.append(key)
            elif isinstance(node, ysrc.YMap) and len(node.items) == 1:
                parts.append(key)
        elif not (isinstance(child, ysrc.YMap) and len(child.items) == 1):
            parts.append(str(part))
        node = child
    if not parts:
        return "layers" if in_layers else "document"
    return ".".join(parts)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model whose mapping an error's path leads to (``None`` if it leads to no model):
    which keys are valid there."""
    hint: Any = m.SpecFile
    for part in loc:
        hint = _step(_bare(hint), part)
        if hint is None:
            return None
    hint = _bare(hint)
    return hint if isinstance(hint, type) and issubclass(hint, BaseModel) else None


def _bare(hint: Any) -> Any:
    """A type hint without ``Annotated``, ``| None``, forward references and root models."""
    while True:
        if isinstance(hint, ForwardRef | str):  # names in the models module, never evaluated
            name = hint.__forward_arg__ if isinstance(hint, ForwardRef) else hint
            hint = getattr(m, name, None) if name.isidentifier() else None
            continue
        origin = get_origin(hint)
        if origin is Annotated:
            hint = get_args(hint)[0]
            continue
        if origin in (Union, types.UnionType):
            members = [a for a in get_args(hint) if a is not type(None)]
            if len(members) == 1:
                hint = members[0]
                continue
        if isinstance(hint, type) and issubclass(hint, RootModel):
            hint = hint.model_fields["root"].annotation
            continue
        return hint


def _step(hint: Any, part: Any) -> Any:
    """The type hint one part of an error's path leads to from ``hint`` (``None``: nowhere)."""
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        for name, info in hint.model_fields.items():
            if (info.alias or name) == part:
                return info.annotation
        return None
    origin = get_origin(hint)
    if origin is list:
        return get_args(hint)[0] if isinstance(part, int) else None
    if origin is dict:
        return get_args(hint)[1]
    if origin in (Union, types.UnionType):
        for member in get_args(hint):
            if get_origin(member) is Annotated:
                if any(getattr(meta, "tag", None) == part for meta in get_args(member)[1:]):
                    return member
            elif getattr(member, "__name__", None) == part:
                return member
    return None


# ---------------------------------------------------------------------------------------------
# binding code to positions

_TEMPLATE = re.compile(r"\{([^{}]*)\}")


@functools.cache
def _fields_by_key(model: type[BaseModel]) -> dict[str, str]:
    """A model's field names by the key that gives each in a spec (its alias, or its name)."""
    fields: dict[str, str] = {}
    for name, info in model.model_fields.items():
        fields.setdefault(info.alias or name, name)
    return fields


def _private(obj: BaseModel) -> dict[str, Any]:
    """A model's private attributes (``_span``, ``_key_spans``…) by name."""
    private = obj.__pydantic_private__
    assert private is not None
    return private


class _Binder:
    """Walks validated models beside their YAML nodes: sets spans, parses code."""

    def __init__(self) -> None:
        self.path: list[str] = []
        """Where the walk is among the layers, for messages: ``features.3``."""

    def where(self) -> str | None:
        return ".".join(self.path) or None

    def bind(self, obj: Any, node: ysrc.YNode) -> None:
        # (what ``obj`` is, told by its type where that suffices: ``isinstance`` with a pydantic
        # model's class is a slow path when it fails, and this runs for every value of a spec)
        kind = type(obj)
        if isinstance(obj, m.Code):
            try:
                self._code(obj, node)
            except NetspecError as exc:
                raise exc.locate(None, self.where()) from None
        elif kind is m.NamedEntry:
            self._named(obj, node)
        elif kind is m.MappingCall:
            self._mapping(obj, node)
        elif kind is list:
            items = node.items if isinstance(node, ysrc.YSeq) else [node]
            for index, (item, child) in enumerate(zip(obj, items, strict=False)):
                named = type(item) is m.NamedEntry
                if not named:
                    self.path.append(str(index))
                self.bind(item, child)
                if not named:
                    self.path.pop()
        elif kind is dict:
            if isinstance(node, ysrc.YMap):
                for key_node, child in node.items:
                    if key_node.value in obj:
                        self.bind(obj[key_node.value], child)
        elif isinstance(obj, BaseModel):
            self._model(obj, node)

    def _model(self, obj: BaseModel, node: ysrc.YNode) -> None:
        # (positions are written into the private attributes' dict directly: pydantic's
        # __setattr__ and __getattr__ for them are slow paths, taken for every key of a spec)
        key_spans: dict[str, Span] | None = None
        if isinstance(obj, m.Node):
            private = _private(obj)
            private["_span"] = node.span
            key_spans = private["_key_spans"]
        if not isinstance(node, ysrc.YMap):
            return
        kind = type(obj)
        fields = _fields_by_key(kind)
        spec, block = kind is m.SpecFile, kind is m.BlockDef
        for key_node, child in node.items:
            key = str(key_node.value)
            name = fields.get(key)
            if name is None:
                continue
            if key_spans is not None:
                key_spans[key] = key_node.span
            value = getattr(obj, name)
            if spec and name == "params":
                self._params(obj, value, child)
            elif (spec or block) and name == "let":
                self._let(value, child, obj)
            elif (spec or block) and name == "tensors":
                self._tensors(value, child, obj)
            elif spec and name == "blocks":
                self._blocks(value, child)
            elif block and name == "branches" and value is not None:
                self._branches(value, child, obj)
            elif kind is m.ShortcutDef and name == "name":
                check_layer_name(value, child.span, self.where() or value)
            elif kind is m.RepeatEntry and name == "as_" and value is not None:
                check_value_name(value, "loop variable", key_node.span, "as")
            elif spec and name != "layers":
                try:
                    self.bind(value, child)
                except NetspecError as exc:
                    raise exc.locate(None, str(key_node.value)) from None
            else:
                self.bind(value, child)

    def _params(self, spec: BaseModel, params: dict[str, Any], node: ysrc.YNode) -> None:
        if not isinstance(node, ysrc.YMap):
            return
        key_spans = _private(spec)["_key_spans"]
        for key_node, child in node.items:
            name = str(key_node.value)
            check_value_name(name, "parameter", key_node.span, f"params.{name}")
            key_spans[f"params.{name}"] = key_node.span
            value = params.get(name)
            if isinstance(value, m.ParamDecl):
                self._model(value, child)
                _private(value)["_span"] = key_node.span

    def _let(self, let: dict[str, m.Expression], node: ysrc.YNode, owner: BaseModel) -> None:
        if not isinstance(node, ysrc.YMap):
            return
        key_spans = _private(owner)["_key_spans"]
        for key_node, child in node.items:
            name = str(key_node.value)
            key_spans[f"let.{name}"] = key_node.span
            where = f"let.{name}"
            check_value_name(name, "let name", key_node.span, where)
            try:
                self._code(let[name], child)
            except NetspecError as exc:
                raise exc.locate(None, self.where() or where) from None

    def _tensors(
        self, tensors: dict[str, m.Expression], node: ysrc.YNode, owner: BaseModel
    ) -> None:
        if not isinstance(node, ysrc.YMap):
            return
        key_spans = _private(owner)["_key_spans"]
        for key_node, child in node.items:
            name = str(key_node.value)
            key_spans[f"tensors.{name}"] = key_node.span
            where = f"tensors.{name}"
            try:
                check_layer_name(name, key_node.span, where)
                self._code(tensors[name], child)
            except NetspecError as exc:
                raise exc.locate(None, self.where() or where) from None

    def _blocks(self, blocks: dict[str, m.BlockDef], node: ysrc.YNode) -> None:
        if not isinstance(node, ysrc.YMap):
            return
        for key_node, child in node.items:
            name = str(key_node.value)
            check_block_name(name, key_node.span)
            block = blocks[name]
            self.path.append(f"blocks.{name}")
            self._model(block, child)
            _private(block)["_span"] = key_node.span
            _check_block(name, block)
            self.path.pop()

    def _branches(
        self, branches: dict[str, Any] | list[Any], node: ysrc.YNode, owner: BaseModel
    ) -> None:
        key_spans = _private(owner)["_key_spans"]
        if isinstance(node, ysrc.YSeq) and isinstance(branches, list):  # numbered paths
            for i, child in enumerate(node.items):
                key_spans[f"branches.{i}"] = child.span
                self.path.append(str(i))
                self.bind(branches[i], child)
                self.path.pop()
            return
        if not isinstance(node, ysrc.YMap) or not isinstance(branches, dict):
            return
        for key_node, child in node.items:
            name = str(key_node.value)
            key_spans[f"branches.{name}"] = key_node.span
            self.path.append(name)
            try:
                check_layer_name(name, key_node.span, self.where() or name)
            except NetspecError as exc:
                raise exc.locate(None, self.where()) from None
            self.bind(branches[name], child)
            self.path.pop()

    def _named(self, obj: m.NamedEntry, node: ysrc.YNode) -> None:
        private = _private(obj)
        private["_span"] = node.span
        if not isinstance(node, ysrc.YMap) or not node.items:
            return
        items = node.items
        if obj.sources is not None:
            items = [item for item in items if item[0].value != m.FROM]
            self._sources(obj.sources, next(c for k, c in node.items if k.value == m.FROM))
        key_node, child = items[0]
        name = m.NameTemplate(str(key_node.value))
        self.path.append(name.text)
        try:
            self._template(name, key_node, self.where() or name.text)
        except NetspecError as exc:
            raise exc.locate(None, self.where()) from None
        private["_name"] = name
        self.bind(obj.value, child)
        self.path.pop()

    def _sources(self, sources: m.Sources, node: ysrc.YNode) -> None:
        """Position ``from:``'s names; each is a tensor's name (an identifier)."""
        sources.span = node.span
        if not sources.names:
            raise SpecError(
                f"`from:` expects a tensor's name or a list of names, found "
                f"{show(sources.invalid)}",
                node.span,
                self.where(),
                hint="e.g. `from: enc4`, or `from: [up4, enc4]` with a merge",
            )
        items = node.items if isinstance(node, ysrc.YSeq) else [node]
        sources.spans = tuple(item.span for item in items)
        if sources.merged and len(sources.names) < 2:
            raise SpecError(
                f"`from:` with a list merges two or more tensors, found {len(sources.names)}",
                node.span,
                self.where(),
                hint="write one name without a list (`from: enc4`) to read one tensor",
            )
        for name, span in zip(sources.names, sources.spans, strict=True):
            base, dot, index = name.partition(".")
            if (
                not base.isidentifier()
                or keyword.iskeyword(base)
                or (dot and not (index.isascii() and index.isdigit()))
            ):
                raise SpecError(
                    "`from:` names a tensor by a layer's name (an identifier), or a child of a "
                    f"sequence by its index (`backbone.4`), found {name!r}",
                    span,
                    self.where(),
                    hint="name the layer whose output is read (`enc4`), or `input`",
                )

    def _template(self, name: m.NameTemplate, node: ysrc.YScalar, where: str) -> None:
        text = str(node.value)
        name.span = node.span
        if "{" not in text and "}" not in text:
            check_layer_name(text, node.span, where)
            return
        parts: list[str | n.Located] = []
        pos = 0
        quote = 1 if node.style in ("'", '"') else 0  # the opening quote comes first
        for match in _TEMPLATE.finditer(text):
            parts.append(text[pos : match.start()])
            origin = n.Origin(
                match.group(1), node.span.shifted(match.start(1) + quote) if node.span else None
            )
            parts.append(parse_expr(match.group(1), origin, "name template"))
            pos = match.end()
        parts.append(text[pos:])
        rest = "".join(p for p in parts if isinstance(p, str))
        if "{" in rest or "}" in rest:
            raise SourceError(
                f"unbalanced braces in layer name {text!r}",
                node.span,
                where,
                hint="a name template looks like block{i + 1}",
            )
        if not all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in rest):
            raise SpecError(
                f"layer name template {text!r} has characters a name cannot have",
                node.span,
                where,
                hint="outside the {…} parts, use letters, digits, _ and - (in a named sequence)",
            )
        name.parts = tuple(p for p in parts if p != "")

    def _mapping(self, obj: m.MappingCall, node: ysrc.YNode) -> None:
        obj._span = node.span
        if not isinstance(node, ysrc.YMap) or not node.items:
            return
        key_node, child = node.items[0]
        op_name = str(key_node.value)
        kwargs: list[tuple[str, n.Expr]] = []
        attrs = next(iter(obj.root.values()))
        if isinstance(child, ysrc.YMap):
            for attr_key, attr_node in child.items:
                code = attrs[str(attr_key.value)]
                try:
                    self._code(code, attr_node)
                except NetspecError as exc:
                    raise exc.locate(None, self.where() or op_name) from None
                kwargs.append((str(attr_key.value), code.expr))
        origin = n.Origin(op_name, key_node.span)
        call = n.Call(
            n.Name(op_name, start=0, end=len(op_name)), (), tuple(kwargs), start=0, end=len(op_name)
        )
        ref = m.LayerRef(op_name)
        ref.node = n.Located(call, origin, start=0, end=len(op_name))
        ref.span = key_node.span
        obj._call = ref

    def _code(self, code: m.Code, node: ysrc.YNode) -> None:
        code.span = node.span
        if isinstance(code, m.LoopHeader):
            if not isinstance(node, ysrc.YScalar) or not isinstance(node.value, str):
                raise SpecError("a loop is written `for: name in list`", node.span, "for")
            names, iterable = parse_for_header(node.value, _origin(node))
            for name in names:
                check_value_name(name, "loop variable", node.span, "for")
            code.names = names
            code.node = iterable
            return
        if isinstance(code, m.BlockParam):
            assert isinstance(node, ysrc.YScalar)
            name, default = parse_param(str(node.value), _origin(node))
            check_value_name(name, "block parameter", node.span, self.where() or name)
            code.name = name
            code.node = default
            return
        if isinstance(code, m.LayerRef):
            assert isinstance(node, ysrc.YScalar) and isinstance(node.value, str)
            try:
                code.node = parse_expr(node.value, _origin(node), "layer call")
            except SourceError as exc:
                if node.style == "" and node.value.count("(") > node.value.count(")"):
                    if _in_flow_list(node):  # a comma of the call ended the item
                        exc.hint = FLOW_LIST_HINT
                raise
            _check_layer_form(code.node, code.node.origin)
            return
        code.node = _value_expr(node)


def _in_flow_list(node: ysrc.YNode) -> bool:
    """Whether a scalar is an item of a YAML flow list: a comma or the list's ``]`` follows
    it on its line."""
    span = node.span
    if span.end_line is None or span.end_col is None:
        return False
    rest = span.source.line(span.end_line)[span.end_col - 1 :].lstrip()
    return rest[:1] in (",", "]")


def _check_inputs(block: m.BlockDef, where: str) -> None:
    """A block of several inputs: two or more names, each once, its layers in a body."""
    at = block.key_span("inputs")
    if len(block.inputs) < 2:
        raise SpecError(
            f"`inputs:` names two or more inputs, found {len(block.inputs)}",
            at,
            where,
            hint="a block of one input needs no `inputs:`: its layers read it as `input`",
        )
    for i, name in enumerate(block.inputs):
        if name in block.inputs[:i]:
            raise SpecError(f"input {name!r} is named twice", at, where)
        if name == INPUT:
            raise SpecError(
                "an input cannot be called 'input' (`from: input` reads the first)",
                at,
                where,
                hint="name it after what it is: `low`, `high`, `skip`…",
            )
    if block.branches is not None or block.shortcut is not None or block.residual is not None:
        raise SpecError(
            "a block of several inputs has a body whose layers read them with `from:`, not "
            "branches or a residual connection",
            at,
            where,
            hint="write the merge as an entry: `out: add` with `from: [a, b]`",
        )


def _check_block(name: str, block: m.BlockDef) -> None:
    """What the models cannot say: body or branches, parameters once, known first-only args."""
    where = f"blocks.{name}"
    if block.branches is not None and block.body:
        raise SpecError(
            "a block has a body or branches, not both",
            block.key_span("branches"),
            where,
            hint="put the shared layers in `then:` or in each branch",
        )
    if block.branches is not None and (block.shortcut is not None or block.residual is not None):
        raise SpecError("a block with branches has no residual connection", block.span, where)
    if (
        block.merge is not None
        and block.branches is None
        and block.shortcut is None
        and block.residual is None
    ):
        raise SpecError(
            "`merge` needs `branches` or a residual connection (`shortcut` or `residual`)",
            block.key_span("merge"),
            where,
        )
    check_parallel(block.body, True, where)
    check_parallel(block.then, True, where)
    for _, value in branch_items(block):
        check_parallel(value, False, where)
        refuse_sources(value, where)
    if block.shortcut is not None and block.shortcut.project is not None:
        check_parallel(block.shortcut.project, False, where)
        refuse_sources(block.shortcut.project, where)
    if block.inputs:
        _check_inputs(block, where)
    check_sources([block.body, block.then], where, block.inputs)
    taken = block_layer_names(block)
    for tensor in block.tensors:
        if tensor in taken:
            raise SpecError(
                f"the tensor {tensor!r} is named like a layer of the block",
                block.key_span(f"tensors.{tensor}"),
                where,
                hint="a tensor and a layer are both attributes of the block's module: give "
                "them different names",
            )
    if block.split is not None and block.branches is None:
        raise SpecError(
            "`split` divides the input's channels among `branches`, and this block has none",
            block.key_span("split"),
            where,
            hint="add `branches:`, or write `split:` on a `parallel` entry of the body",
        )
    if block.branches is not None and not block.branches:
        raise SpecError(
            "`branches` needs at least one path",
            block.key_span("branches"),
            where,
            hint="name each path: branches: {a: conv2d(8, 1), b: [conv2d(8, 3, padding=1)]}",
        )
    sc = block.shortcut
    if sc is not None and sc.when is not None and sc.project is None:
        raise SpecError(
            "`shortcut.when` says when to project the shortcut, but there is no `project`",
            sc.key_span("when"),
            where,
            hint="add `project: [...]`, or drop `when` (`residual: cond` says when the "
            "connection exists)",
        )
    if sc is not None and sc.project is not None:
        taken = layer_names(block.body) | layer_names(block.then)
        if sc.name in taken:
            raise SpecError(
                f"the shortcut's projection is named {sc.name!r}, like a layer of the block",
                sc.key_span("name") or sc.key_span("project"),
                where,
                hint="give the shortcut another name (shortcut: {name: …})",
            )
    seen: set[str] = set()
    required_after_default = False
    for param in block.params:
        if param.name in seen:
            raise SpecError(f"parameter {param.name!r} is declared twice", param.span, where)
        seen.add(param.name)
        if param.node is not None:
            required_after_default = True
        elif required_after_default:
            raise SpecError(
                f"required parameter {param.name!r} follows a parameter with a default",
                param.span,
                where,
                hint="put parameters without defaults first, as in Python",
            )
    for arg in block.first_only:
        if arg not in seen and arg != "stride":
            raise SpecError(
                f"first_only names {arg!r}, which is not a parameter of {name}",
                block.key_span("first_only"),
                where,
                hint=choices_hint(arg, seen, "parameters"),
            )


def _origin(node: ysrc.YScalar) -> n.Origin:
    return n.Origin(str(node.value), node.span, node.style)


def _value_expr(node: ysrc.YNode) -> n.Located:
    """The expression a YAML value stands for: strings are parsed, containers recurse."""
    if isinstance(node, ysrc.YScalar):
        if isinstance(node.value, str):
            return parse_expr(node.value, _origin(node))
        text = show(node.value)
        return n.Located(n.Const(node.value, start=0, end=len(text)), n.Origin(text, node.span))
    origin = n.Origin("", node.span)
    if isinstance(node, ysrc.YSeq):
        return n.Located(n.ListExpr(tuple(_value_expr(i) for i in node.items)), origin)
    assert isinstance(node, ysrc.YMap)
    keys = tuple(n.Located(n.Const(k.value), n.Origin(str(k.value), k.span)) for k, _ in node.items)
    values = tuple(_value_expr(v) for _, v in node.items)
    return n.Located(n.DictExpr(keys, values), origin)


def _check_layer_form(node: n.Expr, origin: n.Origin) -> None:
    inner = n.strip(node)
    if isinstance(inner, n.IfExp):
        _check_layer_form(inner.body, origin)
        _check_layer_form(inner.orelse, origin)
        return
    if isinstance(inner, n.Name) or (isinstance(inner, n.Call) and isinstance(inner.func, n.Name)):
        return
    from netspec.expr.render import render

    hint = "a layer is an operator or block call such as conv2d(64, 3) or relu"
    if isinstance(inner, n.Const) and isinstance(inner.value, str):
        hint = "write the operator without quotes, e.g. relu"
    raise SpecError(
        f"expected a layer call, found {render(inner)!r}",
        origin.span_at(inner.start, inner.end),
        hint=hint,
    )
