"""sync/pool.py: the worker threads of `sync --jobs N`, without any I/O."""

from __future__ import annotations

import threading
import time

from leadsync.errors import LeadsyncError, LimitReached
from leadsync.sync.engine import StopRequested
from leadsync.sync.pool import Pool, PoolFailures


def _pool(jobs: int, opened: list[int] | None = None) -> Pool[int]:
    counter = iter(range(1, 100))
    lock = threading.Lock()

    def open_worker() -> int:
        with lock:
            n = next(counter)
        if opened is not None:
            opened.append(n)
        return n

    return Pool(jobs=jobs, open_worker=open_worker, close_worker=lambda _w: None, inline=0)


def test_every_item_once_and_each_thread_on_its_own_worker() -> None:
    seen: list[tuple[str, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(3)  # three items are in work at the same moment

    def work(item: str, worker: int) -> None:
        if item in ("a", "b", "c"):
            barrier.wait(timeout=30)
        with lock:
            seen.append((item, worker))

    opened: list[int] = []
    outcome = _pool(3, opened).run(["a", "b", "c", "d", "e"], work)
    assert outcome.failures == []
    assert sorted(item for item, _ in seen) == ["a", "b", "c", "d", "e"]
    assert sorted(opened) == [1, 2, 3] and {w for _, w in seen} <= {1, 2, 3}


def test_one_job_runs_inline_on_the_callers_connections() -> None:
    seen: list[tuple[str, int, str]] = []
    outcome = _pool(1).run(
        ["a", "b"], lambda item, w: seen.append((item, w, threading.current_thread().name))
    )
    here = threading.current_thread().name
    assert outcome.failures == [] and seen == [("a", 0, here), ("b", 0, here)]


def test_the_first_failure_halts_the_others() -> None:
    pool = _pool(2)
    done: list[str] = []

    def work(item: str, _worker: int) -> None:
        if item == "a":
            raise LeadsyncError("account a: refused")
        deadline = time.monotonic() + 30
        while pool.halt() is None and time.monotonic() < deadline:
            time.sleep(0.001)  # polling for the other thread's failure: synchronisation
        done.append(item)

    outcome = pool.run(["a", "b", "c", "d"], work)
    assert pool.halt() == "account a: refused"
    assert [str(e) for e in outcome.failures] == ["account a: refused"]
    assert done in ([], ["b"])  # b was in work already; no worker takes c or d once halted


def test_the_failure_that_decides_the_run() -> None:
    stop = StopRequested("stopped")
    limit = LimitReached("limit")
    error = LeadsyncError("error")
    bug = KeyError("bug")
    pick = PoolFailures([stop, limit]).first
    assert pick(stop_types=(StopRequested,)) is limit
    assert PoolFailures([stop, limit, error]).first(stop_types=(StopRequested,)) is error
    assert PoolFailures([error, bug]).first(stop_types=(StopRequested,)) is bug
    assert PoolFailures([stop]).first(stop_types=(StopRequested,)) is stop
    assert PoolFailures().first(stop_types=(StopRequested,)) is None
