"""sObject Collections retrieve, update and delete through sf.restful, with per-record results,
allOrNone rollback and the per-call limits."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
    "fields": [],
}


def _create(sf, *names: str) -> list[str]:
    records = [
        {"attributes": {"type": "Lead"}, "LastName": n, "Company": "C", "Region__c": "EMEA"}
        for n in names
    ]
    out = sf.restful("composite/sobjects", method="POST", json={"records": records})
    assert all(r["success"] for r in out)
    return [r["id"] for r in out]


def test_retrieve_by_post_and_get(org):
    sf = org.sf()
    a, b = _create(sf, "Alpha", "Beta")
    contact = sf.query("SELECT Id FROM Contact")["records"][0]["Id"]
    body = {"ids": [a, contact, b[:15], "00Q8d0000000zzzAAA"], "fields": ["LastName", "Owner.Id"]}
    got = sf.restful("composite/sobjects/Lead", method="POST", json=body)
    assert [g and g["LastName"] for g in got] == ["Alpha", None, "Beta", None]
    assert got[0]["attributes"] == {
        "type": "Lead",
        "url": f"/services/data/v59.0/sobjects/Lead/{a}",
    }
    assert got[0]["Owner"]["Id"] == org.backend.user_id
    got = sf.restful("composite/sobjects/Lead", params={"ids": f"{a},{b}", "fields": "Id,Company"})
    assert [(g["Id"], g["Company"]) for g in got] == [(a, "C"), (b, "C")]


def test_retrieve_unknown_field_fails_the_request(org):
    sf = org.sf()
    (a,) = _create(sf, "Alpha")
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.restful("composite/sobjects/Lead", method="POST", json={"ids": [a], "fields": ["Nope"]})
    assert err.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_update_per_record_results(org):
    sf = org.sf()
    a, b = _create(sf, "Alpha", "Beta")
    records = [
        {"attributes": {"type": "Lead"}, "id": a, "Title": "CEO"},
        {"attributes": {"type": "Lead"}, "id": b, "Status": "Nope"},
        {"attributes": {"type": "Lead"}, "Title": "no id"},
        {"attributes": {"type": "Lead"}, "id": "00Q8d0000000zzzAAA", "Title": "ghost"},
    ]
    out = sf.restful("composite/sobjects", method="PATCH", json={"records": records})
    assert out[0] == {"id": a, "success": True, "errors": []}
    assert out[1]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert out[2]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert out[3]["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert sf.Lead.get(a)["Title"] == "CEO"


def test_update_all_or_none_rolls_back(org):
    sf = org.sf()
    a, b = _create(sf, "Alpha", "Beta")
    before = sf.Lead.get(a)["SystemModstamp"]
    org.control("clock", {"offset_seconds": 60})
    records = [
        {"attributes": {"type": "Lead"}, "id": a, "Title": "CEO"},
        {"attributes": {"type": "Lead"}, "id": b, "LastName": None},
    ]
    out = sf.restful(
        "composite/sobjects", method="PATCH", json={"allOrNone": True, "records": records}
    )
    assert out[0] == {"success": False, "errors": [ROLLED_BACK]}
    assert out[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    lead = sf.Lead.get(a)
    assert lead["Title"] is None and lead["SystemModstamp"] == before


def test_delete_per_record_and_all_or_none(org):
    sf = org.sf()
    a, b, c = _create(sf, "Alpha", "Beta", "Gamma")
    out = sf.restful("composite/sobjects", method="DELETE", params={"ids": f"{a},{a}"})
    assert out[0] == {"id": a, "success": True, "errors": []}
    assert out[1] == {
        "success": False,
        "errors": [
            {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}
        ],
    }
    out = sf.restful(
        "composite/sobjects",
        method="DELETE",
        params={"ids": f"{b},{a},{c}", "allOrNone": "true"},
    )
    assert [r["success"] for r in out] == [False, False, False]
    assert out[0]["errors"] == [ROLLED_BACK]
    names = {r["LastName"] for r in sf.query_all("SELECT LastName FROM Lead")["records"]}
    assert {"Beta", "Gamma"} <= names and "Alpha" not in names


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        ("POST", {"json": {"records": [{"attributes": {"type": "Lead"}}] * 201}}),
        ("PATCH", {"json": {"records": [{"attributes": {"type": "Lead"}, "id": "x"}] * 201}}),
        ("DELETE", {"params": {"ids": ",".join(["00Q8d0000000zzzAAA"] * 201)}}),
    ],
)
def test_two_hundred_records_per_call(org, method, kwargs):
    with pytest.raises(SalesforceMalformedRequest) as err:
        org.sf().restful("composite/sobjects", method=method, **kwargs)
    assert err.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert org.sf().query("SELECT COUNT() FROM Lead")["totalSize"] == 1
