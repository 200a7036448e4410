"""The ``netspec`` command: argument parsing, exit codes and printing — nothing else.

Exit codes: 0 success, 2 a problem with the spec or the command line (reported as
``file:line:col: where: message``), 1 an internal error (a bug in netspec), 141 where the
reader of the output stopped early (``| head``), without a message.
"""

from __future__ import annotations

import errno
import functools
import io
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from typer.core import TyperGroup

from netspec.errors import InternalError, NetspecError, printable


class _Group(TyperGroup):
    """The command group, reporting a mistake on the command line (an unknown option, a
    missing argument, a value of the wrong kind) the way spec errors are reported — an
    ``error: where: message`` line, then a hint — with exit code 2."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        run = functools.partial(
            super().main, args, prog_name, complete_var, windows_expand_args=windows_expand_args
        )
        if not standalone_mode:
            return run(standalone_mode=False, **extra)
        try:
            code = run(standalone_mode=False, **extra)
        except typer.TyperException as exc:  # the command line's usage errors
            given = list(sys.argv[1:] if args is None else args)
            _usage_error(exc, next((a for a in given if a in self.commands), None))
            sys.exit(exc.exit_code)
        except typer.Abort:
            print("Aborted!", file=sys.stderr)
            sys.exit(1)
        # without standalone mode an exit (typer.Exit, --help) returns its code
        sys.exit(code if type(code) is int else 0)


SIGPIPE_EXIT = 141
"""The exit status where the reader of the output closed it early: a shell's for a process
ended by SIGPIPE (128 + 13), without a message."""


def _usage_error(exc: typer.TyperException, subcommand: str | None = None) -> None:
    """Report a usage error; ``subcommand``: the command the line names, for an error that
    does not say which command's it is (click's "does not take a value" has no context)."""
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "netspec"
    if ctx is None and subcommand is not None:
        command = f"netspec {subcommand}"
    if type(exc).__name__ == "NoArgsIsHelpError":  # `netspec` alone: say so, then the help
        text = f"error: {command}: a command is needed\n\n{exc.format_message()}"
    else:
        # typer's parser words a value outside an enum's as pydantic does ("Value error, …")
        message = exc.format_message().replace(": Value error, ", ": ")
        text = (
            f"error: {command}: {message}\nhint: `{command} --help` lists its options and arguments"
        )
    print(printable(text), file=sys.stderr)


app = typer.Typer(
    cls=_Group,
    name="netspec",
    help="A declarative architecture-spec compiler for PyTorch: static shapes, parameters "
    "and MACs from a YAML or .ns spec, then an nn.Module or readable PyTorch source.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

F = TypeVar("F", bound=Callable[..., Any])


class Format(str, Enum):
    table = "table"
    json = "json"


class Macs(str, Enum):
    torchvision = "torchvision"
    all = "all"


SpecArg = Annotated[
    str,
    typer.Argument(
        metavar="SPEC",
        help="A spec file (.yaml or .ns), or the name of a bundled spec (see `netspec list`).",
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        metavar="NAME=VALUE",
        help="Override a parameter, e.g. --set num_classes=10 --set depths=[3,4,23,3] (a "
        "text param also takes text as written: --set mode=bilinear); each param once.",
    ),
]
InputOpt = Annotated[
    str | None,
    typer.Option(
        "--input",
        "-i",
        metavar="C,H,W",
        help="Input shape without the batch, e.g. 3,200,200 (sizes the spec's "
        "params give must agree: set those params instead).",
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
MacsOpt = Annotated[
    Macs,
    typer.Option(
        "--macs",
        help="torchvision: multiply-adds of convolutions and linear layers (torchvision's "
        "GFLOPS). all: also bias, normalisation, activations, pooling and merges.",
    ),
]


def _depth(help: str) -> Any:
    """The ``--depth``/``-d`` option (a nesting depth, 0 or more), with the command's help."""
    return typer.Option("--depth", "-d", min=0, help=help)


DepthOpt = Annotated[
    int | None,
    _depth(
        "Fold the table below this nesting depth; 0 shows every layer. By default a "
        "network of more than 100 rows is folded to about 100 (a table's: --format json "
        "lists every layer)."
    ),
]
ExplainOpt = Annotated[
    bool,
    typer.Option(
        "--explain",
        "-e",
        help="Show the arithmetic behind each layer's size and parameters (with --format "
        'json, as each layer\'s "explain" lines).',
    ),
]


