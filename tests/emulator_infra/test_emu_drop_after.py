"""`drop_connection: "after"`: the service applies the request, the client never hears back.

This is the fault that makes a blind retry of a create dangerous against real Salesforce; the
tests prove the emulator really applied the write (read back through the service's own API)
while the client saw only a dropped connection or its own read timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

SEED: dict[str, Any] = {
    "salesforce": {"records": {"Campaign": [{"Name": "Drop Test"}]}},
}


def _lead(email: str) -> dict[str, Any]:
    return {"attributes": {"type": "Lead"}, "LastName": "Drop", "Company": "Co", "Email": email}


def _create(emu: Any, email: str, **kwargs: Any) -> requests.Response:
    s = emu.sf_session()
    s.headers["Authorization"] = f"Bearer {emu.access_token}"
    return s.post(
        f"{emu.sf_instance_url}/services/data/v61.0/composite/sobjects",
        json={"allOrNone": False, "records": [_lead(email)]},
        **kwargs,
    )


def _emails(emu: Any) -> list[str]:
    rows = emu.salesforce().query_all("SELECT Email FROM Lead")["records"]
    return sorted(r["Email"] for r in rows)


def _until_logged(emu: Any, method: str, fragment: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        log = emu.requests_log("salesforce")["requests"]
        if any(e["method"] == method and fragment in e["path"] for e in log):
            return
        time.sleep(0.02)  # polling the emulator's log: synchronisation, not a timed wait
    raise AssertionError(f"the emulator never finished {method} {fragment}")


@pytest.fixture
def emu(emulator_factory: Callable[..., Any]) -> Any:
    return emulator_factory(SEED)


def test_emu_drop_after_applies_the_write_but_the_client_gets_connection_error(emu: Any) -> None:
    fault = emu.inject_fault(
        "salesforce",
        method="POST",
        path_regex="composite/sobjects$",
        drop_connection="after",
        times=1,
    )
    assert fault["drop_connection"] == "after"
    with pytest.raises(requests.ConnectionError):
        _create(emu, "after@example.com")
    assert _emails(emu) == ["after@example.com"]  # applied, although nobody heard the answer
    log = emu.requests_log("salesforce")["requests"]
    assert [(e["method"], e["status"]) for e in log if "composite" in e["path"]] == [("POST", 0)]
    # The fault is used up: the next create is answered normally.
    assert _create(emu, "next@example.com").status_code == 200
    assert _emails(emu) == ["after@example.com", "next@example.com"]


@pytest.mark.parametrize("before", [{"drop_connection": True}, {"drop_connection": "before"}])
def test_emu_drop_before_and_status_faults_are_not_applied(
    emu: Any, before: dict[str, Any]
) -> None:
    emu.inject_fault("salesforce", method="POST", path_regex="composite", times=1, **before)
    emu.inject_fault("salesforce", method="POST", path_regex="composite", status=500, times=1)
    with pytest.raises(requests.ConnectionError):
        _create(emu, "before@example.com")
    assert _create(emu, "status@example.com").status_code == 500
    assert _emails(emu) == []


def test_emu_drop_after_with_hold_is_a_read_timeout_on_an_applied_write(emu: Any) -> None:
    """hold_ms keeps the line silent until the client gives up: its read timeout fires (no
    sleep here; the server stops holding as soon as the client closes the connection)."""
    emu.inject_fault(
        "salesforce",
        method="POST",
        path_regex="composite/sobjects$",
        drop_connection="after",
        hold_ms=60_000,
        times=1,
    )
    with pytest.raises(requests.exceptions.ReadTimeout):
        _create(emu, "slow@example.com", timeout=(10, 0.3))
    # The client may give up before a loaded server has even applied the write: wait for the
    # server to log it (it logs a dropped request once the service has handled it).
    _until_logged(emu, "POST", "composite/sobjects")
    assert _emails(emu) == ["slow@example.com"]


def test_emu_drop_after_on_dotdigital_applies_the_write(emulator_factory: Any) -> None:
    emu = emulator_factory(
        {
            "dotdigital": {
                "accounts": [
                    {
                        "name": "uk",
                        "username": "u@apiconnector.com",
                        "password": "pw",
                        "address_books": [{"name": "Book"}],
                    }
                ]
            }
        }
    )
    s = emu.dd_session("uk")
    books = s.get(f"{emu.dd_endpoint}/v2/address-books").json()
    book = next(b["id"] for b in books if b["name"] == "Book")
    emu.inject_fault("dotdigital", method="POST", drop_connection="after", times=1)
    with pytest.raises(requests.ConnectionError):
        s.post(
            f"{emu.dd_endpoint}/v2/address-books/{book}/contacts",
            json={"email": "dd@example.com", "optInType": "Single", "emailType": "Html"},
        )
    members = s.get(f"{emu.dd_endpoint}/v2/address-books/{book}/contacts").json()
    assert [m["email"] for m in members] == ["dd@example.com"]


@pytest.mark.parametrize(
    "spec",
    [
        {"drop_connection": "sometimes"},
        {"drop_connection": "after", "status": 503},
        {"drop_connection": True, "hold_ms": 100},
        {"drop_connection": "after", "hold_ms": -1},
    ],
)
def test_emu_bad_drop_spec_is_refused(emu: Any, spec: dict[str, Any]) -> None:
    r = emu.control("salesforce", "POST", "/__emulator/faults", json=spec)
    assert r.status_code == 400, r.text
    assert r.json()["error"]


def test_emu_query_regex_narrows_a_fault_to_one_soql_query(emu: Any) -> None:
    emu.inject_fault(
        "salesforce",
        method="GET",
        path_regex="/query/?$",
        query_regex="^(?!.*IsConverted).*FROM Lead WHERE",
        status=503,
        times=1,
    )
    sf = emu.salesforce()
    other = "SELECT Id FROM Lead WHERE Email = 'x@example.com' AND IsConverted = false"
    assert sf.query(other)["totalSize"] == 0  # not matched: the fault is still there
    from simple_salesforce.exceptions import SalesforceError

    with pytest.raises(SalesforceError, match="SERVER_UNAVAILABLE"):
        sf.query("SELECT Id FROM Lead WHERE Email = 'x@example.com'")
    statuses = [e["status"] for e in emu.requests_log("salesforce")["requests"]]
    assert statuses == [200, 503]
    bad = emu.control("salesforce", "POST", "/__emulator/faults", json={"query_regex": "("})
    assert bad.status_code == 400
