"""Least privilege on a real PostgreSQL: a role that owns only its schema runs everything, a
read-only role (USAGE + SELECT) runs the read commands, and a missing privilege is one line
that names the GRANT which fixes it."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.postgres


def _admin(dsn: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _as(dsn: str, role: str) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(dsn, user=role)


def test_schema_owner_and_read_only_roles(tmp_path, emulator_factory, pg_database, kit) -> None:
    owner, reader = "ls_owner", "ls_reader"
    _admin(
        pg_database.dsn,
        f"DROP ROLE IF EXISTS {owner}",
        f"DROP ROLE IF EXISTS {reader}",
        f"CREATE ROLE {owner} LOGIN",
        f"CREATE ROLE {reader} LOGIN",
        f'REVOKE CREATE ON DATABASE "{pg_database.name}" FROM PUBLIC',
        f"CREATE SCHEMA leadsync AUTHORIZATION {owner}",
    )
    try:
        ws = kit.Workspace(tmp_path, emulator_factory(kit.BASE_SEED))
        ws.env[pg_database.env_var] = _as(pg_database.dsn, owner)
        ws.write_config(kit.config_yaml().replace(kit.SQLITE_BLOCK, pg_database.state_yaml()))
        ws.apply()  # creates the tables in the schema it owns; no CREATE on the database
        ws.add_member("owner@example.com", kit.member("Olive", "Owner", "Acme"))
        assert ws.sync(code=(0,))["totals"]["created"] == 1

        _admin(
            pg_database.dsn,
            f"GRANT USAGE ON SCHEMA leadsync TO {reader}",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA leadsync TO {reader}",
        )
        ws.env[pg_database.env_var] = _as(pg_database.dsn, reader)
        status = json.loads(ws.run("status", "--json", check=(0,)).stdout)
        assert status["applied"]["serial"] == 1
        records = ws.run("records", "--state", "created", "--json", check=(0,))
        assert "owner@example.com" in records.stdout
        assert "serial" in ws.run("history", check=(0,)).stdout.lower()

        ws.add_member("reader@example.com", kit.member("Rita", "Reader", "Acme"))
        refused = ws.run("sync", "-c", "leadsync.yaml", check=(1,))
        lines = [line for line in refused.stderr.splitlines() if line.strip()]
        message = next(line for line in lines if "permission denied" in line)
        assert f"role {reader}" in message, message
        assert "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA" in message, message
        assert "reader@example.com" not in {e for e in ws.leads()}
    finally:
        _admin(
            pg_database.dsn,
            "DROP SCHEMA IF EXISTS leadsync CASCADE",
            f"DROP ROLE IF EXISTS {owner}",
            f"DROP ROLE IF EXISTS {reader}",
        )
