"""Drift: where the applied integration and the live systems disagree (changes made outside
leadsync). Pure; one function per kind of resource, in the order a plan lists them.

Only accounts that are still configured were refreshed; campaigns the applied state names are
part of the refresh query, so a missing one really is gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from leadsync.applied import AppliedAccount, AppliedBook, AppliedIntegration, MappingRow
from leadsync.reconcile.checks import org_required
from leadsync.reconcile.model import Drift, quoted
from leadsync.reconcile.observed import Observed, ObservedAccount


def find_drift(applied: AppliedIntegration | None, observed: Observed) -> list[Drift]:
    if applied is None:
        return []
    out: list[Drift] = []
    for name in sorted(applied.accounts):
        acct = applied.accounts[name]
        obs = observed.accounts.get(name)
        if obs is None:
            continue
        for book in acct.books:
            addr = f"account.{name}.address_book[{quoted(book.name)}]"
            out += book_drift(addr, book, obs)
            out += campaign_drift(addr, book, observed)
        out += datafield_drift(name, acct, obs)
        out += mapping_drift(name, acct, observed)
    out += required_drift(applied, observed)
    out += lead_status_drift(applied, observed)
    return out


def book_drift(addr: str, book: AppliedBook, obs: ObservedAccount) -> list[Drift]:
    """The address book was deleted or renamed in Dotdigital."""
    if book.id is None:
        return []
    live = obs.book_by_id(book.id)
    was = {"id": book.id, "name": book.name}
    if live is None:
        why = f"address book {book.name!r} (id {book.id}) was deleted in Dotdigital"
        return [Drift(addr, why, was, None)]
    if live.name != book.name:
        why = (
            f"address book id {book.id} was renamed in Dotdigital from "
            f"{book.name!r} to {live.name!r}"
        )
        return [Drift(addr, why, was, {"id": live.id, "name": live.name})]
    return []


def campaign_drift(addr: str, book: AppliedBook, observed: Observed) -> list[Drift]:
    """The book's Campaign was deleted or renamed in Salesforce."""
    cid = book.campaign_id
    if not cid:
        return []
    camp = observed.campaign_by_id(cid)
    was = {"campaign_id": cid, "campaign_name": book.campaign_name}
    if camp is None:
        why = f"campaign {book.campaign_name!r} ({cid}) was deleted in Salesforce"
        return [Drift(addr, why, was, None)]
    if camp.name != book.campaign_name:
        why = (
            f"campaign {cid} was renamed in Salesforce from {book.campaign_name!r} to {camp.name!r}"
        )
        return [Drift(addr, why, was, {"campaign_id": camp.id, "campaign_name": camp.name})]
    return []


def datafield_drift(name: str, acct: AppliedAccount, obs: ObservedAccount) -> list[Drift]:
    """A mapped datafield was deleted in Dotdigital or changed its type."""
    out: list[Drift] = []
    for df_name, df_type in sorted(acct.datafields.items()):
        live = obs.datafield(df_name)
        addr = f"account.{name}.datafield[{quoted(df_name)}]"
        if live is None:
            out.append(Drift(addr, f"datafield {df_name} was deleted in Dotdigital", df_type, None))
        elif live.type != df_type:
            why = f"datafield {df_name} changed type in Dotdigital: {df_type} -> {live.type}"
            out.append(Drift(addr, why, df_type, live.type))
    return out


def mapping_drift(name: str, acct: AppliedAccount, observed: Observed) -> list[Drift]:
    """A mapped Contact or Lead field was removed from Salesforce."""
    out: list[Drift] = []
    if observed.contact is not None:
        out += _removed_fields(
            name, "contact_mapping", "Contact", acct.contact_mapping, observed.contact.fields
        )
    out += _removed_fields(name, "lead_mapping", "Lead", acct.lead_mapping, observed.lead.fields)
    return out


def _removed_fields(
    name: str, section: str, sobject: str, rows: Sequence[MappingRow], fields: Iterable[str]
) -> list[Drift]:
    """The rows of one mapping whose Salesforce field the object no longer has."""
    present = {n.lower() for n in fields}
    return [
        Drift(
            f"account.{name}.{section}[{quoted(row.salesforce)}]",
            f"{sobject} field {row.salesforce!r} was removed from Salesforce",
            row.salesforce,
            None,
        )
        for row in rows
        if row.salesforce.lower() not in present
    ]


def required_drift(applied: AppliedIntegration, observed: Observed) -> list[Drift]:
    """A Lead field became required on create since the last apply."""
    was = {f.lower() for f in applied.salesforce_schema.lead_required_fields}
    return [
        Drift(
            "salesforce",
            f"Lead field {f!r} is now required on create (it was not at the last apply)",
            None,
            f,
        )
        for f in sorted(org_required(observed))
        if f.lower() not in was
    ]


def lead_status_drift(applied: AppliedIntegration, observed: Observed) -> list[Drift]:
    """The Lead Status the sync writes is no longer active."""
    status = applied.salesforce_schema.lead_status
    if status and status not in {s.api_name for s in observed.lead_statuses}:
        why = f"Lead Status {status!r} is no longer active in Salesforce"
        return [Drift("defaults", why, status, None)]
    return []
