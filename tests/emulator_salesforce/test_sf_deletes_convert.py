"""Deletes as Salesforce does them (recycle bin, cascades to CampaignMembers, queryAll with
IsDeleted for 15 days) and Lead conversion through the control route (the Lead becomes read
only: CANNOT_UPDATE_CONVERTED_LEAD)."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

DAY = 24 * 3600


def _member_of_campaign(sf, **who) -> str:
    campaign = sf.query("SELECT Id FROM Campaign")["records"][0]["Id"]
    return sf.CampaignMember.create({"CampaignId": campaign, **who})["id"]


def _grace(sf) -> str:
    return sf.query("SELECT Id FROM Lead WHERE Email = 'grace@example.com'")["records"][0]["Id"]


def test_deleting_a_lead_deletes_its_campaign_members(org):
    sf = org.sf()
    lead = _grace(sf)
    member = _member_of_campaign(sf, LeadId=lead)
    assert sf.Lead.delete(lead) == 204
    assert sf.query("SELECT Id FROM CampaignMember")["totalSize"] == 0
    assert sf.query("SELECT Id FROM Lead")["totalSize"] == 0
    gone = sf.query_all(
        "SELECT Id, IsDeleted FROM CampaignMember WHERE IsDeleted = true", include_deleted=True
    )["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in gone] == [(member, True)]
    leads = sf.query_all("SELECT Id, IsDeleted FROM Lead", include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in leads] == [(lead, True)]
    # the recycle bin keeps them 15 days, by the org's clock
    org.control("clock", {"offset_seconds": 14 * DAY})
    assert sf.query_all("SELECT Id FROM Lead", include_deleted=True)["totalSize"] == 1
    org.control("clock", {"offset_seconds": 15 * DAY})
    assert sf.query_all("SELECT Id FROM Lead", include_deleted=True)["totalSize"] == 0


def test_deleted_record_answers_entity_is_deleted(org):
    sf = org.sf()
    lead = _grace(sf)
    sf.Lead.delete(lead)
    for call in (lambda: sf.Lead.get(lead), lambda: sf.Lead.delete(lead)):
        with pytest.raises(SalesforceResourceNotFound) as err:
            call()
        assert err.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
    found = sf.query_all(
        "SELECT Id FROM Lead WHERE Email = 'grace@example.com'", include_deleted=True
    )
    assert found["totalSize"] == 1


def test_deleting_a_contact_or_campaign_cascades(org):
    sf = org.sf()
    contact = sf.query("SELECT Id FROM Contact")["records"][0]["Id"]
    _member_of_campaign(sf, ContactId=contact)
    lead_member = _member_of_campaign(sf, LeadId=_grace(sf))
    sf.Contact.delete(contact)
    rows = sf.query("SELECT Id FROM CampaignMember")["records"]
    assert [r["Id"] for r in rows] == [lead_member]
    campaign = sf.query("SELECT Id FROM Campaign")["records"][0]["Id"]
    sf.Campaign.delete(campaign)
    assert sf.query("SELECT COUNT() FROM CampaignMember")["totalSize"] == 0
    assert sf.query("SELECT COUNT() FROM CampaignMemberStatus")["totalSize"] == 0
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 1


def test_convert_lead(org):
    sf = org.sf()
    lead = _grace(sf)
    member = _member_of_campaign(sf, LeadId=lead)
    resp = org.control(f"leads/{lead}/convert")
    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert result["leadId"] == lead and result["success"] is True
    row = sf.query(
        "SELECT IsConverted, ConvertedContactId, ConvertedAccountId, ConvertedDate, Status, "
        f"ConvertedContact.Email FROM Lead WHERE Id = '{lead}'"
    )["records"][0]
    assert row["IsConverted"] is True and row["Status"] == "Closed - Converted"
    assert row["ConvertedContactId"] == result["contactId"]
    assert row["ConvertedAccountId"] == result["accountId"]
    assert row["ConvertedContact"]["Email"] == "grace@example.com"
    assert sf.Account.get(result["accountId"])["Name"] == "Navy"
    assert sf.Contact.get(result["contactId"])["AccountId"] == result["accountId"]
    cm = sf.CampaignMember.get(member)
    assert (cm["LeadId"], cm["ContactId"]) == (lead, result["contactId"])
    assert _names(sf, "IsConverted = false") == []
    assert (
        sf.query(
            "SELECT COUNT() FROM Lead WHERE ConvertedDate = TODAY AND ConvertedContactId != null"
        )["totalSize"]
        == 1
    )


def _names(sf, where: str) -> list[str]:
    return [
        r["LastName"] for r in sf.query_all(f"SELECT LastName FROM Lead WHERE {where}")["records"]
    ]


def test_converted_lead_is_read_only(org):
    sf = org.sf()
    lead = _grace(sf)
    org.control(f"leads/{lead}/convert")
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Lead.update(lead, {"Title": "CTO"})
    assert err.value.content == [
        {
            "message": "cannot reference converted lead",
            "errorCode": "CANNOT_UPDATE_CONVERTED_LEAD",
            "fields": [],
        }
    ]
    out = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={"records": [{"attributes": {"type": "Lead"}, "id": lead, "Title": "CTO"}]},
    )
    assert out[0]["errors"][0]["statusCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    again = org.control(f"leads/{lead}/convert")
    assert again.status_code == 400
    assert again.json()[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_convert_into_existing_contact_and_status_checks(org):
    sf = org.sf()
    lead = _grace(sf)
    contact = sf.query("SELECT Id, AccountId FROM Contact")["records"][0]["Id"]
    bad = org.control(f"leads/{lead}/convert", {"converted_status": "Working"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_STATUS"
    ok = org.control(f"leads/{lead}/convert", {"contact_id": contact}).json()
    assert ok["contactId"] == contact
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 1
    missing = org.control("leads/00Q8d0000000zzzAAA/convert")
    assert missing.status_code == 404
