"""A canonical, JSON-able view of a Config: what `apply` records and `status`/`sync` compare.

Deterministic (sorted keys and lists), free of positions (moving a line is not a change), and
free of secrets: each secret becomes `Secret.fingerprint(salt)`, so a changed password still shows
as changed while neither the value nor an unsalted hash of it is ever stored. File paths are
already resolved against the config file's directory (config/build.py), so the same file means
the same snapshot wherever the command is run from.

Only the integration is in it: where the state lives (`state:`) is not. Moving the state
(`leadsync state migrate`, a new `state.path`) or rotating the state DSN's password changes
nothing Dotdigital or Salesforce see, so `plan` shows no change for it and `status`/`sync` must
not call it a difference either. `differences()` is the one rule for what "differs" means; it
also reads snapshots of format 1, which carried the state location, without calling that a
difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadsync.config.model import (
    AccessTokenAuth,
    AccountConfig,
    Config,
    JwtAuth,
    PasswordAuth,
    Secret,
)

SNAPSHOT_FORMAT = 2  # 2: no `state` block; Dotdigital's address as one `base_url`
# Top-level keys that describe the record, not the integration (format 1 also had `state`).
_NOT_INTEGRATION = frozenset({"format", "state"})
# Format 1 kept the Dotdigital address as written; `base_url` is what it resolves to, the only
# part of it the integration uses (`region: r1` and its endpoint URL are one address).
_AS_WRITTEN = frozenset({"endpoint", "region"})
_DEPTH = 3  # differences are named down to e.g. accounts.uk.lead_mapping


def _fp(secret: Secret | None, salt: str) -> str | None:
    return secret.fingerprint(salt) if secret is not None else None


def snapshot(config: Config, salt: str) -> dict[str, Any]:
    return {
        "format": SNAPSHOT_FORMAT,
        "version": config.version,
        "salesforce": {
            "instance_url": config.salesforce.instance_url,
            "api_version": config.salesforce.api_version,
            "ca_bundle": config.salesforce.ca_bundle,
            "auth": _auth(config, salt),
        },
        "defaults": {
            "lead_status": config.defaults.lead_status,
            "campaign_member_status": config.defaults.campaign_member_status,
            "assignment_rule": config.defaults.assignment_rule,
        },
        "sync": config.sync.applied_view(),
        "accounts": {
            name: _account(config.accounts[name], salt) for name in sorted(config.accounts)
        },
    }


def _auth(config: Config, salt: str) -> dict[str, Any]:
    auth = config.salesforce.auth
    if isinstance(auth, AccessTokenAuth):
        return {"kind": auth.kind, "access_token": _fp(auth.access_token, salt)}
    if isinstance(auth, JwtAuth):
        return {
            "kind": auth.kind,
            "username": auth.username,
            "consumer_key": auth.consumer_key,
            "private_key_file": auth.private_key_file,
            "domain": auth.domain,
            "login_url": auth.login_url,
        }
    assert isinstance(auth, PasswordAuth)
    return {
        "kind": auth.kind,
        "username": auth.username,
        "password": _fp(auth.password, salt),
        "security_token": _fp(auth.security_token, salt),
        "domain": auth.domain,
        "consumer_key": auth.consumer_key,
        "consumer_secret": _fp(auth.consumer_secret, salt),
        "login_url": auth.login_url,
    }


def _rows(rows: Any) -> list[dict[str, str]]:
    return sorted(
        (
            {"salesforce": r.salesforce, "datafield": r.datafield, "direction": str(r.direction)}
            for r in rows
        ),
        key=lambda r: (r["salesforce"].casefold(), r["datafield"].casefold()),
    )


def _book(b: Any) -> dict[str, Any]:
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
            "username": _fp(dd.username, salt),
            "password": _fp(dd.password, salt),
        },
        "clear_address_books": account.clear_address_books,
        "create_missing_datafields": account.create_missing_datafields,
        "lead_mapping": _rows(account.lead_mapping),
        "address_books": sorted((_book(b) for b in account.address_books), key=lambda b: b["name"]),
    }
    if account.contact_mapping:
        out["contact_mapping"] = _rows(account.contact_mapping)
    return out


def integration(snap: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a snapshot (any format) that describes the integration, comparable across
    formats: no format number, no state location, Dotdigital addresses as `base_url` only."""
    out = {k: v for k, v in snap.items() if k not in _NOT_INTEGRATION}
    accounts = out.get("accounts")
    if isinstance(accounts, Mapping):
        out["accounts"] = {name: _account_integration(a) for name, a in accounts.items()}
    return out


def _account_integration(account: Any) -> Any:
    if not isinstance(account, Mapping) or not isinstance(account.get("dotdigital"), Mapping):
        return account
    dd = {k: v for k, v in account["dotdigital"].items() if k not in _AS_WRITTEN}
    return {**account, "dotdigital": dd}


def differences(applied: Mapping[str, Any], desired: Mapping[str, Any]) -> list[str]:
    """Paths (e.g. `accounts.uk.lead_mapping`) where the integration of two snapshots differs,
    sorted; values are never named, so a changed secret shows as its path only. The rule
    `status` and `sync` share for "leadsync.yaml differs from the applied config"."""
    return sorted(_paths(integration(applied), integration(desired), "", 0))


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
