"""The pure diff on hand-built inputs: no network, no state file, no emulator."""

from __future__ import annotations

import dataclasses

import pytest

from leadsync.reconcile import model as m
from leadsync.reconcile.diff import diff
from leadsync.reconcile.document import to_json
from leadsync.views.plan import to_markdown, to_text

SALT = "salt"


def by_addr(plan):
    return {c.address: c for c in plan.changes}


def codes(plan):
    return [(d.code, d.line) for d in plan.diagnostics if d.severity == "error"]


def test_first_plan_creates_everything_and_masks_secrets(b):
    plan = diff(b.config(), None, b.observed(), salt=SALT)
    assert not plan.has_errors, plan.diagnostics
    changes = by_addr(plan)
    assert changes["account.uk"].action == "create"
    assert changes['account.uk.lead_mapping["FirstName"]'].action == "create"
    book = changes['account.uk.address_book["Webinar signups"]']
    assert book.action == "create" and book.after["id"] == 101
    assert "baseline" in book.reason
    assert changes["account.uk"].after["password"] == m.SENSITIVE
    assert changes["salesforce"].after["auth.access_token"] == m.SENSITIVE
    assert set(changes["account.uk"].sensitive) == {"username", "password"}
    text = to_text(plan)
    assert "XYZZY" not in text + to_markdown(plan) + str(to_json(plan))
    assert "Plan: 8 to create, 0 to update, 0 to delete." in text
    assert plan.prior is None


def test_same_inputs_give_no_changes_and_the_same_order(b):
    first = diff(b.config(), None, b.observed(), salt=SALT)
    applied = b.applied_from(first.resolved)
    again = diff(b.config(), applied, b.observed(), salt="salt")
    assert not again.has_changes
    assert {c.action for c in again.changes} == {"no-op"}
    assert [c.address for c in again.changes] == [c.address for c in first.changes]
    assert again.summary_line().startswith("No changes")
    assert diff(b.config(), applied, b.observed(), salt="salt") == again


def test_changed_secret_shows_as_changed_but_masked(b):
    first = diff(b.config(), None, b.observed(), salt=SALT)
    applied = b.applied_from(first.resolved)
    cfg = b.config(b.account(password="rotated-password"))
    plan = diff(cfg, applied, b.observed(), salt=SALT)
    acct = by_addr(plan)["account.uk"]
    assert acct.action == "update"
    assert acct.changed == ("password",)
    assert acct.before["password"] == acct.after["password"] == m.SENSITIVE
    text = to_text(plan)
    assert "~ password" in text and "(sensitive) -> (sensitive)" in text
    assert "rotated-password" not in text + str(to_json(plan)) + to_markdown(plan)


def test_mapping_change_and_removed_account(b):
    rows = b.mapping(
        ("FirstName", "FIRSTNAME", "salesforce-to-dotdigital"),
        ("LastName", "LASTNAME", "dotdigital-to-salesforce"),
        ("Company", "COMPANY", "two-way"),
    )
    first = diff(
        b.config(b.account(), b.account("us")),
        None,
        b.observed(b.dd_account(), b.dd_account("us")),
        salt=SALT,
    )
    applied = b.applied_from(first.resolved)
    cfg = b.config(b.account(rows=rows, books=(b.book(create_leads=False),)))
    plan = diff(cfg, applied, b.observed(), salt=SALT)
    changes = by_addr(plan)
    fn = changes['account.uk.lead_mapping["FirstName"]']
    assert fn.action == "update" and fn.changed == ("direction",)
    assert (
        fn.before["direction"] == "two-way" and fn.after["direction"] == "salesforce-to-dotdigital"
    )
    assert changes["account.us"].action == "delete"
    assert "nothing is deleted" in changes["account.us"].reason
    assert "create_leads stops" in changes['account.uk.address_book["Webinar signups"]'].reason
    assert plan.summary() == {"create": 0, "update": 2, "delete": 5, "no-op": 6}