def _stderr() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def _stdout() -> Any:
    from rich.console import Console

    class Out(Console):
        def on_broken_pipe(self) -> None:
            """The reader stopped early: :func:`_guard` ends the command (exit 141, as a
            shell's SIGPIPE; rich's own ending is exit 1, a bug's status here)."""
            self.quiet = True
            raise BrokenPipeError

        def print(self, *objects: Any, **kwargs: Any) -> None:
            """On a terminal, rich's layout; in a pipe or a file, its lines without the spaces
            that pad a table's last column to its widest cell."""
            if self.is_terminal:
                super().print(*objects, **kwargs)
                return
            with self.capture() as captured:
                super().print(*objects, **kwargs)
            lines = captured.get().split("\n")
            sys.stdout.write("\n".join(line.rstrip() for line in lines))

    # A terminal gets rich's layout; a pipe or file gets unwrapped lines (tables size to fit).
    return Out(highlight=False, markup=False, width=None if sys.stdout.isatty() else 1000)


def _guard(fn: F) -> F:
    """Turn spec errors into exit code 2 and bugs into exit code 1, never a bare traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(*args, **kwargs)
            sys.stdout.flush()  # a write that fails is reported here, not lost at exit
            return result
        except NetspecError as exc:
            _print_error(exc)
            raise typer.Exit(2) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except BrokenPipeError:  # the reader stopped early (`netspec check … | head`)
            # nothing more can be written there, also at exit (Python flushes stdout again)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(SIGPIPE_EXIT) from None
        except OSError as exc:
            if exc.errno not in _FULL:
                return _internal_error()
            # the disk or the file size limit is full (`netspec codegen … > model.py`): not a
            # bug, and the output is cut short; what is left unwritten is dropped at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            from rich.text import Text

            _stderr().print(Text(f"error: cannot write the output: {exc.strerror}"))
            raise typer.Exit(2) from None
        except Exception:  # noqa: BLE001 - the last line of defence
            return _internal_error()

    return wrapper  # type: ignore[return-value]


def _print_error(exc: NetspecError) -> None:
    """``error: file:line:col: where: message``, the line and the hint, on standard error."""
    from rich.text import Text

    _stderr().print(Text(printable(f"error: {exc.render()}")))


_FULL = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
"""Errors of a write where the disk, the quota or the file size limit is full."""


def _internal_error() -> NoReturn:
    """Report the exception being handled as a bug in netspec: exit 1."""
    from rich.text import Text

    console = _stderr()
    if os.environ.get("NETSPEC_DEBUG"):
        console.print(Text(traceback.format_exc()))
    else:
        kind, value, _ = sys.exc_info()
        name = kind.__name__ if kind else "Exception"
        what = str(value) if isinstance(value, InternalError) else f"{name}: {value}"
        console.print(
            Text(
                f"internal error: {printable(what)}\n"
                "This is a bug in netspec, not in your spec. "
                "Set NETSPEC_DEBUG=1 for the traceback and please report it."
            )
        )
    raise typer.Exit(1) from None


def _parse_input(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    import re

    parts = [p.strip() for p in re.split(r"[,x×]", text)]
    digits = all(re.fullmatch(r"[0-9]{1,30}", p) for p in parts)  # not `²`: isdigit() takes it
    shape = tuple(int(p) for p in parts) if digits else ()
    if not shape or any(d <= 0 for d in shape):
        raise NetspecError(
            f"--input expects positive integers separated by commas, found {_brief(text)}",
            where="--input",
            hint="e.g. --input 3,224,224 (no batch dimension)",
        )
    import math

    from netspec.expand.expander import MAX_RANK
    from netspec.infer.infer import MAX_ELEMENTS

    if len(shape) > MAX_RANK:
        raise NetspecError(
            f"--input expects 1 to {MAX_RANK} sizes, found {len(shape)}",
            where="--input",
            hint="one sample's shape, without the batch dimension: e.g. --input 3,224,224",
        )
    if math.prod(shape) > MAX_ELEMENTS:
        raise NetspecError(
            f"--input {text.strip()} has more elements than PyTorch's int64 sizes hold (2⁶³ − 1)",
            where="--input",
            hint="one sample's shape, without the batch dimension: e.g. --input 3,224,224",
        )
    return shape


def _brief(text: str, limit: int = 60) -> str:
    """``text`` quoted, shortened to about ``limit`` characters."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "…"


