"""Saved plans (`plan --out FILE`), read back by `apply FILE`.

A plan file is the JSON plan (document.to_json) plus a small envelope. It carries what apply needs
to refuse a plan that no longer describes the work (Terraform's planfile: prior state lineage and
serial; here also the config's sha256, a digest of the resolved desired values and the observed
schema fingerprints) and nothing secret: values are masked, and the resolved values with their
salted fingerprints are not saved (apply recomputes them and compares the digest).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadsync.config.diagnostics import Diagnostic
from leadsync.errors import LeadsyncError
from leadsync.reconcile.document import to_json
from leadsync.reconcile.model import FORMAT_VERSION, Drift, Plan, PriorState, ResourceChange

KIND = "leadsync-plan"
PLANFILE_VERSION = 1


class PlanFileError(LeadsyncError):
    """The file is not a plan leadsync can apply."""


def dumps(plan: Plan) -> str:
    body = to_json(plan)
    envelope = {
        "kind": KIND,
        "planfile_version": PLANFILE_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **body,
    }
    return json.dumps(envelope, indent=2, ensure_ascii=False) + "\n"


def save(plan: Plan, path: str | Path) -> None:
    """Write atomically with mode 0600: a plan is a reviewed artefact, never half-written."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise PlanFileError(f"cannot write the plan file {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(dumps(plan))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise PlanFileError(f"cannot write the plan file {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: str | Path) -> Plan:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanFileError(f"cannot read plan file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise PlanFileError(f"{path} is not a leadsync plan file (not UTF-8 text)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{path} is not a leadsync plan file (not JSON: {exc.msg})") from None
    return from_json(data, str(path))


def from_json(data: Any, where: str = "plan file") -> Plan:
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise PlanFileError(f"{where} is not a leadsync plan file (made by `leadsync plan --out`)")
    if data.get("planfile_version") != PLANFILE_VERSION:
        raise PlanFileError(
            f"{where} has plan file version {data.get('planfile_version')!r}; this leadsync reads "
            f"version {PLANFILE_VERSION}: make the plan again with this version"
        )
    major = str(data.get("format_version", "")).split(".")[0]
    if major != FORMAT_VERSION.split(".")[0]:
        raise PlanFileError(
            f"{where} has plan format {data.get('format_version')!r}; expected {FORMAT_VERSION}"
        )
    try:
        prior = data.get("prior_state")
        config = data["config"]
        return Plan(
            changes=tuple(ResourceChange.from_json(c) for c in data["resource_changes"]),
            drift=tuple(Drift.from_json(d) for d in data.get("resource_drift", [])),
            diagnostics=tuple(Diagnostic(**d) for d in data.get("diagnostics", [])),
            prior=PriorState(prior["lineage"], int(prior["serial"])) if prior else None,
            config_source=config["source"],
            config_sha256=config["sha256"],
            desired_digest=data["desired_digest"],
            fingerprints=dict(data["observed_fingerprints"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanFileError(f"{where} is damaged ({type(exc).__name__}: {exc})") from None
