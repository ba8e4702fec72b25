"""The desired side of a plan: leadsync.yaml resolved against the live systems. Pure.

Every name becomes what the sync needs (book ids, campaign ids, canonical field names and types)
and every secret a salted fingerprint: the result is the `AppliedIntegration` apply records
(leadsync.applied), plus the remote creations (datafields, member statuses) it depends on.
What is wrong on the way is reported through checks.py; a name that does not resolve is kept
as written (None for its id), so the plan still shows everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from leadsync.applied import (
    AccountSettings,
    AppliedAccount,
    AppliedBook,
    AppliedIntegration,
    LeadSchema,
    MappingRow,
    MemberStatus,
    SalesforceView,
    plain,
)
from leadsync.applied.values import auth_view
from leadsync.config.diagnostics import Diagnostic
from leadsync.config.model import AccountConfig, AddressBookConfig, Config
from leadsync.config.model import MappingRow as Row
from leadsync.dotdigital.model import DataField
from leadsync.reconcile import checks
from leadsync.reconcile import model as m
from leadsync.reconcile.model import ResourceChange, quoted
from leadsync.reconcile.observed import Observed, ObservedAccount
from leadsync.salesforce.model import FieldInfo


@dataclass
class _Resolution:
    """What one resolve shares: inputs, findings, and what apply must create first."""

    config: Config
    observed: Observed
    salt: str
    diags: list[Diagnostic]
    remote: list[ResourceChange] = field(default_factory=list)
    member_statuses: dict[tuple[str, str], MemberStatus] = field(default_factory=dict)


def resolve(
    config: Config, observed: Observed, salt: str, diags: list[Diagnostic]
) -> tuple[AppliedIntegration, list[ResourceChange]]:
    """The integration apply will record, plus planned remote creations (in plan order)."""
    res = _Resolution(config, observed, salt, diags)
    lead_fields = {name.lower(): f for name, f in observed.lead.fields.items()}
    status_value, rule = checks.check_defaults(config, observed, diags)
    schema = LeadSchema(
        observed.lead.fingerprint(),
        tuple(sorted(checks.org_required(observed))),
        status_value,
        rule,
    )
    accounts: dict[str, AppliedAccount] = {}
    for name in sorted(config.accounts):
        # refresh reads every configured account; be defensive anyway
        obs = observed.accounts.get(name) or ObservedAccount(name, (), ())
        accounts[name] = _account(res, config.accounts[name], obs, lead_fields)
    checks.check_lead_key(config, observed, diags)
    integration = AppliedIntegration(
        salesforce=_salesforce_view(config, salt),
        defaults=config.defaults,
        sync=config.sync,
        salesforce_schema=schema,
        accounts=accounts,
        member_statuses=tuple(res.member_statuses[k] for k in sorted(res.member_statuses)),
    )
    return integration, [*res.remote, *_member_status_changes(res)]


def _salesforce_view(config: Config, salt: str) -> SalesforceView:
    sf = config.salesforce
    return SalesforceView(
        sf.instance_url, sf.api_version, sf.ca_bundle or None, auth_view(sf.auth, salt)
    )


def _account(
    res: _Resolution, acct: AccountConfig, obs: ObservedAccount, lead_fields: dict[str, FieldInfo]
) -> AppliedAccount:
    planned: dict[str, ResourceChange] = {}  # shared: a datafield both tables map is planned once
    datafields: dict[str, str] = {}
    rows = _mapping(res, acct, obs, lead_fields, planned, datafields, "lead_mapping")
    contact_rows: tuple[MappingRow, ...] = ()
    if acct.contact_mapping:
        contact = res.observed.contact
        contact_fields = {n.lower(): f for n, f in (contact.fields if contact else {}).items()}
        contact_rows = _mapping(
            res, acct, obs, contact_fields, planned, datafields, "contact_mapping"
        )
    res.remote.extend(planned.values())
    checks.check_required(res.config, acct, lead_fields, res.observed, res.diags)
    books = tuple(_book(res, acct, i, book, obs) for i, book in enumerate(acct.address_books))
    dd = acct.dotdigital
    settings = AccountSettings(
        dd.base_url,
        plain(dd.username, res.salt),
        plain(dd.password, res.salt),
        acct.clear_address_books,
        acct.create_missing_datafields,
    )
    return AppliedAccount(settings, rows, datafields, books, contact_rows)


def _mapping(
    res: _Resolution,
    acct: AccountConfig,
    obs: ObservedAccount,
    sf_fields: dict[str, FieldInfo],
    planned: dict[str, ResourceChange],
    datafields: dict[str, str],
    table: str,
) -> tuple[MappingRow, ...]:
    """One mapping table (`lead_mapping` against Lead's fields, or `contact_mapping` against
    Contact's) resolved; the datafields it maps are added to `datafields`."""
    sobject = "Lead" if table == "lead_mapping" else "Contact"
    rows: list[MappingRow] = []
    for i, row in enumerate(getattr(acct, table)):
        base = f"accounts.{acct.name}.{table}[{i}]"
        sf_field = sf_fields.get(row.salesforce.lower())
        _check_field(res, base, row, sf_field, sobject, sf_fields)
        df_name, df_type = _datafield(res, acct, obs, base, row, sf_field, sobject, planned)
        if df_type is not None:
            datafields[df_name] = df_type
        rows.append(
            MappingRow(
                sf_field.name if sf_field is not None else row.salesforce,
                df_name,
                row.direction.value,
                sf_field.type if sf_field is not None else None,
                df_type,
            )
        )
    return tuple(rows)


def _check_field(
    res: _Resolution,
    base: str,
    row: Row,
    sf_field: FieldInfo | None,
    sobject: str,
    sf_fields: dict[str, FieldInfo],
) -> None:
    if sf_field is None:
        res.diags.append(
            checks.diag(
                res.config,
                m.SF_FIELD_NOT_FOUND if sobject == "Lead" else m.CONTACT_FIELD_NOT_FOUND,
                f"{base}.salesforce",
                f"Salesforce {sobject} has no field {row.salesforce!r}"
                + checks.did_you_mean(row.salesforce, [f.name for f in sf_fields.values()]),
            )
        )
    elif sobject == "Lead" and row.direction.writes_to_salesforce and not sf_field.createable:
        res.diags.append(
            checks.diag(
                res.config,
                m.SF_FIELD_NOT_CREATEABLE,
                f"{base}.salesforce",
                f"Lead field {sf_field.name!r} cannot be set when a Lead is created, so it "
                f"cannot be mapped {row.direction.value}; use salesforce-to-dotdigital",
            )
        )


def _datafield(
    res: _Resolution,
    acct: AccountConfig,
    obs: ObservedAccount,
    base: str,
    row: Row,
    sf_field: FieldInfo | None,
    sobject: str,
    planned: dict[str, ResourceChange],
) -> tuple[str, str | None]:
    """The row's datafield as Dotdigital names it and its type (None: missing, not planned)."""
    df = obs.datafield(row.datafield)
    if df is not None:
        if sf_field is not None and not checks.types_fit(df.type, sf_field):
            _type_mismatch(res, base, df, sf_field, sobject)
        return df.name, df.type
    df_name = row.datafield.upper()
    if not acct.create_missing_datafields:
        res.diags.append(
            checks.diag(
                res.config,
                m.DATAFIELD_NOT_FOUND,
                f"{base}.datafield",
                f"Dotdigital account {acct.name!r} has no datafield {row.datafield!r}; "
                "create it or set create_missing_datafields: true",
            )
        )
        return df_name, None
    df_type = checks.datafield_type_for(sf_field)
    if df_name not in planned:
        planned[df_name] = ResourceChange(
            address=f"account.{acct.name}.datafield[{quoted(df_name)}]",
            kind="datafield",
            action="create",
            before=None,
            after={"name": df_name, "type": df_type},
            reason=(
                f"mapped to {sobject} field {row.salesforce!r} but missing in "
                "Dotdigital; create_missing_datafields is on"
            ),
            changed=("name", "type"),
            account=acct.name,
        )
    return df_name, df_type


def _type_mismatch(
    res: _Resolution, base: str, df: DataField, sf_field: FieldInfo, sobject: str
) -> None:
    res.diags.append(
        Diagnostic(
            m.DATAFIELD_TYPE_MISMATCH,
            "warning",
            f"datafield {df.name} is {df.type} but {sobject} field {sf_field.name} is "
            f"{sf_field.type}; values that do not convert will fail their record",
            f"{base}.datafield",
            *checks.position(res.config, f"{base}.datafield"),
        )
    )


def _book(
    res: _Resolution, acct: AccountConfig, i: int, book: AddressBookConfig, obs: ObservedAccount
) -> AppliedBook:
    base = f"accounts.{acct.name}.address_books[{i}]"
    book_id = _book_id(res, acct, base, book, obs)
    campaign_id = campaign_name = None
    if book.campaign:
        campaign_id, campaign_name = _campaign(res, base, book)
    return AppliedBook(
        id=book_id,
        name=book.name,
        create_leads=book.create_leads,
        backfill=book.backfill,
        campaign=book.campaign,
        campaign_id=campaign_id,
        campaign_name=campaign_name,
        add_existing_to_campaign=book.add_existing_to_campaign,
        push_campaign_members=book.push_campaign_members,
        member_statuses=book.member_statuses if book.push_campaign_members else (),
    )


def _book_id(
    res: _Resolution, acct: AccountConfig, base: str, book: AddressBookConfig, obs: ObservedAccount
) -> int | None:
    found = obs.books_named(book.name)
    if len(found) == 1:
        return found[0].id
    if not found:
        code = m.BOOK_NOT_FOUND
        why = f"Dotdigital account {acct.name!r} has no address book named {book.name!r}"
        why += checks.did_you_mean(book.name, [b.name for b in obs.books])
    else:
        code = m.BOOK_AMBIGUOUS
        ids = ", ".join(str(b.id) for b in sorted(found, key=lambda b: b.id))
        why = (
            f"Dotdigital account {acct.name!r} has {len(found)} address books named "
            f"{book.name!r} (ids {ids}); rename all but one in Dotdigital"
        )
    res.diags.append(checks.diag(res.config, code, f"{base}.name", why))
    return None


def _campaign(
    res: _Resolution, base: str, book: AddressBookConfig
) -> tuple[str, str] | tuple[None, None]:
    """The linked Campaign's (id, name), and the member status new members get on it."""
    observed, wanted = res.observed, book.campaign or ""
    matches = observed.campaigns_matching(wanted)
    if len(matches) != 1:
        if not matches:
            code = m.CAMPAIGN_NOT_FOUND
            known = [*observed.campaign_names, *(c.name for c in observed.campaigns)]
            why = f"Salesforce has no Campaign named (or with id) {wanted!r}"
            why += checks.did_you_mean(wanted, known)
        else:
            code = m.CAMPAIGN_AMBIGUOUS
            why = (
                f"{len(matches)} Salesforce Campaigns are named {wanted!r} "
                f"(ids {', '.join(c.id for c in matches)}); name the campaign by its Id"
            )
        res.diags.append(checks.diag(res.config, code, f"{base}.campaign", why))
        return None, None
    campaign = matches[0]
    label = res.config.defaults.campaign_member_status
    if book.create_leads or not book.push_campaign_members:
        res.member_statuses.setdefault(
            (campaign.id, label), MemberStatus(campaign.id, campaign.name, label)
        )
    checks.check_push_statuses(res.config, base, book, campaign, res.diags)
    return campaign.id, campaign.name


def _member_status_changes(res: _Resolution) -> list[ResourceChange]:
    """A CampaignMemberStatus the linked Campaign lacks: apply creates it first."""
    out: list[ResourceChange] = []
    for (campaign_id, label), entry in sorted(res.member_statuses.items()):
        camp = res.observed.campaign_by_id(campaign_id)
        if camp is None or label in camp.statuses:
            continue
        out.append(
            ResourceChange(
                address=(f"campaign[{quoted(entry.campaign_name)}].member_status[{quoted(label)}]"),
                kind="member_status",
                action="create",
                before=None,
                after={"campaign_id": campaign_id, "label": label},
                reason=(
                    f"campaign {entry.campaign_name!r} has no member status {label!r} "
                    f"(has: {', '.join(camp.statuses) or 'none'}); new campaign members need it"
                ),
                changed=("campaign_id", "label"),
            )
        )
    return out
