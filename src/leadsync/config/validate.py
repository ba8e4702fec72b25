"""`leadsync validate`: load the config offline; views/diagnostics.py renders the diagnostics.

Kept apart from cli.py so tests (and the property test) can run it in-process; it never touches
the network or the state, by construction: it only calls the loader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from leadsync.config import codes
from leadsync.config.diagnostics import Diagnostic, has_errors
from leadsync.config.loader import load
from leadsync.views import Outcome
from leadsync.views.diagnostics import validate_outcome

EXIT_OK = 0
EXIT_ERROR = 1


def exit_code(diagnostics: list[Diagnostic]) -> int:
    return EXIT_ERROR if has_errors(diagnostics) else EXIT_OK


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
    unreadable = any(d.code == codes.FILE_UNREADABLE for d in diagnostics)
    return validate_outcome(
        path, diagnostics, exit_code(diagnostics), as_json=as_json, unreadable=unreadable
    )