def _open(
    spec: str, sets: list[str] | None, input_text: str | None, options: list[str] | None = None
) -> Any:
    """SPEC at the ``--set`` values ``sets`` (given by ``options``, one per item, where not
    all by ``--set``: a diff's ``--set-a``; an error names the option that gave the value)."""
    from netspec.api import Spec
    from netspec.spec.load import load_spec, resolve
    from netspec.spec.params import declared, parse_assignment

    model = load_spec(resolve(spec))
    params = declared(model)
    overrides: dict[str, Any] = {}
    given: dict[str, str] = {}  # the option of each value that counts (the last given)
    texts: dict[tuple[str, str], str] = {}  # each value's text by (option, name)
    items = list(zip(sets or [], options or ["--set"] * len(sets or []), strict=True))
    for item, option in items:
        try:
            name, value = parse_assignment(item, params)
        except NetspecError as exc:  # the option of the item read
            raise _given_by(exc, option) from None
        _once(texts, option, name, item)
        overrides[name], given[name] = value, option
    try:
        return Spec(model, overrides, _parse_input(input_text), origin="--set")
    except NetspecError as exc:  # a value refused when bound: the option that gave it
        name = (exc.where or "").removeprefix("--set ")
        raise _given_by(exc, given.get(name, "--set")) from None


def _once(texts: dict[tuple[str, str], str], option: str, name: str, item: str) -> None:
    """Refuse a param given two values by one option (``--set n=1 --set n=2``: which was
    meant?); ``texts`` holds the items read so far by (option, name)."""
    first = texts.setdefault((option, name), item)
    if first.partition("=")[2].strip() != item.partition("=")[2].strip():
        raise NetspecError(
            f"{name} is given twice by {option}: {_brief(first.strip(), 30)} and "
            f"{_brief(item.strip(), 30)}",
            where=f"{option} {name}",
            hint="give each param once",
        )


def _given_by(exc: NetspecError, option: str) -> NetspecError:
    """``exc``, an error of a ``--set`` value, saying ``option`` gave it (``--set-a``)."""
    if option != "--set":
        if exc.where and exc.where.startswith("--set "):
            exc.where = option + exc.where.removeprefix("--set")
        if exc.message.startswith("--set "):
            exc.message = option + exc.message.removeprefix("--set")
    return exc


def _fold_option(fmt: Format, depth: int | None) -> None:
    """Refuse ``--depth`` with JSON (checked before any work): JSON lists every layer."""
    if fmt is Format.json and depth is not None:
        raise NetspecError(
            "folds a table, and --format json lists every layer",
            where="--depth",
            hint="drop --depth (a layer's nesting is the dots in its path), or print a table",
        )


def _report(net: Any, fmt: Format, macs: Macs, depth: int | None, explain: bool) -> None:
    from netspec.backends import summary

    if fmt is Format.json:
        sys.stdout.write(summary.to_json(net, macs.value, explain))
    else:
        _stdout().print(summary.table(net, macs.value, depth, explain))


@app.command()
@_guard
def check(
    spec: SpecArg,
    set_: SetOpt = None,
    input: InputOpt = None,
    format: FormatOpt = Format.table,
    macs: MacsOpt = Macs.torchvision,
    depth: DepthOpt = None,
    explain: ExplainOpt = False,
) -> None:
    """Validate SPEC and infer every shape, parameter and MAC count statically (no torch)."""
    _fold_option(format, depth)
    loaded = _open(spec, set_, input)
    _report(loaded.network, format, macs, depth, explain)


@app.command()
@_guard
def build(
    spec: SpecArg,
    set_: SetOpt = None,
    input: InputOpt = None,
    format: FormatOpt = Format.table,
    macs: MacsOpt = Macs.torchvision,
    depth: DepthOpt = None,
    explain: ExplainOpt = False,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Also run one forward pass and check every module's output shape and the "
            "model's output shape against the static analysis.",
        ),
    ] = False,
) -> None:
    """Validate SPEC, infer shapes statically, build the nn.Module and check it agrees.

    The module is built from the source `codegen` writes for the same --set and --input
    values, and its state_dict (every key and shape) and parameter count are always compared
    with the static analysis; a difference is an internal error (exit 1).
    """
    _fold_option(format, depth)
    loaded = _open(spec, set_, input)
    net = loaded.network
    model = loaded.build(verify=verify)
    _report(net, format, macs, depth, explain)
    if format is Format.table:
        from rich.text import Text

        checked = "state_dict and forward shapes" if verify else "state_dict"
        _stdout().print(
            Text(
                f"built {type(model).__name__} (torch.nn.Module): "
                f"{sum(p.numel() for p in model.parameters()):,} parameters; "
                f"{checked} match the static analysis",
                style="green",
            )
        )


