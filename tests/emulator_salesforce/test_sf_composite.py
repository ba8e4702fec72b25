"""POST /composite through unmodified simple-salesforce: subrequests routed like requests of their
own (rules, auth), answered in order, the whole request counted as ONE API call."""

from __future__ import annotations

from urllib.parse import quote_plus

import pytest
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

V = "/services/data/v59.0"


def _q(soql: str) -> str:
    return f"{V}/query?q={quote_plus(soql, safe='')}"


def _composite(sf, subs, all_or_none=False):
    return sf.restful(
        "composite",
        method="POST",
        json={"allOrNone": all_or_none, "compositeRequest": subs},
    )


def _get(ref: str, url: str) -> dict:
    return {"method": "GET", "url": url, "referenceId": ref}


def _used(org) -> int:
    return org.backend.api_used


def test_queries_answer_in_order_and_count_as_one_call(org):
    sf = org.sf()
    before = _used(org)
    out = _composite(
        sf,
        [
            _get("leads", _q("SELECT Id, Email FROM Lead WHERE Email IN ('grace@example.com')")),
            _get("contacts", _q("SELECT Id, Email FROM Contact WHERE Email = 'old@example.com'")),
            _get("none", _q("SELECT Id FROM Lead WHERE Email = 'o\\'brien+x@example.com'")),
        ],
    )
    items = out["compositeResponse"]
    assert [i["referenceId"] for i in items] == ["leads", "contacts", "none"]
    assert [i["httpStatusCode"] for i in items] == [200, 200, 200]
    assert [r["Email"] for r in items[0]["body"]["records"]] == ["grace@example.com"]
    assert items[0]["body"]["done"] is True and items[0]["body"]["totalSize"] == 1
    assert [r["Email"] for r in items[1]["body"]["records"]] == ["old@example.com"]
    assert items[2]["body"]["records"] == []
    assert _used(org) == before + 1
    assert sf.api_usage["api-usage"].used == before + 1


def test_next_records_url_is_followed_in_a_later_composite(sf_factory):
    leads = [{"LastName": f"L{n}", "Company": "C", "Email": f"p{n}@x.com"} for n in range(2500)]
    org = sf_factory({"records": {"Lead": leads}})
    sf = org.sf()
    first = _composite(sf, [_get("all", _q("SELECT Id FROM Lead"))])["compositeResponse"][0]
    body = first["body"]
    assert first["httpStatusCode"] == 200 and body["done"] is False
    assert body["totalSize"] == 2500 and len(body["records"]) == 2000
    more = _composite(sf, [_get("more", body["nextRecordsUrl"])])["compositeResponse"][0]
    assert more["httpStatusCode"] == 200 and more["body"]["done"] is True
    assert len(more["body"]["records"]) == 500


