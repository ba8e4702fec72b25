"""The emulated org: one SalesforceBackend composed of one mixin per concern (see base.py).

Seeding and the org's starting state live here; each rule lives in exactly one concern module:
sessions (logins, tokens), users, assignment (Lead assignment rules), limits (API counter),
values (input conversion), rules (validation), records (writes, deletes), collections (many
records a call), upserts, conversion (convertLead), queries (SOQL), jobs (Bulk API 2.0),
composite (Composite and Composite Batch limits, references, transaction). Wire
shapes live in the responses package; these modules only know values, ids and `RecordError`s.
"""

from __future__ import annotations

import threading

from leadsync.emulator.salesforce.bulk import IngestJob, QueryJob
from leadsync.emulator.salesforce.exceptions import ApiError, RecordError
from leadsync.emulator.salesforce.ids import KEY_PREFIXES, IdFactory
from leadsync.emulator.salesforce.models.assignment import Assignment
from leadsync.emulator.salesforce.models.base import Clock, OrgState, sf_datetime
from leadsync.emulator.salesforce.models.collections import Collections
from leadsync.emulator.salesforce.models.composite import Composite
from leadsync.emulator.salesforce.models.conversion import LeadConversion
from leadsync.emulator.salesforce.models.jobs import Jobs
from leadsync.emulator.salesforce.models.limits import ApiLimits
from leadsync.emulator.salesforce.models.queries import Queries
from leadsync.emulator.salesforce.models.records import INDEXED, Records
from leadsync.emulator.salesforce.models.rules import Rules
from leadsync.emulator.salesforce.models.sessions import (
    DEFAULT_APPS,
    DEFAULT_USERS,
    DEMO_ACCESS_TOKEN,
    OAuthError,
    Sessions,
)
from leadsync.emulator.salesforce.models.upserts import Upserts
from leadsync.emulator.salesforce.models.users import Users
from leadsync.emulator.salesforce.models.values import Values
from leadsync.emulator.salesforce.sobjects import (
    ObjectDef,
    account_object,
    assignment_rule_object,
    campaign_member_object,
    campaign_member_status_object,
    campaign_object,
    contact_object,
    custom_field,
    lead_object,
    lead_status_object,
    user_object,
)

__all__ = ["DEMO_ACCESS_TOKEN", "OAuthError", "OrgState", "SalesforceBackend", "sf_datetime"]

DEFAULT_LEAD_STATUSES = [
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
]


