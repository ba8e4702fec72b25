"""The dotdigital seed section: schema (YAML-native dates allowed) and the rules from_seed keeps."""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from leadsync.emulator.dotdigital.exceptions import SeedError
from leadsync.emulator.dotdigital.models import DotdigitalBackend

UNQUOTED_DATES = """
accounts:
  - name: uk
    username: u@apiconnector.com
    password: p
    datafields: [{name: BDAY, type: Date}]
    address_books:
      - name: B
        contacts:
          - {email: a@example.com, added_at: 2024-01-01 10:00:00, datafields: {BDAY: 2000-02-03}}
        generate: {count: 3, added_at: 2024-01-02}
"""


def _account(**extra):
    return {"accounts": [{"name": "uk", "username": "u", "password": "p", **extra}]}


def test_unquoted_yaml_dates_validate_and_load(dd_factory):
    section = yaml.safe_load(UNQUOTED_DATES)
    dd = dd_factory(section)  # schema-validated first
    (a,) = dd.get("/v2/contacts/a@example.com", auth=("u@apiconnector.com", "p")).json()[
        "dataFields"
    ][-1:]
    assert a == {"key": "BDAY", "value": "2000-02-03T00:00:00"}


@pytest.mark.parametrize(
    "section",
    [
        {"accounts": [{"name": "uk", "username": "u"}]},
        _account(rate_limit={"requests": 0, "per_seconds": 1}),
        _account(datafields=[{"name": "BAD NAME"}]),
        _account(
            address_books=[{"name": "B", "generate": {"count": 1, "email": "no-placeholder"}}]
        ),
        _account(address_books=[{"name": "B", "generate": {"count": 1, "added_at": 5}}]),
        _account(address_books=[{"name": "B", "colour": "red"}]),
    ],
)
def test_schema_refuses_bad_sections(section, dd_factory):
    with pytest.raises(jsonschema.ValidationError):
        dd_factory(section)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {
                "accounts": [
                    {"name": "a", "username": "u", "password": "p"},
                    {"name": "b", "username": "u", "password": "q"},
                ]
            },
            "dotdigital.accounts[1].username: 'u' is used by two accounts",
        ),
        (
            _account(
                address_books=[
                    {
                        "name": "B",
                        "contacts": [{"email": "x@example.com", "datafields": {"NOPE": 1}}],
                    }
                ]
            ),
            "dotdigital.accounts[0].address_books[0].contacts[0]: Data field NOPE does not exist. ERROR_DATAFIELD_NOTFOUND",
        ),
        (
            _account(address_books=[{"name": "B"}, {"name": "b"}]),
            "dotdigital.accounts[0].address_books[1]: That name is in use already, please choose another. ERROR_ADDRESSBOOK_DUPLICATE",
        ),
        (
            _account(
                address_books=[
                    {"name": "B", "generate": {"count": 1, "datafields": {"COMPANY": "x"}}}
                ]
            ),
            "dotdigital.accounts[0].address_books[0].generate[0]: generate.datafields: unknown datafield 'COMPANY'",
        ),
    ],
)
def test_rule_breaks_raise_seed_error_naming_the_key(section, message):
    with pytest.raises(SeedError) as info:
        DotdigitalBackend.from_seed(section)
    assert str(info.value) == message


def test_seeded_book_ids_and_empty_section():
    backend = DotdigitalBackend.from_seed(
        _account(address_books=[{"name": "B", "id": 42}, {"name": "C"}])
    )
    assert sorted(backend.accounts["uk"].books) == [42, 43]
    assert DotdigitalBackend.from_seed({}).accounts == {}
    assert DotdigitalBackend.from_seed(None).accounts == {}
