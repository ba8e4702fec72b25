"""Exactly once when a write's outcome is unknown (invariant 6, peers (c) 1 and 10).

The emulator's `drop_connection: "after"` applies a create and then drops the connection without
an answer: the situation where a blind retry duplicates Leads in a real org without a duplicate
rule. The sync must settle such a write from Salesforce (Leads by email) within the same run,
re-send only what is absent, and never create a Lead or CampaignMember twice. "Absent" is only
final when the write cannot still be running at Salesforce: Salesforce answered it (500), or it
was an upsert on the Lead key (Leadsync_Key__c); otherwise the members wait out
sync.in_doubt_grace (tests/sync/test_sync_in_flight.py has the kill-and-rerun cases).
"""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

EMAILS = ["amb0@example.com", "amb1@example.com", "amb2@example.com"]
LEAD_POST = "composite/sobjects$"
# The settling lookup after an ambiguous write: Leads by email, converted ones included (the
# pre-write check of exclude_existing asks for IsConverted = false and is not matched).
SETTLE_QUERY = "^(?!.*IsConverted).*FROM Lead WHERE"


KEY = "Leadsync_Key__c"
LEAD_UPSERT = "composite/sobjects/Lead/Leadsync_Key__c$"


def _keyed_seed(kit) -> dict[str, Any]:
    seed = copy.deepcopy(kit.BASE_SEED)
    seed["salesforce"]["lead_fields"].append(
        {"name": KEY, "type": "string", "length": 255, "unique": True, "external_id": True}
    )
    return seed


def _setup(workspace, kit, *, keyed: bool = False, **config: Any):
    seed = _keyed_seed(kit) if keyed else None
    ws = workspace(seed=seed, config=kit.config_yaml(**config) if config else None)
    for i, email in enumerate(EMAILS):
        ws.add_member(email, kit.member(f"Amb{i}", "Iguous", "Co"))
    ws.emu.reset_log()
    return ws


def _assert_exactly_once(ws) -> None:
    """Every member is one Lead, and one CampaignMember of the linked campaign."""
    counts = Counter(r["Email"].lower() for r in ws.query("SELECT Email FROM Lead"))
    assert {e: counts[e] for e in EMAILS} == dict.fromkeys(EMAILS, 1)
    leads = ws.leads()  # also asserts no duplicate email at all
    members = ws.campaign_members()  # also asserts no duplicate (campaign, lead) pair
    ours = {leads[e]["Id"] for e in EMAILS}
    assert sorted(m["LeadId"] for m in members if m["LeadId"] in ours) == sorted(ours)
    assert all(m["Status"] == "Sent" for m in members)
    assert ws.state_rows("SELECT COUNT(*) FROM ledger WHERE attempt IS NOT NULL") == [(0,)]
    created = ws.state_rows("SELECT email, lead_id FROM ledger WHERE state = 'created'")
    assert {e: i for e, i in created if e in EMAILS} == {e: leads[e]["Id"] for e in EMAILS}


def _posts(ws) -> list[int]:
    return [
        r["status"]
        for r in ws.emu.requests_log("salesforce")["requests"]
        if r["method"] == "POST" and r["path"].endswith("composite/sobjects")
    ]


def _clean(report: dict[str, Any]) -> None:
    assert report["_exit"] == 0 and report["status"] == "done"
    book = report["books"][0]
    assert (book["created"], book["pending"], book["failed"]) == (3, 0, 0)
    assert book["campaign_members_added"] == 3


@pytest.mark.parametrize(
    ("fault", "posts"),
    [
        # Applied, answer lost: all three are found by email, nothing is sent again.
        ({"drop_connection": "after"}, [0, 200]),
        # A 500 (Salesforce answered: the request is over): found absent, so sent again once,
        # then the members. (Lost on the way in: test_sync_create_lost_on_the_way_in_waits.)
        ({"status": 500}, [500, 200, 200]),  # 502/504: tests/clients
    ],
    ids=["drop-after", "500"],
)
def test_sync_lead_create_with_unknown_outcome_is_settled_not_repeated(
    workspace, kit, fault, posts
) -> None:
    ws = _setup(workspace, kit)
    ws.emu.inject_fault("salesforce", method="POST", path_regex=LEAD_POST, times=1, **fault)
    report = ws.sync(code=(0,))
    _clean(report)
    assert _posts(ws) == posts  # Lead POST(s), then one CampaignMember POST
    _assert_exactly_once(ws)
    if fault.get("drop_connection") == "after":
        assert ws.sync(code=(0,))["totals"]["created"] == 0  # a second run has nothing to do
        _assert_exactly_once(ws)


