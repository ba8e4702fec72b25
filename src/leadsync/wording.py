"""Small helpers that keep messages grammatical: "1 member", "'A' and 'B'", one full stop.

Messages are read by people in terminals and pull-request comments; "1 members", "'A', 'B'" and
"resets.. Everything" make a tool look careless, so every message that counts or lists goes
through here.
"""

from __future__ import annotations

from collections.abc import Sequence


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`plural(1, "member")` -> "1 member"; `plural(2, "member")` -> "2 members"."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"


def join_and(items: Sequence[str], *, limit: int = 0) -> str:
    """ "A", "A and B", "A, B and C"; with `limit`, "A, B, C and 2 more"."""
    shown = list(items)
    if limit and len(shown) > limit:
        return ", ".join(shown[:limit]) + f" and {len(shown) - limit} more"
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " and " + shown[-1]


def clause(text: str) -> str:
    """A message without its closing full stop, to be embedded in a longer sentence."""
    return text.rstrip().rstrip(".").rstrip()
