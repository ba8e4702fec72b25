"""Bulk contact imports: the v3 JSON collection (`PUT /contacts/v3/import`) and the v2 CSV file
into an address book (`POST /v2/address-books/{id}/contacts/import`). Model only, no HTTP.

The real service runs an import in the background: the submit call answers at once and a client
polls the status route until the import is no longer `NotFinished`. By default the emulator
processes an import when it is submitted, so the first status read says `Finished`; an account's
`ImportSettings` (set through a control route) keep the next imports `NotFinished` for a number
of status reads, with nothing applied yet, or end them `RejectedByWatchdog`/`Failed` with nothing
applied, so a client's polling and failure handling can be exercised.

Rules, each where the documentation was silent marked as our choice:
- a record fails on its own (the others are imported); all its checks run before it writes;
- v3 failures carry a `failureCode`: `invalidEmail` and `duplicateIdentifier` as documented;
  `missingIdentifier`, `contactNotFound`, `invalidDataField`, `invalidDataFieldValue`,
  `invalidList`, `invalidChannelProperties` are ours. Within one import the first record with
  an identifier is imported and later ones with the same identifier fail;
- v2 CSV: a header row with an `Email` column is required (else `InvalidFileFormat`); other
  columns map to data fields by name, case-insensitively, and unknown columns are ignored; an
  empty cell is an empty value (merge option 1 skips it, 0 clears the field); rows failing go
  to the faults CSV with a `Reason` (`Invalid`, `Duplicate`, `Unsubscribed`, `Suppressed`);
- more than 25 unfinished imports per account are refused (ERROR_IMPORT_TOOMANYACTIVEIMPORTS).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from leadsync.emulator.dotdigital import exceptions as exc
from leadsync.emulator.dotdigital.books import AddressBook, ContactRecord
from leadsync.emulator.dotdigital.models import EMAIL, ContactChange

if TYPE_CHECKING:
    from leadsync.emulator.dotdigital.models import Account

MAX_ACTIVE_IMPORTS = 25
OUTCOMES = ("Finished", "RejectedByWatchdog", "Failed")
V2_REPORT_KEYS = (
    "newContacts",
    "updatedContacts",
    "globallySuppressed",
    "invalidEntries",
    "duplicateEmails",
    "blocked",
    "unsubscribed",
    "hardBounced",
    "softBounced",
    "ispComplaints",
    "mailBlocked",
    "domainSuppressed",
    "pendingDoubleOptin",
    "failures",
    "suppressedContacts",
)
V3_CHANNEL = {
    "emailType": ("email_type", {"plaintext": "PlainText", "html": "Html"}),
    "optInType": (
        "opt_in_type",
        {
            "unknown": "Unknown",
            "single": "Single",
            "double": "Double",
            "verifieddouble": "VerifiedDouble",
        },
    ),
    "status": (
        "status",
        {"subscribed": "Subscribed", "unsubscribed": "Unsubscribed", "suppressed": "Suppressed"},
    ),
}


@dataclass
class RecordFailure:
    match_identifier: str
    identifiers: dict[str, Any]
    failures: list[tuple[str, str]]
    contact_id: int | None = None


@dataclass
class ContactImport:
    id: str
    work: Callable[[ContactImport], None]
    polls_left: int
    outcome: str
    status: str = "NotFinished"
    created: list[tuple[int, str]] = field(default_factory=list)
    updated: list[tuple[int, str]] = field(default_factory=list)
    failures: list[RecordFailure] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    fault_header: list[str] = field(default_factory=list)
    fault_rows: list[list[str]] = field(default_factory=list)

    def settle(self) -> None:
        """Run the import (or end it with its configured failure, applying nothing)."""
        if self.outcome == "Finished":
            self.work(self)
            if self.status == "NotFinished":
                self.status = "Finished"
        else:
            self.status = self.outcome


def submit(acct: Account, work: Callable[[ContactImport], None]) -> ContactImport:
    active = sum(1 for i in acct.imports.values() if i.status == "NotFinished")
    if active >= MAX_ACTIVE_IMPORTS:
        raise exc.too_many_imports()
    settings = acct.import_settings
    job = ContactImport(str(uuid.uuid4()), work, settings.pending_polls, settings.outcome)
    acct.imports[job.id] = job
    if job.polls_left <= 0:
        job.settle()
    return job


def poll(acct: Account, import_id: str) -> ContactImport | None:
    """A status read: counts down a held import and settles it when its reads are spent."""
    job = acct.imports.get(import_id.lower())
    if job is not None and job.status == "NotFinished":
        job.polls_left -= 1
        if job.polls_left < 0:
            job.settle()
    return job


# -- v3 JSON collection ------------------------------------------------------------------------


def v3_work(acct: Account, records: list[dict[str, Any]], merge: str) -> Callable[..., None]:
    def work(job: ContactImport) -> None:
        seen: set[tuple[str, str]] = set()
        now = acct.backend.clock.now()
        for rec in records:
            _v3_record(acct, job, rec, merge, seen, now)

    return work


def _v3_record(
    acct: Account,
    job: ContactImport,
    rec: dict[str, Any],
    merge: str,
    seen: set[tuple[str, str]],
    now: datetime,
) -> None:
    match = rec.get("matchIdentifier")
    ids = rec.get("identifiers") if isinstance(rec.get("identifiers"), dict) else {}
    match = match if isinstance(match, str) else ""

    def fail(code: str, text: str, contact: ContactRecord | None = None) -> None:
        job.counts[
            "duplicateIdentifiers" if code == "duplicateIdentifier" else "invalidEntries"
        ] += 1
        failure = RecordFailure(match, ids, [(code, text)], contact.id if contact else None)
        job.failures.append(failure)

    value = ids.get(match)
    if match not in ("email", "contactId") or value in (None, ""):
        return fail("missingIdentifier", f"No usable value for the match identifier '{match}'")
    key = (match, str(value).strip().lower())
    if key in seen:
        return fail("duplicateIdentifier", f"Duplicate identifier detected for {match} '{value}'")
    seen.add(key)
    email = ids.get("email")
    if email is not None and (not isinstance(email, str) or not EMAIL.fullmatch(email.strip())):
        return fail("invalidEmail", "Invalid value for 'email'")
    if match == "contactId":
        found = acct.contact_by_id(value) if isinstance(value, int) else None
        if found is None:
            return fail("contactNotFound", f"No contact has the contactId '{value}'")
    else:
        found = acct.contact_by_email(email)
    try:
        books = list_targets(acct, rec.get("lists"))
        change = v3_change(rec, email, merge)
        contact = write_contact(acct, found, change, now)
    except ImportFailure as e:
        return fail(e.code, e.text, found)
    for book in books:
        if not acct.is_member(book, contact):
            book.append_explicit(contact.id, now)
    (job.updated if found else job.created).append((contact.id, contact.email))
    job.counts["updatedContacts" if found else "newContacts"] += 1


class ImportFailure(Exception):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code, self.text = code, text


def list_targets(acct: Account, raw: Any) -> list[AddressBook]:
    """The books a v3 write adds the contact to (`lists`: ids). Raises ImportFailure."""
    if raw is None:
        return []
    if not isinstance(raw, list) or any(not isinstance(i, int) or isinstance(i, bool) for i in raw):
        raise ImportFailure("invalidList", "lists must be a list of list ids")
    missing = [i for i in raw if i not in acct.books]
    if missing:
        raise ImportFailure("invalidList", f"The list {missing[0]} does not exist")
    return [acct.books[i] for i in raw]


def v3_change(rec: dict[str, Any], email: Any, merge: str) -> ContactChange:
    """A v3 record's data fields and email channel properties as a model change."""
    data = rec.get("dataFields")
    if data is not None and not isinstance(data, dict):
        raise ImportFailure("invalidDataField", "dataFields must be an object")
    change = ContactChange(email=email, datafields=data, merge=merge)
    props = rec.get("channelProperties")
    channel = props.get("email") if isinstance(props, dict) else None
    if props is not None and (not isinstance(props, dict) or not isinstance(channel or {}, dict)):
        raise ImportFailure("invalidChannelProperties", "channelProperties must be an object")
    for key, raw in (channel or {}).items():
        if key not in V3_CHANNEL:
            continue  # e.g. resubscribeOptions: accepted, not emulated
        attr, values = V3_CHANNEL[key]
        canon = values.get(str(raw).lower()) if isinstance(raw, str) else None
        if canon is None:
            raise ImportFailure("invalidChannelProperties", f"Invalid value for '{key}'")
        setattr(change, attr, canon)
    return change


