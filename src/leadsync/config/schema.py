"""The JSON Schema of leadsync.yaml: where to find it, and its violations as Diagnostics.

The schema file is the one definition of the format (editors complete from it, `validate`
enforces it). jsonschema's own messages quote the offending value, which could be a secret, so
every message here is written from the error's structure instead, and never quotes a value under
a secret key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from leadsync.config import codes, conformance
from leadsync.config.source import ROOT, Tree, child_path, has_url_credentials, index_path
from leadsync.wording import join_and

if TYPE_CHECKING:  # imported only for a file that does not conform (see check)
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SCHEMA_NAME = "leadsync.schema.json"

_AUTH_FORMS = (
    "access_token | username + password (+ security_token, domain, consumer_key + "
    "consumer_secret, login_url) | username + consumer_key + private_key_file (JWT)"
)
# Which auth form a key belongs to (keys shared by forms, like username, decide nothing).
_AUTH_DISCRIMINATORS = {
    "access_token": 0,
    "password": 1,
    "security_token": 1,
    "consumer_secret": 1,
    "private_key_file": 2,
}
_AUTH_FORM_NAMES = ("access_token", "username + password", "JWT (private_key_file)")

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}

# Hints for `pattern` failures, by the last key of the path.
_PATTERN_HINTS = {
    "salesforce": "a Salesforce field API name such as FirstName or Region__c",
    "datafield": "a datafield name: letters, digits, '_' or '-', at most 20 characters",
    "instance_url": "an http(s) URL such as https://acme.my.salesforce.com",
    "endpoint": "an http(s) URL such as https://r1-api.dotdigital.com",
    "login_url": "an http(s) URL",
    "api_version": 'a quoted version such as "61.0"',
    "domain": "login, test or <mydomain>.my",
    "schema": "a PostgreSQL identifier",
    "in_doubt_grace": "a duration such as 15m, 660s or 1h30m (units s, m, h)",
    "sweep_every": "a duration such as 24h, 12h or 1h30m (units s, m, h)",
}


def schema_file(name: str = SCHEMA_NAME) -> Path:
    """Find a shipped schema: inside the wheel (leadsync/_schema/) or in the repo checkout.

    The package directory is found from this file: importlib.resources gave the same path
    (the answer is a Path, so the package is on the file system) for a start-up import."""
    here = Path(__file__).resolve()
    packaged = here.parents[1] / "_schema" / name
    if packaged.is_file():
        return packaged
    return here.parents[3] / "schema" / name


ENV_REF = {"$ref": "#/$defs/env_ref"}


@lru_cache(maxsize=1)
def editor_schema() -> dict[str, Any]:
    """The schema file as shipped: fields also accept a `${VAR}` reference, so an editor that
    validates the raw YAML (the yaml-language-server line) does not flag `${SF_INSTANCE_URL}`."""
    return json.loads(schema_file().read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def config_schema() -> dict[str, Any]:
    """What the loader checks: the editor schema without its `${VAR}` alternatives, applied to
    the values after substitution (a `${VAR}` must stand for a value that fits the field)."""
    return _strict(editor_schema())


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(v) for v in node]
    if not isinstance(node, dict):
        return node
    branches = node.get("anyOf")
    if isinstance(branches, list) and ENV_REF in branches:
        kept = [b for b in branches if b != ENV_REF]
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        node = {**rest, **kept[0]} if len(kept) == 1 else {**rest, "anyOf": kept}
    return {k: _strict(v) for k, v in node.items()}


@lru_cache(maxsize=1)
def inlined_schema() -> dict[str, Any]:
    """The config schema with its local $refs inlined: same rules, but validation skips the
    reference lookups, which are most of its cost (the property test validates thousands of
    files); and conformance.conforms needs no reference resolution."""
    return _inline(config_schema(), config_schema())


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(inlined_schema())


@lru_cache(maxsize=1)
def _quick_check_applies() -> bool:
    return conformance.supported(inlined_schema())


def _inline(node: Any, root: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/$defs/"):
            node = _resolve(node, root)
        return {k: _inline(v, root) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, root) for v in node]
    return node


# _auth_form reports a violation of the auth oneOf as the errors of the form its keys name.
_KEYED_ONE_OF = {"salesforce.auth": _AUTH_DISCRIMINATORS}


def check(tree: Tree, *, quick: bool = True) -> None:
    """Coerce env-derived scalars to their schema types, then add schema diagnostics to `tree`.

    A file that conforms (conformance.py) has none, and then jsonschema is not imported: about
    0.05 s of CPU on every sync and validate. That includes a file whose unset ${VAR}s
    `validate --allow-unset-env` reads as "" (their errors are dropped below). `quick=False`
    always asks jsonschema (the property test compares both)."""
    schema = config_schema()
    _coerce(tree.data, schema, "", tree, schema)
    # A value whose ${VAR} is unset or malformed already has its diagnostic; the empty text it
    # became would only add noise ("must not be empty") at the same place.
    env_problems = frozenset(
        d.path for d in tree.diagnostics if d.code in (codes.ENV_UNSET, codes.ENV_MALFORMED)
    )
    if (
        quick
        and _quick_check_applies()
        and conformance.conforms(tree.data, inlined_schema(), env_problems, _KEYED_ONE_OF)
    ):
        return
    found = Tree(
        file=tree.file,
        positions=tree.positions,
        key_positions=tree.key_positions,
        from_env=tree.from_env,
        empty_env=tree.empty_env,
    )
    for error in _validator().iter_errors(tree.data):
        _convert(error, found)
    tree.diagnostics.extend(d for d in found.diagnostics if d.path not in env_problems)


# --- coercion -------------------------------------------------------------------------------


def _resolve(node: Any, root: dict[str, Any]) -> dict[str, Any]:
    while isinstance(node, dict) and "$ref" in node and node["$ref"].startswith("#/$defs/"):
        merged = dict(root["$defs"][node["$ref"][len("#/$defs/") :]])
        merged.update({k: v for k, v in node.items() if k != "$ref"})
        node = merged
    return node if isinstance(node, dict) else {}


def _child_schema(schema: dict[str, Any], key: str, root: dict[str, Any]) -> dict[str, Any]:
    props = schema.get("properties", {})
    if key in props:
        return _resolve(props[key], root)
    for branch in schema.get("oneOf", []):
        sub = _resolve(branch, root)
        if key in sub.get("properties", {}):
            return _resolve(sub["properties"][key], root)
    extra = schema.get("additionalProperties")
    return _resolve(extra, root) if isinstance(extra, dict) else {}


def _coerce(data: Any, schema: Any, path: str, tree: Tree, root: dict[str, Any]) -> Any:
    """`${VAR}` values arrive as text; where the schema wants a number or boolean, read it as YAML
    would (so `bulk_threshold: ${BULK:-2000}` works). Mutates containers in place."""
    schema = _resolve(schema, root)
    if isinstance(data, dict):
        for key in list(data):
            sub_path = child_path(path, key)
            data[key] = _coerce(data[key], _child_schema(schema, key, root), sub_path, tree, root)
        return data
    if isinstance(data, list):
        items = _resolve(schema.get("items", {}), root)
        for i, item in enumerate(data):
            data[i] = _coerce(item, items, index_path(path, i), tree, root)
        return data
    if isinstance(data, str) and path in tree.from_env:
        wanted = schema.get("type")
        wanted = {wanted} if isinstance(wanted, str) else set(wanted or ())
        if wanted and "string" not in wanted and wanted & {"integer", "number", "boolean"}:
            try:
                parsed = yaml.safe_load(data) if data.strip() else None
            except yaml.YAMLError:
                return data
            if isinstance(parsed, bool):
                return parsed if "boolean" in wanted else data
            if isinstance(parsed, int | float) and wanted & {"integer", "number"}:
                return parsed
    return data


# --- error conversion ----------------------------------------------------------------------


def _path_of(error: ValidationError) -> str:
    path = ""
    for part in error.absolute_path:
        path = index_path(path, part) if isinstance(part, int) else child_path(path, str(part))
    return path


def _last_key(path: str) -> str:
    tail = path.rsplit(".", 1)[-1]
    return tail.split("[", 1)[0]


def _is_secret(path: str) -> bool:
    return _last_key(path) in codes.SECRET_KEYS or path.endswith("dotdigital.username")


def _key_text(key: Any) -> str:
    """Keys are structure, not data (never secrets, never from the environment)."""
    text = repr(str(key))
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _env_note(tree: Tree, path: str) -> str:
    names = tree.from_env.get(path)
    return f" (value from ${{{names[0]}}})" if names else ""


def _convert(error: ValidationError, tree: Tree) -> None:
    """One schema error -> the diagnostic a person reads (code, sentence, position)."""
    path = _path_of(error)
    kind = error.validator
    value = error.instance
    if value == "" and path in tree.empty_env:
        _empty_env(tree, path)
    elif kind == "pattern" and isinstance(value, str) and has_url_credentials(value):
        tree.add(
            codes.URL_CREDENTIALS,
            "error",
            "the URL carries a user name or password (user:password@host); remove them from "
            "the URL (credentials belong in the auth settings, read from the environment)"
            + _env_note(tree, path),
            path,
            tree.pos(path),
        )
    elif "propertyNames" in error.relative_schema_path:
        key_path = child_path(path, str(value))
        tree.add(
            codes.BAD_VALUE,
            "error",
            f"name {_key_text(value)} must start with a letter and use only letters, digits, "
            "'_' and '-' (at most 64)",
            key_path,
            tree.key_pos(key_path),
        )
    elif kind == "additionalProperties" and isinstance(value, dict):
        _unknown_keys(error, tree, path)
    elif kind in ("required", "dependentRequired") and isinstance(value, dict):
        _missing(error, tree, path)
    elif kind == "oneOf":
        _one_of(error, tree, path)
    else:
        code, message = _value_problem(error, tree, path)
        tree.add(code, "error", message, path, tree.pos(path))


def _unknown_keys(error: ValidationError, tree: Tree, path: str) -> None:
    allowed = sorted(error.schema.get("properties", {}))
    for key in error.instance:
        if key in allowed:
            continue
        key_path = child_path(path, key)
        close = _close_matches(key, allowed)
        hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(allowed)}"
        tree.add(
            codes.UNKNOWN_KEY,
            "error",
            f"unknown key {_key_text(key)}{hint}",
            key_path,
            tree.key_pos(key_path),
        )


def _value_problem(error: ValidationError, tree: Tree, path: str) -> tuple[str, str]:
    """A value of the wrong type, version, option, range, length or format: code and sentence."""
    kind = error.validator
    value = error.instance
    if kind == "type":
        wanted = error.validator_value
        wanted = [wanted] if isinstance(wanted, str) else list(wanted)
        words = " or ".join(_TYPE_WORDS.get(w, w) for w in wanted)
        hint = ""
        if wanted == ["string"] and isinstance(value, int | float) and not isinstance(value, bool):
            hint = '; put it in quotes, e.g. "61.0"' if _last_key(path) == "api_version" else ""
            hint = hint or "; put it in quotes"
        return (
            codes.WRONG_TYPE,
            f"must be {words}, not {_describe(value)}{hint}{_env_note(tree, path)}",
        )
    if kind == "const" and path == "version":
        return (
            codes.BAD_VERSION,
            f"unsupported config version {tree.show(value, path)}; this leadsync reads version 1",
        )
    if kind in ("enum", "const"):
        options = error.validator_value if kind == "enum" else [error.validator_value]
        names = [str(o) for o in options]
        close = _close_matches(str(value), names) if isinstance(value, str) else []
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return codes.BAD_ENUM, f"{tree.show(value, path)} is not one of: {', '.join(names)}{hint}"
    if kind in _RANGE_WORDS or kind in ("minLength", "maxLength", "pattern", "minProperties"):
        return codes.BAD_VALUE, _value_message(tree, kind, error.validator_value, value, path)
    return codes.SCHEMA_OTHER, f"violates the schema rule {kind!r}"


def _empty_env(tree: Tree, path: str) -> None:
    """`export SF_ACCESS_TOKEN=` (set, but to nothing): say so, and name the variable to set."""
    names = tree.empty_env[path]
    subject = (
        f"environment variable {names[0]} is"
        if len(names) == 1
        else f"environment variables {join_and(names)} are"
    )
    hint = _PATTERN_HINTS.get(_last_key(path))
    tree.add(
        codes.ENV_EMPTY,
        "error",
        f"{subject} set but empty; give {'it' if len(names) == 1 else 'them'} a value"
        + (f" ({hint})" if hint else ""),
        path,
        tree.pos(path),
    )


_RANGE_WORDS = {
    "minimum": "at least",
    "maximum": "at most",
    "exclusiveMinimum": "greater than",
    "exclusiveMaximum": "less than",
}


def _value_message(tree: Tree, kind: str, limit: Any, value: Any, path: str) -> str:
    if kind in _RANGE_WORDS:
        return f"must be {_RANGE_WORDS[kind]} {limit}, not {tree.show(value, path)}"
    if kind == "minLength":
        text = "must not be empty" if limit == 1 else f"must be at least {limit} characters"
        return text + _env_note(tree, path)
    if kind == "maxLength":
        return f"is too long (at most {limit} characters){_env_note(tree, path)}"
    if kind == "minProperties":
        return "must have at least one entry"
    hint = _PATTERN_HINTS.get(_last_key(path), "the expected format")
    return f"{tree.show(value, path)} is not {hint}"


def _close_matches(word: str, options: list[str]) -> list[str]:
    """The "did you mean" candidate; difflib is imported only when a config has a mistake."""
    import difflib

    return difflib.get_close_matches(word, options, n=1)


def _missing(error: ValidationError, tree: Tree, path: str) -> None:
    instance = error.instance
    if error.validator == "required":
        pairs: Iterable[tuple[str, str]] = ((r, "") for r in error.validator_value)
    else:  # dependentRequired: {"consumer_key": ["consumer_secret"], ...}
        pairs = (
            (needed, f" (needed with {trigger!r})")
            for trigger, needs in error.validator_value.items()
            if trigger in instance
            for needed in needs
        )
    why = ""
    if "then" in error.relative_schema_path and isinstance(instance.get("backend"), str):
        why = f" (needed with backend {instance['backend']!r})"
    for key, because in pairs:
        if key in instance:
            continue
        tree.add(
            codes.MISSING_KEY,
            "error",
            f"missing required key {key!r}{because or why}",
            path,
            tree.key_pos(path),
        )


def _one_of(error: ValidationError, tree: Tree, path: str) -> None:
    value = error.instance
    if _last_key(path) == "dotdigital":
        if not isinstance(value, dict):
            return  # the sibling "type" error already says it
        both = "endpoint" in value and "region" in value
        tree.add(
            codes.ENDPOINT_XOR_REGION,
            "error",
            "set either endpoint or region, not both"
            if both
            else "set endpoint (e.g. https://r1-api.dotdigital.com) or region (r1, r2, r3)",
            path,
            tree.key_pos(path),
        )
        return
    if path == "salesforce.auth" and _auth_form(error, tree, path):
        return
    tree.add(
        codes.SCHEMA_OTHER,
        "error",
        "does not match exactly one of the allowed forms",
        path or ROOT,
        tree.pos(path),
    )


def _auth_form(error: ValidationError, tree: Tree, path: str) -> bool:
    """Which Salesforce auth form the keys point to, and what is wrong with it. False when
    nothing more precise than "not exactly one form" could be said."""
    value = error.instance
    if not isinstance(value, dict):
        tree.add(
            codes.WRONG_TYPE,
            "error",
            f"must be a mapping with one auth form ({_AUTH_FORMS}), not {_describe(value)}",
            path,
            tree.pos(path),
        )
        return True
    forms = sorted({_AUTH_DISCRIMINATORS[k] for k in value if k in _AUTH_DISCRIMINATORS})
    if len(forms) != 1:
        if forms:
            names = " and ".join(_AUTH_FORM_NAMES[f] for f in forms)
            message = f"mixes auth forms ({names}); use exactly one: {_AUTH_FORMS}"
        else:
            keys = ", ".join(sorted(value)) or "no keys"
            message = f"is not a complete auth form (has {keys}); use exactly one: {_AUTH_FORMS}"
        tree.add(codes.AUTH_FORM, "error", message, path, tree.key_pos(path))
        return True
    before = len(tree.diagnostics)
    for sub in error.context or ():
        if sub.relative_schema_path and sub.relative_schema_path[0] == forms[0]:
            _convert(sub, tree)
    return len(tree.diagnostics) > before
