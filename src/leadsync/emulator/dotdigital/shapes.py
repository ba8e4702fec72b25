"""Dotdigital's JSON wire shapes (v2 camelCase objects, v3 contacts), built from the model.

Pure functions from model objects to JSON-ready values; responses.py puts them on the wire.

Shapes follow the v2 swagger (`ApiAccount`, `ApiAddressBook`, `ApiContact`, `ApiDataField`) and
the v3 contacts spec (`contact`, `paginationLinks`); tests validate them against those documents.
Times are ISO 8601 UTC with milliseconds and a `Z`, the form the v3 filters accept back.
"""

from __future__ import annotations

import csv
import functools
import io
from datetime import datetime
from typing import Any

from leadsync.emulator.dotdigital.imports import V2_REPORT_KEYS, ContactImport
from leadsync.emulator.dotdigital.models import Account, AddressBook, ContactRecord, DataFieldDef

V3_STATUS = {
    "Subscribed": "subscribed",
    "Unsubscribed": "unsubscribed",
    "PendingOptIn": "pendingOptIn",
    "Deleted": "deleted",
}


@functools.lru_cache(maxsize=4096)
def iso(t: datetime) -> str:
    """Cached: every untouched member of a generator shares one timestamp."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def account_info(acct: Account, base_url: str, now: datetime) -> dict[str, Any]:
    """`ApiEndpoint` carries a trailing slash, as in Dotdigital's documented example."""
    calls = len(acct.calls)
    limit = acct.rate_limit.limit if acct.rate_limit else 2000
    props = [
        ("Name", "String", acct.name),
        ("MainEmail", "String", acct.username),
        ("MainMobilePhoneNumber", "String", ""),
        ("ListManagedUsers", "String", acct.username),
        ("APILocale", "String", "en-GB"),
        ("ApiCallsInLastHour", "Int", str(calls)),
        ("ApiCallsRemaining", "Int", str(max(0, limit - calls))),
        ("ApiEndpoint", "String", base_url.rstrip("/") + "/"),
        ("CurrencyCode", "String", "GBP"),
        ("AvailableEmailSendsCredits", "Int", "0"),
        ("AvailableSmsSendsCredits", "Int", "0"),
        ("ShowClock", "Boolean", "False"),
        ("TimeZoneIana", "String", "Etc/UTC"),
    ]
    return {"id": acct.id, "properties": [{"name": n, "type": t, "value": v} for n, t, v in props]}


def address_book(book: AddressBook) -> dict[str, Any]:
    return {
        "id": book.id,
        "name": book.name,
        "visibility": book.visibility,
        "contacts": book.size(),
    }


def datafield(df: DataFieldDef) -> dict[str, Any]:
    return {
        "name": df.name,
        "type": df.type,
        "visibility": df.visibility,
        "defaultValue": df.default,
    }


def v2_contact(acct: Account, c: ContactRecord, full: bool) -> dict[str, Any]:
    """`dataFields` is null unless full data was asked for; then every account datafield."""
    data = None
    if full:
        data = [{"key": name, "value": c.datafields.get(name)} for name in acct.datafields]
    return {
        "id": c.id,
        "email": c.email,
        "optInType": c.opt_in_type,
        "emailType": c.email_type,
        "dataFields": data,
        "status": c.status,
    }


def v3_contact(
    acct: Account, c: ContactRecord, fields: list[str] | None, include: set[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "contactId": c.id,
        "status": V3_STATUS.get(c.status, "suppressed"),
        "created": iso(c.created),
        "updated": iso(c.updated),
        "identifiers": {"email": c.email},
    }
    if fields is not None:
        out["dataFields"] = {name: c.datafields.get(name) for name in fields}
    if "channelProperties" in include:
        out["channelProperties"] = {
            "email": {
                "status": V3_STATUS.get(c.status, "suppressed"),
                "emailType": c.email_type,
                "optInType": c.opt_in_type,
            }
        }
    if "lists" in include:
        out["lists"] = [
            {"id": b.id, "name": b.name, "status": "subscribed"} for b in acct.books_of(c)
        ]
    if "consentRecords" in include:
        out["consentRecords"] = []
    return out


def v3_full_contact(acct: Account, c: ContactRecord) -> dict[str, Any]:
    """A contact as the single-contact routes answer: every data field, channel, lists."""
    return v3_contact(acct, c, list(acct.datafields), {"channelProperties", "lists"})


def v3_import_status(job: ContactImport) -> dict[str, Any]:
    """`GET /contacts/v3/import/{id}`; results only once the import is no longer NotFinished."""
    out: dict[str, Any] = {"importId": job.id, "status": job.status}
    if job.status != "Finished":
        return out
    out["summary"] = {
        key: job.counts[key]
        for key in (
            "newContacts",
            "updatedContacts",
            "globallySuppressed",
            "invalidEntries",
            "duplicateIdentifiers",
        )
    }
    out["created"] = [_reference(cid, email) for cid, email in job.created]
    out["updated"] = [_reference(cid, email) for cid, email in job.updated]
    out["failures"] = [
        {
            **({"contactId": f.contact_id} if f.contact_id is not None else {}),
            "matchIdentifier": f.match_identifier or "email",
            "identifiers": {k: v for k, v in f.identifiers.items() if isinstance(v, str)},
            "failures": [{"failureCode": c, "description": d} for c, d in f.failures],
        }
        for f in job.failures
    ]
    return out


def _reference(contact_id: int, email: str) -> dict[str, Any]:
    return {"contactId": contact_id, "identifiers": {"email": email}}


def v2_import(job: ContactImport) -> dict[str, Any]:
    """`ApiContactImport`: the import's id and status."""
    return {"id": job.id, "status": job.status}


def v2_import_report(job: ContactImport) -> dict[str, Any]:
    """`ApiContactImportReport`: one counter per outcome, zeros included."""
    return {key: job.counts[key] for key in V2_REPORT_KEYS}


def v2_import_faults(job: ContactImport) -> str:
    """The rows that were not imported, as CSV: a `Reason` column, then the file's columns."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(job.fault_header)
    writer.writerows(job.fault_rows)
    return out.getvalue()
