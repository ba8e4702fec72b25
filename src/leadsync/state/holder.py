"""Who is asking for a lock: the facts a LockHeld message shows to the person waiting."""

from __future__ import annotations

import getpass
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence

from leadsync.state.codec import utc_now
from leadsync.state.model import LockInfo


def os_user() -> str:
    """The OS user; containers often have no passwd entry or $USER, so fall back to the uid."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


# The pid a lock names: this process's, except in a `sync --jobs N` worker process, which names
# its runner (the process an operator started, sees in `ps` and signals; sync/worker.py).
RUNNER_PID: int | None = None


def this_holder(name: str, purpose: str) -> LockInfo:
    return LockInfo(
        name=name,
        purpose=purpose,
        pid=RUNNER_PID or os.getpid(),
        host=socket.gethostname(),
        user=os_user(),
        since=utc_now(),
    )


def lock_order(names: Sequence[str]) -> list[str]:
    """Distinct names in one global order: every process takes locks in the same sequence."""
    if isinstance(names, str):  # a bare "apply" would otherwise become five one-letter locks
        raise TypeError("lock names must be a sequence of strings, not a string")
    ordered = sorted(set(names))
    if not ordered:
        raise ValueError("lock() needs at least one lock name")
    return ordered


WAIT_NOTICE_SECONDS = 5.0
_log = logging.getLogger("leadsync.lock")


class WaitNotice:
    """Tells a waiting user, every few seconds, who holds the lock and how long we still wait.

    A CI job that sits silently behind another runner's lock looks hung; one line on stderr
    (logger `leadsync.lock`) every WAIT_NOTICE_SECONDS says it is waiting, for whom and until
    when. The first line comes as soon as a wait begins.
    """

    def __init__(self, timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._deadline = clock() + max(0.0, timeout)
        self._next: float | None = None

    def tick(self, holder: Callable[[], LockInfo]) -> None:
        now = self._clock()
        if now >= self._deadline or (self._next is not None and now < self._next):
            return
        self._next = now + WAIT_NOTICE_SECONDS
        info = holder()
        left = self._deadline - now
        _log.warning(
            "waiting for state lock %r held by %s@%s (pid %s, %s) since %s; "
            "giving up in %.0f s (--lock-timeout)",
            info.name,
            info.user,
            info.host,
            info.pid,
            info.purpose,
            info.since,
            left,
        )
