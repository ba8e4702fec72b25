"""`leadsync validate`: load the config offline and render its diagnostics (text or JSON).

Kept apart from cli.py so tests (and the property test) can run it in-process; it never touches
the network or the state, by construction: it only calls the loader.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace

from leadsync.config import codes
from leadsync.config.diagnostics import Diagnostic, has_errors
from leadsync.config.loader import load

EXIT_OK = 0
EXIT_ERROR = 1


@dataclass(frozen=True, slots=True)
class Outcome:
    stdout: str  # one diagnostic per line, or a JSON list
    summary: str  # one human line for stderr (empty when the file could not be read)
    exit_code: int


def exit_code(diagnostics: list[Diagnostic]) -> int:
    return EXIT_ERROR if has_errors(diagnostics) else EXIT_OK


def summarize(path: str, diagnostics: list[Diagnostic]) -> str:
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    if not errors:
        tail = f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""
        return f"{path}: valid{tail}"
    return (
        f"{path}: {errors} error{'s' if errors != 1 else ''}, "
        f"{warnings} warning{'s' if warnings != 1 else ''}"
    )


def render_text(diagnostics: list[Diagnostic]) -> str:
    return "".join(d.format() + "\n" for d in diagnostics)


def render_json(diagnostics: list[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diagnostics], indent=2, ensure_ascii=False) + "\n"


def allow_unset_env(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Unset `${VAR}`s become warnings: a pre-commit hook or a fork's CI has no secrets to set."""
    return [replace(d, severity="warning") if d.code == codes.ENV_UNSET else d for d in diagnostics]


def run(
    path: str,
    *,
    as_json: bool = False,
    env: Mapping[str, str] | None = None,
    unset_env_ok: bool = False,
) -> Outcome:
    diagnostics = load(path, env).diagnostics
    if unset_env_ok:
        diagnostics = allow_unset_env(diagnostics)
    out = render_json(diagnostics) if as_json else render_text(diagnostics)
    unreadable = any(d.code == codes.FILE_UNREADABLE for d in diagnostics)
    summary = "" if unreadable else summarize(path, diagnostics)  # the one line says it all
    return Outcome(out, summary, exit_code(diagnostics))
