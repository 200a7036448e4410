"""The JSON Schema of the YAML format, for editors (yaml-language-server) and validators.

It is pydantic's schema of the spec models, with descriptions from their attribute docstrings,
made operator-aware: the mapping form of a layer call lists every operator with its attributes
and their descriptions, and the text form's description names the operators. Expressions are
strings in the schema (netspec parses them), so the schema checks a spec's structure and keys;
netspec itself checks the rest.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from pydantic import BaseModel

from netspec.spec import docs
from netspec.spec import models as m

SCHEMA_FILE = "netspec.schema.json"
"""The schema's file name beside the bundled specs (``$schema=netspec.schema.json``)."""

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


_FALLBACK_DOCS = {
    "ForEntry": {"do": "The layers to repeat, once per item (one layer or a list)."},
    "RepeatEntry": {
        "do": "The layers to repeat (one layer or a list).",
        "as": "A name for the repetition's index (0, 1, 2…), usable in the layers.",
    },
    "IfEntry": {
        "then": "The layers used when the condition holds (one layer or a list).",
        "else": "The layers used otherwise (one layer or a list).",
    },
    "ParallelEntry": {
        "parallel": "The paths, side by side: each a list of layers (the block's own "
        "children) applied to the entry's input.",
        "merge": "How the paths join: `concat` along channels (default), `add` or `mul`.",
        "split": "When this holds, path i reads part i of the input's channels split into "
        "equal parts (x.chunk(n, 1)).",
    },
}
"""Descriptions of the keys whose models have no docstring for them."""


_SOURCE = r"^[A-Za-z_][A-Za-z0-9_]*(\.[0-9]+)?$"
"""A name ``from:`` reads: a layer, or a child of a sequence by index."""


def _ops() -> list[Any]:
    from netspec import ops

    return [ops.get(name) for name in ops.names()]


def _first_paragraph(text: str | None) -> str:
    return inspect.cleandoc(text or "").split("\n\n")[0].replace("\n", " ")


def _op_description(op: Any) -> str:
    text = _first_paragraph(type(op).__doc__)
    if op.module_name:
        text = f"{text} ({op.module_name})" if text else op.module_name
    return text


def _attrs_schema(op: Any) -> dict[str, Any]:
    """The mapping-form arguments of ``op``: each attribute an expression or a literal."""
    docs.document([op.Attrs])
    properties = {}
    for name, info in op.Attrs.model_fields.items():
        prop = m.Expression.json_schema()
        prop["description"] = info.description or name.replace("_", " ")
        properties[info.alias or name] = prop
    return {
        "type": "object",
        "description": _op_description(op),
        "properties": properties,
        "additionalProperties": False,
    }


def _mapping_call_schema() -> dict[str, Any]:
    ops = _ops()
    return {
        "type": "object",
        "description": "The mapping form of a layer call: `{conv2d: {out_channels: 64, "
        "kernel_size: 3}}`; a block of the spec is called the same way.",
        "minProperties": 1,
        "maxProperties": 1,
        "properties": {op.name: _attrs_schema(op) for op in ops},
        # a block's name: its arguments are the block's params
        "additionalProperties": {"type": "object", "description": "a block's arguments"},
    }


def _models() -> list[type[Any]]:
    return [
        obj
        for obj in vars(m).values()
        if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == m.__name__
    ]


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a YAML spec file."""
    docs.document(_models())
    schema = m.SpecFile.model_json_schema(by_alias=True)
    defs = schema.setdefault("$defs", {})
    defs["MappingCall"] = _mapping_call_schema()
    _allow_single_steps(schema)
    for model, fields in _FALLBACK_DOCS.items():
        for key, text in fields.items():
            prop = defs[model]["properties"][key]
            if not prop.get("description"):
                prop["description"] = text
    defs["NamedEntry"].update(
        minProperties=1,
        maxProperties=2,
        # a second key is `from:`
        **{"if": {"minProperties": 2}, "then": {"required": [m.FROM]}},
        properties={
            m.FROM: {
                "description": "The earlier tensors this entry reads: a layer's name (or "
                "`input`, or a sequence's child by its index, `backbone.4`), instead of the "
                "previous layer's output; or a list of names, which the entry (a merge: "
                "concat, add, mul, crop, resize) joins.",
                "anyOf": [
                    {"type": "string", "pattern": _SOURCE},
                    {
                        "type": "array",
                        "items": {"type": "string", "pattern": _SOURCE},
                        "minItems": 2,
                    },
                ],
            }
        },
    )
    names = ", ".join(op.name for op in _ops())
    _describe_calls(schema, f"Operators: {names}; or a block of the spec, or stage(Block, …).")
    # an entry of a layer list matches exactly one kind, but the kinds' schemas overlap where
    # netspec tells them apart by their keys; anyOf lets editors offer every kind
    schema = json.loads(json.dumps(schema).replace('"oneOf":', '"anyOf":'))
    return {
        "$schema": _DIALECT,
        "$id": SCHEMA_FILE,
        "title": "netspec spec",
        "description": "A network architecture for netspec: params, let, blocks and layers. "
        "Expressions are strings in netspec's expression language.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def _allow_single_steps(schema: dict[str, Any]) -> None:
    """Where a model accepts one layer for a list of one (``then: batchnorm2d``), say so."""
    for model in _models():
        props = schema["$defs"].get(model.__name__, {}).get("properties", {})
        for name, info in model.model_fields.items():
            single = any(getattr(md, "func", None) is m._as_list for md in info.metadata)
            prop = props.get(info.alias or name)
            if single and prop is not None and prop.get("type") == "array":
                items = prop["items"]
                props[info.alias or name] = {
                    "anyOf": [{k: v for k, v in prop.items() if k != "title"}, items],
                    "title": prop.get("title", name),
                    "description": prop.get("description", ""),
                }


def _describe_calls(node: Any, operators: str) -> None:
    """Append the operator list to every text-form layer call's description."""
    if isinstance(node, dict):
        if node.get("pattern") == r"^\s*[A-Za-z_]" and "description" in node:
            if operators not in node["description"]:
                node["description"] = f"{node['description']} {operators}"
        for value in node.values():
            _describe_calls(value, operators)
    elif isinstance(node, list):
        for value in node:
            _describe_calls(value, operators)


def schema_text() -> str:
    """The schema as the JSON text ``netspec schema`` prints and the package ships."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"
