"""Read what the live systems hold for `leadsync init`: the only I/O of the proposal. Reads only.

The cost is fixed, whatever the size of the accounts and the org (users pay for API calls):
per Dotdigital account its datafields (1 call) and its address books (at most MAX_BOOK_PAGES
pages of 1000, with member counts: no call per book); in Salesforce at most 6 calls: the
login (password and JWT auth), the Lead describe, the Lead Status values, the Campaigns named
like a book (one Composite request of up to 5 queries), the most recently changed Campaigns
(names to suggest, only when a book has no Campaign of its name) and the member statuses of
the linked Campaigns (one Composite request). Past the caps the file says what it left out.

Contact is not described: nothing in leadsync.yaml names a Contact field yet, and the call
would buy nothing the file can use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from leadsync.dotdigital.client import V2_PAGE
from leadsync.dotdigital.model import AddressBook, DataField
from leadsync.init.books import Campaign
from leadsync.reconcile.observed import LeadStatusValue
from leadsync.reconcile.refresh import Systems
from leadsync.salesforce.client import (
    COMPOSITE_QUERIES,
    STATUS_CAMPAIGNS_PER_QUERY,
    SalesforceClient,
)
from leadsync.salesforce.model import ObjectDescribe
from leadsync.salesforce.soql import in_queries

MAX_BOOK_PAGES = 2  # with the datafields: 3 Dotdigital calls per account
RECENT_CAMPAIGNS = 2000  # one query page: the names a suggestion is chosen from
# Campaigns whose member statuses are read: one Composite request of 5 IN queries.
MAX_STATUS_CAMPAIGNS = COMPOSITE_QUERIES * STATUS_CAMPAIGNS_PER_QUERY


@dataclass(frozen=True, slots=True)
class AccountFacts:
    name: str
    books: tuple[AddressBook, ...]
    datafields: tuple[DataField, ...]
    books_capped: bool  # the listing stopped at MAX_BOOK_PAGES full pages: there may be more


@dataclass(frozen=True, slots=True)
class Inventory:
    accounts: tuple[AccountFacts, ...]
    lead: ObjectDescribe
    lead_statuses: tuple[LeadStatusValue, ...]
    campaigns: tuple[Campaign, ...]  # sorted by Id

    def default_lead_status(self) -> LeadStatusValue | None:
        return next((s for s in self.lead_statuses if s.is_default), None) or next(
            iter(self.lead_statuses), None
        )


def read(systems: Systems, accounts: Sequence[str]) -> Inventory:
    facts = tuple(_account(systems, name) for name in accounts)
    sf = systems.salesforce
    lead = sf.describe("Lead")
    rows = sorted(sf.lead_statuses(), key=lambda s: (_int(s.get("SortOrder")), _label(s)))
    statuses = tuple(
        LeadStatusValue(
            str(s.get("ApiName") or s.get("MasterLabel") or ""), _label(s), bool(s.get("IsDefault"))
        )
        for s in rows
    )
    names = sorted({b.name for a in facts for b in a.books if b.name})
    return Inventory(facts, lead, statuses, _campaigns(sf, names))


def _account(systems: Systems, name: str) -> AccountFacts:
    dd = systems.dotdigital(name)
    datafields = tuple(sorted(dd.datafields(), key=lambda d: d.name))
    books = dd.address_books(max_pages=MAX_BOOK_PAGES)
    capped = len(books) >= MAX_BOOK_PAGES * V2_PAGE
    return AccountFacts(name, tuple(sorted(books, key=lambda b: b.id)), datafields, capped)


def _campaigns(sf: SalesforceClient, book_names: list[str]) -> tuple[Campaign, ...]:
    """Campaigns named like a book (SOQL compares names case-insensitively, which also finds
    "did you mean" candidates), then, if a book still has no exact match, the most recent ones."""
    found: dict[str, str] = {}
    head = "SELECT Id, Name FROM Campaign"
    queries = list(in_queries(head, "Name", book_names))[:COMPOSITE_QUERIES]
    for row in sf.query_many(queries) if queries else []:
        found[str(row["Id"])] = str(row.get("Name") or "")
    linked = sorted(i for i, n in found.items() if n in set(book_names))
    if set(book_names) - set(found.values()):
        recent = f"{head} ORDER BY LastModifiedDate DESC LIMIT {RECENT_CAMPAIGNS}"
        for row in sf.query(recent):
            found.setdefault(str(row["Id"]), str(row.get("Name") or ""))
    read_ids = linked[:MAX_STATUS_CAMPAIGNS]
    statuses = sf.campaign_member_statuses(read_ids) if read_ids else {}
    return tuple(
        Campaign(cid, found[cid], tuple(statuses[cid]) if cid in statuses else None)
        for cid in sorted(found)
    )


def _label(row: dict) -> str:
    return str(row.get("MasterLabel") or row.get("ApiName") or "")


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0
