"""The address books `leadsync init` lists, and the Campaign each may link to. Pure.

Every book is listed with `create_leads: false`: turning Leads on is a person's decision.
A book gets a `campaign:` line when exactly one Campaign has its name (the plan's rule for a
name is exact: `Observed.campaigns_matching`); otherwise a commented-out line suggests a
Campaign whose name differs only in case, spaces or punctuation ("spring launch" and "Spring
Launch"), or the Ids to choose from when several Campaigns share the name. (A fuzzier match
would compare every book with every Campaign: millions of comparisons in a big org, and a
suggestion a person would rarely take; `plan` names the closest Campaigns of a name that is
not found.)
Books `plan` could not resolve (two books of one name, LS202/LS106; a name the schema refuses)
are not listed but named in a comment, so the generated file always plans.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from leadsync.dotdigital.model import AddressBook
from leadsync.init.comments import one_line
from leadsync.init.mapping import squash
from leadsync.wording import join_and, plural

BOOK_NAME_MAX = 128  # the schema's maxLength for an address book name


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    name: str
    statuses: tuple[str, ...] | None  # member status labels; None when not read (call budget)


@dataclass(frozen=True, slots=True)
class ProposedBook:
    name: str
    members: int
    campaign: str | None  # the `campaign:` value
    note: str  # the campaign line's comment (or the suggestion's)
    suggestion: str | None = None  # a commented-out `campaign:` value


@dataclass(frozen=True, slots=True)
class ProposedBooks:
    books: tuple[ProposedBook, ...]
    left_out: tuple[str, ...]  # comment lines naming books not listed, and why


def propose(
    books: Sequence[AddressBook], campaigns: Sequence[Campaign], member_status: str
) -> ProposedBooks:
    by_name: dict[str, list[AddressBook]] = defaultdict(list)
    for book in books:
        by_name[book.name].append(book)
    named: dict[str, list[Campaign]] = defaultdict(list)
    similar: dict[str, list[str]] = defaultdict(list)
    for campaign in sorted(campaigns, key=lambda c: (c.name, c.id)):
        named[campaign.name].append(campaign)
        if campaign.name not in similar[squash(campaign.name)]:
            similar[squash(campaign.name)].append(campaign.name)
    listed: list[ProposedBook] = []
    left_out: list[str] = []
    for name in sorted(by_name, key=lambda n: (n.casefold(), n)):
        same = sorted(by_name[name], key=lambda b: b.id)
        if len(same) > 1:
            ids = join_and([str(b.id) for b in same])
            left_out.append(
                f'"{one_line(name)}": {len(same)} address books have this name (ids {ids}); '
                "rename all but one in Dotdigital to use it"
            )
        elif not name.strip() or len(name) > BOOK_NAME_MAX:
            left_out.append(
                f'"{one_line(name[:60])}" (id {same[0].id}): an address book name must have 1 '
                f"to {BOOK_NAME_MAX} characters"
            )
        else:
            listed.append(_book(same[0], named, similar, member_status))
    return ProposedBooks(tuple(listed), tuple(left_out))


def _book(
    book: AddressBook,
    campaigns: Mapping[str, list[Campaign]],
    similar: Mapping[str, list[str]],
    member_status: str,
) -> ProposedBook:
    exact = campaigns.get(book.name, [])
    if len(exact) == 1:
        return ProposedBook(
            book.name, book.contacts, book.name, _linked_note(exact[0], member_status)
        )
    if exact:
        ids = join_and([c.id for c in exact])
        note = f"{len(exact)} Campaigns have this name ({ids}): link one by its Id"
        return ProposedBook(book.name, book.contacts, None, note, suggestion=exact[0].id)
    alike = similar.get(squash(book.name), [])
    if not alike:
        return ProposedBook(book.name, book.contacts, None, "")
    note = "a Campaign named alike (case, spaces or punctuation differ); uncomment to link it"
    return ProposedBook(book.name, book.contacts, None, note, suggestion=alike[0])


def _linked_note(campaign: Campaign, member_status: str) -> str:
    note = "the Campaign with this name; linked once create_leads is true"
    if campaign.statuses is None:
        return note
    shown = ", ".join(one_line(s) for s in campaign.statuses) or "none"
    note += f" (member statuses: {shown}"
    if member_status not in campaign.statuses:
        note += f"; apply adds {member_status}"
    return note + ")"


def members(count: int) -> str:
    return plural(count, "member").replace(f"{count} ", f"{count:,} ", 1)
