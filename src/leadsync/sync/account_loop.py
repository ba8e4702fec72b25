"""The selected accounts of a run, one after another or up to `jobs` at once (sync/pool.py),
each under its own lock."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import ExitStack

from leadsync import logs
from leadsync.dotdigital.client import DotdigitalClient
from leadsync.state.model import HeldLock, LockHeld, LockInfo, StateStore
from leadsync.sync.account import AccountSync, has_push
from leadsync.sync.pool import Halt, Pool
from leadsync.sync.report import totals
from leadsync.sync.run import NO_LOCK, Run, StopRequested

log = logs.get("sync")


class AccountLoop:
    """The selected accounts, one after another or up to `jobs` at once (sync/pool.py).

    Each account is synced under its own lock; one that another runner holds is skipped
    (reported in `skipped_locked`, logged; the exit code does not change) unless a
    `lock_timeout` asks to wait for it. The first failure of any account decides the run.
    """

    def __init__(
        self,
        run: Run,
        names: Sequence[str],
        dd_for: Callable[[str], DotdigitalClient],
        *,
        lock_timeout: float | None,
        open_store: Callable[[], StateStore] | None,
    ) -> None:
        self.ctx = run
        self.names = list(names)
        self.dd_for = dd_for
        self.lock_timeout = lock_timeout
        self.open_store = open_store
        run.selected = self.names

    def run(self, jobs: int) -> None:
        run = self.ctx
        halt = Halt()
        outer = run.stop
        run.stop = lambda: (outer() if outer is not None else None) or halt()
        if jobs > 1 and len(self.names) > 1:
            run.sf.describe("Lead")  # log in and describe once, for every worker (shared)
        pool: Pool[Run] = Pool(
            jobs=jobs,
            open_worker=self._open_worker,
            close_worker=self._close_worker,
            inline=run,
            halt=halt,
        )
        failure = pool.run(self.names, self._sync).first(stop_types=(StopRequested,))
        if failure is not None:
            raise failure

    def _open_worker(self) -> Run:
        store = self.open_store() if self.open_store is not None else self.ctx.store
        sf = self.ctx.sf.worker()
        self.ctx.sf_workers.append(sf)
        return self.ctx.for_worker(sf, store)

    def _close_worker(self, worker: Run) -> None:
        if worker.store is not self.ctx.store:
            worker.store.close()

    def _sync(self, name: str, run: Run) -> None:
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
