"""Done-when 7 and 9: transient faults are retried, an expired session is renewed, API limits
stop the run cleanly (exit 3) and the next run finishes; two concurrent syncs never duplicate."""

from __future__ import annotations

import json
import time


def _statuses(ws, fragment: str) -> list[int]:
    return [
        r["status"] for r in ws.emu.requests_log("salesforce")["requests"] if fragment in r["path"]
    ]


def test_503_429_dropped_connections_retried_and_expired_token_renewed(workspace, kit) -> None:
    ws = workspace(config=kit.config_yaml(auth=kit.PASSWORD_AUTH))
    for i in range(3):
        ws.add_member(f"m{i}@example.com", kit.member(f"M{i}", "Retry", "Co"))
    expired = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    for fault in (
        {"status": 401, "body": expired},  # the session expires mid-run: renewed once
        {"status": 503},
        {"status": 429, "headers": {"Retry-After": "0"}},
    ):  # (a create whose connection drops may have been applied: test_sync_ambiguous.py)
        ws.emu.inject_fault(
            "salesforce", method="POST", path_regex="composite/sobjects$", times=1, **fault
        )
    ws.emu.inject_fault("dotdigital", method="GET", path_regex="^/contacts/v3", status=503, times=1)
    ws.emu.inject_fault(
        "dotdigital", method="GET", path_regex="^/contacts/v3", drop_connection=True, times=1
    )
    ws.emu.reset_log()

    report = ws.sync(code=(0,))
    assert report["totals"]["created"] == 3 and report["totals"]["pending"] == 0
    assert set(ws.leads()) >= {"m0@example.com", "m1@example.com", "m2@example.com"}
    assert len(ws.campaign_members()) == 3
    assert _statuses(ws, "composite/sobjects")[:4] == [401, 503, 429, 200]
    logins = [
        r for r in ws.emu.requests_log("salesforce")["requests"] if "oauth2/token" in r["path"]
    ]
    assert len(logins) == 2  # the first login, then one renewal after INVALID_SESSION_ID
    dd = [
        r["status"]
        for r in ws.emu.requests_log("dotdigital")["requests"]
        if r["path"] == "/contacts/v3"
    ]
    assert dd[:3] == [503, 0, 200]


def test_request_limit_exceeded_stops_with_exit_3_and_the_next_run_finishes(workspace, kit) -> None:
    ws = workspace(config=kit.config_yaml(sync={"max_api_share": 1.0}))
    for i in range(5):
        ws.add_member(f"lim{i}@example.com", kit.member(f"L{i}", "Limit", "Co"))
    # The allowance runs out right before the first write (describe + 2 lookups still fit).
    used = ws.emu.control("salesforce", "GET", "/__emulator/limits").json()
    ws.emu.control(
        "salesforce",
        "POST",
        "/__emulator/limits",
        json={"used": used["total"] - 3, "total": used["total"]},
    )
    stopped = ws.sync(code=(3,))
    assert stopped["status"] == "stopped"
    assert "request limit is exceeded" in stopped["stop_reason"]
    book = stopped["books"][0]
    assert book["pending"] == 5 and book["created"] == 0  # recorded, nothing lost
    assert ws.state_rows("SELECT COUNT(*) FROM ledger WHERE attempt IS NOT NULL") == [(0,)]

    ws.emu.control(
        "salesforce", "POST", "/__emulator/limits", json={"used": 0, "total": used["total"]}
    )
    assert not any(e.startswith("lim") for e in ws.leads())
    finished = ws.sync(code=(0,))
    assert finished["totals"]["created"] == 5
    assert sum(e.startswith("lim") for e in ws.leads()) == 5 and len(ws.campaign_members()) == 5


def test_max_api_share_stops_before_writing(workspace, kit) -> None:
    ws = workspace(config=kit.config_yaml(sync={"max_api_share": 0.5}))
    ws.add_member("share@example.com", kit.member("Share", "Budget", "Co"))
    total = ws.emu.control("salesforce", "GET", "/__emulator/limits").json()["total"]
    ws.emu.control(
        "salesforce", "POST", "/__emulator/limits", json={"used": int(total * 0.6), "total": total}
    )
    stopped = ws.sync(code=(3,))
    assert "max_api_share" in stopped["stop_reason"]
    assert "share@example.com" not in ws.leads()
    ws.emu.control("salesforce", "POST", "/__emulator/limits", json={"used": 0, "total": total})
    assert ws.sync(code=(0,))["totals"]["created"] == 1
    assert "share@example.com" in ws.leads()


