"""status and history: what is applied, by whom, and whether leadsync.yaml still says the same.

Both only read. "Differs" compares the canonical snapshot of the file (with the applied salt, so
a rotated secret counts) with the snapshot recorded at apply time: reformatting or reordering the
YAML is not a difference, a changed value is, and where the state lives is not part of it
(`leadsync.applied.config_differences`, the rule `sync` uses too).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from leadsync.applied import AppliedIntegration, config_differences
from leadsync.reconcile.masking import mask
from leadsync.reconcile.session import load_config, reading_store, state_location


def status_report(config_path: str) -> dict[str, Any]:
    loaded = load_config(config_path)
    config = loaded.config
    report: dict[str, Any] = {
        "config": config.source,
        "state": state_location(config),
        "applied": None,
        "config_differs": None,
        "differences": [],
        "locks": [],
    }
    with reading_store(config) as store:
        if store is None:
            return report
        applied = store.read_applied()
        report["locks"] = [asdict(h) for h in store.lock_holders()]
        if applied is not None:
            report["books"] = _books(applied, store)
            report["updates"] = _updates(applied, store)
    if applied is None:
        return report
    report["applied"] = {
        "serial": applied.serial,
        "lineage": applied.lineage,
        "applied_at": applied.applied_at,
        "applied_by": applied.applied_by,
        "config_sha256": applied.config_sha256,
    }
    paths = config_differences(applied, config)
    report["config_differs"] = bool(paths)
    report["differences"] = paths
    return report


RUN_KEYS = (
    "seen",
    "created",
    "excluded_existing",
    "skipped_missing_fields",
    "failed",
    "pending",
    "campaign_members_added",
)
PUSH_KEYS = ("read", "added", "updated", "removed", "left", "skipped", "failed", "pending")
RUNS_SCANNED = 200  # enough to find every book's last run without reading all history


def _books(applied: Any, store: Any) -> list[dict[str, Any]]:
    """Per applied book: its ledger counts by state and the numbers of its last sync run."""
    counts_fn = getattr(store, "ledger_counts", None)
    counts = counts_fn() if callable(counts_fn) else {}
    push_fn = getattr(store, "push_counts", None)
    pushed = push_fn() if callable(push_fn) else {}
    last: dict[tuple[str, int], dict[str, Any]] = {}
    last_push: dict[tuple[str, int], dict[str, Any]] = {}
    for run in store.runs(RUNS_SCANNED):  # newest first
        when = {
            "run_id": run.get("run_id"),
            "started_at": run.get("started_at"),
            "status": run.get("status"),
            "dry_run": bool(run.get("dry_run", False)),
        }
        for book in run.get("books") or []:
            key = (str(book.get("account")), int(book.get("book_id") or 0))
            if key not in last:
                last[key] = {**when, **{k: book.get(k, 0) for k in RUN_KEYS}}
        for book in run.get("push") or []:  # Salesforce -> Dotdigital (sync/push.py)
            key = (str(book.get("account")), int(book.get("book_id") or 0))
            if key not in last_push:
                last_push[key] = {**when, **{k: book.get(k, 0) for k in PUSH_KEYS}}
    out = []
    integration = AppliedIntegration.from_json(applied.resolved)
    for account, book in integration.books():
        ledger = {
            state: n for (a, b, state), n in sorted(counts.items()) if a == account and b == book.id
        }
        key = (account, book.id or 0)
        out.append(
            {
                "account": account,
                "book": book.name,
                "book_id": book.id,
                "create_leads": book.create_leads,
                "campaign": book.campaign_name,
                "ledger": ledger,
                "last_run": last.get(key),
                # Salesforce -> Dotdigital: the Campaign fills the book
                "push": book.push_campaign_members,
                "member_statuses": list(book.member_statuses),
                "clear_address_books": integration.accounts[account].settings.clear_address_books,
                "pushed": {st: n for (a, b, st), n in sorted(pushed.items()) if (a, b) == key},
                "last_push": last_push.get(key),
            }
        )
    return out


UPDATE_RUN_KEYS = ("updated_in_salesforce", "updated_in_dotdigital", "conflicts", "update_failed")


def _updates(applied: Any, store: Any) -> list[dict[str, Any]]:
    """Per applied account: its links (by Salesforce object), the linked people whose last
    update left a conflict or a refused value, and the field-update counts of its last run."""
    if not callable(getattr(store, "links_count", None)):
        return []
    last: dict[str, dict[str, Any]] = {}
    for run in store.runs(RUNS_SCANNED):  # newest first
        for row in run.get("updates") or []:
            account = str(row.get("account"))
            if account not in last:
                last[account] = {
                    "run_id": run.get("run_id"),
                    "started_at": run.get("started_at"),
                    "dry_run": bool(run.get("dry_run", False)),
                    **{k: row.get(k, 0) for k in UPDATE_RUN_KEYS},
                }
    out = []
    for account in sorted(AppliedIntegration.from_json(applied.resolved).accounts):
        outcomes: dict[str, int] = {}
        for link in store.links_with_outcome(account):
            outcomes[str(link.outcome)] = outcomes.get(str(link.outcome), 0) + 1
        out.append(
            {
                "account": account,
                "links": store.links_count(account),
                "outcomes": outcomes,
                "last_run": last.get(account),
            }
        )
    return out


def history_report(config_path: str, limit: int | None = None) -> list[dict[str, Any]]:
    loaded = load_config(config_path)
    with reading_store(loaded.config) as store:
        if store is None:
            return []
        return [mask(asdict(h)) for h in store.history(limit)]
