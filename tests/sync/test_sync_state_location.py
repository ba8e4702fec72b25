"""Where the state lives is not part of the integration: after `state migrate`, a new
`state.path` or a rotated DSN password, `plan`, `status` and `sync` all say "no difference"
(they used to disagree: plan "No changes", status and every sync "differs ... in: state.path")."""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest


def assert_all_agree_nothing_differs(ws) -> str:
    """status, sync and plan on the workspace; returns everything they printed."""
    as_json = ws.run("status", "-c", "leadsync.yaml", "--json", check=(0,))
    status = json.loads(as_json.stdout)
    assert status["applied"]["serial"] == 1
    assert (status["config_differs"], status["differences"]) == (False, [])
    text = ws.run("status", "-c", "leadsync.yaml", check=(0,))
    assert "matches the applied config" in text.stdout
    report = ws.sync()
    assert report["config_differs"] is False and report["warnings"] == []
    plan = ws.run("plan", "-c", "leadsync.yaml", "--detailed-exitcode", check=(0,))
    assert "No changes." in plan.stdout
    printed = as_json.stdout + as_json.stderr + text.stdout + text.stderr
    printed += json.dumps(report) + plan.stdout + plan.stderr
    assert "differs from" not in printed
    return printed


def test_a_moved_sqlite_state_is_not_a_difference(workspace, kit):
    ws = workspace()
    ws.run(
        "state",
        "migrate",
        "--from",
        "sqlite:.leadsync/state.db",
        "--to",
        f"sqlite:{ws.root / 'moved.db'}",
        check=(0,),
    )
    ws.write_config(kit.config_yaml().replace("path: .leadsync/state.db", "path: moved.db"))
    assert_all_agree_nothing_differs(ws)
    # a real change still shows, in status and sync alike
    ws.write_config(
        kit.config_yaml()
        .replace("path: .leadsync/state.db", "path: moved.db")
        .replace("lead_status: New", "lead_status: Working")
    )
    status = json.loads(ws.run("status", "-c", "leadsync.yaml", "--json", check=(0,)).stdout)
    assert status["differences"] == ["defaults.lead_status"]
    report = ws.sync()
    assert report["config_differs"] is True
    assert "differs from the applied state (serial 1) in: defaults.lead_status" in report["_stderr"]


def test_a_state_applied_before_the_format_change_then_moved(workspace, kit):
    """An applied snapshot written by leadsync 0.1.0 carries `state` and the Dotdigital address
    as written (format 1); read after the state moved, it must not report a difference."""
    ws = workspace()
    [(raw,)] = ws.state_rows("SELECT config FROM applied_state")
    old = json.loads(raw)
    old["format"] = 1
    old["state"] = {
        "backend": "sqlite",
        "path": str(ws.state_db),
        "dsn": None,
        "schema": "leadsync",
    }
    for account in old["accounts"].values():
        dd = account["dotdigital"]
        account["dotdigital"] = {"endpoint": dd["base_url"], "region": None, **dd}
    con = sqlite3.connect(ws.state_db)
    with con:
        con.execute("UPDATE applied_state SET config = ?", (json.dumps(old),))
    con.close()
    ws.state_db.rename(ws.root / "moved.db")
    ws.write_config(kit.config_yaml().replace("path: .leadsync/state.db", "path: moved.db"))
    assert_all_agree_nothing_differs(ws)


@pytest.mark.postgres
def test_migrated_to_postgres_then_its_password_rotated(workspace, kit, pg_database):
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    role = f"r_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_database.dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw-one-Q7'").format(sql.Identifier(role))
        )
        admin.execute(
            sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                sql.Identifier(pg_database.name), sql.Identifier(role)
            )
        )
    try:
        ws = workspace()
        ws.env["LEADSYNC_STATE_DSN"] = make_conninfo(
            pg_database.dsn, user=role, password="pw-one-Q7"
        )
        ws.run(
            "state",
            "migrate",
            "--from",
            "sqlite:.leadsync/state.db",
            "--to",
            "postgres:",
            check=(0,),
        )
        pg_state = "  backend: postgres\n  dsn: ${LEADSYNC_STATE_DSN}\n  schema: leadsync\n"
        ws.write_config(
            kit.config_yaml().replace("  backend: sqlite\n  path: .leadsync/state.db\n", pg_state)
        )
        printed = assert_all_agree_nothing_differs(ws)
        with psycopg.connect(pg_database.dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("ALTER ROLE {} PASSWORD 'pw-two-Q7'").format(sql.Identifier(role))
            )
        ws.env["LEADSYNC_STATE_DSN"] = make_conninfo(
            pg_database.dsn, user=role, password="pw-two-Q7"
        )
        printed += assert_all_agree_nothing_differs(ws)
        assert "pw-one-Q7" not in printed and "pw-two-Q7" not in printed
    finally:
        with psycopg.connect(pg_database.dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
