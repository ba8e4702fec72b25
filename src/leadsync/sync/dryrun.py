"""The dry run of one book: what a sync would do, reading both systems and writing nothing.

It reads and decides through the real run's steps (sync/ingest.py's `evaluate` and
`sweep_pages`, sync/existing.py's matching, the ledger's rules) and only counts where the real
run stores and writes, so both name the same members, outcomes and reasons.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from leadsync.dotdigital.model import Contact
from leadsync.state.model import LedgerEntry
from leadsync.sync import ledger
from leadsync.sync.applied import BookView
from leadsync.sync.classify import OwnLead
from leadsync.sync.mapping import LeadMapping
from leadsync.sync.push import exclude_pushed
from leadsync.sync.report import BookTally
from leadsync.sync.run import now as _now
from leadsync.sync.writers import CHECK_CHUNK

if TYPE_CHECKING:
    from leadsync.sync.account import AccountSync

SAMPLES = 5  # members named per outcome in a dry run's report


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
        since = p.reading.since(self.book)
        server_now = p.dd.server_time()
        for page in p.dd.book_members(
            self.book.id, modified_since=since, datafields=self.mapping.datafields
        ):
            self.consider(page, seen)
        if since is not None and p.reading.sweep_due(
            self.book, server_now
        ):  # as the real run would
            for page in p.reading.sweep_pages(
                self.book, self.mapping, self.tally, exclude=frozenset(seen)
            ):
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
        existing = p.store.ledger_get(p.account.name, self.book.id, [c.id for c in page])
        now = _now()
        ready: list[LedgerEntry] = []
        evaluated = p.reading.evaluate(self.book, page, self.mapping, self.tally, existing, now)
        seen.update(e.contact_id for e in evaluated)
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
        matches = p.existing.match_existing(self.book.id, ready, self._predicted(ready))
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
        for entry in p.store.ledger_iter(p.account.name, self.book.id, ["created", "excluded"]):
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
