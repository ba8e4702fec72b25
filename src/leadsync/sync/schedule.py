"""`leadsync sync --every 15m`: the run repeated on a schedule, and stopping on SIGTERM/SIGINT.

Why a loop inside leadsync rather than cron alone: a container or systemd service wants one
long-lived process that stops cleanly when told to. The contract:

- SIGTERM or SIGINT during a run: the batch in flight finishes and is recorded, the run's report
  is saved and printed, the process exits 0 (the engine checks the stop flag at checkpoints).
- The same signal while waiting for the next run: exit 0 at once.
- A second signal: the process dies by that signal right away (like `kill -9`, which the
  ledger's write-ahead makes safe: the next run resolves whatever was in flight).

Runs start on a fixed rate (every interval from the previous START); a run longer than the
interval is followed by the next one at once, never by a backlog of missed runs.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from leadsync.duration import DurationTooLong, parse_duration
from leadsync.errors import LeadsyncError, UsageError

# A schedule faster than this spends the org's API allowance on empty runs; one slower than a
# month is a typo (and past what the wait can represent on every platform).
MIN_INTERVAL = 10
MAX_INTERVAL = 31 * 24 * 3600


class BadInterval(UsageError):
    """--every was given a value that is not a duration like 90s, 15m, 1h or 1h30m."""


def parse_interval(text: str) -> float:
    """'15m' -> 900.0. Units s, m, h, combinable ('1h30m'); a bare number is refused, since
    guessing its unit is how a schedule ends up 60 times too fast."""
    try:
        seconds = float(parse_duration(text))
    except DurationTooLong:
        seconds = MAX_INTERVAL + 1.0
    except ValueError:
        raise BadInterval(
            f"--every {text!r}: expected a duration such as 90s, 15m, 1h or 1h30m "
            "(units s, m, h; a number alone has no unit)"
        ) from None
    if seconds <= 0:
        raise BadInterval(f"--every {text!r}: the interval must be longer than zero")
    if seconds < MIN_INTERVAL:
        raise BadInterval(
            f"--every {text!r}: too short; the shortest interval is {MIN_INTERVAL}s "
            "(each run costs API calls in both systems)"
        )
    if seconds > MAX_INTERVAL:
        raise BadInterval(
            f"--every {text!r}: too long; the longest interval is 31 days (744h); "
            "for rarer runs use a scheduler such as cron"
        )
    return float(seconds)


class StopFlag:
    """Set by SIGTERM/SIGINT; read by the engine at checkpoints and by the wait between runs.

    The handler only sets a threading.Event (never waited on, so it cannot deadlock) and writes
    one byte to a self-pipe; the wait between runs selects on that pipe, so a signal that
    arrives at any moment, even just before the wait starts, ends the wait at once.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_name: str | None = None
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)

    def __call__(self) -> str | None:
        """The stop hook the engine calls: the reason once stopping, else None."""
        return self.signal_name if self._event.is_set() else None

    def is_set(self) -> bool:
        return self._event.is_set()

    def request(self, name: str) -> None:
        self.signal_name = name
        self._event.set()
        with contextlib.suppress(OSError):  # a full pipe already wakes the waiter
            os.write(self._write, b"\0")

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True as soon as a stop is requested."""
        deadline = time.monotonic() + max(0.0, seconds)
        while not self._event.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            select.select([self._read], [], [], left)
        return True

    def close(self) -> None:
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


@contextlib.contextmanager
def stop_on_signals(flag: StopFlag, on_first: Callable[[str], None]) -> Iterator[StopFlag]:
    """SIGTERM/SIGINT set `flag` (and call `on_first` once); a second one kills the process
    by that signal. Outside the main thread (where handlers cannot be installed) no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if flag.is_set():  # second signal: stop now; the next run resolves what was in flight
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        flag.request(name)
        on_first(name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        flag.close()


@dataclass
class LoopOutcome:
    exit_code: int
    runs: int


def run_every(
    interval: float,
    run_once: Callable[[], int],
    flag: StopFlag,
    *,
    on_error: Callable[[LeadsyncError], None],
    on_wait: Callable[[float], None] = lambda _s: None,
    fatal: tuple[type[LeadsyncError], ...] = (),
) -> LoopOutcome:
    """Call `run_once` every `interval` seconds until a stop is requested.

    A run's own exit code (0, 3 limit, 4 incomplete or failed/skipped records) never ends the
    loop: the next run continues the work (records left pending are retried first). A LeadsyncError from a run (network down, lock held, ...) is
    reported through `on_error` and the loop goes on, since the next run may well succeed;
    errors of the `fatal` types (a broken config: no run can succeed until a human fixes it)
    end the loop with exit 1, so a supervisor notices.
    """
    runs = 0
    while True:
        started = time.monotonic()
        try:
            run_once()
        except fatal:
            raise
        except LeadsyncError as exc:
            on_error(exc)
        runs += 1
        if flag.is_set():
            return LoopOutcome(0, runs)
        left = max(0.0, started + interval - time.monotonic())
        on_wait(left)
        if flag.wait(left):
            return LoopOutcome(0, runs)
