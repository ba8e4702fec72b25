"""A whole-request refusal is split until the culprit stands alone: one home, sync/halving.py.

The Salesforce client raises the refusal as it came (it carries no domain rule); the sync's
Collections writer halves the batch, each half with its own write-ahead mark.
"""

from __future__ import annotations

import copy

import pytest

from leadsync.config.model import AccessTokenAuth, Pos, SalesforceConfig, Secret
from leadsync.retry import no_wait
from leadsync.salesforce.client import SalesforceClient
from leadsync.salesforce.errors import SalesforceError
from leadsync.sync.halving import Refused, refusal, refusing, split_refused

REFUSED = [{"message": "Cannot deserialize instance of date", "errorCode": "JSON_PARSER_ERROR"}]
COLLECTIONS = "composite/sobjects$"


def _posts(emu) -> int:
    log = emu.requests_log("salesforce")["requests"]
    return sum(r["method"] == "POST" and r["path"].endswith("/composite/sobjects") for r in log)


def _client(emu) -> SalesforceClient:
    cfg = SalesforceConfig(
        instance_url=emu.sf_instance_url,
        auth=AccessTokenAuth(Secret(emu.access_token)),
        ca_bundle=emu.ca_bundle,
        api_version="61.0",
        pos=Pos("leadsync.yaml", 1, 1),
    )
    return SalesforceClient(cfg, retry=no_wait())


def _lead(n: int, **over: str) -> dict[str, str]:
    return {"FirstName": f"F{n}", "LastName": f"L{n}", "Company": f"C{n}",
            "Email": f"lead{n}@example.com", "Region__c": "EMEA", **over}  # fmt: skip


def test_the_client_raises_a_whole_request_refusal_without_splitting_it(emulator_factory, kit):
    emu = emulator_factory(kit.BASE_SEED)
    client = _client(emu)
    emu.inject_fault(
        "salesforce", method="POST", path_regex=COLLECTIONS, status=400, body=REFUSED, times=1
    )
    lead = {"LastName": "L", "Company": "C", "Region__c": "EMEA"}
    records = [{**lead, "Email": "a@example.com"}, {**lead, "Email": "b@example.com"}]
    with pytest.raises(SalesforceError) as err:
        client.create("Lead", records)
    assert (err.value.status, err.value.code, err.value.transient) == (
        400,
        "JSON_PARSER_ERROR",
        False,
    )
    assert _posts(emu) == 1  # sent once, as it was; splitting is the sync's decision
    assert client.find_by_emails("Lead", ["a@example.com", "b@example.com"]) == []


def test_an_unparseable_record_fails_alone_in_a_collection(emulator_factory, kit):
    """Moved from tests/clients (the client split the batch; now it raises and halving.py
    splits): a datetime Salesforce cannot parse refuses the whole request, for real."""
    seed = copy.deepcopy(kit.BASE_SEED)
    seed["salesforce"]["lead_fields"].append({"name": "Seen__c", "type": "datetime"})
    emu = emulator_factory(seed)
    client = _client(emu)
    records = [_lead(n, Seen__c="2024-02-29T23:30:00.000Z") for n in range(5)]
    records[3] = _lead(3, Seen__c="403-10-21T00:00:00.000Z")
    with pytest.raises(SalesforceError):
        client.create("Lead", records)
    results = split_refused(refusing(lambda rs: client.create("Lead", rs)), records, refusal)
    assert [r.success for r in results] == [True, True, True, False, True]
    assert results[3].errors[0].status_code == "JSON_PARSER_ERROR"
    assert "403-10-21" in results[3].errors[0].message
    assert not results[3].errors[0].message.startswith("Salesforce:")
    assert len(client.find_by_emails("Lead", [f"lead{n}@example.com" for n in range(5)])) == 4


def test_halving_isolates_the_culprit_in_about_two_log2_n_requests():
    """Eight records, the sixth refused whenever it is in a request: 7 requests, results in
    the input order, the culprit's by itself."""
    sent: list[list[int]] = []
    error = SalesforceError("refused", code="JSON_PARSER_ERROR", status=400)

    def send(batch):
        sent.append(list(batch))
        if 5 in batch:
            raise Refused(error, batch)
        return [f"ok {n}" for n in batch]

    results = split_refused(send, list(range(8)), lambda n, e: f"{e.code} {n}")
    assert results == [f"ok {n}" for n in range(5)] + ["JSON_PARSER_ERROR 5", "ok 6", "ok 7"]
    assert sent == [[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3], [4, 5, 6, 7], [4, 5], [4], [5], [6, 7]]


def test_the_sync_splits_a_refused_batch_of_four_until_the_culprit_fails_alone(workspace, kit):
    ws = workspace()
    for n in range(4):
        ws.add_member(f"half{n}@example.com", kit.member(f"Half{n}", "Split", "Co"))
    ws.emu.inject_fault(
        "salesforce", method="POST", path_regex=COLLECTIONS, status=400, body=REFUSED, times=3
    )
    ws.emu.reset_log()
    book = ws.sync(code=(4,))["books"][0]
    assert (book["created"], book["failed"], book["reasons"]) == (3, 1, {"JSON_PARSER_ERROR": 1})
    # 4 refused, its first half refused, that half's first record refused alone; then the
    # second record and the second half go in; then the CampaignMembers
    assert _posts(ws.emu) == 6
    [(email, reason)] = ws.state_rows("SELECT email, reason FROM ledger WHERE state = 'failed'")
    assert reason == "JSON_PARSER_ERROR: Cannot deserialize instance of date"
    assert set(ws.leads()) >= {f"half{n}@example.com" for n in range(4)} - {email}
    assert email not in ws.leads()
