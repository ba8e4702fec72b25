"""`sync --jobs N`: up to N accounts at once; this module schedules them on threads.

What a thread runs: for the CLI, each thread supervises one worker process (sync/workers.py:
the account is synced there, so leadsync's CPU uses every core; the thread hands it accounts,
forwards stop requests and merges results). An embedding that passes its own client objects to
`run_sync` (which a process cannot rebuild) gets the account synced on the thread itself; then
what must not be shared between threads, each gets its own (AccountLoop._open_worker):
a state store connection and a Salesforce client (a requests session, its call count and last
exchange). Either way each account keeps its own lock.

One account's failure ends the run for all, as in a run of one account after another: the
first worker that fails sets the `Halt`, which the others see at their next checkpoint (they
finish and record the batch in flight, like a SIGTERM) and no worker takes a new account.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from leadsync.errors import LeadsyncError, LimitReached

R = TypeVar("R")  # what one worker owns (its connections)


@dataclass
class Halt:
    """Set once, by the first worker whose account ends the run for everyone."""

    reason: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(self, reason: str) -> None:
        with self._lock:
            if self.reason is None:
                self.reason = reason

    def __call__(self) -> str | None:
        return self.reason


@dataclass
class PoolFailures:
    """What the workers raised, in the order they raised it."""

    failures: list[BaseException] = field(default_factory=list)

    def first(self, *, stop_types: tuple[type[BaseException], ...]) -> BaseException | None:
        """The failure that decides the run: a bug, then an error, then an API limit, then a
        stop request (a worker stopped by the Halt only echoes another worker's failure)."""

        def rank(exc: BaseException) -> int:
            if isinstance(exc, stop_types):
                return 3
            if isinstance(exc, LimitReached):
                return 2
            return 1 if isinstance(exc, LeadsyncError) else 0

        return min(self.failures, key=rank, default=None)


@dataclass
class Pool(Generic[R]):
    """Runs `work(item, worker)` for every item, on up to `jobs` threads.

    `open_worker()` gives a thread what it owns (called on that thread), `close_worker` gives
    it back. With jobs == 1 the work runs on the caller's thread with `inline`, the caller's
    own connections: a run of one account after another, exactly as before.
    """

    jobs: int
    open_worker: Callable[[], R]
    close_worker: Callable[[R], None]
    inline: R
    halt: Halt = field(default_factory=Halt)

    def run(self, items: Sequence[str], work: Callable[[str, R], None]) -> PoolFailures:
        outcome = PoolFailures()
        queue = _Queue(items)
        threads = min(self.jobs, len(items))
        if threads <= 1:
            self._drain(queue, work, self.inline, outcome)
            return outcome
        workers = [
            threading.Thread(
                target=contextvars.copy_context().run,  # log context (run id) follows
                args=(self._thread, queue, work, outcome),
                name=f"leadsync-sync-{n}",
            )
            for n in range(threads)
        ]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        return outcome

    def _thread(self, queue: _Queue, work: Callable[[str, R], None], outcome: PoolFailures) -> None:
        try:
            worker = self.open_worker()
        except Exception as exc:  # re-raised on the caller's thread
            self._failed(exc, outcome)
            return
        try:
            self._drain(queue, work, worker, outcome)
        finally:
            self.close_worker(worker)

    def _drain(
        self, queue: _Queue, work: Callable[[str, R], None], worker: R, outcome: PoolFailures
    ) -> None:
        for item in queue.take(self.halt):
            try:
                work(item, worker)
            except Exception as exc:  # re-raised on the caller's thread
                self._failed(exc, outcome)
                return

    def _failed(self, exc: BaseException, outcome: PoolFailures) -> None:
        outcome.failures.append(exc)
        self.halt.set(str(exc) or type(exc).__name__)


class _Queue:
    """The accounts still to take, in order; shared by the workers."""

    def __init__(self, items: Sequence[str]) -> None:
        self._items = list(items)
        self._next = 0
        self._lock = threading.Lock()

    def take(self, halt: Halt) -> Iterator[str]:
        while True:
            with self._lock:
                if halt() is not None or self._next >= len(self._items):
                    return
                item = self._items[self._next]
                self._next += 1
            yield item
