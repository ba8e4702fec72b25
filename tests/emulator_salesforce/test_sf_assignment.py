"""Lead assignment rules: REST creates follow Sforce-Auto-Assign, Bulk API 2.0 jobs their
assignmentRuleId (reference/salesforce.md 2.2 and the Bulk 2.0 create-job body)."""

from __future__ import annotations

import json

import pytest
from simple_salesforce.util import call_salesforce

SEED = {
    "users": [
        {"username": "integration@example.com", "password": "pw"},
        {"username": "rep@example.com", "password": "pw2", "name": "Rita Rep"},
        {"username": "other@example.com", "password": "pw3"},
    ],
    "assignment_rules": [
        {"name": "Route to Rita", "active": True, "owner": "rep@example.com"},
        {"name": "Spare", "owner": "other@example.com"},
    ],
}


@pytest.fixture
def routed(sf_factory):
    org = sf_factory(SEED)
    sf = org.sf()
    users = {u["Username"]: u["Id"] for u in sf.query("SELECT Id, Username FROM User")["records"]}
    rules = {
        r["Name"]: r
        for r in sf.query("SELECT Id, Name, Active FROM AssignmentRule WHERE SobjectType = 'Lead'")[
            "records"
        ]
    }
    return org, sf, users, rules


def _lead(n: int) -> dict:
    return {"LastName": f"L{n}", "Company": "Co", "Email": f"l{n}@example.com"}


def _owner(sf, lead_id: str) -> str:
    return sf.Lead.get(lead_id)["OwnerId"]


def test_rules_and_users_are_queryable(routed):
    _org, sf, users, rules = routed
    assert set(users) == {"integration@example.com", "rep@example.com", "other@example.com"}
    assert rules["Route to Rita"]["Active"] is True and rules["Spare"]["Active"] is False
    assert all(r["Id"].startswith("01Q") for r in rules.values())
    row = sf.query("SELECT Name FROM User WHERE Username = 'rep@example.com'")["records"][0]
    assert row["Name"] == "Rita Rep"


def test_rest_creates_follow_the_header(routed):
    _org, sf, users, rules = routed
    default = sf.Lead.create(_lead(1))["id"]  # no header: TRUE
    assert _owner(sf, default) == users["rep@example.com"]
    off = sf.Lead.create(_lead(2), headers={"Sforce-Auto-Assign": "false"})["id"]
    assert _owner(sf, off) == users["integration@example.com"]
    spare = rules["Spare"]["Id"]
    named = sf.Lead.create(_lead(3), headers={"Sforce-Auto-Assign": spare})["id"]
    assert _owner(sf, named) == users["other@example.com"]  # inactive, but named: it runs
    body = {"allOrNone": False, "records": [{"attributes": {"type": "Lead"}, **_lead(4)}]}
    [res] = sf.restful("composite/sobjects", method="POST", json=body)
    assert _owner(sf, res["id"]) == users["rep@example.com"]
    [res] = sf.restful(
        "composite/sobjects", method="POST", json={**body, "records": [
            {"attributes": {"type": "Lead"}, **_lead(5)}
        ]}, headers={"Sforce-Auto-Assign": "FALSE"},
    )  # fmt: skip
    assert _owner(sf, res["id"]) == users["integration@example.com"]
    # a Contact is not touched by Lead rules
    contact = sf.Contact.create({"LastName": "C"})["id"]
    assert sf.Contact.get(contact)["OwnerId"] == users["integration@example.com"]


def test_a_bad_rule_in_the_header_is_refused(routed):
    org, sf, _users, _rules = routed
    url = f"{org.instance_url}/services/data/v59.0/sobjects/Lead/"
    for value, code in (("nonsense", "MALFORMED_ID"), ("01Q000000000000", "INVALID_CROSS")):
        r = org.session().post(
            url,
            json=_lead(9),
            headers={"Authorization": f"Bearer {org.token}", "Sforce-Auto-Assign": value},
        )
        assert r.status_code == 400 and code in r.text
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