def write_contact(
    acct: Account, found: ContactRecord | None, change: ContactChange, now: datetime
) -> ContactRecord:
    try:
        if found is not None:
            acct.update_contact(found, change, now)
            return acct.materialise(found)  # list membership needs a stored contact
        contact, _ = acct.upsert_contact(
            change.email,
            change.datafields,
            change.opt_in_type,
            change.email_type,
            now,
            change.status,
        )
        return contact
    except exc.EmailTaken as e:
        raise ImportFailure(
            "duplicateIdentifier", f"Another contact has the email '{e.email}'"
        ) from None
    except exc.DotdigitalError as e:
        code = {
            "ERROR_DATAFIELD_NOTFOUND": "invalidDataField",
            "ERROR_DATAFIELD_INVALID": "invalidDataFieldValue",
        }.get(e.code or "", "invalidEmail")
        raise ImportFailure(code, e.message.rsplit(". ", 1)[0]) from None


# -- v2 CSV file into an address book ----------------------------------------------------------


def csv_work(acct: Account, book: AddressBook, text: str | None, merge: str) -> Callable[..., None]:
    """`text` None: the file is not a CSV file the emulator can read (status InvalidFileFormat)."""

    def work(job: ContactImport) -> None:
        rows = list(csv.reader(io.StringIO(text))) if text is not None else []
        header = [h.strip() for h in rows[0]] if rows else []
        lowered = [h.lower() for h in header]
        if "email" not in lowered:
            job.status = "InvalidFileFormat"
            return
        job.fault_header = ["Reason", *lowered]
        for k in V2_REPORT_KEYS:
            job.counts[k] += 0
        seen: set[str] = set()
        now = acct.backend.clock.now()
        for row in rows[1:]:
            if not any(cell.strip() for cell in row):
                continue
            values = dict(zip(lowered, (cell.strip() for cell in row), strict=False))
            reason = _csv_row(acct, job, book, values, seen, merge, now)
            if reason is not None:
                job.fault_rows.append([reason, *row])

    return work


