"""v3 GET /contacts/v3: ~listId, ~modified / ~created filters, limit, data-fields, marker paging."""

from __future__ import annotations

import pytest


def _book(dd):
    return dd.get("/v2/address-books").json()[0]["id"]


def _seeded(dd_factory, dd_seed, n=7):
    book = dd_seed["accounts"][0]["address_books"][0]
    book["contacts"] = [
        {
            "email": f"c{i}@example.com",
            "datafields": {"FIRSTNAME": f"F{i}"},
            "added_at": f"2024-01-0{i + 1}T00:00:00Z",
        }
        for i in range(n)
    ]
    return dd_factory(dd_seed)


def _all_pages(dd, first_path):
    items, path, pages = [], first_path, 0
    while True:
        r = dd.get(path)
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["_items"]
        pages += 1
        nxt = body["_links"].get("next")
        if not nxt:
            return items, pages
        path = nxt["link"][len(dd.url) :]


def test_list_members_with_marker_paging(dd_factory, dd_seed):
    dd = _seeded(dd_factory, dd_seed)
    book = _book(dd)
    items, pages = _all_pages(dd, f"/contacts/v3?~listId={book}&limit=3")
    assert [c["identifiers"]["email"] for c in items] == [f"c{i}@example.com" for i in range(7)]
    assert pages == 3
    assert all("dataFields" not in c for c in items)
    first = dd.get(f"/contacts/v3?~listId={book}&limit=3").json()
    assert set(first["_links"]) == {"self", "first", "next"}
    assert first["_links"]["next"]["link"].endswith("marker=" + first["_links"]["next"]["marker"])
    # the marker alone (plus the same filters) continues where the page ended
    marker = first["_links"]["next"]["marker"]
    again = dd.get(f"/contacts/v3?~listId={book}&limit=3&marker={marker}").json()
    assert [c["identifiers"]["email"] for c in again["_items"]] == [
        "c3@example.com",
        "c4@example.com",
        "c5@example.com",
    ]


def test_last_page_has_no_next_link(dd):
    body = dd.get(f"/contacts/v3?~listId={_book(dd)}&limit=5000").json()
    assert len(body["_items"]) == 1
    assert "next" not in body["_links"]


def test_modified_filter_returns_members_added_or_modified_since(dd_factory, dd_seed):
    dd = _seeded(dd_factory, dd_seed)
    book = _book(dd)
    items, _ = _all_pages(
        dd, f"/contacts/v3?~listId={book}&~modified=gte::2024-01-05T00:00:00Z&limit=1"
    )
    assert [c["identifiers"]["email"] for c in items] == [
        "c4@example.com",
        "c5@example.com",
        "c6@example.com",
    ]
    # with milliseconds too
    items, _ = _all_pages(
        dd, f"/contacts/v3?~listId={book}&~modified=gte::2024-01-05T00:00:00.001Z"
    )
    assert [c["identifiers"]["email"] for c in items] == ["c5@example.com", "c6@example.com"]
    # modifying an old member (adding it again) brings it back
    now = dd.get("/v2/server-time").json()
    dd.post(f"/v2/address-books/{book}/contacts", json={"email": "c1@example.com"})
    items, _ = _all_pages(dd, f"/contacts/v3?~listId={book}&~modified=gte::{now}")
    assert [c["identifiers"]["email"] for c in items] == ["c1@example.com"]


def test_created_filter(dd_factory, dd_seed):
    dd = _seeded(dd_factory, dd_seed)
    items, _ = _all_pages(
        dd, f"/contacts/v3?~listId={_book(dd)}&~created=gte::2024-01-06T00:00:00Z"
    )
    assert [c["identifiers"]["email"] for c in items] == ["c5@example.com", "c6@example.com"]
    items, _ = _all_pages(dd, "/contacts/v3?~created=gte::2024-01-06T00:00:00Z")
    assert [c["identifiers"]["email"] for c in items] == ["c5@example.com", "c6@example.com"]


def test_account_wide_listing_is_in_ascending_id_order(dd_factory, dd_seed):
    dd = _seeded(dd_factory, dd_seed)
    dd.post("/__emulator/accounts/uk/contacts/solo@example.com", auth=None, json={})
    items, pages = _all_pages(dd, "/contacts/v3?limit=2")
    ids = [c["contactId"] for c in items]
    assert ids == sorted(ids) and len(ids) == 8 and pages == 4


