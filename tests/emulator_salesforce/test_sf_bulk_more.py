"""Bulk API 2.0 through unmodified simple-salesforce (sf.bulk2): update, upsert, delete and
hardDelete jobs, result files as Salesforce writes them (every field quoted, the job's
delimiter and line ending), the lineEnding rule on uploads, and query jobs paged with
Sforce-Locator / maxRecords."""

from __future__ import annotations

import csv
import io

import pytest
from simple_salesforce.exceptions import SalesforceOperationError

LEAD = {"Company": "C", "Region__c": "EMEA"}


def _ids(sf, n: int) -> list[str]:
    records = [{"attributes": {"type": "Lead"}, "LastName": f"B{i}", **LEAD} for i in range(n)]
    out = sf.restful("composite/sobjects", method="POST", json={"records": records})
    return [r["id"] for r in out]


def _results(sf, job_id: str) -> dict:
    return sf.bulk2.Lead.get_all_ingest_records(job_id)


def test_update_job_keeps_empty_cells_and_blanks_na(org):
    sf = org.sf()
    a, b = _ids(sf, 2)
    sf.Lead.update(a, {"Title": "Keep me", "City": "Oslo"})
    out = sf.bulk2.Lead.update(
        records=[
            {"Id": a, "Title": "", "City": "#N/A", "LastName": "Renamed"},
            {"Id": "00Q8d0000000zzzAAA", "Title": "x", "City": "", "LastName": "Ghost"},
            {"Id": b, "Title": "T", "City": "", "LastName": "B1"},
        ],
        wait=0.01,
    )
    assert out[0]["numberRecordsProcessed"] == 3 and out[0]["numberRecordsFailed"] == 1
    lead = sf.Lead.get(a)
    assert (lead["Title"], lead["City"], lead["LastName"]) == ("Keep me", None, "Renamed")
    results = _results(sf, out[0]["job_id"])
    assert {r["sf__Id"] for r in results["successfulRecords"]} == {a, b}
    assert {r["sf__Created"] for r in results["successfulRecords"]} == {"false"}
    assert results["failedRecords"][0]["sf__Error"].startswith("INVALID_CROSS_REFERENCE_KEY:")


def test_upsert_job_on_id_and_delete_job(org):
    sf = org.sf()
    (a,) = _ids(sf, 1)
    out = sf.bulk2.Lead.upsert(
        records=[{"Id": a, "LastName": "Up"}, {"Id": "", "LastName": "New", **LEAD}],
        external_id_field="Id",
        wait=0.01,
    )
    results = _results(sf, out[0]["job_id"])
    created = {r["LastName"]: r["sf__Created"] for r in results["successfulRecords"]}
    assert created == {"Up": "false", "New": "true"}
    new = next(r["sf__Id"] for r in results["successfulRecords"] if r["LastName"] == "New")
    out = sf.bulk2.Lead.delete(records=[{"Id": a}, {"Id": new}, {"Id": a}], wait=0.01)
    assert out[0]["numberRecordsFailed"] == 1  # the second delete of `a`: already deleted
    failed = _results(sf, out[0]["job_id"])["failedRecords"]
    assert failed[0]["sf__Error"].startswith("ENTITY_IS_DELETED:entity is deleted")
    gone = sf.query_all(f"SELECT Id FROM Lead WHERE Id IN ('{a}', '{new}')", include_deleted=True)
    assert gone["totalSize"] == 2


def test_hard_delete_skips_the_recycle_bin(org):
    sf = org.sf()
    (a,) = _ids(sf, 1)
    sf.bulk2.Lead.hard_delete(records=[{"Id": a}], wait=0.01)
    assert (
        sf.query_all(f"SELECT Id FROM Lead WHERE Id = '{a}'", include_deleted=True)["totalSize"]
        == 0
    )


def test_delete_job_with_other_columns_fails(org):
    """simple-salesforce refuses such a file itself, so plain requests send it."""
    sf = org.sf()
    (a,) = _ids(sf, 1)
    s, base = org.session(), f"{org.instance_url}/services/data/v59.0/jobs/ingest"
    s.headers["Authorization"] = f"Bearer {org.token}"
    job = s.post(base, json={"operation": "delete", "object": "Lead"}).json()
    s.put(f"{base}/{job['id']}/batches", data=f"Id,LastName\n{a},x\n".encode(),
          headers={"Content-Type": "text/csv"})  # fmt: skip
    s.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"})
    info = s.get(f"{base}/{job['id']}").json()
    assert info["state"] == "Failed"
    assert info["errorMessage"] == "InvalidBatch : The 'delete' batch must contain only ids"
    assert sf.Lead.get(a)["IsDeleted"] is False


