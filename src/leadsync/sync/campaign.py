"""The campaign step: people of a linked book join its Salesforce campaign as CampaignMembers.

CampaignMembers need no write-ahead: creating one twice gives DUPLICATE_VALUE, which means
done. The step reads the ledger (every entry with a campaign and no member yet: created Leads,
and people excluded because they are already in Salesforce), so a crash before it is made up
by the next run. After an ambiguous failure the batch is simply sent again.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from leadsync.salesforce.errors import SalesforceError
from leadsync.salesforce.model import SaveResult
from leadsync.state.model import LedgerEntry
from leadsync.sync import ledger
from leadsync.sync.applied import BookView
from leadsync.sync.dryrun import DryRunMembers
from leadsync.sync.report import BookTally
from leadsync.sync.wire import now as _now
from leadsync.sync.writers import AMBIGUOUS_RESENDS, BULK_JOB_RECORDS, uses_bulk

if TYPE_CHECKING:
    from leadsync.sync.account import AccountSync


class CampaignStep:
    """One account's CampaignMember writes."""

    def __init__(self, parent: AccountSync) -> None:
        self.parent = parent
        self.ctx = parent.ctx
        self.account = parent.account
        self.store = parent.store
        self.sf = parent.sf
        self.held = parent.held
        self.settings = parent.settings
        self.run_id = parent.run_id

    def run(self, book: BookView, tally: BookTally) -> None:
        """Ledger entries of a linked book with nobody in the campaign yet -> CampaignMember:
        created Leads, and the Lead or Contact that excluded a member (ledger.member_ref)."""
        status = self.ctx.view.campaign_member_status
        waiting: list[LedgerEntry] = []
        for entry in self._candidates(book):
            if ledger.needs_campaign_member(entry, f"{entry.campaign_id}|{status}"):
                waiting.append(entry)
                if len(waiting) >= BULK_JOB_RECORDS:
                    self._add_members(waiting, status, tally)
                    waiting = []
        if waiting:
            self._add_members(waiting, status, tally)

    def _candidates(self, book: BookView) -> Iterator[LedgerEntry]:
        """The book's entries with a campaign and no member, created first, each state by
        contact id: those this run stored from memory (AccountSync.remember), the others
        from the store."""
        kept = self.parent.settled
        if kept is None:
            return self.store.ledger_without_member(self.account.name, book.id)
        mine = sorted(
            (
                e
                for (book_id, _), e in kept.items()
                if book_id == book.id and ledger.awaits_member(e)
            ),
            key=_order,
        )
        others = self.store.ledger_without_member(self.account.name, book.id, self.run_id)
        return heapq.merge(mine, others, key=_order)

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
        if self.ctx.dry_run:  # nothing sent: who would be added, who is a member already
            results = DryRunMembers(self.parent).create(entries, records, field_name)
        elif uses_bulk(self.parent, len(records)):
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
        self.parent.remember(updates)

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


def _order(entry: LedgerEntry) -> tuple[int, int]:
    """The store's order of campaign candidates: created, then excluded; by contact id."""
    return (0 if entry.state == "created" else 1, entry.contact_id)
