"""The sync run: the imperative shell around the pure ledger, mapping, classify and report modules.

Crash safety is the design's centre (docs/ARCHITECTURE.md). Three rules give it:

1. Write-ahead: before any Lead is sent, the entries of that batch are stored with `attempt`
   set (a collections batch id, or the bulk job ids as soon as Salesforce assigns them, which
   is before any data is uploaded). After the answer, the outcomes are stored and `attempt`
   cleared. A run killed in between leaves entries "in doubt". The mark is a typed value
   (sync/write_ahead.py); the writers that set and settle it are sync/writers.py.
2. Resolve first: a run starts by settling every in-doubt entry from Salesforce itself (the bulk
   job's result files, else a Lead with that email) before it writes anything new. Found means
   created (with that Id); not found means the write never happened: back to pending
   (sync/recovery.py).
3. The watermark moves last: members read in a run are recorded durably, and only then does the
   book's watermark advance to the Dotdigital server time taken BEFORE reading. Re-reads (the
   overlap window, a crash before the watermark moved) are harmless: the ledger de-duplicates.

CampaignMembers need no write-ahead: creating one twice gives DUPLICATE_VALUE, which means done.
The campaign step reads the ledger (every entry with a campaign and no member yet: created Leads,
and people excluded because they are already in Salesforce), so a crash before it is made up by
the next run.

A write still in flight (rule 2's hard case): Salesforce finishes a request whose client has
gone away, so "not found" can mean "not yet". When the org's Lead has the upsert key
(leadsync.leadkey: Leadsync_Key__c, unique External ID), every Lead write is an upsert on
`<account>:<contact id>`: in-doubt entries are looked up by that key, and a re-sent write can
only update the Lead a late request made, never add a second. Without the key, an in-doubt
Collections create is looked up by email, but one not found stays in doubt ("waiting", counted
in the report) until sync.in_doubt_grace has passed since it was sent (longer than the longest
request Salesforce runs); only then does "not found" mean "never happened". Bulk jobs need no
grace: their own state and result files say what they did.

A write whose outcome is unknown while the run goes on (the connection dropped after a create was
sent, a read timeout, 500/502/504: the client raises it as `ambiguous` instead of re-sending it
blindly) is settled at once exactly like an in-doubt write after a crash: Leads found by email are
created, absent ones are sent again (a bounded number of times); if Salesforce cannot be asked
right now, they stay in doubt for the next run. CampaignMembers are simply sent again.

Stopping on request (SIGTERM/SIGINT, `stop`): the run checks the hook only at checkpoints, the
points between batches where everything written so far is also recorded (before reading the
next page, before sending the next write batch, before the next book or account). A stop ends
the run there as "interrupted": the batch in flight finishes and is recorded, the report is
saved, and nothing is in doubt. Members read but not yet written stay pending; the watermark of
a book whose reading was cut short does not move, so the next run re-reads them (harmless).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leadsync import logs
from leadsync.config.model import Config
from leadsync.dotdigital.client import DotdigitalClient
from leadsync.errors import LeadsyncError, LimitReached
from leadsync.salesforce.client import SalesforceClient
from leadsync.state.model import StateStore
from leadsync.sync.account import AccountSync, has_push
from leadsync.sync.account_loop import AccountLoop
from leadsync.sync.applied import AppliedView, NotApplied, read_view
from leadsync.sync.pushtally import add_push_report
from leadsync.sync.report import error_classes, exit_code, final_status, totals
from leadsync.sync.run import Progress, Run, StopHook, StopRequested
from leadsync.sync.run import new_run_id as _new_run_id
from leadsync.sync.shard import Shard
from leadsync.sync.shard import select as select_accounts
from leadsync.sync.update_report import update_errors, update_totals
from leadsync.sync.wire import now as _now
from leadsync.sync.worker_wire import WorkerSpec

log = logs.get("sync")


@dataclass
class SyncResult:
    report: dict[str, Any]
    exit_code: int
    warnings: list[str] = field(default_factory=list)


def run_sync(
    config: Config,
    store: StateStore,
    *,
    dry_run: bool = False,
    lock_timeout: float | None = None,
    warn: Callable[[str], None] = lambda _m: None,
    progress: Progress | None = None,
    salesforce: SalesforceClient | None = None,
    dotdigital: Callable[[str], DotdigitalClient] | None = None,
    stop: StopHook | None = None,
    sweep: bool = False,
    accounts: Sequence[str] = (),
    shard: Shard | None = None,
    jobs: int = 1,
    open_store: Callable[[], StateStore] | None = None,
    processes: bool = False,
) -> SyncResult:
    """One sync of the create_leads books of the selected accounts of the applied state.

    Raises LeadsyncError (exit 1) for errors; a limit stops the run cleanly and is reported
    (exit 3), not raised; a stop request (`stop` returns truthy) ends it at the next
    checkpoint, reported as "interrupted". `accounts`/`shard` select accounts (sync/shard.py);
    `jobs` syncs up to that many at once (sync/pool.py), each worker on a store of its own from
    `open_store` (without it the workers share `store`, whose connection is guarded by a lock).
    With `processes` (the CLI) the jobs are worker processes (sync/workers.py; `open_store`
    must then pickle and the clients be leadsync's own, made from `config`), else threads.
    An account whose lock another runner holds is skipped (`skipped_locked`) when
    `lock_timeout` is None; with a number, the run waits that long for it, then fails.
    `sweep` forces a membership sweep of every book (else each sweeps once `sweep_every`
    passed).
    """
    applied = _applied(store)
    view = read_view(applied)
    names = select_accounts(view.accounts, accounts=accounts, shard=shard)
    warnings = _differences_warning(config, applied)
    for message in warnings:
        warn(message)
    sf = salesforce or SalesforceClient(config.salesforce)
    dd_clients: dict[str, DotdigitalClient] = {}
    run = Run(
        run_id=_new_run_id(),
        view=view,
        store=store,
        sf=sf,
        dry_run=dry_run,
        progress=progress,
        stop=stop,
        force_sweep=sweep,
    )
    report = _new_report(run, view, warnings, shard, 1 if dry_run else jobs)
    dd_for = dotdigital_clients(config, dotdigital, dd_clients)
    own_clients = processes and salesforce is None and dotdigital is None  # rebuildable
    spec = _worker_spec(config, run, open_store if own_clients else None, lock_timeout)
    loop = AccountLoop(run, names, dd_for, lock_timeout=lock_timeout, open_store=open_store,
                       worker_spec=spec)  # fmt: skip
    with logs.context(run_id=run.run_id):
        _log_start(run, names, shard, report["jobs"])
        _run_accounts(loop, run, report, dd_clients)
    return SyncResult(report, exit_code(report), warnings)


def _applied(store: StateStore) -> Any:
    applied = store.read_applied()
    if applied is None:
        raise NotApplied(
            "nothing has been applied yet: run `leadsync plan` and `leadsync apply` first "
            "(sync only uses the applied integration)"
        )
    return applied


def _differences_warning(config: Config, applied: Any) -> list[str]:
    """The warning that leadsync.yaml differs from what was applied, if it does."""
    differing = _config_differences(config, applied)
    if not differing:
        return []
    return [
        f"{config.source} differs from the applied state (serial {applied.serial}) in: "
        f"{', '.join(differing)}; "
        "this sync uses the applied mapping and books. Run `leadsync plan` to review the "
        "difference and `leadsync apply` to make it effective."
    ]


def dotdigital_clients(
    config: Config,
    dotdigital: Callable[[str], DotdigitalClient] | None,
    dd_clients: dict[str, DotdigitalClient],
) -> Callable[[str], DotdigitalClient]:
    """The Dotdigital client of an account, made on first use and kept in `dd_clients`."""

    def dd_for(account: str) -> DotdigitalClient:
        if account not in dd_clients:  # one worker per account: no two threads race here
            if dotdigital is not None:
                dd_clients[account] = dotdigital(account)
            else:
                acct = config.accounts.get(account)
                if acct is None:
                    raise LeadsyncError(
                        f"account {account!r} is in the applied state but not in {config.source}, "
                        "so its Dotdigital credentials are unknown; add it back or apply its removal"
                    )
                dd_clients[account] = DotdigitalClient(acct.dotdigital, account=account)
        return dd_clients[account]

    return dd_for


def _worker_spec(
    config: Config,
    run: Run,
    open_store: Callable[[], StateStore] | None,
    lock_timeout: float | None,
) -> Callable[[], WorkerSpec] | None:
    """What a worker process of this run is given (made once the Lead describe is cached);
    None without a picklable `open_store`: the jobs then run on threads."""
    if open_store is None:
        return None

    def spec() -> WorkerSpec:
        return WorkerSpec(
            run_id=run.run_id,
            started=run.started,
            force_sweep=run.force_sweep,
            view=run.view,
            config=config,
            open_store=open_store,
            salesforce=run.sf.worker(),
            lock_timeout=lock_timeout,
            runner_pid=os.getpid(),
            log_level=logging.getLogger(logs.LOGGER_NAME).getEffectiveLevel(),
            log_format="json" if logs.json_lines() else "text",
            progress=run.progress is not None,
        )

    return spec


def _new_report(
    run: Run, view: AppliedView, warnings: list[str], shard: Shard | None, jobs: int
) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "started_at": run.started_at,
        "ended_at": None,
        "applied_serial": view.serial,
        "lineage": view.lineage,
        "dry_run": run.dry_run,
        "status": "running",
        "stop_reason": None,
        "config_differs": bool(warnings),
        "warnings": warnings,
        "shard": str(shard) if shard is not None else None,
        "jobs": jobs,
    }


def _log_start(run: Run, names: Sequence[str], shard: Shard | None, jobs: int) -> None:
    logs.event(
        log,
        logging.INFO,
        "run_started",
        f"sync run {run.run_id}: {len(names)} account(s)"
        + (f" of shard {shard}" if shard is not None else "")
        + (f", up to {jobs} at once" if jobs > 1 else ""),
        accounts=names,
        shard=str(shard) if shard is not None else None,
        jobs=jobs,
    )


def _run_accounts(
    loop: AccountLoop, run: Run, report: dict[str, Any], dd_clients: dict[str, DotdigitalClient]
) -> None:
    """Sync the accounts, then finish, save (unless a dry run) and log the report. A limit or
    a stop request ends the run as reported; an error is reported, then raised."""
    try:
        loop.run(report["jobs"])
        report["status"] = "done"
    except LimitReached as exc:
        report["status"] = "stopped"
        report["stop_reason"] = str(exc)
    except StopRequested as exc:
        report["status"] = "interrupted"
        report["stop_reason"] = str(exc)
    except LeadsyncError as exc:
        exc.run_id = run.run_id  # the error document names the run that failed
        report["status"] = "error"
        report["stop_reason"] = str(exc)
        _finish(report, run, dd_clients)
        if not run.dry_run and run.tallies:
            run.store.save_run(run.run_id, report, run.started.isoformat())
        _log_end(report)
        raise
    _finish(report, run, dd_clients)
    if not run.dry_run:
        run.store.save_run(run.run_id, report, run.started.isoformat())
    _log_end(report)


def _log_end(report: dict[str, Any]) -> None:
    logs.event(
        log,
        logging.ERROR if report["status"] == "error" else logging.INFO,
        "run_finished",
        f"sync run {report['run_id']}: {report['status']}",
        status=report["status"],
        exit_code=report.get("exit_code"),
        totals=report.get("totals"),
        skipped_locked=[s["account"] for s in report.get("skipped_locked", [])],
    )


def _finish(report: dict[str, Any], run: Run, dd_clients: dict[str, DotdigitalClient]) -> None:
    add_push_report(report, list(run.push_tallies.values()), dry_run=run.dry_run)
    order = {n: i for i, n in enumerate(run.view.accounts)}  # workers finish in any order
    tallies = sorted(run.tallies.values(), key=lambda t: order.get(t.account, len(order)))
    books = [t.as_dict() for t in tallies]
    if run.dry_run:
        for book in books:
            book["samples"] = run.samples.get((book["account"], book["book_id"]), {})
    report["books"] = books
    report["totals"] = totals(books)
    report["accounts"] = [n for n in run.selected if n in set(run.synced)]
    order = {n: i for i, n in enumerate(run.selected)}
    report["skipped_locked"] = sorted(run.skipped_locked, key=lambda s: order[s["account"]])
    updates = [t.as_dict(dry_run=run.dry_run) for t in run.update_tallies.values()]
    report["updates"] = sorted(updates, key=lambda u: order.get(u["account"], len(order)))
    report["totals"].update(update_totals(updates))
    report["errors"] = sorted(
        error_classes(run.tallies.values()) + update_errors(run.update_tallies.values()),
        key=lambda g: (-g["count"], g["class"], g["system"]),
    )
    report["status"] = final_status(
        report["status"],
        report["errors"] + report["push_errors"],
        report["totals"]["waiting_in_doubt"] + report["push_totals"]["in_doubt"],
    )
    report["ended_at"] = _now()
    report["api_calls"] = {
        "salesforce": run.sf.calls
        + sum(w.calls for w in run.sf_workers)
        + run.worker_calls["salesforce"],
        "dotdigital": sum(c.calls for c in dd_clients.values()) + run.worker_calls["dotdigital"],
    }
    report["exit_code"] = exit_code(report)


def _config_differences(config: Config, applied: Any) -> list[str]:
    """What differs between leadsync.yaml and the applied config: the rule `status` uses."""
    from leadsync.applied import config_differences

    return config_differences(applied, config)


def open_and_sync(
    config_path: str,
    *,
    dry_run: bool = False,
    lock_timeout: float | None = None,
    warn: Callable[[str], None] = lambda _m: None,
    progress: Progress | None = None,
    env: dict[str, str] | None = None,
    stop: StopHook | None = None,
    sweep: bool = False,
    accounts: Sequence[str] = (),
    shard: Shard | None = None,
    jobs: int = 1,
) -> SyncResult:
    """The CLI's one call: load leadsync.yaml (for connections and the state), then sync.
    With `jobs` > 1 every worker process opens the state store anew: a connection of its own."""
    from leadsync.config import config_dir, load_or_raise
    from leadsync.state import open_store

    config = load_or_raise(config_path, env)
    base = Path(config_dir(config.source))
    store = open_store(config.state, base)
    try:
        return run_sync(
            config,
            store,
            dry_run=dry_run,
            lock_timeout=lock_timeout,
            warn=warn,
            progress=progress,
            stop=stop,
            sweep=sweep,
            accounts=accounts,
            shard=shard,
            jobs=jobs,
            open_store=functools.partial(open_store, config.state, base),  # pickles: processes
            processes=True,
        )
    finally:
        store.close()


__all__: Iterable[str] = (
    "AccountSync",
    "Progress",
    "StopRequested",
    "SyncResult",
    "has_push",
    "open_and_sync",
    "run_sync",
)
