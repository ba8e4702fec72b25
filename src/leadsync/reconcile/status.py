"""status and history: what is applied, by whom, and whether leadsync.yaml still says the same.

Both only read. "Differs" compares the canonical snapshot of the file (with the applied salt, so
a rotated secret counts) with the snapshot recorded at apply time: reformatting or reordering the
YAML is not a difference, a changed value is.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from leadsync.config import snapshot
from leadsync.reconcile.diff import mask
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
        counts = getattr(store, "ledger_counts", None)
        if applied is not None and callable(counts):
            report["ledger"] = [
                {"account": a, "book_id": b, "state": s, "count": n}
                for (a, b, s), n in sorted(counts().items())
            ]
    if applied is None:
        return report
    report["applied"] = {
        "serial": applied.serial,
        "lineage": applied.lineage,
        "applied_at": applied.applied_at,
        "applied_by": applied.applied_by,
        "config_sha256": applied.config_sha256,
    }
    differences = sorted(_differences(applied.config, snapshot(config, applied.salt)))
    report["config_differs"] = bool(differences)
    report["differences"] = differences
    return report


def history_report(config_path: str, limit: int | None = None) -> list[dict[str, Any]]:
    loaded = load_config(config_path)
    with reading_store(loaded.config) as store:
        if store is None:
            return []
        return [mask(asdict(h)) for h in store.history(limit)]


def _differences(applied: Any, desired: Any, path: str = "", depth: int = 0) -> list[str]:
    """Paths (e.g. accounts.uk.lead_mapping) whose values differ; secrets never shown."""
    if applied == desired:
        return []
    if isinstance(applied, dict) and isinstance(desired, dict) and depth < 3:
        out: list[str] = []
        for key in sorted(set(applied) | set(desired)):
            sub = f"{path}.{key}" if path else str(key)
            out += _differences(applied.get(key), desired.get(key), sub, depth + 1)
        return out
    return [path or "(everything)"]
