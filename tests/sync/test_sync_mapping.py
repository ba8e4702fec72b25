"""Unit tests of the pure mapping: datafield values -> Salesforce field values."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime

import pytest

from leadsync.config.model import Defaults
from leadsync.salesforce.model import FieldInfo, PicklistValue
from leadsync.sync.mapping import (
    ConversionError,
    LeadMapping,
    Row,
    convert,
    data_hash,
    lead_constants,
    map_member,
    normalise_email,
)


def field(name: str, type_: str = "string", **kw) -> FieldInfo:
    base = dict(
        name=name, label=name, type=type_, nillable=True, createable=True, defaulted_on_create=False
    )
    base.update(kw)
    return FieldInfo(**base)


REGION = field(
    "Region__c",
    "picklist",
    nillable=False,
    restricted_picklist=True,
    custom=True,
    picklist_values=(
        PicklistValue("EMEA", "Europe", True, False),
        PicklistValue("AMER", "Americas", True, False),
        PicklistValue("OLD", "Old", False, False),
    ),
)
FIELDS = {
    "FirstName": field("FirstName", length=40),
    "LastName": field("LastName", length=80, nillable=False),
    "Company": field("Company", length=255),
    "Email": field("Email", "email", length=80),
    "Status": field("Status", "picklist", nillable=False, defaulted_on_create=True),
    "Phone": field("Phone", "phone", length=40),
    "Region__c": REGION,
    "IsUnreadByOwner": field("IsUnreadByOwner", "boolean", nillable=False),
}
MAPPING = LeadMapping(
    rows=(
        Row("FirstName", "FIRSTNAME", "two-way"),
        Row("LastName", "LASTNAME", "dotdigital-to-salesforce"),
        Row("Company", "COMPANY", "two-way"),
        Row("Phone", "PHONE", "salesforce-to-dotdigital"),
        Row("Region__c", "REGION", "two-way"),
    ),
    fields=FIELDS,
    lead_status="New",
)
FULL = {
    "FIRSTNAME": "Ada",
    "LASTNAME": "Lovelace",
    "COMPANY": "Engines",
    "PHONE": "123",
    "REGION": "EMEA",
}


def test_required_is_the_seed_three_plus_org_required_fields() -> None:
    # Status is defaulted, booleans are never required, Email/Status are the sync's own.
    assert MAPPING.required() == ("Company", "FirstName", "LastName", "Region__c")


def test_only_fields_towards_salesforce_are_written_and_email_status_always() -> None:
    mapped = map_member("  Ada@Example.com ", FULL, MAPPING)
    assert mapped.missing == () and mapped.problems == ()
    assert mapped.record == {
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "Company": "Engines",
        "Region__c": "EMEA",
        "Email": "Ada@Example.com",
        "Status": "New",
    }
    assert "PHONE" not in MAPPING.datafields


def test_missing_values_are_named_blank_counts_as_missing() -> None:
    mapped = map_member("a@b.c", {**FULL, "COMPANY": "  ", "FIRSTNAME": None}, MAPPING)
    assert mapped.missing == ("Company", "FirstName")


def test_picklist_label_and_case_map_to_api_value_unknown_restricted_fails() -> None:
    assert convert("europe", REGION) == "EMEA"
    assert convert("amer", REGION) == "AMER"
    with pytest.raises(ConversionError) as err:
        convert("OLD", REGION)  # inactive
    assert err.value.code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    mapped = map_member("a@b.c", {**FULL, "REGION": "Mars"}, MAPPING)
    assert [p.code for p in mapped.problems] == ["INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"]
    assert mapped.missing == ()  # the bad field is a problem, not also "missing"


def test_unrestricted_picklist_passes_value_through() -> None:
    info = field(
        "LeadSource", "picklist", picklist_values=(PicklistValue("Web", "Web", True, True),)
    )
    assert convert("Trade show", info) == "Trade show"
    assert convert("web", info) == "Web"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("No", False), (1, True), (0, False), (True, True), ("1", True)],
)
def test_boolean(value, expected) -> None:
    assert convert(value, field("X", "boolean")) is expected


@pytest.mark.parametrize("value", ["maybe", 2, "", "tru"])
def test_boolean_rejects(value) -> None:
    with pytest.raises(ConversionError):
        convert(value, field("X", "boolean"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("42", 42), (" -7 ", -7), (3.0, 3), ("3.00", 3), (12, 12), ("1e3", 1000)],
)
def test_int(value, expected) -> None:
    assert convert(value, field("X", "int")) == expected


@pytest.mark.parametrize("value", ["1,000", "3.5", "abc", 2.5, True, "nan", float("inf")])
def test_int_rejects(value) -> None:
    with pytest.raises(ConversionError) as err:
        convert(value, field("X", "int"))
    assert err.value.code == "INVALID_TYPE"


@pytest.mark.parametrize(
    ("value", "expected"), [("1.5", 1.5), ("10", 10), (2.25, 2.25), ("-.5", -0.5), ("1e2", 100.0)]
)
def test_number(value, expected) -> None:
    assert convert(value, field("X", "double")) == expected


@pytest.mark.parametrize("value", ["1,5", "12abc", "NaN", "Infinity", "1e999", "", "0x10"])
def test_number_rejects(value) -> None:
    with pytest.raises(ConversionError):
        convert(value, field("X", "double"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-02-29", "2024-02-29"),
        ("2024-02-29T23:30:00Z", "2024-02-29"),
        ("2024-03-01T01:30:00+02:00", "2024-02-29"),
        ("2024-02-29T12:00:00", "2024-02-29"),
        (date(2020, 1, 2), "2020-01-02"),
    ],
)
def test_date(value, expected) -> None:
    assert convert(value, field("X", "date")) == expected


@pytest.mark.parametrize(
    "value", ["29/02/2024", "2023-02-29", "yesterday", "2024-13-01", "03/04/2025"]
)
def test_date_rejects_ambiguous_or_invalid(value) -> None:
    with pytest.raises(ConversionError) as err:
        convert(value, field("X", "date"))
    assert "date" in str(err.value)


@pytest.mark.parametrize("value", ["0403-10-21", "1699-12-31", "4001-01-01T00:00:00Z"])
def test_dates_outside_what_salesforce_stores_fail(value) -> None:
    for kind in ("date", "datetime"):
        with pytest.raises(ConversionError) as err:
            convert(value, field("X", kind))
        assert "1700 to 4000" in str(err.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1700-01-01T00:00:00Z", "1700-01-01T00:00:00.000Z"),
        ("2024-02-29T23:30:00Z", "2024-02-29T23:30:00.000Z"),
        ("2024-03-01T01:30:00+02:00", "2024-02-29T23:30:00.000Z"),
        ("2024-02-29", "2024-02-29T00:00:00.000Z"),
        ("2024-02-29T23:30:00.1234567Z", "2024-02-29T23:30:00.000Z"),
        (datetime(2024, 1, 1, 5, tzinfo=UTC), "2024-01-01T05:00:00.000Z"),
    ],
)
def test_datetime(value, expected) -> None:
    assert convert(value, field("X", "datetime")) == expected


def test_string_too_long_and_control_characters_fail_with_reason() -> None:
    with pytest.raises(ConversionError) as err:
        convert("x" * 41, FIELDS["FirstName"])
    assert err.value.code == "STRING_TOO_LONG" and "40" in str(err.value)
    with pytest.raises(ConversionError) as err:
        convert("a\x00b", FIELDS["FirstName"])
    assert err.value.code == "INVALID_CHARACTERS"
    # newlines, quotes, commas and non-ASCII letters are kept as they are
    assert convert('O\'Brien, "Ž"\nline', FIELDS["Company"]) == 'O\'Brien, "Ž"\nline'


def test_numbers_written_to_text_fields_keep_their_digits() -> None:
    assert convert(12.0, FIELDS["Company"]) == "12"
    assert convert(True, FIELDS["Company"]) == "true"


def test_data_hash_changes_with_values_or_mapping_not_with_unmapped_fields() -> None:
    h = data_hash("a@b.c", FULL, MAPPING)
    assert h == data_hash("a@b.c", {**FULL, "PHONE": "999", "OTHER": 1}, MAPPING)
    assert h != data_hash("a@b.c", {**FULL, "COMPANY": "New Co"}, MAPPING)
    other = LeadMapping(MAPPING.rows[:-1], FIELDS, "New")
    assert h != data_hash("a@b.c", FULL, other)


def test_data_hash_is_a_stored_format() -> None:
    """Hashes are stored in the ledger: the text hashed stays json.dumps' (sorted keys, no
    ASCII escaping, other values as str), or every skipped member would be retried."""
    values = {**FULL, "COMPANY": 'Zoë \u2028 "Co"', "EXTRA": date(2024, 1, 2)}
    material = {
        "email": "a@b.c",
        "values": {df: values.get(df) for df in MAPPING.datafields},
        "mapping": MAPPING.fingerprint(),
    }
    text = json.dumps(material, sort_keys=True, ensure_ascii=False, default=str)
    assert data_hash(" a@b.c ", values, MAPPING) == hashlib.sha256(text.encode()).hexdigest()


def test_unknown_salesforce_field_fails_the_record() -> None:
    mapping = LeadMapping((*MAPPING.rows, Row("Gone__c", "GONE", "two-way")), FIELDS, "New")
    mapped = map_member("a@b.c", {**FULL, "GONE": "x"}, mapping)
    assert [p.code for p in mapped.problems] == ["INVALID_FIELD"]


def test_normalise_email() -> None:
    assert normalise_email("  O'Brien@Example.COM ") == "o'brien@example.com"


def test_constants_from_defaults_go_into_every_lead_and_move_the_fingerprint_only_when_set() -> (
    None
):
    """A default that sets a Lead field (leadrules.LEAD_FIELD_DEFAULTS) is written into every
    created Lead; with none set the fingerprint (ledger data_hash material) is as before."""
    plain = LeadMapping(MAPPING.rows, FIELDS, "New", constants={})
    assert plain.fingerprint() == MAPPING.fingerprint()
    assert lead_constants(Defaults()) == {}  # no default of this kind is set by default
    web = LeadMapping(MAPPING.rows, FIELDS, "New", constants={"LeadSource": "Web"})
    assert web.fingerprint() != MAPPING.fingerprint()
    assert map_member("a@b.c", FULL, web).record["LeadSource"] == "Web"
    assert "LeadSource" not in map_member("a@b.c", FULL, plain).record
