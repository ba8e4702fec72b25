"""Updating a contact: `PUT /v2/contacts/{id}` and `PATCH /contacts/v3/{identifier}/{value}`
(data fields, channel properties, list membership, merge options), and what `~modified` sees."""

from __future__ import annotations

import pytest


def _book(dd) -> int:
    return dd.get("/v2/address-books").json()[0]["id"]


def _ada(dd) -> dict:
    return dd.get("/contacts/v3/email/ada@example.com").json()


def _put_double_opt_in(dd, ada: dict, fields: dict):
    """v2 PUT of Ada's contact: Double opt-in and the given data fields, in their order."""
    return dd.put(
        f"/v2/contacts/{ada['contactId']}",
        json={
            "email": "ada@example.com",
            "optInType": "Double",
            "dataFields": [{"key": k, "value": v} for k, v in fields.items()],
        },
    )


def _modified_since(dd, iso: str) -> list[str]:
    body = dd.get(f"/contacts/v3?~modified=gte::{iso}").json()
    return [c["identifiers"]["email"] for c in body["_items"]]


def _later(dd, seconds: int) -> str:
    """Move the emulator's clock on and return the new server time (v3 filter form)."""
    dd.post("/__emulator/clock", auth=None, json={"offset_seconds": seconds})
    return dd.get("/v2/server-time").json()


def test_v2_put_updates_named_datafields_and_keeps_the_rest(dd):
    ada = _ada(dd)
    r = _put_double_opt_in(dd, ada, {"COMPANY": "Difference Engines"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["optInType"] == "Double"
    fields = {f["key"]: f["value"] for f in body["dataFields"]}
    assert fields["COMPANY"] == "Difference Engines"
    assert fields["FIRSTNAME"] == "Ada"  # not named: kept
    again = dd.get(f"/v2/contacts/{ada['contactId']}").json()
    assert {f["key"]: f["value"] for f in again["dataFields"]} == fields


def test_v2_put_can_change_the_email_and_refuses_one_in_use(dd):
    ada = _ada(dd)
    dd.post(f"/v2/address-books/{_book(dd)}/contacts", json={"email": "bob@example.com"})
    taken = dd.put(f"/v2/contacts/{ada['contactId']}", json={"email": "BOB@example.com"})
    assert taken.status_code == 400
    assert taken.json()["message"].endswith(". ERROR_CONTACT_INVALID")
    moved = dd.put(f"/v2/contacts/{ada['contactId']}", json={"email": "ada@engines.example"})
    assert moved.status_code == 200 and moved.json()["email"] == "ada@engines.example"
    assert dd.get("/v2/contacts/ada@example.com").status_code == 404
    assert dd.get("/v2/contacts/ada@engines.example").json()["id"] == ada["contactId"]
    members = dd.get(f"/v2/address-books/{_book(dd)}/contacts").json()
    assert "ada@engines.example" in [m["email"] for m in members]  # still a member


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/v2/contacts/999999", {"email": "x@example.com"}, 404, "ERROR_CONTACT_NOT_FOUND"),
        ("/v2/contacts/ID", {"email": "x@example.com"}, 400, "ERROR_PARAMETER_INVALID"),
        (None, {"optInType": "Single"}, 400, "ERROR_CONTACT_INVALID"),
        (None, {"email": "not-an-email"}, 400, "ERROR_CONTACT_INVALID"),
        (
            None,
            {"email": "ada@example.com", "dataFields": [{"key": "NOPE", "value": 1}]},
            400,
            "ERROR_DATAFIELD_NOTFOUND",
        ),
    ],
)
def test_v2_put_refusals(dd, path, body, status, code):
    path = path or f"/v2/contacts/{_ada(dd)['contactId']}"
    r = dd.put(path, json=body)
    assert r.status_code == status, r.text
    assert r.json()["message"].endswith(code)


def test_v2_put_of_a_bad_value_changes_nothing(dd):
    dd.post("/v2/data-fields", json={"name": "AGE", "type": "Numeric"})
    ada = _ada(dd)
    r = _put_double_opt_in(dd, ada, {"COMPANY": "X", "AGE": "old"})
    assert r.status_code == 400 and "ERROR_DATAFIELD_INVALID" in r.json()["message"]
    after = dd.get(f"/v2/contacts/{ada['contactId']}").json()
    assert after["optInType"] == "Unknown"
    assert {f["key"]: f["value"] for f in after["dataFields"]}["COMPANY"] == "Analytical Engines"


