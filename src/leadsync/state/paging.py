"""Keyset paging: how the SQL backends read a table that may hold millions of rows.

One home for the rule every long read follows (the ledger by book or by state, a whole-store
export, the push's members): pages of a fixed number of rows in key order, each page a short
query that starts after the last key read. No cursor is held open between pages, so a caller
may write to the same table while it iterates, and memory stays bounded.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

Read = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


def after_clause(key: Sequence[str]) -> str:
    """`key > last` for a composite key, spelled out so every index on the key serves it:
    `a > ? OR (a = ? AND (b > ? OR (b = ? AND c > ?)))`; the parameters are after_params'."""
    head, *rest = key
    if not rest:
        return f"{head} > ?"
    return f"{head} > ? OR ({head} = ? AND ({after_clause(rest)}))"


def after_params(last: Sequence[Any]) -> tuple[Any, ...]:
    """The parameters of after_clause for the last key read: each value but the last twice."""
    head, *rest = last
    return (head,) if not rest else (head, head, *after_params(rest))


def pages(
    read: Read,
    select_from: str,
    where: str,
    params: Sequence[Any],
    key: Sequence[str],
    key_at: Sequence[int],
    rows: int,
) -> Iterator[tuple[Any, ...]]:
    """Rows of `select_from` (a `SELECT ... FROM ...`) matching `where` (may be ""), in `key`
    order, `rows` a query. `key_at`: where each key column sits in a row. `read` runs one
    statement (the backend's own, with its placeholder style applied)."""
    order = f" ORDER BY {', '.join(key)} LIMIT {int(rows)}"
    last: tuple[Any, ...] | None = None
    while True:
        conditions = [f"({where})"] if where else []
        args: tuple[Any, ...] = tuple(params)
        if last is not None:
            conditions.append(f"({after_clause(key)})")
            args = (*args, *after_params(last))
        sql = select_from + (f" WHERE {' AND '.join(conditions)}" if conditions else "") + order
        found = read(sql, args)
        yield from found
        if len(found) < rows:
            return
        last = tuple(found[-1][i] for i in key_at)


EXPORT_ROWS = 10_000  # rows per page of a whole-store export (leadsync state migrate)


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of up to `size` items (IN lists within a driver's parameter limit, write batches)."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
