"""End-to-end: `leadsync sync` against the emulators; assertions on what Salesforce holds."""

from __future__ import annotations

import copy


def test_happy_path_with_campaign_then_nothing_twice_then_later_member(workspace, kit) -> None:
    """Done-when 1 and 2."""
    ws = workspace()
    ws.add_member("ada@example.com", kit.member("Ada", "Lovelace", "Engines", POSTCODE="N1 9GU"))
    ws.add_member("alan@example.com", kit.member("Alan", "Turing", "Bletchley", "AMER"))

    report = ws.sync(code=(0,))
    book = report["books"][0]
    assert (book["seen"], book["created"], book["campaign_members_added"]) == (2, 2, 2)
    assert report["applied_serial"] == 1 and report["run_id"]
    assert report["api_calls"]["salesforce"] > 0 and report["api_calls"]["dotdigital"] > 0

    leads = ws.leads()
    ada = leads["ada@example.com"]
    assert (ada["FirstName"], ada["LastName"], ada["Company"], ada["Status"], ada["Region__c"]) == (
        "Ada",
        "Lovelace",
        "Engines",
        "New",
        "EMEA",
    )
    assert ada["PostalCode"] is None  # salesforce-to-dotdigital: never written
    assert "before@example.com" not in leads  # baseline member: not converted
    members = ws.campaign_members()
    assert {m["LeadId"] for m in members} == {ada["Id"], leads["alan@example.com"]["Id"]}
    assert {m["Status"] for m in members} == {"Sent"}

    # 2: a second run creates nothing
    again = ws.sync(code=(0,))
    assert again["totals"]["created"] == 0 and again["totals"]["seen"] == 0
    assert len(ws.leads()) == 3 and len(ws.campaign_members()) == 2

    # ... and a member added later is created by the next run
    ws.add_member("later@example.com", kit.member("Late", "Comer", "After Co"))
    third = ws.sync(code=(0,))
    assert third["totals"]["created"] == 1
    assert "later@example.com" in ws.leads() and len(ws.campaign_members()) == 3


def test_missing_company_is_skipped_then_created_once_filled_in(workspace, kit) -> None:
    """Done-when 3."""
    ws = workspace()
    ws.add_member("linus@example.com", kit.member("Linus", "Chen", None))
    report = ws.sync(code=(4,))
    book = report["books"][0]
    assert (book["skipped_missing_fields"], book["created"]) == (1, 0)
    assert book["reasons"] == {"MISSING_FIELDS": 1}
    assert "linus@example.com" not in ws.leads()
    rows = ws.state_rows(
        "SELECT state, reason_code, reason FROM ledger WHERE email = 'linus@example.com'"
    )
    assert rows[0][0] == "skipped" and rows[0][1] == "MISSING_FIELDS" and "Company" in rows[0][2]

    # unchanged: not retried, not counted again
    assert ws.sync(code=(0,))["totals"]["seen"] == 0

    # the value is filled in through the Dotdigital API (no re-joining needed)
    ws.add_member("linus@example.com", kit.member("Linus", "Chen", "Kernel Ltd"))
    later = ws.sync(code=(0,))
    assert later["totals"]["created"] == 1
    assert ws.leads()["linus@example.com"]["Company"] == "Kernel Ltd"


