"""The sync run: the imperative shell around the pure ledger, mapping, classify and report modules.

Crash safety is the design's centre (invariant 6). Three rules give it:

1. Write-ahead: before any Lead is sent, the entries of that batch are stored with `attempt`
   set (a collections batch id, or the bulk job ids as soon as Salesforce assigns them, which
   is before any data is uploaded). After the answer, the outcomes are stored and `attempt`
   cleared. A run killed in between leaves entries "in doubt".
2. Resolve first: a run starts by settling every in-doubt entry from Salesforce itself (the bulk
   job's result files, else a Lead with that email) before it writes anything new. Found means
   created (with that Id); not found means the write never happened: back to pending.
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

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from leadsync import logs
from leadsync.config.model import Config
from leadsync.dotdigital.client import DotdigitalClient
from leadsync.dotdigital.model import Contact
from leadsync.errors import LeadsyncError, LimitReached, RemoteError
from leadsync.leadkey import key_field, lead_key
from leadsync.salesforce.assignment import LeadAssignment
from leadsync.salesforce.client import SalesforceClient
from leadsync.salesforce.errors import BULK_JOB_FAILED, RESULT_UNKNOWN, SalesforceError
from leadsync.salesforce.model import SaveResult
from leadsync.state.model import HeldLock, LedgerEntry, LockHeld, LockInfo, StateStore
from leadsync.sync import ledger, write_errors
from leadsync.sync.applied import AccountView, AppliedView, BookView, NotApplied, read_view
from leadsync.sync.classify import Match, OwnLead, existing_matches, with_own_leads
from leadsync.sync.mapping import LeadMapping, normalise_email
from leadsync.sync.pool import Halt, Pool
from leadsync.sync.push import PushAccount, exclude_pushed
from leadsync.sync.pushtally import add_push_report
from leadsync.sync.report import (
    OUTCOME_KEYS,
    BookTally,
    error_classes,
    exit_code,
    final_status,
    totals,
)
from leadsync.sync.shard import Shard
from leadsync.sync.shard import select as select_accounts
from leadsync.sync.update_report import UpdateTally, update_errors, update_totals
from leadsync.sync.update_step import UpdateStep
from leadsync.sync.write_errors import WriteError

COLLECTION_BATCH = 200  # one sObject Collections call
CHECK_CHUNK = 2000  # members checked against Salesforce (by email) per round of queries
BULK_JOB_RECORDS = 10_000  # records per Bulk API 2.0 job (one write-ahead unit)
AMBIGUOUS_RESENDS = 2  # re-sends, within a run, of creates settled as "never happened"
SAMPLES = 5
log = logs.get("sync")

Progress = Callable[[str, int], None]
StopHook = Callable[[], object]  # truthy once a stop was requested; a str is the reason


class StopRequested(Exception):
    """Raised at a checkpoint once the stop hook fires; ends the run as "interrupted"."""


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
) -> SyncResult:
    """One sync of the create_leads books of the selected accounts of the applied state.

    Raises LeadsyncError (exit 1) for errors; a limit stops the run cleanly and is reported
    (exit 3), not raised; a stop request (`stop` returns truthy) ends it at the next
    checkpoint, reported as "interrupted". `accounts`/`shard` select accounts (sync/shard.py);
    `jobs` syncs up to that many at once (sync/pool.py), each worker on a store of its own from
    `open_store` (without it the workers share `store`, whose connection is guarded by a lock).
    An account whose lock another runner holds is skipped (`skipped_locked`) when
    `lock_timeout` is None; with a number, the run waits that long for it, then fails.
    `sweep` forces a membership sweep of every book (else each sweeps once `sweep_every`
    passed).
    """
    applied = store.read_applied()
    if applied is None:
        raise NotApplied(
            "nothing has been applied yet: run `leadsync plan` and `leadsync apply` first "
            "(sync only uses the applied integration)"
        )
    view = read_view(applied)
    names = select_accounts(view.accounts, accounts=accounts, shard=shard)
    warnings: list[str] = []
    differing = _config_differences(config, applied)
    if differing:
        message = (
            f"{config.source} differs from the applied state (serial {applied.serial}) in: "
            f"{', '.join(differing)}; "
            "this sync uses the applied mapping and books. Run `leadsync plan` to review the "
            "difference and `leadsync apply` to make it effective."
        )
        warnings.append(message)
        warn(message)
    sf = salesforce or SalesforceClient(config.salesforce)
    dd_clients: dict[str, DotdigitalClient] = {}

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
    report: dict[str, Any] = {
        "run_id": run.run_id,
        "started_at": run.started_at,
        "ended_at": None,
        "applied_serial": view.serial,
        "lineage": view.lineage,
        "dry_run": dry_run,
        "status": "running",
        "stop_reason": None,
        "config_differs": bool(warnings),
        "warnings": warnings,
        "shard": str(shard) if shard is not None else None,
        "jobs": 1 if dry_run else jobs,
    }
    loop = AccountLoop(run, names, dd_for, lock_timeout=lock_timeout, open_store=open_store)
    with logs.context(run_id=run.run_id):
        logs.event(
            log,
            logging.INFO,
            "run_started",
            f"sync run {run.run_id}: {len(names)} account(s)"
            + (f" of shard {shard}" if shard is not None else "")
            + (f", up to {jobs} at once" if jobs > 1 and not dry_run else ""),
            accounts=names,
            shard=report["shard"],
            jobs=report["jobs"],
        )
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
            if not dry_run and run.tallies:
                store.save_run(run.run_id, report)
            _log_end(report)
            raise
        _finish(report, run, dd_clients)
        if not dry_run:
            store.save_run(run.run_id, report)
        _log_end(report)
    return SyncResult(report, exit_code(report), warnings)


def has_push(account: AccountView, store: StateStore) -> bool:
    """Does this account have a push step to run: a pushing book, or an import in doubt?"""
    return bool(account.push_books) or bool(store.push_in_doubt(account.name))


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
        "salesforce": run.sf.calls + sum(w.calls for w in run.sf_workers),
        "dotdigital": sum(c.calls for c in dd_clients.values()),
    }
    report["exit_code"] = exit_code(report)


def _config_differences(config: Config, applied: Any) -> list[str]:
    """What differs between leadsync.yaml and the applied config: the rule `status` uses."""
    from leadsync.config import differences, snapshot

    return differences(applied.config, snapshot(config, applied.salt))


@dataclass
class Run:
    """What every account's sync shares: run id, applied view, store, Salesforce, tallies."""

    run_id: str
    view: AppliedView
    store: StateStore
    sf: SalesforceClient
    dry_run: bool
    progress: Progress | None
    stop: StopHook | None = None
    force_sweep: bool = False  # `sync --sweep`
    started_at: str = field(default_factory=lambda: _now())
    tallies: dict[tuple[str, int], BookTally] = field(default_factory=dict)
    samples: dict[tuple[str, int], dict[str, list[dict[str, str]]]] = field(default_factory=dict)
    # Dry run only: what the real run would have written by now, in book order.
    # email -> (account, book) of the Lead an earlier book would have created
    predicted_leads: dict[str, tuple[str, str]] = field(default_factory=dict)
    predicted_members: set[tuple[str, str]] = field(default_factory=set)  # (campaign id, email)
    _mapping: dict[str, LeadMapping] = field(default_factory=dict)
    # The push (sync/push.py): per (account, book id) what it did; in a dry run, per account,
    # the people it would have written (email -> entry), so lead creation excludes them too.
    push_tallies: dict[tuple[str, int], Any] = field(default_factory=dict)
    predicted_pushed: dict[str, dict[str, Any]] = field(default_factory=dict)
    any_pushed: dict[str, bool] = field(default_factory=dict)  # account -> push table not empty
    # The account loop's record (AccountLoop): accounts selected, synced, skipped as locked;
    # the Salesforce clients of --jobs workers (their calls count in the report).
    selected: list[str] = field(default_factory=list)
    synced: list[str] = field(default_factory=list)
    skipped_locked: list[dict[str, str]] = field(default_factory=list)
    sf_workers: list[SalesforceClient] = field(default_factory=list)
    update_tallies: dict[str, UpdateTally] = field(default_factory=dict)  # account -> counts

    def for_worker(self, sf: SalesforceClient, store: StateStore) -> Run:
        """This run as one `--jobs` worker sees it: its own Salesforce client and store, the
        same tallies, mapping cache and records of the run (shared objects, not copies)."""
        return replace(self, sf=sf, store=store)

    def update_tally(self, account: str) -> UpdateTally:
        if account not in self.update_tallies:
            self.update_tallies[account] = UpdateTally(account)
        return self.update_tallies[account]

    @property
    def assignment(self) -> LeadAssignment:
        """defaults.assignment_rule as applied: the same owner on Collections and Bulk."""
        return LeadAssignment(self.view.assignment_rule)

    def mapping(self, account: AccountView) -> LeadMapping:
        if account.name not in self._mapping:
            describe = self.sf.describe("Lead")
            self._mapping[account.name] = LeadMapping(
                rows=account.rows, fields=describe.fields, lead_status=self.view.lead_status
            )
        return self._mapping[account.name]

    def tally(self, account: AccountView, book_id: int) -> BookTally:
        key = (account.name, book_id)
        if key not in self.tallies:
            book = next((b for b in account.books if b.id == book_id), None)
            self.tallies[key] = BookTally(
                account=account.name,
                book_id=book_id,
                book=book.name if book else f"(address book {book_id})",
                campaign_id=book.campaign_id if book else None,
                campaign=book.campaign_name if book else None,
            )
        return self.tallies[key]

    def check_stop(self) -> None:
        """A checkpoint: end the run here if a stop was requested (everything so far recorded)."""
        requested = self.stop() if self.stop is not None else None
        if requested:
            why = requested if isinstance(requested, str) else "a stop request"
            raise StopRequested(
                f"stopped by {why} after finishing and recording the batch in flight; "
                "run `leadsync sync` again to continue"
            )

    def checkpoint(self) -> None:
        """Between write batches: stop if asked, then check the API budget."""
        self.check_stop()
        self.check_budget()

    def check_budget(self) -> None:
        """Stop before the org's daily API allowance passes the configured share (a share of
        1 or more leaves the decision to Salesforce: REQUEST_LIMIT_EXCEEDED also stops)."""
        usage = self.sf.api_usage()
        if not usage:
            return
        used, total = usage
        share = self.view.settings.max_api_share
        if share < 1 and total > 0 and used >= share * total:
            raise LimitReached(
                f"Salesforce API usage is {used}/{total} requests today, at or above "
                f"sync.max_api_share {share:g}; stopping so other integrations keep their "
                "share. Re-run after the allowance resets (or raise max_api_share)."
            )


