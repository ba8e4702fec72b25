"""Auth, account isolation, account-info, server-time, clock skew, path and parameter quirks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

DENIED = {"message": "Authorization has been denied for this request."}


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_bad_credentials_get_401_with_dotdigital_body(dd):
    for auth in [(dd.uk[0], "wrong"), ("nobody@apiconnector.com", "demo-password"), None]:
        for path in ["/v2/address-books", "/v2/account-info", "/contacts/v3"]:
            r = dd.get(path, auth=auth)
            assert r.status_code == 401, (auth, path)
            assert r.json() == DENIED


def test_bearer_or_malformed_authorization_is_denied(dd):
    s = requests.Session()
    s.trust_env = False
    r = s.get(dd.url + "/v2/address-books", headers={"Authorization": "Bearer abc"}, timeout=10)
    assert (r.status_code, r.json()) == (401, DENIED)


def test_each_account_sees_only_its_own_data(dd):
    uk_books = dd.get("/v2/address-books").json()
    us_books = dd.get("/v2/address-books", auth=dd.us).json()
    assert [b["name"] for b in uk_books] == ["Webinar signups"]
    assert [b["name"] for b in us_books] == ["US list"]
    uk_id = uk_books[0]["id"]
    r = dd.get(f"/v2/address-books/{uk_id}", auth=dd.us)
    assert (r.status_code, r.json()) == (404, {"message": "Error: ERROR_ADDRESSBOOK_NOT_FOUND"})
    r = dd.get(f"/v2/address-books/{uk_id}/contacts", auth=dd.us)
    assert (r.status_code, r.json()) == (404, {"message": "Error: ERROR_ADDRESSBOOK_NOT_FOUND"})
    r = dd.get("/v2/contacts/ada@example.com", auth=dd.us)
    assert (r.status_code, r.json()) == (404, {"message": "Error: ERROR_CONTACT_NOT_FOUND"})
    ada_id = dd.get("/v2/contacts/ada@example.com").json()["id"]
    assert dd.get(f"/v2/contacts/{ada_id}", auth=dd.us).status_code == 404
    r = dd.get(f"/contacts/v3?~listId={uk_id}", auth=dd.us)
    assert r.status_code == 400
    assert r.json()["errorCode"] == "contacts:invalidFilter"
    assert dd.get("/contacts/v3", auth=dd.us).json()["_items"] == []
    # datafields are per account too
    created = dd.post("/v2/data-fields", auth=dd.us, json={"name": "COMPANY", "type": "String"})
    assert created.status_code == 201


def test_account_info_reports_this_server_as_api_endpoint(dd):
    r = dd.get("/v2/account-info")
    assert r.status_code == 200
    body = r.json()
    props = {p["name"]: p for p in body["properties"]}
    assert props["ApiEndpoint"] == {"name": "ApiEndpoint", "type": "String", "value": dd.url + "/"}
    assert props["Name"]["value"] == "uk"
    assert props["MainEmail"]["value"] == dd.uk[0]
    assert all(isinstance(p["value"], str) for p in body["properties"])
    assert isinstance(body["id"], int)
    # the endpoint follows the Host the client used
    r = dd.get("/v2/account-info", headers={"Host": "localhost:1234"})
    value = {p["name"]: p["value"] for p in r.json()["properties"]}["ApiEndpoint"]
    assert value == "http://localhost:1234/"


def test_server_time_is_an_iso_utc_json_string(dd):
    r = dd.get("/v2/server-time")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    t = _time(r.json())
    assert abs(t - datetime.now(UTC)) < timedelta(minutes=1)


def test_clock_offset_skews_server_time_and_assigned_times(dd):
    r = dd.post("/__emulator/clock", auth=None, json={"offset_seconds": -3600})
    assert r.status_code == 200
    assert r.json()["offset_seconds"] == -3600
    server = _time(dd.get("/v2/server-time").json())
    assert abs(server - (datetime.now(UTC) - timedelta(hours=1))) < timedelta(minutes=1)
    book = dd.get("/v2/address-books").json()[0]["id"]
    dd.post(f"/v2/address-books/{book}/contacts", json={"email": "skew@example.com"})
    v3 = dd.get(f"/contacts/v3?~listId={book}").json()["_items"]
    created = _time(
        next(c for c in v3 if c["identifiers"]["email"] == "skew@example.com")["created"]
    )
    assert abs(created - server) < timedelta(minutes=1)
    assert dd.get("/__emulator/clock", auth=None).json()["offset_seconds"] == -3600
    r = dd.post("/__emulator/clock", auth=None, json={"offset_seconds": "soon"})
    assert (r.status_code, r.json()) == (400, {"error": "offset_seconds must be a number"})


def test_double_slashes_are_normalised(dd):
    assert dd.get("//v2//address-books").status_code == 200
    assert dd.get("/v2/address-books/").status_code == 200


def test_unknown_route_and_wrong_method(dd):
    r = dd.get("/v2/no-such-thing")
    assert r.status_code == 404
    assert r.json()["message"].startswith("No HTTP resource was found that matches the request URI")
    r = dd.session().delete(dd.url + "/v2/server-time", timeout=10)
    assert r.status_code == 405
    assert r.json() == {"message": "The requested resource does not support http method 'DELETE'."}


def test_unknown_control_route(dd):
    r = dd.get("/__emulator/nothing", auth=None)
    assert r.status_code == 404
    assert "error" in r.json()
