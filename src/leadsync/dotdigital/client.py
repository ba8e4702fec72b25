"""Dotdigital REST client over `requests`: v2 for address books and datafields, v3 for members.

Why v3 for book members: it filters by list and by modification time on the server and pages
with an opaque marker, so a sync reads only what changed, and a member added while we page
cannot shift the offsets under us (v2's select/skip can skip or repeat rows then).

The client knows HTTP, paging, retries and limits; it knows nothing about leads or ledgers.
Every HTTP request it sends (retries included) is counted in `calls`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from leadsync.dotdigital.dates import format_v3_filter, parse_datetime
from leadsync.dotdigital.errors import DotdigitalError
from leadsync.dotdigital.imports import Imports
from leadsync.dotdigital.model import AddressBook, Contact, DataField
from leadsync.dotdigital.wire import (
    _address_book,
    _datafield,
    _int,
    _next_marker,
    _v2_contact,
    _v3_contact,
    _v3_contact_id,
)

V2_PAGE = 1000  # v2 `select` maximum for address-book lists
V3_MAX_PAGE = 5000  # v3 `limit` maximum


class DotdigitalClient(Imports):
    """One Dotdigital account (API user) on one regional endpoint.

    Composed by concern: transport.py (requests, retries, errors), imports.py (bulk imports and
    member removals), wire.py (answers to the model); account, books, data fields and contact
    reads are here.
    """

    # -- v2 ----------------------------------------------------------------------------------------

    def account_info(self) -> dict[str, str]:
        """The account's properties (ApiEndpoint, ApiCallsRemaining, ...) as name -> value."""
        body = self._json("GET", "/v2/account-info")
        props = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(props, list):
            raise self._unexpected("GET /v2/account-info", 200, body)
        return {
            str(p.get("name")): str(p.get("value"))
            for p in props
            if isinstance(p, dict) and p.get("name") is not None
        }

    def server_time(self) -> datetime:
        """Dotdigital's clock (UTC, aware): sync windows are measured on it, not on ours."""
        body = self._json("GET", "/v2/server-time")
        raw = body
        if isinstance(body, dict):
            raw = next(
                (v for k, v in body.items() if k.lower() in ("servertime", "time", "value")),
                None,
            )
        parsed = parse_datetime(raw)
        if parsed is None:
            raise self._unexpected("GET /v2/server-time", 200, body)
        return parsed

    def address_books(self, *, max_pages: int | None = None) -> list[AddressBook]:
        """Every address book, paging select/skip until a short (or empty) page; with
        `max_pages`, at most that many pages (a caller with a fixed call budget, `leadsync
        init`, then sees exactly max_pages * V2_PAGE books when there may be more)."""
        books: list[AddressBook] = []
        skip = 0
        pages = 0
        while True:
            page = self._json("GET", "/v2/address-books", params={"select": V2_PAGE, "skip": skip})
            if not isinstance(page, list):
                raise self._unexpected("GET /v2/address-books", 200, page)
            books.extend(_address_book(item, self) for item in page)
            pages += 1
            if len(page) < V2_PAGE or (max_pages is not None and pages >= max_pages):
                return books
            skip += len(page)

    def datafields(self) -> list[DataField]:
        body = self._json("GET", "/v2/data-fields")
        if not isinstance(body, list):
            raise self._unexpected("GET /v2/data-fields", 200, body)
        return [_datafield(item, self) for item in body]

    def create_datafield(
        self, name: str, type: str, *, visibility: str = "Private", default: Any = None
    ) -> DataField:
        body = self._json(
            "POST",
            "/v2/data-fields",
            json={"name": name, "type": type, "visibility": visibility, "defaultValue": default},
        )
        if not isinstance(body, dict):
            # 201 with no body is allowed by the swagger; the request itself is the answer.
            return DataField(name=name, type=type, visibility=visibility, default=default)
        return _datafield(body, self)

    def add_contact_to_book(
        self, book_id: int, email: str, datafields: Mapping[str, Any] | None = None
    ) -> Contact:
        payload = {
            "email": email,
            "optInType": "Unknown",
            "emailType": "Html",
            "dataFields": [{"key": k, "value": v} for k, v in (datafields or {}).items()],
        }
        body = self._json("POST", f"/v2/address-books/{int(book_id)}/contacts", json=payload)
        if not isinstance(body, dict):
            raise self._unexpected("POST /v2/address-books/{id}/contacts", 200, body)
        return _v2_contact(body, self)

    # -- v3 ----------------------------------------------------------------------------------------

    def book_members(
        self,
        book_id: int,
        *,
        modified_since: datetime | None = None,
        datafields: Iterable[str] | None = None,
        page_size: int = V3_MAX_PAGE,
    ) -> Iterator[list[Contact]]:
        """Members of one address book (v3 `~listId`), one list per page, marker paging.

        `modified_since` becomes `~modified=gte::...` (inclusive, truncated to the second);
        `datafields` names the data fields to return (pipe-delimited, as the v3 spec says).
        """
        params: dict[str, Any] = {
            "~listId": int(book_id),
            "limit": max(1, min(page_size, V3_MAX_PAGE)),
        }
        if modified_since is not None:
            params["~modified"] = format_v3_filter(modified_since)
        names = [n for n in (datafields or ()) if n]
        if names:
            params["data-fields"] = "|".join(names)
        for items in self._v3_pages(params):
            yield [_v3_contact(item, self) for item in items]

    def book_member_ids(self, book_id: int, *, page_size: int = V3_MAX_PAGE) -> Iterator[list[int]]:
        """Every member id of one address book, one list per page: the membership sweep's read.

        `GET /contacts/v3?~listId=<id>&limit=5000` without `data-fields` or `include`: the v3
        spec (getContacts, parameter `data-fields`) says a contact then comes back "with a
        minimum of contactId and any associated identifiers", so this is the cheapest real
        way to list a book: 5,000 members a call (the `limit` maximum), no data fields. The
        v2 alternative (`GET /v2/address-books/{id}/contacts`) pages by 1,000 with select/skip
        and is flagged deprecated.
        """
        params: dict[str, Any] = {
            "~listId": int(book_id),
            "limit": max(1, min(page_size, V3_MAX_PAGE)),
        }
        for items in self._v3_pages(params):
            yield [_v3_contact_id(item, self) for item in items]

    def _v3_pages(self, params: dict[str, Any]) -> Iterator[list[Any]]:
        """The non-empty `_items` of `GET /contacts/v3`, page by page (marker paging)."""
        seen_markers: set[str] = set()
        while True:
            body = self._json("GET", "/contacts/v3", params=params)
            if not isinstance(body, dict) or not isinstance(body.get("_items", []), list):
                raise self._unexpected("GET /contacts/v3", 200, body)
            items = body.get("_items") or []
            if items:
                yield items
            marker = _next_marker(body)
            if not items or marker is None:
                return
            if marker in seen_markers:
                raise DotdigitalError(
                    f"{self._who()}: GET /contacts/v3 returned a paging marker it had already "
                    "returned; stopping instead of looping"
                )
            seen_markers.add(marker)
            params = {**params, "marker": marker}

    def contact_id_of(self, email: str) -> int | None:
        """The id of the contact with this email (`GET /contacts/v3/email/{email}`), or None
        when the account has no such contact."""
        try:
            body = self._json("GET", f"/contacts/v3/email/{quote(email.strip(), safe='@')}")
        except DotdigitalError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(body, dict) or body.get("contactId") is None:
            raise self._unexpected("GET /contacts/v3/email/{email}", 200, body)
        return _int(body.get("contactId"))

    def contact_by_id(self, contact_id: int) -> Contact | None:
        """One contact with its data fields (`GET /contacts/v3/contactId/{id}`); None if gone
        (404: deleted since it was listed)."""
        try:
            body = self._json("GET", f"/contacts/v3/contactId/{int(contact_id)}")
        except DotdigitalError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(body, dict):
            raise self._unexpected("GET /contacts/v3/contactId/{id}", 200, body)
        return _v3_contact(body, self)
