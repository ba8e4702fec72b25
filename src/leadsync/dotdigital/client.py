"""Dotdigital REST client over `requests`: v2 for address books and datafields, v3 for members.

Why v3 for book members: it filters by list and by modification time on the server and pages
with an opaque marker, so a sync reads only what changed, and a member added while we page
cannot shift the offsets under us (v2's select/skip can skip or repeat rows then).

The client knows HTTP, paging, retries and limits; it knows nothing about leads or ledgers.
Every HTTP request it sends (retries included) is counted in `calls`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, cast
from urllib.parse import parse_qs, quote, urlsplit

import requests

from leadsync import logs
from leadsync.config.model import DotdigitalConnection
from leadsync.dotdigital.dates import format_v3_filter, parse_datetime
from leadsync.dotdigital.errors import DotdigitalAuthError, DotdigitalError, RateLimited
from leadsync.dotdigital.model import AddressBook, Contact, DataField, ImportOutcome
from leadsync.emails import normalise_email
from leadsync.retry import RetryPolicy, Transient, retry_after
from leadsync.wording import join_and

V2_PAGE = 1000  # v2 `select` maximum for address-book lists
V3_MAX_PAGE = 5000  # v3 `limit` maximum
DEFAULT_TIMEOUT = (10.0, 121.0)  # connect, read: Dotdigital suggests allowing ~121 s per call
STATUS_READS = 12  # status reads of one import or removal before the caller is told "running"
DELETE_CHUNK = 1000  # contact ids per "remove these members" request
RUNNING = frozenset({"NotFinished", "NotStarted", "Started", "InProgress", "Processing"})
_EXCERPT = 160
log = logs.get("dotdigital")


class DotdigitalClient:
    """One Dotdigital account (API user) on one regional endpoint."""

    def __init__(
        self,
        conn: DotdigitalConnection,
        *,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        account: str | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        clock: Any = time.time,
        client_id: str | None = None,
    ) -> None:
        self.base_url = conn.base_url.rstrip("/")
        # Names this client instance in the server's logs (X-Leadsync-Client): with runners on
        # many machines, "which run sent this request" is otherwise unanswerable. Not secret.
        self.client_id = client_id or uuid.uuid4().hex[:16]
        self.account = account
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.calls = 0
        # Dotdigital's clock as its last answer stated it (the HTTP Date header): a read can
        # take its own start time from its first answer instead of a server-time call.
        self.last_date: datetime | None = None
        self._clock = clock
        self._session = session or requests.Session()
        # UTF-8 bytes: requests would encode str credentials as latin-1 and crash on others.
        self._auth = (conn.username.reveal().encode(), conn.password.reveal().encode())
        # What to tell the user to fix when the credentials are refused: the variables, by name.
        self._credential_names = [
            s.env_var for s in (conn.username, conn.password) if s.env_var is not None
        ]
        self._headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "leadsync",
            "X-Leadsync-Client": self.client_id,
        }

    # -- v2 -------------------------------------------------------------------------------------

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

    # -- v3 -------------------------------------------------------------------------------------

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

    # -- bulk import and member removal ---------------------------------------------------------

    def import_contacts(
        self,
        contacts: list[dict[str, Any]],
        *,
        merge: str = "overwrite",
        on_submit: Any = None,
        status_reads: int = STATUS_READS,
    ) -> ImportOutcome:
        """v3 bulk import (`PUT /contacts/v3/import`), then its status until it has finished.

        `contacts` are v3 contact requests (matchIdentifier, identifiers, dataFields, lists).
        `on_submit(import_id)` runs as soon as Dotdigital has accepted the import, before its
        status is read: the caller records the id (write-ahead) so a run killed while the import
        runs can learn its outcome later (`import_status`). Polling the status is waiting on the
        service, paced by the retry policy's backoff; after `status_reads` reads an import still
        running is returned as such (`running`), never abandoned silently.
        """
        body = self._json(
            "PUT", "/contacts/v3/import", json={"mergeOption": merge, "contacts": contacts}
        )
        import_id = body.get("importId") if isinstance(body, dict) else None
        if not import_id:
            raise self._unexpected("PUT /contacts/v3/import", 202, body)
        if on_submit is not None:
            on_submit(str(import_id))
        return self.wait_import(str(import_id), status_reads=status_reads)

    def wait_import(self, import_id: str, *, status_reads: int = STATUS_READS) -> ImportOutcome:
        """Read an import's status until it is no longer running (at most `status_reads`)."""
        outcome = self.import_status(import_id)
        reads = 1
        while outcome.running and reads < status_reads:
            self._pace(reads, f"import {import_id} still running")
            outcome = self.import_status(import_id)
            reads += 1
        return outcome

    def import_status(self, import_id: str) -> ImportOutcome:
        """`GET /contacts/v3/import/{id}`: the status, and per-record results once finished."""
        what = "GET /contacts/v3/import/{id}"
        body = self._json("GET", f"/contacts/v3/import/{import_id}")
        if not isinstance(body, dict) or not body.get("status"):
            raise self._unexpected(what, 200, body)
        return ImportOutcome(
            import_id=import_id,
            status=str(body["status"]),
            created=_references(body.get("created")),
            updated=_references(body.get("updated")),
            failures=_failures(body.get("failures")),
            failed_ids=_failures_by_id(body.get("failures")),
            unnamed_failures=sum(
                1
                for f in body.get("failures") or []
                if isinstance(f, dict) and f.get("contactId") is None
            ),
        )

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

    def remove_members(self, book_id: int, contact_ids: Iterable[int]) -> bool:
        """Remove contacts from one address book (`POST .../contacts/delete`, the contacts stay
        in the account), then wait for the removal to complete. True when Dotdigital reports
        it done; False when it was still running after the status reads (removing again is
        harmless: a contact that is no longer a member is ignored)."""
        ids = sorted({int(i) for i in contact_ids})
        done = True
        for start in range(0, len(ids), DELETE_CHUNK):
            chunk = ids[start : start + DELETE_CHUNK]
            body = self._json(
                "POST", f"/v2/address-books/{int(book_id)}/contacts/delete", json=chunk
            )
            deletion = body.get("id") if isinstance(body, dict) else None
            status = str(body.get("status") or "") if isinstance(body, dict) else ""
            reads = 0
            while deletion and status in RUNNING and reads < STATUS_READS:
                if reads:
                    self._pace(reads, f"removal {deletion} still running")
                progress = self._json("GET", f"/v2/contacts/deletion/{deletion}")
                status = str(progress.get("status") or "") if isinstance(progress, dict) else ""
                reads += 1
            done = done and status not in RUNNING
        return done

    def _pace(self, reads: int, why: str) -> None:
        """Between two status reads of work the service runs in the background."""
        seconds = self.retry.backoff(reads)
        log.debug("%s: %s; reading again in %.1f s", self._log_name(), why, seconds)
        self.retry.sleep(seconds)

    # -- transport ------------------------------------------------------------------------------

    def _json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        response = self._request(method, path, params=params, json=json)
        if response.status_code == 204 or not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            raise self._unexpected(
                f"{method} {path}", response.status_code, response.text
            ) from None

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> requests.Response:
        """One logical call: retries transient failures within the policy, maps the rest."""
        url = self.base_url + path
        where = logs.endpoint(method, url)  # for the log: no query string, no credentials

        def attempt(n: int) -> requests.Response:
            self.calls += 1
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    auth=self._auth,
                    headers=self._headers,
                    timeout=self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                log.debug("%s: %s -> %s", self._log_name(), where, type(exc).__name__)
                raise Transient(
                    f"{self._log_name()}: {where} -> {type(exc).__name__}",
                    error=DotdigitalError(
                        f"{self._who()}: {method} {path} failed after {n} attempts: "
                        f"{type(exc).__name__}",
                        code="CONNECTION_ERROR",
                        transient=True,
                    ),
                ) from None
            log.debug("%s: %s -> %s", self._log_name(), where, response.status_code)
            if response.status_code < 300:
                self._note_date(response)
                return response
            raise self._failure(f"{method} {path}", where, response, n)

        return cast(requests.Response, self.retry.run(attempt))

    def _failure(
        self, what: str, where: str, response: requests.Response, attempt: int
    ) -> Exception:
        """An answer of 300 or more as what the attempt raises: Transient for a 429 whose pause
        fits `max_wait` and for 5xx (with the error to raise when the policy gives up), the
        error itself otherwise."""
        status = response.status_code
        why = f"{self._log_name()}: {where} -> {status}"
        if status == 429:
            wait = self._rate_limit_wait(response)
            limited = RateLimited(
                f"{self._who()}: rate limit reached on {what}"
                + (f"; it resets in {int(wait)} s" if wait is not None else "")
                + ". Re-run later; everything done so far is recorded.",
                reset_at=self._clock() + wait if wait is not None else None,
            )
            if wait is not None and wait > self.retry.max_wait:
                return limited
            return Transient(why, error=limited, requested=wait)
        if status >= 500:
            return Transient(
                why + _excerpt_suffix(response.text),
                error=DotdigitalError(
                    f"{self._who()}: {what} answered HTTP {status} after {attempt} attempts"
                    f"{_excerpt_suffix(response.text)}",
                    status=status,
                    transient=True,
                ),
            )
        return self._client_error(what, response)

    def _client_error(self, what: str, response: requests.Response) -> Exception:
        status = response.status_code
        message, code = _error_message(response)
        if status == 401:
            names = self._credential_names
            check = (
                f"check {join_and(names)}"
                if names
                else "check the account's dotdigital username and password"
            )
            return DotdigitalAuthError(
                f"{self._who()}: the API user's credentials were refused (HTTP 401) on {what}; "
                + check,
                status=status,
            )
        if status == 403:
            return DotdigitalAuthError(
                f"{self._who()}: access denied (HTTP 403) on {what}; is the endpoint the "
                "account's own region?" + (f" Dotdigital says: {message}" if message else ""),
                status=status,
            )
        if code == "ERROR_APIUSAGE_EXCEEDED":
            return RateLimited(f"{self._who()}: API usage exceeded ({message}).")
        detail = message or _excerpt(response.text) or "(empty body)"
        return DotdigitalError(
            f"{self._who()}: {what} answered HTTP {status}: {detail}", status=status, code=code
        )

    def _note_date(self, response: requests.Response) -> None:
        raw = response.headers.get("Date")
        if not raw:
            return
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return
        if when is not None and when.tzinfo is not None:
            self.last_date = when

    def _rate_limit_wait(self, response: requests.Response) -> float | None:
        """Seconds Dotdigital asks us to wait (Retry-After or X-RateLimit-Reset), if it says."""
        requested = retry_after(response.headers, self._clock)
        if requested is not None:
            return requested
        reset = response.headers.get("X-RateLimit-Reset")
        if reset:
            try:
                value = float(reset)
            except ValueError:
                parsed = parse_datetime(reset)
                return max(0.0, parsed.timestamp() - self._clock()) if parsed else None
            # Documented as UTC epoch seconds; small values can only be a delta.
            return max(0.0, value - self._clock()) if value > 1e9 else max(0.0, value)
        return None

    def _log_name(self) -> str:
        return f"dotdigital account {self.account!r}" if self.account else "dotdigital"

    def _who(self) -> str:
        name = f"account {self.account!r}" if self.account else "account"
        return f"{name} at {self.base_url}"

    def _unexpected(self, what: str, status: int, body: Any) -> DotdigitalError:
        text = body if isinstance(body, str) else repr(body)
        return DotdigitalError(
            f"{self._who()}: {what} returned an unexpected body (HTTP {status}): {_excerpt(text)}",
            status=status,
            code="UNEXPECTED_RESPONSE",
        )


