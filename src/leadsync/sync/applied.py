"""The applied state as the sync reads it: typed, validated, and nothing else. Pure.

The sync works from what `apply` recorded (invariant 3), never from leadsync.yaml's mapping,
books or settings: a reviewed, applied integration is the only thing allowed to create Leads.
The shape is the `resolved` value documented in reconcile/diff.py `build_resolved` (format 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from leadsync.config.model import ASSIGN_ACTIVE, SyncSettings
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


class AppliedStateError(LeadsyncError):
    """The applied state cannot be read as a sync plan (written by another version?)."""


class NotApplied(LeadsyncError):
    """`sync` before the first `apply`: there is no integration to run yet."""

    error_code = "not_applied"


def read_view(applied: AppliedState) -> AppliedView:
    res = applied.resolved or {}
    try:
        defaults = res.get("defaults") or {}
        schema = res.get("salesforce_schema") or {}
        sync = res.get("sync") or {}
        base = SyncSettings()
        settings = SyncSettings(
            bulk_threshold=int(sync.get("bulk_threshold", base.bulk_threshold)),
            max_api_share=float(sync.get("max_api_share", base.max_api_share)),
            allow_duplicate_save=bool(sync.get("allow_duplicate_save", base.allow_duplicate_save)),
            overlap_seconds=int(sync.get("overlap_seconds", base.overlap_seconds)),
            in_doubt_grace=int(sync.get("in_doubt_grace", base.in_doubt_grace)),
            sweep_every=int(sync.get("sweep_every", base.sweep_every)),
        )
        accounts: dict[str, AccountView] = {}
        for name, acct in sorted((res.get("accounts") or {}).items()):
            rows = _rows(acct.get("lead_mapping"))
            books = tuple(
                BookView(
                    id=int(b["id"]),
                    name=str(b.get("name", b["id"])),
                    create_leads=bool(b.get("create_leads", False)),
                    backfill=bool(b.get("backfill", False)),
                    campaign_id=b.get("campaign_id") or None,
                    campaign_name=b.get("campaign_name") or b.get("campaign") or None,
                    add_existing_to_campaign=bool(b.get("add_existing_to_campaign", True)),
                    push=bool(b.get("push_campaign_members", False)),
                    member_statuses=tuple(str(x) for x in b.get("member_statuses") or ()),
                )
                for b in acct.get("books") or ()
                if b.get("id") is not None
            )
            accounts[str(name)] = AccountView(
                str(name),
                rows,
                books,
                contact_rows=_rows(acct.get("contact_mapping")),
                clear_address_books=bool(
                    (acct.get("settings") or {}).get("clear_address_books", False)
                ),
                datafield_types={str(k): str(v) for k, v in (acct.get("datafields") or {}).items()},
            )
        lead_status = schema.get("lead_status") or defaults.get("lead_status") or "New"
        member_status = defaults.get("campaign_member_status") or "Sent"
        # States applied before assignment_rule existed: Salesforce's REST default (active).
        assignment = schema.get("assignment_rule") or ASSIGN_ACTIVE
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AppliedStateError(
            f"the applied state (serial {applied.serial}) cannot be read by this version of "
            f"leadsync ({type(exc).__name__}: {exc}); run `leadsync apply` again"
        ) from None
    return AppliedView(
        serial=applied.serial,
        lineage=applied.lineage,
        lead_status=str(lead_status),
        campaign_member_status=str(member_status),
        settings=settings,
        accounts=accounts,
        assignment_rule=str(assignment),
    )


def _rows(raw: object) -> tuple[Row, ...]:
    return tuple(
        Row(str(r["salesforce"]), str(r["datafield"]), str(r["direction"]))
        for r in raw or ()  # type: ignore[attr-defined]
    )
