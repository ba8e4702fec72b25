"""The records page: the ledger filtered by state, account, book, reason code, email and run,
a page at a time, and the CSV export of the same filter.

The filter comes from the query string (a GET form: bookmarkable, works without JavaScript)
and is checked here; the SQL lives in state/audit.py. Paging is by key (`after` / `before` a
row), so every page of a 100,000-row ledger costs the same. Rows are `sync.records.Record`s, the
same rows `leadsync records --json` prints, plus what the page adds: the person's name and
Dotdigital values, and a link to the Salesforce record in the org.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from leadsync.applied import ConfigSnapshot
from leadsync.errors import UsageError
from leadsync.state.audit import Key, LedgerQuery
from leadsync.state.model import AppliedState, LedgerEntry
from leadsync.sync.records import Record, book_names, record_of
from leadsync.ui.labels import STATES
from leadsync.views.records import campaign_cell

PAGE_SIZE = 50
MAX_FRAGMENT = 200
_SF_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_SF_KINDS = {"00Q": "Lead", "003": "Contact", "001": "Account", "701": "Campaign"}


class FilterError(UsageError):
    """A query string the records page cannot read (shown on the page, HTTP 400)."""


@dataclass(frozen=True, slots=True)
class RecordFilter:
    state: str = ""
    account: str = ""
    book: int | None = None
    reason: str = ""
    q: str = ""
    run: str = ""
    after: Key | None = None
    before: Key | None = None

    def query(self) -> LedgerQuery:
        return LedgerQuery(
            states=(self.state,) if self.state else (),
            account=self.account or None,
            book_id=self.book,
            reason_code=self.reason or None,
            email=self.q or None,
            last_runs=(self.run,) if self.run else (),
        )

    def params(self, **changes: Any) -> dict[str, str]:
        """The query-string parameters of this filter (first page), with `changes` applied."""
        values = {
            "state": self.state,
            "account": self.account,
            "book": "" if self.book is None else str(self.book),
            "reason": self.reason,
            "q": self.q,
            "run": self.run,
        }
        values.update({k: "" if v is None else str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v}

    def url(self, path: str = "/records", **changes: Any) -> str:
        params = self.params(**changes)
        return f"{path}?{urlencode(params)}" if params else path

    @property
    def active(self) -> bool:
        return bool(self.params())


def parse_filter(args: Mapping[str, str]) -> RecordFilter:
    """Read the filter from a query string; FilterError names the parameter that is wrong."""
    state = (args.get("state") or "").strip()
    if state and state not in STATES:
        raise FilterError(f"unknown record state {state!r} (one of: {', '.join(STATES)})")
    book_text = (args.get("book") or "").strip()
    if book_text and not book_text.isdigit():
        raise FilterError(f"book must be an address book id (a number), not {book_text!r}")
    q = (args.get("q") or "").strip()
    if len(q) > MAX_FRAGMENT:
        raise FilterError(f"the email search is limited to {MAX_FRAGMENT} characters")
    return RecordFilter(
        state=state,
        account=(args.get("account") or "").strip(),
        book=int(book_text) if book_text else None,
        reason=(args.get("reason") or "").strip(),
        q=q,
        run=(args.get("run") or "").strip(),
        after=_key(args.get("after"), "after"),
        before=_key(args.get("before"), "before"),
    )


def key_token(key: Key) -> str:
    """`book_id.contact_id.account` (the account last: it may contain dots)."""
    account, book_id, contact_id = key
    return f"{int(book_id)}.{int(contact_id)}.{account}"


def _key(token: str | None, name: str) -> Key | None:
    if not token:
        return None
    book_id, _s1, rest = token.partition(".")
    contact_id, _s2, account = rest.partition(".")
    if not (book_id.isdigit() and contact_id.isdigit() and _s2):
        raise FilterError(f"{name} is not a page position")
    return (account, int(book_id), int(contact_id))


@dataclass(frozen=True, slots=True)
class RecordRow:
    record: Record
    name: str  # the person's first and last name from Dotdigital, when mapped
    values: tuple[tuple[str, str], ...]  # the member's Dotdigital values (datafield, value)
    campaign: str | None  # campaign_cell: member id, "already a member", "not yet" or None
    sf_id: str | None
    sf_kind: str | None
    sf_url: str | None


@dataclass
class RecordsPage:
    filter: RecordFilter
    rows: list[RecordRow]
    total: int  # records matching the whole filter
    state_counts: dict[str, int]  # per state, within the other filters
    reason_counts: dict[str, int]  # per reason code, within the other filters
    prev: str | None  # key tokens of the neighbouring pages
    next: str | None
    accounts: list[str]
    books: list[tuple[str, int, str]]  # (account, book id, name)


def read_page(store: Any, flt: RecordFilter, page_size: int = PAGE_SIZE) -> RecordsPage:
    applied = store.read_applied() if store is not None else None
    names = book_names(applied)
    if store is None:
        return RecordsPage(flt, [], 0, {}, {}, None, None, [], [])
    books = sorted((a, b, n) for (a, b), n in names.items())
    flt = with_account(flt, books)
    facets = store.ledger_facets(flt.query().without_state_and_reason())
    entries, prev, nxt = _page(store, flt, page_size)
    link = SalesforceLinks.of(applied)
    return RecordsPage(
        filter=flt,
        rows=[row_of(e, names, link) for e in entries],
        total=sum(
            n
            for (s, r), n in facets.items()
            if (not flt.state or s == flt.state) and (not flt.reason or r == flt.reason)
        ),
        state_counts=_sum(facets, lambda s, r: s if not flt.reason or r == flt.reason else None),
        reason_counts=_sum(facets, lambda s, r: r if not flt.state or s == flt.state else None),
        prev=prev,
        next=nxt,
        accounts=sorted({a for a, _b, _n in books}),
        books=books,
    )


def with_account(flt: RecordFilter, books: list[tuple[str, int, str]]) -> RecordFilter:
    """A book chosen without an account gets its account when only one applied account has a
    book of that id: the query then reads that book's key range, not the whole ledger."""
    if flt.book is None or flt.account:
        return flt
    owners = {a for a, b, _n in books if b == flt.book}
    return replace(flt, account=owners.pop()) if len(owners) == 1 else flt


