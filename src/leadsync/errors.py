"""One exception hierarchy for leadsync. The CLI turns these into one clear line and exit 1.

Each class carries `error_code`, the stable word a script reads from the JSON error document
(`{"status": "error", "code": ...}`, see `error_document` and the README's table), so every
error has exactly one code, decided where the error is defined.
"""

from __future__ import annotations

from typing import Any

# Client error codes that mean "the server could not be reached at all" (refused, DNS, timeout,
# TLS): not an answer from the API, so CI should read them as connection_failed.
CONNECTION_CODES = frozenset({"CONNECTION_ERROR", "TLS_ERROR"})


class LeadsyncError(Exception):
    """An error the user can act on; its message is shown as is (never with a traceback)."""

    exit_code = 1
    error_code = "error"
    run_id: str | None = None  # set by `sync` when the error ends a run that had started


class UsageError(LeadsyncError):
    """Arguments that name nothing known or do not go together."""

    error_code = "usage"


class ConfigError(LeadsyncError):
    """The config cannot be used; `diagnostics` says where."""

    error_code = "config_invalid"

    def __init__(self, message: str, diagnostics: list | None = None) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics or []


class RemoteError(LeadsyncError):
    """A remote API answered in a way we cannot continue from (after retries).

    `transient`: it may succeed later (5xx, dropped connections, timeouts, locks); the sync
    keeps the records pending. `ambiguous`: a write was sent and its outcome is unknown, so it
    must be settled (looked up) before anything is sent again. The clients set both.
    """

    error_code = "remote_error"
    transient: bool = False
    ambiguous: bool = False

    def __init__(
        self, system: str, message: str, *, status: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(f"{system}: {message}")
        self.system = system
        self.status = status
        self.code = code
        if code in CONNECTION_CODES:
            self.error_code = "connection_failed"


class LimitReached(LeadsyncError):
    """An API budget or rate limit stops the run cleanly; everything done so far is recorded."""

    exit_code = 3
    error_code = "limit_reached"


class AuthError(RemoteError):
    """Credentials were refused (and could not be renewed)."""

    error_code = "auth_refused"


def error_document(
    code: str,
    message: str,
    *,
    command: str | None,
    exit_code: int,
    run_id: str | None = None,
    diagnostics: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What a command asked for `--json` prints on stdout when it fails: one object, one shape.

    The keys are fixed (README, "JSON error document"); `diagnostics` only for config_invalid.
    """
    doc: dict[str, Any] = {
        "status": "error",
        "command": command,
        "code": code,
        "message": message,
        "run_id": run_id,
        "exit_code": exit_code,
    }
    if diagnostics:
        doc["diagnostics"] = diagnostics
    return doc


def document_of(exc: LeadsyncError, command: str | None) -> dict[str, Any]:
    """The error document of a LeadsyncError (its code, message, run id and diagnostics)."""
    diagnostics = [
        d.to_json() for d in getattr(exc, "diagnostics", None) or () if hasattr(d, "to_json")
    ]
    return error_document(
        exc.error_code,
        str(exc),
        command=command,
        exit_code=exc.exit_code,
        run_id=exc.run_id,
        diagnostics=diagnostics,
    )