def test_book_missing_and_ambiguous(b):
    obs = b.observed(b.dd_account(books=(b.AddressBook(1, "Other", "Private", 0),)))
    plan = diff(b.config(), None, obs, salt=SALT)
    assert codes(plan) == [(m.BOOK_NOT_FOUND, 40)]
    near = b.observed(b.dd_account(books=(b.AddressBook(1, "webinar signups", "Private", 0),)))
    plan = diff(b.config(), None, near, salt=SALT)
    assert "did you mean 'webinar signups'?" in plan.diagnostics[0].message
    dup = b.observed(
        b.dd_account(
            books=(
                b.AddressBook(7, "Webinar signups", "Private", 0),
                b.AddressBook(5, "Webinar signups", "Private", 0),
            )
        )
    )
    plan = diff(b.config(), None, dup, salt=SALT)
    assert codes(plan) == [(m.BOOK_AMBIGUOUS, 40)]
    assert "ids 5, 7" in plan.diagnostics[0].message


def test_datafield_missing_is_error_or_planned_creation(b):
    rows = b.mapping(
        ("FirstName", "FIRSTNAME", "two-way"),
        ("LastName", "LASTNAME", "two-way"),
        ("Company", "COMPANY", "two-way"),
        ("AnnualRevenue", "REVENUE", "two-way"),
    )
    lead = b.lead(b.field("AnnualRevenue", "currency"))
    plan = diff(b.config(b.account(rows=rows)), None, b.observed(lead_obj=lead), salt=SALT)
    assert codes(plan) == [(m.DATAFIELD_NOT_FOUND, 23)]
    assert plan.diagnostics[0].path == "accounts.uk.lead_mapping[3].datafield"
    plan = diff(
        b.config(b.account(rows=rows, create_missing=True)),
        None,
        b.observed(lead_obj=lead),
        salt=SALT,
    )
    assert not plan.has_errors
    created = by_addr(plan)['account.uk.datafield["REVENUE"]']
    assert created.action == "create" and created.remote
    assert created.after == {"name": "REVENUE", "type": "Numeric"}
    assert plan.resolved["accounts"]["uk"]["datafields"]["REVENUE"] == "Numeric"
    assert "created in Dotdigital" in to_text(plan)


def test_salesforce_field_checks(b):
    rows = b.mapping(
        ("FirstName", "FIRSTNAME", "two-way"),
        ("LastName", "LASTNAME", "two-way"),
        ("Company", "COMPANY", "two-way"),
        ("Nope__c", "FIRSTNAME", "two-way"),
        ("IsConverted", "LASTNAME", "dotdigital-to-salesforce"),
    )
    plan = diff(b.config(b.account(rows=rows)), None, b.observed(), salt=SALT)
    assert codes(plan) == [(m.SF_FIELD_NOT_FOUND, 23), (m.SF_FIELD_NOT_CREATEABLE, 24)]


def test_org_required_field_must_be_mapped_towards_salesforce(b):
    lead = b.lead(b.field("Region__c", "picklist", required=True, label="Region"))
    plan = diff(b.config(), None, b.observed(lead_obj=lead), salt=SALT)
    assert codes(plan) == [(m.REQUIRED_FIELD_UNMAPPED, 19)]
    assert "Region__c" in plan.diagnostics[0].message
    rows = b.mapping(
        ("FirstName", "FIRSTNAME", "two-way"),
        ("LastName", "LASTNAME", "two-way"),
        ("Company", "COMPANY", "two-way"),
        ("Region__c", "FIRSTNAME", "salesforce-to-dotdigital"),
    )
    plan = diff(b.config(b.account(rows=rows)), None, b.observed(lead_obj=lead), salt=SALT)
    assert codes(plan) == [(m.REQUIRED_FIELD_UNMAPPED, 23)]
    assert plan.diagnostics[0].path == "accounts.uk.lead_mapping[3].direction"
    # No create_leads book: no Leads are created, so nothing is required.
    cfg = b.config(b.account(books=(b.book(create_leads=False),)))
    assert not diff(cfg, None, b.observed(lead_obj=lead), salt=SALT).has_errors