def test_sync_create_lost_on_the_way_in_waits_then_is_sent_once(workspace, kit) -> None:
    """No answer at all, and no Lead key: the create may still be running at Salesforce, so the
    members are looked up (absent) but not re-sent; they wait out sync.in_doubt_grace (15m).
    Once it has passed (the attempt time aged in the state file), absent means never sent."""
    ws = _setup(workspace, kit)
    ws.emu.inject_fault(
        "salesforce", method="POST", path_regex=LEAD_POST, drop_connection=True, times=1
    )
    first = ws.sync(code=(4,))  # incomplete: the Leads are not confirmed yet
    book = first["books"][0]
    assert (book["created"], book["pending"], book["waiting_in_doubt"]) == (0, 3, 3)
    assert first["status"] == "incomplete"
    assert [(e["class"], e["count"]) for e in first["errors"]] == [("CONNECTION_ERROR", 3)]
    assert _posts(ws) == [0]  # never re-sent
    again = ws.sync(code=(4,))
    assert (again["status"], again["totals"]["waiting_in_doubt"]) == ("incomplete", 3)
    ws.age_attempts()
    ws.emu.reset_log()
    second = ws.sync(code=(0,))
    assert (second["totals"]["created"], second["totals"]["waiting_in_doubt"]) == (3, 0)
    assert _posts(ws) == [200, 200]  # the Leads once, then the members
    _assert_exactly_once(ws)


@pytest.mark.parametrize(
    "fault",
    [{"drop_connection": "after"}, {"drop_connection": True}, {"status": 500}, {"status": 504}],
    ids=["drop-after", "drop-before", "500", "504"],
)
def test_sync_keyed_upsert_with_unknown_outcome_is_sent_again_at_once(workspace, kit, fault):
    """With the Lead key, a write whose outcome is unknown is an upsert: asked again at once
    (it cannot make a second Lead), so the run ends with every member created exactly once."""
    ws = _setup(workspace, kit, keyed=True)
    ws.emu.inject_fault("salesforce", method="PATCH", path_regex=LEAD_UPSERT, times=1, **fault)
    report = ws.sync(code=(0,))
    _clean(report)
    upserts = [
        r["status"]
        for r in ws.emu.requests_log("salesforce")["requests"]
        if r["method"] == "PATCH" and "composite/sobjects/Lead" in r["path"]
    ]
    assert upserts == [fault.get("status", 0), 200]
    assert _posts(ws) == [200]  # only the CampaignMembers were created by POST
    _assert_exactly_once(ws)
    keys = {r["Email"].lower(): r[KEY] for r in ws.query(f"SELECT Email, {KEY} FROM Lead")}
    ids = dict(ws.state_rows("SELECT email, contact_id FROM ledger"))
    assert {e: keys[e] for e in EMAILS} == {e: f"uk:{ids[e]}" for e in EMAILS}


def test_sync_campaign_member_create_with_unknown_outcome_is_sent_again(workspace, kit) -> None:
    ws = _setup(workspace, kit)
    # The first POST (the Leads) passes; the second (the CampaignMembers) is applied but its
    # answer is lost. Re-sent, it answers DUPLICATE_VALUE: done, exactly once.
    ws.emu.inject_fault("salesforce", method="POST", path_regex=LEAD_POST, delay_ms=1, times=1)
    ws.emu.inject_fault(
        "salesforce", method="POST", path_regex=LEAD_POST, drop_connection="after", times=1
    )
    report = ws.sync(code=(0,))
    _clean(report)
    assert _posts(ws) == [200, 0, 200]
    _assert_exactly_once(ws)


