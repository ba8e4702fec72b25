"""The one retry policy of both HTTP clients: capped exponential backoff with full jitter, the
server's requested pause (Retry-After in both forms), a total deadline, driven by tenacity.

Why full jitter: when many workers (or many runs of the same cron) hit the same transient fault,
"sleep a random time in [0, min(cap, base * 2**attempt)]" spreads the retries out instead of
having them all come back at once (AWS architecture blog, "Exponential Backoff And Jitter").

Why tenacity drives it: its Retrying loop takes stop, wait, sleep and the before-sleep hook as
values, so this module states the policy once and each client only says, per attempt, whether a
failure may pass (`Transient`) and what to raise when the policy gives up. Which failures are
transient, and which writes must never be sent twice, stays in the clients (domain knowledge).
tenacity is imported on the first retried call, not at start-up: `leadsync validate` never
makes one.

The policy is a value: tests pass one with a no-op `sleep` (and, for the deadline, a `clock`)
so nothing in the suite waits.

Every pause is logged at info level (`-v`, `LEADSYNC_LOG=info`) with the caller's account of what
failed (endpoint, HTTP status, request id; see leadsync/logs.py for what may appear in a line):
this is the one place that decides how a retry looks in the log.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar

from leadsync import logs

if TYPE_CHECKING:
    from tenacity import RetryCallState

T = TypeVar("T")
log = logs.get("retry")


class Transient(Exception):
    """Raised by one attempt of `RetryPolicy.run`: this failure may pass if tried again.

    `why` is the retry line's account of it (what failed, where); `requested` the pause the
    server asked for, if any; `error` what `run` raises when the policy gives up (None: giving
    up is no error, `run` returns None and the caller reads what its attempts kept).
    """

    def __init__(
        self, why: str, *, error: BaseException | None = None, requested: float | None = None
    ) -> None:
        super().__init__(why)
        self.why = why
        self.error = error
        self.requested = requested


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long a client retries a transient failure.

    `max_attempts` counts the first try: 5 means one try plus up to four retries.
    `max_wait` is the longest server-requested pause (Retry-After, X-RateLimit-Reset) we are
    willing to sit out; a longer one means "stop the run cleanly" rather than hang for an hour.
    `deadline`: seconds one logical call may spend, attempts and pauses included; a retry whose
    pause would end past it is not made (the last failure is raised instead).
    """

    max_attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    max_wait: float = 60.0
    deadline: float = 600.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    rng: Callable[[], float] = field(default=random.random, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

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
        """Sleep before attempt `attempt + 1`, as `run` does between two attempts; `why` (what
        failed, where) goes to the log."""
        seconds = self.delay(attempt, requested)
        if why:
            _log_retry(why, attempt, self.max_attempts, seconds, requested)
        self.sleep(seconds)

    def run(self, attempt: Callable[[int], T]) -> T | None:
        """`attempt(n)` (n = 1, 2, ...) until it returns, raises anything but `Transient`, or
        the policy gives up (attempts, deadline): then the last Transient's `error` is raised,
        or None returned when it has none."""
        import tenacity  # deferred: start-up cost (module docstring)

        started = self.clock()

        def past_deadline(state: RetryCallState) -> bool:
            return self.clock() - started + (state.upcoming_sleep or 0.0) > self.deadline

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts) | past_deadline,
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(Transient),
            before_sleep=self._before_sleep,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            for trial in retrying:
                with trial:
                    return attempt(trial.retry_state.attempt_number)
        except Transient as gave_up:
            if gave_up.error is None:
                return None
            raise gave_up.error from None
        return None  # pragma: no cover - tenacity either returns, raises or retries

    def _wait(self, state: RetryCallState) -> float:
        return self.delay(state.attempt_number, _failure(state).requested)

    def _before_sleep(self, state: RetryCallState) -> None:
        failure = _failure(state)
        _log_retry(
            failure.why,
            state.attempt_number,
            self.max_attempts,
            state.upcoming_sleep,
            failure.requested,
        )


def no_wait(max_attempts: int = 4) -> RetryPolicy:
    """A policy that retries without sleeping (tests, and callers that pace themselves)."""
    return RetryPolicy(max_attempts=max_attempts, base=0.0, cap=0.0, sleep=lambda _s: None)


def retry_after(
    headers: Mapping[str, str] | None, now: Callable[[], float] = time.time
) -> float | None:
    """Seconds a `Retry-After` header asks for, in either form RFC 9110 allows: delay-seconds
    (`120`) or an HTTP-date (`Wed, 21 Oct 2026 07:28:00 GMT`, measured against `now`, the
    epoch clock); None when absent or unreadable. A date in the past means "now" (0)."""
    value = (headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now())


def _failure(state: RetryCallState) -> Transient:
    exc: Any = state.outcome.exception() if state.outcome is not None else None
    return exc if isinstance(exc, Transient) else Transient(str(exc))


def _log_retry(
    why: str, attempt: int, max_attempts: int, seconds: float, requested: float | None
) -> None:
    log.info(
        "%s; retry %d of %d in %.1f s%s",
        why,
        attempt,
        max_attempts - 1,
        seconds,
        " (as the server asked)" if requested is not None and requested >= 0 else "",
    )