class _NoLock:
    """A dry run writes nothing, so it takes no lock and has none to lose."""

    def verify(self) -> None:
        return None


NO_LOCK = _NoLock()


class AccountSync:
    """One account, under its lock: resolve in-doubt writes, then each create_leads book.

    `held.verify()` runs before every batch of remote writes (and before the watermark
    moves): if the account lock was lost (its database session ended), the run stops there
    with LockLost instead of writing beside the runner that may have taken over.
    """

    def __init__(
        self, run: Run, account: AccountView, dd: DotdigitalClient, held: HeldLock = NO_LOCK
    ) -> None:
        self.held = held
        self.ctx = run
        self.account = account
        self.dd = dd
        self.store = run.store
        self.sf = run.sf
        self.settings = run.view.settings
        self.run_id = run.run_id
        self._records: dict[int, dict[str, Any]] = {}  # contact id -> Lead record, one batch
        self.key: str | None = None  # the Lead upsert key field, when the org has it usable

    # -- orchestration -------------------------------------------------------------------------

    def run(self) -> None:
        if has_push(self.account, self.store):
            self.held.verify()
            PushAccount(self).run()  # 1. push: Salesforce -> Dotdigital (sync/push.py)
        if self.account.lead_books or self.store.ledger_in_doubt(self.account.name):
            self.create_leads()  # 2. Leads from new book members
        self.ctx.check_stop()
        UpdateStep(self).run()  # 3. field updates of linked people, both ways

    def create_leads(self) -> None:
        self.key = key_field(self.sf.describe("Lead")).name  # describe is cached by the client
        mapping = self.ctx.mapping(self.account)
        self.held.verify()
        if not self.ctx.dry_run:
            self.resolve_in_doubt(self.store.ledger_in_doubt(self.account.name))
        for book in self.account.lead_books:
            self.ctx.check_stop()
            with logs.context(book=book.name):  # names the book on its log lines (json)
                self.sync_book(book, mapping)

    def sync_book(self, book: BookView, mapping: LeadMapping) -> None:
        tally = self.ctx.tally(self.account, book.id)
        if self.ctx.dry_run:
            DryRunBook(self, book, mapping, tally).run()
            return
        self.ingest(book, mapping, tally)
        self.write_pending(book, mapping, tally)
        self.ctx.check_stop()  # a stop leaves CampaignMembers to the next run
        self.campaign_members(book, tally)

    # -- 1. in-doubt writes --------------------------------------------------------------------

    def resolve_in_doubt(self, entries: Sequence[LedgerEntry]) -> None:
        """Settle writes a previous run left in flight, from what Salesforce holds."""
        if not entries:
            return
        by_attempt: dict[str, list[LedgerEntry]] = defaultdict(list)
        for entry in entries:
            by_attempt[entry.attempt or ""].append(entry)
        for attempt, group in by_attempt.items():
            # An upsert is looked up by its key while the org still has the field; a create
            # (or an upsert whose key field has gone since) by email, under the grace rule.
            keyed = attempt.startswith(KEYED) and self.key is not None
            self.settle(group, _job_ids(attempt), keyed=keyed)

    def settle(
        self,
        group: Sequence[LedgerEntry],
        job_ids: Sequence[str],
        error: WriteError | None = None,
        *,
        keyed: bool,
        answered: bool = False,
    ) -> list[LedgerEntry]:
        """In-doubt entries -> created / outcome from a bulk job / back to pending / waiting.

        Used at the start of a run (crash recovery) and right after a write whose outcome is
        unknown (ambiguous: the client does not re-send creates blindly). `keyed`: the write
        was an upsert on the Lead key, so it is looked up by key and, when absent, safe to send
        again. A create not found stays in doubt (waiting) until sync.in_doubt_grace has passed
        since it was sent: it may still be running at Salesforce; unless Salesforce itself
        `answered` it (a 500: the request is over, whatever it did). When Salesforce cannot be
        asked now (a transient error), the entries stay in doubt (attempt kept): the next run
        resolves them before it writes anything. `error`: why the write failed; it becomes the
        last_error of entries that go back to pending or stay in doubt.
        """
        now = _now()
        ident = self._key_of if keyed else _email_of
        settled: list[LedgerEntry] = []
        unknown: list[LedgerEntry] = []
        try:
            results = self._job_results(job_ids, self.key if keyed and self.key else "Email")
            for entry in group:
                result = results.get(ident(entry))
                if result is not None and _known(result):
                    settled.append(
                        ledger.after_save(entry, result, entry.campaign_id, self.run_id, now)
                    )
                else:
                    unknown.append(entry)
            found = self._own_leads(unknown, keyed) if unknown else {}
        except RemoteError as exc:
            if not exc.transient:
                raise
            why = write_errors.still_in_doubt(error, exc)
            kept = [ledger.with_last_error(e, why, self.run_id, now) for e in group]
            self._put_counted(kept, {e.contact_id: e for e in group})
            return kept  # still in doubt (attempt kept): the next run settles them
        waiting: list[LedgerEntry] = []
        for entry in unknown:
            lead_id = found.get(ident(entry).casefold() if keyed else ident(entry))
            if lead_id:
                settled.append(ledger.created(entry, lead_id, entry.campaign_id, self.run_id, now))
            elif keyed or job_ids or answered or self._grace_over(entry):
                settled.append(ledger.back_to_pending(entry, self.run_id, now, error=error))
            elif error is not None:  # may still be running at Salesforce: not re-sent yet
                waiting.append(ledger.with_last_error(entry, error, self.run_id, now))
            else:
                waiting.append(entry)
        # A write of this run that waits keeps its error: the run is incomplete until it settles.
        self._put_counted(settled + (waiting if error else []), {e.contact_id: e for e in group})
        for entry in waiting:
            self.ctx.tally(self.account, entry.book_id).waiting_in_doubt += 1
        return settled + waiting

    def _job_results(self, job_ids: Sequence[str], key_field: str) -> dict[str, SaveResult]:
        """Per-record outcomes of bulk jobs left in doubt, by alignment key (a success wins)."""
        results: dict[str, SaveResult] = {}
        for job_id in job_ids:
            for key, result in self.sf.bulk_job_results(job_id, key_field=key_field).items():
                if key not in results or (result.success and not results[key].success):
                    results[key] = result
        return results

    def _grace_over(self, entry: LedgerEntry) -> bool:
        """Has sync.in_doubt_grace passed since this write was sent? (No time recorded: an
        entry written before leadsync kept one counts as old.)"""
        sent = entry.attempted_at or entry.updated_at
        if not sent:
            return True
        age = datetime.now(UTC) - _parse_iso(sent)
        return age.total_seconds() >= self.settings.in_doubt_grace

    def _key_of(self, entry: LedgerEntry) -> str:
        return lead_key(entry.account, entry.contact_id)

    def _own_leads(self, entries: Sequence[LedgerEntry], keyed: bool) -> dict[str, str]:
        """Lowercased key (or email) -> Lead Id, for entries whose write is in doubt."""
        if not keyed:
            return self._own_leads_by_email([e.email for e in entries])
        assert self.key is not None
        rows = self.sf.find_by(
            "Lead", self.key, [self._key_of(e) for e in entries], fields=("Id", self.key)
        )
        out: dict[str, str] = {}
        for row in sorted(rows, key=lambda r: str(r.get("Id"))):
            out.setdefault(str(row.get(self.key) or "").casefold(), str(row["Id"]))
        return out

    def _own_leads_by_email(self, emails: Sequence[str]) -> dict[str, str]:
        """Normalised email -> Lead Id, for emails whose write is in doubt (converted included:
        a Lead we created and someone converted since is still ours)."""
        rows = self.sf.find_by_emails("Lead", emails, fields=("Id", "Email"))
        out: dict[str, str] = {}
        for row in sorted(rows, key=lambda r: str(r.get("Id"))):
            key = normalise_email(str(row.get("Email") or ""))
            out.setdefault(key, str(row["Id"]))
        return out

    # -- 2. read new members -------------------------------------------------------------------

    def ingest(self, book: BookView, mapping: LeadMapping, tally: BookTally) -> None:
        """Read members changed since the watermark, page by page, into the ledger."""
        started = self.dd.server_time()  # BEFORE reading: a member added meanwhile is re-read
        since = self._since(book)
        for page in self.dd.book_members(
            book.id, modified_since=since, datafields=mapping.datafields
        ):
            self.ingest_page(book, page, mapping, tally)
            self.ctx.check_stop()  # cut short: the watermark stays, the next run re-reads
        mark = _iso(started)
        self.held.verify()
        self.store.set_watermark(self.account.name, book.id, mark)
        tally.watermark = mark
        if since is None:  # that was a read of every member: a sweep needs nothing more
            self.store.set_last_sweep(self.account.name, book.id, mark)
        elif self.sweep_due(book, started):
            self.sweep(book, mapping, tally, mark)

    def _since(self, book: BookView) -> datetime | None:
        mark = self.store.watermark(self.account.name, book.id)
        if mark is None:
            return None  # never read (or backfill): the whole book; the ledger filters
        return _parse_iso(mark) - timedelta(seconds=self.settings.overlap_seconds)

    def ingest_page(
        self, book: BookView, page: Sequence[Contact], mapping: LeadMapping, tally: BookTally
    ) -> list[LedgerEntry]:
        tally.read += len(page)
        existing = self.store.ledger_get(self.account.name, book.id, [c.id for c in page])
        now = _now()
        updates: list[LedgerEntry] = []
        for contact in page:
            new = ledger.evaluate(
                existing.get(contact.id),
                account=self.account.name,
                book_id=book.id,
                contact=contact,
                mapping=mapping,
                run_id=self.run_id,
                now=now,
            )
            if new is None:
                tally.unchanged += 1
            else:
                updates.append(new)
        pushed, rest = exclude_pushed(self, updates, now)  # people the push wrote: no Leads
        updates = pushed + rest
        self._put_counted(updates, existing)
        if self.ctx.progress:
            self.ctx.progress(f"{self.account.name}/{book.name}: read", len(page))
        return updates

    # -- 2b. membership sweep -------------------------------------------------------------------
    #
    # Reading by `~modified` finds a member only if joining the book moved the contact's
    # modified date. Dotdigital does not document that it does for a contact that already
    # existed (e.g. in another book), so at least every `sync.sweep_every` (default 24h; `sync
    # --sweep` forces one) the run also lists every member id of the book and takes the ones
    # the ledger has never seen through the normal path. A full read (no watermark yet, e.g.
    # backfill) and apply's baseline read count as sweeps. Cost per book: ceil(members / 5,000)
    # Dotdigital calls for the ids (dotdigital/client.py `book_member_ids`), ledger look-ups by
    # id, then for the N members found min(N, that many) calls for their data fields.

    def sweep_due(self, book: BookView, server_now: datetime) -> bool:
        if self.ctx.force_sweep:
            return True
        last = self.store.last_sweep(self.account.name, book.id)
        if last is None:
            return True  # never swept (new book, or a state older than the sweep)
        return server_now - _parse_iso(last) >= timedelta(seconds=self.settings.sweep_every)

    def sweep(self, book: BookView, mapping: LeadMapping, tally: BookTally, mark: str) -> None:
        """Sweep one book; its time is recorded only after what it found is in the ledger, so
        a run stopped or killed mid-sweep leaves the sweep due (re-finding is harmless)."""
        for page in self.sweep_pages(book, mapping, tally, exclude=frozenset()):
            self.ingest_page(book, page, mapping, tally)
            self.ctx.check_stop()
        self.held.verify()  # as before the watermark moves: a lost lock stops the run here
        self.store.set_last_sweep(self.account.name, book.id, mark)

    def sweep_pages(
        self, book: BookView, mapping: LeadMapping, tally: BookTally, *, exclude: frozenset[int]
    ) -> Iterator[list[Contact]]:
        """Members of the book that are neither in the ledger nor in `exclude`, with their data
        fields, in pages. Fetched one by one when that costs fewer calls than reading the book
        again with its data fields, else by that second read."""
        unseen: list[int] = []
        pages = 0
        tally.sweep_ids_read = 0
        for ids in self.dd.book_member_ids(book.id):
            pages += 1
            tally.sweep_ids_read += len(ids)
            known = self.store.ledger_known(self.account.name, book.id, ids)
            unseen += [i for i in ids if i not in known and i not in exclude]
            self.ctx.check_stop()
            if self.ctx.progress:
                self.ctx.progress(f"{self.account.name}/{book.name}: sweep", len(ids))
        if not unseen:
            return
        if len(unseen) <= pages:
            found = [c for c in (self.dd.contact_by_id(i) for i in unseen) if c is not None]
            tally.swept += len(found)
            if found:
                yield found
            return
        wanted = set(unseen)
        for page in self.dd.book_members(book.id, datafields=mapping.datafields):
            hits = [c for c in page if c.id in wanted]
            wanted.difference_update(c.id for c in hits)
            tally.swept += len(hits)
            if hits:
                yield hits
            if not wanted:
                return

    # -- 3. write Leads ------------------------------------------------------------------------

    def write_pending(self, book: BookView, mapping: LeadMapping, tally: BookTally) -> None:
        """Every pending member of the book (new, or left by earlier runs) -> Salesforce."""
        ids = list(self.store.ledger_ids(self.account.name, book.id, "pending"))
        if not ids:
            return
        bulk = len(ids) >= self.settings.bulk_threshold
        chunk = BULK_JOB_RECORDS if bulk else CHECK_CHUNK
        for start in range(0, len(ids), chunk):
            self.ctx.checkpoint()
            self._write_chunk(book, mapping, ids[start : start + chunk], bulk)

    def _write_chunk(
        self, book: BookView, mapping: LeadMapping, ids: list[int], bulk: bool
    ) -> None:
        """One batch of write_pending. A method of its own so that a batch's entries are freed
        when it returns, before the next batch is read: one batch in memory, not two (the
        peak memory of a 100,000-lead run)."""
        batch = self.store.ledger_get(self.account.name, book.id, ids)
        batch = {cid: e for cid, e in batch.items() if e.state == "pending" and e.attempt is None}
        ready = self.exclude_existing(list(batch.values()), mapping, book.campaign_id)
        if not ready:
            return
        if bulk:
            self.write_bulk(book, ready, mapping, batch)
        else:
            for sub in range(0, len(ready), COLLECTION_BATCH):
                self.ctx.checkpoint()
                self.write_collection(book, ready[sub : sub + COLLECTION_BATCH], mapping, batch)
        if self.ctx.progress:
            self.ctx.progress(f"{self.account.name}/{book.name}: write", len(ready))

    def exclude_existing(
        self, entries: list[LedgerEntry], mapping: LeadMapping, campaign_id: str | None = None
    ) -> list[LedgerEntry]:
        """Re-map (the mapping may have changed), then drop members already in Salesforce.

        Checked right before writing, not when read: a Lead created since (by a person, by
        another book of this run) must not get a twin. An excluded member of a book with a
        campaign keeps that campaign (ledger.joins_campaign): its matched Lead or Contact joins
        it in the campaign step.
        """
        now = _now()
        stored = {e.contact_id: e for e in entries}
        changed, entries = exclude_pushed(self, entries, now)  # pushed since they were read
        ready: list[LedgerEntry] = []
        # The records of this batch, mapped once here and written from here (mapping a member
        # is the costliest pure step of a run); replaced batch by batch, so memory stays flat.
        self._records = {}
        for entry in entries:
            mapped = ledger.mapped_for(entry, mapping)
            again = ledger.outcome_of_mapping(entry, mapping, self.run_id, now, mapped)
            if again.state == "pending":
                ready.append(again)
                self._records[again.contact_id] = mapped.record
            else:
                changed.append(again)
        book = self._book(ready[0].book_id) if ready else None
        leads, contacts = self._existing([e.email for e in ready])
        found = existing_matches(leads, contacts)
        matches = self.match_existing(book.id, ready, found=found) if book is not None else {}
        owned = self._owned(leads)
        still: list[LedgerEntry] = []
        for entry in ready:
            match = matches.get(entry.email)
            ours = owned.get(self._key_of(entry).casefold())
            if ours is not None:  # made by an earlier write of ours that finished late
                changed.append(ledger.created(entry, ours, campaign_id, self.run_id, now))
            elif match is not None and book is not None:
                campaign = ledger.joins_campaign(
                    match.code, book.campaign_id, book.add_existing_to_campaign
                )
                changed.append(
                    ledger.excluded(
                        entry, match.id, match.code, match.reason, self.run_id, now, campaign
                    )
                )
            else:
                still.append(entry)
        self._put_counted(changed, stored)
        return still

    def _book(self, book_id: int) -> BookView:
        return next(b for b in self.account.books if b.id == book_id)

    def match_existing(
        self,
        book_id: int,
        entries: Sequence[LedgerEntry],
        predicted: dict[str, OwnLead] | None = None,
        found: dict[str, Match] | None = None,
    ) -> dict[str, Match]:
        """Email -> the Salesforce record that excludes the member: an existing Contact or Lead,
        named as leadsync's own when it is the Lead created for the same contact from another
        book of the account. `predicted` (dry run): Leads earlier books of this run would have
        created by now."""
        matches = found if found is not None else self.find_existing([e.email for e in entries])
        own = {**(predicted or {}), **self.own_leads(book_id, entries)}
        return with_own_leads(matches, own) if own else matches

    def own_leads(self, book_id: int, entries: Sequence[LedgerEntry]) -> dict[str, OwnLead]:
        """Email -> the Lead the ledger records as created for the same Dotdigital contact from
        another address book of this account (contact ids are per account, like the ledger)."""
        ids = [e.contact_id for e in entries]
        out: dict[str, OwnLead] = {}
        for other in self.account.books:
            if other.id == book_id or not ids:
                continue
            for entry in self.store.ledger_get(self.account.name, other.id, ids).values():
                if entry.state == "created" and entry.lead_id:
                    out.setdefault(entry.email, OwnLead(other.name, entry.lead_id))
        return out

    def find_existing(self, emails: Sequence[str]) -> dict[str, Match]:
        return existing_matches(*self._existing(emails))

    def _existing(self, emails: Sequence[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Unconverted Leads and Contacts with these emails (Leads with their key, if any)."""
        if not emails:
            return [], []
        fields = ("Id", "Email", self.key) if self.key else ("Id", "Email")
        leads = self.sf.find_by_emails(
            "Lead", emails, fields=fields, extra_where="IsConverted = false"
        )
        contacts = self.sf.find_by_emails("Contact", emails, fields=("Id", "Email"))
        return leads, contacts

    def _owned(self, leads: Sequence[dict[str, Any]]) -> dict[str, str]:
        """Lowercased key -> Lead Id for Leads that carry one of our keys: a write of ours
        made them (a request that finished after its run gave up on it), so the member is
        created, not excluded."""
        if not self.key:
            return {}
        out: dict[str, str] = {}
        for row in sorted(leads, key=lambda r: str(r.get("Id"))):
            value = row.get(self.key)
            if value:
                out.setdefault(str(value).casefold(), str(row["Id"]))
        return out

    def write_collection(
        self,
        book: BookView,
        entries: Sequence[LedgerEntry],
        mapping: LeadMapping,
        stored: dict[int, LedgerEntry],
        resends: int = 0,
    ) -> None:
        attempt = f"{KEYED if self.key else ''}coll:{self.run_id}:{uuid.uuid4().hex[:8]}"
        marked = self._mark(entries, attempt, book, stored)
        records = [self._record(e, mapping) for e in marked]
        try:
            if self.key:
                results = self.sf.upsert(
                    "Lead", records, self.key,
                    allow_duplicate_save=self.settings.allow_duplicate_save,
                    assignment=self.ctx.assignment,
                )  # fmt: skip
            else:
                results = self.sf.create(
                    "Lead", records,
                    allow_duplicate_save=self.settings.allow_duplicate_save,
                    assignment=self.ctx.assignment,
                )  # fmt: skip
        except LimitReached:
            # The request was refused as a whole (403 REQUEST_LIMIT_EXCEEDED): nothing written.
            self._release(marked, "stopped by an API limit before this record was sent")
            raise
        except RemoteError as exc:
            if exc.transient:
                # Gave up after retries, or the outcome is unknown (ambiguous: the client does
                # not re-send a create blindly): learn what happened, as crash recovery does
                # (by key, else by email). Found: created. Absent: it never happened, if the
                # write was an upsert or Salesforce answered it; then, after an ambiguous
                # failure, it is sent again now (a bounded number of times). An absent create
                # that may still be running waits out sync.in_doubt_grace instead.
                settled = self.settle(
                    marked,
                    (),
                    write_errors.of_exception(exc),
                    keyed=self.key is not None,
                    answered=_answered(exc),
                )
                again = [e for e in settled if e.state == "pending" and e.attempt is None]
                if exc.ambiguous and again and resends < AMBIGUOUS_RESENDS:
                    self.ctx.check_budget()
                    self.write_collection(
                        book, again, mapping, {e.contact_id: e for e in again}, resends + 1
                    )
                return
            released = self._release(marked, None)
            if not (isinstance(exc, SalesforceError) and exc.status == 400):
                raise
            # Refused as a whole (e.g. a value Salesforce cannot parse): nothing was written.
            # Halve the batch until the record at fault is alone; it fails, the rest goes in.
            if len(released) == 1:
                failed = ledger.refused(
                    released[0], exc.code or "REFUSED", str(exc), exc.fields, self.run_id, _now()
                )
                self._put_counted([failed], {failed.contact_id: released[0]})
                return
            half = len(released) // 2
            again = {e.contact_id: e for e in released}
            self.write_collection(book, released[:half], mapping, again)
            self.write_collection(book, released[half:], mapping, again)
            return
        self._record_results(marked, results)

    def write_bulk(
        self,
        book: BookView,
        entries: Sequence[LedgerEntry],
        mapping: LeadMapping,
        stored: dict[int, LedgerEntry],
    ) -> None:
        # Not stored yet: the write-ahead of a bulk write is on_job's, which stores the job id
        # before any record is uploaded (creating a job sends no record). Storing a "bulk:"
        # mark first as well cost one more upsert of the whole batch and protected nothing.
        marked = self._mark(
            entries, f"bulk:{self.run_id}:{uuid.uuid4().hex[:8]}", book, stored, durable=False
        )
        records = [self._record(e, mapping) for e in marked]
        jobs: list[str] = []

        def on_job(job_id: str) -> None:
            # Recorded before any data is uploaded: a crash from here on is resolvable.
            jobs.append(job_id)
            attempt = f"{KEYED if self.key else ''}bulkjob:" + ",".join(jobs)
            marked[:] = [ledger.evolve(e, attempt=attempt) for e in marked]
            self.store.ledger_put(marked)

        try:
            if self.key:
                results = self.sf.bulk_upsert(
                    "Lead", records, external_id_field=self.key, key_field=self.key,
                    on_job=on_job, assignment=self.ctx.assignment,
                )  # fmt: skip
            else:
                results = self.sf.bulk_insert(
                    "Lead", records, key_field="Email", on_job=on_job,
                    assignment=self.ctx.assignment,
                )  # fmt: skip
        except LimitReached:
            if not jobs:
                self._release(marked, "stopped by an API limit before this record was sent")
            raise  # with a job recorded, the next run resolves it from the job's results
        except RemoteError as exc:
            if not exc.transient and not jobs:
                self._release(marked, None)
                raise
            settled = self.settle(
                marked, jobs, write_errors.of_exception(exc), keyed=self.key is not None
            )
            leftover = [e for e in settled if e.state == "pending" and e.attempt is None]
        else:
            leftover = self._record_results(marked, results)
        # Records a failed job never reached go through Collections, which isolates a bad one.
        again = {e.contact_id: e for e in leftover}
        for start in range(0, len(leftover), COLLECTION_BATCH):
            self.ctx.checkpoint()
            self.write_collection(book, leftover[start : start + COLLECTION_BATCH], mapping, again)

    def _mark(
        self,
        entries: Sequence[LedgerEntry],
        attempt: str,
        book: BookView,
        stored: dict[int, LedgerEntry],
        *,
        durable: bool = True,
    ) -> list[LedgerEntry]:
        """Entries with `attempt` set. `durable` (collections): stored here, BEFORE the write
        is sent; a bulk write stores them itself when the job id is known (on_job)."""
        self.held.verify()  # before the write-ahead mark: a lost lock stops the run here
        now = _now()
        marked = [
            ledger.with_attempt(e, attempt, self.run_id, now, campaign_id=book.campaign_id)
            for e in entries
        ]
        # durable: stored BEFORE the write is sent; counted either way
        self._put_counted(marked, stored, store=durable)
        return marked

    def _record(self, entry: LedgerEntry, mapping: LeadMapping) -> dict[str, Any]:
        """The Lead record of a marked entry: as mapped by exclude_existing in this batch, or
        mapped afresh (entries that come back from a settle or a resend)."""
        record = self._records.get(entry.contact_id)
        if record is None:
            record = ledger.record_for(entry, mapping)
        if self.key:
            return {**record, self.key: self._key_of(entry)}
        return record

    def _release(self, marked: Sequence[LedgerEntry], reason: str | None) -> list[LedgerEntry]:
        """The write was refused as a whole before anything was written: pending again."""
        now = _now()
        released = [ledger.back_to_pending(e, self.run_id, now, reason) for e in marked]
        self.store.ledger_put(released)  # state stays pending: counts do not move
        return released

    def _record_results(
        self, marked: Sequence[LedgerEntry], results: Sequence[SaveResult]
    ) -> list[LedgerEntry]:
        """Store per-record outcomes; returns the members still pending after a re-check."""
        now = _now()
        outcomes: list[LedgerEntry] = []
        unknown: list[LedgerEntry] = []
        for entry, result in zip(marked, results, strict=True):
            if _known(result):
                outcomes.append(
                    ledger.after_save(entry, result, entry.campaign_id, self.run_id, now)
                )
            else:
                unknown.append(entry)
        self._put_counted(outcomes, {e.contact_id: e for e in marked})
        if not unknown:
            return []
        settled = self.settle(unknown, (), keyed=self.key is not None)
        return [e for e in settled if e.state == "pending" and e.attempt is None]

    # -- 4. campaign members -------------------------------------------------------------------

    def campaign_members(self, book: BookView, tally: BookTally) -> None:
        """Ledger entries of a linked book with nobody in the campaign yet -> CampaignMember:
        created Leads, and the Lead or Contact that excluded a member (ledger.member_ref)."""
        status = self.ctx.view.campaign_member_status
        waiting: list[LedgerEntry] = []
        for entry in self.store.ledger_without_member(self.account.name, book.id):
            if ledger.needs_campaign_member(entry, f"{entry.campaign_id}|{status}"):
                waiting.append(entry)
                if len(waiting) >= BULK_JOB_RECORDS:
                    self._add_members(waiting, status, tally)
                    waiting = []
        if waiting:
            self._add_members(waiting, status, tally)

    def _add_members(self, entries: list[LedgerEntry], status: str, tally: BookTally) -> None:
        """One batch: Lead members and Contact members go in separate writes (a Bulk job's
        results are matched back by one key field)."""
        by_field: dict[str, list[LedgerEntry]] = defaultdict(list)
        for entry in entries:
            ref = ledger.member_ref(entry)
            if ref is not None:
                by_field[ref[0]].append(entry)
        for field_name in sorted(by_field):
            self._add_member_batch(by_field[field_name], field_name, status, tally)

    def _add_member_batch(
        self, entries: list[LedgerEntry], field_name: str, status: str, tally: BookTally
    ) -> None:
        self.ctx.checkpoint()
        self.held.verify()
        records = [
            {"CampaignId": e.campaign_id, field_name: ref[1], "Status": status}
            for e in entries
            if (ref := ledger.member_ref(e)) is not None
        ]
        resent = False
        if len(records) >= self.settings.bulk_threshold:
            results = self.sf.bulk_insert("CampaignMember", records, key_field=field_name)
        else:
            results, resent = self._create_members(records)
        now = _now()
        updates: list[LedgerEntry] = []
        for entry, result in zip(entries, results, strict=True):
            code = result.errors[0].status_code if result.errors else None
            if result.success and result.id:
                updates.append(ledger.campaign_member_added(entry, result.id, self.run_id, now))
                tally.member_added(ledger.member_kind(entry))
            elif code == ledger.DUPLICATE_VALUE:
                updates.append(ledger.campaign_member_added(entry, code, self.run_id, now))
                if resent:  # most likely made by the attempt whose answer was lost
                    tally.member_added(ledger.member_kind(entry))
                else:
                    tally.campaign_members_already_in += 1
            elif code and code not in ledger.TRANSIENT_CODES:
                message = result.errors[0].message
                key = f"{entry.campaign_id}|{status}"
                updates.append(
                    ledger.campaign_member_failed(entry, code, message, key, self.run_id, now)
                )
                tally.campaign_members_failed += 1
        self.store.ledger_put(updates)

    def _create_members(self, records: list[dict[str, Any]]) -> tuple[list[SaveResult], bool]:
        """Create CampaignMembers; after an ambiguous failure (outcome unknown) send them again:
        one the lost attempt did create answers DUPLICATE_VALUE, which means done. Returns the
        results and whether they come from a re-send."""
        resends = 0
        while True:
            try:
                return self.sf.create("CampaignMember", records), resends > 0
            except SalesforceError as exc:
                if not exc.ambiguous or resends >= AMBIGUOUS_RESENDS:
                    raise
                resends += 1
                self.ctx.check_budget()

    # -- bookkeeping ---------------------------------------------------------------------------

    def _put_counted(
        self,
        updates: Sequence[LedgerEntry],
        stored: dict[int, LedgerEntry],
        *,
        store: bool = True,
    ) -> None:
        """Store entries durably (unless `store` is false), then count each in its book's tally.

        `stored` holds the entries as they were in the store before this put. An entry this run
        already stored (last_run is this run) was counted then, in its stored state: it moves
        from that outcome to the new one. Any other entry is seen for the first time this run.
        Every put that touches an entry's state goes through here, which keeps `seen` equal to
        the sum of the outcomes.
        """
        if not updates:
            return
        if store:
            self.store.ledger_put(updates)
        for entry in updates:
            old = stored.get(entry.contact_id)
            counted = (
                old.state
                if old is not None and old.last_run == self.run_id and old.state in OUTCOME_KEYS
                else None
            )
            tally = self.ctx.tally(self.account, entry.book_id)
            tally.move(counted, entry.state, entry.reason_code)
            tally.note_error(entry.contact_id, entry.email, self._error_of_this_run(entry))

    def _error_of_this_run(self, entry: LedgerEntry) -> dict[str, Any] | None:
        """The last_error that keeps `entry` pending, when this run's write recorded it."""
        if entry.state != "pending":
            return None
        error = write_errors.last_error_of(entry.extra)
        return error if error is not None and error.get("run") == self.run_id else None


@dataclass(frozen=True, slots=True)
class _Joining:
    """A campaign member the real run would add: whom (field + record Id, "" for a Lead not
    created yet), for which member (email), counted as "new" or "existing"."""

    email: str
    campaign_id: str
    field: str
    record_id: str
    kind: str


class DryRunBook:
    """What a sync would do for one book: reads both systems, writes nothing anywhere.

    It follows the real run's steps in the real run's order, so it predicts the same counts and
    reasons: Leads an earlier book of this run would create are remembered (Run.predicted_leads)
    and exclude the same person in a later book, as the created Lead would; campaign members are
    predicted from the same ledger rules, and those already in the campaign are looked up.
    """

    def __init__(
        self, parent: AccountSync, book: BookView, mapping: LeadMapping, tally: BookTally
    ) -> None:
        self.parent = parent
        self.book = book
        self.mapping = mapping
        self.tally = tally
        self.samples: dict[str, list[dict[str, str]]] = {
            k: [] for k in ("created", "excluded", "skipped", "failed")
        }
        self.joining: list[_Joining] = []
        parent.ctx.samples[(parent.account.name, book.id)] = self.samples

    def run(self) -> None:
        p = self.parent
        in_doubt = [e for e in p.store.ledger_in_doubt(p.account.name) if e.book_id == self.book.id]
        for entry in in_doubt:
            self.count(entry, "pending", "in doubt: the next sync resolves it from Salesforce")
        seen: set[int] = set()
        since = p._since(self.book)
        server_now = p.dd.server_time()
        for page in p.dd.book_members(
            self.book.id, modified_since=since, datafields=self.mapping.datafields
        ):
            self.consider(page, seen)
        if since is not None and p.sweep_due(self.book, server_now):  # as the real run would
            for page in p.sweep_pages(self.book, self.mapping, self.tally, exclude=frozenset(seen)):
                self.consider(page, seen)
        earlier: list[LedgerEntry] = []
        for entry in p.store.ledger_iter(p.account.name, self.book.id, ["pending"]):
            if entry.contact_id in seen or entry.attempt is not None:
                continue
            again = ledger.outcome_of_mapping(entry, self.mapping, p.run_id, _now())
            if again.state == "pending":
                earlier.append(again)
            else:
                self.count(again, again.state, again.reason or "")
            if len(earlier) >= CHECK_CHUNK:
                self.classify(earlier)
                earlier = []
        self.classify(earlier)
        self.predict_campaign()

    def consider(self, page: Sequence[Contact], seen: set[int]) -> None:
        """One page of members read: what the real run's ingest would record for each."""
        p = self.parent
        self.tally.read += len(page)
        existing = p.store.ledger_get(p.account.name, self.book.id, [c.id for c in page])
        now = _now()
        ready: list[LedgerEntry] = []
        evaluated: list[LedgerEntry] = []
        for contact in page:
            new = ledger.evaluate(
                existing.get(contact.id),
                account=p.account.name,
                book_id=self.book.id,
                contact=contact,
                mapping=self.mapping,
                run_id=p.run_id,
                now=now,
            )
            if new is None:
                self.tally.unchanged += 1
                continue
            seen.add(contact.id)
            evaluated.append(new)
        pushed, evaluated = exclude_pushed(p, evaluated, now)  # what the push wrote
        for entry in pushed:
            self.count(entry, "excluded", entry.reason or "", ledger.FROM_SALESFORCE)
        for new in evaluated:
            if new.state == "pending":
                ready.append(new)
            else:
                self.count(new, new.state, new.reason or "")
        self.classify(ready)
        p.ctx.check_stop()
        if p.ctx.progress:
            p.ctx.progress(f"{p.account.name}/{self.book.name}: read", len(page))

    def classify(self, ready: list[LedgerEntry]) -> None:
        if not ready:
            return
        p = self.parent
        pushed, ready = exclude_pushed(p, ready, _now())  # pending from before a push
        for entry in pushed:
            self.count(entry, "excluded", entry.reason or "", ledger.FROM_SALESFORCE)
        matches = p.match_existing(self.book.id, ready, self._predicted(ready))
        for entry in ready:
            match = matches.get(entry.email)
            if match is not None:
                self.count(entry, "excluded", match.reason, match.code)
                campaign = ledger.joins_campaign(
                    match.code, self.book.campaign_id, self.book.add_existing_to_campaign
                )
                field_name = ledger.MEMBER_FIELD_OF_EXCLUSION.get(match.code, "LeadId")
                if campaign:
                    self.joining.append(
                        _Joining(entry.email, campaign, field_name, match.id, "existing")
                    )
            else:
                self.count(entry, "created", "has every value the Lead needs")
                p.ctx.predicted_leads.setdefault(entry.email, (p.account.name, self.book.name))
                if self.book.campaign_id:
                    self.joining.append(
                        _Joining(entry.email, self.book.campaign_id, "LeadId", "", "new")
                    )

    def _predicted(self, ready: list[LedgerEntry]) -> dict[str, OwnLead]:
        """Leads that earlier books of this run would have created for these emails."""
        p = self.parent
        out: dict[str, OwnLead] = {}
        for entry in ready:
            origin = p.ctx.predicted_leads.get(entry.email)
            if origin is None or origin == (p.account.name, self.book.name):
                continue
            account, book = origin
            same = account == p.account.name
            out[entry.email] = OwnLead(book if same else f"{account}/{book}", None, same)
        return out

    def predict_campaign(self) -> None:
        """Who the campaign step would add: this run's members (above) and ledger entries left
        without a member by earlier runs; those already in the campaign are not added."""
        status = self.parent.ctx.view.campaign_member_status
        joining = list(self.joining)
        p = self.parent
        for entry in p.store.ledger_without_member(p.account.name, self.book.id):
            ref = ledger.member_ref(entry)
            key = f"{entry.campaign_id}|{status}"
            if ref is not None and entry.campaign_id and ledger.needs_campaign_member(entry, key):
                joining.append(
                    _Joining(entry.email, entry.campaign_id, *ref, ledger.member_kind(entry))
                )
        members = self._members_already(joining)
        for join in joining:
            key = (join.campaign_id, join.email)
            if key in p.ctx.predicted_members or (join.campaign_id, join.record_id) in members:
                self.tally.campaign_members_already_in += 1
            else:
                self.tally.member_added(join.kind)
                p.ctx.predicted_members.add(key)

    def _members_already(self, joining: list[_Joining]) -> set[tuple[str, str]]:
        """(campaign id, record Id) of the people in `joining` who are campaign members now."""
        wanted: dict[tuple[str, str], list[str]] = defaultdict(list)
        for join in joining:
            if join.record_id:
                wanted[(join.campaign_id, join.field)].append(join.record_id)
        found: set[tuple[str, str]] = set()
        for (campaign_id, field_name), ids in wanted.items():
            present = self.parent.sf.campaign_member_ids(campaign_id, field_name, ids)
            short = {i[:15] for i in present}
            found |= {(campaign_id, i) for i in ids if i[:15] in short}
        return found

    def count(self, entry: LedgerEntry, state: str, reason: str, code: str | None = None) -> None:
        self.tally.move(None, state, code or entry.reason_code)
        rows = self.samples.get(state)
        if rows is not None and len(rows) < SAMPLES:
            rows.append({"email": entry.email, "reason": reason})


def _known(result: SaveResult) -> bool:
    """False when the client could not learn what happened to the record (re-check by email),
    or when a bulk job failed as a whole before reaching it (says nothing about the record)."""
    return not (
        not result.success
        and result.errors
        and result.errors[0].status_code in (RESULT_UNKNOWN, BULK_JOB_FAILED)
    )


KEYED = "key:"
"""Prefix of the attempt of an upsert on the Lead key (e.g. `key:coll:<run>:<batch>`,
`key:bulkjob:<job ids>`): how a later run knows the write can be looked up by key and re-sent."""


def _job_ids(attempt: str) -> list[str]:
    attempt = attempt.removeprefix(KEYED)
    if attempt.startswith("bulkjob:"):
        return [j for j in attempt.removeprefix("bulkjob:").split(",") if j]
    return []


def _email_of(entry: LedgerEntry) -> str:
    return entry.email


def _answered(exc: Exception) -> bool:
    """Salesforce itself answered the write with 500 (UNKNOWN_EXCEPTION): the request has
    finished, so a lookup now sees all it did. A lost connection, a read timeout or a gateway's
    502/504 say nothing of the sort: the request may still be running."""
    return isinstance(exc, SalesforceError) and exc.status == 500


def _new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
    With `jobs` > 1 every worker opens the state store anew: a connection of its own."""
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
            open_store=lambda: open_store(config.state, base),
        )
    finally:
        store.close()


__all__: Iterable[str] = ("StopRequested", "SyncResult", "open_and_sync", "run_sync")
