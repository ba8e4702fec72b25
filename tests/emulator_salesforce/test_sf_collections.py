"""sObject Collections (composite/sobjects) through sf.restful, as leadsync's client calls it."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
    "fields": [],
}


def _lead(n: int, **extra) -> dict:
    return {
        "attributes": {"type": "Lead"},
        "LastName": f"L{n}",
        "Company": "C",
        "Region__c": "EMEA",
        **extra,
    }


def test_results_in_order_with_partial_success(org):
    sf = org.sf()
    records = [
        _lead(1),
        _lead(2, Company=None),
        _lead(3, Region__c="Moon"),
        _lead(4, Email="four@example.com"),
    ]
    results = sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": False, "records": records}
    )
    assert [r["success"] for r in results] == [True, False, False, True]
    assert results[0]["id"].startswith("00Q") and results[0]["errors"] == []
    assert results[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [Company]",
                "fields": ["Company"],
            }
        ],
    }
    assert results[2]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    created = sf.query("SELECT LastName FROM Lead WHERE Company = 'C' ORDER BY LastName")["records"]
    assert [r["LastName"] for r in created] == ["L1", "L4"]


def test_all_or_none_rolls_back(org):
    sf = org.sf()
    records = [_lead(1), _lead(2, LastName=None), _lead(3)]
    results = sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": True, "records": records}
    )
    assert results[0] == {"success": False, "errors": [ROLLED_BACK]}
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert results[2] == {"success": False, "errors": [ROLLED_BACK]}
    assert sf.query("SELECT COUNT() FROM Lead WHERE Company = 'C'")["totalSize"] == 0
    ok = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"allOrNone": True, "records": [_lead(5), _lead(6)]},
    )
    assert all(r["success"] for r in ok)


def test_more_than_200_records_is_refused(org):
    with pytest.raises(SalesforceMalformedRequest) as err:
        org.sf().restful(
            "composite/sobjects", method="POST", json={"records": [_lead(i) for i in range(201)]}
        )
    assert err.value.content == [
        {
            "message": "record limit reached. cannot submit more than 200 records into this call",
            "errorCode": "EXCEEDED_ID_LIMIT",
            "fields": [],
        }
    ]
    results = org.sf().restful(
        "composite/sobjects", method="POST", json={"records": [_lead(i) for i in range(200)]}
    )
    assert len(results) == 200 and all(r["success"] for r in results)


def test_request_level_errors(org):
    sf = org.sf()
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.restful("composite/sobjects", method="POST", json={"records": [{"LastName": "x"}]})
    assert err.value.content[0]["errorCode"] == "INVALID_TYPE"
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.restful("composite/sobjects", method="POST", json={"records": [_lead(1, Nope__c="x")]})
    assert err.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_duplicate_rule_in_collections(sf_factory, issue_seed):
    issue_seed["duplicate_rule_on_lead_email"] = True
    org = sf_factory(issue_seed)
    sf = org.sf()
    body = {
        "allOrNone": False,
        "records": [_lead(1, Email="Grace@Example.com"), _lead(2, Email="new@example.com")],
    }
    results = sf.restful("composite/sobjects", method="POST", json=body)
    assert results[0]["success"] is False and results[1]["success"] is True
    error = results[0]["errors"][0]
    assert error["statusCode"] == "DUPLICATES_DETECTED"
    match = error["duplicateResult"]["matchResults"][0]
    assert match["entityType"] == "Lead" and len(match["matchRecords"]) == 1
    again = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"records": [_lead(3, Email="grace@example.com")]},
        headers={"Sforce-Duplicate-Rule-Header": "allowSave=true"},
    )
    assert again[0]["success"] is True


def test_campaign_members_in_collections(org):
    sf = org.sf()
    cid = sf.query("SELECT Id FROM Campaign WHERE Name = 'Spring Webinar 2026'")["records"][0]["Id"]
    leads = sf.restful("composite/sobjects", method="POST", json={"records": [_lead(1), _lead(2)]})
    members = [
        {
            "attributes": {"type": "CampaignMember"},
            "CampaignId": cid,
            "LeadId": r["id"],
            "Status": "Sent",
        }
        for r in leads
    ]
    members.append(dict(members[0]))  # the same lead twice in one call
    results = sf.restful("composite/sobjects", method="POST", json={"records": members})
    assert [r["success"] for r in results] == [True, True, False]
    assert results[2]["errors"] == [
        {"statusCode": "DUPLICATE_VALUE", "message": "Already a campaign member.", "fields": []}
    ]
