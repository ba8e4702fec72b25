"""Bulk API 2.0 ingest exactly as simple-salesforce's bulk2 drives it."""

from __future__ import annotations

import csv
import io

import pytest
import requests
from simple_salesforce.exceptions import SalesforceOperationError


def test_insert_with_bad_rows_then_results(org):
    sf = org.sf()
    records = [
        {
            "LastName": "Good",
            "Company": "Acme, Inc.",
            "Region__c": "EMEA",
            "Email": "good@example.com",
        },
        {"LastName": "", "Company": "NoName", "Region__c": "EMEA", "Email": "noname@example.com"},
        {
            "LastName": "Zoë Ünïcødé",
            "Company": 'Quote "Q" Ltd',
            "Region__c": "APAC",
            "Email": "zoe@example.com",
        },
        {"LastName": "BadRegion", "Company": "C", "Region__c": "Moon", "Email": "moon@example.com"},
        {
            "LastName": "BadNumber",
            "Company": "C",
            "Region__c": "EMEA",
            "Email": "num@example.com",
            "NumberOfEmployees": "lots",
        },
    ]
    [summary] = sf.bulk2.Lead.insert(records=records, wait=0)
    assert summary["numberRecordsProcessed"] == 5
    assert summary["numberRecordsFailed"] == 3
    assert summary["numberRecordsTotal"] == 5
    job_id = summary["job_id"]
    assert job_id.startswith("750")
    results = sf.bulk2.Lead.get_all_ingest_records(job_id)
    ok = {r["Email"]: r for r in results["successfulRecords"]}
    assert set(ok) == {"good@example.com", "zoe@example.com"}
    assert ok["zoe@example.com"]["LastName"] == "Zoë Ünïcødé"
    assert ok["good@example.com"]["Company"] == "Acme, Inc."
    assert ok["good@example.com"]["sf__Created"] == "true"
    assert ok["good@example.com"]["sf__Id"].startswith("00Q")
    failed = {r["Email"]: r["sf__Error"] for r in results["failedRecords"]}
    assert (
        failed["noname@example.com"]
        == "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --"
    )
    assert failed["moon@example.com"].startswith(
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:Region: bad value"
    )
    assert failed["num@example.com"].startswith("INVALID_TYPE_ON_FIELD_IN_RECORD:")
    assert all(r["sf__Id"] == "" for r in results["failedRecords"])
    assert results["unprocessedRecords"] == []
    stored = sf.Lead.get(ok["zoe@example.com"]["sf__Id"])
    assert stored["Company"] == 'Quote "Q" Ltd' and stored["Status"] == "New"


def test_result_csv_shapes_and_both_unprocessed_spellings(org):
    sf = org.sf()
    [summary] = sf.bulk2.Lead.insert(
        records=[{"LastName": "A", "Company": "B", "Region__c": "EMEA"}], wait=0
    )
    base = f"{org.instance_url}/services/data/v59.0/jobs/ingest/{summary['job_id']}"
    s = org.session()
    headers = {"Authorization": f"Bearer {org.token}"}
    ok = s.get(f"{base}/successfulResults", headers=headers)
    assert ok.status_code == 200 and ok.headers["Content-Type"] == "text/csv; charset=UTF-8"
    assert ok.text.splitlines()[0].startswith('"sf__Id","sf__Created",')
    failed = s.get(f"{base}/failedResults", headers=headers)
    assert failed.text.splitlines()[0].startswith('"sf__Id","sf__Error",')
    for spelling in ("unprocessedrecords", "unprocessedRecords"):
        assert s.get(f"{base}/{spelling}", headers=headers).status_code == 200


