"""Generated books: members computed lazily from their index, paging O(page), control routes,
and the 1,000,000-member load figures (printed, never asserted on time)."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import yaml

from leadsync.emulator.dotdigital.models import DotdigitalBackend

ISSUE_SEED = """
dotdigital:
  accounts:
    - name: uk
      username: apiuser-uk@apiconnector.com
      password: demo-password
      datafields: [{name: COMPANY, type: String}]   # FIRSTNAME LASTNAME FULLNAME GENDER POSTCODE always exist
      address_books:
        - name: Webinar signups
          contacts:
            - email: ada@example.com
              datafields: {FIRSTNAME: Ada, LASTNAME: Lovelace, COMPANY: Analytical Engines}
"""


def _gen_seed(dd_seed, **generate):
    book = dd_seed["accounts"][0]["address_books"][0]
    book["generate"] = {
        "count": 10,
        "email": "member{n}@example.com",
        "datafields": {"FIRSTNAME": "First{n}", "LASTNAME": "Last{n}", "COMPANY": "Co{n}"},
        "added_at": "2024-02-01T00:00:00Z",
        **generate,
    }
    return dd_seed


def _book(dd):
    return dd.get("/v2/address-books").json()[0]["id"]


def test_issue_seed_example_validates_as_written(dd_factory):
    section = yaml.safe_load(ISSUE_SEED)["dotdigital"]
    dd = dd_factory(section)  # validates against seed.schema.json first
    assert dd.get("/v2/contacts/ada@example.com").status_code == 200


def test_generated_members_follow_their_patterns(dd_factory, dd_seed):
    dd = dd_factory(_gen_seed(dd_seed, count=5, start=100))
    book = _book(dd)
    assert dd.get(f"/v2/address-books/{book}").json()["contacts"] == 6
    members = dd.get(f"/v2/address-books/{book}/contacts?withFullData=true").json()
    assert [m["email"] for m in members] == ["ada@example.com"] + [
        f"member{n}@example.com" for n in range(100, 105)
    ]
    values = {d["key"]: d["value"] for d in members[1]["dataFields"]}
    assert (values["FIRSTNAME"], values["LASTNAME"], values["COMPANY"]) == (
        "First100",
        "Last100",
        "Co100",
    )
    by_id = dd.get(f"/v2/contacts/{members[1]['id']}").json()
    assert by_id == members[1]
    assert dd.get("/v2/contacts/member104@example.com").json() == members[5]
    assert dd.get("/v2/contacts/member105@example.com").status_code == 404
    assert dd.get("/v2/contacts/member99@example.com").status_code == 404


def test_missing_share_is_deterministic_and_close(dd_factory, dd_seed):
    dd = dd_factory(_gen_seed(dd_seed, count=2000, missing_share=0.25, missing=["COMPANY"]))
    book = _book(dd)
    body = dd.get(f"/contacts/v3?~listId={book}&limit=5000&data-fields=FIRSTNAME|COMPANY").json()
    items = [i for i in body["_items"] if i["identifiers"]["email"].startswith("member")]
    blank = [i for i in items if i["dataFields"]["COMPANY"] is None]
    assert all(i["dataFields"]["FIRSTNAME"] for i in items)  # only COMPANY goes missing
    assert 0.2 < len(blank) / len(items) < 0.3
    again = dd.get(f"/contacts/v3?~listId={book}&limit=5000&data-fields=COMPANY").json()
    assert [i["dataFields"]["COMPANY"] for i in again["_items"]] == [
        i["dataFields"]["COMPANY"] for i in body["_items"]
    ]


def test_v2_paging_deep_into_a_large_generated_book(dd_factory, dd_seed):
    dd = dd_factory(_gen_seed(dd_seed, count=200_000))
    book = _book(dd)
    page = dd.get(f"/v2/address-books/{book}/contacts?select=3&skip=199998").json()
    assert [m["email"] for m in page] == [
        "member199997@example.com",
        "member199998@example.com",
        "member199999@example.com",
    ]
    assert dd.get(f"/v2/address-books/{book}/contacts?skip=200001").json() == []


def test_modifying_a_generated_member_materialises_it(dd_factory, dd_seed):
    dd = dd_factory(_gen_seed(dd_seed, count=100_000))
    book = _book(dd)
    now = dd.get("/v2/server-time").json()
    r = dd.post(
        f"/v2/address-books/{book}/contacts",
        json={
            "email": "member5000@example.com",
            "dataFields": [{"key": "COMPANY", "value": "Changed"}],
        },
    )
    assert r.status_code == 200
    assert dd.get(f"/v2/address-books/{book}").json()["contacts"] == 100_001  # still one member
    acct = dd.backend.accounts["uk"]
    assert len(acct.contacts) == 2  # ada + the one touched member
    changed = dd.get(
        f"/v2/address-books/{book}/contacts/modified-since/{now}?withFullData=true"
    ).json()
    assert [c["email"] for c in changed] == ["member5000@example.com"]
    assert {d["key"]: d["value"] for d in changed[0]["dataFields"]}["COMPANY"] == "Changed"
    assert {d["key"]: d["value"] for d in changed[0]["dataFields"]}["FIRSTNAME"] == "First5000"
    items = dd.get(f"/contacts/v3?~listId={book}&~modified=gte::{now}").json()["_items"]
    assert [i["identifiers"]["email"] for i in items] == ["member5000@example.com"]
    assert items[0]["created"] == "2024-02-01T00:00:00.000Z"


def test_same_pattern_in_two_books_is_the_same_contact(dd_factory, dd_seed):
    dd_seed["accounts"][0]["address_books"].append(
        {"name": "Other", "generate": {"count": 5, "start": 3, "email": "member{n}@example.com"}}
    )
    dd = dd_factory(_gen_seed(dd_seed, count=5))
    books = {b["name"]: b["id"] for b in dd.get("/v2/address-books").json()}
    first = {
        c["email"]: c["id"]
        for c in dd.get(f"/v2/address-books/{books['Webinar signups']}/contacts").json()
    }
    other = {
        c["email"]: c["id"] for c in dd.get(f"/v2/address-books/{books['Other']}/contacts").json()
    }
    assert other["member3@example.com"] == first["member3@example.com"]
    assert other["member4@example.com"] == first["member4@example.com"]
    everyone, marker = [], ""
    while True:
        body = dd.get(f"/contacts/v3?limit=4{marker}").json()
        everyone += body["_items"]
        if "next" not in body["_links"]:
            break
        marker = "&marker=" + body["_links"]["next"]["marker"]
    emails = [c["identifiers"]["email"] for c in everyone]
    assert len(emails) == len(set(emails)) == 1 + 8  # ada + member0..member7, each once


def test_generate_control_route_adds_members_now(dd):
    book = _book(dd)
    before = dd.get("/v2/server-time").json()
    r = dd.post(
        f"/__emulator/accounts/uk/address-books/{book}/generate",
        auth=None,
        json={"count": 1000, "email": "wave{n}@example.com", "datafields": {"FIRSTNAME": "W{n}"}},
    )
    assert r.status_code == 201
    assert r.json()["address_book"]["contacts"] == 1001
    assert r.json()["generated"]["count"] == 1000
    items = dd.get(f"/contacts/v3?~listId={book}&~modified=gte::{before}&limit=5000").json()[
        "_items"
    ]
    assert len(items) == 1000 and items[0]["identifiers"]["email"] == "wave0@example.com"
    # by book name too
    r = dd.post(
        "/__emulator/accounts/uk/address-books/Webinar signups/generate",
        auth=None,
        json={"count": 1, "email": "late{n}@example.com"},
    )
    assert r.status_code == 201


def test_generate_control_route_errors(dd):
    book = _book(dd)
    r = dd.post(
        f"/__emulator/accounts/nope/address-books/{book}/generate", auth=None, json={"count": 1}
    )
    assert (r.status_code, r.json()) == (404, {"error": "no account named 'nope'"})
    r = dd.post(
        "/__emulator/accounts/uk/address-books/99999/generate", auth=None, json={"count": 1}
    )
    assert (r.status_code, r.json()) == (404, {"error": "account 'uk' has no address book '99999'"})
    r = dd.post(
        f"/__emulator/accounts/uk/address-books/{book}/generate", auth=None, json={"count": -1}
    )
    assert (r.status_code, r.json()) == (
        400,
        {"error": "generate.count must be a non-negative integer"},
    )
    r = dd.post(
        f"/__emulator/accounts/uk/address-books/{book}/generate",
        auth=None,
        json={"count": 1, "email": "x@example.com"},
    )
    assert (r.status_code, r.json()) == (
        400,
        {"error": "generate.email must contain {n} exactly once"},
    )
    r = dd.post(
        f"/__emulator/accounts/uk/address-books/{book}/generate",
        auth=None,
        json={"count": 1, "datafields": {"NOPE": "x"}},
    )
    assert (r.status_code, r.json()) == (
        400,
        {"error": "generate.datafields: unknown datafield 'NOPE'"},
    )
    ok = {"count": 10, "email": "g{n}@example.com"}
    assert (
        dd.post(
            f"/__emulator/accounts/uk/address-books/{book}/generate", auth=None, json=ok
        ).status_code
        == 201
    )
    r = dd.post(
        f"/__emulator/accounts/uk/address-books/{book}/generate", auth=None, json={**ok, "start": 5}
    )
    assert (r.status_code, r.json()) == (
        400,
        {"error": "generate: overlaps members already generated in this book"},
    )


def _rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB."""
    current = 0.0
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return current, peak


