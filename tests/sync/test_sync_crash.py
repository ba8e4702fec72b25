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

import os
import re
import signal
import time

import pytest

MEMBERS = 250
HOLD_MS = 600_000  # never runs out: clear_faults() releases the held request


def _until(predicate, what: str, proc=None) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None:
            assert proc.poll() is None, ("sync ended before " + what, proc.communicate())
        time.sleep(0.02)  # polling the emulator's state: synchronisation, not a timed wait
    raise AssertionError(f"timed out waiting for {what}")


# (write path, service, method, path regex, n-th matching request)
POINTS = [
    ("collections", "dotdigital", "GET", r"^/contacts/v3", 1),  # reading members
    # checking existing records: 250 emails are two IN queries per object, sent together as
    # one Composite request per object (the 2nd: the Contact check)
    ("collections", "salesforce", "POST", r"/composite$", 2),
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
    ws.generate(
        "Webinar signups",
        {
            "count": MEMBERS,
            "email": "k{n}@example.com",
            "datafields": {
                "FIRSTNAME": "K{n}",
                "LASTNAME": "Kill",
                "COMPANY": "Co",
                "REGION": "EMEA",
            },
        },
    )
    ws.emu.reset_log()
    if nth > 1:
        ws.emu.inject_fault(service, method=method, path_regex=regex, delay_ms=1, times=nth - 1)
    hold = ws.emu.inject_fault(service, method=method, path_regex=regex, delay_ms=HOLD_MS, times=1)

    proc = ws.popen("sync", "-c", "leadsync.yaml", "--json")

    def held() -> bool:
        faults = ws.emu.control(service, "GET", "/__emulator/faults").json()["faults"]
        return next(f for f in faults if f["id"] == hold["id"])["remaining"] == 0

    _until(held, "the held request", proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    ws.emu.clear_faults()  # the held request goes on without its client

    def finished() -> bool:
        log = ws.emu.requests_log(service)["requests"]
        return (
            sum(r["method"] == method and re.search(regex, r["path"]) is not None for r in log)
            >= nth
        )

    _until(finished, "the server to finish the held request")

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
