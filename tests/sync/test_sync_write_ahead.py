"""The write-ahead mark is a typed value (sync/write_ahead.py) stored as text in the ledger.

The text is a stored format: a state written by an earlier version, with a write in flight
when that version was killed, must still be settled after an upgrade. These tests write the
ledger's `attempt` by hand in the text forms leadsync has always stored and check that a run
of this version settles them from Salesforce: one Lead per person, nothing sent twice.
"""

from __future__ import annotations

import copy
import re
import sqlite3
from collections import Counter
from typing import Any

import pytest

from leadsync.sync.write_ahead import WriteAhead

KEY = "Leadsync_Key__c"
PEOPLE = ["wa0@example.com", "wa1@example.com", "wa2@example.com"]
LEAD_CREATE = r"composite/sobjects$"
BULK_UPLOAD = r"jobs/ingest/[^/]+/batches$"
RUN_ID = r"\d{8}T\d{6}Z-[0-9a-f]{6}"


@pytest.mark.parametrize(
    ("text", "mark"),
    [
        ("coll:20260101T000000Z-0a1b2c:deadbeef", WriteAhead("collections", False, "20260101T000000Z-0a1b2c:deadbeef")),
        ("key:coll:r1:00ff00ff", WriteAhead("collections", True, "r1:00ff00ff")),
        ("bulk:r1:abcd", WriteAhead("bulk", False, "r1:abcd")),
        ("bulkjob:750A,750B", WriteAhead("bulk", False, job_ids=("750A", "750B"))),
        ("key:bulkjob:750A", WriteAhead("bulk", True, job_ids=("750A",))),
    ],
)  # fmt: skip
def test_every_stored_form_decodes_to_its_meaning_and_encodes_back_unchanged(text, mark):
    assert WriteAhead.decode(text) == mark
    assert mark.encode() == text


def test_a_bulk_mark_names_its_jobs_as_salesforce_creates_them():
    mark = WriteAhead("bulk", True, "r1:abcd").with_job("750A").with_job("750B")
    assert mark.encode() == "key:bulkjob:750A,750B"
    assert WriteAhead.decode("bulk:750x").job_ids == ()  # a pre-job mark of an old state


def _setup(workspace, kit, *, keyed: bool, **sync: Any):
    seed = copy.deepcopy(kit.BASE_SEED)
    if keyed:
        seed["salesforce"]["lead_fields"].append(
            {"name": KEY, "type": "string", "length": 255, "unique": True, "external_id": True}
        )
    ws = workspace(seed=seed, config=kit.config_yaml(sync=sync or None))
    for i, email in enumerate(PEOPLE):
        ws.add_member(email, kit.member(f"Wa{i}", "Ahead", "Co"))
    ws.emu.reset_log()
    return ws


def _stored_mark(ws) -> str:
    [(attempt,)] = ws.state_rows("SELECT DISTINCT attempt FROM ledger WHERE attempt IS NOT NULL")
    return attempt


def _write_mark(ws, text: str, sent: str = "2000-01-01T00:00:00Z") -> None:
    """The ledger rows as an earlier version left them: the attempt text, sent at `sent`."""
    con = sqlite3.connect(ws.state_db)
    with con:
        con.execute(
            "UPDATE ledger SET attempt = ?, attempted_at = ? WHERE attempt IS NOT NULL",
            (text, sent),
        )
    con.close()


def _one_lead_each_and_settled(ws) -> None:
    counts = Counter(r["Email"].lower() for r in ws.query("SELECT Email FROM Lead"))
    assert {e: counts[e] for e in PEOPLE} == dict.fromkeys(PEOPLE, 1)
    leads = ws.leads()
    created = dict(ws.state_rows("SELECT email, lead_id FROM ledger WHERE state = 'created'"))
    assert {e: created.get(e) for e in PEOPLE} == {e: leads[e]["Id"] for e in PEOPLE}
    assert ws.state_rows("SELECT COUNT(*) FROM ledger WHERE attempt IS NOT NULL") == [(0,)]


def _lead_writes(ws) -> int:
    log = ws.emu.requests_log("salesforce")["requests"]
    return sum(r["method"] == "POST" and re.search(LEAD_CREATE, r["path"]) is not None for r in log)


def test_a_collections_create_marked_by_an_earlier_version_is_settled_by_email(workspace, kit):
    ws = _setup(workspace, kit, keyed=False)
    kit.kill_while_held(ws, service="salesforce", method="POST", regex=LEAD_CREATE)
    kit.release_held(ws, service="salesforce", method="POST", regex=LEAD_CREATE)
    assert re.fullmatch(rf"coll:{RUN_ID}:[0-9a-f]{{8}}", _stored_mark(ws))  # the stored form
    _write_mark(ws, "coll:20250101T000000Z-0a1b2c:0123abcd")  # another run's, long ago

    ws.emu.reset_log()
    report = ws.sync(code=(0,))
    assert (report["totals"]["created"], report["totals"]["waiting_in_doubt"]) == (3, 0)
    assert _lead_writes(ws) == 1  # the CampaignMembers only: no Lead sent again
    _one_lead_each_and_settled(ws)


def test_a_keyed_create_marked_by_an_earlier_version_is_looked_up_by_key_and_sent_again(
    workspace, kit
):
    """`key:` in the text is what makes an absent write safe to send again at once: read
    without it, a write sent a moment ago would wait out the in-doubt grace instead."""
    ws = _setup(workspace, kit, keyed=True)
    upsert = r"composite/sobjects/Lead/Leadsync_Key__c$"
    kit.kill_while_held(
        ws, service="salesforce", method="PATCH", regex=upsert, drop_connection=True
    )
    kit.release_held(ws, service="salesforce", method="PATCH", regex=upsert)
    assert re.fullmatch(rf"key:coll:{RUN_ID}:[0-9a-f]{{8}}", _stored_mark(ws))
    _write_mark(ws, "key:coll:20250101T000000Z-0a1b2c:0123abcd", sent=_now())

    report = ws.sync(code=(0,))  # inside the grace, yet nothing waits
    assert (report["totals"]["created"], report["totals"]["waiting_in_doubt"]) == (3, 0)
    _one_lead_each_and_settled(ws)


def test_a_bulk_write_marked_by_an_earlier_version_is_resolved_from_its_job(workspace, kit):
    ws = _setup(workspace, kit, keyed=True, bulk_threshold=2)
    kit.kill_while_held(ws, service="salesforce", method="PUT", regex=BULK_UPLOAD)
    kit.release_held(ws, service="salesforce", method="PUT", regex=BULK_UPLOAD)
    stored = _stored_mark(ws)
    assert re.fullmatch(r"key:bulkjob:[0-9A-Za-z]+", stored)  # the job, before its upload
    job = stored.rsplit(":", 1)[1]
    _write_mark(ws, f"key:bulkjob:{job}")

    ws.emu.reset_log()
    report = ws.sync(code=(0,))
    assert (report["totals"]["created"], report["totals"]["waiting_in_doubt"]) == (3, 0)
    log = ws.emu.requests_log("salesforce")["requests"]
    asked = [r for r in log if r["method"] == "GET" and r["path"].endswith(f"jobs/ingest/{job}")]
    assert asked  # the job named in the text was asked what it did (never closed: nothing)
    uploads = [r for r in log if r["method"] == "PUT" and re.search(BULK_UPLOAD, r["path"])]
    assert len(uploads) == 2  # the Leads again, as an upsert on the key; the CampaignMembers
    _one_lead_each_and_settled(ws)


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