def test_a_failing_subrequest_fails_alone_unless_all_or_none(org):
    sf = org.sf()
    subs = [
        _get("good", _q("SELECT Id FROM Lead")),
        _get("bad", _q("SELECT Nope__c FROM Lead")),
        _get("missing", f"{V}/sobjects/Lead/00Q000000000000AAA"),
    ]
    items = _composite(sf, subs)["compositeResponse"]
    assert [i["httpStatusCode"] for i in items] == [200, 400, 404]
    assert items[1]["body"][0]["errorCode"] == "INVALID_FIELD"
    assert "Nope__c" in items[1]["body"][0]["message"]
    assert items[2]["body"][0]["errorCode"] == "NOT_FOUND"
    halted = _composite(sf, subs, all_or_none=True)["compositeResponse"]
    # one transaction: the failure stops it; the others (before and after) are halted
    assert [i["httpStatusCode"] for i in halted] == [400, 400, 400]
    assert halted[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert halted[1]["body"][0]["errorCode"] == "INVALID_FIELD"
    assert halted[2]["body"][0]["errorCode"] == "PROCESSING_HALTED"


def test_write_subrequests_follow_the_same_rules(issue_seed, sf_factory):
    org = sf_factory(issue_seed)
    sf = org.sf()
    ok = {"LastName": "Lamarr", "Company": "MGM", "Region__c": "EMEA", "Email": "h@x.com"}
    bad = {"LastName": "NoRegion", "Company": "X"}
    items = _composite(
        sf,
        [
            {"method": "POST", "url": f"{V}/sobjects/Lead", "referenceId": "ok", "body": ok},
            {"method": "POST", "url": f"{V}/sobjects/Lead", "referenceId": "bad", "body": bad},
        ],
    )["compositeResponse"]
    assert items[0]["httpStatusCode"] == 201 and items[0]["body"]["success"] is True
    assert items[0]["body"]["id"].startswith("00Q")
    assert items[1]["httpStatusCode"] == 400
    assert items[1]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert sf.query("SELECT Id FROM Lead WHERE Email = 'h@x.com'")["totalSize"] == 1


def test_at_most_25_subrequests_and_5_queries(org):
    sf = org.sf()
    before = _used(org)
    lead = f"{V}/sobjects/Lead/describe"
    with pytest.raises(SalesforceMalformedRequest) as err:
        _composite(sf, [_get(f"d{i}", lead) for i in range(26)])
    assert err.value.content[0]["errorCode"] == "LIMIT_EXCEEDED"
    assert "25" in err.value.content[0]["message"]
    items = _composite(sf, [_get(f"d{i}", lead) for i in range(25)])["compositeResponse"]
    assert len(items) == 25 and {i["httpStatusCode"] for i in items} == {200}
    with pytest.raises(SalesforceMalformedRequest) as err:
        _composite(sf, [_get(f"q{i}", _q("SELECT Id FROM Lead")) for i in range(6)])
    assert err.value.content[0]["errorCode"] == "LIMIT_EXCEEDED"
    five = _composite(sf, [_get(f"q{i}", _q("SELECT Id FROM Lead")) for i in range(5)])
    assert len(five["compositeResponse"]) == 5
    assert _used(org) == before + 4  # refused requests still count, as Salesforce counts them


@pytest.mark.parametrize(
    ("subs", "needle"),
    [
        ([{"method": "GET", "url": f"{V}/limits"}], "referenceId"),
        ([_get("a", f"{V}/limits"), _get("a", f"{V}/limits")], "Duplicate"),
        ([{"method": "FETCH", "url": f"{V}/limits", "referenceId": "a"}], "method"),
        ([_get("a", "https://elsewhere.example.com/x")], "url"),
        ([_get("a", f"{V}/composite")], "/composite"),
        ([{**_get("a", f"{V}/limits"), "httpHeaders": {"Authorization": "x"}}], "Authorization"),
    ],
)
def test_malformed_subrequests_are_refused_as_a_whole(org, subs, needle):
    with pytest.raises(SalesforceMalformedRequest) as err:
        _composite(org.sf(), subs)
    assert needle in err.value.content[0]["message"]


def test_auth_and_the_daily_limit_apply_to_the_composite_request(sf_factory):
    org = sf_factory({"daily_api_limit": 2})
    with pytest.raises(SalesforceExpiredSession):
        _composite(org.sf(token="not-a-token"), [_get("a", _q("SELECT Id FROM Lead"))])
    sf = org.sf()
    subs = [_get(f"q{i}", _q("SELECT Id FROM Lead")) for i in range(5)]
    assert len(_composite(sf, subs)["compositeResponse"]) == 5
    assert len(_composite(sf, subs)["compositeResponse"]) == 5  # 10 queries, 2 calls
    with pytest.raises(SalesforceRefusedRequest) as err:
        _composite(sf, subs)
    assert err.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert sf.api_usage["api-usage"].used == 2


def test_a_query_too_long_for_a_get_uri_travels_in_a_composite_body(org):
    """Salesforce refuses a request URI over 16,384 bytes (414, from its edge: no API call,
    an HTML body); the same query as a Composite subrequest is answered. A SOQL statement over
    100,000 characters is refused either way (MALFORMED_QUERY)."""
    sf = org.sf()
    emails = ",".join(f"'someone{n}@example.com'" for n in range(700))  # ~17,500 characters
    soql = f"SELECT Id, Email FROM Lead WHERE Email IN ({emails}, 'grace@example.com')"
    before = _used(org)
    direct = org.session().get(
        f"{org.instance_url}{_q(soql)}", headers={"Authorization": f"Bearer {org.token}"}
    )
    assert direct.status_code == 414 and "URI Too Long" in direct.text
    assert _used(org) == before
    out = _composite(sf, [_get("long", _q(soql))])
    [item] = out["compositeResponse"]
    assert item["httpStatusCode"] == 200
    assert [r["Email"] for r in item["body"]["records"]] == ["grace@example.com"]
    many = ",".join(f"'someone{n}@example.com'" for n in range(4200))  # ~105,000 characters
    out = _composite(sf, [_get("huge", _q(f"SELECT Id FROM Lead WHERE Email IN ({many})"))])
    [item] = out["compositeResponse"]
    assert item["httpStatusCode"] == 400
    assert item["body"][0]["errorCode"] == "MALFORMED_QUERY"
    assert "100000 characters" in item["body"][0]["message"]
