"""Who is already in Salesforce: match members to existing Leads and Contacts by email. Pure.

The queries happen in the engine (chunked, escaped, by the Salesforce client); this module only
decides, from what they returned, which member is excluded and by which record. The tie-break is
deterministic so two runs (or a dry run and the real run) always name the same match: a Contact
wins over a Lead (it is the stronger identity: the person is a customer), then the lowest Id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from leadsync.sync.ledger import EXISTING_CONTACT, EXISTING_LEAD
from leadsync.sync.mapping import normalise_email


@dataclass(frozen=True, slots=True)
class Match:
    sobject: str  # "Contact" | "Lead"
    id: str

    @property
    def code(self) -> str:
        return EXISTING_CONTACT if self.sobject == "Contact" else EXISTING_LEAD

    @property
    def reason(self) -> str:
        what = "a Contact" if self.sobject == "Contact" else "an unconverted Lead"
        return f"{what} with this email already exists in Salesforce ({self.id})"


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


def chunk_unique_by_email(entries: list, key=lambda e: e.email) -> tuple[list, list]:
    """Split a write batch into (first of each email, later repeats). Repeats wait a batch, so a
    single write never carries two records with one email (one would be a duplicate Lead)."""
    seen: set[str] = set()
    first, repeats = [], []
    for entry in entries:
        email = key(entry)
        if email in seen:
            repeats.append(entry)
        else:
            seen.add(email)
            first.append(entry)
    return first, repeats
