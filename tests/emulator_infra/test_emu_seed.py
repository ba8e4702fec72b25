"""Seed files: the packaged demo data set, and one clear file:line:key message per bad file."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from leadsync.emulator.seed import load_seed, parse_seed, seed_schema, validate_seed
from leadsync.errors import ConfigError

ISSUE_EXAMPLE = """\
dotdigital:
  accounts:
    - name: uk
      username: apiuser-uk@apiconnector.com
      password: demo-password
      datafields: [{name: COMPANY, type: String}]   # FIRSTNAME LASTNAME FULLNAME GENDER POSTCODE always exist
      address_books:
        - name: Webinar signups
          contacts:
            - email: ada@example.com
              datafields: {FIRSTNAME: Ada, LASTNAME: Lovelace, COMPANY: Analytical Engines}
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


def error_of(text: str, source: str = "seed.yaml") -> str:
    with pytest.raises(ConfigError) as info:
        parse_seed(text, source)
    return str(info.value)


def test_emu_demo_data_set_loads_and_has_the_promised_mix() -> None:
    seed = load_seed(None)
    (uk,) = seed["dotdigital"]["accounts"]
    assert uk["name"] == "uk"
    assert uk["username"] == "apiuser-uk@apiconnector.com"
    books = {b["name"]: b for b in uk["address_books"]}
    assert set(books) == {"Webinar signups", "Newsletter"}
    members = books["Webinar signups"]["contacts"]
    emails = [m["email"] for m in members]
    assert "o'brien@example.com" in emails
    assert any(e != "grace@example.com" and e.lower() == "grace@example.com" for e in emails)
    assert any("COMPANY" not in m["datafields"] for m in members)
    assert {m["datafields"]["REGION"] for m in members} == {"EMEA", "AMER", "APAC"}
    assert any(m["datafields"]["FIRSTNAME"] == "Siobhán" for m in members)
    sf = seed["salesforce"]
    assert sf["lead_statuses"][0] == "New"
    assert sf["users"][0]["username"] == "admin@leadsync.demo"
    assert sf["connected_apps"][0]["consumer_key"] == "leadsync-demo"


def test_emu_issue_example_seed_is_valid() -> None:
    seed = parse_seed(ISSUE_EXAMPLE, "issue.yaml")
    assert seed["salesforce"]["records"]["Lead"][0]["LastName"] == "Hopper"


def test_emu_seed_schema_and_service_schemas_are_valid_json_schemas() -> None:
    from importlib import resources

    jsonschema.Draft202012Validator.check_schema(seed_schema())
    for service in ("dotdigital", "salesforce"):
        res = resources.files(f"leadsync.emulator.{service}").joinpath("seed.schema.json")
        if not res.is_file():
            pytest.fail(f"emulator/{service}/seed.schema.json is missing")
        import json

        schema = json.loads(res.read_text(encoding="utf-8"))
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        cls.check_schema(schema)


def test_emu_unknown_top_level_key_names_file_line_and_key() -> None:
    msg = error_of("salesforce: {}\nsalesfroce: {}\n")
    assert msg.startswith("emulator seed file seed.yaml:2: salesfroce: unknown key 'salesfroce'")


def test_emu_wrong_type_deep_inside_names_line_and_path() -> None:
    text = ISSUE_EXAMPLE.replace("daily_api_limit: 100000", "daily_api_limit: lots")
    msg = error_of(text)
    assert "seed.yaml:17:" in msg
    assert "salesforce.daily_api_limit" in msg


def test_emu_missing_required_key_names_the_object_line() -> None:
    text = ISSUE_EXAMPLE.replace("      password: demo-password\n", "")
    msg = error_of(text)
    assert "seed.yaml:3:" in msg
    assert "dotdigital.accounts[0]" in msg
    assert "password" in msg


def test_emu_yaml_syntax_error_names_line() -> None:
    msg = error_of("dotdigital:\n  accounts: [\n")
    assert msg.startswith("emulator seed file seed.yaml:3: invalid YAML")


def test_emu_duplicate_key_is_an_error() -> None:
    msg = error_of("salesforce:\n  daily_api_limit: 5\n  daily_api_limit: 6\n")
    assert msg == "emulator seed file seed.yaml:3: salesforce.daily_api_limit: duplicate key"


@pytest.mark.parametrize("text", ["", "# only a comment\n", "[1, 2]\n", "just text\n"])
def test_emu_empty_or_non_mapping_file_is_an_error(text: str) -> None:
    assert error_of(text).startswith("emulator seed file seed.yaml")


def test_emu_missing_file_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_seed(tmp_path / "nope.yaml")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="cannot read"):
        load_seed(binary)


def test_emu_load_seed_from_file_reports_that_file(tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text("dotdigital: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_seed(path)
    assert str(info.value).startswith(f"emulator seed file {path}:1: dotdigital:")


def test_emu_validate_seed_dict_without_lines() -> None:
    assert validate_seed({"salesforce": {}}) == {"salesforce": {}}
    with pytest.raises(ConfigError, match=r"^emulator seed file <seed dict>: extra: unknown key"):
        validate_seed({"extra": 1})
