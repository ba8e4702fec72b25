"""The selected accounts of a run, one after another or up to `jobs` at once (sync/pool.py
schedules; sync/workers.py runs each job in a worker process), each under its own lock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack

from leadsync import logs
from leadsync.dotdigital.client import DotdigitalClient
from leadsync.state.model import HeldLock, LockHeld, LockInfo, StateStore
from leadsync.sync.account import AccountSync, has_push
from leadsync.sync.pool import Halt, Pool, PoolFailures
from leadsync.sync.report import totals
from leadsync.sync.run import NO_LOCK, Run, StopRequested
from leadsync.sync.worker_wire import AccountResult, WorkerSpec

log = logs.get("sync")


class AccountLoop:
    """The selected accounts, one after another or up to `jobs` at once (sync/pool.py).

    Each account is synced under its own lock; one that another runner holds is skipped
    (reported in `skipped_locked`, logged; the exit code does not change) unless a
    `lock_timeout` asks to wait for it. The first failure of any account decides the run.

    With `worker_spec` (the CLI's runs), jobs > 1 run in worker processes (sync/workers.py),
    whose results are merged into this run; without it (an embedding that passes its own
    clients, which a process cannot rebuild) they run on threads sharing this run.
    """

    def __init__(
        self,
        run: Run,
        names: Sequence[str],
        dd_for: Callable[[str], DotdigitalClient],
        *,
        lock_timeout: float | None,
        open_store: Callable[[], StateStore] | None,
        worker_spec: Callable[[], WorkerSpec] | None = None,
    ) -> None:
        self.ctx = run
        self.names = list(names)
        self.dd_for = dd_for
        self.lock_timeout = lock_timeout
        self.open_store = open_store
        self.worker_spec = worker_spec
        self._merging = threading.Lock()
        run.selected = self.names

    def run(self, jobs: int) -> None:
        run = self.ctx
        halt = Halt()
        outer = run.stop
        run.stop = lambda: (outer() if outer is not None else None) or halt()
        if jobs > 1 and len(self.names) > 1:
            run.sf.describe("Lead")  # log in and describe once, for every worker (shared)
        if self.worker_spec is not None and jobs > 1 and len(self.names) > 1:
            outcome = self._run_in_processes(jobs, halt)
        else:
            pool: Pool[Run] = Pool(
                jobs=jobs,
                open_worker=self._open_worker,
                close_worker=self._close_worker,
                inline=run,
                halt=halt,
            )
            outcome = pool.run(self.names, self.sync_one)
        failure = outcome.first(stop_types=(StopRequested,))
        if failure is not None:
            raise failure

    def _run_in_processes(self, jobs: int, halt: Halt) -> PoolFailures:
        """Each job a worker process (sync/workers.py), scheduled by the same thread pool.
        Forked workers are all started here, before the pool's threads (see start_method)."""
        from leadsync.sync.workers import WorkerProcess, end_forkserver, start_method

        assert self.worker_spec is not None
        spec = self.worker_spec()  # once: every worker gets the same
        method = start_method()
        count = min(jobs, len(self.names)) if method == "fork" else 0
        forked = [WorkerProcess(spec, method) for _ in range(count)]
        pool: Pool[WorkerProcess] = Pool(
            jobs=jobs,
            open_worker=lambda: (forked.pop() if forked else WorkerProcess(spec, method)).ready(),
            close_worker=lambda worker: worker.close(),
            inline=None,  # type: ignore[arg-type]  # never inline: jobs > 1, accounts > 1
            halt=halt,
        )
        try:
            return pool.run(self.names, lambda name, w: w.sync(name, self.ctx, self._merge))
        finally:
            for worker in forked:  # none unless the pool failed to start a thread
                worker.close()
            if method == "forkserver":
                end_forkserver()

    def _merge(self, result: AccountResult) -> None:
        """One account's result from a worker process, into this run's records (the report
        is built from them as from a run on threads)."""
        run = self.ctx
        with self._merging:
            for tally in result.tallies:
                run.tallies[(tally.account, tally.book_id)] = tally
            if result.update is not None:
                run.update_tallies[result.account] = result.update
            run.push_tallies.update(result.push)
            if result.synced:
                run.synced.append(result.account)
            run.skipped_locked.extend(result.skipped_locked)
            run.worker_calls["salesforce"] += result.salesforce_calls
            run.worker_calls["dotdigital"] += result.dotdigital_calls

    def _open_worker(self) -> Run:
        store = self.open_store() if self.open_store is not None else self.ctx.store
        sf = self.ctx.sf.worker()
        self.ctx.sf_workers.append(sf)
        return self.ctx.for_worker(sf, store)

    def _close_worker(self, worker: Run) -> None:
        if worker.store is not self.ctx.store:
            worker.store.close()

    def sync_one(self, name: str, run: Run) -> None:
        """Account `name`, under its lock (skipped when another runner holds it)."""
        run.check_stop()
        account = run.view.accounts[name]
        if (
            not account.lead_books
            and not run.store.ledger_in_doubt(name)
            and not has_push(account, run.store)
            and not run.store.links_count(name)
        ):
            return
        with logs.context(account=name), ExitStack() as stack:
            held: HeldLock = NO_LOCK
            if not run.dry_run:
                try:
                    held = stack.enter_context(
                        run.store.lock(
                            [f"account:{name}"], timeout=self.lock_timeout or 0.0, purpose="sync"
                        )
                    )
                except LockHeld as exc:
                    if self.lock_timeout is not None:
                        raise
                    self._skip(run, name, exc.info)
                    return
            run.synced.append(name)
            logs.event(log, logging.INFO, "account_started", f"account {name}: sync started")
            AccountSync(run, account, self.dd_for(name), held).run()
            # list(): a snapshot, as other workers add their books' tallies meanwhile
            tallies = [t for t in list(run.tallies.values()) if t.account == name]
            counts = totals([t.as_dict() for t in tallies])
            logs.event(
                log, logging.INFO, "account_finished", f"account {name}: done", totals=counts
            )

    @staticmethod
    def _skip(run: Run, name: str, info: LockInfo) -> None:
        holder = f"{info.user}@{info.host} (pid {info.pid}, {info.purpose}) since {info.since}"
        run.skipped_locked.append({"account": name, "held_by": holder})
        logs.event(
            log,
            logging.WARNING,
            "account_skipped_locked",
            f"account {name} skipped: another runner holds its lock ({holder}); that runner "
            "syncs it (wait for it instead with --lock-timeout SECONDS)",
            held_by=holder,
        )
