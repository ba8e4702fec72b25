"""Secrets in plans: a salted fingerprint is compared, `(sensitive)` is shown. Pure.

The applied documents carry secrets only as `Secret.fingerprint(salt)` (leadsync.applied.values);
everything that leaves the process (plan text, JSON, Markdown, plan files, history, the ui) goes
through `mask`, so a fingerprint is never shown either.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from leadsync.reconcile import model as m


def is_secret(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(m.SECRET_PREFIX)


def mask(value: Any) -> Any:
    """Replace every secret fingerprint by `(sensitive)`, at any depth."""
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return m.SENSITIVE if is_secret(value) else value


def desired_digest(resolved: dict[str, Any], *, salted: bool) -> str:
    """Hash of what apply would record. Before the first apply the salt is not yet fixed, so
    secrets are hashed masked (a changed value then changes nothing that was shown)."""
    material = resolved if salted else mask(resolved)
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()
