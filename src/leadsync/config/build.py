"""Schema-valid plain data -> the typed Config. Runs only when validation found no error.

Defaults live in the schema (the one definition of the format) and in the model's dataclass
defaults; both say the same thing and a test keeps them in step.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from leadsync.config.model import (
    AccessTokenAuth,
    AccountConfig,
    AddressBookConfig,
    Config,
    Defaults,
    Direction,
    DotdigitalConnection,
    JwtAuth,
    MappingRow,
    PasswordAuth,
    SalesforceAuth,
    SalesforceConfig,
    Secret,
    StateConfig,
    SyncSettings,
)
from leadsync.config.source import Tree, child_path, index_path
from leadsync.duration import parse_duration

DEFAULT_STATE_PATH = ".leadsync/state.db"


def config_dir(source: str) -> Path:
    """Relative paths in a config (state file, CA bundle, key file) are relative to this."""
    return Path(os.path.abspath(source)).parent


class _Builder:
    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.base = config_dir(tree.file)

    def secret(self, path: str, value: str) -> Secret:
        names = self.tree.from_env.get(path)
        return Secret(value, env_var=names[0] if names else None)

    def opt_secret(self, data: dict[str, Any], key: str, path: str) -> Secret | None:
        value = data.get(key)
        return self.secret(child_path(path, key), value) if isinstance(value, str) else None

    def file_path(self, value: str | None) -> str | None:
        if not value:
            return None
        expanded = Path(value).expanduser()
        return str(expanded if expanded.is_absolute() else self.base / expanded)

    def build(self) -> Config:
        data = self.tree.data
        accounts = {
            name: self.account(child_path("accounts", name), name, account)
            for name, account in data["accounts"].items()
        }
        return Config(
            version=int(data["version"]),
            source=self.tree.file,
            source_sha256=self.tree.sha256,
            state=self.state(data.get("state") or {}),
            salesforce=self.salesforce(data["salesforce"]),
            defaults=Defaults(**(data.get("defaults") or {})),
            sync=self.sync(data.get("sync") or {}),
            accounts=accounts,
            positions=dict(self.tree.positions),
        )

    def state(self, data: dict[str, Any]) -> StateConfig:
        backend = data.get("backend", "sqlite")
        path = data.get("path")
        return StateConfig(
            backend=backend,
            path=path if path else (DEFAULT_STATE_PATH if backend == "sqlite" else None),
            dsn=self.opt_secret(data, "dsn", "state"),
            schema=data.get("schema", "leadsync"),
        )

    def sync(self, data: dict[str, Any]) -> SyncSettings:
        defaults = SyncSettings()
        return SyncSettings(
            bulk_threshold=int(data.get("bulk_threshold", defaults.bulk_threshold)),
            max_api_share=float(data.get("max_api_share", defaults.max_api_share)),
            allow_duplicate_save=bool(
                data.get("allow_duplicate_save", defaults.allow_duplicate_save)
            ),
            overlap_seconds=int(data.get("overlap_seconds", defaults.overlap_seconds)),
            in_doubt_grace=(
                parse_duration(data["in_doubt_grace"])
                if "in_doubt_grace" in data
                else defaults.in_doubt_grace
            ),
            sweep_every=(
                parse_duration(data["sweep_every"])
                if "sweep_every" in data
                else defaults.sweep_every
            ),
        )

    def salesforce(self, data: dict[str, Any]) -> SalesforceConfig:
        return SalesforceConfig(
            instance_url=data["instance_url"].rstrip("/"),
            auth=self.auth(data["auth"], "salesforce.auth"),
            ca_bundle=self.file_path(data.get("ca_bundle")),
            api_version=data.get("api_version", "61.0"),
            pos=self.tree.pos("salesforce"),
            env_vars={
                path.removeprefix("salesforce."): names[0]
                for path, names in self.tree.from_env.items()
                if path.startswith("salesforce.")
            },
        )

    def auth(self, data: dict[str, Any], path: str) -> SalesforceAuth:
        if "access_token" in data:
            return AccessTokenAuth(
                self.secret(child_path(path, "access_token"), data["access_token"])
            )
        if "private_key_file" in data:
            return JwtAuth(
                username=data["username"],
                consumer_key=data["consumer_key"],
                private_key_file=self.file_path(data["private_key_file"]) or "",
                domain=data.get("domain", "login"),
                login_url=data.get("login_url"),
            )
        return PasswordAuth(
            username=data["username"],
            password=self.secret(child_path(path, "password"), data["password"]),
            security_token=self.opt_secret(data, "security_token", path),
            domain=data.get("domain", "login"),
            consumer_key=data.get("consumer_key"),
            consumer_secret=self.opt_secret(data, "consumer_secret", path),
            login_url=data.get("login_url"),
        )

    def account(self, path: str, name: str, data: dict[str, Any]) -> AccountConfig:
        dd = data["dotdigital"]
        dd_path = child_path(path, "dotdigital")
        map_path = child_path(path, "lead_mapping")
        books_path = child_path(path, "address_books")
        return AccountConfig(
            name=name,
            dotdigital=DotdigitalConnection(
                endpoint=dd.get("endpoint"),
                region=dd.get("region"),
                username=self.secret(child_path(dd_path, "username"), dd["username"]),
                password=self.secret(child_path(dd_path, "password"), dd["password"]),
                pos=self.tree.pos(dd_path),
            ),
            clear_address_books=bool(data.get("clear_address_books", False)),
            create_missing_datafields=bool(data.get("create_missing_datafields", False)),
            lead_mapping=self.rows(map_path, data.get("lead_mapping")),
            contact_mapping=self.rows(
                child_path(path, "contact_mapping"), data.get("contact_mapping")
            ),
            address_books=tuple(
                AddressBookConfig(
                    name=book["name"],
                    create_leads=bool(book.get("create_leads", False)),
                    campaign=book.get("campaign") or None,
                    backfill=bool(book.get("backfill", False)),
                    pos=self.tree.pos(index_path(books_path, i)),
                    add_existing_to_campaign=bool(book.get("add_existing_to_campaign", True)),
                    push_campaign_members=bool(book.get("push_campaign_members", False)),
                    member_statuses=tuple(book.get("member_statuses") or ()),
                )
                for i, book in enumerate(data.get("address_books") or [])
            ),
            pos=self.tree.pos(path),
        )

    def rows(self, list_path: str, items: Any) -> tuple[MappingRow, ...]:
        """A mapping table (lead_mapping or contact_mapping: the same row shape)."""
        return tuple(
            MappingRow(
                salesforce=row["salesforce"],
                datafield=row["datafield"],
                direction=Direction(row["direction"]),
                pos=self.tree.pos(index_path(list_path, i)),
            )
            for i, row in enumerate(items or [])
        )


def build(tree: Tree) -> Config:
    return _Builder(tree).build()
