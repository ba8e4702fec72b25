"""Hand-built inputs of the applied-contract guard (tests/reconcile/test_applied_contract.py).

Every part of the applied documents is exercised: each Salesforce auth kind with its secrets, a
non-default sync setting, a named assignment rule, two accounts, a contact_mapping, a campaign
by name and by id, a pushing book with member statuses, backfill. `pinned(kind)` computes what
the guard pins; data/applied_e68fa34.json holds what leadsync at e68fa34 computed from the same
inputs (regenerate only on purpose: `python tests/reconcile/applied_case.py`, and say why).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from leadsync.config.model import (
    AccessTokenAuth,
    AccountConfig,
    AddressBookConfig,
    Config,
    Defaults,
    Direction,
    DotdigitalConnection,
    JwtAuth,
    MappingRow,
    PasswordAuth,
    Pos,
    SalesforceConfig,
    Secret,
    StateConfig,
    SyncSettings,
)
from leadsync.dotdigital.model import AddressBook, DataField
from leadsync.reconcile.observed import (
    LeadStatusValue,
    Observed,
    ObservedAccount,
    ObservedAssignmentRule,
    ObservedCampaign,
)
from leadsync.salesforce.model import FieldInfo, ObjectDescribe

FIXTURE = Path(__file__).parent / "data" / "applied_e68fa34.json"
SALT = "salt-of-the-lineage"
FILE = "leadsync.yaml"
AUTH_KINDS = ("access_token", "password", "jwt")
CAMPAIGN_ID = "701000000000001AAA"
PUSH_CAMPAIGN_ID = "701000000000002AAA"
MEMBER = ("  Ada@Example.org ", {"FIRSTNAME": "Ada", "LASTNAME": "Lovelace", "COMPANY": "AE"})


def _pos(line: int) -> Pos:
    return Pos(FILE, line, 3)


def _rows(*rows: tuple[str, str, str]) -> tuple[MappingRow, ...]:
    return tuple(MappingRow(s, d, Direction(w), _pos(20 + i)) for i, (s, d, w) in enumerate(rows))


def _auth(kind: str) -> Any:
    if kind == "access_token":
        return AccessTokenAuth(Secret("token-XYZZY"))
    if kind == "password":
        return PasswordAuth(
            "api@example.org",
            Secret("pw-XYZZY"),
            Secret("st-XYZZY"),
            "test",
            "ck-123",
            Secret("cs-XYZZY"),
            "https://login.example.org",
        )
    return JwtAuth("api@example.org", "ck-456", "/keys/server.key", "login", None)


def config(kind: str) -> Config:
    uk = AccountConfig(
        "uk",
        DotdigitalConnection(None, "r2", Secret("dd-user-XYZZY"), Secret("dd-pw-XYZZY"), _pos(10)),
        True,
        True,
        _rows(
            ("FirstName", "FIRSTNAME", "two-way"),
            ("lastname", "lastname", "dotdigital-to-salesforce"),
            ("Company", "COMPANY", "two-way"),
            ("Industry", "INDUSTRY", "salesforce-to-dotdigital"),
            ("AnnualRevenue", "REVENUE", "dotdigital-to-salesforce"),
        ),
        (
            AddressBookConfig("Webinar signups", True, "Spring Webinar", False, _pos(40), False),
            AddressBookConfig(
                "Customers", False, PUSH_CAMPAIGN_ID, False, _pos(43), True, True,
                ("Sent", "Responded"),
            ),
        ),
        _pos(9),
        _rows(("Title", "TITLE", "salesforce-to-dotdigital")),
    )  # fmt: skip
    us = AccountConfig(
        "us",
        DotdigitalConnection(
            "https://r1-api.dotdigital.com/", None, Secret("u2"), Secret("p2"), _pos(50)
        ),
        False,
        False,
        _rows(
            ("FirstName", "FIRSTNAME", "two-way"),
            ("LastName", "LASTNAME", "two-way"),
            ("Company", "COMPANY", "two-way"),
        ),
        (AddressBookConfig("Trade show", True, None, True, _pos(60)),),
        _pos(49),
    )
    sf = SalesforceConfig("https://acme.my.salesforce.com", _auth(kind), None, "61.0", _pos(4))
    return Config(
        1,
        FILE,
        "sha-of-file",
        StateConfig("sqlite", ".leadsync/state.db"),
        sf,
        Defaults("Open", "Attended", "West Coast"),
        SyncSettings(bulk_threshold=500, in_doubt_grace=1200),
        {"uk": uk, "us": us},
        {},
    )


def _field(name: str, type_: str = "string", *, required: bool = False) -> FieldInfo:
    return FieldInfo(name, name, type_, not required, True, False)


def observed() -> Observed:
    lead = ObjectDescribe(
        "Lead",
        {
            f.name: f
            for f in (
                _field("FirstName"),
                _field("LastName", required=True),
                _field("Company", required=True),
                _field("Email", "email"),
                FieldInfo("Status", "Status", "picklist", False, True, True),
                _field("Industry", "picklist"),
                _field("AnnualRevenue", "currency"),
            )
        },
    )
    contact = ObjectDescribe("Contact", {"Title": _field("Title")})

    def dd(name: str, books: tuple[AddressBook, ...], fields: tuple[str, ...]) -> ObservedAccount:
        types = {"REVENUE": "Numeric"}
        return ObservedAccount(
            name,
            books,
            tuple(DataField(f, types.get(f, "String"), "Private", None) for f in fields),
        )

    return Observed(
        accounts={
            "uk": dd(
                "uk",
                (AddressBook(101, "Webinar signups", "Private", 3), AddressBook(102, "Customers", "Private", 0)),
                ("FIRSTNAME", "LASTNAME", "COMPANY", "INDUSTRY", "TITLE"),
            ),
            "us": dd("us", (AddressBook(201, "Trade show", "Private", 7),), ("FIRSTNAME", "LASTNAME", "COMPANY")),
        },
        lead=lead,
        campaign_member=ObjectDescribe("CampaignMember", {"Status": _field("Status", "picklist")}),
        campaigns=(
            ObservedCampaign(CAMPAIGN_ID, "Spring Webinar", ("Sent", "Responded")),
            ObservedCampaign(PUSH_CAMPAIGN_ID, "Customers 2026", ("Sent", "Responded", "Attended")),
        ),
        lead_statuses=(
            LeadStatusValue("Open - Not Contacted", "Open", True),
            LeadStatusValue("Working", "Working"),
        ),
        assignment_rules=(ObservedAssignmentRule("01Q000000000001AAA", "West Coast", True),),
        contact=contact,
    )  # fmt: skip


def load_fixture() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def _generate() -> None:
    """What leadsync computed at e68fa34 (run there; the guard compares today's code to it)."""
    from leadsync.reconcile.render import to_json, to_text

    from leadsync.config import snapshot
    from leadsync.reconcile.diff import desired_digest, diff
    from leadsync.state.codec import dump
    from leadsync.state.model import AppliedState
    from leadsync.sync.applied import read_view
    from leadsync.sync.mapping import LeadMapping, data_hash
    from leadsync.sync.pushmap import PushRules

    out: dict[str, Any] = {}
    for kind in AUTH_KINDS:
        cfg, obs = config(kind), observed()
        first = diff(cfg, None, obs, salt=SALT)
        state = AppliedState(
            "lin-1", 1, snapshot(cfg, SALT), first.resolved, first.fingerprints, "sha-of-file",
            "2026-11-29T00:00:00+00:00", "me", SALT,
        )  # fmt: skip
        view = read_view(state)
        uk = view.accounts["uk"]
        mapping = LeadMapping(uk.rows, obs.lead.fields, view.lead_status)
        push = next(b for b in uk.books if b.push)
        rules = PushRules.of(
            account="uk", book_id=push.id, book=push.name, campaign_id=push.campaign_id or "",
            campaign=push.campaign_name or "", statuses=push.member_statuses, lead_rows=uk.rows,
            contact_rows=uk.contact_rows, datafield_types=uk.datafield_types,
            clear=uk.clear_address_books,
        )  # fmt: skip
        again = diff(cfg, state, obs, salt=SALT)
        out[kind] = {
            "resolved": json.dumps(first.resolved),
            "config": json.dumps(state.config),
            "stored_resolved": dump(state.resolved),
            "stored_config": dump(state.config),
            "fingerprints": first.fingerprints,
            "digest_salted": desired_digest(first.resolved, salted=True),
            "digest_unsalted": desired_digest(first.resolved, salted=False),
            "plan_text": to_text(first),
            "plan_json": json.dumps(to_json(first)),
            "replan_text": to_text(again),
            "view": repr(view),
            "mapping_fingerprint": mapping.fingerprint(),
            "data_hash": data_hash(MEMBER[0], MEMBER[1], mapping),
            "push_fingerprint": rules.fingerprint(),
        }
    FIXTURE.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    _generate()
