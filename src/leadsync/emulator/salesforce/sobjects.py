"""Object and field metadata of the emulated org: what describe reports and what writes obey.

The standard fields are a subset of the real objects, with the properties a real org reports.
Lead.Company is described as nillable (as in current API versions and person-account orgs) yet
still required on create, so a client that trusts describe alone finds out here, not in production.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from leadsync.emulator.salesforce.ids import KEY_PREFIXES

STRINGY = frozenset({"string", "textarea", "email", "phone", "url", "picklist", "reference", "id"})
NUMERIC = frozenset({"double", "currency", "percent", "int"})

SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
}


@dataclass
class FieldDef:
    name: str
    label: str
    type: str
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted: bool = False
    custom: bool = False
    restricted: bool = False
    picklist: list[tuple[str, bool]] = field(default_factory=list)  # (value, is_default)
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    required: bool = False  # emulator rule: must be supplied on create (beyond describe)
    default: object = None  # value stored when the field is absent on create
    precision: int = 0
    scale: int = 0
    unique: bool = False  # no two records hold the same value (case-insensitive unless below)
    external_id: bool = False  # usable as an upsert key (Collections, Bulk API 2.0)
    case_sensitive: bool = False  # only for unique: "ABC" and "abc" are different values

    def picklist_default(self) -> str | None:
        return next((v for v, d in self.picklist if d), None)


@dataclass
class ObjectDef:
    name: str
    label: str
    label_plural: str
    fields: dict[str, FieldDef]
    createable: bool = True
    updateable: bool = True
    by_lower: dict[str, FieldDef] = field(default_factory=dict)
    by_name: dict[str, FieldDef] = field(default_factory=dict)  # get() of each exact name
    template: dict[str, object] = field(default_factory=dict)  # a new row before values
    create_defaults: list[tuple[str, object]] = field(default_factory=list)
    required_fields: list[str] = field(default_factory=list)
    relationships: dict[str, FieldDef] = field(default_factory=dict)  # lower rel name -> ref field

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        """Recompute lookups after fields change (seeded custom fields); writes use them per row."""
        self.by_lower = {name.lower(): f for name, f in self.fields.items()}
        self.by_name = {name: self.by_lower[name.lower()] for name in self.fields}
        self.template = {
            f.name: (f.default if f.type == "boolean" else None) for f in self.fields.values()
        }
        self.create_defaults = [
            (f.name, f.default if f.default is not None else f.picklist_default())
            for f in self.fields.values()
            if f.createable
            and (
                f.default is not None
                or (f.type == "picklist" and f.defaulted and f.picklist_default())
            )
        ]
        self.required_fields = [f.name for f in self.fields.values() if f.required]
        self.relationships = {
            f.relationship_name.lower(): f for f in self.fields.values() if f.relationship_name
        }

    @property
    def key_prefix(self) -> str:
        return KEY_PREFIXES[self.name]

    def get(self, name: str) -> FieldDef | None:
        """The field `name` names, in any case; a write names each field as described, so
        that spelling is looked up first (no lower() per field per record)."""
        f = self.by_name.get(name)
        return f if f is not None else self.by_lower.get(name.lower())


def _sys(name: str, label: str, type_: str, **kw: object) -> FieldDef:
    """A system-maintained field: never createable or updateable."""
    kw.setdefault("nillable", False)
    kw.setdefault("defaulted", type_ == "boolean")
    return FieldDef(name, label, type_, createable=False, updateable=False, **kw)  # type: ignore[arg-type]


def _audit() -> list[FieldDef]:
    return [
        _sys("IsDeleted", "Deleted", "boolean", default=False),
        _sys("CreatedDate", "Created Date", "datetime"),
        _sys("CreatedById", "Created By ID", "reference", length=18, reference_to=("User",)),
        _sys("LastModifiedDate", "Last Modified Date", "datetime"),
        _sys(
            "LastModifiedById",
            "Last Modified By ID",
            "reference",
            length=18,
            reference_to=("User",),
        ),
        _sys("SystemModstamp", "System Modstamp", "datetime"),
    ]


def _id(label: str) -> FieldDef:
    return _sys("Id", label, "id", length=18)


def _owner() -> FieldDef:
    return FieldDef(
        "OwnerId", "Owner ID", "reference", length=18, nillable=False, defaulted=True,
        reference_to=("User",), relationship_name="Owner",
    )  # fmt: skip


def _str(name: str, label: str, length: int, **kw: object) -> FieldDef:
    return FieldDef(name, label, "string", length=length, **kw)  # type: ignore[arg-type]


def _bool(name: str, label: str, **kw: object) -> FieldDef:
    kw.setdefault("default", False)
    return FieldDef(name, label, "boolean", nillable=False, defaulted=True, **kw)  # type: ignore[arg-type]


def _pick(name: str, label: str, values: list[str], **kw: object) -> FieldDef:
    return FieldDef(
        name, label, "picklist", length=255, picklist=[(v, False) for v in values], **kw
    )  # type: ignore[arg-type]


def _objects(fields: list[FieldDef]) -> dict[str, FieldDef]:
    return {f.name: f for f in fields}


LEAD_SOURCES = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"]
SALUTATIONS = ["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."]


def lead_object(statuses: list[str]) -> ObjectDef:
    status = _pick(
        "Status", "Lead Status", [], nillable=False, defaulted=True, restricted=True,
    )  # fmt: skip
    status.picklist = [(s, i == 0) for i, s in enumerate(statuses)]
    fields = [
        _id("Lead ID"),
        _str("LastName", "Last Name", 80, nillable=False, required=True),
        _str("FirstName", "First Name", 40),
        _pick("Salutation", "Salutation", SALUTATIONS),
        _sys("Name", "Full Name", "string", length=121),
        _str("Title", "Title", 128),
        _str("Company", "Company", 255, required=True),
        _str("Street", "Street", 255),
        _str("City", "City", 40),
        _str("State", "State/Province", 80),
        _str("PostalCode", "Zip/Postal Code", 20),
        _str("Country", "Country", 80),
        FieldDef("Phone", "Phone", "phone", length=40),
        FieldDef("MobilePhone", "Mobile Phone", "phone", length=40),
        FieldDef("Email", "Email", "email", length=80),
        FieldDef("Website", "Website", "url", length=255),
        FieldDef("Description", "Description", "textarea", length=32000),
        _pick("LeadSource", "Lead Source", LEAD_SOURCES),
        status,
        _pick(
            "Industry", "Industry", ["Agriculture", "Banking", "Education", "Technology", "Other"]
        ),
        _pick("Rating", "Rating", ["Hot", "Warm", "Cold"]),
        FieldDef("AnnualRevenue", "Annual Revenue", "currency", precision=18, scale=0),
        FieldDef("NumberOfEmployees", "Employees", "int"),
        _owner(),
        _bool("HasOptedOutOfEmail", "Email Opt Out"),
        _bool("DoNotCall", "Do Not Call"),
        _bool("IsConverted", "Converted", createable=False, updateable=False),
        _sys("ConvertedDate", "Converted Date", "date", nillable=True),
        _sys(
            "ConvertedAccountId",
            "Converted Account ID",
            "reference",
            length=18,
            nillable=True,
            reference_to=("Account",),
            relationship_name="ConvertedAccount",
        ),
        _sys(
            "ConvertedContactId",
            "Converted Contact ID",
            "reference",
            length=18,
            nillable=True,
            reference_to=("Contact",),
            relationship_name="ConvertedContact",
        ),
        _bool("IsUnreadByOwner", "Unread By Owner", default=True),
        *_audit(),
    ]
    return ObjectDef("Lead", "Lead", "Leads", _objects(fields))


def account_object() -> ObjectDef:
    """Accounts: what a Lead conversion creates, and what Contacts belong to."""
    fields = [
        _id("Account ID"),
        _str("Name", "Account Name", 255, nillable=False, required=True),
        _pick(
            "Industry", "Industry", ["Agriculture", "Banking", "Education", "Technology", "Other"]
        ),
        FieldDef("Website", "Website", "url", length=255),
        FieldDef("Phone", "Account Phone", "phone", length=40),
        _owner(),
        *_audit(),
    ]
    return ObjectDef("Account", "Account", "Accounts", _objects(fields))


def contact_object() -> ObjectDef:
    fields = [
        _id("Contact ID"),
        FieldDef(
            "AccountId",
            "Account ID",
            "reference",
            length=18,
            reference_to=("Account",),
            relationship_name="Account",
        ),
        _str("LastName", "Last Name", 80, nillable=False, required=True),
        _str("FirstName", "First Name", 40),
        _pick("Salutation", "Salutation", SALUTATIONS),
        _sys("Name", "Full Name", "string", length=121),
        _str("Title", "Title", 128),
        _str("Department", "Department", 80),
        FieldDef("Phone", "Business Phone", "phone", length=40),
        FieldDef("MobilePhone", "Mobile Phone", "phone", length=40),
        FieldDef("Email", "Email", "email", length=80),
        FieldDef("Birthdate", "Birthdate", "date"),
        _str("MailingCity", "Mailing City", 40),
        _str("MailingCountry", "Mailing Country", 80),
        FieldDef("Description", "Contact Description", "textarea", length=32000),
        _pick("LeadSource", "Lead Source", LEAD_SOURCES),
        _owner(),
        _bool("HasOptedOutOfEmail", "Email Opt Out"),
        _bool("DoNotCall", "Do Not Call"),
        *_audit(),
    ]
    return ObjectDef("Contact", "Contact", "Contacts", _objects(fields))


def campaign_object() -> ObjectDef:
    fields = [
        _id("Campaign ID"),
        _str("Name", "Name", 80, nillable=False, required=True),
        FieldDef(
            "ParentId",
            "Parent Campaign ID",
            "reference",
            length=18,
            reference_to=("Campaign",),
            relationship_name="Parent",
        ),
        _pick(
            "Type",
            "Type",
            ["Conference", "Webinar", "Trade Show", "Email", "Advertisement", "Other"],
        ),
        _pick("Status", "Status", ["Planned", "In Progress", "Completed", "Aborted"]),
        FieldDef("StartDate", "Start Date", "date"),
        FieldDef("EndDate", "End Date", "date"),
        _bool("IsActive", "Active"),
        FieldDef("Description", "Description", "textarea", length=32000),
        FieldDef("BudgetedCost", "Budgeted Cost in Campaign", "currency", precision=18, scale=0),
        _sys("NumberOfLeads", "Leads in Campaign", "int"),
        _sys("NumberOfContacts", "Contacts in Campaign", "int"),
        _owner(),
        *_audit(),
    ]
    return ObjectDef("Campaign", "Campaign", "Campaigns", _objects(fields))


def campaign_member_object() -> ObjectDef:
    fields = [
        _id("Campaign Member ID"),
        FieldDef(
            "CampaignId", "Campaign ID", "reference", length=18, nillable=False, updateable=False,
            reference_to=("Campaign",), relationship_name="Campaign", required=True,
        ),
        FieldDef("LeadId", "Lead ID", "reference", length=18, updateable=False, reference_to=("Lead",), relationship_name="Lead"),
        FieldDef("ContactId", "Contact ID", "reference", length=18, updateable=False, reference_to=("Contact",), relationship_name="Contact"),
        _pick("Status", "Status", []),
        _bool("HasResponded", "Responded", createable=False, updateable=False),
        _sys("FirstRespondedDate", "First Responded Date", "date", nillable=True),
        _sys("Email", "Email", "email", length=80, nillable=True),
        *_audit(),
    ]  # fmt: skip
    return ObjectDef("CampaignMember", "Campaign Member", "Campaign Members", _objects(fields))


def campaign_member_status_object() -> ObjectDef:
    fields = [
        _id("Campaign Member Status ID"),
        FieldDef(
            "CampaignId", "Campaign ID", "reference", length=18, nillable=False, updateable=False,
            reference_to=("Campaign",), relationship_name="Campaign", required=True,
        ),
        _str("Label", "Member Status", 765, nillable=False, required=True),
        FieldDef("SortOrder", "Sort Order", "int"),
        _bool("IsDefault", "Default"),
        _bool("HasResponded", "Responded"),
        *_audit(),
    ]  # fmt: skip
    return ObjectDef(
        "CampaignMemberStatus",
        "Campaign Member Status",
        "Campaign Member Statuses",
        _objects(fields),
    )


def lead_status_object() -> ObjectDef:
    fields = [
        _id("Lead Status Value ID"),
        _sys("MasterLabel", "Master Label", "string", length=255),
        _sys("ApiName", "Api Name", "string", length=255),
        _sys("SortOrder", "Sort Order", "int", nillable=True),
        _sys("IsDefault", "Is Default", "boolean", default=False),
        _sys("IsConverted", "Is Converted", "boolean", default=False),
        *_audit(),
    ]
    return ObjectDef(
        "LeadStatus", "Lead Status Value", "Lead Status Values", _objects(fields),
        createable=False, updateable=False,
    )  # fmt: skip


def user_object() -> ObjectDef:
    """Users: read-only here (seeded); OwnerId references them."""
    fields = [
        _id("User ID"),
        _sys("Username", "Username", "string", length=80),
        _sys("Name", "Full Name", "string", length=121),
        _sys("IsActive", "Active", "boolean", default=True),
        *_audit(),
    ]
    return ObjectDef(
        "User", "User", "Users", _objects(fields), createable=False, updateable=False
    )  # fmt: skip


def assignment_rule_object() -> ObjectDef:
    """AssignmentRule: read only through the API (rules are set up in the UI), as documented."""
    fields = [
        _id("Assignment Rule ID"),
        _sys("Name", "Name", "string", length=120, nillable=True),
        _sys("Active", "Active", "boolean", default=False),
        _sys(
            "SobjectType",
            "Object",
            "picklist",
            length=40,
            nillable=True,
            restricted=True,
            picklist=[("Case", False), ("Lead", False)],
        ),
        *_audit(),
    ]
    return ObjectDef(
        "AssignmentRule", "Assignment Rule", "Assignment Rules", _objects(fields),
        createable=False, updateable=False,
    )  # fmt: skip


CUSTOM_TYPES = {
    "string": "string",
    "text": "string",
    "textarea": "textarea",
    "email": "email",
    "phone": "phone",
    "url": "url",
    "picklist": "picklist",
    "date": "date",
    "datetime": "datetime",
    "number": "double",
    "double": "double",
    "int": "int",
    "currency": "currency",
    "percent": "percent",
    "boolean": "boolean",
    "checkbox": "boolean",
}


def custom_field(spec: dict) -> FieldDef:
    """A seeded custom field (`lead_fields` entry) with the properties a real org would describe.

    `unique` and `external_id` (text fields only, as in Setup) model a field such as
    Leadsync_Key__c: Text(255), Unique, External ID. Salesforce's default for a unique text field
    is case-insensitive; `case_sensitive: true` is the other choice Setup offers.
    """
    type_ = CUSTOM_TYPES[spec.get("type", "string")]
    name = spec["name"]
    label = spec.get("label") or name.removesuffix("__c").replace("_", " ")
    required = bool(spec.get("required", False))
    values = [str(v) for v in spec.get("values", [])]
    default = spec.get("default")
    f = FieldDef(name, label, type_, custom=True)
    f.unique = bool(spec.get("unique", False))
    f.external_id = bool(spec.get("external_id", False))
    f.case_sensitive = f.unique and bool(spec.get("case_sensitive", False))
    if (f.unique or f.external_id) and type_ not in ("string", "email", "int", "double"):
        raise ValueError(
            f"lead_fields {name}: unique/external_id need a text, email or number field, not {type_}"
        )
    if type_ == "boolean":
        f.nillable, f.defaulted, f.default = False, True, bool(default)
        return f
    if type_ in ("string", "email", "phone", "url"):
        f.length = int(spec.get("length", 80 if type_ == "email" else 255))
    elif type_ == "textarea":
        f.length = int(spec.get("length", 32768))
    elif type_ == "picklist":
        f.length = 255
        f.restricted = bool(spec.get("restricted", False))
        f.picklist = [(v, v == default) for v in values]
    elif type_ in NUMERIC:
        f.precision, f.scale = 18, (0 if type_ == "int" else 2)
    if default is not None:
        f.defaulted, f.default = True, default
    if required:
        f.nillable = False
        f.required = not f.defaulted
    return f
