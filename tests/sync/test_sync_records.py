"""`leadsync records --state ...`: end to end against the emulators, plus the pure parts.

The e2e test syncs a book whose members end in every state, then lists each state through the
CLI (a subprocess, not a terminal: plain aligned text, or --json) and checks that the command
read the state only: no request reached either emulator and the state file is byte-identical.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from leadsync.state.model import LedgerEntry
from leadsync.sync.records import (
    IN_DOUBT,
    RecordsError,
    Selection,
    record_of,
    select_books,
)
from leadsync.views.records import render_json, render_plain


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_records_lists_each_state_with_reasons_and_reads_only(workspace, kit) -> None:
    ws = workspace()
    ws.add_member("ada@example.com", kit.member("Ada", "Lovelace", "Engines"))
    ws.add_member("o'brien@example.com", kit.member("Siobhán", "Ó Briain", "Ceol", "APAC"))
    ws.add_member("bad@example.com", kit.member("Bad", "Value", "C", "Atlantis"))
    ws.add_member("linus@example.com", kit.member("Linus", "Chen", None))
    ws.add_member("GRACE@example.com", kit.member("Grace", "Hopper", "Navy", "AMER"))
    report = ws.sync(code=(4,))
    assert report["totals"]["created"] == 2
    leads = ws.leads()
    grace_id = leads["grace@example.com"]["Id"]

    ws.emu.reset_log()
    before = _digest(ws.state_db)

    failed = json.loads(ws.run("records", "--state", "failed", "--json", check=(0,)).stdout)
    assert [r["email"] for r in failed] == ["bad@example.com"]
    row = failed[0]
    assert row["account"] == "uk" and row["book"] == "Webinar signups" and row["state"] == "failed"
    assert row["reason_code"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert row["fields"] == ["Region__c"] and "Atlantis" in row["reason"]
    assert row["last_run"] == report["run_id"] and row["contact_id"] > 0
    assert row["in_doubt"] is False

    excluded = json.loads(ws.run("records", "--state", "excluded", "--json", check=(0,)).stdout)
    assert [(r["email"], r["matched_id"]) for r in excluded] == [("grace@example.com", grace_id)]

    created = json.loads(ws.run("records", "--state", "created", "--json", check=(0,)).stdout)
    assert {r["email"]: r["lead_id"] for r in created} == {
        "ada@example.com": leads["ada@example.com"]["Id"],
        "o'brien@example.com": leads["o'brien@example.com"]["Id"],
    }
    assert all(r["campaign_member_id"] for r in created)
    assert json.loads(ws.run("records", "--state", "pending", "--json", check=(0,)).stdout) == []

    # plain text (not a terminal): a header, one aligned line per record, a summary line
    text = ws.run("records", "--state", "skipped", check=(0,)).stdout
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["account", "address"] and "reason code" in lines[0]
    assert "linus@example.com" in lines[1] and "MISSING_FIELDS" in lines[1]
    assert "Company" in lines[1] and report["run_id"] in lines[1]
    assert lines[0].index("email") == lines[1].index("linus@example.com")  # aligned
    assert lines[-1] == "1 skipped record"

    limited = ws.run("records", "--state", "created", "--limit", "1", check=(0,)).stdout
    assert len(limited.splitlines()) == 3  # header, one record, summary
    assert limited.splitlines()[-1] == "2 created records, showing the first 1 (--limit)"
    assert ws.run("records", "--state", "failed", "--account", "uk", "--book", "Webinar signups",
                  "--json", check=(0,)).stdout == json.dumps(failed, indent=2, ensure_ascii=False) + "\n"  # fmt: skip
    none = ws.run("records", "--state", "pending", "--book", "Webinar signups", check=(0,))
    assert none.stdout == "no pending records\n"

    # FORCE_COLOR asks for the terminal table, colours included, even into a pipe or a log
    ws.env["FORCE_COLOR"] = "1"
    try:
        coloured = ws.run("records", "--state", "failed", check=(0,)).stdout
    finally:
        del ws.env["FORCE_COLOR"]
    assert "\x1b[" in coloured and "failed records: uk / Webinar signups" in coloured
    assert "bad@" in coloured and coloured.endswith("\n1 failed record\n")  # folded to 80 columns

    # a typo is an error naming what exists, not an empty list
    typo = ws.run("records", "--state", "failed", "--book", "Webinar signup", check=(1,))
    assert "no address book named 'Webinar signup'" in typo.stderr
    assert "did you mean 'Webinar signups'" in typo.stderr
    unapplied = ws.run("records", "--state", "failed", "--book", "Big list", check=(1,))
    assert "(known: Webinar signups)" in unapplied.stderr  # in Dotdigital, not in the integration
    acct = ws.run("records", "--state", "failed", "--account", "ku", check=(1,))
    assert "no account named 'ku'" in acct.stderr
    bad_state = ws.run("records", "--state", "lost", check=(1,))
    assert "lost" in bad_state.stderr and "Traceback" not in bad_state.stderr

    # read only: no network, nothing written
    for service in ("dotdigital", "salesforce"):
        assert ws.emu.requests_log(service)["requests"] == [], service
    assert _digest(ws.state_db) == before


def test_records_without_a_state_says_so_and_creates_nothing(workspace) -> None:
    ws = workspace(apply=False)
    proc = ws.run("records", "--state", "failed", check=(0,))
    assert proc.stdout == "no failed records\n"
    assert ws.run("records", "--state", "failed", "--json", check=(0,)).stdout == "[]\n"
    assert not ws.state_db.exists()


# --- pure parts -----------------------------------------------------------------------------


def _entry(contact_id: int, **more) -> LedgerEntry:
    values = {"account": "uk", "book_id": 7, "email": f"m{contact_id}@example.com"}
    values.update(more)
    return LedgerEntry(contact_id=contact_id, **values)


def test_an_in_doubt_pending_record_says_why() -> None:
    record = record_of(_entry(1, state="pending", attempt="coll:run:abcd"), "Book")
    assert record.in_doubt and record.reason == IN_DOUBT
    plain = record_of(_entry(2, state="pending"), "Book")
    assert not plain.in_doubt and plain.reason is None


def test_plain_rendering_is_aligned_and_one_line_per_record() -> None:
    records = [
        record_of(
            _entry(
                5,
                state="failed",
                reason_code="X",
                reason="line one\nline two",
                fields=("A", "B"),
            ),
            "A book",
        ),
        record_of(_entry(123456, state="failed", reason_code="LONGER_CODE", reason="r"), "B"),
    ]
    text = render_plain(Selection("failed", records, total=3, limit=2))
    lines = text.splitlines()
    assert len(lines) == 4
    assert lines[1].endswith("line one line two") and "A, B" in lines[1]
    col = lines[0].index("reason code")
    assert lines[1][col:].startswith("X ") and lines[2][col:].startswith("LONGER_CODE")
    assert lines[-1] == "3 failed records, showing the first 2 (--limit)"
    assert json.loads(render_json(Selection("failed", records, 3, 2)))[0]["fields"] == ["A", "B"]


def test_books_are_chosen_by_name_or_id_and_unknown_names_are_errors() -> None:
    counts = {("uk", 1, "failed"): 2, ("uk", 2, "failed"): 1, ("us", 9, "created"): 4}
    names = {("uk", 1): "Webinar", ("uk", 2): "Trade show", ("us", 9): "Webinar"}
    chosen = select_books(counts, names, state="failed", book="Webinar")
    assert [(r.account, r.book_id, n) for r, n in chosen] == [("uk", 1, 2), ("us", 9, 0)]
    assert [r.book_id for r, _ in select_books(counts, names, state="failed", book="2")] == [2]
    assert [r.book_id for r, _ in select_books(counts, {}, state="failed", account="uk")] == [1, 2]
    with pytest.raises(RecordsError, match="did you mean 'Trade show'"):
        select_books(counts, names, state="failed", book="Trade shows")
    with pytest.raises(RecordsError, match="known: uk, us"):
        select_books(counts, names, state="failed", account="zz")
