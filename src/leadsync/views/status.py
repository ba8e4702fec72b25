"""What `leadsync status` and `leadsync history` print, from the reports reconcile/status.py
returns (the same dicts their --json prints)."""

from __future__ import annotations

import json

from leadsync.views import Outcome


def status_outcome(report: dict, *, as_json: bool = False) -> Outcome:
    """`leadsync status`: the applied serial, whether the config differs, per book both
    directions, field updates per account, the locks held."""
    if as_json:
        return Outcome(json.dumps(report, indent=2) + "\n")
    lines = [f"state: {report['state']}"]
    applied = report["applied"]
    if applied is None:
        lines.append("nothing applied yet: run `leadsync plan` and `leadsync apply`")
    else:
        lines.append(
            f"applied: serial {applied['serial']} at {applied['applied_at']} by "
            f"{applied['applied_by']} (lineage {applied['lineage']})"
        )
        if report["config_differs"]:
            lines.append(
                f"{report['config']} differs from the applied config in: "
                f"{', '.join(report['differences'])} (run `leadsync plan` to see the changes)"
            )
        else:
            lines.append(f"{report['config']} matches the applied config")
    for book in report.get("books", []):
        lines.append(_book_line(book))
    for row in report.get("updates", []):
        if row["links"] or row["last_run"]:
            lines.append(_updates_line(row))
    for lock in report["locks"]:
        lines.append(
            f"lock {lock['name']!r} held by {lock['user']}@{lock['host']} (pid {lock['pid']}, "
            f"{lock['purpose']}) since {lock['since']}"
        )
    return Outcome("\n".join(lines) + "\n")


def _book_line(book: dict) -> str:
    """One book, both directions: Dotdigital -> Salesforce (lead creation) and Salesforce ->
    Dotdigital (the push), each with its records and its last run."""
    what = "creates leads" if book["create_leads"] else "no lead creation"
    if book.get("campaign"):
        what += f", campaign {book['campaign']!r}"
    if book.get("push"):
        statuses = book.get("member_statuses") or []
        what += ", filled from the campaign" + (
            f" (statuses {', '.join(statuses)})" if statuses else ""
        )
        what += ", cleared" if book.get("clear_address_books") else ""
    parts = [f"book {book['account']}/{book['book']!r} (id {book['book_id']}, {what})"]
    if book["ledger"]:
        parts.append(_counts("Dotdigital -> Salesforce ledger", book["ledger"]))
    run = book.get("last_run")
    if run:
        parts.append(
            f"last {'dry run' if run['dry_run'] else 'run'} {run['started_at']}: seen {run['seen']}, "
            f"created {run['created']}, excluded {run['excluded_existing']}, "
            f"skipped {run['skipped_missing_fields']}, failed {run['failed']}, "
            f"pending {run['pending']}"
        )
    if book.get("pushed"):
        parts.append(_counts("Salesforce -> Dotdigital", book["pushed"]))
    push = book.get("last_push")
    if push:
        parts.append(
            f"last {'dry run' if push['dry_run'] else 'push'} {push['started_at']}: "
            + ", ".join(f"{k} {push[k]}" for k in ("read", "added", "updated", "removed", "left"))
            + f", skipped {push['skipped']}, failed {push['failed']}, pending {push['pending']}"
        )
    if not run and not push:
        parts.append("never synced")
    return "\n  ".join(parts)


def _updates_line(row: dict) -> str:
    """Field updates of one account: links, open conflicts/refusals, the last run's counts."""
    links = row["links"]
    linked = sum(links.values())
    kinds = ", ".join(
        f"{n} {sobject}{'s' if n != 1 else ''}" for sobject, n in sorted(links.items())
    )
    parts = [f"field updates {row['account']}: {linked} linked" + (f" ({kinds})" if kinds else "")]
    outcomes = row.get("outcomes") or {}
    if outcomes:
        parts.append("last outcome: " + ", ".join(f"{k} {n}" for k, n in sorted(outcomes.items())))
    run = row.get("last_run")
    if run:
        parts.append(
            f"last {'dry run' if run['dry_run'] else 'run'} {run['started_at']}: updated in "
            f"Salesforce {run['updated_in_salesforce']}, in Dotdigital "
            f"{run['updated_in_dotdigital']}, conflicts {run['conflicts']}, "
            f"update failed {run['update_failed']}"
        )
    return "\n  ".join(parts)


def history_outcome(rows: list[dict], *, as_json: bool = False) -> Outcome:
    """`leadsync history`: one line per apply, newest first."""
    if as_json:
        return Outcome(json.dumps(rows, indent=2) + "\n")
    if not rows:
        return Outcome("no applies yet\n")
    lines = []
    for r in rows:
        s = r["summary"]
        commit = (r["git_commit"] or "")[:12] or ("unreadable" if r.get("git_error") else "-")
        line = (
            f"serial {r['serial']}  {r['applied_at']}  {r['applied_by']}@{r['host']}  git {commit}  "
            f"+{s.get('create', 0)} ~{s.get('update', 0)} -{s.get('delete', 0)}"
        )
        ci = r.get("ci") or {}
        if ci:
            who = " ".join(ci[k] for k in ("system", "actor", "run_url") if ci.get(k))
            line += f"  ci {who}"
        lines.append(line)
    return Outcome("\n".join(lines) + "\n")


def _counts(label: str, by_state: dict[str, int]) -> str:
    """One direction's people by state, states in name order."""
    return f"{label}: " + ", ".join(f"{state} {n}" for state, n in sorted(by_state.items()))
