"""Observed: the live facts a plan is made from, as one immutable value.

refresh.py fills it (the only I/O); diff.py reads it (pure). Keeping the facts in a value means
tests can hand-build any org or account and the diff never needs a network.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

from leadsync.dotdigital.model import AddressBook, DataField
from leadsync.salesforce.model import ObjectDescribe


@dataclass(frozen=True, slots=True)
class ObservedAccount:
    name: str
    books: tuple[AddressBook, ...]
    datafields: tuple[DataField, ...]

    def books_named(self, name: str) -> list[AddressBook]:
        return [b for b in self.books if b.name == name]

    def book_by_id(self, book_id: int) -> AddressBook | None:
        return next((b for b in self.books if b.id == book_id), None)

    def datafield(self, name: str) -> DataField | None:
        """Dotdigital datafield names are upper case; match case-insensitively."""
        key = name.upper()
        return next((f for f in self.datafields if f.name.upper() == key), None)


@dataclass(frozen=True, slots=True)
class ObservedCampaign:
    id: str
    name: str
    statuses: tuple[str, ...] = ()  # CampaignMemberStatus labels


@dataclass(frozen=True, slots=True)
class LeadStatusValue:
    api_name: str
    label: str
    is_default: bool = False


@dataclass(frozen=True, slots=True)
class ObservedAssignmentRule:
    id: str
    name: str
    active: bool


@dataclass(frozen=True, slots=True)
class Observed:
    accounts: dict[str, ObservedAccount]
    lead: ObjectDescribe
    campaign_member: ObjectDescribe | None = None
    campaigns: tuple[ObservedCampaign, ...] = ()  # every campaign matching a name/id we asked for
    lead_statuses: tuple[LeadStatusValue, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    # Names of the org's campaigns, read only when a linked campaign was not found: the
    # "did you mean" of LS208 (never part of a fingerprint: it is advice, not a plan input)
    campaign_names: tuple[str, ...] = ()
    # Lead AssignmentRules; read only when defaults.assignment_rule names one (None: not read)
    assignment_rules: tuple[ObservedAssignmentRule, ...] | None = None
    # Contact describe, read only when an account has a contact_mapping (the push fills
    # datafields of Campaign members who are Contacts from it)
    contact: ObjectDescribe | None = None

    def campaign_by_id(self, campaign_id: str) -> ObservedCampaign | None:
        key = campaign_id[:15]  # 15- and 18-char ids name the same record
        return next((c for c in self.campaigns if c.id[:15] == key), None)

    def campaigns_matching(self, name_or_id: str) -> list[ObservedCampaign]:
        by_id = self.campaign_by_id(name_or_id) if looks_like_campaign_id(name_or_id) else None
        if by_id is not None:
            return [by_id]
        return sorted((c for c in self.campaigns if c.name == name_or_id), key=lambda c: c.id)

    def fingerprints(
        self, book_names: dict[str, set[str]], book_ids: dict[str, set[int]]
    ) -> dict[str, str]:
        """Hashes of the schemas a plan depends on; a saved plan is refused when one changes.

        Only the address books the config or the applied state names count: a book someone adds
        for another purpose must not make every saved plan stale. Member counts never count.
        """
        out: dict[str, str] = {"salesforce.Lead": self.lead.fingerprint()}
        if self.campaign_member is not None:
            out["salesforce.CampaignMember"] = self.campaign_member.fingerprint()
        if self.contact is not None:
            out["salesforce.Contact"] = self.contact.fingerprint()
        out["salesforce.LeadStatus"] = _digest(
            sorted((s.api_name, s.label, s.is_default) for s in self.lead_statuses)
        )
        out["salesforce.Campaign"] = _digest(
            sorted((c.id, c.name, sorted(c.statuses)) for c in self.campaigns)
        )
        if self.assignment_rules is not None:
            out["salesforce.AssignmentRule"] = _digest(
                sorted((r.id, r.name) for r in self.assignment_rules)
            )
        for name in sorted(self.accounts):
            acct = self.accounts[name]
            names = book_names.get(name, set())
            ids = book_ids.get(name, set())
            books = sorted((b.id, b.name) for b in acct.books if b.name in names or b.id in ids)
            out[f"dotdigital.{name}.address_books"] = _digest(books)
            out[f"dotdigital.{name}.datafields"] = _digest(
                sorted((f.name.upper(), f.type) for f in acct.datafields)
            )
        return out

    # --- what apply learns by acting, without another refresh ---------------------------
    def with_datafield(self, account: str, created: DataField) -> Observed:
        acct = self.accounts[account]
        if acct.datafield(created.name) is not None:
            return self
        accounts = dict(self.accounts)
        accounts[account] = replace(acct, datafields=(*acct.datafields, created))
        return replace(self, accounts=accounts)

    def with_member_status(self, campaign_id: str, label: str) -> Observed:
        campaigns = tuple(
            replace(c, statuses=(*c.statuses, label))
            if c.id == campaign_id and label not in c.statuses
            else c
            for c in self.campaigns
        )
        return replace(self, campaigns=campaigns)


def looks_like_campaign_id(value: str) -> bool:
    """Campaign ids have the key prefix 701 and 15 or 18 alphanumeric characters."""
    return len(value) in (15, 18) and value.startswith("701") and value.isalnum()


def _digest(material: Any) -> str:
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()