def _wait_fault_taken(ws, service: str, fault_id: int, proc) -> None:
    """Synchronise on the emulator: the delayed request has arrived (its fault was used)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        faults = ws.emu.control(service, "GET", "/__emulator/faults").json()["faults"]
        fault = next(f for f in faults if f["id"] == fault_id)
        if fault["remaining"] == 0:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)  # polling the emulator: synchronisation, not a wait for time to pass
    raise AssertionError("the delayed request never arrived")


def test_two_concurrent_syncs_never_duplicate(workspace, kit) -> None:
    ws = workspace()
    ws.generate(
        "Webinar signups",
        {
            "count": 300,
            "email": "c{n}@example.com",
            "datafields": {
                "FIRSTNAME": "C{n}",
                "LASTNAME": "Conc",
                "COMPANY": "Co",
                "REGION": "EMEA",
            },
        },
    )
    # Held until the test lets it go (clear_faults), not for a fixed time: on a loaded machine
    # the next process may need longer to start than any fixed delay.
    fault = ws.emu.inject_fault(
        "salesforce", method="POST", path_regex="composite/sobjects$", delay_ms=600_000, times=1
    )
    first = ws.popen("sync", "-c", "leadsync.yaml", "--json")
    waiting = None
    try:
        _wait_fault_taken(ws, "salesforce", fault["id"], first)  # first holds the lock, mid-write
        refused = ws.run("sync", "-c", "leadsync.yaml", "--lock-timeout", "0")
        assert refused.returncode == 1, (refused.stdout, refused.stderr)
        assert "account:uk" in refused.stderr and "held by" in refused.stderr
        assert f"pid {first.pid}" in refused.stderr, refused.stderr
        waiting = ws.popen("sync", "-c", "leadsync.yaml", "--json", "--lock-timeout", "600")
        ws.emu.clear_faults("salesforce")  # the first sync's write goes on
        out1, err1 = first.communicate(timeout=300)
        out2, err2 = waiting.communicate(timeout=300)
    finally:
        for proc in (first, waiting):  # never leave a sync running against a stopped emulator
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert first.returncode == 0, err1
    assert waiting.returncode == 0, err2

    created = json.loads(out1)["totals"]["created"] + json.loads(out2)["totals"]["created"]
    assert created == 300
    leads = ws.leads()  # asserts no duplicate emails
    assert sum(e.startswith("c") and e.endswith("@example.com") for e in leads) == 300
    assert len(ws.campaign_members()) == 300


def test_a_request_refused_as_a_whole_is_split_until_the_bad_record_fails_alone(
    workspace, kit
) -> None:
    """A value Salesforce cannot even parse refuses the whole Collections call (400): the sync
    halves the batch until the record at fault is alone; it fails, the others are created."""
    ws = workspace()
    ws.add_member("first@example.com", kit.member("First", "One", "Co"))
    ws.add_member("second@example.com", kit.member("Second", "Two", "Co"))
    refused = [{"message": "Cannot deserialize instance of date", "errorCode": "JSON_PARSER_ERROR"}]
    ws.emu.inject_fault(
        "salesforce",
        method="POST",
        path_regex="composite/sobjects$",
        status=400,
        body=refused,
        times=2,
    )
    report = ws.sync(code=(4,))
    book = report["books"][0]
    assert (book["created"], book["failed"], book["reasons"]) == (1, 1, {"JSON_PARSER_ERROR": 1})
    failed = ws.state_rows("SELECT email, reason FROM ledger WHERE state = 'failed'")
    assert len(failed) == 1 and "Cannot deserialize" in failed[0][1]
    created = set(ws.leads()) & {"first@example.com", "second@example.com"}
    assert created == {"first@example.com", "second@example.com"} - {failed[0][0]}
