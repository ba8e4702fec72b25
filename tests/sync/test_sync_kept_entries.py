"""A run keeps the ledger entries it stored in memory for the steps after the Lead write (the
campaign step, the update step's new links) and asks the state only for other runs' entries.
Guard: people an earlier run left waiting for their CampaignMember join the campaign in the
next run together with that run's new people, each exactly once. Passes before the change
too: it pins the behaviour the change must keep."""

from __future__ import annotations

import json

FIRST = ["kept0@example.com", "kept1@example.com"]
LATER = "kept2@example.com"


def test_earlier_runs_waiting_members_join_with_this_runs_new_ones(workspace, kit) -> None:
    ws = workspace()
    for i, email in enumerate(FIRST):
        ws.add_member(email, kit.member(f"Kept{i}", "Before", "Co"))
    # the Leads' POST passes; the CampaignMembers' POST is refused as a whole
    ws.emu.inject_fault("salesforce", method="POST", path_regex="composite/sobjects$", times=1,
                        delay_ms=1)  # fmt: skip
    ws.emu.inject_fault("salesforce", method="POST", path_regex="composite/sobjects$", times=1,
                        status=400)  # fmt: skip
    ws.run("sync", "-c", "leadsync.yaml", "--json", check=(0, 1, 4))
    assert set(FIRST) <= set(ws.leads()) and ws.campaign_members() == []
    waiting = "SELECT COUNT(*) FROM ledger WHERE state = 'created' AND campaign_member_id IS NULL"
    assert ws.state_rows(waiting) == [(2,)]

    ws.add_member(LATER, kit.member("Kept2", "Later", "Co"))
    report = json.loads(ws.run("sync", "-c", "leadsync.yaml", "--json", check=(0,)).stdout)
    assert report["totals"]["created"] == 1 and report["totals"]["campaign_members_added"] == 3
    leads = ws.leads()
    ours = sorted(leads[email]["Id"] for email in [*FIRST, LATER])
    members = ws.campaign_members()  # fails on a duplicate (campaign, lead) pair
    assert sorted(m["LeadId"] for m in members) == ours
    assert ws.state_rows(waiting) == [(0,)]
