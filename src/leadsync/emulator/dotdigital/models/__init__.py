"""The emulated Dotdigital backend: accounts, datafields, address books, contacts and their rules.

Plain in-memory model, no HTTP here (moto's layout): an Account is composed of one mixin per
concern (base.py lists them), the backend holds the accounts and hands out ids. Design points,
each for a reason:

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

import threading
from collections import deque
from datetime import datetime
from typing import Any

from leadsync.emulator.dotdigital import exceptions as exc
from leadsync.emulator.dotdigital.books import (
    SYSTEM_DATAFIELDS,
    AddressBook,
    ContactRecord,
    Generator,
)
from leadsync.emulator.dotdigital.clock import Clock
from leadsync.emulator.dotdigital.models.address_books import AddressBooks
from leadsync.emulator.dotdigital.models.base import ImportSettings
from leadsync.emulator.dotdigital.models.contacts import EMAIL, ContactChange, merged_values
from leadsync.emulator.dotdigital.models.datafields import DataFieldDef
from leadsync.emulator.dotdigital.models.limits import CallCount, RateLimit
from leadsync.emulator.dotdigital.models.members import Members
from leadsync.emulator.dotdigital.seeding import seed_account

__all__ = [
    "EMAIL",
    "Account",
    "AddressBook",
    "ContactChange",
    "ContactRecord",
    "DataFieldDef",
    "DotdigitalBackend",
    "ImportSettings",
    "merged_values",
]


class Account(AddressBooks, Members, CallCount):
    """One Dotdigital account: its datafields, contacts and address books."""

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
