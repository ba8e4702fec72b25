"""The emulated org: records, indexes, tokens, the API counter, and Salesforce's write rules.

Every write path (REST create, sObject Collections, Bulk API 2.0, seeding) goes through
`SalesforceBackend.insert`, so a rule enforced once is enforced everywhere. Wire shapes live in
responses.py; this module only knows values, ids and `RecordError`s.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime

from leadsync.emulator.salesforce import soql
from leadsync.emulator.salesforce.bulk import IngestJob
from leadsync.emulator.salesforce.exceptions import (
    ApiError,
    RecordError,
    SaveErr,
    invalid_session,
    json_parser_error,
    malformed_query,
    no_such_column,
    record_error,
    request_limit_exceeded,
)
from leadsync.emulator.salesforce.ids import KEY_PREFIXES, IdFactory, to18
from leadsync.emulator.salesforce.sobjects import (
    NUMERIC,
    STRINGY,
    FieldDef,
    ObjectDef,
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

DEMO_ACCESS_TOKEN = "00D8d0000000001!AQ0AQLeadsyncEmulatorDemoSessionToken"
DEFAULT_LEAD_STATUSES = [
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
]
DEFAULT_USERS = [
    {
        "username": "integration@leadsync.example",
        "password": "demo-password",
        "security_token": "DEMOTOKEN",
    }
]
DEFAULT_APPS = [
    {
        "consumer_key": "leadsync-demo-consumer-key",
        "consumer_secret": "leadsync-demo-consumer-secret",
    }
]
PAGE_SIZE = 2000
MAX_OPEN_LOCATORS = 50
MAX_SOQL_CHARS = 100_000  # a SOQL statement, however it arrives (GET or Composite subrequest)
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INDEXED = {
    "Lead": ("Email",),
    "Contact": ("Email",),
    "CampaignMember": ("CampaignId", "LeadId", "ContactId"),
    "CampaignMemberStatus": ("CampaignId",),
}
DUPLICATE_MESSAGE = (
    "You're creating a duplicate record. We recommend you use an existing record instead."
)
MATCH_RULES = {
    "Lead": "Standard_Lead_Match_Rule_v1_0",
    "Contact": "Standard_Contact_Match_Rule_v1_1",
}


class OAuthError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.body = {"error": error, "error_description": description}


def sf_datetime(dt: datetime) -> str:
    """Salesforce's JSON datetime form: 2026-01-31T10:00:00.000+0000."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, int):
        return "VALUE_NUMBER_INT"
    if isinstance(value, float):
        return "VALUE_NUMBER_FLOAT"
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    return "VALUE_STRING"


_JAVA_TYPES = {"boolean": "boolean", "date": "date", "datetime": "datetime", "int": "int"}


