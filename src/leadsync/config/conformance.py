"""Whether plain data conforms to the config schema: a yes or no, without jsonschema.

Why: importing jsonschema (with referencing, attrs and its format checkers) is about 0.05 s of
CPU, a sixth of a scheduled sync and a third of `validate`, and a file that conforms needs no
error from it. So the loader asks this module first and builds jsonschema's validator only for
a file that does not conform, to turn each violation into a diagnostic (config/schema.py).

The one rule: `conforms` may say no where jsonschema says yes (that costs the import, nothing
else), never yes where jsonschema says no. Each keyword is applied as jsonschema applies it
(JSON Schema 2020-12); where that is not certain, the answer is no: a value of a type YAML does
not make plainly (a date, a subclass), or an `enum`/`const` comparing an integer with a float.
Certain means certain at every depth, because `if` and `oneOf` turn a subschema's no into a
yes: an uncertain case anywhere makes the whole answer no (`_Unsure`). A schema with a keyword
this module does not know is `supported() == False`, and the loader then always asks
jsonschema. Local `$ref`s must be inlined first (schema.py does that once). A property test
compares both answers on thousands of mutated configs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from leadsync.config.source import child_path, index_path

# Keywords that only describe (no effect on validity).
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples", "deprecated"}
)
# Keywords whose value is one subschema / a list of them / a mapping of names to them.
_ONE = frozenset({"items", "propertyNames", "if", "then", "else", "additionalProperties"})
_MANY = frozenset({"anyOf", "oneOf"})
_NAMED = frozenset({"properties"})
# Keywords whose value is data (never descended into as a schema).
_DATA = frozenset(
    {
        "type",
        "enum",
        "const",
        "required",
        "dependentRequired",
        "pattern",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minItems",
        "maxItems",
        "minProperties",
    }
)
_KNOWN = _ANNOTATIONS | _ONE | _MANY | _NAMED | _DATA

# The JSON types, each as the one Python type a YAML safe load (or JSON) gives for it.
_PLAIN = (dict, list, str, int, float, bool, type(None))
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


class _Unsure(Exception):
    """jsonschema's answer for this value is not certain here: the whole answer is no."""


