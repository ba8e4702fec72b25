"""Address books: creating them, joining and leaving them, and generators (members computed from
an index, never stored: see books.py). A removal leaves a gap so paging markers stay valid."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from leadsync.emulator.dotdigital import exceptions as exc
from leadsync.emulator.dotdigital.books import AddressBook, ContactRecord, Generator
from leadsync.emulator.dotdigital.clock import as_time
from leadsync.emulator.dotdigital.models.base import visibility_of
from leadsync.emulator.dotdigital.models.contacts import Contacts

RESERVED_BOOK_NAMES = ("test", "all contacts")
MAX_BOOK_NAME = 128


class AddressBooks(Contacts):
    """Books and their membership."""

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
        vis = visibility_of(
            visibility, "Visibility must be Private or Public", "ERROR_ADDRESSBOOK_INVALID"
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

    def books_of(self, c: ContactRecord) -> list[AddressBook]:
        return [b for b in self.books.values() if self.is_member(b, c)]
