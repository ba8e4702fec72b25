"""Who is already in Salesforce, asked right before writing: members matched to an existing
Lead or Contact are excluded, not written (the decision itself is sync/classify.py's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from leadsync.state.model import LedgerEntry
from leadsync.sync import ledger
from leadsync.sync.applied import BookView
from leadsync.sync.classify import PREDICTED, Match, OwnLead, existing_matches, with_own_leads
from leadsync.sync.mapping import LeadMapping
from leadsync.sync.push import exclude_pushed
from leadsync.sync.recovery import key_of
from leadsync.sync.wire import now as _now

if TYPE_CHECKING:
    from leadsync.sync.account import AccountSync


class Existing:
    """One account's look-ups of existing Leads and Contacts (by email, and by Lead key)."""

    def __init__(self, parent: AccountSync) -> None:
        self.parent = parent
        self.account = parent.account
        self.store = parent.store
        self.sf = parent.sf
        self.run_id = parent.run_id

    @property
    def key(self) -> str | None:
        return self.parent.key

    def exclude(
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
        changed, entries = exclude_pushed(self.parent, entries, now)  # pushed since they were read
        ready: list[LedgerEntry] = []
        # The records of this batch, mapped once here and written from here (mapping a member
        # is the costliest pure step of a run); replaced batch by batch, so memory stays flat.
        self.parent.batch_records = {}
        for entry in entries:
            mapped = self.parent.mapped_of(entry, mapping)
            again = ledger.outcome_of_mapping(entry, mapping, self.run_id, now, mapped)
            if again.state == "pending":
                ready.append(again)
                self.parent.batch_records[again.contact_id] = mapped.record
            else:
                changed.append(again)
        book = self._book(ready[0].book_id) if ready else None
        leads, contacts = self._existing([e.email for e in ready])
        found = existing_matches(leads, contacts)
        predicted = self.predicted(book, ready) if book is not None else {}
        matches = self.match_existing(book.id, ready, predicted, found) if book is not None else {}
        owned = self._owned(leads)
        still: list[LedgerEntry] = []
        for entry in ready:
            match = matches.get(entry.email)
            ours = owned.get(key_of(entry).casefold())
            if ours is not None:  # made by an earlier write of ours that finished late
                changed.append(ledger.created(entry, ours, campaign_id, self.run_id, now))
            elif match is not None and book is not None:
                campaign = ledger.joins_campaign(
                    match.code, book.campaign_id, book.add_existing_to_campaign
                )
                matched = match.id or PREDICTED  # a Lead a dry run predicts
                changed.append(
                    ledger.excluded(
                        entry, matched, match.code, match.reason, self.run_id, now, campaign
                    )
                )
            else:
                still.append(entry)
        self.parent.put_counted(changed, stored)
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

    def predicted(self, book: BookView, entries: Sequence[LedgerEntry]) -> dict[str, OwnLead]:
        """Leads that earlier books of a dry run would have created for these emails (the
        dry-run writer records them in Run.predicted_leads; a real run records none)."""
        out: dict[str, OwnLead] = {}
        for entry in entries:
            origin = self.parent.ctx.predicted_leads.get(entry.email)
            if origin is None or origin == (self.account.name, book.name):
                continue
            account, name = origin
            same = account == self.account.name
            out[entry.email] = OwnLead(name if same else f"{account}/{name}", None, same)
        return out

    def own_leads(self, book_id: int, entries: Sequence[LedgerEntry]) -> dict[str, OwnLead]:
        """Email -> the Lead the ledger records as created for the same Dotdigital contact from
        another address book of this account (contact ids are per account, like the ledger)."""
        ids = [e.contact_id for e in entries]
        out: dict[str, OwnLead] = {}
        for other in self.account.books:
            if other.id == book_id or not ids:
                continue
            for entry in self.store.ledger_get(self.account.name, other.id, ids).values():
                if entry.state == "created" and entry.lead_id and entry.lead_id != PREDICTED:
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
