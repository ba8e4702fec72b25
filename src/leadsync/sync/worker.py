"""One worker process of `sync --jobs N` (started by sync/workers.py): syncs the accounts its
parent hands it, one at a time, exactly as a run of one account after another does
(AccountLoop), on connections of its own opened here: a state store, a Salesforce session,
one Dotdigital client per account. Nothing of the parent's is used but the spec's values.

Stopping: a stop request reaches the worker from its parent (("stop", reason), read at each
checkpoint, where the Halt of a failed account and the parent's SIGTERM/SIGINT arrive) or as a
signal of its own (Ctrl-C reaches the whole process group); either way the account ends at the
next checkpoint with the batch in flight recorded. Should the runner die abruptly (SIGKILL, or
its second signal), the worker is killed with it (PR_SET_PDEATHSIG: its parent is the runner,
or the forkserver, which ends with the runner), as the threads of one process would be: the
next run settles what was in flight, as after any kill.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
import sys
from multiprocessing.connection import Connection
from typing import Any

from leadsync import logs
from leadsync.errors import LeadsyncError
from leadsync.state import holder
from leadsync.sync.worker_wire import AccountResult, WorkerSpec, pack_error

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
PROCESS_NAME = b"leadsync-worker"  # at most 15 bytes: the kernel's limit
log = logs.get("sync")


def serve(conn: Connection, spec: WorkerSpec) -> None:
    """The worker's life: open, answer ("ready",), sync each account asked for, close."""
    _linux_process()
    holder.RUNNER_PID = spec.runner_pid
    logs.configure(
        verbose=spec.log_level <= logging.DEBUG,
        env={logs.ENV_VAR: logging.getLevelName(spec.log_level).lower()},
        fmt=spec.log_format,
    )
    from leadsync.sync.schedule import StopFlag, stop_on_signals

    with stop_on_signals(StopFlag(), lambda _name: None) as flag, logs.context(run_id=spec.run_id):
        try:
            state = _Worker(conn, spec, flag)
        except Exception as exc:
            conn.send(("failed", pack_error(exc), None))
            return
        try:
            conn.send(("ready",))
            state.serve()
        finally:
            state.close()


class _Worker:
    """The worker's connections and the run as it sees them."""

    def __init__(self, conn: Connection, spec: WorkerSpec, flag: Any) -> None:
        from leadsync.sync.account_loop import AccountLoop
        from leadsync.sync.engine import dotdigital_clients
        from leadsync.sync.run import Run

        self.conn = conn
        self.flag = flag
        self.parent_stop: str | bool | None = None
        self.dd_clients: dict[str, Any] = {}
        store = spec.open_store()
        self.run = Run(
            run_id=spec.run_id,
            view=spec.view,
            store=store,
            sf=spec.salesforce.worker(),  # its own counted session; the org's login
            dry_run=False,
            progress=self._progress if spec.progress else None,
            stop=self._stop,
            force_sweep=spec.force_sweep,
            started=spec.started,
        )
        dd_for = dotdigital_clients(spec.config, None, self.dd_clients)
        self.loop = AccountLoop(
            self.run, [], dd_for, lock_timeout=spec.lock_timeout, open_store=None
        )
        self.sf_calls = 0

    def serve(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except EOFError:  # the parent is gone
                return
            if message[0] == "exit":
                return
            if message[0] == "stop":  # asked while idle: the next account stops at once
                self.parent_stop = message[1]
                continue
            name = message[1]
            try:
                self.loop.sync_one(name, self.run)
            except Exception as exc:
                if not isinstance(exc, LeadsyncError):  # a bug: its traceback stays here
                    log.debug("account %s: unexpected error in its worker", name, exc_info=True)
                self.conn.send(("failed", pack_error(exc), self._result(name)))
            else:
                self.conn.send(("done", self._result(name)))

    def _result(self, name: str) -> AccountResult:
        run = self.run
        calls, self.sf_calls = run.sf.calls - self.sf_calls, run.sf.calls
        dd = self.dd_clients.get(name)
        return AccountResult(
            account=name,
            tallies=[t for t in run.tallies.values() if t.account == name],
            update=run.update_tallies.get(name),
            push={k: v for k, v in run.push_tallies.items() if k[0] == name},
            synced=name in run.synced,
            skipped_locked=[s for s in run.skipped_locked if s["account"] == name],
            salesforce_calls=calls,
            dotdigital_calls=dd.calls if dd is not None else 0,
        )

    def _stop(self) -> str | bool | None:
        """The stop hook: a signal of our own, else a stop the parent sent (read here, at a
        checkpoint, without waiting)."""
        try:
            while self.parent_stop is None and self.conn.poll():
                message = self.conn.recv()
                if message[0] == "stop":
                    self.parent_stop = message[1]
        except (EOFError, OSError):
            self.parent_stop = "the end of its runner"
        return self.flag() or self.parent_stop

    def _progress(self, label: str, n: int) -> None:
        self.conn.send(("progress", label, n))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.run.store.close()


def _linux_process() -> None:
    """Linux: name this process `leadsync-worker` (what `ps -o comm`, top and /proc show), and
    SIGKILL it when its parent process ends (the runner, or the forkserver, which ends with the
    runner). Elsewhere a no-op: a worker then stops at its next checkpoint."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_NAME, PROCESS_NAME)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
