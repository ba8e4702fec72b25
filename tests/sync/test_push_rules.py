"""The push's pure rules (sync/pushmap.py): what a Campaign member row means for its book."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leadsync.state.model import PushEntry
from leadsync.sync import pushmap
from leadsync.sync.mapping import Row

RULES = pushmap.PushRules.of(
    account="uk",
    book_id=7,
    book="Invitees",
    campaign_id="701000000000001AAA",
    campaign="Customer Day",
    statuses=["Sent"],
    lead_rows=[
        Row("FirstName", "FIRSTNAME", "two-way"),
        Row("LastName", "LASTNAME", "dotdigital-to-salesforce"),  # never pushed
        Row("AnnualRevenue", "REVENUE", "salesforce-to-dotdigital"),
    ],
    contact_rows=[Row("Birthdate", "BIRTHDAY", "salesforce-to-dotdigital")],
    datafield_types={"FIRSTNAME": "String", "REVENUE": "Numeric", "BIRTHDAY": "Date"},
    clear=True,
)


def row(**over):
    base = {
        "Id": "00v1",
        "Status": "Sent",
        "LeadId": "00Q1",
        "ContactId": None,
        "IsDeleted": False,
        "SystemModstamp": "2026-11-29T10:00:00.000+0000",
        "Lead": {
            "Email": " Ann@Example.COM ",
            "SystemModstamp": "2026-11-29T11:00:00.000+0000",
            "FirstName": "Ann",
            "LastName": "Lee",
            "AnnualRevenue": 1200.0,
        },
        "Contact": None,
    }
    base.update(over)
    return base


def test_a_lead_member_is_read_with_its_rows_towards_dotdigital():
    want = pushmap.wanted(RULES, row())
    assert (want.person_type, want.person_id, want.email) == ("Lead", "00Q1", "ann@example.com")
    assert want.values == {"FIRSTNAME": "Ann", "REVENUE": 1200}  # LastName: the other way
    assert want.stamp == datetime(2026, 11, 29, 11, tzinfo=UTC)
    assert want.leaving is None and want.problem is None


def test_the_contact_of_a_converted_lead_wins_and_dates_are_dotdigital_dates():
    contact = {"Email": "ann@example.com", "Birthdate": "1990-05-17", "SystemModstamp": None}
    want = pushmap.wanted(RULES, row(ContactId="0031", Contact=contact))
    assert (want.person_type, want.person_id) == ("Contact", "0031")
    assert want.values == {"BIRTHDAY": "1990-05-17T00:00:00"}


@pytest.mark.parametrize(
    ("over", "leaving", "problem"),
    [
        ({"IsDeleted": True}, pushmap.LEFT_CAMPAIGN, None),
        ({"Status": "Responded"}, pushmap.STATUS_FILTERED, None),
        ({"Lead": None}, pushmap.LEFT_CAMPAIGN, None),  # the person is gone
        ({"Lead": {"Email": None, "FirstName": "X"}}, None, pushmap.NO_EMAIL),
        ({"Lead": {"Email": "a@x.com", "AnnualRevenue": "lots"}}, None, "INVALID_VALUE"),
    ],
)
def test_who_leaves_and_who_cannot_be_pushed(over, leaving, problem):
    want = pushmap.wanted(RULES, row(**over))
    assert want.leaving == leaving
    assert (want.problem[0] if want.problem else None) == problem


def test_empty_salesforce_values_are_not_sent():
    want = pushmap.wanted(RULES, row(Lead={"Email": "a@x.com", "FirstName": "  "}))
    assert want.values == {}


def decide(want, old):
    return pushmap.decide(RULES, want, old, run_id="r2", now="t")


def pushed(want, **over) -> PushEntry:
    entry = PushEntry(
        "uk", 7, want.member_id, want.email, "pushed", "00Q1", "Lead", RULES.campaign_id, 55,
        data_hash=want.data_hash, values=dict(want.values),
    )  # fmt: skip
    for k, v in over.items():
        setattr(entry, k, v)
    return entry


def test_a_member_is_sent_again_only_when_it_changed():
    want = pushmap.wanted(RULES, row())
    new = decide(want, None)
    assert (new.kind, [e.state for e in new.store]) == ("added", ["pending"])
    assert decide(want, pushed(want)).kind == "unchanged"
    changed = pushmap.wanted(RULES, row(Lead={**row()["Lead"], "FirstName": "Anne"}))
    again = decide(changed, pushed(want))
    assert (again.kind, again.store[0].state, again.store[0].contact_id) == (
        "updated",
        "pending",
        55,
    )
    failed = decide(want, pushed(want, state="failed"))
    assert failed.kind == "unchanged"  # a refused member is retried when its data changes


def test_an_email_change_makes_the_old_address_leave_the_book():
    want = pushmap.wanted(RULES, row())
    moved = pushmap.wanted(RULES, row(Lead={**row()["Lead"], "Email": "ann@new.example"}))
    d = decide(moved, pushed(want))
    gone, entry = d.store
    assert (gone.member_id, gone.email, gone.state, gone.reason_code) == (
        "00v1|ann@example.com",
        "ann@example.com",
        "left",
        pushmap.EMAIL_CHANGED,
    )
    assert gone.contact_id == 55  # clearing can remove it without asking Dotdigital
    assert (entry.email, entry.state, entry.contact_id) == ("ann@new.example", "pending", None)


def test_a_pushed_member_who_leaves_is_recorded_left():
    want = pushmap.wanted(RULES, row())
    d = decide(pushmap.wanted(RULES, row(IsDeleted=True)), pushed(want))
    assert (d.kind, d.store[0].state, d.store[0].reason_code) == (
        "left",
        "left",
        pushmap.LEFT_CAMPAIGN,
    )
    assert decide(pushmap.wanted(RULES, row(IsDeleted=True)), None).kind == "ignored"


def test_member_query_is_incremental_with_a_datetime_literal_and_deleted_members():
    full = pushmap.member_query(RULES, None)
    assert "WHERE CampaignId = '701000000000001AAA'" in full and "SystemModstamp >" not in full
    assert "Lead.FirstName" in full and "Contact.Birthdate" in full and "Lead.LastName" not in full
    since = pushmap.member_query(RULES, datetime(2026, 11, 29, 10, 0, 0, tzinfo=UTC))
    assert (
        "AND (SystemModstamp > 2026-11-29T10:00:00Z OR Lead.SystemModstamp > 2026-11-29T10:00:00Z "
        "OR Contact.SystemModstamp > 2026-11-29T10:00:00Z OR IsDeleted = true)"
    ) in since


def test_the_fingerprint_changes_with_what_the_book_should_hold():
    same = pushmap.PushRules.of(
        account="uk", book_id=7, book="Invitees", campaign_id="701000000000001", campaign="x",
        statuses=["sent"], lead_rows=RULES.lead_rows, contact_rows=RULES.contact_rows,
        datafield_types={}, clear=True,
    )  # fmt: skip
    assert same.fingerprint() == RULES.fingerprint()  # 15/18-char id, status case
    other = pushmap.PushRules.of(
        account="uk", book_id=7, book="Invitees", campaign_id="701000000000001", campaign="x",
        statuses=["sent"], lead_rows=RULES.lead_rows, contact_rows=RULES.contact_rows,
        datafield_types={}, clear=False,
    )  # fmt: skip
    assert other.fingerprint() != RULES.fingerprint()