OutOpt = Annotated[
    str | None,
    typer.Option(
        "--out", "-o", metavar="FILE", help="Write to FILE (atomically) instead of stdout."
    ),
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Replace FILE if it exists (otherwise netspec refuses).")
]


def _output(text: str, option: str = "--out") -> Path:
    """The file an option names. Read as text, not as a ``Path``, which would drop a final
    ``/``: a name that ends with one names a folder, never a file to write (``model.py/`` must
    not replace ``model.py``); no file name holds a NUL."""
    if "\x00" in text:
        raise NetspecError(
            f"{_brief(text)} holds a NUL character, which no file name can", where=option
        )
    if text.endswith("/") or text.endswith(os.sep):
        raise NetspecError(
            f"{_brief(text)} ends with '/': it names a folder, not a file",
            where=option,
            hint="give a file name",
        )
    return Path(text)


@app.command()
@_guard
def codegen(
    spec: SpecArg,
    set_: SetOpt = None,
    input: InputOpt = None,
    out: OutOpt = None,
    force: ForceOpt = False,
) -> None:
    """Write SPEC as one self-contained PyTorch file (it imports only torch).

    The model class's constructor takes the spec's params, with the --set values as defaults;
    `build` executes exactly this source.
    """
    loaded = _open(spec, set_, input)
    text = loaded.source()
    if out is None:
        sys.stdout.write(text)
        return
    from netspec.files import write_atomic

    write_atomic(_output(out), text, force)
    _stderr().print(
        printable(f"wrote {out} ({len(text.splitlines())} lines, class {loaded.class_name})")
    )


@app.command()
@_guard
def export(
    spec: SpecArg,
    onnx: Annotated[
        str,
        typer.Option("--onnx", metavar="FILE", help="The ONNX file to write (batch axis dynamic)."),
    ],
    set_: SetOpt = None,
    input: InputOpt = None,
    force: ForceOpt = False,
    opset: Annotated[
        int | None,
        typer.Option(
            "--opset", help="ONNX opset version (exit 2 where the exporter cannot produce it)."
        ),
    ] = None,
) -> None:
    """Build SPEC and export it to ONNX (needs `pip install 'netspec[onnx]'`)."""
    from netspec.backends import onnx as onnx_backend
    from netspec.files import check_writable

    path = _output(onnx, "--onnx")
    check_writable(path, force, "--onnx")
    loaded = _open(spec, set_, input)
    onnx_backend.export(loaded, path, force, opset)
    shape = "×".join(map(str, loaded.network.input))
    dtype = loaded.network.input_dtype
    ids = f" {dtype} ids" if dtype != "float32" else ""
    _stderr().print(printable(f"wrote {onnx} (input: batch × {shape}{ids})"))


class Target(str, Enum):
    yaml = "yaml"
    ns = "ns"


