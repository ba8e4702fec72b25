"""Unit tests of the pure ledger transitions, classification and report arithmetic."""

from __future__ import annotations

from dataclasses import replace

import pytest

from leadsync.dotdigital.model import Contact
from leadsync.salesforce.model import FieldInfo, SaveError, SaveResult
from leadsync.state.model import LedgerEntry
from leadsync.sync import ledger
from leadsync.sync.classify import existing_matches
from leadsync.sync.mapping import LeadMapping, Row
from leadsync.sync.report import (
    BookTally,
    ReportInvariantError,
    error_classes,
    exit_code,
    final_status,
    totals,
)


def _f(name: str, **kw) -> FieldInfo:
    return FieldInfo(name, name, kw.pop("type", "string"), True, True, False, **kw)


MAPPING = LeadMapping(
    rows=(
        Row("FirstName", "FIRSTNAME", "two-way"),
        Row("LastName", "LASTNAME", "two-way"),
        Row("Company", "COMPANY", "two-way"),
    ),
    fields={n: _f(n, length=80) for n in ("FirstName", "LastName", "Company", "Email")},
    lead_status="New",
)
GOOD = {"FIRSTNAME": "Ada", "LASTNAME": "Lovelace", "COMPANY": "Engines"}


def contact(cid: int = 1, email: str = "Ada@Example.com", **values) -> Contact:
    return Contact(id=cid, email=email, datafields={**GOOD, **values}, status="Subscribed")


def evaluate(existing: LedgerEntry | None, c: Contact, run: str = "r1") -> LedgerEntry | None:
    return ledger.evaluate(
        existing, account="uk", book_id=7, contact=c, mapping=MAPPING, run_id=run, now="t"
    )


def test_new_member_with_all_values_is_pending_with_its_values() -> None:
    entry = evaluate(None, contact())
    assert entry is not None and entry.state == "pending"
    assert entry.email == "ada@example.com" and entry.first_run == "r1" and entry.last_run == "r1"
    assert ledger.record_for(entry, MAPPING) == {
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "Company": "Engines",
        "Email": "Ada@Example.com",
        "Status": "New",
    }


def test_missing_company_is_skipped_then_re_evaluated_only_when_data_changes() -> None:
    skipped = evaluate(None, contact(COMPANY=""))
    assert skipped.state == "skipped" and skipped.reason_code == "MISSING_FIELDS"
    assert skipped.fields == ("Company",) and "COMPANY" in skipped.reason
    assert evaluate(skipped, contact(COMPANY=""), "r2") is None  # unchanged: no retry storm
    later = evaluate(skipped, contact(COMPANY="Filled Ltd"), "r2")
    assert later.state == "pending" and later.reason_code is None and later.fields == ()


@pytest.mark.parametrize("state", ["baseline", "created", "excluded"])
def test_terminal_entries_are_never_evaluated_again(state) -> None:
    entry = replace(evaluate(None, contact()), state=state)
    assert evaluate(entry, contact(COMPANY="Changed"), "r2") is None


def test_in_doubt_entries_are_left_to_the_resolver() -> None:
    entry = replace(evaluate(None, contact()), attempt="coll:r1:1")
    assert evaluate(entry, contact(COMPANY="Changed"), "r2") is None


def test_member_from_salesforce_is_excluded() -> None:
    entry = replace(evaluate(None, contact()), origin="salesforce", state="pending")
    out = evaluate(entry, contact(), "r2")
    assert out.state == "excluded" and out.reason_code == "FROM_SALESFORCE"


def test_save_results_map_to_ledger_states() -> None:
    pending = evaluate(None, contact())
    ok = ledger.after_save(pending, SaveResult(True, "00Q1"), "701X", "r1", "t")
    assert (ok.state, ok.lead_id, ok.campaign_id, ok.attempt) == ("created", "00Q1", "701X", None)
    dup = ledger.after_save(
        pending,
        SaveResult(False, None, (SaveError("DUPLICATES_DETECTED", "Use one?", (), ("00QX",)),)),
        None,
        "r1",
        "t",
    )
    assert (dup.state, dup.matched_id) == ("excluded", "00QX")
    bad = ledger.after_save(
        pending,
        SaveResult(
            False, None, (SaveError("FIELD_CUSTOM_VALIDATION_EXCEPTION", "no", ("Company",)),)
        ),
        None,
        "r1",
        "t",
    )
    assert (bad.state, bad.reason_code, bad.fields) == (
        "failed",
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        ("Company",),
    )
    locked = ledger.after_save(
        pending,
        SaveResult(False, None, (SaveError("UNABLE_TO_LOCK_ROW", "locked"),)),
        None,
        "r1",
        "t",
    )
    assert locked.state == "pending" and "UNABLE_TO_LOCK_ROW" in locked.reason


