"""The JSON Schema's errors (``fleet.schema.json``, jsonschema) reworded for people: the key
path and line, what was expected and what YAML read, a "did you mean", and never the value
of a connection setting (it may be a key pasted by mistake).

Messages are built from the key path, its line and a bounded excerpt of the value, never
from jsonschema's ``error.message``: it holds the ``repr`` of the whole value, which YAML
aliases may have expanded. jsonschema's ``uniqueItems`` is replaced: it compares every pair
of items it cannot sort (quadratic: 4,000 mappings in a ``streams`` list took 14 s).

``SchemaChecks`` is the part of ``espkit.fleet.loader.Loader`` that runs the schema; it
records where the schema complained so espkit's own checks stay quiet there.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import jsonschema

from espkit.fleet.checker import Checker, kind_of, under
from espkit.fleet.model import schema
from espkit.fleet.reader import KeyPath, did_you_mean, excerpt

_TYPE_WORDS = {
    "object": "a mapping", "array": "a list", "string": "a string", "number": "a number",
    "integer": "a whole number", "boolean": "true or false", "null": "nothing",
}


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, (dict, list)):
        return kind_of(value)
    if isinstance(value, (str, int, float)):
        return excerpt(value)
    text = str(value)  # a date, bytes (!!binary): bounded
    return text if len(text) <= 80 else text[:77] + "..."


def first_repeat(items: list[Any]) -> tuple[Any] | None:
    """The first item listed twice, in linear time; only strings and plain scalars are
    compared (the schema lists names: anything else is a type error of its own)."""
    seen: set[tuple[str, Any]] = set()
    for item in items:
        if isinstance(item, (dict, list)):
            continue
        key = (type(item).__name__ if isinstance(item, (bool, str)) else "number", item)
        if key in seen:
            return (item,)
        seen.add(key)
    return None


def _unique_items(validator: Any, unique: Any, instance: Any,
                  schema: Any) -> Iterator[jsonschema.ValidationError]:
    if unique and isinstance(instance, list) and first_repeat(instance) is not None:
        yield jsonschema.ValidationError("has non-unique elements")


def _sensitive(path: KeyPath) -> bool:
    """Values under a connection may be keys pasted by mistake: never echoed in messages
    (the provider and region excepted)."""
    return path[:1] == ("connections",) and not (
        len(path) == 3 and path[2] in ("provider", "region")
    )


@functools.cache
def validator() -> jsonschema.Draft202012Validator:
    document = schema()
    # the schema has no recursion: validate against a copy with every $ref inlined, which
    # is several times faster over thousands of customers than resolving refs each time
    cls = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        jsonschema.Draft202012Validator, {"uniqueItems": _unique_items}
    )
    result: jsonschema.Draft202012Validator = cls(_inline(document, document))
    return result


def _inline(node: Any, root: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(item, root) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _inline(v, root) for k, v in node.items() if k not in ("$ref", "$defs")}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return {**_inline(target, root), **out}
    return out


class SchemaChecks(Checker):
    """Runs the schema over the data and adds its errors as problems."""

    def check_schema(self, data: Any) -> None:
        for err in validator().iter_errors(data):
            if self.full:
                break  # the rest would only be counted
            self.schema_problem(err)

    def schema_problem(self, err: jsonschema.ValidationError) -> None:
        path: KeyPath = tuple(err.absolute_path)
        if under(path, self.broken):
            self.bad.add(path)
            return
        kind = err.validator
        value: Any = err.instance
        sub: dict[str, Any] = err.schema if isinstance(err.schema, dict) else {}
        if "propertyNames" in err.relative_schema_path or "propertyNames" in err.schema_path:
            at = (*path, str(value))
            self.bad.add(at)
            hint = sub.get("patternErrorMessage") or "names are letters, digits, '.', '_', '-'"
            self.add(path, f"{excerpt(value)} is not a valid name: {hint}", at=at)
            return
        if kind == "additionalProperties" and isinstance(value, dict):
            allowed = list(sub.get("properties", {}))
            for key in value:
                if key not in allowed:
                    self.bad.add((*path, key))
                    self.add(path, f"unknown key {excerpt(key)}{did_you_mean(key, allowed)}",
                             at=(*path, key))
            return
        if kind == "required" and isinstance(value, dict):
            wanted: Any = err.validator_value
            for key in wanted:
                if key not in value:
                    self.add(path, f"missing required key {key!r}")
            return
        self.bad.add(path)
        self.add(path, self.schema_message(err, path, sub))

    def schema_message(self, err: jsonschema.ValidationError, path: KeyPath,
                       sub: dict[str, Any]) -> str:
        kind = err.validator
        value: Any = err.instance
        limit: Any = err.validator_value
        secret = _sensitive(path)
        shown = "the value" if secret else _show(value)
        if "errorMessage" in sub:
            return f"{sub['errorMessage']}, got {shown}"
        if kind == "type":
            wanted = [limit] if isinstance(limit, str) else list(limit)
            words = " or ".join(_TYPE_WORDS.get(t, t) for t in wanted)
            got = kind_of(value)
            if not secret and not isinstance(value, (dict, list)) and value is not None:
                got += f" ({_show(value)})"
            message = f"expected {words}, got {got}"
            raw = self.raw.get(path)
            if raw is not None and "string" in wanted and not secret:
                message += f'; YAML reads {raw} as {kind_of(value)}: quote it, "{raw}"'
            return message
        if kind == "enum":
            choices = ", ".join(_show(c) for c in limit)
            hint = did_you_mean(value, map(str, limit)) if isinstance(value, str) else ""
            return f"{shown} is not one of {choices}{hint}"
        if kind == "const":
            return f"must be {_show(limit)}, got {shown}"
        if kind == "pattern":
            rule = sub.get("patternErrorMessage") or f"does not match {limit}"
            return rule if secret else f"{shown}: {rule}"
        if kind == "minimum":
            return f"must be at least {limit}, got {shown}"
        if kind == "maximum":
            return f"must be at most {limit}, got {shown}"
        if kind == "exclusiveMinimum":
            return f"must be more than {limit}, got {shown}"
        if kind == "minLength":
            return "must not be empty"
        if kind in ("minItems", "maxItems"):
            if sub.get("minItems") == sub.get("maxItems"):
                return f"needs exactly {limit} items, got {len(value)}"
            more = "at least" if kind == "minItems" else "at most"
            return f"needs {more} {limit} item(s), got {len(value)}"
        if kind == "minProperties":
            return f"needs at least {limit} entry" if limit == 1 else f"needs {limit} entries"
        if kind == "uniqueItems" and isinstance(value, list):
            repeat = first_repeat(value)
            if repeat is not None:
                return f"lists {_show(repeat[0])} twice"
        return f"invalid value ({kind})" if secret else f"{shown}: invalid value ({kind})"


__all__ = [
    "SchemaChecks",
]
