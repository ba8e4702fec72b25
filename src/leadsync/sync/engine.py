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

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from leadsync.config.model import Config, SyncSettings
from leadsync.dotdigital.client import DotdigitalClient
from leadsync.dotdigital.model import Contact
from leadsync.errors import LeadsyncError, LimitReached, RemoteError
from leadsync.salesforce.assignment import LeadAssignment
from leadsync.salesforce.client import SalesforceClient
from leadsync.salesforce.errors import BULK_JOB_FAILED, RESULT_UNKNOWN, SalesforceError
from leadsync.salesforce.model import SaveResult
from leadsync.state.model import LedgerEntry, StateStore
from leadsync.sync import ledger
from leadsync.sync.applied import AccountView, AppliedView, BookView, read_view
from leadsync.sync.classify import Match, existing_matches
from leadsync.sync.mapping import LeadMapping, normalise_email
from leadsync.sync.report import OUTCOME_KEYS, BookTally, exit_code, totals
from leadsync.sync.schedule import parse_interval

COLLECTION_BATCH = 200  # one sObject Collections call
CHECK_CHUNK = 2000  # members checked against Salesforce (by email) per round of queries
BULK_JOB_RECORDS = 10_000  # records per Bulk API 2.0 job (one write-ahead unit)
AMBIGUOUS_RESENDS = 2  # re-sends, within a run, of creates settled as "never happened"
SAMPLES = 5

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
    lock_timeout: float = 0.0,
    warn: Callable[[str], None] = lambda _m: None,
    progress: Progress | None = None,
    salesforce: SalesforceClient | None = None,
    dotdigital: Callable[[str], DotdigitalClient] | None = None,
    stop: StopHook | None = None,
    sweep: bool = False,
) -> SyncResult:
    """One sync of every create_leads book in the applied state. Raises LeadsyncError (exit 1)
    for errors; a limit stops the run cleanly and is reported (exit 3), not raised; a stop
    request (`stop` returns truthy) ends it at the next checkpoint, reported as "interrupted".
    `sweep` forces a membership sweep of every book (else each sweeps once `sweep_every` passed)."""
    applied = store.read_applied()
    if applied is None:
        raise LeadsyncError(
            "nothing has been applied yet: run `leadsync plan` and `leadsync apply` first "
            "(sync only uses the applied integration)"
        )
    view = read_view(applied)
    warnings: list[str] = []
    if _config_differs(config, applied):
        message = (
            f"{config.source} differs from the applied state (serial {applied.serial}); "
            "this sync uses the applied mapping and books. Run `leadsync plan` to review the "
            "difference and `leadsync apply` to make it effective."
        )
        warnings.append(message)
        warn(message)
    sf = salesforce or SalesforceClient(config.salesforce)
    dd_clients: dict[str, DotdigitalClient] = {}

    def dd_for(account: str) -> DotdigitalClient:
        if account not in dd_clients:
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
    }
    try:
        for name, account in view.accounts.items():
            run.check_stop()
            if not account.lead_books and not store.ledger_in_doubt(name):
                continue
            lock = (
                nullcontext()
                if dry_run
                else store.lock([f"account:{name}"], timeout=lock_timeout, purpose="sync")
            )
            with lock:
                AccountSync(run, account, dd_for(name)).run()
        report["status"] = "done"
    except LimitReached as exc:
        report["status"] = "stopped"
        report["stop_reason"] = str(exc)
    except StopRequested as exc:
        report["status"] = "interrupted"
        report["stop_reason"] = str(exc)
    except LeadsyncError as exc:
        report["status"] = "error"
        report["stop_reason"] = str(exc)
        _finish(report, run, dd_clients)
        if not dry_run and run.tallies:
            store.save_run(run.run_id, report)
        raise
    _finish(report, run, dd_clients)
    if not dry_run:
        store.save_run(run.run_id, report)
    return SyncResult(report, exit_code(report), warnings)


def _finish(report: dict[str, Any], run: Run, dd_clients: dict[str, DotdigitalClient]) -> None:
    books = [t.as_dict() for t in run.tallies.values()]
    if run.dry_run:
        for book in books:
            book["samples"] = run.samples.get((book["account"], book["book_id"]), {})
    report["books"] = books
    report["totals"] = totals(books)
    report["ended_at"] = _now()
    report["api_calls"] = {
        "salesforce": run.sf.calls,
        "dotdigital": sum(c.calls for c in dd_clients.values()),
    }
    report["exit_code"] = exit_code(report)


