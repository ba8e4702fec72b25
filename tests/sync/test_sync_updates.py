"""End-to-end field updates (issue 14): every mapping row's direction honoured after the first
sync, through the real CLI against the emulators. Dotdigital is changed and read through its
API, Salesforce through unmodified simple-salesforce.

The mapping (tests/sync/conftest.py MAPPING): FirstName and Company two-way, LastName and
Region__c dotdigital-to-salesforce, PostalCode salesforce-to-dotdigital."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest


def _contact(ws, email: str) -> dict[str, Any]:
    s = ws.emu.dd_session("uk")
    r = s.get(f"{ws.emu.dd_endpoint}/contacts/v3/email/{email}")
    assert r.status_code == 200, r.text
    return r.json()["dataFields"]


def _set_dd(ws, email: str, **values: Any) -> None:
    """A marketer edits the contact in Dotdigital (v3 PATCH: only the fields given)."""
    s = ws.emu.dd_session("uk")
    r = s.patch(f"{ws.emu.dd_endpoint}/contacts/v3/email/{email}", json={"dataFields": values})
    assert r.status_code == 200, r.text


def _lead(ws, email: str) -> dict[str, Any]:
    return ws.leads("Id, Email, FirstName, LastName, Company, Region__c, PostalCode, OwnerId")[
        email
    ]


def _set_sf(ws, email: str, **values: Any) -> None:
    """A salesperson edits the Lead in Salesforce."""
    ws.emu.salesforce().Lead.update(_lead(ws, email)["Id"], values)


def _linked(ws, kit, *people: tuple[str, dict[str, Any]]) -> None:
    """People signed up, became Leads, and one more sync found every pair in step."""
    for email, values in people:
        ws.add_member(email, values)
    first = ws.sync(code=(0,))
    assert first["totals"]["created"] == len(people)
    second = ws.sync(code=(0,))
    assert _changes(second) == {}, second["updates"]


def _changes(report: dict[str, Any]) -> dict[str, int]:
    keys = ("updated_in_salesforce", "updated_in_dotdigital", "conflicts", "update_failed")
    return {k: report["totals"][k] for k in keys if report["totals"][k]}


ADA = ("ada@example.com", {"FIRSTNAME": "Ada", "LASTNAME": "Lovelace", "COMPANY": "Engines", "REGION": "EMEA"})  # fmt: skip
ALAN = ("alan@example.com", {"FIRSTNAME": "Alan", "LASTNAME": "Turing", "COMPANY": "Bletchley", "REGION": "AMER"})  # fmt: skip


def test_two_way_change_in_dotdigital_reaches_the_lead_and_a_second_run_writes_nothing(
    workspace, kit
) -> None:
    ws = workspace()
    _linked(ws, kit, ADA, ALAN)
    _set_dd(ws, "ada@example.com", COMPANY="Analytical Engines Ltd")

    report = ws.sync(code=(0,))
    assert _changes(report) == {"updated_in_salesforce": 1}
    assert _lead(ws, "ada@example.com")["Company"] == "Analytical Engines Ltd"
    assert _lead(ws, "alan@example.com")["Company"] == "Bletchley"
    # the write is the new agreement: it does not bounce back, and nothing is written; the
    # idle run costs one Dotdigital read of the book and one Salesforce query for the updates
    ws.emu.reset_log()
    idle = ws.sync(code=(0,))
    assert _changes(idle) == {}
    assert ws.emu.requests_log("dotdigital")["counts"] == {
        "GET /v2/server-time": 1,  # the Lead step's
        "GET /contacts/v3": 2,  # the Lead step's read of the book, and the update step's
    }
    assert ws.emu.requests_log("salesforce")["counts"] == {
        "GET /services/data/v{version}/sobjects/{sobject}/describe": 1,  # Lead, once a run
        "GET /services/data/v{version}/queryAll": 1,  # Leads changed since the last run
    }


def test_two_way_change_in_salesforce_reaches_the_contact(workspace, kit) -> None:
    ws = workspace()
    _linked(ws, kit, ADA)
    _set_sf(ws, "ada@example.com", FirstName="Augusta Ada")

    report = ws.sync(code=(0,))
    assert _changes(report) == {"updated_in_dotdigital": 1}
    assert _contact(ws, "ada@example.com")["FIRSTNAME"] == "Augusta Ada"
    assert _changes(ws.sync(code=(0,))) == {}


def test_changed_on_both_sides_ends_with_the_salesforce_value_as_a_conflict(workspace, kit) -> None:
    ws = workspace()
    _linked(ws, kit, ADA)
    _set_dd(ws, "ada@example.com", COMPANY="Engines (Dotdigital)")
    _set_sf(ws, "ada@example.com", Company="Engines (Salesforce)")

    report = ws.sync(code=(0,))
    assert _changes(report) == {"updated_in_dotdigital": 1, "conflicts": 1}
    assert _lead(ws, "ada@example.com")["Company"] == "Engines (Salesforce)"
    assert _contact(ws, "ada@example.com")["COMPANY"] == "Engines (Salesforce)"
    listed = json.loads(ws.run("records", "--state", "conflict", "--json", check=(0,)).stdout)
    assert [(r["email"], r["field"], r["salesforce"], r["dotdigital"], r["winner"]) for r in listed] == [
        ("ada@example.com", "Company", "Engines (Salesforce)", "Engines (Dotdigital)", "salesforce")
    ]  # fmt: skip
    status = json.loads(ws.run("status", "--json", check=(0,)).stdout)
    [row] = status["updates"]
    assert (row["links"], row["outcomes"]) == ({"Lead": 1}, {"conflict": 1})
    assert (row["last_run"]["conflicts"], row["last_run"]["updated_in_dotdigital"]) == (1, 1)
    assert "field updates uk: 1 linked (1 Lead)" in ws.run("status", check=(0,)).stdout
    assert _changes(ws.sync(code=(0,))) == {}


def test_dotdigital_to_salesforce_field_changed_in_salesforce_stays_until_dotdigital_changes(
    workspace, kit
) -> None:
    ws = workspace()
    _linked(ws, kit, ADA)
    _set_sf(ws, "ada@example.com", LastName="King")  # LastName: dotdigital-to-salesforce

    report = ws.sync(code=(0,))
    assert _changes(report) == {}
    assert _lead(ws, "ada@example.com")["LastName"] == "King"  # left alone
    assert _contact(ws, "ada@example.com")["LASTNAME"] == "Lovelace"  # not copied back

    _set_dd(ws, "ada@example.com", LASTNAME="Lovelace-Byron")
    report = ws.sync(code=(0,))
    assert _changes(report) == {"updated_in_salesforce": 1}
    assert _lead(ws, "ada@example.com")["LastName"] == "Lovelace-Byron"


def test_salesforce_to_dotdigital_field_changed_in_dotdigital_is_reset(workspace, kit) -> None:
    ws = workspace()
    _linked(ws, kit, ADA)
    _set_sf(ws, "ada@example.com", PostalCode="N1 9GU")  # PostalCode: salesforce-to-dotdigital
    assert _changes(ws.sync(code=(0,))) == {"updated_in_dotdigital": 1}
    assert _contact(ws, "ada@example.com")["POSTCODE"] == "N1 9GU"

    _set_dd(ws, "ada@example.com", POSTCODE="SW1A 1AA")
    report = ws.sync(code=(0,))
    assert _changes(report) == {"updated_in_dotdigital": 1}
    assert _contact(ws, "ada@example.com")["POSTCODE"] == "N1 9GU"
    assert _lead(ws, "ada@example.com")["PostalCode"] == "N1 9GU"


def test_blank_required_field_is_skipped_and_a_refused_value_fails_only_that_update(
    workspace, kit
) -> None:
    ws = workspace()
    _linked(ws, kit, ADA, ALAN)
    _set_dd(ws, "ada@example.com", COMPANY="")  # Company: required by Salesforce
    _set_dd(ws, "alan@example.com", REGION="Mars", FIRSTNAME="Alan M.")  # restricted picklist

    report = ws.sync(code=(4,))  # a refused value needs a person: exit 4, as a failed record
    totals = report["totals"]
    assert (totals["update_skipped"], totals["update_failed"]) == (1, 1)
    assert totals["updated_in_salesforce"] == 1  # Alan's first name still went through
    ada, alan = _lead(ws, "ada@example.com"), _lead(ws, "alan@example.com")
    assert ada["Company"] == "Engines"
    assert (alan["Region__c"], alan["FirstName"]) == ("AMER", "Alan M.")
    listed = json.loads(ws.run("records", "--state", "update_failed", "--json", check=(0,)).stdout)
    assert [(r["email"], r["field"], r["dotdigital"], r["code"]) for r in listed] == [
        ("alan@example.com", "Region__c", "Mars", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")
    ]
    # not retried while nothing changes
    assert _changes(ws.sync(code=(0, 4))) == {}


def test_dry_run_previews_updates_and_writes_nothing(workspace, kit) -> None:
    ws = workspace()
    _linked(ws, kit, ADA)
    _set_dd(ws, "ada@example.com", COMPANY="Preview Co")
    _set_sf(ws, "ada@example.com", FirstName="Augusta")

    preview = ws.sync("--dry-run", code=(0,))
    assert _changes(preview) == {"updated_in_salesforce": 1, "updated_in_dotdigital": 1}
    [row] = preview["updates"]
    samples = {(s["side"], s["field"], s["before"], s["after"]) for s in row["samples"]}
    assert samples == {
        ("salesforce", "Company", "Engines", "Preview Co"),
        ("dotdigital", "FIRSTNAME", "Ada", "Augusta"),
    }
    assert _lead(ws, "ada@example.com")["Company"] == "Engines"
    assert _contact(ws, "ada@example.com")["FIRSTNAME"] == "Ada"
    real = ws.sync(code=(0,))
    assert _changes(real) == _changes(preview)


def test_deleted_lead_unlinks_the_pair(workspace, kit) -> None:
    ws = workspace()
    _linked(ws, kit, ADA)
    ws.emu.salesforce().Lead.delete(_lead(ws, "ada@example.com")["Id"])
    report = ws.sync(code=(0,))
    assert report["totals"]["unlinked"] == 1
    assert ws.state_rows("SELECT state FROM links WHERE email = 'ada@example.com'") == [
        ("unlinked",)
    ]
    _set_dd(ws, "ada@example.com", COMPANY="After the delete")
    assert _changes(ws.sync(code=(0,))) == {}


@pytest.mark.parametrize(
    ("service", "method", "regex"),
    [
        ("salesforce", "PATCH", r"/composite/sobjects$"),
        ("dotdigital", "PUT", r"/contacts/v3/import$"),
    ],
)
def test_sigkill_mid_update_then_rerun_leaves_the_right_values(
    workspace, kit, service, method, regex
) -> None:
    ws = workspace()
    _linked(ws, kit, ADA, ALAN)
    _set_dd(ws, "ada@example.com", COMPANY="Killed Co")
    _set_sf(ws, "alan@example.com", FirstName="Alan M.")
    ws.emu.reset_log()
    kit.kill_while_held(ws, service=service, method=method, regex=regex)
    kit.release_held(ws, service=service, method=method, regex=regex)

    ws.sync(code=(0,))
    assert _lead(ws, "ada@example.com")["Company"] == "Killed Co"
    assert _contact(ws, "alan@example.com")["FIRSTNAME"] == "Alan M."
    assert _lead(ws, "alan@example.com")["FirstName"] == "Alan M."
    assert _changes(ws.sync(code=(0,))) == {}


CONTACT_MAPPING = [
    ("FirstName", "FIRSTNAME", "two-way"),
    ("LastName", "LASTNAME", "dotdigital-to-salesforce"),
    ("Title", "COMPANY", "two-way"),  # a Contact has no Company: another field, same datafield
]


def test_converted_lead_flows_through_its_contact_with_the_contact_mapping(workspace, kit) -> None:
    ws = workspace(config=kit.config_yaml(contact_mapping=CONTACT_MAPPING))
    _linked(ws, kit, ADA)
    lead_id = _lead(ws, "ada@example.com")["Id"]
    converted = ws.emu.control("salesforce", "POST", f"/__emulator/leads/{lead_id}/convert")
    assert converted.status_code == 200, converted.text
    contact_id = converted.json()["contactId"]

    report = ws.sync(code=(0,))
    assert report["totals"]["converted"] == 1
    assert ws.state_rows("SELECT sobject, record_id, state FROM links") == [
        ("Contact", contact_id, "linked")
    ]
    # COMPANY moves from Lead.Company to Contact.Title: no agreement with Title yet, so the
    # empty side is filled (nothing is blanked); FirstName kept its base across the conversion
    assert _changes(report) == {"updated_in_salesforce": 1}
    assert ws.emu.salesforce().Contact.get(contact_id)["Title"] == "Engines"
    assert _contact(ws, "ada@example.com")["COMPANY"] == "Engines"

    # from now on the Contact is kept in step; the converted Lead is never written again
    _set_dd(ws, "ada@example.com", FIRSTNAME="Augusta", COMPANY="Countess")
    report = ws.sync(code=(0,))
    assert _changes(report) == {"updated_in_salesforce": 1}
    sf = ws.emu.salesforce()
    contact = sf.Contact.get(contact_id)
    assert (contact["FirstName"], contact["Title"]) == ("Augusta", "Countess")
    assert sf.Lead.get(lead_id)["FirstName"] == "Ada"
    sf.Contact.update(contact_id, {"FirstName": "Ada Augusta"})
    assert _changes(ws.sync(code=(0,))) == {"updated_in_dotdigital": 1}
    assert _contact(ws, "ada@example.com")["FIRSTNAME"] == "Ada Augusta"


def test_a_person_the_push_wrote_is_kept_in_step_both_ways(workspace, kit) -> None:
    """Members a Campaign pushed into a book are linked too: a two-way field changed in
    Dotdigital reaches their Lead (the push alone only writes Salesforce -> Dotdigital)."""
    seed = copy.deepcopy(kit.BASE_SEED)
    seed["dotdigital"]["accounts"][0]["address_books"].append({"name": "Invitees", "contacts": []})
    records = seed["salesforce"]["records"]
    records["Campaign"].append({"Name": "Customer Day"})
    records["Lead"].append(
        {"FirstName": "Ann", "LastName": "Lee", "Company": "Acme", "Email": "ann@example.com",
         "Region__c": "EMEA"}
    )  # fmt: skip
    push_book = {"name": "Invitees", "campaign": "Customer Day", "push_campaign_members": True}
    ws = workspace(seed=seed, config=kit.config_yaml(books=[push_book]))
    sf = ws.emu.salesforce()
    campaign = ws.query("SELECT Id FROM Campaign WHERE Name = 'Customer Day'")[0]["Id"]
    sf.CampaignMember.create({"CampaignId": campaign, "LeadId": _lead(ws, "ann@example.com")["Id"]})
    first = ws.sync(code=(0,))
    assert first["push"][0]["added"] == 1 and first["totals"]["linked"] == 1
    assert _contact(ws, "ann@example.com")["FIRSTNAME"] == "Ann"

    _set_dd(ws, "ann@example.com", FIRSTNAME="Annie")
    report = ws.sync(code=(0,))
    assert _changes(report) == {"updated_in_salesforce": 1}
    assert _lead(ws, "ann@example.com")["FirstName"] == "Annie"
    assert _changes(ws.sync(code=(0,))) == {}


def test_the_salesforce_mark_is_the_time_salesforce_answered_not_the_newest_record(
    workspace, kit
) -> None:
    """A read of what changed starts where the last one's answer was dated (less the overlap),
    so the records of a burst are not read again run after run while nothing newer happens.
    (The org's records are stamped an hour back here; Salesforce's answers are dated now.)"""
    ws = workspace()
    ws.emu.control("salesforce", "POST", "/__emulator/clock", {"offset_seconds": -3600})
    grace = ws.query("SELECT Id FROM Lead")[0]["Id"]  # the seeded Lead, stamped an hour back too
    ws.emu.salesforce().Lead.update(grace, {"Title": "Rear Admiral"})
    _linked(ws, kit, ADA)
    [(mark,)] = ws.state_rows("SELECT value FROM update_marks WHERE source = 'salesforce:Lead'")
    newest = ws.query("SELECT SystemModstamp FROM Lead ORDER BY SystemModstamp DESC LIMIT 1")
    gap = _when(mark) - _when(newest[0]["SystemModstamp"])
    assert gap.total_seconds() > 1800, (mark, newest)


def _when(text: str):
    from datetime import datetime

    text = text.replace("Z", "+00:00")
    if text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    return datetime.fromisoformat(text)


def test_an_update_batch_refused_as_a_whole_is_split_until_the_bad_record_fails_alone(
    workspace, kit
) -> None:
    """Field updates share the Lead writes' rule (sync/halving.py): a Collections update that
    Salesforce refuses as a whole for one record's content is halved until that record is
    alone; it fails by itself and the other Lead is updated."""
    ws = workspace()
    _linked(ws, kit, ADA, ALAN)
    _set_dd(ws, ADA[0], FIRSTNAME="Augusta")
    _set_dd(ws, ALAN[0], FIRSTNAME="Alan M.")
    refused = [{"message": "Cannot deserialize instance of date", "errorCode": "JSON_PARSER_ERROR"}]
    ws.emu.inject_fault(
        "salesforce",
        method="PATCH",
        path_regex="composite/sobjects$",
        status=400,
        body=refused,
        times=2,
    )
    report = ws.sync(code=(4,))
    assert _changes(report) == {"updated_in_salesforce": 1, "update_failed": 1}, report["updates"]
    names = {_lead(ws, e)["FirstName"] for e in (ADA[0], ALAN[0])}
    assert names in ({"Augusta", "Alan"}, {"Ada", "Alan M."})
