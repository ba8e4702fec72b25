"""PostgreSQL backend (psycopg 3): shared state for teams and ephemeral CI runners.

Same tables and rules as SQLite (sqlstore.py); what differs:
- Locks are transaction-level advisory locks in a transaction kept open for the run on their own
  connection (pglock.py: why, and how a lost lock stops the run before it writes). Keys are
  64-bit hashes of (schema, name): projects in other schemas never block each other (unlike
  terraform#33217). Who holds a lock is written to `lock_holders` and shown through pg_locks +
  pg_stat_activity.
- Every statement is schema-qualified and nothing depends on session state (pgconn.py), so the
  store works the same directly and through PgBouncer in session or transaction mode.
- Migrations run under a transaction-scoped advisory lock, so runners starting at once apply
  each step exactly once; DDL is transactional, so a failed step leaves nothing behind. A store
  whose schema is current runs no DDL at all: a read-only role (USAGE + SELECT) can run
  `status`, `records` and `history`, and a role that owns only its schema needs no CREATE on
  the database.
- Every psycopg error becomes one line that keeps the server's reason; a missing privilege
  names the GRANT that fixes it.
- The DSN is a secret (it may carry a password): it never appears in a message; `describe()`
  shows user@host:port/dbname and the schema.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from leadsync.state import codec, pglock
from leadsync.state.errors import StateError
from leadsync.state.holder import lock_order, this_holder
from leadsync.state.migrations import POSTGRES_STEPS, latest_version
from leadsync.state.model import HeldLock, LockInfo
from leadsync.state.pgconn import Heartbeat, connect, heartbeat_seconds, reason, safe_target
from leadsync.state.pglock import lock_key
from leadsync.state.sqlstore import (
    LEDGER_BASELINE,
    LEDGER_BASELINE_NARROW,
    LEDGER_SELECT,
    SqlStore,
    chunked,
)

MIGRATION_LOCK = "leadsync:migrate"
COPY_MIN_ROWS = 500
ANALYZE_AFTER_ROWS = 50_000
_COPY_INSERTS = {
    LEDGER_BASELINE: codec.LEDGER_COLUMNS,
    LEDGER_BASELINE_NARROW: codec.NARROW_COLUMNS,
}
__all__ = ["PostgresStore", "lock_key", "safe_target"]


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
            with self._wrap("opening the state", writing=True):
                self._migrate()
                interval = heartbeat_seconds(self._conn)
        except BaseException:
            self._conn.close()
            raise
        # Between statements the connection waits for HTTP calls; keep it from looking idle.
        self._heartbeat = Heartbeat(self._beat, interval, "leadsync-state").start()

    def _beat(self) -> bool:
        with self._mutex:
            if self._conn.closed:
                return False
            with contextlib.suppress(psycopg.Error):
                self._conn.execute("SELECT 1")
        return True

    def close(self) -> None:
        self._heartbeat.stop()
        super().close()

    def describe(self) -> str:
        return f"{safe_target(self._dsn)} (schema {self.schema})"

    def _connect(self, application_name: str, *, autocommit: bool = True) -> psycopg.Connection:
        return connect(
            self._dsn, schema=self.schema, application_name=application_name, autocommit=autocommit
        )

    # --- migrations -----------------------------------------------------------------------
    def _current_version(self) -> int | None:
        """The recorded schema version, or None when the schema or its table does not exist.
        Read without any DDL, so roles that may not create anything can open a current store."""
        row = self._conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL",
            (sql.Identifier(self.schema).as_string(None) + ".schema_version",),
        ).fetchone()
        if not row[0]:
            return None
        return int(
            self._conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
        )

    def _migrate(self) -> None:
        if self._current_version() == latest_version(POSTGRES_STEPS):
            return
        with self._conn.transaction():
            self._conn.execute(
                "SELECT pg_advisory_xact_lock(%s)", (lock_key(self.schema, MIGRATION_LOCK),)
            )
            exists = self._conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
            ).fetchone()
            if not exists:  # CREATE SCHEMA IF NOT EXISTS would still need CREATE on the database
                self._conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
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
    def _tx(self, durable: bool = True) -> Iterator[psycopg.Cursor]:
        """Every commit is durable here (the server's synchronous_commit): `durable` is
        SQLite's concern (see SqlStore._tx)."""
        with (
            self._mutex,
            self._wrap(writing=True),
            self._conn.transaction(),
            self._conn.cursor() as cur,
        ):
            yield cur

    def _read(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._mutex, self._wrap(text):
            return self._conn.execute(text, tuple(params)).fetchall()

    @contextlib.contextmanager
    def _wrap(self, doing: str | None = None, *, writing: bool = False) -> Iterator[None]:
        """Every psycopg error becomes one StateError line with the server's reason (and the
        statement, for reads); a missing privilege names the GRANT that fixes it."""
        try:
            yield
        except StateError:
            raise
        except pg_errors.InsufficientPrivilege as exc:
            raise StateError(self._privilege_message(exc, writing=writing)) from exc
        except psycopg.Error as exc:
            what = f" while {_short(doing)}" if doing else ""
            raise StateError(f"PostgreSQL state {self.describe()}{what}: {reason(exc)}") from exc

    def _privilege_message(self, exc: psycopg.Error, *, writing: bool) -> str:
        schema = sql.Identifier(self.schema).as_string(None)
        role = self._role()
        why = reason(exc)
        if "for database" in why:
            grant = (
                f"create the schema for the role (CREATE SCHEMA {schema} AUTHORIZATION {role}) "
                f"or GRANT CREATE ON DATABASE <database> TO {role}"
            )
        elif "for schema" in why:
            grant = f"GRANT USAGE ON SCHEMA {schema} TO {role}"
        elif writing:
            grant = (
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO "
                f"{role} (or let {role} own the schema); read-only roles can run status, "
                "records and history only"
            )
        else:
            grant = f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}"
        return f"PostgreSQL state {self.describe()}: {why} (role {role}); to fix: {grant}"

    def _role(self) -> str:
        with contextlib.suppress(psycopg.Error):
            return str(self._conn.execute("SELECT current_user").fetchone()[0])
        return "<role>"

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
    ) -> AbstractContextManager[HeldLock]:
        return pglock.hold(
            lambda app: self._connect(app, autocommit=False),
            self,
            lock_order(names),
            timeout=timeout,
            purpose=purpose,
        )

    def record_holders(
        self, ordered: Sequence[str], keys: dict[str, int], purpose: str, backend_pid: int
    ) -> None:
        """Who holds the locks, for waiters' messages; rows of holders whose session is gone
        (a runner killed with SIGKILL) are removed on the way."""
        with self._tx() as cur:
            cur.execute(
                "DELETE FROM lock_holders h WHERE NOT EXISTS (SELECT 1 FROM pg_locks l "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.pid = h.backend_pid "
                "AND ((l.classid::bigint << 32) | l.objid::bigint) = h.lock_key)"
            )
            for name in ordered:
                info = this_holder(name, purpose)
                cur.execute(
                    pglock.HOLDER_UPSERT,
                    (
                        name,
                        keys[name],
                        purpose,
                        info.pid,
                        info.host,
                        info.user,
                        info.since,
                        backend_pid,
                    ),
                )

    def forget_holders(self, ordered: Sequence[str], backend_pid: int) -> None:
        with self._tx() as cur:
            cur.execute(
                "DELETE FROM lock_holders WHERE backend_pid = %s AND name = ANY(%s)",
                (backend_pid, list(ordered)),
            )

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

    def holder_of(self, name: str, key: int) -> LockInfo:
        rows = self._holder_rows([key])
        if not rows:  # released between our try and this look: report what we know
            return pglock.unknown_holder(name)
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


def _short(statement: str) -> str:
    """The statement (or step) that failed, shortened for a one-line message."""
    text = " ".join(statement.split())
    return text if len(text) <= 80 else text[:77] + "..."
