"""What the plan/apply/status/history commands print and exit with, so cli.py stays thin.

Each function returns an Outcome (stdout text, stderr text, exit code); errors the user can act
on are raised as LeadsyncError and become one line (plus diagnostics) in cli.main.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from leadsync.errors import ConfigError, LeadsyncError
from leadsync.reconcile import planfile, render
from leadsync.reconcile.apply import Prompt, apply_command
from leadsync.reconcile.model import Plan
from leadsync.reconcile.session import plan_command
from leadsync.reconcile.status import history_report, status_report

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
Format = Literal["text", "json", "markdown"]


@dataclass
class Outcome:
    stdout: str = ""
    stderr: str = ""
    exit_code: int = EXIT_OK


def run_plan(
    config_path: str,
    *,
    fmt: Format = "text",
    out: str | None = None,
    detailed_exitcode: bool = False,
    lock_timeout: float = 0.0,
) -> Outcome:
    try:
        plan, warnings = plan_command(config_path, lock_timeout=lock_timeout)
    except LeadsyncError as exc:
        if fmt != "markdown":
            raise
        # A pull-request comment is made of stdout: the errors must be in it.
        diagnostics = exc.diagnostics if isinstance(exc, ConfigError) else []
        text = render.failure_markdown(str(exc), diagnostics)
        return Outcome(text, f"error: {exc}\n", exc.exit_code)
    observed_warnings = [d for d in plan.diagnostics if d.severity != "error"]
    stderr = "".join(d.format() + "\n" for d in [*warnings, *observed_warnings])
    if plan.has_errors:
        stderr += "".join(d.format() + "\n" for d in plan.errors)
        n = len(plan.errors)
        stderr += f"plan failed: {n} error{'s' if n != 1 else ''} in {plan.config_source}; nothing was planned\n"
        if fmt == "text":
            return Outcome("\n".join(render.drift_lines(plan)), stderr, EXIT_ERROR)
        return Outcome(_render(plan, fmt), stderr, EXIT_ERROR)
    stdout = _render(plan, fmt)
    if out:
        planfile.save(plan, out)
        if fmt == "text":
            stdout += (
                f"\nSaved the plan to {out}. Apply exactly this plan with: leadsync apply {out}\n"
            )
    code = EXIT_CHANGES if (detailed_exitcode and plan.has_changes) else EXIT_OK
    return Outcome(stdout, stderr, code)


def _render(plan: Plan, fmt: Format) -> str:
    if fmt == "json":
        return render.to_json_text(plan)
    if fmt == "markdown":
        return render.to_markdown(plan)
    return render.to_text(plan)


def run_apply(
    config_path: str,
    plan_path: str | None,
    *,
    auto_approve: bool,
    lock_timeout: float,
    echo: Callable[[str], None],
    confirm: Callable[[str], bool],
    interactive: bool,
) -> Outcome:
    prompt = Prompt(
        show=lambda p: echo(render.to_text(p)), confirm=confirm, interactive=interactive
    )
    result = apply_command(
        config_path, plan_path, auto_approve=auto_approve, lock_timeout=lock_timeout, prompt=prompt
    )
    if not result.applied:
        return Outcome("No changes. Nothing to apply.\n")
    lines = [f"created {addr}" for addr in result.remote_done]
    for addr, n in sorted(result.baseline.items()):
        lines.append(f"{addr}: {n} current member{'s' if n != 1 else ''} recorded as the baseline")
    s = result.plan.summary()
    lines.append(
        f"Apply complete! {s['create']} created, {s['update']} updated, {s['delete']} deleted. "
        f"State serial {result.serial} (lineage {result.lineage})."
    )
    return Outcome("\n".join(lines) + "\n", "".join(w + "\n" for w in result.warnings))


def run_status(config_path: str, *, as_json: bool = False) -> Outcome:
    report = status_report(config_path)
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
        parts.append(
            "Dotdigital -> Salesforce ledger: "
            + ", ".join(f"{state} {n}" for state, n in sorted(book["ledger"].items()))
        )
    run = book.get("last_run")
    if run:
        parts.append(
            f"last {'dry run' if run['dry_run'] else 'run'} {run['started_at']}: seen {run['seen']}, "
            f"created {run['created']}, excluded {run['excluded_existing']}, "
            f"skipped {run['skipped_missing_fields']}, failed {run['failed']}, "
            f"pending {run['pending']}"
        )
    if book.get("pushed"):
        parts.append(
            "Salesforce -> Dotdigital: "
            + ", ".join(f"{state} {n}" for state, n in sorted(book["pushed"].items()))
        )
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


def run_history(config_path: str, *, as_json: bool = False, limit: int | None = None) -> Outcome:
    rows = history_report(config_path, limit)
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
