"""`leadsync init` then validate, fmt, plan, apply and sync, as a team adopting leadsync would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

BOOK = "Spring Webinar 2026"


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def test_init_then_validate_plan_apply_sync_creates_leads(init_workspace: Any) -> None:
    ws = init_workspace()
    done = ws.run("init")
    assert "Wrote leadsync.yaml" in done.stderr and done.stdout == ""
    text = ws.config.read_text()
    assert text.startswith("# yaml-language-server: $schema=./schema/leadsync.schema.json\n")

    checked = ws.run("validate")  # everything required matched: no errors at all
    assert " error " not in checked.stdout, checked.stdout
    ws.run("fmt", "--check")

    data = _load(ws.config)
    schema = json.loads(ws.run("schema").stdout)  # what an editor does with the $schema line
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(data)) == []
    assert data["state"] == {"backend": "sqlite", "path": ".leadsync/state.db"}
    assert data["defaults"]["lead_status"] == "Open - Not Contacted"  # the org's default
    uk = data["accounts"]["uk"]
    assert uk["dotdigital"] == {
        "endpoint": "${DD_UK_ENDPOINT}",
        "username": "${DD_UK_USERNAME}",
        "password": "${DD_UK_PASSWORD}",
    }
    rows = {r["salesforce"]: r["datafield"] for r in uk["lead_mapping"]}
    assert rows == {
        "FirstName": "FIRSTNAME",
        "LastName": "LASTNAME",
        "Company": "COMPANY",
        "Region__c": "REGION",  # org-required custom field, matched without its __c
        "MobilePhone": "MOBILE_PHONE",
        "PostalCode": "POSTCODE",  # Dotdigital's own name
        "Title": "JOBTITLE",
    }
    assert {r["direction"] for r in uk["lead_mapping"]} == {"dotdigital-to-salesforce"}
    books = {b["name"]: b for b in uk["address_books"]}
    # raw YAML: $${ is how a literal ${ is written, so the name is never interpolated (plan
    # below finds every listed book by its name)
    assert set(books) == {BOOK, "spring launch", "Promo $${HOME} list", "Newsletter"}
    assert all(b["create_leads"] is False for b in books.values())
    assert books[BOOK]["campaign"] == BOOK
    assert "campaign" not in books["spring launch"]
    assert "# campaign: Spring Launch" in text  # the suggestion, commented out
    assert f"- name: {BOOK}  # 1 member" in text

    ws.enable(BOOK)
    plan = ws.run("plan", "--json")
    changes = json.loads(plan.stdout)["resource_changes"]
    assert any(c["address"] == f'account.uk.address_book["{BOOK}"]' for c in changes)
    ws.run("apply", "--auto-approve")
    member = {
        "email": "new.lead@example.com",
        "optInType": "Single",
        "emailType": "Html",
        "dataFields": [
            {"key": "FIRSTNAME", "value": "Nia"},
            {"key": "LASTNAME", "value": "New"},
            {"key": "COMPANY", "value": "Acme"},
            {"key": "REGION", "value": "APAC"},
            {"key": "JOBTITLE", "value": "CTO"},
        ],
    }
    session = ws.emu.dd_session("uk")
    book_id = next(
        b["id"]
        for b in session.get(f"{ws.emu.dd_endpoint}/v2/address-books").json()
        if b["name"] == BOOK
    )
    added = session.post(f"{ws.emu.dd_endpoint}/v2/address-books/{book_id}/contacts", json=member)
    assert added.status_code in (200, 201), added.text
    report = json.loads(ws.run("sync", "--json").stdout)
    assert report["totals"]["created"] == 1, report
    sf = ws.emu.salesforce()
    leads = sf.query_all(
        "SELECT Id, Status, Title, Region__c FROM Lead WHERE Email = 'new.lead@example.com'"
    )["records"]
    assert [(r["Status"], r["Title"], r["Region__c"]) for r in leads] == [
        ("Open - Not Contacted", "CTO", "APAC")
    ]
    members = sf.query_all(f"SELECT LeadId FROM CampaignMember WHERE LeadId = '{leads[0]['Id']}'")
    assert members["totalSize"] == 1


def test_output_is_byte_identical_and_stdout_matches_the_file(init_workspace: Any) -> None:
    ws = init_workspace()
    first = ws.run("init", "--out", "-").stdout
    second = ws.run("init", "--out", "-").stdout
    assert first == second
    ws.run("init")
    assert ws.config.read_text() == first


def test_unmatched_required_field_is_a_todo_row_that_validate_names(
    init_workspace: Any, seed: dict[str, Any]
) -> None:
    seed["salesforce"]["lead_fields"].append(
        {"name": "Segment__c", "type": "string", "required": True}
    )
    ws = init_workspace(seed)
    ws.run("init")
    text = ws.config.read_text()
    row = next(line for line in text.split("\n") if "salesforce: Segment__c" in line)
    assert "datafield: TODO" in row and "required by the org, no datafield matched" in row
    line_no = text.split("\n").index(row) + 1

    checked = ws.run("validate", code=1)
    errors = [line for line in checked.stdout.splitlines() if " error " in line]
    assert len(errors) == 1, checked.stdout
    assert errors[0].startswith(f"leadsync.yaml:{line_no}:")
    assert "LS110" in errors[0] and "Segment__c" in errors[0]
    ws.run("fmt", "--check")


def test_generated_file_and_output_hold_no_secret(init_workspace: Any, secrets: Any) -> None:
    for auth in ("access_token", "password"):
        ws = init_workspace()
        if auth == "password":
            ws.password_auth()
        ws.config.unlink(missing_ok=True)
        done = ws.run("init", "-v")  # -v: every request logged on stderr, still no secret
        shown = ws.run("init", "--out", "-")
        everything = ws.config.read_text() + done.stdout + done.stderr + shown.stdout + shown.stderr
        for name, value in secrets.items():
            assert value not in everything, f"{name} leaked ({auth} auth)"
        data = _load(ws.config)
        refs = data["salesforce"]["auth"]
        assert all(v.startswith("${") and v.endswith("}") for v in refs.values()), refs
        assert data["salesforce"]["ca_bundle"] == "${SF_CA_BUNDLE:-}"
        ws.run("validate")
        ws.run("plan")  # the file connects with the same variables init did


def test_password_auth_form_is_written_from_the_environment(init_workspace: Any) -> None:
    ws = init_workspace()
    ws.password_auth()
    ws.run("init")
    assert _load(ws.config)["salesforce"]["auth"] == {
        "username": "${SF_USERNAME}",
        "password": "${SF_PASSWORD}",
        "security_token": "${SF_SECURITY_TOKEN}",
        "consumer_key": "${SF_CONSUMER_KEY}",
        "consumer_secret": "${SF_CONSUMER_SECRET}",
        "login_url": "${SF_LOGIN_URL}",
    }


def test_refuses_to_overwrite_without_force(init_workspace: Any) -> None:
    ws = init_workspace()
    ws.config.write_text("# mine\n")
    refused = ws.run("init", code=1)
    assert refused.stderr == (
        "error: leadsync.yaml exists; pass --force to replace it (or --out another file)\n"
    )
    assert ws.config.read_text() == "# mine\n"
    assert ws.requests("salesforce") == [] and ws.requests("dotdigital") == []
    ws.run("init", "--force")
    assert "version: 1" in ws.config.read_text()
    nowhere = ws.run("init", "--out", "missing/leadsync.yaml", code=1)
    assert nowhere.stderr == (
        "error: --out missing/leadsync.yaml: directory missing does not exist\n"
    )


def test_missing_variable_is_named_in_one_line_and_nothing_is_written(
    init_workspace: Any,
) -> None:
    ws = init_workspace()
    del ws.env["DD_UK_PASSWORD"]
    failed = ws.run("init", code=1)
    assert failed.stderr == "error: DD_UK_PASSWORD is not set (Dotdigital account 'uk')\n"
    unknown = ws.run("init", "--account", "uk", "--account", "fr", code=1)
    assert unknown.stderr == (
        "error: DD_UK_PASSWORD is not set (Dotdigital account 'uk'); no credentials for "
        "Dotdigital account 'fr' in the environment: set DD_FR_USERNAME, DD_FR_PASSWORD and "
        "DD_FR_ENDPOINT (or DD_FR_REGION)\n"
    )
    ws.env["DD_UK_PASSWORD"] = "x"
    ws.env["SF_INSTANCE_URL"] = "org-7731.example"  # checked as validate checks it
    bad_url = ws.run("init", code=1)
    assert bad_url.stderr.startswith("error: the environment cannot be used: SF_INSTANCE_URL: ")
    assert "org-7731" not in bad_url.stderr  # a variable's value is never shown
    del ws.env["SF_ACCESS_TOKEN"], ws.env["SF_PASSWORD"], ws.env["SF_USERNAME"]
    no_sf = ws.run("init", code=1)
    assert no_sf.stderr.startswith("error: no Salesforce credentials in the environment: set ")
    assert list(ws.root.iterdir()) == []


def test_failed_read_leaves_no_file_behind(init_workspace: Any) -> None:
    ws = init_workspace()
    ws.emu.inject_fault("salesforce", method="GET", path_regex="describe", status=401, times=1)
    expired = ws.run("init", code=1)
    assert expired.stderr.startswith("error: Salesforce: describe Lead: session invalid")
    assert "SF_ACCESS_TOKEN" in expired.stderr
    ws.env["DD_UK_PASSWORD"] = "not-the-password"
    refused = ws.run("init", code=1)
    assert "DD_UK_PASSWORD" in refused.stderr and "not-the-password" not in refused.stderr
    assert list(ws.root.iterdir()) == []  # no file, no temp file


def test_one_block_per_account(init_workspace: Any, seed: dict[str, Any]) -> None:
    us = {
        "name": "us",
        "username": "apiuser-us@apiconnector.com",
        "password": "us-password",
        "datafields": [{"name": "COMPANY_NAME", "type": "String"}],
        "address_books": [{"name": "US trade show", "contacts": []}],
    }
    seed["dotdigital"]["accounts"].append(us)
    ws = init_workspace(seed)
    ws.run("init", "--account", "us", "--account", "uk")
    accounts = _load(ws.config)["accounts"]
    assert list(accounts) == ["us", "uk"]
    assert accounts["us"]["dotdigital"]["password"] == "${DD_US_PASSWORD}"
    us_rows = {r["salesforce"]: r["datafield"] for r in accounts["us"]["lead_mapping"]}
    # no REGION datafield in this account: the org-required field is left to decide
    assert us_rows == {
        "FirstName": "FIRSTNAME",
        "LastName": "LASTNAME",
        "Company": "COMPANY_NAME",
        "Region__c": "TODO",
        "PostalCode": "POSTCODE",
    }
    assert [b["name"] for b in accounts["us"]["address_books"]] == ["US trade show"]
    ws.run("init", "--force")  # no --account: every DD_<NAME>_USERNAME in the environment
    assert list(_load(ws.config)["accounts"]) == ["uk", "us"]


def test_postgres_state_block(init_workspace: Any) -> None:
    ws = init_workspace()
    ws.run("init", "--state", "postgres")
    state = _load(ws.config)["state"]
    assert state == {"backend": "postgres", "dsn": "${LEADSYNC_STATE_DSN}", "schema": "leadsync"}
    ws.env["LEADSYNC_STATE_DSN"] = "postgresql://leadsync@127.0.0.1:1/leadsync"
    ws.run("validate")
    ws.run("fmt", "--check")


def test_call_budget_whatever_the_size(init_workspace: Any, seed: dict[str, Any]) -> None:
    """2,100 address books, 1,200 Campaigns named like them, 300 more: 3 Dotdigital calls and
    6 Salesforce calls (password auth, so the login is one of them)."""
    books = [{"name": f"Book {n:04d}", "contacts": []} for n in range(2100)]
    seed["dotdigital"]["accounts"][0]["address_books"] += books
    campaigns = [{"Name": f"Book {n:04d}"} for n in range(1200)]
    campaigns += [{"Name": f"Other {n:04d}"} for n in range(300)]
    seed["salesforce"]["records"]["Campaign"] += campaigns
    ws = init_workspace(seed)
    ws.password_auth()
    ws.emu.reset_log()
    done = ws.run("init")
    assert len(ws.requests("dotdigital")) == 3
    assert len(ws.requests("salesforce")) == 6
    assert "read with 3 Dotdigital calls and 6 Salesforce calls" in done.stderr
    text = ws.config.read_text()
    assert "# only the first 2,000 address books are listed" in text
    data = _load(ws.config)
    listed = data["accounts"]["uk"]["address_books"]
    assert len(listed) == 2000
    linked = [b for b in listed if b.get("campaign")]
    # 1,200 "Book" Campaigns + Spring Webinar 2026: the five name queries find 1,000 of them,
    # the one query of recent Campaigns the rest
    assert len(linked) == 1201
    assert all(b["campaign"] == b["name"] for b in linked)
    ws.run("validate")