def _config_differs(config: Config, applied: Any) -> bool:
    try:
        from leadsync.config import snapshot

        return snapshot(config, applied.salt) != applied.config
    except Exception:  # an older/newer snapshot format: fall back to the file's hash
        return config.source_sha256 != applied.config_sha256


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
    _mapping: dict[str, LeadMapping] = field(default_factory=dict)

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


class AccountSync:
    """One account, under its lock: resolve in-doubt writes, then each create_leads book."""

    def __init__(self, run: Run, account: AccountView, dd: DotdigitalClient) -> None:
        self.ctx = run
        self.account = account
        self.dd = dd
        self.store = run.store
        self.sf = run.sf
        self.settings = run.view.settings
        self.run_id = run.run_id
        self._records: dict[int, dict[str, Any]] = {}  # contact id -> Lead record, one batch

    # -- orchestration -------------------------------------------------------------------------

    def run(self) -> None:
        mapping = self.ctx.mapping(self.account)
        if not self.ctx.dry_run:
            self.resolve_in_doubt(self.store.ledger_in_doubt(self.account.name))
        for book in self.account.lead_books:
            self.ctx.check_stop()
            tally = self.ctx.tally(self.account, book.id)
            if self.ctx.dry_run:
                DryRunBook(self, book, mapping, tally).run()
                continue
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
            self.settle(group, _job_ids(attempt))

    def settle(self, group: Sequence[LedgerEntry], job_ids: Sequence[str]) -> list[LedgerEntry]:
        """In-doubt entries -> created / outcome from a bulk job / back to pending.

        Used at the start of a run (crash recovery) and right after a write whose outcome is
        unknown (ambiguous: the client does not re-send creates blindly). When Salesforce
        cannot be asked now (a transient error), the entries are returned unchanged and stay
        in doubt: the next run resolves them before it writes anything.
        """
        now = _now()
        results: dict[str, SaveResult] = {}
        settled: list[LedgerEntry] = []
        unknown: list[LedgerEntry] = []
        try:
            for job_id in job_ids:
                for key, result in self.sf.bulk_job_results(job_id, key_field="Email").items():
                    if key not in results or (result.success and not results[key].success):
                        results[key] = result
            for entry in group:
                result = results.get(entry.email)
                if result is not None and _known(result):
                    settled.append(
                        ledger.after_save(entry, result, entry.campaign_id, self.run_id, now)
                    )
                else:
                    unknown.append(entry)
            found = self._own_leads_by_email([e.email for e in unknown]) if unknown else {}
        except RemoteError as exc:
            if not getattr(exc, "transient", False):
                raise
            return list(group)  # still in doubt (attempt kept): the next run settles them
        if unknown:
            for entry in unknown:
                lead_id = found.get(entry.email)
                if lead_id:
                    settled.append(
                        ledger.created(entry, lead_id, entry.campaign_id, self.run_id, now)
                    )
                else:
                    settled.append(ledger.back_to_pending(entry, self.run_id, now))
        self._put_counted(settled, {e.contact_id: e for e in group})
        return settled

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
        return server_now - _parse_iso(last) >= timedelta(seconds=_sweep_seconds(self.settings))

    def sweep(self, book: BookView, mapping: LeadMapping, tally: BookTally, mark: str) -> None:
        """Sweep one book; its time is recorded only after what it found is in the ledger, so
        a run stopped or killed mid-sweep leaves the sweep due (re-finding is harmless)."""
        for page in self.sweep_pages(book, mapping, tally, exclude=frozenset()):
            self.ingest_page(book, page, mapping, tally)
            self.ctx.check_stop()
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
        ids = [
            e.contact_id
            for e in self.store.ledger_iter(self.account.name, book.id, ["pending"])
            if e.attempt is None
        ]
        if not ids:
            return
        bulk = len(ids) >= self.settings.bulk_threshold
        chunk = BULK_JOB_RECORDS if bulk else CHECK_CHUNK
        for start in range(0, len(ids), chunk):
            self.ctx.checkpoint()
            batch = self.store.ledger_get(self.account.name, book.id, ids[start : start + chunk])
            batch = {
                cid: e for cid, e in batch.items() if e.state == "pending" and e.attempt is None
            }
            ready = self.exclude_existing(list(batch.values()), mapping)
            if not ready:
                continue
            if bulk:
                self.write_bulk(book, ready, mapping, batch)
            else:
                for sub in range(0, len(ready), COLLECTION_BATCH):
                    self.ctx.checkpoint()
                    self.write_collection(book, ready[sub : sub + COLLECTION_BATCH], mapping, batch)
            if self.ctx.progress:
                self.ctx.progress(f"{self.account.name}/{book.name}: write", len(ready))

    def exclude_existing(
        self, entries: list[LedgerEntry], mapping: LeadMapping
    ) -> list[LedgerEntry]:
        """Re-map (the mapping may have changed), then drop members already in Salesforce.

        Checked right before writing, not when read: a Lead created since (by a person, by
        another book of this run) must not get a twin.
        """
        now = _now()
        changed: list[LedgerEntry] = []
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
        matches = self.find_existing([e.email for e in ready])
        still: list[LedgerEntry] = []
        for entry in ready:
            match = matches.get(entry.email)
            if match is not None:
                changed.append(
                    ledger.excluded(entry, match.id, match.code, match.reason, self.run_id, now)
                )
            else:
                still.append(entry)
        self._put_counted(changed, {e.contact_id: e for e in entries})
        return still

    def find_existing(self, emails: Sequence[str]) -> dict[str, Match]:
        if not emails:
            return {}
        leads = self.sf.find_by_emails(
            "Lead", emails, fields=("Id", "Email"), extra_where="IsConverted = false"
        )
        contacts = self.sf.find_by_emails("Contact", emails, fields=("Id", "Email"))
        return existing_matches(leads, contacts)

    def write_collection(
        self,
        book: BookView,
        entries: Sequence[LedgerEntry],
        mapping: LeadMapping,
        stored: dict[int, LedgerEntry],
        resends: int = 0,
    ) -> None:
        attempt = f"coll:{self.run_id}:{uuid.uuid4().hex[:8]}"
        marked = self._mark(entries, attempt, book, stored)
        records = [self._record(e, mapping) for e in marked]
        try:
            results = self.sf.create(
                "Lead",
                records,
                allow_duplicate_save=self.settings.allow_duplicate_save,
                assignment=self.ctx.assignment,
            )
        except LimitReached:
            # The request was refused as a whole (403 REQUEST_LIMIT_EXCEEDED): nothing written.
            self._release(marked, "stopped by an API limit before this record was sent")
            raise
        except RemoteError as exc:
            if getattr(exc, "transient", False):
                # Gave up after retries, or the outcome is unknown (ambiguous: the client does
                # not re-send a create blindly): learn what happened, by email, as crash
                # recovery does. Found: created. Absent: it never happened, so after an
                # ambiguous failure it is sent again now (a bounded number of times).
                settled = self.settle(marked, ())
                again = [e for e in settled if e.state == "pending" and e.attempt is None]
                if getattr(exc, "ambiguous", False) and again and resends < AMBIGUOUS_RESENDS:
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
            attempt = "bulkjob:" + ",".join(jobs)
            marked[:] = [ledger.evolve(e, attempt=attempt) for e in marked]
            self.store.ledger_put(marked)

        try:
            results = self.sf.bulk_insert(
                "Lead", records, key_field="Email", on_job=on_job, assignment=self.ctx.assignment
            )
        except LimitReached:
            if not jobs:
                self._release(marked, "stopped by an API limit before this record was sent")
            raise  # with a job recorded, the next run resolves it from the job's results
        except RemoteError as exc:
            if not getattr(exc, "transient", False) and not jobs:
                self._release(marked, None)
                raise
            settled = self.settle(marked, jobs)
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
        return record if record is not None else ledger.record_for(entry, mapping)

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
        return [e for e in self.settle(unknown, ()) if e.state == "pending" and e.attempt is None]

    # -- 4. campaign members -------------------------------------------------------------------

    def campaign_members(self, book: BookView, tally: BookTally) -> None:
        """Created Leads of a linked book that are not campaign members yet -> CampaignMember."""
        status = self.ctx.view.campaign_member_status
        waiting: list[LedgerEntry] = []
        for entry in self.store.ledger_iter(self.account.name, book.id, ["created"]):
            if entry.campaign_id and ledger.needs_campaign_member(
                entry, f"{entry.campaign_id}|{status}"
            ):
                waiting.append(entry)
                if len(waiting) >= BULK_JOB_RECORDS:
                    self._add_members(waiting, status, tally)
                    waiting = []
        if waiting:
            self._add_members(waiting, status, tally)

    def _add_members(self, entries: list[LedgerEntry], status: str, tally: BookTally) -> None:
        self.ctx.checkpoint()
        records = [
            {"CampaignId": e.campaign_id, "LeadId": e.lead_id, "Status": status} for e in entries
        ]
        resent = False
        if len(records) >= self.settings.bulk_threshold:
            results = self.sf.bulk_insert("CampaignMember", records, key_field="LeadId")
        else:
            results, resent = self._create_members(records)
        now = _now()
        updates: list[LedgerEntry] = []
        for entry, result in zip(entries, results, strict=True):
            code = result.errors[0].status_code if result.errors else None
            if result.success and result.id:
                updates.append(ledger.campaign_member_added(entry, result.id, self.run_id, now))
                tally.campaign_members_added += 1
            elif code == ledger.DUPLICATE_VALUE:
                updates.append(ledger.campaign_member_added(entry, code, self.run_id, now))
                if resent:  # most likely made by the attempt whose answer was lost
                    tally.campaign_members_added += 1
                else:
                    tally.campaign_members_existing += 1
            elif code and code not in ledger.TRANSIENT_CODES and code != RESULT_UNKNOWN:
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
            self.ctx.tally(self.account, entry.book_id).move(
                counted, entry.state, entry.reason_code
            )


