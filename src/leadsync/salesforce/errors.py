"""Errors the Salesforce client raises, and the per-record codes the sync should treat as transient.

Raised errors are about the CALL (the org refused the request, the session died, the daily API
allowance is used up). Per-record problems are never raised: they come back in SaveResult so
one bad record fails alone. Messages never contain tokens, passwords or security tokens.
"""

from __future__ import annotations

from leadsync.errors import AuthError, LimitReached, RemoteError

SYSTEM = "Salesforce"

# Per-record SaveError codes that say "try this record again later", not "this record is bad".
# UNABLE_TO_LOCK_ROW and friends come from Salesforce; RESULT_UNKNOWN and NOT_PROCESSED are the
# client's own words for outcomes it could not learn (no result row; a bulk job that stopped,
# failed or was aborted before reaching the record).
UNABLE_TO_LOCK_ROW = "UNABLE_TO_LOCK_ROW"
RESULT_UNKNOWN = "RESULT_UNKNOWN"
NOT_PROCESSED = "NOT_PROCESSED"
BULK_JOB_FAILED = "BULK_JOB_FAILED"
TRANSIENT_RECORD_CODES = frozenset(
    {
        UNABLE_TO_LOCK_ROW,
        RESULT_UNKNOWN,
        NOT_PROCESSED,
        "SERVER_UNAVAILABLE",
        "UNKNOWN_EXCEPTION",
        "REQUEST_RUNNING_TOO_LONG",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "TXN_SECURITY_METERING_ERROR",
    }
)


def is_transient_code(code: str | None) -> bool:
    """True for per-record codes that mean "leave pending, retry next run"."""
    return code in TRANSIENT_RECORD_CODES


class SalesforceError(RemoteError):
    """A Salesforce call failed (after retries when `transient`), with the API's error code.

    `ambiguous` (always with `transient`): a write that is not idempotent (a create) was sent
    and its outcome is unknown: the connection dropped after the request went out, the answer
    timed out, or Salesforce answered 500/502/504. It may have been applied, so the client does
    not send it again; the caller resolves it from what Salesforce holds (e.g. Leads by email)
    before writing again. A blind retry is how duplicates are born (docs/ARCHITECTURE.md,
    "Exactly once", point 4).
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        transient: bool = False,
        fields: tuple[str, ...] = (),
        detail: str | None = None,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(SYSTEM, message, status=status, code=code)
        self.transient = transient or ambiguous
        self.ambiguous = ambiguous
        self.fields = fields
        self.detail = detail or message  # Salesforce's own message, without our context


class RequestLimitExceeded(LimitReached):
    """REQUEST_LIMIT_EXCEEDED: the org's API allowance is used up. Stop cleanly, never retry."""

    transient = True
    code = "REQUEST_LIMIT_EXCEEDED"

    def __init__(self, message: str) -> None:
        super().__init__(f"{SYSTEM}: {message}")


class SessionExpired(AuthError):
    """The session (access token) is invalid or expired and this auth form cannot renew it."""

    transient = False

    def __init__(self, message: str) -> None:
        super().__init__(SYSTEM, message, status=401, code="INVALID_SESSION_ID")


class LoginFailed(AuthError):
    """Salesforce refused the login (username-password, OAuth or JWT flow)."""

    transient = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(SYSTEM, message, code=code)