def supported(schema: Any) -> bool:
    """Every keyword of `schema`, at every depth, is one `conforms` applies exactly."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict) or not set(schema) <= _KNOWN:
        return False
    wanted = schema.get("type", [])
    if not set([wanted] if isinstance(wanted, str) else wanted) <= set(_TYPES):
        return False
    for key, value in schema.items():
        if key in _ONE and not supported(value):
            return False
        if key in _MANY and not (isinstance(value, list) and all(map(supported, value))):
            return False
        if key in _NAMED and not (
            isinstance(value, dict) and all(supported(v) for v in value.values())
        ):
            return False
    return True


def conforms(
    value: Any,
    schema: Any,
    excused: frozenset[str] = frozenset(),
    keyed: Mapping[str, Mapping[str, int]] | None = None,
) -> bool:
    """True only if jsonschema finds no violation in `value` (of a `supported` schema) other
    than at a path in `excused` (paths as diagnostics spell them: `accounts.uk.lead_mapping[0]`).

    An excused path is one whose errors the loader drops anyway (its `${VAR}` is unset and
    already has its diagnostic, so `validate` without secrets reads ""): what the schema
    says of the value there does not matter, as long as it is not the condition of an `if`
    or a branch of `anyOf`/`oneOf` above it (whose errors land on the parent's path).
    Except a `oneOf` at a path in `keyed`, whose violation the loader reports as the errors
    of the one branch that the object's keys name (keyed[path][key] -> branch index, as the
    Salesforce auth forms): there, that branch is walked with its excused paths, and every
    other branch must fail without them.
    """
    try:
        return _Walk(excused, keyed or {}).conforms(value, schema, "" if excused else None)
    except _Unsure:
        return False


class _Walk:
    """One answer's walk; `path` is None where nothing below can be excused."""

    def __init__(self, excused: frozenset[str], keyed: Mapping[str, Mapping[str, int]]) -> None:
        self.excused = excused
        self.keyed = keyed

    def conforms(self, value: Any, schema: Any, path: str | None) -> bool:
        if path is not None and path in self.excused:
            return True
        if type(value) not in _PLAIN:
            raise _Unsure
        if isinstance(schema, bool):
            return schema
        kind = type(value)
        if "type" in schema and not _has_type(value, schema["type"]):
            return False
        if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
            return False
        if "const" in schema and not _same(value, schema["const"]):
            return False
        if kind is str and not _string_ok(value, schema):
            return False
        if kind in (int, float) and not _number_ok(value, schema):
            return False
        if kind is list and not self._array_ok(value, schema, path):
            return False
        if kind is dict and not self._object_ok(value, schema, path):
            return False
        return self._combinations_ok(value, schema, path)

    def _array_ok(self, value: list[Any], schema: dict[str, Any], path: str | None) -> bool:
        if "minItems" in schema and len(value) < schema["minItems"]:
            return False
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return False
        items = schema.get("items", True)
        if items is False:  # its error lands on the list's path, never excused here
            return not value
        return all(
            self.conforms(item, items, None if path is None else index_path(path, i))
            for i, item in enumerate(value)
        )

    def _object_ok(self, value: dict[Any, Any], schema: dict[str, Any], path: str | None) -> bool:
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            return False
        if any(key not in value for key in schema.get("required", ())):
            return False
        for trigger, needed in schema.get("dependentRequired", {}).items():
            if trigger in value and any(key not in value for key in needed):
                return False
        names = schema.get("propertyNames", True)
        # a name's errors land on the object's path (the key is the instance there)
        if names is not True and not all(self.conforms(key, names, None) for key in value):
            return False
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            sub = properties.get(key, extra)
            if sub is False:  # an unknown key's error lands on the object's path
                return False
            at = None if path is None else child_path(path, str(key))
            if not self.conforms(item, sub, at):
                return False
        return True

    def _combinations_ok(self, value: Any, schema: dict[str, Any], path: str | None) -> bool:
        # a branch's errors do not surface at their own paths: nothing is excused inside
        if "anyOf" in schema and not any(self.conforms(value, s, None) for s in schema["anyOf"]):
            return False
        if "oneOf" in schema and not self._one_of_ok(value, schema["oneOf"], path):
            return False
        if "if" in schema:
            branch = "then" if self.conforms(value, schema["if"], None) else "else"
            return self.conforms(value, schema.get(branch, True), path)
        return True

    def _one_of_ok(self, value: Any, branches: list[Any], path: str | None) -> bool:
        names = self.keyed.get(path or "") if path is not None else None
        named = {names[k] for k in value if k in names} if names and type(value) is dict else ()
        if len(named) != 1:
            return sum(self.conforms(value, s, None) for s in branches) == 1
        (chosen,) = named
        others = (s for i, s in enumerate(branches) if i != chosen)
        return self.conforms(value, branches[chosen], path) and not any(
            self.conforms(value, s, None) for s in others
        )


def _has_type(value: Any, wanted: str | list[str]) -> bool:
    names = [wanted] if isinstance(wanted, str) else wanted
    kind = type(value)
    # bool is a subclass of int in Python, not a number in JSON: compare exact types
    return any(kind in _TYPES.get(name, ()) for name in names)


def _same(value: Any, expected: Any) -> bool:
    """jsonschema's equality: True is not 1; 1 and 1.0 (equal there) are left uncertain."""
    if type(value) is not type(expected):
        if {type(value), type(expected)} == {int, float}:
            raise _Unsure
        return False
    if isinstance(value, dict):
        return value.keys() == expected.keys() and all(_same(value[k], expected[k]) for k in value)
    if isinstance(value, list):
        return len(value) == len(expected) and all(map(_same, value, expected))
    return bool(value == expected)


def _string_ok(value: str, schema: dict[str, Any]) -> bool:
    if "minLength" in schema and len(value) < schema["minLength"]:
        return False
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return False
    return "pattern" not in schema or re.search(schema["pattern"], value) is not None


def _number_ok(value: float, schema: dict[str, Any]) -> bool:
    # jsonschema's comparisons exactly (a NaN passes them all, as it does there)
    if "minimum" in schema and value < schema["minimum"]:
        return False
    if "maximum" in schema and value > schema["maximum"]:
        return False
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        return False
    return "exclusiveMaximum" not in schema or not value >= schema["exclusiveMaximum"]
