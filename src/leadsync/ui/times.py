"""Timestamps as the pages show them: `29 Nov 2026 13:23 UTC`, durations as `1 min 5 s`. Pure.

The store keeps ISO 8601 UTC in two spellings (`2026-11-29T13:23:11Z` in run reports,
`2026-11-29T13:23:11.123456+00:00` in history and the ledger); both read the same here.
"""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def human_time(value: str | None) -> str:
    """`29 Nov 2026 13:23 UTC`; the raw text when it is not a timestamp; `-` when empty."""
    moment = parse_time(value)
    if moment is None:
        return str(value) if value else "-"
    return moment.strftime("%d %b %Y %H:%M UTC")


def run_time(run_id: str | None) -> str | None:
    """The start time a leadsync run id carries (`20261129T132311Z-9529fa`), shown in place of
    the id in record lists; None for an id of another shape."""
    if not run_id or len(run_id) < 16 or run_id[15] != "Z" or run_id[8] != "T":
        return None
    try:
        moment = datetime.strptime(run_id[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return moment.strftime("%d %b %Y %H:%M UTC")


def duration(start: str | None, end: str | None) -> str:
    """`1 h 2 min`, `3 min 5 s`, `12 s`, `< 1 s`; `-` when either end is unknown."""
    a, b = parse_time(start), parse_time(end)
    if a is None or b is None:
        return "-"
    seconds = int((b - a).total_seconds())
    if seconds < 1:
        return "< 1 s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
