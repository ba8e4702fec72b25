"""A canonical, JSON-able view of a Config: what `apply` records and `plan`/`status` compare.

Deterministic (sorted keys and lists), free of positions (moving a line is not a change), and
free of secrets: each secret becomes `Secret.fingerprint(salt)`, so a changed password still shows
as changed while neither the value nor an unsalted hash of it is ever stored. Relative paths are
resolved against the config file's directory, so the same file means the same state wherever
the command is run from.
"""

from __future__ import annotations

from typing import Any

from leadsync.config.build import config_dir
from leadsync.config.model import (
    AccessTokenAuth,
    AccountConfig,
    Config,
    JwtAuth,
    PasswordAuth,
    Secret,
)

SNAPSHOT_FORMAT = 1


def _fp(secret: Secret | None, salt: str) -> str | None:
    return secret.fingerprint(salt) if secret is not None else None


def snapshot(config: Config, salt: str) -> dict[str, Any]:
    state_path = None
    if config.state.path:
        state_path = str((config_dir(config.source) / config.state.path).resolve())
    return {
        "format": SNAPSHOT_FORMAT,
        "version": config.version,
        "state": {
            "backend": config.state.backend,
            "path": state_path,
            "dsn": _fp(config.state.dsn, salt),
            "schema": config.state.schema,
        },
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
        "sync": {
            "bulk_threshold": config.sync.bulk_threshold,
            "max_api_share": config.sync.max_api_share,
            "allow_duplicate_save": config.sync.allow_duplicate_save,
            "overlap_seconds": config.sync.overlap_seconds,
            "sweep_every": config.sync.sweep_every,
        },
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


def _account(account: AccountConfig, salt: str) -> dict[str, Any]:
    dd = account.dotdigital
    return {
        "dotdigital": {
            "endpoint": dd.endpoint,
            "region": dd.region,
            "base_url": dd.base_url,
            "username": _fp(dd.username, salt),
            "password": _fp(dd.password, salt),
        },
        "clear_address_books": account.clear_address_books,
        "create_missing_datafields": account.create_missing_datafields,
        "lead_mapping": sorted(
            (
                {
                    "salesforce": r.salesforce,
                    "datafield": r.datafield,
                    "direction": str(r.direction),
                }
                for r in account.lead_mapping
            ),
            key=lambda r: (r["salesforce"].casefold(), r["datafield"].casefold()),
        ),
        "address_books": sorted(
            (
                {
                    "name": b.name,
                    "create_leads": b.create_leads,
                    "campaign": b.campaign,
                    "backfill": b.backfill,
                }
                for b in account.address_books
            ),
            key=lambda b: b["name"],
        ),
    }
