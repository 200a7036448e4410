"""The JSON Schema of the YAML format: valid, shipped up to date, documented, and accepting
every bundled spec while refusing structural mistakes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from netspec import ops
from netspec.spec.load import bundled_dir
from netspec.spec.schema import SCHEMA_FILE, json_schema, schema_text

jsonschema = pytest.importorskip("jsonschema")

SPECS = bundled_dir()
SCHEMA = json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"].startswith("https://json-schema.org/draft/2020-12")


def test_the_shipped_schema_is_the_generated_one() -> None:
    shipped = (SPECS / SCHEMA_FILE).read_text("utf-8")
    assert shipped == schema_text(), "run `netspec schema --out netspec/zoo/netspec.schema.json`"


@pytest.mark.parametrize(
    "path", sorted(SPECS.rglob("*.yaml")), ids=lambda p: p.relative_to(SPECS).as_posix()
)
def test_bundled_specs_validate_and_point_at_the_schema(path: Path) -> None:
    text = path.read_text("utf-8")
    errors = [e.message for e in VALIDATOR.iter_errors(yaml.safe_load(text))]
    assert errors == []
    first = text.splitlines()[0]
    relative = Path("../" * (len(path.relative_to(SPECS).parts) - 1)) / SCHEMA_FILE
    assert first == f"# yaml-language-server: $schema={relative.as_posix()}"


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = []
    if isinstance(node, dict):
        for key, value in node.get("properties", {}).items():
            out.append((f"{path}.{key}", value))
        for key, value in node.items():
            out += _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for value in node:
            out += _walk(value, path)
    return out


def test_every_key_has_a_description() -> None:
    missing = [path for path, prop in _walk(SCHEMA) if not prop.get("description")]
    assert missing == []


def test_every_operator_and_attribute_is_described() -> None:
    calls = SCHEMA["$defs"]["MappingCall"]["properties"]
    assert sorted(calls) == ops.names()
    for name, call in calls.items():
        assert call["description"], name
        op = ops.get(name)
        assert op is not None
        assert set(call["properties"]) == {
            info.alias or field for field, info in op.Attrs.model_fields.items()
        }
        for attr, prop in call["properties"].items():
            assert prop["description"] and prop["description"] != attr, f"{name}.{attr}"
    text = json.dumps(SCHEMA)
    for name in ops.names():
        assert name in text


BAD = [
    ({"netspec": 1, "name": "x", "layers": [], "bogus": 1}, "'bogus' was unexpected"),
    ({"netspec": 1, "name": "x", "layers": [{"conv2d": {"out_chanels": 3}}]}, "is not of type"),
    ({"netspec": 1, "name": "x", "layers": [{"for": "i in xs", "dooo": []}]}, "is not of type"),
    ({"netspec": 1, "name": "x y", "layers": []}, "does not match"),
    ({"netspec": 2, "name": "x", "layers": []}, "1 was expected"),
    ({"netspec": 1, "name": "x", "params": {"d": {"default": 1, "dco": "x"}}}, "'dco' was"),
    ({"netspec": 1, "name": "x", "blocks": {"B": {"bdy": []}}, "layers": []}, "'bdy' was"),
    ({"netspec": 1, "name": "x", "layers": [7]}, "not valid"),
]


@pytest.mark.parametrize(("data", "message"), BAD)
def test_structural_mistakes_are_refused(data: dict[str, Any], message: str) -> None:
    errors = list(VALIDATOR.iter_errors(data))
    assert errors
    best = jsonschema.exceptions.best_match(errors)
    assert message in best.message
