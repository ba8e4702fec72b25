"""The contacts the Lead step read this run, handed to the update step instead of read again.

The update step reads each book's members modified since its update mark (sync/update_changes.py).
That mark is the Lead step's watermark of the run before, so the update read's window is the one
the Lead step (sync/ingest.py) has just read, plus whatever changed since that read started: a
second read of the same members. The ingest hands what it read over here (pages as read, with
the window it read and Dotdigital's time before it read); the update step then asks Dotdigital
only for the members modified since that time, which carry whatever changed after (or during)
the ingest read and take precedence, and takes the rest from here: the same contacts with the
same values as the full window's read, for one narrow read.

Bounded: at most KEPT_CONTACTS contacts an account (as for the ledger entries a run keeps,
sync/account.py); beyond, nothing is kept and the update step reads as before. A dry run keeps
nothing. A read cut short (a stop) is never handed over: only a book whose read ended (`done`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from leadsync.dotdigital.model import Contact

KEPT_CONTACTS = 10_000
PAGE = 5_000  # handed-over contacts per page given to the update step's read loop


@dataclass(slots=True)
class BookRead:
    """One book's read by the Lead step: its window, and every member it returned."""

    since: datetime | None  # where the read started (None: every member of the book)
    started: datetime  # Dotdigital's time before the read (the book's new watermark)
    datafields: frozenset[str]  # the datafields the read asked for
    contacts: dict[int, Contact] = field(default_factory=dict)
    done: bool = False


class ReadHandOver:
    """What one account's Lead step read, by book (see module doc)."""

    def __init__(self, limit: int = KEPT_CONTACTS) -> None:
        self.limit = limit
        self.kept = 0
        self.books: dict[int, BookRead] = {}

    def start(
        self, book_id: int, since: datetime | None, started: datetime, datafields: Iterable[str]
    ) -> None:
        if self.limit:
            self.books[book_id] = BookRead(since, started, frozenset(datafields))

    def page(self, book_id: int, contacts: Sequence[Contact]) -> None:
        read = self.books.get(book_id)
        if read is None:
            return
        self.kept += len(contacts)
        if self.kept > self.limit:  # too many to hold: none is handed over
            self.books.clear()
            self.limit = 0
            return
        read.contacts.update((c.id, c) for c in contacts)

    def done(self, book_id: int) -> None:
        read = self.books.get(book_id)
        if read is not None:
            read.done = True

    def book(self, book_id: int) -> BookRead | None:
        read = self.books.get(book_id)
        return read if read is not None and read.done else None

    def contact_ids(self) -> set[int]:
        return {cid for read in self.books.values() if read.done for cid in read.contacts}


def then_the_rest(pages: Iterable[list[Contact]], read: BookRead) -> Iterator[list[Contact]]:
    """The pages of the narrow read (members modified since `read.started`: current values),
    then the handed-over members it did not bring, in pages. Given out once: each contact is
    let go as it is given (a narrow read that brings every member holds one copy)."""
    kept = read.contacts
    for page in pages:
        for contact in page:
            kept.pop(contact.id, None)
        yield page
    rest = sorted(kept)
    for start in range(0, len(rest), PAGE):
        yield [kept.pop(cid) for cid in rest[start : start + PAGE]]
