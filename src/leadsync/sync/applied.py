"""The applied state as the sync reads it: typed, validated, and nothing else. Pure.

The sync works from what `apply` recorded, never from leadsync.yaml's mapping, books or
settings: a reviewed, applied integration is the only thing allowed to create Leads. The
document is read through its contract (leadsync.applied.AppliedIntegration); this module only
projects it onto what the sync's steps need.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from leadsync.applied import AppliedAccount, AppliedFormatError, AppliedIntegration, MappingRow
from leadsync.config.model import ASSIGN_ACTIVE, Defaults, SyncSettings
from leadsync.errors import LeadsyncError
from leadsync.state.model import AppliedState
from leadsync.sync.mapping import Row


@dataclass(frozen=True, slots=True)
class BookView:
    id: int
    name: str
    create_leads: bool
    backfill: bool
    campaign_id: str | None
    campaign_name: str | None
    add_existing_to_campaign: bool = True  # excluded people (already in Salesforce) join too
    push: bool = False  # Salesforce -> Dotdigital: the Campaign's members fill the book
    member_statuses: tuple[str, ...] = ()  # push only these CampaignMember statuses (all if empty)


@dataclass(frozen=True, slots=True)
class AccountView:
    name: str
    rows: tuple[Row, ...]
    books: tuple[BookView, ...]
    contact_rows: tuple[Row, ...] = ()  # the Contacts tab (contact_mapping)
    clear_address_books: bool = False
    datafield_types: dict[str, str] = field(default_factory=dict)  # DATAFIELD -> Dotdigital type

    @property
    def lead_books(self) -> tuple[BookView, ...]:
        return tuple(b for b in self.books if b.create_leads)

    @property
    def push_books(self) -> tuple[BookView, ...]:
        return tuple(b for b in self.books if b.push and b.campaign_id)


@dataclass(frozen=True, slots=True)
class AppliedView:
    serial: int
    lineage: str
    lead_status: str  # the Lead.Status API value to write
    campaign_member_status: str
    settings: SyncSettings
    accounts: dict[str, AccountView]
    # "active", "none" or the AssignmentRule Id plan resolved defaults.assignment_rule to
    assignment_rule: str = ASSIGN_ACTIVE
    # `defaults:` as applied (a default added later reads here with no change to this module)
    defaults: Defaults = field(default_factory=Defaults)


class AppliedStateError(LeadsyncError):
    """The applied state cannot be read as a sync plan (written by another version?)."""


class NotApplied(LeadsyncError):
    """`sync` before the first `apply`: there is no integration to run yet."""

    error_code = "not_applied"


def read_view(applied: AppliedState) -> AppliedView:
    """The applied integration as the sync runs it (leadsync.applied.AppliedIntegration)."""
    try:
        integration = AppliedIntegration.from_json(applied.resolved or {})
        accounts = {
            name: _account(name, acct) for name, acct in sorted(integration.accounts.items())
        }
    except AppliedFormatError:
        raise  # a newer leadsync applied it: says so itself
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AppliedStateError(
            f"the applied state (serial {applied.serial}) cannot be read by this version of "
            f"leadsync ({type(exc).__name__}: {exc}); run `leadsync apply` again"
        ) from None
    schema, defaults = integration.salesforce_schema, integration.defaults
    return AppliedView(
        serial=applied.serial,
        lineage=applied.lineage,
        lead_status=schema.lead_status or defaults.lead_status or "New",
        campaign_member_status=defaults.campaign_member_status or "Sent",
        settings=integration.sync,
        accounts=accounts,
        # States applied before assignment_rule existed: Salesforce's REST default (active).
        assignment_rule=schema.assignment_rule or ASSIGN_ACTIVE,
        defaults=defaults,
    )


def _account(name: str, acct: AppliedAccount) -> AccountView:
    books = tuple(
        BookView(
            id=b.id,
            name=b.name,
            create_leads=b.create_leads,
            backfill=b.backfill,
            campaign_id=b.campaign_id,
            campaign_name=b.campaign_name or b.campaign or None,
            add_existing_to_campaign=b.add_existing_to_campaign,
            push=b.push_campaign_members,
            member_statuses=b.member_statuses,
        )
        for b in acct.books
        if b.id is not None
    )
    return AccountView(
        name,
        _rows(acct.lead_mapping),
        books,
        contact_rows=_rows(acct.contact_mapping),
        clear_address_books=acct.settings.clear_address_books,
        datafield_types=dict(acct.datafields),
    )


def _rows(rows: tuple[MappingRow, ...]) -> tuple[Row, ...]:
    return tuple(Row(r.salesforce, r.datafield, r.direction) for r in rows)
