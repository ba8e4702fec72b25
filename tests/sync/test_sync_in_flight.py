"""Issue 9, case 2: a write still in flight when its run is killed.

The reproduction: a sync's Lead write is held by the emulator (Salesforce is still working on
it); the sync is SIGKILLed; a second sync starts at once, before that request has finished;
then the held request completes, as Salesforce completes requests whose client has gone away.
Before leadsync knew about this, the second run looked the members up by email, did not find
them yet, and created them again: two Leads per person.

- With the Lead key (Leadsync_Key__c: Text, Unique, External ID) every Lead write is an upsert
  on `<account>:<contact id>`: the second run writes the Leads, the late request updates them.
- Without it, the second run leaves the members waiting (sync.in_doubt_grace, 15m); once the
  grace has passed (the attempt time is aged in the state file, not slept through) a run finds
  the Leads the late request made and records them as created.

Either way: exactly one Lead per person, each a member of the linked campaign.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import pytest

KEY = "Leadsync_Key__c"
PEOPLE = ["fly0@example.com", "fly1@example.com", "fly2@example.com"]
LEAD_CREATE = r"composite/sobjects$"
LEAD_UPSERT = r"composite/sobjects/Lead/Leadsync_Key__c$"


def _seed(kit, *, keyed: bool) -> dict[str, Any]:
    seed = copy.deepcopy(kit.BASE_SEED)
    if keyed:
        seed["salesforce"]["lead_fields"].append(
            {"name": KEY, "type": "string", "length": 255, "unique": True, "external_id": True}
        )
    return seed


def _setup(workspace, kit, *, keyed: bool, **sync: Any):
    ws = workspace(seed=_seed(kit, keyed=keyed), config=kit.config_yaml(sync=sync or None))
    contacts = {}
    for i, email in enumerate(PEOPLE):
        contacts[email] = ws.add_member(email, kit.member(f"Fly{i}", "Inflight", "Co"))["id"]
    ws.emu.reset_log()
    return ws, contacts


def _one_lead_per_person(ws) -> dict[str, dict[str, Any]]:
    """Each person is exactly one Lead and one CampaignMember; the ledger says created."""
    counts = Counter(r["Email"].lower() for r in ws.query("SELECT Email FROM Lead"))
    assert {e: counts[e] for e in PEOPLE} == dict.fromkeys(PEOPLE, 1)
    leads = ws.leads()  # also fails on any duplicate email
    members = ws.campaign_members()  # also fails on a duplicate (campaign, Lead) pair
    ours = {leads[e]["Id"] for e in PEOPLE}
    assert sorted(m["LeadId"] for m in members if m["LeadId"] in ours) == sorted(ours)
    created = dict(ws.state_rows("SELECT email, lead_id FROM ledger WHERE state = 'created'"))
    assert {e: created.get(e) for e in PEOPLE} == {e: leads[e]["Id"] for e in PEOPLE}
    assert ws.state_rows("SELECT COUNT(*) FROM ledger WHERE attempt IS NOT NULL") == [(0,)]
    return leads


def _writes(ws, method: str, regex: str) -> int:
    import re

    log = ws.emu.requests_log("salesforce")["requests"]
    return sum(r["method"] == method and re.search(regex, r["path"]) is not None for r in log)


def test_sync_killed_mid_upsert_then_rerun_at_once_leaves_one_lead_per_person(workspace, kit):
    ws, contacts = _setup(workspace, kit, keyed=True)
    kit.kill_while_held(ws, service="salesforce", method="PATCH", regex=LEAD_UPSERT)

    second = ws.sync(code=(0,))  # the held upsert has not finished yet
    book = second["books"][0]
    assert (book["created"], book["waiting_in_doubt"], book["campaign_members_added"]) == (3, 0, 3)
    kit.release_held(ws, service="salesforce", method="PATCH", regex=LEAD_UPSERT, nth=2)

    leads = _one_lead_per_person(ws)
    rows = ws.query(f"SELECT Email, {KEY} FROM Lead WHERE {KEY} != null")
    assert {r["Email"].lower(): r[KEY] for r in rows} == {e: f"uk:{contacts[e]}" for e in PEOPLE}
    third = ws.sync(code=(0,))  # nothing left to do, and still one Lead each
    assert third["totals"]["created"] == 0
    assert _one_lead_per_person(ws) == leads


def test_sync_killed_mid_create_without_the_key_waits_then_settles(workspace, kit):
    ws, _ = _setup(workspace, kit, keyed=False)
    kit.kill_while_held(ws, service="salesforce", method="POST", regex=LEAD_CREATE)

    second = ws.sync(code=(4,))  # the held create has not finished yet: incomplete
    assert second["status"] == "incomplete"
    book = second["books"][0]
    assert (book["waiting_in_doubt"], book["created"], book["seen"]) == (3, 0, 0)
    assert second["totals"]["waiting_in_doubt"] == 3
    assert _writes(ws, "POST", LEAD_CREATE) == 0  # nothing re-sent (the held one: not done)
    text = ws.run("sync", "-c", "leadsync.yaml", check=(4,)).stdout  # still inside the grace
    assert "3 waiting" in " ".join(text.split()) and "in_doubt_grace" in text
    kit.release_held(ws, service="salesforce", method="POST", regex=LEAD_CREATE)
    counts = Counter(r["Email"].lower() for r in ws.query("SELECT Email FROM Lead"))
    assert {e: counts[e] for e in PEOPLE} == dict.fromkeys(PEOPLE, 1)  # made by the late create

    ws.age_attempts()  # the grace has passed
    ws.emu.reset_log()
    later = ws.sync(code=(0,))
    assert (later["totals"]["created"], later["totals"]["waiting_in_doubt"]) == (3, 0)
    assert _writes(ws, "POST", LEAD_CREATE) == 1  # the CampaignMembers only: no Lead re-sent
    _one_lead_per_person(ws)


def test_sync_without_the_key_sends_once_after_the_grace_when_the_create_never_landed(
    workspace, kit
):
    """The held create is dropped when released (it never reached Salesforce's database):
    inside the grace the members keep waiting, absent or not; after it, absent means never
    created, and they are sent once."""
    ws, _ = _setup(workspace, kit, keyed=False)
    kit.kill_while_held(
        ws, service="salesforce", method="POST", regex=LEAD_CREATE, drop_connection=True
    )
    assert ws.sync(code=(4,))["totals"]["waiting_in_doubt"] == 3
    kit.release_held(ws, service="salesforce", method="POST", regex=LEAD_CREATE)
    assert ws.leads() == {"grace@example.com": ws.leads()["grace@example.com"]}  # none made
    assert ws.sync(code=(4,))["totals"]["waiting_in_doubt"] == 3  # still inside the grace
    ws.age_attempts()
    ws.emu.reset_log()
    after = ws.sync(code=(0,))
    assert (after["totals"]["created"], after["totals"]["waiting_in_doubt"]) == (3, 0)
    assert _writes(ws, "POST", LEAD_CREATE) == 2  # the Leads once, then the CampaignMembers
    _one_lead_per_person(ws)


@pytest.mark.parametrize(
    ("method", "regex"),
    [("PUT", r"jobs/ingest/[^/]+/batches$"), ("PATCH", r"jobs/ingest/[^/]+$")],
    ids=["upload", "close"],
)
def test_sync_killed_mid_bulk_upsert_then_rerun_at_once_leaves_one_lead_per_person(
    workspace, kit, method, regex
):
    ws, contacts = _setup(workspace, kit, keyed=True, bulk_threshold=2)
    kit.kill_while_held(ws, service="salesforce", method=method, regex=regex)
    [(attempt,)] = ws.state_rows("SELECT DISTINCT attempt FROM ledger WHERE attempt != ''")
    assert attempt.startswith("key:bulkjob:")  # the job id, recorded before the upload

    second = ws.sync(code=(0,))  # the held step has not finished yet
    assert (second["totals"]["created"], second["totals"]["waiting_in_doubt"]) == (3, 0)
    kit.release_held(ws, service="salesforce", method=method, regex=regex, nth=2)

    _one_lead_per_person(ws)
    rows = ws.query(f"SELECT Email, {KEY} FROM Lead WHERE {KEY} != null")
    assert {r["Email"].lower(): r[KEY] for r in rows} == {e: f"uk:{contacts[e]}" for e in PEOPLE}


def test_sync_records_a_lead_holding_our_key_as_created_not_excluded(workspace, kit):
    """A Lead with a member's email AND that member's key was made by a write of ours (one
    that finished after its run gave up on it): the member is created, and joins the campaign,
    instead of being excluded as an existing Lead."""
    ws, contacts = _setup(workspace, kit, keyed=True)
    email = PEOPLE[0]
    made = ws.emu.salesforce().Lead.create(
        {"LastName": "Inflight", "Company": "Co", "Email": email, "Region__c": "EMEA",
         KEY: f"uk:{contacts[email]}"}
    )  # fmt: skip
    report = ws.sync(code=(0,))
    book = report["books"][0]
    assert (book["created"], book["excluded_existing"]) == (3, 0)
    assert _one_lead_per_person(ws)[email]["Id"] == made["id"]
