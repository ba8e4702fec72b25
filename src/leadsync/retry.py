"""Capped exponential backoff with full jitter, shared by the Dotdigital and Salesforce clients.

Why full jitter: when many workers (or many runs of the same cron) hit the same transient fault,
"sleep a random time in [0, min(cap, base * 2**attempt)]" spreads the retries out instead of
having them all come back at once (AWS architecture blog, "Exponential Backoff And Jitter").

The policy is a value: tests pass one with a no-op `sleep` so nothing in the suite waits.

Every pause is logged at info level (`-v`, `LEADSYNC_LOG=info`) with the caller's account of what
failed (endpoint, HTTP status, request id; see leadsync/logs.py for what may appear in a line):
this is the one place that decides how a retry looks in the log.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from leadsync import logs

log = logs.get("retry")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long a client retries a transient failure.

    `max_attempts` counts the first try: 5 means one try plus up to four retries.
    `max_wait` is the longest server-requested pause (Retry-After, X-RateLimit-Reset) we are
    willing to sit out; a longer one means "stop the run cleanly" rather than hang for an hour.
    """

    max_attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    max_wait: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    rng: Callable[[], float] = field(default=random.random, compare=False)

    def backoff(self, attempt: int) -> float:
        """Full-jitter delay before retry number `attempt` (1 = first retry)."""
        ceiling = min(self.cap, self.base * (2 ** max(attempt - 1, 0)))
        return self.rng() * ceiling

    def delay(self, attempt: int, requested: float | None = None) -> float:
        """Seconds before the next attempt: the server's requested pause if any, else backoff."""
        if requested is not None and requested >= 0:
            return min(requested, self.max_wait)
        return self.backoff(attempt)

    def pause(self, attempt: int, requested: float | None = None, *, why: str = "") -> None:
        """Sleep before the next attempt; `why` (what failed, where) goes to the log."""
        seconds = self.delay(attempt, requested)
        if why:
            log.info(
                "%s; retry %d of %d in %.1f s%s",
                why,
                attempt,
                self.max_attempts - 1,
                seconds,
                " (as the server asked)" if requested is not None and requested >= 0 else "",
            )
        self.sleep(seconds)

    def allows(self, attempt: int) -> bool:
        """True while another attempt fits the budget (`attempt` = attempts made so far)."""
        return attempt < self.max_attempts


def no_wait(max_attempts: int = 4) -> RetryPolicy:
    """A policy that retries without sleeping (tests, and callers that pace themselves)."""
    return RetryPolicy(max_attempts=max_attempts, base=0.0, cap=0.0, sleep=lambda _s: None)
