"""The emulated Dotdigital backend: accounts, datafields, address books, contacts and their rules.

Plain in-memory model, no HTTP here (moto's layout). Design points, each for a reason:

- Generated members are never stored. A generator (count, email pattern with `{n}`, datafield
  patterns, a deterministic share with missing values) computes member `i` from its index, so a
  1,000,000-member book costs a few hundred bytes until members are touched; a member is
  materialised (copied into the contact table) only when something modifies it.
- A book is an ordered list of segments (books.py: a generator, a run of explicitly added
  contact ids, or a gap members left). Paging finds a position by arithmetic over segments, so a
  page costs O(page + segments), never O(book).
- Every time the server assigns comes from one Clock (clock.py).
- Contact updates take a merge option and are all or nothing; `updated` moves only when a
  stored value changes. Bulk imports live in imports.py, seeding in seeding.py.
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
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from leadsync.emulator.dotdigital import exceptions as exc
from leadsync.emulator.dotdigital.books import (
    SYSTEM_DATAFIELDS,
    AddressBook,
    ContactRecord,
    Explicit,
    Gap,
    Generator,
    Segment,
    seg_span,
)
from leadsync.emulator.dotdigital.clock import Clock, as_time, parse_when
from leadsync.emulator.dotdigital.seeding import seed_account

DATAFIELD_TYPES = ("String", "Numeric", "Date", "Boolean")
VISIBILITIES = ("Private", "Public")
RESERVED_BOOK_NAMES = ("test", "all contacts")
DATAFIELD_NAME = re.compile(r"[a-zA-Z0-9_-]{1,20}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
OPT_IN_TYPES = ("Unknown", "Single", "Double", "VerifiedDouble")
EMAIL_TYPES = ("PlainText", "Html")
MAX_BOOK_NAME = 128
# How a write merges into values a contact has (v3 names; v2's CSV import numbers them 0, 1, 2).
MERGE_OPTIONS = ("overwrite", "overwriteIfNotEmpty", "overwriteIfEmpty")
CHANGEABLE_STATUSES = ("Subscribed", "Unsubscribed", "Suppressed")


# -- data ------------------------------------------------------------------------------------


@dataclass
class DataFieldDef:
    name: str
    type: str = "String"
    visibility: str = "Private"
    default: Any = None


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


@dataclass
class ImportSettings:
    """How an account's next bulk imports behave (a control route sets it; see imports.py)."""

    pending_polls: int = 0
    outcome: str = "Finished"


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
        self.imports: dict[str, Any] = {}  # import id -> imports.ContactImport
        self.import_settings = ImportSettings()
        self.deletions: dict[str, str] = {}  # bulk member removal id -> status

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
            if i is not None and self._touched_id(g, i) is None:
                return g.contact_at(i)
        return None  # also for a generated address whose contact changed its email

    def _touched_id(self, g: Generator, i: int) -> int | None:
        return self.touched.get(g.pattern, {}).get(g.start + i)

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
        touched = self._touched_id(g, i)
        if touched is not None:
            return self.contacts[touched]
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
        for g in book.generators:
            i = g.index_of(c.member_email)
            if i is not None and i not in g.left:
                return True
        return False

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

    def remove_members(self, book: AddressBook, contact_ids: Iterable[int]) -> int:
        """Contacts leave the book (they stay in the account, unchanged); -> how many were
        members. Their positions stay taken, so paging markers handed out stay valid."""
        ids = set(contact_ids)
        gone = book.remove_explicit(ids)
        for cid in ids - gone:
            c = self.contact_by_id(cid)
            if c is None:
                continue
            for g in book.generators:
                i = g.index_of(c.member_email)
                if i is not None and i not in g.left and self.generated_member(g, i).id == cid:
                    g.left.add(i)
                    gone.add(cid)
        return len(gone)

    def record_deletion(self) -> str:
        """A bulk member removal the service reports on later; the emulator removes at once."""
        deletion = str(uuid.uuid4())
        self.deletions[deletion] = "Completed"
        return deletion

    def update_contact(
        self, c: ContactRecord, change: ContactChange, when: datetime | None = None
    ) -> bool:
        """Apply a change to an existing contact, all or nothing; -> whether anything changed.

        `updated` (what `~modified` and modified-since read) moves only when a stored value
        changes: writing the values a contact already has is not a modification."""
        email = self._new_email(c, change.email)
        opt = _checked(change.opt_in_type, OPT_IN_TYPES, "OptInType")
        etype = _checked(change.email_type, EMAIL_TYPES, "EmailType")
        status = _checked(change.status, CHANGEABLE_STATUSES, "Status")
        values = merged_values(
            c.datafields, self.clean_datafields(change.datafields or {}), change.merge
        )
        changes = {
            "email": email if email != c.email else None,
            "opt_in_type": opt if opt != c.opt_in_type else None,
            "email_type": etype if etype != c.email_type else None,
            "status": status if status != c.status else None,
        }
        changes = {k: v for k, v in changes.items() if v is not None}
        if not values and not changes:
            return False
        c = self.materialise(c)
        if "email" in changes:
            del self.by_email[c.email]
            self.by_email[email] = c
        for key, value in changes.items():
            setattr(c, key, value)
        c.datafields.update(values)
        c.updated = max(c.updated, when or self.backend.clock.now())
        return True

    def _new_email(self, c: ContactRecord, raw: Any) -> str:
        if raw is None:
            return c.email
        if not isinstance(raw, str) or not EMAIL.fullmatch(raw.strip()):
            raise exc.v2_error(400, "Email is not valid", "ERROR_CONTACT_INVALID")
        email = raw.strip().lower()
        other = self.contact_by_email(email)
        if other is not None and other.id != c.id:
            raise exc.EmailTaken(email)
        return email

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
            added_at = as_time(spec.get("added_at"), when or self.backend.clock.now())
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
        covered = {
            cid for cid in book.added if g.index_of(self.contacts[cid].member_email) is not None
        }
        book.remove_explicit(covered)
        # Stored contacts with a generated address are that member: record them as touched,
        # so the member stays theirs (and shows in modified-since) even after an email change.
        for c in list(self.by_email.values()):
            i = g.index_of(c.member_email)
            if i is not None:
                self.touched.setdefault(g.pattern, {}).setdefault(g.start + i, c.id)
                c.generated_email = c.member_email
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
        if isinstance(seg, Gap):
            return
        if isinstance(seg, Generator):
            if since is None or seg.added_at >= since:
                yield from _runs_around(lo, seg.count, seg.left)
                return
            if mode == "created":
                return  # generated contacts were created when their generator ran
            for i in self._touched_indices(seg, lo):
                if i not in seg.left and self.generated_member(seg, i).updated >= since:
                    yield i, 1
            return
        for i in range(lo, len(seg.ids)):
            cid = seg.ids[i]
            if cid is None:
                continue
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
        assert isinstance(seg, Explicit)
        cid = seg.ids[i]
        assert cid is not None
        return self.contacts[cid]

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
            n = seg_span(seg)
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


