"""The first evaluation of the links a sync has just made (its new Leads): most Leads read back
as they were written, and the update step plans those with one conversion per field
(sync/updates.py `_agreed`); the members the Lead step has just read are handed to the update
step, which then asks Dotdigital only for those modified since that read started
(sync/update_handover.py). What Salesforce or Dotdigital changed in between must still be
planned field by field, as for any new link: Salesforce wins where the two differ (no base yet).
The hand-over needs every mapped datafield in the Lead step's read: with a
salesforce-to-dotdigital row (the default test mapping) the update step reads as before.

The changes are made while the emulator holds the update step's first Salesforce request (the
newest-stamp query that sets the Lead update mark on a first run): after the Lead step wrote and
the ingest read, before the update step reads anything. A change to a Lead made then is older
than that mark, so only the read-back of the new Leads can see it, as for a value a trigger or
a default sets on insert."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import pytest

WRITING = [  # every datafield mapped is one the Lead step reads
    ("FirstName", "FIRSTNAME", "two-way"),
    ("LastName", "LASTNAME", "dotdigital-to-salesforce"),
    ("Company", "COMPANY", "two-way"),
    ("Region__c", "REGION", "dotdigital-to-salesforce"),
]
NEWEST_STAMP = "ORDER BY SystemModstamp DESC LIMIT 1"


def _people(ws) -> None:
    ws.add_member("ada@example.com", {"FIRSTNAME": "Ada", "LASTNAME": "Lovelace", "COMPANY": "Engines", "REGION": "EMEA"})  # fmt: skip
    ws.add_member("alan@example.com", {"FIRSTNAME": "Alan", "LASTNAME": "Turing", "COMPANY": "Bletchley", "REGION": "AMER"})  # fmt: skip
    ws.add_member("mary@example.com", {"FIRSTNAME": "Mary", "LASTNAME": "Somerville", "COMPANY": "Navy", "REGION": "AMER"})  # fmt: skip


def _contact(ws, email: str) -> dict[str, Any]:
    r = ws.emu.dd_session("uk").get(f"{ws.emu.dd_endpoint}/contacts/v3/email/{email}")
    assert r.status_code == 200, r.text
    return r.json()["dataFields"]


def _lead(ws, email: str) -> dict[str, Any]:
    return ws.leads("Id, Email, FirstName, LastName, Company")[email]


def _sync_with_changes_before_the_update_step(ws, kit) -> dict[str, Any]:
    hold = ws.emu.inject_fault(
        "salesforce", method="GET", query_regex=NEWEST_STAMP, delay_ms=600_000, times=1
    )
    proc = ws.popen("sync", "-c", "leadsync.yaml", "--json")
    try:
        kit.until(lambda: kit.fault_taken(ws.emu, "salesforce", hold), "the held query", (proc,))
        sf = ws.emu.salesforce()
        sf.Lead.update(_lead(ws, "ada@example.com")["Id"], {"Company": "Engines (trigger)"})
        r = ws.emu.dd_session("uk").patch(
            f"{ws.emu.dd_endpoint}/contacts/v3/email/alan@example.com",
            json={"dataFields": {"FIRSTNAME": "Al", "LASTNAME": "Turing-Smith"}},
        )
        assert r.status_code == 200, r.text
    finally:
        ws.emu.clear_faults()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out)


def _book_reads(ws) -> list[dict[str, list[str]]]:
    """The query of each read of the book with data fields, in order (Lead step, update step)."""
    log = ws.emu.requests_log("dotdigital")["requests"]
    return [
        parse_qs(r["query"])
        for r in log
        if r["method"] == "GET" and r["path"] == "/contacts/v3" and "data-fields" in r["query"]
    ]


def _watermark(ws) -> str:
    [(value,)] = ws.state_rows("SELECT value FROM watermarks")
    return value


BOOK = {"name": "Webinar signups", "create_leads": True, "campaign": "Spring Webinar 2026"}


@pytest.mark.parametrize("mapping", ["writing", "backfill", "default"])
def test_values_changed_between_the_lead_write_and_the_update_step_are_planned_field_by_field(
    workspace, kit, mapping
) -> None:
    """`writing`: apply read the book (a watermark), so the Lead step reads new members and the
    update step's first read is covered by the links being all new; `backfill`: the Lead step
    reads every member; `default`: a salesforce-to-dotdigital row, so no hand-over."""
    if mapping == "default":
        ws = workspace()
    else:
        books = [{**BOOK, "backfill": True}] if mapping == "backfill" else None
        ws = workspace(config=kit.config_yaml(mapping=WRITING, books=books))
    _people(ws)
    ws.emu.reset_log()

    report = _sync_with_changes_before_the_update_step(ws, kit)

    totals = report["totals"]
    assert totals["created"] == (4 if mapping == "backfill" else 3)  # + the seed's member
    # Ada: Salesforce changed Company after the insert -> Dotdigital gets it (no base yet).
    # Alan: FirstName (two-way) changed in Dotdigital -> Salesforce's value wins, no base yet;
    # LastName (dotdigital-to-salesforce) -> Salesforce gets Dotdigital's. Mary: as written.
    assert (totals["updated_in_dotdigital"], totals["updated_in_salesforce"]) == (2, 1)
    assert totals["conflicts"] == 0
    assert _contact(ws, "ada@example.com")["COMPANY"] == "Engines (trigger)"
    assert _lead(ws, "ada@example.com")["Company"] == "Engines (trigger)"
    assert _contact(ws, "alan@example.com")["FIRSTNAME"] == "Alan"
    assert (
        _lead(ws, "alan@example.com")["FirstName"],
        _lead(ws, "alan@example.com")["LastName"],
    ) == (
        "Alan",
        "Turing-Smith",
    )
    assert _contact(ws, "mary@example.com")["COMPANY"] == "Navy"
    ingest, update = _book_reads(ws)
    # apply read the book: new members since its watermark; a backfill reads every member
    assert ("~modified" in ingest) == (mapping != "backfill")
    if mapping != "default":  # only what changed since the Lead step's read started
        assert update["~modified"] == [f"gte::{_watermark(ws)[:19]}Z"]
    else:  # POSTCODE was not read by the Lead step: every member, as on any first read
        assert "~modified" not in update

    # each pair now agrees: the next run writes nothing and finds nothing to look at
    again = ws.sync(code=(0,))["totals"]
    keys = ("updated_in_salesforce", "updated_in_dotdigital", "conflicts", "update_failed")
    assert {k: again[k] for k in keys if again[k]} == {}
    status = json.loads(ws.run("status", "--json", check=(0,)).stdout)
    [row] = status["updates"]
    assert (row["links"], row["outcomes"]) == ({"Lead": totals["created"]}, {})


def test_a_later_sync_hands_its_read_over_and_still_sees_changes_made_after_it(
    workspace, kit
) -> None:
    """A scheduled sync: the update step's window is the one the Lead step has just read (both
    start at the last run's watermark, less the overlap): it asks only for what changed since
    the Lead step's read started, and a change made after that read is planned as before."""
    ws = workspace(config=kit.config_yaml(mapping=WRITING))
    _people(ws)
    ws.sync(code=(0,))
    ws.add_member(
        "ida@example.com",
        {"FIRSTNAME": "Ida", "LASTNAME": "Rhodes", "COMPANY": "NBS", "REGION": "AMER"},
    )
    r = ws.emu.dd_session("uk").patch(
        f"{ws.emu.dd_endpoint}/contacts/v3/email/ada@example.com",
        json={"dataFields": {"COMPANY": "Analytical Engines"}},
    )
    assert r.status_code == 200, r.text
    ws.emu.reset_log()
    # Held: the update step's read of changed Leads, after the Lead step read the book
    hold = ws.emu.inject_fault(
        "salesforce", method="GET", query_regex="SystemModstamp >=", delay_ms=600_000, times=1
    )
    proc = ws.popen("sync", "-c", "leadsync.yaml", "--json")
    try:
        kit.until(lambda: kit.fault_taken(ws.emu, "salesforce", hold), "the held query", (proc,))
        r = ws.emu.dd_session("uk").patch(
            f"{ws.emu.dd_endpoint}/contacts/v3/email/alan@example.com",
            json={"dataFields": {"COMPANY": "GCHQ"}},
        )
        assert r.status_code == 200, r.text
    finally:
        ws.emu.clear_faults()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    totals = json.loads(out)["totals"]

    assert (totals["created"], totals["updated_in_salesforce"]) == (1, 2)  # Ada's and Alan's
    assert _lead(ws, "ada@example.com")["Company"] == "Analytical Engines"
    assert _lead(ws, "alan@example.com")["Company"] == "GCHQ"
    assert _lead(ws, "ida@example.com")["Company"] == "NBS"
    ingest, update = _book_reads(ws)
    assert update["~modified"] == [f"gte::{_watermark(ws)[:19]}Z"] != ingest["~modified"]
    again = ws.sync(code=(0,))["totals"]
    assert (again["updated_in_salesforce"], again["updated_in_dotdigital"]) == (0, 0)
