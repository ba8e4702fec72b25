"""Times and checkboxes as the APIs write them (sync/wire.py), called directly. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from leadsync.sync import wire

TEN = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-31T10:00:00.000+0000",  # Salesforce JSON
        "2026-01-31T10:00:00Z",  # a mark, a SOQL literal
        "2026-01-31T10:00:00+00:00",  # a mark as stored
        "2026-01-31T10:00:00",  # no offset: UTC
        "2026-01-31T11:00:00+0100",
        " 2026-01-31T10:00:00Z ",
    ],
)
def test_either_systems_times_read_as_one_moment(text):
    assert wire.parse(text) == TEN
    assert wire.parse_stamp(text) == TEN


def test_a_missing_or_broken_stamp_is_none_but_a_broken_mark_is_an_error():
    for raw in (None, "", 5, "yesterday"):
        assert wire.parse_stamp(raw) is None
    with pytest.raises(ValueError):
        wire.parse("yesterday")


def test_marks_and_soql_literals_are_utc():
    paris = TEN.astimezone(timezone(timedelta(hours=1)))
    assert wire.soql_datetime(paris) == "2026-01-31T10:00:00Z"
    assert wire.soql_datetime(TEN.replace(tzinfo=None)) == "2026-01-31T10:00:00Z"
    assert wire.iso(paris) == "2026-01-31T10:00:00+00:00"
    assert wire.parse(wire.iso(TEN.replace(tzinfo=None))) == TEN
    assert wire.now().endswith("Z") and wire.parse(wire.now()).tzinfo is not None


def test_stamps_sort_by_moment_with_empty_first():
    stamps = ["2026-01-31T11:00:00.000+0000", "", "2026-01-31T10:30:00Z"]
    assert sorted(stamps, key=wire.stamp_key) == ["", "2026-01-31T10:30:00Z", stamps[0]]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), ("true", True), (" TRUE ", True), (False, False), ("false", False),
     (None, False), ("", False), (1, False)],
)  # fmt: skip
def test_a_salesforce_checkbox_reads_from_rest_and_bulk_csv(value, expected):
    assert wire.flag(value) is expected
