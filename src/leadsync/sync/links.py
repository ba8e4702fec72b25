"""Link transitions: what a link becomes after each step of the update step. Pure.

A link pairs a Dotdigital contact with the Salesforce Lead or Contact leadsync keeps it in step
with (state/model.py Link). Links are made from the ledger: a Lead leadsync created (`lead_id`),
an existing Lead or Contact a member matched (`matched_id`); and from the push's table: a
Campaign member the push wrote into a book (its Lead or Contact). Rules that live here:

- a new link starts `pending` with nothing seen on either side: the next evaluation reads both
  sides in full and finds (or fills) the merge base (sync/updates.py, "no base yet");
- a converted Lead moves the link to its `ConvertedContactId` (the contact mapping applies from
  then on; the base, keyed by datafield, carries over): Salesforce forbids updating it;
- a record deleted or merged away in Salesforce unlinks the pair (recorded, never re-linked);
  a Dotdigital contact that left the book keeps its link (it may come back);
- the bases and the values seen move only with what a write really did (`evaluated`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from leadsync.emails import normalise_email
from leadsync.state.model import LedgerEntry, Link, PushEntry
from leadsync.sync import wire
from leadsync.sync.updates import FieldNote, LinkPlan

LEAD_PREFIX = "00Q"
CONTACT_PREFIX = "003"

# outcome precedence when one evaluation has several kinds of news
_RANK = {"pending": 4, "update_failed": 3, "conflict": 2, "skipped": 1}


def sobject_of(record_id: str) -> str | None:
    """Lead or Contact, from the Id's key prefix (the only two objects a member is linked to)."""
    if record_id.startswith(LEAD_PREFIX):
        return "Lead"
    if record_id.startswith(CONTACT_PREFIX):
        return "Contact"
    return None


def from_entry(entry: LedgerEntry, run_id: str, now: str) -> Link | None:
    """The link a created or excluded ledger entry makes (None: nothing to link to)."""
    record_id = entry.lead_id or entry.matched_id
    sobject = sobject_of(record_id or "")
    if entry.state not in ("created", "excluded") or not record_id or sobject is None:
        return None
    return Link(
        account=entry.account,
        contact_id=entry.contact_id,
        email=entry.email,
        sobject=sobject,
        record_id=record_id,
        book_id=entry.book_id,
        outcome="pending",
        detail={"run": run_id, "at": now, "why": "linked: both sides are read in full once"},
        linked_at=now,
        last_run=run_id,
    )


def from_pushed(entry: PushEntry, run_id: str, now: str) -> Link | None:
    """The link a person the push wrote into a book makes: its contact and Lead/Contact."""
    sobject = entry.person_type if entry.person_type in ("Lead", "Contact") else None
    if entry.state != "pushed" or entry.contact_id is None or not entry.person_id or not sobject:
        return None
    return Link(
        account=entry.account,
        contact_id=int(entry.contact_id),
        email=entry.email,
        sobject=sobject,
        record_id=entry.person_id,
        book_id=entry.book_id,
        outcome="pending",
        detail={"run": run_id, "at": now, "why": "linked (pushed): both sides are read once"},
        linked_at=now,
        last_run=run_id,
    )


def converted(
    link: Link, contact_id: str, run_id: str, now: str, same_fields: Iterable[str] = ()
) -> Link:
    """The Lead was converted: from now on the link is its Contact (read in full next). The
    base is kept only for `same_fields`: datafields mapped to the same field name on Lead and
    Contact (FirstName, LastName, ...); a datafield that moves to another field (Company ->
    Title) has no agreement with the new field yet, rather than a cleared one."""
    keep = set(same_fields)
    return replace(
        link,
        sobject="Contact",
        record_id=contact_id,
        base={df: v for df, v in link.base.items() if df in keep},
        sf_seen=None,
        outcome="pending",
        detail={
            "run": run_id,
            "at": now,
            "why": f"Lead {link.record_id} was converted into Contact {contact_id}",
            "converted_from": link.record_id,
        },
        last_run=run_id,
    )


def converted_into(sobject: str, row: Mapping[str, Any]) -> str | None:
    """The Contact a Lead read from Salesforce was converted into (None: not a converted Lead)."""
    if sobject == "Lead" and wire.flag(row.get("IsConverted")) and row.get("ConvertedContactId"):
        return str(row["ConvertedContactId"])
    return None


