"""Campaign attribution (issue 10, items 1-3): people already in Salesforce join the book's
Campaign, one person in two books is one Lead in both Campaigns, and `sync --dry-run` predicts
exactly what the real run then does. Real CLI, real emulators, Salesforce read back through
simple-salesforce."""

from __future__ import annotations

import copy
import json
from typing import Any

CAMPAIGN_KEYS = (
    "campaign_members_added",
    "campaign_members_added_new",
    "campaign_members_added_existing",
    "campaign_members_already_in",
)
OUTCOME_KEYS = ("seen", "created", "excluded_existing", "skipped_missing_fields", "failed")


def two_campaigns_seed(kit) -> dict[str, Any]:
    seed = copy.deepcopy(kit.BASE_SEED)
    seed["salesforce"]["records"]["Campaign"].append({"Name": "Autumn Newsletter"})
    seed["salesforce"]["records"]["Contact"].append(
        {"LastName": "Member", "Email": "cm@example.com"}
    )
    return seed


def two_books(**second: Any) -> list[dict[str, Any]]:
    return [
        {"name": "Webinar signups", "create_leads": True, "campaign": "Spring Webinar 2026"},
        {"name": "Big list", "create_leads": True, "campaign": "Autumn Newsletter", **second},
    ]


def campaign_id(ws, name: str) -> str:
    return ws.query(f"SELECT Id FROM Campaign WHERE Name = '{name}'")[0]["Id"]


def record_id(ws, sobject: str, email: str) -> str:
    return ws.query(f"SELECT Id FROM {sobject} WHERE Email = '{email}'")[0]["Id"]


