"""PostgreSQL connections that behave the same directly, through PgBouncer and behind load
balancers.

Teams put a pooler (PgBouncer, RDS Proxy, Supavisor) or a load balancer in front of a managed
PostgreSQL. In `pool_mode = transaction` consecutive statements of one client may run on
different server sessions, so nothing may depend on session state:

- no `SET search_path`: every statement names its tables with the schema. The rewrite happens
  in one place, the cursor (`QualifyingCursor`), so no statement can forget it; the table names
  come from the migration steps, so a new table is qualified too.
- no automatic prepared statements (`prepare_threshold=None`): a statement prepared on one
  server session does not exist on the next one ("prepared statement _pg3_0 does not exist").
- TCP keepalives on (unless the DSN sets them): a peer that vanished is noticed within about a
  minute instead of the kernel's two hours, and idle connections are not dropped by middleboxes.

Locks are the exception that needs a pinned session; pglock.py pins one with an open
transaction.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from functools import cache
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from leadsync.state.errors import StateError
from leadsync.state.migrations import POSTGRES_STEPS

CONNECT_TIMEOUT_SECONDS = 10
KEEPALIVES = {
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}


@cache
def table_names() -> tuple[str, ...]:
    """Every table the migrations create (plus the version table), longest first."""
    found = {"schema_version"}
    for _version, statements in POSTGRES_STEPS:
        for statement in statements:
            found.update(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", statement))
    return tuple(sorted(found, key=lambda n: (-len(n), n)))


@cache
def _pattern() -> re.Pattern[str]:
    names = "|".join(table_names())
    # A bare table name: not part of a longer word, not already qualified (x.name), not a
    # qualifier itself (name.column), not inside a quoted identifier or string.
    return re.compile(rf"(?<![\w.\"'])\b({names})\b(?![\w.\"'])")


def qualify(text: str, schema: str) -> str:
    """`SELECT * FROM ledger` -> `SELECT * FROM "myschema".ledger` for our own tables."""
    prefix = sql.Identifier(schema).as_string(None) + "."
    return _pattern().sub(lambda m: prefix + m.group(1), text)


def cursor_class(schema: str) -> type[psycopg.Cursor[Any]]:
    """A cursor class that schema-qualifies our tables in every statement it sends."""

    class QualifyingCursor(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            if isinstance(query, str):
                query = qualify(query, schema)
            return super().execute(query, params, **kwargs)

        def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:
            if isinstance(query, str):
                query = qualify(query, schema)
            return super().executemany(query, params_seq, **kwargs)

        def copy(self, statement: Any, params: Any = None, **kwargs: Any) -> Any:
            if isinstance(statement, str):
                statement = qualify(statement, schema)
            return super().copy(statement, params, **kwargs)

    return QualifyingCursor


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


def reason(exc: BaseException) -> str:
    """The server's (or libpq's) reason in one line, e.g. "terminating connection due to
    idle-session timeout"; never the DSN."""
    text = " ".join(str(exc).split())
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    return primary or text or type(exc).__name__


def connect(
    dsn: str, *, schema: str, application_name: str, autocommit: bool = True
) -> psycopg.Connection[Any]:
    """A connection for one store: qualified statements, no prepared statements, keepalives."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise StateError(
            "state.dsn is not a valid PostgreSQL connection string (value not shown)"
        ) from exc
    extra = {k: v for k, v in KEEPALIVES.items() if k not in parts}
    try:
        conn = psycopg.connect(
            dsn,
            autocommit=autocommit,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name=application_name[:63],  # the server keeps NAMEDATALEN - 1
            prepare_threshold=None,
            cursor_factory=cursor_class(schema),
            **extra,
        )
    except psycopg.Error as exc:
        raise StateError(
            f"cannot connect to the PostgreSQL state at {safe_target(dsn)}: {reason(exc)}"
        ) from exc
    return conn


HEARTBEAT_MAX_SECONDS = 5.0
HEARTBEAT_MIN_SECONDS = 0.1
_IDLE_SETTINGS = (
    "SELECT setting FROM pg_settings "
    "WHERE name IN ('idle_session_timeout', 'idle_in_transaction_session_timeout')"
)


def heartbeat_seconds(conn: psycopg.Connection[Any]) -> float:
    """A third of the server's shortest idle timeout (at most HEARTBEAT_MAX_SECONDS), so a
    connection that waits for a long HTTP call is never "idle" long enough to be ended by
    `idle_session_timeout`, `idle_in_transaction_session_timeout` or a load balancer."""
    try:
        values = [int(row[0]) for row in conn.execute(_IDLE_SETTINGS).fetchall()]
    except (psycopg.Error, ValueError):
        return HEARTBEAT_MAX_SECONDS
    limits = [ms / 1000 / 3 for ms in values if ms > 0]
    return max(HEARTBEAT_MIN_SECONDS, min([HEARTBEAT_MAX_SECONDS, *limits]))


class Heartbeat:
    """Calls `beat` every `interval` seconds on a daemon thread until `stop()`."""

    def __init__(self, beat: Callable[[], object], interval: float, name: str) -> None:
        self._beat = beat
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            if self._beat() is False:
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
