"""The applied contract across versions: states applied by leadsync at e68fa34 read back the
same, re-plan the same and keep every hash the ledger and the push store hold.

data/applied_e68fa34.json is what e68fa34 computed from applied_case.py's inputs (three auth
kinds). Today's code must write byte-identical documents from the same inputs, read the stored
ones back without a "differs", and derive the same mapping fingerprint, `data_hash` and push
fingerprint from them: a change to any of these would make every existing user's sync warn, or
retry every skipped and failed member after an upgrade.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pytest

from leadsync.applied import (
    AppliedFormatError,
    AppliedIntegration,
    ConfigSnapshot,
    config_differences,
    snapshot,
)
from leadsync.config.model import Defaults, SyncSettings
from leadsync.reconcile.diff import desired_digest, diff
from leadsync.reconcile.document import to_json
from leadsync.state.codec import dump, load
from leadsync.state.model import AppliedState
from leadsync.sync.applied import AppliedStateError, read_view
from leadsync.sync.mapping import LeadMapping, data_hash
from leadsync.sync.pushmap import PushRules
from leadsync.views.plan import to_text

_spec = importlib.util.spec_from_file_location(
    "applied_case", Path(__file__).with_name("applied_case.py")
)
assert _spec is not None and _spec.loader is not None
case = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(case)

PINNED = case.load_fixture()


# The sync's view as e68fa34 had it (fields added since are not part of the pin).
VIEW_FIELDS = (
    "serial",
    "lineage",
    "lead_status",
    "campaign_member_status",
    "settings",
    "accounts",
    "assignment_rule",
)


def _repr_as_at_e68fa34(view: object) -> str:
    return f"AppliedView({', '.join(f'{n}={getattr(view, n)!r}' for n in VIEW_FIELDS)})"


def _stored(kind: str) -> AppliedState:
    """The applied state exactly as e68fa34 stored it (the text of its JSON columns)."""
    pin = PINNED[kind]
    return AppliedState(
        "lin-1",
        1,
        load(pin["stored_config"]),
        load(pin["stored_resolved"]),
        pin["fingerprints"],
        "sha-of-file",
        "2026-11-29T00:00:00+00:00",
        "me",
        case.SALT,
    )


@pytest.mark.parametrize("kind", case.AUTH_KINDS)
def test_today_writes_the_documents_e68fa34_wrote(kind):
    pin = PINNED[kind]
    cfg, obs = case.config(kind), case.observed()
    plan = diff(cfg, None, obs, salt=case.SALT)
    # the same keys in the same order (the plan shows them in this order) and the same bytes
    assert json.dumps(plan.resolved) == pin["resolved"]
    assert json.dumps(snapshot(cfg, case.SALT)) == pin["config"]
    assert dump(plan.resolved) == pin["stored_resolved"]
    assert dump(snapshot(cfg, case.SALT)) == pin["stored_config"]
    assert plan.fingerprints == pin["fingerprints"]
    assert desired_digest(plan.resolved, salted=True) == pin["digest_salted"]
    assert desired_digest(plan.resolved, salted=False) == pin["digest_unsalted"]
    assert to_text(plan) == pin["plan_text"]
    assert json.dumps(to_json(plan)) == pin["plan_json"]


@pytest.mark.parametrize("kind", case.AUTH_KINDS)
def test_a_stored_state_reads_back_through_the_contract(kind):
    pin, stored = PINNED[kind], _stored(kind)
    integration = AppliedIntegration.from_json(stored.resolved)
    assert dump(integration.to_json()) == pin["stored_resolved"]
    assert dump(ConfigSnapshot.from_json(stored.config).to_json()) == pin["stored_config"]
    assert config_differences(stored, case.config(kind)) == []
    again = diff(case.config(kind), stored, case.observed(), salt=case.SALT)
    assert to_text(again) == pin["replan_text"]
    # e68fa34's view was read from the document as written (key order as apply wrote it)
    as_written = replace(stored, resolved=json.loads(pin["resolved"]))
    assert _repr_as_at_e68fa34(read_view(as_written)) == pin["view"]
    assert read_view(stored) == read_view(as_written)


@pytest.mark.parametrize("kind", case.AUTH_KINDS)
def test_the_hashes_the_ledger_and_push_store_hold_do_not_move(kind):
    pin, obs = PINNED[kind], case.observed()
    view = read_view(_stored(kind))
    uk = view.accounts["uk"]
    mapping = LeadMapping(uk.rows, obs.lead.fields, view.lead_status)
    assert mapping.fingerprint() == pin["mapping_fingerprint"]
    assert data_hash(case.MEMBER[0], case.MEMBER[1], mapping) == pin["data_hash"]
    push = next(b for b in uk.books if b.push)
    rules = PushRules.of(
        account="uk",
        book_id=push.id,
        book=push.name,
        campaign_id=push.campaign_id or "",
        campaign=push.campaign_name or "",
        statuses=push.member_statuses,
        lead_rows=uk.rows,
        contact_rows=uk.contact_rows,
        datafield_types=uk.datafield_types,
        clear=uk.clear_address_books,
    )
    assert rules.fingerprint() == pin["push_fingerprint"]


@dataclass(frozen=True, slots=True)
class DefaultsOfLater(Defaults):
    """Defaults as a later leadsync may have them: one key that defaults to None, one that
    defaults to a value (like a `lead_source: Web`)."""

    lead_source: str | None = None
    web_form: str = "Web"


@dataclass(frozen=True, slots=True)
class SyncOfLater(SyncSettings):
    batch_pause: int = 0


def _later(kind: str, **defaults: object):
    cfg = case.config(kind)
    return replace(
        cfg,
        defaults=DefaultsOfLater(**{**asdict(cfg.defaults), **defaults}),
        sync=SyncOfLater(**asdict(cfg.sync)),
    )


@pytest.mark.parametrize("kind", case.AUTH_KINDS)
def test_a_new_default_left_alone_changes_nothing_stored_or_compared(kind):
    """The trap the lead_source trial hit: a key written as None (or as its default) made every
    existing state "differ" and changed the stored document. Left at its default, a new key is
    not written, so states applied before it existed read the same as ones applied after."""
    pin, stored, obs = PINNED[kind], _stored(kind), case.observed()
    cfg = _later(kind)
    plan = diff(cfg, None, obs, salt=case.SALT)
    assert dump(plan.resolved) == pin["stored_resolved"]
    assert dump(snapshot(cfg, case.SALT)) == pin["stored_config"]
    assert config_differences(stored, cfg) == []  # status, sync and the ui say "differs" by this
    assert to_text(diff(cfg, stored, obs, salt=case.SALT)) == pin["replan_text"]
    assert read_view(stored).lead_status == "Open - Not Contacted"
    # set, it is a change like any other: in the plan, in status/sync, in the stored documents
    changed = _later(kind, lead_source="Web")
    assert config_differences(stored, changed) == ["defaults.lead_source"]
    update = diff(changed, stored, obs, salt=case.SALT).changes[1]
    assert (update.address, update.action, update.changed) == (
        "defaults",
        "update",
        ("lead_source",),
    )
    assert diff(changed, None, obs, salt=case.SALT).resolved["defaults"]["lead_source"] == "Web"
    assert snapshot(changed, case.SALT)["defaults"]["lead_source"] == "Web"


def test_a_state_without_a_key_added_since_reads_as_its_default():
    """A state applied before `assignment_rule` (or `in_doubt_grace`) existed: the absent key is
    its default, for the plan, the status/sync comparison and the sync alike."""
    stored = _stored("password")
    for doc in (stored.config, stored.resolved):
        doc["defaults"].pop("assignment_rule")
        doc["sync"].pop("in_doubt_grace")
    stored.resolved["salesforce_schema"].pop("assignment_rule")
    cfg = replace(
        case.config("password"),
        defaults=replace(case.config("password").defaults, assignment_rule="active"),
        sync=SyncSettings(bulk_threshold=500),
    )
    assert config_differences(stored, cfg) == []
    plan = diff(cfg, stored, case.observed(), salt=case.SALT)
    assert [c.address for c in plan.changes if c.action != "no-op"] == [
        'account.uk.datafield["REVENUE"]',  # as in the pinned re-plan: not created yet
        'campaign["Spring Webinar"].member_status["Attended"]',
    ]
    view = read_view(stored)
    assert view.assignment_rule == "active" and view.settings.in_doubt_grace == 900


def test_a_state_a_newer_leadsync_applied_is_refused_not_misread():
    stored = _stored("password")
    newer = replace(stored, resolved={**stored.resolved, "format": 2})
    with pytest.raises(AppliedFormatError, match=r"newer leadsync \(resolved format 2"):
        AppliedIntegration.from_json(newer.resolved)
    with pytest.raises(AppliedFormatError, match="upgrade leadsync"):
        read_view(newer)
    broken = replace(
        stored, resolved={**stored.resolved, "accounts": {"uk": {"lead_mapping": [{}]}}}
    )
    with pytest.raises(AppliedStateError, match="cannot be read by this version"):
        read_view(broken)
    with pytest.raises(AppliedFormatError):
        diff(case.config("password"), newer, case.observed(), salt=case.SALT)


def test_a_mapped_contact_field_removed_since_apply_is_drift():
    from leadsync.salesforce.model import ObjectDescribe

    stored = _stored(case.AUTH_KINDS[0])
    obs = replace(case.observed(), contact=ObjectDescribe("Contact", {}))
    plan = diff(case.config(case.AUTH_KINDS[0]), stored, obs, salt=case.SALT)
    removed = [d for d in plan.drift if "was removed from Salesforce" in d.message]
    assert [(d.address, d.message) for d in removed] == [
        ('account.uk.contact_mapping["Title"]', "Contact field 'Title' was removed from Salesforce")
    ]