@app.command()
@_guard
def fmt(
    files: Annotated[
        list[Path],
        typer.Argument(metavar="FILE", help="Spec files, YAML (.yaml, .yml) or text (.ns)."),
    ],
    to: Annotated[
        Target | None,
        typer.Option(
            "--to",
            "-t",
            help="Convert to this format (default: that of --out's extension, else the file's "
            "own; one that --out's extension contradicts is refused).",
        ),
    ] = None,
    check_only: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Change nothing; exit 1 if a file is not in canonical form (for CI hooks).",
        ),
    ] = False,
    write: Annotated[
        bool,
        typer.Option(
            "--write",
            "-w",
            help="Write the result: in place, or with --to beside FILE under the new extension "
            "(refused if that file exists, unless --force).",
        ),
    ] = False,
    out: OutOpt = None,
    force: ForceOpt = False,
) -> None:
    """Print spec files in canonical form, or convert them between YAML and .ns.

    Canonical form: a fixed key order, one layout, every expression re-printed from its parsed
    tree; comments are kept. The round trip is lossless: YAML -> .ns -> YAML gives the same
    spec. Without --write, --out or --check the result goes to stdout.
    """

    if sum((check_only, write, out is not None)) > 1:
        raise NetspecError("choose one of --check, --write and --out", where="fmt")
    if len(files) > 1 and not (check_only or write):
        raise NetspecError(
            "several files need --check or --write", where="fmt", hint="or format one at a time"
        )

    target = to.value if to is not None else None
    if out is not None:  # the file written says its format, as it does when it is read
        suffix = _output(out).suffix  # (refusing a folder's name first)
        says = "ns" if suffix == ".ns" else "yaml" if suffix in (".yaml", ".yml") else None
        if says is not None and target is not None and says != target:
            raise NetspecError(
                f"--to {target} writes {'.ns' if target == 'ns' else 'YAML'} text, and --out "
                f"{_brief(out)} names a {'.ns' if says == 'ns' else 'YAML'} file",
                where="--out",
                hint="drop --to (the extension of --out decides), or give --out the extension "
                "of the format",
            )
        target = target or says
    changed: list[Path] = []
    failed = 0
    for path in files:
        try:
            _fmt_one(path, target, check_only, write, out, force, changed)
        except NetspecError as exc:
            if len(files) == 1:
                raise
            _print_error(exc)  # and on to the other files: each one's error is told
            failed += 1
    if check_only and changed:
        _stderr().print(f"{len(changed)} of {_files(len(files))} would be reformatted")
    if failed:
        _stderr().print(f"{failed} of {_files(len(files))} failed")
        raise typer.Exit(2)
    if check_only:
        if changed:
            raise typer.Exit(1)
        _stderr().print(f"{_files(len(files))} already canonical")


def _fmt_one(
    path: Path,
    target: str | None,
    check_only: bool,
    write: bool,
    out: str | None,
    force: bool,
    changed: list[Path],
) -> None:
    """``fmt`` of one file (``changed`` gains it where ``--check`` finds it not canonical)."""
    from netspec.files import write_atomic
    from netspec.spec.format import formatted
    from netspec.spec.load import is_ns

    text, ns = formatted(path, target)
    converting = ns != is_ns(path)
    if check_only:
        if converting:
            raise NetspecError(
                "--check compares a file with its own canonical form",
                where="--to",
                hint="drop --to, or convert with --write",
            )
        if path.read_text("utf-8") != text:
            changed.append(path)
            _stderr().print(printable(f"would reformat {path}"))
    elif write and not converting:
        if path.read_text("utf-8") != text:
            write_atomic(path, text, force=True)  # formatting in place is what --write asks
            _stderr().print(printable(f"reformatted {path}"))
    elif write or out is not None:
        dest = _output(out) if out is not None else path.with_suffix(".ns" if ns else ".yaml")
        write_atomic(dest, text, force, option="--out" if out is not None else "--write")
        _stderr().print(printable(f"wrote {dest}"))
    else:
        sys.stdout.write(text)


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


@app.command()
@_guard
def schema(out: OutOpt = None, force: ForceOpt = False) -> None:
    """Print the JSON Schema of the YAML format, for editors and validators.

    With the yaml-language-server (VS Code's YAML extension and others), a spec whose first
    line is `# yaml-language-server: $schema=netspec.schema.json` gets completion, hover
    documentation for every key and operator, and checking as you type. The bundled specs
    ship the schema beside them.
    """
    from netspec.spec.schema import schema_text

    text = schema_text()
    if out is None:
        sys.stdout.write(text)
        return
    from netspec.files import write_atomic

    write_atomic(_output(out), text, force)
    _stderr().print(printable(f"wrote {out}"))


@app.command("list")
@_guard
def list_specs(
    format: FormatOpt = Format.table,
) -> None:
    """List the bundled specs (usable by name: `netspec build vgg16`)."""
    import json

    from netspec.spec.load import bundled_dir, bundled_names, read_file

    rows = []
    for name in bundled_names():
        loaded = read_file(bundled_dir() / f"{name}.yaml")
        params = list(loaded.spec.params)
        rows.append(
            {
                "name": name,
                "description": loaded.spec.description or "",
                "extends": loaded.spec.extends,
                "params": params,
            }
        )
    if format is Format.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("Spec", no_wrap=True)
    table.add_column("Description")
    for row in rows:
        table.add_row(str(row["name"]), printable(str(row["description"])))
    _stdout().print(table)


# -- diff ------------------------------------------------------------------------------------


