"""The baseline after the first apply (issue 10, items 4-5): `backfill: true` set later converts
it at the next sync, `records --state baseline` lists it, and the plan warns before a
create_leads book stops. Real CLI, real emulators."""

from __future__ import annotations

import copy
import json
from typing import Any


def seed_with_two_baseline_members(kit) -> dict[str, Any]:
    seed = copy.deepcopy(kit.BASE_SEED)
    book = seed["dotdigital"]["accounts"][0]["address_books"][0]
    book["contacts"].append(
        {
            "email": "early@example.com",
            "datafields": {"FIRSTNAME": "Early", "LASTNAME": "Bird", "COMPANY": "Dawn Ltd"},
        }
    )
    book["contacts"][1]["datafields"]["REGION"] = "APAC"
    return seed


def baseline_emails(ws) -> set[str]:
    return {e for (e,) in ws.state_rows("SELECT email FROM ledger WHERE state = 'baseline'")}


def test_records_lists_the_baseline(workspace, kit) -> None:
    """Item 5: `records --state baseline` lists the members recorded at the first apply."""
    ws = workspace(seed_with_two_baseline_members(kit))
    proc = ws.run("records", "-c", "leadsync.yaml", "--state", "baseline", "--json", check=(0,))
    rows = json.loads(proc.stdout)
    assert {r["email"] for r in rows} == {"before@example.com", "early@example.com"}
    assert {r["reason_code"] for r in rows} == {"BASELINE"}
    plain = ws.run("records", "-c", "leadsync.yaml", "--state", "baseline", check=(0,))
    assert plain.stdout.rstrip().endswith("2 baseline records")


def test_backfill_set_after_the_first_apply_converts_the_baseline(workspace, kit) -> None:
    """Item 4: the plan says what backfill will do, and the next sync makes the baseline
    members Leads (once; the member who joined later is not touched again)."""
    ws = workspace(seed_with_two_baseline_members(kit))
    ws.add_member("ada@example.com", kit.member("Ada", "Lovelace", "Engines"))
    assert ws.sync(code=(0,))["totals"]["created"] == 1
    assert baseline_emails(ws) == {"before@example.com", "early@example.com"}

    books = [
        {
            "name": "Webinar signups",
            "create_leads": True,
            "campaign": "Spring Webinar 2026",
            "backfill": True,
        }
    ]
    ws.write_config(kit.config_yaml(books=books))
    plan = ws.run("plan", "-c", "leadsync.yaml", check=(0,))
    assert "2 baseline members will become Leads at the next sync" in plan.stdout
    ws.apply()

    report = ws.sync(code=(0,))
    assert (report["totals"]["seen"], report["totals"]["created"]) == (2, 2)
    leads = ws.leads()
    assert {"before@example.com", "early@example.com", "ada@example.com"} <= set(leads)
    assert baseline_emails(ws) == set()
    assert ws.sync(code=(0,))["totals"]["seen"] == 0  # done once, not again


def test_plan_warns_when_a_create_leads_book_stops(workspace, kit) -> None:
    """Item 5: turning create_leads off, or removing the book, is shown with a warning that
    re-enabling it later baselines everyone who joined in between."""
    ws = workspace()
    warning = "turning create_leads on again later records everyone who joined in between"
    off = [{"name": "Webinar signups", "create_leads": False}]
    ws.write_config(kit.config_yaml(books=off))
    plan = ws.run("plan", "-c", "leadsync.yaml", check=(0,))
    assert "create_leads stops" in plan.stdout and warning in plan.stdout

    ws.write_config(kit.config_yaml(books=[{"name": "Big list", "create_leads": False}]))
    removed = ws.run("plan", "-c", "leadsync.yaml", "--markdown", check=(0,))
    row = next(x for x in removed.stdout.splitlines() if '"Webinar signups"' in x)
    assert "| delete |" in row and warning in row
