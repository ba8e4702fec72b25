"""The push's rules, as pure functions: Salesforce Campaign members -> Dotdigital book members.

Salesforce -> Dotdigital (README "Push"): a book with `push_campaign_members` holds the members of
its linked Campaign (only those with one of `member_statuses`, when set), each with the datafields
its mapping rows give: `lead_mapping` rows for a Lead, `contact_mapping` rows for a Contact, rows
`salesforce-to-dotdigital` or `two-way` only. Everything here is a function from what was read
(one CampaignMember row with its Lead and Contact fields) and what the push table holds to what
the push table should hold next; push.py does the reading, writing and recording around it.

Rules that live here and nowhere else:
- the person of a member is its Contact when it has one (a converted Lead's member carries
  both), else its Lead; the email is normalised as the lead sync normalises it;
- a member without an email is skipped (NO_EMAIL); a deleted member, one whose status is not in
  `member_statuses`, or one whose person has gone, leaves (LEFT_CAMPAIGN, STATUS_FILTERED);
- an empty Salesforce value is not sent (nothing is blanked implicitly: docs/ARCHITECTURE.md, invariant 4);
- a member is re-sent only when its email or values change (data_hash), or it comes back.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from leadsync.config.model import Direction
from leadsync.salesforce.soql import field_list, quote
from leadsync.state.model import PushEntry
from leadsync.sync.mapping import Row, normalise_email
from leadsync.sync.wire import flag, parse_stamp, soql_datetime

# Directions whose mapping rows write Salesforce values into Dotdigital.
TOWARDS_DOTDIGITAL = frozenset({Direction.TWO_WAY, Direction.SALESFORCE_TO_DOTDIGITAL})
CURRENT = frozenset({"pending", "pushed"})  # the book holds (or is about to hold) this person
GONE = frozenset({"left", "removed"})
# Pushed people are never turned into Leads: every state that means "written (or being
# written) to Dotdigital from Salesforce", for entries that name a Salesforce person.
FROM_SALESFORCE_STATES = frozenset({"pending", "pushed", "left", "removed"})

NO_EMAIL = "NO_EMAIL"
LEFT_CAMPAIGN = "LEFT_CAMPAIGN"
STATUS_FILTERED = "STATUS_FILTERED"
EMAIL_CHANGED = "EMAIL_CHANGED"
NOT_IN_CAMPAIGN = "NOT_IN_CAMPAIGN"  # a Dotdigital-side member clear_address_books removed
IMPORT_REJECTED = "IMPORT_REJECTED"


@dataclass(frozen=True, slots=True)
class PushRules:
    """What one pushing book needs: its Campaign, status filter and the rows towards Dotdigital."""

    account: str
    book_id: int
    book: str
    campaign_id: str
    campaign: str
    statuses: tuple[str, ...]
    lead_rows: tuple[Row, ...]
    contact_rows: tuple[Row, ...]
    datafield_types: Mapping[str, str] = field(default_factory=dict)
    clear: bool = False

    @classmethod
    def of(
        cls,
        *,
        account: str,
        book_id: int,
        book: str,
        campaign_id: str,
        campaign: str,
        statuses: Sequence[str],
        lead_rows: Iterable[Row],
        contact_rows: Iterable[Row],
        datafield_types: Mapping[str, str],
        clear: bool,
    ) -> PushRules:
        return cls(
            account,
            book_id,
            book,
            campaign_id,
            campaign,
            tuple(statuses),
            tuple(r for r in lead_rows if r.direction in TOWARDS_DOTDIGITAL),
            tuple(r for r in contact_rows if r.direction in TOWARDS_DOTDIGITAL),
            dict(datafield_types),
            clear,
        )

    def fingerprint(self) -> str:
        """Changes when what the book should hold changes: a full read follows."""
        return _sha(
            {
                "campaign": self.campaign_id[:15],
                "statuses": sorted(s.casefold() for s in self.statuses),
                "lead": [[r.salesforce, r.datafield] for r in self.lead_rows],
                "contact": [[r.salesforce, r.datafield] for r in self.contact_rows],
                "clear": self.clear,
            }
        )[:16]

    def wants_status(self, status: Any) -> bool:
        if not self.statuses:
            return True
        return str(status or "").casefold() in {s.casefold() for s in self.statuses}


# -- reading -------------------------------------------------------------------------------------


def member_query(rules: PushRules, since: datetime | None, *, count: bool = False) -> str:
    """SOQL for the Campaign's members with their Lead and Contact fields (`count`: the same
    selection as SELECT COUNT(), which decides between the REST and the Bulk API 2.0 query).

    `since` (incremental): members, Leads or Contacts changed after it, and every deleted member
    still in the recycle bin (the caller reads with queryAll); None: every current member."""
    fields = ["Id", "Status", "LeadId", "ContactId", "SystemModstamp", "IsDeleted"]
    for rel, rows in (("Lead", rules.lead_rows), ("Contact", rules.contact_rows)):
        fields += [f"{rel}.Email", f"{rel}.SystemModstamp"]
        fields += [f"{rel}.{r.salesforce}" for r in rows]
    selected = "COUNT()" if count else field_list(fields)
    soql = f"SELECT {selected} FROM CampaignMember WHERE CampaignId = {quote(rules.campaign_id)}"
    if since is not None:
        at = soql_datetime(since)
        soql += (
            f" AND (SystemModstamp > {at} OR Lead.SystemModstamp > {at} "
            f"OR Contact.SystemModstamp > {at} OR IsDeleted = true)"
        )
    return soql


@dataclass(frozen=True, slots=True)
class Wanted:
    """One CampaignMember as read: who, and what the book should hold for them (or why not)."""

    member_id: str
    person_type: str | None
    person_id: str | None
    email: str
    values: dict[str, Any]
    data_hash: str
    stamp: datetime | None  # the latest SystemModstamp of the member and its person
    leaving: str | None = None  # LEFT_CAMPAIGN / STATUS_FILTERED: not (or no longer) wanted
    problem: tuple[str, str] | None = None  # (code, reason): cannot be pushed as it is


def wanted(rules: PushRules, row: Mapping[str, Any]) -> Wanted:
    """The push's reading of one CampaignMember row (as `member_query` selects it)."""
    contact = row.get("Contact") if row.get("ContactId") else None
    lead = row.get("Lead") if row.get("LeadId") else None
    person_type, person, rows = (
        ("Contact", contact, rules.contact_rows)
        if isinstance(contact, Mapping)
        else ("Lead", lead, rules.lead_rows)
        if isinstance(lead, Mapping)
        else (None, None, ())
    )
    person_id = row.get("ContactId") if person_type == "Contact" else row.get("LeadId")
    stamps = [parse_stamp(row.get("SystemModstamp"))]
    stamps += [
        parse_stamp(p.get("SystemModstamp")) for p in (lead, contact) if isinstance(p, Mapping)
    ]
    stamp = max((s for s in stamps if s is not None), default=None)
    email = normalise_email(str((person or {}).get("Email") or ""))
    leaving = None
    if flag(row.get("IsDeleted")) or person is None:
        leaving = LEFT_CAMPAIGN
    elif not rules.wants_status(row.get("Status")):
        leaving = STATUS_FILTERED
    values: dict[str, Any] = {}
    problems: list[str] = []
    for r in rows:
        raw = (person or {}).get(r.salesforce)
        try:
            value = to_datafield(raw, rules.datafield_types.get(r.datafield, "String"))
        except ValueError as exc:
            problems.append(f"{r.salesforce} -> {r.datafield}: {exc}")
            continue
        if value is not None:
            values[r.datafield] = value
    problem = None
    if leaving is None and not email:
        problem = (NO_EMAIL, f"the {person_type or 'person'} has no email address")
    elif leaving is None and problems:
        problem = ("INVALID_VALUE", "; ".join(problems))
    return Wanted(
        member_id=str(row.get("Id") or ""),
        person_type=person_type,
        person_id=str(person_id) if person_id else None,
        email=email,
        values=values,
        data_hash=_sha({"email": email, "values": values})[:32],
        stamp=stamp,
        leaving=leaving,
        problem=problem,
    )


