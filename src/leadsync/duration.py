"""Durations as people write them: 90s, 15m, 1h30m. Pure.

One reading for every place leadsync takes a duration (`sync --every` on the command line,
`sync.in_doubt_grace` in leadsync.yaml), so both accept exactly the same texts. Units s, m and
h, combinable; a bare number is refused, since guessing its unit is how a schedule ends up 60
times too fast or a grace period 60 times too short.
"""

from __future__ import annotations

import re

UNITS = {"s": 1, "m": 60, "h": 3600}
PATTERN = r"^\s*([0-9]+[smhSMH])+\s*$"
"""What the JSON Schema of leadsync.yaml accepts (the same texts parse_duration reads)."""
_PART = re.compile(r"(\d+)([smh])")
MAX_DIGITS = 12  # far beyond any sane duration; counted before int() sees the digits


class DurationTooLong(ValueError):
    """A number with more than MAX_DIGITS digits: "too long", not Python's int-string limit."""


def parse_duration(text: str) -> int:
    """'15m' -> 900, '1h30m' -> 5400, '0s' -> 0. Raises ValueError for anything else."""
    value = str(text).strip().lower()
    parts = _PART.findall(value)
    if not value or "".join(n + u for n, u in parts) != value:
        raise ValueError(
            f"{text!r} is not a duration such as 90s, 15m, 1h or 1h30m "
            "(units s, m, h; a number alone has no unit)"
        )
    if any(len(n.lstrip("0")) > MAX_DIGITS for n, _ in parts):
        raise DurationTooLong(f"{text!r} is longer than any duration leadsync takes")
    return sum(int(n) * UNITS[u] for n, u in parts)


def format_duration(seconds: float) -> str:
    """900 -> '15m', 5400 -> '1h30m', 660 -> '11m', 61 -> '1m1s' (for messages)."""
    rest = max(0, int(seconds))
    out = ""
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out += f"{rest // size}{unit}"
            rest %= size
    return out or "0s"
