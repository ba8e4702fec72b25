"""The field-update tables (links, update_marks) for the SQL backends: one implementation.

Mixed into SqlStore (as pushstore.py's PushRows is), so SQLite and PostgreSQL share these
statements; the transport (`_read`, `_tx`, `_q`, `_executemany`) is SqlStore's. A link pairs a
Dotdigital contact with the Salesforce record the update step keeps in step with it (see
state/model.py Link); `ledger_unlinked` and `push_unlinked` find the people who need one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from leadsync.state import codec
from leadsync.state.model import LedgerEntry, Link, PushEntry
from leadsync.state.paging import EXPORT_ROWS, chunked, pages
from leadsync.state.pushstore import PUSH_COLUMNS, push_entry

_LINK_COLS = ", ".join(codec.LINK_COLUMNS)
LINK_UPSERT = (
    f"INSERT INTO links ({_LINK_COLS}) VALUES ({', '.join('?' for _ in codec.LINK_COLUMNS)}) "
    "ON CONFLICT (account, contact_id) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}" for c in codec.LINK_COLUMNS if c not in ("account", "contact_id")
    )
)
LINK_SELECT = f"SELECT {_LINK_COLS} FROM links"
UPDATE_MARK_UPSERT = (
    "INSERT INTO update_marks (account, source, value) VALUES (?, ?, ?) "
    "ON CONFLICT (account, source) DO UPDATE SET value = excluded.value"
)
# Ledger entries with a Salesforce record that no link covers yet (the update step links them).
LEDGER_UNLINKED = (
    f"SELECT {', '.join('l.' + c for c in codec.LEDGER_COLUMNS)} FROM ledger l "
    "WHERE l.account = ? AND l.state IN ('created', 'excluded') "
    "AND (l.lead_id IS NOT NULL OR l.matched_id IS NOT NULL) "
    "AND NOT EXISTS (SELECT 1 FROM links k WHERE k.account = l.account "
    "AND k.contact_id = l.contact_id) {also}ORDER BY l.book_id, l.contact_id LIMIT ?"
)
# People the push wrote into a book (their contact id known) that no link covers yet.
PUSH_UNLINKED = (
    "SELECT {cols} FROM push_members p WHERE p.account = ? AND p.state = 'pushed' "
    "AND p.contact_id IS NOT NULL AND p.person_id IS NOT NULL "
    "AND NOT EXISTS (SELECT 1 FROM links k WHERE k.account = p.account "
    "AND k.contact_id = p.contact_id) ORDER BY p.book_id, p.member_id LIMIT ?"
)


class LinkRows:
    """StateStore's link and update-mark methods over SqlStore's transport."""

    _q: Any
    _read: Any
    _read_q: Any
    _tx: Any
    _executemany: Any
    GET_CHUNK: int

    def links_get(self, account: str, contact_ids: Iterable[int]) -> dict[int, Link]:
        ids = sorted({int(i) for i in contact_ids})
        found: dict[int, Link] = {}
        for chunk in chunked(ids, self.GET_CHUNK):
            marks = ", ".join("?" for _ in chunk)
            rows = self._read(
                self._q(f"{LINK_SELECT} WHERE account = ? AND contact_id IN ({marks})"),
                (account, *chunk),
            )
            for row in rows:
                link = codec.link_entry(row)
                found[link.contact_id] = link
        return found

    def links_for_records(self, account: str, record_ids: Iterable[str]) -> dict[str, Link]:
        ids = sorted({str(i) for i in record_ids if i})
        found: dict[str, Link] = {}
        for chunk in chunked(ids, self.GET_CHUNK):
            marks = ", ".join("?" for _ in chunk)
            rows = self._read(
                self._q(
                    f"{LINK_SELECT} WHERE account = ? AND record_id IN ({marks}) "
                    "AND state = 'linked' ORDER BY contact_id"
                ),
                (account, *chunk),
            )
            for row in rows:
                link = codec.link_entry(row)
                found.setdefault(link.record_id, link)
        return found

    def links_with_outcome(self, account: str, outcomes: Sequence[str] | None = None) -> list[Link]:
        sql = f"{LINK_SELECT} WHERE account = ? AND outcome IS NOT NULL"
        params: tuple[Any, ...] = (account,)
        if outcomes is not None:
            if not outcomes:
                return []
            sql += f" AND outcome IN ({', '.join('?' for _ in outcomes)})"
            params = (account, *outcomes)
        rows = self._read(self._q(sql + " ORDER BY contact_id"), params)
        return [codec.link_entry(r) for r in rows]

    def links_put(self, links: Sequence[Link]) -> None:
        if not links:
            return
        now = codec.utc_now()
        with self._tx(durable=any(k.attempt is not None for k in links)) as cur:
            self._executemany(cur, LINK_UPSERT, [codec.link_row(k, now) for k in links])

    def links_count(self, account: str) -> dict[str, int]:
        rows = self._read(
            self._q(
                "SELECT sobject, COUNT(*) FROM links WHERE account = ? AND state = 'linked' "
                "GROUP BY sobject"
            ),
            (account,),
        )
        return {str(sobject): int(n) for sobject, n in rows}

    def ledger_unlinked(
        self, account: str, limit: int, not_run: str | None = None
    ) -> list[LedgerEntry]:
        if not_run is None:
            sql, params = LEDGER_UNLINKED.format(also=""), (account, int(limit))
        else:
            also = "AND (l.last_run IS NULL OR l.last_run <> ?) "
            sql, params = LEDGER_UNLINKED.format(also=also), (account, not_run, int(limit))
        rows = self._read(self._q(sql), params)
        return [codec.ledger_entry(r) for r in rows]

    def push_unlinked(self, account: str, limit: int) -> list[PushEntry]:
        cols = ", ".join("p." + c for c in PUSH_COLUMNS)
        rows = self._read(self._q(PUSH_UNLINKED.format(cols=cols)), (account, int(limit)))
        return [push_entry(r) for r in rows]

    def update_mark(self, account: str, source: str) -> str | None:
        rows = self._read(
            self._q("SELECT value FROM update_marks WHERE account = ? AND source = ?"),
            (account, source),
        )
        return rows[0][0] if rows else None

    def set_update_marks(self, account: str, marks: dict[str, str | None]) -> None:
        if not marks:
            return
        with self._tx() as cur:
            for source, value in sorted(marks.items()):
                if value is None:
                    cur.execute(
                        self._q("DELETE FROM update_marks WHERE account = ? AND source = ?"),
                        (account, source),
                    )
                else:
                    cur.execute(self._q(UPDATE_MARK_UPSERT), (account, source, value))

    def export_links(self) -> Iterator[Link]:
        """Every link in key order, paged by key (bounded memory)."""
        rows = pages(
            self._read_q, LINK_SELECT, "", (), ("account", "contact_id"), (0, 1), EXPORT_ROWS
        )
        return (codec.link_entry(r) for r in rows)

    def export_update_marks(self) -> list[tuple[str, str, str]]:
        return [
            (str(a), str(src), str(v))
            for a, src, v in self._read("SELECT account, source, value FROM update_marks")
        ]