def test_data_fields_selection(dd):
    book = _book(dd)
    (item,) = dd.get(f"/contacts/v3?~listId={book}&data-fields=FIRSTNAME|company").json()["_items"]
    assert item["dataFields"] == {"FIRSTNAME": "Ada", "COMPANY": "Analytical Engines"}
    (item,) = dd.get(f"/contacts/v3?~listId={book}&data-fields=[[ALL]]").json()["_items"]
    assert item["dataFields"] == {
        "FIRSTNAME": "Ada",
        "LASTNAME": "Lovelace",
        "FULLNAME": None,
        "GENDER": None,
        "POSTCODE": None,
        "COMPANY": "Analytical Engines",
    }
    assert set(item) == {"contactId", "status", "created", "updated", "identifiers", "dataFields"}
    assert item["status"] == "subscribed"
    assert item["created"].endswith("Z")


def test_include_lists_and_channel_properties(dd):
    book = _book(dd)
    (item,) = dd.get(f"/contacts/v3?~listId={book}&include=lists|channelProperties").json()[
        "_items"
    ]
    assert item["lists"] == [{"id": book, "name": "Webinar signups", "status": "subscribed"}]
    assert item["channelProperties"] == {
        "email": {"status": "subscribed", "emailType": "Html", "optInType": "Unknown"}
    }


def test_parameter_names_are_case_insensitive(dd_factory, dd_seed):
    dd = _seeded(dd_factory, dd_seed)
    body = dd.get(
        f"/contacts/v3?~LISTID={_book(dd)}&LIMIT=2&~Modified=gte::2024-01-01T00:00:00Z"
    ).json()
    assert len(body["_items"]) == 2 and "next" in body["_links"]


@pytest.mark.parametrize("limit", ["0", "5001", "-1", "many"])
def test_limit_must_be_1_to_5000(dd, limit):
    r = dd.get(f"/contacts/v3?limit={limit}")
    assert r.status_code == 400
    assert r.json() == {
        "errorCode": "contacts:invalidLimit",
        "description": f"The limit '{limit}' is invalid; it must be between 1 and 5000",
        "details": [{"item": "limit", "description": "Must be between 1 and 5000"}],
    }


def test_limit_5000_is_allowed(dd):
    assert dd.get("/contacts/v3?limit=5000").status_code == 200


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-01T00:00:00Z",
        "gte::2024-01-01",
        "gte::2024-01-01T00:00:00+00:00",
        "gt::2024-01-01T00:00:00Z",
        "gte::2024-01-01T00:00:00.1Z",
    ],
)
def test_bad_time_filters(dd, value):
    r = dd.get("/contacts/v3", params={"~modified": value})
    assert r.status_code == 400
    assert r.json() == {
        "errorCode": "contacts:invalidFilter",
        "description": f"The filter value '{value}' is invalid",
    }
    r = dd.get("/contacts/v3", params={"~created": value})
    assert r.json()["errorCode"] == "contacts:invalidFilter"


def test_created_and_modified_together_are_refused(dd):
    r = dd.get(
        "/contacts/v3?~created=gte::2024-01-01T00:00:00Z&~modified=gte::2024-01-01T00:00:00Z"
    )
    assert (r.status_code, r.json()) == (
        400,
        {
            "errorCode": "contacts:invalidFilter",
            "description": "The ~created and ~modified filters can't be used together",
        },
    )


def test_unknown_list_and_segment(dd):
    for query in ["~listId=999999", "~listId=abc", "~segmentId=5"]:
        r = dd.get(f"/contacts/v3?{query}")
        assert r.status_code == 400
        value = query.split("=")[1]
        assert r.json() == {
            "errorCode": "contacts:invalidFilter",
            "description": f"The filter value '{value}' is invalid",
        }


def test_unknown_data_field_and_include(dd):
    r = dd.get("/contacts/v3?data-fields=FIRSTNAME|SHOESIZE")
    assert (r.status_code, r.json()) == (
        400,
        {
            "errorCode": "contacts:invalidDataFields",
            "description": "The data field 'SHOESIZE' does not exist",
            "details": [{"item": "SHOESIZE", "description": "Unknown data field"}],
        },
    )
    r = dd.get("/contacts/v3?include=friends")
    assert r.status_code == 400
    assert r.json()["errorCode"] == "contacts:invalidInclude"


