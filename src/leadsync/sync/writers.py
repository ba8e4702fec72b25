"""Lead writers: `write(batch)` sends a batch of pending members to Salesforce and returns each
member as the ledger now holds it (created, failed, excluded, pending, or still in doubt).

In the spirit of singer-sdk sinks, one interface with one implementation per way of writing:
sObject Collections (`CollectionsWriter`, 200 records a request) and Bulk API 2.0
(`BulkWriter`, one job per batch); `uses_bulk` is the one place that chooses between them.
The dry run's writer (`DryRunWriter`) sends nothing: it records the Leads it would create. The real writers
share the two steps the exactly-once argument rests on (docs/ARCHITECTURE.md):

- write-ahead (`mark`): before any record of the batch leaves, its entries are stored with a
  WriteAhead mark (sync/write_ahead.py). A Bulk write stores the mark with the job id as soon
  as Salesforce assigns it, which is before any record is uploaded (creating a job sends none);
- settle (`settle_results`): the per-record answers go into the ledger and the mark is cleared;
  a record whose outcome the client could not learn is settled like a crash (sync/recovery.py).

A write whose outcome is unknown while the run goes on (the connection dropped after a create
was sent, a read timeout, 500/502/504: the client raises it as `ambiguous`) is settled at once
like an in-doubt write after a crash; absent creates are sent again a bounded number of times.
A refusal of the whole request is split until the culprit stands alone (sync/halving.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from leadsync.errors import LimitReached, RemoteError
from leadsync.salesforce.errors import SalesforceError
from leadsync.salesforce.model import SaveResult
from leadsync.state.model import LedgerEntry
from leadsync.sync import ledger, write_errors
from leadsync.sync.applied import BookView
from leadsync.sync.classify import PREDICTED
from leadsync.sync.halving import Refused, refusal, refused_as_whole, split_refused
from leadsync.sync.mapping import LeadMapping
from leadsync.sync.recovery import answered, key_of, known
from leadsync.sync.wire import now as _now
from leadsync.sync.write_ahead import WriteAhead

if TYPE_CHECKING:
    from leadsync.sync.account import AccountSync

COLLECTION_BATCH = 200  # one sObject Collections call
CHECK_CHUNK = 2000  # members checked against Salesforce (by email) per round of queries
BULK_JOB_RECORDS = 10_000  # records per Bulk API 2.0 job (one write-ahead unit)
AMBIGUOUS_RESENDS = 2  # re-sends, within a run, of creates settled as "never happened"


def uses_bulk(parent: AccountSync, records: int) -> bool:
    """The Collections-or-Bulk choice, for Leads and CampaignMembers: Bulk API 2.0 from
    sync.bulk_threshold records on (fewer API calls for many records), else sObject
    Collections (an answer per record at once, and a bad record isolated by halving)."""
    return records >= parent.settings.bulk_threshold


def writer_for(
    parent: AccountSync, book: BookView, mapping: LeadMapping, pending: int
) -> LeadWriter:
    """The Lead writer for a book with `pending` members to write (uses_bulk). A dry run
    writes nothing, whichever way the real run would."""
    way = BulkWriter if uses_bulk(parent, pending) else CollectionsWriter
    if parent.ctx.dry_run:  # batched as the real writer would be: the same checks, the same calls
        return DryRunWriter(parent, book, mapping, chunk=way.chunk)
    return way(parent, book, mapping)


class LeadWriter:
    """What every Lead writer shares: the write-ahead mark, the Lead record of an entry, the
    release of a batch refused before anything was written, and the settle of the answers."""

    chunk = CHECK_CHUNK  # pending members read from the ledger (and checked) per batch

    def __init__(self, parent: AccountSync, book: BookView, mapping: LeadMapping) -> None:
        self.parent = parent
        self.book = book
        self.mapping = mapping
        self.ctx = parent.ctx
        self.sf = parent.sf
        self.store = parent.store
        self.settings = parent.settings
        self.run_id = parent.run_id
        self.key = parent.key  # the Lead upsert key field, when the org has it usable

    def write(
        self, entries: Sequence[LedgerEntry], stored: dict[int, LedgerEntry]
    ) -> list[LedgerEntry]:
        """Write the batch; each member as the ledger now holds it. `stored`: the entries as
        they were in the store before (how the tallies count the moves)."""
        raise NotImplementedError

    def write_ahead(self, kind: str) -> WriteAhead:
        """A new mark for one write of this run."""
        batch = f"{self.run_id}:{uuid.uuid4().hex[:8]}"
        return WriteAhead("bulk" if kind == "bulk" else "collections", bool(self.key), batch)

    def mark(
        self,
        entries: Sequence[LedgerEntry],
        ahead: WriteAhead,
        stored: dict[int, LedgerEntry],
        *,
        durable: bool = True,
    ) -> list[LedgerEntry]:
        """Entries with the mark set. `durable` (collections): stored here, BEFORE the write
        is sent; a bulk write stores them itself when the job id is known (on_job)."""
        self.parent.held.verify()  # before the write-ahead mark: a lost lock stops the run here
        now = _now()
        attempt = ahead.encode()
        marked = [
            ledger.with_attempt(e, attempt, self.run_id, now, campaign_id=self.book.campaign_id)
            for e in entries
        ]
        # durable: stored BEFORE the write is sent; counted either way
        self.parent.put_counted(marked, stored, store=durable)
        return marked

    def record(self, entry: LedgerEntry) -> dict[str, Any]:
        """The Lead record of a marked entry: as mapped by Existing.exclude in this batch, or
        mapped afresh (entries that come back from a settle or a resend)."""
        record = self.parent.batch_records.get(entry.contact_id)
        if record is None:
            record = ledger.record_for(entry, self.mapping)
        if self.key:
            return {**record, self.key: key_of(entry)}
        return record

    def release(self, marked: Sequence[LedgerEntry], reason: str | None) -> list[LedgerEntry]:
        """The write was refused as a whole before anything was written: pending again."""
        now = _now()
        released = [ledger.back_to_pending(e, self.run_id, now, reason) for e in marked]
        self.store.ledger_put(released)  # state stays pending: counts do not move
        self.parent.remember(released)
        return released

    def settle_results(
        self, marked: Sequence[LedgerEntry], results: Sequence[SaveResult]
    ) -> tuple[list[LedgerEntry], list[LedgerEntry]]:
        """Store per-record outcomes; a record the answer says nothing about is re-checked
        (sync/recovery.py). Returns (members the answer settled, members re-checked)."""
        now = _now()
        outcomes: list[LedgerEntry] = []
        unknown: list[LedgerEntry] = []
        for entry, result in zip(marked, results, strict=True):
            if known(result):
                outcomes.append(
                    ledger.after_save(entry, result, entry.campaign_id, self.run_id, now)
                )
            else:
                unknown.append(entry)
        self.parent.put_counted(outcomes, {e.contact_id: e for e in marked})
        if not unknown:
            return outcomes, []
        return outcomes, self.parent.in_doubt.settle(unknown, (), keyed=self.key is not None)


def still_pending(entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
    """Members a write left pending and not in doubt: to be written again now."""
    return [e for e in entries if e.state == "pending" and e.attempt is None]


def _merged(first: Sequence[LedgerEntry], later: Sequence[LedgerEntry]) -> list[LedgerEntry]:
    """`first` with the members `later` wrote again replaced by their later state."""
    again = {e.contact_id: e for e in later}
    return [again.get(e.contact_id, e) for e in first]


class CollectionsWriter(LeadWriter):
    """sObject Collections: 200 records a request, an answer per record."""

    def write(
        self, entries: Sequence[LedgerEntry], stored: dict[int, LedgerEntry]
    ) -> list[LedgerEntry]:
        out: list[LedgerEntry] = []
        for start in range(0, len(entries), COLLECTION_BATCH):
            self.ctx.checkpoint()
            out += self.send(entries[start : start + COLLECTION_BATCH], stored)
        return out

    def send(
        self, entries: Sequence[LedgerEntry], stored: dict[int, LedgerEntry], resends: int = 0
    ) -> list[LedgerEntry]:
        """One request, split while Salesforce refuses it as a whole (sync/halving.py)."""
        before = dict(stored)
        tries = iter([resends])  # halves of a refused request start their own count

        def once(batch: Sequence[LedgerEntry]) -> list[LedgerEntry]:
            return self._send_once(batch, before, next(tries, 0))

        return split_refused(once, entries, self._alone)

    def _send_once(
        self, entries: Sequence[LedgerEntry], stored: dict[int, LedgerEntry], resends: int
    ) -> list[LedgerEntry]:
        marked = self.mark(entries, self.write_ahead("collections"), stored)
        try:
            results = self._call([self.record(e) for e in marked])
        except LimitReached:
            # The request was refused as a whole (403 REQUEST_LIMIT_EXCEEDED): nothing written.
            self.release(marked, "stopped by an API limit before this record was sent")
            raise
        except RemoteError as exc:
            if exc.transient:
                return self._unknown_outcome(marked, exc, resends)
            released = self.release(marked, None)
            if refused_as_whole(exc):
                stored.update({e.contact_id: e for e in released})
                raise Refused(exc, released) from exc
            raise
        saved, rechecked = self.settle_results(marked, results)
        return saved + rechecked

    def _call(self, records: list[dict[str, Any]]) -> list[SaveResult]:
        if self.key:
            return self.sf.upsert(
                "Lead", records, self.key,
                allow_duplicate_save=self.settings.allow_duplicate_save,
                assignment=self.ctx.assignment,
            )  # fmt: skip
        return self.sf.create(
            "Lead", records,
            allow_duplicate_save=self.settings.allow_duplicate_save,
            assignment=self.ctx.assignment,
        )  # fmt: skip

    def _unknown_outcome(
        self, marked: list[LedgerEntry], exc: RemoteError, resends: int
    ) -> list[LedgerEntry]:
        """Gave up after retries, or the outcome is unknown (ambiguous: the client does not
        re-send a create blindly): learn what happened, as crash recovery does (by key, else
        by email). Found: created. Absent: it never happened, if the write was an upsert or
        Salesforce answered it; then, after an ambiguous failure, it is sent again now (a
        bounded number of times). An absent create that may still be running waits out
        sync.in_doubt_grace instead."""
        settled = self.parent.in_doubt.settle(
            marked,
            (),
            write_errors.of_exception(exc),
            keyed=self.key is not None,
            answered=answered(exc),
        )
        again = still_pending(settled)
        if exc.ambiguous and again and resends < AMBIGUOUS_RESENDS:
            self.ctx.check_budget()
            resent = self.send(again, {e.contact_id: e for e in again}, resends + 1)
            return _merged(settled, resent)
        return settled

    def _alone(self, entry: LedgerEntry, error: SalesforceError) -> LedgerEntry:
        """A record Salesforce refuses even by itself: it fails with the API's code and
        message; the rest of its batch was written."""
        result = refusal(entry, error)
        failed = ledger.after_save(entry, result, entry.campaign_id, self.run_id, _now())
        self.parent.put_counted([failed], {entry.contact_id: entry})
        return failed


class BulkWriter(LeadWriter):
    """Bulk API 2.0: one ingest job per batch (more when it is large, or for locked rows)."""

    chunk = BULK_JOB_RECORDS

    def write(
        self, entries: Sequence[LedgerEntry], stored: dict[int, LedgerEntry]
    ) -> list[LedgerEntry]:
        # Not stored yet: the write-ahead of a bulk write is on_job's, which stores the job id
        # before any record is uploaded (creating a job sends no record). Storing the mark
        # first as well cost one more upsert of the whole batch and protected nothing.
        ahead = self.write_ahead("bulk")
        marked = self.mark(entries, ahead, stored, durable=False)
        records = [self.record(e) for e in marked]
        jobs: list[str] = []

        def on_job(job_id: str) -> None:
            # Recorded before any data is uploaded: a crash from here on is resolvable.
            nonlocal ahead
            jobs.append(job_id)
            ahead = ahead.with_job(job_id)
            attempt = ahead.encode()
            for entry in marked:  # this writer's own copies (mark made them): set in place
                entry.attempt = attempt
            self.store.ledger_put(marked)
            self.parent.remember(marked)

        try:
            results = self._call(records, on_job)
        except LimitReached:
            if not jobs:
                self.release(marked, "stopped by an API limit before this record was sent")
            raise  # with a job recorded, the next run resolves it from the job's results
        except RemoteError as exc:
            if not exc.transient and not jobs:
                self.release(marked, None)
                raise
            settled = self.parent.in_doubt.settle(
                marked, jobs, write_errors.of_exception(exc), keyed=self.key is not None
            )
            leftover = still_pending(settled)
        else:
            saved, rechecked = self.settle_results(marked, results)
            settled = saved + rechecked
            leftover = still_pending(rechecked)  # a per-record transient error waits a run
        # Records a failed job never reached go through Collections, which isolates a bad one.
        again = {e.contact_id: e for e in leftover}
        collections = CollectionsWriter(self.parent, self.book, self.mapping)
        return _merged(settled, collections.write(leftover, again))

    def _call(
        self, records: list[dict[str, Any]], on_job: Callable[[str], None]
    ) -> list[SaveResult]:
        if self.key:
            return self.sf.bulk_upsert(
                "Lead", records, external_id_field=self.key, key_field=self.key,
                on_job=on_job, assignment=self.ctx.assignment,
            )  # fmt: skip
        return self.sf.bulk_insert(
            "Lead", records, key_field="Email", on_job=on_job, assignment=self.ctx.assignment,
        )  # fmt: skip


class DryRunWriter(LeadWriter):
    """`sync --dry-run`: every member handed over is a Lead the real run would create (the
    checks before writing were the real run's). Nothing is sent; the Lead is remembered so
    that later books and accounts of the run exclude the same person (sync/dryrun.py)."""

    def __init__(
        self, parent: AccountSync, book: BookView, mapping: LeadMapping, *, chunk: int
    ) -> None:
        super().__init__(parent, book, mapping)
        self.chunk = chunk

    def write(
        self, entries: Sequence[LedgerEntry], stored: dict[int, LedgerEntry]
    ) -> list[LedgerEntry]:
        now = _now()
        origin = (self.parent.account.name, self.book.name)
        done = [
            ledger.created(e, PREDICTED, self.book.campaign_id, self.run_id, now) for e in entries
        ]
        for entry in done:
            self.ctx.predicted_leads.setdefault(entry.email, origin)
        self.parent.put_counted(done, stored)
        return done
