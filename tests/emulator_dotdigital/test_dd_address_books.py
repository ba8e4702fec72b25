"""v2 address books: list with select/skip paging, get, create with Dotdigital's name rules."""

from __future__ import annotations

import pytest

PARAM = "ERROR_PARAMETER_INVALID"


def _make_books(dd, n):
    for i in range(n):
        r = dd.post("/v2/address-books", json={"name": f"Book {i:02d}"})
        assert r.status_code == 201


def test_create_returns_201_with_the_book(dd):
    r = dd.post("/v2/address-books", json={"name": "Spring", "visibility": "Public"})
    assert r.status_code == 201
    body = r.json()
    assert body == {"id": body["id"], "name": "Spring", "visibility": "Public", "contacts": 0}
    assert dd.get(f"/v2/address-books/{body['id']}").json() == body


def test_create_accepts_pascal_case_and_defaults_to_private(dd):
    r = dd.post("/v2/address-books", json={"Name": "Pascal"})
    assert r.status_code == 201
    assert r.json()["visibility"] == "Private"


@pytest.mark.parametrize(
    "name", ["Webinar signups", "webinar SIGNUPS", "Test", "test", "All contacts", "ALL CONTACTS"]
)
def test_duplicate_or_reserved_names_are_refused(dd, name):
    r = dd.post("/v2/address-books", json={"name": name})
    assert r.status_code == 400
    assert r.json() == {
        "message": "That name is in use already, please choose another. ERROR_ADDRESSBOOK_DUPLICATE"
    }


@pytest.mark.parametrize(
    "body", [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 129}, {"name": 5}]
)
def test_invalid_names_are_refused(dd, body):
    r = dd.post("/v2/address-books", json=body)
    assert r.status_code == 400
    assert r.json()["message"].endswith(". ERROR_ADDRESSBOOK_INVALID")


def test_name_of_128_characters_is_fine(dd):
    assert dd.post("/v2/address-books", json={"name": "x" * 128}).status_code == 201


def test_invalid_visibility_is_refused(dd):
    r = dd.post("/v2/address-books", json={"name": "V", "visibility": "Secret"})
    assert r.status_code == 400
    assert r.json()["message"].endswith(". ERROR_ADDRESSBOOK_INVALID")


def test_malformed_json_body(dd):
    r = dd.post("/v2/address-books", data="{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {"message": "The request body is not valid JSON. ERROR_MALFORMED_REQUEST"}


def test_select_skip_paging(dd):
    _make_books(dd, 5)
    names = [b["name"] for b in dd.get("/v2/address-books").json()]
    assert len(names) == 6
    page1 = dd.get("/v2/address-books?select=4&skip=0").json()
    page2 = dd.get("/v2/address-books?select=4&skip=4").json()
    page3 = dd.get("/v2/address-books?select=4&skip=8").json()
    assert [b["name"] for b in page1 + page2] == names
    assert page3 == []


def test_query_parameter_names_are_case_insensitive(dd):
    _make_books(dd, 3)
    assert len(dd.get("/v2/address-books?Select=2&Skip=1").json()) == 2
    assert len(dd.get("/v2/address-books?SELECT=1").json()) == 1


@pytest.mark.parametrize(
    "query", ["select=0", "select=1001", "select=-1", "select=abc", "Select=5000"]
)
def test_select_must_be_1_to_1000(dd, query):
    r = dd.get(f"/v2/address-books?{query}")
    assert r.status_code == 400
    body = r.json()
    assert list(body) == ["message"]
    assert body["message"].endswith(f". {PARAM}")


def test_select_1000_is_allowed(dd):
    assert dd.get("/v2/address-books?select=1000").status_code == 200
    assert dd.get("/v2/address-books?select=1").status_code == 200


def test_negative_skip_is_refused(dd):
    r = dd.get("/v2/address-books?skip=-1")
    assert (r.status_code, r.json()) == (
        400,
        {"message": f"The skip parameter must be 0 or more. {PARAM}"},
    )


def test_get_unknown_or_non_numeric_book(dd):
    r = dd.get("/v2/address-books/999999")
    assert (r.status_code, r.json()) == (404, {"message": "Error: ERROR_ADDRESSBOOK_NOT_FOUND"})
    r = dd.get("/v2/address-books/abc")
    assert r.status_code == 400
    assert r.json()["message"].endswith(f". {PARAM}")