def to_datafield(value: Any, df_type: str) -> Any:
    """A Salesforce value as the Dotdigital datafield type holds it; None for "no value"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if df_type == "Boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "false"):
            return text == "true"
        raise ValueError(f"{_show(value)} is not true or false")
    if df_type == "Numeric":
        if isinstance(value, bool):
            raise ValueError(f"{_show(value)} is not a number")
        if isinstance(value, int | float):
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{_show(value)} is not a finite number")
            return int(value) if isinstance(value, float) and value.is_integer() else value
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError(f"{_show(value)} is not a number") from None
        return int(number) if number.is_integer() else number
    if df_type == "Date":
        moment = parse_stamp(value) if "T" in str(value) else None
        if moment is not None:
            return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        text = str(value).strip()
        try:
            day = datetime.strptime(text[:10], "%Y-%m-%d")
        except ValueError:
            raise ValueError(f"{_show(value)} is not a date") from None
        return day.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)


# -- deciding ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Decision:
    """What one read row changes: entries to store, and how the run counts them."""

    store: list[PushEntry] = field(default_factory=list)
    kind: str = "unchanged"  # added | updated | left | skipped | failed | unchanged | ignored


def decide(
    rules: PushRules,
    want: Wanted,
    old: PushEntry | None,
    *,
    run_id: str,
    now: str,
) -> Decision:
    """The push table's next entries for one member, from what was read and what it holds."""
    if old is not None and old.attempt is not None:
        return Decision(kind="ignored")  # an import still running: settled by resolve first
    if want.leaving is not None:
        if old is None or old.state not in CURRENT:
            return Decision(kind="ignored" if old is None else "unchanged")
        return Decision([_left(old, want.leaving, run_id, now)], "left")
    if want.problem is not None:
        code, reason = want.problem
        out = _gone_email(old, want, run_id, now)
        if (
            old is not None
            and old.state in ("skipped", "failed")
            and old.data_hash == want.data_hash
        ):
            return Decision(out, "unchanged")
        state = "skipped" if code == NO_EMAIL else "failed"
        entry = _entry(rules, want, old, run_id, now, state=state, reason_code=code, reason=reason)
        return Decision([*out, entry], state)
    same = old is not None and old.email == want.email and old.data_hash == want.data_hash
    if same and old is not None and old.state in ("pushed", "failed"):
        return Decision(kind="unchanged")  # failed: retried when its data changes
    kind = (
        "updated"
        if old is not None and old.state == "pushed" and old.email == want.email
        else "added"
    )
    out = _gone_email(old, want, run_id, now)
    entry = _entry(rules, want, old, run_id, now, state="pending", reason_code=None, reason=None)
    return Decision([*out, entry], kind)