def book_row(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(b for b in report["books"] if b["book"] == name)


def test_existing_lead_and_contact_join_the_campaign_exactly_once(workspace, kit) -> None:
    """Item 1: an excluded member (existing Lead or Contact) becomes a CampaignMember of the
    book's Campaign with the configured status, as LeadId or ContactId, once."""
    ws = workspace()
    ws.add_member("ada@example.com", kit.member("Ada", "Lovelace", "Engines"))
    ws.add_member("Grace@Example.com", kit.member("Grace", "Hopper", "Navy", "AMER"))
    ws.add_member("old@example.com", kit.member("Olde", "Existing", "Legacy Ltd"))

    proc = ws.run("sync", "-c", "leadsync.yaml", check=(0,))
    assert (
        "campaign 'Spring Webinar 2026': 1 new Lead and 2 people already in Salesforce added"
        in proc.stdout
    )
    report = ws.sync(code=(0,))  # nothing new: no member twice
    assert report["totals"]["campaign_members_added"] == 0

    spring = campaign_id(ws, "Spring Webinar 2026")
    members = ws.campaign_members()
    grace, old = (
        record_id(ws, "Lead", "grace@example.com"),
        record_id(ws, "Contact", "old@example.com"),
    )
    ada = ws.leads()["ada@example.com"]["Id"]
    assert {(m["CampaignId"], m["LeadId"], m["ContactId"], m["Status"]) for m in members} == {
        (spring, ada, None, "Sent"),
        (spring, grace, None, "Sent"),
        (spring, None, old, "Sent"),
    }
    assert len(ws.leads()) == 2  # grace (seeded) + ada: the excluded ones got no twin

    first = ws.state_rows("SELECT report FROM runs ORDER BY started_at LIMIT 1")
    book = json.loads(first[0][0])["books"][0]
    assert (book["campaign_members_added_new"], book["campaign_members_added_existing"]) == (1, 2)
    assert book["campaign_members_added"] == 3 and book["excluded_existing"] == 2

    listed = ws.run("records", "-c", "leadsync.yaml", "--state", "excluded", "--json", check=(0,))
    rows = {r["email"]: r for r in json.loads(listed.stdout)}
    assert rows["old@example.com"]["campaign_id"] == spring
    assert rows["old@example.com"]["campaign_member_id"].startswith("00v")
    plain = ws.run("records", "-c", "leadsync.yaml", "--state", "excluded", check=(0,))
    assert "campaign member" in plain.stdout.splitlines()[0]


def test_crash_after_the_member_write_then_rerun_adds_nobody_twice(workspace, kit) -> None:
    """Item 1, crash safety: killed while Salesforce creates the CampaignMembers of people
    already in Salesforce; the re-run finishes the job and no member exists twice."""
    ws = workspace()
    sf = ws.emu.salesforce()
    for n in (0, 1, 2):  # the members kill_mid_sync generates: k0..k2@example.com
        sf.Contact.create({"LastName": f"K{n}", "Email": f"k{n}@example.com"})
    # k0..k2 are Contacts: no Lead is written, the first sObject Collections call is the members'
    kit.kill_mid_sync(
        ws, members=3, service="salesforce", method="POST", regex="composite/sobjects", nth=1
    )
    report = ws.sync(code=(0,))
    assert report["totals"]["excluded_existing"] == 0  # settled by the killed run already
    members = ws.campaign_members()
    contacts = {r["Id"] for r in ws.query("SELECT Id FROM Contact WHERE LastName LIKE 'K%'")}
    assert {m["ContactId"] for m in members} == contacts and len(members) == 3
    book = report["books"][0]
    assert book["campaign_members_already_in"] == 3 and book["campaign_members_added"] == 0


def test_add_existing_to_campaign_false_keeps_existing_people_out(workspace, kit) -> None:
    """Item 1: the per-book key turns it off; validate, plan and the applied state know it."""
    books = [
        {
            "name": "Webinar signups",
            "create_leads": True,
            "campaign": "Spring Webinar 2026",
            "add_existing_to_campaign": False,
        }
    ]
    ws = workspace(config=kit.config_yaml(books=books))
    ws.add_member("ada@example.com", kit.member("Ada", "Lovelace", "Engines"))
    ws.add_member("old@example.com", kit.member("Olde", "Existing", "Legacy Ltd"))
    report = ws.sync(code=(0,))
    book = report["books"][0]
    assert (book["excluded_existing"], book["campaign_members_added_existing"]) == (1, 0)
    assert [m["LeadId"] for m in ws.campaign_members()] == [ws.leads()["ada@example.com"]["Id"]]

    # plan shows the key changing back to its default
    books[0].pop("add_existing_to_campaign")
    ws.write_config(kit.config_yaml(books=books))
    plan = ws.run("plan", "-c", "leadsync.yaml", check=(0,))
    assert "~ add_existing_to_campaign = false -> true" in plan.stdout

    # validate: the key on a book without a campaign has no effect
    ws.write_config(
        kit.config_yaml(
            books=[
                *books,
                {"name": "Big list", "create_leads": True, "add_existing_to_campaign": False},
            ]
        )
    )
    found = ws.run("validate", "leadsync.yaml", check=(0,))
    line = next(x for x in found.stdout.splitlines() if "LS108" in x)
    assert "address_books[1].add_existing_to_campaign" in line and "no campaign" in line


def test_one_person_in_two_books_is_one_lead_in_both_campaigns(workspace, kit) -> None:
    """Item 2: the second book uses the Lead the first book created for the same contact."""
    ws = workspace(two_campaigns_seed(kit), kit.config_yaml(books=two_books()))
    for book in ("Webinar signups", "Big list"):
        ws.add_member("bob@example.com", kit.member("Bob", "Both", "Twice Ltd"), book=book)

    proc = ws.run("sync", "-c", "leadsync.yaml", "--json", check=(0,))
    report = json.loads(proc.stdout)
    first, second = book_row(report, "Webinar signups"), book_row(report, "Big list")
    assert (first["created"], first["campaign_members_added_new"]) == (1, 1)
    assert (second["created"], second["excluded_existing"]) == (0, 1)
    assert second["reasons"] == {"LEAD_FROM_OTHER_BOOK": 1}
    assert second["campaign_members_added_existing"] == 1
    assert report["totals"]["seen"] == 2 and report["totals"]["created"] == 1

    lead = ws.leads()["bob@example.com"]["Id"]
    assert {(m["CampaignId"], m["LeadId"]) for m in ws.campaign_members()} == {
        (campaign_id(ws, "Spring Webinar 2026"), lead),
        (campaign_id(ws, "Autumn Newsletter"), lead),
    }
    listed = ws.run(
        "records", "-c", "leadsync.yaml", "--state", "excluded", "--book", "Big list", "--json"
    )
    (row,) = json.loads(listed.stdout)
    assert row["matched_id"] == lead and row["reason_code"] == "LEAD_FROM_OTHER_BOOK"
    assert "one person, one Lead" in row["reason"] and "'Webinar signups'" in row["reason"]


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    return {
        b["book"]: {k: b[k] for k in (*OUTCOME_KEYS, "pending", "reasons", *CAMPAIGN_KEYS)}
        for b in report["books"]
    }


def test_dry_run_predicts_exactly_what_the_real_run_does(workspace, kit) -> None:
    """Item 3: the same data through --dry-run, then the real run: same counts, same reasons,
    campaign members included, across every outcome."""
    ws = workspace(two_campaigns_seed(kit), kit.config_yaml(books=two_books()))
    # cm@example.com is a Contact already in the Autumn Newsletter campaign
    sf = ws.emu.salesforce()
    sf.CampaignMember.create(
        {
            "CampaignId": campaign_id(ws, "Autumn Newsletter"),
            "ContactId": record_id(ws, "Contact", "cm@example.com"),
            "Status": "Sent",
        }
    )
    people = {
        "ada@example.com": kit.member("Ada", "Lovelace", "Engines"),  # created
        "grace@example.com": kit.member("Grace", "Hopper", "Navy"),  # existing Lead
        "old@example.com": kit.member("Olde", "Existing", "Legacy"),  # existing Contact
        "linus@example.com": kit.member("Linus", "Chen", None),  # skipped: no Company
        "mars@example.com": kit.member("Mars", "Region", "Co", "Mars"),  # failed: picklist
    }
    for email, values in people.items():
        ws.add_member(email, values)
    for email in ("bob@example.com", "old@example.com", "cm@example.com"):  # in both books
        ws.add_member(email, kit.member("Two", "Books", "Both Ltd"), book="Webinar signups")
        ws.add_member(email, kit.member("Two", "Books", "Both Ltd"), book="Big list")

    predicted = ws.sync("--dry-run", code=(4,))
    real = ws.sync(code=(4,))
    assert comparable(predicted) == comparable(real)
    # the data really covers every outcome
    webinar, big = comparable(real)["Webinar signups"], comparable(real)["Big list"]
    assert webinar["reasons"] == {
        "EXISTING_CONTACT": 2,
        "EXISTING_LEAD": 1,
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": 1,
        "MISSING_FIELDS": 1,
    }
    assert (webinar["created"], webinar["campaign_members_added_new"]) == (2, 2)
    assert webinar["campaign_members_added_existing"] == 3
    assert big["reasons"] == {"EXISTING_CONTACT": 2, "LEAD_FROM_OTHER_BOOK": 1}
    assert (big["campaign_members_added_existing"], big["campaign_members_already_in"]) == (2, 1)

    # and after the real run, a dry run predicts nothing left to do, as the next run finds
    after = ws.sync("--dry-run", code=(0,))
    assert comparable(after) == comparable(ws.sync(code=(0,)))
    assert after["totals"]["seen"] == 0 and after["totals"]["campaign_members_added"] == 0
