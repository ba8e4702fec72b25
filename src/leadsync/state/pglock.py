"""Account locks on PostgreSQL that are provably held for the whole run, or fail loudly.

Why a transaction-level advisory lock inside a transaction kept open for the run (and not a
session-level lock on an idle connection, as before):

- An open transaction pins its server session, also through PgBouncer in transaction mode,
  where a session-level lock would be taken on one server session and "held" by whichever
  client gets that session next (two runners inside one account, locks leaked after exit).
- `idle_session_timeout` and load balancers close idle connections; a connection inside a
  transaction that runs a heartbeat statement (pgconn.heartbeat_seconds) is not idle. If a stricter
  `idle_in_transaction_session_timeout` or an administrator still ends the session, the server
  releases the lock and the next `verify()` (called before every batch of remote writes) raises
  LockLost: the run stops before writing instead of writing beside the runner that took over.
- A killed runner's session ends, its transaction rolls back and its locks are gone: nothing to
  clean up by hand. Its row in `lock_holders` (who holds what, for messages) is removed by the
  next runner that takes the lock, and by the runner itself on a clean release.

`verify()` asks the server, on the lock's own session, whether pg_locks still shows every lock
granted to this backend: a statement that succeeds inside the still-open transaction is proof.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg

from leadsync.state.holder import WaitNotice, this_holder
from leadsync.state.model import LockHeld, LockInfo, LockLost
from leadsync.state.pgconn import Heartbeat, heartbeat_seconds, reason

POLL_SECONDS = 0.05

HELD_SQL = """
    SELECT COUNT(*) FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND pid = pg_backend_pid()
      AND ((classid::bigint << 32) | objid::bigint) = ANY(%s::bigint[])
"""
HOLDER_UPSERT = (
    "INSERT INTO lock_holders (name, lock_key, purpose, pid, host, os_user, since, backend_pid) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
    "lock_key = excluded.lock_key, purpose = excluded.purpose, pid = excluded.pid, "
    "host = excluded.host, os_user = excluded.os_user, since = excluded.since, "
    "backend_pid = excluded.backend_pid"
)


def lock_key(schema: str, name: str) -> int:
    """A stable signed 64-bit advisory-lock key for one lock name in one schema."""
    digest = hashlib.sha256(f"leadsync\0{schema}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PgHeld:
    """Locks held by one open transaction on a dedicated connection; see the module docstring."""

    def __init__(self, conn: psycopg.Connection[Any], keys: dict[str, int]) -> None:
        self._conn = conn
        self._keys = keys
        self._lost: str | None = None
        self.backend_pid = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])
        self._beat = Heartbeat(self._heartbeat, heartbeat_seconds(conn), "leadsync-lock")

    def start(self) -> None:
        self._beat.start()

    def verify(self) -> None:
        if self._lost is None:
            self._check()
        if self._lost is not None:
            names = ", ".join(repr(n) for n in self._keys)
            raise LockLost(
                f"state lock {names} was lost while this run held it ({self._lost}); stopped "
                "before the next write. Another runner may have taken it; run the command "
                "again. Through a load balancer or pooler, make sure it does not end sessions "
                "that are inside a transaction (idle_in_transaction_session_timeout)."
            )

    def _check(self) -> None:
        try:
            held = self._conn.execute(HELD_SQL, (list(self._keys.values()),)).fetchone()[0]
        except psycopg.Error as exc:
            self._lost = f"PostgreSQL: {reason(exc)}"
            return
        if int(held) != len(self._keys):
            self._lost = "PostgreSQL no longer shows it granted to this session"

    def _heartbeat(self) -> bool:
        """One statement in the open transaction: keeps it from looking idle; notices a loss."""
        if self._lost is None:
            self._check()
        return self._lost is None

    def release(self) -> None:
        """Ends the transaction (which releases every lock in it) and the connection."""
        self._beat.stop()
        with contextlib.suppress(psycopg.Error):
            self._conn.rollback()
        self._conn.close()


def try_all(conn: psycopg.Connection[Any], ordered: list[str], keys: dict[str, int]) -> str | None:
    """Take every lock in this (open) transaction, or none: the first name that is busy."""
    for name in ordered:
        got = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (keys[name],)).fetchone()[0]
        if not got:
            conn.rollback()  # releases those taken so far; the next try starts a new transaction
            return name
    return None


@contextlib.contextmanager
def hold(
    connect: Callable[[str], psycopg.Connection[Any]],
    store: Any,
    ordered: Sequence[str],
    *,
    timeout: float,
    purpose: str,
) -> Iterator[PgHeld]:
    """Take the locks on a new non-autocommit connection; record the holders through `store`
    (its own connection, committed at once, so waiters can read them)."""
    me = this_holder(ordered[0], purpose)
    conn = connect(f"leadsync {purpose} {me.user}@{me.host} pid {me.pid}")
    keys = {name: lock_key(store.schema, name) for name in ordered}
    try:
        _wait_for(conn, store, list(ordered), keys, timeout)
        held = PgHeld(conn, keys)
    except BaseException:
        conn.close()
        raise
    try:
        store.record_holders(ordered, keys, purpose, held.backend_pid)
        held.start()
        yield held
    finally:
        with contextlib.suppress(Exception):
            store.forget_holders(ordered, held.backend_pid)
        held.release()


def _wait_for(
    conn: psycopg.Connection[Any],
    store: Any,
    ordered: list[str],
    keys: dict[str, int],
    timeout: float,
) -> None:
    deadline = time.monotonic() + max(0.0, timeout)
    notice = WaitNotice(timeout)
    while True:
        blocked = try_all(conn, ordered, keys)
        if blocked is None:
            return
        if time.monotonic() >= deadline:
            raise LockHeld(store.holder_of(blocked, keys[blocked]))
        notice.tick(lambda: store.holder_of(blocked, keys[blocked]))  # noqa: B023
        time.sleep(max(0.001, min(POLL_SECONDS, deadline - time.monotonic())))


def unknown_holder(name: str) -> LockInfo:
    return LockInfo(name, "unknown (just released)", 0, "unknown", "unknown", "unknown")
