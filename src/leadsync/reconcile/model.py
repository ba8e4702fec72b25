"""A plan as data: what `apply` would change, why, and what drifted, before anything is rendered.

Following Terraform's `internal/plans` and SQLMesh's plan "definition", the plan is a plain value
so it can be rendered three ways, saved to a file, compared and applied verbatim. Values in a plan
are already masked: a secret appears only as `(sensitive)`, and whether it changed is carried in
`changed` (computed from salted fingerprints, never from values). A plan can therefore be printed,
saved or posted to a pull request without a second thought.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from leadsync.config.diagnostics import Diagnostic

if TYPE_CHECKING:
    from leadsync.applied import AppliedIntegration

FORMAT_VERSION = "1.0"  # JSON plan format: minor bumps are additive, a major bump means "reject"
SENSITIVE = "(sensitive)"
SECRET_PREFIX = "hmac-sha256:"  # what Secret.fingerprint() returns; marks a secret leaf

Action = Literal["create", "update", "delete", "no-op"]
ACTIONS: tuple[Action, ...] = ("create", "update", "delete", "no-op")

# Kinds of resources. "Remote" kinds are created in Dotdigital/Salesforce by apply; the others
# only change what leadsync records (and so what the sync does).
RemoteKind = Literal["datafield", "member_status"]
REMOTE_KINDS = frozenset({"datafield", "member_status"})

# Diagnostic codes of observed checks (validate's offline rules use LS1xx).
BOOK_NOT_FOUND = "LS201"
BOOK_AMBIGUOUS = "LS202"
DATAFIELD_NOT_FOUND = "LS203"
SF_FIELD_NOT_FOUND = "LS204"
SF_FIELD_NOT_CREATEABLE = "LS205"
REQUIRED_FIELD_UNMAPPED = "LS206"
LEAD_STATUS_UNKNOWN = "LS207"
CAMPAIGN_NOT_FOUND = "LS208"
CAMPAIGN_AMBIGUOUS = "LS209"
DATAFIELD_TYPE_MISMATCH = "LS210"  # warning: values may fail to convert at sync time
LEAD_KEY_MISSING = "LS211"  # warning: no upsert key on Lead; in-doubt creates wait a grace
LEAD_KEY_UNUSABLE = "LS212"  # warning: Leadsync_Key__c exists but cannot be the upsert key
ASSIGNMENT_RULE_UNKNOWN = "LS213"
CONTACT_FIELD_NOT_FOUND = "LS214"  # a contact_mapping field Contact does not have
MEMBER_STATUS_UNKNOWN = "LS215"  # member_statuses names a status the Campaign does not have

CODES: dict[str, str] = {
    BOOK_NOT_FOUND: "address book not found in Dotdigital",
    BOOK_AMBIGUOUS: "several Dotdigital address books have this name",
    DATAFIELD_NOT_FOUND: "datafield not found in Dotdigital (and create_missing_datafields is off)",
    SF_FIELD_NOT_FOUND: "Salesforce Lead field not found",
    SF_FIELD_NOT_CREATEABLE: "Salesforce Lead field cannot be set on create",
    REQUIRED_FIELD_UNMAPPED: "a Lead field the org requires on create is not mapped towards Salesforce",
    LEAD_STATUS_UNKNOWN: "lead_status is not an active Lead Status",
    CAMPAIGN_NOT_FOUND: "Salesforce Campaign not found",
    CAMPAIGN_AMBIGUOUS: "several Salesforce Campaigns have this name",
    DATAFIELD_TYPE_MISMATCH: "datafield type does not fit the Salesforce field type",
    LEAD_KEY_MISSING: "Lead has no Leadsync_Key__c upsert key field",
    LEAD_KEY_UNUSABLE: "Lead field Leadsync_Key__c is not a unique External ID the user can edit",
    ASSIGNMENT_RULE_UNKNOWN: "assignment_rule names no Lead assignment rule in Salesforce",
    CONTACT_FIELD_NOT_FOUND: "Salesforce Contact field not found",
    MEMBER_STATUS_UNKNOWN: "a member_statuses value is not a member status of the Campaign",
}


@dataclass(frozen=True, slots=True)
class ResourceChange:
    """One addressed thing and what apply does to it (Terraform's `resource_changes[]` entry).

    `before`/`after` are masked JSON-able dicts (None when absent). `changed` lists the top-level
    attribute names that differ, secrets included, so a rotated password shows as changed
    although both sides render as `(sensitive)`. `sensitive` lists the masked attribute names.
    """

    address: str
    kind: str  # salesforce | defaults | sync | account | lead_mapping | contact_mapping | address_book | datafield | member_status
    action: Action
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str
    changed: tuple[str, ...] = ()
    sensitive: tuple[str, ...] = ()
    account: str | None = None

    @property
    def remote(self) -> bool:
        """True when apply creates something in Dotdigital or Salesforce for this change."""
        return self.kind in REMOTE_KINDS and self.action == "create"

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "kind": self.kind,
            "account": self.account,
            "action": self.action,
            "remote": self.remote,
            "reason": self.reason,
            "before": self.before,
            "after": self.after,
            "changed": list(self.changed),
            "sensitive": list(self.sensitive),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResourceChange:
        return cls(
            address=data["address"],
            kind=data["kind"],
            action=data["action"],
            before=data.get("before"),
            after=data.get("after"),
            reason=data.get("reason", ""),
            changed=tuple(data.get("changed", ())),
            sensitive=tuple(data.get("sensitive", ())),
            account=data.get("account"),
        )


@dataclass(frozen=True, slots=True)
class Drift:
    """Applied state and the live systems disagree ("Objects have changed outside of leadsync")."""

    address: str
    message: str
    applied: Any = None
    observed: Any = None

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "message": self.message,
            "applied": self.applied,
            "observed": self.observed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Drift:
        return cls(data["address"], data["message"], data.get("applied"), data.get("observed"))


@dataclass(frozen=True, slots=True)
class PriorState:
    """Which state the plan was made against: a saved plan is refused for any other."""

    lineage: str
    serial: int


@dataclass(frozen=True, slots=True)
class Plan:
    """diff(config, applied, observed): changes, drift and findings, plus what a saved plan needs.

    `resolved` is the applied state's `resolved` document that apply will record (secrets as salted
    fingerprints; it is never rendered and never saved in a plan file). `desired_digest` lets
    `apply PLANFILE` notice that the environment (e.g. a `${VAR}`) now resolves differently.
    """

    changes: tuple[ResourceChange, ...]
    drift: tuple[Drift, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    prior: PriorState | None = None
    config_source: str = ""
    config_sha256: str = ""
    desired_digest: str = ""
    fingerprints: dict[str, str] = field(default_factory=dict)
    resolved: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # The same, typed (None for a plan read back from a file): what apply reads.
    integration: AppliedIntegration | None = field(default=None, compare=False, repr=False)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)

    @property
    def has_changes(self) -> bool:
        return any(c.action != "no-op" for c in self.changes)

    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys(ACTIONS, 0)
        for c in self.changes:
            counts[c.action] += 1
        return counts

    def summary_line(self) -> str:
        s = self.summary()
        if not self.has_changes:
            return "No changes. The applied state matches leadsync.yaml and the live systems."
        return f"Plan: {s['create']} to create, {s['update']} to update, {s['delete']} to delete."

    def remote_actions(self) -> tuple[ResourceChange, ...]:
        return tuple(c for c in self.changes if c.remote)

    def comparable(self) -> list[dict[str, Any]]:
        """What must be identical for a saved plan to still describe the same work.

        Reasons are left out: they may quote live numbers (a book's member count) that move
        all day without changing what apply does.
        """
        return [{k: v for k, v in c.to_json().items() if k != "reason"} for c in self.changes]


def quoted(key: str) -> str:
    """A name inside a resource address, JSON-quoted: account.uk.address_book["Webinar"]."""
    return json.dumps(key, ensure_ascii=False)
