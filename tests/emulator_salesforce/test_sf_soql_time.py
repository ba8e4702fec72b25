"""SOQL on time: datetime and date literals, TODAY / LAST_N_DAYS:n, the audit fields kept by every
write path on the org's clock (moved with /__emulator/clock), ORDER BY / LIMIT / OFFSET / COUNT(),
and one-level relationship fields such as Lead.Owner.Name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

HOUR = 3600


def _at(org, offset_seconds: int) -> datetime:
    body = org.control("clock", {"offset_seconds": offset_seconds}).json()
    return datetime.strptime(body["now"], "%Y-%m-%dT%H:%M:%S.%f%z")


def _literal(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _names(sf, where: str) -> list[str]:
    rows = sf.query_all(f"SELECT LastName FROM Lead WHERE {where} ORDER BY LastName")["records"]
    return [r["LastName"] for r in rows]


def test_every_write_path_stamps_the_org_clock(org):
    """REST create, Bulk API 2.0 insert, sObject Collections update and upsert each set the
    audit fields from the clock, so SystemModstamp > T finds exactly what changed after T."""
    sf = org.sf()
    t0 = _at(org, 0)
    a = sf.Lead.create({"LastName": "RestCreated", "Company": "C", "Region__c": "EMEA"})["id"]
    t1 = _at(org, HOUR)
    sf.bulk2.Lead.insert(
        records=[{"LastName": "BulkCreated", "Company": "C", "Region__c": "EMEA"}], wait=0.01
    )
    t2 = _at(org, 2 * HOUR)
    sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={"records": [{"attributes": {"type": "Lead"}, "id": a, "Title": "Boss"}]},
    )
    half = timedelta(minutes=30)
    assert _names(sf, f"SystemModstamp > {_literal(t1 - half)}") == ["BulkCreated", "RestCreated"]
    assert _names(sf, f"CreatedDate > {_literal(t1 - half)}") == ["BulkCreated"]
    assert _names(sf, f"LastModifiedDate >= {_literal(t2 - half)}") == ["RestCreated"]
    assert _names(sf, f"LastModifiedDate < {_literal(t1 - half)}") == ["Hopper"]  # seeded
    lead = sf.Lead.get(a)
    assert lead["CreatedDate"].startswith(t0.strftime("%Y-%m-%dT%H:%M"))
    assert lead["SystemModstamp"] == lead["LastModifiedDate"] > lead["CreatedDate"]


def test_today_and_last_n_days(org):
    sf = org.sf()
    assert _names(sf, "CreatedDate = TODAY") == ["Hopper"]
    _at(org, 3 * 24 * HOUR)  # three days later
    assert _names(sf, "CreatedDate = TODAY") == []
    assert _names(sf, "CreatedDate = LAST_N_DAYS:3") == ["Hopper"]
    assert _names(sf, "CreatedDate = LAST_N_DAYS:2") == []
    assert _names(sf, "CreatedDate < TODAY AND CreatedDate = N_DAYS_AGO:3") == ["Hopper"]
    assert _names(sf, "CreatedDate IN (YESTERDAY, LAST_N_DAYS:5)") == ["Hopper"]
    assert _names(sf, "CreatedDate > YESTERDAY") == []


def test_date_literal_on_a_text_field_is_refused(org):
    with pytest.raises(SalesforceMalformedRequest) as err:
        org.sf().query("SELECT Id FROM Lead WHERE LastName = TODAY")
    assert err.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as err:
        org.sf().query("SELECT Id FROM Lead WHERE CreatedDate = LAST_N_WIDGETS:3")
    assert err.value.content[0]["errorCode"] == "MALFORMED_QUERY"


def test_order_limit_offset_count(org):
    sf = org.sf()
    for i, name in enumerate(["Cee", "Ay", "Bee"]):
        _at(org, (i + 1) * HOUR)
        sf.Lead.create({"LastName": name, "Company": "C", "Region__c": "EMEA"})
    rows = sf.query_all(
        "SELECT LastName FROM Lead WHERE CreatedDate = TODAY ORDER BY CreatedDate DESC "
        "LIMIT 2 OFFSET 1"
    )["records"]
    assert [r["LastName"] for r in rows] == ["Ay", "Cee"]
    assert sf.query("SELECT COUNT() FROM Lead WHERE CreatedDate = TODAY")["totalSize"] == 4


def test_owner_name_relationship(sf_factory, issue_seed):
    issue_seed["users"] = [
        {"username": "int@acme.example", "password": "p", "name": "Integration User"}
    ]
    org = sf_factory(issue_seed)
    rows = org.sf().query_all("SELECT Lead.Owner.Name, Name, IsConverted FROM Lead")["records"]
    assert rows[0]["Owner"]["Name"] == "Integration User"
    assert rows[0]["Owner"]["attributes"]["type"] == "User"
    assert rows[0]["Name"] == "Grace Hopper" and rows[0]["IsConverted"] is False
    assert _names(org.sf(), "Owner.Name = 'integration user'") == ["Hopper"]
