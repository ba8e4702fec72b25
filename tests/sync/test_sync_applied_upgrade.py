"""An applied state written before a default existed, read by this version: `status`, `sync`
and `plan` agree that nothing differs (the trap of a new key: every sync warning "differs"
forever after an upgrade). The state is a real SQLite file applied through the CLI, then
rewritten to what an older leadsync stored: no `defaults.assignment_rule`, no
`salesforce_schema.assignment_rule`."""

from __future__ import annotations

import json
import sqlite3


def test_a_state_applied_before_a_default_existed_does_not_differ(workspace):
    ws = workspace()
    [(config, resolved)] = ws.state_rows("SELECT config, resolved FROM applied_state")
    config, resolved = json.loads(config), json.loads(resolved)
    assert config["defaults"]["assignment_rule"] == "active"  # what this version writes
    config["defaults"].pop("assignment_rule")
    resolved["defaults"].pop("assignment_rule")
    resolved["salesforce_schema"].pop("assignment_rule")
    con = sqlite3.connect(ws.state_db)
    with con:
        con.execute(
            "UPDATE applied_state SET config = ?, resolved = ?",
            (json.dumps(config), json.dumps(resolved)),
        )
    con.close()
    status = json.loads(ws.run("status", "-c", "leadsync.yaml", "--json", check=(0,)).stdout)
    assert (status["config_differs"], status["differences"]) == (False, [])
    report = ws.sync()
    assert report["config_differs"] is False and report["warnings"] == []
    assert "differs from" not in report["_stderr"]
    plan = ws.run("plan", "-c", "leadsync.yaml", "--detailed-exitcode", check=(0,))
    assert "No changes." in plan.stdout
