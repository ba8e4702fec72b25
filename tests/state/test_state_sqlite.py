"""SQLite specifics: file mode, path resolution, migrations, concurrent first open."""

from __future__ import annotations

import json
import os
import sqlite3
import stat

import pytest

from leadsync.config.model import StateConfig
from leadsync.state import StateError, open_store
from leadsync.state.filelock import lock_file_name
from leadsync.state.migrations import SQLITE_STEPS, latest_version
from leadsync.state.sqlite import SqliteStore


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_open_store_resolves_relative_path_against_the_config_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the cwd must not matter
    base = tmp_path / "project"
    base.mkdir()
    store = open_store(StateConfig(backend="sqlite", path=".leadsync/state.db"), base)
    try:
        assert store.path == base / ".leadsync" / "state.db"
        assert store.path.is_file()
        assert mode(store.path.parent) == 0o700
    finally:
        store.close()


def test_open_store_default_and_absolute_paths(tmp_path):
    store = open_store(StateConfig(backend="sqlite"), tmp_path)
    assert store.path == tmp_path / ".leadsync" / "state.db"
    store.close()
    absolute = tmp_path / "elsewhere" / "s.db"
    store = open_store(StateConfig(backend="sqlite", path=str(absolute)), tmp_path / "x")
    assert store.path == absolute
    store.close()


def test_db_wal_and_lock_files_are_private(tmp_path):
    old = os.umask(0o022)  # a typical umask would give 0644 without care
    try:
        store = SqliteStore(tmp_path / "state.db")
        store.save_run("r1", {"ok": True})
        with store.lock(["account:uk"], timeout=0, purpose="sync"):
            lock_dir = tmp_path / "state.db.locks"
            assert mode(lock_dir) == 0o700
            assert mode(lock_dir / lock_file_name("account:uk")) == 0o600
        for name in ("state.db", "state.db-wal", "state.db-shm"):
            assert mode(tmp_path / name) == 0o600, name
        store.close()
    finally:
        os.umask(old)


def test_an_existing_looser_file_is_tightened(tmp_path):
    path = tmp_path / "state.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    SqliteStore(path).close()
    assert mode(path) == 0o600


def test_wal_mode(tmp_path):
    store = SqliteStore(tmp_path / "state.db")
    store.close()
    conn = sqlite3.connect(tmp_path / "state.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_migrations_are_recorded_once_and_reopening_is_idempotent(tmp_path):
    path = tmp_path / "state.db"
    for _ in range(3):
        store = SqliteStore(path)
        assert store.schema_version() == latest_version(SQLITE_STEPS)
        store.close()
    conn = sqlite3.connect(path)
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_version")]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert versions == [v for v, _ in SQLITE_STEPS]
    assert {"applied_state", "history", "ledger", "watermarks", "runs", "sweeps"} <= tables


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "state.db"
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (999, 'x')")
    conn.commit()
    conn.close()
    with pytest.raises(StateError, match=r"schema version 999.*upgrade leadsync"):
        SqliteStore(path)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError, match=f"cannot use the state file {path}"):
        SqliteStore(path)


def test_an_unusable_path_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StateError, match="cannot open the state file"):
        SqliteStore(tmp_path / "file" / "state.db")


def test_lock_file_names_are_safe_and_distinct():
    names = ["apply", "account:uk", "account/uk", "account%3Auk", "..", "x" * 400, "x" * 401]
    files = [lock_file_name(n) for n in names]
    assert len(set(files)) == len(files)
    for f in files:
        assert "/" not in f and not f.startswith(".") and len(f.encode()) < 255
    json.dumps(files)


def test_a_write_ahead_mark_commits_synced_and_other_ledger_writes_do_not(tmp_path):
    """The exactly-once rule under a power cut: a transaction that records a write in flight
    (an entry with `attempt`) commits with synchronous=FULL, so the mark is on disk before the
    write is sent; members read, results and watermarks commit with NORMAL (survive a kill -9,
    not a power cut) and become durable with the next synced commit. Every commit is traced."""
    from leadsync.state.model import LedgerEntry

    store = SqliteStore(tmp_path / "s.db")
    commits: list[int] = []

    def trace(statement: str) -> None:
        if statement == "COMMIT":
            commits.append(store._conn.execute("PRAGMA synchronous").fetchone()[0])

    store._conn.set_trace_callback(trace)
    member = LedgerEntry("uk", 1, 7, "a@example.com", "pending")
    store.ledger_put([member])
    store.ledger_put([LedgerEntry("uk", 1, 7, "a@example.com", "pending", attempt="job-1")])
    store.ledger_put([LedgerEntry("uk", 1, 7, "a@example.com", "created", lead_id="00Q1")])
    store.set_watermark("uk", 1, "2026-01-01T00:00:00Z")
    store.save_run("r1", {"started_at": "2026-01-01T00:00:00Z"})
    FULL, NORMAL = 2, 1
    assert commits == [NORMAL, FULL, NORMAL, NORMAL, FULL]
    store.close()
    again = SqliteStore(tmp_path / "s.db")  # what was committed NORMAL is there after a close
    assert again.ledger_get("uk", 1, [7])[7].lead_id == "00Q1"
    assert again.watermark("uk", 1) == "2026-01-01T00:00:00Z"
    again.close()


def test_none_is_stored_as_sql_null(tmp_path):
    """None binds as NULL (the backend registers a fast adapter for it): the columns a ledger
    entry leaves empty are SQL NULL, found by IS NULL, and read back as None."""
    from leadsync.state.model import LedgerEntry

    store = SqliteStore(tmp_path / "s.db")
    store.ledger_put([LedgerEntry("uk", 1, 7, "a@example.com", "pending")])
    row = store._conn.execute(
        "SELECT typeof(attempt), typeof(lead_id), typeof(attempted_at) FROM ledger "
        "WHERE attempt IS NULL AND lead_id IS NULL AND contact_id = 7"
    ).fetchall()
    assert row == [("null", "null", "null")]
    entry = store.ledger_get("uk", 1, [7])[7]
    assert (entry.attempt, entry.lead_id, entry.attempted_at) == (None, None, None)
    scratch = sqlite3.connect(":memory:")  # any connection of the process binds None alike
    assert scratch.execute("SELECT ? IS NULL, typeof(?)", (None, None)).fetchone() == (1, "null")
    scratch.close()
    store.close()
