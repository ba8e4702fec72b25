"""The state store: applied integration, history, sync ledger, run reports, locks.

`open_store(cfg, base_dir)` picks the backend from the config; everything else codes against
the StateStore protocol in model.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from leadsync.state.errors import StateError, StateNotEmpty
from leadsync.state.model import (
    AppliedState,
    HistoryEntry,
    LedgerEntry,
    LockHeld,
    LockInfo,
    StaleState,
    StateStore,
)

if TYPE_CHECKING:
    from leadsync.config.model import StateConfig

DEFAULT_SQLITE_PATH = ".leadsync/state.db"

__all__ = [
    "AppliedState",
    "HistoryEntry",
    "LedgerEntry",
    "LockHeld",
    "LockInfo",
    "StaleState",
    "StateError",
    "StateNotEmpty",
    "StateStore",
    "open_store",
    "sqlite_path",
]


def sqlite_path(path: str | None, base_dir: Path) -> Path:
    """A relative state path is relative to the config file's directory, not the cwd."""
    resolved = Path(path or DEFAULT_SQLITE_PATH).expanduser()
    if not resolved.is_absolute():
        resolved = Path(base_dir) / resolved
    return resolved


def open_store(cfg: StateConfig, base_dir: Path) -> StateStore:
    """Open (creating and migrating on first use) the store the config names."""
    if cfg.backend == "sqlite":
        from leadsync.state.sqlite import SqliteStore

        return SqliteStore(sqlite_path(cfg.path, base_dir))
    if cfg.backend == "postgres":
        try:
            from leadsync.state.postgres import PostgresStore
        except ImportError as exc:  # psycopg is an optional extra
            raise StateError(
                "the postgres state backend needs psycopg: pip install 'leadsync[postgres]'"
            ) from exc

        if cfg.dsn is None:
            raise StateError("state.backend is postgres but state.dsn is not set")
        dsn = cfg.dsn.reveal() if hasattr(cfg.dsn, "reveal") else str(cfg.dsn)
        return PostgresStore(dsn, schema=cfg.schema or "leadsync")
    raise StateError(f"unknown state backend {cfg.backend!r} (expected sqlite or postgres)")