def test_failed_member_retries_when_data_changes() -> None:
    pending = evaluate(None, contact())
    failed = ledger.after_save(
        pending, SaveResult(False, None, (SaveError("X", "no"),)), None, "r1", "t"
    )
    assert evaluate(failed, contact(), "r2") is None
    assert evaluate(failed, contact(LASTNAME="Byron"), "r2").state == "pending"


def test_attempt_marks_and_campaign_member_gating() -> None:
    pending = evaluate(None, contact())
    marked = ledger.with_attempt(pending, "coll:r1:1", "r1", "t")
    assert marked.attempt == "coll:r1:1" and marked.tries == 1
    done = ledger.created(marked, "00Q1", "701X", "r1", "t")
    assert ledger.needs_campaign_member(done, "701X|Sent")
    parked = ledger.campaign_member_failed(done, "X", "bad", "701X|Sent", "r1", "t")
    assert not ledger.needs_campaign_member(parked, "701X|Sent")
    assert ledger.needs_campaign_member(parked, "701X|Responded")
    member = ledger.campaign_member_added(parked, "00v1", "r1", "t")
    assert not ledger.needs_campaign_member(member, "701X|Responded")
    assert "campaign_error" not in member.extra


def test_who_joins_the_campaign_after_an_exclusion() -> None:
    """Existing Leads/Contacts join (as LeadId/ContactId) unless add_existing_to_campaign is
    false; leadsync's own Lead from another book always joins; a duplicate-rule match never."""
    join = ledger.joins_campaign
    assert join("EXISTING_CONTACT", "701X", True) == "701X"
    assert join("EXISTING_CONTACT", "701X", False) is None
    assert join("LEAD_FROM_OTHER_BOOK", "701X", False) == "701X"
    assert join("DUPLICATES_DETECTED", "701X", True) is None
    assert join("EXISTING_LEAD", None, True) is None
    pending = evaluate(None, contact())
    contact_match = ledger.excluded(pending, "0031", "EXISTING_CONTACT", "why", "r1", "t", "701X")
    assert ledger.member_ref(contact_match) == ("ContactId", "0031")
    assert ledger.member_kind(contact_match) == "existing"
    assert ledger.needs_campaign_member(contact_match, "701X|Sent")
    no_campaign = ledger.excluded(pending, "00Q1", "EXISTING_LEAD", "why", "r1", "t")
    assert not ledger.needs_campaign_member(no_campaign, "701X|Sent")
    created = ledger.created(pending, "00Q2", "701X", "r1", "t")
    assert (ledger.member_ref(created), ledger.member_kind(created)) == (("LeadId", "00Q2"), "new")


def test_existing_matches_prefers_contact_then_lowest_id_case_insensitive() -> None:
    leads = [{"Id": "00Q2", "Email": "A@x.com"}, {"Id": "00Q1", "Email": "a@X.com "}]
    contacts = [{"Id": "0039", "Email": "b@x.com"}, {"Id": "0031", "Email": "B@X.COM"}]
    found = existing_matches(leads, contacts)
    assert found["a@x.com"].id == "00Q1" and found["a@x.com"].code == "EXISTING_LEAD"
    assert found["b@x.com"].id == "0031" and found["b@x.com"].code == "EXISTING_CONTACT"
    both = existing_matches(
        [{"Id": "00Q1", "Email": "c@x.com"}], [{"Id": "0035", "Email": "c@x.com"}]
    )
    assert both["c@x.com"].sobject == "Contact"


def test_tally_adds_up_and_moves_between_outcomes() -> None:
    t = BookTally("uk", 7, "Book")
    t.move(None, "pending")
    t.move(None, "skipped", "MISSING_FIELDS")
    t.move("pending", "created")
    t.move(None, "excluded", "EXISTING_LEAD")
    t.move(None, "pending")
    t.move("pending", "failed", "X")
    row = t.as_dict()
    assert row["seen"] == 4
    assert (
        row["created"],
        row["skipped_missing_fields"],
        row["excluded_existing"],
        row["failed"],
    ) == (1, 1, 1, 1)
    assert row["pending"] == 0
    assert row["reasons"] == {"EXISTING_LEAD": 1, "MISSING_FIELDS": 1, "X": 1}
    assert totals([row, row])["seen"] == 8


