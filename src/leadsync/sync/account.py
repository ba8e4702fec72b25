"""One account's sync, under its lock: the push, then Leads from new book members (settle
what is in doubt, read, check, write, add to campaigns), then field updates.

Each step has its module: sync/push.py, sync/recovery.py (crash recovery), sync/ingest.py
(reading), sync/existing.py (who is already in Salesforce), sync/writers.py (the
Collections-or-Bulk choice and the write-ahead), sync/campaign.py, sync/update_step.py; the
dry run is sync/dryrun.py. This class holds what they share and the tallies' bookkeeping.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from leadsync import logs
from leadsync.dotdigital.client import DotdigitalClient
from leadsync.leadkey import key_field
from leadsync.state.model import HeldLock, LedgerEntry, StateStore
from leadsync.sync import dryrun, ledger, write_errors
from leadsync.sync.applied import AccountView, BookView
from leadsync.sync.campaign import CampaignStep
from leadsync.sync.dryrun import DryLedger
from leadsync.sync.existing import Existing
from leadsync.sync.ingest import Ingest
from leadsync.sync.mapping import LeadMapping, Mapped
from leadsync.sync.push import PushAccount
from leadsync.sync.recovery import InDoubt
from leadsync.sync.report import OUTCOME_KEYS, BookTally
from leadsync.sync.run import NO_LOCK, Run
from leadsync.sync.update_handover import ReadHandOver
from leadsync.sync.update_step import UpdateStep
from leadsync.sync.writers import LeadWriter, writer_for

KEPT_ENTRIES = 10_000  # entries a run stored, held for the steps after (read back beyond)


def has_push(account: AccountView, store: StateStore) -> bool:
    """Does this account have a push step to run: a pushing book, or an import in doubt?"""
    return bool(account.push_books) or bool(store.push_in_doubt(account.name))


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
        # A dry run reads the real store and keeps its ledger writes in memory (sync/dryrun.py)
        self.store: StateStore = DryLedger(run.store) if run.dry_run else run.store  # type: ignore[assignment]
        self.sf = run.sf
        self.settings = run.view.settings
        self.run_id = run.run_id
        self.batch_records: dict[int, dict[str, Any]] = {}  # contact id -> Lead, one batch
        self.key: str | None = None  # the Lead upsert key field, when the org has it usable
        # Entries this run stored, as stored (see `remember`), by (book, contact); None in a
        # dry run, or once there were more than KEPT_ENTRIES: then they are read back
        self.settled: dict[tuple[int, int], LedgerEntry] | None = None if run.dry_run else {}
        # The mapping of the pending entries this run read, while kept (see `mapped_of`)
        self.mapped: dict[tuple[int, int], tuple[LedgerEntry, LeadMapping, Mapped]] = {}
        # What the Lead step read, handed to the update step (sync/update_handover.py)
        self.handover = ReadHandOver(0 if run.dry_run else KEPT_ENTRIES)
        self.in_doubt = InDoubt(self)
        self.reading = Ingest(self)
        self.existing = Existing(self)

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
            self.in_doubt.resolve(self.store.ledger_in_doubt(self.account.name))
        for book in self.account.lead_books:
            self.ctx.check_stop()
            with logs.context(book=book.name):  # names the book on its log lines (json)
                self.sync_book(book, mapping)

    def sync_book(self, book: BookView, mapping: LeadMapping) -> None:
        tally = self.ctx.tally(self.account, book.id)
        if self.ctx.dry_run:
            dryrun.start_book(self, book, tally)
        self.reading.read(book, mapping, tally)
        self.write_pending(book, mapping)
        self.ctx.check_stop()  # a stop leaves CampaignMembers to the next run
        CampaignStep(self).run(book, tally)

    # -- write Leads ---------------------------------------------------------------------------

    def write_pending(self, book: BookView, mapping: LeadMapping) -> None:
        """Every pending member of the book (new, or left by earlier runs) -> Salesforce."""
        ids = list(self.store.ledger_ids(self.account.name, book.id, "pending"))
        if not ids:
            return
        writer = writer_for(self, book, mapping, len(ids))
        for start in range(0, len(ids), writer.chunk):
            self.ctx.checkpoint()
            self._write_chunk(book, mapping, ids[start : start + writer.chunk], writer)

    def _write_chunk(
        self, book: BookView, mapping: LeadMapping, ids: list[int], writer: LeadWriter
    ) -> None:
        """One batch of write_pending. A method of its own so that a batch's entries are freed
        when it returns, before the next batch is read: one batch in memory, not two (the
        peak memory of a 100,000-lead run)."""
        batch = self._entries(book, ids)
        batch = {cid: e for cid, e in batch.items() if e.state == "pending" and e.attempt is None}
        ready = self.existing.exclude(list(batch.values()), mapping, book.campaign_id)
        if not ready:
            return
        writer.write(ready, batch)
        if self.ctx.progress:
            self.ctx.progress(f"{self.account.name}/{book.name}: write", len(ready))

    def _entries(self, book: BookView, ids: list[int]) -> dict[int, LedgerEntry]:
        """The book's entries of `ids` as stored, in id order: those this run stored from
        memory (`remember`), the others read."""
        kept = self.settled
        if kept is None:
            return self.store.ledger_get(self.account.name, book.id, ids)
        found = {cid: e for cid in ids if (e := kept.get((book.id, cid))) is not None}
        if len(found) < len(ids):
            rest = [cid for cid in ids if cid not in found]
            found.update(self.store.ledger_get(self.account.name, book.id, rest))
            found = {cid: found[cid] for cid in sorted(found)}
        return found

    # -- bookkeeping ---------------------------------------------------------------------------

    def put_counted(
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
            self.remember(updates)
        run_id, dry_run = self.run_id, self.ctx.dry_run
        tallies: dict[int, BookTally] = {}
        for entry in updates:
            old = stored.get(entry.contact_id)
            counted = (
                old.state
                if old is not None and old.last_run == run_id and old.state in OUTCOME_KEYS
                else None
            )
            tally = tallies.get(entry.book_id)
            if tally is None:
                tally = tallies[entry.book_id] = self.ctx.tally(self.account, entry.book_id)
            tally.move(counted, entry.state, entry.reason_code)
            if dry_run and counted != entry.state:
                dryrun.sample(self, entry)
            error = self._error_of_this_run(entry) if entry.state == "pending" else None
            tally.note_error(entry.contact_id, entry.email, error)

    def remember(self, stored: Sequence[LedgerEntry]) -> None:
        """Keep the entries this run stores (last_run this run), for the steps that read them
        next: the write takes its batches from here, the campaign step and the update step's
        new links take them from here and ask the store only for entries of other runs
        (`not_run`), instead of reading back and decoding every new member's entry. Every ledger write of a real run
        calls this, so `settled` holds each such entry as the store does; a run with more
        than KEPT_ENTRIES of them stops keeping any (memory stays flat) and reads them back."""
        kept = self.settled
        if kept is None:
            return
        run_id = self.run_id
        for entry in stored:
            key = (entry.book_id, entry.contact_id)
            if entry.last_run == run_id:
                kept[key] = entry
            else:
                kept.pop(key, None)
        if len(kept) > KEPT_ENTRIES:
            self.settled = None
            self.mapped = {}

    def keep_mapped(
        self, entries: Sequence[LedgerEntry], mapping: LeadMapping, mapped: dict[int, Mapped]
    ) -> None:
        """Keep the mapping of pending members just read and stored (`mapped`, by contact id),
        so that the write maps each once: while this run keeps its entries (`remember`)."""
        if self.settled is None:
            return
        for entry in entries:
            done = mapped.get(entry.contact_id)
            if done is not None and entry.state == "pending":
                self.mapped[(entry.book_id, entry.contact_id)] = (entry, mapping, done)

    def mapped_of(self, entry: LedgerEntry, mapping: LeadMapping) -> Mapped:
        """The mapping of `entry`: kept by keep_mapped for this very entry and mapping (the
        same values, the same rules), else mapped now. Given out once."""
        kept = self.mapped.pop((entry.book_id, entry.contact_id), None)
        if kept is not None and kept[0] is entry and kept[1] is mapping:
            return kept[2]
        return ledger.mapped_for(entry, mapping)

    def _error_of_this_run(self, entry: LedgerEntry) -> dict[str, Any] | None:
        """The last_error that keeps `entry` pending, when this run's write recorded it."""
        if entry.state != "pending":
            return None
        error = write_errors.last_error_of(entry.extra)
        return error if error is not None and error.get("run") == self.run_id else None
