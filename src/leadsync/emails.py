"""The email matching key: one home for "which two addresses are the same person".

A Dotdigital member and a Salesforce Lead are the same person when their emails match trimmed
and lower-cased: Salesforce compares Email case-insensitively in SOQL and Dotdigital stores
addresses lower-cased, so this is the comparison key both services honour. The clients key their
results by it, the sync and the ledger store it; none of them spells the rule out again.
"""

from __future__ import annotations

from collections.abc import Iterable


def normalise_email(email: object) -> str:
    """Trimmed, lower-cased email (None and "" give "")."""
    return str(email or "").strip().lower()


def normalise_emails(emails: Iterable[object]) -> list[str]:
    """Distinct normalised emails in first-seen order, empties dropped."""
    return [e for e in dict.fromkeys(normalise_email(x) for x in emails) if e]
