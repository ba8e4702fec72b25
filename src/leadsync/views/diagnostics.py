"""Diagnostics as `leadsync validate` prints them: one per line (file:line:col: severity CODE:
message [yaml.path]) or a JSON list on stdout, and one summary line on stderr."""

from __future__ import annotations

import json

from leadsync.config.diagnostics import Diagnostic
from leadsync.views import Outcome


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


def validate_outcome(
    path: str, diagnostics: list[Diagnostic], exit_code: int, *, as_json: bool, unreadable: bool
) -> Outcome:
    """The diagnostics on stdout; the summary on stderr, unless the file could not be read
    (then its one diagnostic says it all)."""
    out = render_json(diagnostics) if as_json else render_text(diagnostics)
    summary = "" if unreadable else summarize(path, diagnostics) + "\n"
    return Outcome(out, summary, exit_code)
