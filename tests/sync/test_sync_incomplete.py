"""A run that leaves records pending because writes failed is `incomplete`: exit 4, its error
classes in the report, each record's last error in `records --state pending`, and the example
workflow goes red. Then a healthy re-run completes (exit 0).

Reproduction this started from: with Salesforce answering 500 to every Lead create, `leadsync
sync` exited 0 with `status: done`, `pending 6` and no reason anywhere.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "leadsync-sync.yml"
CREATE = "composite/sobjects$"  # sObject Collections: the Lead create
UPSERT = "composite/sobjects/Lead/Leadsync_Key__c$"  # the same, in an org with the upsert key


def _members(ws, kit, n: int, prefix: str = "e") -> set[str]:
    for i in range(n):
        ws.add_member(f"{prefix}{i}@example.com", kit.member(f"E{i}", "Err", "Co"))
    return {f"{prefix}{i}@example.com" for i in range(n)}


def workflow_verdict(tmp: Path, exit_code: int, report_text: str) -> subprocess.CompletedProcess:
    """Run the example sync workflow's verdict step on a sync's exit code and --json output."""
    doc = yaml.safe_load(WORKFLOW.read_text())
    step = next(s for s in doc["jobs"]["sync"]["steps"] if s.get("id") == "verdict")
    assert step["env"]["SYNC_EXIT"] == "${{ steps.sync.outputs.exitcode }}"
    (tmp / "sync-report.json").write_text(report_text)
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=tmp,
        env={"PATH": os.environ["PATH"], "SYNC_EXIT": str(exit_code)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_500_on_every_create_is_incomplete_with_exit_4_then_a_healthy_run_completes(
    workspace, kit, tmp_path
) -> None:
    ws = workspace()
    emails = _members(ws, kit, 6)
    ws.emu.inject_fault("salesforce", method="POST", path_regex=CREATE, status=500)  # unlimited

    proc = ws.run("sync", "--json", check=(4,))
    report = json.loads(proc.stdout)
    assert (report["status"], report["exit_code"]) == ("incomplete", 4)
    assert report["totals"]["pending"] == 6 and report["totals"]["created"] == 0
    [error] = report["errors"]
    assert (error["class"], error["system"], error["count"]) == ("HTTP 500", "Salesforce", 6)
    sample = error["sample"]
    assert sample["email"] in emails and (sample["account"], sample["book"]) == (
        "uk",
        "Webinar signups",
    )
    assert "create Lead" in sample["message"] and "UNKNOWN_EXCEPTION" in sample["message"]
    assert not emails & set(ws.leads())
    saved = ws.state_rows(f"SELECT report FROM runs WHERE run_id = '{report['run_id']}'")
    assert json.loads(saved[0][0])["status"] == "incomplete"
    verdict = workflow_verdict(tmp_path, proc.returncode, proc.stdout)
    assert verdict.returncode == 1 and "incomplete" in verdict.stdout, verdict.stdout

    # The text report says the same (a second run: still failing, still incomplete).
    text = ws.run("sync", check=(4,)).stdout
    assert "incomplete: 6 records are still pending because writes failed" in text
    assert "HTTP 500 x6 (Salesforce), e.g. uk/Webinar signups e" in text

    pending = json.loads(ws.run("records", "--state", "pending", "--json", check=(0,)).stdout)
    assert {r["email"] for r in pending} == emails
    for record in pending:
        last = record["last_error"]
        assert (last["class"], last["system"]) == ("HTTP 500", "Salesforce")
        assert "create Lead" in last["message"] and last["run"] == record["last_run"]
    plain = ws.run("records", "--state", "pending", check=(0,)).stdout.splitlines()
    assert plain[0].endswith("last error")
    assert all("HTTP 500: Salesforce: create Lead" in line for line in plain[1:-1])

    ws.emu.clear_faults()
    proc = ws.run("sync", "--json", check=(0,))
    healthy = json.loads(proc.stdout)
    assert (healthy["status"], healthy["exit_code"], healthy["errors"]) == ("done", 0, [])
    assert healthy["totals"]["created"] == 6 and healthy["totals"]["pending"] == 0
    assert emails <= set(ws.leads())  # ws.leads() also asserts: no duplicate Lead
    assert len(ws.campaign_members()) == 6
    assert json.loads(ws.run("records", "--state", "pending", "--json").stdout) == []
    assert workflow_verdict(tmp_path, proc.returncode, proc.stdout).returncode == 0


@pytest.mark.parametrize(
    ("fault", "error_class"),
    [
        ({"drop_connection": True}, "CONNECTION_ERROR"),  # the answer never came back
        (
            {
                "status": 200,
                "body": [
                    {
                        "success": False,
                        "errors": [
                            {
                                "statusCode": "UNABLE_TO_LOCK_ROW",
                                "message": "unable to obtain exclusive access to this record",
                                "fields": [],
                            }
                        ],
                    }
                ]
                * 2,
            },
            "UNABLE_TO_LOCK_ROW",  # a per-record "not now" in a 200 answer
        ),
    ],
    ids=["dropped-connection", "record-locked"],
)
def test_other_transient_write_failures_are_incomplete_with_their_class(
    workspace, kit, fault, error_class
) -> None:
    # An org with the Lead upsert key: a write whose answer was lost can be sent again at once
    # (without it, it waits out sync.in_doubt_grace; tests/sync/test_sync_in_flight.py).
    seed = copy.deepcopy(kit.BASE_SEED)
    seed["salesforce"]["lead_fields"].append(
        {
            "name": "Leadsync_Key__c",
            "type": "string",
            "length": 255,
            "unique": True,
            "external_id": True,
        }
    )
    ws = workspace(seed=seed)
    emails = _members(ws, kit, 2, prefix="t")
    ws.emu.inject_fault("salesforce", method="PATCH", path_regex=UPSERT, **fault)
    report = ws.sync(code=(4,))
    assert report["status"] == "incomplete" and report["totals"]["pending"] == 2
    assert [(e["class"], e["count"]) for e in report["errors"]] == [(error_class, 2)]
    pending = json.loads(ws.run("records", "--state", "pending", "--json", check=(0,)).stdout)
    assert {r["email"]: r["last_error"]["class"] for r in pending} == dict.fromkeys(
        emails, error_class
    )
    ws.emu.clear_faults()
    assert ws.sync(code=(0,))["totals"]["created"] == 2
    assert emails <= set(ws.leads())


def test_failed_and_skipped_records_alone_keep_status_done_and_the_workflow_green(
    workspace, kit, tmp_path
) -> None:
    """Exit 4 for data problems (a person must fix them; a re-run cannot) is not incomplete."""
    ws = workspace()
    ws.add_member("linus@example.com", kit.member("Linus", "Chen", None))  # no Company: skipped
    proc = ws.run("sync", "--json", check=(4,))
    report = json.loads(proc.stdout)
    assert (report["status"], report["errors"]) == ("done", [])
    assert report["totals"]["skipped_missing_fields"] == 1
    verdict = workflow_verdict(tmp_path, proc.returncode, proc.stdout)
    assert verdict.returncode == 0 and "::warning::" in verdict.stdout