def _csv_row(
    acct: Account,
    job: ContactImport,
    book: AddressBook,
    values: dict[str, str],
    seen: set[str],
    merge: str,
    now: datetime,
) -> str | None:
    """Import one CSV row; -> the fault reason when it was not imported."""
    email = values.get("email", "").lower()
    if not EMAIL.fullmatch(email):
        job.counts["invalidEntries"] += 1
        return "Invalid"
    if email in seen:
        job.counts["duplicateEmails"] += 1
        return "Duplicate"
    seen.add(email)
    fields = {
        acct.datafields[k.upper()].name: (v if v != "" else None)
        for k, v in values.items()
        if k.upper() in acct.datafields
    }
    found = acct.contact_by_email(email)
    if found is not None and found.status not in ("Subscribed", "PendingOptIn"):
        key = "unsubscribed" if found.status == "Unsubscribed" else "globallySuppressed"
        job.counts[key] += 1
        return "Unsubscribed" if key == "unsubscribed" else "Suppressed"
    try:
        contact = write_contact(
            acct, found, ContactChange(email=email, datafields=fields, merge=merge), now
        )
    except ImportFailure:
        job.counts["invalidEntries"] += 1
        return "Invalid"
    if not acct.is_member(book, contact):
        book.append_explicit(contact.id, now)
    job.counts["updatedContacts" if found else "newContacts"] += 1
    return None