def test_sync_lookup_failing_after_an_ambiguous_create_leaves_it_in_doubt(workspace, kit) -> None:
    """The answer is lost AND Salesforce cannot be asked right now: the members stay in doubt
    (pending in the report, nothing re-sent); the next run settles them without a new Lead."""
    ws = _setup(workspace, kit)
    ws.emu.inject_fault(
        "salesforce", method="POST", path_regex=LEAD_POST, drop_connection="after", times=1
    )
    ws.emu.inject_fault(
        "salesforce",
        method="GET",
        path_regex="/query/?$",
        query_regex=SETTLE_QUERY,
        status=503,
        headers={"Retry-After": "0"},
    )
    first = ws.sync(code=(4,))  # incomplete: the run could not learn what it wrote
    book = first["books"][0]
    assert (book["created"], book["pending"], book["campaign_members_added"]) == (0, 3, 0)
    assert first["status"] == "incomplete"
    [error] = first["errors"]
    assert (error["class"], error["count"]) == ("CONNECTION_ERROR", 3)
    assert "asking what became of it failed too" in error["sample"]["message"]
    assert _posts(ws) == [0]  # never re-sent blindly
    in_doubt = ws.state_rows("SELECT email FROM ledger WHERE attempt IS NOT NULL")
    assert sorted(e for (e,) in in_doubt) == EMAILS
    counts = Counter(r["Email"].lower() for r in ws.query("SELECT Email FROM Lead"))
    assert {e: counts[e] for e in EMAILS} == dict.fromkeys(EMAILS, 1)  # the lost write happened

    ws.emu.clear_faults("salesforce")
    ws.emu.reset_log()
    second = ws.sync(code=(0,))
    assert second["books"][0]["created"] == 3 and second["books"][0]["pending"] == 0
    assert _posts(ws) == [200]  # only the CampaignMembers: the Leads were found
    _assert_exactly_once(ws)


@pytest.mark.parametrize(
    ("method", "path_regex"),
    [("PUT", "jobs/ingest/[^/]+/batches$"), ("PATCH", "jobs/ingest/[^/]+$")],
    ids=["upload", "close"],
)
def test_sync_bulk_step_with_unknown_outcome_is_resolved_from_the_job(
    workspace, kit, method, path_regex
) -> None:
    """Bulk API 2.0: the upload or the close is applied but its answer lost; the job id was
    recorded before any data went out, so the job's own results settle every record."""
    ws = _setup(workspace, kit, sync={"bulk_threshold": 2})
    ws.emu.inject_fault(
        "salesforce", method=method, path_regex=path_regex, drop_connection="after", times=1
    )
    report = ws.sync(code=(0,))
    _clean(report)
    assert any(
        r["status"] == 0 and r["method"] == method
        for r in ws.emu.requests_log("salesforce")["requests"]
    )
    _assert_exactly_once(ws)


def test_sync_read_timeout_on_an_applied_create_creates_each_lead_once(workspace, kit) -> None:
    """A read timeout: the emulator applies the create, then holds the answer until the client
    gives up after its own (short) read timeout. In-process, to give the real client that
    timeout; no sleep in the test."""
    from leadsync.config import config_dir, load_or_raise
    from leadsync.retry import no_wait
    from leadsync.salesforce.client import SalesforceClient
    from leadsync.state import open_store
    from leadsync.sync.engine import run_sync

    ws = _setup(workspace, kit)
    ws.emu.inject_fault(
        "salesforce",
        method="POST",
        path_regex=LEAD_POST,
        drop_connection="after",
        hold_ms=60_000,
        times=1,
    )
    config = load_or_raise(str(ws.root / "leadsync.yaml"), ws.env)
    store = open_store(config.state, Path(config_dir(config.source)))
    try:
        # 5 s, not less: the emulator must have applied the create before the client gives up,
        # even on a loaded CI machine; a shorter timeout races the server, not the sync.
        sf = SalesforceClient(config.salesforce, retry=no_wait(), timeout=(10.0, 5.0))
        result = run_sync(config, store, salesforce=sf)
    finally:
        store.close()
    assert result.exit_code == 0
    book = result.report["books"][0]
    assert (book["created"], book["pending"], book["campaign_members_added"]) == (3, 0, 3)
    assert _posts(ws) == [0, 200]
    _assert_exactly_once(ws)