# -- wire shapes -> model ---------------------------------------------------------------------


def _address_book(item: Any, client: DotdigitalClient) -> AddressBook:
    if not isinstance(item, dict) or "id" not in item:
        raise client._unexpected("GET /v2/address-books", 200, item)
    return AddressBook(
        id=_int(item.get("id")),
        name=str(item.get("name") or ""),
        visibility=str(item.get("visibility") or ""),
        contacts=_int(item.get("contacts")),
    )


def _datafield(item: Any, client: DotdigitalClient) -> DataField:
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
        return {str(k): v for k, v in raw.items()}
    if isinstance(raw, list):
        return {
            str(entry.get("key")): entry.get("value")
            for entry in raw
            if isinstance(entry, dict) and entry.get("key") is not None
        }
    return {}


def _v2_contact(item: dict[str, Any], client: DotdigitalClient) -> Contact:
    if "email" not in item:
        raise client._unexpected("v2 contact", 200, item)
    return Contact(
        id=_int(item.get("id")),
        email=str(item.get("email") or ""),
        datafields=_fields(item.get("dataFields")),
        status=str(item.get("status") or ""),
    )


def _v3_contact(item: Any, client: DotdigitalClient) -> Contact:
    if not isinstance(item, dict):
        raise client._unexpected("GET /contacts/v3", 200, item)
    identifiers = item.get("identifiers") or {}
    email_addr = identifiers.get("email") if isinstance(identifiers, dict) else None
    status = item.get("status")
    if not status:
        channels = item.get("channelProperties")
        channel = channels.get("email") if isinstance(channels, dict) else None
        status = channel.get("status") if isinstance(channel, dict) else None
    return Contact(
        id=_int(item.get("contactId", item.get("id"))),
        email=str(email_addr or item.get("email") or ""),
        datafields=_fields(item.get("dataFields")),
        status=str(status or ""),
        created=parse_datetime(item.get("created")),
        updated=parse_datetime(item.get("updated")),
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


def _v3_contact_id(item: Any, client: DotdigitalClient) -> int:
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
