"""Ledger transitions: what a member's ledger entry becomes after each step of a sync. Pure.

The ledger is what makes the sync exactly-once. Every rule about which member is new, which is
settled for good and which must be tried again lives here, as functions from an old entry to a new
one, so that tests can check each rule without a database or a network:

- baseline, created and excluded are terminal: a member is never evaluated twice once settled;
- skipped and failed are re-evaluated only when the member's data or the applied mapping changes
  (the data_hash), so a permanent failure is not retried on every run (no retry storms);
- pending means "ready, not yet written" (or a transient failure, kept as the entry's
  `last_error`, see write_errors.py): always retried;
- `attempt` set means a write was in flight: the outcome is in doubt until resolved from Salesforce.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields as dataclass_fields
from typing import Any

from leadsync.dotdigital.model import Contact
from leadsync.salesforce.errors import TRANSIENT_RECORD_CODES
from leadsync.salesforce.model import SaveResult
from leadsync.state.model import JsonDict, LedgerEntry
from leadsync.sync import write_errors
from leadsync.sync.mapping import (
    LeadMapping,
    Mapped,
    data_hash,
    map_member,
    missing_reason,
    normalise_email,
)
from leadsync.sync.write_errors import LAST_ERROR, WriteError

TERMINAL = frozenset({"baseline", "created", "excluded"})
RETRY_ON_CHANGE = frozenset({"skipped", "failed"})

# Save errors that say "not now" rather than "not this record": the record stays pending.
# Which Salesforce codes those are is a fact about the API: salesforce/errors.py owns the list.
TRANSIENT_CODES = TRANSIENT_RECORD_CODES
DUPLICATES_DETECTED = "DUPLICATES_DETECTED"
DUPLICATE_VALUE = "DUPLICATE_VALUE"
MISSING_FIELDS = "MISSING_FIELDS"
FROM_SALESFORCE = "FROM_SALESFORCE"
EXISTING_LEAD = "EXISTING_LEAD"
EXISTING_CONTACT = "EXISTING_CONTACT"
# The Lead leadsync created for this contact from another address book of the account: one
# person is one Lead, and it joins this book's campaign too.
LEAD_FROM_OTHER_BOOK = "LEAD_FROM_OTHER_BOOK"
# Exclusions whose matched record (matched_id) can join the book's campaign, as which field.
MEMBER_FIELD_OF_EXCLUSION = {
    EXISTING_LEAD: "LeadId",
    LEAD_FROM_OTHER_BOOK: "LeadId",
    EXISTING_CONTACT: "ContactId",
}


def evaluate(
    existing: LedgerEntry | None,
    *,
    account: str,
    book_id: int,
    contact: Contact,
    mapping: LeadMapping,
    run_id: str,
    now: str,
    mapped_out: dict[int, Mapped] | None = None,
) -> LedgerEntry | None:
    """The entry for a member read from the book, or None when there is nothing new to do.
    `mapped_out`: receives the member's mapping, by contact id, when it was mapped."""
    if existing is not None:
        if existing.origin == "salesforce" and existing.state not in TERMINAL:
            return _touch(
                existing,
                run_id,
                now,
                state="excluded",
                reason_code=FROM_SALESFORCE,
                reason="the ledger records this member as having come from Salesforce",
            )
        if existing.state in TERMINAL or existing.attempt is not None:
            return None
    email = contact.email
    values = {df: contact.datafields.get(df) for df in mapping.datafields}
    if (
        existing is not None
        and existing.state in RETRY_ON_CHANGE
        and existing.data_hash == data_hash(email, values, mapping)
    ):
        return None
    extra = JsonDict(values=_jsonable(values), raw_email=email)  # encoded once (state codec)
    if existing is None:
        base = LedgerEntry(
            account=account,
            book_id=book_id,
            contact_id=contact.id,
            email=normalise_email(email),
            state="pending",
            first_run=run_id,
            extra=extra,
        )
    else:
        extra = JsonDict({**existing.extra, **extra})
        base = evolve(existing, email=normalise_email(email), extra=extra)
    mapped = mapped_for(base, mapping)
    if mapped_out is not None:
        mapped_out[contact.id] = mapped
    if existing is None and not (mapped.problems or mapped.missing):
        # A new member ready to write (nearly every one): outcome_of_mapping's pending entry,
        # set on the entry just built instead of copied from it
        base.data_hash = mapped.data_hash
        base.last_run = run_id
        base.updated_at = now
        return base
    return outcome_of_mapping(base, mapping, run_id, now, mapped)