class DryRunBook:
    """What a sync would do for one book: reads both systems, writes nothing anywhere."""

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
        if self.book.campaign_id:
            self.tally.campaign_members_added = self.tally.outcomes["created"]

    def consider(self, page: Sequence[Contact], seen: set[int]) -> None:
        """One page of members read: what the real run's ingest would record for each."""
        p = self.parent
        self.tally.read += len(page)
        existing = p.store.ledger_get(p.account.name, self.book.id, [c.id for c in page])
        now = _now()
        ready: list[LedgerEntry] = []
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
            if new.state == "pending":
                ready.append(new)
            else:
                self.count(new, new.state, new.reason or "")
        self.classify(ready)
        p.ctx.check_stop()
        if p.ctx.progress:
            p.ctx.progress(f"{p.account.name}/{self.book.name}: read", len(page))

    def classify(self, ready: list[LedgerEntry]) -> None:
        matches = self.parent.find_existing([e.email for e in ready])
        for entry in ready:
            match = matches.get(entry.email)
            if match is not None:
                self.count(entry, "excluded", match.reason, match.code)
            else:
                self.count(entry, "created", "has every value the Lead needs")

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


def _sweep_seconds(settings: SyncSettings) -> float:
    """sync.sweep_every in seconds (validate checked it; an unreadable value means the default)."""
    try:
        return parse_interval(settings.sweep_every)
    except LeadsyncError:
        return parse_interval(SyncSettings().sweep_every)


def _job_ids(attempt: str) -> list[str]:
    if attempt.startswith("bulkjob:"):
        return [j for j in attempt.removeprefix("bulkjob:").split(",") if j]
    return []


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
    lock_timeout: float = 0.0,
    warn: Callable[[str], None] = lambda _m: None,
    progress: Progress | None = None,
    env: dict[str, str] | None = None,
    stop: StopHook | None = None,
    sweep: bool = False,
) -> SyncResult:
    """The CLI's one call: load leadsync.yaml (for connections and the state), then sync."""
    from leadsync.config import config_dir, load_or_raise
    from leadsync.state import open_store

    config = load_or_raise(config_path, env)
    store = open_store(config.state, Path(config_dir(config.source)))
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
        )
    finally:
        store.close()


__all__: Iterable[str] = ("StopRequested", "SyncResult", "open_and_sync", "run_sync")
