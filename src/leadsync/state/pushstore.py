"""The push's tables (push_members, push_marks) for the SQL backends: one implementation.

Mixed into SqlStore, so SQLite and PostgreSQL share these statements exactly as they share the
ledger's; the transport (`_read`, `_tx`, `_q`, `_executemany`) is SqlStore's. Column order is
PUSH_COLUMNS, which is also PushEntry's field order but for `values` (stored as push_values:
VALUES is a SQL keyword).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import fields as dataclass_fields
from typing import Any, get_args

from leadsync.state import codec
from leadsync.state.model import PushEntry, PushMark, PushStateName
from leadsync.state.paging import pages

PUSH_STATES: frozenset[str] = frozenset(get_args(PushStateName))
PUSH_COLUMNS: tuple[str, ...] = tuple(
    "push_values" if f.name == "values" else f.name for f in dataclass_fields(PushEntry)
)
_COLS = ", ".join(PUSH_COLUMNS)
_VALUES_AT = PUSH_COLUMNS.index("push_values")
PUSH_UPSERT = (
    f"INSERT INTO push_members ({_COLS}) VALUES ({', '.join('?' for _ in PUSH_COLUMNS)}) "
    "ON CONFLICT (account, book_id, member_id) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}" for c in PUSH_COLUMNS if c not in ("account", "book_id", "member_id")
    )
)
PUSH_IMPORT = (
    f"INSERT INTO push_members ({_COLS}) VALUES ({', '.join('?' for _ in PUSH_COLUMNS)}) "
    "ON CONFLICT (account, book_id, member_id) DO NOTHING"
)
MARK_COLUMNS = ("account", "book_id", "salesforce", "dotdigital", "fingerprint", "full_at")
MARK_UPSERT = (
    f"INSERT INTO push_marks ({', '.join(MARK_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (account, book_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in MARK_COLUMNS[2:])
)
PAGE_ROWS = 1000
IN_CHUNK = 500  # values per IN list (well under both drivers' parameter limits)
PUSH_TABLES = ("push_members", "push_marks")


def push_row(entry: PushEntry, now: str) -> tuple[Any, ...]:
    if entry.state not in PUSH_STATES:
        raise ValueError(f"push state {entry.state!r} is not one of {sorted(PUSH_STATES)}")
    values = [getattr(entry, f.name) for f in dataclass_fields(PushEntry)]
    values[_VALUES_AT] = codec.dump(entry.values) if entry.values else "{}"
    row = dict(zip(PUSH_COLUMNS, values, strict=True))
    row["book_id"] = int(entry.book_id)
    row["contact_id"] = int(entry.contact_id) if entry.contact_id is not None else None
    row["updated_at"] = entry.updated_at or now
    return tuple(row[c] for c in PUSH_COLUMNS)


def push_entry(row: Sequence[Any]) -> PushEntry:
    values = list(row)
    raw = values[_VALUES_AT]
    values[_VALUES_AT] = {} if raw in ("{}", None) else (codec.load(raw) or {})
    entry = PushEntry(*values)
    entry.book_id = int(entry.book_id)
    entry.contact_id = int(entry.contact_id) if entry.contact_id is not None else None
    return entry


class PushRows:
    """StateStore's push methods over SqlStore's transport."""

    _q: Any
    _read: Any
    _read_q: Any
    _tx: Any
    _executemany: Any

    def push_get(
        self, account: str, book_id: int, member_ids: Iterable[str]
    ) -> dict[str, PushEntry]:
        ids = sorted({str(i) for i in member_ids})
        found: dict[str, PushEntry] = {}
        for start in range(0, len(ids), IN_CHUNK):
            chunk = ids[start : start + IN_CHUNK]
            marks = ", ".join("?" for _ in chunk)
            rows = self._read(
                self._q(
                    f"SELECT {_COLS} FROM push_members WHERE account = ? AND book_id = ? "
                    f"AND member_id IN ({marks})"
                ),
                (account, int(book_id), *chunk),
            )
            for row in rows:
                entry = push_entry(row)
                found[entry.member_id] = entry
        return found

    def push_iter(
        self, account: str, book_id: int, states: Sequence[PushStateName] | None = None
    ) -> Iterator[PushEntry]:
        """Pages by key (paging.py: callers may write while iterating)."""
        wanted = sorted(set(states)) if states is not None else [None]
        for state in wanted:
            where = "account = ? AND book_id = ?" + (" AND state = ?" if state else "")
            params: tuple[Any, ...] = (account, int(book_id), *((state,) if state else ()))
            select = f"SELECT {_COLS} FROM push_members"
            for row in pages(self._read_q, select, where, params, ("member_id",), (2,), PAGE_ROWS):
                yield push_entry(row)

    def push_put(self, entries: Sequence[PushEntry]) -> None:
        if not entries:
            return
        now = codec.utc_now()
        rows = [push_row(e, now) for e in entries]
        with self._tx(durable=any(e.attempt is not None for e in entries)) as cur:
            self._executemany(cur, PUSH_UPSERT, rows)

    def push_in_doubt(self, account: str) -> list[PushEntry]:
        rows = self._read(
            self._q(
                f"SELECT {_COLS} FROM push_members WHERE account = ? AND attempt IS NOT NULL "
                "ORDER BY book_id, member_id"
            ),
            (account,),
        )
        return [push_entry(r) for r in rows]

    def push_by_email(
        self, account: str, emails: Iterable[str], book_id: int | None = None
    ) -> dict[str, list[PushEntry]]:
        wanted = sorted({e for e in emails if e})
        out: dict[str, list[PushEntry]] = {}
        for start in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[start : start + IN_CHUNK]
            marks = ", ".join("?" for _ in chunk)
            sql = f"SELECT {_COLS} FROM push_members WHERE account = ? AND email IN ({marks})"
            params: tuple[Any, ...] = (account, *chunk)
            if book_id is not None:
                sql += " AND book_id = ?"
                params = (*params, int(book_id))
            for row in self._read(self._q(sql + " ORDER BY book_id, member_id"), params):
                entry = push_entry(row)
                out.setdefault(entry.email, []).append(entry)
        return out

    def push_counts(self, account: str | None = None) -> dict[tuple[str, int, str], int]:
        sql = "SELECT account, book_id, state, COUNT(*) FROM push_members"
        params: tuple[Any, ...] = ()
        if account is not None:
            sql += " WHERE account = ?"
            params = (account,)
        sql += " GROUP BY account, book_id, state ORDER BY account, book_id, state"
        return {(a, int(b), s): int(n) for a, b, s, n in self._read(self._q(sql), params)}

    def push_mark(self, account: str, book_id: int) -> PushMark | None:
        rows = self._read(
            self._q(
                f"SELECT {', '.join(MARK_COLUMNS)} FROM push_marks "
                "WHERE account = ? AND book_id = ?"
            ),
            (account, int(book_id)),
        )
        return _mark(rows[0]) if rows else None

    def set_push_mark(self, mark: PushMark) -> None:
        with self._tx() as cur:
            cur.execute(self._q(MARK_UPSERT), _mark_row(mark))

    # --- whole-store copy (leadsync state migrate) ----------------------------------------
    def export_push(self) -> tuple[list[PushEntry], list[PushMark]]:
        """Every push row and mark (the push table is as large as the pushed Campaigns)."""
        rows = self._read(
            self._q(f"SELECT {_COLS} FROM push_members ORDER BY account, book_id, member_id")
        )
        marks = self._read(self._q(f"SELECT {', '.join(MARK_COLUMNS)} FROM push_marks"))
        return [push_entry(r) for r in rows], [_mark(m) for m in marks]

    def import_push_rows(
        self, cur: Any, entries: Sequence[PushEntry], marks: Sequence[PushMark]
    ) -> None:
        """Inside an import transaction (SqlStore.import_all): load push rows and marks."""
        now = codec.utc_now()
        if entries:
            self._executemany(cur, PUSH_IMPORT, [push_row(e, now) for e in entries])
        if marks:
            self._executemany(cur, MARK_UPSERT, [_mark_row(m) for m in marks])


def _mark(row: Sequence[Any]) -> PushMark:
    return PushMark(str(row[0]), int(row[1]), row[2], row[3], row[4], row[5])


def _mark_row(mark: PushMark) -> tuple[Any, ...]:
    return (
        mark.account,
        int(mark.book_id),
        mark.salesforce,
        mark.dotdigital,
        mark.fingerprint,
        mark.full_at,
    )


__all__ = ("PUSH_TABLES", "PushRows", "push_entry", "push_row")
