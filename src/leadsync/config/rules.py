"""Offline semantic rules: what the schema cannot say about a config.

They read the plain data tree (not the typed Config) so they still run, and still point at the
right line, when other parts of the file have schema errors; every lookup is defensive because
nothing here may assume the schema passed.
"""

from __future__ import annotations

from typing import Any

from leadsync.config import codes
from leadsync.config.model import Direction
from leadsync.config.source import Tree, child_path, index_path
from leadsync.duration import DurationTooLong, format_duration, parse_duration
from leadsync.leadrules import REQUIRED_LEAD_FIELDS
from leadsync.sync.schedule import MAX_INTERVAL, MIN_INTERVAL
from leadsync.wording import join_and

_WRITES = {d.value for d in Direction if d.writes_to_salesforce}
_ALL = {d.value for d in Direction}


# Salesforce cancels a request that runs longer than this; a create sent before a crash can
# still complete until then (see sync.in_doubt_grace).
SALESFORCE_REQUEST_LIMIT_SECONDS = 600


def check(tree: Tree) -> None:
    data = tree.data
    if not isinstance(data, dict):
        return
    _sweep_every(tree, data.get("sync"))
    _in_doubt_grace(tree, data.get("sync"))
    accounts = data.get("accounts")
    if not isinstance(accounts, dict):
        return
    for name, account in accounts.items():
        if isinstance(account, dict):
            _account(tree, child_path("accounts", name), account)


def _rows(account: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    items = account.get(key)
    if not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)]


def _account(tree: Tree, path: str, account: dict[str, Any]) -> None:
    books = _rows(account, "address_books")
    mapping = _rows(account, "lead_mapping")
    books_path = child_path(path, "address_books")
    map_path = child_path(path, "lead_mapping")

    lead_books = [
        tree.show(b.get("name"), child_path(index_path(books_path, i), "name"))
        for i, b in books
        if b.get("create_leads") is True
    ]

    if account.get("clear_address_books") is True and lead_books:
        _clear_with_create_leads(tree, path, lead_books)
    _push_rules(tree, path, account, books)

    _undecided(tree, map_path, mapping)
    _duplicates(tree, map_path, mapping, "salesforce", codes.DUPLICATE_SALESFORCE_FIELD, fold=True)
    _duplicates(tree, map_path, mapping, "datafield", codes.DUPLICATE_DATAFIELD, fold=True)
    contacts_path = child_path(path, "contact_mapping")
    contacts = _rows(account, "contact_mapping")
    _duplicates(
        tree, contacts_path, contacts, "salesforce", codes.DUPLICATE_SALESFORCE_FIELD, fold=True
    )
    _duplicates(tree, contacts_path, contacts, "datafield", codes.DUPLICATE_DATAFIELD, fold=True)
    _duplicates(tree, books_path, books, "name", codes.DUPLICATE_BOOK, fold=False)

    if lead_books:
        _required_fields(tree, path, map_path, mapping, lead_books)
    _campaign_rules(tree, books_path, books)


def _clear_with_create_leads(tree: Tree, path: str, lead_books: list[str]) -> None:
    where = child_path(path, "clear_address_books")
    tree.add(
        codes.CLEAR_WITH_CREATE_LEADS,
        "error",
        "clear_address_books is true: at every sync, address books are emptied of everyone "
        f"who is not a member of their Salesforce Campaign, but {_books(lead_books, 'has', 'have')} "
        f"create_leads: {'its' if len(lead_books) == 1 else 'their'} new members would be "
        "removed before the sync reads them; set clear_address_books: false",
        where,
        tree.pos(where),
    )