def test_lead_status_must_be_active(b):
    plan = diff(b.config(lead_status="Fresh"), None, b.observed(), salt=SALT)
    assert codes(plan) == [(m.LEAD_STATUS_UNKNOWN, 7)]
    assert "'New', 'Working'" in plan.diagnostics[0].message


def test_campaign_checks_and_member_status(b):
    cfg = b.config(b.account(books=(b.book(campaign="Spring Webinar 2026"),)))
    camp = b.campaign("7010000000000AAAAA", "Spring Webinar 2026", ("Responded",))
    plan = diff(cfg, None, b.observed(campaigns=(camp,)), salt=SALT)
    assert not plan.has_errors
    status = by_addr(plan)['campaign["Spring Webinar 2026"].member_status["Sent"]']
    assert status.action == "create" and status.remote
    assert status.after == {"campaign_id": camp.id, "label": "Sent"}
    book = plan.resolved["accounts"]["uk"]["books"][0]
    assert book["campaign_id"] == camp.id and book["campaign_name"] == "Spring Webinar 2026"
    assert codes(diff(cfg, None, b.observed(), salt=SALT)) == [(m.CAMPAIGN_NOT_FOUND, 42)]
    twin = b.campaign("7010000000000BBBBB", "Spring Webinar 2026", ("Sent",))
    plan = diff(cfg, None, b.observed(campaigns=(camp, twin)), salt=SALT)
    assert codes(plan) == [(m.CAMPAIGN_AMBIGUOUS, 42)]
    by_id = b.config(b.account(books=(b.book(campaign=twin.id),)))
    plan = diff(by_id, None, b.observed(campaigns=(camp, twin)), salt=SALT)
    assert not plan.has_errors and not any(c.kind == "member_status" for c in plan.changes)


def test_drift_section(b):
    cfg = b.config(b.account(books=(b.book(campaign="Spring Webinar 2026"),)))
    camp = b.campaign("7010000000000AAAAA", "Spring Webinar 2026", ("Sent",))
    first = diff(cfg, None, b.observed(campaigns=(camp,)), salt=SALT)
    applied = b.applied_from(first.resolved)
    renamed = b.dd_account(
        books=(b.AddressBook(101, "Webinar (old)", "Private", 3),),
        datafields=("FIRSTNAME", "LASTNAME"),
    )
    lead = b.lead(b.field("Region__c", required=True))
    plan = diff(cfg, applied, b.observed(renamed, lead_obj=lead), salt=SALT)
    messages = [d.message for d in plan.drift]
    assert any("renamed in Dotdigital" in x and "Webinar (old)" in x for x in messages)
    assert any("campaign" in x and "deleted in Salesforce" in x for x in messages)
    assert any("datafield COMPANY was deleted" in x for x in messages)
    assert any("'Region__c' is now required" in x for x in messages)
    assert "Objects have changed outside of leadsync" in to_text(plan)
    gone = b.dd_account(books=())
    plan = diff(cfg, applied, b.observed(gone, campaigns=(camp,)), salt=SALT)
    assert any("was deleted in Dotdigital" in d.message for d in plan.drift)
    assert codes(plan) == [(m.BOOK_NOT_FOUND, 40)]


def test_book_resolving_to_another_id_is_an_update(b):
    first = diff(b.config(), None, b.observed(), salt=SALT)
    applied = b.applied_from(first.resolved)
    moved = b.dd_account(books=(b.AddressBook(202, "Webinar signups", "Private", 9),))
    plan = diff(b.config(), applied, b.observed(moved), salt=SALT)
    ch = by_addr(plan)['account.uk.address_book["Webinar signups"]']
    assert ch.action == "update" and ch.changed == ("id",)
    assert "now resolves to book id 202 (was 101)" in ch.reason
    assert "baseline" in ch.reason


