"""A request held by a fault's delay goes on as soon as the faults are cleared.

Tests use this to hold a request "for ever" and let it go on an event of their own (a lock
refused, a signal handled) instead of racing a timer on a loaded machine.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import requests


def test_emu_clearing_faults_releases_a_held_request(emulator: Any) -> None:
    fault = emulator.inject_fault("dotdigital", method="GET", delay_ms=600_000, times=1)
    answers: list[requests.Response] = []
    s = emulator.dd_session("uk")
    caller = threading.Thread(
        target=lambda: answers.append(s.get(emulator.dd_endpoint + "/v2/account-info", timeout=300))
    )
    caller.start()
    try:
        # The request has arrived and is held once its fault is used up (no answer yet).
        while caller.is_alive():  # (an answer without the hold fails the asserts below)
            faults = emulator.control("dotdigital", "GET", "/__emulator/faults").json()["faults"]
            if next(f for f in faults if f["id"] == fault["id"])["remaining"] == 0:
                break
        assert answers == [] and emulator.requests_log("dotdigital")["requests"] == []
    finally:
        emulator.clear_faults("dotdigital")
    caller.join(timeout=300)
    assert not caller.is_alive()
    assert answers[0].status_code == 200
    assert answers[0].headers["X-Emulator-Delay-Ms"] == "600000"
    assert [r["path"] for r in emulator.requests_log("dotdigital")["requests"]] == [
        "/v2/account-info"
    ]


# The client: a separate process, so SIGKILL closes its socket as a killed runner's would. It
# sends a sObject Collections create of `n` Leads (a body larger than one socket read when n is
# large) and waits for an answer that never comes.
_CLIENT = """
import json, sys, requests
url, token, ca, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
records = [{"attributes": {"type": "Lead"}, "LastName": f"Held{i}", "Company": "Co", "Region__c": "EMEA",
            "Description": "x" * 500} for i in range(n)]
requests.post(url + "/services/data/v61.0/composite/sobjects",
              headers={"Authorization": "Bearer " + token},
              json={"allOrNone": False, "records": records}, verify=ca, timeout=600)
"""


@pytest.mark.parametrize("records", [1, 200], ids=["small-body", "large-body"])
def test_emu_a_held_request_whose_client_died_is_still_applied(emulator: Any, records) -> None:
    """Salesforce finishes a request it has received even when the client is gone: a held
    write is applied once released, after its client was SIGKILLed."""
    fault = emulator.inject_fault(
        "salesforce", method="POST", path_regex="composite/sobjects$", delay_ms=600_000, times=1
    )
    client = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _CLIENT,
            emulator.sf_instance_url,
            emulator.access_token,
            emulator.ca_bundle,
            str(records),
        ],
    )
    try:
        while True:  # until the request has arrived and is held (its fault used up)
            faults = emulator.control("salesforce", "GET", "/__emulator/faults").json()["faults"]
            if next(f for f in faults if f["id"] == fault["id"])["remaining"] == 0:
                break
            assert client.poll() is None, "the client ended before its request was held"
        client.kill()
        client.wait()
    finally:
        if client.poll() is None:
            client.kill()
        emulator.clear_faults("salesforce")
    while not emulator.requests_log("salesforce")["requests"]:
        time.sleep(0.02)  # polling the server for an event (the request finished), not a timer
    [entry] = emulator.requests_log("salesforce")["requests"]
    assert entry["method"] == "POST", entry
    count = emulator.salesforce().query("SELECT COUNT() FROM Lead WHERE LastName LIKE 'Held%'")
    assert count["totalSize"] == records, entry