def mapped_for(entry: LedgerEntry, mapping: LeadMapping) -> Mapped:
    """The mapping of a stored member's values (computed once per step: callers reuse it for
    both the outcome and the record, see outcome_of_mapping and record_for)."""
    return map_member(
        entry.extra.get("raw_email", entry.email), entry.extra.get("values", {}), mapping
    )


def outcome_of_mapping(
    entry: LedgerEntry,
    mapping: LeadMapping,
    run_id: str,
    now: str,
    mapped: Mapped | None = None,
) -> LedgerEntry:
    """Skipped (missing values), failed (unconvertible values) or pending (ready to write).

    A pending entry whose outcome does not change is returned as it is (no copy): the caller
    stores only entries whose state moved."""
    if mapped is None:
        mapped = mapped_for(entry, mapping)
    if mapped.problems:
        first = mapped.problems[0]
        return _touch(
            entry,
            run_id,
            now,
            state="failed",
            reason_code=first.code,
            reason="; ".join(p.message for p in mapped.problems),
            fields=tuple(p.field for p in mapped.problems),
            data_hash=mapped.data_hash,
        )
    if mapped.missing:
        return _touch(
            entry,
            run_id,
            now,
            state="skipped",
            reason_code=MISSING_FIELDS,
            reason=missing_reason(mapped.missing, mapping),
            fields=mapped.missing,
            data_hash=mapped.data_hash,
        )
    if (
        entry.state == "pending"
        and entry.reason_code is None
        and entry.reason is None
        and not entry.fields
        and entry.data_hash == mapped.data_hash
        and entry.last_run == run_id
    ):
        return entry
    return _touch(
        entry,
        run_id,
        now,
        state="pending",
        reason_code=None,
        reason=None,
        fields=(),
        data_hash=mapped.data_hash,
    )


def record_for(
    entry: LedgerEntry, mapping: LeadMapping, mapped: Mapped | None = None
) -> dict[str, Any]:
    """The Lead record a pending entry writes (mapped afresh: the mapping may have changed;
    `mapped` is that fresh mapping when the caller has just computed it)."""
    return (mapped or mapped_for(entry, mapping)).record


def excluded(
    entry: LedgerEntry,
    matched_id: str,
    code: str,
    reason: str,
    run_id: str,
    now: str,
    campaign_id: str | None = None,
) -> LedgerEntry:
    """Already in Salesforce. `campaign_id` (see joins_campaign): the matched record joins
    that campaign in this run's campaign step, exactly as a created Lead does."""
    return _touch(
        entry,
        run_id,
        now,
        state="excluded",
        matched_id=matched_id,
        reason_code=code,
        reason=reason,
        fields=(),
        attempt=None,
        campaign_id=campaign_id,
    )


def from_salesforce(
    entry: LedgerEntry, person_id: str | None, pushed: dict[str, Any], run_id: str, now: str
) -> LedgerEntry:
    """A member the push wrote into a book of this account (origin salesforce): never a Lead,
    whatever happens to the Salesforce record later. `pushed`: where it came from (campaign,
    book, person type and Id), kept in `extra` for `records`."""
    what = pushed.get("person_type") or "person"
    reason = (
        f"pushed from Salesforce ({what} {person_id}, campaign {pushed.get('campaign')!r}) into "
        f"address book {pushed.get('book')!r}; people who come from Salesforce never become Leads"
    )
    return _touch(
        entry,
        run_id,
        now,
        state="excluded",
        origin="salesforce",
        matched_id=person_id,
        reason_code=FROM_SALESFORCE,
        reason=reason,
        fields=(),
        attempt=None,
        extra={**entry.extra, "pushed": pushed},
    )


