"""SOQL through sf.query / query_all / queryAll: operators, escapes, paging, errors."""

from __future__ import annotations

import pytest
from simple_salesforce import format_soql
from simple_salesforce.exceptions import SalesforceMalformedRequest


@pytest.fixture
def people(sf_factory):
    leads = [
        {
            "FirstName": "Ada",
            "LastName": "Lovelace",
            "Company": "AE",
            "Email": "Ada@Example.com",
            "NumberOfEmployees": 10,
        },
        {
            "FirstName": "Grace",
            "LastName": "Hopper",
            "Company": "Navy",
            "Email": "grace@example.com",
            "NumberOfEmployees": 500,
        },
        {
            "FirstName": "Liam",
            "LastName": "O'Brien",
            "Company": "Back\\slash Ltd",
            "Email": "liam@example.ie",
        },
        {
            "FirstName": "Nobody",
            "LastName": "NoMail",
            "Company": "Quiet Co",
            "HasOptedOutOfEmail": True,
        },
    ]
    return sf_factory({"records": {"Lead": leads}})


def _names(sf, where: str, order: str = "ORDER BY LastName") -> list[str]:
    return [
        r["LastName"]
        for r in sf.query_all(f"SELECT LastName FROM Lead WHERE {where} {order}")["records"]
    ]


def test_operators(people):
    sf = people.sf()
    assert _names(sf, "Email = 'ADA@example.COM'") == ["Lovelace"]  # case-insensitive
    assert _names(sf, "Email IN ('grace@example.com', 'nobody@x.org')") == ["Hopper"]
    assert _names(sf, "Email NOT IN ('grace@example.com')") == ["Lovelace", "NoMail", "O'Brien"]
    assert _names(sf, "Email != 'grace@example.com'") == ["Lovelace", "NoMail", "O'Brien"]
    assert _names(sf, "Email = null") == ["NoMail"]
    assert _names(sf, "Email != NULL AND NumberOfEmployees > 20") == ["Hopper"]
    assert _names(
        sf, "(NumberOfEmployees >= 500 OR Company LIKE 'quiet%') AND HasOptedOutOfEmail = true"
    ) == ["NoMail"]
    assert _names(sf, "Email LIKE '%example.com'") == ["Hopper", "Lovelace"]
    assert _names(sf, "NOT Email LIKE '%example.com'") == ["NoMail", "O'Brien"]
    assert _names(sf, "Status = 'Open - Not Contacted' AND IsConverted = false") == [
        "Hopper",
        "Lovelace",
        "NoMail",
        "O'Brien",
    ]


def test_escaped_quotes_and_backslashes(people):
    sf = people.sf()
    assert _names(sf, "LastName = 'O\\'Brien'") == ["O'Brien"]
    assert _names(sf, "Company = 'Back\\\\slash Ltd'") == ["O'Brien"]
    query = format_soql(
        "SELECT LastName FROM Lead WHERE LastName IN {} AND Company = {}",
        ["O'Brien", "x"],
        "Back\\slash Ltd",
    )
    assert sf.query(query)["totalSize"] == 1
    query = format_soql("SELECT LastName FROM Lead WHERE LastName IN {}", ["O'Brien", "Hopper"])
    assert sorted(r["LastName"] for r in sf.query(query)["records"]) == ["Hopper", "O'Brien"]


def test_order_limit_offset_and_count(people):
    sf = people.sf()
    rows = sf.query(
        "SELECT FirstName, NumberOfEmployees FROM Lead ORDER BY NumberOfEmployees DESC NULLS LAST LIMIT 3"
    )
    assert [r["FirstName"] for r in rows["records"]] == ["Grace", "Ada", "Liam"]
    rows = sf.query("SELECT FirstName FROM Lead ORDER BY FirstName ASC LIMIT 2 OFFSET 1")
    assert [r["FirstName"] for r in rows["records"]] == ["Grace", "Liam"]
    count = sf.query("SELECT COUNT() FROM Lead WHERE Email != null")
    assert count == {"totalSize": 3, "done": True, "records": []}


def test_records_carry_attributes_and_canonical_field_names(people):
    record = people.sf().query("select id, email from lead where email = 'grace@example.com'")[
        "records"
    ][0]
    assert set(record) == {"attributes", "Id", "Email"}
    assert record["attributes"]["type"] == "Lead"
    assert record["attributes"]["url"] == f"/services/data/v59.0/sobjects/Lead/{record['Id']}"