class SalesforceBackend(
    Sessions,
    Users,
    Assignment,
    ApiLimits,
    Values,
    Rules,
    Records,
    Collections,
    Upserts,
    LeadConversion,
    Queries,
    Jobs,
    Composite,
):
    """One org. All public methods are thread-safe (the HTTP server is threaded)."""

    def __init__(
        self,
        *,
        lead_statuses: list[dict] | None = None,
        lead_fields: list[dict] | None = None,
        duplicate_rule_on_lead_email: bool = False,
        daily_api_limit: int = 100_000,
        daily_api_used: int = 0,
        access_token: str = DEMO_ACCESS_TOKEN,
        users: list[dict] | None = None,
        connected_apps: list[dict] | None = None,
        sandbox: bool = False,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.ids = IdFactory()
        self.org_id = "00D8d0000000001EAA"
        self.user_id = self.ids.new(KEY_PREFIXES["User"])
        statuses = lead_statuses or [{"label": s} for s in DEFAULT_LEAD_STATUSES]
        self._define_objects([s["label"] for s in statuses], lead_fields or [])
        self.duplicate_rule_on_lead_email = duplicate_rule_on_lead_email
        self.api_total = daily_api_limit
        self.api_used = daily_api_used
        self.access_token = access_token
        self.tokens = {access_token}
        self.users = users if users is not None else list(DEFAULT_USERS)
        self.connected_apps = connected_apps if connected_apps is not None else list(DEFAULT_APPS)
        self.sandbox = sandbox
        self.rule_owners: dict[str, str] = {}  # AssignmentRule Id -> the User it assigns to
        self._seed_users()
        self.locators: dict[str, list[dict]] = {}
        self.journal = None
        self.jobs: dict[str, IngestJob] = {}
        self.query_jobs: dict[str, QueryJob] = {}
        self._seed_lead_statuses(statuses)

    def _define_objects(self, status_labels: list[str], lead_fields: list[dict]) -> None:
        """The org's metadata, its empty record tables and their indexes."""
        self.objects: dict[str, ObjectDef] = {
            o.name: o
            for o in (
                lead_object(status_labels),
                account_object(),
                contact_object(),
                campaign_object(),
                campaign_member_object(),
                campaign_member_status_object(),
                lead_status_object(),
                user_object(),
                assignment_rule_object(),
            )
        }
        self._objects_lower = {name.lower(): o for name, o in self.objects.items()}
        lead = self.objects["Lead"]
        for spec in lead_fields:
            f = custom_field(spec)
            lead.fields[f.name] = f
        lead.reindex()
        self.records: dict[str, dict[str, dict]] = {name: {} for name in self.objects}
        self.ever_deleted: set[str] = set()
        # Unique and External ID fields are indexed (as Salesforce indexes them): the unique
        # rule, upsert matching and SOQL lookups by key all read the index.
        self.indexed: dict[str, tuple[str, ...]] = {
            **INDEXED,
            "Lead": (
                *INDEXED["Lead"],
                *(f.name for f in lead.fields.values() if f.unique or f.external_id),
            ),
        }
        self.indexes: dict[tuple[str, str], dict[str, set[str]]] = {
            (obj, f): {} for obj, fs in self.indexed.items() for f in fs
        }

    def _seed_lead_statuses(self, statuses: list[dict]) -> None:
        """LeadStatus records for the picklist; a label saying "converted" (not "not") is one."""
        for i, s in enumerate(statuses):
            converted = s.get(
                "converted", "converted" in s["label"].lower() and "not" not in s["label"].lower()
            )
            self._store(
                "LeadStatus",
                {"MasterLabel": s["label"], "ApiName": s["label"], "SortOrder": i + 1,
                 "IsDefault": i == 0, "IsConverted": bool(converted)},
            )  # fmt: skip

    # --- seeding ----------------------------------------------------------------------------

    @classmethod
    def from_seed(cls, section: dict | None) -> SalesforceBackend:
        """Build an org from the (schema-validated) "salesforce" seed section."""
        section = section or {}
        statuses = [
            {"label": s} if isinstance(s, str) else dict(s)
            for s in section.get("lead_statuses", [])
        ]
        backend = cls(
            lead_statuses=statuses or None,
            lead_fields=section.get("lead_fields"),
            duplicate_rule_on_lead_email=bool(section.get("duplicate_rule_on_lead_email", False)),
            daily_api_limit=int(section.get("daily_api_limit", 100_000)),
            daily_api_used=int(section.get("daily_api_used", 0)),
            access_token=section.get("access_token", DEMO_ACCESS_TOKEN),
            users=section.get("users"),
            connected_apps=section.get("connected_apps"),
            sandbox=bool(section.get("sandbox", False)),
        )
        for sobject, rows in (section.get("records") or {}).items():
            obj = backend.object(sobject)
            for n, row in enumerate(rows):
                try:
                    values = backend.convert_json(obj, dict(row))
                    backend.insert(obj.name, values, allow_duplicate_save=True, existing_data=True)
                except (ApiError, RecordError) as exc:
                    raise ValueError(f"salesforce.records.{sobject}[{n}]: {exc}") from exc
        for name, labels in (section.get("campaign_member_statuses") or {}).items():
            backend._seed_member_statuses(name, labels)
        backend._seed_assignment_rules(section.get("assignment_rules") or [])
        return backend

    def _seed_member_statuses(self, campaign_name: str, labels: list) -> None:
        campaigns = [r for r in self.records["Campaign"].values() if r["Name"] == campaign_name]
        if not campaigns:
            raise ValueError(
                f"salesforce.campaign_member_statuses: no seeded Campaign named {campaign_name!r}"
            )
        cid = campaigns[0]["Id"]
        for sid in list(
            self.indexes[("CampaignMemberStatus", "CampaignId")].get(cid.casefold(), ())
        ):
            self._unstore("CampaignMemberStatus", sid)
        specs = [{"label": x} if isinstance(x, str) else dict(x) for x in labels]
        if not any(s.get("default") for s in specs):
            specs[0]["default"] = True
        for i, s in enumerate(specs):
            self._store(
                "CampaignMemberStatus",
                {"CampaignId": cid, "Label": s["label"], "SortOrder": i + 1,
                 "IsDefault": bool(s.get("default")), "HasResponded": bool(s.get("responded"))},
            )  # fmt: skip