def joins_campaign(code: str, campaign_id: str | None, add_existing: bool) -> str | None:
    """The campaign an excluded member's matched record joins, if any.

    People already in Salesforce join the book's campaign unless the book says
    `add_existing_to_campaign: false`; a Lead leadsync created from another book always does:
    that person is new to Salesforce through leadsync, and one person is one Lead in every
    campaign they signed up for."""
    if not campaign_id or code not in MEMBER_FIELD_OF_EXCLUSION:
        return None
    return campaign_id if add_existing or code == LEAD_FROM_OTHER_BOOK else None


def with_attempt(
    entry: LedgerEntry, attempt: str, run_id: str, now: str, **changes: Any
) -> LedgerEntry:
    """Marks a write in flight; stored durably BEFORE the write is sent, with the time it is
    sent (`attempted_at`, the start of its grace period). `changes`: other fields set in the
    same step (e.g. the campaign the created Lead will join)."""
    return _touch(
        entry, run_id, now, attempt=attempt, attempted_at=now, tries=entry.tries + 1, **changes
    )


def created(
    entry: LedgerEntry, lead_id: str, campaign_id: str | None, run_id: str, now: str
) -> LedgerEntry:
    return _touch(
        entry,
        run_id,
        now,
        state="created",
        lead_id=lead_id,
        campaign_id=campaign_id,
        attempt=None,
        reason_code=None,
        reason=None,
        fields=(),
    )


def back_to_pending(
    entry: LedgerEntry,
    run_id: str,
    now: str,
    reason: str | None = None,
    error: WriteError | None = None,
) -> LedgerEntry:
    """The write did not happen (or cannot be shown to have happened): try again next time.

    `error`: why (kept as the entry's last_error until a later write replaces it)."""
    changes: dict[str, Any] = {}
    if error is not None:
        changes["extra"] = {**entry.extra, LAST_ERROR: error.stamped(run_id, now)}
    return _touch(
        entry,
        run_id,
        now,
        state="pending",
        attempt=None,
        reason_code="TRANSIENT" if reason else None,
        reason=reason,
        **changes,
    )


def with_last_error(entry: LedgerEntry, error: WriteError, run_id: str, now: str) -> LedgerEntry:
    """The entry, state and attempt unchanged, with `error` as its last_error (a write still
    in doubt because Salesforce could not be asked what became of it)."""
    return _touch(entry, run_id, now, extra={**entry.extra, LAST_ERROR: error.stamped(run_id, now)})


def after_save(
    entry: LedgerEntry, result: SaveResult, campaign_id: str | None, run_id: str, now: str
) -> LedgerEntry:
    """The terminal (or pending) state a per-record save result puts the member in."""
    if result.success and result.id:
        return created(entry, result.id, campaign_id, run_id, now)
    errors = result.errors
    if not errors:
        why = "Salesforce returned no result for this record"
        return back_to_pending(entry, run_id, now, why, write_errors.of_record("NO_RESULT", why))
    first = errors[0]
    if first.status_code == DUPLICATES_DETECTED:
        matched = next((m for e in errors for m in e.matched_ids), None)
        return _touch(
            entry,
            run_id,
            now,
            state="excluded",
            matched_id=matched,
            reason_code=DUPLICATES_DETECTED,
            reason=f"a Salesforce duplicate rule matched an existing record: {first.message}",
            fields=first.fields,
            attempt=None,
        )
    if first.status_code in TRANSIENT_CODES:
        why = f"{first.status_code}: {first.message}"
        return back_to_pending(
            entry, run_id, now, why, write_errors.of_record(first.status_code, why)
        )
    return _touch(
        entry,
        run_id,
        now,
        state="failed",
        attempt=None,
        reason_code=first.status_code,
        reason="; ".join(f"{e.status_code}: {e.message}" for e in errors),
        fields=tuple(dict.fromkeys(f for e in errors for f in e.fields)),
    )


