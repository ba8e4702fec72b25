"""diff(config, applied, observed) -> Plan: a pure function, no I/O, deterministic order.

The desired side is "resolved": the config with every name resolved against the observed
systems (book ids, campaign ids, canonical field names and types), secrets replaced by salted
fingerprints. The applied side is the `resolved` value the last apply recorded. Both have the
same shape, so a change is simply a differing resource view. That shape is also what `sync` reads
from the applied state, documented in `build_resolved`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any

from leadsync import leadrules
from leadsync.config.diagnostics import Diagnostic
from leadsync.config.model import ASSIGN_ACTIVE, ASSIGN_NONE, AccountConfig, Config, Secret
from leadsync.duration import format_duration
from leadsync.leadkey import KEY_FIELD, SETUP_HINT, key_field
from leadsync.reconcile import model as m
from leadsync.reconcile.model import Drift, Plan, PriorState, ResourceChange
from leadsync.reconcile.observed import Observed, ObservedAccount
from leadsync.salesforce.model import FieldInfo, ObjectDescribe
from leadsync.state.model import AppliedState
from leadsync.wording import plural

RESOLVED_FORMAT = 1
# Lower-cased, as describe's names are compared here (leadrules.py owns the rule).
SET_BY_LEADSYNC = frozenset(name.lower() for name in leadrules.SET_BY_LEADSYNC)


def diff(
    config: Config,
    applied: AppliedState | None,
    observed: Observed,
    *,
    salt: str,
    baseline: Mapping[tuple[str, int], int] | None = None,
) -> Plan:
    """Compare desired config (resolved against `observed`) with the applied state.

    `salt` is the applied state's salt (or a fresh one before the first apply): secret values
    are compared only as salted fingerprints. `baseline`: (account, book id) -> baseline rows in
    the state's ledger, read by the caller; it only sharpens the reason of a backfill change.
    """
    diags: list[Diagnostic] = []
    resolved, remote = build_resolved(config, observed, salt, diags)
    before = applied.resolved if applied is not None else {}
    changes = [*_changes(before, resolved, observed, baseline or {}), *remote]
    drift = find_drift(applied, observed)
    prior = PriorState(applied.lineage, applied.serial) if applied is not None else None
    return Plan(
        changes=tuple(changes),
        drift=tuple(drift),
        diagnostics=tuple(sorted(diags, key=lambda d: (d.file, d.line, d.column, d.code))),
        prior=prior,
        config_source=config.source,
        config_sha256=config.source_sha256,
        desired_digest=desired_digest(resolved, salted=applied is not None),
        fingerprints=observed.fingerprints(*_book_scope(config, applied)),
        resolved=resolved,
    )


# --- desired side ------------------------------------------------------------------------


def build_resolved(
    config: Config, observed: Observed, salt: str, diags: list[Diagnostic]
) -> tuple[dict[str, Any], list[ResourceChange]]:
    """The applied-state `resolved` value apply will record, plus planned remote creations.

    Shape (format 1), read by `sync`:
      salesforce: {instance_url, api_version, ca_bundle, auth.kind, auth.<field>...}
      defaults:   {lead_status, campaign_member_status, assignment_rule} (as written)
      sync:       {bulk_threshold, max_api_share, allow_duplicate_save, overlap_seconds,
                   in_doubt_grace, sweep_every (seconds; each only when not the default)}
      salesforce_schema: {lead_fingerprint, lead_required_fields: [...], lead_status: <picklist
                  API value to write into Lead.Status>, assignment_rule: active | none |
                  <AssignmentRule Id> (defaults.assignment_rule with a name resolved)}
      accounts.<name>:
        settings:     {endpoint, username, password, clear_address_books, create_missing_datafields}
        lead_mapping: [{salesforce, datafield, direction, salesforce_type, datafield_type}]
        contact_mapping: [same row shape, Contact fields]   (only when the config has one)
        datafields:   {DATAFIELD: type}   (every mapped datafield)
        books:        [{id, name, create_leads, backfill, campaign, campaign_id, campaign_name,
                        add_existing_to_campaign, and, for a book that pushes,
                        push_campaign_members: true, member_statuses: [...]}]
      member_statuses: [{campaign_id, campaign_name, label}]   (statuses leadsync ensured)
    """
    lead_fields = {name.lower(): f for name, f in observed.lead.fields.items()}
    resolved: dict[str, Any] = {
        "format": RESOLVED_FORMAT,
        "salesforce": _salesforce_view(config, salt),
        "defaults": asdict(config.defaults),
        "sync": config.sync.applied_view(),
    }
    status_value = _check_lead_status(config, observed, diags)
    resolved["salesforce_schema"] = {
        "lead_fingerprint": observed.lead.fingerprint(),
        "lead_required_fields": sorted(_org_required(observed)),
        "lead_status": status_value,
        "assignment_rule": _check_assignment_rule(config, observed, diags),
    }
    remote: list[ResourceChange] = []
    member_statuses: dict[tuple[str, str], dict[str, Any]] = {}
    accounts: dict[str, Any] = {}
    for name in sorted(config.accounts):
        acct = config.accounts[name]
        obs = observed.accounts.get(name)
        if obs is None:  # refresh reads every configured account; be defensive anyway
            obs = ObservedAccount(name, (), ())
        planned: dict[str, ResourceChange] = {}
        mapping, datafields = _resolve_mapping(config, acct, obs, lead_fields, diags, planned)
        contact_rows: list[dict[str, Any]] = []
        if acct.contact_mapping:
            contact_fields = {
                n.lower(): f
                for n, f in (observed.contact.fields if observed.contact else {}).items()
            }
            contact_rows, more = _resolve_mapping(
                config, acct, obs, contact_fields, diags, planned, table="contact_mapping"
            )
            datafields.update(more)
        remote.extend(planned.values())
        _check_required(config, acct, lead_fields, observed, diags)
        books = _resolve_books(config, acct, obs, observed, diags, member_statuses)
        accounts[name] = {
            "settings": _account_view(acct, salt),
            "lead_mapping": mapping,
            "datafields": datafields,
            "books": books,
        }
        if contact_rows:
            accounts[name]["contact_mapping"] = contact_rows
    resolved["accounts"] = accounts
    _check_lead_key(config, observed, diags)
    resolved["member_statuses"] = [member_statuses[k] for k in sorted(member_statuses)]
    for (campaign_id, label), entry in sorted(member_statuses.items()):
        camp = observed.campaign_by_id(campaign_id)
        if camp is not None and label not in camp.statuses:
            remote.append(
                ResourceChange(
                    address=f"campaign[{_q(entry['campaign_name'])}].member_status[{_q(label)}]",
                    kind="member_status",
                    action="create",
                    before=None,
                    after={"campaign_id": campaign_id, "label": label},
                    reason=(
                        f"campaign {entry['campaign_name']!r} has no member status {label!r} "
                        f"(has: {', '.join(camp.statuses) or 'none'}); new campaign members need it"
                    ),
                    changed=("campaign_id", "label"),
                )
            )
    return resolved, remote


def _salesforce_view(config: Config, salt: str) -> dict[str, Any]:
    sf = config.salesforce
    view: dict[str, Any] = {
        "instance_url": sf.instance_url,
        "api_version": sf.api_version,
        "ca_bundle": sf.ca_bundle or None,
        "auth.kind": sf.auth.kind,
    }
    for f in fields(sf.auth):
        if f.name != "kind":
            view[f"auth.{f.name}"] = _plain(getattr(sf.auth, f.name), salt)
    return view


def _account_view(acct: AccountConfig, salt: str) -> dict[str, Any]:
    dd = acct.dotdigital
    return {
        "endpoint": dd.base_url,
        "username": _plain(dd.username, salt),
        "password": _plain(dd.password, salt),
        "clear_address_books": acct.clear_address_books,
        "create_missing_datafields": acct.create_missing_datafields,
    }


def _plain(value: Any, salt: str) -> Any:
    return value.fingerprint(salt) if isinstance(value, Secret) else value


def _check_lead_status(config: Config, observed: Observed, diags: list[Diagnostic]) -> str | None:
    wanted = config.defaults.lead_status
    statuses = observed.lead_statuses
    for exact in (True, False):
        for s in statuses:
            names = (s.api_name, s.label)
            if (wanted in names) if exact else (wanted.casefold() in {n.casefold() for n in names}):
                return s.api_name
    available = ", ".join(repr(s.api_name) for s in statuses) or "none"
    diags.append(
        _diag(
            config,
            m.LEAD_STATUS_UNKNOWN,
            "defaults.lead_status",
            f"lead_status {wanted!r} is not an active Lead Status in Salesforce (active: {available})",
        )
    )
    return None


def _check_assignment_rule(
    config: Config, observed: Observed, diags: list[Diagnostic]
) -> str | None:
    """`active`/`none` as they are (the sync looks the active rule up when it writes); a rule
    Name or Id -> that Lead rule's Id, or LS213 when the org has no such Lead rule."""
    wanted = config.defaults.assignment_rule
    if wanted in (ASSIGN_ACTIVE, ASSIGN_NONE):
        return wanted
    rules = observed.assignment_rules or ()
    if len(wanted) in (15, 18) and wanted.isalnum():
        found = [r for r in rules if r.id[:15] == wanted[:15]]
    else:
        found = [r for r in rules if r.name == wanted] or [
            r for r in rules if r.name.casefold() == wanted.casefold()
        ]
    if len(found) == 1:
        return found[0].id
    names = ", ".join(f"{r.name!r}" + (" (active)" if r.active else "") for r in rules)
    why = (
        f"{len(found)} Lead assignment rules are named {wanted!r}; name the rule by its Id"
        if found
        else f"Salesforce has no Lead assignment rule named (or with Id) {wanted!r}"
        + _did_you_mean(wanted, [r.name for r in rules])
        + f" (Lead rules: {names or 'none'}; or use active or none)"
    )
    diags.append(_diag(config, m.ASSIGNMENT_RULE_UNKNOWN, "defaults.assignment_rule", why))
    return None