def test_markdown_and_json_shapes(b):
    plan = diff(b.config(), None, b.observed(), salt=SALT)
    md = to_markdown(plan)
    assert md.startswith("### leadsync plan: 8 to create, 0 to update, 0 to delete")
    assert "```diff" in md and "| `+` |" in md
    data = to_json(plan)
    assert data["format_version"] == "1.0"
    assert data["resource_changes"][0]["actions"] == [data["resource_changes"][0]["action"]]


def test_plan_file_round_trip_keeps_what_apply_compares(b, tmp_path):
    from leadsync.reconcile import planfile

    first = diff(b.config(), None, b.observed(), salt=SALT)
    applied = b.applied_from(first.resolved)
    plan = diff(b.config(b.account(password="new-XYZZY")), applied, b.observed(), salt=SALT)
    path = tmp_path / "p.plan"
    planfile.save(plan, path)
    assert "XYZZY" not in path.read_text()
    assert "hmac-sha256" not in path.read_text()  # not even salted fingerprints
    loaded = planfile.load(path)
    assert loaded.prior == plan.prior
    assert loaded.comparable() == plan.comparable()
    assert loaded.fingerprints == plan.fingerprints
    assert loaded.desired_digest == plan.desired_digest
    assert loaded.config_sha256 == plan.config_sha256
    assert [d.message for d in loaded.drift] == [d.message for d in plan.drift]


def test_desired_digest_sees_secrets_only_once_salted(b):
    first = diff(b.config(), None, b.observed(), salt="one")
    other = diff(b.config(b.account(password="x")), None, b.observed(), salt="two")
    assert first.desired_digest == other.desired_digest  # before the first apply: masked
    applied = b.applied_from(first.resolved)
    same = diff(b.config(), applied, b.observed(), salt=SALT)
    rotated = diff(b.config(b.account(password="x")), applied, b.observed(), salt=SALT)
    assert same.desired_digest != rotated.desired_digest


def test_fingerprints_ignore_unrelated_books_and_member_counts(b):
    base = diff(b.config(), None, b.observed(), salt=SALT).fingerprints
    busier = b.dd_account(
        books=(
            b.AddressBook(101, "Webinar signups", "Private", 999),
            b.AddressBook(555, "Someone else's book", "Private", 1),
        )
    )
    assert diff(b.config(), None, b.observed(busier), salt=SALT).fingerprints == base
    renamed = b.dd_account(books=(b.AddressBook(102, "Webinar signups", "Private", 3),))
    assert diff(b.config(), None, b.observed(renamed), salt=SALT).fingerprints != base


def test_drift_mapped_field_removed_and_lead_status_gone(b):
    from leadsync.salesforce.model import ObjectDescribe

    first = diff(b.config(), None, b.observed(), salt=SALT)
    applied = b.applied_from(first.resolved)
    lead = b.lead()
    fields = {k: v for k, v in lead.fields.items() if k != "FirstName"}
    obs = b.observed(lead_obj=ObjectDescribe("Lead", fields))
    obs = type(obs)(obs.accounts, obs.lead, None, (), obs.lead_statuses[1:])
    plan = diff(b.config(), applied, obs, salt=SALT)
    messages = [d.message for d in plan.drift]
    assert "Lead field 'FirstName' was removed from Salesforce" in messages
    assert "Lead Status 'New' is no longer active in Salesforce" in messages
    assert (m.SF_FIELD_NOT_FOUND, 20) in codes(plan) and (m.LEAD_STATUS_UNKNOWN, 7) in codes(plan)


