"""SQLite backend: one local file (mode 0600, WAL), locks as flock'd files beside it.

WAL lets `status` read while a sync writes. A write-ahead mark (the ledger records a write
*before* it is sent to Salesforce or Dotdigital) must survive a power cut as well as a kill -9,
or a re-run could send the same Lead twice: its transaction commits with synchronous=FULL (the
WAL is synced before COMMIT returns). Other writes (members read, results, campaign member ids,
links, watermarks) commit with synchronous=NORMAL, which survives a process crash but may lose
the newest commits in a power cut. That loss is always a suffix of the WAL (its frames are
checksummed in order), so the file comes back as it was after some earlier commit, never with a
hole; and every FULL commit syncs all earlier frames too, so what a write-ahead mark was written
after is durable with it. A lost result puts its member back in doubt, which the next run
resolves from Salesforce as it does after a kill; a lost watermark re-reads members the ledger
already knows. The saving is an fsync per commit (milliseconds each, serialised across the
runners of `sync --jobs` by SQLite's single writer).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from leadsync.state.errors import StateError
from leadsync.state.filelock import FileLocks
from leadsync.state.migrations import SQLITE_STEPS
from leadsync.state.model import HeldLock, LockInfo
from leadsync.state.sqlstore import SqlStore

BUSY_TIMEOUT_SECONDS = 60.0  # short row-level contention only; long waits are the named locks

# None binds as NULL either way; registered, it is found in the adapter table at once. Why:
# sqlite3 binds str, int and float directly but "adapts" every other value, and for None
# without an entry that is a failed registry look-up and two attribute probes: about 0.3 us per
# None, and a ledger row binds six to nine (a sixth of the CPU of a ledger write). `{}.get` is a
# C callable that returns None for None. Process-wide, like every sqlite3 adapter; it changes
# no value anyone binds.
sqlite3.register_adapter(type(None), {}.get)


def _create_private(path: Path) -> None:
    """Create the db file as 0600 before SQLite writes a byte to it (and tighten an old one)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != 0o600:
            with contextlib.suppress(PermissionError):
                os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


class SqliteStore(SqlStore):
    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._mutex = threading.RLock()
        self._locks = FileLocks(self.path.with_name(self.path.name + ".locks"))
        try:
            _create_private(self.path)
            self._conn = sqlite3.connect(
                self.path,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                timeout=BUSY_TIMEOUT_SECONDS,
                check_same_thread=False,  # guarded by self._mutex
            )
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"cannot open the state file {self.path}: {exc}") from exc
        try:
            self._conn.execute("PRAGMA journal_mode = WAL").fetchall()
            self._conn.execute("PRAGMA synchronous = FULL")
            self._synchronous = "FULL"
            self._migrate()
        except sqlite3.Error as exc:
            self._conn.close()
            raise StateError(f"cannot use the state file {self.path}: {exc}") from exc

    def describe(self) -> str:
        return f"sqlite:{self.path}"

    # --- migrations -----------------------------------------------------------------------
    def _migrate(self) -> None:
        """Apply missing steps under BEGIN IMMEDIATE: a second process opening the same fresh
        file waits on the write lock, then sees the version the first one recorded."""
        with self._tx() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            self._apply_steps(
                cur.execute,
                SQLITE_STEPS,
                where=f"the state file {self.path}",
                record="INSERT INTO schema_version (version, applied_at) "
                "VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            )

    def _ledger_via(self, index: str) -> str:
        return f"ledger INDEXED BY {index}"

    # --- transport --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _tx(self, durable: bool = True) -> Iterator[sqlite3.Cursor]:
        with self._mutex, self._wrap():
            mode = "FULL" if durable else "NORMAL"
            if mode != self._synchronous:  # a connection setting, changed between transactions
                self._conn.execute(f"PRAGMA synchronous = {mode}")
                self._synchronous = mode
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                self._conn.rollback()
                raise
            else:
                cur.execute("COMMIT")
            finally:
                cur.close()

    @contextlib.contextmanager
    def _wrap(self) -> Iterator[None]:
        """Disk full, I/O errors, a lock held past the busy timeout: one clear line."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            raise StateError(f"state file {self.path}: {exc}") from exc

    # --- locks ----------------------------------------------------------------------------
    def lock(
        self, names: Sequence[str], *, timeout: float, purpose: str
    ) -> AbstractContextManager[HeldLock]:
        return self._locks.hold(names, timeout=timeout, purpose=purpose)

    def lock_holders(self) -> list[LockInfo]:
        return self._locks.holders()
