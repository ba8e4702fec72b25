"""PostgreSQL backend (psycopg 3): shared state for teams and ephemeral CI runners.

Same tables and rules as SQLite (sqlstore.py); what differs:
- Locks are session-level advisory locks on a connection opened for the lock and closed on
  release, so a crashed or killed runner's lock vanishes when the server drops its session
  (Terraform's pg backend does the same: no force-unlock needed). Keys are 64-bit hashes of
  (schema, name): projects in other schemas never block each other (unlike terraform#33217).
  Who holds a lock is written to `lock_holders` and shown through pg_locks + pg_stat_activity.
- Migrations run under a transaction-scoped advisory lock, so runners starting at once apply
  each step exactly once; DDL is transactional, so a failed step leaves nothing behind.
- The DSN is a secret (it may carry a password): it never appears in a message; `describe()`
  shows user@host:port/dbname and the schema.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from leadsync.state import codec
from leadsync.state.errors import StateError
from leadsync.state.holder import lock_order, this_holder
from leadsync.state.migrations import POSTGRES_STEPS
from leadsync.state.model import LockHeld, LockInfo
from leadsync.state.sqlstore import (
    LEDGER_BASELINE,
    LEDGER_BASELINE_NARROW,
    LEDGER_SELECT,
    SqlStore,
    chunked,
)

CONNECT_TIMEOUT_SECONDS = 10
POLL_SECONDS = 0.05
MIGRATION_LOCK = "leadsync:migrate"
COPY_MIN_ROWS = 500
ANALYZE_AFTER_ROWS = 50_000
_COPY_INSERTS = {
    LEDGER_BASELINE: codec.LEDGER_COLUMNS,
    LEDGER_BASELINE_NARROW: codec.NARROW_COLUMNS,
}


def lock_key(schema: str, name: str) -> int:
    """A stable signed 64-bit advisory-lock key for one lock name in one schema."""
    digest = hashlib.sha256(f"leadsync\0{schema}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def safe_target(dsn: str) -> str:
    """user@host:port/dbname, never the password; for messages."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "postgres (unparsable DSN)"
    user = parts.get("user") or ""
    host = parts.get("host") or parts.get("hostaddr") or "localhost"
    port = parts.get("port") or "5432"
    dbname = parts.get("dbname") or user or ""
    return f"postgres://{user + '@' if user else ''}{host}:{port}/{dbname}"


def _app_name(text: str) -> str:
    return text[:63]  # PostgreSQL truncates application_name to NAMEDATALEN - 1


