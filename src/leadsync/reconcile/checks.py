"""The checks of planning: what the live systems say about leadsync.yaml (LS2xx). Pure.

Each check reads the config and the observed facts and appends a Diagnostic naming the YAML line;
none of them decides what is recorded (resolve.py does) or what changed (compare.py does).
The required-fields and type-fit rules are also what `leadsync init` proposes a mapping by.
"""

from __future__ import annotations

import difflib
from typing import Any

from leadsync import leadrules
from leadsync.config.diagnostics import Diagnostic
from leadsync.config.model import ASSIGN_ACTIVE, ASSIGN_NONE, AccountConfig, Config
from leadsync.duration import format_duration
from leadsync.leadkey import KEY_FIELD, SETUP_HINT, key_field
from leadsync.reconcile import model as m
from leadsync.reconcile.observed import Observed
from leadsync.salesforce.model import FieldInfo, ObjectDescribe

# Lower-cased, as describe's names are compared here (leadrules.py owns the rule).
SET_BY_LEADSYNC = frozenset(name.lower() for name in leadrules.SET_BY_LEADSYNC)


def check_defaults(
    config: Config, observed: Observed, diags: list[Diagnostic]
) -> tuple[str | None, str | None]:
    """`defaults:` against the org: (Lead.Status API value, assignment rule) as the sync will
    use them, None where a check failed. A new default's check goes here (and only here)."""
    return (
        check_lead_status(config, observed, diags),
        check_assignment_rule(config, observed, diags),
    )


def check_lead_status(config: Config, observed: Observed, diags: list[Diagnostic]) -> str | None:
    wanted = config.defaults.lead_status
    statuses = observed.lead_statuses
    for exact in (True, False):
        for s in statuses:
            names = (s.api_name, s.label)
            if (wanted in names) if exact else (wanted.casefold() in {n.casefold() for n in names}):
                return s.api_name
    available = ", ".join(repr(s.api_name) for s in statuses) or "none"
    diags.append(
        diag(
            config,
            m.LEAD_STATUS_UNKNOWN,
            "defaults.lead_status",
            f"lead_status {wanted!r} is not an active Lead Status in Salesforce (active: {available})",
        )
    )
    return None


def check_assignment_rule(
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
        + did_you_mean(wanted, [r.name for r in rules])
        + f" (Lead rules: {names or 'none'}; or use active or none)"
    )
    diags.append(diag(config, m.ASSIGNMENT_RULE_UNKNOWN, "defaults.assignment_rule", why))
    return None


def check_lead_key(config: Config, observed: Observed, diags: list[Diagnostic]) -> None:
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
    diags.append(Diagnostic(code, "warning", message, where, *position(config, where)))


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


def types_fit(df_type: str, sf_field: FieldInfo) -> bool:
    """Whether a datafield of `df_type` can fill the Lead field (else LS210 warns)."""
    want = datafield_type_for(sf_field)
    return want == "String" or df_type in ("String", want)


def org_required(observed: Observed) -> set[str]:
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


def check_required(
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
    for name in sorted(org_required(observed)):
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
            diag(
                config,
                m.REQUIRED_FIELD_UNMAPPED,
                path,
                f"the org requires Lead field {name!r}{label} on create, but it {why}; map it "
                "two-way or dotdigital-to-salesforce",
            )
        )


def check_push_statuses(
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
            diag(
                config,
                m.MEMBER_STATUS_UNKNOWN,
                f"{base}.member_statuses[{j}]",
                f"campaign {campaign.name!r} has no member status {status!r} (has: "
                f"{', '.join(repr(x) for x in campaign.statuses) or 'none'})"
                + did_you_mean(status, list(campaign.statuses)),
            )
        )


def did_you_mean(wanted: str, names: list[str]) -> str:
    close = sorted({n for n in names if n.casefold() == wanted.casefold()})
    if not close:
        close = difflib.get_close_matches(wanted, sorted(set(names)), n=3, cutoff=0.75)
    return f" (did you mean {', '.join(repr(n) for n in close)}?)" if close else ""


def position(config: Config, path: str) -> tuple[str, int, int]:
    pos = config.pos(path)
    return pos.file, pos.line, pos.column


def diag(config: Config, code: str, path: str, message: str) -> Diagnostic:
    return Diagnostic(code, "error", message, path, *position(config, path))
