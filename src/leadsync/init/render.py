"""leadsync.yaml text from a proposal: commented, canonical (`fmt --check` accepts it). Pure.

The same proposal always gives the same bytes (sorted inputs, no clock, no host, no value of
any variable), so a regenerated file diffs well in a pull request. Values from the live systems
are quoted for YAML and have `${` escaped as `$${`, so a book named "Promo ${X}" stays a name;
text in comments is kept to one line.

Layout is left to `leadsync fmt` (config/fmt.py): the text is built with every end-of-line
comment at a far column, formatted, then each comment is moved to two spaces after its line
(aligned with its neighbours at the same indentation). fmt keeps an end-of-line comment at its
column when the line ends before it, so the result is still canonical (`fmt --check` passes;
the tests check it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import yaml

from leadsync.config.fmt import format_text
from leadsync.init.books import ProposedBooks, members
from leadsync.init.comments import one_line
from leadsync.init.environment import (
    CA_BUNDLE_VAR,
    STATE_DSN_VAR,
    AccountVars,
    SalesforceVars,
    ref,
)
from leadsync.init.mapping import DIRECTION, ProposedMapping
from leadsync.wording import join_and

SCHEMA_LINE = "# yaml-language-server: $schema=./schema/leadsync.schema.json"
# A column past every line but the pathological (a book name of 128 characters that all need
# escapes): where comments wait while fmt lays the file out. A line longer than this gets its
# comment two spaces after it from fmt, and keeps it there. (Farther costs: ruamel's scanner
# slows with the width of the whitespace it crosses.)
_FAR = 400
_WRAP = 88  # comment lines listing names are wrapped here


@dataclass(frozen=True, slots=True)
class AccountSpec:
    vars: AccountVars
    mapping: ProposedMapping
    books: ProposedBooks
    books_capped: bool
    book_page_limit: int


@dataclass(frozen=True, slots=True)
class FileSpec:
    state: str  # sqlite | postgres
    salesforce: SalesforceVars
    api_version: str
    lead_status: str | None  # the org's default Lead Status
    member_status: str
    accounts: tuple[AccountSpec, ...]

    @property
    def undecided(self) -> int:
        return sum(r.undecided for a in self.accounts for r in a.mapping.rows)


Line = tuple[int, str, str]  # indentation, YAML text, end-of-line comment


def render(spec: FileSpec) -> str:
    lines = [*_header(spec), "", *_body(spec)]
    return _align(format_text("\n".join(lines) + "\n"))


def scalar(value: str) -> str:
    """A YAML double-quoted scalar holding exactly `value` once loaded (fmt drops the quotes
    where YAML does not need them): `${` doubled, anything YAML may not hold raw escaped."""
    return '"' + "".join(_char(c) for c in value.replace("${", "$${")) + '"'


def _char(c: str) -> str:
    if c in _ESCAPES:
        return _ESCAPES[c]
    code = ord(c)
    if 0x20 <= code < 0x7F or (0xA0 <= code <= 0xFFFD and not 0xD800 <= code < 0xE000):
        return c if c not in "\u2028\u2029\ufeff" else f"\\u{code:04x}"
    if code > 0xFFFF:
        return c
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _canonical(value: str) -> str:
    """The scalar plain where YAML reads it back unchanged, else quoted: a commented-out line
    must read the same as a real one once uncommented."""
    escaped = value.replace("${", "$${")
    try:
        plain = yaml.safe_load(f"k: {escaped}") == {"k": escaped}
    except yaml.YAMLError:
        plain = False
    return escaped if plain and escaped == escaped.strip() and "#" not in escaped else scalar(value)


def _header(spec: FileSpec) -> list[str]:
    steps = ["`create_leads: true` on the address books whose new members become Leads"]
    if spec.undecided:
        steps.insert(
            0, "every `datafield: TODO` row: name the datafield (validate fails until then)"
        )
    return [
        SCHEMA_LINE,
        "#   Editors validate and complete this file with the schema of your leadsync:",
        "#     mkdir -p schema && leadsync schema > schema/leadsync.schema.json",
        "#",
        "# Written by `leadsync init` from what Dotdigital and Salesforce hold. Next:",
        *(f"#   {i}. {step};" for i, step in enumerate(steps, 1)),
        f"#   {len(steps) + 1}. leadsync validate, leadsync plan, leadsync apply, then leadsync sync.",
        "# Credentials come from the environment (${VAR}); this file holds none.",
    ]


def _body(spec: FileSpec) -> list[str]:
    items: list[Line] = [(0, "version: 1", "format version; always 1 for this format")]
    items += _state(spec.state)
    items += _salesforce(spec)
    items += [
        (0, "defaults:", ""),
        (2, f"lead_status: {scalar(spec.lead_status or 'New')}", _status_note(spec.lead_status)),
        (
            2,
            f"campaign_member_status: {scalar(spec.member_status)}",
            "status of new CampaignMembers; apply adds it to a linked Campaign that lacks it",
        ),
        (0, "accounts:", ""),
    ]
    for account in spec.accounts:
        items += _account(account)
    return [_far(indent, text, note) for indent, text, note in items]


def _state(backend: str) -> list[Line]:
    if backend == "postgres":
        return [
            (0, "state:", ""),
            (2, "backend: postgres", "a shared database; see the README"),
            (2, f"dsn: {ref(STATE_DSN_VAR)}", "e.g. postgresql://leadsync@db.example.com/leadsync"),
            (2, "schema: leadsync", ""),
        ]
    return [
        (0, "state:", ""),
        (2, "backend: sqlite", "or postgres, with dsn: ${LEADSYNC_STATE_DSN} (see the README)"),
        (2, "path: .leadsync/state.db", "relative to this file's directory"),
    ]


def _salesforce(spec: FileSpec) -> list[Line]:
    sf = spec.salesforce
    items: list[Line] = [
        (0, "salesforce:", ""),
        (2, f"instance_url: {ref('SF_INSTANCE_URL')}", "e.g. https://acme.my.salesforce.com"),
        (2, "auth:", f"{sf.form}: {sf.why}"),
        *((4, f"{key}: {ref(var)}", "") for key, var in sf.auth),
    ]
    if sf.ca_bundle:
        items.append((2, f"ca_bundle: {ref(CA_BUNDLE_VAR, '')}", "empty: the system trust store"))
    items.append((2, f"api_version: {scalar(spec.api_version)}", ""))
    return items


def _status_note(status: str | None) -> str:
    if status is None:
        return "the org reports no Lead Status: set an active one (plan checks it)"
    return "the org's default Lead Status, given to created Leads"


def _account(spec: AccountSpec) -> list[Line]:
    v = spec.vars
    items: list[Line] = [
        (2, f"{scalar(v.name)}:", ""),
        (4, "dotdigital:", ""),
        (6, f"{v.location_key}: {ref(v.location)}", ""),
        (6, f"username: {ref(v.username)}", ""),
        (6, f"password: {ref(v.password)}", ""),
        (4, "clear_address_books: false", "must stay false while a book has create_leads"),
        (
            4,
            "create_missing_datafields: false",
            "true: apply creates mapped datafields missing in Dotdigital",
        ),
        (4, "lead_mapping:", ""),
        (6, f"# Matched by name; {DIRECTION.value} fills new Leads from the datafield.", ""),
    ]
    for row in spec.mapping.rows:
        text = (
            f"- {{salesforce: {row.salesforce}, datafield: {row.datafield}, "
            f"direction: {DIRECTION.value}}}"
        )
        items.append((6, text, row.note))
    items += _comment_block(6, "not mapped:", spec.mapping.unmapped)
    items += _books(spec)
    return items


def _books(spec: AccountSpec) -> list[Line]:
    books = spec.books
    if not books.books and not books.left_out and not spec.books_capped:
        return [(4, "address_books: []", "the account has no address books")]
    items: list[Line] = [
        (4, "address_books:", ""),
        (6, "# create_leads: true turns a book's new members into Salesforce Leads.", ""),
    ]
    for book in books.books:
        items.append((6, f"- name: {scalar(book.name)}", members(book.members)))
        items.append((8, "create_leads: false", ""))
        if book.campaign is not None:
            items.append((8, f"campaign: {scalar(book.campaign)}", book.note))
        elif book.suggestion is not None:
            line = f"# campaign: {_canonical(book.suggestion)}  # {one_line(book.note)}"
            items.append((8, line, ""))
    items += [(6, f"# not listed: {one_line(text)}", "") for text in books.left_out]
    if spec.books_capped:
        limit = spec.book_page_limit
        items.append(
            (6, f"# only the first {limit:,} address books are listed (init reads no more);", "")
        )
        items.append((6, "# add any other book by its name", ""))
    return items


def _comment_block(indent: int, title: str, names: Sequence[str]) -> list[Line]:
    if not names:
        return []
    return [(indent, f"# {text}", "") for text in _wrap(f"{title} {join_and(list(names))}")]


def _wrap(text: str) -> Iterator[str]:
    line = ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > _WRAP:
            yield line
            line = "  " + word
        else:
            line = f"{line} {word}" if line else word
    if line:
        yield line


def _far(indent: int, text: str, note: str) -> str:
    line = " " * indent + text
    if not note:
        return line
    return line.ljust(_FAR) + "# " + one_line(note)


def _align(text: str) -> str:
    """Comments that fmt left at the far column move to two spaces after their line, lined up
    with the comments of the lines around them at the same indentation."""
    lines = text.split("\n")
    parts = [_split(line) for line in lines]
    out: list[str] = []
    i = 0
    while i < len(lines):
        if parts[i] is None:
            out.append(lines[i])
            i += 1
            continue
        indent = _indent(lines[i])
        j = i
        while j < len(lines) and parts[j] is not None and _indent(lines[j]) == indent:
            j += 1
        column = max(len(p[0]) for p in parts[i:j] if p is not None) + 2
        out += [p[0].ljust(column) + p[1] for p in parts[i:j] if p is not None]
        i = j
    return "\n".join(out)


def _split(line: str) -> tuple[str, str] | None:
    if len(line) > _FAR and line[_FAR] == "#" and line[_FAR - 1] == " ":
        return line[:_FAR].rstrip(" "), line[_FAR:]
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))
