"""A small JSON Schema checker (the subset docs/plan.schema.json uses), for tests.

Supports: type, enum, const, properties, required, additionalProperties (false),
items, anyOf, minimum, maximum, minItems, uniqueItems, pattern. Returns the list
of violations (empty = valid). Not a general validator.
"""

from __future__ import annotations

import re
from typing import Any

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def _is_type(v: Any, t: str) -> bool:
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "null":
        return v is None
    return isinstance(v, _TYPES[t])


def errors(schema: dict[str, Any], v: Any, path: str = "$") -> list[str]:
    out: list[str] = []
    if "anyOf" in schema:
        if all(errors(s, v, path) for s in schema["anyOf"]):
            out.append(f"{path}: matches none of anyOf")
        return out
    if "type" in schema and not _is_type(v, schema["type"]):
        return [f"{path}: expected {schema['type']}, got {type(v).__name__}"]
    if "const" in schema and v != schema["const"]:
        out.append(f"{path}: expected const {schema['const']!r}")
    if "enum" in schema and v not in schema["enum"]:
        out.append(f"{path}: {v!r} not in enum")
    if "minimum" in schema and _is_type(v, "number") and v < schema["minimum"]:
        out.append(f"{path}: {v} < minimum {schema['minimum']}")
    if "maximum" in schema and _is_type(v, "number") and v > schema["maximum"]:
        out.append(f"{path}: {v} > maximum {schema['maximum']}")
    if "pattern" in schema and isinstance(v, str) and not re.search(schema["pattern"], v):
        out.append(f"{path}: {v!r} does not match {schema['pattern']}")
    if isinstance(v, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            if k not in v:
                out.append(f"{path}: missing {k!r}")
        for k, sub in v.items():
            if k in props:
                out += errors(props[k], sub, f"{path}.{k}")
            elif schema.get("additionalProperties") is False:
                out.append(f"{path}: unexpected property {k!r}")
    if isinstance(v, list):
        if "minItems" in schema and len(v) < schema["minItems"]:
            out.append(f"{path}: fewer than {schema['minItems']} items")
        if schema.get("uniqueItems") and len({repr(x) for x in v}) != len(v):
            out.append(f"{path}: items not unique")
        if "items" in schema:
            for i, x in enumerate(v):
                out += errors(schema["items"], x, f"{path}[{i}]")
    return out
