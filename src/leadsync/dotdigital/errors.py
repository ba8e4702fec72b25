"""Errors the Dotdigital client raises; the sync decides what each means for a run.

`transient=True` marks failures that may succeed later (5xx, dropped connections, timeouts,
429 after the retry budget): the sync leaves the affected members pending instead of failing
them. Messages never carry the API password (nor the API username, which config treats as a
secret): they name the account, the endpoint and the call.
"""

from __future__ import annotations

from leadsync.errors import AuthError, LimitReached, RemoteError

SYSTEM = "Dotdigital"


class DotdigitalError(RemoteError):
    """A Dotdigital call failed after retries, or answered with something we cannot read."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(SYSTEM, message, status=status, code=code)
        self.transient = transient


class DotdigitalAuthError(AuthError):
    """401/403: the API user's credentials were refused (or the endpoint is the wrong region)."""

    transient = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(SYSTEM, message, status=status, code="ERROR_INVALID_LOGIN")


class RateLimited(LimitReached):
    """Dotdigital's rate limit (429 or ERROR_APIUSAGE_EXCEEDED) outlasts our retry budget.

    A LimitReached: the sync stops cleanly with everything recorded (exit 3) and the next run
    carries on. `reset_at` is the epoch second the limit resets, when Dotdigital said so.
    """

    transient = True

    def __init__(self, message: str, *, reset_at: float | None = None) -> None:
        super().__init__(f"{SYSTEM}: {message}")
        self.reset_at = reset_at