def test_multiline_and_quoted_cells_are_parsed(org):
    sf = org.sf()
    text = 'LastName,Company,Region__c,Description\r\n"Multi","Line, Inc.",EMEA,"first line\nsecond ""line"""\n'
    s = org.session()
    headers = {"Authorization": f"Bearer {org.token}", "Content-Type": "application/json"}
    base = f"{org.instance_url}/services/data/v59.0/jobs/ingest"
    job = s.post(
        base,
        json={"object": "Lead", "operation": "insert", "contentType": "CSV", "lineEnding": "CRLF"},
        headers=headers,
    ).json()
    assert job["state"] == "Open"
    put = s.put(
        f"{base}/{job['id']}/batches",
        data=text.encode(),
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert put.status_code == 201
    closed = s.patch(
        f"{base}/{job['id']}", json={"state": "UploadComplete"}, headers=headers
    ).json()
    assert closed["state"] == "UploadComplete"
    info = s.get(f"{base}/{job['id']}", headers=headers).json()
    assert info["state"] == "JobComplete" and info["numberRecordsFailed"] == 0
    row = sf.query("SELECT Company, Description FROM Lead WHERE LastName = 'Multi'")["records"][0]
    assert row == {**row, "Company": "Line, Inc.", "Description": 'first line\nsecond "line"'}
    rows = list(
        csv.DictReader(
            io.StringIO(s.get(f"{base}/{job['id']}/successfulResults", headers=headers).text)
        )
    )
    assert rows[0]["Description"] == 'first line\nsecond "line"'


def test_unknown_column_fails_the_job(org):
    with pytest.raises(SalesforceOperationError) as err:
        org.sf().bulk2.Lead.insert(
            records=[{"LastName": "A", "Company": "B", "Shoe__c": "9"}], wait=0
        )
    assert "InvalidBatch : Field name not found : Shoe__c" in str(err.value)


def test_abort_path(org):
    s = org.session()
    headers = {"Authorization": f"Bearer {org.token}", "Content-Type": "application/json"}
    base = f"{org.instance_url}/services/data/v59.0/jobs/ingest"
    job = s.post(base, json={"object": "Lead", "operation": "insert"}, headers=headers).json()
    s.put(
        f"{base}/{job['id']}/batches",
        data=b"LastName,Company\nA,B\n",
        headers={**headers, "Content-Type": "text/csv"},
    )
    aborted = s.patch(f"{base}/{job['id']}", json={"state": "Aborted"}, headers=headers)
    assert aborted.status_code == 200 and aborted.json()["state"] == "Aborted"
    unprocessed = s.get(f"{base}/{job['id']}/unprocessedrecords", headers=headers)
    assert unprocessed.text == '"LastName","Company"\n"A","B"\n'
    again = s.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"}, headers=headers)
    assert again.status_code == 409 and again.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    assert org.sf().query("SELECT COUNT() FROM Lead WHERE LastName = 'A'")["totalSize"] == 0


def test_duplicate_rule_and_campaign_members_in_bulk(sf_factory, issue_seed):
    issue_seed["duplicate_rule_on_lead_email"] = True
    org = sf_factory(issue_seed)
    sf = org.sf()
    [summary] = sf.bulk2.Lead.insert(
        records=[
            {"LastName": "D", "Company": "C", "Region__c": "EMEA", "Email": "OLD@example.com"}
        ],
        wait=0,
    )
    failed = sf.bulk2.Lead.get_failed_records(summary["job_id"])
    assert "DUPLICATES_DETECTED:" in failed
    cid = sf.query("SELECT Id FROM Campaign")["records"][0]["Id"]
    grace = sf.query("SELECT Id FROM Lead")["records"][0]["Id"]
    [summary] = sf.bulk2.CampaignMember.insert(
        records=[
            {"CampaignId": cid, "LeadId": grace},
            {"CampaignId": cid, "LeadId": grace, "Status": "Sent"},
        ],
        wait=0,
    )
    assert summary["numberRecordsFailed"] == 1
    failed = sf.bulk2.CampaignMember.get_failed_records(summary["job_id"])
    assert "DUPLICATE_VALUE:Already a campaign member.:--" in failed


def test_ten_thousand_leads_in_one_job(sf_factory):
    org = sf_factory({})
    sf = org.sf()
    records = [
        {"LastName": f"L{i}", "Company": "Bulk", "Email": f"bulk{i}@example.com"}
        for i in range(10_000)
    ]
    [summary] = sf.bulk2.Lead.insert(records=records, wait=0)
    assert summary["numberRecordsProcessed"] == 10_000 and summary["numberRecordsFailed"] == 0
    results = sf.bulk2.Lead.get_all_ingest_records(summary["job_id"])
    assert len(results["successfulRecords"]) == 10_000
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 10_000


def test_job_endpoints_need_a_session(org):
    r = requests.Session()
    r.trust_env = False
    resp = r.get(f"{org.instance_url}/services/data/v59.0/jobs/ingest", verify=org.ca_path)
    assert resp.status_code == 401
    assert resp.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
