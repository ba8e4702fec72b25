"""diff(config, applied, observed) -> Plan: a pure function, no I/O, deterministic order.

The desired side is the config resolved against the observed systems (resolve.py: book ids,
campaign ids, canonical field names and types, secrets as salted fingerprints), checked on the
way (checks.py). The applied side is the `resolved` document the last apply recorded. Both are
the same contract (leadsync.applied.AppliedIntegration), so a change is simply a differing
resource view (compare.py); drift is where the applied side and the live systems disagree
(drift.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from leadsync.applied import AppliedIntegration
from leadsync.applied.values import comparable
from leadsync.config.diagnostics import Diagnostic
from leadsync.config.model import Config
from leadsync.reconcile.checks import org_required_fields, types_fit
from leadsync.reconcile.compare import changes
from leadsync.reconcile.drift import find_drift
from leadsync.reconcile.masking import desired_digest, mask
from leadsync.reconcile.model import Plan, PriorState
from leadsync.reconcile.observed import Observed
from leadsync.reconcile.resolve import resolve
from leadsync.state.model import AppliedState

# Other packages import these from here (init's mapping proposal, the ui's masking).
__all__ = [
    "desired_digest",
    "diff",
    "mask",
    "org_required_fields",
    "types_fit",
]


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
    desired, remote = resolve(config, observed, salt, diags)
    resolved = desired.to_json()
    before = comparable(applied.resolved) if applied is not None else {}
    prior_integration = AppliedIntegration.from_json(before) if applied is not None else None
    found = [*changes(before, resolved, observed, baseline or {}), *remote]
    prior = PriorState(applied.lineage, applied.serial) if applied is not None else None
    return Plan(
        changes=tuple(found),
        drift=tuple(find_drift(prior_integration, observed)),
        diagnostics=tuple(sorted(diags, key=lambda d: (d.file, d.line, d.column, d.code))),
        prior=prior,
        config_source=config.source,
        config_sha256=config.source_sha256,
        desired_digest=desired_digest(resolved, salted=applied is not None),
        fingerprints=observed.fingerprints(*_book_scope(config, prior_integration)),
        resolved=resolved,
        integration=desired,
    )


def _book_scope(
    config: Config, applied: AppliedIntegration | None
) -> tuple[dict[str, set[str]], dict[str, set[int]]]:
    names = {n: {b.name for b in a.address_books} for n, a in config.accounts.items()}
    ids: dict[str, set[int]] = {}
    if applied is not None:
        for n, a in applied.accounts.items():
            ids[n] = {b.id for b in a.books if b.id is not None}
            names.setdefault(n, set()).update(b.name for b in a.books)
    return names, ids