def _campaign_rules(tree: Tree, books_path: str, books: list[tuple[int, dict[str, Any]]]) -> None:
    """A campaign nothing joins (no create_leads, no push), add_existing_to_campaign without a
    campaign: both are warnings, the config still works."""
    for i, book in books:
        campaign = book.get("campaign")
        pushing = book.get("push_campaign_members") is True
        if (
            isinstance(campaign, str)
            and campaign
            and book.get("create_leads") is not True
            and not pushing
        ):
            where = child_path(index_path(books_path, i), "campaign")
            tree.add(
                codes.CAMPAIGN_WITHOUT_CREATE_LEADS,
                "warning",
                "campaign is set but create_leads is not true, so no Lead will join the campaign",
                where,
                tree.pos(where),
            )
        if "add_existing_to_campaign" in book and not (isinstance(campaign, str) and campaign):
            where = child_path(index_path(books_path, i), "add_existing_to_campaign")
            tree.add(
                codes.ADD_EXISTING_WITHOUT_CAMPAIGN,
                "warning",
                "add_existing_to_campaign is set but the address book has no campaign, so it "
                "has no effect",
                where,
                tree.pos(where),
            )


def _push_rules(
    tree: Tree, path: str, account: dict[str, Any], books: list[tuple[int, dict[str, Any]]]
) -> None:
    """Salesforce -> Dotdigital: a pushing book needs its Campaign; member_statuses and
    clear_address_books only act on pushing books."""
    books_path = child_path(path, "address_books")
    pushing = [(i, b) for i, b in books if b.get("push_campaign_members") is True]
    for i, book in books:
        base = index_path(books_path, i)
        campaign = book.get("campaign")
        has_campaign = isinstance(campaign, str) and bool(campaign)
        if book.get("push_campaign_members") is True and not has_campaign:
            where = child_path(base, "push_campaign_members")
            tree.add(
                codes.PUSH_WITHOUT_CAMPAIGN,
                "error",
                "push_campaign_members is true but the address book has no campaign: set "
                "campaign to the Salesforce Campaign whose members fill the book",
                where,
                tree.pos(where),
            )
        if "member_statuses" in book and book.get("push_campaign_members") is not True:
            where = child_path(base, "member_statuses")
            tree.add(
                codes.STATUSES_WITHOUT_PUSH,
                "warning",
                "member_statuses is set but push_campaign_members is not true, so it has no effect",
                where,
                tree.pos(where),
            )
    if account.get("clear_address_books") is True and not pushing:
        where = child_path(path, "clear_address_books")
        tree.add(
            codes.CLEAR_WITHOUT_PUSH,
            "warning",
            "clear_address_books is true but no address book of the account has "
            "push_campaign_members: true, so it does nothing (it empties pushing books of "
            "people who are not in their Campaign)",
            where,
            tree.pos(where),
        )


def _sweep_every(tree: Tree, sync: Any) -> None:
    """sync.sweep_every is read by the one duration parser (as `sync --every` is) and takes
    the same range (10s to 31 days); the schema's pattern refuses other shapes, this catches
    what a pattern cannot (zero, too short, too long)."""
    if not isinstance(sync, dict) or not isinstance(sync.get("sweep_every"), str):
        return
    text = sync["sweep_every"]
    try:
        seconds = parse_duration(text)
    except DurationTooLong:
        seconds = MAX_INTERVAL + 1
    except ValueError:
        return  # the schema reports the form (LS024)
    if seconds <= 0:
        problem = "the interval must be longer than zero"
    elif seconds < MIN_INTERVAL:
        problem = f"too short; the shortest interval is {format_duration(MIN_INTERVAL)}"
    elif seconds > MAX_INTERVAL:
        problem = "too long; the longest interval is 31 days (744h)"
    else:
        return
    where = "sync.sweep_every"
    tree.add(codes.BAD_VALUE, "error", f"sweep_every {text!r}: {problem}", where, tree.pos(where))


def _undecided(tree: Tree, map_path: str, rows: list[tuple[int, dict[str, Any]]]) -> None:
    """`datafield: TODO` is how `leadsync init` writes a required Lead field no datafield
    matched: the file must not plan until a person names the datafield (or drops the row)."""
    for i, row in rows:
        if row.get("datafield") != codes.TODO_DATAFIELD:
            continue
        row_path = index_path(map_path, i)
        where = child_path(row_path, "datafield")
        field = row.get("salesforce")
        shown = tree.show(field, child_path(row_path, "salesforce"))
        what = f"Lead field {shown}" if isinstance(field, str) else "this row"
        tree.add(
            codes.UNDECIDED_DATAFIELD,
            "error",
            f"{what} has no datafield yet (datafield: TODO): write the Dotdigital datafield "
            "that holds it (create_missing_datafields: true lets apply create a new one), or "
            "remove the row",
            where,
            tree.pos(where),
        )


