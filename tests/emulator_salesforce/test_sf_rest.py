"""Describe, single-record REST and the write rules, driven through unmodified simple-salesforce."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from leadsync.emulator.salesforce.ids import checksum


def _fields(describe: dict) -> dict[str, dict]:
    return {f["name"]: f for f in describe["fields"]}


def test_lead_describe_reports_seeded_fields_and_status_picklist(org):
    sf = org.sf()
    lead = sf.Lead.describe()
    assert lead["name"] == "Lead" and lead["keyPrefix"] == "00Q"
    fields = _fields(lead)
    region = fields["Region__c"]
    assert region["custom"] is True and region["type"] == "picklist"
    assert region["nillable"] is False and region["createable"] is True
    assert region["defaultedOnCreate"] is False and region["restrictedPicklist"] is True
    assert [v["value"] for v in region["picklistValues"]] == ["EMEA", "AMER", "APAC"]
    assert set(region["picklistValues"][0]) >= {"value", "label", "active", "defaultValue"}
    status = fields["Status"]
    assert status["defaultedOnCreate"] is True and status["nillable"] is False
    assert [(v["value"], v["defaultValue"]) for v in status["picklistValues"]][:2] == [
        ("New", True),
        ("Working", False),
    ]
    assert fields["LastName"]["nillable"] is False and fields["LastName"]["length"] == 80
    assert fields["Email"]["type"] == "email"
    assert fields["Id"]["createable"] is False


@pytest.mark.parametrize("path", ["sobjects/Contact/describe", "sobjects/Contact/describe/"])
def test_describe_with_and_without_trailing_slash(org, path):
    body = org.sf().restful(path)
    assert body["name"] == "Contact" and "LastName" in _fields(body)


def test_every_object_is_described_with_its_key_prefix(org):
    sf = org.sf()
    names = {o["name"]: o["keyPrefix"] for o in sf.describe()["sobjects"]}
    assert names == {
        "Account": "001",
        "Lead": "00Q",
        "Contact": "003",
        "Campaign": "701",
        "CampaignMember": "00v",
        "CampaignMemberStatus": "01Y",
        "LeadStatus": "01J",
        "User": "005",
        "AssignmentRule": "01Q",
    }
    for name in names:
        assert getattr(sf, name).describe()["name"] == name


def test_create_get_update(org):
    sf = org.sf()
    created = sf.Lead.create(
        {"LastName": "Lovelace", "Company": "AE", "Region__c": "EMEA", "Email": "ada@example.com"}
    )
    assert created["success"] is True and created["errors"] == []
    lead_id = created["id"]
    assert len(lead_id) == 18 and lead_id.startswith("00Q")
    assert lead_id[15:] == checksum(lead_id[:15])
    record = sf.Lead.get(lead_id)
    assert record["Status"] == "New"  # the default LeadStatus
    assert record["attributes"]["type"] == "Lead"
    assert record["Name"] == "Lovelace"
    assert sf.Lead.get(lead_id[:15])["Id"] == lead_id  # 15-char ids work too
    assert sf.Lead.update(lead_id, {"FirstName": "Ada"}) == 204
    assert sf.Lead.get(lead_id)["Name"] == "Ada Lovelace"


def test_get_unknown_record_is_404(org):
    with pytest.raises(SalesforceResourceNotFound) as err:
        org.sf().Lead.get("00Q8d00000000ZZ")
    assert err.value.content == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]


def _create_error(sf, record: dict, sobject: str = "Lead") -> list[dict]:
    with pytest.raises(SalesforceMalformedRequest) as err:
        getattr(sf, sobject).create(record)
    assert err.value.status == 400
    return err.value.content


def test_required_fields_missing(org):
    content = _create_error(org.sf(), {"FirstName": "No", "Region__c": "EMEA"})
    assert content == [
        {
            "message": "Required fields are missing: [LastName, Company]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["LastName", "Company"],
        }
    ]
    content = _create_error(org.sf(), {"LastName": "X", "Company": "Y"})
    assert content[0]["errorCode"] == "REQUIRED_FIELD_MISSING" and content[0]["fields"] == [
        "Region__c"
    ]


def test_restricted_picklist(org):
    content = _create_error(org.sf(), {"LastName": "X", "Company": "Y", "Region__c": "LATAM"})
    assert content == [
        {
            "message": "Region: bad value for restricted picklist field: LATAM",
            "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "fields": ["Region__c"],
        }
    ]
    content = _create_error(
        org.sf(), {"LastName": "X", "Company": "Y", "Region__c": "EMEA", "Status": "Bogus"}
    )
    assert content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert content[0]["fields"] == ["Status"]


def test_unknown_field(org):
    content = _create_error(
        org.sf(), {"LastName": "X", "Company": "Y", "Region__c": "EMEA", "Shoe_Size__c": 9}
    )
    assert content == [
        {
            "message": "No such column 'Shoe_Size__c' on sobject of type Lead",
            "errorCode": "INVALID_FIELD",
        }
    ]


def test_type_conversion_errors(org):
    content = _create_error(org.sf(), {"LastName": "X", "Birthdate": "2024-13-45"}, "Contact")
    assert content[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert "2024-13-45" in content[0]["message"]
    content = _create_error(
        org.sf(),
        {"LastName": "X", "Company": "Y", "Region__c": "EMEA", "NumberOfEmployees": "many"},
    )
    assert content[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_string_too_long_and_bad_email(org):
    content = _create_error(org.sf(), {"LastName": "L" * 81, "Company": "Y", "Region__c": "EMEA"})
    assert content == [
        {
            "message": f"Last Name: data value too large: {'L' * 81} (max length=80)",
            "errorCode": "STRING_TOO_LONG",
            "fields": ["LastName"],
        }
    ]
    content = _create_error(
        org.sf(), {"LastName": "X", "Company": "Y", "Region__c": "EMEA", "Email": "not-an-email"}
    )
    assert content[0]["errorCode"] == "INVALID_EMAIL_ADDRESS" and content[0]["fields"] == ["Email"]


def test_read_only_fields_and_ids_are_refused_on_create(org):
    content = _create_error(
        org.sf(), {"LastName": "X", "Company": "Y", "Region__c": "EMEA", "IsConverted": True}
    )
    assert content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE" and content[0][
        "fields"
    ] == ["IsConverted"]


def test_campaign_gets_default_member_statuses(org):
    sf = org.sf()
    cid = sf.Campaign.create({"Name": "Autumn"})["id"]
    rows = sf.query(
        f"SELECT Label, IsDefault, HasResponded, SortOrder FROM CampaignMemberStatus WHERE CampaignId = '{cid}' ORDER BY SortOrder"
    )["records"]
    assert [(r["Label"], r["IsDefault"], r["HasResponded"]) for r in rows] == [
        ("Sent", True, False),
        ("Responded", False, True),
    ]


def test_campaign_member_rules(org):
    sf = org.sf()
    cid = sf.Campaign.create({"Name": "Autumn"})["id"]
    lead = sf.Lead.create({"LastName": "M", "Company": "C", "Region__c": "AMER"})["id"]
    member = sf.CampaignMember.create({"CampaignId": cid, "LeadId": lead})
    assert member["id"].startswith("00v")
    assert sf.CampaignMember.get(member["id"])["Status"] == "Sent"  # the campaign's default
    content = _create_error(
        sf, {"CampaignId": cid, "LeadId": lead, "Status": "Sent"}, "CampaignMember"
    )
    assert content == [
        {"message": "Already a campaign member.", "errorCode": "DUPLICATE_VALUE", "fields": []}
    ]
    other = sf.Lead.create({"LastName": "N", "Company": "C", "Region__c": "AMER"})["id"]
    content = _create_error(
        sf, {"CampaignId": cid, "LeadId": other, "Status": "Attended"}, "CampaignMember"
    )
    assert content == [
        {
            "message": "Status: bad value for restricted picklist field: Attended",
            "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "fields": ["Status"],
        }
    ]
    responded = sf.CampaignMember.create(
        {"CampaignId": cid, "LeadId": other, "Status": "Responded"}
    )
    assert sf.CampaignMember.get(responded["id"])["HasResponded"] is True


def test_campaign_member_with_unknown_campaign(org):
    sf = org.sf()
    lead = sf.Lead.create({"LastName": "M", "Company": "C", "Region__c": "AMER"})["id"]
    content = _create_error(sf, {"CampaignId": "7018d000000ZZZZ", "LeadId": lead}, "CampaignMember")
    assert content[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    content = _create_error(sf, {"CampaignId": lead, "LeadId": lead}, "CampaignMember")
    assert content[0]["errorCode"] == "MALFORMED_ID"


def test_duplicate_rule_on_lead_email(sf_factory, issue_seed):
    issue_seed["duplicate_rule_on_lead_email"] = True
    org = sf_factory(issue_seed)
    sf = org.sf()
    grace = sf.query("SELECT Id FROM Lead")["records"][0]["Id"]
    existing = sf.query("SELECT Id FROM Contact")["records"][0]["Id"]
    content = _create_error(
        sf, {"LastName": "H", "Company": "N", "Region__c": "EMEA", "Email": "GRACE@example.com"}
    )
    assert content[0]["errorCode"] == "DUPLICATES_DETECTED"
    result = content[0]["duplicateResult"]
    assert result["matchResults"][0]["entityType"] == "Lead"
    assert result["matchResults"][0]["matchRecords"][0]["record"]["Id"] == grace
    content = _create_error(
        sf, {"LastName": "H", "Company": "N", "Region__c": "EMEA", "Email": "Old@Example.com"}
    )
    assert (
        content[0]["duplicateResult"]["matchResults"][0]["matchRecords"][0]["record"]["Id"]
        == existing
    )
    allowed = sf.Lead.create(
        {"LastName": "H", "Company": "N", "Region__c": "EMEA", "Email": "grace@example.com"},
        headers={"Sforce-Duplicate-Rule-Header": "allowSave=true"},
    )
    assert allowed["success"] is True


def test_update_rules(org):
    sf = org.sf()
    lead = sf.Lead.create({"LastName": "M", "Company": "C", "Region__c": "AMER"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Lead.update(lead, {"LastName": None})
    assert err.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Lead.update(lead, {"Region__c": "Mars"})
    assert err.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_limits_resource(org):
    limits = org.sf().limits()
    assert limits["DailyApiRequests"]["Max"] == 100000
    assert 0 < limits["DailyApiRequests"]["Max"] - limits["DailyApiRequests"]["Remaining"] <= 2