def test_modified_moves_when_a_datafield_changes_and_not_for_the_same_value(dd):
    ada = _ada(dd)
    since = _later(dd, 60)
    assert _modified_since(dd, since) == []
    same = dd.patch("/contacts/v3/email/ada@example.com", json={"dataFields": {"FIRSTNAME": "Ada"}})
    assert same.status_code == 200 and same.json()["updated"] == ada["updated"]
    assert _modified_since(dd, since) == []
    changed = dd.patch(
        "/contacts/v3/email/ada@example.com", json={"dataFields": {"FIRSTNAME": "Augusta"}}
    )
    assert changed.status_code == 200
    assert changed.json()["updated"] >= since > ada["updated"]
    assert _modified_since(dd, since) == ["ada@example.com"]
    book = _book(dd)
    listed = dd.get(f"/contacts/v3?~listId={book}&~modified=gte::{since}").json()["_items"]
    assert [c["identifiers"]["email"] for c in listed] == ["ada@example.com"]
    v2 = dd.get(f"/v2/address-books/{book}/contacts/modified-since/{since}").json()
    assert [c["email"] for c in v2] == ["ada@example.com"]


def test_v2_put_moves_modified_too(dd):
    ada = _ada(dd)
    since = _later(dd, 60)
    dd.put(
        f"/v2/contacts/{ada['contactId']}",
        json={"email": "ada@example.com", "dataFields": [{"key": "LASTNAME", "value": "King"}]},
    )
    assert _modified_since(dd, since) == ["ada@example.com"]


