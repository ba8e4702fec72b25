"""Lead routing does not depend on batch size: `defaults.assignment_rule` is applied alike to
Leads written through sObject Collections (Sforce-Auto-Assign) and Bulk API 2.0
(assignmentRuleId). Salesforce's own defaults differ: REST runs the active rule unless told
not to, a bulk job runs none unless it names one."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

REP = "rita.rep@example.com"
SPARE_OWNER = "sam.spare@example.com"
INTEGRATION = "admin@leadsync.test"  # BASE_SEED's first user: every API session acts as it
KEY = "Leadsync_Key__c"  # with it, every Lead write is an upsert on the key


def _seed(kit: Any) -> dict[str, Any]:
    seed = copy.deepcopy(kit.BASE_SEED)
    sf = seed["salesforce"]
    sf["users"] += [
        {"username": REP, "password": "pw-2", "name": "Rita Rep"},
        {"username": SPARE_OWNER, "password": "pw-3"},
    ]
    sf["assignment_rules"] = [
        {"name": "Route web leads", "active": True, "owner": REP},
        {"name": "Spare rule", "owner": SPARE_OWNER},
    ]
    return seed


def _config(kit: Any, rule: str | None) -> str:
    text = kit.config_yaml(sync={"bulk_threshold": 4})
    if rule is not None:
        text = text.replace(
            "  campaign_member_status: Sent\n",
            f"  campaign_member_status: Sent\n  assignment_rule: {rule}\n",
        )
    return text


def _signups(ws: Any, kit: Any, prefix: str, n: int) -> None:
    for i in range(n):
        ws.add_member(f"{prefix}{i}@example.com", kit.member(f"{prefix}{i}", "Signup", "Co"))


def _owners_after_both_paths(ws: Any, kit: Any, *, collections: str = "POST") -> dict[str, str]:
    """3 signups (below bulk_threshold 4: Collections), then 4 (Bulk API 2.0) -> owner by email.
    `collections`: the method of the Collections writes (PATCH: upserts on the Lead key)."""
    ws.emu.reset_log()
    _signups(ws, kit, "coll", 3)
    assert ws.sync(code=(0,))["totals"]["created"] == 3
    _signups(ws, kit, "bulk", 4)
    assert ws.sync(code=(0,))["totals"]["created"] == 4
    counts = ws.emu.requests_log("salesforce")["counts"]
    assert sum(n for k, n in counts.items() if k.startswith(collections) and "sobjects" in k)
    assert sum(n for k, n in counts.items() if k.startswith("POST") and k.endswith("jobs/ingest"))
    rows = ws.query("SELECT Email, Owner.Username FROM Lead WHERE LastName = 'Signup'")
    return {r["Email"]: r["Owner"]["Username"] for r in rows}


def test_the_active_rule_routes_collections_and_bulk_leads_alike(workspace, kit) -> None:
    ws = workspace(seed=_seed(kit), config=_config(kit, None))  # default: active
    owners = _owners_after_both_paths(ws, kit)
    assert len(owners) == 7
    assert set(owners.values()) == {REP}, owners


def test_assignment_rule_none_leaves_the_integration_user_on_both_paths(workspace, kit) -> None:
    ws = workspace(seed=_seed(kit), config=_config(kit, "none"))
    owners = _owners_after_both_paths(ws, kit)
    assert len(owners) == 7
    assert set(owners.values()) == {INTEGRATION}, owners


def test_a_named_rule_is_checked_by_plan_and_used_on_both_paths(workspace, kit) -> None:
    ws = workspace(seed=_seed(kit), config=_config(kit, "Spare rules"), apply=False)
    proc = ws.run("plan", "-c", "leadsync.yaml", check=(1,))
    out = proc.stdout + proc.stderr
    assert "LS211" in out and "assignment_rule" in out
    line = (
        ws.root.joinpath("leadsync.yaml")
        .read_text()
        .splitlines()
        .index("  assignment_rule: Spare rules")
    )
    assert f"leadsync.yaml:{line + 1}:" in out
    assert "did you mean 'Spare rule'" in out

    ws.write_config(_config(kit, '"spare rule"'))  # names match case-insensitively when unique
    ws.apply()
    owners = _owners_after_both_paths(ws, kit)
    assert set(owners.values()) == {SPARE_OWNER}, owners  # inactive, but named: it runs


@pytest.mark.parametrize(
    ("rule", "owner"), [(None, REP), ("Spare rule", SPARE_OWNER)], ids=["active", "named"]
)
def test_upserts_on_the_lead_key_are_routed_alike_on_both_paths(workspace, kit, rule, owner):
    """In an org with Leadsync_Key__c the writes are a Collections upsert (PATCH) and a Bulk
    API 2.0 upsert job: the header and the job's assignmentRuleId go with them, and Salesforce
    runs the rule on the Leads they create."""
    seed = _seed(kit)
    seed["salesforce"]["lead_fields"].append(
        {"name": KEY, "type": "string", "length": 255, "unique": True, "external_id": True}
    )
    ws = workspace(seed=seed, config=_config(kit, rule))
    owners = _owners_after_both_paths(ws, kit, collections="PATCH")
    assert len(owners) == 7
    assert set(owners.values()) == {owner}, owners
    keyed = ws.query(f"SELECT Email FROM Lead WHERE LastName = 'Signup' AND {KEY} != null")
    assert len(keyed) == 7
    sf = ws.emu.salesforce(version="61.0")
    [rule_id] = [r["Id"] for r in sf.query("SELECT Id, Name FROM AssignmentRule")["records"]
                 if r["Name"] == ("Spare rule" if rule else "Route web leads")]  # fmt: skip
    paths = {r["path"] for r in ws.emu.requests_log("salesforce")["requests"]}
    jobs = {m[1] for p in paths if (m := re.search(r"/jobs/ingest/(\w+)$", p))}
    leads = [info for info in map(sf.restful, (f"jobs/ingest/{j}" for j in jobs))
             if info["object"] == "Lead"]  # fmt: skip
    assert leads
    for info in leads:
        assert (info["operation"], info["externalIdFieldName"]) == ("upsert", KEY)
        assert info["assignmentRuleId"] == rule_id
