"""Contacts and address books as the emulator stores them: books are ordered segments of
members, some computed.

A book is an ordered list of segments: a Generator (members computed from their index, never
stored), an Explicit run of added contact ids, or a Gap (positions whose members all left).
Positions never move once given, so a v3 `~listId` marker (a book position) stays valid while
members leave: a member that leaves becomes a hole (`None` in an Explicit run, an index in its
Generator's `left` set), and emptying a book turns its segments into one Gap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadsync.emulator.dotdigital import exceptions as exc

SYSTEM_DATAFIELDS = ("FIRSTNAME", "LASTNAME", "FULLNAME", "GENDER", "POSTCODE")


@dataclass
class ContactRecord:
    """One contact, stored (materialised) or computed on the fly from a generator."""

    id: int
    email: str
    created: datetime
    updated: datetime
    datafields: dict[str, Any] = field(default_factory=dict)
    status: str = "Subscribed"
    opt_in_type: str = "Unknown"
    email_type: str = "Html"
    generator: Generator | None = None  # set while the contact is virtual (not materialised)
    index: int | None = None  # the generator index n it came from, if any
    # The address a generator gave it: generated memberships follow this one, so a contact
    # whose email was changed stays the member it was.
    generated_email: str | None = None

    @property
    def member_email(self) -> str:
        return self.generated_email or self.email


def _missing_fraction(n: int) -> float:
    """Deterministic, well-spread value in [0, 1) per index (a Weyl/Fibonacci hash)."""
    return (((n + 1) * 0x9E3779B1) & 0xFFFFFFFF) / 4294967296.0


class Generator:
    """Members computed from their index: O(1) memory whatever `count` is."""

    def __init__(self, spec: dict[str, Any], id_base: int, added_at: datetime) -> None:
        self.count = int(spec["count"])
        self.start = int(spec.get("start", 0))
        self.pattern = str(spec.get("email", "member{n}@example.com")).lower()
        if self.pattern.count("{n}") != 1:
            raise exc.ControlError(400, "generate.email must contain {n} exactly once")
        before, after = self.pattern.split("{n}")
        self._regex = re.compile(re.escape(before) + r"(0|[1-9][0-9]*)" + re.escape(after))
        self.before, self.after = before, after
        self.datafields: dict[str, Any] = dict(spec.get("datafields") or {})
        self.missing_share = float(spec.get("missing_share", 0.0))
        missing = spec.get("missing")
        self.missing = {m.upper() for m in (missing if missing is not None else self.datafields)}
        self.id_base = id_base
        self.added_at = added_at
        self.left: set[int] = set()  # indices of members that left the book this fills

    def index_of(self, email: str) -> int | None:
        """Index i (0..count-1) of a generated address, or None."""
        m = self._regex.fullmatch(email)
        if not m:
            return None
        i = int(m.group(1)) - self.start
        return i if 0 <= i < self.count else None

    def index_of_id(self, contact_id: int) -> int | None:
        i = contact_id - self.id_base
        return i if 0 <= i < self.count else None

    def email_at(self, i: int) -> str:
        return f"{self.before}{self.start + i}{self.after}"

    def values_at(self, i: int) -> dict[str, Any]:
        n = self.start + i
        blank = self.missing_share > 0 and _missing_fraction(n) < self.missing_share
        out: dict[str, Any] = {}
        for key, pattern in self.datafields.items():
            upper = key.upper()
            if blank and upper in self.missing:
                out[upper] = None
            elif isinstance(pattern, str):
                out[upper] = pattern.replace("{n}", str(n))
            else:
                out[upper] = pattern
        return out

    def contact_at(self, i: int) -> ContactRecord:
        return ContactRecord(
            id=self.id_base + i,
            email=self.email_at(i),
            created=self.added_at,
            updated=self.added_at,
            datafields=self.values_at(i),
            generator=self,
            index=self.start + i,
            generated_email=self.email_at(i),
        )

    def overlaps(self, other: Generator) -> bool:
        return (
            self.pattern == other.pattern
            and self.start < other.start + other.count
            and other.start < self.start + self.count
        )


@dataclass
class Explicit:
    """A run of explicitly added members (contact ids in join order; None where one left)."""

    ids: list[int | None] = field(default_factory=list)
    holes: int = 0


@dataclass
class Gap:
    """Positions whose members all left (what an emptied book keeps, so markers stay valid)."""

    span: int


Segment = Generator | Explicit | Gap


class AddressBook:
    def __init__(self, book_id: int, name: str, visibility: str = "Private") -> None:
        self.id = book_id
        self.name = name
        self.visibility = visibility
        self.segments: list[Segment] = []
        self.added: dict[int, datetime] = {}  # explicit member id -> time added to this book

    @property
    def generators(self) -> list[Generator]:
        return [s for s in self.segments if isinstance(s, Generator)]

    def size(self) -> int:
        return sum(seg_size(s) for s in self.segments)

    def span(self) -> int:
        return sum(seg_span(s) for s in self.segments)

    def append_explicit(self, contact_id: int, when: datetime) -> None:
        if not self.segments or not isinstance(self.segments[-1], Explicit):
            self.segments.append(Explicit())
        last = self.segments[-1]
        assert isinstance(last, Explicit)
        last.ids.append(contact_id)
        self.added[contact_id] = when

    def remove_explicit(self, contact_ids: set[int]) -> set[int]:
        """Explicit members among `contact_ids` leave; -> the ids that did."""
        gone: set[int] = set()
        for seg in self.segments:
            if not isinstance(seg, Explicit):
                continue
            for k, cid in enumerate(seg.ids):
                if cid is not None and cid in contact_ids:
                    seg.ids[k] = None
                    seg.holes += 1
                    gone.add(cid)
                    del self.added[cid]
        return gone

    def empty(self) -> None:
        """Every member leaves; positions given so far stay taken."""
        span = self.span()
        self.segments = [Gap(span)] if span else []
        self.added = {}


def seg_span(seg: Segment) -> int:
    """Positions the segment occupies (members and holes)."""
    if isinstance(seg, Generator):
        return seg.count
    return seg.span if isinstance(seg, Gap) else len(seg.ids)


def seg_size(seg: Segment) -> int:
    """Members the segment holds now."""
    if isinstance(seg, Generator):
        return seg.count - len(seg.left)
    return 0 if isinstance(seg, Gap) else len(seg.ids) - seg.holes
