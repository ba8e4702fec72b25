"""SalesforceClient against the real Salesforce emulator over HTTPS (unmodified simple-salesforce)."""

from __future__ import annotations

import pytest

from leadsync.config.model import AccessTokenAuth, PasswordAuth, Pos, SalesforceConfig, Secret
from leadsync.retry import no_wait
from leadsync.salesforce.client import SalesforceClient
from leadsync.salesforce.errors import (
    RequestLimitExceeded,
    SalesforceError,
    SessionExpired,
    is_transient_code,
)

POS = Pos("leadsync.yaml", 1, 1)
USER = {"username": "admin@leadsync.test", "password": "pw-'1&x", "security_token": "tok"}
APP = {"consumer_key": "leadsync-test", "consumer_secret": "app-secret"}


def _seed(**extra):
    seed = {
        "dotdigital": {"accounts": []},
        "salesforce": {
            "lead_statuses": ["New", "Working", "Closed - Converted"],
            "lead_fields": [
                {
                    "name": "Region__c",
                    "type": "picklist",
                    "values": ["EMEA", "AMER", "APAC"],
                    "required": True,
                    "restricted": True,
                }
            ],
            "duplicate_rule_on_lead_email": False,
            "daily_api_limit": 100000,
            "records": {
                "Campaign": [{"Name": "Spring Webinar 2026"}, {"Name": "Autumn"}],
                "Lead": [
                    {
                        "FirstName": "Grace",
                        "LastName": "Hopper",
                        "Company": "Navy",
                        "Email": "Grace@Example.com",
                        "Region__c": "AMER",
                    },
                    {
                        "FirstName": "Siobhán",
                        "LastName": "O'Brien",
                        "Company": "Ceol",
                        "Email": "o'brien@example.com",
                        "Region__c": "EMEA",
                    },
                    {
                        "FirstName": "Zoë",
                        "LastName": "Ünal",
                        "Company": "Ü",
                        "Email": "zoe@example.com",
                        "Region__c": "EMEA",
                    },
                ],
                "Contact": [{"LastName": "Existing", "Email": "old@example.com"}],
            },
            "users": [USER],
            "connected_apps": [APP],
        },
    }
    seed["salesforce"].update(extra)
    return seed


def _cfg(emu, auth=None):
    return SalesforceConfig(
        instance_url=emu.sf_instance_url,
        auth=auth or AccessTokenAuth(Secret(emu.access_token)),
        ca_bundle=emu.ca_bundle,
        api_version="61.0",
        pos=POS,
    )


def _password_auth(emu):
    return PasswordAuth(
        username=USER["username"],
        password=Secret(USER["password"]),
        security_token=Secret(USER["security_token"]),
        consumer_key=APP["consumer_key"],
        consumer_secret=Secret(APP["consumer_secret"]),
        login_url=emu.sf_instance_url,
    )


def _client(emu, auth=None, retry=None):
    return SalesforceClient(_cfg(emu, auth), retry=retry or no_wait())


def _log(emu):
    return emu.requests_log("salesforce")["requests"]


def _lead(n, **over):
    rec = {
        "FirstName": f"F{n}",
        "LastName": f"L{n}",
        "Company": f"C{n}",
        "Email": f"lead{n}@example.com",
        "Region__c": "EMEA",
    }
    rec.update(over)
    return rec


@pytest.fixture
def emu(emulator_factory):
    return emulator_factory(_seed())


