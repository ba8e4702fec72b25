"""Rows <-> dataclasses, shared by every backend so they store exactly the same values.

Structured values (config, fields tuple, extra, summary) are stored as canonical JSON text:
sorted keys and no whitespace, so the same value always gives the same bytes (useful for
hashing and for comparing a SQLite state with its PostgreSQL copy).
"""

from __future__ import annotations

import json
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from typing import Any, get_args

from leadsync.state.model import AppliedState, HistoryEntry, LedgerEntry, LedgerStateName, Link

LEDGER_STATES: frozenset[str] = frozenset(get_args(LedgerStateName))
ORIGINS: frozenset[str] = frozenset({"dotdigital", "salesforce"})

LEDGER_COLUMNS: tuple[str, ...] = (
    "account",
    "book_id",
    "contact_id",
    "email",
    "state",
    "attempt",
    "lead_id",
    "matched_id",
    "reason_code",
    "reason",
    "fields",
    "data_hash",
    "campaign_id",
    "campaign_member_id",
    "origin",
    "tries",
    "first_run",
    "last_run",
    "updated_at",
    "extra",
    "attempted_at",
)
LEDGER_KEY: tuple[str, ...] = ("account", "book_id", "contact_id")

APPLIED_COLUMNS: tuple[str, ...] = (
    "lineage",
    "serial",
    "config",
    "resolved",
    "fingerprints",
    "config_sha256",
    "applied_at",
    "applied_by",
    "salt",
)

HISTORY_COLUMNS: tuple[str, ...] = (
    "serial",
    "lineage",
    "applied_at",
    "applied_by",
    "host",
    "git_commit",
    "config_sha256",
    "summary",
    "ci",
    "git_error",
)


def utc_now() -> str:
    """ISO 8601 UTC with a 'Z'-free offset, the format every timestamp in the store uses."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


# One encoder for every dump (json.dumps would build one per call: a ledger put of 10,000
# entries encodes 10,000 `extra` values); same text as json.dumps with these arguments.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dump(value: Any) -> str:
    return _ENCODER.encode(value)


def load(value: Any) -> Any:
    """JSON text from SQLite, or an already decoded value from a PostgreSQL jsonb column."""
    if isinstance(value, (str, bytes, bytearray)):
        return json.loads(value)
    return value


def check_entry(entry: LedgerEntry) -> None:
    """Refuse values that would poison the ledger for every later run (programming errors)."""
    if entry.state not in LEDGER_STATES:
        raise ValueError(
            f"ledger state {entry.state!r} for contact {entry.contact_id} is not one of "
            f"{sorted(LEDGER_STATES)}"
        )
    if entry.origin not in ORIGINS:
        raise ValueError(f"ledger origin {entry.origin!r} is not one of {sorted(ORIGINS)}")


def ledger_row(entry: LedgerEntry, now: str) -> tuple[Any, ...]:
    """One ledger row in LEDGER_COLUMNS order; `updated_at` defaults to the write time.

    Hot path (a baseline may be millions of rows): empty fields/extra skip the JSON encoder.
    """
    if entry.state not in LEDGER_STATES or entry.origin not in ORIGINS:
        check_entry(entry)
    return (
        entry.account,
        int(entry.book_id),
        int(entry.contact_id),
        entry.email,
        entry.state,
        entry.attempt,
        entry.lead_id,
        entry.matched_id,
        entry.reason_code,
        entry.reason,
        dump(list(entry.fields)) if entry.fields else "[]",
        entry.data_hash,
        entry.campaign_id,
        entry.campaign_member_id,
        entry.origin,
        int(entry.tries),
        entry.first_run,
        entry.last_run,
        entry.updated_at or now,
        dump(entry.extra) if entry.extra else "{}",
        entry.attempted_at,
    )


# A "plain" row (a baseline member: key, email, state, nothing else) is inserted through the
# narrow statement and takes the schema's column defaults: a third of the binding work, which
# is most of the cost of baselining a million-member book.
NARROW_COLUMNS: tuple[str, ...] = (
    "account",
    "book_id",
    "contact_id",
    "email",
    "state",
    "origin",
    "updated_at",
)
_PLAIN_MIDDLE = (
    None,
    None,
    None,
    None,
    None,
    "[]",
    None,
    None,
    None,
)  # attempt..campaign_member_id


def split_plain(
    rows: list[tuple[Any, ...]],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(narrow rows for plain members, full rows for the rest)."""
    narrow: list[tuple[Any, ...]] = []
    full: list[tuple[Any, ...]] = []
    for row in rows:
        if (
            row[5:14] == _PLAIN_MIDDLE
            and row[15:18] == (0, None, None)
            and row[19] == "{}"
            and row[20] is None
        ):
            narrow.append((row[0], row[1], row[2], row[3], row[4], row[14], row[18]))
        else:
            full.append(row)
    return narrow, full