def deleted_why(link: Link, row: Mapping[str, Any]) -> str | None:
    """Why a record read with queryAll unlinks its pair: deleted, or merged into another one
    (None: it is still there)."""
    if not wire.flag(row.get("IsDeleted")):
        return None
    master = row.get("MasterRecordId")
    why = f"merged into {master}" if master else "deleted"
    return f"{link.sobject} {link.record_id} was {why} in Salesforce"


def unlinked(link: Link, why: str, run_id: str, now: str) -> Link:
    return replace(
        link,
        state="unlinked",
        outcome=None,
        detail={"run": run_id, "at": now, "why": why},
        attempt=None,
        last_run=run_id,
    )


def with_email(link: Link, email: str | None) -> Link:
    """A changed email is the same person (the link is by contact id and record Id)."""
    key = normalise_email(email)
    if key and key != link.email:
        return replace(link, email=key)
    return link


def pending(link: Link, why: str, run_id: str, now: str, **changes: Any) -> Link:
    """A write failed for now (or was not made): the link is evaluated again next run."""
    return replace(
        link,
        outcome="pending",
        detail={"run": run_id, "at": now, "why": why},
        last_run=run_id,
        **changes,
    )


def evaluated(
    link: Link,
    plan: LinkPlan,
    *,
    sf_values: Mapping[str, Any],
    dd_values: Mapping[str, Any],
    sf_ok: bool,
    dd_ok: bool,
    notes: Sequence[FieldNote],
    run_id: str,
    now: str,
    pending_why: str | None = None,
) -> Link:
    """The link after its plan's writes: bases and seen values move for the sides whose write
    succeeded; a side that failed for now leaves the link `pending` (evaluated again next run
    from what it has seen); notes (conflicts, skips, refusals) become the outcome and detail."""
    sf_seen = dict(sf_values)
    dd_seen = dict(dd_values)
    if sf_ok:
        sf_seen.update(plan.to_salesforce)
    if dd_ok:
        dd_seen.update(plan.to_dotdigital)
    outcome: str | None = "pending" if pending_why else None
    for note in notes:
        if outcome is None or _RANK[note.kind] > _RANK[outcome]:
            outcome = note.kind
    detail: dict[str, Any] = {}
    if outcome is not None:
        detail = {"run": run_id, "at": now, "fields": [n.as_dict() for n in notes]}
        if pending_why:
            detail["why"] = pending_why
    elif not (plan.writes or plan.agreed) and link.outcome != "pending":
        # Read again with nothing new (the overlap window, our own write read back): what
        # the last real change left (a conflict, a refusal) stays on record.
        outcome, detail = link.outcome, link.detail
    return replace(
        link,
        base=plan.settled(link.base, sf_ok=sf_ok, dd_ok=dd_ok),
        sf_seen=sf_seen,
        dd_seen=dd_seen,
        outcome=outcome,  # type: ignore[arg-type]
        detail=detail,
        attempt=None,
        last_run=run_id,
    )


def without_repeated_failures(link: Link, plan: LinkPlan) -> tuple[LinkPlan, list[FieldNote]]:
    """The plan less the writes (and failures) this link already had refused with the same
    value: a refused value is not sent again, nor counted again, until the data changes (a
    record is read again whenever anything about it changes, our own writes included).
    Returns the plan and the earlier notes that still hold (kept in the link's detail)."""
    earlier = [n for n in link.detail.get("fields") or [] if n.get("kind") == "update_failed"]
    if not earlier:
        return plan, []
    still: list[FieldNote] = []
    for raw in earlier:
        note = FieldNote(
            "update_failed",
            str(raw.get("field")),
            str(raw.get("datafield")),
            raw.get("salesforce"),
            raw.get("dotdigital"),
            raw.get("winner"),
            raw.get("reason"),
            raw.get("code"),
        )
        if note.winner == "salesforce":  # Dotdigital refused this Salesforce value
            if plan.to_dotdigital.get(note.datafield, _MISSING) == note.salesforce:
                del plan.to_dotdigital[note.datafield]
                plan.dd_base.pop(note.datafield, None)
                still.append(note)
        elif plan.to_salesforce.get(note.field, _MISSING) == note.dotdigital:
            del plan.to_salesforce[note.field]  # Salesforce refused this Dotdigital value
            plan.sf_base.pop(note.datafield, None)
            still.append(note)
        else:  # refused before it was sent (conversion): the same note again
            same = [
                n for n in plan.notes
                if n.kind == "update_failed" and n.field == note.field
                and n.dotdigital == note.dotdigital
            ]  # fmt: skip
            if same:
                plan.notes.remove(same[0])
                still.append(note)
    return plan, still


_MISSING = object()
