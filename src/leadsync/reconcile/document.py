"""The plan as one JSON document (format_version "1.0", schema/plan.schema.json).

It is a data contract, not a view: `plan --json` prints it (views/plan.py) and a plan file
(planfile.py) is this document in an envelope, so both come from this one function. Plans
arrive already masked, so the document cannot hold a secret.
"""

from __future__ import annotations

from typing import Any

from leadsync import __version__
from leadsync.reconcile.model import FORMAT_VERSION, Plan, ResourceChange


def to_json(plan: Plan) -> dict[str, Any]:
    """The documented machine-readable plan; also the plan file body."""
    return {
        "format_version": FORMAT_VERSION,
        "leadsync_version": __version__,
        "config": {"source": plan.config_source, "sha256": plan.config_sha256},
        "prior_state": (
            {"lineage": plan.prior.lineage, "serial": plan.prior.serial} if plan.prior else None
        ),
        "errored": plan.has_errors,
        "has_changes": plan.has_changes,
        "summary": plan.summary(),
        "resource_changes": [_change_json(c) for c in plan.changes],
        "resource_drift": [d.to_json() for d in plan.drift],
        "diagnostics": [d.to_json() for d in plan.diagnostics],
        "observed_fingerprints": dict(sorted(plan.fingerprints.items())),
        "desired_digest": plan.desired_digest,
    }


def _change_json(c: ResourceChange) -> dict[str, Any]:
    data = c.to_json()
    data["actions"] = [c.action]  # Terraform's shape: consumers scan the list for "delete"
    return data
