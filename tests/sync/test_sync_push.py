"""Salesforce -> Dotdigital: a linked Campaign fills its address book (the push), and
clear_address_books empties it of everyone who is not in the Campaign.

End to end: the real CLI against both emulators; Campaign members are added and removed through
the Salesforce REST API (unmodified simple-salesforce), the book is read back through
Dotdigital's API, and the calls are counted from the emulators' request logs.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

CAMPAIGN = "Customer Day 2026"
BOOK = "Customer Day invitees"
CONTACT_MAPPING = [
    ("FirstName", "FIRSTNAME", "two-way"),
    ("LastName", "LASTNAME", "salesforce-to-dotdigital"),
    ("Title", "JOBTITLE", "salesforce-to-dotdigital"),
    ("Birthdate", "BIRTHDAY", "salesforce-to-dotdigital"),
]
PUSH_BOOK = {"name": BOOK, "campaign": CAMPAIGN, "push_campaign_members": True}
LEAD_BOOK = {"name": "Webinar signups", "create_leads": True, "campaign": "Spring Webinar 2026"}


def push_seed(kit: Any) -> dict[str, Any]:
    seed = copy.deepcopy(kit.BASE_SEED)
    acct = seed["dotdigital"]["accounts"][0]
    acct["datafields"] += [
        {"name": "JOBTITLE", "type": "String"},
        {"name": "BIRTHDAY", "type": "Date"},
    ]
    acct["address_books"].append(
        {
            "name": BOOK,
            "contacts": [{"email": "walk-in@example.com", "datafields": {"FIRSTNAME": "Walk"}}],
        }
    )
    records = seed["salesforce"]["records"]
    records["Campaign"].append({"Name": CAMPAIGN})
    lead = {"Company": "Acme", "Region__c": "EMEA"}
    records["Lead"] += [
        {
            **lead,
            "FirstName": "Ann",
            "LastName": "Lee",
            "Email": "Ann@Example.com",
            "PostalCode": "N1",
        },
        {**lead, "FirstName": "Bo", "LastName": "Berg", "Email": "bo@example.com"},
        {**lead, "FirstName": "Nemo", "LastName": "Nomail"},
    ]
    records["Contact"] += [
        {
            "FirstName": "Cy",
            "LastName": "Chen",
            "Email": "cy@example.com",
            "Title": "CTO",
            "Birthdate": "1990-05-17",
        },
        {"FirstName": "Di", "LastName": "Dunn", "Email": "di@example.com", "Title": "CFO"},
    ]
    seed["salesforce"]["campaign_member_statuses"] = {CAMPAIGN: ["Sent", "Responded", "Declined"]}
    return seed


def make(workspace: Any, kit: Any, *, books: list[dict] | None = None, clear: bool = False):
    config = kit.config_yaml(
        books=books or [PUSH_BOOK], clear=clear, contact_mapping=CONTACT_MAPPING
    )
    return workspace(seed=push_seed(kit), config=config)


def person_ids(ws: Any) -> dict[str, tuple[str, str]]:
    """Email (or last name, for people without one) -> ("LeadId"|"ContactId", Id)."""
    out: dict[str, tuple[str, str]] = {}
    for field, sobject in (("LeadId", "Lead"), ("ContactId", "Contact")):
        for row in ws.query(f"SELECT Id, Email, LastName FROM {sobject}"):
            out[(row["Email"] or row["LastName"]).lower()] = (field, row["Id"])
    return out


def campaign_id(ws: Any, name: str = CAMPAIGN) -> str:
    return ws.query(f"SELECT Id FROM Campaign WHERE Name = '{name}'")[0]["Id"]


def join(ws: Any, *who: str, status: str = "Sent") -> dict[str, str]:
    """Add people to the Campaign (by email, or last name); -> who -> CampaignMember Id."""
    sf = ws.emu.salesforce()
    ids = person_ids(ws)
    cid = campaign_id(ws)
    out = {}
    for key in who:
        field, record_id = ids[key]
        result = sf.CampaignMember.create({"CampaignId": cid, field: record_id, "Status": status})
        out[key] = result["id"]
    return out


def test_a_campaign_of_leads_and_contacts_fills_its_book_with_the_mapped_fields(workspace, kit):
    ws = make(workspace, kit)
    join(ws, "ann@example.com", "cy@example.com", "nomail")
    report = ws.sync()
    assert report["_exit"] == 4, report  # the member without an email is skipped: a person fixes it
    (push,) = report["push"]
    assert (push["added"], push["pushed"], push["skipped"], push["removed"]) == (2, 2, 1, 0)
    assert push["reasons"] == {"NO_EMAIL": 1}
    members = ws.members(BOOK)
    assert set(members) == {"walk-in@example.com", "ann@example.com", "cy@example.com"}
    ann, cy = members["ann@example.com"], members["cy@example.com"]
    # a Lead: lead_mapping rows towards Dotdigital (FirstName two-way, Company two-way,
    # PostalCode salesforce-to-dotdigital); LastName is dotdigital-to-salesforce: not pushed
    assert (ann["FIRSTNAME"], ann["COMPANY"], ann["POSTCODE"], ann["LASTNAME"]) == (
        "Ann",
        "Acme",
        "N1",
        None,
    )
    # a Contact: contact_mapping rows
    assert (cy["FIRSTNAME"], cy["LASTNAME"], cy["JOBTITLE"]) == ("Cy", "Chen", "CTO")
    assert cy["BIRTHDAY"].startswith("1990-05-17")
    skipped = ws.run("records", "-c", "leadsync.yaml", "--state", "skipped", "--json", check=(0,))
    rows = json.loads(skipped.stdout)
    assert [(r["origin"], r["reason_code"], r["book"]) for r in rows] == [
        ("salesforce", "NO_EMAIL", BOOK)
    ]
    pushed = json.loads(
        ws.run("records", "-c", "leadsync.yaml", "--state", "pushed", "--json", check=(0,)).stdout
    )
    assert sorted(r["email"] for r in pushed) == ["ann@example.com", "cy@example.com"]
    assert {r["origin"] for r in pushed} == {"salesforce"}
    status = ws.run("status", "-c", "leadsync.yaml", check=(0,)).stdout
    assert f"'{BOOK}' (id" in status and "filled from the campaign" in status
    assert "Salesforce -> Dotdigital: pushed 2, skipped 1" in status
    assert "added 2" in status


def set_status(ws: Any, member_id: str, status: str) -> None:
    ws.emu.salesforce().CampaignMember.update(member_id, {"Status": status})


def leave(ws: Any, member_id: str) -> None:
    ws.emu.salesforce().CampaignMember.delete(member_id)


def pushed_states(ws: Any) -> dict[str, str]:
    return dict(ws.state_rows("SELECT email, state FROM push_members WHERE email != ''"))


def test_member_statuses_filter_who_is_pushed(workspace, kit):
    book = {**PUSH_BOOK, "member_statuses": ["Sent", "Responded"]}
    ws = make(workspace, kit, books=[book])
    join(ws, "ann@example.com")
    join(ws, "cy@example.com", status="Responded")
    join(ws, "di@example.com", status="Declined")
    report = ws.sync()
    assert report["_exit"] == 0, report
    assert report["push"][0]["added"] == 2
    assert set(ws.members(BOOK)) == {"walk-in@example.com", "ann@example.com", "cy@example.com"}


@pytest.mark.parametrize("clear", [True, False])
def test_clear_address_books_decides_whether_people_who_left_leave_the_book(workspace, kit, clear):
    """true: the book is emptied of everyone not in the Campaign (a Dotdigital-side member, a
    member deleted from the Campaign, one whose status left member_statuses); false: the push
    only adds."""
    book = {**PUSH_BOOK, "member_statuses": ["Sent", "Responded"]}
    ws = make(workspace, kit, books=[book], clear=clear)
    ids = join(ws, "ann@example.com", "bo@example.com", "cy@example.com")
    first = ws.sync()
    assert first["_exit"] == 0, first
    assert first["push"][0]["removed"] == (1 if clear else 0)  # walk-in: never in the Campaign
    leave(ws, ids["cy@example.com"])
    set_status(ws, ids["bo@example.com"], "Declined")
    second = ws.sync()
    assert second["_exit"] == 0, second
    (push,) = second["push"]
    members = set(ws.members(BOOK))
    if clear:
        assert members == {"ann@example.com"}
        assert (push["removed"], push["left"]) == (2, 0)
        removed = ws.run("records", "-c", "leadsync.yaml", "--state", "removed", "--json")
        gone = {r["email"]: (r["origin"], r["reason_code"]) for r in json.loads(removed.stdout)}
        assert gone == {
            "walk-in@example.com": ("dotdigital", "NOT_IN_CAMPAIGN"),
            "cy@example.com": ("salesforce", "LEFT_CAMPAIGN"),
            "bo@example.com": ("salesforce", "STATUS_FILTERED"),
        }
    else:
        assert members == {
            "walk-in@example.com",
            "ann@example.com",
            "bo@example.com",
            "cy@example.com",
        }
        assert (push["removed"], push["left"]) == (0, 2)
        assert pushed_states(ws) == {
            "ann@example.com": "pushed",
            "bo@example.com": "left",
            "cy@example.com": "left",
        }


def test_a_pushed_person_never_becomes_a_lead(workspace, kit):
    """Bo is pushed into a push-only book and Ann into a book that also creates Leads; Bo's
    Lead is then deleted in Salesforce and Bo signs up to the create_leads book. Neither ever
    becomes a Lead (origin salesforce in the ledger); a real new signup still does."""
    both = {**LEAD_BOOK, "push_campaign_members": True, "campaign": CAMPAIGN}
    ws = make(workspace, kit, books=[both, PUSH_BOOK])
    ids = person_ids(ws)
    join(ws, "bo@example.com")
    sf = ws.emu.salesforce()
    first = ws.sync()
    assert first["_exit"] == 0, first
    assert {b["book"]: b["added"] for b in first["push"]} == {BOOK: 1, "Webinar signups": 1}
    sf.Lead.delete(ids["bo@example.com"][1])
    ws.add_member("bo@example.com", kit.member("Bo", "Berg", "Acme"))
    ws.add_member("new@example.com", kit.member("New", "Person", "Newco"))
    report = ws.sync()
    assert report["_exit"] == 0, report
    leads = [r["Email"].lower() for r in ws.query("SELECT Email FROM Lead WHERE Email != null")]
    assert leads.count("new@example.com") == 1 and "bo@example.com" not in leads
    excluded = ws.run("records", "-c", "leadsync.yaml", "--state", "excluded", "--json")
    rows = {r["email"]: r for r in json.loads(excluded.stdout)}
    bo = rows["bo@example.com"]
    assert (bo["origin"], bo["reason_code"], bo["matched_id"]) == (
        "salesforce",
        "FROM_SALESFORCE",
        ids["bo@example.com"][1],
    )
    assert CAMPAIGN in bo["reason"]


def test_an_idle_run_stays_within_its_call_budget(workspace, kit):
    """After the first full push, a run with nothing new costs at most 2 Salesforce calls and
    1 Dotdigital call per pushing book (here: two pushing books, one clearing account)."""
    second_book = {**PUSH_BOOK, "name": "Webinar signups", "member_statuses": ["Responded"]}
    ws = make(workspace, kit, books=[PUSH_BOOK, second_book], clear=True)
    join(ws, "ann@example.com", "cy@example.com")
    assert ws.sync()["_exit"] == 0
    ws.emu.reset_log()
    idle = ws.sync()
    assert idle["_exit"] == 0, idle
    sf = ws.emu.requests_log("salesforce")["requests"]
    dd = ws.emu.requests_log("dotdigital")["requests"]
    # the push: 2 Salesforce calls and 1 Dotdigital call per pushing book at most; the field
    # updates of the people it linked (issue 14): 1 Dotdigital read per book and 2 Salesforce
    # queries (Leads and Contacts changed since the last run)
    assert len(sf) <= 2 * 2 + 2 and len(dd) <= 1 * 2 + 2, (sf, dd)
    assert all(b["pushed"] == 0 and b["removed"] == 0 for b in idle["push"])
    # and an incremental run still sees a change, at the same price
    ws.emu.salesforce().Contact.update(person_ids(ws)["cy@example.com"][1], {"Title": "CEO"})
    ws.emu.reset_log()
    changed = ws.sync()
    (book,) = [b for b in changed["push"] if b["book"] == BOOK]
    assert (book["updated"], book["full_read"]) == (1, False)
    assert ws.members(BOOK)["cy@example.com"]["JOBTITLE"] == "CEO"
    # + the field-update step: its two queries, and the Contact describe it needs to compare
    # the changed record's fields (the push wrote JOBTITLE already: nothing more is written)
    assert len(ws.emu.requests_log("salesforce")["requests"]) <= 4 + 3


def test_dry_run_shows_the_push_and_writes_nothing(workspace, kit):
    ws = make(workspace, kit, clear=True)
    join(ws, "ann@example.com", "cy@example.com")
    before = ws.members(BOOK)
    proc = ws.run("sync", "-c", "leadsync.yaml", "--dry-run", "--json", check=(0,))
    (push,) = json.loads(proc.stdout)["push"]
    assert (push["added"], push["removed"]) == (2, 1)
    assert {s["email"] for s in push["samples"]["added"]} == {"ann@example.com", "cy@example.com"}
    assert [s["email"] for s in push["samples"]["removed"]] == ["walk-in@example.com"]
    assert ws.members(BOOK) == before
    assert ws.state_rows("SELECT COUNT(*) FROM push_members") == [(0,)]
    text = ws.run("sync", "-c", "leadsync.yaml", "--dry-run", check=(0,)).stdout
    assert "would be added" in text and "walk-in@example.com" in text
    real = ws.sync()
    assert (real["push"][0]["added"], real["push"][0]["removed"]) == (2, 1)


@pytest.mark.parametrize(
    ("method", "regex", "imports"),
    [
        ("PUT", r"^/contacts/v3/import$", 2),  # killed before the import's id came back: re-sent
        ("GET", r"^/contacts/v3/import/", 1),  # killed reading its status: its outcome is read
    ],
)
def test_sigkill_mid_push_then_rerun_leaves_each_member_once(
    workspace, kit, method, regex, imports
):
    ws = make(workspace, kit)
    join(ws, "ann@example.com", "bo@example.com", "cy@example.com", "di@example.com")
    ws.emu.reset_log()
    kit.kill_while_held(ws, service="dotdigital", method=method, regex=regex)
    kit.release_held(ws, service="dotdigital", method=method, regex=regex)
    in_doubt = ws.state_rows("SELECT COUNT(*) FROM push_members WHERE attempt IS NOT NULL")
    assert in_doubt == [(4,)]
    report = ws.sync()
    assert report["_exit"] == 0, report
    assert report["status"] == "done"
    members = ws.members(BOOK)  # fails on an email listed twice
    assert set(members) == {
        "walk-in@example.com",
        "ann@example.com",
        "bo@example.com",
        "cy@example.com",
        "di@example.com",
    }
    assert (members["di@example.com"]["JOBTITLE"], members["bo@example.com"]["FIRSTNAME"]) == (
        "CFO",
        "Bo",
    )
    assert set(pushed_states(ws).values()) == {"pushed"}
    log = ws.emu.requests_log("dotdigital")["requests"]
    assert sum(r["method"] == "PUT" for r in log) == imports
    again = ws.sync()
    assert again["push"][0]["pushed"] == 0 and again["push"][0]["unchanged"] == 4


def test_plan_checks_push_keys_against_the_live_systems(workspace, kit):
    """plan: contact_mapping fields must exist on Contact (LS214), member_statuses must be the
    Campaign's (LS215), each with its file:line; a valid push plans its resources and reasons,
    and after apply plans no changes."""
    bad = kit.config_yaml(
        books=[{**PUSH_BOOK, "member_statuses": ["Sent", "Attended"]}],
        contact_mapping=[*CONTACT_MAPPING, ("Tittle", "POSTCODE", "salesforce-to-dotdigital")],
    )
    ws = workspace(seed=push_seed(kit), config=bad, apply=False)
    proc = ws.run("plan", "-c", "leadsync.yaml", check=(1,))
    lines = bad.splitlines()
    tittle = next(i for i, ln in enumerate(lines, 1) if "Tittle" in ln)
    statuses = next(i for i, ln in enumerate(lines, 1) if "member_statuses" in ln)
    assert f"leadsync.yaml:{tittle}:" in proc.stdout + proc.stderr
    assert "LS214" in proc.stdout + proc.stderr and "Contact has no field 'Tittle'" in (
        proc.stdout + proc.stderr
    )
    out = proc.stdout + proc.stderr
    assert f"leadsync.yaml:{statuses}:" in out and "LS215" in out
    assert "no member status 'Attended'" in out and "'Declined'" in out
    ws.write_config(kit.config_yaml(books=[PUSH_BOOK], contact_mapping=CONTACT_MAPPING))
    plan = json.loads(ws.run("plan", "-c", "leadsync.yaml", "--json", check=(0,)).stdout)
    changes = {c["address"]: c for c in plan["resource_changes"]}
    title = changes['account.uk.contact_mapping["Title"]']
    assert (title["kind"], title["action"]) == ("contact_mapping", "create")
    book = changes[f'account.uk.address_book["{BOOK}"]']
    assert book["after"]["push_campaign_members"] is True
    assert "push starts" in book["reason"] and CAMPAIGN in book["reason"]
    ws.apply()
    again = ws.run("plan", "-c", "leadsync.yaml", "--detailed-exitcode", check=(0,))
    assert "No changes" in again.stdout
    clear = kit.config_yaml(books=[LEAD_BOOK], clear=False).replace(
        "clear_address_books: false", "clear_address_books: true"
    )
    ws.write_config(clear.replace("create_leads: true", "create_leads: false"))
    warned = ws.run("plan", "-c", "leadsync.yaml", check=(0,))
    assert "LS113" in warned.stderr and "does nothing" in warned.stderr


def test_a_large_campaign_is_read_through_a_bulk_query_job(workspace, kit):
    """From sync.bulk_threshold members on, the Campaign is read by a Bulk API 2.0 query job
    (its CSV cells become the same datafield values); below it (every other test here), by
    the REST query API. A COUNT() of the same selection decides."""
    config = kit.config_yaml(
        books=[PUSH_BOOK], contact_mapping=CONTACT_MAPPING, sync={"bulk_threshold": 4}
    )
    ws = workspace(seed=push_seed(kit), config=config)
    join(ws, "ann@example.com", "bo@example.com", "cy@example.com", "di@example.com")
    ws.emu.reset_log()
    report = ws.sync()
    assert report["_exit"] == 0, report
    (push,) = report["push"]
    assert (push["added"], push["bulk_read"]) == (4, True)
    requests = ws.emu.requests_log("salesforce")["requests"]
    paths = [r["path"] for r in requests]
    # the field-update step links the four pushed people and reads them once: per object the
    # org's newest SystemModstamp and their records by Id (queries of its own)
    rest = [
        r
        for r in requests
        if re.search(r"/data/v[\d.]+/query/?$", r["path"])
        and "SystemModstamp+DESC" not in r["query"]
        and "Id+IN" not in r["query"]
    ]
    assert len(rest) == 1  # the COUNT() that chose the way
    assert any(p.endswith("/jobs/query") for p in paths)
    members = ws.members(BOOK)
    assert members["ann@example.com"]["POSTCODE"] == "N1"
    assert members["cy@example.com"]["BIRTHDAY"].startswith("1990-05-17")
    assert members["di@example.com"]["JOBTITLE"] == "CFO"
