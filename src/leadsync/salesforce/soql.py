"""SOQL building without string-concatenating raw values: quoting, identifiers, IN chunking.

Values always go through simple-salesforce's quoting (`quote_soql_value`, what its
`format_soql` applies to each value: it escapes quotes, backslashes and control characters),
so an email such as `o'brien@example.com` or `"x\\" OR Id != null` stays a value. Identifiers
(object and field names) are checked against the API-name grammar instead, because they cannot
be quoted in SOQL.

Why these sizes: an IN list is bounded by the SOQL statement limit (100,000 characters) and,
to keep each list's answer on one result page, by 2,000 values. A long query cannot travel in a
GET's query string (Salesforce refuses a request URI over 16,384 bytes, and non-ASCII
characters triple or worse when percent-encoded), so the client sends a query whose encoded
length exceeds MAX_GET_QUERY_CHARS as a Composite subrequest, which has no such limit
(SalesforceClient.query_many).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from urllib.parse import quote_from_bytes

from simple_salesforce.format import quote_soql_value

MAX_GET_QUERY_CHARS = 8_000  # URL-encoded query sent as a GET: well under the 16,384-byte URI
MAX_SOQL_CHARS = 90_000  # one statement built here; Salesforce refuses over 100,000 characters
MAX_IN_VALUES = 2_000  # values per IN list: one result page (2,000 rows) when each matches one

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")
_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")


def identifier(name: str) -> str:
    """An object or field API name, checked: these are the only unquoted parts of our SOQL."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ValueError(f"not a Salesforce API name: {name!r}")
    return name


def field_list(fields: Iterable[str]) -> str:
    names = [identifier(f) for f in fields]
    if not names:
        raise ValueError("a SOQL query needs at least one field")
    return ", ".join(dict.fromkeys(names))


def quote(value: object) -> str:
    """One SOQL literal (string, number, boolean, date, None) or a parenthesised list."""
    return quote_soql_value(value)


def looks_like_id(value: str, prefix: str | None = None) -> bool:
    """A 15/18-character record id (optionally with the object's 3-character key prefix)."""
    if not _RECORD_ID.match(value):
        return False
    return prefix is None or value.startswith(prefix)


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def form_quote(text: str) -> str:
    """`quote_plus(text, safe="")`, the same string, without urllib's per-byte Python loop.

    Why: an IN-list query is up to 90,000 characters, and urllib quotes it byte by byte in a
    Python loop. Here each distinct character that needs escaping is replaced throughout in
    one `str.replace` (C): "%" first (the escapes written after it contain "%"), " " last
    (it becomes "+", which is escaped before). A character's escape is urllib's own: its UTF-8
    bytes, each as %XX in upper-case hex (a lone surrogate still raises UnicodeEncodeError).
    """
    special = set(text).difference(_UNRESERVED)
    if not special:
        return text
    quoted = text.replace("%", "%25") if "%" in special else text
    for char in special.difference("% "):
        quoted = quoted.replace(char, quote_from_bytes(char.encode("utf-8"), safe=""))
    return quoted.replace(" ", "+") if " " in special else quoted


def encoded_length(soql: str) -> int:
    """Length of the query as it travels in a URL (form-encoded)."""
    return len(form_quote(soql))


def in_queries(
    head: str,
    column: str,
    values: Sequence[object],
    *,
    tail: str = "",
    max_chars: int = MAX_SOQL_CHARS,
    max_values: int = MAX_IN_VALUES,
) -> Iterator[str]:
    """Yield `{head} WHERE {column} IN (...) {tail}` queries covering `values` in order.

    Each query stays within `max_chars` characters of SOQL and `max_values` values, except
    that a single value too long for the budget still gets a query of its own rather than
    being dropped. `head` and `tail` are the caller's SOQL (trusted, no data in them); `tail`
    is appended as given, e.g. "AND IsConverted = false".
    """
    column = identifier(column)
    opening = f"{head} WHERE {column} IN ("
    closing = ")" + (f" {tail}" if tail else "")
    fixed = len(opening) + len(closing)
    batch: list[str] = []
    size = fixed
    for value in values:
        literal = quote_soql_value(value)
        cost = len(literal) + 1  # the comma before it (one too many for the first: harmless)
        if batch and (size + cost > max_chars or len(batch) >= max_values):
            yield opening + ",".join(batch) + closing
            batch, size = [], fixed
        batch.append(literal)
        size += cost
    if batch:
        yield opening + ",".join(batch) + closing
