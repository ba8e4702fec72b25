"""How config values become applied-document values: secrets, auth, defaults and settings.

Each rule is written once and used by both documents (`resolved` and the `config` snapshot):

- a secret becomes `Secret.fingerprint(salt)`: a changed value still shows as changed, while
  neither the value nor an unsalted hash of it is ever stored (`plain`);
- the Salesforce auth is its kind followed by its fields, secrets fingerprinted (`auth_view`);
- `defaults:` and `sync:` write the keys every stored state has always carried, and any other
  key only when it differs from its default (`settings_view`). A key added to `Defaults` or
  `SyncSettings` later is therefore absent from the documents of everyone who did not set it,
  exactly as in states applied before it existed: no "config differs", no plan change, nothing
  new in anything that is hashed. `read_settings` reads an absent key back as its default.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import MISSING, fields
from typing import Any, TypeVar

from leadsync.config.model import Defaults, SalesforceAuth, Secret, SyncSettings

# The keys stored states have always carried; frozen: never add to these (see module doc).
ALWAYS_WRITTEN: dict[type, tuple[str, ...]] = {
    Defaults: ("lead_status", "campaign_member_status", "assignment_rule"),
    SyncSettings: ("bulk_threshold", "max_api_share", "allow_duplicate_save", "overlap_seconds"),
}

S = TypeVar("S", Defaults, SyncSettings)


def plain(value: Any, salt: str) -> Any:
    """The one place a secret is fingerprinted for an applied document (None stays None)."""
    return value.fingerprint(salt) if isinstance(value, Secret) else value


def auth_view(auth: SalesforceAuth, salt: str) -> dict[str, Any]:
    """`{kind, <field>...}` in the dataclass's field order, secrets fingerprinted."""
    view: dict[str, Any] = {"kind": auth.kind}
    for f in fields(auth):
        if f.name != "kind":
            view[f.name] = plain(getattr(auth, f.name), salt)
    return view


def settings_view(value: Defaults | SyncSettings) -> dict[str, Any]:
    """`defaults:` or `sync:` as stored: the frozen keys always, others only off their default."""
    always = next(keys for cls, keys in ALWAYS_WRITTEN.items() if isinstance(value, cls))
    view: dict[str, Any] = {}
    for f in fields(value):
        current = getattr(value, f.name)
        if f.name in always or current != f.default:
            view[f.name] = current
    return view


def read_settings(cls: type[S], doc: Any) -> S:
    """A stored `defaults:`/`sync:` mapping back as its dataclass: an absent key is its
    default, a present one is coerced to the default's type (JSON has one number type)."""
    if not isinstance(doc, Mapping):
        return cls()
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in doc and f.default is not MISSING:
            raw = doc[f.name]
            values[f.name] = raw if raw is None or f.default is None else type(f.default)(raw)
    return cls(**values)


# Sections of both documents stored as a settings dataclass.
SETTINGS_SECTIONS: dict[str, type[Defaults] | type[SyncSettings]] = {
    "defaults": Defaults,
    "sync": SyncSettings,
}


def comparable(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A stored document as it compares: its settings sections read back (an absent key is its
    default) and written again. The one equality rule of both documents: plan compares the
    `resolved` documents, status/sync/ui the snapshots, each through this; elsewhere a key one
    side lacks is None (compare.py, snapshot.py)."""
    out = dict(doc)
    for key, cls in SETTINGS_SECTIONS.items():
        section = out.get(key)
        if isinstance(section, Mapping):
            with suppress(TypeError, ValueError):  # unreadable: compared as stored
                known = {f.name for f in fields(cls)}
                unknown = {k: v for k, v in section.items() if k not in known}  # a later version's
                out[key] = {**settings_view(read_settings(cls, section)), **unknown}
    return out
