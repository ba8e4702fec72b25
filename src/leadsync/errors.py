"""One exception hierarchy for leadsync. The CLI turns these into one clear line and exit 1."""

from __future__ import annotations


class LeadsyncError(Exception):
    """An error the user can act on; its message is shown as is (never with a traceback)."""

    exit_code = 1


class ConfigError(LeadsyncError):
    """The config cannot be used; `diagnostics` says where."""

    def __init__(self, message: str, diagnostics: list | None = None) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics or []


class RemoteError(LeadsyncError):
    """A remote API answered in a way we cannot continue from (after retries)."""

    def __init__(
        self, system: str, message: str, *, status: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(f"{system}: {message}")
        self.system = system
        self.status = status
        self.code = code


class LimitReached(LeadsyncError):
    """An API budget or rate limit stops the run cleanly; everything done so far is recorded."""

    exit_code = 3


class AuthError(RemoteError):
    """Credentials were refused (and could not be renewed)."""
