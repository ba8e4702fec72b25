"""The membership sweep: members whose join did not move their modified date still become Leads.

The emulator's Dotdigital account runs with `join_updates_modified: false`: adding a contact
that already exists (here: from another book) to "Webinar signups" leaves its `updated` time
alone, so the sync's `~modified` read never sees the join. Only the sweep (every member id of
the book, at least every `sync.sweep_every`, or now with `sync --sweep`) finds it.
"""

from __future__ import annotations

import copy
import sqlite3
from typing import Any

QUIET = "quiet@example.com"


def _seed(kit: Any) -> dict[str, Any]:
    seed = copy.deepcopy(kit.BASE_SEED)
    account = seed["dotdigital"]["accounts"][0]
    account["join_updates_modified"] = False
    big = next(b for b in account["address_books"] if b["name"] == "Big list")
    big["contacts"] = [
        {
            "email": QUIET,
            "datafields": kit.member("Quinn", "Quiet", "Silent Co"),
            "opt_in_type": "Single",
            "email_type": "Html",
            "added_at": "2024-01-01T00:00:00Z",
        }
    ]
    return seed


def _join_quietly(ws: Any, kit: Any) -> None:
    """The existing contact joins the lead book through the API, with unchanged data."""
    ws.add_member(QUIET, kit.member("Quinn", "Quiet", "Silent Co"))
    found = ws.emu.dd_session("uk").get(
        f"{ws.emu.dd_endpoint}/contacts/v3",
        params={"~listId": ws.book_id("Webinar signups"), "~modified": "gte::2025-01-01T00:00:00Z"},
    )
    assert QUIET not in found.text  # the emulator models the undocumented case


def test_sweep_finds_a_member_whose_join_did_not_move_modified_exactly_once(workspace, kit) -> None:
    ws = workspace(seed=_seed(kit))
    # apply's baseline read every member: that was the book's first sweep
    assert len(ws.state_rows("SELECT value FROM sweeps")) == 1
    first = ws.sync(code=(0,))["books"][0]
    assert first["sweep"] is None and first["created"] == 0

    _join_quietly(ws, kit)
    normal = ws.sync(code=(0,))["books"][0]
    assert normal["seen"] == 0 and normal["sweep"] is None  # swept minutes ago: not due
    assert QUIET not in ws.leads()

    swept = ws.sync("--sweep", code=(0,))
    book = swept["books"][0]
    assert book["sweep"] == {"ids_read": 2, "found": 1} and book["swept"] == 1
    assert (book["created"], book["campaign_members_added"]) == (1, 1)
    assert swept["totals"]["swept"] == 1
    lead = ws.leads()[QUIET]
    assert (lead["FirstName"], lead["LastName"], lead["Company"]) == ("Quinn", "Quiet", "Silent Co")
    assert {m["LeadId"] for m in ws.campaign_members()} == {lead["Id"]}

    again = ws.sync("--sweep", code=(0,))["books"][0]
    assert again["sweep"] == {"ids_read": 2, "found": 0}
    assert (again["seen"], again["created"]) == (0, 0)
    assert len(ws.leads()) == 2 and len(ws.campaign_members()) == 1

    text = ws.run("sync", "-c", "leadsync.yaml", "--sweep", check=(0,)).stdout
    assert "membership sweep read 2 member ids, found 0" in text


