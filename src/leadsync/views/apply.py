"""What `leadsync apply` prints once it is done: what it created, the baselines it recorded,
the closing line with the new serial; warnings on stderr."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadsync.views import Outcome

if TYPE_CHECKING:
    from leadsync.reconcile.apply import ApplyResult


def apply_outcome(result: ApplyResult) -> Outcome:
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
