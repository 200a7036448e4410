"""Every example in docs/language.md runs: each spec loads and checks in its format, the YAML
and .ns versions of each example are the same spec, the expression table holds, and the
ResNet-50 shown is the bundled one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import netspec
from netspec.errors import NetspecError
from netspec.expr.evaluate import Scope, evaluate
from netspec.source.parser import parse_expr
from netspec.spec import models as m
from netspec.spec.load import bundled_dir

DOC = Path(__file__).parent.parent / "docs" / "language.md"
TEXT = DOC.read_text("utf-8")
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)
BLOCKS = [(lang, body) for lang, body in FENCE.findall(TEXT)]
SPECS = [(lang, body) for lang, body in BLOCKS if lang in ("yaml", "ns")]


def _pairs() -> list[tuple[str, str]]:
    """Each YAML example with the .ns example that follows it."""
    out = []
    for (lang, body), (next_lang, next_body) in zip(SPECS, SPECS[1:], strict=False):
        if lang == "yaml" and next_lang == "ns":
            out.append((body, next_body))
    return out


def _title(body: str) -> str:
    match = re.search(r"^name:? (\w+)", body, re.M)
    return match.group(1) if match else body[:20]


def test_the_page_has_examples_in_both_formats() -> None:
    assert len(_pairs()) >= 6
    langs = [lang for lang, _ in SPECS]
    assert langs == ["yaml", "ns"] * (len(langs) // 2)  # each example in both formats


@pytest.mark.parametrize(("yaml_text", "ns_text"), _pairs(), ids=[_title(y) for y, _ in _pairs()])
def test_each_example_checks_and_is_the_same_spec_in_both_formats(
    yaml_text: str, ns_text: str
) -> None:
    from_yaml = netspec.loads(yaml_text, name="example.yaml")
    from_ns = netspec.loads(ns_text, name="example.ns")
    from_yaml.check()
    from_ns.check()
    assert m.canonical(from_yaml.spec) == m.canonical(from_ns.spec)
    assert from_yaml.summary() == from_ns.summary()


def test_resnet50_is_the_bundled_one() -> None:
    shown = [body for _, body in SPECS if _title(body) == "resnet50"]
    assert len(shown) == 2
    assert shown[0] == (bundled_dir() / "resnet50.yaml").read_text("utf-8")
    assert shown[1] == (bundled_dir() / "resnet50.ns").read_text("utf-8")


ROW = re.compile(r"^\| `([^`]+)` \| `([^`]+)` \|$", re.M)
EXPRESSIONS = ROW.findall(TEXT.split("## Expressions", 1)[1].split("##", 1)[0])


def _value(text: str) -> object:
    value = evaluate(parse_expr(text), Scope({}))
    return _listify(value)


def _listify(value: object) -> object:
    if isinstance(value, tuple):
        return [_listify(v) for v in value]
    return value


@pytest.mark.parametrize(("expression", "value"), EXPRESSIONS)
def test_expression_table(expression: str, value: str) -> None:
    assert _value(expression) == _value(value)
    assert type(_value(expression)) is type(_value(value))


def test_expression_table_is_long_enough() -> None:
    assert len(EXPRESSIONS) >= 15


def test_the_error_shown_is_the_error_netspec_gives() -> None:
    shown = next(body for lang, body in BLOCKS if lang == "text" and "error: model.ns" in body)
    text = "netspec 1\nname x\ninput [1, 8, 8]\nlayers {\n    conv: conv2d(4, 3\n    relu\n}\n"
    with pytest.raises(NetspecError) as info:
        netspec.loads(text, name="model.ns")
    assert shown.strip() == f"error: {info.value.render()}".strip()


def test_each_refused_spec_shown_gives_the_error_shown_after_it() -> None:
    """A spec shown as text (it does not check) followed by the error ``check`` gives."""
    pairs = [
        (spec, error)
        for (lang, spec), (next_lang, error) in zip(BLOCKS, BLOCKS[1:], strict=False)
        if lang == next_lang == "text" and spec.startswith("netspec: 1\n")
    ]
    assert pairs
    for spec, error in pairs:
        with pytest.raises(NetspecError) as info:
            netspec.loads(spec, name="model.yaml").check()
        assert error.strip() == f"error: {info.value.render()}".strip()


def test_readme_examples_check_and_its_ns_example_is_the_yaml_one() -> None:
    readme = (DOC.parent.parent / "README.md").read_text("utf-8")
    blocks = FENCE.findall(readme)
    yaml_text = next(body for lang, body in blocks if lang == "yaml")
    ns_text = next(body for lang, body in blocks if lang == "ns")
    from_yaml = netspec.loads(yaml_text, name="readme.yaml")
    from_ns = netspec.loads(ns_text, name="readme.ns")
    assert from_yaml.summary()["parameters"] == from_ns.summary()["parameters"] == 138_357_544
    # the .ns version leaves out the description only
    assert m.canonical(from_yaml.spec.model_copy(update={"description": None})) == m.canonical(
        from_ns.spec
    )


def test_every_promise_in_the_readme_names_tests_that_exist() -> None:
    """The README's promises each cite the tests that hold netspec to them: every one named
    exists (``file::name`` or a name of the last file named; ``*`` ends a prefix)."""
    readme = (DOC.parent.parent / "README.md").read_text("utf-8")
    section = readme.split("## Promises", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| **")]
    assert len(rows) >= 8
    tests = Path(__file__).parent
    for row in rows:
        cited = row.rsplit("|", 2)[1]
        names = re.findall(r"`([^`]+)`", cited)
        assert names, row
        current: str | None = None
        for name in names:
            if "::" in name or name.endswith(".py"):
                current, _, name = name.partition("::")
                assert (tests / current).is_file(), current
                if not name:
                    continue
            assert current is not None, row
            source = (tests / current).read_text("utf-8")
            pattern = rf"^def {re.escape(name.rstrip('*'))}" + ("" if name.endswith("*") else r"\(")
            assert re.search(pattern, source, re.M), f"{current}::{name}"