def test_assignment_rule_resolves_to_a_lead_rule_id_or_is_refused(b):
    from dataclasses import replace

    from leadsync.config.model import Defaults
    from leadsync.reconcile.observed import ObservedAssignmentRule

    web = ObservedAssignmentRule("01Q8d000000AbCdEAA", "Web leads", True)
    dups = tuple(ObservedAssignmentRule(f"01Q8d00000000{i}0AAA", "Twin", False) for i in (1, 2))
    observed = replace(b.observed(), assignment_rules=(web, *dups))

    def plan_for(rule: str):
        cfg = replace(b.config(), defaults=Defaults(assignment_rule=rule))
        return diff(cfg, None, observed, salt=SALT)

    for rule, resolved in (
        ("active", "active"),
        ("none", "none"),
        ("Web leads", web.id),
        ("web LEADS", web.id),
        ("01Q8d000000AbCd", web.id),  # the 15-character form of the Id
    ):
        plan = plan_for(rule)
        assert not plan.has_errors, plan.diagnostics
        assert plan.resolved["salesforce_schema"]["assignment_rule"] == resolved
    for rule, says in (
        ("Twin", "name the rule by its Id"),
        ("Web lead", "did you mean 'Web leads'"),
    ):
        plan = plan_for(rule)
        [diag] = plan.diagnostics
        assert (diag.code, diag.path) == (m.ASSIGNMENT_RULE_UNKNOWN, "defaults.assignment_rule")
        assert says in diag.message
    assert "salesforce.AssignmentRule" in plan_for("Web leads").fingerprints
    assert (
        "salesforce.AssignmentRule"
        not in diff(b.config(), None, b.observed(), salt=SALT).fingerprints
    )


def test_a_failure_comment_keeps_the_message_verbatim_in_a_safe_fence():
    from leadsync.views.plan import failure_markdown

    md = failure_markdown("state: bad ```fence``` | pipe\nsecond line")
    assert md.startswith("### leadsync plan: failed\n\nNothing was planned.\n\n````text\n")
    assert "state: bad ```fence``` | pipe\nsecond line\n````\n" in md


def _key_warnings(plan):
    return [d for d in plan.diagnostics if d.code in (m.LEAD_KEY_MISSING, m.LEAD_KEY_UNUSABLE)]


def test_lead_without_the_upsert_key_is_a_warning_that_says_how_to_add_it(b):
    plan = diff(b.config(), None, b.observed(lead_obj=b.lead(key=None)), salt=SALT)
    [warning] = _key_warnings(plan)
    assert (warning.code, warning.severity) == ("LS211", "warning") and not plan.has_errors
    assert warning.path == "accounts.uk.address_books[0].create_leads"
    for words in (
        "no field Leadsync_Key__c",
        "Setup > Object Manager > Lead > Fields & Relationships",
        "Text, length 255",
        "Unique (case-insensitive), External ID",
        "waits sync.in_doubt_grace (15m)",
    ):
        assert words in warning.message, words
    assert _key_warnings(diff(b.config(), None, b.observed(), salt=SALT)) == []  # has the key
    cfg = b.config(b.account(books=(b.book(create_leads=False),)))  # no Leads to create
    assert _key_warnings(diff(cfg, None, b.observed(lead_obj=b.lead(key=None)), salt=SALT)) == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"external_id": False}, "it is not marked External ID"),
        ({"unique": False}, "it is not marked Unique"),
        ({"createable": False}, "the integration user cannot edit it"),
        ({"type": "double"}, "it is a double field, not Text"),
    ],
)
def test_a_key_field_that_cannot_be_the_upsert_key_is_a_warning_naming_why(b, changes, problem):

    key = dataclasses.replace(b.lead().fields["Leadsync_Key__c"], **changes)
    plan = diff(b.config(), None, b.observed(lead_obj=b.lead(key=key)), salt=SALT)
    [warning] = _key_warnings(plan)
    assert (warning.code, warning.severity) == ("LS212", "warning") and not plan.has_errors
    assert (
        problem in warning.message and "make it Text(255), Unique, External ID" in warning.message
    )
