"""Composite @{reference} values and allOrNone rollback of writes; Composite Batch with
haltOnError; API usage counted as Salesforce documents it (Composite: one call, Batch: one per
subrequest), the Sforce-Limit-Info header and /limits agreeing."""

from __future__ import annotations

from urllib.parse import quote_plus

V = "/services/data/v59.0"


def _lead(ref: str, **values) -> dict:
    body = {"LastName": ref, "Company": "C", "Region__c": "EMEA", **values}
    return {"method": "POST", "url": f"{V}/sobjects/Lead", "referenceId": ref, "body": body}


def _composite(sf, subs, all_or_none=False) -> list[dict]:
    out = sf.restful(
        "composite", method="POST", json={"allOrNone": all_or_none, "compositeRequest": subs}
    )
    return out["compositeResponse"]


def test_references_in_urls_and_bodies(org):
    sf = org.sf()
    campaign = sf.query("SELECT Id FROM Campaign")["records"][0]["Id"]
    q = quote_plus("SELECT Id, Email FROM Lead WHERE Email = 'grace@example.com'")
    items = _composite(
        sf,
        [
            _lead("Newbie", Email="new@example.com"),
            {"method": "GET", "url": f"{V}/sobjects/Lead/@{{Newbie.id}}", "referenceId": "read"},
            {
                "method": "PATCH",
                "url": f"{V}/sobjects/Lead/@{{Newbie.id}}",
                "referenceId": "retitle",
                "body": {"Title": "Was @{read.LastName}"},
            },
            {"method": "GET", "url": f"{V}/query?q={q}", "referenceId": "grace"},
            {
                "method": "POST",
                "url": f"{V}/sobjects/CampaignMember",
                "referenceId": "member",
                "body": {"CampaignId": campaign, "LeadId": "@{grace.records[0].Id}"},
            },
        ],
    )
    assert [i["httpStatusCode"] for i in items] == [201, 200, 204, 200, 201]
    new_id = items[0]["body"]["id"]
    assert items[0]["httpHeaders"]["Location"] == f"{V}/sobjects/Lead/{new_id}"
    assert items[1]["body"]["Id"] == new_id
    assert sf.Lead.get(new_id)["Title"] == "Was Newbie"
    member = sf.CampaignMember.get(items[4]["body"]["id"])
    assert member["LeadId"] == items[3]["body"]["records"][0]["Id"]


def test_reference_to_a_failed_subrequest_fails_alone(org):
    sf = org.sf()
    items = _composite(
        sf,
        [
            _lead("Bad", Region__c="Moon"),
            {"method": "GET", "url": f"{V}/sobjects/Lead/@{{Bad.id}}", "referenceId": "read"},
            _lead("Fine"),
        ],
    )
    assert [i["httpStatusCode"] for i in items] == [400, 400, 201]
    assert items[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert "Bad.id" in items[1]["body"][0]["message"]


def test_all_or_none_rolls_back_writes_made_with_references(org):
    sf = org.sf()
    before = sf.query("SELECT COUNT() FROM Lead")["totalSize"]
    campaign = sf.query("SELECT Id FROM Campaign")["records"][0]["Id"]
    grace = sf.query("SELECT Id FROM Lead")["records"][0]["Id"]
    items = _composite(
        sf,
        [
            _lead("One"),
            {
                "method": "POST",
                "url": f"{V}/sobjects/CampaignMember",
                "referenceId": "member",
                "body": {"CampaignId": campaign, "LeadId": "@{One.id}"},
            },
            {
                "method": "PATCH",
                "url": f"{V}/sobjects/Lead/{grace}",
                "referenceId": "touch",
                "body": {"Title": "changed"},
            },
            {"method": "DELETE", "url": f"{V}/sobjects/Lead/{grace}", "referenceId": "drop"},
            _lead("Two", Status="Nope"),
            _lead("Three"),
        ],
        all_or_none=True,
    )
    codes = [(i["httpStatusCode"], i["body"][0]["errorCode"]) for i in items]
    assert codes == [
        (400, "PROCESSING_HALTED"),
        (400, "PROCESSING_HALTED"),
        (400, "PROCESSING_HALTED"),
        (400, "PROCESSING_HALTED"),
        (400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        (400, "PROCESSING_HALTED"),
    ]
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == before
    assert sf.query("SELECT COUNT() FROM CampaignMember")["totalSize"] == 0
    assert sf.Lead.get(grace)["Title"] is None
    assert sf.query_all("SELECT Id FROM Lead", include_deleted=True)["totalSize"] == before


def test_batch_runs_independent_subrequests_and_counts_each(org):
    sf = org.sf()
    used = org.backend.api_used
    body = {
        "batchRequests": [
            {"method": "POST", "url": "v59.0/sobjects/Lead", "richInput": _lead("B1")["body"]},
            {"method": "GET", "url": "v59.0/sobjects/Lead/00Q8d0000000zzzAAA"},
            {"method": "GET", "url": "v59.0/query?q=SELECT+COUNT()+FROM+Lead"},
        ]
    }
    out = sf.restful("composite/batch", method="POST", json=body)
    assert out["hasErrors"] is True
    assert [r["statusCode"] for r in out["results"]] == [201, 404, 200]
    assert out["results"][2]["result"]["totalSize"] == 2  # the first subrequest committed
    assert org.backend.api_used == used + 3
    assert sf.api_usage["api-usage"].used == used + 3
    halted = sf.restful("composite/batch", method="POST", json={**body, "haltOnError": True})
    assert [r["statusCode"] for r in halted["results"]] == [201, 404, 412]
    assert halted["results"][2]["result"] == [
        {"errorCode": "BATCH_PROCESSING_HALTED", "message": "Batch processing halted per request"}
    ]
    assert org.backend.api_used == used + 5


def test_limits_header_and_limits_resource_agree(sf_factory):
    org = sf_factory({"daily_api_limit": 100})
    sf = org.sf()
    _composite(sf, [_lead("A"), _lead("B"), _lead("C")])  # 1 call
    sf.restful(
        "composite/batch",
        method="POST",
        json={"batchRequests": [{"method": "GET", "url": "v59.0/limits"}] * 4},  # 4 calls
    )
    assert sf.api_usage["api-usage"].used == 5
    limits = sf.limits()  # the 6th call
    assert limits["DailyApiRequests"] == {"Max": 100, "Remaining": 94}
    assert sf.api_usage["api-usage"].used == 6 and sf.api_usage["api-usage"].total == 100
