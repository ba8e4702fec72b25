"""Rows <-> dataclasses, shared by every backend so they store exactly the same values.

Structured values (config, fields tuple, extra, summary) are stored as canonical JSON text:
sorted keys and no whitespace, so the same value always gives the same bytes (useful for
hashing and for comparing a SQLite state with its PostgreSQL copy).
"""

from __future__ import annotations

import json
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from json import encoder as _json_encoder
from json import scanner as _json_scanner
from operator import attrgetter
from typing import Any, get_args

from leadsync.state.model import (
    AppliedState,
    HistoryEntry,
    JsonDict,
    LedgerEntry,
    LedgerStateName,
    Link,
)

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


# One C encoder for every dump, called directly: json.dumps builds an encoder per call, and
# JSONEncoder.encode adds two Python frames around the C one; a sync dumps each member's values
# several times (tens of thousands of calls). Same text as json.dumps(sort_keys=True,
# separators=(",", ":"), ensure_ascii=False); no circular-reference check (the values come
# from JSON or are built here: a cycle would raise RecursionError instead of ValueError).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_C_ENCODE = (
    _json_encoder.c_make_encoder(
        None, _ENCODER.default, _json_encoder.encode_basestring, None, ":", ",", True, False, True
    )
    if _json_encoder.c_make_encoder is not None
    else None
)
# The C scanner behind json.loads, without json.loads's type checks and two Python frames.
_SCAN = _json_scanner.make_scanner(json.JSONDecoder())


def dump(value: Any) -> str:
    if _C_ENCODE is None:
        return _ENCODER.encode(value)
    return "".join(_C_ENCODE(value, 0))


def load(value: Any) -> Any:
    """JSON text from SQLite, or an already decoded value from a PostgreSQL jsonb column.

    Text written by dump() has no surrounding whitespace: the scanner reads it in one call;
    anything else (whitespace, bytes, bad JSON) takes json.loads and its errors."""
    if isinstance(value, str):
        try:
            decoded, end = _SCAN(value, 0)
        except StopIteration:
            return json.loads(value)
        if end == len(value):
            return decoded
        return json.loads(value)
    if isinstance(value, (bytes, bytearray)):
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
        _extra_text(entry.extra),
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


def _extra_text(extra: dict[str, Any]) -> str:
    """An entry's `extra` as JSON: a JsonDict's text is made once, at its first write."""
    if not extra:
        return "{}"
    if type(extra) is JsonDict:
        if extra.json is None:
            extra.json = dump(extra)
        return extra.json
    return dump(extra)


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
# Positions link_row and link_entry use (hot paths: the update step reads and writes every
# linked person of a run, several times): checked against Link's fields at import.
_LINK_AT = {name: i for i, name in enumerate(LINK_COLUMNS)}
if (
    _LINK_AT.get("contact_id"),
    _LINK_AT.get("book_id"),
    _LINK_AT.get("base"),
    _LINK_AT.get("sf_seen"),
    _LINK_AT.get("dd_seen"),
    _LINK_AT.get("detail"),
    _LINK_AT.get("updated_at"),
    len(LINK_COLUMNS),
) != (1, 5, 7, 8, 9, 11, 15, 16):
    raise ImportError("Link's fields moved: update link_row and link_entry in codec.py")
_link_values = attrgetter(*LINK_COLUMNS)


def link_row(link: Link, now: str) -> tuple[Any, ...]:
    """One links row in LINK_COLUMNS order; `updated_at` is the write time."""
    row = list(_link_values(link))
    row[1] = int(row[1])
    if row[5] is not None:
        row[5] = int(row[5])
    row[7] = dump(row[7]) if row[7] else "{}"
    row[8] = dump(row[8]) if row[8] is not None else None
    row[9] = dump(row[9]) if row[9] is not None else None
    row[11] = dump(row[11]) if row[11] else "{}"
    row[15] = now
    return tuple(row)


def link_entry(row: tuple[Any, ...]) -> Link:
    if len(row) != 16:
        raise ValueError(f"a links row has 16 columns, not {len(row)}")
    values = list(row)
    values[1] = int(values[1])
    if values[5] is not None:
        values[5] = int(values[5])
    values[7] = {} if values[7] in _EMPTY_DICT else (load(values[7]) or {})
    values[8] = load(values[8]) if values[8] is not None else None
    values[9] = load(values[9]) if values[9] is not None else None
    values[11] = {} if values[11] in _EMPTY_DICT else (load(values[11]) or {})
    return Link(*values)
