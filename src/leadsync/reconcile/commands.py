"""The plan/apply/status/history commands: call the core, hand its data to the views.

Each function returns a views.Outcome (stdout text, stderr text, exit code) that cli.py prints
as it is; errors the user can act on are raised as LeadsyncError and become one line (plus
diagnostics) in cli.main.
"""

from __future__ import annotations

from collections.abc import Callable

from leadsync.errors import LeadsyncError
from leadsync.reconcile import planfile
from leadsync.reconcile.apply import Prompt, apply_command
from leadsync.reconcile.session import plan_command
from leadsync.reconcile.status import history_report, status_report
from leadsync.views import Outcome
from leadsync.views import plan as plan_view
from leadsync.views.apply import apply_outcome
from leadsync.views.plan import Format
from leadsync.views.status import history_outcome, status_outcome

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


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
        return plan_view.failure_outcome(exc)
    if plan.has_errors:
        return plan_view.plan_outcome(plan, warnings, fmt, EXIT_ERROR)
    if out:
        planfile.save(plan, out)
    code = EXIT_CHANGES if (detailed_exitcode and plan.has_changes) else EXIT_OK
    return plan_view.plan_outcome(plan, warnings, fmt, code, saved_to=out)


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
        show=lambda p: echo(plan_view.to_text(p)), confirm=confirm, interactive=interactive
    )
    result = apply_command(
        config_path, plan_path, auto_approve=auto_approve, lock_timeout=lock_timeout, prompt=prompt
    )
    return apply_outcome(result)


def run_status(config_path: str, *, as_json: bool = False) -> Outcome:
    return status_outcome(status_report(config_path), as_json=as_json)


def run_history(config_path: str, *, as_json: bool = False, limit: int | None = None) -> Outcome:
    return history_outcome(history_report(config_path, limit), as_json=as_json)
