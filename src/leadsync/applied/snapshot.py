"""`ConfigSnapshot`: the `config` document, the canonical view of leadsync.yaml apply records.

Deterministic (sorted keys and lists), free of positions (moving a line is not a change), and
free of secrets (values.plain). File paths are already resolved against the config file's
directory (config/build.py), so the same file means the same snapshot wherever the command runs.

Only the integration is in it: where the state lives (`state:`) is not. Moving the state or
rotating the state DSN's password changes nothing Dotdigital or Salesforce see, so `plan` shows
no change for it and `status`/`sync` must not call it a difference either.

`ConfigSnapshot.differences` is the one rule for "leadsync.yaml differs from the applied
config" (`status`, `sync`, `leadsync ui`): both documents are read into canonical form first,
so a snapshot of format 1 (it carried the state location and the Dotdigital address as
written), or one written before a default existed, reads the same as one written now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leadsync.applied.values import auth_view, comparable, plain, settings_view
from leadsync.config.model import AccountConfig, AddressBookConfig, Config
from leadsync.state.model import AppliedState

SNAPSHOT_FORMAT = 2  # 2: no `state` block; Dotdigital's address as one `base_url`
# Top-level keys that describe the record, not the integration (format 1 also had `state`).
_NOT_INTEGRATION = frozenset({"format", "state"})
# Format 1 kept the Dotdigital address as written; `base_url` is what it resolves to, the only
# part of it the integration uses (`region: r1` and its endpoint URL are one address).
_AS_WRITTEN = frozenset({"endpoint", "region"})
_DEPTH = 3  # differences are named down to e.g. accounts.uk.lead_mapping


@dataclass(frozen=True, slots=True)
class ConfigSnapshot:
    """A snapshot document as stored (`doc`), with the rule that compares two of them."""

    doc: Mapping[str, Any]

    @classmethod
    def of(cls, config: Config, salt: str) -> ConfigSnapshot:
        return cls(_snapshot(config, salt))

    @classmethod
    def from_json(cls, doc: Any) -> ConfigSnapshot:
        return cls(doc if isinstance(doc, Mapping) else {})

    def to_json(self) -> dict[str, Any]:
        return dict(self.doc)

    @property
    def instance_url(self) -> str | None:
        """The Salesforce org the applied config talks to (links to its records)."""
        sf = self.doc.get("salesforce")
        url = sf.get("instance_url") if isinstance(sf, Mapping) else None
        return str(url) if url else None

    def integration(self) -> dict[str, Any]:
        """The part that describes the integration, comparable across formats and versions:
        no format number, no state location, Dotdigital addresses as `base_url` only,
        `defaults`/`sync` as read back (values.read_settings) and written again."""
        out = comparable({k: v for k, v in self.doc.items() if k not in _NOT_INTEGRATION})
        accounts = out.get("accounts")
        if isinstance(accounts, Mapping):
            out["accounts"] = {name: _account_integration(a) for name, a in accounts.items()}
        return out

    def differences(self, desired: ConfigSnapshot) -> list[str]:
        """Paths (e.g. `accounts.uk.lead_mapping`) where the integration of this (applied)
        snapshot and `desired` differ, sorted; values are never named, so a changed secret
        shows as its path only. A key absent on one side equals None on the other."""
        return sorted(_paths(self.integration(), desired.integration(), "", 0))


def snapshot(config: Config, salt: str) -> dict[str, Any]:
    """The `config` document apply records for `config` (secrets fingerprinted with `salt`)."""
    return _snapshot(config, salt)


def differences(applied: Mapping[str, Any], desired: Mapping[str, Any]) -> list[str]:
    """`ConfigSnapshot.differences` on two stored documents."""
    return ConfigSnapshot.from_json(applied).differences(ConfigSnapshot.from_json(desired))


def _snapshot(config: Config, salt: str) -> dict[str, Any]:
    sf = config.salesforce
    return {
        "format": SNAPSHOT_FORMAT,
        "version": config.version,
        "salesforce": {
            "instance_url": sf.instance_url,
            "api_version": sf.api_version,
            "ca_bundle": sf.ca_bundle,
            "auth": auth_view(sf.auth, salt),
        },
        "defaults": settings_view(config.defaults),
        "sync": settings_view(config.sync),
        "accounts": {
            name: _account(config.accounts[name], salt) for name in sorted(config.accounts)
        },
    }


def _rows(rows: Any) -> list[dict[str, str]]:
    return sorted(
        (
            {"salesforce": r.salesforce, "datafield": r.datafield, "direction": str(r.direction)}
            for r in rows
        ),
        key=lambda r: (r["salesforce"].casefold(), r["datafield"].casefold()),
    )


def _book(b: AddressBookConfig) -> dict[str, Any]:
    """A book as snapshotted; the push keys only when the book pushes, so a state applied
    before they existed reads the same as one applied now without them (no "differs")."""
    out: dict[str, Any] = {
        "name": b.name,
        "create_leads": b.create_leads,
        "campaign": b.campaign,
        "backfill": b.backfill,
        "add_existing_to_campaign": b.add_existing_to_campaign,
    }
    if b.push_campaign_members or b.member_statuses:
        out["push_campaign_members"] = b.push_campaign_members
        out["member_statuses"] = list(b.member_statuses)
    return out


def _account(account: AccountConfig, salt: str) -> dict[str, Any]:
    dd = account.dotdigital
    out: dict[str, Any] = {
        "dotdigital": {
            "base_url": dd.base_url,
            "username": plain(dd.username, salt),
            "password": plain(dd.password, salt),
        },
        "clear_address_books": account.clear_address_books,
        "create_missing_datafields": account.create_missing_datafields,
        "lead_mapping": _rows(account.lead_mapping),
        "address_books": sorted((_book(b) for b in account.address_books), key=lambda b: b["name"]),
    }
    if account.contact_mapping:
        out["contact_mapping"] = _rows(account.contact_mapping)
    return out


def _account_integration(account: Any) -> Any:
    if not isinstance(account, Mapping) or not isinstance(account.get("dotdigital"), Mapping):
        return account
    dd = {k: v for k, v in account["dotdigital"].items() if k not in _AS_WRITTEN}
    return {**account, "dotdigital": dd}


def _paths(applied: Any, desired: Any, path: str, depth: int) -> list[str]:
    if applied == desired:
        return []
    if isinstance(applied, Mapping) and isinstance(desired, Mapping) and depth < _DEPTH:
        out: list[str] = []
        for key in sorted(set(applied) | set(desired), key=str):
            sub = f"{path}.{key}" if path else str(key)
            out += _paths(applied.get(key), desired.get(key), sub, depth + 1)
        return out
    return [path or "(everything)"]


def config_differences(applied: AppliedState, config: Config) -> list[str]:
    """Where leadsync.yaml (`config`, read now) differs from the applied config: how `status`,
    `sync` and `leadsync ui` decide "differs", all three by this one rule."""
    desired = ConfigSnapshot.of(config, applied.salt)
    return ConfigSnapshot.from_json(applied.config).differences(desired)