def _side_label(spec: str, sets: list[tuple[str, str]], input_text: str | None) -> str:
    """One side as the command that analyses it alone (``resnet50 --set depths=[…]``)."""
    parts = [spec, *(f"--set {item}" for _, item in sets)]
    if input_text is not None:
        parts.append(f"--input {input_text}")
    return " ".join(parts)


def _open_side(spec: str, sets: list[tuple[str, str]], input_text: str | None, side: str) -> Any:
    """One side of a diff at its (option, ``NAME=VALUE``) values, analysed; an error in it
    says which side it is, and which option gave a value refused."""
    try:
        loaded = _open(spec, [i for _, i in sets], input_text, [o for o, _ in sets])
        loaded.network  # noqa: B018 - analyse now, so that the error is this side's
    except NetspecError as exc:
        note = f"in {side} ({_side_label(spec, sets, input_text)})"
        exc.hint = f"{note}; {exc.hint}" if exc.hint else note
        raise
    return loaded


@app.command()
@_guard
def diff(
    a: Annotated[
        str,
        typer.Argument(
            metavar="A", help="The first spec: a file (.yaml or .ns) or a bundled spec's name."
        ),
    ],
    b: Annotated[
        str | None,
        typer.Argument(
            metavar="B",
            help="The second spec (default: A again, for comparing --set-a with --set-b).",
            show_default=False,
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            metavar="NAME=VALUE",
            help="Override a parameter on both sides (A's and B's --set-a/--set-b win).",
        ),
    ] = None,
    set_a: Annotated[
        list[str] | None,
        typer.Option("--set-a", metavar="NAME=VALUE", help="Override a parameter of A only."),
    ] = None,
    set_b: Annotated[
        list[str] | None,
        typer.Option(
            "--set-b",
            metavar="NAME=VALUE",
            help="Override a parameter of B only: netspec diff resnet50 --set-b depths=[3,4,23,3].",
        ),
    ] = None,
    input: Annotated[
        str | None,
        typer.Option("--input", "-i", metavar="C,H,W", help="Input shape for both sides."),
    ] = None,
    input_a: Annotated[
        str | None, typer.Option("--input-a", metavar="C,H,W", help="Input shape for A only.")
    ] = None,
    input_b: Annotated[
        str | None, typer.Option("--input-b", metavar="C,H,W", help="Input shape for B only.")
    ] = None,
    format: FormatOpt = Format.table,
    macs: MacsOpt = Macs.torchvision,
    depth: Annotated[
        int | None,
        _depth(
            "List differences down to this nesting depth (1: top-level layers only; "
            "deeper containers are compared whole). 0: every layer, also inside blocks only one "
            "side has. By default the table lists every depth and shows a block only one side "
            "has as one row; JSON lists every layer."
        ),
    ] = None,
) -> None:
    """Compare two networks layer by layer: what was added, removed or changed.

    Layers are matched by path (layer3.6.conv2); a layer is changed when its operator or call,
    its input or output shape, its parameters or its MACs differ, and a block or stage when
    anything in it does. The top-level layers (stages) are summarised with their output shape
    and their parameter and MAC deltas, then the differing layers, then the totals. Both sides
    are analysed statically (no torch).

    Exit status, as diff's: 0 the networks are identical, 1 they differ, 2 an error in a spec
    or the command line (an internal error, a bug in netspec, also exits 1 and says so).
    """
    from netspec.backends import diff as diff_backend

    name_b = a if b is None else b
    common = [("--set", item) for item in set_ or []]
    sets_a = [*common, *(("--set-a", item) for item in set_a or [])]
    sets_b = [*common, *(("--set-b", item) for item in set_b or [])]
    side_a = _open_side(a, sets_a, input_a or input, "A")
    side_b = _open_side(name_b, sets_b, input_b or input, "B")
    collapse = not (depth == 0 or (depth is None and format is Format.json))
    result = diff_backend.compare(
        side_a.network, side_b.network, macs.value, depth or None, collapse
    )
    result.a_label = _side_label(a, sets_a, input_a or input)
    result.b_label = _side_label(name_b, sets_b, input_b or input)
    if format is Format.json:
        sys.stdout.write(diff_backend.to_json(result))
    else:
        _stdout().print(diff_backend.table(result))
    if not result.identical:
        raise typer.Exit(1)


# -- sweep -----------------------------------------------------------------------------------


class SweepFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command()
@_guard
def sweep(
    spec: SpecArg,
    grid: Annotated[
        list[str],
        typer.Option(
            "--grid",
            "-g",
            metavar="NAME=V1,V2,…",
            help="A param and its values, e.g. --grid width_mult=0.5,0.75,1.0 (lists in "
            "brackets: --grid depths=[3,4,6,3],[3,4,23,3]). NAME input sweeps the input "
            "shape: input=160,192,224 sets every spatial size, keeping the channels; "
            "input=3x160x160 gives the whole shape. Repeat for more axes.",
        ),
    ],
    set_: SetOpt = None,
    input: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            metavar="C,H,W",
            help="Input shape for every row (the base of --grid input=N).",
        ),
    ] = None,
    format: Annotated[
        SweepFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="Output format (default: that of --out's extension, .csv or .json, else a table).",
            show_default=False,
        ),
    ] = None,
    macs: MacsOpt = Macs.torchvision,
    out: OutOpt = None,
    force: ForceOpt = False,
) -> None:
    """Analyse SPEC for every combination of --grid values: parameters, MACs, output shape and
    activation memory.

    Rows are the cartesian product of the --grid axes in the order given (the last varies
    fastest), each analysed statically as `check` would (no torch). Activation memory is
    the sum of every layer's output, in elements x 4 bytes (float32, batch 1; the input and
    the merges of residual and branched blocks are not counted). A combination the spec
    refuses is a row with its error and the hint check gives under it. Exit 0 when at least
    one row was analysed, 2 when every row failed or the command line is wrong (an unknown
    param, a value that is not a literal).
    """
    from netspec.backends import sweep as sweep_backend
    from netspec.spec.load import load_spec, resolve
    from netspec.spec.params import declared, parse_assignment

    model = load_spec(resolve(spec))
    params = declared(model)
    overrides: dict[str, Any] = {}
    texts: dict[tuple[str, str], str] = {}
    for item in set_ or []:
        name, overrides[name] = parse_assignment(item, params)
        _once(texts, "--set", name, item)
    axes = sweep_backend.parse_grid(grid, params)
    for axis in axes:
        if axis.name in overrides:
            raise NetspecError(
                f"{axis.name} is given by --set and by --grid",
                where=f"--grid {axis.name}",
                hint="give it in one of them",
            )
    path = None
    if out is not None:
        from netspec.files import check_writable

        path = _output(out)
        says = {".csv": SweepFormat.csv, ".json": SweepFormat.json}.get(path.suffix.lower())
        if format is not None and says is not None and format is not says:
            raise NetspecError(
                f"--format {format.value} and --out {_brief(out)}, a {says.value} file, disagree",
                where="--out",
                hint="drop --format (the extension of --out decides), or give --out the "
                "extension of the format",
            )
        format = format or says
        check_writable(path, force)
    format = format or SweepFormat.table
    sweeper = sweep_backend.Sweeper(model, params, overrides, _parse_input(input), macs.value)
    rows = sweeper.run(axes)
    if format is SweepFormat.csv:
        text = sweep_backend.to_csv(axes, rows)
    elif format is SweepFormat.json:
        text = sweep_backend.to_json(model.name or "model", axes, rows, macs.value)
    else:
        text = ""
    if path is None:
        if format is SweepFormat.table:
            _stdout().print(sweep_backend.table(axes, rows))
        else:
            sys.stdout.write(text)
    else:
        from netspec.files import write_atomic

        if format is SweepFormat.table:
            from rich.console import Console

            buffer = io.StringIO()
            Console(file=buffer, width=1000, highlight=False, markup=False).print(
                sweep_backend.table(axes, rows)
            )
            text = "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"
        write_atomic(path, text, force)
    failed = sum(row.error is not None for row in rows)
    note = f"{len(rows)} configuration{'s' if len(rows) != 1 else ''}"
    note += f", {failed} failed" if failed else ""
    if out is not None or failed:
        _stderr().print(printable(f"wrote {out} ({note})" if out is not None else note))
    if failed == len(rows):
        raise typer.Exit(2)


# -- graph -----------------------------------------------------------------------------------