class SalesforceBackend:
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
    ) -> None:
        self.lock = threading.RLock()
        self._now_cache: tuple[int, str] = (0, "")
        self.ids = IdFactory()
        self.org_id = "00D8d0000000001EAA"
        self.user_id = self.ids.new(KEY_PREFIXES["User"])
        statuses = lead_statuses or [{"label": s} for s in DEFAULT_LEAD_STATUSES]
        self.objects: dict[str, ObjectDef] = {
            o.name: o
            for o in (
                lead_object([s["label"] for s in statuses]),
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
        for spec in lead_fields or []:
            f = custom_field(spec)
            lead.fields[f.name] = f
        lead.reindex()
        self.records: dict[str, dict[str, dict]] = {name: {} for name in self.objects}
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
        self.duplicate_rule_on_lead_email = duplicate_rule_on_lead_email
        self.api_total = daily_api_limit
        self.api_used = daily_api_used
        self.access_token = access_token
        self.tokens = {access_token}
        self.users = users if users is not None else list(DEFAULT_USERS)
        self.connected_apps = connected_apps if connected_apps is not None else list(DEFAULT_APPS)
        self.rule_owners: dict[str, str] = {}  # AssignmentRule Id -> the User it assigns to
        self._seed_users()
        self.locators: dict[str, list[dict]] = {}
        self.jobs: dict[str, IngestJob] = {}
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

    # --- sessions, OAuth and the API counter ----------------------------------------------------

    def check_token(self, authorization: str | None) -> None:
        token = ""
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() not in ("bearer", "oauth"):
                token = ""
        with self.lock:
            if token.strip() not in self.tokens:
                raise invalid_session()

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def count_request(self) -> None:
        with self.lock:
            if self.api_used >= self.api_total:
                raise request_limit_exceeded()
            self.api_used += 1

    def set_limits(self, used: int | None, total: int | None) -> None:
        with self.lock:
            if used is not None:
                self.api_used = int(used)
            if total is not None:
                self.api_total = int(total)

    def limit_info(self) -> str:
        with self.lock:
            return f"api-usage={self.api_used}/{self.api_total}"

    def login(self, form: dict[str, str], instance_url: str) -> dict:
        """OAuth 2.0 username-password flow."""
        grant = form.get("grant_type", "")
        if grant != "password":
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        app = next(
            (a for a in self.connected_apps if a["consumer_key"] == form.get("client_id")), None
        )
        if app is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if not hmac.compare_digest(str(app["consumer_secret"]), form.get("client_secret", "")):
            raise OAuthError("invalid_client", "invalid client credentials")
        user = next((u for u in self.users if u["username"] == form.get("username")), None)
        expected = (
            None if user is None else str(user["password"]) + str(user.get("security_token", ""))
        )
        if expected is None or not hmac.compare_digest(expected, form.get("password", "")):
            raise OAuthError("invalid_grant", "authentication failure")
        token = f"{self.org_id[:15]}!AQ0AQ{secrets.token_urlsafe(48)}"
        with self.lock:
            self.tokens.add(token)
        issued_at = str(int(time.time() * 1000))
        identity = f"{instance_url}/id/{self.org_id}/{self.user_id}"
        sig = hmac.new(
            str(app["consumer_secret"]).encode(), (identity + issued_at).encode(), hashlib.sha256
        )
        return {
            "access_token": token,
            "instance_url": instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": base64.b64encode(sig.digest()).decode(),
        }

    # --- metadata -------------------------------------------------------------------------------

    def object(self, name: str) -> ObjectDef:
        obj = self._objects_lower.get(name.lower())
        if obj is None:
            raise ApiError(
                404,
                "NOT_FOUND",
                f"The requested resource does not exist: sObject type '{name}' is not supported.",
            )
        return obj

    def picklist_for(self, obj: ObjectDef, f: FieldDef) -> list[tuple[str, bool]]:
        if obj.name == "CampaignMember" and f.name == "Status":
            with self.lock:
                labels: dict[str, bool] = {}
                for r in self.records["CampaignMemberStatus"].values():
                    labels.setdefault(r["Label"], False)
                return [(label, False) for label in labels]
        return f.picklist

    # --- converting input values ------------------------------------------------------------

    def field_or_invalid(self, obj: ObjectDef, name: str) -> FieldDef:
        f = obj.get(name)
        if f is None:
            raise no_such_column(name, obj.name)
        return f

    def convert_json(self, obj: ObjectDef, raw: dict) -> dict:
        """JSON body -> {canonical field: value}. Unknown fields and wrong JSON types fail the request."""
        out: dict = {}
        for name, value in raw.items():
            if name == "attributes":
                continue
            f = self.field_or_invalid(obj, name)
            out[f.name] = self._json_value(f, value)
        return out

    def _json_value(self, f: FieldDef, value: object) -> object:
        if value is None:
            return None

        def bad() -> ApiError:
            java = _JAVA_TYPES.get(f.type, "double" if f.type in NUMERIC else "String")
            return json_parser_error(
                f"Cannot deserialize instance of {java} from {_json_kind(value)} value {value} "
                "or request may be missing a required field at [line:1, column:1]"
            )

        if isinstance(value, dict | list):
            raise bad()
        t = f.type
        if t in STRINGY:
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, float) and value.is_integer():
                return str(int(value))
            return str(value)
        if t == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise bad()
        if t in NUMERIC:
            if isinstance(value, bool):
                raise bad()
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise bad() from None
            if t == "int":
                if not number.is_integer():
                    raise bad()
                return int(number)
            return number
        if t == "date":
            if isinstance(value, str) and _valid_date(value):
                return value
            raise bad()
        if t == "datetime":
            if isinstance(value, str):
                try:
                    return sf_datetime(soql.parse_datetime(value))
                except ValueError:
                    pass
            raise bad()
        return value

    def csv_value(self, f: FieldDef, text: str) -> object:
        """One Bulk API CSV cell -> value; empty and #N/A mean null. Bad cells fail the row."""
        if text == "" or text == "#N/A":
            return None
        t = f.type

        def bad() -> RecordError:
            return record_error(
                "INVALID_TYPE_ON_FIELD_IN_RECORD",
                f"{f.label}: value not of required type: {text}",
                [f.name],
            )

        if t in STRINGY:
            return text
        if t == "boolean":
            low = text.strip().lower()
            if low in ("true", "1", "yes", "y"):
                return True
            if low in ("false", "0", "no", "n"):
                return False
            raise bad()
        if t in NUMERIC:
            try:
                number = float(text)
            except ValueError:
                raise bad() from None
            if t == "int":
                if not number.is_integer():
                    raise bad()
                return int(number)
            return number
        if t == "date":
            candidate = text.strip().removesuffix("Z")
            if _valid_date(candidate):
                return candidate
            raise bad()
        if t == "datetime":
            try:
                return sf_datetime(soql.parse_datetime(text))
            except ValueError:
                raise bad() from None
        return text

    # --- rules -------------------------------------------------------------------------------

    def _field_errors(self, obj: ObjectDef, values: dict, *, creating: bool) -> None:
        errors: list[SaveErr] = []
        locked = [
            n for n, v in values.items()
            if n != "Id" and not (obj.fields[n].createable if creating else obj.fields[n].updateable)
        ]  # fmt: skip
        if creating and values.get("Id") is not None:
            raise record_error(
                "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"]
            )
        if locked:
            raise record_error(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(locked)}. Please check the security "
                "settings of this field and verify that it is read/write for your profile or permission set.",
                locked,
            )
        for name, value in values.items():
            if value is None or name == "Id":
                continue
            f = obj.fields[name]
            if (
                f.type in ("string", "textarea", "email", "phone", "url")
                and f.length
                and len(str(value)) > f.length
            ):
                errors.append(
                    SaveErr(
                        "STRING_TOO_LONG",
                        f"{f.label}: data value too large: {value} (max length={f.length})",
                        [name],
                    )
                )
            elif f.type == "email" and not _EMAIL.match(str(value)):
                errors.append(
                    SaveErr(
                        "INVALID_EMAIL_ADDRESS",
                        f"{f.label}: invalid email address: {value}",
                        [name],
                    )
                )
            elif f.type == "picklist" and f.restricted and value not in {v for v, _ in f.picklist}:
                errors.append(
                    SaveErr(
                        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        f"{f.label}: bad value for restricted picklist field: {value}",
                        [name],
                    )
                )
            elif f.type == "reference":
                self._check_reference(f, str(value), errors)
        if errors:
            raise RecordError(errors[:1])

    def _check_reference(self, f: FieldDef, value: str, errors: list[SaveErr]) -> None:
        target = f.reference_to[0] if f.reference_to else ""
        id18 = to18(value)
        prefix = KEY_PREFIXES.get(target)
        if id18 is None or (prefix and not id18.startswith(prefix)):
            errors.append(
                SaveErr("MALFORMED_ID", f"{f.label}: id value of incorrect type: {value}", [f.name])
            )
        elif target == "User":
            if id18 not in self.records["User"]:
                errors.append(
                    SaveErr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [f.name])
                )
        elif target in self.records and id18 not in self.records[target]:
            errors.append(
                SaveErr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [f.name])
            )

    def _unique_rule(self, obj: ObjectDef, values: dict, record_id: str | None = None) -> None:
        """DUPLICATE_VALUE when a unique field's value is held by another record (compared
        case-insensitively unless the field is case-sensitive; blank values are never unique)."""
        for name, value in values.items():
            f = obj.fields.get(name)
            if f is None or not f.unique or value in (None, ""):
                continue
            holders = sorted(rid for rid in self._key_holders(obj, f, value) if rid != record_id)
            if holders:
                raise record_error(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {f.name} duplicates value on record with id: "
                    f"{holders[0]}",
                    [f.name],
                )

    def _key_holders(self, obj: ObjectDef, f: FieldDef, value: object) -> list[str]:
        """Ids of live records whose indexed field `f` holds `value` (case rules of `f`)."""
        bucket = self.indexes[(obj.name, f.name)].get(str(value).casefold(), set())
        table = self.records[obj.name]
        return [
            rid
            for rid in bucket
            if rid in table
            and not table[rid]["IsDeleted"]
            and (not f.case_sensitive or str(table[rid].get(f.name)) == str(value))
        ]

    def _apply_defaults(self, obj: ObjectDef, values: dict) -> None:
        for name, default in obj.create_defaults:
            if values.get(name) is None:
                values[name] = default

    def _missing_required(self, obj: ObjectDef, values: dict) -> None:
        missing = [name for name in obj.required_fields if values.get(name) in (None, "")]
        if missing:
            raise record_error(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )

    def _duplicate_matches(self, email: str | None) -> dict[str, list[str]]:
        if not email or not self.duplicate_rule_on_lead_email:
            return {}
        key = email.casefold()
        found = {}
        for sobject in ("Lead", "Contact"):
            ids = sorted(self.indexes[(sobject, "Email")].get(key, ()))
            if ids:
                found[sobject] = ids
        return found

    def duplicate_result(self, matches: dict[str, list[str]], version: str = "59.0") -> dict:
        return {
            "allowSave": True,
            "duplicateRule": "Standard_Rule_for_Leads_with_Duplicate_Contacts"
            if "Contact" in matches
            else "Standard_Lead_Duplicate_Rule",
            "duplicateRuleEntityType": "Lead",
            "errorMessage": DUPLICATE_MESSAGE,
            "matchResults": [
                {
                    "entityType": sobject,
                    "errors": [],
                    "matchEngine": "ExactMatchEngine",
                    "matchRecords": [
                        {
                            "additionalInformation": [],
                            "fieldDiffs": [],
                            "matchConfidence": 100.0,
                            "record": {
                                "attributes": {
                                    "type": sobject,
                                    "url": f"/services/data/v{version}/sobjects/{sobject}/{rid}",
                                },
                                "Id": rid,
                            },
                        }
                        for rid in ids
                    ],
                    "rule": MATCH_RULES[sobject],
                    "size": len(ids),
                    "success": True,
                }
                for sobject, ids in matches.items()
            ],
        }

    def _campaign_member_rules(self, values: dict, *, existing: dict | None = None) -> None:
        cid = values.get("CampaignId") if existing is None else existing["CampaignId"]
        if existing is None:
            if values.get("LeadId") is None and values.get("ContactId") is None:
                raise record_error(
                    "REQUIRED_FIELD_MISSING",
                    "Required fields are missing: [LeadId, ContactId]",
                    ["LeadId", "ContactId"],
                )
            if values.get("ContactId") is not None:
                values["LeadId"] = None
            who = (
                ("ContactId", values["ContactId"])
                if values.get("ContactId")
                else ("LeadId", values["LeadId"])
            )
            member_ids = self.indexes[("CampaignMember", who[0])].get(
                to18(who[1]).casefold(), set()
            )  # type: ignore[union-attr]
            if any(self.records["CampaignMember"][m]["CampaignId"] == cid for m in member_ids):
                raise record_error("DUPLICATE_VALUE", "Already a campaign member.", [])
        statuses = [
            self.records["CampaignMemberStatus"][s]
            for s in self.indexes[("CampaignMemberStatus", "CampaignId")].get(cid.casefold(), ())
        ]
        status = values.get("Status")
        if status is None and existing is None:
            default = next((s for s in statuses if s["IsDefault"]), None)
            status = values["Status"] = default["Label"] if default else None
        if "Status" in values:
            match = next((s for s in statuses if s["Label"] == status), None)
            if match is None:
                raise record_error(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"Status: bad value for restricted picklist field: {status}",
                    ["Status"],
                )
            values["HasResponded"] = match["HasResponded"]
            if match["HasResponded"] and not (existing or {}).get("FirstRespondedDate"):
                values["FirstRespondedDate"] = date.today().isoformat()

    # --- users and Lead assignment rules ----------------------------------------------------------
    #
    # Every API session acts as the integration user (`user_id`, the first seeded user); the
    # other seeded users own records only through assignment rules. A rule here is one rule
    # entry without criteria: it assigns every Lead it runs on to its owner. Which rule runs:
    # REST creates follow `Sforce-Auto-Assign` (TRUE or absent: the active Lead rule; FALSE:
    # none; an AssignmentRule Id: that rule, active or not); Bulk API 2.0 jobs run only the
    # rule their `assignmentRuleId` names (none when absent). At most one Lead rule is active.
    # Upserts (sObject Collections PATCH by External ID, Bulk 2.0 upsert jobs) run the rule on
    # the records they create, as inserts do. Not modelled: Salesforce documents that TRUE also
    # re-runs the active rule on Leads a REST write UPDATES; here updates keep their owner.

    def _seed_users(self) -> None:
        people = self.users or [DEFAULT_USERS[0]]
        for i, user in enumerate(people):
            rid = self.user_id if i == 0 else self.ids.new(KEY_PREFIXES["User"])
            name = str(user.get("name") or user["username"])
            self._put_system("User", rid, {"Username": user["username"], "Name": name})

    def _put_system(self, sobject: str, rid: str, values: dict) -> None:
        """Store a read-only (metadata-like) record under a chosen Id."""
        now = self._now()
        record = dict(self.objects[sobject].template)
        record.update(values)
        record.update(
            Id=rid, IsDeleted=False, CreatedDate=now, CreatedById=self.user_id, LastModifiedDate=now,
            LastModifiedById=self.user_id, SystemModstamp=now,
        )  # fmt: skip
        self.records[sobject][rid] = record

    def _seed_assignment_rules(self, specs: list[dict]) -> None:
        by_username = {u["Username"]: uid for uid, u in self.records["User"].items()}
        if sum(1 for s in specs if s.get("active")) > 1:
            raise ValueError("salesforce.assignment_rules: at most one Lead rule can be active")
        for n, spec in enumerate(specs):
            owner = by_username.get(spec["owner"])
            if owner is None:
                raise ValueError(
                    f"salesforce.assignment_rules[{n}].owner: no seeded user {spec['owner']!r} "
                    "(list it under salesforce.users)"
                )
            rid = self.ids.new(KEY_PREFIXES["AssignmentRule"])
            values = {
                "Name": spec["name"],
                "Active": bool(spec.get("active")),
                "SobjectType": "Lead",
            }
            self._put_system("AssignmentRule", rid, values)
            self.rule_owners[rid] = owner

    def _lead_rule(self, rule_id: str) -> str | None:
        id18 = to18(rule_id)
        rule = self.records["AssignmentRule"].get(id18 or "")
        return id18 if rule is not None and rule["SobjectType"] == "Lead" else None

    def rule_for_header(self, sobject: str, header: str | None) -> str | None:
        """The rule a REST create of `sobject` records runs, per `Sforce-Auto-Assign`."""
        if sobject != "Lead":
            return None  # Case and Account rules are not modelled
        value = (header or "TRUE").strip()
        if value.upper() == "TRUE":
            return next(
                (rid for rid, r in self.records["AssignmentRule"].items()
                 if r["Active"] and r["SobjectType"] == "Lead"),
                None,
            )  # fmt: skip
        if value.upper() == "FALSE":
            return None
        if to18(value) is None:
            raise ApiError(400, "MALFORMED_ID", f"Sforce-Auto-Assign: malformed id {value}")
        rule = self._lead_rule(value)
        if rule is None:
            raise ApiError(
                400,
                "INVALID_CROSS_REFERENCE_KEY",
                f"Sforce-Auto-Assign: {value} is not a Lead assignment rule",
            )
        return rule

    def rule_for_job(self, sobject: str, rule_id: object) -> str | None:
        """The rule a Bulk API 2.0 job runs: only the one its assignmentRuleId names."""
        if rule_id is None:
            return None
        rule = self._lead_rule(str(rule_id)) if sobject == "Lead" else None
        if rule is None:
            raise ApiError(
                400,
                "INVALIDJOB",
                f"InvalidJob : assignmentRuleId {rule_id} is not a {sobject} assignment rule",
            )
        return rule

    def assign(self, sobject: str, rid: str, rule_id: str | None) -> None:
        """Run an assignment rule on a record just created: its owner becomes the rule's."""
        if rule_id is None:
            return
        with self.lock:
            record = self.records[sobject].get(rid)
            if record is not None:
                record["OwnerId"] = self.rule_owners[rule_id]

    # --- writes ------------------------------------------------------------------------------

    def insert(
        self,
        sobject: str,
        values: dict,
        *,
        allow_duplicate_save: bool = False,
        version: str = "59.0",
        existing_data: bool = False,
    ) -> str:
        """Validate and store one record; raises RecordError with Salesforce's code on a rule.

        existing_data (seeding) skips the required-field rule: seeded rows model records that
        existed before a field was made required, which Salesforce does not re-validate.
        """
        obj = self.object(sobject)
        with self.lock:
            if not obj.createable:
                raise record_error(
                    "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {obj.label}", []
                )
            values = {k: v for k, v in values.items()}
            for ref in ("CampaignId", "LeadId", "ContactId"):
                if isinstance(values.get(ref), str) and obj.get(ref):
                    values[ref] = to18(values[ref]) or values[ref]
            self._field_errors(obj, values, creating=True)
            self._apply_defaults(obj, values)
            if not existing_data:
                self._missing_required(obj, values)
            self._unique_rule(obj, values)
            if obj.name == "CampaignMember":
                self._campaign_member_rules(values)
            elif obj.name == "CampaignMemberStatus":
                self._member_status_rules(values)
            elif obj.name == "Lead" and not allow_duplicate_save:
                matches = self._duplicate_matches(values.get("Email"))
                if matches:
                    raise RecordError(
                        [
                            SaveErr(
                                "DUPLICATES_DETECTED",
                                DUPLICATE_MESSAGE,
                                [],
                                {"duplicateResult": self.duplicate_result(matches, version)},
                            )
                        ]
                    )
            new_id = self._store(obj.name, values)
            if obj.name == "Campaign":
                for i, (label, default, responded) in enumerate(
                    (("Sent", True, False), ("Responded", False, True))
                ):
                    self._store(
                        "CampaignMemberStatus",
                        {
                            "CampaignId": new_id,
                            "Label": label,
                            "SortOrder": i + 1,
                            "IsDefault": default,
                            "HasResponded": responded,
                        },
                    )
            return new_id

    def _member_status_rules(self, values: dict) -> None:
        cid = values["CampaignId"]
        siblings = [
            self.records["CampaignMemberStatus"][s]
            for s in self.indexes[("CampaignMemberStatus", "CampaignId")].get(cid.casefold(), ())
        ]
        clash = next(
            (s for s in siblings if s["Label"].casefold() == str(values["Label"]).casefold()), None
        )
        if clash:
            raise record_error(
                "DUPLICATE_VALUE",
                f"duplicate value found: Label duplicates value on record with id: {clash['Id']}",
                ["Label"],
            )
        if values.get("SortOrder") is None:
            values["SortOrder"] = max((s["SortOrder"] or 0 for s in siblings), default=0) + 1
        if values.get("IsDefault"):
            for s in siblings:
                s["IsDefault"] = False

    def _store(self, sobject: str, values: dict) -> str:
        obj = self.objects[sobject]
        now = self._now()
        rid = self.ids.new(obj.key_prefix)
        record = dict(obj.template)
        record.update(values)
        record.update(
            Id=rid, IsDeleted=False, CreatedDate=now, CreatedById=self.user_id, LastModifiedDate=now,
            LastModifiedById=self.user_id, SystemModstamp=now,
        )  # fmt: skip
        if "OwnerId" in obj.fields and record.get("OwnerId") is None:
            record["OwnerId"] = self.user_id
        self._derive(sobject, record)
        self.records[sobject][rid] = record
        self._index(sobject, record, add=True)
        return rid

    def _now(self) -> str:
        """The current timestamp string, formatted once per second (bulk jobs write thousands)."""
        second = int(time.time())
        if self._now_cache[0] != second:
            self._now_cache = (second, sf_datetime(datetime.fromtimestamp(second, UTC)))
        return self._now_cache[1]

    def _derive(self, sobject: str, record: dict) -> None:
        if sobject in ("Lead", "Contact"):
            record["Name"] = " ".join(
                p for p in (record.get("FirstName"), record.get("LastName")) if p
            )
        if sobject == "CampaignMember":
            who = (
                ("Contact", record.get("ContactId"))
                if record.get("ContactId")
                else ("Lead", record.get("LeadId"))
            )
            person = self.records[who[0]].get(who[1] or "")
            record["Email"] = person.get("Email") if person else None

    def _unstore(self, sobject: str, rid: str) -> None:
        record = self.records[sobject].pop(rid, None)
        if record is not None:
            self._index(sobject, record, add=False)

    def _index(self, sobject: str, record: dict, *, add: bool) -> None:
        for f in self.indexed.get(sobject, ()):
            value = record.get(f)
            if value is None:
                continue
            bucket = self.indexes[(sobject, f)].setdefault(str(value).casefold(), set())
            if add:
                bucket.add(record["Id"])
            else:
                bucket.discard(record["Id"])

    def insert_many(
        self,
        items: list[tuple[str, dict]],
        *,
        all_or_none: bool,
        allow_duplicate_save: bool,
        version: str = "59.0",
    ) -> list[str | RecordError]:
        """Records in order; with all_or_none, one failure rolls back the others."""
        with self.lock:
            results: list[str | RecordError] = []
            for sobject, values in items:
                try:
                    results.append(
                        self.insert(
                            sobject,
                            values,
                            allow_duplicate_save=allow_duplicate_save,
                            version=version,
                        )
                    )
                except RecordError as exc:
                    results.append(exc)
            if all_or_none and any(isinstance(r, RecordError) for r in results):
                rolled = record_error(
                    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "Record rolled back because not all records were valid and the request was using AllOrNone header",
                    [],
                )
                for i, ((sobject, _), r) in enumerate(zip(items, results, strict=True)):
                    if isinstance(r, str):
                        self._cascade_delete(self.object(sobject).name, r)
                        results[i] = rolled
            return results

    # --- upsert by External ID ---------------------------------------------------------------

    def external_id_field(self, obj: ObjectDef, name: str) -> FieldDef:
        """The upsert key a request names; only External ID fields qualify (a request error)."""
        f = obj.get(name)
        if f is None or not f.external_id:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"Field name provided, {name} is not an External ID or indexed field for {obj.name}",
                [name],
            )
        return f

    def upsert_many(
        self,
        sobject: str,
        key_field: str,
        items: list[dict],
        *,
        all_or_none: bool,
        allow_duplicate_save: bool,
        version: str = "59.0",
    ) -> list[tuple[str, bool] | RecordError]:
        """Create or update each record by its key, in order: (id, created) or the error.

        With all_or_none, one failure rolls every other record back (updates restored,
        creations removed). Two records of one request with the same key both fail: Salesforce
        cannot tell which of them the caller meant.
        """
        obj = self.object(sobject)
        f = self.external_id_field(obj, key_field)
        with self.lock:
            repeated = _repeated_keys(f, [values.get(f.name) for values in items])
            undo: list[tuple[str, dict | None]] = []
            results: list[tuple[str, bool] | RecordError] = []
            for values in items:
                try:
                    if _key_form(f, values.get(f.name)) in repeated:
                        raise record_error(
                            "DUPLICATE_VALUE",
                            f"Duplicate external id specified: {values[f.name]}",
                            [f.name],
                        )
                    results.append(
                        self.upsert_one(
                            obj,
                            f,
                            values,
                            allow_duplicate_save=allow_duplicate_save,
                            version=version,
                            undo=undo,
                        )
                    )
                except RecordError as exc:
                    results.append(exc)
            if all_or_none and any(isinstance(r, RecordError) for r in results):
                self._undo(obj, undo)
                rolled = record_error(
                    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "Record rolled back because not all records were valid and the request was using AllOrNone header",
                    [],
                )
                results = [r if isinstance(r, RecordError) else rolled for r in results]
            return results

    def upsert_one(
        self,
        obj: ObjectDef,
        f: FieldDef,
        values: dict,
        *,
        allow_duplicate_save: bool,
        version: str,
        undo: list[tuple[str, dict | None]],
    ) -> tuple[str, bool]:
        """Update the one record holding the key, or create it: (id, created). `undo` gets what
        rolls the write back (the record as it was, or None for a creation)."""
        key = values.get(f.name)
        if key in (None, ""):
            raise record_error("MISSING_ARGUMENT", f"{f.name} not specified", [f.name])
        with self.lock:
            holders = sorted(self._key_holders(obj, f, key))
            if len(holders) > 1:
                raise record_error(
                    "DUPLICATE_EXTERNAL_ID",
                    f"{f.label}: more than one record found for external id field: "
                    f"[{', '.join(holders)}]",
                    [f.name],
                )
            if holders:
                before = dict(self.records[obj.name][holders[0]])
                self.update(obj.name, holders[0], values)
                undo.append((holders[0], before))
                return holders[0], False
            rid = self.insert(
                obj.name, values, allow_duplicate_save=allow_duplicate_save, version=version
            )
            undo.append((rid, None))
            return rid, True

    def _undo(self, obj: ObjectDef, undo: list[tuple[str, dict | None]]) -> None:
        for rid, before in reversed(undo):
            if before is None:
                self._cascade_delete(obj.name, rid)
                continue
            record = self.records[obj.name][rid]
            self._index(obj.name, record, add=False)
            record.clear()
            record.update(before)
            self._index(obj.name, record, add=True)

    def _cascade_delete(self, sobject: str, rid: str) -> None:
        if sobject == "Campaign":
            for sid in list(
                self.indexes[("CampaignMemberStatus", "CampaignId")].get(rid.casefold(), ())
            ):
                self._unstore("CampaignMemberStatus", sid)
        self._unstore(sobject, rid)

    def update(self, sobject: str, rid: str, values: dict) -> None:
        obj = self.object(sobject)
        with self.lock:
            record = self.get(obj.name, rid)
            if not obj.updateable:
                raise record_error(
                    "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be updated: {obj.label}", []
                )
            values = dict(values)
            values.pop("Id", None)
            self._field_errors(obj, values, creating=False)
            merged = {**record, **values}
            missing = [
                f.name
                for f in obj.fields.values()
                if f.required and f.name in values and merged.get(f.name) in (None, "")
            ]
            if obj.name == "Lead" and "Status" in values and values["Status"] is None:
                missing.append("Status")
            if missing:
                raise record_error(
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    missing,
                )
            if obj.name == "CampaignMember" and "Status" in values:
                self._campaign_member_rules(values, existing=record)
            self._unique_rule(obj, values, record["Id"])
            self._index(obj.name, record, add=False)
            record.update(values)
            now = sf_datetime(datetime.now(UTC))
            record.update(LastModifiedDate=now, SystemModstamp=now, LastModifiedById=self.user_id)
            self._derive(obj.name, record)
            self._index(obj.name, record, add=True)

    def delete(self, sobject: str, rid: str) -> None:
        obj = self.object(sobject)
        with self.lock:
            record = self.get(obj.name, rid)
            if record["IsDeleted"]:
                raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
            record["IsDeleted"] = True
            self._index(obj.name, record, add=False)

    def get(self, sobject: str, rid: str) -> dict:
        obj = self.object(sobject)
        id18 = to18(rid)
        with self.lock:
            record = self.records[obj.name].get(id18 or "")
            if record is None or record["IsDeleted"]:
                raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
            return record

    # --- queries ------------------------------------------------------------------------------

    def _resolver(self, obj: ObjectDef) -> Callable[[str], tuple[Callable[[dict], object], str]]:
        def resolve(path: str) -> tuple[Callable[[dict], object], str]:
            parts = path.split(".")
            if len(parts) == 1:
                f = obj.get(path)
                if f is None:
                    raise ApiError(
                        400, "INVALID_FIELD",
                        f"No such column '{path}' on entity '{obj.name}'. If you are attempting to use a custom "
                        "field, be sure to append the '__c' after the custom field name. Please reference your "
                        "WSDL or the describe call for the appropriate names.",
                    )  # fmt: skip
                name = f.name
                return (lambda r: r.get(name)), f.type
            if len(parts) == 2:
                ref = obj.relationships.get(parts[0].lower())
                target = self.objects.get(ref.reference_to[0]) if ref and ref.reference_to else None
                if ref is None or target is None:
                    raise ApiError(
                        400, "INVALID_FIELD",
                        f"Didn't understand relationship '{parts[0]}' in field path. If you are attempting to use "
                        "a custom relationship, be sure to append the '__r' after the custom relationship name. "
                        "Please reference your WSDL or the describe call for the appropriate names.",
                    )  # fmt: skip
                inner_getter, ftype = self._resolver(target)(parts[1])
                table = self.records[target.name]
                ref_name = ref.name

                def getter(r: dict) -> object:
                    parent = table.get(r.get(ref_name) or "")
                    return None if parent is None else inner_getter(parent)

                return getter, ftype
            raise ApiError(400, "INVALID_FIELD", f"Unsupported field path '{path}'")

        return resolve

    def _project(self, obj: ObjectDef, fields: list[str], record: dict, version: str) -> dict:
        out: dict = {
            "attributes": {
                "type": obj.name,
                "url": f"/services/data/v{version}/sobjects/{obj.name}/{record['Id']}",
            }
        }
        for path in fields:
            parts = path.split(".")
            if len(parts) == 1:
                f = obj.get(path)
                out[f.name] = record.get(f.name)  # type: ignore[union-attr]
                continue
            ref = obj.relationships[parts[0].lower()]
            target = self.objects[ref.reference_to[0]]
            parent = self.records[target.name].get(record.get(ref.name) or "")
            rel = ref.relationship_name or parts[0]
            if parent is None:
                out[rel] = None
                continue
            nested = out.get(rel) or {
                "attributes": {
                    "type": target.name,
                    "url": f"/services/data/v{version}/sobjects/{target.name}/{parent['Id']}",
                }
            }
            tf = target.get(parts[1])
            nested[tf.name] = parent.get(tf.name)  # type: ignore[union-attr]
            out[rel] = nested
        return out

    def query(self, text: str, *, include_deleted: bool, version: str) -> dict:
        if len(text) > MAX_SOQL_CHARS:
            raise malformed_query(
                f"SOQL statements can not be longer than {MAX_SOQL_CHARS} characters"
            )
        query = soql.parse(text)
        obj = self._objects_lower.get(query.sobject.lower())
        if obj is None:
            raise ApiError(
                400, "INVALID_TYPE",
                f"sObject type '{query.sobject}' is not supported. If you are attempting to use a custom object, "
                "be sure to append the '__c' after the entity name. Please reference your WSDL or the describe "
                "call for the appropriate names.",
            )  # fmt: skip
        resolve = self._resolver(obj)
        for path in query.fields:
            resolve(path)
        predicate = soql.compile_where(query.where, resolve) if query.where is not None else None
        with self.lock:
            table = self.records[obj.name]
            candidates = soql.index_candidates(
                query.where, lambda p, lits: self._lookup(obj, p, lits)
            )
            if candidates is None:
                rows: Iterable[dict] = list(table.values())
            else:
                rows = [table[i] for i in sorted(candidates) if i in table]
            if not include_deleted:
                rows = [r for r in rows if not r["IsDeleted"]]
            if predicate is not None:
                rows = [r for r in rows if predicate(r)]
            rows = list(rows)
            if query.order:
                soql.sort_rows(rows, query.order, resolve)
            if query.offset:
                rows = rows[query.offset :]
            if query.limit is not None:
                rows = rows[: query.limit]
            if query.count:
                return {"totalSize": len(rows), "done": True, "records": []}
            records = [self._project(obj, query.fields, r, version) for r in rows]
        return self._page(records, 0, version, None)

    def _lookup(self, obj: ObjectDef, path: str, lits: list[soql.Lit]) -> set[str] | None:
        if any(lit.kind != "str" for lit in lits):
            return None
        if path.lower() == "id":
            return {to18(str(lit.value)) or str(lit.value) for lit in lits}
        f = obj.get(path)
        index = self.indexes.get((obj.name, f.name)) if f else None
        if index is None:
            return None
        found: set[str] = set()
        for lit in lits:
            key = str(lit.value)
            if f.type == "reference":  # type: ignore[union-attr]
                key = to18(key) or key
            found |= index.get(key.casefold(), set())
        return found

    def _page(self, records: list[dict], start: int, version: str, locator: str | None) -> dict:
        end = start + PAGE_SIZE
        page = {
            "totalSize": len(records),
            "done": end >= len(records),
            "records": records[start:end],
        }
        if end < len(records):
            if locator is None:
                locator = self.ids.new(KEY_PREFIXES["QueryLocator"])
                with self.lock:
                    self.locators[locator] = records
                    while len(self.locators) > MAX_OPEN_LOCATORS:  # oldest cursors expire first
                        self.locators.pop(next(iter(self.locators)))
            page["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        elif locator is not None:
            with self.lock:
                self.locators.pop(locator, None)
        return page

    def query_more(self, locator_path: str, version: str) -> dict:
        locator, _, offset = locator_path.partition("-")
        with self.lock:
            records = self.locators.get(locator)
        if records is None or not offset.isdigit():
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(records, int(offset), version, locator)

    # --- Bulk API 2.0 -------------------------------------------------------------------------

    def new_job(self, body: dict, version: str) -> IngestJob:
        operation = body.get("operation")
        if operation not in ("insert", "upsert"):
            raise ApiError(
                400,
                "INVALIDJOB",
                "InvalidJob : the emulator supports operations 'insert' and 'upsert' only, "
                f"not {operation!r}",
            )
        obj = self._objects_lower.get(str(body.get("object", "")).lower())
        if obj is None:
            raise ApiError(
                400,
                "INVALIDENTITY",
                f"InvalidEntity : Entity '{body.get('object')}' is not supported by the Bulk API.",
            )
        external_id = None
        if operation == "upsert":
            name = body.get("externalIdFieldName")
            if not name:
                raise ApiError(
                    400, "INVALIDJOB", "InvalidJob : an upsert job needs externalIdFieldName"
                )
            try:
                external_id = self.external_id_field(obj, str(name)).name
            except ApiError as exc:
                raise ApiError(400, "INVALIDJOB", f"InvalidJob : {exc.message}") from None
        if body.get("contentType", "CSV") != "CSV":
            raise ApiError(400, "INVALIDJOB", "InvalidJob : contentType must be CSV")
        rule = self.rule_for_job(obj.name, body.get("assignmentRuleId"))
        delimiter = body.get("columnDelimiter", "COMMA")
        line_ending = body.get("lineEnding", "LF")
        if delimiter not in IngestJob.DELIMITERS or line_ending not in ("LF", "CRLF"):
            raise ApiError(400, "INVALIDJOB", "InvalidJob : invalid columnDelimiter or lineEnding")
        job = IngestJob(
            id=self.ids.new(KEY_PREFIXES["BulkJob"]), sobject=obj.name, operation=operation,
            column_delimiter=delimiter, line_ending=line_ending, version=version,
            created_by=self.user_id, created=sf_datetime(datetime.now(UTC)),
            assignment_rule_id=rule,
            external_id_field=external_id,
        )  # fmt: skip
        with self.lock:
            self.jobs[job.id] = job
        return job

    def job(self, job_id: str) -> IngestJob:
        with self.lock:
            job = self.jobs.get(to18(job_id) or job_id)
        if job is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def process_job(self, job: IngestJob) -> None:
        """Run an UploadComplete job to completion, row by row, through `insert` (or the
        upsert rule, for upsert jobs: an empty cell leaves the field as it is, #N/A blanks it)."""
        obj = self.objects[job.sobject]
        started = time.monotonic()
        with self.lock:
            job.state = "InProgress"
            try:
                header, rows = job.parse()
            except ValueError as exc:
                job.fail(f"InvalidBatch : {exc}")
                return
            fields: list[FieldDef] = []
            for name in header:
                f = obj.get(name)
                if f is None:
                    job.fail(f"InvalidBatch : Field name not found : {name}")
                    return
                fields.append(f)
            key = obj.get(job.external_id_field) if job.external_id_field else None
            if key is not None and key not in fields:
                job.fail(f"InvalidBatch : Field name not found : {key.name}")
                return
            at = fields.index(key) if key is not None else -1
            repeated = _repeated_keys(key, [r[at] for r in rows if len(r) > at]) if key else set()
            for row in rows:
                if len(row) != len(fields):
                    job.failed.append(
                        (
                            "TOO_MANY_OR_TOO_FEW_COLUMNS:Row has a different number of columns than the header:--",
                            row,
                        )
                    )
                    continue
                try:
                    rid, created = self._job_row(job, obj, fields, row, key, repeated)
                    if created:  # an upsert job's rule runs on the records it creates
                        self.assign(obj.name, rid, job.assignment_rule_id)
                    job.successful.append((rid, created, row))
                except RecordError as exc:
                    err = exc.errors[0]
                    suffix = f"{' '.join(err.fields)} --" if err.fields else "--"
                    job.failed.append((f"{err.code}:{err.message}:{suffix}", row))
            job.complete(int((time.monotonic() - started) * 1000))

    def _job_row(
        self,
        job: IngestJob,
        obj: ObjectDef,
        fields: list[FieldDef],
        row: list[str],
        key: FieldDef | None,
        repeated: set[str],
    ) -> tuple[str, bool]:
        """One CSV row written: (id, created)."""
        if key is None:
            values = {f.name: self.csv_value(f, cell) for f, cell in zip(fields, row, strict=True)}
            return self.insert(obj.name, values, version=job.version), True
        values = {
            f.name: self.csv_value(f, cell) for f, cell in zip(fields, row, strict=True) if cell
        }
        if _key_form(key, values.get(key.name)) in repeated:
            raise record_error(
                "DUPLICATE_VALUE",
                f"Duplicate external id specified: {values[key.name]}",
                [key.name],
            )
        return self.upsert_one(
            obj, key, values, allow_duplicate_save=False, version=job.version, undo=[]
        )


def _key_form(f: FieldDef, value: object) -> str | None:
    """How a key value compares under the field's case rule (None: no key)."""
    if value in (None, ""):
        return None
    return str(value) if f.case_sensitive else str(value).casefold()


def _repeated_keys(f: FieldDef, values: Iterable[object]) -> set[str]:
    """Key forms that occur more than once among `values` (one request or one job)."""
    seen: set[str] = set()
    repeated: set[str] = set()
    for value in values:
        form = _key_form(f, value)
        if form is not None:
            (repeated if form in seen else seen).add(form)
    return repeated


def _valid_date(text: str) -> bool:
    if not _DATE.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
