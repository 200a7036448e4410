"""Nothing from a spec reaches generated source except validated names and rendered values.

Hostile strings go into every place a spec's text can reach the generated file. Each spec must
either be refused with a NetspecError, or give source that parses and does only what generated
code does: import torch, define classes, call torch and the classes it defines.
"""

from __future__ import annotations

import ast
from typing import Any

import yaml
from hypothesis import given, note
from hypothesis import strategies as st

import netspec
from netspec.errors import NetspecError

HOSTILE = [
    "class",
    "def",
    "lambda",
    "None",
    "True",
    "import",
    "__init__",
    "__class__",
    "__dict__",
    "__import__('os')",
    "__import__('os').system('echo pwned')",
    "os.system('ls')",
    'a"b',
    "a'b",
    '"""',
    "'''",
    "\\",
    "\\n",
    "a\nb",
    "x = 1",
    "x; import os",
    "# comment",
    "self",
    "nn",
    "torch",
    "F",
    "super",
    "forward",
    "training",
    "to",
    "in",
    "x",
    "ѕelf",
    "ｓｅｌｆ",
    "ﬁ",
    "𝐱",
    "١٢",
    "a-b",
    "a b",
    "",
    "{",
    "}",
    "{i}",
    "0abc",
    "_private",
    "exec",
    "eval",
    "open",
    "print",
    "make_divisible",
    "relu",
    "stage",
    "\x00",
    "\r",
]
hostile = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=10))

ALLOWED_CALLS = {
    "super",
    "range",
    "zip",
    "enumerate",
    "min",
    "max",
    "abs",
    "len",
    "sum",
    "int",
    "float",
    "round",
    "make_divisible",
    "isinstance",
    "dict",
    "getattr",
    "OrderedDict",
    "ValueError",
}


def check_source(text: str) -> None:
    tree = ast.parse(text)
    defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef | ast.FunctionDef)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert [a.name for a in node.names] in (["torch"], ["torch.nn.functional"]), node
        elif isinstance(node, ast.ImportFrom):
            assert node.module in ("torch", "collections", "typing"), node.module
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                assert func.id in ALLOWED_CALLS | defined, func.id
            else:
                assert isinstance(func, ast.Attribute), ast.dump(func)
                root = func
                while isinstance(root, ast.Attribute):
                    root = root.value  # type: ignore[assignment]
                assert isinstance(root, ast.Name | ast.Call), ast.dump(func)
                if isinstance(root, ast.Name):
                    assert root.id in ("nn", "F", "torch", "self") or root.id.isidentifier()
        elif isinstance(node, ast.Attribute):
            dunder = node.attr.startswith("__") and node.attr.endswith("__")
            assert not dunder or node.attr == "__init__", node.attr


def attempt(data: dict[str, Any]) -> None:
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    note(text)
    try:
        source = netspec.loads(text).source()
    except NetspecError as exc:
        assert exc.render().strip()
        return
    note(source)
    check_source(source)


def base(**extra: Any) -> dict[str, Any]:
    return {"netspec": 1, "name": "t", "input": [3, 8, 8], **extra}


@given(value=hostile)
def test_description_and_docs(value: str) -> None:
    attempt(
        base(
            description=value,
            blocks={"B": {"doc": value, "body": [{"c": "conv2d(4, 1)"}]}},
            layers=[{"b": "B"}],
        )
    )


@given(value=hostile)
def test_names(value: str) -> None:
    attempt(base(params={value: 1}, layers=[{"c": "conv2d(4, 1)"}]))
    attempt(base(let={value: 2}, layers=[{"c": "conv2d(4, 1)"}]))
    attempt(base(layers=[{value: "conv2d(4, 1)"}]))
    attempt(base(name=value, layers=[{"c": "conv2d(4, 1)"}]))
    attempt(base(class_name=value, layers=[{"c": "conv2d(4, 1)"}]))
    attempt(base(blocks={value: {"body": [{"c": "conv2d(4, 1)"}]}}, layers=[{"b": value}]))
    attempt(
        base(
            blocks={"B": {"params": [value], "body": [{"c": "conv2d(4, 1)"}]}},
            layers=[{"b": "B(1)"}],
        )
    )
    attempt(base(blocks={"B": {"branches": {value: "conv2d(4, 1)"}}}, layers=[{"b": "B"}]))
    attempt(
        base(
            blocks={
                "B": {
                    "body": [{"c": "conv2d(3, 1)"}],
                    "shortcut": {"project": ["conv2d(3, 1)"], "name": value},
                }
            },
            layers=[{"b": "B"}],
        )
    )
    attempt(base(layers=[{"s": [{"for": "i in range(2)", "do": [{f"x{value}{{i}}": "relu"}]}]}]))


@given(value=hostile)
def test_values(value: str) -> None:
    quoted = repr(value)
    attempt(base(params={"p": value}, layers=[{"c": "conv2d(4, 1)"}]))
    attempt(base(let={"w": value}, layers=[{"c": "conv2d(4, 1)"}]))
    attempt(base(let={"w": quoted}, layers=[{"c": "conv2d(4, 1)"}]))
    attempt(base(layers=[{"c": f"conv2d(4, 1, padding_mode={quoted})"}]))
    attempt(base(layers=[{"g": f"gelu(approximate={quoted})"}]))
    attempt(base(layers=[{"c": f"conv2d({value}, 1)"}]))
    attempt(
        base(params={"p": value}, layers=[{"d": "dropout(0.5)"}, "flatten", {"f": "linear(2)"}])
    )


def test_source_check_catches_injection() -> None:
    """The checker above is not vacuous."""
    for evil in (
        "import os\n",
        "x = __import__('os')\n",
        "open('f')\n",
        "class A:\n    y = A.__dict__\n",
    ):
        try:
            check_source(evil)
        except AssertionError:
            continue
        raise AssertionError(f"not caught: {evil!r}")