def test_existing_lead_and_contact_in_other_case_excluded_quotes_and_unicode_intact(
    workspace, kit
) -> None:
    """Done-when 4 (Collections path; the bulk path is covered in the volume test)."""
    ws = workspace()
    ws.add_member("GRACE@Example.com", kit.member("Grace", "Hopper", "Navy", "AMER"))
    ws.add_member("  Old@EXAMPLE.com ", kit.member("Old", "Contact", "Co"))
    ws.add_member(
        "o'brien@example.com", kit.member("Siobhán", "Ó Briain", 'Ceol "Teo", Ltd', "EMEA")
    )
    report = ws.sync(code=(0,))
    book = report["books"][0]
    assert (book["excluded_existing"], book["created"]) == (2, 1)
    assert book["reasons"] == {"EXISTING_CONTACT": 1, "EXISTING_LEAD": 1}
    grace_id = ws.query("SELECT Id FROM Lead WHERE Email = 'grace@example.com'")[0]["Id"]
    contact_id = ws.query("SELECT Id FROM Contact WHERE Email = 'old@example.com'")[0]["Id"]
    matched = dict(ws.state_rows("SELECT email, matched_id FROM ledger WHERE state = 'excluded'"))
    assert matched == {"grace@example.com": grace_id, "old@example.com": contact_id}
    leads = ws.leads()
    obrien = leads["o'brien@example.com"]
    assert (obrien["FirstName"], obrien["LastName"], obrien["Company"]) == (
        "Siobhán",
        "Ó Briain",
        'Ceol "Teo", Ltd',
    )
    assert len(leads) == 2  # grace (seeded) + o'brien: no twin of the excluded ones


def test_unapplied_edits_warn_and_the_applied_mapping_is_used(workspace, kit) -> None:
    """Done-when 10."""
    ws = workspace()
    # Edit leadsync.yaml without applying: FirstName now comes from FULLNAME.
    edited = [
        ("FirstName", "FULLNAME", "two-way") if r[0] == "FirstName" else r for r in kit.MAPPING
    ]
    ws.write_config(kit.config_yaml(mapping=edited))
    ws.add_member("ada@example.com", kit.member("Ada", "Lovelace", "Engines", FULLNAME="Ada L."))
    report = ws.sync(code=(0,))
    assert "differs from the applied state (serial 1)" in report["_stderr"]
    assert report["config_differs"] is True
    assert ws.leads()["ada@example.com"]["FirstName"] == "Ada"  # the applied mapping wrote it


def test_dry_run_changes_nothing_anywhere(workspace, kit) -> None:
    """Done-when 11."""
    ws = workspace()
    ws.add_member("ada@example.com", kit.member("Ada", "Lovelace", "Engines"))
    ws.add_member("linus@example.com", kit.member("Linus", "Chen", None))
    ws.add_member("grace@example.com", kit.member("Grace", "Hopper", "Navy"))
    ws.add_member("bad@example.com", kit.member("Bad", "Region", "Co", "Mars"))
    before_db = ws.state_db.read_bytes()
    ledger_before = ws.state_rows("SELECT * FROM ledger ORDER BY contact_id")
    watermarks_before = ws.state_rows("SELECT * FROM watermarks")
    runs_before = ws.state_rows("SELECT COUNT(*) FROM runs")
    leads_before = ws.leads()
    ws.emu.reset_log()

    proc = ws.run("sync", "-c", "leadsync.yaml", "--dry-run", check=(4,))
    assert "would create" in proc.stdout and "ada@example.com" in proc.stdout
    assert "missing Company" in proc.stdout and "linus@example.com" in proc.stdout
    assert "grace@example.com" in proc.stdout and "Mars" in proc.stdout

    report = ws.sync("--dry-run", code=(4,))
    book = report["books"][0]
    assert (
        book["created"],
        book["excluded_existing"],
        book["skipped_missing_fields"],
        book["failed"],
    ) == (1, 1, 1, 1)
    assert book["samples"]["created"][0]["email"] == "ada@example.com"

    # nothing written: Salesforce saw only reads, the state is byte-for-byte the same
    sf_log = ws.emu.requests_log("salesforce")["requests"]
    assert sf_log and all(r["method"] == "GET" for r in sf_log), sf_log
    dd_log = ws.emu.requests_log("dotdigital")["requests"]
    assert all(r["method"] == "GET" for r in dd_log)
    assert ws.leads() == leads_before
    assert ws.state_rows("SELECT * FROM ledger ORDER BY contact_id") == ledger_before
    assert ws.state_rows("SELECT * FROM watermarks") == watermarks_before
    assert ws.state_rows("SELECT COUNT(*) FROM runs") == runs_before
    assert ws.state_db.read_bytes() == before_db

    # and the real run then does what the dry run said
    real = ws.sync(code=(4,))
    assert real["books"][0]["created"] == 1 and real["books"][0]["excluded_existing"] == 1