def _entry(
    rules: PushRules,
    want: Wanted,
    old: PushEntry | None,
    run_id: str,
    now: str,
    **changes: Any,
) -> PushEntry:
    keep_id = old is not None and old.email == want.email
    return PushEntry(
        account=rules.account,
        book_id=rules.book_id,
        member_id=want.member_id,
        email=want.email,
        person_id=want.person_id,
        person_type=want.person_type,
        campaign_id=rules.campaign_id,
        contact_id=old.contact_id if keep_id and old is not None else None,
        data_hash=want.data_hash,
        values=dict(want.values),
        tries=old.tries if old is not None else 0,
        first_run=old.first_run if old is not None else run_id,
        last_run=run_id,
        updated_at=now,
        **changes,
    )


def _left(old: PushEntry, code: str, run_id: str, now: str) -> PushEntry:
    why = {
        LEFT_CAMPAIGN: "no longer a member of the Campaign",
        STATUS_FILTERED: "member status no longer one of member_statuses",
        EMAIL_CHANGED: "the person's email changed in Salesforce",
        NO_EMAIL: "the person's email was removed in Salesforce",
    }.get(code, code)
    return evolve(old, state="left", reason_code=code, reason=why, last_run=run_id, updated_at=now)


def _gone_email(old: PushEntry | None, want: Wanted, run_id: str, now: str) -> list[PushEntry]:
    """A pushed member whose email changed (or went): the old address leaves the book as an
    entry of its own (`<member id>|<old email>`), recorded before anything is written, so
    clear_address_books removes it even if this run stops before it gets there."""
    if old is None or old.state not in CURRENT or not old.email or old.email == want.email:
        return []
    code = EMAIL_CHANGED if want.email else NO_EMAIL
    gone = evolve(old, member_id=f"{old.member_id}|{old.email}")
    return [_left(gone, code, run_id, now)]


def left_unseen(old: PushEntry, run_id: str, now: str) -> PushEntry:
    """A full read did not return this member: it left the Campaign (deleted, or its person)."""
    return _left(old, LEFT_CAMPAIGN, run_id, now)


def import_record(entry: PushEntry, book_id: int) -> dict[str, Any]:
    """The v3 import record that puts one person in the book with their values."""
    record: dict[str, Any] = {
        "matchIdentifier": "email",
        "identifiers": {"email": entry.email},
        "lists": [int(book_id)],
    }
    if entry.values:
        record["dataFields"] = dict(entry.values)
    return record


def evolve(entry: PushEntry, **changes: Any) -> PushEntry:
    """A copy of the entry with `changes`: stored entries are never changed in place."""
    values = {name: getattr(entry, name) for name in PushEntry.__dataclass_fields__}
    values.update(changes)
    return PushEntry(**values)


def _sha(material: Any) -> str:
    blob = json.dumps(material, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
