"""Typed desired config: what `leadsync.yaml` says, each value with the place it came from.

Every object keeps a `Pos` so that any later stage (validate, plan, sync) can point the user at
the exact line of YAML, not just at a key name.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from leadsync.leadrules import WRITING_DIRECTIONS


@dataclass(frozen=True, slots=True)
class Pos:
    """A place in a source file; line and column are 1-based, as editors count them."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def nearest_pos(positions: dict[str, Pos], yaml_path: str) -> Pos | None:
    """Position of a YAML path (e.g. "accounts.uk.lead_mapping[1].direction"), else of its
    nearest ancestor; None when no ancestor has one. The root "" is not probed: callers choose
    their own fallback for it."""
    probe = yaml_path
    while probe:
        if probe in positions:
            return positions[probe]
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    return None


class Secret:
    """A value that must never be shown: repr/str mask it; only `reveal()` gives it out.

    Plans and state keep `fingerprint(salt)` instead, so a changed secret still shows as changed
    without the value (or an unsalted hash of it) ever being written anywhere.
    """

    __slots__ = ("_value", "env_var")

    def __init__(self, value: str, env_var: str | None = None) -> None:
        self._value = value
        self.env_var = env_var

    def reveal(self) -> str:
        return self._value

    def fingerprint(self, salt: str) -> str:
        digest = hmac.new(salt.encode(), self._value.encode(), hashlib.sha256).hexdigest()
        return f"hmac-sha256:{digest}"

    def __repr__(self) -> str:
        return "Secret('(sensitive)')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


class Direction(StrEnum):
    TWO_WAY = "two-way"
    DOTDIGITAL_TO_SALESFORCE = "dotdigital-to-salesforce"
    SALESFORCE_TO_DOTDIGITAL = "salesforce-to-dotdigital"

    @property
    def writes_to_salesforce(self) -> bool:
        return self.value in WRITING_DIRECTIONS


@dataclass(frozen=True, slots=True)
class MappingRow:
    salesforce: str
    datafield: str
    direction: Direction
    pos: Pos


@dataclass(frozen=True, slots=True)
class AddressBookConfig:
    name: str
    create_leads: bool
    campaign: str | None  # Campaign Name or 15/18-char Id
    backfill: bool
    pos: Pos
    # Members already in Salesforce (excluded from lead creation) still join `campaign`.
    add_existing_to_campaign: bool = True
    # Salesforce -> Dotdigital: the Campaign's members (optionally only those with one of
    # `member_statuses`) are imported into this book at every sync (README "Push").
    push_campaign_members: bool = False
    member_statuses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DotdigitalConnection:
    """Either `endpoint` or `region` is set (region r1|r2|r3 maps to https://{region}-api...)."""

    endpoint: str | None
    region: str | None
    username: Secret
    password: Secret
    pos: Pos

    @property
    def base_url(self) -> str:
        if self.endpoint:
            return self.endpoint.rstrip("/")
        return f"https://{self.region or 'r1'}-api.dotdigital.com"


@dataclass(frozen=True, slots=True)
class AccountConfig:
    name: str
    dotdigital: DotdigitalConnection
    clear_address_books: bool
    create_missing_datafields: bool
    lead_mapping: tuple[MappingRow, ...]
    address_books: tuple[AddressBookConfig, ...]
    pos: Pos
    # The Contacts tab: rows for Salesforce Contacts (pushed Campaign members who are Contacts).
    contact_mapping: tuple[MappingRow, ...] = ()


@dataclass(frozen=True, slots=True)
class AccessTokenAuth:
    access_token: Secret
    kind: Literal["access_token"] = "access_token"


@dataclass(frozen=True, slots=True)
class PasswordAuth:
    username: str
    password: Secret
    security_token: Secret | None = None
    domain: str = "login"  # login | test | <mydomain>.my
    consumer_key: str | None = None  # with consumer_secret: OAuth username-password flow
    consumer_secret: Secret | None = None
    login_url: str | None = None  # overrides https://{domain}.salesforce.com (emulator, proxies)
    kind: Literal["password"] = "password"