def campaign_member_added(entry: LedgerEntry, member_id: str, run_id: str, now: str) -> LedgerEntry:
    extra = entry.extra
    if "campaign_error" in extra:
        extra = {k: v for k, v in extra.items() if k != "campaign_error"}
    return _touch(entry, run_id, now, campaign_member_id=member_id, extra=extra)


def campaign_member_failed(
    entry: LedgerEntry, code: str, message: str, key: str, run_id: str, now: str
) -> LedgerEntry:
    """A permanent CampaignMember error; `key` (campaign + status) gates the next retry."""
    extra = {**entry.extra, "campaign_error": {"code": code, "message": message, "key": key}}
    return _touch(entry, run_id, now, extra=extra)


def member_ref(entry: LedgerEntry) -> tuple[str, str] | None:
    """(CampaignMember field, record Id) of the person an entry puts in its campaign: the Lead
    it created, or the Lead/Contact that excluded it. None when it has nobody to add."""
    if entry.state == "created" and entry.lead_id:
        return "LeadId", entry.lead_id
    field_name = MEMBER_FIELD_OF_EXCLUSION.get(entry.reason_code or "")
    if entry.state == "excluded" and entry.matched_id and field_name:
        return field_name, entry.matched_id
    return None


def member_kind(entry: LedgerEntry) -> str:
    """ "new" for a Lead this book created, "existing" for a person already in Salesforce."""
    return "new" if entry.state == "created" else "existing"


def awaits_member(entry: LedgerEntry) -> bool:
    """The campaign step's candidates (StateStore.ledger_without_member asks this in SQL):
    created or excluded, linked to a campaign, no CampaignMember recorded."""
    return (
        entry.state in ("created", "excluded")
        and bool(entry.campaign_id)
        and not entry.campaign_member_id
    )


def needs_campaign_member(entry: LedgerEntry, key: str) -> bool:
    """Linked to a campaign, someone to add (member_ref), not yet a member, and not parked by
    the same error."""
    if not entry.campaign_id or entry.campaign_member_id or member_ref(entry) is None:
        return False
    error = entry.extra.get("campaign_error")
    return not (error and error.get("key") == key)


_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in dataclass_fields(LedgerEntry))


def _field_copier() -> Callable[[LedgerEntry], LedgerEntry]:
    """A function that copies an entry slot by slot, written out from the dataclass's fields
    (as dataclasses writes __init__): a third of the time of calling __init__ with every
    field (1.0 us instead of 3.3), and a field added to LedgerEntry is copied too."""
    body = "".join(f"    new.{name} = entry.{name}\n" for name in _FIELD_NAMES)
    source = f"def copy(entry):\n    new = _new(_cls)\n{body}    return new\n"
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": LedgerEntry}
    exec(source, scope)  # our own field names (identifiers): no outside input
    return scope["copy"]  # type: ignore[no-any-return]


_copy_entry = _field_copier()


def evolve(entry: LedgerEntry, **changes: Any) -> LedgerEntry:
    """A copy of `entry` with `changes`: dataclasses.replace without its per-field Python loop.

    Why: a sync makes several transitions per member (tens of thousands per run), and
    replace() was the largest single CPU cost of a run. Unknown field names still fail
    (AttributeError: the entry has __slots__)."""
    new = _copy_entry(entry)
    for name, value in changes.items():
        setattr(new, name, value)
    return new


def _touch(entry: LedgerEntry, run_id: str, now: str, **changes: Any) -> LedgerEntry:
    if "attempt" in changes and changes["attempt"] is None:
        changes.setdefault("attempted_at", None)  # settled: no write in flight any more
    return evolve(entry, last_run=run_id, updated_at=now, **changes)


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})
_STR = frozenset({str})


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    """Values as they survive a JSON round trip (the ledger stores them as JSON).

    Datafield values are almost always strings, numbers or None, which survive as they are:
    only other values (dates, lists) take the round trip (one per new member otherwise)."""
    if _JSON_SCALARS.issuperset(map(type, values.values())) and _STR.issuperset(map(type, values)):
        return dict(values)  # (the type checks run in C: one new member each)
    return json.loads(json.dumps(values, default=str))
