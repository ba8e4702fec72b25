"""The emulator's time: one UTC clock per backend, skewable by a control route, and the ISO 8601
forms the API accepts.

Every time the server assigns comes from one Clock, so clock-skew tests see the same skew in
server-time and in created/updated/added times.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any


class Clock:
    """UTC wall clock plus a settable offset; times are cut to milliseconds (what we emit)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        t = datetime.now(UTC) + self.offset
        return t.replace(microsecond=t.microsecond // 1000 * 1000)


def parse_when(text: str) -> datetime:
    """Date-only or full ISO 8601; naive values are UTC. Raises ValueError."""
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        d = date.fromisoformat(text)
        return datetime(d.year, d.month, d.day, tzinfo=UTC)
    if not re.fullmatch(
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|z|[+-]\d{2}:?\d{2})?", text
    ):
        raise ValueError(f"not an ISO 8601 date or date-time: {text!r}")
    if text[-1] in "Zz":
        text = text[:-1] + "+00:00"
    # fromisoformat takes at most 6 fractional digits on every 3.11 patch level.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    t = datetime.fromisoformat(text)
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def as_time(value: Any, default: datetime) -> datetime:
    if value is None:
        return default
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return parse_when(str(value))