def _runs_around(lo: int, count: int, holes: set[int]) -> Iterator[tuple[int, int | None]]:
    """Runs (first, length) covering lo..count-1 except the holes; the last run open-ended."""
    start = lo
    for h in sorted(h for h in holes if h >= lo):
        if h > start:
            yield start, h - start
        start = h + 1
    if start < count:
        yield start, None


@dataclass
class ContactChange:
    """What a contact update asks for; None leaves a property as it is."""

    email: Any = None
    datafields: dict[str, Any] | None = None
    opt_in_type: Any = None
    email_type: Any = None
    status: Any = None
    merge: str = "overwrite"


def _empty(value: Any) -> bool:
    return value is None or value == ""


def merged_values(current: dict[str, Any], incoming: dict[str, Any], option: str) -> dict[str, Any]:
    """The datafield values a write changes. `overwrite` writes every given value (an empty one
    clears the field), `overwriteIfNotEmpty` skips empty given values, `overwriteIfEmpty` only
    fills fields that are empty now."""
    if option not in MERGE_OPTIONS:
        raise ValueError(f"unknown merge option {option!r}")
    out = {}
    for key, value in incoming.items():
        if option == "overwriteIfNotEmpty" and _empty(value):
            continue
        if option == "overwriteIfEmpty" and not _empty(current.get(key)):
            continue
        if current.get(key) != value:
            out[key] = value
    return out


def _checked(value: Any, allowed: tuple[str, ...], what: str) -> str | None:
    if value is None:
        return None
    canon = _canon(value, allowed)
    if canon is None:
        raise exc.v2_error(400, f"{what} is not valid", "ERROR_CONTACT_INVALID")
    return canon


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
                seed_account(acct, spec, now, where)
            except exc.DotdigitalError as e:
                raise exc.SeedError(f"{where}: {e.message}") from None
        return backend
