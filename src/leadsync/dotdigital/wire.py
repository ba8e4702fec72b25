"""Dotdigital's answers (v2 and v3 wire shapes) as leadsync's model. Pure.

Each reader takes the transport only to name the call in an "unexpected body" error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import requests

from leadsync.dotdigital.dates import parse_datetime
from leadsync.dotdigital.model import AddressBook, Contact, DataField
from leadsync.emails import normalise_email

if TYPE_CHECKING:
    from leadsync.dotdigital.transport import Transport

_EXCERPT = 160


def _address_book(item: Any, client: Transport) -> AddressBook:
    if not isinstance(item, dict) or "id" not in item:
        raise client._unexpected("GET /v2/address-books", 200, item)
    return AddressBook(
        id=_int(item.get("id")),
        name=str(item.get("name") or ""),
        visibility=str(item.get("visibility") or ""),
        contacts=_int(item.get("contacts")),
    )


def _datafield(item: Any, client: Transport) -> DataField:
    if not isinstance(item, dict) or not item.get("name"):
        raise client._unexpected("GET /v2/data-fields", 200, item)
    return DataField(
        name=str(item["name"]),
        type=str(item.get("type") or "String"),
        visibility=str(item.get("visibility") or "Private"),
        default=item.get("defaultValue"),
    )


def _fields(raw: Any) -> dict[str, Any]:
    """Data fields as a dict whatever the wire shape: v3 object, or v2 list of {key, value}."""
    if isinstance(raw, dict):
        if all(type(k) is str for k in raw):  # always, from JSON: no copy key by key
            return dict(raw)
        return {str(k): v for k, v in raw.items()}
    if isinstance(raw, list):
        return {
            str(entry.get("key")): entry.get("value")
            for entry in raw
            if isinstance(entry, dict) and entry.get("key") is not None
        }
    return {}


def _v2_contact(item: dict[str, Any], client: Transport) -> Contact:
    if "email" not in item:
        raise client._unexpected("v2 contact", 200, item)
    return Contact(
        id=_int(item.get("id")),
        email=str(item.get("email") or ""),
        datafields=_fields(item.get("dataFields")),
        status=str(item.get("status") or ""),
    )


def _v3_contact(item: Any, client: Transport) -> Contact:
    if not isinstance(item, dict):
        raise client._unexpected("GET /contacts/v3", 200, item)
    get = item.get
    identifiers = get("identifiers")
    email_addr = identifiers.get("email") if isinstance(identifiers, dict) else None
    status = get("status")
    if not status:
        channels = get("channelProperties")
        channel = channels.get("email") if isinstance(channels, dict) else None
        status = channel.get("status") if isinstance(channel, dict) else None
    contact_id = get("contactId")
    return Contact(
        id=_int(get("id") if contact_id is None and "contactId" not in item else contact_id),
        email=str(email_addr or get("email") or ""),
        datafields=_fields(get("dataFields")),
        status=str(status or ""),
        created=parse_datetime(get("created")),
        updated=parse_datetime(get("updated")),
    )


def _references(raw: Any) -> dict[str, int]:
    """An import's `created`/`updated`: [{contactId, identifiers: {email}}] -> email -> id."""
    out: dict[str, int] = {}
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, dict):
            continue
        ids = item.get("identifiers")
        email = ids.get("email") if isinstance(ids, dict) else None
        if isinstance(email, str) and item.get("contactId") is not None:
            out[normalise_email(email)] = _int(item.get("contactId"))
    return out


def _failures(raw: Any) -> dict[str, tuple[str, str]]:
    """An import's `failures` -> email -> (failureCode, description) of its first failure."""
    out: dict[str, tuple[str, str]] = {}
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, dict):
            continue
        ids = item.get("identifiers")
        email = ids.get("email") if isinstance(ids, dict) else None
        first = (item.get("failures") or [{}])[0]
        if isinstance(email, str) and isinstance(first, dict):
            code = str(first.get("failureCode") or "importFailure")
            out.setdefault(normalise_email(email), (code, str(first.get("description") or code)))
    return out


def _failures_by_id(raw: Any) -> dict[int, tuple[str, str]]:
    """An import's `failures` that name a contact id -> (failureCode, description): imports
    matched by contactId carry no email to key them by."""
    out: dict[int, tuple[str, str]] = {}
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, dict) or item.get("contactId") is None:
            continue
        first = (item.get("failures") or [{}])[0]
        if isinstance(first, dict):
            code = str(first.get("failureCode") or "importFailure")
            out.setdefault(
                _int(item.get("contactId")), (code, str(first.get("description") or code))
            )
    return out


def _v3_contact_id(item: Any, client: Transport) -> int:
    """Only the id of a v3 contact (a sweep reads a million of them: no date parsing)."""
    if not isinstance(item, dict):
        raise client._unexpected("GET /contacts/v3", 200, item)
    return _int(item.get("contactId", item.get("id")))


def _next_marker(body: dict[str, Any]) -> str | None:
    links = body.get("_links")
    if not isinstance(links, dict):
        return None
    nxt = links.get("next")
    if not isinstance(nxt, dict):
        return None
    marker = nxt.get("marker")
    if marker:
        return str(marker)
    link = nxt.get("link") or nxt.get("href")
    if isinstance(link, str) and "marker=" in link:
        values = parse_qs(urlsplit(link).query).get("marker")
        return values[0] if values else None
    return None


def _int(value: Any) -> int:
    if type(value) is int:  # nearly always (a bool is not an id)
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _error_message(response: requests.Response) -> tuple[str, str | None]:
    """(message, ERROR_CODE) from a v2 `{"message": ...}` or v3 `{"errorCode", ...}` body."""
    try:
        body = response.json()
    except ValueError:
        return "", None
    if not isinstance(body, dict):
        return "", None
    if "errorCode" in body:
        code = str(body.get("errorCode"))
        return str(body.get("description") or code), code
    message = str(body.get("message") or "").strip()
    code = None
    tail = message.rsplit(" ", 1)[-1].removeprefix("Error:").strip() if message else ""
    if tail.startswith("ERROR_"):
        code = tail.rstrip(".")
    return message, code


def _excerpt(text: str) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= _EXCERPT else flat[: _EXCERPT - 1] + "…"


def _excerpt_suffix(text: str) -> str:
    short = _excerpt(text)
    return f": {short}" if short else ""
