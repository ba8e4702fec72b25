"""Link transitions (sync/links.py), called directly. Pure: no emulator, no state."""

from __future__ import annotations

from leadsync.state.model import LedgerEntry
from leadsync.sync import links
from leadsync.sync.updates import FieldNote, LinkPlan


def _entry(state: str, **over) -> LedgerEntry:
    return LedgerEntry("uk", 7, 1001, "ada@example.com", state, **over)


def test_links_are_made_from_created_and_matched_people_only():
    made = links.from_entry(_entry("created", lead_id="00Q8d0000000001AAA"), "r1", "now")
    assert made is not None
    assert (made.sobject, made.record_id, made.outcome, made.sf_seen) == (
        "Lead", "00Q8d0000000001AAA", "pending", None,
    )  # fmt: skip
    contact = links.from_entry(_entry("excluded", matched_id="0038d0000000002AAA"), "r1", "now")
    assert contact is not None and contact.sobject == "Contact"
    assert links.from_entry(_entry("skipped"), "r1", "now") is None
    assert links.from_entry(_entry("excluded", matched_id="0018d0000000002AAA"), "r", "n") is None


def test_a_converted_lead_moves_the_link_and_keeps_the_base():
    link = links.from_entry(_entry("created", lead_id="00Q8d0000000001AAA"), "r1", "now")
    assert link is not None
    link.base = {"COMPANY": "Engines"}
    link.sf_seen = {"Company": "Engines"}
    link.base = {"COMPANY": "Engines", "FIRSTNAME": "Ada"}
    moved = links.converted(link, "0038d0000000009AAA", "r2", "later", {"FIRSTNAME"})
    assert (moved.sobject, moved.record_id, moved.sf_seen, moved.base) == (
        "Contact", "0038d0000000009AAA", None, {"FIRSTNAME": "Ada"},
    )  # fmt: skip
    assert moved.detail["converted_from"] == "00Q8d0000000001AAA"
    gone = links.unlinked(moved, "Contact deleted", "r3", "then")
    assert (gone.state, gone.outcome) == ("unlinked", None)


def test_evaluated_moves_bases_and_seen_values_only_for_sides_that_wrote():
    link = links.from_entry(_entry("created", lead_id="00Q8d0000000001AAA"), "r1", "now")
    assert link is not None
    link.base = {"COMPANY": "A", "FIRSTNAME": "Ada"}
    plan = LinkPlan(
        to_salesforce={"Company": "B"},
        to_dotdigital={"FIRSTNAME": "Augusta"},
        sf_base={"COMPANY": "B"},
        dd_base={"FIRSTNAME": "Augusta"},
    )
    after = links.evaluated(
        link, plan, sf_values={"Company": "A", "FirstName": "Augusta"},
        dd_values={"COMPANY": "B", "FIRSTNAME": "Ada"}, sf_ok=True, dd_ok=False, notes=[],
        run_id="r2", now="later", pending_why="Dotdigital import failed for now",
    )  # fmt: skip
    assert after.base == {"COMPANY": "B", "FIRSTNAME": "Ada"}
    assert after.sf_seen == {"Company": "B", "FirstName": "Augusta"}
    assert after.dd_seen == {"COMPANY": "B", "FIRSTNAME": "Ada"}  # the write did not happen
    assert after.outcome == "pending"
    note = FieldNote("conflict", "Company", "COMPANY", "B", "C", winner="salesforce")
    calm = links.evaluated(
        link, LinkPlan(), sf_values={}, dd_values={}, sf_ok=True, dd_ok=True, notes=[note],
        run_id="r3", now="x",
    )  # fmt: skip
    assert calm.outcome == "conflict" and calm.detail["fields"][0]["winner"] == "salesforce"
    assert links.evaluated(
        link, LinkPlan(), sf_values={}, dd_values={}, sf_ok=True, dd_ok=True, notes=[],
        run_id="r4", now="y",
    ).outcome is None  # fmt: skip


def test_an_email_change_is_the_same_person():
    link = links.from_entry(_entry("created", lead_id="00Q8d0000000001AAA"), "r1", "now")
    assert link is not None
    moved = links.with_email(link, " Ada.King@Example.com ")
    assert (moved.email, moved.contact_id, moved.record_id) == (
        "ada.king@example.com", 1001, "00Q8d0000000001AAA",
    )  # fmt: skip


def test_a_refused_value_is_not_sent_again_until_the_data_changes():
    link = links.from_entry(_entry("created", lead_id="00Q8d0000000001AAA"), "r1", "now")
    assert link is not None
    refused = FieldNote(
        "update_failed", "Title", "TITLE", None, "CEO!!", "dotdigital", "refused", "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    )  # fmt: skip
    link.outcome, link.detail = "update_failed", {"fields": [refused.as_dict()]}
    again = LinkPlan(to_salesforce={"Title": "CEO!!"}, sf_base={"TITLE": "CEO!!"})
    plan, still = links.without_repeated_failures(link, again)
    assert (plan.to_salesforce, plan.sf_base, [n.field for n in still]) == ({}, {}, ["Title"])
    changed = LinkPlan(to_salesforce={"Title": "CEO"}, sf_base={"TITLE": "CEO"})
    plan, still = links.without_repeated_failures(link, changed)
    assert (plan.to_salesforce, still) == ({"Title": "CEO"}, [])
    # a later read with nothing new keeps the refusal on record; a real change clears it
    kept = links.evaluated(
        link, LinkPlan(), sf_values={}, dd_values={}, sf_ok=True, dd_ok=True, notes=[],
        run_id="r5", now="z",
    )  # fmt: skip
    assert kept.outcome == "update_failed"
    cleared = links.evaluated(
        link, changed, sf_values={}, dd_values={}, sf_ok=True, dd_ok=True, notes=[],
        run_id="r6", now="z",
    )  # fmt: skip
    assert cleared.outcome is None and cleared.base["TITLE"] == "CEO"


def test_a_lead_read_converted_names_its_contact_in_rest_and_bulk_form():
    """One rule for both reads (changes by SystemModstamp, records by Id): REST gives the
    checkbox as a boolean, a Bulk API 2.0 query's CSV as text."""
    contact = "0038d0000000009AAA"
    assert links.converted_into("Lead", {"IsConverted": True, "ConvertedContactId": contact}) == (
        contact
    )
    assert links.converted_into("Lead", {"IsConverted": "true", "ConvertedContactId": contact}) == (
        contact
    )
    assert (
        links.converted_into("Lead", {"IsConverted": "false", "ConvertedContactId": contact})
        is None
    )
    assert links.converted_into("Lead", {"IsConverted": True, "ConvertedContactId": ""}) is None
    assert (
        links.converted_into("Contact", {"IsConverted": True, "ConvertedContactId": contact})
        is None
    )


def test_a_record_read_deleted_or_merged_says_why_it_unlinks():
    link = links.from_entry(_entry("created", lead_id="00Q8d0000000001AAA"), "r1", "now")
    assert link is not None
    assert links.deleted_why(link, {"IsDeleted": False}) is None
    assert links.deleted_why(link, {"IsDeleted": "true", "MasterRecordId": ""}) == (
        "Lead 00Q8d0000000001AAA was deleted in Salesforce"
    )
    assert links.deleted_why(link, {"IsDeleted": True, "MasterRecordId": "00Q8d0000000002AAA"}) == (
        "Lead 00Q8d0000000001AAA was merged into 00Q8d0000000002AAA in Salesforce"
    )
