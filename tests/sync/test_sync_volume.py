"""Done-when 6 (and 4 on the bulk path): 500 members through sObject Collections, 5,000 through
Bulk API 2.0, proven by the Salesforce emulator's request log, with per-record failures."""

from __future__ import annotations


def _count(log: dict, method: str, fragment: str) -> int:
    # By literal path: the results kind (successfulResults, ...) is a route parameter.
    counts = log["counts_by_path"]
    return sum(n for key, n in counts.items() if key.startswith(method + " ") and fragment in key)


def test_collections_below_threshold_bulk_above_with_per_record_failures(workspace, kit) -> None:
    books = [
        {"name": "Webinar signups", "create_leads": True, "campaign": "Spring Webinar 2026"},
        {"name": "Big list", "create_leads": True},
    ]
    ws = workspace(config=kit.config_yaml(books=books))
    ws.generate(
        "Webinar signups",
        {
            "count": 500,
            "email": "small{n}@example.com",
            "datafields": {
                "FIRSTNAME": "Small{n}",
                "LASTNAME": "Member",
                "COMPANY": "Co {n}",
                "REGION": "EMEA",
            },
        },
    )
    ws.generate(
        "Big list",
        {
            "count": 5000,
            "email": "big{n}@example.com",
            "datafields": {
                "FIRSTNAME": "Big{n}",
                "LASTNAME": "Member",
                "COMPANY": "Co {n}",
                "REGION": "APAC",
            },
            "missing_share": 0.01,
            "missing": ["COMPANY"],
        },
    )
    # Through the bulk path: quotes, commas, newlines and non-ASCII letters intact; an email
    # Dotdigital accepts but Salesforce refuses fails alone, with Salesforce's code.
    ws.add_member(
        "o'brien@example.com",
        kit.member("Siobhán", "Ó Briain", 'Ceol "Teo", Ltd\nBéal Feirste', "EMEA"),
        book="Big list",
    )
    ws.add_member("josé@example.com", kit.member("José", "Núñez", "Café", "AMER"), book="Big list")
    ws.emu.reset_log("salesforce")

    report = ws.sync(code=(4,))
    small, big = sorted(report["books"], key=lambda b: b["book"] != "Webinar signups")
    assert (small["seen"], small["created"], small["campaign_members_added"]) == (500, 500, 500)
    skipped = big["skipped_missing_fields"]
    assert 0 < skipped < 150
    assert big["seen"] == 5002
    assert big["failed"] == 1 and big["reasons"]["INVALID_EMAIL_ADDRESS"] == 1
    assert big["created"] == 5002 - skipped - 1

    log = ws.emu.requests_log("salesforce")
    # 500 Leads + 500 CampaignMembers through Collections: 200 a call
    assert _count(log, "POST", "composite/sobjects") == 6
    # 5,000 Leads through one Bulk API 2.0 ingest job, results read back
    assert _count(log, "POST", "jobs/ingest") == 1
    assert _count(log, "PUT", "/batches") == 1
    assert _count(log, "GET", "successfulResults") >= 1
    assert _count(log, "GET", "failedResults") >= 1

    leads = ws.leads()
    assert len(leads) == 1 + 500 + 5002 - skipped - 1  # + the seeded grace@
    obrien = leads["o'brien@example.com"]
    assert (obrien["FirstName"], obrien["LastName"], obrien["Company"]) == (
        "Siobhán",
        "Ó Briain",
        'Ceol "Teo", Ltd\nBéal Feirste',
    )
    assert leads["big4999@example.com"]["FirstName"] == "Big4999"
    failed = ws.state_rows("SELECT email, reason_code, fields FROM ledger WHERE state = 'failed'")
    assert failed == [("josé@example.com", "INVALID_EMAIL_ADDRESS", '["Email"]')] or (
        failed[0][:2] == ("josé@example.com", "INVALID_EMAIL_ADDRESS")
    )
    # a failed record is not retried while it is unchanged
    again = ws.sync(code=(0,))
    assert again["totals"]["seen"] == 0 and again["totals"]["created"] == 0