def _books(names: list[str], verb_one: str, verb_many: str) -> str:
    """ "address book 'A' has" / "address books 'A' and 'B' have" (at most three named)."""
    if len(names) == 1:
        return f"address book {names[0]} {verb_one}"
    return f"address books {join_and(names, limit=3)} {verb_many}"


def _in_doubt_grace(tree: Tree, sync: Any) -> None:
    """A grace shorter than a request can run lets a re-sent create overtake the first one."""
    if not isinstance(sync, dict) or not isinstance(sync.get("in_doubt_grace"), str):
        return
    try:
        seconds = parse_duration(sync["in_doubt_grace"])
    except ValueError:
        return  # the schema reports the form (LS024)
    if seconds < SALESFORCE_REQUEST_LIMIT_SECONDS:
        where = "sync.in_doubt_grace"
        tree.add(
            codes.SHORT_IN_DOUBT_GRACE,
            "warning",
            f"in_doubt_grace {format_duration(seconds)} is shorter than the 10 minutes "
            "Salesforce may keep running a request: in an org without the Lead field "
            "Leadsync_Key__c, a create still running when its run was killed can be sent again "
            "and make a duplicate Lead (use at least 11m, or add the field)",
            where,
            tree.pos(where),
        )


def _duplicates(
    tree: Tree,
    list_path: str,
    rows: list[tuple[int, dict[str, Any]]],
    key: str,
    code: str,
    *,
    fold: bool,
) -> None:
    """Salesforce field and datafield names are case-insensitive, so FirstName == firstname."""
    first: dict[str, int] = {}
    for i, row in rows:
        value = row.get(key)
        if not isinstance(value, str):
            continue
        norm = value.strip().casefold() if fold else value.strip()
        where = child_path(index_path(list_path, i), key)
        if norm in first:
            earlier = child_path(index_path(list_path, first[norm]), key)
            what = {
                "salesforce": "Salesforce field",
                "datafield": "datafield",
                "name": "address book",
            }[key]
            tree.add(
                code,
                "error",
                f"{what} {tree.show(value, where)} appears twice (first at line {tree.pos(earlier).line})",
                where,
                tree.pos(where),
            )
        else:
            first[norm] = i


def _required_fields(
    tree: Tree,
    account_path: str,
    map_path: str,
    mapping: list[tuple[int, dict[str, Any]]],
    lead_books: list[str],
) -> None:
    for field in REQUIRED_LEAD_FIELDS:
        rows = [
            (i, row)
            for i, row in mapping
            if isinstance(row.get("salesforce"), str)
            and row["salesforce"].strip().casefold() == field.casefold()
        ]
        if not rows:
            anchor = map_path if map_path in tree.positions else account_path
            tree.add(
                codes.REQUIRED_FIELD_UNMAPPED,
                "error",
                f"{field} is not mapped, but {_books(lead_books, 'creates', 'create')} Leads: "
                f"map FirstName, LastName and Company with two-way or dotdigital-to-salesforce",
                anchor,
                tree.key_pos(anchor),
            )
            continue
        if any(_text(row.get("direction")) in _WRITES for _, row in rows):
            continue
        i, row = rows[0]
        where = child_path(index_path(map_path, i), "direction")
        if _text(row.get("direction")) not in _ALL:
            continue  # missing/invalid direction: the schema already reports it
        tree.add(
            codes.REQUIRED_FIELD_WRONG_DIRECTION,
            "error",
            f"{field} is mapped {row['direction']}, which never writes to Salesforce, but "
            f"{_books(lead_books, 'creates', 'create')} Leads: use two-way or "
            "dotdigital-to-salesforce",
            where,
            tree.pos(where),
        )


def _text(value: Any) -> str | None:
    """Only text can be a direction; anything else (a list, a number) is the schema's finding."""
    return value if isinstance(value, str) else None
