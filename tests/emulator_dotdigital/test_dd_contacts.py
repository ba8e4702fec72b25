"""v2 contacts: members of a book, modified-since, add to book, get by id/email."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

PARAM = "ERROR_PARAMETER_INVALID"


def _book(dd, auth=None):
    return dd.get("/v2/address-books", auth=auth or dd.uk).json()[0]["id"]


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _server_now(dd) -> datetime:
    return datetime.fromisoformat(dd.get("/v2/server-time").json().replace("Z", "+00:00"))


def test_members_without_full_data_have_null_datafields(dd):
    r = dd.get(f"/v2/address-books/{_book(dd)}/contacts")
    assert r.status_code == 200
    (ada,) = r.json()
    assert ada == {
        "id": ada["id"],
        "email": "ada@example.com",
        "optInType": "Unknown",
        "emailType": "Html",
        "dataFields": None,
        "status": "Subscribed",
    }
    assert (
        dd.get(f"/v2/address-books/{_book(dd)}/contacts?withFullData=false").json()[0]["dataFields"]
        is None
    )


@pytest.mark.parametrize("flag", ["true", "True", "TRUE"])
def test_full_data_lists_every_account_datafield(dd, flag):
    (ada,) = dd.get(f"/v2/address-books/{_book(dd)}/contacts?withFullData={flag}").json()
    assert ada["dataFields"] == [
        {"key": "FIRSTNAME", "value": "Ada"},
        {"key": "LASTNAME", "value": "Lovelace"},
        {"key": "FULLNAME", "value": None},
        {"key": "GENDER", "value": None},
        {"key": "POSTCODE", "value": None},
        {"key": "COMPANY", "value": "Analytical Engines"},
    ]


def test_with_full_data_parameter_name_is_case_insensitive(dd):
    (ada,) = dd.get(f"/v2/address-books/{_book(dd)}/contacts?WithFullData=True").json()
    assert ada["dataFields"] is not None


def test_bad_boolean_is_refused(dd):
    r = dd.get(f"/v2/address-books/{_book(dd)}/contacts?withFullData=yes")
    assert r.status_code == 400
    assert r.json()["message"].endswith(f". {PARAM}")


def test_members_paging_and_select_limit(dd):
    book = _book(dd)
    for i in range(4):
        dd.post(f"/v2/address-books/{book}/contacts", json={"email": f"p{i}@example.com"})
    emails = [c["email"] for c in dd.get(f"/v2/address-books/{book}/contacts").json()]
    assert emails == [
        "ada@example.com",
        "p0@example.com",
        "p1@example.com",
        "p2@example.com",
        "p3@example.com",
    ]
    got = []
    skip = 0
    while page := dd.get(f"/v2/address-books/{book}/contacts?select=2&skip={skip}").json():
        got += [c["email"] for c in page]
        skip += 2
    assert got == emails
    for bad in ["select=1001", "select=0"]:
        r = dd.get(f"/v2/address-books/{book}/contacts?{bad}")
        assert r.status_code == 400
        assert r.json() == {
            "message": f"The select parameter requires a number between 1 and 1000. {PARAM}"
        }


def test_members_of_unknown_book(dd):
    r = dd.get("/v2/address-books/424242/contacts")
    assert (r.status_code, r.json()) == (404, {"message": "Error: ERROR_ADDRESSBOOK_NOT_FOUND"})
    r = dd.post("/v2/address-books/424242/contacts", json={"email": "x@example.com"})
    assert (r.status_code, r.json()) == (404, {"message": "Error: ERROR_ADDRESSBOOK_NOT_FOUND"})


def test_add_contact_creates_it_and_returns_full_data(dd):
    book = _book(dd)
    r = dd.post(
        f"/v2/address-books/{book}/contacts",
        json={
            "email": "Grace@Example.com",
            "optInType": "Single",
            "emailType": "PlainText",
            "dataFields": [
                {"key": "FIRSTNAME", "value": "Grace"},
                {"key": "company", "value": "Navy"},
            ],
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert body["email"] == "grace@example.com"
    assert (body["optInType"], body["emailType"], body["status"]) == (
        "Single",
        "PlainText",
        "Subscribed",
    )
    values = {d["key"]: d["value"] for d in body["dataFields"]}
    assert (
        values["FIRSTNAME"] == "Grace"
        and values["COMPANY"] == "Navy"
        and values["LASTNAME"] is None
    )
    assert dd.get(f"/v2/address-books/{book}").json()["contacts"] == 2
    assert dd.get(f"/v2/contacts/{body['id']}").json() == body
    assert dd.get("/v2/contacts/grace@example.com").json() == body
    assert dd.get("/v2/contacts/GRACE@example.com").json() == body


def test_add_contact_accepts_pascal_case_body(dd):
    book = _book(dd)
    r = dd.post(
        f"/v2/address-books/{book}/contacts",
        json={
            "Email": "pascal@example.com",
            "EmailType": "Html",
            "DataFields": [{"Key": "LASTNAME", "Value": "Blaise"}],
        },
    )
    assert r.status_code == 200
    assert {d["key"]: d["value"] for d in r.json()["dataFields"]}["LASTNAME"] == "Blaise"


def test_adding_an_existing_contact_counts_as_modifying_it(dd):
    book = _book(dd)
    before = _server_now(dd)
    since = _iso(before)
    assert dd.get(f"/v2/address-books/{book}/contacts/modified-since/{since}").json() == []
    r = dd.post(f"/v2/address-books/{book}/contacts", json={"email": "ada@example.com"})
    assert r.status_code == 200
    modified = dd.get(f"/v2/address-books/{book}/contacts/modified-since/{since}").json()
    assert [c["email"] for c in modified] == ["ada@example.com"]
    # still one member, data kept
    assert dd.get(f"/v2/address-books/{book}").json()["contacts"] == 1
    assert {d["key"]: d["value"] for d in r.json()["dataFields"]}["FIRSTNAME"] == "Ada"
    # and v3 reports the new updated time
    (item,) = dd.get(f"/contacts/v3?~listId={book}&~modified=gte::{since}").json()["_items"]
    assert datetime.fromisoformat(item["updated"].replace("Z", "+00:00")) >= before


def test_existing_contact_joining_another_book_is_new_there(dd):
    old = _book(dd)
    new = dd.post("/v2/address-books", json={"name": "Second"}).json()["id"]
    since = _iso(_server_now(dd))
    dd.post(f"/v2/address-books/{new}/contacts", json={"email": "ada@example.com"})
    assert [
        c["email"]
        for c in dd.get(f"/v2/address-books/{new}/contacts/modified-since/{since}").json()
    ] == ["ada@example.com"]
    # modifying the contact makes it modified in every book it belongs to
    assert [
        c["email"]
        for c in dd.get(f"/v2/address-books/{old}/contacts/modified-since/{since}").json()
    ] == ["ada@example.com"]


def test_modified_since_accepts_date_only_and_full_datetimes(dd_factory, dd_seed):
    dd_seed["accounts"][0]["address_books"][0]["contacts"] = [
        {"email": "old@example.com", "added_at": "2020-01-01T00:00:00Z"},
        {"email": "mid@example.com", "added_at": "2022-06-15T12:30:00Z"},
        {"email": "new@example.com", "added_at": "2024-03-01"},
    ]
    from_seed = dd_factory(dd_seed)
    book = _book(from_seed)

    def emails(date):
        r = from_seed.get(
            f"/v2/address-books/{book}/contacts/modified-since/{date}?withFullData=true"
        )
        assert r.status_code == 200, r.text
        return [c["email"] for c in r.json()]

    assert emails("2019-12-31") == ["old@example.com", "mid@example.com", "new@example.com"]
    assert emails("2022-06-15") == ["mid@example.com", "new@example.com"]
    assert emails("2022-06-15T12:30:00Z") == ["mid@example.com", "new@example.com"]  # inclusive
    assert emails("2022-06-15T12:30:00.001Z") == ["new@example.com"]
    assert emails("2022-06-15T13:30:00+01:00") == ["mid@example.com", "new@example.com"]
    assert emails("2022-06-15T12:30:00") == ["mid@example.com", "new@example.com"]
    assert emails("2030-01-01") == []


@pytest.mark.parametrize("date", ["yesterday", "2024-13-01", "2024-01-01T25:00:00Z"])
def test_modified_since_with_a_bad_date(dd, date):
    r = dd.get(f"/v2/address-books/{_book(dd)}/contacts/modified-since/{date}")
    assert r.status_code == 400
    assert r.json()["message"].endswith(f". {PARAM}")


def test_modified_since_paging(dd):
    book = _book(dd)
    since = _iso(_server_now(dd) - timedelta(seconds=1))
    for i in range(5):
        dd.post(f"/v2/address-books/{book}/contacts", json={"email": f"m{i}@example.com"})
    got, skip = [], 0
    while page := dd.get(
        f"/v2/address-books/{book}/contacts/modified-since/{since}?select=2&skip={skip}"
    ).json():
        got += [c["email"] for c in page]
        skip += 2
    assert got == ["ada@example.com"] + [f"m{i}@example.com" for i in range(5)]
    r = dd.get(f"/v2/address-books/{book}/contacts/modified-since/{since}?select=1001")
    assert r.status_code == 400


@pytest.mark.parametrize("email", ["not-an-email", "", "two@@example.com", "a b@example.com"])
def test_add_contact_with_an_invalid_email(dd, email):
    r = dd.post(f"/v2/address-books/{_book(dd)}/contacts", json={"email": email})
    assert (r.status_code, r.json()) == (
        400,
        {"message": "Email is not valid. ERROR_CONTACT_INVALID"},
    )


def test_add_contact_without_email(dd):
    r = dd.post(f"/v2/address-books/{_book(dd)}/contacts", json={"optInType": "Single"})
    assert (r.status_code, r.json()) == (
        400,
        {"message": "Email is not valid. ERROR_CONTACT_INVALID"},
    )


def test_add_contact_with_an_unknown_datafield(dd):
    r = dd.post(
        f"/v2/address-books/{_book(dd)}/contacts",
        json={"email": "u@example.com", "dataFields": [{"key": "SHOESIZE", "value": 9}]},
    )
    assert (r.status_code, r.json()) == (
        400,
        {"message": "Data field SHOESIZE does not exist. ERROR_DATAFIELD_NOTFOUND"},
    )
    assert dd.get("/v2/contacts/u@example.com").status_code == 404  # nothing half-written


def test_datafield_values_are_checked_against_their_type(dd):
    dd.post("/v2/data-fields", json={"name": "AGE", "type": "Numeric"})
    book = _book(dd)
    r = dd.post(
        f"/v2/address-books/{book}/contacts",
        json={"email": "n@example.com", "dataFields": [{"key": "AGE", "value": "old"}]},
    )
    assert (r.status_code, r.json()) == (
        400,
        {"message": "The value for data field AGE is not a valid Numeric. ERROR_DATAFIELD_INVALID"},
    )
    r = dd.post(
        f"/v2/address-books/{book}/contacts",
        json={"email": "n@example.com", "dataFields": [{"key": "AGE", "value": "42"}]},
    )
    assert {d["key"]: d["value"] for d in r.json()["dataFields"]}["AGE"] == 42


def test_bad_optin_or_datafields_shape(dd):
    book = _book(dd)
    r = dd.post(
        f"/v2/address-books/{book}/contacts", json={"email": "o@example.com", "optInType": "Maybe"}
    )
    assert (r.status_code, r.json()) == (
        400,
        {"message": "OptInType is not valid. ERROR_CONTACT_INVALID"},
    )
    r = dd.post(
        f"/v2/address-books/{book}/contacts",
        json={"email": "o@example.com", "dataFields": {"FIRSTNAME": "x"}},
    )
    assert r.status_code == 400
    assert r.json()["message"].endswith(". ERROR_CONTACT_INVALID")


def test_contact_by_id_and_email_not_found(dd):
    for ident in ["987654321", "nobody@example.com"]:
        r = dd.get(f"/v2/contacts/{ident}")
        assert (r.status_code, r.json()) == (404, {"message": "Error: ERROR_CONTACT_NOT_FOUND"})


def test_control_route_sets_datafields_without_touching_books(dd):
    book = _book(dd)
    since = _iso(_server_now(dd))
    r = dd.post(
        "/__emulator/accounts/uk/contacts/ada@example.com",
        auth=None,
        json={"datafields": {"COMPANY": "Babbage & Co"}},
    )
    assert r.status_code == 200
    assert {d["key"]: d["value"] for d in r.json()["contact"]["dataFields"]}[
        "COMPANY"
    ] == "Babbage & Co"
    assert [
        c["email"]
        for c in dd.get(f"/v2/address-books/{book}/contacts/modified-since/{since}").json()
    ] == ["ada@example.com"]
    r = dd.post(
        "/__emulator/accounts/uk/contacts/loner@example.com",
        auth=None,
        json={"datafields": {"FIRSTNAME": "Lo"}},
    )
    assert r.status_code == 201
    assert dd.get(f"/v2/address-books/{book}").json()["contacts"] == 1
    r = dd.post("/__emulator/accounts/nope/contacts/x@example.com", auth=None, json={})
    assert (r.status_code, r.json()) == (404, {"error": "no account named 'nope'"})