class PostgresStore(SqlStore):
    backend = "postgres"
    GET_CHUNK = 10_000

    def __init__(self, dsn: str, *, schema: str = "leadsync") -> None:
        if not schema:
            raise StateError("state.schema must not be empty")
        self._dsn = dsn
        self.schema = schema
        self._mutex = threading.RLock()
        self._loaded = 0
        self._conn = self._connect("leadsync")
        try:
            self._conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            self._migrate()
        except psycopg.Error as exc:
            self._conn.close()
            raise StateError(f"cannot use the PostgreSQL state {self.describe()}: {exc}") from exc

    def describe(self) -> str:
        return f"{safe_target(self._dsn)} (schema {self.schema})"

    def _connect(self, application_name: str) -> psycopg.Connection:
        try:
            conninfo_to_dict(self._dsn)
        except psycopg.ProgrammingError as exc:
            raise StateError(
                "state.dsn is not a valid PostgreSQL connection string (value not shown)"
            ) from exc
        try:
            return psycopg.connect(
                self._dsn,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                application_name=_app_name(application_name),
            )
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StateError(
                f"cannot connect to the PostgreSQL state at {safe_target(self._dsn)}: {reason}"
            ) from exc

    # --- migrations -----------------------------------------------------------------------
    def _migrate(self) -> None:
        with self._conn.transaction():
            self._conn.execute(
                "SELECT pg_advisory_xact_lock(%s)", (lock_key(self.schema, MIGRATION_LOCK),)
            )
            self._conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
            )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            self._apply_steps(
                self._conn.execute,
                POSTGRES_STEPS,
                where=f"the PostgreSQL state {self.describe()}",
                record="INSERT INTO schema_version (version) VALUES (%s)",
            )

    # --- transport --------------------------------------------------------------------------
    def _q(self, text: str) -> str:
        return text.replace("?", "%s")

    @contextlib.contextmanager
    def _tx(self) -> Iterator[psycopg.Cursor]:
        with self._mutex, self._wrap(), self._conn.transaction(), self._conn.cursor() as cur:
            yield cur

    @contextlib.contextmanager
    def _wrap(self) -> Iterator[None]:
        """Server and network failures become one clear StateError line."""
        try:
            yield
        except psycopg.OperationalError as exc:
            raise StateError(f"PostgreSQL state {self.describe()}: {exc}".strip()) from exc

    def _begin_apply(self, cur: Any) -> None:
        # Serialises concurrent applies: the second waits, then sees the first one's serial.
        cur.execute("LOCK TABLE applied_state IN SHARE ROW EXCLUSIVE MODE")

    def _ledger_get_rows(
        self, account: str, book_id: int, ids: list[int], select: str = LEDGER_SELECT
    ) -> Iterator[tuple[Any, ...]]:
        for chunk in chunked(ids, self.GET_CHUNK):
            yield from self._read(
                # ::bigint[] matters: an int[] parameter would turn the key lookup into a filter
                f"{select} WHERE account = %s AND book_id = %s AND contact_id = ANY(%s::bigint[])",
                (account, book_id, chunk),
            )

    def _executemany(self, cur: Any, text: str, rows: list[tuple[Any, ...]]) -> None:
        """Baseline/import rows go through COPY into a temp table, then one INSERT ... ON
        CONFLICT DO NOTHING: an order of magnitude faster than row-by-row inserts."""
        columns = _COPY_INSERTS.get(text)
        if columns is None or len(rows) < COPY_MIN_ROWS:
            super()._executemany(cur, text, rows)
            return
        names = ", ".join(columns)
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS ledger_load "
            "(LIKE ledger INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        with cur.copy(f"COPY ledger_load ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(
            f"INSERT INTO ledger ({names}) SELECT {names} FROM ledger_load "
            "ON CONFLICT (account, book_id, contact_id) DO NOTHING"
        )
        cur.execute("TRUNCATE ledger_load")
        self._loaded += len(rows)

    def _after_load(self, cur: Any) -> None:
        # Fresh statistics after a big load, so the planner keeps using the key and indexes.
        if self._loaded >= ANALYZE_AFTER_ROWS:
            cur.execute("ANALYZE ledger")
        self._loaded = 0

    # --- locks ----------------------------------------------------------------------------
    def lock(
        self, names: Sequence[str], *, timeout: float, purpose: str
    ) -> AbstractContextManager[None]:
        return self._hold(lock_order(names), timeout=timeout, purpose=purpose)

    @contextlib.contextmanager
    def _hold(self, ordered: list[str], *, timeout: float, purpose: str) -> Iterator[None]:
        me = this_holder(ordered[0], purpose)
        conn = self._connect(f"leadsync {purpose} {me.user}@{me.host} pid {me.pid}")
        try:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            keys = {name: lock_key(self.schema, name) for name in ordered}
            deadline = time.monotonic() + max(0.0, timeout)
            while True:
                blocked = self._try_all(conn, ordered, keys)
                if blocked is None:
                    break
                if time.monotonic() >= deadline:
                    raise LockHeld(self._holder_of(blocked, keys[blocked]))
                time.sleep(max(0.001, min(POLL_SECONDS, deadline - time.monotonic())))
            try:
                with conn.transaction():
                    for name in ordered:
                        info = this_holder(name, purpose)
                        conn.execute(
                            "INSERT INTO lock_holders (name, lock_key, purpose, pid, host, "
                            "os_user, since, backend_pid) VALUES (%s, %s, %s, %s, %s, %s, %s, "
                            "pg_backend_pid()) ON CONFLICT (name) DO UPDATE SET "
                            "lock_key = excluded.lock_key, purpose = excluded.purpose, "
                            "pid = excluded.pid, host = excluded.host, "
                            "os_user = excluded.os_user, since = excluded.since, "
                            "backend_pid = excluded.backend_pid",
                            (name, keys[name], purpose, info.pid, info.host, info.user, info.since),
                        )
                yield
            finally:
                with contextlib.suppress(psycopg.Error):
                    conn.execute(
                        "DELETE FROM lock_holders WHERE backend_pid = pg_backend_pid() "
                        "AND name = ANY(%s)",
                        (ordered,),
                    )
        finally:
            conn.close()  # ends the session: the server releases every advisory lock it held

    @staticmethod
    def _try_all(conn: psycopg.Connection, ordered: list[str], keys: dict[str, int]) -> str | None:
        taken: list[int] = []
        for name in ordered:
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (keys[name],)).fetchone()[0]
            if not got:
                for key in reversed(taken):
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                return name
            taken.append(keys[name])
        return None

    _HOLDERS_SQL = """
        SELECT h.name, h.purpose, h.pid, h.host, h.os_user, h.since,
               a.application_name, host(a.client_addr), a.backend_start, a.pid, k.key
        FROM pg_locks l
        JOIN pg_stat_activity a ON a.pid = l.pid
        JOIN (SELECT unnest(%s::bigint[]) AS key) k
             ON k.key = ((l.classid::bigint << 32) | l.objid::bigint)
        LEFT JOIN lock_holders h ON h.backend_pid = l.pid AND h.lock_key = k.key
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    """

    def _holder_rows(self, keys: list[int]) -> list[tuple[Any, ...]]:
        return self._read(self._HOLDERS_SQL, (keys,))

    @staticmethod
    def _info(row: tuple[Any, ...], name: str | None = None) -> LockInfo:
        (h_name, purpose, pid, host, user, since, app, client, started, backend_pid, _k) = row
        if h_name is None:  # taken a moment ago, details not committed yet: what the server knows
            return LockInfo(
                name=name or "?",
                purpose=f"unknown ({app})" if app else "unknown",
                pid=int(backend_pid),
                host=client or "local socket",
                user="unknown",
                since=started.isoformat() if started else "unknown",
                application_name=app,
                client_addr=client,
            )
        return LockInfo(
            name=h_name,
            purpose=purpose,
            pid=int(pid),
            host=host,
            user=user,
            since=since,
            application_name=app,
            client_addr=client or "local socket",
        )

    def _holder_of(self, name: str, key: int) -> LockInfo:
        rows = self._holder_rows([key])
        if not rows:  # released between our try and this look: report what we know
            return LockInfo(name, "unknown (just released)", 0, "unknown", "unknown", "unknown")
        return self._info(rows[0], name)

    def lock_holders(self) -> list[LockInfo]:
        """Holders of this schema's locks, as the server sees them (dead sessions never show)."""
        known = self._read("SELECT DISTINCT name, lock_key FROM lock_holders")
        names = {int(k): n for n, k in known}
        if not names:
            return []
        rows = self._holder_rows(sorted(names))
        return sorted(
            (self._info(r, names.get(int(r[10]))) for r in rows), key=lambda i: (i.name, i.pid)
        )
