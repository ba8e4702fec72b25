"""The "salesforce" seed section: its JSON Schema and how the org is built from it."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest
import yaml

from leadsync.emulator.salesforce import SalesforceBackend

ISSUE_TEXT = """
salesforce:
  lead_statuses: [New, Working, Nurturing, Closed - Converted, Closed - Not Converted]  # first = default
  lead_fields:            # custom Lead fields beyond the standard ones
    - {name: Region__c, type: picklist, values: [EMEA, AMER, APAC], required: true, restricted: true}
  duplicate_rule_on_lead_email: false
  daily_api_limit: 100000
  records:
    Campaign: [{Name: Spring Webinar 2026}]
    Lead: [{FirstName: Grace, LastName: Hopper, Company: Navy, Email: grace@example.com}]
    Contact: [{LastName: Existing, Email: old@example.com}]
"""


def _schema() -> dict:
    text = resources.files("leadsync.emulator.salesforce").joinpath("seed.schema.json").read_text()
    return json.loads(text)


def test_issue_example_validates_and_loads_as_written():
    section = yaml.safe_load(ISSUE_TEXT)["salesforce"]
    jsonschema.Draft202012Validator.check_schema(_schema())
    jsonschema.validate(section, _schema())
    backend = SalesforceBackend.from_seed(section)
    assert len(backend.records["Lead"]) == 1
    assert len(backend.records["CampaignMemberStatus"]) == 2  # Sent + Responded for the campaign


@pytest.mark.parametrize(
    "section",
    [
        {"lead_fields": [{"name": "Region", "type": "picklist"}]},  # custom fields end in __c
        {"lead_fields": [{"name": "X__c", "type": "blob"}]},
        {"records": {"Opportunity": [{"Name": "x"}]}},
        {"daily_api_limit": -1},
        {"unknown_key": 1},
    ],
)
def test_schema_rejects_bad_sections(section):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(section, _schema())


def test_bad_seed_record_names_the_record():
    with pytest.raises(ValueError, match=r"salesforce\.records\.Lead\[1\]: INVALID_FIELD"):
        SalesforceBackend.from_seed({"records": {"Lead": [{"LastName": "a"}, {"Shoe__c": "x"}]}})


def test_campaign_member_statuses_replace_the_defaults(sf_factory):
    org = sf_factory(
        {
            "records": {"Campaign": [{"Name": "Summit"}]},
            "campaign_member_statuses": {
                "Summit": ["Invited", {"label": "Attended", "responded": True}]
            },
        }
    )
    rows = org.sf().query(
        "SELECT Label, IsDefault, HasResponded FROM CampaignMemberStatus ORDER BY SortOrder"
    )
    assert [(r["Label"], r["IsDefault"], r["HasResponded"]) for r in rows["records"]] == [
        ("Invited", True, False),
        ("Attended", False, True),
    ]