def _check_lead_key(config: Config, observed: Observed, diags: list[Diagnostic]) -> None:
    """Warn when the org's Lead lacks a usable Leadsync_Key__c (see leadsync.leadkey): the sync
    works without it, but then a create whose outcome is unknown waits out the grace period
    before it is looked up and sent again. Said once, at the first create_leads book."""
    where = next(
        (
            f"accounts.{acct.name}.address_books[{i}].create_leads"
            for acct in config.accounts.values()
            for i, book in enumerate(acct.address_books)
            if book.create_leads
        ),
        None,
    )
    key = key_field(observed.lead)
    if where is None or key.usable:
        return
    grace = format_duration(config.sync.in_doubt_grace)
    without = (
        f"until then, a Lead create whose outcome is unknown (a run killed mid-write, an answer "
        f"lost) waits sync.in_doubt_grace ({grace}) before leadsync looks for its Lead and "
        "sends it again, so a request Salesforce still runs cannot make a duplicate"
    )
    if key.field is None:
        code = m.LEAD_KEY_MISSING
        message = (
            f"the Salesforce Lead has no field {KEY_FIELD}, the key that makes a repeated Lead "
            f"write update the Lead instead of creating a second; add it ({SETUP_HINT}); " + without
        )
    else:
        code = m.LEAD_KEY_UNUSABLE
        message = (
            f"the Lead field {key.field.name} cannot be leadsync's upsert key: "
            f"{'; '.join(key.problems)}; make it Text(255), Unique, External ID and editable by "
            f"the integration user ({SETUP_HINT}); " + without
        )
    diags.append(Diagnostic(code, "warning", message, where, *_where(config, where)))


