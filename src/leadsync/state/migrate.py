"""`leadsync state migrate`: copy a whole state (applied, history, ledger, watermarks, runs, push,
the field-update links and their marks)
from one store to another, e.g. a laptop's SQLite file into the team's PostgreSQL.

The copy refuses a non-empty target (two histories must never be merged silently), writes the
target in ONE transaction (a failed copy leaves it empty), holds the source's locks so no
apply or sync changes it mid-copy, and verifies the ledger counts afterwards.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from leadsync.state.errors import StateError, StateNotEmpty
from leadsync.state.sqlstore import SqlStore
from leadsync.wording import plural

DSN_ENV = "LEADSYNC_STATE_DSN"


@dataclass(frozen=True)
class CopySummary:
    source: str
    target: str
    applied_serial: int | None
    history: int
    ledger: int
    watermarks: int
    runs: int

    def line(self) -> str:
        serial = (
            "no applied state" if self.applied_serial is None else f"serial {self.applied_serial}"
        )
        return (
            f"copied {self.source} -> {self.target}: {serial}, "
            f"{plural(self.history, 'history row')}, {plural(self.ledger, 'ledger row')}, "
            f"{plural(self.watermarks, 'watermark')}, {plural(self.runs, 'run')}"
        )


def _accounts(store: SqlStore) -> set[str]:
    found = {account for account, _book in store.watermarks()}
    found |= {account for account, _book, _state in store.ledger_counts()}
    found |= {account for account, _book, _state in store.push_counts()}
    applied = store.read_applied()
    if applied is not None and isinstance(applied.config.get("accounts"), dict):
        found |= set(applied.config["accounts"])
    return found


def copy_state(src: SqlStore, dst: SqlStore, *, lock_timeout: float = 0.0) -> CopySummary:
    """Copy everything from `src` into the empty `dst`; raise StateNotEmpty otherwise."""
    if not dst.is_empty():
        raise StateNotEmpty(
            f"the target {dst.describe()} already holds state; refusing to overwrite it "
            "(copy into an empty database/schema)"
        )
    names = ["apply", *(f"account:{a}" for a in sorted(_accounts(src)))]
    with src.lock(names, timeout=lock_timeout, purpose="state migrate"):
        applied = src.read_applied()
        history = list(reversed(src.history()))
        watermarks = src.watermarks()
        runs = src.export_runs()
        expected = src.ledger_counts()
        pushed = src.push_counts()
        copied = dst.import_all(
            applied,
            history,
            src.export_ledger(),
            watermarks,
            runs,
            push=src.export_push(),
            links=src.export_links(),
            update_marks=src.export_update_marks(),
        )
    if dst.ledger_counts() != expected or dst.push_counts() != pushed:  # pragma: no cover
        raise StateError("the copied ledger does not match the source; the target needs a look")
    return CopySummary(
        source=src.describe(),
        target=dst.describe(),
        applied_serial=None if applied is None else applied.serial,
        history=len(history),
        ledger=copied,
        watermarks=len(watermarks),
        runs=len(runs),
    )


def open_location(location: str, *, schema: str = "leadsync", must_exist: bool = False) -> SqlStore:
    """`sqlite:PATH` or `postgres:DSN` (an empty DSN reads $LEADSYNC_STATE_DSN, which keeps a
    password out of the shell history and the process list)."""
    kind, sep, rest = location.partition(":")
    if not sep or kind not in ("sqlite", "postgres", "postgresql"):
        raise StateError(  # the value is not echoed: it may be a DSN with a password
            "a state location must be sqlite:PATH or postgres:DSN"
        )
    if kind == "sqlite":
        if not rest:
            raise StateError("sqlite: needs a path, e.g. sqlite:.leadsync/state.db")
        from leadsync.state.sqlite import SqliteStore

        path = Path(rest).expanduser()
        if must_exist and not path.is_file():
            raise StateError(f"the state file {path} does not exist")
        return SqliteStore(path)
    try:
        from leadsync.state.postgres import PostgresStore
    except ImportError as exc:  # psycopg is an optional extra
        raise StateError("postgres: needs psycopg: pip install 'leadsync[postgres]'") from exc

    dsn = rest or os.environ.get(DSN_ENV, "")
    if not dsn:
        raise StateError(f"postgres: needs a DSN, or set {DSN_ENV} and pass just 'postgres:'")
    if dsn.startswith("//"):  # postgres://user@host/db was split at the scheme's colon
        dsn = f"{kind}:{dsn}"
    return PostgresStore(dsn, schema=schema)


def migrate(
    source: str, target: str, *, schema: str = "leadsync", lock_timeout: float = 0.0
) -> CopySummary:
    """The `leadsync state migrate` command: open both locations, copy, close."""
    src = open_location(source, schema=schema, must_exist=True)
    try:
        dst = open_location(target, schema=schema)
        try:
            return copy_state(src, dst, lock_timeout=lock_timeout)
        finally:
            dst.close()
    finally:
        src.close()
