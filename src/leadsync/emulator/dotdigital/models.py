"""The emulated Dotdigital backend: accounts, datafields, address books, contacts and their rules.

Plain in-memory model, no HTTP here (moto's layout). Design points, each for a reason:

- Generated members are never stored. A generator (count, email pattern with `{n}`, datafield
  patterns, a deterministic share with missing values) computes member `i` from its index, so a
  1,000,000-member book costs a few hundred bytes until members are touched; a member is
  materialised (copied into the contact table) only when something modifies it.
- A book is an ordered list of segments (a generator, or a list of explicitly added contact
  ids). Paging finds a position by arithmetic over segments, so a page costs O(page + segments),
  never O(book).
- Every time the server assigns comes from one Clock, which a control route can skew, so
  clock-skew tests see the same skew in server-time and in created/updated/added times.
- Each contact has an account-wide `updated` time; each membership has an `added` time per book.
  "Modified in book since T" means max(added to that book, contact updated) >= T, which is what
  a sync needs: new members of a book and members changed since the last run.
- Whether joining a book modifies a contact that already existed is not documented by
  Dotdigital. By default the emulator assumes it does (the join moves `updated`). An account
  with `join_updates_modified: false` (seed key, or the control route) models the other
  reading: a join leaves `updated` alone (only a real change of data moves it) and "modified in
  book since T" looks at `updated` alone, so such a member is invisible to `~modified`.

Known simplifications (say so rather than guess): two generators with DIFFERENT email patterns
that happen to produce the same address are treated as different contacts; membership order in
a book is join order (not id order).
"""

from __future__ import annotations

import bisect
import heapq
import re
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from leadsync.emulator.dotdigital import exceptions as exc

SYSTEM_DATAFIELDS = ("FIRSTNAME", "LASTNAME", "FULLNAME", "GENDER", "POSTCODE")
DATAFIELD_TYPES = ("String", "Numeric", "Date", "Boolean")
VISIBILITIES = ("Private", "Public")
RESERVED_BOOK_NAMES = ("test", "all contacts")
DATAFIELD_NAME = re.compile(r"[a-zA-Z0-9_-]{1,20}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
OPT_IN_TYPES = ("Unknown", "Single", "Double", "VerifiedDouble")
EMAIL_TYPES = ("PlainText", "Html")
MAX_BOOK_NAME = 128


# -- time ------------------------------------------------------------------------------------


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


def _as_time(value: Any, default: datetime) -> datetime:
    if value is None:
        return default
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return parse_when(str(value))


# -- data ------------------------------------------------------------------------------------


@dataclass
class DataFieldDef:
    name: str
    type: str = "String"
    visibility: str = "Private"
    default: Any = None


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
        )

    def overlaps(self, other: Generator) -> bool:
        return (
            self.pattern == other.pattern
            and self.start < other.start + other.count
            and other.start < self.start + self.count
        )


@dataclass
class Explicit:
    """A run of explicitly added members (contact ids in join order)."""

    ids: list[int] = field(default_factory=list)


Segment = Generator | Explicit


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
        return sum(_seg_len(s) for s in self.segments)

    def append_explicit(self, contact_id: int, when: datetime) -> None:
        if not self.segments or not isinstance(self.segments[-1], Explicit):
            self.segments.append(Explicit())
        last = self.segments[-1]
        assert isinstance(last, Explicit)
        last.ids.append(contact_id)
        self.added[contact_id] = when


def _seg_len(seg: Segment) -> int:
    return seg.count if isinstance(seg, Generator) else len(seg.ids)


class RateLimit:
    """Fixed window of `requests` per `per_seconds`, on the (skewable) server clock."""

    def __init__(self, requests: int, per_seconds: float) -> None:
        self.limit = requests
        self.per_seconds = per_seconds
        self.window_start: datetime | None = None
        self.used = 0

    def take(self, now: datetime) -> tuple[bool, dict[str, str]]:
        span = timedelta(seconds=self.per_seconds)
        if self.window_start is None or now >= self.window_start + span:
            self.window_start, self.used = now, 0
        reset = self.window_start + span
        allowed = self.used < self.limit
        if allowed:
            self.used += 1
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.used)),
            "X-RateLimit-Reset": str(int(reset.timestamp() + 0.999)),
            "X-RateLimit-Scope": "emulator",
        }
        return allowed, headers