def _resolve_mapping(
    config: Config,
    acct: AccountConfig,
    obs: ObservedAccount,
    lead_fields: dict[str, FieldInfo],
    diags: list[Diagnostic],
    planned: dict[str, ResourceChange],
    table: str = "lead_mapping",
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One mapping table (`lead_mapping` against Lead's fields, or `contact_mapping` against
    Contact's) resolved; datafields to create go into `planned` (shared, so a datafield both
    tables map is planned once)."""
    rows: list[dict[str, Any]] = []
    datafields: dict[str, str] = {}
    sobject = "Lead" if table == "lead_mapping" else "Contact"
    for i, row in enumerate(getattr(acct, table)):
        base = f"accounts.{acct.name}.{table}[{i}]"
        sf_field = lead_fields.get(row.salesforce.lower())
        if sf_field is None:
            diags.append(
                _diag(
                    config,
                    m.SF_FIELD_NOT_FOUND if sobject == "Lead" else m.CONTACT_FIELD_NOT_FOUND,
                    f"{base}.salesforce",
                    f"Salesforce {sobject} has no field {row.salesforce!r}"
                    + _did_you_mean(row.salesforce, [f.name for f in lead_fields.values()]),
                )
            )
        elif sobject == "Lead" and row.direction.writes_to_salesforce and not sf_field.createable:
            diags.append(
                _diag(
                    config,
                    m.SF_FIELD_NOT_CREATEABLE,
                    f"{base}.salesforce",
                    f"Lead field {sf_field.name!r} cannot be set when a Lead is created, so it "
                    f"cannot be mapped {row.direction.value}; use salesforce-to-dotdigital",
                )
            )
        df = obs.datafield(row.datafield)
        df_name = df.name if df is not None else row.datafield.upper()
        df_type: str | None = df.type if df is not None else None
        if df is None:
            if acct.create_missing_datafields:
                df_type = datafield_type_for(sf_field)
                if df_name not in planned:
                    planned[df_name] = ResourceChange(
                        address=f"account.{acct.name}.datafield[{_q(df_name)}]",
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
            else:
                diags.append(
                    _diag(
                        config,
                        m.DATAFIELD_NOT_FOUND,
                        f"{base}.datafield",
                        f"Dotdigital account {acct.name!r} has no datafield {row.datafield!r}; "
                        "create it or set create_missing_datafields: true",
                    )
                )
        elif sf_field is not None and not _types_fit(df.type, sf_field):
            diags.append(
                Diagnostic(
                    m.DATAFIELD_TYPE_MISMATCH,
                    "warning",
                    f"datafield {df.name} is {df.type} but {sobject} field {sf_field.name} is "
                    f"{sf_field.type}; values that do not convert will fail their record",
                    f"{base}.datafield",
                    *_where(config, f"{base}.datafield"),
                )
            )
        if df_type is not None:
            datafields[df_name] = df_type
        rows.append(
            {
                "salesforce": sf_field.name if sf_field is not None else row.salesforce,
                "datafield": df_name,
                "direction": row.direction.value,
                "salesforce_type": sf_field.type if sf_field is not None else None,
                "datafield_type": df_type,
            }
        )
    return rows, datafields


def datafield_type_for(sf_field: FieldInfo | None) -> str:
    """The Dotdigital type that holds a Salesforce field's values without loss."""
    t = sf_field.type if sf_field is not None else "string"
    if t in ("date", "datetime"):
        return "Date"
    if t in ("double", "int", "long", "currency", "percent"):
        return "Numeric"
    if t == "boolean":
        return "Boolean"
    return "String"


def _types_fit(df_type: str, sf_field: FieldInfo) -> bool:
    return types_fit(df_type, sf_field)


def types_fit(df_type: str, sf_field: FieldInfo) -> bool:
    """Whether a datafield of `df_type` can fill the Lead field (else LS210 warns)."""
    want = datafield_type_for(sf_field)
    return want == "String" or df_type in ("String", want)


def _org_required(observed: Observed) -> set[str]:
    return org_required_fields(observed.lead)


def org_required_fields(lead: ObjectDescribe) -> set[str]:
    """Lead fields a created Lead must carry from a mapping row (plan checks them; `leadsync
    init` proposes a row for each): the org's required-on-create fields and
    leadrules.SALESFORCE_REQUIRED, less what leadsync sets itself."""
    required = {f.name for f in lead.fields.values() if f.required_on_create}
    lower = {name.lower(): name for name in lead.fields}
    for name in leadrules.SALESFORCE_REQUIRED:
        required.add(lower.get(name.lower(), name))
    return {r for r in required if r.lower() not in SET_BY_LEADSYNC}


def _check_required(
    config: Config,
    acct: AccountConfig,
    lead_fields: dict[str, FieldInfo],
    observed: Observed,
    diags: list[Diagnostic],
) -> None:
    if not any(b.create_leads for b in acct.address_books):
        return  # no Leads are created from this account
    writing: dict[str, int] = {}
    reading: dict[str, int] = {}
    for i, row in enumerate(acct.lead_mapping):
        field = lead_fields.get(row.salesforce.lower())
        key = (field.name if field is not None else row.salesforce).lower()
        (writing if row.direction.writes_to_salesforce else reading)[key] = i
    for name in sorted(_org_required(observed)):
        if name.lower() in writing:
            continue
        if name.lower() in reading:
            i = reading[name.lower()]
            path = f"accounts.{acct.name}.lead_mapping[{i}].direction"
            why = "is mapped salesforce-to-dotdigital, so new Leads would lack it"
        else:
            path = f"accounts.{acct.name}.lead_mapping"
            why = "is not mapped"
        info = lead_fields.get(name.lower())
        label = f" ({info.label})" if info is not None and info.label != name else ""
        diags.append(
            _diag(
                config,
                m.REQUIRED_FIELD_UNMAPPED,
                path,
                f"the org requires Lead field {name!r}{label} on create, but it {why}; map it "
                "two-way or dotdigital-to-salesforce",
            )
        )


def _resolve_books(
    config: Config,
    acct: AccountConfig,
    obs: ObservedAccount,
    observed: Observed,
    diags: list[Diagnostic],
    member_statuses: dict[tuple[str, str], dict[str, Any]],
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    label = config.defaults.campaign_member_status
    for i, book in enumerate(acct.address_books):
        base = f"accounts.{acct.name}.address_books[{i}]"
        found = obs.books_named(book.name)
        book_id: int | None = None
        if not found:
            diags.append(
                _diag(
                    config,
                    m.BOOK_NOT_FOUND,
                    f"{base}.name",
                    f"Dotdigital account {acct.name!r} has no address book named {book.name!r}"
                    + _did_you_mean(book.name, [b.name for b in obs.books]),
                )
            )
        elif len(found) > 1:
            ids = ", ".join(str(b.id) for b in sorted(found, key=lambda b: b.id))
            diags.append(
                _diag(
                    config,
                    m.BOOK_AMBIGUOUS,
                    f"{base}.name",
                    f"Dotdigital account {acct.name!r} has {len(found)} address books named "
                    f"{book.name!r} (ids {ids}); rename all but one in Dotdigital",
                )
            )
        else:
            book_id = found[0].id
        campaign_id = campaign_name = None
        if book.campaign:
            matches = observed.campaigns_matching(book.campaign)
            if not matches:
                diags.append(
                    _diag(
                        config,
                        m.CAMPAIGN_NOT_FOUND,
                        f"{base}.campaign",
                        f"Salesforce has no Campaign named (or with id) {book.campaign!r}"
                        + _did_you_mean(
                            book.campaign,
                            [*observed.campaign_names, *(c.name for c in observed.campaigns)],
                        ),
                    )
                )
            elif len(matches) > 1:
                diags.append(
                    _diag(
                        config,
                        m.CAMPAIGN_AMBIGUOUS,
                        f"{base}.campaign",
                        f"{len(matches)} Salesforce Campaigns are named {book.campaign!r} "
                        f"(ids {', '.join(c.id for c in matches)}); name the campaign by its Id",
                    )
                )
            else:
                campaign_id, campaign_name = matches[0].id, matches[0].name
                if book.create_leads or not book.push_campaign_members:
                    member_statuses.setdefault(
                        (campaign_id, label),
                        {
                            "campaign_id": campaign_id,
                            "campaign_name": campaign_name,
                            "label": label,
                        },
                    )
                _check_push_statuses(config, base, book, matches[0], diags)
        view: dict[str, Any] = {
            "id": book_id,
            "name": book.name,
            "create_leads": book.create_leads,
            "backfill": book.backfill,
            "campaign": book.campaign,
            "campaign_id": campaign_id,
            "campaign_name": campaign_name,
            "add_existing_to_campaign": book.add_existing_to_campaign,
        }
        if book.push_campaign_members:  # only then: states applied before push read the same
            view["push_campaign_members"] = True
            view["member_statuses"] = list(book.member_statuses)
        out.append(view)
    return out


def _check_push_statuses(
    config: Config, base: str, book: Any, campaign: Any, diags: list[Diagnostic]
) -> None:
    """member_statuses must name statuses the Campaign has (exact labels, as SOQL compares
    them case-insensitively but a typo would silently push nobody)."""
    if not book.push_campaign_members:
        return
    known = {s.casefold(): s for s in campaign.statuses}
    for j, status in enumerate(book.member_statuses):
        if status.casefold() in known:
            continue
        diags.append(
            _diag(
                config,
                m.MEMBER_STATUS_UNKNOWN,
                f"{base}.member_statuses[{j}]",
                f"campaign {campaign.name!r} has no member status {status!r} (has: "
                f"{', '.join(repr(x) for x in campaign.statuses) or 'none'})"
                + _did_you_mean(status, list(campaign.statuses)),
            )
        )


# --- comparing ------------------------------------------------------------------------------


def _changes(
    before: dict[str, Any],
    after: dict[str, Any],
    observed: Observed,
    baseline: Mapping[tuple[str, int], int],
) -> list[ResourceChange]:
    out: list[ResourceChange] = []
    for section in ("salesforce", "defaults", "sync"):
        out.append(_compare(section, section, before.get(section), after.get(section)))
    b_accts: dict[str, Any] = before.get("accounts", {})
    a_accts: dict[str, Any] = after.get("accounts", {})
    for name in sorted(set(b_accts) | set(a_accts)):
        b, a = b_accts.get(name, {}), a_accts.get(name, {})
        prefix = f"account.{name}"
        out.append(_compare(prefix, "account", b.get("settings"), a.get("settings"), name))
        b_rows = {r["salesforce"]: r for r in b.get("lead_mapping", [])}
        a_rows = {r["salesforce"]: r for r in a.get("lead_mapping", [])}
        for key in _ordered(a_rows, b_rows):
            addr = f"{prefix}.lead_mapping[{_q(key)}]"
            out.append(_compare(addr, "lead_mapping", b_rows.get(key), a_rows.get(key), name))
        b_rows = {r["salesforce"]: r for r in b.get("contact_mapping", [])}
        a_rows = {r["salesforce"]: r for r in a.get("contact_mapping", [])}
        for key in _ordered(a_rows, b_rows):
            addr = f"{prefix}.contact_mapping[{_q(key)}]"
            out.append(_compare(addr, "contact_mapping", b_rows.get(key), a_rows.get(key), name))
        b_books = {r["name"]: r for r in b.get("books", [])}
        a_books = {r["name"]: r for r in a.get("books", [])}
        obs = observed.accounts.get(name)
        for key in _ordered(a_books, b_books):
            addr = f"{prefix}.address_book[{_q(key)}]"
            ch = _compare(addr, "address_book", b_books.get(key), a_books.get(key), name)
            out.append(_book_reason(ch, obs, baseline))
    return out


def _ordered(desired: dict[str, Any], applied: dict[str, Any]) -> list[str]:
    """Config order first, then what only the applied state has, sorted."""
    return [*desired, *sorted(k for k in applied if k not in desired)]


def _compare(
    address: str,
    kind: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    account: str | None = None,
) -> ResourceChange:
    keys = list(dict.fromkeys([*(after or {}), *(before or {})]))
    if before is None and after is None:
        action, changed = "no-op", []
    elif before is None:
        action, changed = "create", list((after or {}).keys())
    elif after is None:
        action, changed = "delete", list(before.keys())
    else:
        changed = [k for k in keys if before.get(k) != after.get(k)]
        action = "update" if changed else "no-op"
    sensitive = sorted(
        {k for k in keys if _is_secret((before or {}).get(k)) or _is_secret((after or {}).get(k))}
    )
    return ResourceChange(
        address=address,
        kind=kind,
        action=action,  # type: ignore[arg-type]
        before=mask(before),
        after=mask(after),
        reason=_reason(action, kind, changed, sensitive),
        changed=tuple(changed),
        sensitive=tuple(sensitive),
        account=account,
    )


def _reason(action: str, kind: str, changed: list[str], sensitive: list[str]) -> str:
    if action == "create":
        return "new in leadsync.yaml"
    if action == "delete":
        return (
            "no longer in leadsync.yaml: leadsync stops using it "
            "(nothing is deleted in Dotdigital or Salesforce)"
        )
    if action == "no-op":
        return "unchanged"
    parts = [f"{k} (sensitive)" if k in sensitive else k for k in changed]
    return "changed: " + ", ".join(parts)


def _book_reason(
    ch: ResourceChange, obs: ObservedAccount | None, baseline: Mapping[tuple[str, int], int]
) -> ResourceChange:
    """Address books deserve a sharper reason: what happens to the members already there."""
    after, before = ch.after or {}, ch.before or {}
    newly_creating = after.get("create_leads") and (
        not before.get("create_leads") or before.get("id") != after.get("id")
    )
    reason = ch.reason
    if ch.action == "update" and "id" in ch.changed and "name" not in ch.changed:
        reason = f"{after.get('name')!r} now resolves to book id {after.get('id')} (was {before.get('id')})"
    if newly_creating and ch.action in ("create", "update"):
        book = obs.book_by_id(after["id"]) if obs is not None and after.get("id") else None
        members = plural(book.contacts, "current member") if book is not None else "current members"
        one = book is not None and book.contacts == 1
        if after.get("backfill"):
            tail = (
                f"{'its' if one else 'all'} {members} "
                f"{'becomes a Lead' if one else 'become Leads'} at the next sync (backfill: true)"
            )
        else:
            tail = (
                f"its {members} {'is' if one else 'are'} recorded as the baseline and not "
                "converted; members who join later become Leads (set backfill: true to convert "
                "everyone)"
            )
        reason = f"{reason}; create_leads starts: {tail}"
    elif ch.action == "update" and after.get("create_leads") and "backfill" in ch.changed:
        reason = f"{reason}; {_backfill_tail(ch, baseline)}"
    elif after.get("push_campaign_members") and not before.get("push_campaign_members"):
        statuses = after.get("member_statuses") or []
        who = (
            f"with status {' or '.join(repr(x) for x in statuses)}"
            if statuses
            else "(all statuses)"
        )
        reason = (
            f"{reason}; push starts: the members of campaign {after.get('campaign_name')!r} {who} "
            "fill the book at the next sync (Salesforce to Dotdigital)"
        )
    elif before.get("create_leads") and (
        ch.action == "delete" or (ch.action == "update" and not after.get("create_leads"))
    ):
        reason = (
            f"{reason}; create_leads stops: new members are no longer converted. {STOP_WARNING}"
        )
    if reason == ch.reason:
        return ch
    return ResourceChange(
        ch.address,
        ch.kind,
        ch.action,
        ch.before,
        ch.after,
        reason,
        ch.changed,
        ch.sensitive,
        ch.account,
    )


# Why a plan warns when a create_leads book stops (a book removed, or create_leads off).
STOP_WARNING = (
    "Warning: turning create_leads on again later records everyone who joined in between as "
    "baseline (never converted), unless that apply also sets backfill: true"
)


def _backfill_tail(ch: ResourceChange, baseline: Mapping[tuple[str, int], int]) -> str:
    """backfill switched on (or off) on a book that keeps creating Leads."""
    after = ch.after or {}
    if not after.get("backfill"):
        return "backfill stops: no effect on members already taken or recorded as baseline"
    n = baseline.get((ch.account or "", int(after.get("id") or 0)), 0)
    noun = "baseline member will become a Lead" if n == 1 else "baseline members will become Leads"
    return (
        f"backfill starts: {n} {noun} at the next sync (those already in Salesforce are "
        "excluded as usual; members who left the book are not taken)"
    )


def _is_secret(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(m.SECRET_PREFIX)


def mask(value: Any) -> Any:
    """Replace every secret fingerprint by `(sensitive)`, at any depth."""
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return m.SENSITIVE if _is_secret(value) else value


def desired_digest(resolved: dict[str, Any], *, salted: bool) -> str:
    """Hash of what apply would record. Before the first apply the salt is not yet fixed, so
    secrets are hashed masked (a changed value then changes nothing that was shown)."""
    material = resolved if salted else mask(resolved)
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


# --- drift ---------------------------------------------------------------------------------


def find_drift(applied: AppliedState | None, observed: Observed) -> list[Drift]:
    """Where the applied state and the live systems disagree (changes made outside leadsync).

    Only accounts that are still configured were refreshed; campaigns the applied state names
    are part of the refresh query, so a missing one really is gone.
    """
    if applied is None:
        return []
    out: list[Drift] = []
    res = applied.resolved
    lead_lower = {n.lower() for n in observed.lead.fields}
    for name in sorted(res.get("accounts", {})):
        acct = res["accounts"][name]
        obs = observed.accounts.get(name)
        if obs is None:
            continue
        for book in acct.get("books", []):
            addr = f"account.{name}.address_book[{_q(book['name'])}]"
            if book.get("id") is not None:
                live = obs.book_by_id(book["id"])
                if live is None:
                    out.append(
                        Drift(
                            addr,
                            f"address book {book['name']!r} (id {book['id']}) was deleted in Dotdigital",
                            {"id": book["id"], "name": book["name"]},
                            None,
                        )
                    )
                elif live.name != book["name"]:
                    out.append(
                        Drift(
                            addr,
                            f"address book id {book['id']} was renamed in Dotdigital from "
                            f"{book['name']!r} to {live.name!r}",
                            {"id": book["id"], "name": book["name"]},
                            {"id": live.id, "name": live.name},
                        )
                    )
            cid = book.get("campaign_id")
            if cid:
                camp = observed.campaign_by_id(cid)
                if camp is None:
                    out.append(
                        Drift(
                            addr,
                            f"campaign {book.get('campaign_name')!r} ({cid}) was deleted in Salesforce",
                            {"campaign_id": cid, "campaign_name": book.get("campaign_name")},
                            None,
                        )
                    )
                elif camp.name != book.get("campaign_name"):
                    out.append(
                        Drift(
                            addr,
                            f"campaign {cid} was renamed in Salesforce from "
                            f"{book.get('campaign_name')!r} to {camp.name!r}",
                            {"campaign_id": cid, "campaign_name": book.get("campaign_name")},
                            {"campaign_id": camp.id, "campaign_name": camp.name},
                        )
                    )
        for df_name, df_type in sorted(acct.get("datafields", {}).items()):
            live_df = obs.datafield(df_name)
            addr = f"account.{name}.datafield[{_q(df_name)}]"
            if live_df is None:
                out.append(
                    Drift(addr, f"datafield {df_name} was deleted in Dotdigital", df_type, None)
                )
            elif live_df.type != df_type:
                out.append(
                    Drift(
                        addr,
                        f"datafield {df_name} changed type in Dotdigital: {df_type} -> {live_df.type}",
                        df_type,
                        live_df.type,
                    )
                )
        contact_lower = {n.lower() for n in (observed.contact.fields if observed.contact else ())}
        for row in acct.get("contact_mapping", []) if observed.contact is not None else ():
            if row["salesforce"].lower() not in contact_lower:
                out.append(
                    Drift(
                        f"account.{name}.contact_mapping[{_q(row['salesforce'])}]",
                        f"Contact field {row['salesforce']!r} was removed from Salesforce",
                        row["salesforce"],
                        None,
                    )
                )
        for row in acct.get("lead_mapping", []):
            if row["salesforce"].lower() not in lead_lower:
                out.append(
                    Drift(
                        f"account.{name}.lead_mapping[{_q(row['salesforce'])}]",
                        f"Lead field {row['salesforce']!r} was removed from Salesforce",
                        row["salesforce"],
                        None,
                    )
                )
    schema = res.get("salesforce_schema", {})
    was_required = {f.lower() for f in schema.get("lead_required_fields", [])}
    for f in sorted(_org_required(observed)):
        if f.lower() not in was_required:
            out.append(
                Drift(
                    "salesforce",
                    f"Lead field {f!r} is now required on create (it was not at the last apply)",
                    None,
                    f,
                )
            )
    status = schema.get("lead_status")
    if status and status not in {s.api_name for s in observed.lead_statuses}:
        out.append(
            Drift(
                "defaults",
                f"Lead Status {status!r} is no longer active in Salesforce",
                status,
                None,
            )
        )
    return out


# --- helpers ---------------------------------------------------------------------------------


def _book_scope(
    config: Config, applied: AppliedState | None
) -> tuple[dict[str, set[str]], dict[str, set[int]]]:
    names = {n: {b.name for b in a.address_books} for n, a in config.accounts.items()}
    ids: dict[str, set[int]] = {}
    if applied is not None:
        for n, a in applied.resolved.get("accounts", {}).items():
            ids[n] = {b["id"] for b in a.get("books", []) if b.get("id") is not None}
            names.setdefault(n, set()).update(b["name"] for b in a.get("books", []))
    return names, ids


def _did_you_mean(wanted: str, names: list[str]) -> str:
    close = sorted({n for n in names if n.casefold() == wanted.casefold()})
    if not close:
        close = difflib.get_close_matches(wanted, sorted(set(names)), n=3, cutoff=0.75)
    return f" (did you mean {', '.join(repr(n) for n in close)}?)" if close else ""


def _q(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def _where(config: Config, path: str) -> tuple[str, int, int]:
    pos = config.pos(path)
    return pos.file, pos.line, pos.column


def _diag(config: Config, code: str, path: str, message: str) -> Diagnostic:
    return Diagnostic(code, "error", message, path, *_where(config, path))
