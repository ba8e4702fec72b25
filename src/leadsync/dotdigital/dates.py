"""Tolerant ISO 8601 parsing for what Dotdigital sends (and what it accepts back).

Dotdigital's exact wire format is not pinned down (with or without `Z`, .NET's 7-digit
fractions, date-only values in old v2 calls), so parsing accepts all of them and always returns
an aware UTC datetime: comparisons against watermarks must never mix naive and aware values.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_FRACTION = re.compile(r"(\.\d{1,6})\d*")
# What Dotdigital sends, read by fromisoformat as it is: a UTC date-time, at most 6 fraction
# digits (every 3.11 patch level reads those; 7, as .NET writes them, take the tolerant path)
_WIRE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z\Z", re.ASCII)


def parse_datetime(value: object) -> datetime | None:
    """Parse an ISO 8601 date or date-time into aware UTC; None for empty or unreadable input."""
    if type(value) is str and _WIRE.match(value):  # every member read has two dates
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return _tolerant(value)
        if parsed.tzinfo is UTC:
            return parsed
        return _utc(parsed)
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        return None
    return _tolerant(value)


def _tolerant(value: str) -> datetime | None:
    """What `datetime.fromisoformat` refuses as given: surrounding blanks, a lower-case `z`,
    fractions of more than 7 digits."""
    text = value.strip()
    if not text:
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = _FRACTION.sub(lambda m: m.group(1), text, count=1)
    try:
        return _utc(datetime.fromisoformat(text))
    except ValueError:
        return None


def _utc(parsed: datetime) -> datetime:
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_v3_filter(moment: datetime) -> str:
    """`gte::YYYY-MM-DDTHH:MM:SSZ`, the only shape the v3 ~modified/~created filters accept.

    Seconds are truncated (never rounded up), so the filter can only include more, never less.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    return "gte::" + utc.strftime("%Y-%m-%dT%H:%M:%SZ")
