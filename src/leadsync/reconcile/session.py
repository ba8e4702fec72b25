"""The imperative shell around the pure diff: load the config, read the state, refresh, plan.

`plan` must write nothing anywhere (docs/ARCHITECTURE.md, invariant 1). Opening the SQLite store creates and migrates
the file, so planning reads the state only when the file already exists and takes no lock;
a saved plan is protected by the state's lineage and serial instead.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from leadsync.config import config_dir, load
from leadsync.config.diagnostics import Diagnostic
from leadsync.config.model import Config
from leadsync.errors import ConfigError
from leadsync.reconcile.diff import diff
from leadsync.reconcile.model import Plan
from leadsync.reconcile.observed import Observed
from leadsync.reconcile.refresh import Systems, refresh
from leadsync.state import open_store, sqlite_path
from leadsync.state.model import AppliedState, StateStore

LOCK_POLL_SECONDS = 0.2


@dataclass
class Loaded:
    config: Config
    warnings: list[Diagnostic] = field(default_factory=list)


def load_config(path: str) -> Loaded:
    """The typed config, or ConfigError listing every finding with file:line."""
    result = load(path)
    if result.config is None:
        errors = [d for d in result.diagnostics if d.severity == "error"]
        noun = "error" if len(errors) == 1 else "errors"
        lines = "\n".join(d.format() for d in errors)
        raise ConfigError(f"{path}: invalid config ({len(errors)} {noun})\n{lines}", errors)
    warnings = [d for d in result.diagnostics if d.severity != "error"]
    return Loaded(result.config, warnings)


def state_exists(config: Config) -> bool:
    if config.state.backend != "sqlite":
        return True  # a server-side store: reading it creates no file
    return sqlite_path(config.state.path, config_dir(config.source)).exists()


@contextlib.contextmanager
def reading_store(config: Config) -> Iterator[StateStore | None]:
    """The store for reading, or None when there is no state yet (nothing is created)."""
    if not state_exists(config):
        yield None
        return
    store = open_store(config.state, config_dir(config.source))
    try:
        yield store
    finally:
        store.close()


@contextlib.contextmanager
def writing_store(config: Config) -> Iterator[StateStore]:
    store = open_store(config.state, config_dir(config.source))
    try:
        yield store
    finally:
        store.close()


def wait_for_apply(store: StateStore, timeout: float) -> None:
    """Let a running apply finish before planning against its state (plan --lock-timeout).

    Only looks at the lock holders (a read); plan never takes a lock, so it never blocks anyone.
    """
    deadline = time.monotonic() + max(0.0, timeout)
    while any(h.name == "apply" for h in store.lock_holders()):
        if time.monotonic() >= deadline:
            return
        time.sleep(LOCK_POLL_SECONDS)


def read_applied(config: Config, *, lock_timeout: float = 0.0) -> AppliedState | None:
    with reading_store(config) as store:
        if store is None:
            return None
        if lock_timeout > 0:
            wait_for_apply(store, lock_timeout)
        return store.read_applied()


def new_salt() -> str:
    return secrets.token_hex(16)


def baseline_counts(config: Config, applied: AppliedState | None) -> dict[tuple[str, int], int]:
    """(account, book id) -> baseline rows in the ledger, for the plan line of a book whose
    `backfill` is switched on (read only then: counting scans the ledger's state index)."""
    wanted = any(b.backfill for a in config.accounts.values() for b in a.address_books)
    if applied is None or not wanted:
        return {}
    with reading_store(config) as store:
        if store is None:
            return {}
        counts = store.ledger_counts()
    return {(a, b): n for (a, b, state), n in counts.items() if state == "baseline"}


def make_plan(
    config: Config, applied: AppliedState | None, systems: Systems, *, salt: str | None = None
) -> tuple[Plan, Observed]:
    """Refresh then diff. Before the first apply the salt is a throwaway one (secrets render
    masked either way); apply passes the salt it will record."""
    observed = refresh(config, applied, systems)
    use_salt = salt or (applied.salt if applied is not None else new_salt())
    baseline = baseline_counts(config, applied)
    return diff(config, applied, observed, salt=use_salt, baseline=baseline), observed


def plan_command(config_path: str, *, lock_timeout: float = 0.0) -> tuple[Plan, list[Diagnostic]]:
    """What `leadsync plan` does: load, read state (no writes), refresh, diff."""
    loaded = load_config(config_path)
    applied = read_applied(loaded.config, lock_timeout=lock_timeout)
    plan, _ = make_plan(loaded.config, applied, Systems(loaded.config))
    return plan, loaded.warnings


def state_location(config: Config) -> str:
    if config.state.backend == "sqlite":
        return str(sqlite_path(config.state.path, Path(config_dir(config.source))))
    return f"{config.state.backend} (schema {config.state.schema})"
