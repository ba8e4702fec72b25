"""v2 datafields: the five system fields, create with Dotdigital's name and type rules."""

from __future__ import annotations

import pytest

SYSTEM = ["FIRSTNAME", "LASTNAME", "FULLNAME", "GENDER", "POSTCODE"]


def test_system_fields_always_exist(dd):
    names = [d["name"] for d in dd.get("/v2/data-fields", auth=dd.us).json()]
    assert names == SYSTEM
    assert [d["name"] for d in dd.get("/v2/data-fields").json()] == [*SYSTEM, "COMPANY"]


def test_create_returns_201_and_the_field(dd):
    r = dd.post("/v2/data-fields", json={"name": "BIRTHDAY", "type": "Date"})
    assert r.status_code == 201
    assert r.json() == {
        "name": "BIRTHDAY",
        "type": "Date",
        "visibility": "Private",
        "defaultValue": None,
    }
    assert r.json() in dd.get("/v2/data-fields").json()


def test_create_with_pascal_case_body_and_default(dd):
    r = dd.post(
        "/v2/data-fields",
        json={"Name": "IS_HAPPY", "Type": "Boolean", "Visibility": "Public", "DefaultValue": True},
    )
    assert r.status_code == 201
    assert r.json() == {
        "name": "IS_HAPPY",
        "type": "Boolean",
        "visibility": "Public",
        "defaultValue": True,
    }


@pytest.mark.parametrize("name", ["COMPANY", "company", "FIRSTNAME", "Postcode"])
def test_existing_name_gives_non_unique_datafield(dd, name):
    r = dd.post("/v2/data-fields", json={"name": name, "type": "String"})
    assert (r.status_code, r.json()) == (
        400,
        {"message": "Field already exists. ERROR_NON_UNIQUE_DATAFIELD"},
    )


@pytest.mark.parametrize("name", ["", "A" * 21, "HAS SPACE", "DOT.TED", "ÜMLAUT", None, 7])
def test_name_rules(dd, name):
    r = dd.post("/v2/data-fields", json={"name": name, "type": "String"})
    assert r.status_code == 400
    assert r.json() == {
        "message": "Data field names may only contain letters, digits, '-' and '_' and be 1 to 20 characters long. ERROR_DATAFIELD_INVALID"
    }


@pytest.mark.parametrize("name", ["A" * 20, "a-b_c-9", "x"])
def test_valid_names(dd, name):
    assert dd.post("/v2/data-fields", json={"name": name, "type": "String"}).status_code == 201


@pytest.mark.parametrize("type_", [None, "Text", "Integer", 3])
def test_type_rules(dd, type_):
    r = dd.post("/v2/data-fields", json={"name": "T1", "type": type_})
    assert (r.status_code, r.json()) == (
        400,
        {
            "message": "Data field type must be one of String, Numeric, Date, Boolean. ERROR_DATAFIELD_INVALID"
        },
    )


@pytest.mark.parametrize("type_", ["String", "Numeric", "Date", "Boolean", "numeric"])
def test_all_types(dd, type_):
    r = dd.post("/v2/data-fields", json={"name": "F", "type": type_})
    assert r.status_code == 201
    assert r.json()["type"] == type_.capitalize()


def test_bad_visibility_and_default(dd):
    r = dd.post("/v2/data-fields", json={"name": "V", "type": "String", "visibility": "Hidden"})
    assert (r.status_code, r.json()) == (
        400,
        {"message": "Data field visibility must be Private or Public. ERROR_DATAFIELD_INVALID"},
    )
    r = dd.post("/v2/data-fields", json={"name": "N", "type": "Numeric", "defaultValue": "many"})
    assert (r.status_code, r.json()) == (
        400,
        {"message": "The value for data field N is not a valid Numeric. ERROR_DATAFIELD_INVALID"},
    )