@pytest.mark.parametrize("marker", ["garbage!!", "eyJrIjoiYSIsInAiOjB9"])
def test_bad_marker(dd, marker):
    # the second is a valid account-wide marker used on a list query
    r = dd.get(f"/contacts/v3?~listId={_book(dd)}&marker={marker}")
    assert (r.status_code, r.json()) == (
        400,
        {"errorCode": "contacts:invalidMarker", "description": f"The marker '{marker}' is invalid"},
    )


def _join(dd, book, email, first):
    r = dd.post(
        f"/v2/address-books/{book}/contacts",
        json={"email": email, "dataFields": [{"key": "FIRSTNAME", "value": first}]},
    )
    assert r.status_code == 200, r.text
    return r.json()["id"]


def _modified_members(dd, book, since):
    body = dd.get(f"/contacts/v3?~listId={book}&~modified=gte::{since}").json()
    return {c["identifiers"]["email"]: c["updated"] for c in body["_items"]}


def test_a_join_counts_as_a_modification_unless_the_account_says_otherwise(dd_factory, dd_seed):
    """Dotdigital does not document whether joining a book moves an existing contact's
    modified date; `join_updates_modified` (default true) picks the reading."""
    dd_seed["accounts"][0]["contacts"] = [
        {"email": "old@example.com", "datafields": {"FIRSTNAME": "Old"}, "added_at": "2024-01-01"},
        {"email": "old2@example.com", "datafields": {"FIRSTNAME": "Two"}, "added_at": "2024-01-01"},
    ]
    dd = dd_factory(dd_seed)
    book = _book(dd)
    since = "2025-01-01T00:00:00Z"
    _join(dd, book, "old@example.com", "Old")
    assert "old@example.com" in _modified_members(dd, book, since)  # the default reading

    r = dd.post(
        "/__emulator/accounts/uk/settings", auth=None, json={"join_updates_modified": False}
    )
    assert r.json() == {"join_updates_modified": False}
    cid = _join(dd, book, "old2@example.com", "Two")  # same data: no modification
    _join(dd, book, "new@example.com", "New")  # a new contact is created now: modified
    seen = _modified_members(dd, book, since)
    assert "old2@example.com" not in seen and "new@example.com" in seen
    member_ids = [c["contactId"] for c in dd.get(f"/contacts/v3?~listId={book}").json()["_items"]]
    assert cid in member_ids  # it IS a member; only ~modified misses it
    assert dd.get(f"/contacts/v3/contactId/{cid}").json()["updated"].startswith("2024-01-01")
    _join(dd, book, "old2@example.com", "Changed")  # a real change still counts
    assert "old2@example.com" in _modified_members(dd, book, since)


def test_join_updates_modified_as_a_seed_key_and_bad_settings(dd_factory, dd_seed):
    dd_seed["accounts"][0]["join_updates_modified"] = False
    dd = dd_factory(dd_seed)
    assert dd.get("/__emulator/accounts/uk/settings", auth=None).json() == {
        "join_updates_modified": False
    }
    for body in ({"join_updates_modified": "no"}, {"unknown": True}):
        assert dd.post("/__emulator/accounts/uk/settings", auth=None, json=body).status_code == 400
    assert dd.post("/__emulator/accounts/zz/settings", auth=None, json={}).status_code == 404


def test_get_contact_by_id_or_email(dd):
    book = _book(dd)
    ada = dd.get(f"/contacts/v3?~listId={book}").json()["_items"][0]
    by_id = dd.get(f"/contacts/v3/contactId/{ada['contactId']}").json()
    assert by_id["dataFields"]["COMPANY"] == "Analytical Engines"
    assert dd.get("/contacts/v3/email/ada@example.com").json()["contactId"] == ada["contactId"]
    missing = dd.get("/contacts/v3/contactId/123456789")
    assert missing.status_code == 404 and missing.json()["errorCode"] == "contacts:contactNotFound"
    assert dd.get("/contacts/v3/contactId/abc").status_code == 400
    assert dd.get(f"/contacts/v3/contactId/{ada['contactId']}", auth=None).status_code == 401