def _bulk_job(
    org, sf, extra: dict, csv_data: str = "LastName,Company,Email\nB1,Co,b1@example.com\n"
) -> dict:
    url = f"{org.instance_url}/services/data/v59.0/jobs/ingest"
    headers = {"Authorization": f"Bearer {org.token}", "Content-Type": "application/json"}
    body = {"object": "Lead", "operation": "insert", "contentType": "CSV", **extra}
    created = call_salesforce(
        url=url, method="POST", session=org.session(), headers=headers, data=json.dumps(body)
    ).json()
    s = org.session()
    s.put(f"{url}/{created['id']}/batches", data=csv_data.encode(),
          headers={**headers, "Content-Type": "text/csv"})  # fmt: skip
    s.patch(f"{url}/{created['id']}", json={"state": "UploadComplete"}, headers=headers)
    return created


def test_bulk_jobs_run_only_the_rule_they_name(routed):
    org, sf, users, rules = routed
    plain = _bulk_job(org, sf, {})
    assert "assignmentRuleId" not in plain
    owner = sf.query("SELECT OwnerId FROM Lead WHERE Email = 'b1@example.com'")["records"]
    assert owner[0]["OwnerId"] == users["integration@example.com"]  # the active rule did NOT run

    sf.Lead.delete(sf.query("SELECT Id FROM Lead")["records"][0]["Id"])
    named = _bulk_job(org, sf, {"assignmentRuleId": rules["Route to Rita"]["Id"]})
    assert named["assignmentRuleId"] == rules["Route to Rita"]["Id"]
    owner = sf.query("SELECT Owner.Username FROM Lead WHERE Email = 'b1@example.com'")
    assert owner["records"][0]["Owner"]["Username"] == "rep@example.com"


KEY = "Leadsync_Key__c"


def test_upserts_run_the_rule_on_the_records_they_create(sf_factory):
    """sObject Collections upserts follow Sforce-Auto-Assign and Bulk 2.0 upsert jobs their
    assignmentRuleId, as creates do, on the records they create; a record an upsert updates
    keeps its owner (a named rule applies "for created" records only)."""
    key = {"name": KEY, "type": "string", "length": 255, "unique": True, "external_id": True}
    org = sf_factory({**SEED, "lead_fields": [key]})
    sf = org.sf()
    users = {u["Username"]: u["Id"] for u in sf.query("SELECT Id, Username FROM User")["records"]}
    spare = sf.query("SELECT Id FROM AssignmentRule WHERE Name = 'Spare'")["records"][0]["Id"]

    def upsert(n: int, headers: dict | None = None, **values) -> dict:
        record = {"attributes": {"type": "Lead"}, **_lead(n), KEY: f"k{n}", **values}
        body = {"allOrNone": False, "records": [record]}
        path = f"composite/sobjects/Lead/{KEY}"
        [result] = sf.restful(path, method="PATCH", json=body, headers=headers or {})
        return result

    def owner_of(n: int) -> str:
        return sf.query(f"SELECT OwnerId FROM Lead WHERE {KEY} = 'k{n}'")["records"][0]["OwnerId"]

    first = upsert(1)  # no header: TRUE, the active rule
    assert first["created"] and owner_of(1) == users["rep@example.com"]
    assert upsert(2, {"Sforce-Auto-Assign": spare})["created"]
    assert owner_of(2) == users["other@example.com"]
    assert upsert(3, {"Sforce-Auto-Assign": "FALSE"})["created"]
    assert owner_of(3) == users["integration@example.com"]
    again = upsert(1, {"Sforce-Auto-Assign": spare}, LastName="Again")
    assert (again["id"], again["created"]) == (first["id"], False)
    assert owner_of(1) == users["rep@example.com"]

    csv_data = f"LastName,Company,Email,{KEY}\nB4,Co,b4@example.com,k4\nB1,Co,l1@example.com,k1\n"
    job = _bulk_job(
        org, sf, {"operation": "upsert", "externalIdFieldName": KEY, "assignmentRuleId": spare},
        csv_data,
    )  # fmt: skip
    assert job["assignmentRuleId"] == spare
    assert owner_of(4) == users["other@example.com"]  # created by the job: the rule ran
    assert owner_of(1) == users["rep@example.com"]  # updated by it: owner kept