def ledger_entry(row: tuple[Any, ...]) -> LedgerEntry:
    """Hot path (a sync reads each new member back two or three times): positional, and the
    empty JSON values every plain row holds skip the decoder."""
    if len(row) != _LEDGER_WIDTH:
        raise ValueError(f"a ledger row has {_LEDGER_WIDTH} columns, not {len(row)}")
    fields_raw, extra_raw = row[10], row[19]
    return LedgerEntry(
        *row[:10],
        () if fields_raw in _EMPTY_LIST else tuple(load(fields_raw) or ()),
        *row[11:19],
        {} if extra_raw in _EMPTY_DICT else (load(extra_raw) or {}),
        row[20],
    )


# LedgerEntry's fields are LEDGER_COLUMNS, in that order (checked at import: ledger_entry
# builds entries positionally).
_LEDGER_WIDTH = len(LEDGER_COLUMNS)
_EMPTY_LIST = ("[]", None)
_EMPTY_DICT = ("{}", None)
if tuple(f.name for f in dataclass_fields(LedgerEntry)) != LEDGER_COLUMNS:
    raise ImportError("LedgerEntry's fields and LEDGER_COLUMNS differ: update codec.py")


def applied_row(state: AppliedState) -> tuple[Any, ...]:
    return (
        state.lineage,
        int(state.serial),
        dump(state.config),
        dump(state.resolved),
        dump(state.fingerprints),
        state.config_sha256,
        state.applied_at,
        state.applied_by,
        state.salt,
    )


def applied_state(row: tuple[Any, ...]) -> AppliedState:
    values = dict(zip(APPLIED_COLUMNS, row, strict=True))
    for key in ("config", "resolved", "fingerprints"):
        values[key] = load(values[key])
    return AppliedState(**values)


def history_row(entry: HistoryEntry) -> tuple[Any, ...]:
    return (
        int(entry.serial),
        entry.lineage,
        entry.applied_at,
        entry.applied_by,
        entry.host,
        entry.git_commit,
        entry.config_sha256,
        dump(entry.summary),
        dump(entry.ci) if entry.ci is not None else None,
        entry.git_error,
    )


def history_entry(row: tuple[Any, ...]) -> HistoryEntry:
    values = dict(zip(HISTORY_COLUMNS, row, strict=True))
    values["summary"] = load(values["summary"])
    values["ci"] = load(values["ci"]) if values["ci"] is not None else None
    return HistoryEntry(**values)


LINK_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclass_fields(Link))
_LINK_JSON = frozenset({"base", "detail"})
_LINK_JSON_OR_NULL = frozenset({"sf_seen", "dd_seen"})


def link_row(link: Link, now: str) -> tuple[Any, ...]:
    """One links row in LINK_COLUMNS order; `updated_at` is the write time."""
    out: list[Any] = []
    for name in LINK_COLUMNS:
        value = getattr(link, name)
        if name in _LINK_JSON:
            value = dump(value or {})
        elif name in _LINK_JSON_OR_NULL:
            value = dump(value) if value is not None else None
        elif name == "updated_at":
            value = now
        elif name in ("contact_id", "book_id") and value is not None:
            value = int(value)
        out.append(value)
    return tuple(out)


def link_entry(row: tuple[Any, ...]) -> Link:
    values = dict(zip(LINK_COLUMNS, row, strict=True))
    for name in _LINK_JSON:
        values[name] = load(values[name]) or {}
    for name in _LINK_JSON_OR_NULL:
        values[name] = load(values[name]) if values[name] is not None else None
    values["contact_id"] = int(values["contact_id"])
    if values["book_id"] is not None:
        values["book_id"] = int(values["book_id"])
    return Link(**values)