def test_sweep_runs_by_itself_once_sweep_every_has_passed(workspace, kit) -> None:
    ws = workspace(seed=_seed(kit), config=kit.config_yaml(sync={"sweep_every": "6h"}))
    ws.sync(code=(0,))
    _join_quietly(ws, kit)
    assert ws.sync(code=(0,))["books"][0]["sweep"] is None
    assert QUIET not in ws.leads()

    # Six hours pass (no sleeping: the recorded time of the last sweep is made older).
    (swept_at,) = ws.state_rows("SELECT value FROM sweeps")[0]
    con = sqlite3.connect(ws.state_db)
    with con:
        con.execute("UPDATE sweeps SET value = '2020-01-01T00:00:00+00:00'")
    con.close()

    due = ws.sync(code=(0,))["books"][0]
    assert due["sweep"] == {"ids_read": 2, "found": 1} and due["created"] == 1
    assert QUIET in ws.leads()
    (later,) = ws.state_rows("SELECT value FROM sweeps")[0]
    assert later > swept_at  # recorded again: the next sweep is six hours away
    assert ws.sync(code=(0,))["books"][0]["sweep"] is None


def test_dry_run_predicts_what_the_sweep_will_create(workspace, kit) -> None:
    ws = workspace(seed=_seed(kit))
    ws.sync(code=(0,))
    _join_quietly(ws, kit)
    preview = ws.sync("--dry-run", "--sweep", code=(0,))["books"][0]
    assert (preview["created"], preview["swept"]) == (1, 1)
    assert QUIET not in ws.leads()
    real = ws.sync("--sweep", code=(0,))["books"][0]
    assert (real["created"], real["swept"]) == (1, 1)


def test_sweep_every_must_be_a_duration(workspace, kit, tmp_path) -> None:
    ws = workspace(seed=_seed(kit), apply=False)
    for value, hint in (("0h", "longer than zero"), ("daily", "sync.sweep_every")):
        ws.write_config(kit.config_yaml(sync={"sweep_every": value}))
        proc = ws.run("validate", "leadsync.yaml", check=(1,))
        assert "LS024" in proc.stdout + proc.stderr, proc
        assert hint in proc.stdout + proc.stderr
        assert "leadsync.yaml:" in proc.stdout + proc.stderr


def test_a_book_with_no_recorded_sweep_is_swept_by_the_next_sync(workspace, kit) -> None:
    """E.g. a state written before the sweep existed, or copied by `state migrate`."""
    ws = workspace(seed=_seed(kit))
    _join_quietly(ws, kit)
    con = sqlite3.connect(ws.state_db)
    with con:
        con.execute("DELETE FROM sweeps")
    con.close()
    book = ws.sync(code=(0,))["books"][0]
    assert book["sweep"] == {"ids_read": 2, "found": 1} and book["created"] == 1
    assert ws.sync(code=(0,))["books"][0]["sweep"] is None


def test_what_a_sweep_costs_in_dotdigital_calls(workspace, kit) -> None:
    """ceil(members / 5,000) calls for the ids, then min(found, that) for the data fields:
    one by one when fewer, else one more read of the book with its data fields."""
    seed = _seed(kit)
    big = seed["dotdigital"]["accounts"][0]["address_books"][1]
    big["contacts"] += [{**big["contacts"][0], "email": f"q{i}@example.com"} for i in range(3)]
    ws = workspace(seed=seed)

    def sweep_calls() -> dict[str, int]:
        counts = ws.emu.requests_log("dotdigital")["counts"]
        return {k: v for k, v in counts.items() if "/contacts/v3" in k}

    _join_quietly(ws, kit)  # one found, one page of ids: fetched by id
    ws.emu.reset_log()
    assert ws.sync("--sweep", code=(0,))["books"][0]["swept"] == 1
    by_id = "GET /contacts/v3/{identifier}/{value}"
    assert sweep_calls() == {"GET /contacts/v3": 2, by_id: 1}  # ~modified read + ids page

    for i in range(3):  # three found, one page of ids: the book is read again with data
        ws.add_member(f"q{i}@example.com", kit.member("Quinn", "Quiet", "Silent Co"))
    ws.emu.reset_log()
    book = ws.sync("--sweep", code=(0,))["books"][0]
    assert (book["swept"], book["created"]) == (3, 3)
    assert sweep_calls() == {"GET /contacts/v3": 3}
    assert {f"q{i}@example.com" for i in range(3)} <= set(ws.leads())