@pytest.mark.parametrize(("delimiter", "char"), [("SEMICOLON", ";"), ("PIPE", "|"), ("TAB", "\t")])
def test_results_use_the_job_delimiter_and_quote_every_field(org, delimiter, char):
    sf = org.sf()
    out = sf.bulk2.Lead.insert(
        records=[
            {"LastName": "Semi;colon|pipe", **LEAD},
            {"LastName": "NoRegion", "Company": "C", "Region__c": ""},
        ],
        column_delimiter=delimiter,
        line_ending="CRLF",
        wait=0.01,
    )
    job = out[0]["job_id"]
    ok = sf.bulk2.Lead.get_successful_records(job)
    assert ok.startswith(f'"sf__Id"{char}"sf__Created"{char}')
    assert ok.count("\r\n") == 2 and "\n" not in ok.replace("\r\n", "")
    rows = list(csv.reader(io.StringIO(ok, newline=""), delimiter=char))
    header, row = rows[0], rows[1]
    assert dict(zip(header, row, strict=True))["LastName"] == "Semi;colon|pipe"
    # every field is quoted, so a reader that guesses the separator is not misled
    for line in ok.splitlines():
        assert line.startswith('"') and line.endswith('"')
        assert line.count(f'"{char}"') == len(header) - 1
    assert csv.Sniffer().sniff(ok.splitlines()[1]).delimiter == char
    failed = sf.bulk2.Lead.get_failed_records(job)
    assert failed.splitlines()[1].startswith('""' + char + '"REQUIRED_FIELD_MISSING:')


def test_upload_in_the_wrong_line_ending_fails_the_job(org):
    sf = org.sf()
    with pytest.raises(SalesforceOperationError, match="LineEnding is invalid"):
        # simple-salesforce writes CRLF rows but the job says LF
        base = sf.bulk2.Lead
        job = base._client.create_job("insert", line_ending="LF")
        base._client.upload_job_data(job["id"], "LastName,Company\r\nX,Y\r\n")
        base._client.close_job(job["id"])
        base._client.wait_for_job(job["id"], False, wait=0.01)


def test_query_job_pages_with_locator(org):
    sf = org.sf()
    _ids(sf, 5)
    pages = list(
        sf.bulk2.Lead.query(
            "SELECT Id, LastName, Owner.Name, IsConverted FROM Lead ORDER BY LastName",
            max_records=2,
        )
    )
    assert len(pages) == 3
    rows = [r for page in pages for r in csv.DictReader(io.StringIO(page))]
    assert [r["LastName"] for r in rows] == ["B0", "B1", "B2", "B3", "B4", "Hopper"]
    assert {r["IsConverted"] for r in rows} == {"false"} and "Owner.Name" in rows[0]
    assert pages[0].splitlines()[0] == '"Id","LastName","Owner.Name","IsConverted"'


def test_query_job_raw_wire(org):
    sf = org.sf()
    s, base = org.session(), f"{org.instance_url}/services/data/v59.0/jobs/query"
    headers = {"Authorization": f"Bearer {org.token}"}
    job = s.post(
        base,
        json={"operation": "queryAll", "query": "SELECT Id FROM Lead", "lineEnding": "CRLF"},
        headers=headers,
    ).json()
    assert job["state"] == "UploadComplete" and job["operation"] == "queryAll"
    assert s.get(f"{base}/{job['id']}", headers=headers).json()["state"] == "JobComplete"
    page = s.get(f"{base}/{job['id']}/results", params={"maxRecords": 5}, headers=headers)
    assert page.headers["Sforce-Locator"] == "null"
    assert page.headers["Sforce-NumberOfRecords"] == "1"
    assert page.text.endswith("\r\n")
    bad = s.post(
        base, json={"operation": "query", "query": "SELECT COUNT() FROM Lead"}, headers=headers
    )
    assert bad.status_code == 400
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 1
