"""An account's optional rate limit (seed key `rate_limit`) and its hourly call count."""

from __future__ import annotations

from datetime import datetime, timedelta

from leadsync.emulator.dotdigital.models.base import AccountState


class RateLimit:
    """Fixed window of `requests` per `per_seconds`, on the (skewable) server clock."""

    def __init__(self, requests: int, per_seconds: float) -> None:
        self.limit = requests
        self.per_seconds = per_seconds
        self.window_start: datetime | None = None
        self.used = 0

    def take(self, now: datetime) -> tuple[bool, dict[str, str]]:
        span = timedelta(seconds=self.per_seconds)
        if self.window_start is None or now >= self.window_start + span:
            self.window_start, self.used = now, 0
        reset = self.window_start + span
        allowed = self.used < self.limit
        if allowed:
            self.used += 1
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.used)),
            "X-RateLimit-Reset": str(int(reset.timestamp() + 0.999)),
            "X-RateLimit-Scope": "emulator",
        }
        return allowed, headers


class CallCount(AccountState):
    """The calls of the last hour (the account-info route reports them)."""

    def count_call(self, now: datetime) -> None:
        self.calls.append(now)
        while self.calls and self.calls[0] < now - timedelta(hours=1):
            self.calls.popleft()