def test_v3_patch_updates_fields_channel_and_lists(dd):
    us_list = dd.post("/v2/address-books", json={"name": "Second list"}).json()["id"]
    r = dd.patch(
        "/contacts/v3/email/ada@example.com",
        json={
            "dataFields": {"company": "Engines Ltd", "GENDER": "female"},
            "channelProperties": {"email": {"emailType": "plainText", "optInType": "single"}},
            "lists": [us_list],
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["dataFields"]["COMPANY"] == "Engines Ltd"
    assert body["dataFields"]["FIRSTNAME"] == "Ada"
    assert body["channelProperties"]["email"] == {
        "status": "subscribed",
        "emailType": "PlainText",
        "optInType": "Single",
    }
    assert {entry["id"] for entry in body["lists"]} == {_book(dd), us_list}
    members = dd.get(f"/contacts/v3?~listId={us_list}").json()["_items"]
    assert [m["identifiers"]["email"] for m in members] == ["ada@example.com"]
    assert dd.get(f"/v2/address-books/{us_list}").json()["contacts"] == 1


def test_v3_patch_creates_a_new_contact_by_email(dd):
    book = _book(dd)
    r = dd.patch(
        "/contacts/v3/email/New.Person@Example.com",
        json={"dataFields": {"FIRSTNAME": "New"}, "lists": [book]},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["identifiers"] == {"email": "new.person@example.com"}
    assert body["dataFields"]["FIRSTNAME"] == "New"
    assert dd.get(f"/v2/contacts/{body['contactId']}").json()["email"] == "new.person@example.com"
    emails = [c["email"] for c in dd.get(f"/v2/address-books/{book}/contacts").json()]
    assert emails == ["ada@example.com", "new.person@example.com"]


@pytest.mark.parametrize(
    ("option", "company", "firstname"),
    [
        ("overwrite", "", "Augusta"),
        ("overwrite-if-not-empty", "Analytical Engines", "Augusta"),
        ("overwrite-if-empty", "Analytical Engines", "Ada"),
    ],
)
def test_v3_patch_merge_options(dd, option, company, firstname):
    r = dd.patch(
        f"/contacts/v3/email/ada@example.com?merge-option={option}",
        json={"dataFields": {"COMPANY": "", "FIRSTNAME": "Augusta", "POSTCODE": "N1"}},
    )
    assert r.status_code == 200, r.text
    fields = r.json()["dataFields"]
    assert (fields["COMPANY"], fields["FIRSTNAME"], fields["POSTCODE"]) == (
        company,
        firstname,
        "N1",  # empty before: every option fills it
    )


def test_v3_patch_by_contact_id_renames_and_reports_conflicts(dd):
    ada = _ada(dd)
    dd.post(f"/v2/address-books/{_book(dd)}/contacts", json={"email": "bob@example.com"})
    clash = dd.patch(
        f"/contacts/v3/contactId/{ada['contactId']}",
        json={"identifiers": {"email": "bob@example.com"}},
    )
    assert clash.status_code == 409
    assert clash.json()["errorCode"] == "contacts:idAlreadyExists"
    ok = dd.patch(
        f"/contacts/v3/contactId/{ada['contactId']}",
        json={"identifiers": {"email": "countess@example.com"}},
    )
    assert ok.status_code == 200 and ok.json()["identifiers"]["email"] == "countess@example.com"


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/contacts/v3/contactId/999999", {"dataFields": {}}, 404, "contacts:contactNotFound"),
        ("/contacts/v3/contactId/abc", {}, 400, "contacts:invalidId"),
        ("/contacts/v3/email/not-an-email", {}, 400, "contacts:invalidId"),
        ("/contacts/v3/mobileNumber/447700900000", {}, 400, "contacts:invalidIdentifier"),
        ("/contacts/v3/email/ada@example.com", {"dataFields": {"NOPE": 1}}, 400, None),
        ("/contacts/v3/email/ada@example.com", {"lists": [424242]}, 400, "contacts:invalidLists"),
        (
            "/contacts/v3/email/ada@example.com",
            {"channelProperties": {"email": {"emailType": "rtf"}}},
            400,
            "contacts:invalidChannelProperties",
        ),
        ("/contacts/v3/email/ada@example.com?merge-option=sometimes", {}, 400, None),
    ],
)
def test_v3_patch_refusals_change_nothing(dd, path, body, status, code):
    before = _ada(dd)
    r = dd.patch(path, json=body)
    assert r.status_code == status, r.text
    error = r.json()
    assert set(error) >= {"errorCode", "description"}
    if code:
        assert error["errorCode"] == code
    assert _ada(dd) == before


def test_v3_patch_needs_a_json_object(dd):
    r = dd.patch("/contacts/v3/email/ada@example.com", data="[1, 2")
    assert r.status_code == 400 and r.json()["errorCode"] == "contacts:badJson"


def test_v3_get_one_contact(dd):
    body = _ada(dd)
    assert body["identifiers"] == {"email": "ada@example.com"}
    assert body["dataFields"]["COMPANY"] == "Analytical Engines"
    assert [entry["name"] for entry in body["lists"]] == ["Webinar signups"]
    by_id = dd.get(f"/contacts/v3/contactId/{body['contactId']}").json()
    assert by_id == body
    missing = dd.get("/contacts/v3/email/nobody@example.com")
    assert missing.status_code == 404
    assert missing.json()["details"] == [
        {"item": "nobody@example.com", "description": "Not found using the identifier 'email'"}
    ]


def test_updating_a_generated_member_keeps_it_in_its_book(dd):
    book = _book(dd)
    dd.post(
        f"/__emulator/accounts/uk/address-books/{book}/generate",
        auth=None,
        json={"count": 5, "datafields": {"FIRSTNAME": "F{n}"}},
    )
    r = dd.patch(
        "/contacts/v3/email/member2@example.com",
        json={"identifiers": {"email": "renamed@example.com"}, "dataFields": {"FIRSTNAME": "R"}},
    )
    assert r.status_code == 200, r.text
    members = dd.get(f"/v2/address-books/{book}/contacts?withFullData=true").json()
    emails = [m["email"] for m in members]
    assert emails == [
        "ada@example.com",
        "member0@example.com",
        "member1@example.com",
        "renamed@example.com",
        "member3@example.com",
        "member4@example.com",
    ]
    assert dd.get("/v2/contacts/member2@example.com").status_code == 404
    assert dd.get("/contacts/v3/email/renamed@example.com").json()["dataFields"]["FIRSTNAME"] == "R"
    assert dd.get(f"/v2/address-books/{book}").json()["contacts"] == 6


def test_a_stored_contact_a_generator_later_covers_keeps_its_place_when_renamed(dd):
    """member1@ is added by hand first, then a generator covers its address: it is that member
    (one contact), and after an email change it still is, and modified-since sees the change."""
    book = _book(dd)
    added = dd.post(f"/v2/address-books/{book}/contacts", json={"email": "member1@example.com"})
    contact_id = added.json()["id"]
    dd.post(f"/__emulator/accounts/uk/address-books/{book}/generate", auth=None, json={"count": 3})
    since = _later(dd, 60)
    r = dd.put(f"/v2/contacts/{contact_id}", json={"email": "first@example.com"})
    assert r.status_code == 200, r.text
    members = dd.get(f"/v2/address-books/{book}/contacts").json()
    assert [(m["email"], m["id"] == contact_id) for m in members] == [
        ("ada@example.com", False),
        ("member0@example.com", False),
        ("first@example.com", True),
        ("member2@example.com", False),
    ]
    assert dd.get("/v2/contacts/member1@example.com").status_code == 404
    changed = dd.get(f"/v2/address-books/{book}/contacts/modified-since/{since}").json()
    assert [m["email"] for m in changed] == ["first@example.com"]