def test_bulk_job_with_an_unknown_rule_is_refused(routed):
    org, sf, _users, _rules = routed
    with pytest.raises(Exception, match="INVALIDJOB"):
        _bulk_job(org, sf, {"assignmentRuleId": "01Q000000000000"})


def test_seed_rules_need_a_seeded_owner_and_one_active_rule():
    from leadsync.emulator.salesforce import SalesforceBackend

    with pytest.raises(ValueError, match=r"no seeded user 'ghost@example\.com'"):
        SalesforceBackend.from_seed(
            {"assignment_rules": [{"name": "R", "owner": "ghost@example.com"}]}
        )
    two = [
        {"name": "A", "active": True, "owner": "integration@leadsync.example"},
        {"name": "B", "active": True, "owner": "integration@leadsync.example"},
    ]
    with pytest.raises(ValueError, match="at most one"):
        SalesforceBackend.from_seed({"assignment_rules": two})


def test_rules_run_on_creates_of_every_write_path_and_never_on_updates(routed):
    """Composite subrequests carry Sforce-Auto-Assign in their httpHeaders; Collections PATCH
    updates, Bulk update jobs and the rows of an upsert-on-Id job that name a record keep the
    owner, while the rows that create one run the job's rule."""
    org, sf, users, rules = routed
    spare = rules["Spare"]["Id"]
    lead_url = "/services/data/v59.0/sobjects/Lead"
    subs = [
        {"method": "POST", "url": lead_url, "referenceId": "new", "body": _lead(1),
         "httpHeaders": {"Sforce-Auto-Assign": spare}},
        {"method": "PATCH", "url": f"{lead_url}/@{{new.id}}", "referenceId": "edit",
         "body": {"LastName": "Edited"}, "httpHeaders": {"Sforce-Auto-Assign": "TRUE"}},
    ]  # fmt: skip
    answer = sf.restful("composite", method="POST", json={"compositeRequest": subs})
    created = answer["compositeResponse"][0]["body"]["id"]
    assert _owner(sf, created) == users["other@example.com"]

    kept = sf.Lead.create(_lead(2), headers={"Sforce-Auto-Assign": "FALSE"})["id"]
    update = {"records": [{"attributes": {"type": "Lead"}, "Id": kept, "LastName": "Upd"}]}
    [res] = sf.restful("composite/sobjects", method="PATCH", json=update,
                       headers={"Sforce-Auto-Assign": spare})  # fmt: skip
    assert res["success"] and _owner(sf, kept) == users["integration@example.com"]

    _bulk_job(
        org, sf, {"operation": "update", "assignmentRuleId": spare}, f"Id,LastName\n{kept},U\n"
    )
    assert _owner(sf, kept) == users["integration@example.com"]
    rows = f"Id,LastName,Company,Email\n,B3,Co,b3@example.com\n{kept},B2,Co,l2@example.com\n"
    _bulk_job(org, sf, {"operation": "upsert", "externalIdFieldName": "Id",
                        "assignmentRuleId": spare}, rows)  # fmt: skip
    made = sf.query("SELECT OwnerId FROM Lead WHERE Email = 'b3@example.com'")["records"]
    assert made[0]["OwnerId"] == users["other@example.com"]
    assert _owner(sf, kept) == users["integration@example.com"]
    assert sf.Lead.get(kept)["LastName"] == "B2"