def test_ca_bundle_wins_over_requests_ca_bundle_env(emu, monkeypatch, tmp_path):
    bogus = tmp_path / "other-ca.pem"
    bogus.write_text("not a certificate\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bogus))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(bogus))
    client = _client(emu)
    assert client.describe("Lead").name == "Lead"


def test_describe_is_cached_and_typed(emu):
    client = _client(emu)
    lead = client.describe("Lead")
    again = client.describe("Lead")
    assert again is lead
    region = lead.fields["Region__c"]
    assert region.required_on_create and region.restricted_picklist and region.custom
    assert [v.value for v in region.picklist_values] == ["EMEA", "AMER", "APAC"]
    assert lead.fields["LastName"].required_on_create
    assert client.calls == 1 == len(_log(emu))


def test_query_follows_next_records_url(emulator_factory):
    leads = [_lead(n) for n in range(4100)]
    emu = emulator_factory(_seed(records={"Lead": leads}))
    client = _client(emu)
    rows = list(client.query("SELECT Id, Email FROM Lead"))
    assert len(rows) == 4100
    assert "attributes" not in rows[0] and rows[0]["Id"].startswith("00Q")
    assert client.calls == 3 == len(_log(emu))


def test_find_by_emails_escapes_normalises_and_never_injects(emu):
    client = _client(emu)
    found = client.find_by_emails(
        "Lead",
        [
            " grace@example.com ",
            "GRACE@example.com",
            "O'Brien@Example.com",
            "ZOE@example.com",
            "ünïcode@exämple.com",
            "x' OR Email != 'y",
            "nobody@example.com",
        ],
        fields=("Id", "Email", "LastName"),
    )
    assert sorted(r["LastName"] for r in found) == ["Hopper", "O'Brien", "Ünal"]
    assert client.calls == 1
    contacts = client.find_by_emails("Contact", ["OLD@example.com"])
    assert [c["Email"] for c in contacts] == ["old@example.com"]
    none = client.find_by_emails("Lead", ["grace@example.com"], extra_where="IsConverted = true")
    assert none == []


def test_find_by_emails_sends_a_list_too_long_for_a_get_in_one_composite_call(emu):
    client = _client(emu)
    emails = [f"someone.with.a.long.address.{n}@example-company.com" for n in range(1200)]
    emails.append("o'brien@example.com")
    found = client.find_by_emails("Lead", emails)
    assert [r["Email"] for r in found] == ["o'brien@example.com"]
    # 1,201 values make one IN query of about 66,000 characters: far too long for a GET's URI
    # (the emulator answers 414 over 16,384 bytes, as Salesforce does), so it travels as the
    # subrequest of one Composite request.
    assert [r["path"] for r in _log(emu)] == ["/services/data/v61.0/composite"]
    assert client.calls == 1


def test_find_by_emails_checks_10000_people_in_two_calls(emu):
    client = _client(emu)
    emails = [f"someone.with.a.long.address.{n}@example-company.com" for n in range(10_000)]
    emails.append("O'Brien@Example.com")
    found = client.find_by_emails("Lead", emails)
    assert [r["Email"] for r in found] == ["o'brien@example.com"]
    # IN lists as long as a SOQL statement may be (the emulator refuses over 100,000
    # characters, as Salesforce does): 7 queries, 5 to a Composite request.
    assert [r["path"] for r in _log(emu)] == ["/services/data/v61.0/composite"] * 2
    assert [r["status"] for r in _log(emu)] == [200, 200]
    assert client.calls == 2


ODD_EMAILS = ["o'hara+news&more@example.com", "a%2Bb=c@example.com", "x&y=1+2@example.com"]


@pytest.mark.parametrize("filler", [0, 1200], ids=["one GET", "composite"])
def test_find_by_emails_with_quotes_spaces_plus_ampersand_and_non_ascii(emulator_factory, filler):
    leads = [_lead(n, Email=email) for n, email in enumerate(ODD_EMAILS)]
    # what the addresses would become if an encoding step lost or doubled a character
    leads += [_lead(8, Email="a+b=c@example.com"), _lead(9, Email="o'hara+news@example.com")]
    emu = emulator_factory(_seed(records={"Lead": leads}))
    client = _client(emu)
    emails = [f"someone.with.a.long.address.{n}@example-company.com" for n in range(filler)]
    # the org stores ASCII addresses only: a non-ASCII or spaced one is asked for, found nowhere
    odd = ["zoë.ünal+1@exämple.com", "jo smith@example.com", "日本@example.com"]
    asked = [*emails, *odd, *(e.upper() for e in ODD_EMAILS)]
    found = client.find_by_emails("Lead", asked)
    # each Lead found by its own address, and none by an address its encoding resembles
    assert sorted(r["Email"].lower() for r in found) == sorted(e.lower() for e in ODD_EMAILS)
    paths = [r["path"] for r in _log(emu)]
    composite = "/services/data/v61.0/composite"
    assert paths == ([composite] if filler else ["/services/data/v61.0/query/"])
    assert client.calls == 1


def test_query_many_follows_next_records_url_and_retries_subrequests(emulator_factory):
    leads = [_lead(n) for n in range(2300)]
    emu = emulator_factory(_seed(records={"Lead": leads}))
    client = _client(emu, retry=no_wait(max_attempts=3))
    emu.inject_fault("salesforce", method="POST", path_regex="/composite$", status=503, times=1)
    emu.inject_fault(
        "salesforce", method="POST", path_regex="/composite$", drop_connection="after", times=1
    )
    rows = client.query_many(
        ["SELECT Id, Email FROM Lead", "SELECT Id FROM Lead WHERE Email = 'lead7@example.com'"]
    )
    assert len([r for r in rows if "Email" in r]) == 2300  # 2,000 + the nextRecordsUrl page
    assert len(rows) == 2301 and "attributes" not in rows[0]
    statuses = [r["status"] for r in _log(emu)]
    assert statuses == [503, 0, 200, 200]  # refused, answer lost, both queries, next page
    assert client.calls == 4


def test_query_many_raises_a_failing_subrequest_and_keeps_limits_clean(emu):
    client = _client(emu, retry=no_wait(max_attempts=3))
    with pytest.raises(SalesforceError) as err:
        client.query_many(["SELECT Id FROM Lead", "SELECT Nope__c FROM Lead"])
    assert err.value.code == "INVALID_FIELD" and not err.value.transient
    assert client.calls == 1
    emu.control("salesforce", "POST", "/__emulator/limits", json={"used": 5, "total": 5})
    with pytest.raises(RequestLimitExceeded):
        client.query_many(["SELECT Id FROM Lead", "SELECT Id FROM Contact"])


def test_campaigns_statuses_and_lead_statuses(emu):
    client = _client(emu)
    campaigns = client.find_campaigns(["Spring Webinar 2026", "Missing"])
    assert [c["Name"] for c in campaigns] == ["Spring Webinar 2026"]
    cid = campaigns[0]["Id"]
    by_id = client.find_campaigns([cid, "Autumn"])
    assert sorted(c["Name"] for c in by_id) == ["Autumn", "Spring Webinar 2026"]
    statuses = client.campaign_member_statuses([cid])
    assert sorted(statuses[cid]) == ["Responded", "Sent"]
    lead_statuses = client.lead_statuses()
    default = [s["ApiName"] for s in lead_statuses if s["IsDefault"]]
    assert default == ["New"]
    assert client.calls == 4 == len(_log(emu))


def test_create_keeps_order_and_returns_per_record_errors(emu):
    client = _client(emu)
    records = [_lead(n) for n in range(230)]
    records[3] = _lead(3, Company=None)
    records[210] = _lead(210, Region__c="MARS")
    records[5] = _lead(5, LastName="O'Connor", FirstName="Åsa", Email="asa.o'connor@example.com")
    results = client.create("Lead", records)
    assert len(results) == 230
    assert [i for i, r in enumerate(results) if not r.success] == [3, 210]
    assert results[3].errors[0].status_code == "REQUIRED_FIELD_MISSING"
    assert "Company" in results[3].errors[0].fields
    assert results[210].errors[0].status_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert all(r.id and r.id.startswith("00Q") for r in results if r.success)
    posts = [r for r in _log(emu) if r["path"].endswith("/composite/sobjects")]
    assert len(posts) == 2
    back = client.find_by_emails("Lead", ["ASA.O'CONNOR@example.com"], fields=("Id", "FirstName"))
    assert back == [{"Id": results[5].id, "FirstName": "Åsa"}]


def test_duplicate_rule_header_both_ways(emulator_factory):
    emu = emulator_factory(_seed(duplicate_rule_on_lead_email=True))
    client = _client(emu)
    existing = client.find_by_emails("Lead", ["grace@example.com"])[0]["Id"]
    blocked = client.create("Lead", [_lead(1, Email="GRACE@example.com"), _lead(2)])
    assert blocked[1].success
    error = blocked[0].errors[0]
    assert error.status_code == "DUPLICATES_DETECTED"
    assert existing in error.matched_ids
    allowed = client.create(
        "Lead", [_lead(1, Email="GRACE@example.com")], allow_duplicate_save=True
    )
    assert allowed[0].success


def test_bulk_insert_aligns_results_and_reports_job_before_upload(emu):
    client = _client(emu)
    records = [_lead(n) for n in range(50)]
    records[7] = _lead(7, Company="")
    records[20] = _lead(20, Region__c="MARS")
    records[30] = _lead(30, LastName='Quote "and", comma', Email="Mixed.Case@Example.com")
    records[31] = _lead(31, FirstName="Line\nbreak", Email="zoe.bulk@example.com")
    seen_before_upload = []

    def on_job(job_id):
        paths = [r["path"] for r in _log(emu)]
        seen_before_upload.append((job_id, any(p.endswith("/batches") for p in paths)))

    results = client.bulk_insert("Lead", records, key_field="Email", on_job=on_job)
    assert len(seen_before_upload) == 1 and seen_before_upload[0][1] is False
    assert [i for i, r in enumerate(results) if not r.success] == [7, 20]
    assert results[7].errors[0].status_code == "REQUIRED_FIELD_MISSING"
    assert results[20].errors[0].status_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    ids = {r.id for r in results if r.success}
    assert len(ids) == 48
    rows = client.find_by_emails(
        "Lead",
        ["mixed.case@example.com", "ZOE.BULK@example.com"],
        fields=("Id", "LastName", "FirstName"),
    )
    by_id = {r["Id"]: r for r in rows}
    assert by_id[results[30].id]["LastName"] == 'Quote "and", comma'
    assert by_id[results[31].id]["FirstName"] == "Line\nbreak"
    assert client.calls == len(_log(emu))


def test_bulk_job_reads_only_the_result_files_that_can_hold_rows(emu):
    client = _client(emu)

    def result_reads() -> list[str]:
        return [
            r["path"].rsplit("/", 1)[1]
            for r in _log(emu)
            if r["method"] == "GET" and r["path"].endswith(("Results", "unprocessedrecords"))
        ]

    # Every row created: the job's counts (numberRecordsFailed 0, every uploaded row
    # processed) say the failed and unprocessed files are empty, so only one is read.
    results = client.bulk_insert("Lead", [_lead(n) for n in range(20)], key_field="Email")
    assert all(r.success for r in results) and len({r.id for r in results}) == 20
    assert result_reads() == ["successfulResults"]
    emu.reset_log("salesforce")
    # One row refused: its error comes from the failed file; nothing was left unprocessed.
    records = [_lead(n) for n in range(100, 110)]
    records[3] = _lead(103, Company="")
    results = client.bulk_insert("Lead", records, key_field="Email")
    assert [r.success for r in results].count(False) == 1
    assert results[3].errors[0].status_code == "REQUIRED_FIELD_MISSING"
    assert result_reads() == ["successfulResults", "failedResults"]
    emu.reset_log("salesforce")
    # Every row refused: no successful file to read.
    refused = [_lead(n, Company="") for n in range(200, 203)]
    results = client.bulk_insert("Lead", refused, key_field="Email")
    assert not any(r.success for r in results)
    assert result_reads() == ["failedResults"]


def test_bulk_insert_campaign_members_keyed_by_lead_id(emu):
    client = _client(emu)
    leads = client.create("Lead", [_lead(n) for n in range(3)])
    cid = client.find_campaigns(["Spring Webinar 2026"])[0]["Id"]
    members = [{"CampaignId": cid, "LeadId": r.id, "Status": "Sent"} for r in leads]
    members.append({"CampaignId": cid, "LeadId": leads[0].id, "Status": "Sent"})
    first = client.bulk_insert("CampaignMember", members[:3], key_field="LeadId")
    assert all(r.success for r in first)
    again = client.bulk_insert("CampaignMember", members[3:], key_field="LeadId")
    assert again[0].errors[0].status_code == "DUPLICATE_VALUE"


def test_bulk_job_results_resolves_open_and_finished_jobs(emu):
    from simple_salesforce.bulk2 import Operation, SFBulk2Handler, _Bulk2Client

    client = _client(emu)
    sf = emu.salesforce(version="61.0")
    raw = _Bulk2Client(
        "Lead", sf.bulk2_url, SFBulk2Handler(sf.session_id, sf.bulk2_url).headers, sf.session
    )
    # A crash right after the job was recorded: still Open, nothing uploaded.
    open_job = raw.create_job(Operation.insert)["id"]
    assert client.bulk_job_results(open_job, "Email") == {}
    assert raw.get_job(open_job, False)["state"] == "Aborted"
    # A crash after upload + close, before the results were read.
    done_job = raw.create_job(Operation.insert)["id"]
    raw.upload_job_data(
        done_job,
        "Company,Email,LastName,Region__c\nAcme,Done1@Example.com,One,EMEA\n,done2@example.com,Two,EMEA\n",
    )
    raw.close_job(done_job)
    resolved = client.bulk_job_results(done_job, "Email")
    assert resolved["done1@example.com"].success and resolved["done1@example.com"].id
    assert resolved["done2@example.com"].errors[0].status_code == "REQUIRED_FIELD_MISSING"


def test_refusals_of_a_create_are_retried(emu):
    """503, 429 and a request-level UNABLE_TO_LOCK_ROW say "not done": sending again is safe."""
    client = _client(emu, retry=no_wait(max_attempts=6))
    emu.inject_fault(
        "salesforce", method="POST", path_regex="composite/sobjects", status=503, times=1
    )
    emu.inject_fault(
        "salesforce", method="POST", path_regex="composite/sobjects", status=429, times=1
    )
    emu.inject_fault(
        "salesforce",
        method="POST",
        path_regex="composite/sobjects",
        status=400,
        times=1,
        body=[{"errorCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access"}],
    )
    results = client.create("Lead", [_lead(1), _lead(2)])
    assert all(r.success for r in results)
    posts = [r["status"] for r in _log(emu) if r["path"].endswith("/composite/sobjects")]
    assert posts == [503, 429, 400, 200]
    assert client.calls == len(_log(emu))
    assert len(client.find_by_emails("Lead", ["lead1@example.com", "lead2@example.com"])) == 2


@pytest.mark.parametrize(
    ("fault", "applied", "status"),
    [
        ({"drop_connection": True}, False, None),  # lost on the way in
        ({"drop_connection": "after"}, True, None),  # applied, the answer lost
        ({"status": 500}, False, 500),
        ({"status": 502}, False, 502),
        ({"status": 504}, False, 504),
    ],
)
def test_a_create_with_an_unknown_outcome_is_not_sent_again(emu, fault, applied, status):
    """The client cannot tell "lost on the way in" from "applied, answer lost": it sends the
    create once and says the outcome is unknown (ambiguous); the emulator shows which it was."""
    client = _client(emu, retry=no_wait(max_attempts=6))
    emu.inject_fault(
        "salesforce", method="POST", path_regex="composite/sobjects$", times=1, **fault
    )
    with pytest.raises(SalesforceError) as err:
        client.create("Lead", [_lead(1), _lead(2)])
    assert err.value.ambiguous and err.value.transient
    assert err.value.status == status
    assert "not sent again blindly" in str(err.value)
    posts = [r for r in _log(emu) if r["path"].endswith("/composite/sobjects")]
    assert len(posts) == 1  # exactly one attempt
    found = client.find_by_emails("Lead", ["lead1@example.com", "lead2@example.com"])
    assert len(found) == (2 if applied else 0)


def test_a_create_whose_answer_times_out_is_not_sent_again(emu):
    """A read timeout on a create that WAS applied (the emulator holds the answer until the
    client gives up): one POST, ambiguous, and the Leads exist exactly once."""
    client = SalesforceClient(_cfg(emu), retry=no_wait(max_attempts=6), timeout=(10.0, 0.3))
    emu.inject_fault(
        "salesforce",
        method="POST",
        path_regex="composite/sobjects$",
        drop_connection="after",
        hold_ms=60_000,
        times=1,
    )
    with pytest.raises(SalesforceError) as err:
        client.create("Lead", [_lead(1)])
    assert err.value.ambiguous and "ReadTimeout" in str(err.value)
    assert [r["path"] for r in _log(emu)].count("/services/data/v61.0/composite/sobjects") == 1
    assert len(client.find_by_emails("Lead", ["lead1@example.com"])) == 1


def test_a_create_that_cannot_connect_is_retried(emu):
    """Connection refused: the request never left, so it is retried (not ambiguous)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens
    cfg = _cfg(emu)
    cfg = SalesforceConfig(
        instance_url=f"https://127.0.0.1:{port}",
        auth=cfg.auth,
        ca_bundle=cfg.ca_bundle,
        api_version="61.0",
        pos=POS,
    )
    client = SalesforceClient(cfg, retry=no_wait(max_attempts=3))
    with pytest.raises(SalesforceError) as err:
        client.create("Lead", [_lead(1)])
    assert err.value.transient and not err.value.ambiguous
    assert client.calls == 3


def test_reads_are_retried_even_when_the_answer_is_lost(emu):
    """Queries are idempotent: a lost answer or a 502 is simply asked again."""
    client = _client(emu)
    emu.inject_fault(
        "salesforce", method="GET", path_regex="/query", drop_connection="after", times=1
    )
    emu.inject_fault("salesforce", method="GET", path_regex="/query", status=502, times=1)
    assert len(client.find_by_emails("Lead", ["grace@example.com"])) == 1
    assert [r["status"] for r in _log(emu) if "/query" in r["path"]] == [0, 502, 200]


def test_transient_after_budget_is_marked_transient(emu):
    client = _client(emu, retry=no_wait(max_attempts=2))
    emu.inject_fault("salesforce", method="GET", path_regex="/query", status=500, times=5)
    with pytest.raises(SalesforceError) as err:
        client.find_by_emails("Lead", ["a@example.com"])
    assert err.value.transient
    assert client.calls == 2 == len(_log(emu))


def test_bulk_steps_are_retried(emu):
    client = _client(emu)
    emu.inject_fault("salesforce", method="PUT", path_regex="/batches", status=503, times=1)
    emu.inject_fault(
        "salesforce", method="GET", path_regex="successfulResults", drop_connection=True, times=1
    )
    results = client.bulk_insert("Lead", [_lead(1), _lead(2)], key_field="Email")
    assert all(r.success for r in results)
    assert client.calls == len(_log(emu))


def test_expired_token_is_renewed_once_with_the_password_form(emu):
    client = _client(emu, auth=_password_auth(emu))
    assert client.describe("Lead").name == "Lead"
    emu.control("salesforce", "POST", "/__emulator/expire-token")
    assert len(client.find_by_emails("Lead", ["grace@example.com"])) == 1
    log = _log(emu)
    assert [r["path"] for r in log].count("/services/oauth2/token") == 2
    assert [r["status"] for r in log if "/query" in r["path"]] == [401, 200]
    assert client.calls == len(log)


def test_expired_access_token_gives_session_expired(emu):
    client = _client(emu)
    client.describe("Lead")
    emu.control("salesforce", "POST", "/__emulator/expire-token")
    with pytest.raises(SessionExpired) as err:
        client.find_by_emails("Lead", ["grace@example.com"])
    assert "new token" in str(err.value)
    assert emu.access_token not in str(err.value)


def test_wrong_password_is_a_login_error_without_secrets(emu):
    from leadsync.salesforce.errors import LoginFailed

    auth = PasswordAuth(
        username=USER["username"],
        password=Secret("nope-xyz"),
        security_token=Secret("tok"),
        consumer_key=APP["consumer_key"],
        consumer_secret=Secret(APP["consumer_secret"]),
        login_url=emu.sf_instance_url,
    )
    with pytest.raises(LoginFailed) as err:
        _client(emu, auth=auth).describe("Lead")
    assert "invalid_grant" in str(err.value)
    assert "nope-xyz" not in str(err.value) and "app-secret" not in str(err.value)


def test_request_limit_exceeded_stops_without_retry(emu):
    client = _client(emu)
    client.describe("Lead")
    assert client.api_usage() is not None
    emu.control("salesforce", "POST", "/__emulator/limits", json={"used": 500, "total": 500})
    with pytest.raises(RequestLimitExceeded) as err:
        client.create("Lead", [_lead(1)])
    assert err.value.exit_code == 3
    assert [r["path"].endswith("composite/sobjects") for r in _log(emu)].count(True) == 1


def test_api_usage_tracks_sforce_limit_info(emu):
    client = _client(emu)
    emu.control("salesforce", "POST", "/__emulator/limits", json={"used": 10, "total": 1000})
    client.describe("Lead")
    used, total = client.api_usage()
    assert total == 1000 and used >= 10
    client.bulk_insert("Lead", [_lead(1)], key_field="Email")
    assert client.api_usage()[0] > used  # bulk responses are read too


def test_transient_record_codes():
    assert is_transient_code("UNABLE_TO_LOCK_ROW")
    assert not is_transient_code("REQUIRED_FIELD_MISSING")


def test_jwt_and_soap_logins_at_login_url(emulator_factory, tmp_path, app_keys, other_keys):
    """The JWT and SOAP forms log in at login_url (not *.salesforce.com); a refusal is one
    clear LoginFailed with Salesforce's code and no secret in it."""
    from leadsync.config.model import JwtAuth
    from leadsync.salesforce.errors import LoginFailed

    emu = emulator_factory(_seed(connected_apps=[{**APP, "certificate": app_keys.certificate_pem}]))
    good, bad = tmp_path / "app.key", tmp_path / "other.key"
    good.write_text(app_keys.private_pem)
    bad.write_text(other_keys.private_pem)

    def jwt_auth(path, **over):
        return JwtAuth(USER["username"], APP["consumer_key"], str(path), **{
            "login_url": emu.sf_instance_url, **over})  # fmt: skip

    assert _client(emu, auth=jwt_auth(good)).describe("Lead").name == "Lead"
    with pytest.raises(LoginFailed) as err:
        _client(emu, auth=jwt_auth(bad)).describe("Lead")
    assert "invalid_grant" in str(err.value) and "invalid assertion" in str(err.value)
    with pytest.raises(LoginFailed, match="audience is invalid"):  # a production org
        _client(emu, auth=jwt_auth(good, domain="test")).describe("Lead")
    with pytest.raises(LoginFailed, match="private_key_file"):
        _client(emu, auth=jwt_auth(tmp_path / "nope.key")).describe("Lead")

    def soap(password, login_url=emu.sf_instance_url):
        return PasswordAuth(
            username=USER["username"],
            password=Secret(password),
            security_token=Secret(USER["security_token"]),
            login_url=login_url,
        )

    assert _client(emu, auth=soap(USER["password"])).describe("Lead").name == "Lead"
    with pytest.raises(LoginFailed) as err:
        _client(emu, auth=soap("wrong-xyz")).describe("Lead")
    assert err.value.code == "INVALID_LOGIN" and "wrong-xyz" not in str(err.value)
    soap_paths = [r["path"] for r in _log(emu) if "Soap" in r["path"]]
    assert soap_paths == ["/services/Soap/u/61.0"] * 2


def test_soap_login_at_a_wrong_url_does_not_blame_the_credentials(emu):
    """A login_url that is no Salesforce login host answers 404 without SOAP: the message
    names the endpoint and the setting, not the user's password."""
    from leadsync.salesforce.errors import LoginFailed

    auth = PasswordAuth(
        username=USER["username"],
        password=Secret(USER["password"]),
        security_token=Secret(USER["security_token"]),
        login_url=emu.sf_instance_url + "/not-a-login-host",
    )
    with pytest.raises(LoginFailed) as err:
        _client(emu, auth=auth).describe("Lead")
    assert err.value.code == "LOGIN_ENDPOINT"
    assert "HTTP 404" in str(err.value) and "login_url" in str(err.value)
    assert "refused" not in str(err.value) and USER["password"] not in str(err.value)


def test_soap_login_5xx_without_soap_is_retried(emu):
    auth = PasswordAuth(
        username=USER["username"],
        password=Secret(USER["password"]),
        security_token=Secret(USER["security_token"]),
        login_url=emu.sf_instance_url,
    )
    emu.inject_fault("salesforce", path_regex="/services/Soap/", status=503, body="busy", times=1)
    assert _client(emu, auth=auth).describe("Lead").name == "Lead"
    assert [r["status"] for r in _log(emu) if "Soap" in r["path"]] == [503, 200]


def test_permanent_errors_are_not_retried_and_bodies_are_checked(emu):
    client = _client(emu)
    with pytest.raises(SalesforceError) as err:
        list(client.query("SELECT Nope__c FROM Lead"))
    assert not err.value.transient and err.value.code in ("INVALID_FIELD", "MALFORMED_QUERY")
    assert client.calls == 1
    emu.inject_fault(
        "salesforce", method="GET", path_regex="/query", status=200, body="<html>proxy</html>"
    )
    with pytest.raises(SalesforceError) as err:
        list(client.query("SELECT Id FROM Lead"))
    assert err.value.code == "UNEXPECTED_RESPONSE"
    assert client.calls == 2 == len(_log(emu))


def test_retry_after_is_honoured_on_429(emu):
    from leadsync.retry import RetryPolicy

    slept: list[float] = []
    client = SalesforceClient(_cfg(emu), retry=RetryPolicy(max_attempts=3, sleep=slept.append))
    emu.inject_fault(
        "salesforce",
        method="GET",
        path_regex="describe",
        status=429,
        times=1,
        headers={"Retry-After": "7"},
    )
    assert client.describe("Lead").name == "Lead"
    assert slept == [7.0]


def test_records_locked_in_a_collection_are_resubmitted_alone(emu):
    client = _client(emu)
    locked = {
        "success": False,
        "errors": [
            {
                "statusCode": "UNABLE_TO_LOCK_ROW",
                "message": "unable to obtain exclusive access",
                "fields": [],
            }
        ],
    }
    ok = {"success": True, "id": "00Q000000000001AAA", "errors": []}
    emu.inject_fault(
        "salesforce",
        method="POST",
        path_regex="composite/sobjects$",
        status=200,
        times=1,
        body=[ok, locked, ok],
    )
    results = client.create("Lead", [_lead(1), _lead(2), _lead(3)])
    assert [r.success for r in results] == [True, True, True]
    assert results[0].id == "00Q000000000001AAA" and results[1].id != results[0].id
    assert [r["Email"] for r in client.find_by_emails("Lead", ["lead2@example.com"])] == [
        "lead2@example.com"
    ]
    # still locked after the budget: returned (not raised), with a transient code
    stuck = no_wait(max_attempts=2)
    client = _client(emu, retry=stuck)
    emu.inject_fault(
        "salesforce",
        method="POST",
        path_regex="composite/sobjects$",
        status=200,
        times=2,
        body=[locked],
    )
    [result] = client.create("Lead", [_lead(9)])
    assert not result.success and is_transient_code(result.errors[0].status_code)


def test_lead_assignment_is_sent_alike_on_collections_and_bulk(emulator_factory):
    """One rule for both write paths; `active` is looked up once per client (one SOQL)."""
    from leadsync.salesforce.assignment import LeadAssignment

    rep = {"username": "rep@leadsync.test", "password": "pw"}
    emu = emulator_factory(
        _seed(
            users=[USER, rep],
            assignment_rules=[{"name": "Route", "active": True, "owner": rep["username"]}],
        )
    )
    client = _client(emu)

    def lead(n: int) -> dict:
        return {"LastName": f"A{n}", "Company": "Co", "Region__c": "EMEA", "Email": f"a{n}@x.io"}

    active = LeadAssignment("active")
    client.create("Lead", [lead(1)], assignment=active)
    client.bulk_insert("Lead", [lead(2)], key_field="Email", assignment=active)
    client.bulk_insert("Lead", [lead(3)], key_field="Email", assignment=active)
    client.bulk_insert("Lead", [lead(4)], key_field="Email", assignment=LeadAssignment("none"))
    client.create("Lead", [lead(5)], assignment=LeadAssignment("none"))
    rows = client.query("SELECT Email, Owner.Username FROM Lead WHERE Company = 'Co'")
    owners = {r["Email"]: r["Owner"]["Username"] for r in rows}
    assert owners == {
        "a1@x.io": rep["username"],
        "a2@x.io": rep["username"],
        "a3@x.io": rep["username"],
        "a4@x.io": USER["username"],
        "a5@x.io": USER["username"],
    }
    queries = [
        r for r in emu.requests_log("salesforce")["requests"] if "AssignmentRule" in r["query"]
    ]
    assert len(queries) == 1


def test_a_failed_call_names_its_endpoint_status_and_request_id(emu):
    """What Salesforce support needs to find the request: the error ends with the endpoint, the
    status and the X-SFDC-Request-Id of the last answer; a create's 500 (outcome unknown) too."""
    client = _client(emu, retry=no_wait(max_attempts=2))
    emu.inject_fault("salesforce", method="GET", path_regex="/describe$", status=503, times=2)
    with pytest.raises(SalesforceError) as err:
        client.describe("Lead")
    last = _log(emu)[-1]
    assert str(err.value).endswith(
        f"after 2 attempts [GET {emu.sf_instance_url}/services/data/v61.0/sobjects/Lead/describe"
        f" -> 503, request id {last['request_id']}]"
    )
    emu.inject_fault("salesforce", method="POST", path_regex="composite/sobjects", status=500)
    with pytest.raises(SalesforceError) as err:
        client.create("Lead", [_lead(1)])
    assert err.value.ambiguous
    assert str(err.value).endswith(f"-> 500, request id {_log(emu)[-1]['request_id']}]")
    assert emu.access_token not in str(err.value)


KEY = "Leadsync_Key__c"
KEY_FIELD = {"name": KEY, "type": "string", "length": 255, "unique": True, "external_id": True}


@pytest.fixture
def keyed(emulator_factory):
    seed = _seed()
    seed["salesforce"]["lead_fields"].append(dict(KEY_FIELD))
    return emulator_factory(seed)


def test_describe_reads_external_id_and_unique(keyed):
    key = _client(keyed).describe("Lead").fields[KEY]
    assert (key.external_id, key.unique, key.createable) == (True, True, True)
    assert not _client(keyed).describe("Lead").fields["Email"].external_id


def test_upsert_creates_then_updates_and_says_which(keyed):
    client = _client(keyed)
    records = [_lead(n, **{KEY: f"uk:{n}"}) for n in range(205)]
    records[3] = _lead(3, Company=None, **{KEY: "uk:3"})
    first = client.upsert("Lead", records, KEY)
    assert [i for i, r in enumerate(first) if not r.success] == [3]
    assert first[3].errors[0].status_code == "REQUIRED_FIELD_MISSING" and first[3].created is None
    assert {r.created for r in first if r.success} == {True}
    again = client.upsert("Lead", [_lead(1, LastName="Again", **{KEY: "UK:1"})], KEY)
    assert (again[0].id, again[0].created) == (first[1].id, False)
    patches = [r for r in _log(keyed) if r["method"] == "PATCH"]
    assert {r["path"] for r in patches} == {f"/services/data/v61.0/composite/sobjects/Lead/{KEY}"}
    assert len(patches) == 3  # 200 + 5, then 1
    assert client.find_by("Lead", KEY, ["uk:1"], fields=("Id", "LastName")) == [
        {"Id": first[1].id, "LastName": "Again"}
    ]


@pytest.mark.parametrize(
    "fault", [{"drop_connection": "after"}, {"status": 502}], ids=["answer-lost", "502"]
)
def test_an_upsert_with_an_unknown_outcome_is_sent_again_safely(keyed, fault):
    """An upsert is idempotent: where a create is never re-sent blindly, the upsert is simply
    asked again, and each key still has one Lead (the repeat updates what the first made)."""
    client = _client(keyed, retry=no_wait(max_attempts=4))
    keyed.inject_fault(
        "salesforce", method="PATCH", path_regex="composite/sobjects/Lead/", times=1, **fault
    )
    results = client.upsert("Lead", [_lead(1, **{KEY: "uk:1"}), _lead(2, **{KEY: "uk:2"})], KEY)
    assert all(r.success for r in results)
    applied = "drop_connection" in fault
    assert {r.created for r in results} == {not applied}
    assert [r["status"] for r in _log(keyed) if r["method"] == "PATCH"] == [
        0 if applied else 502,
        200,
    ]
    assert len(client.find_by("Lead", KEY, ["uk:1", "uk:2"])) == 2


def test_bulk_upsert_reports_created_and_the_job_before_upload(keyed):
    client = _client(keyed)
    client.upsert("Lead", [_lead(0, **{KEY: "uk:0"})], KEY)
    records = [_lead(n, **{KEY: f"uk:{n}"}) for n in range(4)]
    records[2] = _lead(2, Region__c="MARS", **{KEY: "uk:2"})
    jobs: list[tuple[str, bool]] = []

    def on_job(job_id):
        jobs.append((job_id, any(r["path"].endswith("/batches") for r in _log(keyed))))

    results = client.bulk_upsert(
        "Lead", records, external_id_field=KEY, key_field="Email", on_job=on_job
    )
    assert len(jobs) == 1 and jobs[0][1] is False
    assert [(r.success, r.created) for r in results] == [
        (True, False),
        (True, True),
        (False, None),
        (True, True),
    ]
    assert results[2].errors[0].status_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    job = keyed.salesforce(version="61.0").restful(f"jobs/ingest/{jobs[0][0]}")
    assert (job["operation"], job["externalIdFieldName"]) == ("upsert", KEY)
    assert len(client.find_by("Lead", KEY, [f"uk:{n}" for n in range(4)])) == 3


def test_a_worker_client_shares_login_describes_and_usage_but_counts_its_own_calls(emu):
    """`sync --jobs N`: each worker thread gets a client of its own (a requests session is not
    shared between threads), without another login or describe, starting from the org's API
    usage the parent saw last; the calls of each are counted apart (the report adds them)."""
    import threading

    parent = _client(emu, _password_auth(emu))
    lead = parent.describe("Lead")  # login + describe
    assert parent.calls == 2
    workers = [parent.worker() for _ in range(3)]
    assert all(w.describe("Lead") is lead for w in workers)  # no request
    assert all(w.api_usage() == parent.api_usage() for w in workers)
    found: list[int] = []

    def query(client: SalesforceClient) -> None:
        found.append(len(client.find_by_emails("Lead", ["grace@example.com"], fields=("Id",))))

    threads = [threading.Thread(target=query, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [1, 1, 1]
    assert [w.calls for w in workers] == [1, 1, 1] and parent.calls == 2
    log = _log(emu)
    assert len(log) == 5
    assert sum("oauth2/token" in r["path"] for r in log) == 1  # one login for all
    # each worker reads the org's figure off its own answers (the parent's is older)
    assert all(w.api_usage()[0] > parent.api_usage()[0] for w in workers)


def test_field_updates_name_no_assignment_rule_on_either_write_path(emulator_factory):
    """Updates never re-route a Lead: the REST update says `Sforce-Auto-Assign: FALSE`
    (Salesforce's default TRUE re-runs the active rule on updates) and the Bulk update job names
    no rule, even with an active rule in the org. Only the fields given are written."""
    import json as _json

    import requests

    rep = {"username": "rep@leadsync.test", "password": "pw"}
    emu = emulator_factory(
        _seed(
            users=[USER, rep],
            assignment_rules=[{"name": "Route", "active": True, "owner": rep["username"]}],
        )
    )
    session = requests.Session()
    sent: list[tuple[str, str, str | None, str]] = []
    session.hooks["response"].append(
        lambda r, *_a, **_k: sent.append(
            (
                r.request.method,
                r.request.path_url,
                r.request.headers.get("Sforce-Auto-Assign"),
                r.request.body.decode()
                if isinstance(r.request.body, bytes)
                else str(r.request.body),
            )
        )
    )
    client = SalesforceClient(_cfg(emu), retry=no_wait(), session=session)
    [grace] = client.query("SELECT Id FROM Lead WHERE Email = 'grace@example.com'")
    results = client.update("Lead", [{"Id": grace["Id"], "Company": "Navy Yard"}])
    assert [r.success for r in results] == [True]
    results = client.bulk_update("Lead", [{"Id": grace["Id"], "FirstName": "Amazing Grace"}])
    assert [r.success for r in results] == [True]
    [row] = client.query("SELECT FirstName, Company FROM Lead WHERE Id = '" + grace["Id"] + "'")
    assert (row["FirstName"], row["Company"]) == ("Amazing Grace", "Navy Yard")
    patches = [s for s in sent if s[0] == "PATCH" and s[1].endswith("/composite/sobjects")]
    assert [s[2] for s in patches] == ["FALSE"]
    [job] = [_json.loads(s[3]) for s in sent if s[0] == "POST" and s[1].endswith("/jobs/ingest")]
    assert job["operation"] == "update" and "assignmentRuleId" not in job


def test_query_sized_tells_the_total_before_the_rows_and_bulk_reads_the_same(emulator_factory):
    """The update step looks at a change read's first page (totalSize) and reads more than a
    page through one Bulk API 2.0 queryAll job instead: both give the same records, the
    deleted one included (a Bulk CSV says `true` as text)."""
    emulator = emulator_factory(_seed())
    client = _client(emulator)
    doomed = client.query("SELECT Id FROM Lead WHERE Email = 'zoe@example.com'")
    emulator.salesforce().Lead.delete(next(iter(doomed))["Id"])
    soql = "SELECT Id, Email, IsDeleted FROM Lead ORDER BY Email"
    total, rows = client.query_sized(soql, include_deleted=True)
    rest = list(rows)
    assert total == len(rest) == 3
    bulk = list(client.bulk_query(soql, include_deleted=True))
    assert [r["Id"] for r in bulk] == [r["Id"] for r in rest]
    deleted = {r["Email"].lower(): r["IsDeleted"] for r in bulk}
    assert str(deleted["zoe@example.com"]).lower() == "true"


def test_retry_after_as_an_http_date_is_honoured(emu):
    """RFC 9110 allows Retry-After as an HTTP-date too: the client waits until that moment
    (measured on its own clock), not its own short backoff."""
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from leadsync.retry import RetryPolicy

    slept: list[float] = []
    client = SalesforceClient(_cfg(emu), retry=RetryPolicy(max_attempts=3, sleep=slept.append))
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=40), usegmt=True)
    emu.inject_fault(
        "salesforce",
        method="GET",
        path_regex="describe",
        status=503,
        times=1,
        headers={"Retry-After": when},
    )
    assert client.describe("Lead").name == "Lead"
    assert len(slept) == 1 and 30 < slept[0] <= 40, slept
    assert [r["status"] for r in _log(emu)] == [503, 200]


def test_the_total_deadline_stops_retrying(emu):
    """Each pause fits the attempts budget, but the third would end past the deadline: the
    client stops there with the last failure, transient, instead of retrying on."""
    from leadsync.retry import RetryPolicy

    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    policy = RetryPolicy(max_attempts=10, deadline=10.0, sleep=sleep, clock=lambda: now[0])
    client = SalesforceClient(_cfg(emu), retry=policy)
    emu.inject_fault(
        "salesforce",
        method="GET",
        path_regex="describe",
        status=503,
        times=10,
        headers={"Retry-After": "4"},
    )
    with pytest.raises(SalesforceError) as err:
        client.describe("Lead")
    assert err.value.transient and err.value.status == 503
    assert "after 3 attempts" in str(err.value)
    assert slept == [4.0, 4.0]
    assert client.calls == 3 == len(_log(emu))


def test_retry_pauses_are_full_jitter_within_the_cap(emu):
    """Four refusals, four pauses: each a random share of min(cap, base * 2**n), never more."""
    from leadsync.retry import RetryPolicy

    slept: list[float] = []
    client = SalesforceClient(
        _cfg(emu), retry=RetryPolicy(max_attempts=5, base=1.0, cap=2.0, sleep=slept.append)
    )
    emu.inject_fault("salesforce", method="GET", path_regex="describe", status=503, times=4)
    assert client.describe("Lead").name == "Lead"
    assert len(slept) == 4
    assert all(0.0 <= s <= ceiling for s, ceiling in zip(slept, [1.0, 2.0, 2.0, 2.0], strict=True))
