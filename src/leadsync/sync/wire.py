"""Times and checkboxes as the two APIs write them, and the marks the steps store. Pure.

The push and the update step both read Salesforce and Dotdigital incrementally from marks they
store, and both compare the times either system answers with. These functions are the one home
of how such a time is read (ISO 8601 with `Z`, `+00:00` or Salesforce's `+0000`), written (a
mark: ISO 8601 UTC; a SOQL dateTime literal) and of how a Salesforce checkbox reads (REST gives
a boolean, a Bulk API 2.0 query's CSV gives text).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def now() -> str:
    """This moment, to the second, as stored in state rows (`2026-11-29T10:00:00Z`)."""
    return iso_seconds(datetime.now(UTC))


def iso_seconds(moment: datetime) -> str:
    """`moment` (aware) to the second, as stored in state rows and reports."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def iso(moment: datetime) -> str:
    """A mark as stored: ISO 8601 in UTC (a naive time is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def soql_datetime(moment: datetime) -> str:
    """A SOQL dateTime literal (unquoted, UTC): 2026-11-29T10:00:00Z."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str) -> datetime:
    """ISO 8601 as either system writes it (`Z`, `+00:00`, Salesforce's `+0000`), aware (a
    time without an offset is UTC). Raises ValueError on anything else."""
    text = text.strip().replace("Z", "+00:00")
    if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_stamp(raw: Any) -> datetime | None:
    """A time read from an API (Salesforce's 2026-01-31T10:00:00.000+0000), or None when it
    is missing or not a time."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return parse(raw)
    except ValueError:
        return None


def stamp_key(stamp: str) -> datetime:
    """Sort key of a stored or read stamp: an empty one sorts first."""
    return parse(stamp) if stamp else datetime.min.replace(tzinfo=UTC)


def flag(value: Any) -> bool:
    """A Salesforce checkbox as REST (a boolean) or a Bulk query's CSV (text) gives it."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")
