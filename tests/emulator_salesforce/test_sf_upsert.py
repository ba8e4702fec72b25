"""A unique External ID field on Lead, and upsert by it (sObject Collections, Bulk API 2.0).

The field is the one leadsync asks orgs to add: Leadsync_Key__c, Text(255), Unique
(case-insensitive, Salesforce's default), External ID. Driven through unmodified
simple-salesforce, as leadsync's client drives it.
"""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

KEY = "Leadsync_Key__c"
KEY_FIELD = {"name": KEY, "type": "string", "length": 255, "unique": True, "external_id": True}


@pytest.fixture
def keyed(sf_factory, issue_seed):
    issue_seed["lead_fields"].append(dict(KEY_FIELD))
    return sf_factory(issue_seed)


def _lead(key: str | None, last: str = "L", **extra) -> dict:
    record = {"attributes": {"type": "Lead"}, "LastName": last, "Company": "C", **extra}
    record.setdefault("Region__c", "EMEA")
    if key is not None:
        record[KEY] = key
    return record


def _upsert(sf, records: list[dict], all_or_none: bool = False, field: str = KEY) -> list[dict]:
    return sf.restful(
        f"composite/sobjects/Lead/{field}",
        method="PATCH",
        json={"allOrNone": all_or_none, "records": records},
    )


def _by_key(sf) -> dict[str, dict]:
    rows = sf.query_all(f"SELECT Id, LastName, Company, {KEY} FROM Lead WHERE {KEY} != null")
    return {r[KEY]: r for r in rows["records"]}


def test_sf_key_field_is_described_as_unique_external_id(keyed, org):
    field = next(f for f in keyed.sf().Lead.describe()["fields"] if f["name"] == KEY)
    assert (field["externalId"], field["unique"], field["idLookup"]) == (True, True, True)
    assert (field["caseSensitive"], field["type"], field["length"]) == (False, "string", 255)
    assert KEY not in {f["name"] for f in org.sf().Lead.describe()["fields"]}  # seeded only


def test_sf_upsert_creates_then_updates_the_same_record(keyed):
    sf = keyed.sf()
    first = _upsert(sf, [_lead("uk:1", "Ada"), _lead("uk:2", "Bob")])
    assert [(r["success"], r["created"], r["errors"]) for r in first] == [(True, True, [])] * 2
    again = _upsert(sf, [_lead("UK:1", "Ada Lovelace"), _lead("uk:3", "Cy")])
    assert again[0] == {"id": first[0]["id"], "success": True, "errors": [], "created": False}
    assert again[1]["created"] is True
    leads = _by_key(sf)
    assert len(leads) == 3 and leads["UK:1"]["LastName"] == "Ada Lovelace"
    assert leads["UK:1"]["Id"] == first[0]["id"]


def test_sf_a_taken_key_is_a_duplicate_value_on_insert_and_update(keyed):
    sf = keyed.sf()
    [made] = _upsert(sf, [_lead("uk:1")])
    results = sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": False, "records": [_lead("UK:1")]}
    )
    assert results == [
        {
            "success": False,
            "errors": [
                {
                    "statusCode": "DUPLICATE_VALUE",
                    "message": f"duplicate value found: {KEY} duplicates value on record with "
                    f"id: {made['id']}",
                    "fields": [KEY],
                }
            ],
        }
    ]
    other = sf.Lead.create({"LastName": "O", "Company": "C", "Region__c": "EMEA", KEY: "uk:2"})
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Lead.update(other["id"], {KEY: "uk:1"})
    assert info.value.content[0]["errorCode"] == "DUPLICATE_VALUE"
    assert sf.Lead.update(other["id"], {KEY: "uk:2", "LastName": "Same key"}) == 204
    assert len(_by_key(sf)) == 2


def test_sf_one_key_twice_in_a_request_fails_both_records(keyed):
    sf = keyed.sf()
    results = _upsert(sf, [_lead("uk:1", "A"), _lead("uk:2"), _lead("Uk:1", "B")])
    assert [r["success"] for r in results] == [False, True, False]
    assert results[0]["errors"] == [
        {"statusCode": "DUPLICATE_VALUE", "message": "Duplicate external id specified: uk:1",
         "fields": [KEY]}
    ]  # fmt: skip
    assert set(_by_key(sf)) == {"uk:2"}


