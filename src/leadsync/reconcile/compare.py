"""Comparing the applied `resolved` document with the desired one, resource by resource. Pure.

Both sides are `resolved` documents (leadsync.applied.AppliedIntegration as JSON): the stored one
exactly as the last apply wrote it, the desired one as `to_json` writes it now. A resource is a
section, an account's settings, a mapping row or an address book; it changed when a key differs
(a key one side lacks is None). Values are masked before they enter a change (masking.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadsync.reconcile.masking import is_secret, mask
from leadsync.reconcile.model import ResourceChange, quoted
from leadsync.reconcile.observed import Observed, ObservedAccount
from leadsync.wording import plural


def changes(
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
            addr = f"{prefix}.lead_mapping[{quoted(key)}]"
            out.append(_compare(addr, "lead_mapping", b_rows.get(key), a_rows.get(key), name))
        b_rows = {r["salesforce"]: r for r in b.get("contact_mapping", [])}
        a_rows = {r["salesforce"]: r for r in a.get("contact_mapping", [])}
        for key in _ordered(a_rows, b_rows):
            addr = f"{prefix}.contact_mapping[{quoted(key)}]"
            out.append(_compare(addr, "contact_mapping", b_rows.get(key), a_rows.get(key), name))
        b_books = {r["name"]: r for r in b.get("books", [])}
        a_books = {r["name"]: r for r in a.get("books", [])}
        obs = observed.accounts.get(name)
        for key in _ordered(a_books, b_books):
            addr = f"{prefix}.address_book[{quoted(key)}]"
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
        {k for k in keys if is_secret((before or {}).get(k)) or is_secret((after or {}).get(k))}
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