def test_tally_refuses_counts_that_do_not_add_up() -> None:
    t = BookTally("uk", 7, "Book")
    t.move(None, "pending")
    t.seen += 1  # a member counted but never given an outcome
    with pytest.raises(ReportInvariantError):
        t.as_dict()


def test_exit_codes() -> None:
    clean = {"status": "done", "books": [], "totals": {"failed": 0, "skipped_missing_fields": 0}}
    assert exit_code(clean) == 0
    assert exit_code({**clean, "totals": {"failed": 1, "skipped_missing_fields": 0}}) == 4
    assert exit_code({**clean, "status": "stopped"}) == 3
    assert exit_code({**clean, "status": "incomplete"}) == 4
    assert exit_code({**clean, "status": "interrupted"}) == 0
    assert exit_code({**clean, "status": "error"}) == 1


def test_incomplete_only_when_a_done_run_left_records_pending_because_of_errors() -> None:
    error = [{"class": "HTTP 500", "count": 1}]
    assert final_status("done", error) == "incomplete"
    assert final_status("done", []) == "done"
    assert final_status("stopped", error) == "stopped"  # a limit: exit 3 stays
    assert final_status("interrupted", error) == "interrupted"


def test_error_classes_group_this_runs_pending_errors_with_a_sample() -> None:
    a, b = BookTally("uk", 1, "A"), BookTally("uk", 2, "B")
    http = {"class": "HTTP 500", "system": "Salesforce", "message": "boom"}
    lock = {"class": "UNABLE_TO_LOCK_ROW", "system": "Salesforce", "message": "locked"}
    b.note_error(30, "z@example.com", http)
    a.note_error(20, "y@example.com", http)
    a.note_error(10, "x@example.com", lock)
    a.note_error(11, "w@example.com", http)
    a.note_error(11, "w@example.com", None)  # created later in the run: no longer an error
    assert error_classes([b, a]) == [
        {
            "class": "HTTP 500",
            "system": "Salesforce",
            "count": 2,
            "sample": {
                "account": "uk",
                "book": "A",
                "contact_id": 20,
                "email": "y@example.com",
                "message": "boom",
            },
        },
        {
            "class": "UNABLE_TO_LOCK_ROW",
            "system": "Salesforce",
            "count": 1,
            "sample": {
                "account": "uk",
                "book": "A",
                "contact_id": 10,
                "email": "x@example.com",
                "message": "locked",
            },
        },
    ]


def test_a_transient_save_error_keeps_the_member_pending_with_its_last_error() -> None:
    pending = evaluate(None, contact())
    locked = ledger.after_save(
        pending,
        SaveResult(False, None, (SaveError("UNABLE_TO_LOCK_ROW", "busy"),)),
        None,
        "r1",
        "t",
    )
    assert locked.state == "pending"
    assert locked.extra["last_error"] == {
        "class": "UNABLE_TO_LOCK_ROW",
        "system": "Salesforce",
        "message": "UNABLE_TO_LOCK_ROW: busy",
        "run": "r1",
        "at": "t",
    }
    created = ledger.after_save(locked, SaveResult(True, "00Q1"), None, "r2", "t2")
    assert created.state == "created"
    assert ledger.back_to_pending(pending, "r1", "t").extra.get("last_error") is None


def test_evolve_copies_every_field_and_applies_changes_like_replace():
    from dataclasses import fields

    full = LedgerEntry(
        *(f"v-{f.name}" for f in fields(LedgerEntry)[:5]),
        attempt="bulkjob:750x",
        lead_id="00Q1",
        matched_id="003x",
        reason_code="R",
        reason="why",
        fields=("A", "B"),
        data_hash="h",
        campaign_id="701x",
        campaign_member_id="00v1",
        origin="salesforce",
        tries=3,
        first_run="r1",
        last_run="r2",
        updated_at="t",
        extra={"values": {"X": 1}},
        attempted_at="t0",
    )
    copy = ledger.evolve(full)
    assert copy == full and copy is not full and type(copy) is LedgerEntry
    changed = ledger.evolve(full, state="created", attempt=None, tries=4)
    assert changed == replace(full, state="created", attempt=None, tries=4)
    assert full.attempt == "bulkjob:750x"  # the original is untouched
    with pytest.raises(AttributeError):
        ledger.evolve(full, no_such_field=1)
