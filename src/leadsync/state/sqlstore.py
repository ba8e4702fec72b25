"""Behaviour shared by the SQL backends: one implementation of the StateStore rules.

SQLite and PostgreSQL differ in how they connect, begin a transaction, lock and spell a few
types; the rules (what commit_apply checks, how the ledger is paged, what "in doubt" means)
live here once, so the two backends cannot drift apart. SQL is written with `?` placeholders;
a backend that uses another style rewrites them in `_q`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from leadsync.state import codec
from leadsync.state.audit import AuditReads
from leadsync.state.errors import StateError
from leadsync.state.linkstore import LINK_UPSERT, UPDATE_MARK_UPSERT, LinkRows
from leadsync.state.migrations import Steps, latest_version
from leadsync.state.model import (
    AppliedState,
    HeldLock,
    HistoryEntry,
    LedgerEntry,
    LedgerStateName,
    Link,
    LockInfo,
    PushEntry,
    PushMark,
    StaleState,
)
from leadsync.state.paging import EXPORT_ROWS, chunked, pages
from leadsync.state.pushstore import PUSH_TABLES, PushRows

PAGE_ROWS = 1000  # ledger_iter page: bounded memory, one short query per page
WRITE_CHUNK = 10_000  # rows per executemany call when streaming a baseline

_COLS = ", ".join(codec.LEDGER_COLUMNS)
_VALUES = ", ".join("?" for _ in codec.LEDGER_COLUMNS)
_UPDATES = ", ".join(
    f"{c} = excluded.{c}" for c in codec.LEDGER_COLUMNS if c not in codec.LEDGER_KEY
)
LEDGER_UPSERT = (
    f"INSERT INTO ledger ({_COLS}) VALUES ({_VALUES}) "
    f"ON CONFLICT (account, book_id, contact_id) DO UPDATE SET {_UPDATES}"
)
# A baseline never demotes a member the sync already handled (created, excluded, ...).
LEDGER_BASELINE = (
    f"INSERT INTO ledger ({_COLS}) VALUES ({_VALUES}) "
    "ON CONFLICT (account, book_id, contact_id) DO NOTHING"
)
LEDGER_BASELINE_NARROW = (
    f"INSERT INTO ledger ({', '.join(codec.NARROW_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in codec.NARROW_COLUMNS)}) "
    "ON CONFLICT (account, book_id, contact_id) DO NOTHING"
)
LEDGER_SELECT = f"SELECT {_COLS} FROM ledger"
LEDGER_KEYS_SELECT = "SELECT contact_id FROM ledger"
WATERMARK_UPSERT = (
    "INSERT INTO watermarks (account, book_id, value) VALUES (?, ?, ?) "
    "ON CONFLICT (account, book_id) DO UPDATE SET value = excluded.value"
)
SWEEP_UPSERT = (
    "INSERT INTO sweeps (account, book_id, value) VALUES (?, ?, ?) "
    "ON CONFLICT (account, book_id) DO UPDATE SET value = excluded.value"
)
# backfill turned on: the baseline is released (members are taken as new by the next sync)
LEDGER_RELEASE_BASELINE = (
    "DELETE FROM ledger WHERE account = ? AND book_id = ? AND state = 'baseline'"
)
WATERMARK_DELETE = "DELETE FROM watermarks WHERE account = ? AND book_id = ?"
APPLIED_UPSERT = (
    f"INSERT INTO applied_state (id, {', '.join(codec.APPLIED_COLUMNS)}) "
    f"VALUES (1, {', '.join('?' for _ in codec.APPLIED_COLUMNS)}) "
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in codec.APPLIED_COLUMNS)
)
HISTORY_INSERT = (
    f"INSERT INTO history ({', '.join(codec.HISTORY_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in codec.HISTORY_COLUMNS)})"
)
RUN_UPSERT = (
    "INSERT INTO runs (run_id, started_at, report) VALUES (?, ?, ?) "
    "ON CONFLICT (run_id) DO UPDATE SET started_at = excluded.started_at, report = excluded.report"
)
TABLES = (
    "applied_state",
    "history",
    "ledger",
    "watermarks",
    "runs",
    *PUSH_TABLES,
    "links",
    "update_marks",
)


__all__ = ("PAGE_ROWS", "SqlStore", "chunked")


class SqlStore(AuditReads, PushRows, LinkRows):
    """StateStore over a DB-API connection. Subclasses supply transport and locks. The audit's
    read queries (ledger search, facets, one run's report) come from AuditReads (audit.py), the
    push tables' methods from PushRows (pushstore.py), the links' from LinkRows (linkstore.py);
    long reads page by key (paging.py)."""

    #: the open connection (`execute` returns a cursor) and the lock that serialises its use
    _conn: Any
    _mutex: AbstractContextManager[Any]

    #: how many ids one ledger_get query carries (bounded by the driver's parameter limit)
    GET_CHUNK = 900
    #: a short name for messages: "sqlite" / "postgres"
    backend = "sql"

    # --- transport hooks (subclasses) -----------------------------------------------------
    def _q(self, sql: str) -> str:
        return sql

    def _ledger_via(self, index: str) -> str:
        """`FROM` target that uses the named ledger index (SQLite's planner needs the hint
        without ANALYZE statistics; PostgreSQL keeps its own)."""
        return "ledger"

    def _tx(self, durable: bool = True) -> AbstractContextManager[Any]:
        """A write transaction yielding a cursor; commits on success, rolls back on error.

        `durable=False` (SQLite): the commit may be lost in a power cut or an OS crash (never
        in a process crash), together with every later one; the next durable commit makes it
        durable too. Only for writes whose loss a re-run repairs: a write-ahead mark (an entry
        whose `attempt` is set) is always durable, so nothing is sent to Salesforce or
        Dotdigital that a power cut could make the ledger forget (see sqlite.py)."""
        raise NotImplementedError

    def _wrap(self) -> AbstractContextManager[None]:
        """Turns the driver's operational errors (disk, network, timeouts) into StateError."""
        raise NotImplementedError

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._mutex, self._wrap():
            return self._conn.execute(sql, tuple(params)).fetchall()

    def _read_q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """`_read` of a statement written with `?` placeholders."""
        return self._read(self._q(sql), params)

    def _begin_apply(self, cur: Any) -> None:
        """Serialise concurrent commit_apply calls before the serial check (if needed)."""

    def _ledger_get_rows(
        self, account: str, book_id: int, ids: list[int], select: str = LEDGER_SELECT
    ) -> Iterator[tuple[Any, ...]]:
        for chunk in chunked(ids, self.GET_CHUNK):
            marks = ", ".join("?" for _ in chunk)
            yield from self._read(
                self._q(f"{select} WHERE account = ? AND book_id = ? AND contact_id IN ({marks})"),
                (account, book_id, *chunk),
            )

    def _executemany(self, cur: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
        cur.executemany(self._q(sql), rows)

    def _after_load(self, cur: Any) -> None:
        """Called at the end of a transaction that streamed many ledger rows."""

    def close(self) -> None:
        with self._mutex:
            self._conn.close()

    def lock(
        self, names: Sequence[str], *, timeout: float, purpose: str
    ) -> AbstractContextManager[HeldLock]:
        raise NotImplementedError

    def lock_holders(self) -> list[LockInfo]:
        raise NotImplementedError

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema ---------------------------------------------------------------------------
    def _apply_steps(
        self, execute: Callable[..., Any], steps: Steps, *, where: str, record: str
    ) -> None:
        """Run and record the steps newer than the recorded schema version; refuse a store
        written by a newer leadsync. Called inside the backend's migration transaction (which
        keeps two processes from applying one step twice); `record` inserts one version."""
        current = execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        version = int(current.fetchone()[0])
        latest = latest_version(steps)
        if version > latest:
            raise StateError(
                f"{where} has schema version {version}, newer than this leadsync understands "
                f"({latest}); upgrade leadsync"
            )
        for step_version, statements in steps:
            if step_version <= version:
                continue
            for statement in statements:
                execute(statement)
            execute(record, (step_version,))

    def schema_version(self) -> int:
        return int(self._read("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0][0])

    # --- applied state --------------------------------------------------------------------
    def read_applied(self) -> AppliedState | None:
        rows = self._read(
            self._q(f"SELECT {', '.join(codec.APPLIED_COLUMNS)} FROM applied_state WHERE id = 1")
        )
        return codec.applied_state(rows[0]) if rows else None

    def commit_apply(
        self,
        new: AppliedState,
        entry: HistoryEntry,
        *,
        expected_lineage: str | None,
        expected_serial: int,
        baseline: Iterable[LedgerEntry] = (),
        watermarks: dict[tuple[str, int], str] | None = None,
        release_baseline: Sequence[tuple[str, int]] = (),
    ) -> None:
        """Check-and-write in one transaction: a concurrent apply either wins or gets StaleState.

        With no state yet, `expected_lineage` must be None (the serial is not compared). The
        baseline may be a generator of millions of entries: it is streamed in chunks inside
        the transaction, and any error (also one raised by the generator) writes nothing.
        `release_baseline` names books whose baseline rows and watermark go (backfill turned
        on): the next sync reads the whole book and takes those members as new. This runs
        before the baseline and watermarks are written, so a book may be in both.
        """
        now = codec.utc_now()
        with self._tx() as cur:
            self._begin_apply(cur)
            check_serial(cur, self._q, new, expected_lineage, expected_serial)
            cur.execute(self._q(APPLIED_UPSERT), codec.applied_row(new))
            cur.execute(self._q(HISTORY_INSERT), codec.history_row(entry))
            for account, book_id in release_baseline:
                cur.execute(self._q(LEDGER_RELEASE_BASELINE), (account, int(book_id)))
                cur.execute(self._q(WATERMARK_DELETE), (account, int(book_id)))
            for chunk in chunked(baseline, WRITE_CHUNK):
                narrow, full = codec.split_plain([codec.ledger_row(e, now) for e in chunk])
                if narrow:
                    self._executemany(cur, LEDGER_BASELINE_NARROW, narrow)
                if full:
                    self._executemany(cur, LEDGER_BASELINE, full)
            self._after_load(cur)
            if watermarks:
                self._executemany(
                    cur,
                    WATERMARK_UPSERT,
                    [(a, int(b), v) for (a, b), v in sorted(watermarks.items())],
                )

    def history(self, limit: int | None = None) -> list[HistoryEntry]:
        """Newest first."""
        sql = f"SELECT {', '.join(codec.HISTORY_COLUMNS)} FROM history ORDER BY id DESC"
        params: tuple[Any, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (int(limit),)
        return [codec.history_entry(r) for r in self._read(self._q(sql), params)]

    # --- ledger ---------------------------------------------------------------------------
    def ledger_get(
        self, account: str, book_id: int, contact_ids: Iterable[int]
    ) -> dict[int, LedgerEntry]:
        ids = sorted({int(i) for i in contact_ids})
        found: dict[int, LedgerEntry] = {}
        for row in self._ledger_get_rows(account, int(book_id), ids):
            entry = codec.ledger_entry(row)
            found[entry.contact_id] = entry
        return found

    def ledger_known(self, account: str, book_id: int, contact_ids: Iterable[int]) -> set[int]:
        """Which of these members have a ledger entry (any state): the membership sweep's
        question, asked by key without decoding entries (a sweep asks it for every member)."""
        ids = sorted({int(i) for i in contact_ids})
        rows = self._ledger_get_rows(account, int(book_id), ids, LEDGER_KEYS_SELECT)
        return {int(r[0]) for r in rows}

    def ledger_iter(
        self, account: str, book_id: int, states: Sequence[LedgerStateName] | None = None
    ) -> Iterator[LedgerEntry]:
        """Pages of PAGE_ROWS by key (no cursor held open between pages, so callers may write
        to the ledger while iterating). Order: by contact_id; with `states`, state by state."""
        if states is None:
            yield from self._paged("account = ? AND book_id = ?", (account, int(book_id)))
            return
        for state in sorted(set(states)):
            yield from self._paged(
                "account = ? AND state = ? AND book_id = ?",
                (account, state, int(book_id)),
                source=self._ledger_via("ledger_by_state"),
            )

    def ledger_ids(self, account: str, book_id: int, state: LedgerStateName) -> Iterator[int]:
        """write_pending's question (which members to write), asked by key: a run's pending
        members are read back in batches afterwards, so decoding them here too would be waste."""
        rows = pages(
            self._read_q,
            f"SELECT contact_id FROM {self._ledger_via('ledger_by_state')}",
            "account = ? AND state = ? AND book_id = ? AND attempt IS NULL",
            (account, state, int(book_id)),
            ("contact_id",),
            (0,),
            PAGE_ROWS * 10,
        )
        return (int(r[0]) for r in rows)

    def ledger_without_member(
        self, account: str, book_id: int, not_run: str | None = None
    ) -> Iterator[LedgerEntry]:
        """Created and excluded entries linked to a campaign with no CampaignMember recorded:
        the campaign step's candidates, chosen in SQL. A book's settled members are decoded
        only while they wait for their member, not on every run (a book of a million created
        Leads is otherwise read in full by each scheduled sync). Order: ledger_iter's.
        `not_run`: leave out entries last stored by that run (the caller holds them)."""
        where = (
            "account = ? AND state = ? AND book_id = ? AND campaign_id IS NOT NULL "
            "AND (campaign_member_id IS NULL OR campaign_member_id = '')"
        )
        if not_run is not None:
            where += " AND (last_run IS NULL OR last_run <> ?)"
        for state in ("created", "excluded"):
            params = (account, state, int(book_id))
            yield from self._paged(
                where,
                params if not_run is None else (*params, not_run),
                source=self._ledger_via("ledger_by_state"),
            )

    def _paged(
        self, where: str, params: tuple[Any, ...], source: str = "ledger"
    ) -> Iterator[LedgerEntry]:
        rows = pages(
            self._read_q,
            f"SELECT {_COLS} FROM {source}",
            where,
            params,
            ("contact_id",),
            (2,),
            PAGE_ROWS,
        )
        return (codec.ledger_entry(r) for r in rows)

    def ledger_in_doubt(self, account: str) -> list[LedgerEntry]:
        rows = self._read(
            self._q(
                f"SELECT {_COLS} FROM {self._ledger_via('ledger_in_doubt')} "
                "WHERE account = ? AND attempt IS NOT NULL "
                "ORDER BY book_id, contact_id"
            ),
            (account,),
        )
        return [codec.ledger_entry(r) for r in rows]

    def ledger_put(self, entries: Sequence[LedgerEntry]) -> None:
        """Upsert all entries in one transaction (one executemany)."""
        if not entries:
            return
        now = codec.utc_now()
        rows = [codec.ledger_row(e, now) for e in entries]
        with self._tx(durable=any(e.attempt is not None for e in entries)) as cur:
            self._executemany(cur, LEDGER_UPSERT, rows)

    def ledger_counts(self, account: str | None = None) -> dict[tuple[str, int, str], int]:
        """(account, book_id, state) -> number of members; for `status` and reports."""
        sql = "SELECT account, book_id, state, COUNT(*) FROM ledger"
        params: tuple[Any, ...] = ()
        if account is not None:
            sql += " WHERE account = ?"
            params = (account,)
        sql += " GROUP BY account, book_id, state ORDER BY account, book_id, state"
        return {(a, int(b), s): int(n) for a, b, s, n in self._read(self._q(sql), params)}

    def watermark(self, account: str, book_id: int) -> str | None:
        rows = self._read(
            self._q("SELECT value FROM watermarks WHERE account = ? AND book_id = ?"),
            (account, int(book_id)),
        )
        return rows[0][0] if rows else None

    def set_watermark(self, account: str, book_id: int, value: str) -> None:
        # lost in a power cut: the book is read again from the previous mark (the ledger
        # knows every member already seen)
        with self._tx(durable=False) as cur:
            cur.execute(self._q(WATERMARK_UPSERT), (account, int(book_id), value))

    def watermarks(self) -> dict[tuple[str, int], str]:
        rows = self._read(self._q("SELECT account, book_id, value FROM watermarks"))
        return {(a, int(b)): v for a, b, v in rows}

    def last_sweep(self, account: str, book_id: int) -> str | None:
        rows = self._read(
            self._q("SELECT value FROM sweeps WHERE account = ? AND book_id = ?"),
            (account, int(book_id)),
        )
        return rows[0][0] if rows else None

    def set_last_sweep(self, account: str, book_id: int, value: str) -> None:
        with self._tx(durable=False) as cur:
            cur.execute(self._q(SWEEP_UPSERT), (account, int(book_id), value))

    # --- run reports ----------------------------------------------------------------------
    def save_run(self, run_id: str, report: dict[str, Any], started: str | None = None) -> None:
        """Insert or replace the report of `run_id` (a run may save its report more than once).

        `started`: the run's start to the microsecond. Reports say `started_at` to the second,
        and two runs started within one second must still list newest first (status's "last
        run" is the first report that names a book)."""
        started_at = started or str(report.get("started_at") or codec.utc_now())
        with self._tx() as cur:
            cur.execute(self._q(RUN_UPSERT), (run_id, started_at, codec.dump(report)))

    def runs(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Newest first (by started_at); each report carries its run_id."""
        return [report for _rid, _at, report in self.export_runs(limit)]

    def export_runs(self, limit: int | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        sql = "SELECT run_id, started_at, report FROM runs ORDER BY started_at DESC, run_id DESC"
        params: tuple[Any, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (int(limit),)
        out = []
        for run_id, started_at, raw in self._read(self._q(sql), params):
            report = dict(codec.load(raw))
            report.setdefault("run_id", run_id)
            out.append((run_id, started_at, report))
        return out

    # --- whole-store copy (leadsync state migrate) ----------------------------------------
    def is_empty(self) -> bool:
        return not any(self._read(self._q(f"SELECT 1 FROM {t} LIMIT 1")) for t in TABLES)

    def export_ledger(self) -> Iterator[LedgerEntry]:
        """Every ledger row in key order, paged by key (bounded memory for millions of rows)."""
        key = codec.LEDGER_KEY
        rows = pages(self._read_q, LEDGER_SELECT, "", (), key, (0, 1, 2), EXPORT_ROWS)
        return (codec.ledger_entry(r) for r in rows)

    def import_all(
        self,
        applied: AppliedState | None,
        history_oldest_first: Sequence[HistoryEntry],
        ledger: Iterable[LedgerEntry],
        watermarks: dict[tuple[str, int], str],
        runs: Sequence[tuple[str, str, dict[str, Any]]],
        push: tuple[Sequence[PushEntry], Sequence[PushMark]] = ((), ()),
        links: Iterable[Link] = (),
        update_marks: Sequence[tuple[str, str, str]] = (),
    ) -> int:
        """Load a whole state into this (empty) store in ONE transaction; returns ledger rows.

        Emptiness is checked inside the transaction, so two copies racing into one target
        cannot both succeed.
        """
        from leadsync.state.errors import StateNotEmpty

        with self._tx() as cur:
            self._begin_apply(cur)
            for table in TABLES:
                cur.execute(self._q(f"SELECT 1 FROM {table} LIMIT 1"))
                if cur.fetchone() is not None:
                    raise StateNotEmpty(
                        f"the target {self.describe()} already holds state (table {table} is "
                        "not empty); refusing to overwrite it"
                    )
            count = _load_all(
                self,
                cur,
                applied,
                history_oldest_first,
                ledger,
                watermarks,
                runs,
                push,
                links,
                update_marks,
            )
        return count

    def describe(self) -> str:
        """Where this store lives, for messages (never includes a password)."""
        return self.backend


def check_serial(
    cur: Any, q: Callable[[str], str], new: AppliedState, lineage_read: str | None, serial_read: int
) -> None:
    """commit_apply's check, inside its transaction: the stored (lineage, serial) is the one
    the caller read (`lineage_read`, `serial_read`), and `new` follows it."""
    cur.execute(q("SELECT lineage, serial FROM applied_state WHERE id = 1"))
    row = cur.fetchone()
    if row is None:
        if lineage_read is not None:
            raise StaleState(
                f"expected state lineage {lineage_read} serial {serial_read}, "
                "but the store holds no applied state"
            )
    else:
        lineage, serial = row[0], int(row[1])
        if (lineage, serial) != (lineage_read, serial_read):
            raise StaleState(
                f"the state changed since it was read: expected lineage "
                f"{lineage_read} serial {serial_read}, found lineage {lineage} "
                f"serial {serial}"
            )
        if new.lineage != lineage:
            raise ValueError(f"a new state must keep lineage {lineage}, not {new.lineage}")
        if new.serial <= serial:
            raise ValueError(f"a new state needs a serial above {serial}, not {new.serial}")


def _load_all(
    store: SqlStore,
    cur: Any,
    applied: AppliedState | None,
    history_oldest_first: Sequence[HistoryEntry],
    ledger: Iterable[LedgerEntry],
    watermarks: dict[tuple[str, int], str],
    runs: Sequence[tuple[str, str, dict[str, Any]]],
    push: tuple[Sequence[PushEntry], Sequence[PushMark]],
    links: Iterable[Link],
    update_marks: Sequence[tuple[str, str, str]],
) -> int:
    """import_all's writes, inside its transaction once the target is known empty; returns
    the ledger rows written."""
    now = codec.utc_now()
    count = 0
    if applied is not None:
        cur.execute(store._q(APPLIED_UPSERT), codec.applied_row(applied))
    if history_oldest_first:
        store._executemany(
            cur, HISTORY_INSERT, [codec.history_row(h) for h in history_oldest_first]
        )
    for chunk in chunked(ledger, WRITE_CHUNK):
        # the target is empty: plain inserts (a repeated key keeps its first row)
        store._executemany(cur, LEDGER_BASELINE, [codec.ledger_row(e, now) for e in chunk])
        count += len(chunk)
    store._after_load(cur)
    if watermarks:
        store._executemany(
            cur, WATERMARK_UPSERT, [(a, b, v) for (a, b), v in sorted(watermarks.items())]
        )
    if runs:
        store._executemany(
            cur,
            RUN_UPSERT,
            [(rid, at, codec.dump(report)) for rid, at, report in reversed(runs)],
        )
    store.import_push_rows(cur, *push)
    for chunk in chunked(links, WRITE_CHUNK):
        rows = [codec.link_row(k, k.updated_at or now) for k in chunk]  # times kept
        cur.executemany(store._q(LINK_UPSERT), rows)
    if update_marks:
        cur.executemany(store._q(UPDATE_MARK_UPSERT), list(update_marks))
    return count
