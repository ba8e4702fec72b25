"""The push benchmark: a Campaign of 10,000 members (half Leads, half Contacts) pushed into an
empty Dotdigital book, then the next run (which re-reads the overlap window) and an idle run.

Measured on the working tree only: `--before` builds predate push."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from harness import LEADSYNC, Emulator, check, run_measured

ACCOUNT = "bench"


PUSH_CAMPAIGN = "Bench Push Campaign"
PUSH_OVERLAP = 2  # seconds (sync.overlap_seconds of the push bench)
PUSH_BOOK = "Bench push book"


def push_seed(members: int) -> dict[str, Any]:
    """Half Leads, half Contacts, all in one Campaign (the members are added after start)."""
    leads = [
        {"FirstName": f"L{n}", "LastName": f"Lead{n}", "Company": f"Co {n}",
         "Email": f"lead{n}@push.example"}
        for n in range(members // 2)
    ]  # fmt: skip
    contacts = [
        {"FirstName": f"C{n}", "LastName": f"Contact{n}", "Title": "Buyer",
         "Email": f"contact{n}@push.example"}
        for n in range(members - members // 2)
    ]  # fmt: skip
    return {
        "dotdigital": {
            "accounts": [
                {
                    "name": ACCOUNT,
                    "username": "apiuser-bench@apiconnector.com",
                    "password": "bench-password",
                    "datafields": [
                        {"name": "COMPANY", "type": "String"},
                        {"name": "JOBTITLE", "type": "String"},
                    ],
                    "address_books": [{"name": PUSH_BOOK}],
                }
            ]
        },
        "salesforce": {
            "lead_statuses": ["New", "Working", "Closed - Converted"],
            "daily_api_limit": 100_000_000,
            "records": {"Campaign": [{"Name": PUSH_CAMPAIGN}], "Lead": leads, "Contact": contacts},
        },
    }


def push_config(base: str, clear: bool) -> str:
    """`base` is the scenario config (run.config_text); its Leads mapping is replaced."""
    head = base.split("    lead_mapping:")[0]
    head = head.replace("clear_address_books: false", f"clear_address_books: {str(clear).lower()}")
    # A short re-read window, so the idle run below can be measured a few seconds later (with
    # the default 300 s, a run within 5 minutes of a change re-reads what changed).
    head = head.replace("accounts:\n", f"sync: {{overlap_seconds: {PUSH_OVERLAP}}}\naccounts:\n", 1)
    return (
        head
        + f"""    lead_mapping:
      - {{salesforce: FirstName, datafield: FIRSTNAME, direction: two-way}}
      - {{salesforce: LastName, datafield: LASTNAME, direction: salesforce-to-dotdigital}}
      - {{salesforce: Company, datafield: COMPANY, direction: two-way}}
    contact_mapping:
      - {{salesforce: FirstName, datafield: FIRSTNAME, direction: salesforce-to-dotdigital}}
      - {{salesforce: LastName, datafield: LASTNAME, direction: salesforce-to-dotdigital}}
      - {{salesforce: Title, datafield: JOBTITLE, direction: salesforce-to-dotdigital}}
    address_books:
      - {{name: {PUSH_BOOK}, campaign: {PUSH_CAMPAIGN}, push_campaign_members: true}}
"""
    )


def run_push(members: int, clear: bool, work: Path, base: str) -> dict[str, Any]:
    """Push a Campaign of `members` people into an empty book; then an idle second run."""
    work.mkdir(parents=True)
    (work / "leadsync.yaml").write_text(push_config(base, clear))
    with Emulator(push_seed(members), work / "emulator") as emu:
        env = emu.env()
        check(
            run_measured(
                [*LEADSYNC, "apply", "-c", "leadsync.yaml", "--auto-approve"], env=env, cwd=work
            ),
            "leadsync apply",
        )
        campaign = emu.sf_query(f"SELECT Id FROM Campaign WHERE Name = '{PUSH_CAMPAIGN}'")[0]["Id"]
        rows = [
            {"CampaignId": campaign, f"{sobject}Id": r["Id"], "Status": "Sent"}
            for sobject in ("Lead", "Contact")
            for r in emu.sf_query(f"SELECT Id FROM {sobject}")
        ]
        for sobject in ("Lead", "Contact"):
            emu.sf_bulk_insert("CampaignMember", [r for r in rows if f"{sobject}Id" in r])
        emu.reset_logs()
        first = run_measured(
            [*LEADSYNC, "sync", "-c", "leadsync.yaml", "--json"], env=env, cwd=work
        )
        check(first, "leadsync sync (push)")
        (book,) = json.loads(first.stdout)["push"]
        if book["pushed"] != members:
            raise SystemExit(f"bench: expected {members} pushed, the sync pushed {book['pushed']}")
        out = {
            "members": members,
            "clear": clear,
            "sf_calls": emu.calls("salesforce"),
            "dd_calls": emu.calls("dotdigital"),
            "wall_s": first.wall_s,
            "cpu_s": first.cpu_s,
            "rss_mb": first.peak_rss_mb,
        }
        # A run re-reads what changed within the overlap window before the previous read:
        # the next run still re-reads the members just created (Salesforce) and imported
        # (Dotdigital, when clearing); the one after that, past the window, is idle.
        for key in ("next", "idle"):
            time.sleep(PUSH_OVERLAP + 1)
            emu.reset_logs()
            again = run_measured(
                [*LEADSYNC, "sync", "-c", "leadsync.yaml", "--json"], env=env, cwd=work
            )
            check(again, f"leadsync sync ({key} push)")
            out[f"{key}_sf_calls"] = emu.calls("salesforce")
            out[f"{key}_dd_calls"] = emu.calls("dotdigital")
        return out
