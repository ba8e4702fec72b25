"""The field-update rules (sync/updates.py), called directly: directions, merge base, blanks,
conversion before comparing. Pure: no emulator, no state."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadsync.salesforce.model import FieldInfo, PicklistValue
from leadsync.sync import updates
from leadsync.sync.updates import (
    AGREE,
    D2S,
    FAILED,
    NONE,
    S2D,
    SKIPPED,
    TO_DOTDIGITAL,
    TO_SALESFORCE,
    TWO_WAY,
    Bad,
    FieldRule,
    decide,
    plan_link,
)


def _d(direction: str, base: object = "<none>", *, sf: object, dd: object, required=False):
    has_base = base != "<none>"
    return decide(
        direction,
        has_base=has_base,
        base=base if has_base else None,
        sf=sf,
        dd=dd,
        required=required,
    )


# (direction, base, salesforce, dotdigital) -> (kind, value, conflict)
CASES = [
    # two-way: the side that changed wins; both changed -> Salesforce, as a conflict
    (TWO_WAY, "A", "A", "B", TO_SALESFORCE, "B", False),
    (TWO_WAY, "A", "B", "A", TO_DOTDIGITAL, "B", False),
    (TWO_WAY, "A", "B", "C", TO_DOTDIGITAL, "B", True),
    (TWO_WAY, "A", "B", "B", AGREE, "B", False),  # both changed to the same value
    (TWO_WAY, "A", "A", "A", NONE, None, False),
    (TWO_WAY, "A", None, "A", TO_DOTDIGITAL, None, False),  # cleared in Salesforce
    (TWO_WAY, "A", "A", None, TO_SALESFORCE, None, False),  # cleared in Dotdigital
    # dotdigital-to-salesforce: Dotdigital's changes win; Salesforce-only changes stay
    (D2S, "A", "A", "B", TO_SALESFORCE, "B", False),
    (D2S, "A", "Z", "A", NONE, None, False),
    (D2S, "A", "Z", "B", TO_SALESFORCE, "B", False),
    # salesforce-to-dotdigital: whenever they differ, Dotdigital gets Salesforce's value
    (S2D, "A", "A", "B", TO_DOTDIGITAL, "A", False),
    (S2D, "A", "B", "A", TO_DOTDIGITAL, "B", False),
    (S2D, "A", "B", "C", TO_DOTDIGITAL, "B", False),
    (S2D, "A", None, "A", TO_DOTDIGITAL, None, False),
    # no base yet (a new link)
    (TWO_WAY, "<none>", "A", "A", AGREE, "A", False),
    (TWO_WAY, "<none>", None, "B", TO_SALESFORCE, "B", False),
    (TWO_WAY, "<none>", "A", None, TO_DOTDIGITAL, "A", False),
    (TWO_WAY, "<none>", "A", "B", TO_DOTDIGITAL, "A", False),  # Salesforce wins, no conflict
    (D2S, "<none>", "A", "B", TO_SALESFORCE, "B", False),
    (D2S, "<none>", "A", None, NONE, None, False),  # nothing agreed: never blank
    (S2D, "<none>", None, "B", NONE, None, False),
    (S2D, "<none>", "A", "B", TO_DOTDIGITAL, "A", False),
]


@pytest.mark.parametrize(("direction", "base", "sf", "dd", "kind", "value", "conflict"), CASES)
def test_direction_rules(direction, base, sf, dd, kind, value, conflict):
    got = _d(direction, base, sf=sf, dd=dd)
    assert (got.kind, got.value, got.conflict) == (kind, value, conflict)


@pytest.mark.parametrize("direction", [TWO_WAY, D2S])
def test_an_empty_dotdigital_value_never_blanks_a_required_field(direction):
    got = _d(direction, "Acme", sf="Acme", dd=None, required=True)
    assert got.kind == SKIPPED and got.code == updates.REQUIRED_BLANK
    assert "requires" in (got.reason or "")
    # not required: the clear is carried across
    assert _d(direction, "Acme", sf="Acme", dd=None).kind == TO_SALESFORCE


def test_a_dotdigital_value_that_does_not_convert_fails_that_field():
    bad = Bad("Mars", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "not allowed")
    got = _d(TWO_WAY, "EMEA", sf="EMEA", dd=bad)
    assert (got.kind, got.code) == (FAILED, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")
    # Salesforce changed too: Salesforce wins and the bad value is replaced
    assert _d(TWO_WAY, "EMEA", sf="AMER", dd=bad).kind == TO_DOTDIGITAL


def test_a_field_salesforce_does_not_let_update_is_skipped():
    got = decide(D2S, has_base=True, base="A", sf="A", dd="B", required=False, updateable=False)
    assert got.kind == SKIPPED and got.code == updates.NOT_UPDATEABLE


def test_unknown_direction_is_a_bug():
    with pytest.raises(ValueError, match="direction"):
        _d("sideways", "A", sf="B", dd="C")


def _info(name: str, kind: str, **kw) -> FieldInfo:
    return FieldInfo(
        name=name,
        label=name,
        type=kind,
        nillable=kw.pop("nillable", True),
        createable=True,
        defaulted_on_create=False,
        **kw,
    )


REGION = _info(
    "Region__c",
    "picklist",
    restricted_picklist=True,
    picklist_values=(
        PicklistValue("EMEA", "Europe", True, False),
        PicklistValue("AMER", "Americas", True, False),
    ),
)
RULES = (
    FieldRule("NumberOfEmployees", "EMPLOYEES", TWO_WAY, _info("NumberOfEmployees", "int"), False, "Numeric"),
    FieldRule("Score__c", "SCORE", TWO_WAY, _info("Score__c", "double"), False, "String"),
    FieldRule("Birthday__c", "BIRTHDAY", TWO_WAY, _info("Birthday__c", "date"), False, "Date"),
    FieldRule("Opted__c", "OPTED", TWO_WAY, _info("Opted__c", "boolean"), False, "Boolean"),
    FieldRule("Region__c", "REGION", D2S, REGION, True, "String"),
    FieldRule("Company", "COMPANY", TWO_WAY, _info("Company", "string", length=255), True, "String"),
    FieldRule("PostalCode", "POSTCODE", S2D, _info("PostalCode", "string", length=20), False, "String"),
)  # fmt: skip


def test_values_are_compared_after_conversion_so_spellings_are_no_change():
    base = {"EMPLOYEES": 1, "SCORE": 1.5, "BIRTHDAY": "2024-03-01", "OPTED": True}
    sf = {"NumberOfEmployees": 1, "Score__c": 1.5, "Birthday__c": "2024-03-01", "Opted__c": True}
    dd = {"EMPLOYEES": 1.0, "SCORE": "1.50", "BIRTHDAY": "2024-03-01T00:00:00", "OPTED": "yes"}
    plan = plan_link(RULES[:4], base, sf, dd)
    assert not plan.writes and not plan.notes and plan.agreed == {}


def test_a_picklist_label_is_its_value_and_an_unknown_value_fails_that_field():
    base = {"REGION": "EMEA"}
    assert not plan_link(RULES[4:5], base, {"Region__c": "EMEA"}, {"REGION": "europe"}).writes
    plan = plan_link(RULES[4:5], base, {"Region__c": "EMEA"}, {"REGION": "Americas"})
    assert plan.to_salesforce == {"Region__c": "AMER"}
    plan = plan_link(RULES[4:5], base, {"Region__c": "EMEA"}, {"REGION": "Mars"})
    assert not plan.writes
    [note] = plan.notes
    assert (note.kind, note.code, note.dotdigital) == (
        "update_failed",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "Mars",
    )


def test_plan_writes_only_changed_fields_and_moves_bases_per_side():
    base = {"COMPANY": "Old Co", "POSTCODE": "N1", "SCORE": 2}
    sf = {"Company": "Old Co", "PostalCode": "N1 9GU", "Score__c": 3.0}
    dd = {"COMPANY": "New Co", "POSTCODE": "N1", "SCORE": "4"}
    plan = plan_link((RULES[1], RULES[5], RULES[6]), base, sf, dd)
    assert plan.to_salesforce == {"Company": "New Co"}
    assert plan.to_dotdigital == {"POSTCODE": "N1 9GU", "SCORE": "3"}  # SCORE: Salesforce won
    [conflict] = plan.notes
    assert (conflict.kind, conflict.field, conflict.winner) == (
        "conflict",
        "Score__c",
        "salesforce",
    )
    assert (conflict.salesforce, conflict.dotdigital) == (3.0, 4)
    assert plan.settled(base, sf_ok=True, dd_ok=False) == {**base, "COMPANY": "New Co"}
    assert plan.settled(base, sf_ok=True, dd_ok=True) == {
        "COMPANY": "New Co",
        "POSTCODE": "N1 9GU",
        "SCORE": 3.0,
    }


def test_required_company_cleared_in_dotdigital_is_skipped_with_the_reason():
    plan = plan_link(RULES[5:6], {"COMPANY": "Acme"}, {"Company": "Acme"}, {"COMPANY": " "})
    assert not plan.writes
    [note] = plan.notes
    assert (note.kind, note.field, note.code) == ("skipped", "Company", updates.REQUIRED_BLANK)


def test_a_mapped_field_gone_from_salesforce_fails_instead_of_writing():
    rule = FieldRule("Gone__c", "GONE", TWO_WAY, None)
    plan = plan_link((rule,), {"GONE": "a"}, {}, {"GONE": "b"})
    assert not plan.writes and plan.notes[0].code == updates.INVALID_FIELD


@pytest.mark.parametrize(
    ("value", "dd_type", "wire"),
    [
        (3, "Numeric", 3),
        ("42", "Numeric", 42),
        (2.0, "String", "2"),
        (True, "String", "true"),
        (False, "Boolean", False),
        ("2024-03-01", "Date", "2024-03-01T00:00:00"),
        ("2024-03-01T10:00:00.000Z", "Date", "2024-03-01T10:00:00.000Z"),
        (None, "String", None),
    ],
)
def test_values_written_to_dotdigital_take_the_datafield_type(value, dd_type, wire):
    assert updates.to_dotdigital(value, dd_type) == wire


@given(
    st.one_of(
        st.integers(-(10**9), 10**9),
        st.floats(allow_nan=False, allow_infinity=False, width=32),
        st.booleans(),
        st.dates(date(1700, 1, 1), date(4000, 12, 31)).map(lambda d: d.isoformat()),
    ),
    st.sampled_from(["String", "Numeric", "Boolean", "Date"]),
)
def test_a_value_written_to_dotdigital_reads_back_as_no_change(value, dd_type):
    """Whatever Salesforce holds, once written to the datafield and read back it compares equal
    to the Salesforce value: a write never bounces back as a change."""
    kind = {int: "double", float: "double", bool: "boolean"}.get(type(value), "date")
    if (dd_type == "Boolean") != (kind == "boolean") or (dd_type == "Numeric" and kind == "date"):
        return  # a mapping plan refuses these type pairs
    info = _info("F", kind)
    sf = updates.canonical_salesforce(value, info)
    wire = updates.to_dotdigital(sf, dd_type)
    assert updates.same(updates.canonical(wire, info), sf)


def _long_way(rules, base, salesforce, dotdigital):
    """plan_link spelled out field by field with `decide` (README "Field updates"): what the
    plan must hold whatever shortcut plan_link takes when both sides hold the same value."""
    agreed, to_sf, to_dd, notes = {}, {}, {}, []
    for rule in rules:
        sf = updates.canonical_salesforce(salesforce.get(rule.salesforce), rule.info)
        dd = updates.canonical(dotdigital.get(rule.datafield), rule.info)
        d = decide(
            rule.direction,
            has_base=rule.datafield in base,
            base=base.get(rule.datafield),
            sf=sf,
            dd=dd,
            required=rule.required,
            updateable=rule.updateable,
        )
        if d.kind == AGREE:
            agreed[rule.datafield] = d.value
        elif d.kind == TO_SALESFORCE:
            to_sf[rule.salesforce] = d.value
        elif d.kind == TO_DOTDIGITAL:
            to_dd[rule.datafield] = updates.to_dotdigital(d.value, rule.dd_type)
        if d.conflict or d.kind in (SKIPPED, FAILED):
            notes.append((rule.salesforce, d.code))
    return agreed, to_sf, to_dd, notes


RAW = st.sampled_from(
    [None, "", " ", "EMEA", "europe", "Mars", "Acme", "1", "1.0", "yes", 1, 1.0, 1.5, True,
     False, 0, "2024-03-01", "2024-03-01T00:00:00", "x" * 300, "a\x01b", float("nan")]
)  # fmt: skip


@given(st.lists(st.tuples(RAW, RAW, RAW, st.booleans(), st.booleans()), min_size=7, max_size=7))
def test_a_pair_holding_the_same_raw_value_plans_as_field_by_field(values):
    """Both sides holding one raw value (a Lead read back as it was written) is planned with one
    conversion, not two: the plan is the field-by-field one, also where the value does not
    convert (a picklist value Salesforce still holds, a text too long), is blank or is NaN."""
    base, sf, dd = {}, {}, {}
    for rule, (a, b, c, same_value, has_base) in zip(RULES, values, strict=True):
        sf[rule.salesforce] = a
        dd[rule.datafield] = a if same_value else b
        if has_base:
            base[rule.datafield] = updates.canonical_salesforce(c, rule.info)
    plan = plan_link(RULES, base, sf, dd)
    got = (
        plan.agreed,
        plan.to_salesforce,
        plan.to_dotdigital,
        [(n.field, n.code) for n in plan.notes],
    )
    assert repr(got) == repr(_long_way(RULES, base, sf, dd))  # repr: NaN, 1 vs 1.0 vs True
