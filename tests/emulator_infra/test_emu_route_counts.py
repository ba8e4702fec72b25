"""The request log counts per endpoint (route pattern), not per literal path.

Why: "how many batch uploads did this sync make" must be one number, not one key per job id.
`counts_by_path` keeps the literal keys for the callers that want them.
"""

from __future__ import annotations

from typing import Any

V = "/services/data/v{version}"


def _bulk_insert(emulator: Any, emails: list[str]) -> None:
    sf = emulator.salesforce()
    records = [
        {"LastName": "Route", "Company": "C", "Region__c": "EMEA", "Email": e} for e in emails
    ]
    [summary] = sf.bulk2.Lead.insert(records=records, wait=0)
    assert summary["numberRecordsFailed"] == 0


def test_emu_two_bulk_jobs_count_one_batches_key(emulator: Any) -> None:
    emulator.reset_log("salesforce")
    _bulk_insert(emulator, ["route1@example.com"])
    _bulk_insert(emulator, ["route2@example.com"])
    log = emulator.requests_log("salesforce")
    batches = {k: n for k, n in log["counts"].items() if k.endswith("/batches")}
    assert batches == {f"PUT {V}/jobs/ingest/{{job_id}}/batches": 2}
    assert log["counts"][f"POST {V}/jobs/ingest"] == 2
    # The literal paths are still there, one per job, and the entries are unchanged.
    by_path = {k: n for k, n in log["counts_by_path"].items() if k.endswith("/batches")}
    assert len(by_path) == 2 and set(by_path.values()) == {1}
    puts = [e for e in log["requests"] if e["method"] == "PUT"]
    assert len(puts) == 2 and all("{" not in e["path"] and e["status"] == 201 for e in puts)
    assert (
        sum(log["counts"].values()) == sum(log["counts_by_path"].values()) == len(log["requests"])
    )


def test_emu_dotdigital_contacts_of_two_books_share_one_key(emulator: Any) -> None:
    emulator.reset_log("dotdigital")
    s = emulator.dd_session("uk")
    books = s.get(emulator.dd_endpoint + "/v2/address-books", timeout=10).json()
    assert len(books) == 2
    for book in books:
        r = s.get(f"{emulator.dd_endpoint}/v2/address-books/{book['id']}/contacts", timeout=10)
        assert r.status_code == 200, r.text
    log = emulator.requests_log("dotdigital")
    assert log["counts"] == {
        "GET /v2/address-books": 1,
        "GET /v2/address-books/{book_id}/contacts": 2,
    }
    assert len(log["counts_by_path"]) == 3
    assert [e["path"] for e in log["requests"]][1:] == [
        f"/v2/address-books/{b['id']}/contacts" for b in books
    ]


def test_emu_unknown_routes_count_under_one_stable_key(emulator: Any) -> None:
    emulator.reset_log()
    dd = emulator.dd_session("uk")
    assert dd.get(emulator.dd_endpoint + "/v2/no-such-thing", timeout=10).status_code == 404
    assert dd.get(emulator.dd_endpoint + "/v2/nor/this", timeout=10).status_code == 404
    sf = emulator.sf_session()
    auth = {"Authorization": f"Bearer {emulator.access_token}"}
    for path in ("/services/data/v61.0/nothing", "/elsewhere"):
        assert sf.get(emulator.sf_instance_url + path, headers=auth, timeout=10).status_code == 404
    assert emulator.requests_log("dotdigital")["counts"] == {"GET <unmatched>": 2}
    sf_log = emulator.requests_log("salesforce")
    assert sf_log["counts"] == {"GET <unmatched>": 2}
    assert set(sf_log["counts_by_path"]) == {
        "GET /services/data/v61.0/nothing",
        "GET /elsewhere",
    }


def test_emu_faulted_requests_count_under_the_route_they_were_meant_for(emulator: Any) -> None:
    """A fault answers before the service sees the request: the app's route_for names it."""
    emulator.reset_log()
    emulator.inject_fault("salesforce", method="GET", path_regex="/limits", status=503, times=1)
    emulator.inject_fault("dotdigital", path_regex="/contacts", status=503, times=1)
    s = emulator.sf_session()
    auth = {"Authorization": f"Bearer {emulator.access_token}"}
    for version, slash in (("59.0", "/"), ("61.0", "")):
        s.get(f"{emulator.sf_instance_url}/services/data/v{version}/limits{slash}", headers=auth)
    dd = emulator.dd_session("uk")
    for _ in range(2):
        dd.get(emulator.dd_endpoint + "/v2/address-books/1/contacts", timeout=10)
    sf_log = emulator.requests_log("salesforce")
    assert [e["status"] for e in sf_log["requests"]] == [503, 200]
    assert sf_log["counts"] == {f"GET {V}/limits": 2}
    dd_log = emulator.requests_log("dotdigital")
    assert [e["status"] for e in dd_log["requests"]] == [503, 200]
    assert dd_log["counts"] == {"GET /v2/address-books/{book_id}/contacts": 2}


def test_emu_composite_counts_once_under_its_own_route(emulator: Any) -> None:
    emulator.reset_log("salesforce")
    s = emulator.sf_session()
    auth = {"Authorization": f"Bearer {emulator.access_token}"}
    base = "/services/data/v61.0"
    body = {
        "allOrNone": False,
        "compositeRequest": [
            {"method": "GET", "url": f"{base}/limits", "referenceId": "a"},
            {"method": "GET", "url": f"{base}/sobjects/Lead/describe", "referenceId": "b"},
        ],
    }
    r = s.post(emulator.sf_instance_url + base + "/composite", json=body, headers=auth)
    assert r.status_code == 200, r.text
    assert [x["httpStatusCode"] for x in r.json()["compositeResponse"]] == [200, 200]
    log = emulator.requests_log("salesforce")
    assert log["counts"] == {f"POST {V}/composite": 1}
    assert log["counts_by_path"] == {f"POST {base}/composite": 1}
    assert len(log["requests"]) == 1