def test_restricted_picklist_violations_fail_alone_required_custom_field_written(
    workspace, kit
) -> None:
    """Done-when 5: Region__c is org-required and restricted; mapped, it is carried; bad values
    fail just those records (and a member without it is skipped, naming it)."""
    ws = workspace()
    ws.add_member("ok1@example.com", kit.member("Ok", "One", "A", "APAC"))
    ws.add_member(
        "ok2@example.com", kit.member("Ok", "Two", "B", "amer")
    )  # case: mapped to API value
    ws.add_member("bad@example.com", kit.member("Bad", "Value", "C", "Atlantis"))
    ws.add_member("none@example.com", {"FIRSTNAME": "No", "LASTNAME": "Region", "COMPANY": "D"})
    report = ws.sync(code=(4,))
    book = report["books"][0]
    assert (book["created"], book["failed"], book["skipped_missing_fields"]) == (2, 1, 1)
    leads = ws.leads()
    assert leads["ok1@example.com"]["Region__c"] == "APAC"
    assert leads["ok2@example.com"]["Region__c"] == "AMER"
    assert "bad@example.com" not in leads and "none@example.com" not in leads
    failed = ws.state_rows("SELECT reason_code, fields, reason FROM ledger WHERE state = 'failed'")
    assert failed[0][0] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert "Region__c" in failed[0][1] and "Atlantis" in failed[0][2]
    skipped = ws.state_rows("SELECT reason FROM ledger WHERE state = 'skipped'")
    assert "Region__c" in skipped[0][0]


def test_duplicates_detected_is_excluded_with_the_matched_record(workspace, kit) -> None:
    """A duplicate rule that catches what the email check could not (e.g. a fuzzy rule)."""
    seed = copy.deepcopy(kit.BASE_SEED)
    ws = workspace(seed=seed)
    ws.add_member("twin@example.com", kit.member("Twin", "One", "A"))
    ws.add_member("fine@example.com", kit.member("Fine", "Two", "B"))
    grace_id = ws.query("SELECT Id FROM Lead WHERE Email = 'grace@example.com'")[0]["Id"]
    duplicate = {
        "success": False,
        "errors": [
            {
                "statusCode": "DUPLICATES_DETECTED",
                "message": "Use one of these records?",
                "fields": [],
                "duplicateResult": {
                    "allowSave": False,
                    "duplicateRule": "Standard_Rule_for_Leads",
                    "matchResults": [{"matchRecords": [{"record": {"Id": grace_id}}]}],
                },
            }
        ],
    }
    ws.emu.inject_fault(
        "salesforce",
        method="POST",
        path_regex="composite/sobjects$",
        status=200,
        body=[
            duplicate,
            {
                "id": "00Q000000000000AAA",
                "success": False,
                "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message": "locked", "fields": []}],
            },
        ],
        times=1,
    )
    report = ws.sync(code=(0, 4))
    book = report["books"][0]
    assert book["excluded_existing"] == 1 and book["reasons"].get("DUPLICATES_DETECTED") == 1
    rows = dict(
        ws.state_rows(
            "SELECT email, matched_id FROM ledger WHERE reason_code = 'DUPLICATES_DETECTED'"
        )
    )
    assert rows == {"twin@example.com": grace_id}
    # the locked one was retried (by the client within the call, or left pending for the next run)
    if book["pending"]:
        ws.sync(code=(0, 4))
    assert "fine@example.com" in ws.leads() and "twin@example.com" not in ws.leads()