def test_id_literals_of_15_and_18_chars(people):
    sf = people.sf()
    lead_id = sf.query("SELECT Id FROM Lead WHERE LastName = 'Hopper'")["records"][0]["Id"]
    assert _names(sf, f"Id = '{lead_id[:15]}'") == ["Hopper"]
    assert _names(sf, f"Id IN ('{lead_id}')") == ["Hopper"]


def test_relationship_fields(sf_factory):
    org = sf_factory({"records": {"Campaign": [{"Name": "Spring"}]}})
    sf = org.sf()
    cid = sf.query("SELECT Id FROM Campaign")["records"][0]["Id"]
    lead = sf.Lead.create({"LastName": "A", "Company": "B", "Email": "a@b.co"})["id"]
    sf.CampaignMember.create({"CampaignId": cid, "LeadId": lead})
    row = sf.query(
        f"SELECT LeadId, Status, Campaign.Name FROM CampaignMember WHERE CampaignId = '{cid}' AND LeadId IN ('{lead}')"
    )
    assert row["records"][0]["Campaign"]["Name"] == "Spring"
    assert row["records"][0]["LeadId"] == lead and row["records"][0]["Status"] == "Sent"


def test_query_all_pages_after_2000_rows(sf_factory):
    leads = [
        {"LastName": f"L{i:05d}", "Company": "C", "Email": f"p{i}@example.com"} for i in range(4500)
    ]
    org = sf_factory({"records": {"Lead": leads}})
    sf = org.sf()
    first = sf.query("SELECT Id, LastName FROM Lead ORDER BY LastName")
    assert first["totalSize"] == 4500 and first["done"] is False and len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-2000")
    everything = sf.query_all("SELECT Id, LastName FROM Lead ORDER BY LastName")
    assert everything["totalSize"] == 4500
    assert [r["LastName"] for r in everything["records"]] == [f"L{i:05d}" for i in range(4500)]
    # 500 values keep the GET's URI under Salesforce's 16,384 bytes (longer lists: Composite)
    emails = [f"p{i}@EXAMPLE.com" for i in range(0, 4500, 9)]
    found = sf.query_all(format_soql("SELECT Id FROM Lead WHERE Email IN {}", emails))
    assert found["totalSize"] == 500


def test_query_all_includes_deleted_rows(people):
    sf = people.sf()
    lead_id = sf.query("SELECT Id FROM Lead WHERE LastName = 'Hopper'")["records"][0]["Id"]
    sf.Lead.delete(lead_id)
    assert sf.query("SELECT Id FROM Lead WHERE LastName = 'Hopper'")["totalSize"] == 0
    deleted = sf.query_all(
        "SELECT Id, IsDeleted FROM Lead WHERE LastName = 'Hopper'", include_deleted=True
    )
    assert deleted["records"][0]["IsDeleted"] is True


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE LastName = 'unterminated", "MALFORMED_QUERY"),
        ("SELECT Id Lead", "MALFORMED_QUERY"),
        ("SELECT Shoe__c FROM Lead", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE NumberOfEmployees = 'ten'", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE Email = 5", "INVALID_FIELD"),
        ("SELECT Id FROM Leads", "INVALID_TYPE"),
    ],
)
def test_query_errors(people, soql, code):
    with pytest.raises(SalesforceMalformedRequest) as err:
        people.sf().query(soql)
    assert err.value.status == 400
    assert err.value.content[0]["errorCode"] == code
    assert isinstance(err.value.content[0]["message"], str)


def test_query_paths_with_and_without_trailing_slash(people):
    sf = people.sf()
    for path in ("query", "query/"):
        assert sf.restful(path, params={"q": "SELECT Id FROM Lead"})["totalSize"] == 4


def test_lead_status_and_member_status_objects(sf_factory, issue_seed):
    org = sf_factory(issue_seed)
    rows = org.sf().query(
        "SELECT MasterLabel, ApiName, IsDefault, IsConverted FROM LeadStatus ORDER BY SortOrder"
    )["records"]
    assert [(r["MasterLabel"], r["IsDefault"], r["IsConverted"]) for r in rows] == [
        ("New", True, False),
        ("Working", False, False),
        ("Nurturing", False, False),
        ("Closed - Converted", False, True),
        ("Closed - Not Converted", False, False),
    ]
