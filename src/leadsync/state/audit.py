"""Reads for the sync audit (`leadsync ui`, `leadsync report --html`): filtered, paged ledger
search and one run's report, in SQL, so a page over 100,000 ledger rows stays fast.

The rules of the StateStore stay in sqlstore.py; this module only adds read queries that the
audit needs and the sync never does: a filter over any combination of state, account, book,
reason code, email fragment and last run, keyset paging (no OFFSET: the 1,000th page costs what
the first does), and per (state, reason code) counts for the filter's tabs and totals.
`AuditReads` is mixed into SqlStore, so both backends answer with the same SQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from leadsync.state import codec
from leadsync.state.model import LedgerEntry

Key = tuple[str, int, int]  # (account, book_id, contact_id): the ledger's primary key
_COLS = ", ".join(codec.LEDGER_COLUMNS)


@dataclass(frozen=True, slots=True)
class LedgerQuery:
    """Which ledger rows to show. Empty tuples and None mean "any"."""

    states: tuple[str, ...] = ()
    account: str | None = None
    book_id: int | None = None
    reason_code: str | None = None
    email: str | None = None  # a fragment, matched case-insensitively anywhere in the email
    last_runs: tuple[str, ...] = ()  # rows whose last run is one of these run ids

    def without_state_and_reason(self) -> LedgerQuery:
        """The scope the facet counts are taken over (the tabs show every state and reason)."""
        return LedgerQuery(
            account=self.account, book_id=self.book_id, email=self.email, last_runs=self.last_runs
        )


def like_pattern(fragment: str) -> str:
    r"""`%fragment%` for `LIKE ... ESCAPE '\'`, the fragment's own % and _ matched literally."""
    escaped = fragment.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# The widest contact and book ids the key range spans (BIGINT in PostgreSQL, INTEGER in SQLite).
_LOWEST, _HIGHEST = -(2**63), 2**63 - 1


def where_clause(query: LedgerQuery) -> tuple[str, list[Any]]:
    """The query's conditions as SQL with `?` placeholders, and their parameters. Pure.

    An account (and book) is written as a range of the primary key in row values,
    `(account, book_id, contact_id) BETWEEN (a, b, lowest) AND (a, b, highest)`, not as
    `account = ?`: SQLite without ANALYZE statistics would answer `account = ?` through the
    by-state index and look every row up again (300 ms for 100,000 rows instead of 25), while
    a key range reads the primary key in both backends.
    """
    parts: list[str] = []
    params: list[Any] = []
    if query.account is not None:
        low = _LOWEST if query.book_id is None else int(query.book_id)
        high = _HIGHEST if query.book_id is None else int(query.book_id)
        parts.append(
            "(account, book_id, contact_id) >= (?, ?, ?) AND (account, book_id, contact_id) <= (?, ?, ?)"
        )
        params.extend([query.account, low, _LOWEST, query.account, high, _HIGHEST])
    elif query.book_id is not None:
        parts.append("book_id = ?")
        params.append(int(query.book_id))
    if query.states:
        parts.append(f"state IN ({', '.join('?' for _ in query.states)})")
        params.extend(query.states)
    if query.reason_code is not None:
        parts.append("reason_code = ?")
        params.append(query.reason_code)
    if query.email:
        parts.append("email LIKE ? ESCAPE '\\'")
        params.append(like_pattern(query.email))
    if query.last_runs:
        parts.append(f"last_run IN ({', '.join('?' for _ in query.last_runs)})")
        params.extend(query.last_runs)
    return (" AND ".join(parts) or "1 = 1"), params


def keyset_clause(key: Key, direction: Literal["after", "before"]) -> tuple[str, list[Any]]:
    """Rows past `key` in the page order (account, book_id, contact_id, all descending):
    `after` the next page's rows, `before` the previous page's. A row-value comparison, which
    both backends answer from the primary key. Pure."""
    op = "<" if direction == "after" else ">"
    account, book_id, contact_id = key
    return f"(account, book_id, contact_id) {op} (?, ?, ?)", [
        account,
        int(book_id),
        int(contact_id),
    ]


class AuditStore(Protocol):
    """What the audit reads (SqlStore implements it through AuditReads)."""

    def ledger_search(
        self,
        query: LedgerQuery,
        *,
        limit: int,
        after: Key | None = None,
        before: Key | None = None,
    ) -> list[LedgerEntry]: ...

    def ledger_facets(self, query: LedgerQuery) -> dict[tuple[str, str | None], int]: ...

    def ledger_scan(self, query: LedgerQuery) -> Iterator[LedgerEntry]: ...

    def run_report(self, run_id: str) -> dict[str, Any] | None: ...


class AuditReads:
    """Mixed into SqlStore: uses its `_read` and `_q` (placeholder style) transport hooks."""

    SCAN_PAGE = 1000

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _q(self, sql: str) -> str:
        return sql

    def ledger_search(
        self,
        query: LedgerQuery,
        *,
        limit: int,
        after: Key | None = None,
        before: Key | None = None,
    ) -> list[LedgerEntry]:
        """One page of matching rows, newest member first within each book (contact ids grow
        over time): the first page, the page `after` a key, or the page `before` one."""
        where, params = where_clause(query)
        order = "DESC"
        if after is not None or before is not None:
            direction: Literal["after", "before"] = "after" if after is not None else "before"
            cond, more = keyset_clause(after or before, direction)  # type: ignore[arg-type]
            where, params = f"{where} AND {cond}", [*params, *more]
            order = "DESC" if direction == "after" else "ASC"
        sql = (
            f"SELECT {_COLS} FROM ledger WHERE {where} "
            f"ORDER BY account {order}, book_id {order}, contact_id {order} LIMIT {int(limit)}"
        )
        rows = [codec.ledger_entry(r) for r in self._read(self._q(sql), params)]
        return rows if order == "DESC" else rows[::-1]

    def ledger_facets(self, query: LedgerQuery) -> dict[tuple[str, str | None], int]:
        """(state, reason code) -> rows matching `query`: one scan gives the total, the count
        per state and the count per reason code."""
        where, params = where_clause(query)
        sql = f"SELECT state, reason_code, COUNT(*) FROM ledger WHERE {where} GROUP BY state, reason_code"
        return {(s, r): int(n) for s, r, n in self._read(self._q(sql), params)}

    def ledger_scan(self, query: LedgerQuery) -> Iterator[LedgerEntry]:
        """Every matching row in page order, read a page at a time (CSV export of 100,000 rows
        in bounded memory, no cursor held open between pages)."""
        after: Key | None = None
        while True:
            page = self.ledger_search(query, limit=self.SCAN_PAGE, after=after)
            yield from page
            if len(page) < self.SCAN_PAGE:
                return
            last = page[-1]
            after = (last.account, int(last.book_id), int(last.contact_id))

    def run_report(self, run_id: str) -> dict[str, Any] | None:
        rows = self._read(self._q("SELECT report FROM runs WHERE run_id = ?"), (run_id,))
        if not rows:
            return None
        report = dict(codec.load(rows[0][0]))
        report.setdefault("run_id", run_id)
        return report
