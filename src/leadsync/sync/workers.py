"""`sync --jobs N`: the worker processes of a run, seen from the parent (the runner).

Why processes: leadsync's own CPU (parsing answers, mapping, the ledger) is a large share of a
many-account run, and threads of one process run Python one at a time (the GIL). A worker
process per job lets that CPU use every core (bench/README.md, "Fourth round").

How: the thread pool of sync/pool.py still schedules (one supervising thread per worker, the
same queue, the same Halt); a supervising thread hands its worker one account at a time over a
pipe, forwards a stop request (the parent's SIGTERM/SIGINT, or the Halt of a failed account)
while the account runs, and merges the account's result into the parent's Run, so the report
is the one a run on threads gives. A worker that dies without answering ends the run like a
failed account (WorkerLost); its writes in doubt are settled by the next run (sync/recovery.py).

Start method: `fork` when no other thread runs (the usual case: `--json`, logs, CI, a
container), else `forkserver`. Fork is nearly free (no interpreter start, no import: a worker
is ready in milliseconds) and safe only single-threaded: a thread running at fork time may hold
a lock (logging's, an allocator's) that the child inherits held forever. So the workers are
forked from the main thread before any supervising thread starts. What a forked child
inherits it never uses: it opens its own store, Salesforce session and Dotdigital clients
(sync/worker.py), and multiprocessing ends it with os._exit, so no inherited connection is
closed or finalised from the child (a PostgreSQL connection closed there would end the
runner's session). With a thread running (on a terminal the progress bar refreshes on one),
the forkserver: one fresh interpreter per run, started with nothing open, that imports the
leadsync modules the runner has loaded (`preload`) and forks the workers from its single
thread. `spawn` would start and import a whole interpreter per worker.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any

from leadsync.errors import LeadsyncError
from leadsync.sync.run import Run
from leadsync.sync.worker_wire import AccountResult, WorkerSpec, unpack_error

POLL_SECONDS = 0.1  # how soon a stop request reaches a busy worker


def preload() -> list[str]:
    """What the forkserver imports once, so that every worker forks with it loaded: each of
    leadsync's modules this runner has imported by now (they import the clients' libraries),
    and "__main__" (the CLI script, which a worker would otherwise run again)."""
    loaded = [name for name in list(sys.modules) if name.startswith("leadsync.")]
    return ["__main__", *sorted(loaded)]


class WorkerLost(LeadsyncError):
    """A worker process ended without answering (killed, out of memory, a crash)."""


def start_method() -> str:
    """`fork` on Linux with no other thread running, else `forkserver` (module docstring)."""
    alone = threading.active_count() == 1
    return "fork" if alone and sys.platform.startswith("linux") else "forkserver"


class WorkerProcess:
    """One worker process and the runner's end of its pipe. `ready()` waits for it to have
    opened its connections (started first, so that forks all happen before any thread)."""

    def __init__(self, spec: WorkerSpec, method: str) -> None:
        from leadsync.sync import worker

        ctx = multiprocessing.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload(preload())
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=worker.serve, args=(child, spec), name="leadsync-sync-worker", daemon=True
        )
        self.process.start()
        child.close()
        self.account = "(starting)"

    def ready(self) -> WorkerProcess:
        error, _ = self._answer(None)  # ("ready",), or the error opening the worker raised
        if error is not None:
            self.close()
            raise error
        return self

    def sync(self, name: str, run: Run, merge: Callable[[AccountResult], None]) -> None:
        """Have the worker sync account `name`; merge what it did; raise what it raised."""
        run.check_stop()
        self.account = name
        self.conn.send(("sync", name))
        error, result = self._answer(run.stop, run.progress)
        if result is not None:
            merge(result)
        if error is not None:
            raise error

    def _answer(
        self, stop: Callable[[], object] | None, progress: Any = None
    ) -> tuple[BaseException | None, AccountResult | None]:
        """Wait for the worker's answer, passing on its progress and, once, a stop request."""
        forwarded = False
        while True:
            ready = wait([self.conn, self.process.sentinel], timeout=POLL_SECONDS)
            if self.conn in ready:
                message = self._receive()
                if message[0] == "progress":
                    if progress is not None:
                        progress(message[1], message[2])
                    continue
                if message[0] == "failed":
                    return unpack_error(message[1]), message[2]
                return None, (message[1] if message[0] == "done" else None)
            if ready:  # the sentinel alone: the process ended without a word
                raise self._lost()
            reason = stop() if stop is not None else None
            if reason and not forwarded:
                self.conn.send(("stop", reason if isinstance(reason, str) else True))
                forwarded = True

    def _receive(self) -> Any:
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            raise self._lost() from None

    def _lost(self) -> WorkerLost:
        self.process.join()
        code = self.process.exitcode
        how = (
            f"killed by {signal.Signals(-code).name}"
            if code is not None and code < 0
            else f"exit code {code}"
        )
        return WorkerLost(
            f"account {self.account}: its worker process (pid {self.process.pid}) ended "
            f"without a report ({how}); Leads it was writing are settled by the next run: "
            "run `leadsync sync` again"
        )

    def close(self) -> None:
        """Let the worker close its connections and end; reap it."""
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(("exit",))
        self.process.join()
        self.conn.close()


def end_forkserver() -> None:
    """Stop the run's forkserver once its workers are reaped: nothing of a run outlives it
    (a `--every` loop starts a fresh one per run), and the forkserver, reaped here, hands its
    workers' CPU time to this process's accounting (wait4, `time`, the benchmarks). Uses
    multiprocessing's own stop (private, hence guarded): there is no public one."""
    from multiprocessing import forkserver

    stop = getattr(forkserver._forkserver, "_stop", None)
    if stop is not None:
        stop()
