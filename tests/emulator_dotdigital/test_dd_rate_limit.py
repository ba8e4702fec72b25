"""Per-account rate limit: off unless seeded; 429 with X-RateLimit-* headers when spent."""

from __future__ import annotations

import time


def test_no_rate_limit_unless_seeded(dd):
    for _ in range(30):
        r = dd.get("/v2/server-time")
        assert r.status_code == 200
    assert "X-RateLimit-Limit" not in r.headers


def test_spent_limit_gives_429_with_headers(dd_factory, dd_seed):
    dd_seed["accounts"][0]["rate_limit"] = {"requests": 3, "per_seconds": 3600}
    dd = dd_factory(dd_seed)
    remaining = []
    for _ in range(3):
        r = dd.get("/v2/address-books")
        assert r.status_code == 200
        assert r.headers["X-RateLimit-Limit"] == "3"
        remaining.append(int(r.headers["X-RateLimit-Remaining"]))
    assert remaining == [2, 1, 0]
    r = dd.get("/v2/address-books")
    assert r.status_code == 429
    assert r.json() == {
        "message": "Your account has exceeded its API call rate limit. ERROR_APIUSAGE_EXCEEDED"
    }
    assert r.headers["X-RateLimit-Limit"] == "3"
    assert r.headers["X-RateLimit-Remaining"] == "0"
    reset = int(r.headers["X-RateLimit-Reset"])
    assert time.time() + 3500 < reset <= time.time() + 3700
    assert r.headers["X-RateLimit-Scope"]
    # v3 paths answer in the v3 error shape
    r = dd.get("/contacts/v3")
    assert r.status_code == 429
    assert r.json() == {
        "errorCode": "contacts:tooManyRequests",
        "description": "Your account has exceeded its API call rate limit",
    }
    # the other account is not limited, control routes are never limited
    assert dd.get("/v2/address-books", auth=dd.us).status_code == 200
    assert dd.get("/__emulator/clock", auth=None).status_code == 200
    # bad credentials are refused before the limit is consulted
    assert dd.get("/v2/address-books", auth=(dd.uk[0], "bad")).status_code == 401


def test_window_resets_on_the_server_clock(dd_factory, dd_seed):
    dd_seed["accounts"][0]["rate_limit"] = {"requests": 1, "per_seconds": 60}
    dd = dd_factory(dd_seed)
    assert dd.get("/v2/server-time").status_code == 200
    assert dd.get("/v2/server-time").status_code == 429
    dd.post("/__emulator/clock", auth=None, json={"offset_seconds": 61})  # time passes
    assert dd.get("/v2/server-time").status_code == 200
