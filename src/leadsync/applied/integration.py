"""`AppliedIntegration`: the `resolved` document, typed. What apply records and sync runs.

The document (format 1) is what every applied state holds; its JSON must stay byte for byte what
earlier versions wrote, because the plan compares the stored document with the desired one and
the sync's mapping fingerprint (part of every ledger row's `data_hash`) derives from it.
tests/reconcile/test_applied_contract.py pins both. Reading is lenient (a key older states lack
reads as its default); writing is exact (`to_json` writes the keys in the order they have always
been written, optional keys only when set).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leadsync.applied.values import read_settings, settings_view
from leadsync.config.model import Defaults, SyncSettings
from leadsync.errors import LeadsyncError

RESOLVED_FORMAT = 1  # bump only for a change older versions must not misread


class AppliedFormatError(LeadsyncError, ValueError):
    """A document of a format this version does not know: a newer leadsync applied it."""


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _doc(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True)
class SalesforceView:
    """`salesforce`: where and how leadsync signs in (auth secrets as fingerprints)."""

    instance_url: str
    api_version: str
    ca_bundle: str | None
    auth: Mapping[str, Any]  # {kind, <field>...} as values.auth_view writes it

    def to_json(self) -> dict[str, Any]:
        head = {
            "instance_url": self.instance_url,
            "api_version": self.api_version,
            "ca_bundle": self.ca_bundle,
        }
        return {**head, **{f"auth.{k}": v for k, v in self.auth.items()}}

    @classmethod
    def from_json(cls, doc: Any) -> SalesforceView:
        d = _doc(doc)
        auth = {k.removeprefix("auth."): v for k, v in d.items() if k.startswith("auth.")}
        return cls(
            str(d.get("instance_url") or ""),
            str(d.get("api_version") or ""),
            _opt(d.get("ca_bundle")),
            auth,
        )


@dataclass(frozen=True, slots=True)
class LeadSchema:
    """`salesforce_schema`: what plan checked against the org's Lead, and what it resolved."""

    lead_fingerprint: str | None
    lead_required_fields: tuple[str, ...]
    lead_status: str | None  # the picklist API value written into Lead.Status
    assignment_rule: str | None  # active | none | an AssignmentRule Id

    def to_json(self) -> dict[str, Any]:
        return {
            "lead_fingerprint": self.lead_fingerprint,
            "lead_required_fields": list(self.lead_required_fields),
            "lead_status": self.lead_status,
            "assignment_rule": self.assignment_rule,
        }

    @classmethod
    def from_json(cls, doc: Any) -> LeadSchema:
        d = _doc(doc)
        return cls(
            _opt(d.get("lead_fingerprint")),
            tuple(str(f) for f in d.get("lead_required_fields") or ()),
            _opt(d.get("lead_status")),
            _opt(d.get("assignment_rule")),
        )


@dataclass(frozen=True, slots=True)
class AccountSettings:
    """`accounts.<name>.settings`: the Dotdigital connection (secrets as fingerprints)."""

    endpoint: str
    username: str | None
    password: str | None
    clear_address_books: bool = False
    create_missing_datafields: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "username": self.username,
            "password": self.password,
            "clear_address_books": self.clear_address_books,
            "create_missing_datafields": self.create_missing_datafields,
        }

    @classmethod
    def from_json(cls, doc: Any) -> AccountSettings:
        d = _doc(doc)
        return cls(
            str(d.get("endpoint") or ""),
            _opt(d.get("username")),
            _opt(d.get("password")),
            bool(d.get("clear_address_books", False)),
            bool(d.get("create_missing_datafields", False)),
        )


@dataclass(frozen=True, slots=True)
class MappingRow:
    """One applied mapping row, the field names as the org and the account spell them."""

    salesforce: str
    datafield: str
    direction: str  # a config.model.Direction value
    salesforce_type: str | None = None
    datafield_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "salesforce": self.salesforce,
            "datafield": self.datafield,
            "direction": self.direction,
            "salesforce_type": self.salesforce_type,
            "datafield_type": self.datafield_type,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> MappingRow:
        return cls(
            str(d["salesforce"]),
            str(d["datafield"]),
            str(d["direction"]),
            _opt(d.get("salesforce_type")),
            _opt(d.get("datafield_type")),
        )