def _sum(facets: dict[tuple[str, str | None], int], pick: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for (state, reason), n in facets.items():
        key = pick(state, reason)
        if key:
            out[key] = out.get(key, 0) + n
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def _page(
    store: Any, flt: RecordFilter, size: int
) -> tuple[list[LedgerEntry], str | None, str | None]:
    """One page and the key tokens of the previous and next pages (None at either end)."""
    query = flt.query()
    if flt.before is not None:
        rows = store.ledger_search(query, limit=size + 1, before=flt.before)
        more_before = len(rows) > size
        rows = rows[1:] if more_before else rows
        has_prev, has_next = more_before, True
    else:
        rows = store.ledger_search(query, limit=size + 1, after=flt.after)
        has_next = len(rows) > size
        rows = rows[:size]
        has_prev = flt.after is not None
    if not rows:
        return [], None, None
    first, last = _entry_key(rows[0]), _entry_key(rows[-1])
    return rows, key_token(first) if has_prev else None, key_token(last) if has_next else None


def _entry_key(entry: LedgerEntry) -> Key:
    return (entry.account, int(entry.book_id), int(entry.contact_id))


@dataclass(frozen=True, slots=True)
class SalesforceLinks:
    """Links to records in the org: `instance_url/lightning/r/Lead/ID/view`."""

    base: str | None

    @classmethod
    def of(cls, applied: AppliedState | None) -> SalesforceLinks:
        url = ConfigSnapshot.from_json(applied.config).instance_url if applied else None
        return cls(safe_base(url))

    def link(self, sf_id: str | None) -> tuple[str | None, str | None]:
        """(object name, URL) for a Salesforce Id; URL None without an http(s) instance."""
        if not sf_id or not _SF_ID.fullmatch(sf_id):
            return None, None
        kind = _SF_KINDS.get(sf_id[:3])
        if self.base is None:
            return kind, None
        path = f"/lightning/r/{kind}/{sf_id}/view" if kind else f"/lightning/r/{sf_id}/view"
        return kind, self.base + path


def safe_base(url: Any) -> str | None:
    """An http(s) origin without credentials, or None (never a `javascript:` link)."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def row_of(
    entry: LedgerEntry, names: dict[tuple[str, int], str], links: SalesforceLinks
) -> RecordRow:
    record = record_of(
        entry, names.get((entry.account, int(entry.book_id)), f"(address book {entry.book_id})")
    )
    values = (entry.extra or {}).get("values") or {}
    values = values if isinstance(values, dict) else {}
    name = " ".join(
        str(values[k]).strip() for k in ("FIRSTNAME", "LASTNAME") if values.get(k) not in (None, "")
    )
    sf_id = record.lead_id or record.matched_id
    kind, url = links.link(sf_id)
    return RecordRow(
        record=record,
        name=name,
        values=tuple((str(k), "" if v is None else str(v)) for k, v in sorted(values.items())),
        campaign=campaign_cell(record),
        sf_id=sf_id,
        sf_kind=kind,
        sf_url=url,
    )


# --- CSV export -------------------------------------------------------------------------------

CSV_COLUMNS: tuple[str, ...] = (
    "account",
    "book",
    "book_id",
    "contact_id",
    "email",
    "state",
    "reason_code",
    "reason",
    "fields",
    "lead_id",
    "matched_id",
    "campaign_id",
    "campaign_member_id",
    "in_doubt",
    "tries",
    "first_run",
    "last_run",
    "updated_at",
    "last_error",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """Text for one cell. A value from Dotdigital that starts like a spreadsheet formula
    (= + - @) gets a leading apostrophe, so opening the file in Excel runs nothing (OWASP's
    advice against CSV injection); None is empty, lists are joined with `; `."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        value = "; ".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = f"{value.get('class')}: {value.get('message')}"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_lines(store: Any, flt: RecordFilter) -> Iterator[str]:
    """The header, then every record of the filter (all pages), as CSV text chunks. The
    first chunk starts with a byte-order mark: Excel then reads the file as UTF-8 (names such
    as Seán), and csv readers skip it with encoding `utf-8-sig`."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield _drain(buffer)
    if store is None:
        return
    names = book_names(store.read_applied())
    books = sorted((a, b, n) for (a, b), n in names.items())
    scan = replace(with_account(flt, books), after=None, before=None).query()
    for i, entry in enumerate(store.ledger_scan(scan), 1):
        record = record_of(
            entry, names.get((entry.account, int(entry.book_id)), f"(address book {entry.book_id})")
        )
        data = record.as_dict()
        writer.writerow([csv_cell(data[c]) for c in CSV_COLUMNS])
        if i % 500 == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
