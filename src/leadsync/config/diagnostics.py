"""Findings about a config, from `validate` (offline) or from `plan` (observed facts).

A diagnostic always carries a stable code (scripts grep for it), the YAML path and the
file:line:column, so a reviewer can jump to the line in the pull request.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str  # stable, e.g. "LS101"; documented in the README's table
    severity: Severity
    message: str  # one sentence; never contains a secret value
    path: str  # YAML path, e.g. "accounts.uk.lead_mapping[1].direction"
    file: str
    line: int
    column: int

    def format(self) -> str:
        return (
            f"{self.file}:{self.line}:{self.column}: {self.severity} {self.code}: "
            f"{self.message} [{self.path}]"
        )

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (d.file, d.line, d.column, d.code)
