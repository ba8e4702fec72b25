"""DotdigitalClient against the real Dotdigital emulator over HTTP: paging, limits, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadsync.config.model import DotdigitalConnection, Pos, Secret
from leadsync.dotdigital.client import DotdigitalClient
from leadsync.dotdigital.errors import DotdigitalAuthError, DotdigitalError, RateLimited
from leadsync.retry import no_wait

PASSWORD = "s3cret-pass-Δ"
OLD = "2024-01-01T00:00:00Z"


def _seed(**account_extra):
    account = {
        "name": "uk",
        "username": "apiuser-uk@apiconnector.com",
        "password": PASSWORD,
        "datafields": [{"name": "COMPANY", "type": "String"}],
        "address_books": [
            {
                "name": "Webinar signups",
                "contacts": [
                    {
                        "email": "o'brien@example.com",
                        "datafields": {
                            "FIRSTNAME": "Siobhán",
                            "LASTNAME": "O'Brien",
                            "COMPANY": "Ceol",
                        },
                        "added_at": OLD,
                    }
                ],
                "generate": {
                    "count": 11,
                    "email": "member{n}@example.com",
                    "datafields": {"FIRSTNAME": "First{n}", "COMPANY": "Co{n}"},
                    "added_at": OLD,
                },
            },
            {"name": "Newsletter"},
        ],
    }
    account.update(account_extra)
    return {"dotdigital": {"accounts": [account]}}


def _client(emu, account="uk", password=None, retry=None):
    user, pw = emu.dd_auth(account)
    conn = DotdigitalConnection(
        endpoint=emu.dd_endpoint,
        region=None,
        username=Secret(user),
        password=Secret(password or pw),
        pos=Pos("leadsync.yaml", 1, 1),
    )
    return DotdigitalClient(conn, retry=retry or no_wait(), account=account)


def _logged(emu):
    return len(emu.requests_log("dotdigital")["requests"])


def test_address_books_page_until_a_short_page(emulator_factory):
    books = [{"name": f"Book {n:04d}"} for n in range(2050)]
    emu = emulator_factory(_seed(address_books=books))
    client = _client(emu)
    found = client.address_books()
    assert len(found) == 2050
    assert {b.name for b in found} == {f"Book {n:04d}" for n in range(2050)}
    assert client.calls == 3 == _logged(emu)
    skips = [r["query"] for r in emu.requests_log("dotdigital")["requests"]]
    assert any("skip=2000" in q for q in skips)


def test_v3_members_marker_paging_and_conversion(emulator_factory):
    emu = emulator_factory(_seed())
    client = _client(emu)
    book = next(b for b in client.address_books() if b.name == "Webinar signups")
    pages = list(client.book_members(book.id, datafields=["FIRSTNAME", "COMPANY"], page_size=5))
    assert [len(p) for p in pages] == [5, 5, 2]
    members = [c for page in pages for c in page]
    emails = {c.email for c in members}
    assert "o'brien@example.com" in emails and "member0@example.com" in emails
    obrien = next(c for c in members if c.email == "o'brien@example.com")
    assert obrien.datafields["FIRSTNAME"] == "Siobhán"
    assert obrien.datafields["COMPANY"] == "Ceol"
    assert obrien.updated is not None and obrien.updated.tzinfo is not None
    assert all(isinstance(c.id, int) and c.id for c in members)
    log = emu.requests_log("dotdigital")["requests"]
    v3 = [r for r in log if r["path"] == "/contacts/v3"]
    assert len(v3) == 3
    assert "marker=" not in v3[0]["query"] and all("marker=" in r["query"] for r in v3[1:])
    assert client.calls == len(log)


def test_modified_since_returns_only_newer_members(emulator_factory):
    emu = emulator_factory(_seed())
    client = _client(emu)
    book = next(b for b in client.address_books() if b.name == "Webinar signups")
    since = client.server_time() - timedelta(seconds=1)
    assert since.tzinfo is not None
    added = client.add_contact_to_book(book.id, "new.member@example.com", {"FIRSTNAME": "Nova"})
    assert added.email == "new.member@example.com"
    newer = [c for page in client.book_members(book.id, modified_since=since) for c in page]
    assert [c.email for c in newer] == ["new.member@example.com"]
    everything = [c for page in client.book_members(book.id) for c in page]
    assert len(everything) == 13


def test_datafields_and_create(emulator_factory):
    emu = emulator_factory(_seed())
    client = _client(emu)
    names = {d.name for d in client.datafields()}
    assert {"FIRSTNAME", "LASTNAME", "COMPANY"} <= names
    created = client.create_datafield("REGION", "String")
    assert created.name == "REGION" and created.type == "String"
    with pytest.raises(DotdigitalError) as err:
        client.create_datafield("REGION", "String")
    assert err.value.code == "ERROR_NON_UNIQUE_DATAFIELD"
    assert not err.value.transient


def test_bad_credentials_name_the_account_never_the_password(emulator_factory):
    emu = emulator_factory(_seed())
    client = _client(emu, password="wrong-" + PASSWORD)
    with pytest.raises(DotdigitalAuthError) as err:
        client.address_books()
    text = str(err.value)
    assert "'uk'" in text and "401" in text
    assert PASSWORD not in text and "apiuser-uk" not in text


def test_injected_503_429_and_dropped_connections_are_retried(emulator_factory):
    emu = emulator_factory(_seed())
    client = _client(emu)
    emu.inject_fault("dotdigital", method="GET", path_regex="address-books", status=503, times=1)
    emu.inject_fault("dotdigital", method="GET", path_regex="address-books", status=429, times=1)
    emu.inject_fault(
        "dotdigital", method="GET", path_regex="address-books", drop_connection=True, times=1
    )
    assert len(client.address_books()) == 2
    log = emu.requests_log("dotdigital")["requests"]
    assert [r["status"] for r in log] == [503, 429, 0, 200]
    assert client.calls == 4


def test_transient_failure_after_the_budget_is_marked_transient(emulator_factory):
    emu = emulator_factory(_seed())
    client = _client(emu, retry=no_wait(max_attempts=3))
    emu.inject_fault("dotdigital", method="GET", path_regex="data-fields", status=502, times=5)
    with pytest.raises(DotdigitalError) as err:
        client.datafields()
    assert err.value.transient and err.value.status == 502
    assert client.calls == 3 == _logged(emu)


def test_rate_limit_beyond_the_budget_raises_rate_limited(emulator_factory):
    emu = emulator_factory(_seed(rate_limit={"requests": 2, "per_seconds": 3600}))
    client = _client(emu)
    client.datafields()
    client.datafields()
    with pytest.raises(RateLimited) as err:
        client.datafields()
    assert err.value.exit_code == 3
    assert err.value.reset_at is not None and err.value.reset_at > datetime.now(UTC).timestamp()
    assert client.calls == 3 == _logged(emu)  # a reset an hour away is not waited for


def test_non_json_body_is_a_clear_error(emulator_factory):
    emu = emulator_factory(_seed())
    client = _client(emu)
    emu.inject_fault(
        "dotdigital", method="GET", path_regex="server-time", status=200, body="<html>proxy</html>"
    )
    with pytest.raises(DotdigitalError) as err:
        client.server_time()
    assert "unexpected body" in str(err.value) and "<html>proxy</html>" in str(err.value)
    assert err.value.status == 200


def test_rate_limit_reset_within_the_budget_is_waited_for(emulator_factory):
    """The wait the client asks for moves the emulator's clock instead of the test sleeping."""
    import time as _time

    from leadsync.retry import RetryPolicy

    emu = emulator_factory(_seed(rate_limit={"requests": 2, "per_seconds": 30}))
    offset = [0.0]
    slept: list[float] = []

    def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        offset[0] += seconds + 1
        emu.control("dotdigital", "POST", "/__emulator/clock", json={"offset_seconds": offset[0]})

    user, pw = emu.dd_auth("uk")
    conn = DotdigitalConnection(emu.dd_endpoint, None, Secret(user), Secret(pw), Pos("x", 1, 1))
    client = DotdigitalClient(
        conn,
        account="uk",
        retry=RetryPolicy(max_attempts=3, max_wait=60, sleep=fake_sleep),
        clock=lambda: _time.time() + offset[0],
    )
    for _ in range(3):
        client.datafields()
    assert len(slept) == 1 and 0 < slept[0] <= 31
    statuses = [r["status"] for r in emu.requests_log("dotdigital")["requests"]]
    assert statuses == [200, 200, 429, 200]
    assert client.calls == 4


def test_the_total_deadline_stops_retrying(emulator_factory):
    """A 502 that does not pass: backoff pauses of 4 s fit five attempts, but the third pause
    would end past the 10 s deadline, so the client gives up after three requests."""
    from leadsync.retry import RetryPolicy

    emu = emulator_factory(_seed())
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    policy = RetryPolicy(
        max_attempts=5,
        base=4.0,
        cap=4.0,
        rng=lambda: 1.0,
        deadline=10.0,
        sleep=sleep,
        clock=lambda: now[0],
    )
    client = _client(emu, retry=policy)
    emu.inject_fault("dotdigital", method="GET", path_regex="data-fields", status=502, times=9)
    with pytest.raises(DotdigitalError) as err:
        client.datafields()
    assert err.value.transient and "after 3 attempts" in str(err.value)
    assert client.calls == 3 == _logged(emu)
