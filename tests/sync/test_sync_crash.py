"""Done-when 8: the sync is killed with SIGKILL at different points and re-run; Salesforce then
holds exactly the expected Leads and CampaignMembers (none lost, none twice).

How a kill point is reached without sleeping: the emulator holds the N-th request matching a
pattern (a fault's delay, released only when the test clears the faults); the test polls the
emulator's fault list until that fault has been used (the request has arrived and is being
held), kills the process, releases the request, then polls the request log until the server has
finished it (as a real server may still finish a request whose client died). The kill always
lands while that request is held, however loaded the machine.
"""

from __future__ import annotations

import re

import pytest

MEMBERS = 250


# (write path, service, method, path regex, n-th matching request)
POINTS = [
    ("collections", "dotdigital", "GET", r"^/contacts/v3", 1),  # reading members
    # checking existing records: 250 emails are one IN query per object, short enough for a
    # GET (the 2nd: the Contact check)
    ("collections", "salesforce", "GET", r"/query/?$", 2),
    ("collections", "salesforce", "POST", r"composite/sobjects$", 2),  # 2nd Lead batch in flight
    ("collections", "salesforce", "POST", r"composite/sobjects$", 3),  # CampaignMembers in flight
    ("bulk", "salesforce", "PUT", r"jobs/ingest/[^/]+/batches$", 1),  # Lead CSV upload
    ("bulk", "salesforce", "GET", r"jobs/ingest/[^/]+$", 1),  # job running, polled
    ("bulk", "salesforce", "GET", r"successfulResults$", 1),  # reading the results
    ("bulk", "salesforce", "PUT", r"jobs/ingest/[^/]+/batches$", 2),  # CampaignMember upload
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "service", "method", "regex", "nth"),
    POINTS,
    ids=[f"{p[0]}-{p[2]}-{p[3].strip('^$/')}-{p[4]}" for p in POINTS],
)
def test_sigkill_then_rerun_gives_exactly_the_expected_records(
    workspace, kit, path, service, method, regex, nth
) -> None:
    sync = {"bulk_threshold": 100} if path == "bulk" else None
    ws = workspace(config=kit.config_yaml(sync=sync))
    kit.kill_mid_sync(ws, members=MEMBERS, service=service, method=method, regex=regex, nth=nth)

    report = ws.sync(code=(0,))
    assert report["status"] == "done"
    leads = ws.leads()  # fails on any duplicate email
    ours = {e for e in leads if re.fullmatch(r"k\d+@example\.com", e)}
    assert ours == {f"k{n}@example.com" for n in range(MEMBERS)}
    members = ws.campaign_members()  # fails on any duplicate (CampaignId, LeadId)
    assert {m["LeadId"] for m in members} == {leads[e]["Id"] for e in ours}
    states = dict(ws.state_rows("SELECT state, COUNT(*) FROM ledger GROUP BY state"))
    assert states.get("created") == MEMBERS and states.get("pending", 0) == 0
    assert ws.state_rows("SELECT COUNT(*) FROM ledger WHERE attempt IS NOT NULL") == [(0,)]
    assert ws.state_rows(
        "SELECT COUNT(*) FROM ledger WHERE state = 'created' AND campaign_member_id IS NULL"
    ) == [(0,)]
    # and one more run has nothing left to do
    assert ws.sync(code=(0,))["totals"]["created"] == 0
    assert len(ws.leads()) == len(leads) and len(ws.campaign_members()) == len(members)