@app.command()
@_guard
def graph(
    spec: SpecArg,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE",
            help="Write to FILE (atomically): .dot or .gv the DOT text; .svg, .png or .pdf a "
            "picture drawn by Graphviz (needs `pip install 'netspec[graph]'` and Graphviz's "
            "`dot` program). Without --out the DOT text goes to stdout.",
        ),
    ] = None,
    depth: Annotated[
        int | None,
        _depth(
            "Draw containers (stages, blocks) as clusters down to this nesting depth and "
            "as one box at it (1: every top-level layer is a box); 0 draws every layer. By "
            "default a network of more than 100 boxes is folded to about 100."
        ),
    ] = None,
    set_: SetOpt = None,
    input: InputOpt = None,
    macs: MacsOpt = Macs.torchvision,
    force: ForceOpt = False,
) -> None:
    """Draw SPEC as a Graphviz diagram (DOT text, or SVG/PNG/PDF with Graphviz).

    Each layer is a box with its path, call, output shape, parameters and MACs; blocks and
    stages are clusters around their layers (folded into one box below --depth); a block's
    parallel branches stand side by side and meet at their merge (add, concat, mul), residual
    and dense connections are edges into it, and every edge is labelled with the shape it
    carries. Analysed statically (no torch).
    """
    from netspec.backends import graph as graph_backend

    path = None
    fmt = "dot"
    if out is not None:
        from netspec.files import check_writable

        path = _output(out)
        fmt = path.suffix.lower().lstrip(".")
        if fmt not in graph_backend.TEXT | graph_backend.PICTURES:
            raise NetspecError(
                f"--out {_brief(out)}: netspec writes .dot, .gv, .svg, .png or .pdf, found "
                f"{'.' + fmt if fmt else 'no extension'}",
                where="--out",
                hint="e.g. --out model.svg (with Graphviz) or --out model.dot",
            )
        check_writable(path, force)
    loaded = _open(spec, set_, input)
    text = graph_backend.dot(loaded.network, depth, macs.value)
    if path is None:
        sys.stdout.write(text)
        return
    from netspec.files import write_atomic

    data: str | bytes = text if fmt in graph_backend.TEXT else graph_backend.render(text, fmt)
    write_atomic(path, data, force)
    _stderr().print(printable(f"wrote {out}"))


# -- report ----------------------------------------------------------------------------------


@app.command()
@_guard
def report(
    spec: SpecArg,
    out: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE",
            help="The HTML file to write (atomically), e.g. report.html.",
        ),
    ],
    set_: SetOpt = None,
    input: InputOpt = None,
    macs: MacsOpt = Macs.torchvision,
    depth: Annotated[
        int | None,
        _depth(
            "Fold the table at this nesting depth when the page opens, and draw the "
            "diagram's containers as one box at it; 0 unfolds every layer. By default a "
            "network of more than 100 rows is folded to about 100."
        ),
    ] = None,
    force: ForceOpt = False,
) -> None:
    """Write SPEC as one self-contained HTML page: the totals, charts of parameters and MACs
    per top-level layer, the diagram, and the per-layer table.

    The table's blocks and stages fold and unfold in the page, and a click on an operator
    shows its arithmetic (as --explain). The diagram is the SVG Graphviz draws (`netspec
    graph`); without Graphviz the page says how to get it and holds the DOT text. The page
    fetches nothing when opened (its CSS and script are inline). Analysed statically (no
    torch).
    """
    from netspec.backends import report as report_backend
    from netspec.files import check_writable, write_atomic

    path = _output(out)
    check_writable(path, force)
    loaded = _open(spec, set_, input)
    page = report_backend.html_page(loaded.network, macs.value, depth)
    write_atomic(path, page.html, force)
    note = f"wrote {out}"
    if page.missing_diagram is not None:
        note += f" without the diagram: {page.missing_diagram}"
    _stderr().print(printable(note))


class _WholeWrites(io.RawIOBase):
    """A file descriptor whose writes are whole or fail. A write to a pipe whose reader
    closes partway returns the part written (a pipe holds 64 KiB), and Python's text layer
    drops the rest without an error: ``netspec check … | head`` exited 0 with its output
    cut. Writing the rest finds no reader, and raises ``BrokenPipeError`` (exit 141)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            done += os.write(self._fd, view[done:])
        return done


def _whole_stdout() -> None:
    """Standard output through :class:`_WholeWrites` (where it is the process's own)."""
    stream = sys.stdout
    if not isinstance(stream, io.TextIOWrapper) or stream is not sys.__stdout__:
        return
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return
    stream.flush()
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(_WholeWrites(fd)),
        encoding=stream.encoding,
        errors=stream.errors,
        line_buffering=stream.line_buffering,
        write_through=stream.write_through,  # python -u, PYTHONUNBUFFERED
    )


def main() -> None:
    """Console entry point."""
    _whole_stdout()
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
