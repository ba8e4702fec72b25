"""PostgreSQL specifics: DSN handling, schema isolation, who-holds-the-lock via the server."""

from __future__ import annotations

import socket
import uuid

import psycopg
import pytest

from leadsync.config.model import Secret, StateConfig
from leadsync.state import LockHeld, StateError, open_store
from leadsync.state.migrations import POSTGRES_STEPS, latest_version
from leadsync.state.postgres import PostgresStore, lock_key, safe_target

pytestmark = pytest.mark.postgres


@pytest.fixture
def schema() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def test_open_store_uses_dsn_and_schema(pg_dsn, schema, tmp_path):
    cfg = StateConfig(backend="postgres", dsn=Secret(pg_dsn, "LEADSYNC_STATE_DSN"), schema=schema)
    store = open_store(cfg, tmp_path)
    try:
        store.save_run("r1", {"ok": True})
        assert store.schema_version() == latest_version(POSTGRES_STEPS)
    finally:
        store.close()
    with psycopg.connect(pg_dsn) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
        }
    assert {
        "applied_state",
        "history",
        "ledger",
        "watermarks",
        "runs",
        "lock_holders",
        "sweeps",
    } <= tables
    assert not list(tmp_path.iterdir())  # nothing local for the postgres backend


def test_migrations_are_idempotent(pg_dsn, schema):
    for _ in range(3):
        PostgresStore(pg_dsn, schema=schema).close()
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(f'SELECT version FROM "{schema}".schema_version').fetchall()
    assert rows == [(v,) for v, _ in POSTGRES_STEPS]


def test_a_newer_schema_is_refused(pg_dsn, schema):
    PostgresStore(pg_dsn, schema=schema).close()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'INSERT INTO "{schema}".schema_version (version) VALUES (99)')
    with pytest.raises(StateError, match=r"schema version 99.*upgrade leadsync"):
        PostgresStore(pg_dsn, schema=schema)


def test_unreachable_server_is_one_clear_line_without_the_password(schema):
    dsn = f"host=127.0.0.1 port={closed_port()} user=ci password=hunter2-secret dbname=state"
    with pytest.raises(StateError) as caught:
        PostgresStore(dsn, schema=schema)
    message = str(caught.value)
    assert message.startswith("cannot connect to the PostgreSQL state at postgres://ci@127.0.0.1:")
    assert "hunter2-secret" not in message
    assert "\n" not in message


def test_a_malformed_dsn_is_refused_without_echoing_it(schema):
    with pytest.raises(StateError, match="not a valid PostgreSQL connection string") as caught:
        PostgresStore("password=s3cr3t nonsense", schema=schema)
    assert "s3cr3t" not in str(caught.value)


def test_describe_never_shows_the_password():
    target = safe_target("postgresql://ci:pa55@db.example.com:6543/leadsync")
    assert target == "postgres://ci@db.example.com:6543/leadsync"


def test_lock_keys_are_stable_and_per_schema():
    assert lock_key("leadsync", "apply") == lock_key("leadsync", "apply")
    assert lock_key("leadsync", "apply") != lock_key("other", "apply")
    assert lock_key("leadsync", "apply") != lock_key("leadsync", "account:apply")
    assert -(2**63) <= lock_key("leadsync", "x") < 2**63


def test_locks_in_other_schemas_do_not_block(pg_dsn, schema):
    a = PostgresStore(pg_dsn, schema=schema)
    b = PostgresStore(pg_dsn, schema=schema + "_b")
    try:
        with (
            a.lock(["apply"], timeout=0, purpose="apply"),
            b.lock(["apply"], timeout=0, purpose="apply"),
        ):
            assert [h.name for h in a.lock_holders()] == ["apply"]
            assert [h.name for h in b.lock_holders()] == ["apply"]
    finally:
        a.close()
        b.close()


def test_lock_holders_show_the_servers_view(pg_dsn, schema):
    a = PostgresStore(pg_dsn, schema=schema)
    b = PostgresStore(pg_dsn, schema=schema)
    try:
        with a.lock(["account:uk"], timeout=0, purpose="sync"):
            [holder] = b.lock_holders()
            assert holder.client_addr == "127.0.0.1"
            assert holder.application_name.startswith("leadsync sync ")
            assert holder.purpose == "sync"
            with (
                pytest.raises(
                    LockHeld,
                    match=r"held by .* \(pid \d+, sync\) since .*; session leadsync sync .* "
                    r"from 127\.0\.0\.1",
                ),
                b.lock(["account:uk"], timeout=0.2, purpose="sync"),
            ):
                pass
        assert b.lock_holders() == []
    finally:
        a.close()
        b.close()
