"""Done-when 12: arbitrary datafield values (unicode, quotes, commas, newlines, very long
strings, numbers and dates in odd formats) through mapping and BOTH write paths: every member
is created with its values intact (or converted to the field's type), or fails/skips alone with
a clear reason; the run itself never crashes and its counts add up.

The sync runs in-process here (same engine, real HTTP to the emulators, real SQLite) so that
hypothesis can afford a few dozen syncs; everything else drives the CLI.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from datetime import date, datetime
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

CUSTOM = [
    {"name": "Score__c", "type": "double"},
    {"name": "Visits__c", "type": "int"},
    {"name": "Birthday__c", "type": "date"},
    {"name": "Seen__c", "type": "datetime"},
    {"name": "OptIn__c", "type": "boolean"},
    {"name": "Notes__c", "type": "textarea", "length": 2000},
]
EXTRA = [
    ("Score__c", "SCORE"),
    ("Visits__c", "VISITS"),
    ("Birthday__c", "BIRTHDAY"),
    ("Seen__c", "SEEN"),
    ("OptIn__c", "OPTIN"),
    ("Notes__c", "NOTES"),
]

# Any character but surrogates: control characters included (they must fail alone, clearly).
odd_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
long_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=30, max_size=400)
# What a field can hold: any letter, quote, comma, newline or tab, but no other control character.
storable = st.characters(
    blacklist_categories=("Cs",),
    blacklist_characters=[chr(i) for i in range(32) if i not in (9, 10)],
)
clean_text = st.text(storable, min_size=1, max_size=40).filter(str.strip)
odd_number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text("0123456789.,-+eE ", max_size=12),
)
odd_date = st.one_of(
    st.sampled_from(["31/12/2024", "2024-13-01", "2024-02-30", "12/31/2024", "today", "2024-1-5"]),
    odd_text,
)
clean = st.fixed_dictionaries(
    {
        "FIRSTNAME": clean_text,
        "LASTNAME": st.sampled_from(
            ["O'Brien", 'Quote"d', "Comma, Jr.", "Line\nBreak", "Ñúñez", "李"]
        ),
        "COMPANY": st.one_of(clean_text, st.just("Acme, \"Ltd\"\n'x'")),
        "REGION": st.sampled_from(["EMEA", "amer", "APAC"]),
        "SCORE": st.one_of(
            st.floats(-1e12, 1e12, allow_nan=False).map(repr), st.integers(-(10**9), 10**9).map(str)
        ),
        "VISITS": st.integers(-(10**9), 10**9).map(str),
        "BIRTHDAY": st.one_of(
            st.dates().map(date.isoformat), st.datetimes().map(lambda d: d.isoformat() + "Z")
        ),
        "SEEN": st.one_of(
            st.dates().map(date.isoformat),
            st.datetimes(min_value=datetime(1900, 1, 2)).map(datetime.isoformat),
        ),
        "OPTIN": st.sampled_from(["true", "False", "YES", "n", "1", "0"]),
        "NOTES": st.text(storable, max_size=400),
    }
)
odd = st.fixed_dictionaries(
    {
        "FIRSTNAME": st.one_of(odd_text, long_text),
        "LASTNAME": st.sampled_from(["O'Brien", "", "  "]),
        "COMPANY": odd_text,
        "REGION": st.sampled_from(["EMEA", "Mars", ""]),
        "SCORE": odd_number,
        "VISITS": odd_number,
        "BIRTHDAY": odd_date,
        "SEEN": odd_date,
        "OPTIN": st.one_of(st.sampled_from(["maybe", "2", ""]), odd_text),
        "NOTES": st.one_of(odd_text, long_text),
    }
)
people = st.one_of(clean, clean, clean, odd)

_emails = itertools.count()


def _setup(workspace, kit):
    seed = copy.deepcopy(kit.BASE_SEED)
    seed["salesforce"]["lead_fields"] += CUSTOM
    account = seed["dotdigital"]["accounts"][0]
    account["datafields"] += [{"name": df, "type": "String"} for _, df in EXTRA]
    mapping = [*kit.MAPPING, *((sf, df, "dotdigital-to-salesforce") for sf, df in EXTRA)]
    books = [
        {"name": "Webinar signups", "create_leads": True, "campaign": "Spring Webinar 2026"},
        {"name": "Big list", "create_leads": True},
    ]
    # bulk_threshold 3: "Big list" gets >= 3 members per round (Bulk API 2.0), the other book
    # at most 2 (sObject Collections).
    return workspace(
        seed=seed, config=kit.config_yaml(mapping=mapping, books=books, sync={"bulk_threshold": 3})
    )


def _sync_in_process(ws) -> dict:
    from leadsync.config import config_dir, load_or_raise
    from leadsync.retry import no_wait
    from leadsync.salesforce.client import SalesforceClient
    from leadsync.state import open_store
    from leadsync.sync.engine import run_sync

    config = load_or_raise(str(ws.root / "leadsync.yaml"), ws.env)
    store = open_store(config.state, Path(config_dir(config.source)))
    try:
        sf = SalesforceClient(config.salesforce, retry=no_wait(), poll_sleep=lambda _s: None)
        result = run_sync(config, store, salesforce=sf)
    finally:
        store.close()
    assert result.exit_code in (0, 4), result.report
    return result.report


def _expect_intact(field: str, sent: str, got) -> None:
    """A created Lead holds the value as sent, or its faithful conversion."""
    if field in ("FirstName", "LastName", "Company", "Notes__c"):
        assert got == sent, (field, sent, got)
    elif field == "Score__c":
        assert math.isclose(float(got), float(sent.strip()), rel_tol=1e-9), (sent, got)
    elif field == "Visits__c":
        assert int(got) == int(float(sent.strip())) or str(got) == sent.strip(), (sent, got)
    elif field == "Birthday__c":
        assert sent.strip().startswith(got) or re.match(r"\d{4}-\d{2}-\d{2}", got), (sent, got)
    elif field == "Seen__c":
        assert re.match(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", got), (sent, got)
    elif field == "OptIn__c":
        assert got is (sent.strip().lower() in ("true", "yes", "y", "1", "on")), (sent, got)


def test_arbitrary_values_through_mapping_and_both_write_paths(workspace, kit) -> None:
    ws = _setup(workspace, kit)

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        derandomize=True,
    )
    @given(
        small=st.lists(people, min_size=1, max_size=2), big=st.lists(people, min_size=3, max_size=6)
    )
    @example(
        small=[
            {
                "FIRSTNAME": "Zoë",
                "LASTNAME": "O'Brien",
                "COMPANY": 'A, "B"\nC',
                "REGION": "EMEA",
                "SCORE": "1e3",
                "VISITS": "7.0",
                "BIRTHDAY": "2024-02-29T23:30:00+00:00",
                "SEEN": "2024-02-29",
                "OPTIN": "Yes",
                "NOTES": "x" * 1999,
            }
        ],
        big=[
            {
                "FIRSTNAME": "李" * 40,
                "LASTNAME": "Line\nBreak",
                "COMPANY": "Comma, Inc.",
                "REGION": "amer",
                "SCORE": "-0.5",
                "VISITS": "12",
                "BIRTHDAY": "1999-12-31",
                "SEEN": "2024-02-29T23:30:00.1234567+01:00",
                "OPTIN": "no",
                "NOTES": 'tab\tquote" comma, newline\n end',
            },
            {
                "FIRSTNAME": "Ünïcödé ✓",
                "LASTNAME": 'Quote"d',
                "COMPANY": "'single' \"double\"",
                "REGION": "APAC",
                "SCORE": "3",
                "VISITS": "-4",
                "BIRTHDAY": "2000-01-01",
                "SEEN": "2000-01-01",
                "OPTIN": "1",
                "NOTES": "",
            },
            {
                "FIRSTNAME": "Bad",
                "LASTNAME": "Values",
                "COMPANY": "Co",
                "REGION": "amer",
                "SCORE": "1,5",
                "VISITS": "1,000",
                "BIRTHDAY": "31/12/2024",
                "SEEN": "not a date",
                "OPTIN": "maybe",
                "NOTES": "\x00 nul",
            },
        ],
    )
    def check(small, big) -> None:
        sent: dict[str, tuple[str, dict]] = {}
        for book, people_ in (("Webinar signups", small), ("Big list", big)):
            for values in people_:
                email = f"h{next(_emails)}@example.com"
                r = ws.emu.dd_session("uk").post(
                    f"{ws.emu.dd_endpoint}/v2/address-books/{ws.book_id(book)}/contacts",
                    json={
                        "email": email,
                        "optInType": "Single",
                        "emailType": "Html",
                        "dataFields": [{"key": k, "value": v} for k, v in values.items()],
                    },
                )
                if r.status_code < 300:  # Dotdigital may refuse a value; then it is no member
                    sent[email] = (book, values)
        report = _sync_in_process(ws)
        for b in report["books"]:
            assert (
                b["seen"]
                == b["created"]
                + b["excluded_existing"]
                + b["skipped_missing_fields"]
                + b["failed"]
                + b["pending"]
            )
        assert report["totals"]["pending"] == 0
        states = {
            email: (state, code, reason)
            for email, state, code, reason in ws.state_rows(
                "SELECT email, state, reason_code, reason FROM ledger WHERE email LIKE 'h%'"
            )
        }
        leads = {
            r["Email"]: r
            for r in ws.query(
                "SELECT Email, FirstName, LastName, Company, Score__c, Visits__c, Birthday__c, "
                "Seen__c, OptIn__c, Notes__c FROM Lead WHERE Email LIKE 'h%'"
            )
        }
        fields = {"FIRSTNAME": "FirstName", "LASTNAME": "LastName", "COMPANY": "Company"}
        fields.update({df: sf for sf, df in EXTRA})
        for email, (_book, values) in sent.items():
            state, code, reason = states[email]
            if state == "created":
                lead = leads[email]
                for df, sf in fields.items():
                    value = values[df]
                    if value.strip():
                        _expect_intact(sf, value, lead[sf])
            else:
                assert state in ("failed", "skipped"), (email, state)
                assert email not in leads
                assert code and reason, (email, state, code, reason)

    check()
    # both write paths were exercised, and values did get through
    counts = ws.emu.requests_log("salesforce")["counts"]
    assert any(k.startswith("POST") and "composite/sobjects" in k for k in counts)
    assert any(k.startswith("POST") and k.rstrip("/").endswith("jobs/ingest") for k in counts)
    created = ws.state_rows(
        "SELECT COUNT(*) FROM ledger WHERE email LIKE 'h%' AND state = 'created'"
    )
    failed = ws.state_rows("SELECT COUNT(*) FROM ledger WHERE email LIKE 'h%' AND state = 'failed'")
    assert created[0][0] > 0 and failed[0][0] > 0
