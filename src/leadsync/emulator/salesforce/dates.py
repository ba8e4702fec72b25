"""SOQL date literals (TODAY, LAST_N_DAYS:n, ...) as half-open UTC ranges [start, end).

The org's time zone is UTC (the emulator's choice: a user's time zone decides day boundaries in
a real org) and weeks start on Sunday (the en_US locale). Ranges follow Salesforce's
definitions: TODAY is today's midnight to tomorrow's; LAST_N_DAYS:n covers the n days before
today and today itself; NEXT_N_DAYS:n starts tomorrow and does not include today;
N_DAYS_AGO:n is the one day n days before today.

A comparison with a range reads as Salesforce documents: `= R` inside R, `> R` after its end,
`< R` before its start, `>= R` from its start on, `<= R` up to its end.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

Range = tuple[datetime, datetime]


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _days(start: date, count: int) -> Range:
    return _midnight(start), _midnight(start + timedelta(days=count))


def _month(year: int, month: int, shift: int) -> Range:
    index = year * 12 + (month - 1) + shift
    first = date(index // 12, index % 12 + 1, 1)
    nxt = date((index + 1) // 12, (index + 1) % 12 + 1, 1)
    return _midnight(first), _midnight(nxt)


def _week(today: date, shift: int) -> Range:
    sunday = today - timedelta(days=(today.weekday() + 1) % 7) + timedelta(weeks=shift)
    return _days(sunday, 7)


def _year(today: date, shift: int) -> Range:
    return _midnight(date(today.year + shift, 1, 1)), _midnight(date(today.year + shift + 1, 1, 1))


LITERALS = {
    "TODAY": lambda d, n: _days(d, 1),
    "YESTERDAY": lambda d, n: _days(d - timedelta(days=1), 1),
    "TOMORROW": lambda d, n: _days(d + timedelta(days=1), 1),
    "LAST_WEEK": lambda d, n: _week(d, -1),
    "THIS_WEEK": lambda d, n: _week(d, 0),
    "NEXT_WEEK": lambda d, n: _week(d, 1),
    "LAST_MONTH": lambda d, n: _month(d.year, d.month, -1),
    "THIS_MONTH": lambda d, n: _month(d.year, d.month, 0),
    "NEXT_MONTH": lambda d, n: _month(d.year, d.month, 1),
    "LAST_YEAR": lambda d, n: _year(d, -1),
    "THIS_YEAR": lambda d, n: _year(d, 0),
    "NEXT_YEAR": lambda d, n: _year(d, 1),
    "LAST_90_DAYS": lambda d, n: _days(d - timedelta(days=90), 91),
    "NEXT_90_DAYS": lambda d, n: _days(d + timedelta(days=1), 90),
}
N_LITERALS = {
    "LAST_N_DAYS": lambda d, n: _days(d - timedelta(days=n), n + 1),
    "NEXT_N_DAYS": lambda d, n: _days(d + timedelta(days=1), n),
    "N_DAYS_AGO": lambda d, n: _days(d - timedelta(days=n), 1),
    "LAST_N_WEEKS": lambda d, n: (_week(d, -n)[0], _week(d, -1)[1]),
    "NEXT_N_WEEKS": lambda d, n: (_week(d, 1)[0], _week(d, n)[1]),
    "LAST_N_MONTHS": lambda d, n: (_month(d.year, d.month, -n)[0], _month(d.year, d.month, -1)[1]),
    "NEXT_N_MONTHS": lambda d, n: (_month(d.year, d.month, 1)[0], _month(d.year, d.month, n)[1]),
}


def date_range(name: str, n: int, now: datetime) -> Range:
    """The [start, end) a date literal names at `now` (an aware datetime)."""
    today = now.astimezone(UTC).date()
    table = N_LITERALS if name in N_LITERALS else LITERALS
    return table[name](today, n)
