"""Hypothesis strategies drawn from the app's own OpenAPI document (a small schemathesis)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

# Values that reach deeper than random text: real numbers, feature codes, roles, ids.
INTERESTING = ["101", "102", "600", "*43", "1", "123456789", "", " ", "admin", "agent", "supervisor",
               "../../etc/passwd", "%00", "١٠١", "a" * 300]
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                      st.text(max_size=20))
junk_json = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                         max_leaves=8)


def _text(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    if schema.get("format") == "date":
        return st.one_of(st.dates().map(lambda d: d.isoformat()), st.text(max_size=12))
    limit = min(int(schema.get("maxLength", 40)), 80)
    return st.one_of(st.text(max_size=limit), st.from_regex(r"[0-9]{1,9}", fullmatch=True),
                     st.sampled_from(INTERESTING))


def _integer(schema: dict[str, Any]) -> st.SearchStrategy[int]:
    # Beyond the declared range too: SQLite's INTEGER ends at 2**63.
    return st.one_of(st.integers(schema.get("minimum"), schema.get("maximum")), st.integers(-(2**70), 2**70),
                     st.sampled_from([0, 1, 2, 3, 120, 2**63]))


class Schemas:
    """Turns JSON schemas (with $ref into components) into strategies."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.components = document.get("components", {}).get("schemas", {})

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Follow a $ref."""
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def value(self, schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
        """Mostly schema-shaped values, sometimes junk."""
        schema = self.resolve(schema)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return st.one_of([self.value(s, depth + 1) for s in schema[key]])
        kind = schema.get("type")
        shaped: st.SearchStrategy[Any]
        if kind == "string":
            shaped = _text(schema)
        elif kind == "integer":
            shaped = _integer(schema)
        elif kind == "number":
            shaped = st.floats(allow_nan=False, allow_infinity=False)
        elif kind == "boolean":
            shaped = st.booleans()
        elif kind == "null":
            shaped = st.none()
        elif kind == "array" and depth < 3:
            shaped = st.lists(self.value(schema.get("items", {}), depth + 1), max_size=5)
        elif kind == "object" and depth < 3:
            props = schema.get("properties", {})
            required = set(schema.get("required", []))
            shaped = st.fixed_dictionaries(
                {k: self.value(v, depth + 1) for k, v in props.items() if k in required},
                optional={k: self.value(v, depth + 1) for k, v in props.items() if k not in required},
            )
        else:
            shaped = junk_json
        return st.one_of(shaped, shaped, shaped, junk_json) if depth else shaped


@dataclass(frozen=True)
class Call:
    """One generated request."""

    method: str
    path: str
    params: dict[str, Any]
    body: Any
    send_body: bool


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path template, operation) for every operation in the document."""
    return [(m.upper(), p, op) for p, ops in sorted(document["paths"].items()) for m, op in sorted(ops.items())]


@st.composite
def calls(draw: st.DrawFn, document: dict[str, Any]) -> Call:
    """A request to one operation, with path, query and body drawn from its schema."""
    schemas = Schemas(document)
    method, template, op = draw(st.sampled_from(operations(document)))
    path, params = template, {}
    for p in op.get("parameters", []):
        value = draw(schemas.value(p.get("schema", {})))
        if p["in"] == "path":
            text = str(value) if value is not None else ""
            path = path.replace("{" + p["name"] + "}", quote(text, safe="") or "x")
        elif (p["in"] == "query" and (p.get("required") or draw(st.booleans()))
              and value is not None and not isinstance(value, dict | list)):
            params[p["name"]] = value
    body_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    shaped = schemas.value(body_schema) if body_schema else st.none()
    body = draw(st.one_of(shaped, shaped, shaped, junk_json)) if body_schema else None
    return Call(method, path, params, body, body_schema is not None)
