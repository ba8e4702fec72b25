"""Hand-built inputs for the pure diff: configs, observed facts and applied states, no I/O."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from leadsync.config.model import (
    AccessTokenAuth,
    AccountConfig,
    AddressBookConfig,
    Config,
    Defaults,
    Direction,
    DotdigitalConnection,
    MappingRow,
    Pos,
    SalesforceConfig,
    Secret,
    StateConfig,
    SyncSettings,
)
from leadsync.dotdigital.model import AddressBook, DataField
from leadsync.reconcile.observed import LeadStatusValue, Observed, ObservedAccount, ObservedCampaign
from leadsync.salesforce.model import FieldInfo, ObjectDescribe
from leadsync.state.model import AppliedState

FILE = "leadsync.yaml"


def _pos(line: int) -> Pos:
    return Pos(FILE, line, 3)


def mapping(*rows: tuple[str, str, str]) -> tuple[MappingRow, ...]:
    return tuple(
        MappingRow(sf, df, Direction(d), _pos(20 + i)) for i, (sf, df, d) in enumerate(rows)
    )


STD_MAPPING = mapping(
    ("FirstName", "FIRSTNAME", "two-way"),
    ("LastName", "LASTNAME", "dotdigital-to-salesforce"),
    ("Company", "COMPANY", "two-way"),
)


def book(
    name: str = "Webinar signups",
    *,
    create_leads: bool = True,
    campaign: str | None = None,
    backfill: bool = False,
) -> AddressBookConfig:
    return AddressBookConfig(name, create_leads, campaign, backfill, _pos(40))


def account(
    name: str = "uk",
    *,
    rows: tuple[MappingRow, ...] = STD_MAPPING,
    books: tuple[AddressBookConfig, ...] | None = None,
    password: str = "dd-pass-XYZZY",
    create_missing: bool = False,
) -> AccountConfig:
    conn = DotdigitalConnection(
        "http://dd", None, Secret("dd-user-XYZZY"), Secret(password), _pos(10)
    )
    return AccountConfig(
        name, conn, False, create_missing, rows, books if books is not None else (book(),), _pos(9)
    )


def config(
    *accounts: AccountConfig, lead_status: str = "New", token: str = "sf-token-XYZZY"
) -> Config:
    accts = accounts or (account(),)
    positions: dict[str, Pos] = {"defaults.lead_status": _pos(7)}
    for a in accts:
        positions[f"accounts.{a.name}"] = _pos(9)
        positions[f"accounts.{a.name}.lead_mapping"] = _pos(19)
        for i, r in enumerate(a.lead_mapping):
            positions[f"accounts.{a.name}.lead_mapping[{i}]"] = r.pos
            positions[f"accounts.{a.name}.lead_mapping[{i}].salesforce"] = replace(r.pos, column=10)
            positions[f"accounts.{a.name}.lead_mapping[{i}].datafield"] = replace(r.pos, column=30)
            positions[f"accounts.{a.name}.lead_mapping[{i}].direction"] = replace(r.pos, column=50)
        for i, _b in enumerate(a.address_books):
            positions[f"accounts.{a.name}.address_books[{i}].name"] = _pos(40 + 3 * i)
            positions[f"accounts.{a.name}.address_books[{i}].campaign"] = _pos(42 + 3 * i)
    sf = SalesforceConfig("https://sf", AccessTokenAuth(Secret(token)), None, "61.0", _pos(4))
    return Config(
        1,
        FILE,
        "sha-of-file",
        StateConfig("sqlite", ".leadsync/state.db"),
        sf,
        Defaults(lead_status=lead_status),
        SyncSettings(),
        {a.name: a for a in accts},
        positions,
    )


def field(
    name: str,
    type_: str = "string",
    *,
    required: bool = False,
    createable: bool = True,
    nillable: bool | None = None,
    label: str | None = None,
) -> FieldInfo:
    return FieldInfo(
        name,
        label or name,
        type_,
        nillable=(not required) if nillable is None else nillable,
        createable=createable,
        defaulted_on_create=False,
    )


LEAD_KEY = FieldInfo(
    "Leadsync_Key__c", "Leadsync Key", "string", nillable=True, createable=True,
    defaulted_on_create=False, length=255, custom=True, external_id=True, unique=True,
)  # fmt: skip


def lead(*extra: FieldInfo, key: FieldInfo | None = LEAD_KEY) -> ObjectDescribe:
    """A Lead describe; by default the org has leadsync's upsert key (LS211 tests pass
    key=None, or a broken key field)."""
    base = [
        field("FirstName"),
        field("LastName", required=True),
        field("Company", nillable=True),
        field("Email", "email"),
        field("Status", "picklist", nillable=False),
        field("IsConverted", "boolean", createable=False, nillable=False),
    ]
    base[4] = FieldInfo("Status", "Status", "picklist", False, True, True)
    keys = [key] if key is not None else []
    return ObjectDescribe("Lead", {f.name: f for f in [*base, *keys, *extra]})


def dd_account(
    name: str = "uk",
    *,
    books: tuple[AddressBook, ...] | None = None,
    datafields: tuple[str, ...] = ("FIRSTNAME", "LASTNAME", "COMPANY"),
) -> ObservedAccount:
    return ObservedAccount(
        name,
        books if books is not None else (AddressBook(101, "Webinar signups", "Private", 3),),
        tuple(DataField(d, "String", "Private", None) for d in datafields),
    )


def observed(
    *accounts: ObservedAccount,
    lead_obj: ObjectDescribe | None = None,
    campaigns: tuple[ObservedCampaign, ...] = (),
) -> Observed:
    accts = accounts or (dd_account(),)
    return Observed(
        accounts={a.name: a for a in accts},
        lead=lead_obj or lead(),
        campaigns=campaigns,
        lead_statuses=(LeadStatusValue("New", "New", True), LeadStatusValue("Working", "Working")),
    )


def applied_from(resolved: dict[str, Any], serial: int = 1) -> AppliedState:
    return AppliedState(
        "lin-1", serial, {}, resolved, {}, "sha-of-file", "2026-01-01T00:00:00+00:00", "me", "salt"
    )


@pytest.fixture
def b() -> SimpleNamespace:
    """Builders: b.config(...), b.account(...), b.book(...), b.observed(...), ..."""
    return SimpleNamespace(
        config=config,
        account=account,
        book=book,
        mapping=mapping,
        field=field,
        lead=lead,
        dd_account=dd_account,
        observed=observed,
        applied_from=applied_from,
        campaign=ObservedCampaign,
        AddressBook=AddressBook,
        DataField=DataField,
        FILE=FILE,
    )
