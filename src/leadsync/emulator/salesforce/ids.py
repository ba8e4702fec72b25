"""Salesforce record ids: 3-char key prefix, 12 more chars, and the 3-char case-safe checksum.

Real clients compare and store 18-char ids; the checksum makes the 18-char form unique even when
compared case-insensitively, which SOQL and spreadsheets do.
"""

from __future__ import annotations

import functools
import itertools
import string

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SUFFIX = string.ascii_uppercase + "012345"
# Uppercase letters to "1", other id chars to "0": a chunk's flags read as one binary number.
_UPPER_BITS = str.maketrans(
    string.ascii_uppercase + string.ascii_lowercase + string.digits, "1" * 26 + "0" * 36
)
# A chunk's flags as translated ("10010": its 1st and 4th chars uppercase) -> its suffix char;
# bit 0 is the chunk's first char, so the flags read right to left as a binary number.
_CHUNK_CHAR = {
    "".join(bits): _SUFFIX[int("".join(reversed(bits)), 2)]
    for bits in itertools.product("01", repeat=5)
}

KEY_PREFIXES = {
    "Account": "001",
    "Lead": "00Q",
    "Contact": "003",
    "Campaign": "701",
    "CampaignMember": "00v",
    "CampaignMemberStatus": "01Y",
    "LeadStatus": "01J",
    "User": "005",
    "AssignmentRule": "01Q",
    "Organization": "00D",
    "BulkJob": "750",
    "QueryLocator": "01g",
}


def checksum(id15: str) -> str:
    """The 3 suffix chars: per 5-char chunk, a bit per uppercase letter, mapped to A-Z0-5."""
    if len(id15) == 15 and _is_id_chars(id15):
        # Every request touches ids: each chunk's translated bits name its suffix char in
        # _CHUNK_CHAR, the same flags as the loop below at a fraction of its cost.
        bits = id15.translate(_UPPER_BITS)
        return _CHUNK_CHAR[bits[:5]] + _CHUNK_CHAR[bits[5:10]] + _CHUNK_CHAR[bits[10:]]
    out = []
    for start in (0, 5, 10):
        flags = 0
        for bit, ch in enumerate(id15[start : start + 5]):
            if "A" <= ch <= "Z":
                flags |= 1 << bit
        out.append(_SUFFIX[flags])
    return "".join(out)


def _is_id_chars(value: str) -> bool:
    """Only ASCII letters and digits (for an ASCII string, isalnum is exactly that)."""
    return value.isascii() and value.isalnum()


@functools.lru_cache(maxsize=1 << 16)
def to18(value: str) -> str | None:
    """Normalise a 15- or 18-char id to 18 chars; None when it cannot be an id. Cached: one
    insert checks the same reference ids three times (normalised, checked, rule), and a SOQL
    IN list of ids names ids the client has just been given."""
    if len(value) == 18 and _is_id_chars(value):
        return value[:15] + checksum(value[:15])
    if len(value) == 15 and _is_id_chars(value):
        return value + checksum(value)
    return None


def _base62(n: int, width: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = _BASE62[r] + out
    return out.rjust(width, "0")


class IdFactory:
    """Deterministic ids per key prefix (pod "8d", reserved "0", then a base-62 counter)."""

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count] = {}

    def new(self, prefix: str) -> str:
        counter = self._counters.setdefault(prefix, itertools.count(1))
        id15 = f"{prefix}8d0{_base62(next(counter), 9)}"
        # A few uppercase letters in the counter region keep the checksum non-trivial.
        return id15 + checksum(id15)
