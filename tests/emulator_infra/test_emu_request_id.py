"""The Salesforce emulator names every answer with a request id, as Salesforce's edge does
(`X-SFDC-Request-Id`, 32 hex digits), faults and errors included; the request log keeps it."""

from __future__ import annotations

import re


def test_every_salesforce_answer_has_its_own_request_id(emulator):
    s = emulator.sf_session()
    base = f"{emulator.sf_instance_url}/services/data/v61.0"
    auth = {"Authorization": f"Bearer {emulator.access_token}"}
    emulator.reset_log()
    emulator.inject_fault("salesforce", method="GET", path_regex="/limits", status=503, times=1)
    answers = [
        s.get(f"{base}/limits", headers=auth),  # the fault
        s.get(f"{base}/limits", headers=auth),  # the service
        s.get(f"{base}/sobjects/Nope/describe", headers=auth),  # the service's own error
        s.get(f"{base}/limits"),  # refused: no session
    ]
    assert [a.status_code for a in answers] == [503, 200, 404, 401]
    ids = [a.headers.get("X-SFDC-Request-Id") for a in answers]
    assert all(i and re.fullmatch(r"[0-9a-f]{32}", i) for i in ids), ids
    assert len(set(ids)) == len(ids)
    logged = emulator.requests_log("salesforce")["requests"]
    assert [(r["status"], r["request_id"]) for r in logged] == [
        (a.status_code, i) for a, i in zip(answers, ids, strict=True)
    ]

    dd = emulator.dd_session("uk").get(f"{emulator.dd_endpoint}/v2/account-info")
    assert dd.status_code == 200 and "X-SFDC-Request-Id" not in dd.headers
