"""The Python back end: a spec compiled to one self-contained PyTorch source file.

:func:`generate` decides everything (names, statements, layout) in Python; the jinja template
only lays the file out. The same text is what ``netspec codegen`` writes and what
:func:`netspec.backends.module.build` executes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from netspec.backends.python.emit import generate_module
from netspec.backends.python.format import Atom, Bracket, Item, lay_out
from netspec.expr.evaluate import BUILTINS
from netspec.expr.render import literal
from netspec.infer import Network
from netspec.ops.base import HELPERS, Shape, fmt_shape
from netspec.spec import models as m
from netspec.spec.params import declared


@dataclass(frozen=True)
class Generated:
    """Generated source and what it defines."""

    text: str
    class_name: str
    digest: str


@cache
def _template() -> Any:
    import jinja2

    text = resources.files("netspec.backends.python").joinpath("templates/module.py.jinja")
    env = jinja2.Environment(
        autoescape=False, keep_trailing_newline=True, undefined=jinja2.StrictUndefined
    )
    return env.from_string(text.read_text("utf-8"))


def _human(count: int) -> str:
    from netspec.backends.summary import human

    return human(count)


def generate(spec: m.SpecFile, net: Network, input_override: Shape | None = None) -> Generated:
    """Compile ``spec`` to Python source.

    Args:
        spec: the spec.
        net: the spec expanded at the values that become the constructor's defaults (its
            shapes become the ``# ->`` comments).
        input_override: the input shape, when it is not the spec's own.

    Raises:
        NetspecError: the spec cannot be compiled.
    """
    from netspec import __version__

    params = declared(spec)
    classes, module = generate_module(spec, net, params, input_override)
    description = (spec.description or "").strip().rstrip(".")
    top = classes[-1]
    top.docstring = _wrap(f"{net.name}" + (f": {description}." if description else "."), 4)
    rendered = []
    for code in classes:
        lines = lay_out("def __init__", Bracket("(", tuple(code.signature), ")"), " -> None:", 1)
        for stmt in code.init:
            lines += stmt.lines(2)
        if code.forward is not None:
            inputs = "".join(f", {name}: torch.Tensor" for name in code.inputs)
            lines += ["", f"    def forward(self, x: torch.Tensor{inputs}) -> torch.Tensor:"]
            for stmt in code.forward:
                lines += stmt.lines(2)
        rendered.append(
            {
                "name": code.name,
                "base": code.base,
                "docstring": code.docstring if code is top else _wrap(code.docstring, 4),
                "attributes": [f"    {a}" for a in code.attributes],
                "lines": lines,
            }
        )
    helpers = [HELPERS[h].strip("\n") for h in sorted(module.helpers)]
    helpers += list(module.size_texts.values())
    body = "\n".join(line for cls in rendered for line in cls["lines"]) + "\n".join(helpers)
    helpers += [
        b.source.strip("\n")
        for name, b in sorted(BUILTINS.items())
        if b.source and re.search(rf"\b{name}\(", body)
    ]
    t = net.totals
    values = ", ".join(f"{k}={literal(v)}" for k, v in net.params.items())
    text = _template().render(
        title=_wrap(f"{net.name}" + (f": {description}." if description else "."), 0),
        version=__version__,
        source=_wrap(_source_name(spec), 0),
        digest=spec.digest(),
        summary=_wrap(
            f"Input {fmt_shape(net.input)}"
            + (f" ({net.input_dtype} ids)" if net.input_dtype != "float32" else "")
            + f" → output {fmt_shape(net.output)}: "
            f"{t.parameters:,} parameters, {_human(t.macs)} MACs"
            + (f" at {values}." if values else "."),
            0,
        ),
        imports=_imports(body, module.uses_ordered_dict),
        helpers=helpers,
        classes=rendered,
    )
    return Generated(text.rstrip("\n") + "\n", top.name, spec.digest())


def _wrap(text: str, indent: int) -> str:
    """Docstring text, made safe and wrapped to the line length (continuation lines indented).

    Text from a spec (its description, a block's doc, a file name) cannot end the docstring or
    start an escape: backslashes and quotes are escaped and control characters dropped.
    """
    import textwrap

    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    lines = textwrap.wrap(text, width=88 - indent - 3, break_long_words=False)
    # never end a line on a lone backslash of an escape, which wrapping could split
    return ("\n" + " " * indent).join(lines)


def _source_name(spec: m.SpecFile) -> str:
    sources = spec._sources
    if not sources:
        return "a spec"
    return str(sources[0].name).replace("\\", "/").rsplit("/", 1)[-1]


def _imports(body: str, ordered_dict: bool) -> list[str]:
    stdlib = []
    if re.search(r"\bfunctools\.", body):
        stdlib.append("import functools")
    if re.search(r"\bmath\.", body):
        stdlib.append("import math")
    if ordered_dict:
        stdlib.append("from collections import OrderedDict")
    if re.search(r"\bAny\b", body):
        stdlib.append("from typing import Any")
    third = []
    if re.search(r"\btorch\.", body):
        third.append("import torch")
    if re.search(r"\bF\.", body):
        third.append("import torch.nn.functional as F")
    third.append("from torch import nn")
    return stdlib + ([""] if stdlib else []) + third


__all__ = ["Atom", "Generated", "Item", "generate"]