@dataclass(frozen=True, slots=True)
class AppliedBook:
    """One address book: its resolved id (None while it is missing) and what it does."""

    id: int | None
    name: str
    create_leads: bool = False
    backfill: bool = False
    campaign: str | None = None  # as written in leadsync.yaml (a name or an Id)
    campaign_id: str | None = None
    campaign_name: str | None = None
    add_existing_to_campaign: bool = True
    push_campaign_members: bool = False
    member_statuses: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "create_leads": self.create_leads,
            "backfill": self.backfill,
            "campaign": self.campaign,
            "campaign_id": self.campaign_id,
            "campaign_name": self.campaign_name,
            "add_existing_to_campaign": self.add_existing_to_campaign,
        }
        if self.push_campaign_members:  # only then: states applied before push read the same
            out["push_campaign_members"] = True
            out["member_statuses"] = list(self.member_statuses)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> AppliedBook:
        book_id = d.get("id")
        return cls(
            int(book_id) if book_id is not None else None,
            str(d.get("name", book_id)),
            bool(d.get("create_leads", False)),
            bool(d.get("backfill", False)),
            _opt(d.get("campaign")),
            d.get("campaign_id") or None,
            d.get("campaign_name") or None,
            bool(d.get("add_existing_to_campaign", True)),
            bool(d.get("push_campaign_members", False)),
            tuple(str(x) for x in d.get("member_statuses") or ()),
        )


@dataclass(frozen=True, slots=True)
class AppliedAccount:
    settings: AccountSettings
    lead_mapping: tuple[MappingRow, ...]
    datafields: Mapping[str, str]  # every mapped DATAFIELD -> its Dotdigital type
    books: tuple[AppliedBook, ...]
    contact_mapping: tuple[MappingRow, ...] = ()  # the Contacts tab

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "settings": self.settings.to_json(),
            "lead_mapping": [r.to_json() for r in self.lead_mapping],
            "datafields": dict(self.datafields),
            "books": [b.to_json() for b in self.books],
        }
        if self.contact_mapping:
            out["contact_mapping"] = [r.to_json() for r in self.contact_mapping]
        return out

    @classmethod
    def from_json(cls, doc: Any) -> AppliedAccount:
        d = _doc(doc)
        return cls(
            AccountSettings.from_json(d.get("settings")),
            tuple(MappingRow.from_json(r) for r in d.get("lead_mapping") or ()),
            {str(k): str(v) for k, v in _doc(d.get("datafields")).items()},
            tuple(AppliedBook.from_json(b) for b in d.get("books") or ()),
            tuple(MappingRow.from_json(r) for r in d.get("contact_mapping") or ()),
        )


@dataclass(frozen=True, slots=True)
class MemberStatus:
    """A CampaignMemberStatus leadsync ensured on a linked Campaign."""

    campaign_id: str
    campaign_name: str
    label: str

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "campaign_name": self.campaign_name,
            "label": self.label,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> MemberStatus:
        return cls(str(d["campaign_id"]), str(d.get("campaign_name") or ""), str(d["label"]))


@dataclass(frozen=True, slots=True)
class AppliedIntegration:
    """The whole `resolved` document. `defaults` and `sync` are the config's own dataclasses,
    serialised by values.settings_view: a new field there needs no change here."""

    salesforce: SalesforceView | None
    defaults: Defaults
    sync: SyncSettings
    salesforce_schema: LeadSchema
    accounts: Mapping[str, AppliedAccount]
    member_statuses: tuple[MemberStatus, ...] = ()
    format: int = RESOLVED_FORMAT

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "salesforce": self.salesforce.to_json() if self.salesforce is not None else None,
            "defaults": settings_view(self.defaults),
            "sync": settings_view(self.sync),
            "salesforce_schema": self.salesforce_schema.to_json(),
            "accounts": {name: a.to_json() for name, a in self.accounts.items()},
            "member_statuses": [s.to_json() for s in self.member_statuses],
        }

    @classmethod
    def from_json(cls, doc: Any) -> AppliedIntegration:
        """Any stored document (an empty one too: nothing applied reads as no accounts).
        Raises KeyError/TypeError/ValueError on a malformed one (the caller names the state)."""
        d = _doc(doc)
        version = int(d.get("format", RESOLVED_FORMAT))
        if version > RESOLVED_FORMAT:
            raise AppliedFormatError(
                f"the applied state was written by a newer leadsync (resolved format {version}; "
                f"this version reads format {RESOLVED_FORMAT}): upgrade leadsync to use it"
            )
        return cls(
            SalesforceView.from_json(d["salesforce"]) if d.get("salesforce") else None,
            read_settings(Defaults, d.get("defaults")),
            read_settings(SyncSettings, d.get("sync")),
            LeadSchema.from_json(d.get("salesforce_schema")),
            {str(n): AppliedAccount.from_json(a) for n, a in _doc(d.get("accounts")).items()},
            tuple(MemberStatus.from_json(s) for s in d.get("member_statuses") or ()),
            version,
        )

    def books(self) -> list[tuple[str, AppliedBook]]:
        """Every (account, book), accounts sorted, books in config order."""
        return [(n, b) for n in sorted(self.accounts) for b in self.accounts[n].books]