def test_sf_all_or_none_upsert_rolls_updates_and_creations_back(keyed):
    sf = keyed.sf()
    [made] = _upsert(sf, [_lead("uk:1", "Before")])
    results = _upsert(
        sf, [_lead("uk:1", "After"), _lead("uk:2"), _lead("uk:3", Region__c="Moon")], True
    )
    assert [r["errors"][0]["statusCode"] for r in results] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    ]
    leads = _by_key(sf)
    assert list(leads) == ["uk:1"] and leads["uk:1"]["LastName"] == "Before"
    assert leads["uk:1"]["Id"] == made["id"]
    assert len(sf.query_all(f"SELECT Id FROM Lead WHERE {KEY} = 'uk:1'")["records"]) == 1


def test_sf_upsert_needs_an_external_id_field_and_a_key(keyed):
    sf = keyed.sf()
    with pytest.raises(SalesforceMalformedRequest) as info:
        _upsert(sf, [_lead("uk:1")], field="Email")
    assert info.value.content == [
        {
            "message": "Field name provided, Email is not an External ID or indexed field for Lead",
            "errorCode": "INVALID_FIELD",
            "fields": ["Email"],
        }
    ]
    [missing] = _upsert(sf, [_lead(None)])
    assert missing["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    with pytest.raises(SalesforceMalformedRequest):
        _upsert(sf, [{"attributes": {"type": "Contact"}, "LastName": "X", KEY: "k"}])


def test_sf_case_sensitive_unique_field_tells_case_apart(sf_factory, issue_seed):
    issue_seed["lead_fields"].append({**KEY_FIELD, "case_sensitive": True})
    sf = sf_factory(issue_seed).sf()
    results = _upsert(sf, [_lead("abc"), _lead("ABC")])
    assert [(r["success"], r["created"]) for r in results] == [(True, True), (True, True)]


def test_sf_bulk_upsert_job_reports_created_and_updated_rows(keyed):
    sf = keyed.sf()
    [made] = _upsert(sf, [_lead("uk:1", "Before", Title="Kept")])
    rows = [
        {KEY: "uk:1", "LastName": "After", "Company": "C", "Region__c": "EMEA", "Title": ""},
        {KEY: "uk:2", "LastName": "New", "Company": "C", "Region__c": "EMEA", "Title": "T"},
        {KEY: "uk:3", "LastName": "Twice", "Company": "C", "Region__c": "EMEA", "Title": ""},
        {KEY: "UK:3", "LastName": "Twice", "Company": "C", "Region__c": "EMEA", "Title": ""},
    ]
    [summary] = sf.bulk2.Lead.upsert(records=rows, external_id_field=KEY, wait=0)
    job = sf.restful(f"jobs/ingest/{summary['job_id']}")
    assert (job["operation"], job["externalIdFieldName"], job["state"]) == (
        "upsert",
        KEY,
        "JobComplete",
    )
    results = sf.bulk2.Lead.get_all_ingest_records(summary["job_id"])
    done = {r[KEY]: r for r in results["successfulRecords"]}
    assert {k: r["sf__Created"] for k, r in done.items()} == {"uk:1": "false", "uk:2": "true"}
    assert done["uk:1"]["sf__Id"] == made["id"]
    failed = sorted(r["sf__Error"] for r in results["failedRecords"])
    assert failed == [
        f"DUPLICATE_VALUE:Duplicate external id specified: {k}:{KEY} --" for k in ("UK:3", "uk:3")
    ]
    leads = _by_key(sf)
    assert set(leads) == {"uk:1", "uk:2"} and leads["uk:1"]["LastName"] == "After"
    title = sf.query(f"SELECT Title FROM Lead WHERE Id = '{made['id']}'")["records"][0]["Title"]
    assert title == "Kept"  # an empty cell leaves the field as it is on update


def test_sf_bulk_upsert_job_needs_an_external_id_field(keyed):
    sf = keyed.sf()
    good = {"object": "Lead", "operation": "upsert", "externalIdFieldName": KEY}
    job = sf.restful("jobs/ingest", method="POST", json={**good, "contentType": "CSV"})
    assert (job["state"], job["externalIdFieldName"]) == ("Open", KEY)
    for body in (
        {"object": "Lead", "operation": "upsert"},
        {"object": "Lead", "operation": "upsert", "externalIdFieldName": "Email"},
    ):
        with pytest.raises(SalesforceMalformedRequest) as info:
            sf.restful("jobs/ingest", method="POST", json={**body, "contentType": "CSV"})
        assert info.value.content[0]["errorCode"] == "INVALIDJOB"
