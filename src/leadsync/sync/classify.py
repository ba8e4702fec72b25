"""Who is already in Salesforce: match members to existing Leads and Contacts by email. Pure.

The queries happen in sync/existing.py (chunked, escaped, by the Salesforce client); this module only
decides, from what they returned, which member is excluded and by which record. The tie-break is
deterministic so two runs (or a dry run and the real run) always name the same match: a Contact
wins over a Lead (it is the stronger identity: the person is a customer), then the lowest Id.

A Lead leadsync itself created for the same Dotdigital contact from another address book of the
account is named as such (LEAD_FROM_OTHER_BOOK): one person in two books is one Lead, a member of
both books' campaigns, and the report says where that Lead came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from leadsync.sync.ledger import EXISTING_CONTACT, EXISTING_LEAD, LEAD_FROM_OTHER_BOOK
from leadsync.sync.mapping import normalise_email

PREDICTED = "(predicted)"
"""The record Id a dry run gives a Lead it would create (and a campaign member it would add):
never sent to Salesforce, it lets the real run's steps carry such a Lead through a dry run."""


@dataclass(frozen=True, slots=True)
class Match:
    sobject: str  # "Contact" | "Lead"
    id: str  # "" for a Lead a dry run predicts an earlier book of the run creates
    from_book: str | None = None  # the Lead was created for a member of this address book
    same_account: bool = True  # from_book is in the member's own account

    @property
    def code(self) -> str:
        if self.from_book is not None and self.same_account:
            return LEAD_FROM_OTHER_BOOK
        return EXISTING_CONTACT if self.sobject == "Contact" else EXISTING_LEAD

    @property
    def reason(self) -> str:
        ident = f" ({self.id})" if self.id else ""
        if self.from_book is not None:
            when = "created" if self.id else "this run creates"
            if self.same_account:
                return (
                    f"one person, one Lead: the Lead leadsync {when} for this contact from "
                    f"address book {self.from_book!r}{ident}"
                )
            return f"an unconverted Lead with this email: the one leadsync {when} from {self.from_book}"
        what = "a Contact" if self.sobject == "Contact" else "an unconverted Lead"
        return f"{what} with this email already exists in Salesforce{ident}"


@dataclass(frozen=True, slots=True)
class OwnLead:
    """A Lead leadsync created (lead_id) or, in a dry run, will create (lead_id None) for the
    same person from another address book."""

    book: str
    lead_id: str | None
    same_account: bool = True


def with_own_leads(matches: Mapping[str, Match], own: Mapping[str, OwnLead]) -> dict[str, Match]:
    """`matches` with leadsync's own Leads named: where the email match is the Lead created
    from another book, and (dry run) where nothing matches yet but an earlier book of the run
    will have created the Lead by the time the real run gets here."""
    out = dict(matches)
    for email, lead in own.items():
        match = matches.get(email)
        if lead.lead_id is None:
            if match is None:
                out[email] = Match("Lead", "", lead.book, lead.same_account)
        elif match is not None and match.sobject == "Lead" and _same_id(match.id, lead.lead_id):
            out[email] = Match("Lead", match.id, lead.book, lead.same_account)
    return out


def _same_id(a: str, b: str) -> bool:
    """15- and 18-character forms of one record Id are the same record."""
    return a[:15] == b[:15]


def existing_matches(
    leads: Iterable[dict[str, Any]], contacts: Iterable[dict[str, Any]]
) -> dict[str, Match]:
    """Normalised email -> the record that excludes a member with that email.

    `leads` must already be restricted to unconverted Leads (IsConverted = false): a converted
    Lead lives on as its Contact, which `contacts` covers.
    """
    best: dict[str, tuple[int, str, Match]] = {}
    for rank, sobject, rows in ((0, "Contact", contacts), (1, "Lead", leads)):
        for row in rows:
            email = row.get("Email")
            record_id = row.get("Id")
            if not email or not record_id:
                continue
            key = normalise_email(str(email))
            candidate = (rank, str(record_id), Match(sobject, str(record_id)))
            if key not in best or candidate[:2] < best[key][:2]:
                best[key] = candidate
    return {email: match for email, (_, _, match) in best.items()}
