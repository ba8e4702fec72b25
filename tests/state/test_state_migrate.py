"""`leadsync state migrate`: SQLite -> PostgreSQL (and back), refusals, unreachable server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid

import pytest

from leadsync.state import StateNotEmpty
from leadsync.state.migrate import copy_state
from leadsync.state.model import (
    AppliedState,
    HistoryEntry,
    LedgerEntry,
    Link,
    PushEntry,
    PushMark,
)
from leadsync.state.postgres import PostgresStore
from leadsync.state.sqlite import SqliteStore

pytestmark = pytest.mark.postgres


def leadsync(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI in a child process: exit codes and stderr exactly as a user sees them."""
    return subprocess.run(
        [sys.executable, "-m", "leadsync.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def fill(store) -> None:
    lineage = "lin-1"
    for serial in (1, 2, 3):
        store.commit_apply(
            AppliedState(
                lineage,
                serial,
                {"accounts": {"uk": {}}},
                {"uk": {}},
                {},
                f"c{serial}",
                "t",
                "bob",
                "s",
            ),
            HistoryEntry(
                serial,
                lineage,
                f"t{serial}",
                "bob",
                "h",
                None,
                f"c{serial}",
                {"create": 1},
                ci={"system": "gitlab", "actor": "alice", "run_url": "https://gl/j/7"}
                if serial == 2
                else None,
                git_error="not readable" if serial == 3 else None,
            ),
            expected_lineage=None if serial == 1 else lineage,
            expected_serial=serial - 1,
            baseline=(
                LedgerEntry("uk", 42, i, f"m{i}@example.com", "baseline") for i in range(3000)
            )
            if serial == 1
            else (),
            watermarks={("uk", 42): f"2026-01-0{serial}T00:00:00Z"},
        )
    store.ledger_put(
        [
            LedgerEntry("uk", 42, 5000, "a@example.com", "created", lead_id="00Q1", tries=1),
            LedgerEntry("uk", 42, 5001, "b@example.com", "pending", attempt="bulk:750x"),
            LedgerEntry(
                "us", 7, 1, "c@example.com", "skipped", fields=("Company",), extra={"k": 1}
            ),
        ]
    )
    store.push_put(  # the push's table (Salesforce -> Dotdigital) travels too
        [
            PushEntry("uk", 43, "00v1", "p@example.com", "pushed", "00Q9", "Lead", "701x", 77,
                      values={"FIRSTNAME": "P", "AGE": 7}, data_hash="h", tries=1),
            PushEntry("uk", 43, "00v2", "q@example.com", "pending", attempt="import:abc",
                      attempted_at="2026-01-03T00:00:00Z"),
            PushEntry("uk", 43, "dd:5", "r@example.com", "removed", contact_id=5),
        ]
    )  # fmt: skip
    store.set_push_mark(PushMark("uk", 43, "2026-01-01T00:00:00+00:00", None, "fp", "t"))
    store.links_put(
        [
            Link("uk", 5000, "a@example.com", "Lead", "00Q1", 42, base={"COMPANY": "Acme"},
                 sf_seen={"Company": "Acme"}, dd_seen={"COMPANY": "Acme"}, outcome="conflict",
                 detail={"fields": [{"kind": "conflict", "field": "Company"}]}),
            Link("uk", 5002, "d@example.com", "Contact", "0032", 42, state="unlinked"),
        ]
    )  # fmt: skip
    store.set_update_marks("uk", {"salesforce:Lead": "2026-01-03T00:00:00.000+0000"})
    store.save_run("r1", {"started_at": "2026-01-01T00:00:00Z", "books": []})
    store.save_run("r2", {"started_at": "2026-01-02T00:00:00Z", "books": [{"seen": 2}]})


def everything(store) -> tuple:
    return (
        store.read_applied(),
        store.history(),
        list(store.export_ledger()),  # every field, updated_at included
        store.watermarks(),
        store.runs(),
        store.export_push(),
        list(store.export_links()),  # every field, updated_at included
        store.export_update_marks(),
    )


@pytest.fixture
def schema() -> str:
    return f"m_{uuid.uuid4().hex[:12]}"


def test_copy_sqlite_to_postgres_and_back_is_exact(tmp_path, pg_dsn, schema):
    sqlite = SqliteStore(tmp_path / "state.db")
    fill(sqlite)
    pg = PostgresStore(pg_dsn, schema=schema)
    summary = copy_state(sqlite, pg)
    assert (summary.applied_serial, summary.history, summary.ledger, summary.runs) == (
        3,
        3,
        3003,
        2,
    )
    assert everything(pg) == everything(sqlite)

    back = SqliteStore(tmp_path / "back.db")
    copy_state(pg, back)
    assert everything(back) == everything(sqlite)
    # the copy is a working store: the next apply continues the same lineage and serial
    back.commit_apply(
        AppliedState("lin-1", 4, {}, {}, {}, "c4", "t", "bob", "s"),
        HistoryEntry(4, "lin-1", "t4", "bob", "h", None, "c4", {}),
        expected_lineage="lin-1",
        expected_serial=3,
    )
    for store in (sqlite, pg, back):
        store.close()


def test_cli_migrate_succeeds(tmp_path, pg_dsn, schema):
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    fill(store)
    store.close()
    done = leadsync(
        "state",
        "migrate",
        "--from",
        f"sqlite:{path}",
        "--to",
        "postgres:",
        "--schema",
        schema,
        env={"LEADSYNC_STATE_DSN": pg_dsn},
    )
    assert done.returncode == 0, done.stderr
    assert "3003 ledger rows" in done.stdout
    assert "serial 3" in done.stdout
    pg = PostgresStore(pg_dsn, schema=schema)
    assert pg.read_applied().serial == 3
    assert pg.ledger_counts()[("uk", 42, "baseline")] == 3000
    pg.close()


def test_cli_migrate_refuses_a_non_empty_target_and_changes_nothing(tmp_path, pg_dsn, schema):
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    fill(store)
    store.close()
    pg = PostgresStore(pg_dsn, schema=schema)
    pg.save_run("already-here", {"x": 1})
    done = leadsync(
        "state",
        "migrate",
        "--from",
        f"sqlite:{path}",
        "--to",
        f"postgres:{pg_dsn}",
        "--schema",
        schema,
    )
    assert done.returncode == 1
    assert "already holds state; refusing to overwrite it" in done.stderr
    assert "Traceback" not in done.stderr
    assert [r["run_id"] for r in pg.runs()] == ["already-here"]
    assert pg.read_applied() is None
    pg.close()


def test_copy_refusal_is_checked_inside_the_write_transaction(tmp_path, pg_dsn, schema):
    """Even if the target fills up after the first check, the copy writes nothing."""
    sqlite = SqliteStore(tmp_path / "state.db")
    fill(sqlite)
    pg = PostgresStore(pg_dsn, schema=schema)
    pg.set_watermark("zz", 1, "t")
    with pytest.raises(StateNotEmpty):
        pg.import_all(sqlite.read_applied(), [], sqlite.export_ledger(), {}, [])
    assert pg.ledger_counts() == {}
    sqlite.close()
    pg.close()


def test_cli_migrate_to_an_unreachable_server(tmp_path):
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    fill(store)
    store.close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dsn = f"postgresql://ci:topsecret-pw@127.0.0.1:{port}/leadsync"
    done = leadsync("state", "migrate", "--from", f"sqlite:{path}", "--to", f"postgres:{dsn}")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(
        f"error: cannot connect to the PostgreSQL state at postgres://ci@127.0.0.1:{port}/leadsync"
    )
    assert "topsecret-pw" not in done.stderr + done.stdout


def test_cli_migrate_from_a_missing_file_or_bad_location(tmp_path):
    done = leadsync("state", "migrate", "--from", f"sqlite:{tmp_path}/nope.db", "--to", "sqlite:x")
    assert done.returncode == 1
    assert "does not exist" in done.stderr
    assert not (tmp_path / "nope.db").exists()
    done = leadsync("state", "migrate", "--from", "password=s3cret", "--to", "sqlite:x")
    assert done.returncode == 1
    assert "must be sqlite:PATH or postgres:DSN" in done.stderr
    assert "s3cret" not in done.stderr


def test_migrate_refuses_while_a_sync_holds_the_source(tmp_path, pg_dsn, schema):
    sqlite = SqliteStore(tmp_path / "state.db")
    fill(sqlite)
    other = SqliteStore(tmp_path / "state.db")
    pg = PostgresStore(pg_dsn, schema=schema)
    from leadsync.state import LockHeld

    with other.lock(["account:us"], timeout=0, purpose="sync"), pytest.raises(LockHeld):
        copy_state(sqlite, pg)
    assert pg.is_empty()
    for store in (sqlite, other, pg):
        store.close()
