"""Load leadsync.yaml: read, parse with positions, interpolate, check the schema and the rules.

`load` never raises on bad input: everything the user can fix comes back as a Diagnostic, so
`validate` can show all findings at once and the property test can call it with any bytes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from leadsync.config import files, rules, schema
from leadsync.config.build import build
from leadsync.config.diagnostics import Diagnostic, has_errors, sort_key
from leadsync.config.model import Config
from leadsync.config.source import parse, read_file
from leadsync.errors import ConfigError


@dataclass(frozen=True, slots=True)
class LoadResult:
    config: Config | None  # None whenever there is an error
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def load(path: str, env: Mapping[str, str] | None = None) -> LoadResult:
    """Load and check the config at `path`; `env` defaults to the process environment."""
    raw, problem = read_file(path)
    if problem is not None or raw is None:
        return LoadResult(None, [problem] if problem else [])
    return load_bytes(raw, path, env)


def load_text(
    text: str, source: str = "leadsync.yaml", env: Mapping[str, str] | None = None
) -> LoadResult:
    """Same as `load` for text in memory (tests, editors); `source` names it in diagnostics."""
    return load_bytes(text.encode("utf-8", "surrogatepass"), source, env)


def load_bytes(raw: bytes, source: str, env: Mapping[str, str] | None = None) -> LoadResult:
    tree = parse(raw, source, os.environ if env is None else env)
    if tree.ok:
        schema.check(tree)
        rules.check(tree)
        files.check(tree)
    diagnostics = sorted(set(tree.diagnostics), key=_order)
    config = None if has_errors(diagnostics) else build(tree)
    return LoadResult(config, diagnostics)


def _order(d: Diagnostic) -> tuple[object, ...]:
    return (*sort_key(d), d.path, d.message)


def load_or_raise(path: str, env: Mapping[str, str] | None = None) -> Config:
    """The typed config, or ConfigError carrying every diagnostic (its message lists the errors)."""
    result = load(path, env)
    if result.config is None:
        errors = [d for d in result.diagnostics if d.severity == "error"]
        noun = "error" if len(errors) == 1 else "errors"
        lines = "\n".join(d.format() for d in errors)
        raise ConfigError(
            f"{path}: invalid config ({len(errors)} {noun})\n{lines}", result.diagnostics
        )
    return result.config