def test_one_million_member_book_load_figures(dd_factory, dd_seed, capsys):
    rss_before, _ = _rss_mb()
    seed = _gen_seed(dd_seed, count=1_000_000, missing_share=0.1, missing=["COMPANY"])
    t0 = time.perf_counter()
    backend = DotdigitalBackend.from_seed(seed)
    load_s = time.perf_counter() - t0
    rss_after, peak = _rss_mb()
    assert backend.accounts["uk"].books[min(backend.accounts["uk"].books)].size() == 1_000_001
    dd = dd_factory(seed)
    book = _book(dd)
    t0 = time.perf_counter()
    last = dd.get(
        f"/v2/address-books/{book}/contacts?select=1000&skip=999001&withFullData=true"
    ).json()
    deep_page_s = time.perf_counter() - t0
    assert last[-1]["email"] == "member999999@example.com"
    t0 = time.perf_counter()
    body = dd.get(f"/contacts/v3?~listId={book}&limit=5000&data-fields=[[ALL]]").json()
    v3_page_s = time.perf_counter() - t0
    assert len(body["_items"]) == 5000
    with capsys.disabled():
        print(
            f"\n[dd-emulator] 1,000,000-member generated book: load {load_s:.4f} s; "
            f"RSS {rss_before:.1f} MB -> {rss_after:.1f} MB (peak {peak:.1f} MB); "
            f"v2 page at skip=999001: {deep_page_s:.3f} s; v3 page of 5000: {v3_page_s:.3f} s"
        )