@dataclass(frozen=True, slots=True)
class JwtAuth:
    username: str
    consumer_key: str
    private_key_file: str
    domain: str = "login"
    login_url: str | None = None
    kind: Literal["jwt"] = "jwt"


SalesforceAuth = AccessTokenAuth | PasswordAuth | JwtAuth


@dataclass(frozen=True, slots=True)
class SalesforceConfig:
    instance_url: str
    auth: SalesforceAuth
    ca_bundle: str | None  # None/empty: system trust store
    api_version: str
    pos: Pos
    # key under `salesforce` (e.g. "instance_url", "auth.access_token") -> the ${VAR} it came
    # from, so a message can tell the user which variable to set, not a YAML path
    env_vars: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def setting(self, key: str) -> str:
        """How to name a setting to the user: "SF_CA_BUNDLE (salesforce.ca_bundle)" when it is
        read from the environment, else "salesforce.ca_bundle"."""
        var = self.env_vars.get(key)
        return f"{var} (salesforce.{key})" if var else f"salesforce.{key}"


ASSIGN_ACTIVE = "active"  # defaults.assignment_rule: the org's active Lead assignment rule
ASSIGN_NONE = "none"  # no assignment rule: created Leads stay with the integration user


# Defaults and SyncSettings are stored in applied states field by field
# (leadsync.applied.values.settings_view): a field added here is stored only when it is set
# away from its default, so existing states neither "differ" nor plan a change.
@dataclass(frozen=True, slots=True)
class Defaults:
    lead_status: str = "New"
    campaign_member_status: str = "Sent"
    # active | none | an AssignmentRule Name or Id; applied alike on Collections and Bulk 2.0
    assignment_rule: str = ASSIGN_ACTIVE


DEFAULT_IN_DOUBT_GRACE = 900  # 15 minutes, in seconds
DEFAULT_SWEEP_EVERY = 24 * 3600  # a day, in seconds


@dataclass(frozen=True, slots=True)
class SyncSettings:
    bulk_threshold: int = 2000  # >= this many Leads in one book: Bulk API 2.0
    max_api_share: float = 0.5  # stop when the org's daily API usage reaches this share
    allow_duplicate_save: bool = False  # Sforce-Duplicate-Rule-Header allowSave
    overlap_seconds: int = 300  # re-read window behind the watermark (clock skew, late commits)
    # Seconds an in-doubt Lead create waits before it is looked up and re-sent, in orgs without
    # the Lead upsert key: longer than Salesforce's 10-minute request limit, so a create still
    # running at Salesforce (its client killed) finishes before anyone looks for its Leads.
    in_doubt_grace: int = DEFAULT_IN_DOUBT_GRACE
    # Seconds between membership sweeps of a book (every member id read), written like
    # --every (12h, 1h30m): finds members whose join did not move their modified date.
    sweep_every: int = DEFAULT_SWEEP_EVERY


@dataclass(frozen=True, slots=True)
class StateConfig:
    backend: Literal["sqlite", "postgres"]
    path: str | None = None  # sqlite: file path, relative to the config file's directory
    dsn: Secret | None = None  # postgres
    schema: str = "leadsync"


@dataclass(frozen=True, slots=True)
class Config:
    version: int
    source: str  # path of the YAML file as the user named it
    source_sha256: str  # hash of the file's bytes (plan files refuse a changed config)
    state: StateConfig
    salesforce: SalesforceConfig
    defaults: Defaults
    sync: SyncSettings
    accounts: dict[str, AccountConfig]
    # YAML path (e.g. "accounts.uk.lead_mapping[1].direction") -> where it is in the file.
    positions: dict[str, Pos] = field(default_factory=dict, compare=False, repr=False)

    def pos(self, yaml_path: str) -> Pos:
        """Best position for a YAML path: the path itself, else its nearest ancestor."""
        found = nearest_pos(self.positions, yaml_path)
        return Pos(self.source, 1, 1) if found is None else found
