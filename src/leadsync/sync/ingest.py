"""Reading address book members into the ledger: changed members since the watermark, and a
periodic membership sweep for members the watermark cannot see.

The watermark moves last (docs/ARCHITECTURE.md): members read are recorded durably, and only
then does the book's watermark advance to the Dotdigital server time taken BEFORE reading. A
re-read (the overlap window, a crash before the watermark moved) is harmless: the ledger
de-duplicates. The dry run reads through the same `evaluate` and `sweep_pages`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from leadsync.dotdigital.model import Contact
from leadsync.state.model import LedgerEntry
from leadsync.sync import ledger
from leadsync.sync.applied import BookView
from leadsync.sync.mapping import LeadMapping, Mapped
from leadsync.sync.push import exclude_pushed
from leadsync.sync.report import BookTally
from leadsync.sync.wire import iso as _iso
from leadsync.sync.wire import now as _now
from leadsync.sync.wire import parse as _parse_iso

if TYPE_CHECKING:
    from leadsync.sync.account import AccountSync


class Ingest:
    """One account's reading of its create_leads books into the ledger."""

    def __init__(self, parent: AccountSync) -> None:
        self.parent = parent
        self.ctx = parent.ctx
        self.account = parent.account
        self.dd = parent.dd
        self.store = parent.store
        self.held = parent.held
        self.settings = parent.settings
        self.run_id = parent.run_id

    def read(self, book: BookView, mapping: LeadMapping, tally: BookTally) -> None:
        """Read members changed since the watermark, page by page, into the ledger."""
        started = self.dd.server_time()  # BEFORE reading: a member added meanwhile is re-read
        since = self.since(book)
        handover = self.parent.handover  # to the update step: sync/update_handover.py
        handover.start(book.id, since, started, mapping.datafields)
        for page in self.dd.book_members(
            book.id, modified_since=since, datafields=mapping.datafields
        ):
            self.ingest_page(book, page, mapping, tally)
            handover.page(book.id, page)
            self.ctx.check_stop()  # cut short: the watermark stays, the next run re-reads
        mark = _iso(started)
        self.held.verify()
        self.store.set_watermark(self.account.name, book.id, mark)
        handover.done(book.id)
        if not self.ctx.dry_run:  # a dry run moves no watermark (DryLedger), nor reports one
            tally.watermark = mark
        if since is None:  # that was a read of every member: a sweep needs nothing more
            self.store.set_last_sweep(self.account.name, book.id, mark)
        elif self.sweep_due(book, started):
            self.sweep(book, mapping, tally, mark)

    def since(self, book: BookView) -> datetime | None:
        mark = self.store.watermark(self.account.name, book.id)
        if mark is None:
            return None  # never read (or backfill): the whole book; the ledger filters
        return _parse_iso(mark) - timedelta(seconds=self.settings.overlap_seconds)

    def ingest_page(
        self, book: BookView, page: Sequence[Contact], mapping: LeadMapping, tally: BookTally
    ) -> list[LedgerEntry]:
        existing = self.store.ledger_get(self.account.name, book.id, [c.id for c in page])
        now = _now()
        mapped: dict[int, Mapped] = {}
        updates = self.evaluate(book, page, mapping, tally, existing, now, mapped)
        pushed, rest = exclude_pushed(self.parent, updates, now)  # people the push wrote: no Leads
        updates = pushed + rest
        self.parent.put_counted(updates, existing)
        self.parent.keep_mapped(updates, mapping, mapped)  # mapped once: the write reuses it
        if self.ctx.progress:
            self.ctx.progress(f"{self.account.name}/{book.name}: read", len(page))
        return updates

    def evaluate(
        self,
        book: BookView,
        page: Sequence[Contact],
        mapping: LeadMapping,
        tally: BookTally,
        existing: dict[int, LedgerEntry],
        now: str,
        mapped: dict[int, Mapped] | None = None,
    ) -> list[LedgerEntry]:
        """What one page of members read changes in the ledger (ledger.evaluate), shared by
        the real run and the dry run; members with nothing new are counted as unchanged."""
        tally.read += len(page)
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
                mapped_out=mapped,
            )
            if new is None:
                tally.unchanged += 1
            else:
                updates.append(new)
        return updates

    # -- membership sweep -------------------------------------------------------------------
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
