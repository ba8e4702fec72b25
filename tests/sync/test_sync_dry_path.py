"""`sync --dry-run` goes through the real run's path (sync/dryrun.py): it cannot predict
something the real run then does differently, and it still writes nothing anywhere."""

from __future__ import annotations

import copy

KEY = "Leadsync_Key__c"
PEOPLE = ["dp0@example.com", "dp1@example.com", "dp2@example.com"]
OUTCOMES = ("seen", "created", "excluded_existing", "campaign_members_added_new")


def test_a_lead_made_by_a_late_write_of_ours_is_predicted_as_the_real_run_records_it(
    workspace, kit
):
    """A Lead with a member's email AND that member's key was made by a write of ours that
    finished after its run gave up on it: the real run records the member as created (and
    adds that Lead to the campaign). The dry run said "excluded: an existing Lead" before it
    shared the real run's check."""
    seed = copy.deepcopy(kit.BASE_SEED)
    seed["salesforce"]["lead_fields"].append(
        {"name": KEY, "type": "string", "length": 255, "unique": True, "external_id": True}
    )
    ws = workspace(seed=seed)
    contacts = {
        email: ws.add_member(email, kit.member(f"Dp{i}", "Path", "Co"))["id"]
        for i, email in enumerate(PEOPLE)
    }
    ws.emu.salesforce().Lead.create(
        {"LastName": "Path", "Company": "Co", "Email": PEOPLE[0], "Region__c": "EMEA",
         KEY: f"uk:{contacts[PEOPLE[0]]}"}
    )  # fmt: skip
    before = ws.state_db.read_bytes()

    predicted = ws.sync("--dry-run", code=(0,))["books"][0]
    assert ws.state_db.read_bytes() == before
    assert [s["email"] for s in predicted["samples"]["created"]] == PEOPLE
    real = ws.sync(code=(0,))["books"][0]
    assert {k: predicted[k] for k in OUTCOMES} == {k: real[k] for k in OUTCOMES}
    assert (real["created"], real["excluded_existing"]) == (3, 0)