# -- an account --------------------------------------------------------------------------------


class Account:
    def __init__(self, backend: DotdigitalBackend, spec: dict[str, Any]) -> None:
        self.backend = backend
        self.name: str = spec["name"]
        self.username: str = spec["username"]
        self.password: str = spec["password"]
        self.id: int = int(spec.get("account_id") or backend.next_account_id())
        self.datafields: dict[str, DataFieldDef] = {n: DataFieldDef(n) for n in SYSTEM_DATAFIELDS}
        self.books: dict[int, AddressBook] = {}
        self.contacts: dict[int, ContactRecord] = {}  # materialised, by id
        self.by_email: dict[str, ContactRecord] = {}  # materialised, by lowercased email
        self.sorted_ids: list[int] = []  # materialised ids, ascending
        self.generators: list[Generator] = []  # account-wide, creation order
        self.touched: dict[str, dict[int, int]] = {}  # pattern -> {n: contact id} materialised
        # See the module docstring: does a book join count as a modification?
        self.join_updates_modified: bool = bool(spec.get("join_updates_modified", True))
        rl = spec.get("rate_limit")
        self.rate_limit = RateLimit(int(rl["requests"]), float(rl["per_seconds"])) if rl else None
        self.calls: deque[datetime] = deque()

    # -- datafields ----------------------------------------------------------------------

    def create_datafield(
        self, name: Any, type_: Any, visibility: Any = None, default: Any = None
    ) -> DataFieldDef:
        if not isinstance(name, str) or not DATAFIELD_NAME.fullmatch(name):
            raise exc.v2_error(
                400,
                "Data field names may only contain letters, digits, '-' and '_' and be 1 to 20 characters long",
                "ERROR_DATAFIELD_INVALID",
            )
        canon_type = _canon(type_, DATAFIELD_TYPES)
        if canon_type is None:
            raise exc.v2_error(
                400,
                "Data field type must be one of String, Numeric, Date, Boolean",
                "ERROR_DATAFIELD_INVALID",
            )
        canon_vis = "Private" if visibility is None else _canon(visibility, VISIBILITIES)
        if canon_vis is None:
            raise exc.v2_error(
                400, "Data field visibility must be Private or Public", "ERROR_DATAFIELD_INVALID"
            )
        upper = name.upper()
        if upper in self.datafields:
            raise exc.v2_error(400, "Field already exists", "ERROR_NON_UNIQUE_DATAFIELD")
        if default is not None:
            default = self.coerce(DataFieldDef(upper, canon_type), default)
        df = DataFieldDef(upper, canon_type, canon_vis, default)
        self.datafields[upper] = df
        return df

    def coerce(self, df: DataFieldDef, value: Any) -> Any:
        """A datafield value as stored for its type; bad values give ERROR_DATAFIELD_INVALID."""
        if value is None:
            return None
        bad = exc.v2_error(
            400,
            f"The value for data field {df.name} is not a valid {df.type}",
            "ERROR_DATAFIELD_INVALID",
        )
        if df.type == "String":
            if isinstance(value, (dict, list)):
                raise bad
            return value if isinstance(value, str) else _plain(value)
        if df.type == "Numeric":
            if isinstance(value, bool):
                raise bad
            if isinstance(value, (int, float)):
                return value
            try:
                f = float(str(value))
            except ValueError:
                raise bad from None
            return int(f) if f.is_integer() and re.fullmatch(r"-?\d+", str(value).strip()) else f
        if df.type == "Boolean":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            raise bad
        # Date
        try:
            t = parse_when(str(value))
        except ValueError:
            raise bad from None
        return t.strftime("%Y-%m-%dT%H:%M:%S")

    def clean_datafields(self, values: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in values.items():
            df = self.datafields.get(str(key).upper())
            if df is None:
                raise exc.v2_error(
                    400, f"Data field {key} does not exist", "ERROR_DATAFIELD_NOTFOUND"
                )
            out[df.name] = self.coerce(df, value)
        return out

    # -- books -----------------------------------------------------------------------------

    def create_book(
        self, name: Any, visibility: Any = None, book_id: int | None = None
    ) -> AddressBook:
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_BOOK_NAME:
            raise exc.v2_error(
                400,
                f"The address book name is required and may be at most {MAX_BOOK_NAME} characters",
                "ERROR_ADDRESSBOOK_INVALID",
            )
        taken = {b.name.lower() for b in self.books.values()}
        if name.lower() in taken or name.strip().lower() in RESERVED_BOOK_NAMES:
            raise exc.v2_error(
                400,
                "That name is in use already, please choose another",
                "ERROR_ADDRESSBOOK_DUPLICATE",
            )
        vis = "Private" if visibility is None else _canon(visibility, VISIBILITIES)
        if vis is None:
            raise exc.v2_error(
                400, "Visibility must be Private or Public", "ERROR_ADDRESSBOOK_INVALID"
            )
        book = AddressBook(
            book_id if book_id is not None else self.backend.next_book_id(), name, vis
        )
        self.backend.claim_book_id(book.id)
        self.books[book.id] = book
        return book

    def book(self, book_id: int) -> AddressBook:
        book = self.books.get(book_id)
        if book is None:
            raise exc.address_book_not_found()
        return book

    def find_book(self, ref: str) -> AddressBook | None:
        """By id (digits) or by name, for control routes and seeds."""
        if ref.isdigit() and int(ref) in self.books:
            return self.books[int(ref)]
        for b in self.books.values():
            if b.name == ref:
                return b
        return None

    # -- contacts ----------------------------------------------------------------------------

    def contact_by_email(self, email: str) -> ContactRecord | None:
        email = email.strip().lower()
        c = self.by_email.get(email)
        if c is not None:
            return c
        for g in self.generators:
            i = g.index_of(email)
            if i is not None:
                return g.contact_at(i)
        return None

    def contact_by_id(self, contact_id: int) -> ContactRecord | None:
        c = self.contacts.get(contact_id)
        if c is not None:
            return c
        for g in self.generators:
            i = g.index_of_id(contact_id)
            if i is not None:
                canon = self.contact_by_email(g.email_at(i))
                return canon if canon is not None and canon.id == contact_id else None
        return None

    def generated_member(self, g: Generator, i: int) -> ContactRecord:
        """Member i of generator g, resolved to the account's one contact for that address."""
        email = g.email_at(i)
        c = self.by_email.get(email)
        if c is not None:
            return c
        for other in self.generators:
            if other is g:
                break
            j = other.index_of(email)
            if j is not None:
                return other.contact_at(j)
        return g.contact_at(i)

    def materialise(self, c: ContactRecord) -> ContactRecord:
        if c.generator is None:
            return c
        g, n = c.generator, c.index
        c.generator = None
        self._store(c)
        assert n is not None
        self.touched.setdefault(g.pattern, {})[n] = c.id
        return c

    def _store(self, c: ContactRecord) -> None:
        self.contacts[c.id] = c
        self.by_email[c.email] = c
        bisect.insort(self.sorted_ids, c.id)

    def upsert_contact(
        self,
        email: Any,
        datafields: dict[str, Any] | None = None,
        opt_in_type: Any = None,
        email_type: Any = None,
        when: datetime | None = None,
        status: str | None = None,
        *,
        touch: bool = True,
    ) -> tuple[ContactRecord, bool]:
        """Create or modify a contact -> (contact, created). Modifying sets `updated`; with
        `touch` false only when a value actually changes (see `join_updates_modified`)."""
        if not isinstance(email, str) or not EMAIL.fullmatch(email.strip()):
            raise exc.v2_error(400, "Email is not valid", "ERROR_CONTACT_INVALID")
        email = email.strip().lower()
        opt = None if opt_in_type is None else _canon(opt_in_type, OPT_IN_TYPES)
        if opt_in_type is not None and opt is None:
            raise exc.v2_error(400, "OptInType is not valid", "ERROR_CONTACT_INVALID")
        etype = None if email_type is None else _canon(email_type, EMAIL_TYPES)
        if email_type is not None and etype is None:
            raise exc.v2_error(400, "EmailType is not valid", "ERROR_CONTACT_INVALID")
        values = self.clean_datafields(datafields or {})
        now = when or self.backend.clock.now()
        existing = self.contact_by_email(email)
        if existing is None:
            c = ContactRecord(
                id=self.backend.next_contact_ids(1),
                email=email,
                created=now,
                updated=now,
                datafields=values,
                opt_in_type=opt or "Unknown",
                email_type=etype or "Html",
                status=status or "Subscribed",
            )
            self._store(c)
            return c, True
        before = (
            dict(existing.datafields),
            existing.opt_in_type,
            existing.email_type,
            existing.status,
        )
        c = self.materialise(existing)
        c.datafields.update(values)
        if opt:
            c.opt_in_type = opt
        if etype:
            c.email_type = etype
        if status:
            c.status = status
        if touch or before != (c.datafields, c.opt_in_type, c.email_type, c.status):
            c.updated = max(c.updated, now)
        return c, False

    def is_member(self, book: AddressBook, c: ContactRecord) -> bool:
        if c.id in book.added:
            return True
        return any(g.index_of(c.email) is not None for g in book.generators)

    def add_to_book(
        self,
        book: AddressBook,
        email: Any,
        datafields: dict[str, Any] | None = None,
        opt_in_type: Any = None,
        email_type: Any = None,
        when: datetime | None = None,
    ) -> ContactRecord:
        """Dotdigital's add-contact-to-book: creates the contact if new; an existing contact
        counts as modified (its `updated` moves), whether or not it already was a member,
        unless the account's `join_updates_modified` is false (then only changed data does)."""
        now = when or self.backend.clock.now()
        c, _ = self.upsert_contact(
            email, datafields, opt_in_type, email_type, now, touch=self.join_updates_modified
        )
        if not self.is_member(book, c):
            book.append_explicit(c.id, now)
        return c

    def generate(
        self, book: AddressBook, spec: dict[str, Any], when: datetime | None = None
    ) -> Generator:
        count = spec.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise exc.ControlError(400, "generate.count must be a non-negative integer")
        if not isinstance(spec.get("start", 0), int) or spec.get("start", 0) < 0:
            raise exc.ControlError(400, "generate.start must be a non-negative integer")
        share = spec.get("missing_share", 0.0)
        if not isinstance(share, (int, float)) or not 0 <= share <= 1:
            raise exc.ControlError(400, "generate.missing_share must be between 0 and 1")
        for key in spec.get("datafields") or {}:
            if str(key).upper() not in self.datafields:
                raise exc.ControlError(400, f"generate.datafields: unknown datafield {key!r}")
        for key in spec.get("missing") or []:
            if str(key).upper() not in self.datafields:
                raise exc.ControlError(400, f"generate.missing: unknown datafield {key!r}")
        try:
            added_at = _as_time(spec.get("added_at"), when or self.backend.clock.now())
        except ValueError as e:
            raise exc.ControlError(400, f"generate.added_at: {e}") from None
        g = Generator(spec, 0, added_at)
        for other in book.generators:
            if g.overlaps(other):
                raise exc.ControlError(
                    400, "generate: overlaps members already generated in this book"
                )
        g.id_base = self.backend.next_contact_ids(g.count)
        # Explicit members of this book that the generator covers now live in its segment.
        for seg in book.segments:
            if isinstance(seg, Explicit):
                keep = []
                for cid in seg.ids:
                    if g.index_of(self.contacts[cid].email) is not None:
                        del book.added[cid]
                    else:
                        keep.append(cid)
                seg.ids = keep
        book.segments = [s for s in book.segments if _seg_len(s) or isinstance(s, Generator)]
        book.segments.append(g)
        self.generators.append(g)
        return g

    # -- reading members ---------------------------------------------------------------------

    def _touched_indices(self, g: Generator, lo: int) -> list[int]:
        d = self.touched.get(g.pattern, {})
        return sorted(n - g.start for n in d if g.start + lo <= n < g.start + g.count)

    def _segment_runs(
        self, book: AddressBook, seg: Segment, since: datetime | None, lo: int, mode: str
    ) -> Iterator[tuple[int, int | None]]:
        """(first index, length) runs of a segment's matching members from index lo on;
        length None means 'every member from here to the end of the segment'.
        mode "modified": added to this book or contact updated since; "created": created since."""
        if isinstance(seg, Generator):
            if since is None or seg.added_at >= since:
                if lo < seg.count:
                    yield lo, None
                return
            if mode == "created":
                return  # generated contacts were created when their generator ran
            for i in self._touched_indices(seg, lo):
                if self.generated_member(seg, i).updated >= since:
                    yield i, 1
            return
        for i in range(lo, len(seg.ids)):
            cid = seg.ids[i]
            c = self.contacts[cid]
            if mode == "created":
                when = c.created
            elif self.join_updates_modified:
                when = max(book.added[cid], c.updated)
            else:
                when = c.updated  # the join itself is no modification
            if since is None or when >= since:
                yield i, 1

    def _member(self, seg: Segment, i: int) -> ContactRecord:
        if isinstance(seg, Generator):
            return self.generated_member(seg, i)
        return self.contacts[seg.ids[i]]

    def book_members(
        self,
        book: AddressBook,
        since: datetime | None = None,
        *,
        skip: int = 0,
        position: int = 0,
        mode: str = "modified",
    ) -> Iterator[tuple[int, ContactRecord]]:
        """Members of a book (optionally only those added/modified since `since`) as
        (position, contact), starting at book position `position` and skipping the first
        `skip` matches. Costs O(segments + touched members + what the caller consumes)."""
        base = 0
        for seg in book.segments:
            n = _seg_len(seg)
            if position >= base + n:
                base += n
                continue
            lo = max(0, position - base)
            for first, length in self._segment_runs(book, seg, since, lo, mode):
                run = (n - first) if length is None else length
                if skip >= run:
                    skip -= run
                    continue
                for i in range(first + skip, first + run):
                    yield base + i, self._member(seg, i)
                skip = 0
            base += n

    def all_contacts(
        self, after_id: int = 0, *, mode: str = "modified", since: datetime | None = None
    ) -> Iterator[ContactRecord]:
        """Every contact of the account in ascending id order, ids > after_id. With `since`,
        generators older than it are skipped whole (their untouched members cannot match);
        the caller still filters each contact."""
        streams: list[Iterator[ContactRecord]] = [self._materialised_after(after_id)]
        streams += [
            self._generated_after(g, after_id)
            for g in self.generators
            if since is None or g.added_at >= since
        ]
        return heapq.merge(*streams, key=lambda c: c.id)

    def _materialised_after(self, after_id: int) -> Iterator[ContactRecord]:
        for k in range(bisect.bisect_right(self.sorted_ids, after_id), len(self.sorted_ids)):
            yield self.contacts[self.sorted_ids[k]]

    def _generated_after(self, g: Generator, after_id: int) -> Iterator[ContactRecord]:
        for i in range(max(0, after_id + 1 - g.id_base), g.count):
            c = self.generated_member(g, i)
            if c.generator is g:  # still virtual and this generator is its origin
                yield c

    def books_of(self, c: ContactRecord) -> list[AddressBook]:
        return [b for b in self.books.values() if self.is_member(b, c)]

    def count_call(self, now: datetime) -> None:
        self.calls.append(now)
        while self.calls and self.calls[0] < now - timedelta(hours=1):
            self.calls.popleft()


def _canon(value: Any, allowed: tuple[str, ...]) -> str | None:
    if not isinstance(value, str):
        return None
    for a in allowed:
        if a.lower() == value.lower():
            return a
    return None


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


# -- the backend ---------------------------------------------------------------------------------


class DotdigitalBackend:
    """All accounts of one emulated Dotdigital region; one lock serialises requests."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.accounts: dict[str, Account] = {}
        self._next_contact = 1001
        self._book_id = 1
        self._account_id = 1

    # ids are unique across accounts, like the real service's
    def next_contact_ids(self, n: int) -> int:
        first = self._next_contact
        self._next_contact += max(n, 0)
        return first

    def next_book_id(self) -> int:
        return self._book_id

    def claim_book_id(self, book_id: int) -> None:
        for acct in self.accounts.values():
            if book_id in acct.books:
                raise exc.SeedError(f"address book id {book_id} is used twice")
        self._book_id = max(self._book_id, book_id + 1)

    def next_account_id(self) -> int:
        n = self._account_id
        self._account_id += 1
        return n

    def account_for(self, username: str, password: str) -> Account | None:
        for acct in self.accounts.values():
            if acct.username == username and acct.password == password:
                return acct
        return None

    @classmethod
    def from_seed(cls, section: dict[str, Any] | None) -> DotdigitalBackend:
        """Build from the (schema-validated) "dotdigital" seed section; SeedError on rule breaks."""
        backend = cls()
        section = section or {}
        now = backend.clock.now()
        usernames: set[str] = set()
        for a_i, spec in enumerate(section.get("accounts") or []):
            where = f"dotdigital.accounts[{a_i}]"
            if spec["name"] in backend.accounts:
                raise exc.SeedError(f"{where}.name: account {spec['name']!r} is defined twice")
            if spec["username"] in usernames:
                raise exc.SeedError(
                    f"{where}.username: {spec['username']!r} is used by two accounts"
                )
            usernames.add(spec["username"])
            acct = Account(backend, spec)
            backend.accounts[acct.name] = acct
            try:
                _seed_account(acct, spec, now, where)
            except exc.DotdigitalError as e:
                raise exc.SeedError(f"{where}: {e.message}") from None
        return backend


def _seed_account(acct: Account, spec: dict[str, Any], now: datetime, where: str) -> None:
    for d_i, df in enumerate(spec.get("datafields") or []):
        if str(df["name"]).upper() in SYSTEM_DATAFIELDS:
            continue  # always there; listing it again is harmless
        try:
            acct.create_datafield(
                df["name"], df.get("type", "String"), df.get("visibility"), df.get("default")
            )
        except exc.DotdigitalError as e:
            raise exc.SeedError(f"{where}.datafields[{d_i}]: {e.message}") from None
    for c_i, c in enumerate(spec.get("contacts") or []):
        _seed_contact(acct, None, c, now, f"{where}.contacts[{c_i}]")
    for b_i, b in enumerate(spec.get("address_books") or []):
        bwhere = f"{where}.address_books[{b_i}]"
        try:
            book = acct.create_book(b["name"], b.get("visibility"), b.get("id"))
        except exc.DotdigitalError as e:
            raise exc.SeedError(f"{bwhere}: {e.message}") from None
        for c_i, c in enumerate(b.get("contacts") or []):
            _seed_contact(acct, book, c, now, f"{bwhere}.contacts[{c_i}]")
        gens = b.get("generate")
        for g_i, gspec in enumerate(gens if isinstance(gens, list) else [gens] if gens else []):
            try:
                acct.generate(book, gspec, now)
            except exc.ControlError as e:
                raise exc.SeedError(f"{bwhere}.generate[{g_i}]: {e.message}") from None


def _seed_contact(
    acct: Account, book: AddressBook | None, c: dict[str, Any], now: datetime, where: str
) -> None:
    try:
        added = _as_time(c.get("added_at"), now)
        created = _as_time(c.get("created_at"), added)
        updated = _as_time(c.get("modified_at"), added)
    except ValueError as e:
        raise exc.SeedError(f"{where}: {e}") from None
    try:
        existed = acct.contact_by_email(str(c["email"])) is not None
        contact, _ = acct.upsert_contact(
            c["email"],
            c.get("datafields"),
            c.get("opt_in_type"),
            c.get("email_type"),
            updated,
            c.get("status"),
        )
        if not existed:
            contact.created = min(created, updated)
            contact.updated = updated
        if book is not None and not acct.is_member(book, contact):
            book.append_explicit(contact.id, added)
    except exc.DotdigitalError as e:
        raise exc.SeedError(f"{where}: {e.message}") from None
