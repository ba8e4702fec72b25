"""Load and validate an emulator seed file (YAML) against the shipped JSON Schema.

The whole-file schema (emulator/seed.schema.json) composes the two services' section schemas
(emulator/dotdigital/seed.schema.json, emulator/salesforce/seed.schema.json) by `$ref`, so each
service owns the shape of its own section. A bad seed file gives ONE message naming the file,
line and key, raised as ConfigError: the CLI prints it and exits 1 without a traceback.

This module deliberately does not reuse leadsync.config (docs/ARCHITECTURE.md, invariant 9:
the emulators share no code with leadsync's own config/clients/sync).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from leadsync.errors import ConfigError

SEED_SCHEMA_ID = "urn:leadsync:emulator:seed"
SERVICE_SCHEMA_IDS = {
    "dotdigital": "urn:leadsync:emulator:dotdigital-seed",
    "salesforce": "urn:leadsync:emulator:salesforce-seed",
}
DEMO_NAME = "demo.yaml"
_PACKAGE = "leadsync.emulator"


def load_seed(path: str | Path | None) -> dict[str, Any]:
    """Read, parse and validate a seed file; None means the packaged demo data set."""
    if path is None:
        text = resources.files(_PACKAGE).joinpath(DEMO_NAME).read_text(encoding="utf-8")
        source = f"<built-in {DEMO_NAME}>"
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"emulator seed file {source}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"emulator seed file {source}: cannot read it: {exc}") from None
    return parse_seed(text, source)


def parse_seed(text: str, source: str = "<seed>") -> dict[str, Any]:
    """Parse YAML text and validate it; errors name `source`, the line and the key."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"emulator seed file {where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"emulator seed file {source}: invalid YAML: {exc}") from None
    if node is None:
        raise ConfigError(
            f"emulator seed file {source}: the file is empty; expected a mapping with "
            "'dotdigital' and/or 'salesforce'"
        )
    duplicate = _first_duplicate_key(node, ())
    if duplicate is not None:
        key_path, key_node = duplicate
        raise ConfigError(
            f"emulator seed file {source}:{key_node.start_mark.line + 1}: "
            f"{_format_path(key_path)}: duplicate key"
        )
    _raise_first_error(data, source, node)
    return data


def validate_seed(data: Any, source: str = "<seed dict>") -> dict[str, Any]:
    """Validate an already-parsed seed (e.g. a dict built by a test); no line numbers then."""
    _raise_first_error(data, source, None)
    return data


def seed_schema() -> dict[str, Any]:
    """The top-level schema (for docs and tests); service sections are `$ref`s."""
    return json.loads(_read_package_text(_PACKAGE, "seed.schema.json"))


# -- validation ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    top = seed_schema()
    registry: Registry = Registry()
    for service, uri in SERVICE_SCHEMA_IDS.items():
        contents = _service_schema(service)
        resource = Resource.from_contents(contents, default_specification=DRAFT202012)
        registry = registry.with_resource(uri, resource)
        own_id = resource.id()
        if own_id and own_id != uri:
            # The service's schema may resolve its internal refs against its own $id.
            registry = registry.with_resource(own_id, resource)
    cls = jsonschema.validators.validator_for(top, default=jsonschema.Draft202012Validator)
    return cls(top, registry=registry.crawl())


def _service_schema(service: str) -> dict[str, Any]:
    """A service's section schema; a permissive object until the service ships one."""
    try:
        text = _read_package_text(f"{_PACKAGE}.{service}", "seed.schema.json")
    except (FileNotFoundError, ModuleNotFoundError):
        return {"type": "object"}
    return json.loads(text)


def _read_package_text(package: str, name: str) -> str:
    return resources.files(package).joinpath(name).read_text(encoding="utf-8")


def _raise_first_error(data: Any, source: str, root: yaml.Node | None) -> None:
    validator = _validator()
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is None:
        return
    key_path = tuple(error.absolute_path)
    message = error.message
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = _unexpected_keys(error.instance, error.schema)
        if extra:
            key_path = (*key_path, extra[0])
            message = f"unknown key {extra[0]!r}" + _allowed_hint(error.schema)
    elif error.validator == "required":
        message = error.message.replace("is a required property", "is required")
    line = _line_of(root, key_path) if root is not None else None
    where = f"{source}:{line}" if line else source
    shown = _format_path(key_path) or "(top level)"
    raise ConfigError(f"emulator seed file {where}: {shown}: {message}")


def _unexpected_keys(instance: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    props = schema.get("properties", {})
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    return [k for k in instance if k not in props and not any(p.search(str(k)) for p in patterns)]


def _allowed_hint(schema: dict[str, Any]) -> str:
    props = sorted(schema.get("properties", {}))
    return f" (allowed: {', '.join(props)})" if props and len(props) <= 20 else ""


# -- YAML node positions -------------------------------------------------------------------


def _children(node: yaml.Node) -> Iterator[tuple[Any, yaml.Node, yaml.Node]]:
    """(key, key_node, value_node) for mappings; (index, item, item) for sequences."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            yield _scalar_key(key_node), key_node, value_node
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield i, item, item


def _scalar_key(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        if node.tag == "tag:yaml.org,2002:str":
            return node.value
        loader = yaml.SafeLoader("")
        try:
            return loader.construct_object(node)
        except yaml.YAMLError:
            return node.value
        finally:
            loader.dispose()
    return object()  # complex keys never match a JSON path element


def _line_of(root: yaml.Node, key_path: tuple[Any, ...]) -> int:
    """1-based line of the deepest node along key_path (the key's line for a mapping entry)."""
    node = root
    line = root.start_mark.line + 1
    for element in key_path:
        for key, key_node, value_node in _children(node):
            if key == element and type(key) is type(element):
                line = key_node.start_mark.line + 1
                node = value_node
                break
        else:
            break
    return line


def _first_duplicate_key(
    node: yaml.Node, key_path: tuple[Any, ...]
) -> tuple[tuple[Any, ...], yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = _scalar_key(key_node)
            try:
                if key in seen:
                    return (*key_path, key), key_node
                seen.add(key)
            except TypeError:
                pass
            found = _first_duplicate_key(value_node, (*key_path, key))
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _first_duplicate_key(item, (*key_path, i))
            if found:
                return found
    return None


def _format_path(key_path: tuple[Any, ...]) -> str:
    out = ""
    for element in key_path:
        if isinstance(element, int):
            out += f"[{element}]"
        else:
            text = str(element)
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
                text = json.dumps(text, ensure_ascii=False)
            out += f".{text}" if out else text
    return out
