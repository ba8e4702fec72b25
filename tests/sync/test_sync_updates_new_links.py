"""The first evaluation of the links a sync has just made (its new Leads): most Leads read back
as they were written, and the update step plans those with one conversion per field
(sync/updates.py `_agreed`); what Salesforce or Dotdigital changed in between must still be
planned field by field, as for any new link: Salesforce wins where the two differ (no base yet).

The changes are made while the emulator holds the update step's first Salesforce request (the
newest-stamp query that sets the Lead update mark on a first run): after the Lead step wrote and
the ingest read, before the update step reads anything. A change to a Lead made then is older
than that mark, so only the read-back of the new Leads can see it, as for a value a trigger or
a default sets on insert."""

from __future__ import annotations

import json
from typing import Any

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


def test_values_changed_between_the_lead_write_and_the_update_step_are_planned_field_by_field(
    workspace, kit
) -> None:
    ws = workspace()
    _people(ws)

    report = _sync_with_changes_before_the_update_step(ws, kit)

    totals = report["totals"]
    assert totals["created"] == 3
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

    # each pair now agrees: the next run writes nothing and finds nothing to look at
    again = ws.sync(code=(0,))["totals"]
    keys = ("updated_in_salesforce", "updated_in_dotdigital", "conflicts", "update_failed")
    assert {k: again[k] for k in keys if again[k]} == {}
    status = json.loads(ws.run("status", "--json", check=(0,)).stdout)
    [row] = status["updates"]
    assert (row["links"], row["outcomes"]) == ({"Lead": 3}, {})
