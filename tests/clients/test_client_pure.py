"""Pure helpers of the clients: SOQL quoting and chunking, result parsing, dates, backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote_plus

import pytest

from leadsync.dotdigital.dates import format_v3_filter, parse_datetime
from leadsync.emails import normalise_emails
from leadsync.retry import RetryPolicy
from leadsync.salesforce.bulk import _bulk_failure, _key, _to_csv
from leadsync.salesforce.soql import form_quote, identifier, in_queries, quote
from leadsync.salesforce.wire import _save_result


def test_quote_escapes_quotes_backslashes_and_keeps_unicode():
    assert quote("o'brien@example.com") == "'o\\'brien@example.com'"
    assert quote("a\\b") == "'a\\\\b'"
    assert quote("zoë@exämple.com") == "'zoë@exämple.com'"
    injected = "x' OR Email != '"
    assert quote(injected) == "'x\\' OR Email != \\''"


def test_identifier_rejects_anything_but_api_names():
    assert identifier("Custom_Field__c") == "Custom_Field__c"
    for bad in ("Email) OR (Id", "Lead;", "", "1abc", "a b"):
        with pytest.raises(ValueError):
            identifier(bad)


def test_normalise_emails_trims_lowers_dedupes_in_order():
    assert normalise_emails([" A@x.COM", "a@x.com", "", None, "b@x.com "]) == [
        "a@x.com",
        "b@x.com",
    ]


def test_in_queries_respect_char_and_count_budgets_and_cover_every_value():
    values = [f"user{n}.ø'name@example.com" for n in range(1000)]
    queries = list(
        in_queries(
            "SELECT Id FROM Lead",
            "Email",
            values,
            tail="AND IsConverted = false",
            max_chars=3000,
            max_values=150,
        )
    )
    assert len(queries) > 1
    seen = []
    for q in queries:
        assert len(q) <= 3000
        assert q.startswith("SELECT Id FROM Lead WHERE Email IN (")
        assert q.endswith(") AND IsConverted = false")
        inner = q[len("SELECT Id FROM Lead WHERE Email IN (") : -len(") AND IsConverted = false")]
        items = inner.split("','")
        assert len(items) <= 150
        seen.extend(items)
    assert len(seen) == 1000


def test_form_quote_is_urllibs_quote_plus():
    every = "".join(chr(i) for i in range(0x250)) + "€😀\u2028中%2B%%+ &="
    samples = [every, every[::-1], "", "plain", "a b", "%25+", "SELECT Id FROM Lead"]
    samples += [f"'{c}{every[i::7]}'" for i, c in enumerate("'\"+&% ü")]
    for text in samples:
        assert form_quote(text) == quote_plus(text, safe="")
    with pytest.raises(UnicodeEncodeError):
        form_quote("lone \ud800 surrogate")


def test_in_queries_gives_an_oversized_value_its_own_query():
    big = "x" * 500
    queries = list(in_queries("SELECT Id FROM Lead", "Email", ["a", big, "b"], max_chars=200))
    assert len(queries) == 3


def test_save_result_extracts_duplicate_matches():
    raw = {
        "success": False,
        "errors": [
            {
                "statusCode": "DUPLICATES_DETECTED",
                "message": "Use one of these records?",
                "fields": [],
                "duplicateResult": {
                    "allowSave": False,
                    "matchResults": [
                        {
                            "matchRecords": [
                                {"record": {"attributes": {"type": "Lead"}, "Id": "00Q1"}}
                            ]
                        },
                        {"matchRecords": [{"record": {"Id": "003X"}}, {"record": {"Id": "00Q1"}}]},
                    ],
                },
            }
        ],
    }
    result = _save_result(raw)
    assert not result.success
    assert result.errors[0].status_code == "DUPLICATES_DETECTED"
    assert result.errors[0].matched_ids == ("00Q1", "003X")


def test_bulk_failure_parses_code_message_and_fields():
    r = _bulk_failure("REQUIRED_FIELD_MISSING:Required fields are missing: [Company]:Company --")
    assert r.errors[0].status_code == "REQUIRED_FIELD_MISSING"
    assert r.errors[0].message == "Required fields are missing: [Company]"
    assert r.errors[0].fields == ("Company",)
    r = _bulk_failure("UNABLE_TO_LOCK_ROW:locked: 001x")
    assert (r.errors[0].status_code, r.errors[0].message) == ("UNABLE_TO_LOCK_ROW", "locked: 001x")
    r = _bulk_failure("something odd")
    assert r.errors[0].status_code == "UNKNOWN_ERROR"


def test_csv_header_is_sorted_and_values_are_quoted():
    text = _to_csv(
        [{"LastName": 'O"Neil, Jr', "Email": "a@x.com"}, {"Company": "C\nD", "Flag": True}]
    )
    lines = text.split("\n")
    assert lines[0] == "Company,Email,Flag,LastName"
    assert lines[1] == ',a@x.com,,"O""Neil, Jr"'
    assert '"C\nD"' in text and "true" in text


def test_alignment_key_lowercases_emails_only():
    assert _key("Email", " Ada@X.com ") == "ada@x.com"
    assert _key("LeadId", "00QabcDEF") == "00QabcDEF"


def test_parse_datetime_is_tolerant_and_always_utc():
    assert parse_datetime("2024-05-01T10:00:00Z") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_datetime("2024-05-01T10:00:00.250Z") == datetime(
        2024, 5, 1, 10, 0, 0, 250000, tzinfo=UTC
    )
    assert parse_datetime(" 2024-05-01T10:00:00z ") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_datetime("2024-05-01T10:00:00.12345678901Z").microsecond == 123456
    assert parse_datetime("2024-02-30T10:00:00Z") is None
    assert parse_datetime("2024-05-01T10:00:00.1234567Z") == datetime(
        2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC
    )
    assert parse_datetime("2024-05-01T12:00:00+02:00") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_datetime("2024-05-01T10:00:00") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_datetime("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_datetime("garbage") is None
    assert parse_datetime(None) is None


def test_v3_filter_truncates_to_seconds_in_utc():
    moment = datetime(2024, 5, 1, 12, 0, 0, 999999, tzinfo=timezone(timedelta(hours=2)))
    assert format_v3_filter(moment) == "gte::2024-05-01T10:00:00Z"


def test_backoff_is_capped_full_jitter():
    policy = RetryPolicy(base=1.0, cap=8.0, rng=lambda: 1.0)
    assert [policy.backoff(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert RetryPolicy(base=1.0, cap=8.0, rng=lambda: 0.0).backoff(5) == 0.0
    slept = []
    RetryPolicy(max_wait=5.0, sleep=slept.append).pause(1, requested=30.0)
    assert slept == [5.0]


def test_retry_after_reads_seconds_and_http_dates():
    from leadsync.retry import retry_after

    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC).timestamp()
    assert retry_after({"Retry-After": "7"}, lambda: now) == 7.0
    assert retry_after({"Retry-After": "Sun, 29 Nov 2026 12:01:30 GMT"}, lambda: now) == 90.0
    assert retry_after({"Retry-After": "Sun, 29 Nov 2026 11:00:00 GMT"}, lambda: now) == 0.0
    assert retry_after({"Retry-After": "soon"}, lambda: now) is None
    assert retry_after({}, lambda: now) is None and retry_after(None) is None


def test_random_backoff_stays_within_the_cap():
    policy = RetryPolicy(base=1.0, cap=8.0)
    for attempt in range(1, 12):
        ceiling = min(8.0, 2.0 ** (attempt - 1))
        samples = [policy.backoff(attempt) for _ in range(200)]
        assert all(0.0 <= s <= ceiling for s in samples)
        assert len(set(samples)) > 1  # jittered, not a fixed step


def test_clients_and_sync_key_emails_the_same_way():
    """One matching key (leadsync/emails.py): Salesforce's result alignment, Dotdigital's
    import results and the sync's ledger all trim and lower-case, and nothing else."""
    from leadsync.dotdigital.wire import _failures, _references
    from leadsync.emails import normalise_email
    from leadsync.sync.mapping import normalise_email as sync_key

    raw = " O'Brien@Example.COM "
    assert normalise_email(raw) == "o'brien@example.com" == sync_key(raw) == _key("Email", raw)
    assert _references([{"contactId": 7, "identifiers": {"email": raw}}]) == {
        "o'brien@example.com": 7
    }
    failed = [{"identifiers": {"email": raw}, "failures": [{"failureCode": "x"}]}]
    assert list(_failures(failed)) == ["o'brien@example.com"]
    assert _key("Id", " 00Qabc ") == "00Qabc"  # ids keep their case
