"""Plan -> text (Terraform-like), JSON (format_version "1.0") and Markdown (pull-request comment),
and what `leadsync plan` prints around it (diagnostics, the failure comment, the saved file).

Rendering is separate from planning (SQLMesh's "explainer"): one reason to change each. Plans
arrive already masked, so no renderer can leak a secret; `(sensitive)` is printed bare. The JSON
document itself is reconcile/document.py (the plan file holds it too).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from leadsync.config.diagnostics import Diagnostic
from leadsync.errors import ConfigError, LeadsyncError
from leadsync.reconcile.document import to_json
from leadsync.reconcile.model import SENSITIVE, Plan, ResourceChange
from leadsync.views import Outcome

SYMBOL = {"create": "+", "update": "~", "delete": "-", "no-op": " "}
_REMOTE_SYSTEM = {"datafield": "Dotdigital", "member_status": "Salesforce"}


def _header(c: ResourceChange) -> str:
    if c.action == "create":
        where = _REMOTE_SYSTEM.get(c.kind)
        return f"# {c.address} will be created" + (f" in {where}" if where else "")
    if c.action == "update":
        return f"# {c.address} will be updated in place"
    if c.action == "delete":
        return f"# {c.address} will be removed from the applied state"
    return f"# {c.address} is unchanged"


def value(v: Any) -> str:
    if v == SENSITIVE:
        return SENSITIVE
    return json.dumps(v, ensure_ascii=False)


def _attr_lines(c: ResourceChange) -> list[str]:
    before, after = c.before or {}, c.after or {}
    keys = list(dict.fromkeys([*after, *before]))
    width = max((len(k) for k in keys), default=0)
    lines: list[str] = []
    hidden = 0
    for k in keys:
        name = k.ljust(width)
        if c.action == "create":
            lines.append(f"+ {name} = {value(after.get(k))}")
        elif c.action == "delete":
            lines.append(f"- {name} = {value(before.get(k))}")
        elif k in c.changed:
            if k not in before:
                lines.append(f"+ {name} = {value(after.get(k))}")
            elif k not in after:
                lines.append(f"- {name} = {value(before.get(k))}")
            else:
                lines.append(f"~ {name} = {value(before.get(k))} -> {value(after.get(k))}")
        else:
            hidden += 1
    if hidden:
        lines.append(f"  # ({hidden} unchanged attribute{'s' if hidden != 1 else ''} hidden)")
    return lines


def _change_block(c: ResourceChange) -> list[str]:
    out = [f"  {_header(c)}", f"  # ({c.reason})", f"  {SYMBOL[c.action]} {c.address} {{"]
    out += [f"      {line}" for line in _attr_lines(c)]
    out.append("    }")
    return out


def drift_lines(plan: Plan) -> list[str]:
    if not plan.drift:
        return []
    out = [
        "Objects have changed outside of leadsync (drift: the applied state and the live systems disagree):",
        "",
    ]
    out += [f"  ! {d.address}: {d.message}" for d in plan.drift]
    out.append("")
    return out


def to_text(plan: Plan) -> str:
    lines = drift_lines(plan)
    visible = [c for c in plan.changes if c.action != "no-op"]
    if visible:
        lines.append("leadsync will perform the following actions:")
        lines.append("")
        for c in visible:
            lines += _change_block(c)
            lines.append("")
        unchanged = len(plan.changes) - len(visible)
        if unchanged:
            lines.append(
                f"  ({unchanged} unchanged resource{'s' if unchanged != 1 else ''} not shown)"
            )
            lines.append("")
    lines.append(plan.summary_line())
    return "\n".join(lines) + "\n"


def to_json_text(plan: Plan) -> str:
    return json.dumps(to_json(plan), indent=2, ensure_ascii=False) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_diagnostic(d: Diagnostic) -> str:
    return f"- `{d.file}:{d.line}` {d.code}: {_md_escape(d.message)}"


def failure_markdown(message: str, diagnostics: Sequence[Diagnostic] = ()) -> str:
    """The pull-request comment when `plan` could not even be made (invalid config, refused
    credentials, unreachable state): the errors ARE what the reviewer needs to read."""
    lines = ["### leadsync plan: failed", "", "Nothing was planned."]
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        lines += ["", "**Errors**", "", *(_md_diagnostic(d) for d in errors)]
    else:
        longest = max((len(m) for m in re.findall(r"`+", message)), default=0)
        fence = "`" * max(3, longest + 1)
        lines += ["", f"{fence}text", message.rstrip("\n"), fence]
    return "\n".join(lines) + "\n"


def to_markdown(plan: Plan) -> str:
    """A pull-request comment: headline, drift, a table of changes, the full diff folded."""
    s = plan.summary()
    if plan.has_errors:
        title = f"### leadsync plan: {len(plan.errors)} error{'s' if len(plan.errors) != 1 else ''}"
    elif plan.has_changes:
        title = (
            f"### leadsync plan: {s['create']} to create, {s['update']} to update, "
            f"{s['delete']} to delete"
        )
    else:
        title = "### leadsync plan: no changes"
    lines = [title, ""]
    if plan.prior:
        lines.append(
            f"Against applied state serial {plan.prior.serial} (lineage `{plan.prior.lineage}`)."
        )
    else:
        lines.append("No applied state yet: this is the first apply.")
    lines.append("")
    if plan.errors:
        lines.append("**Errors**")
        lines.append("")
        lines += [_md_diagnostic(d) for d in plan.errors]
        lines.append("")
    if plan.drift:
        lines.append("**Changed outside leadsync (drift)**")
        lines.append("")
        lines += [f"- `{d.address}`: {_md_escape(d.message)}" for d in plan.drift]
        lines.append("")
    visible = [c for c in plan.changes if c.action != "no-op"]
    if visible:
        lines += ["| | resource | action | why |", "|---|---|---|---|"]
        lines += [
            f"| `{SYMBOL[c.action]}` | `{_md_escape(c.address)}` | {c.action} | {_md_escape(c.reason)} |"
            for c in visible
        ]
        lines += ["", "<details><summary>Full plan</summary>", "", "```diff"]
        for c in visible:
            lines.append(f"{_header(c)}")
            for line in _attr_lines(c):
                if line.startswith("~ "):
                    name, _, rest = line[2:].partition(" = ")
                    old, _, new = rest.partition(" -> ")
                    lines.append(f"- {name} = {old}")
                    lines.append(f"+ {name} = {new}")
                else:
                    lines.append(line)
            lines.append("")
        lines += ["```", "", "</details>", ""]
    lines.append(plan.summary_line())
    return "\n".join(lines) + "\n"


Format = Literal["text", "json", "markdown"]


def render(plan: Plan, fmt: Format) -> str:
    if fmt == "json":
        return to_json_text(plan)
    if fmt == "markdown":
        return to_markdown(plan)
    return to_text(plan)


def plan_outcome(
    plan: Plan,
    warnings: Sequence[Diagnostic],
    fmt: Format,
    exit_code: int,
    *,
    saved_to: str | None = None,
) -> Outcome:
    """`leadsync plan`: the plan on stdout, diagnostics on stderr. A plan with errors shows
    only its drift in text (the errors and a closing line go to stderr)."""
    observed_warnings = [d for d in plan.diagnostics if d.severity != "error"]
    stderr = "".join(d.format() + "\n" for d in [*warnings, *observed_warnings])
    if plan.has_errors:
        stderr += "".join(d.format() + "\n" for d in plan.errors)
        n = len(plan.errors)
        stderr += f"plan failed: {n} error{'s' if n != 1 else ''} in {plan.config_source}; nothing was planned\n"
        if fmt == "text":
            return Outcome("\n".join(drift_lines(plan)), stderr, exit_code)
        return Outcome(render(plan, fmt), stderr, exit_code)
    stdout = render(plan, fmt)
    if saved_to and fmt == "text":
        stdout += (
            f"\nSaved the plan to {saved_to}. Apply exactly this plan with: "
            f"leadsync apply {saved_to}\n"
        )
    return Outcome(stdout, stderr, exit_code)


def failure_outcome(exc: LeadsyncError) -> Outcome:
    """`plan --markdown` that could not plan: a pull-request comment is made of stdout, so the
    errors are in it (and the one line on stderr, as every failure has)."""
    diagnostics = exc.diagnostics if isinstance(exc, ConfigError) else []
    return Outcome(failure_markdown(str(exc), diagnostics), f"error: {exc}\n", exc.exit_code)
