"""Checking a document against the types of one of snapdiff's JSON Schemas (snapdiff/schemas/).

Only the keywords those schemas use for structure and types: ``type``, ``const``, ``enum``,
``required``, ``properties``, ``additionalProperties: false``, ``items``, ``prefixItems``,
``minItems``, ``minimum``, ``oneOf``, ``anyOf`` and local ``$ref``. JSON types as JSON means
them: ``true`` is not an integer, ``1.0`` is not an index. A list of indexes (a stack) is
checked in a few C-level passes, not one call per item.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


class SchemaMismatch(ValueError):
    """A document that does not have the schema's types: says where and what."""


@cache
def schema(name: str) -> dict[str, Any]:
    text = resources.files("snapdiff").joinpath("schemas", f"{name}.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def check(doc: Any, name: str, *, skip: frozenset[str] = frozenset()) -> None:
    """``SchemaMismatch`` unless ``doc`` has the types schema ``name`` says; top-level members
    named in ``skip`` are left to the caller (checked there in bulk)."""
    root = schema(name)
    _check(doc, root, root, "", skip)


def _is(value: Any, json_type: str) -> bool:
    if isinstance(value, bool):
        return json_type == "boolean"
    return isinstance(value, _TYPES[json_type])


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"unsupported $ref {ref}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def _index_list(value: list[Any], item: dict[str, Any]) -> bool | None:
    """For a list of plain integers >= 0 (an index list): whether it is one, in C-level
    passes; None when ``item`` is not that shape."""
    if item.get("type") != "integer" or set(item) - {"type", "minimum", "description"}:
        return None
    if not {int}.issuperset(map(type, value)):
        return False
    return not value or "minimum" not in item or min(value) >= item["minimum"]


def _check(
    value: Any,
    node: dict[str, Any],
    root: dict[str, Any],
    where: str,
    skip: frozenset[str] = frozenset(),
) -> None:
    node = _resolve(node, root)
    at = where or "the document"
    if "const" in node and (value != node["const"] or type(value) is not type(node["const"])):
        raise SchemaMismatch(f"{at}: must be {node['const']!r}, not {value!r:.40}")
    if "enum" in node and value not in node["enum"]:
        raise SchemaMismatch(f"{at}: must be one of {node['enum']!r}, not {value!r:.40}")
    if "type" in node:
        types = node["type"] if isinstance(node["type"], list) else [node["type"]]
        if not any(_is(value, t) for t in types):
            raise SchemaMismatch(
                f"{at}: must be {' or '.join(types)}, not {_name(value)} {value!r:.40}"
            )
    if "minimum" in node and _is(value, "number") and value < node["minimum"]:
        raise SchemaMismatch(f"{at}: must be at least {node['minimum']}, not {value!r:.40}")
    for key in ("oneOf", "anyOf"):
        if key in node:
            errors = []
            for option in node[key]:
                try:
                    _check(value, option, root, where)
                except SchemaMismatch as exc:
                    errors.append(str(exc))
                else:
                    break
            else:
                raise SchemaMismatch(errors[0] if len(errors) == 1 else f"{at}: {errors[-1]}")
    if isinstance(value, dict):
        props = node.get("properties", {})
        for key in node.get("required", ()):
            if key not in value:
                raise SchemaMismatch(f"{at}: {key!r} is missing")
        if node.get("additionalProperties") is False:
            extra = [k for k in value if k not in props]
            if extra:
                raise SchemaMismatch(f"{at}: unknown member {extra[0]!r:.40}")
        for key, sub in props.items():
            if key in value and key not in skip:
                _check(value[key], sub, root, f"{where}.{key}" if where else key)
    elif isinstance(value, list):
        if len(value) < node.get("minItems", 0):
            raise SchemaMismatch(f"{at}: must have at least {node['minItems']} items")
        prefix = node.get("prefixItems", ())
        for i, (item, sub) in enumerate(zip(value, prefix, strict=False)):
            _check(item, sub, root, f"{at}[{i}]")
        items = node.get("items")
        rest = value[len(prefix) :]
        if items is False and rest:
            raise SchemaMismatch(f"{at}: must have at most {len(prefix)} items")
        if isinstance(items, dict) and rest:
            item = _resolve(items, root)
            fast = _index_list(rest, item)
            if fast is None or not fast:
                for i, element in enumerate(rest, len(prefix)):
                    _check(element, item, root, f"{at}[{i}]")


def _name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    for json_type, types in _TYPES.items():
        if isinstance(value, types):
            return json_type
    return type(value).__name__
